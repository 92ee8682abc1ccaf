"""A newcomer's first build, for real: a fresh directory holding a std-only crate (Cargo.toml,
src/main.rs and the Cargo.lock the host cargo writes offline; no packbin file at all), then
`packbin init` and `packbin build-pack-binaries --arch=all`; and the same crate built with
`--manifest` and no buildcfg.toml. Real engine, real builder image, real cargo zigbuild builds;
the binaries are checked by readelf and run (arm64 under qemu-aarch64-static).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.cargo_trees import std_crate
from tests.support.repo import packbin

pytestmark = [pytest.mark.docker, pytest.mark.slow]

NAME = "hello-static"
#: How each architecture's binary runs here, and what std::env::consts::ARCH it prints.
RUNNERS = {"x86_64": ([], "x86_64"), "arm64": (["qemu-aarch64-static"], "aarch64")}
#: Two presets beyond them, which no table in the written buildcfg.toml names.
MORE_RUNNERS = {"armv7": (["qemu-arm-static"], "arm"), "riscv64": (["qemu-riscv64-static"], "riscv64")}


def _check_binaries(root: Path, runners: dict[str, tuple[list[str], str]] = RUNNERS) -> None:
    for arch, (runner, rust_arch) in runners.items():
        path = root / "dist" / "pack-binaries" / arch / "bin" / NAME
        assert path.is_file(), f"no {path}"
        assert (
            "INTERP"
            not in subprocess.run(
                ["readelf", "-l", "--wide", str(path)], capture_output=True, text=True, check=True
            ).stdout
        )
        r = packbin("verify-static", str(path), "--arch", arch, cwd=root)
        assert r.returncode == 0, r.stdout + r.stderr
        if runner and shutil.which(runner[0]) is None:
            pytest.skip(f"{runner[0]} is not installed: cannot run the {arch} binary")
        out = subprocess.run([*runner, str(path)], capture_output=True, text=True, timeout=60, check=True).stdout
        assert out == f"{NAME} 0.1.0 {rust_arch}\n"
    assert not (root / "packs").exists()  # no pack: nothing is copied into a pack tree


def test_init_then_build_all(tmp_path: Path, builder_image: object) -> None:
    crate = std_crate(tmp_path / "hello")
    assert not (crate / "buildcfg.toml").exists()
    r = packbin("init", cwd=crate)
    assert r.returncode == 0, r.stderr
    assert f'name = "{NAME}"\nmanifest = "Cargo.toml"' in (crate / "buildcfg.toml").read_text()

    r = packbin("build-pack-binaries", "--arch=all", "--deploy-arch=x86_64", "--json", cwd=crate)
    assert r.returncode == 0, r.stderr[-4000:]
    report = json.loads(r.stdout)
    assert sorted(a["arch"] for a in report["built"]) == ["arm64", "x86_64"]
    _check_binaries(crate)


def test_manifest_without_a_config(tmp_path: Path, builder_image: object) -> None:
    crate = std_crate(tmp_path / "hello")
    r = packbin("build-pack-binaries", "--manifest", "Cargo.toml", "--arch=all", "--deploy-arch=x86_64", cwd=crate)
    assert r.returncode == 0, r.stderr[-4000:]
    assert not (crate / "buildcfg.toml").exists()
    _check_binaries(crate)


def test_init_then_build_two_presets_the_file_does_not_name(tmp_path: Path, builder_image: object) -> None:
    """`--arch=armv7,riscv64` after `packbin init`: the written file has no architecture table."""
    crate = std_crate(tmp_path / "hello")
    assert packbin("init", cwd=crate).returncode == 0
    assert "\n[architectures." not in (crate / "buildcfg.toml").read_text()
    r = packbin("build-pack-binaries", "--arch=armv7,riscv64", "--deploy-arch=x86_64", "--json", cwd=crate)
    assert r.returncode == 0, r.stderr[-4000:]
    assert sorted(a["arch"] for a in json.loads(r.stdout)["built"]) == ["armv7", "riscv64"]
    _check_binaries(crate, MORE_RUNNERS)
