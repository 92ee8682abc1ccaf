"""smoke-pack-binaries on a real engine: real static binaries run from FROM-scratch images.

Fixtures: a small C program that behaves like the core timer sensor (``--version`` names its
target; ``--count N --interval-ms M`` prints N JSON events), compiled by ``gcc -static``
(x86_64), ``python -m ziglang cc -target aarch64-linux-musl -static`` (arm64) and plain ``gcc``
(dynamic, which must fail in an empty image). Every test removes the images it made and checks
that no smoke container is left behind.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import docker.errors
import pytest

import packbin.compose.smoke
from packbin.arch import Architecture
from packbin.compose.smoke import SMOKE_KIND, SMOKE_REPO, run_smoke
from packbin.config.model import BuildConfig
from packbin.dist.manifest import Artifact, Manifest
from packbin.engine import KIND_LABEL, Engine
from packbin.engine.binfmt import ForeignExec, foreign_exec
from packbin.errors import CheckFailed, UsageError
from tests.support.repo import SMALL_BUILDCFG

pytestmark = pytest.mark.docker

BINARY = "attune-core-timer-sensor"
TARGETS = {"x86_64": "x86_64-unknown-linux-musl", "arm64": "aarch64-unknown-linux-musl"}

CONFIG = 'default_arch = "arm64"\ndeploy_arch = "native"\n' + SMALL_BUILDCFG

SENSOR_C = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
int main(int argc, char **argv) {
    long count = 0, interval = 1000;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--version")) { printf("attune-core-timer-sensor 0.1.0 (%s)\n", TARGET); return 0; }
        if (!strcmp(argv[i], "--count") && i + 1 < argc) count = atol(argv[++i]);
        else if (!strcmp(argv[i], "--interval-ms") && i + 1 < argc) interval = atol(argv[++i]);
    }
    for (long n = 1; count == 0 || n <= count; n++) {
        struct timespec ts = {interval / 1000, (interval % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        printf("{\"trigger\":\"core.intervaltimer\",\"seq\":%ld,\"interval_ms\":%ld}\n", n, interval);
        fflush(stdout);
    }
    return 0;
}
"""


HANG_C = r"""
#include <unistd.h>
int main(void) { for (;;) pause(); }
"""


@pytest.fixture(scope="module")
def compile_sensor(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., bytes]:
    out_dir = tmp_path_factory.mktemp("sensor")
    src = out_dir / "sensor.c"
    src.write_text(SENSOR_C)
    cache: dict[tuple[str, bool, str], bytes] = {}

    def build(arch: str, static: bool = True, source: Path = src) -> bytes:
        if (arch, static, source.name) not in cache:
            out = out_dir / f"{arch}-{static}-{source.stem}"
            define = f'-DTARGET="{TARGETS[arch]}"'
            if arch == "x86_64":
                if shutil.which("gcc") is None:
                    pytest.skip("gcc is not installed")
                cmd = ["gcc", "-O1", define, *(["-static"] if static else []), "-o", str(out), str(source)]
            else:
                cmd = [
                    sys.executable,
                    "-m",
                    "ziglang",
                    "cc",
                    "-target",
                    "aarch64-linux-musl",
                    "-static",
                    "-O1",
                    define,
                    "-o",
                    str(out),
                    str(source),
                ]
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                if "No module named ziglang" in proc.stderr:
                    pytest.skip("the ziglang wheel is not installed (pip install -e '.[test]')")
                raise RuntimeError(f"fixture build failed: {' '.join(cmd)}\n{proc.stderr}")
            cache[(arch, static, source.name)] = out.read_bytes()
        return cache[(arch, static, source.name)]

    return build


@pytest.fixture
def make_repo(tmp_path: Path, engine: Engine) -> Iterator[Callable[[dict[str, bytes]], BuildConfig]]:
    """A repository whose dist/ holds the given binaries; removes their smoke images afterwards."""
    tags: list[str] = []

    def make(binaries: dict[str, bytes]) -> BuildConfig:
        root = tmp_path / "repo"
        (root / "crate").mkdir(parents=True, exist_ok=True)
        (root / "crate" / "Cargo.toml").write_text('[package]\nname = "x"\nversion = "0.1.0"\n')
        (root / "buildcfg.toml").write_text(CONFIG)
        arts = []
        for arch, data in binaries.items():
            rel = f"dist/pack-binaries/{arch}/core/sensors/{BINARY}"
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_bytes(data)
            (root / rel).chmod(0o755)
            sha = hashlib.sha256(data).hexdigest()
            tags.append(f"{SMOKE_REPO}:{arch}-{sha[:12]}")
            arts.append(
                Artifact(
                    arch=arch,
                    target=TARGETS[arch],
                    pack="core",
                    binary=BINARY,
                    path=rel,
                    sha256=sha,
                    size=len(data),
                    static=True,
                    stripped=False,
                    source_hash="",
                    builder_image="",
                )
            )
        Manifest(artifacts=tuple(arts)).save(root / "dist/pack-binaries/manifest.json")
        return BuildConfig.load(root / "buildcfg.toml", env={})

    try:
        yield make
    finally:
        leftovers = engine.client.containers.list(all=True, filters={"label": f"{KIND_LABEL}={SMOKE_KIND}"})
        for tag in tags:
            try:
                engine.client.images.remove(tag, force=True)
            except docker.errors.ImageNotFound:
                pass
        assert not leftovers, f"smoke containers left behind: {[c.name for c in leftovers]}"


def _native(engine: Engine) -> str:
    platform = engine.native_platform
    if platform != "linux/amd64":
        pytest.skip(f"these fixtures assume an x86_64 engine, this one is {platform}")
    return "x86_64"


def test_static_x86_64_runs_from_scratch(
    engine: Engine, make_repo: Callable[..., BuildConfig], compile_sensor: Callable[..., bytes]
) -> None:
    _native(engine)
    cfg = make_repo({"x86_64": compile_sensor("x86_64")})
    out = io.StringIO()
    # Default: the deploy architecture, which is the engine's native one (not default_arch).
    report = run_smoke(cfg, arch=None, out=out)
    text = out.getvalue()
    assert report.ok and not report.skipped
    assert [r.args for r in report.runs] == [("--version",), ("--count", "2", "--interval-ms", "100")]
    version, bounded = report.runs
    assert version.output == ("attune-core-timer-sensor 0.1.0 (x86_64-unknown-linux-musl)",)
    assert len(bounded.output) == 2 and '"seq":2' in bounded.output[1]
    # The output names what ran where and what it printed.
    assert f"image {version.image} (built), platform linux/amd64 (native)" in text
    assert "$ attune-core-timer-sensor --version" in text
    assert "| attune-core-timer-sensor 0.1.0 (x86_64-unknown-linux-musl)" in text
    assert "2 run(s) passed, 0 failed, 0 skipped" in text
    # The image really is FROM scratch: one layer, the binary and nothing else.
    image = engine.client.images.get(version.image)
    assert len(image.attrs["RootFS"]["Layers"]) == 1
    assert image.labels["io.packbin.kind"] == "smoke"
    # A second run reuses the image.
    out2 = io.StringIO()
    run_smoke(cfg, arch="x86_64", out=out2)
    assert "(reused)" in out2.getvalue()


def test_arm64_runs_under_binfmt_or_is_skipped(
    engine: Engine, make_repo: Callable[..., BuildConfig], compile_sensor: Callable[..., bytes]
) -> None:
    native = _native(engine)
    cfg = make_repo({"x86_64": compile_sensor("x86_64"), "arm64": compile_sensor("arm64")})
    can = foreign_exec(cfg.arch("arm64"), native=native, local_engine=engine.endpoint.host.startswith("unix://"))
    out = io.StringIO()
    report = run_smoke(cfg, arch="all", out=out)
    text = out.getvalue()
    print(text)
    arm = [r for r in report.runs if r.arch == "arm64"]
    if can.runnable:
        assert [r.ok for r in arm] == [True, True]
        assert arm[0].output == ("attune-core-timer-sensor 0.1.0 (aarch64-unknown-linux-musl)",)
        assert arm[0].platform == "linux/arm64"
        assert engine.client.images.get(arm[0].image).attrs["Architecture"] == "arm64"
        assert f"platform linux/arm64 ({can.reason})" in text
        assert "4 run(s) passed" in text
    else:
        assert not arm
        assert [s.arch for s in report.skipped] == ["arm64"]
        assert report.skipped[0].reason == can.reason
        assert f"the engine cannot execute arm64 binaries: {can.reason}" in text


def test_foreign_arch_without_binfmt_is_skipped(
    engine: Engine,
    make_repo: Callable[..., BuildConfig],
    compile_sensor: Callable[..., bytes],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _native(engine)
    cfg = make_repo({"x86_64": compile_sensor("x86_64"), "arm64": compile_sensor("arm64")})

    def no_binfmt(arch: Architecture, *, native: str, local_engine: bool) -> ForeignExec:
        name = arch.name
        if name == native:
            return ForeignExec(arch=name, runnable=True, reason="native")
        return ForeignExec(
            arch=name,
            runnable=False,
            reason="no binfmt handler qemu-aarch64 registered",
            hint="apt-get install qemu-user-static",
        )

    monkeypatch.setattr(packbin.compose.smoke, "foreign_exec", no_binfmt)
    out = io.StringIO()
    report = run_smoke(cfg, arch="all", out=out)  # skipped is not failure: no exception
    assert report.ok
    assert [(s.arch, s.reason) for s in report.skipped] == [("arm64", "no binfmt handler qemu-aarch64 registered")]
    assert {r.arch for r in report.runs} == {"x86_64"}
    text = out.getvalue()
    assert (
        "[arm64] skipped attune-core-timer-sensor: the engine cannot execute arm64 binaries: no binfmt handler" in text
    )
    assert "hint: apt-get install qemu-user-static" in text
    assert "2 run(s) passed, 0 failed, 1 skipped" in text


def test_dynamic_binary_fails_with_a_clear_message(
    engine: Engine, make_repo: Callable[..., BuildConfig], compile_sensor: Callable[..., bytes]
) -> None:
    _native(engine)
    cfg = make_repo({"x86_64": compile_sensor("x86_64", static=False)})
    out = io.StringIO()
    with pytest.raises(CheckFailed) as info:
        run_smoke(cfg, arch="x86_64", out=out)
    message = str(info.value)
    text = out.getvalue()
    print(text)
    assert "x86_64/attune-core-timer-sensor --version: could not start" in message
    assert "dynamic loader" in message
    # Only the first case runs: a binary that cannot start is not tried again.
    assert text.count("$ attune-core-timer-sensor") == 1
    # The verifier's verdict follows the failure, naming the real cause.
    assert "verifier:" in text and "dynamic" in text.split("verifier:")[1].lower()
    assert "0 run(s) passed, 1 failed" in text


def test_a_hanging_binary_is_killed(
    engine: Engine,
    make_repo: Callable[..., BuildConfig],
    compile_sensor: Callable[..., bytes],
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _native(engine)
    src = tmp_path_factory.mktemp("hang") / "hang.c"
    src.write_text(HANG_C)
    cfg = make_repo({"x86_64": compile_sensor("x86_64", source=src)})
    monkeypatch.setattr(packbin.compose.smoke, "RUN_TIMEOUT_S", 2.0)
    out = io.StringIO()
    with pytest.raises(CheckFailed, match=r"--version: did not exit within 2 s \(killed\)"):
        run_smoke(cfg, arch="x86_64", out=out)
    assert (
        "verifier: attune-core-timer-sensor is a static x86_64 executable; the failure is its own behaviour"
        in out.getvalue()
    )


def test_nothing_built_for_the_selection(
    engine: Engine, make_repo: Callable[..., BuildConfig], compile_sensor: Callable[..., bytes]
) -> None:
    cfg = make_repo({"x86_64": compile_sensor("x86_64")})
    with pytest.raises(UsageError, match="lists no built binary for arm64"):
        run_smoke(cfg, arch="arm64", out=io.StringIO())


def test_nothing_built_yet(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    (root / "crate").mkdir(parents=True)
    (root / "crate" / "Cargo.toml").write_text('[package]\nname = "x"\nversion = "0.1.0"\n')
    (root / "buildcfg.toml").write_text(CONFIG)
    cfg = BuildConfig.load(root / "buildcfg.toml", env={})
    with pytest.raises(UsageError, match="nothing has been built yet"):
        run_smoke(cfg, arch=None, out=io.StringIO())
