"""The directory writer: DEST read and written through descriptors opened with ``O_NOFOLLOW``.

Every directory below DEST is opened relative to its parent's descriptor, so a symlink planted
anywhere inside DEST is never followed, even if it appears while the run is in progress.
"""

from __future__ import annotations

import errno
import os
import secrets
import stat
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress

from packbin.arch import Architecture
from packbin.deploy.entries import (
    COPY_CHUNK,
    DIR_FLAGS,
    NEW_FILE_FLAGS,
    TMP_SUFFIX,
    Entry,
    Refuse,
    SourceItem,
    ancestors,
    entry_from_stat,
    mode_kind,
    rel_join,
    rel_parts,
)
from packbin.deploy.planner import Action, DeployPlan
from packbin.deploy.report import DeployReport
from packbin.deploy.verdicts import READ_FLAGS, Verdict, judge_fd, undecided_verdict


def _open_dir_at(parent_fd: int, name: str) -> int:
    return os.open(name, DIR_FLAGS, dir_fd=parent_fd)


def _open_below(root_fd: int, rel: str, flags: int) -> int:
    """Open ``rel`` below ``root_fd`` without following a symlink in any component."""
    parts = rel.split("/")
    fd = root_fd
    try:
        for name in parts[:-1]:
            nfd = _open_dir_at(fd, name)
            if fd != root_fd:
                os.close(fd)
            fd = nfd
        return os.open(parts[-1], flags, dir_fd=fd)
    finally:
        if fd != root_fd:
            os.close(fd)


class DirView:
    """DEST as a directory: listed through descriptors, never through a symlink."""

    mtime_granularity_ns = 1

    def __init__(self, root_fd: int, *, descend: set[str] | None, arch: Architecture) -> None:
        self._root_fd = root_fd
        self._arch = arch
        self._verdicts: dict[str, Verdict] = {}
        self._entries: dict[str, Entry] = {}
        self._scan(root_fd, descend)

    @property
    def entries(self) -> Mapping[str, Entry]:
        return self._entries

    def _scan(self, root_fd: int, descend: set[str] | None) -> None:
        # Iterative, one directory descriptor open at a time (each re-opened from the root without
        # following symlinks), so no DEST, however deep, exhausts the stack or the descriptors.
        stack = [""]
        while stack:
            rel = stack.pop()
            try:
                fd = _open_below(root_fd, rel, DIR_FLAGS) if rel else root_fd
            except OSError:
                continue  # swapped since its lstat; the applier refuses whatever needs it
            try:
                with os.scandir(fd) as it:
                    for c in it:
                        r = rel_join(rel, c.name)
                        try:
                            st = c.stat(follow_symlinks=False)  # fstatat(fd, name, AT_SYMLINK_NOFOLLOW)
                            link = os.readlink(c.name, dir_fd=fd) if stat.S_ISLNK(st.st_mode) else ""
                        except FileNotFoundError:
                            continue  # gone since readdir: it is not there
                        e = entry_from_stat(st, link)
                        self._entries[r] = e
                        if e.kind == "dir" and (descend is None or r in descend):
                            stack.append(r)
            finally:
                if fd != root_fd:
                    os.close(fd)

    def _open_file(self, rel: str) -> int:
        """Open the DEST file at ``rel`` for reading; OSError when it is no longer the listed one."""
        fd = _open_below(self._root_fd, rel, READ_FLAGS)
        st = os.fstat(fd)
        want = self._entries[rel]
        if not stat.S_ISREG(st.st_mode) or (st.st_dev, st.st_ino) != (want.dev, want.ino):
            os.close(fd)
            raise OSError(errno.ESTALE, "changed while init-packs was reading it")
        return fd

    def verdict(self, rel: str) -> Verdict:
        if rel not in self._verdicts:
            try:
                fd = self._open_file(rel)
            except OSError as e:
                # Not judged is not "not a binary": the planner leaves such a file alone.
                self._verdicts[rel] = undecided_verdict(f"cannot read it: {e.strerror}")
            else:
                self._verdicts[rel] = judge_fd(fd, self._arch)
        return self._verdicts[rel]

    def same_content(self, rel: str, item: SourceItem) -> bool:
        try:
            dfd = self._open_file(rel)
        except OSError:
            return False
        try:
            sfd = os.open(item.path, READ_FLAGS)
        except OSError:
            os.close(dfd)
            return False  # the applier reports why it cannot be read
        with os.fdopen(dfd, "rb") as d, os.fdopen(sfd, "rb") as s:
            while True:
                a, b = d.read(COPY_CHUNK), s.read(COPY_CHUNK)
                if a != b:
                    return False
                if not a:
                    return True


class _Cursor:
    """Directory descriptors along the current path, each opened O_NOFOLLOW relative to its parent.

    Actions come in path order, so keeping one path open (at most depth descriptors) suffices.
    """

    def __init__(self, root_fd: int) -> None:
        self._root = root_fd
        self._stack: list[tuple[tuple[str, ...], int]] = []

    def dir(self, parts: tuple[str, ...]) -> int:
        while self._stack:
            top = self._stack[-1][0]
            if len(top) <= len(parts) and parts[: len(top)] == top:
                break
            os.close(self._stack.pop()[1])
        while True:
            top_parts, top_fd = self._stack[-1] if self._stack else ((), self._root)
            if len(top_parts) == len(parts):
                return top_fd
            name = parts[len(top_parts)]
            fd = _open_dir_at(top_fd, name)  # ELOOP for a symlink, ENOTDIR for a file: never followed
            self._stack.append((parts[: len(top_parts) + 1], fd))

    def close(self) -> None:
        while self._stack:
            os.close(self._stack.pop()[1])


def _same_entry(st: os.stat_result | None, expect: Entry | None) -> bool:
    if st is None or expect is None:
        return st is None and expect is None
    if mode_kind(st.st_mode) != expect.kind or (st.st_dev, st.st_ino) != (expect.dev, expect.ino):
        return False
    # A directory's size and mtime change as the run fills or empties it: its identity is enough.
    return expect.kind == "dir" or (st.st_size, st.st_mtime_ns) == (expect.size, expect.mtime_ns)


def _lstat_at(parent_fd: int, name: str) -> os.stat_result | None:
    try:
        return os.stat(name, dir_fd=parent_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None


def _tmp_name(name: str) -> str:
    return f".{name[:180]}.{secrets.token_hex(4)}{TMP_SUFFIX}"


def _copy_fd(src: int, dst: int) -> None:
    try:
        while os.sendfile(dst, src, None, COPY_CHUNK):
            pass
    except OSError as e:
        if e.errno not in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
            raise
        os.lseek(src, 0, os.SEEK_SET)
        os.lseek(dst, 0, os.SEEK_SET)
        os.ftruncate(dst, 0)
        while chunk := os.read(src, COPY_CHUNK):
            os.write(dst, chunk)


def _write_file(parent_fd: int, name: str, item: SourceItem, expect: Entry | None) -> None:
    """Copy ``item`` to ``name`` in ``parent_fd``: temp file, mode and mtime, then rename over it."""
    try:
        sfd = os.open(item.path, READ_FLAGS)
    except OSError as e:
        raise Refuse(f"cannot read the source file: {e.strerror}") from e
    try:
        sst = os.fstat(sfd)
        if not stat.S_ISREG(sst.st_mode) or (sst.st_dev, sst.st_ino) != (item.entry.dev, item.entry.ino):
            raise Refuse("the source file changed while init-packs ran (replaced by another file); not copied")
        if not _same_entry(_lstat_at(parent_fd, name), expect):
            raise Refuse("DEST changed while init-packs ran; left alone")
        tmp = _tmp_name(name)
        dfd = os.open(tmp, NEW_FILE_FLAGS, 0o600, dir_fd=parent_fd)
        with _unlinked_on_failure(parent_fd, tmp):
            try:
                _copy_fd(sfd, dfd)
                os.fchmod(dfd, stat.S_IMODE(sst.st_mode))
                # The mtime of the bytes actually copied (fstat of the open source), as cp -a keeps it.
                os.utime(dfd, ns=(sst.st_atime_ns, sst.st_mtime_ns))
            finally:
                os.close(dfd)
            # Last look before the rename: a static binary planted since the plan must not be lost.
            if not _same_entry(_lstat_at(parent_fd, name), expect):
                raise Refuse("DEST changed while init-packs ran; left alone")
            os.replace(tmp, name, src_dir_fd=parent_fd, dst_dir_fd=parent_fd)
    finally:
        os.close(sfd)


@contextmanager
def _unlinked_on_failure(parent_fd: int, tmp: str) -> Iterator[None]:
    """Remove the temp entry ``tmp`` in ``parent_fd`` if the block fails (Ctrl-C included), then re-raise."""
    try:
        yield
    except BaseException:
        with suppress(OSError):
            os.unlink(tmp, dir_fd=parent_fd)
        raise


def _write_symlink(parent_fd: int, name: str, item: SourceItem, expect: Entry | None) -> None:
    if not _same_entry(_lstat_at(parent_fd, name), expect):
        raise Refuse("DEST changed while init-packs ran; left alone")
    tmp = _tmp_name(name)
    os.symlink(item.entry.link, tmp, dir_fd=parent_fd)
    with _unlinked_on_failure(parent_fd, tmp):
        os.replace(tmp, name, src_dir_fd=parent_fd, dst_dir_fd=parent_fd)


def apply_dir(root_fd: int, plan: DeployPlan) -> DeployReport:
    """Carry out ``plan`` below ``root_fd``; failures become refusals, the rest continues."""
    cursor = _Cursor(root_fd)
    failed: dict[str, str] = {}
    dead: set[str] = set()  # directories that could not be created or entered: skip below them
    try:
        for a in plan.actions:
            if any(p in dead for p in ancestors(a.rel)) or (a.op == "chmod" and a.rel in dead):
                failed.setdefault(a.rel, "its directory at DEST could not be created or entered")
                continue
            parts = rel_parts(a.rel)
            try:
                if a.op == "chmod":
                    assert a.item is not None
                    os.fchmod(cursor.dir(parts), a.item.entry.mode)
                    continue
                parent = cursor.dir(parts[:-1])
                name = parts[-1]
                if a.op == "mkdir":
                    try:
                        # Owner-writable until the final chmod fills in the source's mode.
                        os.mkdir(name, 0o700, dir_fd=parent)
                    except FileExistsError:
                        st = _lstat_at(parent, name)
                        if st is None or not stat.S_ISDIR(st.st_mode):
                            raise Refuse(
                                "something other than a directory appeared at DEST while init-packs ran; left alone"
                            ) from None
                elif a.op == "write":
                    assert a.item is not None
                    if a.item.entry.kind == "symlink":
                        _write_symlink(parent, name, a.item, a.expect)
                    else:
                        _write_file(parent, name, a.item, a.expect)
                elif a.op == "delete":
                    if not _same_entry(_lstat_at(parent, name), a.expect):
                        raise Refuse("DEST changed while init-packs ran; not deleted")
                    if a.expect is not None and a.expect.kind == "dir":
                        os.rmdir(name, dir_fd=parent)
                    else:
                        os.unlink(name, dir_fd=parent)
            except Refuse as e:
                failed[a.rel] = str(e)
            except OSError as e:
                failed[a.rel] = _os_reason(a, e)
            if a.rel in failed and a.op == "mkdir":
                dead.add(a.rel)
    finally:
        cursor.close()
    return plan.report.with_failures(failed)


def _os_reason(a: Action, e: OSError) -> str:
    if e.errno in (errno.ELOOP, errno.ENOTDIR):
        return "a directory on the way at DEST is a symlink or not a directory (changed while init-packs ran?); not followed"
    if e.errno in (errno.EISDIR, errno.ENOTEMPTY, errno.EEXIST):
        return f"DEST changed while init-packs ran ({e.strerror}); left alone"
    verb = {"mkdir": "create the directory", "chmod": "set the directory's mode", "write": "write", "delete": "delete"}[
        a.op
    ]
    return f"cannot {verb}: {e.strerror}"


def syncfs(fd: int) -> None:
    """Flush DEST's filesystem once (instead of an fsync per file: 10,000 fsyncs take half a minute)."""
    try:
        # ctypes is imported here: Debian's python3-minimal (the init image) lacks it.
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        if libc.syncfs(fd) == 0:
            return
    except (ImportError, OSError, AttributeError):
        pass
    os.sync()
