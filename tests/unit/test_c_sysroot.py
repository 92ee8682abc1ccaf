"""packbin.build.c_sysroot without an engine: which sysroot volumes a build mounts, what its
environment says, zig's target names, and the script's shell syntax."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from pathlib import Path

import pytest

from packbin.build.c_sysroot import (
    SCRIPT,
    sysroot_environment,
    sysroot_volumes,
    sysroots_for,
    zig_target,
)
from packbin.config.c_libraries import CLibrary
from packbin.config.model import BuildConfig
from packbin.errors import BuildError, PackbinError
from tests.support.repo import skeleton_config

REPO = Path(__file__).resolve().parents[2]
TRIPLE = "x86_64-unknown-linux-musl"


@pytest.fixture
def cfg(tmp_path: Path) -> BuildConfig:
    base = skeleton_config(tmp_path / "repo")
    libs = (CLibrary(name="zlib"), CLibrary(name="openssl", version="3.0.15-1~deb12u1"))
    return dataclasses.replace(base, c_libraries=libs)


@pytest.mark.parametrize(
    ("triple", "zig"),
    [
        ("x86_64-unknown-linux-musl", "x86_64-linux-musl"),
        ("aarch64-unknown-linux-musl", "aarch64-linux-musl"),
        ("armv7-unknown-linux-musleabihf", "arm-linux-musleabihf"),
        ("i686-unknown-linux-musl", "x86-linux-musl"),
        ("riscv64gc-unknown-linux-musl", "riscv64-linux-musl"),
    ],
)
def test_zig_target(triple: str, zig: str) -> None:
    assert zig_target(triple) == zig


def test_a_glibc_target_has_no_sysroot() -> None:
    with pytest.raises(BuildError, match="linux musl targets only") as e:
        zig_target("x86_64-unknown-linux-gnu")
    assert isinstance(e.value, PackbinError) and e.value.hint


def test_volumes_per_library_version_target_and_recipe(cfg: BuildConfig) -> None:
    zlib, openssl = sysroots_for(cfg, TRIPLE, "ab" * 32)
    assert zlib.volume == f"packbin-c-zlib-bookworm-{TRIPLE}-abababababab"
    assert not zlib.pinned and openssl.pinned
    assert openssl.volume == f"packbin-c-openssl-3.0.15-1_deb12u1-{TRIPLE}-abababababab"
    other_target = sysroots_for(cfg, "aarch64-unknown-linux-musl", "ab" * 32)[0]
    other_recipe = sysroots_for(cfg, TRIPLE, "cd" * 32)[0]
    assert len({zlib.volume, other_target.volume, other_recipe.volume}) == 3
    assert sysroot_volumes((zlib, openssl)) == {
        zlib.volume: "/opt/packbin-c/zlib:ro",
        openssl.volume: "/opt/packbin-c/openssl:ro",
    }


def test_environment_points_pkg_config_at_the_sysroots_only(cfg: BuildConfig) -> None:
    env = sysroot_environment(sysroots_for(cfg, TRIPLE, "ab" * 32))
    assert (
        env["PKG_CONFIG_LIBDIR"] == "/opt/packbin-c/zlib/root/lib/pkgconfig:/opt/packbin-c/openssl/root/lib/pkgconfig"
    )
    assert env["PKG_CONFIG_ALLOW_CROSS"] == "1" and env["PKG_CONFIG_ALL_STATIC"] == "1"
    assert env["LIBZ_SYS_STATIC"] == "1"
    assert env["OPENSSL_DIR"] == "/opt/packbin-c/openssl/root" and env["OPENSSL_STATIC"] == "1"
    assert sysroot_environment(()) == {}


def test_a_build_job_mounts_the_sysroots_read_only(cfg: BuildConfig) -> None:
    from types import SimpleNamespace
    from typing import cast

    from packbin.build.job import BuildJob
    from packbin.build.plan import BuildStep
    from packbin.build.recipe import BuilderImage
    from packbin.build.volumes import WARM
    from packbin.workspace import BinaryInputs

    image = BuilderImage(
        tag="packbin/builder:debian-x", image_id="sha256:x", profile="debian", built=False, recipe="ab" * 32
    )
    arch = SimpleNamespace(name="x86_64", rust_target=TRIPLE)
    step = cast(BuildStep, SimpleNamespace(arch=arch, targets=[SimpleNamespace(binary=SimpleNamespace(name="b"))]))
    bi = SimpleNamespace(
        package="b", manifest_rel="Cargo.toml", build_rustflags=(), workspace=SimpleNamespace(packages=())
    )
    job = BuildJob.for_step(
        image, cfg, step, {"b": cast(BinaryInputs, bi)}, source_volume="packbin-src-x", sources_id="i", caches=WARM
    )
    zlib = sysroots_for(cfg, TRIPLE, "ab" * 32)[0]
    assert job.volumes[zlib.volume] == "/opt/packbin-c/zlib:ro"
    assert zlib.volume not in job.cache_volumes  # never created empty by the build itself
    assert job.environment["LIBZ_SYS_STATIC"] == "1"


@pytest.mark.skipif(shutil.which("sh") is None, reason="no sh on PATH")
def test_the_script_is_valid_sh(tmp_path: Path) -> None:
    script = tmp_path / "c_sysroot.sh"
    script.write_bytes(SCRIPT)
    proc = subprocess.run(["sh", "-n", str(script)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert b"set -eu" in SCRIPT


@pytest.mark.skipif(shutil.which("sh") is None, reason="no sh on PATH")
def test_a_finished_sysroot_is_not_touched_again(tmp_path: Path) -> None:
    """The script's first check: a volume with root/VERSION is complete, whatever the mode."""
    (tmp_path / "root").mkdir()
    (tmp_path / "root/VERSION").write_text("1:1.2.13.dfsg-1\n")
    script = tmp_path / "c_sysroot.sh"
    script.write_bytes(SCRIPT)
    for mode in ("fetch", "build"):
        proc = subprocess.run(
            ["sh", str(script), mode, "zlib", "", str(tmp_path)], capture_output=True, text=True, check=False
        )
        assert proc.returncode == 0 and proc.stdout == "::packbin-sysroot present 1:1.2.13.dfsg-1\n", proc
