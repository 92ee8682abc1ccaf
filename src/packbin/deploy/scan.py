"""The source scan: list the pack tree (one lstat per entry) and overlay the verified binaries of ARCH."""

from __future__ import annotations

import os
import posixpath
import stat
from collections.abc import Iterator
from pathlib import Path

from packbin.arch import Architecture
from packbin.deploy.entries import (
    TMP_SUFFIX,
    SourceItem,
    SourceTree,
    add_reason,
    entry_from_stat,
    kind_words,
    rel_join,
    special_name,
)
from packbin.deploy.verdicts import judge_path
from packbin.dist.layout import PACKLESS_DIR
from packbin.errors import UsageError


class _Walk:
    """A directory walk whose caller decides where to descend: iterating yields (rel_dir, abs_dir,
    its entries, or the OSError that kept it from being listed); ``descend`` queues a subdirectory."""

    def __init__(self, base: str) -> None:
        self._stack: list[tuple[str, str]] = [("", base)]

    def descend(self, rel: str, abs_path: str) -> None:
        """List ``abs_path`` (as ``rel``) later in this walk."""
        self._stack.append((rel, abs_path))

    def __iter__(self) -> Iterator[tuple[str, str, list[os.DirEntry[str]] | OSError]]:
        while self._stack:
            rel_dir, abs_dir = self._stack.pop()
            try:
                with os.scandir(abs_dir) as it:
                    children: list[os.DirEntry[str]] | OSError = list(it)
            except OSError as e:
                children = e
            yield rel_dir, abs_dir, children


def _is_junk(name: str, is_dir: bool, siblings: set[str]) -> bool:
    # Build output that a plain `cp -r packs/` used to drag into the volume: a crate's target/
    # (only next to a Cargo.toml, so a pack directory that happens to be called "target" is kept),
    # Python byte-code caches, and our own interrupted temp files.
    if name.endswith(TMP_SUFFIX):
        return True
    return is_dir and (name == "__pycache__" or (name == "target" and "Cargo.toml" in siblings))


def _symlink_problem(root_real: str, rel: str, abs_path: str, link: str) -> str | None:
    """Why a source symlink must not be copied, or None when it stays inside the source tree."""
    if posixpath.isabs(link):
        return f"absolute symlink to {link!r}: it would not point into the pack at DEST; not copied"
    lexical = posixpath.normpath(posixpath.join(posixpath.dirname(rel), link))
    if lexical == ".." or lexical.startswith("../"):
        return f"symlink to {link!r} points outside the source tree; not copied, not followed"
    # The lexical check misses chains through other symlinks (a -> sub/x where sub -> /etc).
    real = os.path.realpath(abs_path)
    if real != root_real and not real.startswith(root_real + os.sep):
        return f"symlink to {link!r} resolves outside the source tree (to {real}); not copied, not followed"
    return None


def scan_source(source: Path, binaries: Path | None, arch: Architecture) -> SourceTree:
    """List the source tree (one lstat per entry, no reads) and overlay the verified binaries of ARCH."""
    root = os.fspath(source)
    try:
        st = os.stat(root)  # the user's own path: following a symlink to the tree is fine here
    except OSError as e:
        raise UsageError(
            f"source {root}: {e.strerror}", hint="pass --source DIR (default: packs_dir of buildcfg.toml)"
        ) from e
    if not stat.S_ISDIR(st.st_mode):
        raise UsageError(f"source {root} is not a directory")
    if binaries is not None and not os.path.isdir(binaries):
        raise UsageError(
            f"binaries tree {binaries}: not a directory", hint="run build-pack-binaries first, or leave --binaries out"
        )
    root_real = os.path.realpath(root)
    items: dict[str, SourceItem] = {}
    refused: dict[str, str] = {}
    walk = _Walk(root)
    for rel_dir, _abs_dir, children in walk:
        if isinstance(children, OSError):
            if not rel_dir:
                # Nothing to deploy, and --delete would take an unreadable source for an empty one.
                raise UsageError(f"source {root}: cannot read it: {children.strerror}") from children
            add_reason(refused, rel_dir, f"cannot read the directory: {children.strerror}; nothing below it copied")
            continue
        siblings = {c.name for c in children}
        for c in children:
            rel = rel_join(rel_dir, c.name)
            try:
                cst = c.stat(follow_symlinks=False)
            except OSError as e:
                add_reason(refused, rel, f"cannot stat: {e.strerror}")
                continue
            mode = cst.st_mode
            if stat.S_ISDIR(mode):
                if not _is_junk(c.name, True, siblings):
                    items[rel] = SourceItem(rel=rel, entry=entry_from_stat(cst), path=c.path, origin="source")
                    walk.descend(rel, c.path)
            elif stat.S_ISREG(mode):
                if not _is_junk(c.name, False, siblings):
                    items[rel] = SourceItem(rel=rel, entry=entry_from_stat(cst), path=c.path, origin="source")
            elif stat.S_ISLNK(mode):
                link = os.readlink(c.path)
                problem = _symlink_problem(root_real, rel, c.path, link)
                if problem:
                    add_reason(refused, rel, problem)
                else:
                    items[rel] = SourceItem(rel=rel, entry=entry_from_stat(cst, link), path=c.path, origin="source")
            else:
                add_reason(
                    refused, rel, f"{special_name(mode)}: only regular files, directories and symlinks are copied"
                )
    if binaries is not None:
        _overlay_binaries(items, refused, binaries, arch)
    return SourceTree(root=root, items=items, refused=refused)


def _overlay_binaries(
    items: dict[str, SourceItem], refused: dict[str, str], binaries: Path, arch: Architecture
) -> None:
    """Put ``<binaries>/<arch.name>/...`` over the source listing; only verified static executables of ARCH.

    Other architectures' subtrees and the manifest.json at the top are not looked at, nor
    ``<arch>/bin/``: it holds the binaries without a pack, which belong to no pack tree.
    """
    base = os.path.join(os.fspath(binaries), arch.name)
    if not os.path.isdir(base):
        return
    walk = _Walk(base)
    for rel_dir, abs_dir, children in walk:
        if isinstance(children, OSError):
            add_reason(refused, rel_dir or ".", f"binaries tree: cannot read {abs_dir}: {children.strerror}")
            continue
        for c in children:
            if not rel_dir and c.name == PACKLESS_DIR:
                continue
            rel = rel_join(rel_dir, c.name)
            try:
                cst = c.stat(follow_symlinks=False)
            except OSError as e:
                add_reason(refused, rel, f"binaries tree: cannot stat {c.path}: {e.strerror}")
                continue
            have = items.get(rel)
            if stat.S_ISDIR(cst.st_mode):
                if have is not None and have.entry.kind != "dir":
                    add_reason(
                        refused,
                        rel,
                        f"binaries tree has a directory where the source has {kind_words(have.entry.kind)}; not overlaid",
                    )
                    continue
                if have is None:
                    items[rel] = SourceItem(rel=rel, entry=entry_from_stat(cst), path=c.path, origin="binaries")
                walk.descend(rel, c.path)
                continue
            if not stat.S_ISREG(cst.st_mode):
                what = "a symlink" if stat.S_ISLNK(cst.st_mode) else special_name(cst.st_mode)
                add_reason(
                    refused, rel, f"binaries tree: {what}; only verified static {arch.name} executables are overlaid"
                )
                continue
            verdict = judge_path(c.path, arch)
            if not verdict.ok:
                add_reason(
                    refused,
                    rel,
                    f"binaries tree: {c.path} is not a static {arch.name} executable ({verdict.describe()}); not overlaid",
                )
            elif have is not None and have.entry.kind == "dir":
                add_reason(refused, rel, "binaries tree has a file where the source has a directory; not overlaid")
            else:
                items[rel] = SourceItem(
                    rel=rel, entry=entry_from_stat(cst), path=c.path, origin="binaries", verdict=verdict
                )
