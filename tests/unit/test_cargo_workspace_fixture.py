"""The attune-shaped workspace fixture (tests/support/cargo_workspace.py) is a sound Cargo workspace.

Real host cargo, real crates from Debian's sources, no network. The native build is `slow` (about
a minute cold on 2 cores: tokio, serde_derive, ring's C and asm).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from packbin._compat import tomllib
from tests.support.cargo_workspace import (
    COMMON_MARKER,
    SENSOR_BIN,
    SQLX_QUERY,
    FixtureUnavailable,
    host_cargo,
    make_workspace,
    vendor_size,
)

# Builds real ELF files or crates (zig, gcc, cargo, rustc; cached after the first run).
pytestmark = pytest.mark.compiler


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    try:
        return make_workspace(tmp_path / "ws")
    except FixtureUnavailable as e:
        pytest.skip(str(e))


def _cargo(ws: Path, *args: str, sqlx_offline: bool = True) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "SQLX_OFFLINE"}
    if sqlx_offline:
        env["SQLX_OFFLINE"] = "true"
    return subprocess.run(
        [host_cargo(), *args], cwd=ws, env=env, capture_output=True, text=True, timeout=900, check=False
    )


def test_layout_lock_and_vendor(workspace: Path) -> None:
    root = tomllib.loads((workspace / "Cargo.toml").read_text())
    assert root["workspace"]["members"] == ["crates/*"]
    assert root["workspace"]["dependencies"]["attune-common"] == {"path": "crates/common"}
    sensor = tomllib.loads((workspace / "crates/sensor/Cargo.toml").read_text())
    assert sensor["package"]["name"] == "attune-sensor"
    assert sensor["bin"] == [{"name": SENSOR_BIN, "path": "src/main.rs"}]
    lock = tomllib.loads((workspace / "Cargo.lock").read_text())
    names = {p["name"] for p in lock["package"]}
    assert {"tokio", "tokio-macros", "serde_derive", "ring", "anyhow", "attune-common", "attune-sensor"} <= names
    config = tomllib.loads((workspace / ".cargo/config.toml").read_text())
    assert config["source"]["vendored-sources"] == {"directory": "vendor"}
    assert (workspace / "vendor/ring/.cargo-checksum.json").is_file()
    assert (
        (workspace / ".sqlx/query-0001.json").is_file()
        and (workspace / "docs").is_dir()
        and (workspace / "web").is_dir()
    )
    assert vendor_size(workspace) > 20_000_000


def test_lock_matches_vendor_offline(workspace: Path) -> None:
    # --locked --offline: the lock resolves against vendor/ alone, with the user's own CARGO_HOME.
    proc = _cargo(workspace, "metadata", "--locked", "--offline", "--format-version", "1")
    assert proc.returncode == 0, proc.stderr


@pytest.mark.slow
def test_builds_and_runs_natively(workspace: Path) -> None:
    proc = _cargo(workspace, "build", "--locked", "--offline", "--release", "--bin", SENSOR_BIN)
    assert proc.returncode == 0, proc.stderr[-3000:]
    run = subprocess.run(
        [str(workspace / "target/release" / SENSOR_BIN)], capture_output=True, text=True, timeout=30, check=True
    )
    lines = run.stdout.splitlines()
    assert [line.split(":")[0] for line in lines[:3]] == ["tick 1", "tick 2", "tick 3"]
    assert "sha256(attune): 2d769791545d2b49ff771dfeb592047da47b55dfb12451752fea453d04d47a41" in lines
    assert f"common: {COMMON_MARKER}" in lines
    assert f"sqlx-query: {SQLX_QUERY} (1 file(s))" in lines
    net = next(line for line in lines if line.startswith("build-net: "))
    assert "lo" in net.removeprefix("build-net: ").split(",")

    # The build script refuses to run without SQLX_OFFLINE=true.
    proc = _cargo(workspace, "build", "--locked", "--offline", "--release", "--bin", SENSOR_BIN, sqlx_offline=False)
    assert proc.returncode != 0 and "SQLX_OFFLINE=true is required" in proc.stderr
