"""What a tree holds, as every part of init-packs sees it: entries, source items, path helpers.

Shared by the source scan, the planner and both writers (this package's directory writer and
:mod:`packbin.compose.volume`).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Literal

from packbin.deploy.verdicts import Verdict

Kind = Literal["file", "dir", "symlink", "other"]
Origin = Literal["source", "binaries"]

#: Suffix of temp files (the same as packbin.util.atomic's), skipped in the source and left to --delete at DEST.
TMP_SUFFIX = ".packbin-tmp"

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
NEW_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
COPY_CHUNK = 1 << 20


@dataclass(frozen=True, kw_only=True, slots=True)
class Entry:
    """What one side holds at one path (from one lstat, or from one tar header)."""

    kind: Kind
    size: int = 0
    mtime_ns: int = 0
    mode: int = 0  # permission bits only (0o7777)
    link: str = ""  # symlink target
    dev: int = 0  # identity, to notice a swap between listing and writing (0: unknown)
    ino: int = 0


def mode_kind(mode: int) -> Kind:
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "dir"
    if stat.S_ISLNK(mode):
        return "symlink"
    return "other"


def kind_words(kind: Kind) -> str:
    return {"file": "a regular file", "dir": "a directory", "symlink": "a symlink", "other": "a special file"}[kind]


def special_name(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device node"
    return "a special file"


def entry_from_stat(st: os.stat_result, link: str = "") -> Entry:
    return Entry(
        kind=mode_kind(st.st_mode),
        size=st.st_size,
        mtime_ns=st.st_mtime_ns,
        mode=stat.S_IMODE(st.st_mode),
        link=link,
        dev=st.st_dev,
        ino=st.st_ino,
    )


@dataclass(frozen=True, kw_only=True, slots=True)
class SourceItem:
    """One thing to deploy: a file, directory or symlink of the source or binaries tree."""

    rel: str
    entry: Entry
    path: str  # where it is on this host
    origin: Origin
    verdict: Verdict | None = None  # known up front for the binaries tree (verified while listing)


@dataclass(frozen=True, kw_only=True)
class SourceTree:
    """The source tree with the binaries overlay applied, plus what listing already refused."""

    root: str
    items: Mapping[str, SourceItem]
    refused: Mapping[str, str]

    @property
    def order(self) -> list[str]:
        """Every path, parents before children (tuple order of the components)."""
        return sorted(self.items, key=rel_parts)


def rel_parts(rel: str) -> tuple[str, ...]:
    return tuple(rel.split("/"))


def rel_join(rel: str, name: str) -> str:
    return f"{rel}/{name}" if rel else name


def ancestors(rel: str) -> Iterator[str]:
    """``a/b/c`` -> ``a/b``, ``a`` (the root "" excluded)."""
    while "/" in rel:
        rel = rel.rsplit("/", 1)[0]
        yield rel


def add_reason(refused: dict[str, str], rel: str, reason: str) -> None:
    refused[rel] = f"{refused[rel]}; {reason}" if rel in refused else reason


class Refuse(Exception):
    """An action cannot be done safely; the message is the report's reason."""
