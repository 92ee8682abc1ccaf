"""The cache directory's index, ``packbin-cache.json``: written last by an export, read and checked
first by an import (the directory is untrusted input: a CI cache can be written by another job,
or tampered with), and each file opened only once its size and sha256 match it."""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from packbin import __version__
from packbin.arch import Architecture
from packbin.build.volumes import tool_volumes
from packbin.config.model import BuildConfig
from packbin.errors import UsageError
from packbin.util.atomic import atomic_write_bytes

INDEX_NAME = "packbin-cache.json"
FORMAT = 1
_MAX_INDEX = 1 << 20


@dataclass(frozen=True, kw_only=True)
class CacheFile:
    """One volume in the cache directory."""

    volume: str
    file: str
    size: int
    sha256: str


def write_index(dest: Path, *, key: str, arches: Sequence[Architecture], files: Sequence[CacheFile]) -> None:
    """``packbin-cache.json`` for the files an export just wrote into ``dest``."""
    index = {
        "format": FORMAT,
        "key": key,
        "packbin": __version__,
        "arches": [a.name for a in arches],
        "files": [asdict(f) for f in files],
    }
    # Files of an earlier export that this one did not write would be restored next time: remove
    # them first, then write the index last (a partial export has no index naming missing files).
    (dest / INDEX_NAME).unlink(missing_ok=True)
    keep = {f.file for f in files}
    for p in dest.iterdir():
        if p.is_file() and p.name.endswith(".tar") and p.name not in keep:
            p.unlink()
    atomic_write_bytes(dest / INDEX_NAME, (json.dumps(index, indent=2) + "\n").encode())


_VOLUME_RE = re.compile(r"^packbin-[a-z0-9][a-z0-9._-]*$")


def read_index(src: Path, cfg: BuildConfig) -> tuple[str, tuple[CacheFile, ...], tuple[CacheFile, ...]]:
    """The cache directory's index, checked: (key, volume files, image file or None).

    Only this configuration's cache volumes, each once; file names directly in ``src``. Returns
    (key, volume files, builder image files).
    """
    path = src / INDEX_NAME
    try:
        with open(path, "rb") as f:
            raw = f.read(_MAX_INDEX + 1)
    except FileNotFoundError:
        raise UsageError(
            f"{src} holds no packbin cache ({INDEX_NAME} is missing)",
            hint="make one with `invoke cache-export --dir DIR`; on a first CI run there is none yet, and the build is cold",
        ) from None
    except OSError as e:
        raise UsageError(f"cannot read {path}: {e.strerror}") from e
    if len(raw) > _MAX_INDEX:
        raise UsageError(f"{path} is larger than {_MAX_INDEX} bytes; not a packbin cache index")
    try:
        doc = json.loads(raw)
    except ValueError as e:
        raise UsageError(f"{path} is not valid JSON: {e}") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or not isinstance(doc.get("files"), list):
        raise UsageError(
            f"{path} is not a packbin cache index of format {FORMAT}",
            hint="export it again with this packbin version",
        )
    allowed = set(tool_volumes(cfg.architectures))
    files: list[CacheFile] = []
    images: list[CacheFile] = []
    seen: set[str] = set()
    for i, entry in enumerate(doc["files"]):
        where = f"{path}: files[{i}]"
        if not isinstance(entry, dict):
            raise UsageError(f"{where} is not an object")
        volume, name, size, digest = (entry.get(k) for k in ("volume", "file", "size", "sha256"))
        if not (
            isinstance(volume, str) and isinstance(name, str) and isinstance(size, int) and isinstance(digest, str)
        ):
            raise UsageError(f"{where} needs volume, file (strings), size (integer) and sha256")
        if name != PurePosixPath(name).name or name in ("", ".", "..") or "\\" in name or not name.endswith(".tar"):
            raise UsageError(f"{where}: file {name!r} must be a .tar file name directly in {src}")
        if name in seen:
            raise UsageError(f"{where}: {name!r} is listed twice")
        seen.add(name)
        if volume == "" and re.fullmatch(r"builder-image-[A-Za-z0-9-]+\.tar", name):
            images.append(CacheFile(volume="", file=name, size=size, sha256=digest))
            continue
        if not _VOLUME_RE.match(volume) or volume not in allowed:
            raise UsageError(
                f"{where}: {volume!r} is not one of this configuration's cache volumes",
                hint="expected one of: " + ", ".join(sorted(allowed)),
            )
        files.append(CacheFile(volume=volume, file=name, size=size, sha256=digest))
    key = doc.get("key")
    return (key if isinstance(key, str) else "", tuple(files), tuple(images))


class CheckedFile:
    """A cache file opened for reading, whose size (and, once read, sha256) match the index."""

    def __init__(self, path: Path, entry: CacheFile | None) -> None:
        self.path, self.entry = path, entry

    def __enter__(self) -> IO[bytes]:
        try:
            self.f = open(self.path, "rb")
        except OSError as e:
            raise UsageError(f"cannot read {self.path}: {e.strerror}", hint="export the cache again") from e
        if not os.path.isfile(self.path) or os.path.islink(self.path):
            self.f.close()
            raise UsageError(f"{self.path} is not a regular file")
        if self.entry is not None:
            size = os.fstat(self.f.fileno()).st_size
            h = hashlib.sha256()
            for chunk in iter(lambda: self.f.read(1 << 20), b""):
                h.update(chunk)
            if size != self.entry.size or h.hexdigest() != self.entry.sha256:
                self.f.close()
                raise UsageError(
                    f"{self.path} does not match {INDEX_NAME} (size or sha256 differ): a partial or altered cache",
                    hint="delete the cache directory; the next build is cold and a new export replaces it",
                )
            self.f.seek(0)
        return self.f

    def __exit__(self, *exc: object) -> None:
        self.f.close()
