"""Writing tar archives: the one place members are made (build contexts, put_archive payloads,
the source volume's delta, init-packs' changes to a volume).

Readers of tars are elsewhere: extract.py (untrusted artifact streams) and volume.py.
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Mapping
from typing import IO


def add_file(
    tar: tarfile.TarFile,
    name: str,
    data: bytes | IO[bytes],
    *,
    size: int | None = None,
    mode: int = 0o644,
    mtime: float = 0,
) -> None:
    """Append a regular file ``name``: ``data`` as bytes, or a file object read for ``size`` bytes."""
    ti = tarfile.TarInfo(name)
    stream: IO[bytes]
    if isinstance(data, bytes):
        ti.size, stream = len(data), io.BytesIO(data)
    else:
        if size is None:
            raise ValueError("add_file: a file object needs its size")
        ti.size, stream = size, data
    ti.mode, ti.mtime = mode, mtime
    tar.addfile(ti, stream)


def add_dir(tar: tarfile.TarFile, name: str, *, mode: int = 0o755, mtime: float = 0) -> None:
    """Append a directory ``name``."""
    ti = tarfile.TarInfo(name)
    ti.type, ti.mode, ti.mtime = tarfile.DIRTYPE, mode, mtime
    tar.addfile(ti)


def add_symlink(tar: tarfile.TarFile, name: str, target: str, *, mtime: float = 0) -> None:
    """Append a symbolic link ``name`` -> ``target``."""
    ti = tarfile.TarInfo(name)
    ti.type, ti.linkname, ti.mode, ti.mtime = tarfile.SYMTYPE, target, 0o777, mtime
    tar.addfile(ti)


def tar_bytes(files: Mapping[str, bytes | tuple[bytes, int]], *, mtime: int = 0) -> bytes:
    """A deterministic in-memory tar: name -> data or (data, mode). For contexts and put_archive."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name in sorted(files):
            value = files[name]
            data, mode = (value, 0o644) if isinstance(value, bytes) else value
            add_file(tf, name, data, mode=mode, mtime=mtime)
    return buf.getvalue()


__all__ = ["add_dir", "add_file", "add_symlink", "tar_bytes"]
