"""The stat cache of file hashes: (rel, size, mtime, inode, ctime) -> sha256, kept on disk per
repository root and in memory per process, so an unchanged no-op build reads no file."""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any, ClassVar

from packbin.errors import ConfigError, PackbinError
from packbin.util.atomic import atomic_write_bytes
from packbin.util.digest import sha256_file
from packbin.util.dirs import cache_dir
from packbin.workspace.model import InputFile

#: A file changed this recently is hashed but not cached: a second write in the same timestamp
#: tick with the same size would otherwise go unnoticed (git's "racy clean" problem).
RACY_NS = 1_000_000_000


# -- the stat cache ----------------------------------------------------------------------------
_StatKey = tuple[int, int, int, int, int]  # size, mtime_ns, inode, ctime_ns, mode


class HashCache:
    """(rel, size, mtime_ns, inode, ctime_ns) -> sha256, one JSON file per repository root.

    Kept in memory for the life of the process too (with the InputFile records built from it), so
    collecting several bins of one workspace costs one stat per file and no reads or parsing.
    """

    VERSION = 1
    _open: ClassVar[dict[str, HashCache]] = {}

    def __init__(self, root: Path, path: Path | None) -> None:
        self.root = str(root)
        self.root_path = root
        self.path = path
        self.entries: dict[str, list[Any]] = {}
        self.memo: dict[str, tuple[_StatKey, InputFile]] = {}
        self.disk: tuple[int, int, int] | None = None  # the JSON file as last read or written
        self.dirty = False
        self.now_ns = time.time_ns()

    @classmethod
    def open(cls, root: Path) -> HashCache:
        try:
            path: Path | None = (
                cache_dir() / "input-hashes" / (hashlib.sha256(str(root).encode()).hexdigest()[:32] + ".json")
            )
        except PackbinError:
            path = None  # an unusable cache dir costs speed, not correctness
        key = str(path or root)
        c = cls._open.get(key)
        disk = _file_sig(path)
        if c is None or (path is not None and c.disk != disk):
            c = cls(root, path)
            c._load(disk)
            cls._open[key] = c
        c.now_ns = time.time_ns()
        return c

    def _load(self, disk: tuple[int, int, int] | None) -> None:
        self.disk = disk
        if self.path is None or disk is None:
            return
        try:
            raw = json.loads(self.path.read_bytes())
        except (OSError, ValueError):
            self.dirty = True  # corrupt: rewrite it whole on save
            return
        if not (
            isinstance(raw, dict)
            and raw.get("version") == self.VERSION
            and raw.get("root") == self.root
            and isinstance(raw.get("entries"), dict)
        ):
            self.dirty = True
            return
        self.entries = raw["entries"]  # each entry is checked where it is used

    def file(self, rel: str, st: os.stat_result) -> InputFile:
        """The InputFile for ``rel`` as stat'ed now, reading the file only when its stat changed."""
        key: _StatKey = (st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns, st.st_mode)
        m = self.memo.get(rel)
        if m is not None and m[0] == key:
            return m[1]
        racy = self.now_ns - max(st.st_mtime_ns, st.st_ctime_ns) <= RACY_NS
        e = self.entries.get(rel)
        if (
            not racy
            and type(e) is list
            and len(e) == 5
            and e[0] == st.st_size
            and e[1] == st.st_mtime_ns
            and e[2] == st.st_ino
            and e[3] == st.st_ctime_ns
            and type(e[4]) is str
            and len(e[4]) == 64
        ):
            digest: str = e[4]
        else:
            digest = _sha256_file(rel, self.root_path / rel)
            if not racy:
                self.entries[rel] = [st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns, digest]
                self.dirty = True
            elif e is not None:
                del self.entries[rel]
                self.dirty = True
        f = InputFile(
            rel=rel,
            root=self.root_path,
            size=st.st_size,
            mtime_ns=st.st_mtime_ns,
            executable=bool(st.st_mode & 0o111),
            sha256=digest,
        )
        if not racy:
            self.memo[rel] = (key, f)
        return f

    def save(self) -> None:
        if not self.dirty or self.path is None:
            return
        base = Path(self.root)
        self.entries = {k: v for k, v in self.entries.items() if os.path.lexists(base / k)}
        data = json.dumps(
            {"version": self.VERSION, "root": self.root, "entries": self.entries}, separators=(",", ":")
        ).encode()
        try:
            atomic_write_bytes(self.path, data)
        except OSError:
            return  # a read-only cache only costs speed
        self.disk = _file_sig(self.path)
        self.dirty = False


def _file_sig(path: Path | None) -> tuple[int, int, int] | None:
    if path is None:
        return None
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns, st.st_ino)


def _sha256_file(rel: str, path: Path) -> str:
    try:
        return sha256_file(path)
    except OSError as err:
        raise ConfigError(f"{rel}: cannot read: {err.strerror}") from err
