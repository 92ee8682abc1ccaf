"""The two sides bench_build.py measures, on the timer sensor crate.

- :class:`Packbin`: the real ``packbin build-pack-binaries`` command line (the console script
  next to this interpreter, or ``invoke`` with the repository's tasks.py) in a throwaway copy of
  the repository; cold builds after removing the target's cache volumes (:func:`cold_build`),
  and packbin's fixed costs measured in-process (:func:`overhead_breakdown`).
- :class:`Native`: ``cargo zigbuild`` of the same crate on the host with the host toolchain
  (host_toolchain.py), laid out like the builder's /build.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from _common import REPO, BenchError, build_lock_path, build_volumes, loadavg, median, say, timed
from host_toolchain import HOST_CARGO, HOST_RUSTC, HostToolchain

CRATE_REL = "packs/core/sensors/timer-sensor"
MAIN_RS_REL = f"{CRATE_REL}/src/main.rs"
BIN = "attune-core-timer-sensor"

DONE_RE = re.compile(r"^\[(\S+)\s*\] done in ([0-9.]+)s$", re.MULTILINE)
_CARGO_FINISHED_RE = re.compile(r"Finished .* in ([0-9.]+)(m?s)\b")
LOCK_WAIT = "waiting for another packbin run"


def cargo_finished_seconds(text: str) -> float | None:
    """The last cargo "Finished ... in 1.23s" (or "in 1m 05s" style is not produced for short builds)."""
    found = _CARGO_FINISHED_RE.findall(text)
    if not found:
        return None
    value, unit = found[-1]
    return float(value) / 1000 if unit == "ms" else float(value)


def copy_repo(dest: Path) -> Path:
    """buildcfg.toml, tasks.py and packs/ (without build outputs or the installed binary)."""
    dest.mkdir(parents=True)
    shutil.copy2(REPO / "buildcfg.toml", dest / "buildcfg.toml")
    shutil.copy2(REPO / "tasks.py", dest / "tasks.py")
    shutil.copytree(REPO / "packs", dest / "packs", symlinks=True, ignore=shutil.ignore_patterns("target", BIN))
    return dest


# -- packbin side ----------------------------------------------------------------------------


@dataclass
class Packbin:
    """Runs the real packbin command line in the repository copy."""

    root: Path
    env: dict[str, str] = field(init=False)
    exe: list[str] = field(init=False)
    invoke: list[str] = field(init=False)

    def __post_init__(self) -> None:
        drop = (
            "PACKBIN_CONFIG",
            "RUST_TARGET",
            "PACK_BINARIES_RUST_TARGET",
            "GITHUB_STEP_SUMMARY",
            "PACKBIN_KEEP_CONTAINERS",
        )
        self.env = {k: v for k, v in os.environ.items() if k not in drop}
        bindir = Path(sys.executable).parent
        script = bindir / "packbin"
        self.exe = [str(script)] if script.is_file() else [sys.executable, "-m", "packbin"]
        inv = bindir / "invoke"
        self.invoke = [str(inv)] if inv.is_file() else [sys.executable, "-m", "invoke"]

    def run(self, *args: str, via_invoke: bool = False) -> tuple[float, subprocess.CompletedProcess[str]]:
        cmd = [*(self.invoke if via_invoke else self.exe), "build-pack-binaries", *args]
        return timed(cmd, cwd=self.root, env=self.env)

    def run_api(self, **request: object) -> tuple[float, subprocess.CompletedProcess[str]]:
        """The same build through packbin's Python API in a fresh interpreter (a CLI workaround)."""
        code = (
            "import json, sys\n"
            "from packbin.build.pipeline import BuildRequest, build_pack_binaries\n"
            "from packbin.config.model import BuildConfig\n"
            "build_pack_binaries(BuildConfig.load(), BuildRequest(**json.loads(sys.argv[1])))\n"
        )
        return timed([sys.executable, "-c", code, json.dumps(request)], cwd=self.root, env=self.env)

    def jobs_flag_works(self) -> bool:
        """Whether ``--jobs 1`` reaches packbin as a number (checked on an up-to-date tree: no build)."""
        cmd = [*self.exe, "build-pack-binaries", "--arch=all", "--jobs=1"]
        proc = subprocess.run(cmd, cwd=self.root, env=self.env, capture_output=True, text=True, check=False)
        return proc.returncode == 0

    def log_text(self, arch: str) -> str:
        p = self.root / "dist" / "logs" / f"build-{arch}.log"
        return p.read_text(encoding="utf-8", errors="replace") if p.is_file() else ""

    def manifest(self) -> dict[str, object]:
        p = self.root / "dist" / "pack-binaries" / "manifest.json"
        data: dict[str, object] = json.loads(p.read_text(encoding="utf-8"))
        return data


def remove_cache_volumes(triples: Sequence[str]) -> list[str]:
    """Remove packbin's target and zig-cache volumes of ``triples`` (through the Docker SDK).

    Each triple's removal holds the lock packbin's builds hold (build.container.run_build), so a
    concurrent packbin build is waited for rather than broken. A volume still referenced by a
    container (409) is retried for a while.
    """
    import docker

    from packbin.engine import connect
    from packbin.util.lock import file_lock

    engine = connect()
    removed: list[str] = []
    for triple in triples:
        with file_lock(build_lock_path(engine, triple), what=f"the {triple} build cache", on_wait=say):
            for name in build_volumes(triple):
                deadline = time.monotonic() + 180
                while True:
                    try:
                        engine.client.volumes.get(name).remove()
                        removed.append(name)
                        break
                    except docker.errors.NotFound:
                        break
                    except docker.errors.APIError as e:
                        if e.status_code == 409 and time.monotonic() < deadline:
                            time.sleep(2)
                            continue
                        raise BenchError(f"cannot remove volume {name}: {e.explanation or e}") from e
    return removed


@dataclass(frozen=True, kw_only=True)
class ColdRun:
    seconds: float
    per_arch: dict[str, float]

    def detail(self) -> str:
        return ", ".join(f"{a} {s:.1f}" for a, s in self.per_arch.items())


def cold_build(pb: Packbin, triples: Sequence[str], *, jobs: int | None, via_api: bool = False) -> ColdRun:
    removed = remove_cache_volumes(triples)
    how = " (through the Python API)" if via_api else ""
    say(
        f"removed {', '.join(removed) or 'no volumes'}; cold --arch=all --force{'' if jobs is None else f' --jobs {jobs}'}{how} ..."
    )
    if via_api:
        seconds, proc = pb.run_api(arch="all", force=True, jobs=jobs)
    else:
        seconds, proc = pb.run("--arch=all", "--force", *(() if jobs is None else (f"--jobs={jobs}",)))
    per_arch = {m[0]: float(m[1]) for m in DONE_RE.findall(proc.stdout)}
    if LOCK_WAIT in proc.stdout:
        say("warning: this cold run waited for another packbin run's lock: its time includes the wait")
    say(f"  {seconds:.1f} s ({', '.join(f'{a} {s:.1f} s' for a, s in per_arch.items())}); load {loadavg()}")
    return ColdRun(seconds=seconds, per_arch=per_arch)


PROBE = 'echo "$(rustc --version) $(cargo-zigbuild --version) $(python3 -m ziglang version)"'


def overhead_breakdown(cfg_path: Path, runs: int = 3) -> list[tuple[str, float, str]]:
    """Where packbin's fixed cost per build goes, measured in-process (median of ``runs``).

    The pieces of a build run that are not cargo: reaching the engine and resolving the builder
    image (with the ``auto`` profile this includes an attempt to pull the rustup base image), a
    container's create/start/wait/remove round trip, and the toolchain version probe the build
    script prints first (three tool start-ups, one of them a Python interpreter).
    """
    from packbin.build.image import BUILD_ROOT, ensure_builder_image
    from packbin.config.model import BuildConfig
    from packbin.engine import connect

    cfg = BuildConfig.load(cfg_path, env={})
    t_setup: list[float] = []
    t_pull: list[float] = []
    t_empty: list[float] = []
    t_probe: list[float] = []
    image_tag = ""
    for _ in range(runs):
        t0 = time.perf_counter()
        engine = connect()
        image = ensure_builder_image(engine, cfg, echo=say)
        t_setup.append(time.perf_counter() - t0)
        image_tag = image.tag
        if cfg.builder.profile == "auto" and engine.image_id(cfg.builder.rustup.base_image) is None:
            t0 = time.perf_counter()
            engine.try_pull(cfg.builder.rustup.base_image)
            t_pull.append(time.perf_counter() - t0)
        for command, into in ((["/bin/true"], t_empty), (["/bin/sh", "-c", PROBE], t_probe)):
            t0 = time.perf_counter()
            with engine.container(image=image_tag, command=command, kind="build", working_dir=BUILD_ROOT) as c:
                status = c.run_streaming(on_line=lambda _line: None)
            into.append(time.perf_counter() - t0)
            if status != 0:
                raise BenchError(f"{command} in {image_tag} exited with {status}")
    t_import = [
        timed(
            [sys.executable, "-c", "import packbin.cli.program, packbin.build.container"],
            cwd=cfg.root,
            env=dict(os.environ),
        )[0]
        for _ in range(runs)
    ]
    rows = [
        ("python + import packbin with the docker SDK", median(t_import), ""),
        ("engine connect + builder image lookup", median(t_setup), ""),
    ]
    if t_pull:
        rows.append(
            (
                f"  of which the pull attempt of {cfg.builder.rustup.base_image}",
                median(t_pull),
                "profile auto, image absent",
            )
        )
    rows.append(("container create/start/wait/remove (/bin/true)", median(t_empty), ""))
    rows.append(
        ("the build script's toolchain version probe", median(t_probe) - median(t_empty), "extra over /bin/true")
    )
    return rows


# -- native side -------------------------------------------------------------------------------


NATIVE_CARGO_CONFIG = """\
[unstable]
build-std = ["std", "panic_abort"]
[source.crates-io]
replace-with = "rust-std-vendor"
[source.rust-std-vendor]
directory = "/usr/lib/rustlib/src/rust/library/vendor"
[target.x86_64-unknown-linux-musl]
rustflags = ["-C", "link-self-contained=no"]
[target.aarch64-unknown-linux-musl]
rustflags = ["-C", "link-self-contained=no"]
"""


@dataclass
class Native:
    """``cargo zigbuild`` of the same crate on the host, laid out like the builder's /build."""

    base: Path
    tools: HostToolchain
    extra_env: dict[str, str]
    build_root: Path = field(init=False)
    crate: Path = field(init=False)
    env: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        self.build_root = self.base / "build"
        src = self.build_root / "src"
        self.crate = src / CRATE_REL
        shutil.copytree(REPO / CRATE_REL, self.crate, ignore=shutil.ignore_patterns("target", BIN))
        # Natively, std comes from -Zbuild-std with the std library's vendored dependencies (the
        # builder prebuilds the same std once into a sysroot volume instead).
        (self.build_root / ".cargo").mkdir(parents=True)
        (self.build_root / ".cargo" / "config.toml").write_text(NATIVE_CARGO_CONFIG, encoding="utf-8")
        # rustup's ~/.cargo/bin shadows Debian's cargo/rustc: keep it off PATH altogether.
        path = os.pathsep.join([str(self.tools.zig_bin_dir), "/usr/local/bin", "/usr/bin", "/bin"])
        self.env = {
            "HOME": os.environ.get("HOME", "/root"),
            "PATH": path,
            "LANG": "C.UTF-8",
            "TMPDIR": tempfile.gettempdir(),
            **self.extra_env,
            "RUSTC": str(HOST_RUSTC),
            "RUSTC_BOOTSTRAP": "1",
            "CARGO_HOME": str(self.base / "cargo-home"),
            "CARGO_TARGET_DIR": str(self.base / "target"),
            "XDG_CACHE_HOME": str(self.base / "cache"),
            "CARGO_TERM_COLOR": "never",
        }

    @property
    def main_rs(self) -> Path:
        return self.crate / "src" / "main.rs"

    def build(self, *triples: str) -> tuple[float, float | None]:
        """(process wall seconds, cargo's own "Finished in" seconds)."""
        cmd = [str(HOST_CARGO), "zigbuild", "--offline", "--locked", "--release"]
        for t in triples:
            cmd += ["--target", t]
        cmd += ["--manifest-path", str(self.crate / "Cargo.toml"), "--bin", BIN]
        seconds, proc = timed(cmd, cwd=self.crate, env=self.env)
        return seconds, cargo_finished_seconds(proc.stderr)

    def cold(self, triples: Sequence[str]) -> float:
        for d in ("target", "cache", "cargo-home"):
            shutil.rmtree(self.base / d, ignore_errors=True)
        seconds, _ = self.build(*triples)
        return seconds

    def artifact(self, triple: str) -> Path:
        return self.base / "target" / triple / "release" / BIN
