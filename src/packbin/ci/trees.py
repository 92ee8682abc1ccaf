"""The downloaded trees of collect-pack-binaries, untrusted: found under each DIR, each entry's
metadata checked against buildcfg.toml, each file copied to a private staging directory and that
copy hashed and verified (see :mod:`packbin.ci.collect` for the whole contract)."""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TextIO

from packbin.arch import Architecture
from packbin.config.model import BuildConfig
from packbin.dist.layout import MANIFEST_NAME, binary_relpath, dist_tree, sbom_relpath
from packbin.dist.manifest import Artifact, Manifest
from packbin.elf.verify import verify_file
from packbin.errors import ConfigError, UsageError

#: How deep below each DIR a manifest.json is looked for: DIR/manifest.json is depth 0,
#: DIR/<artifact>/pack-binaries/manifest.json is depth 2. One more for good measure.
SEARCH_DEPTH = 3


@dataclass(frozen=True, kw_only=True)
class ArtifactTree:
    """One per-architecture tree: the directory holding a manifest.json, and what it lists."""

    given: str  # the DIR argument it was found under
    root: Path
    manifest: Manifest


def find_trees(dirs: Sequence[str], problems: list[str], log: TextIO) -> list[ArtifactTree]:
    trees: list[ArtifactTree] = []
    seen: set[Path] = set()
    for given in dirs:
        top = Path(given)
        if not top.is_dir():
            raise UsageError(
                f"{given}: not a directory", hint="pass the directories the build artifacts were downloaded to"
            )
        found = manifests_under(top, problems)
        if not found:
            problems.append(
                f"{given}: no {MANIFEST_NAME} within {SEARCH_DEPTH} levels (is this a downloaded pack-binaries artifact?)"
            )
        for path in found:
            key = path.resolve()
            if key in seen:
                continue  # the same tree named twice (overlapping DIRs): read it once
            seen.add(key)
            try:
                manifest = Manifest.load(path, missing_ok=False)
            except UsageError as e:
                problems.append(f"invalid manifest: {e.message}")
                continue
            log.write(f"found {show_path(path)}: {len(manifest.artifacts)} artifact(s)\n")
            trees.append(ArtifactTree(given=given, root=path.parent, manifest=manifest))
    return trees


def manifests_under(top: Path, problems: list[str]) -> list[Path]:
    """manifest.json files at most SEARCH_DEPTH levels below ``top``, never through a symlink.

    A directory holding a manifest is a tree: its own subdirectories belong to it and are not
    searched for further manifests. Hidden directories (staging dirs of a running build) are
    skipped.
    """
    found: list[Path] = []

    def walk(d: Path, depth: int) -> None:
        try:
            entries = sorted(os.scandir(d), key=lambda e: e.name)
        except OSError as e:
            problems.append(f"{show_path(d)}: cannot list: {e.strerror}")
            return
        for entry in entries:
            if entry.name == MANIFEST_NAME:
                if entry.is_symlink() or not entry.is_file(follow_symlinks=False):
                    problems.append(
                        f"{show_path(Path(entry.path))}: not a regular file (a symlink or special file is refused)"
                    )
                else:
                    found.append(Path(entry.path))
                return
        if depth >= SEARCH_DEPTH:
            return
        for entry in entries:
            if not entry.name.startswith(".") and entry.is_dir(follow_symlinks=False):
                walk(Path(entry.path), depth + 1)

    walk(top, 0)
    return found


def check_entry(cfg: BuildConfig, art: Artifact, where: str, problems: list[str]) -> Architecture | None:
    """The entry's architecture when its metadata is what build-pack-binaries writes; else None."""
    try:
        arch = cfg.arch(art.arch)
    except ConfigError:
        problems.append(f"{where}: architecture {art.arch!r} is not configured in {cfg.source.name}")
        return None
    # Aliases are fine on the command line, not in a manifest: every consumer matches on the name.
    if art.arch != arch.name:
        problems.append(f"{where}: architecture must be written {arch.name!r}, not {art.arch!r}")
        return None
    ok = True
    if art.target != arch.rust_target:
        problems.append(f"{where}: target {art.target!r} is not {arch.name}'s {arch.rust_target}")
        ok = False
    binary = next((b for b in cfg.binaries if b.name == art.binary), None)
    if binary is None:
        problems.append(f"{where}: binary {art.binary!r} is not declared in {cfg.source.name}")
        return None
    expected = binary_relpath(cfg, arch.name, binary.pack, binary.install_path)
    if art.path != expected or art.pack != binary.pack:
        problems.append(
            f"{where}: path {art.path!r} ({pack_words(art.pack)}) is not where build-pack-binaries puts it: "
            f"{expected!r} ({pack_words(binary.pack)} in {cfg.source.name})"
        )
        ok = False
    if art.sbom is not None and art.sbom != sbom_relpath(expected):
        problems.append(f"{where}: sbom {art.sbom!r} is not beside its binary: {sbom_relpath(expected)!r}")
        ok = False
    if not art.static:
        problems.append(f"{where}: recorded as not static; pack binaries must be static executables")
        ok = False
    return arch if ok else None


def stage_entry(
    cfg: BuildConfig,
    tree: ArtifactTree,
    art: Artifact,
    arch: Architecture,
    staging: Path,
    where: str,
    problems: list[str],
) -> Path | None:
    """Copy the entry's file into ``staging`` and check the copy; the copy's path, or None."""
    dest = staging / arch.name / art.binary
    copied = stage_file(tree.root, tree_parts(cfg, art.path), dest, where, problems)
    if copied is None:
        return None
    src, digest, size = copied
    ok = True
    if size != art.size:
        problems.append(f"{where}: {show_path(src)} is {size} bytes, the manifest says {art.size}")
        ok = False
    if digest != art.sha256:
        problems.append(f"{where}: sha256 mismatch: {show_path(src)} is {digest}, the manifest says {art.sha256}")
        ok = False
    result = verify_file(dest, arch)
    if not result.ok:
        problems.append(f"{where}: {show_path(src)} fails verification for {arch.name}: " + "; ".join(result.problems))
        ok = False
    return dest if ok else None


def stage_file(
    root: Path, parts: tuple[str, ...], dest: Path, where: str, problems: list[str], *, max_bytes: int | None = None
) -> tuple[Path, str, int] | None:
    """Copy ``root/parts...`` (reached without a symlink, a regular file) to ``dest``: the source
    path, the copy's sha256 and size; None (a problem said) otherwise or past ``max_bytes``."""
    src = root
    for i, part in enumerate(parts):
        src = src / part
        try:
            st = os.lstat(src)
        except FileNotFoundError:
            problems.append(f"{where}: {show_path(src)} does not exist")
            return None
        except OSError as e:
            problems.append(f"{where}: {show_path(src)}: {e.strerror}")
            return None
        if stat.S_ISLNK(st.st_mode):
            target = os.readlink(src)
            problems.append(
                f"{where}: {show_path(src)} is a symlink (to {target!r}); refused: files must be inside their tree, reached without links"
            )
            return None
        last = i == len(parts) - 1
        if not last and not stat.S_ISDIR(st.st_mode):
            problems.append(f"{where}: {show_path(src)} is not a directory")
            return None
        if last and not stat.S_ISREG(st.st_mode):
            problems.append(f"{where}: {show_path(src)} is not a regular file")
            return None
    dest.parent.mkdir(parents=True, exist_ok=True)
    h = hashlib.sha256()
    size = 0
    try:
        # O_NOFOLLOW: the file was checked above; a link swapped in since then is not followed.
        fd = os.open(src, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(fd, "rb") as fin, open(dest, "wb") as fout:
            for chunk in iter(lambda: fin.read(1 << 20), b""):
                h.update(chunk)
                size += len(chunk)
                if max_bytes is not None and size > max_bytes:
                    problems.append(f"{where}: {show_path(src)} is larger than {max_bytes} bytes")
                    return None
                fout.write(chunk)
    except OSError as e:
        problems.append(f"{where}: cannot read {show_path(src)}: {e.strerror}")
        return None
    return src, h.hexdigest(), size


def pack_words(pack: str | None) -> str:
    return "no pack" if pack is None else f"pack {pack!r}"


def tree_parts(cfg: BuildConfig, path: str) -> tuple[str, ...]:
    """A recorded path inside its tree: <arch>/<pack>/<install path> (or <arch>/bin/<name>).

    Recorded paths are relative to the repository root (``dist/pack-binaries/<arch>/...``, which
    :func:`check_entry` enforced); inside a tree they are relative to its manifest's directory.
    """
    return PurePosixPath(path).parts[len(PurePosixPath(dist_tree(cfg)).parts) :]


def show_path(p: Path) -> str:
    """A path as the user typed it: relative to the working directory when it is below it."""
    try:
        return str(p.relative_to(Path.cwd()))
    except ValueError:
        return str(p)
