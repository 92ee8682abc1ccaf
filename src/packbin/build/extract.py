"""Extract an artifact tar stream from a build container into a staging directory, refusing anything odd.

Artifacts leave a build container through the Engine API's archive endpoint (docker-py's
``container.get_archive(path)``), which yields a tar stream in chunks. That stream is untrusted: the
build ran arbitrary code. Only regular files and directories are extracted, under names that stay
inside the staging directory, within a size and member-count budget; anything else refuses the
whole archive and leaves the staging directory as empty as it was.

The checks are our own and stricter than PEP 706's ``data`` filter, which is applied as well where
this Python has it (3.10.12+/3.11.4+). Decompression (gzip, bzip2, xz) is done by stream.py's
bounded reader rather than by tarfile so that every byte tarfile sees, headers included, is counted
against the cap and no single chunk can inflate without bound.
"""

from __future__ import annotations

import errno
import os
import tarfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO

from packbin.errors import ArtifactRejected, InstallError
from packbin.util.stream import BoundedChunkReader, StreamRejected

__all__ = ["ExtractedFile", "extract_archive"]

#: Longest member path, and path component, accepted (bytes). Artifacts are out/<triple>/<name>;
#: a longer name cannot be written on Linux anyway (NAME_MAX 255), and would fail as an
#: install error halfway instead of as a rejected artifact.
MAX_MEMBER_PATH = 1024
MAX_NAME_COMPONENT = 255

_COPY_CHUNK = 1 << 20
# Tar headers (512 bytes, more for long names and pax records) and the end-of-archive padding are
# not counted in member sizes; allow this much room per member, plus one record of padding, on
# top of max_bytes for the stream as a whole.
_HEADER_ROOM_PER_MEMBER = 4096
_TRAILER_ROOM = 2 * tarfile.RECORDSIZE

# PEP 706 (3.10.12+, 3.11.4+); on older Pythons our own checks cover everything it checks.
_DATA_FILTER: Callable[[tarfile.TarInfo, str], tarfile.TarInfo | None] | None = getattr(tarfile, "data_filter", None)

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_NEW_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


@dataclass(frozen=True, kw_only=True)
class ExtractedFile:
    """A regular file written into the staging directory.

    ``name`` is its normalized path inside the archive (``out/bin/tool``, POSIX separators, no
    leading ``./``); ``path`` is where it now is (``staging / name``); ``mode`` is 0o755 or 0o644.
    """

    name: str
    path: Path
    size: int
    mode: int


def _member_kind_problem(member: tarfile.TarInfo) -> str | None:
    if member.issym():
        return f"it is a symbolic link (to {member.linkname!r})"
    if member.islnk():
        return f"it is a hard link (to {member.linkname!r})"
    if member.ischr() or member.isblk():
        return "it is a device node"
    if member.isfifo():
        return "it is a FIFO"
    if member.issparse():
        return "it is a sparse file"
    if not (member.isreg() or member.isdir()):
        return f"it has an unsupported tar type {member.type!r}"
    return None


def _normalize_name(raw: str) -> tuple[str, ...] | str:
    """Return the name's path components, or a reason it is refused.

    An empty tuple is the archive's own root (``./``), which carries nothing to extract.
    """
    if "\x00" in raw:
        return "its name contains a NUL byte"
    try:
        raw.encode("utf-8", errors="strict")
    except UnicodeEncodeError:
        # tarfile decodes with surrogateescape, so undecodable bytes show up as lone surrogates.
        return "its name is not valid UTF-8"
    if raw.startswith("/"):
        return "it has an absolute path"
    if len(raw.encode("utf-8")) > MAX_MEMBER_PATH:
        return f"its path is {len(raw.encode('utf-8'))} bytes, longer than {MAX_MEMBER_PATH}"
    parts = PurePosixPath(raw).parts
    long = next((p for p in parts if len(p.encode("utf-8")) > MAX_NAME_COMPONENT), None)
    if long is not None:
        return (
            f"a component of its path is {len(long.encode('utf-8'))} bytes, longer than NAME_MAX ({MAX_NAME_COMPONENT})"
        )
    if ".." in parts:
        return "its path contains a '..' component"
    # PurePosixPath already dropped empty and '.' components ('a//b', './a').
    return tuple(p for p in parts if p != ".")


def _final_mode(member: tarfile.TarInfo) -> int:
    # Only "executable or not" survives: no setuid/setgid/sticky, no group/other write, no odd
    # owner bits from the container's umask. Same rule as the data filter (owner's x bit).
    return 0o755 if member.mode & 0o100 else 0o644


def _reject(member: str | None, reason: str) -> ArtifactRejected:
    what = f"artifact member {member!r}" if member is not None else "the artifact archive"
    return ArtifactRejected(
        f"refused {what}: {reason}; nothing was extracted",
        hint="artifacts must be plain files and directories inside the output dir; check the build's output step",
    )


@contextmanager
def _writing(staging: Path, member: str) -> Iterator[None]:
    """Turn a filesystem failure on our side (disk full, permissions) into an InstallError."""
    try:
        yield
    except _ReadFailed as e:
        raise e.error from None
    except OSError as e:
        raise InstallError(
            f"could not write artifact member {member!r} into the staging dir {staging}: {e}",
            hint="check free disk space and permissions of the temporary directory",
        ) from e


class _ReadFailed(Exception):
    """Carries an exception raised while reading the stream past ``_writing``, unchanged."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


@contextmanager
def _reading() -> Iterator[None]:
    try:
        yield
    except OSError as e:
        raise _ReadFailed(e) from e


class _Writer:
    """Creates entries under the staging dir through directory fds, never following a symlink.

    Every path component is opened relative to its parent's fd with O_NOFOLLOW, and files are
    created with O_EXCL, so a symlink that appears in staging (it cannot come from the archive,
    which refuses links) is never followed and an existing entry is never overwritten.
    """

    def __init__(self, staging: Path) -> None:
        self.staging = staging
        self.root_fd = os.open(staging, _DIR_FLAGS)
        self.created: list[tuple[tuple[str, ...], bool]] = []  # (parts, is_dir), in creation order
        self.dirs: set[tuple[str, ...]] = set()
        self.files: set[tuple[str, ...]] = set()

    def close(self) -> None:
        os.close(self.root_fd)

    def _conflict(self, parts: tuple[str, ...], member: str) -> ArtifactRejected:
        path = "/".join(parts)
        if parts in self.files or parts in self.dirs:
            return _reject(member, f"'{path}' is both a file and a directory in the archive")
        # Not from the archive: something else wrote into staging behind our back.
        return _reject(member, f"'{path}' in the staging dir is not an entry packbin made")

    def _open_dir(self, parts: tuple[str, ...], *, member: str) -> int:
        """Open (creating as needed) the directory ``parts``; the caller closes the fd."""
        fd = os.dup(self.root_fd)
        try:
            for i, name in enumerate(parts):
                here = parts[: i + 1]
                if here not in self.dirs:
                    try:
                        os.mkdir(name, 0o700, dir_fd=fd)
                    except FileExistsError:
                        raise self._conflict(here, member) from None
                    self.created.append((here, True))
                    self.dirs.add(here)
                try:
                    nfd = os.open(name, _DIR_FLAGS, dir_fd=fd)
                except OSError as e:
                    if e.errno in (errno.ELOOP, errno.ENOTDIR):
                        # Something else put a link or file there behind our back.
                        raise self._conflict(here, member) from e
                    raise
                os.close(fd)
                fd = nfd
                # mkdir's mode went through the umask; directories end up 0o755 whatever it is.
                os.fchmod(fd, 0o755)
        except BaseException:
            os.close(fd)
            raise
        return fd

    def make_dir(self, parts: tuple[str, ...], *, member: str) -> None:
        with _writing(self.staging, member):
            os.close(self._open_dir(parts, member=member))

    def write_file(self, parts: tuple[str, ...], data: IO[bytes], *, mode: int, member: str) -> None:
        with _writing(self.staging, member):
            dfd = self._open_dir(parts[:-1], member=member)
            try:
                try:
                    fd = os.open(parts[-1], _NEW_FILE_FLAGS, 0o600, dir_fd=dfd)
                except FileExistsError:
                    raise self._conflict(parts, member) from None
                self.created.append((parts, False))
                self.files.add(parts)
                with os.fdopen(fd, "wb") as out:
                    # Reading stays outside _writing: an error from the engine's stream is the
                    # engine's, not a disk problem. tarfile raises on a short member itself.
                    while True:
                        with _reading():
                            chunk = data.read(_COPY_CHUNK)
                        if not chunk:
                            break
                        out.write(chunk)
                    os.fchmod(out.fileno(), mode)
            finally:
                os.close(dfd)

    def remove_created(self) -> None:
        """Remove what we wrote, newest first; best effort, never following links."""
        for parts, is_dir in reversed(self.created):
            try:
                pfd = self._open_existing(parts[:-1])
            except OSError:
                continue
            try:
                if is_dir:
                    os.rmdir(parts[-1], dir_fd=pfd)
                else:
                    os.unlink(parts[-1], dir_fd=pfd)
            except OSError:
                pass
            finally:
                os.close(pfd)
        self.created.clear()

    def _open_existing(self, parts: tuple[str, ...]) -> int:
        fd = os.dup(self.root_fd)
        try:
            for name in parts:
                nfd = os.open(name, _DIR_FLAGS, dir_fd=fd)
                os.close(fd)
                fd = nfd
        except BaseException:
            os.close(fd)
            raise
        return fd


def extract_archive(
    chunks: Iterable[bytes],
    staging: Path,
    *,
    max_bytes: int = 256 << 20,
    max_members: int = 1000,
) -> tuple[ExtractedFile, ...]:
    """Extract a tar stream (plain, gzip, bzip2 or xz) of regular files and directories into ``staging``.

    ``staging`` must be an existing, empty directory. Returns the regular files written, in archive
    order. Anything suspicious -- an absolute path, a ``..`` component, a link, a device or FIFO, a
    name that is not valid UTF-8 or holds NUL, a duplicate name, more than ``max_members`` entries,
    file contents adding up to more than ``max_bytes``, a corrupt stream -- raises
    :class:`ArtifactRejected` naming the member, after removing everything this call wrote. The
    stream is read only as far as needed to decide: an oversized archive is refused early.

    If ``chunks`` has a ``close`` method (a generator, like docker-py's archive stream), it is
    called when extraction ends, so a refused stream is not drained.
    """
    if not staging.is_dir():
        raise InstallError(f"staging dir {staging} does not exist or is not a directory")
    if any(staging.iterdir()):
        # Cleaning up on refusal removes only what we wrote; a non-empty dir would make "nothing
        # extracted" ambiguous for the caller, so it is a usage mistake.
        raise InstallError(f"staging dir {staging} is not empty", hint="extract into a fresh temporary directory")

    limit = max_bytes + _HEADER_ROOM_PER_MEMBER * (max_members + 1) + _TRAILER_ROOM
    reader = BoundedChunkReader(chunks, limit=limit)
    writer = _Writer(staging)
    budget = _Budget(max_bytes=max_bytes, max_members=max_members)
    files: list[ExtractedFile] = []
    current: str | None = None  # the member being handled; None while tarfile reads a header
    try:
        try:
            with tarfile.open(
                fileobj=reader,  # type: ignore[call-overload]
                mode="r|",
                encoding="utf-8",
                errors="surrogateescape",
            ) as tar:
                for member in tar:
                    current = member.name
                    extracted = _extract_member(tar, member, writer, budget)
                    if extracted is not None:
                        files.append(extracted)
                    current = None
        except StreamRejected as e:
            raise _reject(current, str(e)) from e
        except tarfile.TarError as e:
            raise _reject(current, f"the archive is corrupt or truncated ({e})") from e
    except BaseException:
        writer.remove_created()
        raise
    finally:
        writer.close()
        reader.close()
    return tuple(files)


@dataclass(kw_only=True)
class _Budget:
    max_bytes: int
    max_members: int
    total: int = 0
    count: int = 0
    seen: set[tuple[str, ...]] = field(default_factory=set)


def _extract_member(
    tar: tarfile.TarFile, member: tarfile.TarInfo, writer: _Writer, budget: _Budget
) -> ExtractedFile | None:
    """Check one member against every rule, then write it; return it if it is a regular file."""
    name = member.name
    budget.count += 1
    if budget.count > budget.max_members:
        raise _reject(name, f"the archive has more than {budget.max_members} entries")
    parts = _normalize_name(name)
    if isinstance(parts, str):
        raise _reject(name, parts)
    problem = _member_kind_problem(member)
    if problem:
        raise _reject(name, problem)
    if member.size < 0 or member.size > budget.max_bytes - budget.total:
        # Decided from the header, before a byte of the member's data is read.
        raise _reject(
            name, f"it is {member.size} bytes, which takes the archive past the cap of {budget.max_bytes} bytes"
        )
    if parts in budget.seen:
        raise _reject(name, "its name appears twice in the archive")
    if not parts:
        if member.isdir():
            return None  # the archive's own root "./": nothing to create
        raise _reject(name, "it has an empty name")
    budget.seen.add(parts)
    if _DATA_FILTER is not None:
        # Second opinion from the standard library; our checks above are stricter.
        try:
            _DATA_FILTER(member, str(writer.staging))
        except tarfile.FilterError as e:
            raise _reject(name, f"the PEP 706 data filter refuses it ({e})") from e
    if member.isdir():
        writer.make_dir(parts, member=name)
        return None
    budget.total += member.size
    data = tar.extractfile(member)
    if data is None:  # pragma: no cover - isreg() members always have data
        raise _reject(name, "tarfile gave no data for it")
    mode = _final_mode(member)
    writer.write_file(parts, data, mode=mode, member=name)
    return ExtractedFile(name="/".join(parts), path=writer.staging.joinpath(*parts), size=member.size, mode=mode)
