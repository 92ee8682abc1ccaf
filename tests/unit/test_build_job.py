"""packbin.build.job: what one build container gets (volumes, environment, command, payload),
made without an engine."""

from __future__ import annotations

import io
import tarfile
from types import SimpleNamespace
from typing import Any, cast

from packbin.build.job import build_command, build_payload, build_volumes
from packbin.build.plan import BuildStep
from packbin.build.recipe import BUILD_SCRIPT, ZIG_CACHE_SCRIPT
from packbin.build.volumes import WARM, CacheSet
from packbin.workspace import BinaryInputs

TRIPLE = "x86_64-unknown-linux-musl"
X86 = SimpleNamespace(name="x86_64", rust_target=TRIPLE)


def step(*names: str) -> BuildStep:
    targets = [SimpleNamespace(binary=SimpleNamespace(name=n)) for n in names]
    return cast(BuildStep, SimpleNamespace(arch=X86, targets=targets))


def inputs(flags: dict[str, tuple[str, ...]]) -> dict[str, BinaryInputs]:
    return {
        name: cast(
            BinaryInputs,
            SimpleNamespace(package=f"pkg-{name}", manifest_rel=f"crates/{name}/Cargo.toml", build_rustflags=f),
        )
        for name, f in flags.items()
    }


def members(tar: bytes) -> dict[str, tuple[bytes, int]]:
    with tarfile.open(fileobj=io.BytesIO(tar)) as tf:
        out: dict[str, tuple[bytes, int]] = {}
        for m in tf.getmembers():
            f = tf.extractfile(m)
            out[m.name] = (f.read() if f else b"", m.mode)
        return out


def test_the_volumes_of_a_warm_build_and_of_a_reproducibility_check() -> None:
    warm = build_volumes(WARM, TRIPLE, profile="debian", source_volume="packbin-src-abc")
    assert warm == {
        "packbin-cargo-home": "/cargo-home",
        f"packbin-target-{TRIPLE}": "/build/target",
        f"packbin-zigcache-{TRIPLE}": "/cache",
        "packbin-src-abc": "/build/src:ro",
        f"packbin-std-{TRIPLE}": "/sysroot",
    }
    fresh = build_volumes(CacheSet.fresh("t1"), TRIPLE, profile="rustup", source_volume="packbin-src-abc")
    # rustup ships the musl std: no sysroot volume; the inputs (cargo home, sources) are shared.
    assert fresh == {
        "packbin-cargo-home": "/cargo-home",
        f"packbin-repro-t1-target-{TRIPLE}": "/build/target",
        f"packbin-repro-t1-zigcache-{TRIPLE}": "/cache",
        "packbin-src-abc": "/build/src:ro",
    }


def test_the_payload_carries_the_scripts_the_cargo_config_and_each_bins_own_flags() -> None:
    got = members(build_payload(step("a", "b"), inputs({"a": ("-C", "opt-level=s"), "b": ()}), profile="debian"))
    assert got["packbin-build.sh"] == (BUILD_SCRIPT.encode(), 0o755)
    assert got["packbin-zig-cache.py"] == (ZIG_CACHE_SCRIPT, 0o644)
    assert b"--sysroot" in got[".cargo/config.toml"][0]
    assert got["packbin-flags/a.toml"][0] == f'[target.{TRIPLE}]\nrustflags = ["-C", "opt-level=s"]\n'.encode()
    assert "packbin-flags/b.toml" not in got


def test_without_profile_rustflags_a_crates_own_flags_need_no_file() -> None:
    got: dict[str, Any] = members(build_payload(step("a"), inputs({"a": ("-C", "opt-level=s")}), profile="rustup"))
    assert not [n for n in got if n.startswith("packbin-flags/")]


def test_the_command_names_each_bin_its_package_and_manifest() -> None:
    cfg = cast(Any, SimpleNamespace(builder=SimpleNamespace(strip=True)))
    assert build_command(cfg, step("a"), inputs({"a": ()})) == [
        "/bin/sh",
        "/build/packbin-build.sh",
        TRIPLE,
        "1",
        "a:pkg-a:/build/src/crates/a/Cargo.toml",
    ]
