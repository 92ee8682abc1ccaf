"""Every name packbin gives an engine's volumes and the host's lock files, in one place.

On each engine (volumes, all labelled ``io.packbin.owner=packbin``):

- ``packbin-cargo-home``: the shared cargo home (registry and git downloads; the fetch step fills it);
- ``packbin-src-<hash of the checkout path>``: one checkout's build inputs (the sources volume);
- per Rust target triple, the build caches: ``packbin-target-<triple>`` (cargo's target dir),
  ``packbin-zigcache-<triple>`` (zig's and cargo-zigbuild's caches) and ``packbin-std-<triple>``
  (the debian profile's prebuilt musl std, used as ``--sysroot``);
- a reproducibility check's own empty caches, ``packbin-repro-<token>-<kind>-<triple>``, removed
  after the check;
- per ``[[c_libraries]]`` library and target, its static sysroot,
  ``packbin-c-<library>-<version>-<triple>-<recipe>`` (:mod:`packbin.build.c_sysroot`).

On the host, below packbin's cache directory, keyed by the engine's identity (``endpoint_key``):

- ``locks/<engine>-<triple>.lock``: one build of a target's caches at a time
  (``locks/<engine>-<triple>-<token>.lock`` for a reproducibility check's set);
- ``locks/<engine>-<volume>.lock``: one upload into a sources volume at a time;
- ``sources/<engine>-<volume>.json`` and ``fetch/<engine>.json``: what the engine holds (the
  records of :mod:`packbin.build.sources` and :mod:`packbin.build.fetch`);
- ``c-sysroots/<engine>.json``: the C sysroot volumes seen complete;
- ``pull-failures.json``: when a base image's pull last failed, per engine endpoint and image
  (:mod:`packbin.build.image` does not ask again for an hour).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from packbin.util.dirs import cache_dir

if TYPE_CHECKING:
    from packbin.arch import Architecture
    from packbin.engine import Engine

#: The cargo home shared by every build on an engine.
CARGO_HOME_VOLUME = "packbin-cargo-home"


def endpoint_key(engine: Engine) -> str:
    """The engine's identity in host-side file names: a short hash of its endpoint."""
    return hashlib.sha256(engine.endpoint.host.encode()).hexdigest()[:12]


def source_volume_name(root: Path) -> str:
    """One sources volume per repository checkout (two checkouts never share one)."""
    return "packbin-src-" + hashlib.sha256(str(root).encode()).hexdigest()[:12]


def target_volume(triple: str) -> str:
    """The cargo target directory's volume for ``triple`` (kept between builds: incremental)."""
    return f"packbin-target-{triple}"


def cache_volume(triple: str) -> str:
    """zig's and cargo-zigbuild's cache volume for ``triple``."""
    return f"packbin-zigcache-{triple}"


def std_volume(triple: str) -> str:
    """The prebuilt musl std (debian profile) for ``triple``."""
    return f"packbin-std-{triple}"


def tool_volumes(arches: Sequence[Architecture]) -> tuple[str, ...]:
    """The cache volumes a build of ``arches`` warms: the shared cargo home, then per target its
    target dir, zig cache and std (what cache-export carries)."""
    per_target = (f(a.rust_target) for a in arches for f in (target_volume, cache_volume, std_volume))
    return (CARGO_HOME_VOLUME, *per_target)


@dataclass(frozen=True, kw_only=True)
class TargetCaches:
    """The three cache volumes one build of a target mounts."""

    target: str
    zigcache: str
    std: str

    def names(self) -> tuple[str, str, str]:
        return (self.target, self.zigcache, self.std)


@dataclass(frozen=True, kw_only=True)
class CacheSet:
    """Which caches a run builds in: the warm ones (the default), or a reproducibility check's
    empty set named by ``repro_token`` (the cargo home and sources volume hold inputs and are
    shared either way)."""

    repro_token: str = ""

    @classmethod
    def fresh(cls, token: str) -> CacheSet:
        return cls(repro_token=token)

    @property
    def is_fresh(self) -> bool:
        return bool(self.repro_token)

    def for_target(self, triple: str) -> TargetCaches:
        if not self.repro_token:
            return TargetCaches(target=target_volume(triple), zigcache=cache_volume(triple), std=std_volume(triple))
        names = {kind: f"packbin-repro-{self.repro_token}-{kind}-{triple}" for kind in ("target", "zigcache", "std")}
        return TargetCaches(**names)

    def lock_path(self, engine: Engine, triple: str) -> Path:
        """The host lock one build of ``triple``'s caches on ``engine`` holds."""
        suffix = f"-{self.repro_token}" if self.repro_token else ""
        return cache_dir() / "locks" / f"{endpoint_key(engine)}-{triple}{suffix}.lock"


#: The warm caches: what every build uses unless it checks reproducibility.
WARM = CacheSet()


def sources_lock_path(engine: Engine, volume: str) -> Path:
    """The host lock one upload into (and build from) sources volume ``volume`` holds."""
    return cache_dir() / "locks" / f"{endpoint_key(engine)}-{volume}.lock"


def sources_record_path(engine: Engine, volume: str) -> Path:
    """What packbin last uploaded into ``volume`` on ``engine``."""
    return cache_dir() / "sources" / f"{endpoint_key(engine)}-{volume}.json"


def fetch_record_path(engine: Engine) -> Path:
    """Which workspaces' dependencies ``engine``'s cargo home holds."""
    return cache_dir() / "fetch" / f"{endpoint_key(engine)}.json"


def pull_failures_path() -> Path:
    """When each (engine endpoint, base image) pull last failed."""
    return cache_dir() / "pull-failures.json"


def c_sysroot_volume(library: str, version: str, triple: str, recipe: str) -> str:
    """One C library's static sysroot for ``triple``: per library, version (the Debian source
    version, or the suite's name when none is pinned), target and builder recipe (zig's version
    and the image's tools are in it)."""
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in version)
    return f"packbin-c-{library}-{safe}-{triple}-{recipe[:12]}"


def c_sysroot_record_path(engine: Engine) -> Path:
    """Which C sysroot volumes on ``engine`` packbin has seen complete (by their identity)."""
    return cache_dir() / "c-sysroots" / f"{endpoint_key(engine)}.json"
