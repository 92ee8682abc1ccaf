"""Install verified artifacts into dist/pack-binaries/ and the pack tree, atomically.

Every file is a temp file in its destination directory, renamed into place: an interrupted
run leaves the previous binary or none, never half a file. Beside each binary in dist/ (not in
packs/: a pack tree gets the binary only) goes its SBOM, then the run's provenance statement
(:mod:`packbin.build.attest`). The manifest is written last, so it never names a file that is
not there.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from packbin.build.plan import Target
from packbin.config.model import BuildConfig
from packbin.dist.layout import manifest_relpath, sbom_relpath
from packbin.dist.manifest import Artifact, Manifest, Toolchain
from packbin.errors import ConfigError, InstallError
from packbin.util.atomic import atomic_copy
from packbin.util.digest import sha256_file

if TYPE_CHECKING:
    from packbin.build.attest import RunRecord
    from packbin.build.deps import DependencyList


@dataclass(frozen=True, kw_only=True)
class VerifiedArtifact:
    """A built binary in the staging dir that passed the static-linkage policy for its arch."""

    target: Target
    staged: Path
    stripped: bool
    toolchain: Toolchain
    builder_image: str
    deps: DependencyList | None = None  # None: [builder] auditable = false (no SBOM)


def safe_destination(root: Path, rel: str) -> Path:
    """``root/rel``, refusing a path whose existing directories include a symlink.

    The pack tree is untrusted input: a ``packs/core/sensors`` that is a symlink would otherwise
    send the binary wherever it points. (The final component may be anything: it is replaced,
    not followed.)
    """
    parts = PurePosixPath(rel).parts
    if PurePosixPath(rel).is_absolute() or ".." in parts:
        raise InstallError(f"refusing to install to {rel}: not a path inside {root}")
    current = root
    for part in parts[:-1]:
        current = current / part
        if current.is_symlink():
            raise InstallError(
                f"refusing to install {rel}: {current.relative_to(root)} is a symlink",
                hint="replace the symlink with a real directory (pack trees must not link outside themselves)",
            )
        if current.exists() and not current.is_dir():
            raise InstallError(f"refusing to install {rel}: {current.relative_to(root)} is not a directory")
    return root / rel


def check_install_paths(cfg: BuildConfig, targets: Iterable[Target]) -> None:
    """Refuse, before any build, a destination that is a directory or lies below a file (ConfigError, exit 2).

    An ``install_path`` naming a directory (the crate's own source directory, say) would otherwise
    be found only after the builds, when the rename over it fails. Symlinks are left to
    :func:`safe_destination`.
    """
    for t in targets:
        for rel, key in ((t.dist_path, None), (t.pack_path, "install_path")):
            if rel is None:
                continue
            problem = _path_problem(cfg.root, rel)
            if problem is None:
                continue
            b = t.binary
            if key is not None:
                hint = (
                    f"set install_path of binary {b.name!r} in {cfg.source.name} to a file path inside pack "
                    f"{b.pack!r} (e.g. sensors/{b.name}), or move what is in the way"
                )
            else:
                hint = f"remove or move what is in the way in {cfg.dist_dir.name}/ (build-pack-binaries writes only files there)"
            raise ConfigError(f"binary {b.name!r} ({t.arch.name}) installs to {rel}, but {problem}", hint=hint)


def _path_problem(root: Path, rel: str) -> str | None:
    """What keeps ``root/rel`` from becoming a file: a directory there, or a file where a parent directory goes."""
    current = root
    parts = PurePosixPath(rel).parts
    for i, part in enumerate(parts):
        current = current / part
        try:
            st = os.lstat(current)
        except FileNotFoundError:
            return None  # made when installing
        except OSError as e:
            return f"{PurePosixPath(*parts[: i + 1])}: {e.strerror}"
        if stat.S_ISLNK(st.st_mode):
            return None  # refused (parent) or replaced (last) by the install's own checks
        if i == len(parts) - 1:
            if stat.S_ISDIR(st.st_mode):
                return f"{rel} is a directory (a binary is a file; the directory is not replaced)"
        elif not stat.S_ISDIR(st.st_mode):
            return f"{PurePosixPath(*parts[: i + 1])} is a file, not a directory"
    return None


def check_destinations(root: Path, targets: Iterable[Target]) -> None:
    """:func:`safe_destination` for every file the targets install (dist/ and, if any, packs/)."""
    for t in targets:
        safe_destination(root, t.dist_path)
        if t.pack_path is not None:
            safe_destination(root, t.pack_path)


def install(
    cfg: BuildConfig,
    verified: list[VerifiedArtifact],
    reinstall: tuple[Target, ...],
    manifest: Manifest,
    *,
    run: RunRecord | None = None,
) -> tuple[Manifest, list[str]]:
    """Copy artifacts to dist/ (and packs/ for the deploy arch); returns the new manifest and the paths written.

    Every destination is checked before the first file is written, so a refused one installs nothing.
    With ``run``, the run's provenance statement is written too (when something was built).
    """
    check_destinations(cfg.root, (*(v.target for v in verified), *reinstall))
    written: list[str] = []
    new: list[Artifact] = []
    for v in verified:
        t = v.target
        dest = cfg.root / t.dist_path
        atomic_copy(v.staged, dest, mode=0o755)
        written.append(t.dist_path)
        if t.pack_path is not None:
            atomic_copy(v.staged, cfg.root / t.pack_path, mode=0o755)
            written.append(t.pack_path)
        sha = sha256_file(dest)
        sbom, sbom_sha = _install_sbom(cfg, v, sha256=sha)
        if sbom is not None:
            written.append(sbom)
        new.append(
            Artifact(
                arch=t.arch.name,
                target=t.arch.rust_target,
                pack=t.binary.pack,
                binary=t.binary.name,
                path=t.dist_path,
                sha256=sha,
                size=dest.stat().st_size,
                static=True,
                stripped=v.stripped,
                source_hash=t.source_hash,
                builder_image=v.builder_image,
                toolchain=v.toolchain,
                input_hash=t.input_hash,
                sbom=sbom,
                sbom_sha256=sbom_sha,
            )
        )
    for t in reinstall:
        if t.pack_path is not None:
            atomic_copy(cfg.root / t.dist_path, cfg.root / t.pack_path, mode=0o755)
            written.append(t.pack_path)
    result = manifest.merged(new) if new else manifest
    if new:
        if run is not None:
            from packbin.build.attest import write_provenance  # the SBOM and provenance writers: only when built

            provenance = write_provenance(cfg, result, run)
            result = replace(result, provenance=provenance)
            written.append(provenance.path)
        result.save(cfg.root / manifest_relpath(cfg))
    return result, written


def _install_sbom(cfg: BuildConfig, v: VerifiedArtifact, *, sha256: str) -> tuple[str | None, str | None]:
    """The artifact's SBOM beside it in dist/: (path, sha256), or (None, None) without a dependency list."""
    if v.deps is None:
        # auditable = false: an SBOM left by an earlier build would describe another binary.
        (cfg.root / sbom_relpath(v.target.dist_path)).unlink(missing_ok=True)
        return None, None
    from packbin.build.attest import write_sbom

    return write_sbom(cfg, v.deps, v.target, sha256=sha256)
