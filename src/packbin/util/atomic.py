"""Atomic file writes: a temp file in the destination directory, fsync, then ``os.replace``.

An interrupted write (Ctrl-C, a full disk, a crash) leaves the previous file or none, never half
a file; the temp file is unlinked on any BaseException. Used by install (dist/, packs/) and by
init-packs.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO


@contextmanager
def atomic_output(dest: Path, *, mode: int = 0o644) -> Iterator[BinaryIO]:
    """Yield a binary file that becomes ``dest`` (with ``mode``) only when the block succeeds.

    ``dest`` itself is replaced, never followed: if it is a symlink, the link is replaced by a
    regular file and its target is untouched.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".packbin-tmp", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fchmod(f.fileno(), mode)
            os.fsync(f.fileno())
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_bytes(dest: Path, data: bytes, *, mode: int = 0o644) -> None:
    """Write ``data`` to ``dest`` atomically."""
    with atomic_output(dest, mode=mode) as f:
        f.write(data)


def atomic_copy(src: Path, dest: Path, *, mode: int | None = None) -> None:
    """Copy the regular file ``src`` to ``dest`` atomically, keeping its mode (or ``mode``) and mtime."""
    st = src.stat()
    with open(src, "rb") as fin, atomic_output(dest, mode=mode if mode is not None else st.st_mode & 0o7777) as fout:
        shutil.copyfileobj(fin, fout, 1 << 20)
    os.utime(dest, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)
