"""The sha256 of a file, read in chunks: the one file-hashing helper (manifest, install, smoke,
init-packs' checksum mode, the input hash cache)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

_CHUNK = 1 << 20


def sha256_file(path: str | os.PathLike[str], *, nofollow: bool = False) -> str:
    """The hex sha256 of the file at ``path``, read 1 MiB at a time.

    With ``nofollow``, a symlink at ``path`` is refused (OSError) and a FIFO does not block the
    open: for paths in trees the user hands over (init-packs' source). OSError passes through.
    """
    h = hashlib.sha256()
    flags = os.O_RDONLY | os.O_CLOEXEC | (os.O_NOFOLLOW | os.O_NONBLOCK if nofollow else 0)
    with os.fdopen(os.open(Path(path), flags), "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


__all__ = ["sha256_file"]
