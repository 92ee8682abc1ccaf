"""The loopback sparse registry (tests/support/sparse_registry.py) serves real cargo.

Host cargo with an empty CARGO_HOME resolves, downloads and builds crates from it, and a second
build with that CARGO_HOME and --offline fetches nothing. No Docker; the registry serves on
127.0.0.1 only.
"""

from __future__ import annotations

import json
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from packbin._compat import tomllib
from tests.support.cargo_workspace import FixtureUnavailable, host_cargo
from tests.support.sparse_registry import (
    REGISTRY_BIN,
    SparseRegistry,
    cargo_env,
    make_registry_workspace,
    pack_crate,
    sparse_path,
)

# Builds real ELF files or crates (zig, gcc, cargo, rustc; cached after the first run).
pytestmark = pytest.mark.compiler


@pytest.fixture
def registry() -> Iterator[SparseRegistry]:
    try:
        host_cargo()
        reg = SparseRegistry()
    except FixtureUnavailable as e:
        pytest.skip(str(e))
    with reg:
        yield reg


def _get(url: str) -> tuple[int, bytes]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, b""


def test_sparse_paths() -> None:
    assert [sparse_path(n) for n in ("a", "ab", "abc", "itoa", "Lock_Api")] == [
        "1/a",
        "2/ab",
        "3/a/abc",
        "it/oa/itoa",
        "lo/ck/lock_api",
    ]


def test_crates_are_deterministic(registry: SparseRegistry) -> None:
    src = Path("/usr/share/cargo/registry/lock_api-0.4.9")
    name, version, blob = pack_crate(src)
    assert (name, version) == ("lock_api", "0.4.9")
    assert pack_crate(src)[2] == blob


def test_serves_config_index_and_crates(registry: SparseRegistry) -> None:
    base = f"http://127.0.0.1:{registry.port}"
    status, body = _get(f"{base}/index/config.json")
    assert status == 200 and json.loads(body)["dl"].startswith(base)
    status, body = _get(f"{base}/index/lo/ck/lock_api")
    entry = json.loads(body.splitlines()[0])
    assert (entry["name"], entry["vers"], entry["yanked"]) == ("lock_api", "0.4.9", False)
    deps = {d["name"]: d for d in entry["deps"]}
    assert deps["scopeguard"]["kind"] == "normal" and not deps["scopeguard"]["optional"]
    assert deps["autocfg"]["kind"] == "build" and deps["serde"]["optional"]
    assert entry["cksum"] == registry.crate_files["lock_api-0.4.9.crate"]
    assert _get(f"{base}/index/no/pe/nope")[0] == 404
    assert registry.counts()["index/no/pe/nope"] == 1


@pytest.mark.slow
def test_cargo_builds_against_it_then_offline_fetches_nothing(registry: SparseRegistry, tmp_path: Path) -> None:
    ws = make_registry_workspace(tmp_path / "ws", registry.index_url)
    lock = tomllib.loads((ws / "Cargo.lock").read_text())
    locked = {p["name"]: p.get("checksum") for p in lock["package"]}
    assert locked["lock_api"] == registry.crate_files["lock_api-0.4.9.crate"]
    registry.reset_counts()

    env = cargo_env(tmp_path / "cargo-home")
    cargo = host_cargo()
    first = subprocess.run(
        [cargo, "build", "--locked", "--release"],
        cwd=ws,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert first.returncode == 0, first.stderr[-3000:]
    assert registry.downloads() == {name: 1 for name in registry.crate_files}
    out = subprocess.run(
        [str(ws / "target/release" / REGISTRY_BIN)], capture_output=True, text=True, timeout=30, check=True
    ).stdout
    assert out.splitlines() == ["scopeguard: released", "itoa: 42"]

    # Same CARGO_HOME, a fresh target dir, --offline: everything comes from the cache.
    registry.reset_counts()
    env["CARGO_TARGET_DIR"] = str(tmp_path / "target2")
    second = subprocess.run(
        [cargo, "build", "--locked", "--offline", "--release"],
        cwd=ws,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert second.returncode == 0, second.stderr[-3000:]
    assert registry.total_requests() == 0
    assert (tmp_path / "target2/release" / REGISTRY_BIN).is_file()
