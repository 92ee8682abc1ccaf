"""The core pack's timer sensor: the crate builds on the host (std only, locked, warning-free) and
the real binary passes every behaviour check in tests/sensor_checks.py.

Builds with rustup's cargo (~/.cargo/bin/cargo, else cargo on PATH) into a cache directory
($PACKBIN_TEST_CACHE, else $XDG_CACHE_HOME/packbin/tests, else ~/.cache/packbin/tests) so reruns
are incremental. Skips, with the reason, when no cargo is found.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from packbin._compat import tomllib

ROOT = Path(__file__).resolve().parents[2]
from tests.support import sensor_checks

# Builds real ELF files or crates (zig, gcc, cargo, rustc; cached after the first run).
pytestmark = pytest.mark.compiler

PACK = ROOT / "packs" / "core"
CRATE = PACK / "sensors" / "timer-sensor"
MANIFEST = CRATE / "Cargo.toml"
LOCKFILE = CRATE / "Cargo.lock"
BINARY = "attune-core-timer-sensor"


def _cache_dir() -> Path:
    explicit = os.environ.get("PACKBIN_TEST_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "packbin" / "tests"


def _find_cargo() -> Path | None:
    rustup_cargo = Path.home() / ".cargo" / "bin" / "cargo"
    if rustup_cargo.is_file() and os.access(rustup_cargo, os.X_OK):
        return rustup_cargo
    found = shutil.which("cargo")
    return Path(found) if found else None


class Toolchain:
    def __init__(self, cargo: Path) -> None:
        self.cargo = cargo
        self.target_dir = _cache_dir() / "timer-sensor-target"
        env = dict(os.environ)
        # rustup's proxies and their rustc first; nothing from the caller may redirect the build.
        env["PATH"] = f"{cargo.parent}{os.pathsep}{env.get('PATH', '')}"
        for var in ("CARGO_BUILD_TARGET", "CARGO_TARGET_DIR", "RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS", "RUSTC_WRAPPER"):
            env.pop(var, None)
        self.env = env
        rustc = cargo.parent / "rustc"
        out = subprocess.run(
            [str(rustc) if rustc.exists() else "rustc", "-vV"],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        ).stdout
        m = re.search(r"^host: (\S+)$", out, re.MULTILINE)
        assert m, f"cannot read the host triple from rustc -vV:\n{out}"
        self.host = m.group(1)

    def cargo_run(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        cmd = [str(self.cargo), *args]
        return subprocess.run(
            cmd, check=False, capture_output=True, text=True, env=self.env, timeout=timeout, cwd=CRATE
        )

    def has(self, subcommand: str) -> bool:
        return self.cargo_run(subcommand, "--version", timeout=60).returncode == 0


@pytest.fixture(scope="module")
def toolchain() -> Toolchain:
    cargo = _find_cargo()
    if cargo is None:
        pytest.skip("no cargo: neither ~/.cargo/bin/cargo nor cargo on PATH (install Rust with rustup)")
    return Toolchain(cargo)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def build(toolchain: Toolchain) -> tuple[Path, str]:
    """(binary path, cargo's stderr) of a locked release build on the host."""
    lock_before = _sha256(LOCKFILE)
    p = toolchain.cargo_run(
        "build", "--release", "--locked", "--manifest-path", str(MANIFEST), "--target-dir", str(toolchain.target_dir)
    )
    assert p.returncode == 0, f"cargo build failed ({p.returncode}):\n{p.stderr}"
    assert _sha256(LOCKFILE) == lock_before, "Cargo.lock changed during a --locked build"
    binary = toolchain.target_dir / "release" / BINARY
    assert binary.is_file(), f"cargo build succeeded but {binary} is missing"
    return binary, p.stderr


def _crate_version() -> str:
    with MANIFEST.open("rb") as f:
        return str(tomllib.load(f)["package"]["version"])


# --- the crate itself -----------------------------------------------------------------------------


def test_crate_is_std_only_and_configured() -> None:
    with MANIFEST.open("rb") as f:
        manifest = tomllib.load(f)
    assert manifest["package"]["name"] == BINARY
    assert manifest["package"]["edition"] == "2021"
    for table in ("dependencies", "build-dependencies", "dev-dependencies", "target"):
        assert not manifest.get(table), f"Cargo.toml has [{table}] entries: the crate must stay std-only"
    assert [b["name"] for b in manifest["bin"]] == [BINARY]
    release = manifest["profile"]["release"]
    assert release == {"opt-level": "s", "lto": True, "codegen-units": 1, "panic": "abort"}, release
    with LOCKFILE.open("rb") as f:
        lock = tomllib.load(f)
    assert [(p["name"], p["version"]) for p in lock["package"]] == [(BINARY, manifest["package"]["version"])], (
        "Cargo.lock must list this package alone (no dependencies)"
    )
    assert all("source" not in p and "dependencies" not in p for p in lock["package"])


def test_buildcfg_points_at_the_crate() -> None:
    with (ROOT / "buildcfg.toml").open("rb") as f:
        cfg = tomllib.load(f)
    entries = [b for b in cfg["binaries"] if b["name"] == BINARY]
    assert len(entries) == 1, f"buildcfg.toml has {len(entries)} [[binaries]] entries named {BINARY}"
    entry = entries[0]
    assert (ROOT / entry["manifest"]).resolve() == MANIFEST
    assert entry["pack"] == "core"
    assert (PACK / entry["install_path"]).parent == PACK / "sensors"
    assert Path(entry["install_path"]).name == BINARY


def test_locked_build_is_warning_free(build: tuple[Path, str]) -> None:
    _, stderr = build
    assert "warning" not in stderr.lower(), f"cargo build printed warnings:\n{stderr}"


def test_cargo_unit_tests(toolchain: Toolchain) -> None:
    p = toolchain.cargo_run(
        "test", "--locked", "--manifest-path", str(MANIFEST), "--target-dir", str(toolchain.target_dir)
    )
    assert p.returncode == 0, f"cargo test failed:\n{p.stdout}\n{p.stderr}"
    assert "warning" not in p.stderr.lower(), f"cargo test printed warnings:\n{p.stderr}"


def test_clippy_clean(toolchain: Toolchain) -> None:
    if not toolchain.has("clippy"):
        pytest.skip("cargo clippy is not installed for this toolchain")
    p = toolchain.cargo_run(
        "clippy",
        "--locked",
        "--all-targets",
        "--manifest-path",
        str(MANIFEST),
        "--target-dir",
        str(toolchain.target_dir),
        "--",
        "-D",
        "warnings",
    )
    assert p.returncode == 0, f"cargo clippy is not clean:\n{p.stderr}"


def test_rustfmt_clean(toolchain: Toolchain) -> None:
    if not toolchain.has("fmt"):
        pytest.skip("cargo fmt (rustfmt) is not installed for this toolchain")
    p = toolchain.cargo_run("fmt", "--check", "--manifest-path", str(MANIFEST))
    assert p.returncode == 0, f"cargo fmt --check wants changes:\n{p.stdout}{p.stderr}"


# --- the real binary: every check from tests/sensor_checks.py --------------------------------------


def test_version(build: tuple[Path, str], toolchain: Toolchain) -> None:
    version, target = sensor_checks.check_version(build[0], toolchain.host, _crate_version())
    assert (version, target) == (_crate_version(), toolchain.host)


@pytest.mark.parametrize(
    "check",
    [
        "check_help",
        "check_bounded",
        "check_env_config",
        "check_sigterm",
        "check_sigint",
        "check_closed_stdout",
        "check_bad_flags",
    ],
)
def test_sensor_behaviour(build: tuple[Path, str], check: str) -> None:
    getattr(sensor_checks, check)(build[0])


def test_run_all_checks(build: tuple[Path, str], toolchain: Toolchain) -> None:
    sensor_checks.run_all_checks(build[0], expected_target=toolchain.host, expected_version=_crate_version())


def test_checks_catch_a_wrong_binary(tmp_path: Path) -> None:
    """The checks fail, with a message, on a binary that is not the sensor."""
    fake = tmp_path / BINARY
    fake.write_text("#!/bin/sh\necho 'attune-core-timer-sensor 9.9.9 (mips-unknown-linux-musl)'\nexit 0\n")
    fake.chmod(0o755)
    with pytest.raises(AssertionError, match="expected x86_64-unknown-linux-musl"):
        sensor_checks.check_version(fake, "x86_64-unknown-linux-musl")
    with pytest.raises(AssertionError, match="expected exactly 3 lines|not valid JSON"):
        sensor_checks.check_bounded(fake)
    with pytest.raises(AssertionError, match="expected exit 2"):
        sensor_checks.check_bad_flags(fake)


# --- the rest of the pack ------------------------------------------------------------------------


def _yaml_scalar(path: Path, key: str) -> str:
    m = re.search(rf"^{re.escape(key)}:\s*(.+?)\s*$", path.read_text(), re.MULTILINE)
    assert m, f"{path.relative_to(ROOT)} has no top-level {key}"
    return m.group(1).strip("\"'")


def test_pack_metadata() -> None:
    assert _yaml_scalar(PACK / "pack.yaml", "ref") == "core"
    for key in ("label", "version", "description"):
        assert _yaml_scalar(PACK / "pack.yaml", key)
    sensor = PACK / "sensors" / "timer.yaml"
    assert _yaml_scalar(sensor, "entry_point") == BINARY
    assert _yaml_scalar(sensor, "runner_type") == "native"
    assert "core.intervaltimer" in sensor.read_text()
    assert _yaml_scalar(PACK / "triggers" / "intervaltimer.yaml", "ref") == "core.intervaltimer"
    assert _yaml_scalar(PACK / "actions" / "echo.yaml", "entry_point") == "echo.sh"


def test_echo_action_is_executable_and_runs() -> None:
    script = PACK / "actions" / "echo.sh"
    assert stat.S_IMODE(script.stat().st_mode) == 0o755, oct(script.stat().st_mode)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATTUNE_")}
    assert (
        subprocess.run([str(script)], check=False, capture_output=True, text=True, env=env).stdout == "Hello, World!\n"
    )
    assert (
        subprocess.run([str(script), "hi there"], check=False, capture_output=True, text=True, env=env).stdout
        == "hi there\n"
    )
    env["ATTUNE_ACTION_MESSAGE"] = "-n from env"
    assert subprocess.run([str(script)], check=False, capture_output=True, text=True, env=env).stdout == "-n from env\n"
