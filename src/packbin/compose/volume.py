"""init-packs into a Docker named volume, through the Engine API only.

The volume is mounted in a created, never-started container (any local image will do: nothing runs
in it; no shell, busybox or Python is needed). What the volume holds is read with the archive API
(``get_archive``) as a tar *stream*: members are never extracted, names are checked, and only the
bytes the rules need are kept (ELF files, to be judged by the verifier; everything with
``checksum``). The same planner as the directory destination (:func:`packbin.deploy.plan_deploy`)
decides; what changes goes back in one tar through ``put_archive``.

Deletions (``delete``): the archive API has no delete. It does, however, replace an existing path
whose type differs from the tar member's (a documented behaviour: ``noOverwriteDirNonDir``
turns it off, and packbin leaves it on), removing a directory with everything below it. So a
directory that loses entries is *re-created* in the same tar: an empty file member replaces the
directory (removing it), a directory member replaces that file, then the directory's kept content
follows, read back from the volume just before (exact bytes, modes, mtimes). Limits, reported as
refused rather than done: entries directly at the volume's top level (the top is the mount point
and cannot be replaced), and directories holding hard links or special files (not re-created
faithfully). Re-creating a directory is not atomic: if the engine fails in the middle of that one
upload, the directory's kept files (preserved binaries included) may be missing until the next run.

Writes: the engine extracts each member by removing the old path and writing the new one in place,
so, unlike the directory destination, a reader of the volume *during* the upload could see a
missing or partly written file. The volume is meant to be filled before its consumers start (the
Compose init service), which is when this runs. Ownership is root's (the tar's uid/gid 0).
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import posixpath
import stat
import tarfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packbin.arch import Architecture
from packbin.deploy import DeployPlan, DeployReport, Entry, SourceItem, Verdict, judge_stream, plan_deploy, scan_source
from packbin.deploy.entries import Kind
from packbin.deploy.entries import Refuse as _Refuse
from packbin.deploy.entries import ancestors as _ancestors
from packbin.deploy.verdicts import ELF_MAGIC, NOT_ELF
from packbin.engine import Container, Engine
from packbin.errors import EngineError, InstallError
from packbin.util.digest import sha256_file
from packbin.util.stream import BoundedChunkReader, StreamRejected
from packbin.util.tarwriter import add_dir, add_file, add_symlink

log = logging.getLogger(__name__)

__all__ = ["MOUNT", "init_packs_volume", "read_volume", "volume_files"]

#: Where the volume is mounted in the (never started) container.
MOUNT = "/packbin-dest"
#: A file larger than this at DEST is not read into memory to be judged (pack binaries are a few MB).
MAX_JUDGED_BYTES = 256 << 20
_TOP = posixpath.basename(MOUNT)
_CHUNK = 1 << 20


#: The volume's archive stream is read through extract.py's bounded reader: past this many bytes
#: (headers included, so one huge pax header cannot hide there) the read stops with an error.
MAX_VOLUME_STREAM = 8 << 30


def _member_rel(name: str, top: str) -> str:
    """``top/a/b`` -> ``a/b`` ("" for ``top`` itself); EngineError for anything that does not fit."""
    norm = posixpath.normpath(name.lstrip("/")) if name else ""
    if norm.startswith("../") or norm == ".." or (norm != top and not norm.startswith(top + "/")):
        raise EngineError(f"the engine's archive holds an unexpected member {name!r} (expected names below {top}/)")
    return norm[len(top) + 1 :] if norm != top else ""


@dataclass
class _VolumeView:
    """DEST as the archive API shows it: a listing, verdicts of its ELF files, digests with checksum."""

    arch: Architecture
    mtime_granularity_ns: int = 10**9  # tar headers from the engine carry whole seconds
    _entries: dict[str, Entry] = field(default_factory=dict)
    verdicts: dict[str, Verdict] = field(default_factory=dict)
    digests: dict[str, str] = field(default_factory=dict)
    hardlinks: set[str] = field(default_factory=set)
    _source_digests: dict[str, str] = field(default_factory=dict)

    @property
    def entries(self) -> Mapping[str, Entry]:
        return self._entries

    def verdict(self, rel: str) -> Verdict:
        return self.verdicts.get(rel, NOT_ELF)

    def same_content(self, rel: str, item: SourceItem) -> bool:
        want = self.digests.get(rel)
        if want is None:
            return False
        if item.rel not in self._source_digests:
            try:
                self._source_digests[item.rel] = sha256_file(item.path, nofollow=True)
            except OSError:
                return False  # the tar builder reports why it cannot be read
        return self._source_digests[item.rel] == want


def _tar_entry(m: tarfile.TarInfo) -> Entry:
    kind: Kind
    if m.isreg():
        kind = "file"
    elif m.isdir():
        kind = "dir"
    elif m.issym():
        kind = "symlink"
    else:
        kind = "other"
    return Entry(
        kind=kind,
        size=m.size if m.isreg() else 0,
        mtime_ns=int(m.mtime) * 10**9,
        mode=m.mode & 0o7777,
        link=m.linkname if m.issym() else "",
    )


def _read_tar(
    chunks: Iterator[bytes], top: str, *, keep: Any
) -> Iterator[tuple[str, tarfile.TarInfo, bytes | None, str | None]]:
    """Yield (rel, member, data or None, sha256 or None) for each member; ``keep(rel, member, head)`` -> "all" | "hash" | None.

    The stream is parsed, never extracted; data is read only for members ``keep`` asks for.
    """
    reader = BoundedChunkReader(chunks, limit=MAX_VOLUME_STREAM)
    try:
        with tarfile.open(fileobj=reader, mode="r|") as tf:  # type: ignore[call-overload]
            for m in tf:
                rel = _member_rel(m.name, top)
                if not m.isreg():
                    yield rel, m, None, None
                    continue
                f = tf.extractfile(m)
                assert f is not None
                head = f.read(len(ELF_MAGIC))
                how = keep(rel, m, head)
                if how is None:
                    yield rel, m, None, None
                    continue
                h = hashlib.sha256(head)
                parts = [head] if how == "all" else []
                while chunk := f.read(_CHUNK):
                    h.update(chunk)
                    if how == "all":
                        parts.append(chunk)
                yield rel, m, (b"".join(parts) if how == "all" else None), h.hexdigest()
    except StreamRejected as e:
        raise EngineError(
            f"the engine's archive of the volume is too large: {e}",
            hint=f"init-packs reads at most {MAX_VOLUME_STREAM >> 30} GiB of a volume",
        ) from e
    except tarfile.TarError as e:
        raise EngineError(f"the engine's archive of the volume is not a valid tar stream: {e}") from e
    finally:
        reader.close()


def read_volume(container: Container, arch: Architecture, *, checksum: bool) -> _VolumeView:
    """List the volume mounted at MOUNT in ``container``, judging its ELF files as they stream by."""
    chunks = container.get_tar(MOUNT)
    view = _VolumeView(arch=arch)
    by_name: dict[str, str] = {}  # member name -> rel, to resolve hard links
    too_big: set[str] = set()

    def keep(rel: str, m: tarfile.TarInfo, head: bytes) -> str | None:
        if head == ELF_MAGIC:
            if m.size <= MAX_JUDGED_BYTES:
                return "all"
            too_big.add(rel)
        return "hash" if checksum else None

    for rel, m, data, digest in _read_tar(chunks, _TOP, keep=keep):
        by_name[m.name] = rel
        if rel == "":
            continue
        if m.islnk():
            # Another name of a file already seen: the same file at DEST, but one a re-created
            # directory could not reproduce alone.
            target = by_name.get(m.linkname, "")
            view.hardlinks.add(rel)
            if target in view._entries:
                view._entries[rel] = view._entries[target]
                if target in view.verdicts:
                    view.verdicts[rel] = view.verdicts[target]
                if target in view.digests:
                    view.digests[rel] = view.digests[target]
                continue
        view._entries[rel] = _tar_entry(m)
        if digest is not None:
            view.digests[rel] = digest
        if data is not None:
            view.verdicts[rel] = judge_stream(io.BytesIO(data), len(data), arch)
        elif rel in too_big:
            view.verdicts[rel] = Verdict(
                elf=True, problems=("too large to judge",), undecided=f"larger than {MAX_JUDGED_BYTES >> 20} MiB"
            )
    return view


# -- deletions -----------------------------------------------------------------------------


def _parent(rel: str) -> str:
    return rel.rsplit("/", 1)[0] if "/" in rel else ""


def _rebuild_dirs(plan: DeployPlan, view: _VolumeView) -> tuple[tuple[str, ...], dict[str, str]]:
    """Directories to re-create for the plan's deletions, and the deletions that cannot be done."""
    deletes = [a.rel for a in plan.actions if a.op == "delete"]
    gone = set(deletes)
    refused: dict[str, str] = {}
    dirs: set[str] = set()
    for rel in deletes:
        p = _parent(rel)
        while p in gone:  # a deleted directory goes with its parent's re-creation
            p = _parent(p)
        if p == "":
            refused[rel] = (
                "not deleted: it is at the volume's top level, which the Engine API cannot delete from "
                "(remove it with a shell in a container that mounts the volume)"
            )
            continue
        dirs.add(p)
    minimal = {d for d in dirs if not any(a in dirs for a in _ancestors(d))}
    for d in sorted(minimal):
        below = [r for r in view.entries if r.startswith(d + "/")]
        odd = [r for r in below if r in view.hardlinks or view.entries[r].kind == "other"]
        if odd:
            minimal.discard(d)
            for rel in deletes:
                if rel.startswith(d + "/") and rel not in refused:
                    refused[rel] = (
                        f"not deleted: deleting in a volume re-creates the directory {d}, and it holds "
                        f"hard links or special files ({odd[0]}) that cannot be re-created faithfully"
                    )
    return tuple(sorted(minimal)), refused


def _add_rebuild(container: Container, tar: tarfile.TarFile, d: str, gone: set[str]) -> None:
    """Append to ``tar``: an empty file replacing directory ``d``, then ``d`` and its kept content as read back now."""
    top = posixpath.basename(d)
    chunks = container.get_tar(f"{MOUNT}/{d}")
    parent = _parent(d)
    first = True
    for rel_in, m, data, _digest in _read_tar(chunks, top, keep=lambda rel, m, head: "all"):
        rel = posixpath.join(parent, top, rel_in) if rel_in else d
        if first:
            if rel != d or not m.isdir():
                raise EngineError(f"reading {d} back from the volume gave {m.name!r} first, not the directory")
            add_file(tar, d, b"")
            first = False
        if rel in gone or any(a in gone for a in _ancestors(rel)):
            continue
        if not (m.isreg() or m.isdir() or m.issym()):
            raise InstallError(
                f"{d} changed in the volume while init-packs ran ({rel} is now a special file); nothing written"
            )
        m = _copy_info(m, rel)
        tar.addfile(m, io.BytesIO(data) if m.isreg() and data is not None else None)


def _copy_info(m: tarfile.TarInfo, name: str) -> tarfile.TarInfo:
    out = tarfile.TarInfo(name)
    out.type, out.mode, out.mtime, out.size = m.type, m.mode & 0o7777, m.mtime, m.size if m.isreg() else 0
    out.linkname, out.uid, out.gid = m.linkname, m.uid, m.gid
    out.pax_headers = {k: v for k, v in m.pax_headers.items() if k.startswith("SCHILY.xattr.")}
    return out


# -- the changes tar ------------------------------------------------------------------------


def _add_source(tar: tarfile.TarFile, item: SourceItem, name: str) -> None:
    """Append ``item`` as ``name`` with its bytes, mode and mtime (from the open file, as cp -a keeps them)."""
    e = item.entry
    if e.kind == "dir":
        add_dir(tar, name, mode=e.mode, mtime=e.mtime_ns / 1e9)
        return
    if e.kind == "symlink":
        add_symlink(tar, name, e.link, mtime=e.mtime_ns / 1e9)
        return
    try:
        fd = os.open(item.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as ex:
        raise _Refuse(f"cannot read the source file: {ex.strerror}") from ex
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode) or (st.st_dev, st.st_ino) != (e.dev, e.ino):
            raise _Refuse("the source file changed while init-packs ran (replaced by another file); not copied")
        try:
            data = f.read()
        except OSError as ex:
            raise _Refuse(f"cannot read the source file: {ex.strerror}") from ex
    add_file(tar, name, data, mode=stat.S_IMODE(st.st_mode), mtime=st.st_mtime_ns / 1e9)


def init_packs_volume(
    engine: Engine,
    *,
    volume: str,
    image: str,
    source: Path,
    binaries: Path | None,
    arch: Architecture,
    delete: bool,
    dry_run: bool,
    checksum: bool,
) -> DeployReport:
    """Deploy ``source`` (plus the verified binaries of ``arch``) into the named volume ``volume``.

    ``image`` must be present on the engine (the builder's base image): a container is created
    from it with the volume mounted, never started, and removed at the end. A missing volume is
    created by the engine (unlabelled: packbin clean never removes it), except in a dry run.
    """
    tree = scan_source(source, binaries, arch)
    if dry_run and not engine.volume_exists(volume):
        return plan_deploy(tree, _VolumeView(arch=arch), arch, delete=delete, checksum=checksum).report
    log.info("init-packs: reading volume %s through a created container of %s", volume, image)
    with engine.container(image=image, kind="init-packs", volumes={volume: MOUNT}) as c:
        view = read_volume(c, arch, checksum=checksum)
        plan = plan_deploy(tree, view, arch, delete=delete, checksum=checksum)
        rebuild, undeletable = _rebuild_dirs(plan, view) if delete else ((), {})
        failed: dict[str, str] = dict(undeletable)
        if dry_run:
            return plan.report.with_failures(failed)
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
            gone = {a.rel for a in plan.actions if a.op == "delete"} - set(undeletable)
            for d in rebuild:
                _add_rebuild(c, tar, d, gone)
            # Changes after the re-created directories: a later member replaces an earlier one.
            for a in plan.actions:
                if a.op == "delete" or a.item is None:
                    continue
                try:
                    _add_source(tar, a.item, a.rel)
                except _Refuse as e:
                    failed[a.rel] = str(e)
        payload = buf.getvalue()
        if rebuild or any(a.op != "delete" for a in plan.actions):
            log.info("init-packs: putting %d bytes into volume %s", len(payload), volume)
            c.put_tar(MOUNT, payload)
        return plan.report.with_failures(failed)


def volume_files(container: Container, path: str = MOUNT) -> dict[str, tuple[Entry, bytes | None]]:
    """Everything below ``path`` in ``container``, with file bytes: for tests and checks, not for big volumes."""
    chunks = container.get_tar(path)
    out: dict[str, tuple[Entry, bytes | None]] = {}
    for rel, m, data, _ in _read_tar(chunks, posixpath.basename(path), keep=lambda rel, m, head: "all"):
        if rel:
            out[rel] = (_tar_entry(m), data)
    return out
