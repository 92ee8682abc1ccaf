"""Which files the ELF benchmarks look at, walked as ``packbin verify-static`` walks them:
directories recursively, entries sorted by name, symlinks not followed, non-ELF files skipped.

Shared by bench_verify.py, pyelftools_verify.py (a whole-process contender: standard library
only, nothing else at import) and verify_passes.py.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

#: The directories bench_verify.py and verify_passes.py walk when given none.
DEFAULT_DIRS = ["/usr/bin", "/usr/sbin", "/usr/lib/x86_64-linux-gnu"]


def walk(paths: list[str]) -> Iterator[tuple[str, bool]]:
    """(path, named_directly) for every file verify-static would look at."""
    for given in paths:
        if os.path.isdir(given):
            yield from ((p, False) for p in walk_tree(given))
        else:
            yield given, True


def walk_tree(top: str) -> Iterator[str]:
    """The regular files under ``top``, depth first, sorted by name, symlinks not followed."""
    with os.scandir(top) as it:
        entries = sorted(it, key=lambda e: e.name)
    for entry in entries:
        if entry.is_dir(follow_symlinks=False):
            yield from walk_tree(entry.path)
        elif entry.is_file(follow_symlinks=False):
            yield entry.path


def is_elf(path: str) -> bool:
    with open(path, "rb") as f:
        return f.read(4) == b"\x7fELF"
