"""build-pack-binaries for real: a real engine, the real builder image, real cargo zigbuild builds.

The first build of both architectures is shared by the module (a few minutes cold); the other
tests work on copies of that tree so they only pay for incremental builds.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import docker
import pytest

from tests.support import sensor_checks
from tests.support.repo import clone_built, copy_repo, interrupt_at, packbin

pytestmark = [pytest.mark.docker, pytest.mark.slow]

SENSOR = "attune-core-timer-sensor"
MAIN_RS = "packs/core/sensors/timer-sensor/src/main.rs"
PACK_BIN = f"packs/core/sensors/{SENSOR}"


def _readelf(*args: str) -> str:
    return subprocess.run(["readelf", *args], capture_output=True, text=True, check=True).stdout


def _sha(p: Path) -> str:
    import hashlib

    return hashlib.sha256(p.read_bytes()).hexdigest()


def _owned_containers() -> list[Any]:
    return docker.from_env().containers.list(
        all=True, filters={"label": ["io.packbin.owner=packbin", "io.packbin.kind=build"]}
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, builder_image: object) -> tuple[Path, dict[str, Any]]:
    repo = copy_repo(tmp_path_factory.mktemp("built") / "repo")
    res = packbin("build-pack-binaries", "--arch=all", "--json", "--deploy-arch=x86_64", cwd=repo)
    assert res.returncode == 0, res.stderr[-4000:]
    return repo, json.loads(res.stdout)


def test_all_builds_both_static_binaries(built: tuple[Path, dict[str, Any]]) -> None:
    repo, report = built
    manifest = json.loads((repo / "dist/pack-binaries/manifest.json").read_text())
    arts = {a["arch"]: a for a in manifest["artifacts"]}
    assert set(arts) == {"x86_64", "arm64"}
    assert {a["arch"] for a in report["built"]} == {"x86_64", "arm64"}
    expect = {"x86_64": ("X86-64", "x86_64-unknown-linux-musl"), "arm64": ("AArch64", "aarch64-unknown-linux-musl")}
    for arch, (machine, triple) in expect.items():
        a = arts[arch]
        path = repo / a["path"]
        assert a["path"] == f"dist/pack-binaries/{arch}/core/sensors/{SENSOR}"
        assert a["target"] == triple and a["static"] is True
        assert a["sha256"] == _sha(path) and a["size"] == path.stat().st_size
        assert a["toolchain"]["rustc"] and a["toolchain"]["zig"] and a["toolchain"]["cargo_zigbuild"]
        # binutils agrees with packbin's verifier: no interpreter, no dynamic section, right machine.
        header = _readelf("-h", str(path))
        assert machine in header and "EXEC" in header
        assert "INTERP" not in _readelf("-l", "--wide", str(path))
        assert "no dynamic section" in _readelf("-d", str(path))
        assert (".symtab" in _readelf("-S", "--wide", str(path))) is (not a["stripped"])
    # The deploy architecture's binary is installed into the pack tree itself.
    assert _sha(repo / PACK_BIN) == arts["x86_64"]["sha256"]


def test_verify_static_accepts_built_tree(built: tuple[Path, dict[str, Any]]) -> None:
    repo, _ = built
    res = packbin("verify-static", "--json", "--arch=arm64", "dist/pack-binaries/arm64", cwd=repo)
    assert res.returncode == 0, res.stdout + res.stderr
    results = json.loads(res.stdout)["results"]
    assert len(results) == 1 and results[0]["arch"] == "arm64" and results[0]["static"] is True
    wrong = packbin("verify-static", "--arch=arm64", "dist/pack-binaries/x86_64", cwd=repo)
    assert wrong.returncode == 1 and "wrong architecture" in wrong.stdout


def test_x86_64_binary_behaves(built: tuple[Path, dict[str, Any]]) -> None:
    repo, _ = built
    sensor_checks.run_all_checks(
        repo / f"dist/pack-binaries/x86_64/core/sensors/{SENSOR}", expected_target="x86_64-unknown-linux-musl"
    )


def test_arm64_binary_runs_under_qemu(built: tuple[Path, dict[str, Any]]) -> None:
    repo, _ = built
    qemu = shutil.which("qemu-aarch64-static")
    if qemu is None:
        pytest.skip("qemu-aarch64-static is not installed (apt-get install qemu-user-static)")
    sensor_checks.run_all_checks(
        repo / f"dist/pack-binaries/arm64/core/sensors/{SENSOR}",
        expected_target="aarch64-unknown-linux-musl",
        runner=[qemu],
    )


def test_x86_64_binary_runs_in_empty_scratch_container(built: tuple[Path, dict[str, Any]], engine: Any) -> None:
    from packbin.util.tarwriter import tar_bytes

    repo, _ = built
    data = (repo / f"dist/pack-binaries/x86_64/core/sensors/{SENSOR}").read_bytes()
    ctx = tar_bytes({"Dockerfile": b"FROM scratch\nCOPY sensor /sensor\n", "sensor": (data, 0o755)})
    tag = "packbin-test/scratch-sensor:x86_64"
    image_id, _ = engine.build_image(
        context=ctx, tag=tag, labels={"io.packbin.owner": "packbin-test"}, platform="linux/amd64"
    )
    try:
        out = engine.client.containers.run(
            tag, ["/sensor", "--count", "2", "--interval-ms", "20"], remove=True, platform="linux/amd64"
        )
        lines = out.decode().splitlines()
        assert [json.loads(ln)["seq"] for ln in lines] == [1, 2]
    finally:
        engine.client.images.remove(image_id, force=True)


def _container_creates(since: float, until: float) -> list[Any]:
    client = docker.from_env()
    events = client.events(
        since=int(since),
        until=int(until) + 1,
        decode=True,
        filters={"type": "container", "event": "create", "label": "io.packbin.owner=packbin"},
    )
    return list(events)


def test_unchanged_rerun_starts_no_container(built: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    repo = clone_built(built[0], tmp_path)
    t0 = time.time() - 1
    res = packbin("build-pack-binaries", "--arch=all", "--json", "--deploy-arch=x86_64", cwd=repo)
    t1 = time.time()
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout)
    assert report["built"] == [] and {a["arch"] for a in report["up_to_date"]} == {"x86_64", "arm64"}
    assert _container_creates(t0, t1) == []


def test_missing_pack_copy_is_reinstalled_without_a_build(built: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    repo = clone_built(built[0], tmp_path)
    (repo / PACK_BIN).unlink()
    res = packbin("build-pack-binaries", "--arch=x86_64", "--deploy-arch=x86_64", cwd=repo)
    assert res.returncode == 0, res.stderr
    assert "reinstalled" in res.stdout
    assert _sha(repo / PACK_BIN) == _sha(repo / f"dist/pack-binaries/x86_64/core/sensors/{SENSOR}")


def test_touched_source_rebuilds_incrementally(built: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    repo = clone_built(built[0], tmp_path)
    main = repo / MAIN_RS
    old = 'const DEFAULT_TRIGGER: &str = "core.intervaltimer";'
    assert old in main.read_text()
    main.write_text(main.read_text().replace(old, old.replace("intervaltimer", "intervaltimer2")))
    res = packbin("build-pack-binaries", "--arch=x86_64", "--deploy-arch=x86_64", cwd=repo)
    assert res.returncode == 0, res.stderr + res.stdout
    assert f"Compiling {SENSOR}" in res.stdout
    # The std library and its dependencies come from the cache volume, not rebuilt.
    assert "Compiling std " not in res.stdout and "Compiling core " not in res.stdout
    out = subprocess.run(
        [str(repo / PACK_BIN), "--count", "1", "--interval-ms", "1"], capture_output=True, text=True, check=True
    ).stdout
    assert json.loads(out)["trigger"] == "core.intervaltimer2"


def test_two_builds_at_once(built: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    repos = [clone_built(built[0], tmp_path / str(i)) for i in range(2)]
    for i, repo in enumerate(repos):
        main = repo / MAIN_RS
        main.write_text(main.read_text() + f"\n// concurrent build {i}\n")
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "packbin", "build-pack-binaries", "--arch=all", "--deploy-arch=x86_64"],
            cwd=r,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for r in repos
    ]
    outs = [p.communicate(timeout=900)[0] for p in procs]
    for p, out in zip(procs, outs):
        assert p.returncode == 0, out[-3000:]
    for r in repos:
        res = packbin("verify-static", "--arch=x86_64", "dist/pack-binaries/x86_64", cwd=r)
        assert res.returncode == 0, res.stdout
        res = packbin("verify-static", "--arch=arm64", "dist/pack-binaries/arm64", cwd=r)
        assert res.returncode == 0, res.stdout


@pytest.mark.parametrize(
    ("sig", "code", "words"),
    [
        (signal.SIGINT, 130, "interrupted"),
        (signal.SIGTERM, 143, "interrupted"),
        (signal.SIGHUP, 129, "interrupted"),
    ],
)
def test_ctrl_c_removes_containers_and_keeps_packs(
    built: tuple[Path, dict[str, Any]],
    tmp_path: Path,
    sig: int,
    code: int,
    words: str,
) -> None:
    """Ctrl-C, and SIGTERM / SIGHUP (CI cancellation, `timeout`, a closed terminal) alike."""
    repo = clone_built(built[0], tmp_path)
    before = _sha(repo / PACK_BIN)
    dist_before = _sha(repo / f"dist/pack-binaries/x86_64/core/sensors/{SENSOR}")
    main = repo / MAIN_RS
    main.write_text(main.read_text() + "\n// interrupted build\n")
    status, out = interrupt_at(
        "build-pack-binaries", "--arch=all", "--deploy-arch=x86_64", line=f"Compiling {SENSOR}", sig=sig, cwd=repo
    )
    assert status == code, out
    assert words in out and "Traceback" not in out
    assert _owned_containers() == []
    assert _sha(repo / PACK_BIN) == before
    assert _sha(repo / f"dist/pack-binaries/x86_64/core/sensors/{SENSOR}") == dist_before
    assert not list((repo / "dist").glob(".staging-*"))
    assert not list((repo / "packs/core/sensors").glob(".*packbin-tmp"))


def test_unreachable_engine_is_one_clear_line(repo_copy: Path) -> None:
    res = packbin(
        "build-pack-binaries", "--force", cwd=repo_copy, env={"DOCKER_HOST": "unix:///nonexistent/docker.sock"}
    )
    assert res.returncode == 3
    assert "cannot reach the Docker engine at unix:///nonexistent/docker.sock (from DOCKER_HOST)" in res.stderr
    assert "Traceback" not in res.stderr


def test_compile_error_is_shown_and_nothing_installed(built: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    repo = clone_built(built[0], tmp_path)
    before = _sha(repo / PACK_BIN)
    manifest_before = (repo / "dist/pack-binaries/manifest.json").read_text()
    main = repo / MAIN_RS
    main.write_text(main.read_text() + "\nfn broken( { this is not rust }\n")
    res = packbin("build-pack-binaries", "--arch=x86_64", "--deploy-arch=x86_64", cwd=repo)
    assert res.returncode == 4, res.stdout + res.stderr
    assert "error" in res.stderr and "build for x86_64" in res.stderr and "nothing was installed" in res.stderr
    assert "Traceback" not in res.stderr
    assert _sha(repo / PACK_BIN) == before
    assert (repo / "dist/pack-binaries/manifest.json").read_text() == manifest_before


def test_a_glibc_target_is_refused_before_any_build(built: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    repo = clone_built(built[0], tmp_path)
    before = _sha(repo / PACK_BIN)
    manifest_before = (repo / "dist/pack-binaries/manifest.json").read_text()
    # The original mistake: a glibc target, which cargo zigbuild links dynamically without a word
    # (interpreter /lib64/ld-linux-x86-64.so.2). The architecture presets now refuse the triple
    # when the config is read, before any container; the verifier's own verdict on such a file
    # is covered by tests/unit (test_verify, test_policy) with gcc-built dynamic executables.
    cfg = repo / "buildcfg.toml"
    cfg.write_text(
        cfg.read_text().replace('rust_target = "x86_64-unknown-linux-musl"', 'rust_target = "x86_64-unknown-linux-gnu"')
    )
    res = packbin("build-pack-binaries", "--arch=x86_64", "--deploy-arch=x86_64", cwd=repo)
    assert res.returncode == 2, res.stdout + res.stderr
    assert "'x86_64-unknown-linux-gnu' links glibc dynamically: not static" in res.stderr
    assert "use 'x86_64-unknown-linux-musl'" in res.stderr and "building" not in res.stdout
    assert "Traceback" not in res.stderr
    assert _sha(repo / PACK_BIN) == before
    assert (repo / "dist/pack-binaries/manifest.json").read_text() == manifest_before


def test_needs_no_docker_executable(built: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    repo = clone_built(built[0], tmp_path)
    main = repo / MAIN_RS
    main.write_text(main.read_text() + "\n// built with an empty PATH\n")
    empty = tmp_path / "empty-path"
    empty.mkdir()
    # Only the Engine API: no docker (or any other) executable can be found.
    res = packbin("build-pack-binaries", "--arch=x86_64", "--deploy-arch=x86_64", cwd=repo, env={"PATH": str(empty)})
    assert res.returncode == 0, res.stdout + res.stderr
    assert "built 1" in res.stdout


def test_jobs_1_builds_one_architecture_after_the_other(built: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    repo = clone_built(built[0], tmp_path)
    main = repo / MAIN_RS
    main.write_text(main.read_text() + "\n// sequential build\n")
    res = packbin("build-pack-binaries", "--arch=all", "--jobs=1", "--deploy-arch=x86_64", cwd=repo)
    assert res.returncode == 0, res.stdout + res.stderr
    lines = res.stdout.splitlines()
    first_done = next(i for i, ln in enumerate(lines) if "] done in" in ln)
    second_start = max(i for i, ln in enumerate(lines) if "] building attune-core-timer-sensor for" in ln)
    assert first_done < second_start, res.stdout
    assert "built 2" in res.stdout


def test_a_crates_build_rustflags_reach_rustc(built: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    """cargo ignores a crate's [build] rustflags beside the builder's [target.<triple>] rustflags
    (the std's --sysroot); packbin hands them to cargo as target rustflags of that bin."""
    repo = clone_built(built[0], tmp_path)
    config = repo / "packs/core/sensors/timer-sensor/.cargo/config.toml"
    config.parent.mkdir(exist_ok=True)
    config.write_text('[build]\nrustflags = ["--cfg", "packbin_probe"]\n')
    main = repo / MAIN_RS
    probe = '\n#[cfg(not(packbin_probe))]\ncompile_error!("the crate\'s [build] rustflags did not reach rustc");\n'
    main.write_text(main.read_text() + probe)
    res = packbin("build-pack-binaries", "--arch=x86_64", "--deploy-arch=x86_64", cwd=repo)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-2000:]
    assert "built 1" in res.stdout
