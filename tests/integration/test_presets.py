"""The presets beyond x86_64 and arm64, proven for real: a repository whose buildcfg.toml has no
[architectures] table builds the timer sensor for armv7, riscv64, i686, ppc64le and s390x
(real engine, real builder, cargo zigbuild with the musl std built from Debian's rust-web-src),
packbin's verifier and binutils agree on what came out, and each binary runs: under its
qemu-user-static, or natively for i686.

The module builds each preset once (module-scoped fixture); the std sysroot volume
``packbin-std-<triple>`` is per engine and reused, so only the first run on an engine pays for
std (minutes per preset on two cores). The times are printed for docs/architectures.md.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import docker
import pytest

from packbin.arch import Architecture
from packbin.config.presets import PRESETS, QEMU_USER, preset_named
from tests.support import sensor_checks
from tests.support.repo import clone_built, copy_repo, packbin, without_architecture_tables

pytestmark = [pytest.mark.docker, pytest.mark.slow]

SENSOR = "attune-core-timer-sensor"
MAIN_RS = "packs/core/sensors/timer-sensor/src/main.rs"
NEW = ("armv7", "riscv64", "i686", "ppc64le", "s390x")
#: readelf -h "Machine:" for each preset.
READELF_MACHINE = {
    "armv7": "ARM",
    "riscv64": "RISC-V",
    "i686": "Intel 80386",
    "ppc64le": "PowerPC64",
    "s390x": "IBM S/390",
}
#: readelf -h "Flags:" words that name the ABI the preset's e_flags rules require.
READELF_FLAGS = {
    "armv7": ("Version5 EABI", "hard-float ABI"),
    "riscv64": ("double-float ABI",),
    "ppc64le": ("abiv2",),
}


def _preset(name: str) -> Architecture:
    arch = preset_named(name)
    assert arch is not None
    return arch


def _readelf(*args: str) -> str:
    env = {**os.environ, "LC_ALL": "C"}
    return subprocess.run(["readelf", *args], capture_output=True, text=True, check=True, env=env).stdout


def _runner(name: str) -> list[str] | None:
    qemu = QEMU_USER[name]
    if qemu is None:
        return None
    path = shutil.which(qemu)
    if path is None:
        pytest.fail(f"{qemu} is not installed (apt-get install qemu-user-static; .ci/run installs it)")
    return [path]


def _say(line: str) -> None:
    print(line, file=sys.__stderr__, flush=True)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, builder_image: object) -> tuple[Path, dict[str, float]]:
    """One repository with no [architectures] table, each new preset built into it, one at a time."""
    repo = copy_repo(tmp_path_factory.mktemp("presets") / "repo")
    text = without_architecture_tables((repo / "buildcfg.toml").read_text())
    assert "[architectures" not in text
    (repo / "buildcfg.toml").write_text(text)
    seconds: dict[str, float] = {}
    for name in NEW:
        start = time.monotonic()
        res = packbin("build-pack-binaries", f"--arch={name}", "--deploy-arch=x86_64", cwd=repo, timeout=3600)
        seconds[name] = time.monotonic() - start
        assert res.returncode == 0, f"{name}:\n{res.stderr[-4000:]}"
        _say(f"presets: {name} built in {seconds[name]:.1f} s")
    return repo, seconds


def _artifacts(repo: Path) -> dict[str, dict[str, Any]]:
    manifest = json.loads((repo / "dist/pack-binaries/manifest.json").read_text())
    return {a["arch"]: a for a in manifest["artifacts"]}


@pytest.mark.parametrize("name", NEW)
def test_preset_builds_a_static_binary_of_its_machine(built: tuple[Path, dict[str, float]], name: str) -> None:
    repo, _ = built
    arch = _preset(name)
    art = _artifacts(repo)[name]
    path = repo / art["path"]
    assert art["path"] == f"dist/pack-binaries/{name}/core/sensors/{SENSOR}"
    assert art["target"] == arch.rust_target and art["static"] is True
    # binutils agrees: the machine, class and byte order of the preset, no interpreter, no
    # dynamic section, and the ABI its e_flags rules ask for.
    header = _readelf("-h", str(path))
    assert f"Machine:                           {READELF_MACHINE[name]}\n" in header
    assert f"ELF{arch.elf_class}" in header
    assert ("big endian" if arch.byte_order == "big" else "little endian") in header
    for word in READELF_FLAGS.get(name, ()):
        assert word in header, header
    assert "INTERP" not in _readelf("-l", "--wide", str(path))
    # A static executable (EXEC, no dynamic section), or a static-pie (DYN with no interpreter,
    # whose dynamic section only serves its own relocation: no NEEDED library). rustc makes
    # riscv64 and s390x musl binaries static-pie.
    dynamic = _readelf("-d", str(path))
    if "Type:                              DYN" in header:
        assert "(NEEDED)" not in dynamic, dynamic
    else:
        assert "Type:                              EXEC" in header, header
        assert "no dynamic section" in dynamic


@pytest.mark.parametrize("name", NEW)
def test_verify_static_accepts_it_for_its_preset_only(built: tuple[Path, dict[str, float]], name: str) -> None:
    repo, _ = built
    path = repo / _artifacts(repo)[name]["path"]
    ok = packbin("verify-static", str(path), f"--arch={name}", cwd=repo)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    other = next(a.name for a in PRESETS if a.name != name and a.elf_machine != _preset(name).elf_machine)
    bad = packbin("verify-static", str(path), f"--arch={other}", cwd=repo)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "wrong architecture" in bad.stdout + bad.stderr


@pytest.mark.parametrize("name", NEW)
def test_it_runs_version_and_bounded_mode(built: tuple[Path, dict[str, float]], name: str) -> None:
    repo, _ = built
    path = repo / _artifacts(repo)[name]["path"]
    runner = _runner(name)
    sensor_checks.check_version(path, expected_target=_preset(name).rust_target, runner=runner)
    sensor_checks.check_bounded(path, runner=runner)


@pytest.mark.parametrize("name", NEW)
def test_smoke_runs_it_from_an_image_of_its_platform(built: tuple[Path, dict[str, float]], name: str) -> None:
    """smoke-pack-binaries: a FROM-scratch image of the preset's Docker platform (binfmt + qemu for
    the foreign ones, registered by .ci/run)."""
    repo, _ = built
    qemu = QEMU_USER[name]
    if qemu is not None and not Path("/proc/sys/fs/binfmt_misc", qemu.removesuffix("-static")).exists():
        pytest.skip(f"binfmt_misc has no {qemu.removesuffix('-static')} entry (.ci/run registers it)")
    sha = _artifacts(repo)[name]["sha256"]
    try:
        res = packbin("smoke-pack-binaries", f"--arch={name}", cwd=repo)
        assert res.returncode == 0, res.stdout + res.stderr
        assert f"platform {_preset(name).docker_platform}" in res.stdout
        assert "run(s) passed, 0 failed, 0 skipped" in res.stdout, res.stdout
    finally:
        # The image smoke made for this binary (packbin/smoke:<arch>-<sha256 prefix>).
        for image in docker.from_env().images.list(name="packbin/smoke"):
            if any(tag.startswith(f"packbin/smoke:{name}-{sha[:12]}") for tag in image.tags):
                docker.from_env().images.remove(image.id, force=True)


def test_a_second_run_is_a_warm_no_op(built: tuple[Path, dict[str, float]]) -> None:
    repo, seconds = built
    start = time.monotonic()
    res = packbin("build-pack-binaries", "--arch=armv7,riscv64", "--deploy-arch=x86_64", "--json", cwd=repo)
    took = time.monotonic() - start
    assert res.returncode == 0, res.stderr[-4000:]
    report = json.loads(res.stdout)
    assert report["built"] == []
    assert {a["arch"] for a in report["up_to_date"]} == {"armv7", "riscv64"}
    _say("presets: cold " + ", ".join(f"{n} {s:.1f} s" for n, s in seconds.items()) + f"; warm no-op {took:.1f} s")


def test_two_presets_in_one_run(built: tuple[Path, dict[str, float]], tmp_path: Path) -> None:
    repo = clone_built(built[0], tmp_path)
    main = repo / MAIN_RS
    main.write_text(main.read_text() + "\n// rebuilt by test_two_presets_in_one_run\n")
    start = time.monotonic()
    res = packbin("build-pack-binaries", "--arch=armv7,riscv64", "--deploy-arch=x86_64", "--json", cwd=repo)
    assert res.returncode == 0, res.stderr[-4000:]
    report = json.loads(res.stdout)
    assert sorted(a["arch"] for a in report["built"]) == ["armv7", "riscv64"]
    _say(f"presets: armv7,riscv64 rebuilt in one run in {time.monotonic() - start:.1f} s")
    for name in ("armv7", "riscv64"):
        path = repo / _artifacts(repo)[name]["path"]
        sensor_checks.check_version(path, expected_target=_preset(name).rust_target, runner=_runner(name))
