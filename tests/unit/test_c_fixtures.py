"""The three C fixture crates (tests/support/c_fixtures.py) are sound crates.

Their lock files and vendor trees come from the host cargo and Debian's crate sources, offline.
The native builds (host cargo, glibc, the host's own zlib, OpenSSL and libclang) are marked
`compiler`: they prove the fixtures' Rust and C are right before any container builds them.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import zlib
from pathlib import Path

import pytest

from packbin._compat import tomllib
from tests.support.c_fixtures import (
    FIXTURES,
    CFixture,
    buildcfg_text,
    c_fixture_template,
    fnv1a32,
    make_c_fixture,
)
from tests.support.cargo_workspace import FixtureUnavailable, host_cargo


def _lock_packages(root: Path) -> dict[str, dict[str, object]]:
    lock = tomllib.loads((root / "Cargo.lock").read_text())
    return {p["name"]: p for p in lock["package"]}


def template(key: str) -> tuple[CFixture, Path]:
    """The generated fixture ``key`` and its description; skips, saying why, without cargo or the crates."""
    try:
        return FIXTURES[key], c_fixture_template(key)
    except FixtureUnavailable as e:
        pytest.skip(str(e))


@pytest.mark.parametrize("key", sorted(FIXTURES))
def test_fixtures_lock_and_vendor_their_sys_crate(key: str) -> None:
    fixture, root = template(key)
    packages = _lock_packages(root)
    assert fixture.package in packages
    assert "source" not in packages[fixture.package]  # the crate itself, not a dependency
    vendored = {p.name for p in (root / "vendor").iterdir() if (p / "Cargo.toml").is_file()}
    for name in set(packages) - {fixture.package}:
        assert name in vendored or any(v.startswith(name + "-") for v in vendored), name
    assert not list(root.glob("target")), "the template must never be built in"
    if fixture.sys_crate is not None:
        manifest = tomllib.loads((root / "vendor" / fixture.sys_crate / "Cargo.toml").read_text())
        assert manifest["package"]["links"] == {"zlib": "z", "openssl": "openssl"}[fixture.key]
    # Nothing in these locks bundles the C library: no openssl-src, no libz-sys "static".
    assert "openssl-src" not in packages


def test_buildcfg_text_loads(tmp_path: Path) -> None:
    from packbin.config.model import BuildConfig

    (tmp_path / "Cargo.toml").write_text('[package]\nname = "c-zlib-demo"\nversion = "0.1.0"\n')
    (tmp_path / "buildcfg.toml").write_text(buildcfg_text("zlib", c_libraries=("zlib",), packages=("pkg-config",)))
    cfg = BuildConfig.load(tmp_path / "buildcfg.toml", env={})
    assert [lib.name for lib in cfg.c_libraries] == ["zlib"]
    assert cfg.builder.packages == ("pkg-config",)
    assert [b.name for b in cfg.binaries] == ["c-zlib-demo"]


def _expected_line(key: str, out: str) -> str:
    data = b"packbin"
    if key == "bindgen":
        return f"bindgen demo_fnv1a(packbin) = {fnv1a32(data):08x}"
    if key == "zlib":
        return f"crc32(packbin) = {zlib.crc32(data):08x}"
    return f"sha256(packbin) = {hashlib.sha256(data).hexdigest()}"


@pytest.mark.compiler
@pytest.mark.parametrize("key", sorted(FIXTURES))
def test_fixture_builds_and_runs_natively(tmp_path: Path, key: str) -> None:
    try:
        root = make_c_fixture(key, tmp_path / key)
        cargo = host_cargo()
    except FixtureUnavailable as e:
        pytest.skip(str(e))
    if key == "bindgen" and not list(Path("/usr/lib").glob("llvm-*/lib/libclang.so*")):
        pytest.skip("no libclang on the host (apt-get install libclang-dev)")
    if key != "bindgen" and shutil.which("pkg-config") is None:
        pytest.skip("no pkg-config on the host")
    env = dict(os.environ, CARGO_TARGET_DIR=str(tmp_path / "target"))
    proc = subprocess.run(
        [cargo, "run", "--offline", "--locked", "--quiet"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert _expected_line(key, proc.stdout) in proc.stdout
    if key == "bindgen":
        assert "bindgen demo_add(2, 40) = 42" in proc.stdout
    elif key == "zlib":
        assert proc.stdout.startswith("zlib 1.")
    else:
        assert proc.stdout.startswith("openssl OpenSSL ")
    assert "build-net: " in proc.stdout
    assert "build-target: " in proc.stdout
