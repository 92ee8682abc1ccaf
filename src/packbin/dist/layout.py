"""The dist layout, in one place: where build-pack-binaries puts what.

    <dist_dir>/pack-binaries/manifest.json                      what was built (manifest.py)
    <dist_dir>/pack-binaries/<arch>/<pack>/<install path>        each verified binary of a pack
    <dist_dir>/pack-binaries/<arch>/bin/<name>                    each verified binary without a pack
    <dist_dir>/logs/                                             build and builder-image logs

Paths are POSIX strings relative to the repository root (as the manifest records them) unless a
function says it returns a Path. ``dist_dir`` (buildcfg.toml, default ``dist``) is inside the root.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from packbin.config.binaries import PACKLESS_DIR

if TYPE_CHECKING:
    from packbin.config.model import BuildConfig

#: The binaries tree below dist_dir, and the manifest's name inside it.
TREE_NAME = "pack-binaries"
MANIFEST_NAME = "manifest.json"
#: PACKLESS_DIR (config's, which refuses a pack of that name): the arch tree's directory of the
#: binaries without a pack.
#: Logs below dist_dir.
LOGS_NAME = "logs"


def dist_tree(cfg: BuildConfig) -> str:
    """``dist/pack-binaries``: the binaries tree, relative to the repository root."""
    return PurePosixPath(cfg.dist_dir.relative_to(cfg.root).as_posix(), TREE_NAME).as_posix()


def dist_tree_path(cfg: BuildConfig) -> Path:
    """The binaries tree as an absolute Path."""
    return cfg.dist_dir / TREE_NAME


def manifest_relpath(cfg: BuildConfig) -> str:
    """``dist/pack-binaries/manifest.json``, relative to the repository root."""
    return f"{dist_tree(cfg)}/{MANIFEST_NAME}"


#: Beside each binary in dist/ (not in packs/): its CycloneDX SBOM, ``<binary>`` + this.
SBOM_SUFFIX = ".cdx.json"
#: The in-toto provenance statement of the last run that built something, beside the manifest.
PROVENANCE_NAME = "provenance.intoto.json"


def sbom_relpath(binary_rel: str) -> str:
    """``<binary>.cdx.json``: where a binary's SBOM goes, beside it."""
    return binary_rel + SBOM_SUFFIX


def provenance_relpath(cfg: BuildConfig) -> str:
    """``dist/pack-binaries/provenance.intoto.json``, relative to the repository root."""
    return f"{dist_tree(cfg)}/{PROVENANCE_NAME}"


def arch_prefix(cfg: BuildConfig, arch: str) -> str:
    """``dist/pack-binaries/<arch>/``: every binary of ``arch`` lies below it."""
    return f"{dist_tree(cfg)}/{arch}/"


def binary_relpath(cfg: BuildConfig, arch: str, pack: str | None, install_path: str) -> str:
    """``dist/pack-binaries/<arch>/<pack>/<install path>``: where one built binary goes.

    Without a pack: ``dist/pack-binaries/<arch>/bin/<install path>`` (the install path is then the name).
    """
    return f"{arch_prefix(cfg, arch)}{PACKLESS_DIR if pack is None else pack}/{install_path}"


def logs_dir(cfg: BuildConfig) -> Path:
    """``<dist_dir>/logs``."""
    return cfg.dist_dir / LOGS_NAME


__all__ = [
    "LOGS_NAME",
    "MANIFEST_NAME",
    "PACKLESS_DIR",
    "PROVENANCE_NAME",
    "SBOM_SUFFIX",
    "TREE_NAME",
    "arch_prefix",
    "binary_relpath",
    "dist_tree",
    "dist_tree_path",
    "logs_dir",
    "manifest_relpath",
    "provenance_relpath",
    "sbom_relpath",
]
