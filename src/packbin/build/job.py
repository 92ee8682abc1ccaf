"""What one build container gets: its volumes, environment, command line and payload.

Pure: a frozen :class:`BuildJob` made from the plan's step, the inputs and the builder image;
nothing here talks to an engine (:mod:`packbin.build.container` runs the job).

- volumes: the shared cargo home, the sources volume (read-only), and per target triple the
  cache set's target directory, zig cache and (debian profile) prebuilt musl std, and each
  ``[[c_libraries]]`` sysroot (read-only, :mod:`packbin.build.c_sysroot`);
- environment: the user's ``[builder.env]``, then where cargo and zig keep their files, which
  sources the volume holds, and the profile's rustflags where the user's flags would beat them;
- payload, unpacked at ``/build``: ``resources/build.sh``, ``resources/zig_cache.py``, the
  per-target cargo config and each bin's own ``[build] rustflags`` as a config file.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from packbin.build.c_sysroot import sysroot_environment, sysroot_volumes, sysroots_for
from packbin.build.fetch import CARGO_HOME_MOUNT
from packbin.build.plan import BuildStep
from packbin.build.recipe import (
    BUILD_ROOT,
    BUILD_SCRIPT,
    CACHE_ROOT,
    SYSROOT,
    ZIG_CACHE_SCRIPT,
    BuilderImage,
    target_cargo_config,
    target_rustflags,
    target_rustflags_env,
)
from packbin.build.sources import SRC_MOUNT
from packbin.build.volumes import CARGO_HOME_VOLUME, CacheSet
from packbin.config.model import BuildConfig
from packbin.util.tarwriter import tar_bytes
from packbin.workspace import BinaryInputs

#: Where a build leaves its binaries: ``OUT_ROOT/<triple>/<bin>``.
OUT_ROOT = f"{BUILD_ROOT}/out"


def build_volumes(caches: CacheSet, triple: str, *, profile: str, source_volume: str) -> dict[str, str]:
    """volume -> mount point (``:ro`` for read-only) of one build of ``triple``."""
    names = caches.for_target(triple)
    volumes = {
        CARGO_HOME_VOLUME: CARGO_HOME_MOUNT,
        names.target: f"{BUILD_ROOT}/target",
        names.zigcache: CACHE_ROOT,
        source_volume: f"{SRC_MOUNT}:ro",
    }
    if target_rustflags(triple, profile=profile):  # the prebuilt std's sysroot
        volumes[names.std] = SYSROOT
    return volumes


def build_environment(
    cfg: BuildConfig,
    step: BuildStep,
    inputs: Mapping[str, BinaryInputs],
    *,
    profile: str,
    sources_id: str,
) -> dict[str, str]:
    """The build container's environment: ``[builder.env]`` first, packbin's variables over it."""
    local = sorted({p.name for t in step.targets for p in inputs[t.binary.name].workspace.packages})
    env = dict(cfg.builder.env)
    env.update(
        {
            "CARGO_HOME": CARGO_HOME_MOUNT,
            "CARGO_TARGET_DIR": f"{BUILD_ROOT}/target",
            "PACKBIN_CARGO_PROFILE": cfg.builder.cargo_profile,
            "XDG_CACHE_HOME": CACHE_ROOT,
            "PACKBIN_SOURCES_ID": sources_id,
            "PACKBIN_LOCAL_PACKAGES": " ".join(local),
            # build.sh hands cargo metadata's resolution out beside each binary (build/embed.py).
            "PACKBIN_AUDITABLE": "1" if cfg.builder.auditable else "0",
        }
    )
    env.update(target_rustflags_env(step.arch.rust_target, profile=profile, env=env))
    return env


def build_payload(step: BuildStep, inputs: Mapping[str, BinaryInputs], *, profile: str) -> bytes:
    """The tar unpacked at ``/build`` before the build starts."""
    triple = step.arch.rust_target
    # /build/.cargo/config.toml: an ancestor of every crate, below the crates' own configs.
    files: dict[str, bytes | tuple[bytes, int]] = {
        "packbin-build.sh": (BUILD_SCRIPT.encode(), 0o755),
        "packbin-zig-cache.py": (ZIG_CACHE_SCRIPT, 0o644),
        ".cargo/config.toml": (target_cargo_config([triple], profile=profile).encode(), 0o644),
    }
    if target_rustflags(triple, profile=profile):
        # The builder's [target.<triple>] rustflags make cargo drop a crate's [build] rustflags:
        # each bin that has some gets them back as target rustflags (`cargo --config FILE`).
        for t in step.targets:
            if flags := inputs[t.binary.name].build_rustflags:
                toml = f"[target.{triple}]\nrustflags = [{', '.join(json.dumps(f) for f in flags)}]\n"
                files[f"packbin-flags/{t.binary.name}.toml"] = (toml.encode(), 0o644)
    return tar_bytes(files)


def build_command(cfg: BuildConfig, step: BuildStep, inputs: Mapping[str, BinaryInputs]) -> list[str]:
    """``build.sh TARGET STRIP BIN:PACKAGE:MANIFEST...``"""
    specs = [
        f"{t.binary.name}:{inputs[t.binary.name].package}:{SRC_MOUNT}/{inputs[t.binary.name].manifest_rel}"
        for t in step.targets
    ]
    strip = "1" if cfg.builder.strip else "0"
    return ["/bin/sh", f"{BUILD_ROOT}/packbin-build.sh", step.arch.rust_target, strip, *specs]


@dataclass(frozen=True, kw_only=True)
class BuildJob:
    """Everything one build container is created with, and the payload put into it."""

    triple: str
    image: str
    command: tuple[str, ...]
    environment: Mapping[str, str]
    volumes: Mapping[str, str]  # volume -> mount point (``:ro`` for read-only)
    source_volume: str  # the one volume the build only reads (not created here)
    target_volume: str  # the cargo target directory's volume (what a stale container mounts)
    payload: bytes

    @classmethod
    def for_step(
        cls,
        image: BuilderImage,
        cfg: BuildConfig,
        step: BuildStep,
        inputs: Mapping[str, BinaryInputs],
        *,
        source_volume: str,
        sources_id: str,
        caches: CacheSet,
    ) -> BuildJob:
        triple = step.arch.rust_target
        # [[c_libraries]]: each library's sysroot for the target, read-only, and pkg-config pointed at them.
        sysroots = sysroots_for(cfg, triple, image.recipe)
        environment = build_environment(cfg, step, inputs, profile=image.profile, sources_id=sources_id)
        volumes = build_volumes(caches, triple, profile=image.profile, source_volume=source_volume)
        return cls(
            triple=triple,
            image=image.tag,
            command=tuple(build_command(cfg, step, inputs)),
            environment={**environment, **sysroot_environment(sysroots)},
            volumes={**volumes, **sysroot_volumes(sysroots)},
            source_volume=source_volume,
            target_volume=caches.for_target(triple).target,
            payload=build_payload(step, inputs, profile=image.profile),
        )

    @property
    def cache_volumes(self) -> list[str]:
        """The volumes the build writes (created on first use): every one not mounted ``:ro``
        (the sources volume and the C sysroots are)."""
        return [v for v, mount in self.volumes.items() if not mount.endswith(":ro")]

    @property
    def out_dir(self) -> str:
        """Where the binaries are in the container once the build has succeeded."""
        return f"{OUT_ROOT}/{self.triple}"
