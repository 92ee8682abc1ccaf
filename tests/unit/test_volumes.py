"""build/volumes.py: the names packbin gives engine volumes and host locks.

These names are a contract with what earlier runs left behind: an engine's caches (std, target
dirs, cargo home) and the host's lock and record files are found again by name, so a rename would
silently throw away minutes of prebuilt std or let two builds share a cache without a lock.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from packbin.arch import Architecture
from packbin.build.volumes import (
    CARGO_HOME_VOLUME,
    WARM,
    CacheSet,
    endpoint_key,
    fetch_record_path,
    source_volume_name,
    sources_lock_path,
    sources_record_path,
    tool_volumes,
)
from packbin.config.presets import preset_named
from packbin.engine.endpoint import Endpoint
from packbin.util.dirs import cache_dir


class _Engine:
    """Only what the naming reads: the endpoint (no engine is contacted)."""

    def __init__(self, host: str) -> None:
        self.endpoint = Endpoint(host=host, source="test")


@pytest.fixture(autouse=True)
def _cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PACKBIN_CACHE_DIR", str(tmp_path / "cache"))


def test_the_warm_caches_keep_the_names_earlier_runs_left() -> None:
    caches = WARM.for_target("aarch64-unknown-linux-musl")
    assert caches.names() == (
        "packbin-target-aarch64-unknown-linux-musl",
        "packbin-zigcache-aarch64-unknown-linux-musl",
        "packbin-std-aarch64-unknown-linux-musl",
    )
    assert CARGO_HOME_VOLUME == "packbin-cargo-home"
    assert not WARM.is_fresh


def test_a_reproducibility_check_builds_in_caches_of_its_own_under_its_own_lock() -> None:
    engine = _Engine("unix:///var/run/docker.sock")
    fresh = CacheSet.fresh("abc123")
    triple = "x86_64-unknown-linux-musl"
    assert fresh.is_fresh
    assert fresh.for_target(triple).names() == (
        "packbin-repro-abc123-target-x86_64-unknown-linux-musl",
        "packbin-repro-abc123-zigcache-x86_64-unknown-linux-musl",
        "packbin-repro-abc123-std-x86_64-unknown-linux-musl",
    )
    assert not set(fresh.for_target(triple).names()) & set(WARM.for_target(triple).names())
    assert fresh.lock_path(engine, triple) != WARM.lock_path(engine, triple)  # they never wait for each other
    assert WARM.lock_path(engine, triple).name == f"{endpoint_key(engine)}-{triple}.lock"


def test_host_files_are_per_engine() -> None:
    a, b = _Engine("unix:///var/run/docker.sock"), _Engine("tcp://10.0.0.2:2375")
    assert endpoint_key(a) != endpoint_key(b)
    triple = "x86_64-unknown-linux-musl"
    for path_of in (
        lambda e: WARM.lock_path(e, triple),
        lambda e: sources_lock_path(e, "packbin-src-x"),
        lambda e: sources_record_path(e, "packbin-src-x"),
        fetch_record_path,
    ):
        assert path_of(a) != path_of(b)
        assert path_of(a).is_relative_to(cache_dir())


def test_one_sources_volume_per_checkout(tmp_path: Path) -> None:
    one, two = source_volume_name(tmp_path / "one"), source_volume_name(tmp_path / "two")
    assert one != two and one.startswith("packbin-src-") and one == source_volume_name(tmp_path / "one")


def test_tool_volumes_are_the_cargo_home_then_each_targets_caches() -> None:
    arches = [preset_named(n) for n in ("x86_64", "arm64")]
    assert all(isinstance(a, Architecture) for a in arches)
    assert tool_volumes([a for a in arches if a is not None]) == (
        CARGO_HOME_VOLUME,
        *WARM.for_target("x86_64-unknown-linux-musl").names(),
        *WARM.for_target("aarch64-unknown-linux-musl").names(),
    )
