"""Planning: (config, architectures, binaries, source digests, manifest) -> frozen build steps.

Pure: no Docker, no file system. It decides, per architecture, which binaries need a build
and which are up to date, and where each artifact goes. Anchor: cibuildwheel turns options
into build steps before anything touches a container.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from packbin import __version__
from packbin.arch import Architecture
from packbin.config.model import BuildConfig, PackBinary
from packbin.dist.layout import binary_relpath
from packbin.dist.manifest import Artifact, Manifest

#: Bump when the build script or the image recipe changes in a way that changes outputs.
RECIPE_VERSION = "2"


@dataclass(frozen=True, kw_only=True)
class Target:
    """One (architecture, binary) to produce."""

    arch: Architecture
    binary: PackBinary
    source_hash: str
    input_hash: str
    dist_path: str  # POSIX, relative to the repository root
    pack_path: str | None  # POSIX, relative to the repository root; None unless deploy arch and the binary has a pack
    packs_skip: str | None = None  # why pack_path is None: not the deploy arch, no pack, copy_to_packs = false

    @property
    def key(self) -> tuple[str, str]:
        """(arch name, binary name): the target's identity."""
        return (self.arch.name, self.binary.name)


@dataclass(frozen=True, kw_only=True)
class BuildStep:
    """One container run: every binary that needs building for one architecture."""

    arch: Architecture
    targets: tuple[Target, ...]


@dataclass(frozen=True, kw_only=True)
class BuildPlan:
    """What a build will do: containers to run, artifacts to reinstall, and what is up to date."""

    steps: tuple[BuildStep, ...]  # need a container
    up_to_date: tuple[Target, ...]  # manifest and installed files match: nothing to do
    reinstall: tuple[Target, ...]  # built artifact is current, only packs/ copy is stale
    deploy_arch: str
    targets: tuple[Target, ...] = ()  # every target, in (architecture, binary) order

    @property
    def needs_engine(self) -> bool:
        """True when something must be built (the up-to-date path needs no engine)."""
        return bool(self.steps)

    @property
    def all_targets(self) -> tuple[Target, ...]:
        """Every target of the plan: built, reinstalled and up to date."""
        return tuple(t for s in self.steps for t in s.targets) + self.reinstall + self.up_to_date

    def rebuild_steps(self) -> tuple[BuildStep, ...]:
        """Every target as a build step, one per architecture, up to date or not: what
        --check-reproducible rebuilds (the plan ``force`` would have made)."""
        by_arch: dict[str, list[Target]] = {}
        for t in self.targets:
            by_arch.setdefault(t.arch.name, []).append(t)
        return tuple(BuildStep(arch=ts[0].arch, targets=tuple(ts)) for ts in by_arch.values())


def builder_key(cfg: BuildConfig) -> str:
    """What, in the configuration, changes every build's output (not the binaries' own sources)."""
    b = cfg.builder
    doc = {
        "recipe": RECIPE_VERSION,
        "packbin": __version__,
        "profile": b.profile,
        "rustup_base": b.rustup.base_image,
        "debian_base": b.debian.base_image,
        "mirror": b.debian_mirror,
        "suite": b.debian_suite,
        "zig": b.ziglang_version,
        "cargo_zigbuild": b.cargo_zigbuild_version,
        "strip": b.strip,
        "env": b.env,
        "cargo_profile": b.cargo_profile,
        # The .dep-v0 section (added on the host, after the build) is part of the artifact.
        "auditable": b.auditable,
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


def input_hash(cfg_key: str, arch: Architecture, binary: PackBinary, source_hash: str) -> str:
    """sha256 over everything that decides one binary's output: config key, target, binary and sources."""
    doc = [cfg_key, arch.rust_target, arch.name, binary.name, binary.pack, binary.install_path, source_hash]
    return hashlib.sha256(json.dumps(doc).encode()).hexdigest()


#: Why a target is not copied into packs/ (Target.packs_skip; the dry run and --json say it).
NOT_DEPLOY_ARCH = "not the deploy arch"
NO_PACK = "no pack"
NO_COPY = "copy_to_packs = false"


def packs_skip(arch: Architecture, binary: PackBinary, deploy_arch: str) -> str | None:
    """Why ``binary`` built for ``arch`` is not copied into packs/, or None when it is."""
    if binary.pack is None:
        return NO_PACK
    if not binary.copy_to_packs:
        return NO_COPY
    if arch.name != deploy_arch:
        return NOT_DEPLOY_ARCH
    return None


def make_plan(
    cfg: BuildConfig,
    arches: tuple[Architecture, ...],
    binaries: tuple[PackBinary, ...],
    *,
    source_hashes: Mapping[str, str],
    manifest: Manifest,
    deploy_arch: str,
    file_sha256: Callable[[str], str | None],
    force: bool = False,
) -> BuildPlan:
    """Decide what to build.

    ``file_sha256(relpath)`` returns the sha256 of an installed file or None when it is missing;
    it is the one I/O the plan asks for, injected so planning stays testable without files.
    """
    key = builder_key(cfg)
    packs = cfg.packs_dir.relative_to(cfg.root).as_posix()
    steps: list[BuildStep] = []
    fresh: list[Target] = []
    reinstall: list[Target] = []
    every: list[Target] = []
    for arch in arches:
        todo: list[Target] = []
        for binary in binaries:
            src = source_hashes[binary.name]
            skip = packs_skip(arch, binary, deploy_arch)
            t = Target(
                arch=arch,
                binary=binary,
                source_hash=src,
                input_hash=input_hash(key, arch, binary, src),
                dist_path=binary_relpath(cfg, arch.name, binary.pack, binary.install_path),
                pack_path=None if skip else f"{packs}/{binary.pack}/{binary.install_path}",
                packs_skip=skip,
            )
            every.append(t)
            state = _state(t, manifest.find(arch.name, binary.name), file_sha256)
            if force or state == "build":
                todo.append(t)
            elif state == "reinstall":
                reinstall.append(t)
            else:
                fresh.append(t)
        if todo:
            steps.append(BuildStep(arch=arch, targets=tuple(todo)))
    return BuildPlan(
        steps=tuple(steps),
        up_to_date=tuple(fresh),
        reinstall=tuple(reinstall),
        deploy_arch=deploy_arch,
        targets=tuple(every),
    )


def _state(t: Target, recorded: Artifact | None, file_sha256: Callable[[str], str | None]) -> str:
    if recorded is None or recorded.input_hash != t.input_hash or recorded.path != t.dist_path:
        return "build"
    if file_sha256(t.dist_path) != recorded.sha256:
        return "build"
    if t.pack_path is not None and file_sha256(t.pack_path) != recorded.sha256:
        return "reinstall"
    return "fresh"
