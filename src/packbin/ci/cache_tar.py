"""The tar side of cache-import: the check of an untrusted volume tar before the engine sees it.

Export streams the engine's own archive of a volume as it is. The engine keeps mtimes to the
second (it drops the fraction), which keeps their order: cargo's "is a dependency newer"
comparisons come out as before, and zig_cache.py accepts a whole-second mtime as the same file."""

from __future__ import annotations

import tarfile
from collections.abc import Iterator
from pathlib import PurePosixPath
from typing import IO

from packbin.errors import UsageError

#: Volume tars hold ``v`` and ``v/...``: the volume is mounted at /v in the carrier container.
TOP = "v"


def check_cache_tar(f: IO[bytes], *, where: str) -> int:
    """Refuse a volume tar that could write outside its volume or make device files; its member count.

    Members must be ``v`` or under ``v/``, relative, without ``..``, and must not pass through a
    symlink of the archive (a symlink's target is kept as it is: it is only ever resolved inside
    a build container, and cargo-zigbuild's cache holds absolute ones into the image). Regular
    files, directories, symlinks, and hardlinks to an earlier member only.
    """
    n = 0
    links: set[str] = set()
    seen: set[str] = set()
    try:
        with tarfile.open(fileobj=f, mode="r|") as tf:
            for m in _members(tf):
                n += 1
                _check_member(m, where, links, seen)
    except tarfile.TarError as e:
        raise UsageError(f"{where} is not a readable tar: {e}", hint="export the cache again") from e
    return n


def _members(tf: tarfile.TarFile) -> Iterator[tarfile.TarInfo]:
    while True:
        m = tf.next()
        if m is None:
            return
        yield m


def _check_member(m: tarfile.TarInfo, where: str, links: set[str], seen: set[str]) -> None:
    name = m.name.rstrip("/")
    parts = PurePosixPath(name).parts
    bad = None
    if name.startswith("/") or "\\" in name or not parts or parts[0] != TOP or ".." in parts:
        bad = "a path outside the volume"
    elif any("/".join(parts[:i]) in links for i in range(1, len(parts))):
        bad = "a path through a symlink of the archive"
    elif not (m.isreg() or m.isdir() or m.issym() or m.islnk()):
        bad = "not a file, directory or link"
    elif m.islnk() and m.linkname.rstrip("/") not in seen:
        bad = f"a hardlink to {m.linkname!r}, which is not an earlier file of the volume"
    if bad:
        raise UsageError(
            f"{where}: member {m.name!r} is {bad}; refused, nothing of it was imported",
            hint="the cache was altered or not made by packbin: delete it and export again",
        )
    if m.issym():
        links.add(name)
    else:
        links.discard(name)
    seen.add(name)
