"""Benchmark: build-pack-binaries (cold, no-op, incremental) next to a native ``cargo zigbuild``.

Everything runs in one invocation on one machine, in a throwaway copy of the repository under
$TMPDIR (buildcfg.toml, tasks.py and packs/, as tests/conftest.py's copy_repo makes it); the
checkout itself is never touched. Every packbin figure is the wall time of a whole
``packbin build-pack-binaries ...`` process (the console script next to this interpreter), so
interpreter start-up, imports, the engine round trips, the container, extraction, verification
and installation are all counted.

1. Cold build of both architectures with the builder image present: packbin's per-triple
   target and zig-cache volumes (``packbin-target-<triple>``, ``packbin-zigcache-<triple>``)
   are removed through the Docker SDK (holding packbin's own per-triple lock, so a build of
   another packbin run is never pulled from under it), then ``--arch=all --force`` runs with
   the default jobs (every architecture at once); the volumes are removed again and the same
   runs with ``--jobs 1`` (one architecture after the other). One untimed ``--arch=all`` run
   before them makes sure the builder image exists and is in the page cache for both.
   Goal: parallel no slower than sequential.  (Skip with ``--skip-cold``: it takes minutes.)
   If ``--jobs=1`` fails on the command line (checked first on the up-to-date tree), the
   sequential run calls ``build_pack_binaries(BuildRequest(jobs=1, ...))`` in a fresh
   interpreter instead, and the table says so.
2. No-op ``--arch=all`` rerun (nothing changed; no container may start), median of
   ``--noop-runs``, through the ``packbin`` console script and through ``invoke`` (tasks.py).
   Goal: under 0.5 s for both.
3. Incremental rebuild for x86_64 after a one-line change to the timer sensor's main.rs (the
   DEFAULT_TRIGGER constant alternates between two strings, so every run really changes the
   source), median of ``--runs``. Besides the process wall time, the container step (packbin's
   "done in") and cargo's own "Finished ... in" from the build log are shown, to say where
   packbin's overhead goes.
4. The same crate built natively on the host with the same toolchain: Debian's rustc-web /
   cargo-web / rust-web-src (/usr/bin/cargo, RUSTC=/usr/bin/rustc; rustup's ~/.cargo/bin is kept
   off PATH) and the pinned ziglang / cargo-zigbuild from PyPI, with the builder's cargo config
   (``-Zbuild-std`` with the vendored std sources, ``link-self-contained=no``,
   RUSTC_BOOTSTRAP=1) and ``cargo zigbuild --offline --locked --release --target ...``, with
   CARGO_TARGET_DIR, CARGO_HOME and XDG_CACHE_HOME (zig's cache) under $TMPDIR. Its incremental
   rebuild after the same change is measured interleaved with packbin's (run i of packbin, then
   run i of native, so machine load drifts hit both alike); its cold build of both targets (one
   cargo call, empty caches) is shown for reference. Goal: packbin's incremental median within
   1.5x of the native one.

The script installs nothing unless given ``--setup-host-toolchain``, which (printing each
command first) adds bookworm-security to apt's sources if ``apt-cache policy rustc-web`` does not
show it, installs rustc-web cargo-web rust-web-src, and pip-installs the pinned ziglang and
cargo-zigbuild into a venv under $TMPDIR unless this interpreter's environment already has them.
Without it, a missing piece is an error that names it (exit 2).

It prints a table of the figures with the load average and the goal verdicts; exit status 0 when
every measured goal is met, 1 when one is missed, 2 when it could not run.

    python benchmarks/bench_build.py [--skip-cold] [--runs 5] [--noop-runs 7] [--setup-host-toolchain]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CRATE_REL = "packs/core/sensors/timer-sensor"
MAIN_RS_REL = f"{CRATE_REL}/src/main.rs"
BIN = "attune-core-timer-sensor"
NATIVE_ARCH = "x86_64"
TRIGGER_RE = re.compile(r'^(const DEFAULT_TRIGGER: &str = ")([^"]*)(";)$', re.MULTILINE)
TRIGGERS = ("core.intervaltimer", "core.intervaltimer.bench")

DEBIAN_RUST_PACKAGES = ("rustc-web", "cargo-web", "rust-web-src")
SECURITY_SOURCE = "deb http://deb.debian.org/debian-security bookworm-security main"
SECURITY_LIST = Path("/etc/apt/sources.list.d/packbin-bench-security.list")
HOST_CARGO = Path("/usr/bin/cargo")
HOST_RUSTC = Path("/usr/bin/rustc")
STD_VENDOR = Path("/usr/lib/rustlib/src/rust/library/vendor")
DEFAULT_VENV = Path(tempfile.gettempdir()) / "packbin-bench-zigbuild-venv"

NOOP_GOAL_S = 0.5
INCREMENTAL_GOAL_RATIO = 1.5

_DONE_RE = re.compile(r"^\[(\S+)\s*\] done in ([0-9.]+)s$", re.MULTILINE)
_CARGO_FINISHED_RE = re.compile(r"Finished .* in ([0-9.]+)(m?s)\b")
_LOCK_WAIT = "waiting for another packbin run"


class BenchError(Exception):
    """The benchmark could not run (exit 2)."""


def say(msg: str) -> None:
    """Progress on stderr (the table goes to stdout)."""
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def loadavg() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


# -- host toolchain ----------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class HostToolchain:
    """The native side: Debian's rust and a bin dir holding cargo-zigbuild and a python3 with ziglang."""

    zig_bin_dir: Path
    rustc: str
    cargo_zigbuild: str
    zig: str


def _out(cmd: Sequence[str | os.PathLike[str]], env: dict[str, str] | None = None) -> str | None:
    try:
        proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, check=False, env=env)
    except OSError:
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


def _debian_rust_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for pkg in DEBIAN_RUST_PACKAGES:
        status = _out(["dpkg-query", "-W", "-f=${db:Status-Abbrev}|${Version}", pkg])
        versions[pkg] = status.split("|", 1)[1] if status and status.startswith("ii") else None
    return versions


def _zig_bin_candidates(venv: Path) -> list[Path]:
    return [Path(sys.executable).parent, venv / "bin"]


def _zig_tools_in(bin_dir: Path, zig_pin: str, czb_pin: str) -> tuple[str, str] | None:
    """(cargo-zigbuild version, zig version) when ``bin_dir`` has both at the pinned versions."""
    czb = bin_dir / "cargo-zigbuild"
    py = bin_dir / "python3"
    if not czb.is_file() or not py.is_file():
        return None
    czb_v = (_out([czb, "--version"]) or "").split(" ")[-1]
    zig_v = _out([py, "-m", "ziglang", "version"]) or ""
    return (czb_v, zig_v) if (czb_v, zig_v) == (czb_pin, zig_pin) else None


def check_host_toolchain(zig_pin: str, czb_pin: str, venv: Path) -> tuple[HostToolchain | None, list[str]]:
    """The host toolchain, or the list of what is missing (in words)."""
    missing: list[str] = []
    versions = _debian_rust_versions()
    absent = [p for p, v in versions.items() if v is None]
    if absent:
        missing.append(f"Debian packages not installed: {' '.join(absent)} (from bookworm-security)")
    elif len(set(versions.values())) != 1:
        missing.append("Debian rust packages differ in version: " + ", ".join(f"{p} {v}" for p, v in versions.items()))
    for p in (HOST_CARGO, HOST_RUSTC):
        if not p.is_file():
            missing.append(f"{p} (package {'cargo-web' if p.name == 'cargo' else 'rustc-web'})")
    if not STD_VENDOR.is_dir():
        missing.append(f"{STD_VENDOR} (package rust-web-src: std's vendored dependencies for -Zbuild-std)")
    found: tuple[Path, tuple[str, str]] | None = None
    for d in _zig_bin_candidates(venv):
        tools = _zig_tools_in(d, zig_pin, czb_pin)
        if tools is not None:
            found = (d, tools)
            break
    if found is None:
        where = " or ".join(str(d) for d in _zig_bin_candidates(venv))
        missing.append(f"ziglang=={zig_pin} and cargo-zigbuild=={czb_pin} (looked in {where})")
    if missing or found is None:
        return None, missing
    rustc = (_out([HOST_RUSTC, "--version"]) or "").split(" ")[1:2]
    return HostToolchain(
        zig_bin_dir=found[0], rustc=rustc[0] if rustc else "?", cargo_zigbuild=found[1][0], zig=found[1][1]
    ), []


def _run_setup(cmd: list[str]) -> None:
    if os.geteuid() != 0 and cmd[0] in ("apt-get", "tee") and shutil.which("sudo"):
        cmd = ["sudo", *cmd]
    print("+ " + " ".join(cmd), file=sys.stderr, flush=True)
    # Their output goes to stderr with the progress, so stdout carries only the table.
    if subprocess.run(cmd, check=False, stdout=sys.stderr).returncode != 0:
        raise BenchError(f"setup step failed: {' '.join(cmd)}")


def setup_host_toolchain(zig_pin: str, czb_pin: str, venv: Path) -> None:
    """Install what check_host_toolchain finds missing (apt from bookworm-security, pip into a venv)."""
    versions = _debian_rust_versions()
    if any(v is None for v in versions.values()) or len(set(versions.values())) != 1 or not STD_VENDOR.is_dir():
        policy = _out(["apt-cache", "policy", "rustc-web"]) or ""
        print("+ apt-cache policy rustc-web", file=sys.stderr)
        if "bookworm-security" not in policy:
            print(f"+ echo '{SECURITY_SOURCE}' > {SECURITY_LIST}", file=sys.stderr, flush=True)
            try:
                SECURITY_LIST.write_text(SECURITY_SOURCE + "\n", encoding="utf-8")
            except OSError as e:
                raise BenchError(f"cannot write {SECURITY_LIST}: {e.strerror} (run as root)") from e
            _run_setup(["apt-get", "update"])
        elif not (Path("/var/lib/apt/lists").is_dir() and any(Path("/var/lib/apt/lists").glob("*security*Packages*"))):
            _run_setup(["apt-get", "update"])
        _run_setup(["apt-get", "install", "-y", "--no-install-recommends", *DEBIAN_RUST_PACKAGES])
    if not any(_zig_tools_in(d, zig_pin, czb_pin) for d in _zig_bin_candidates(venv)):
        if not (venv / "bin" / "pip").is_file():
            _run_setup([sys.executable, "-m", "venv", str(venv)])
        _run_setup(
            [
                str(venv / "bin" / "pip"),
                "install",
                "--disable-pip-version-check",
                f"ziglang=={zig_pin}",
                f"cargo-zigbuild=={czb_pin}",
            ]
        )


# -- helpers -------------------------------------------------------------------------------


def timed(cmd: Sequence[str], *, cwd: Path, env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    t0 = time.perf_counter()
    proc = subprocess.run(list(cmd), cwd=cwd, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise BenchError(
            f"{' '.join(cmd)} (in {cwd}) failed with exit status {proc.returncode}:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}"
        )
    return elapsed, proc


def set_trigger(main_rs: Path, value: str) -> None:
    """The one-line change: DEFAULT_TRIGGER's string (mtime moves forward too)."""
    text = main_rs.read_text(encoding="utf-8")
    new, n = TRIGGER_RE.subn(lambda m: f"{m[1]}{value}{m[3]}", text)
    if n != 1:
        raise BenchError(f'{main_rs}: expected one `const DEFAULT_TRIGGER: &str = "...";` line, found {n}')
    if new == text:
        raise BenchError(f"{main_rs}: DEFAULT_TRIGGER is already {value!r}")
    main_rs.write_text(new, encoding="utf-8")


def current_trigger(main_rs: Path) -> str:
    m = TRIGGER_RE.search(main_rs.read_text(encoding="utf-8"))
    if m is None:
        raise BenchError(f"{main_rs}: no DEFAULT_TRIGGER constant")
    return m[2]


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


def median(xs: Sequence[float]) -> float:
    return statistics.median(xs)


def spread(xs: Sequence[float]) -> str:
    return f"min {min(xs):.2f} max {max(xs):.2f}" if len(xs) > 1 else ""


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

    Each triple's removal holds the lock packbin's builds hold (build_container.run_build), so a
    concurrent packbin build is waited for rather than broken. A volume still referenced by a
    container (409) is retried for a while.
    """
    import docker

    from packbin.build.volumes import WARM, cache_volume, target_volume
    from packbin.engine import connect
    from packbin.util.lock import file_lock

    engine = connect()
    removed: list[str] = []
    for triple in triples:
        with file_lock(WARM.lock_path(engine, triple), what=f"the {triple} build cache", on_wait=say):
            for name in (target_volume(triple), cache_volume(triple)):
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
    per_arch = {m[0]: float(m[1]) for m in _DONE_RE.findall(proc.stdout)}
    if _LOCK_WAIT in proc.stdout:
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


# -- the run ---------------------------------------------------------------------------------


@dataclass
class Figures:
    rows: list[tuple[str, str, str]] = field(default_factory=list)  # (label, seconds, note)
    verdicts: list[tuple[str, bool | None, str]] = field(default_factory=list)  # (goal, met or None=skipped, detail)

    def row(self, label: str, seconds: float | None, note: str = "") -> None:
        self.rows.append((label, "" if seconds is None else f"{seconds:.2f}", note))

    def verdict(self, goal: str, met: bool | None, detail: str) -> None:
        self.verdicts.append((goal, met, detail))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--skip-cold", action="store_true", help="skip the cold builds (they take minutes)")
    ap.add_argument("--runs", type=int, default=5, help="incremental runs, each side (default 5)")
    ap.add_argument("--noop-runs", type=int, default=7, help="no-op runs, each entry point (default 7)")
    ap.add_argument(
        "--setup-host-toolchain", action="store_true", help="apt-get/pip install the native toolchain when missing"
    )
    ap.add_argument(
        "--venv",
        type=Path,
        default=DEFAULT_VENV,
        help=f"venv for ziglang/cargo-zigbuild if this env lacks them (default {DEFAULT_VENV})",
    )
    ap.add_argument(
        "--dir", type=Path, default=None, help="where to put the repository copy and native build (default: $TMPDIR)"
    )
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = ap.parse_args(argv)
    if args.runs < 3 or args.noop_runs < 3:
        ap.error("--runs and --noop-runs must be at least 3 (medians)")
    try:
        return _main(args)
    except BenchError as e:
        print(f"bench_build: error: {e}", file=sys.stderr)
        return 2


def _main(args: argparse.Namespace) -> int:
    from packbin.config.model import BuildConfig
    from packbin.elf.verify import verify_file
    from packbin.errors import PackbinError

    try:
        cfg = BuildConfig.load(REPO / "buildcfg.toml", env={})
    except PackbinError as e:
        raise BenchError(f"cannot read {REPO / 'buildcfg.toml'}: {e.message}") from e
    zig_pin, czb_pin = cfg.builder.ziglang_version, cfg.builder.cargo_zigbuild_version
    if args.setup_host_toolchain:
        setup_host_toolchain(zig_pin, czb_pin, args.venv)
    tools, missing = check_host_toolchain(zig_pin, czb_pin, args.venv)
    if tools is None:
        raise BenchError(
            "the native side needs a host toolchain that is missing:\n  - "
            + "\n  - ".join(missing)
            + "\nrerun with --setup-host-toolchain to install it (apt-get from bookworm-security, pip into "
            + f"{args.venv}), or install it yourself"
        )
    triples = [a.rust_target for a in cfg.architectures]
    native_triple = cfg.arch(NATIVE_ARCH).rust_target
    start_load = loadavg()
    base = Path(tempfile.mkdtemp(prefix="packbin-bench-build-", dir=args.dir))
    figs = Figures()
    try:
        pb = Packbin(copy_repo(base / "repo"))
        say(f"repository copy in {pb.root}; load {start_load}")
        say("warm-up --arch=all (untimed: builder image present and paged in, caches filled)")
        _, proc = pb.run("--arch=all")
        artifacts = pb.manifest().get("artifacts") or []
        if not isinstance(artifacts, list) or not artifacts:
            raise BenchError(f"the warm-up run left no artifacts in the manifest:\n{proc.stdout[-2000:]}")
        builder, tc = artifacts[0]["builder_image"], artifacts[0]["toolchain"]
        image_tc = f"rustc {tc['rustc']}, cargo-zigbuild {tc['cargo_zigbuild']}, zig {tc['zig']}"
        host_tc = f"rustc {tools.rustc}, cargo-zigbuild {tools.cargo_zigbuild}, zig {tools.zig}"

        # 1. cold
        if args.skip_cold:
            figs.verdict("cold --arch=all: parallel no slower than sequential", None, "skipped (--skip-cold)")
        else:
            jobs_api = not pb.jobs_flag_works()
            if jobs_api:
                say(
                    "warning: `build-pack-binaries --jobs=1` fails on the command line; the sequential run goes "
                    "through packbin's Python API (BuildRequest(jobs=1)) in a fresh interpreter instead"
                )
            par = cold_build(pb, triples, jobs=None)
            seq = cold_build(pb, triples, jobs=1, via_api=jobs_api)
            figs.row("cold --arch=all, parallel (default jobs)", par.seconds, f"container steps: {par.detail()}")
            seq_label = (
                "cold --arch=all, sequential (jobs=1, Python API)"
                if jobs_api
                else "cold --arch=all, sequential (--jobs 1)"
            )
            figs.row(seq_label, seq.seconds, f"container steps: {seq.detail()}")
            figs.verdict(
                "cold --arch=all: parallel no slower than sequential",
                par.seconds <= seq.seconds,
                f"{par.seconds:.1f} s vs {seq.seconds:.1f} s ({par.seconds / seq.seconds:.2f}x)",
            )

        # 4a. native cold (reference), so the native incremental runs start from a warm state.
        native = Native(base / "native", tools, dict(cfg.builder.env))
        say(f"native cold build of {' '.join(triples)} (empty target dir and zig cache) ...")
        native_cold = native.cold(triples)
        for arch in cfg.architectures:
            result = verify_file(native.artifact(arch.rust_target), arch)
            if not result.ok:
                raise BenchError(
                    f"native {arch.name} build is not a static {arch.name} executable: {'; '.join(result.problems)}"
                )
        say(f"  {native_cold:.1f} s; load {loadavg()}")

        # 2. no-op
        _, proc = pb.run("--arch=all", "--json")
        report = json.loads(proc.stdout)
        if report["built"]:
            raise BenchError(f"the no-op check run built something: {[a['arch'] for a in report['built']]}")
        say(f"no-op --arch=all x{args.noop_runs} (packbin and invoke) ...")
        noop_pb: list[float] = []
        noop_inv: list[float] = []
        for _ in range(args.noop_runs):
            noop_pb.append(pb.run("--arch=all")[0])
            noop_inv.append(pb.run("--arch=all", via_invoke=True)[0])
        noop_load = loadavg()
        t_import = timed([sys.executable, "-c", "import packbin.cli.program"], cwd=pb.root, env=pb.env)[0]
        figs.row(f"no-op --arch=all, `packbin`, median of {args.noop_runs}", median(noop_pb), spread(noop_pb))
        figs.row(f"no-op --arch=all, `invoke`, median of {args.noop_runs}", median(noop_inv), spread(noop_inv))
        figs.row("  (python + import packbin.cli.program alone)", t_import)
        worst = max(median(noop_pb), median(noop_inv))
        figs.verdict(
            f"no-op --arch=all under {NOOP_GOAL_S} s",
            worst < NOOP_GOAL_S,
            f"packbin {median(noop_pb):.3f} s, invoke {median(noop_inv):.3f} s",
        )

        # 3 + 4b. incremental, interleaved
        pb_main = pb.root / MAIN_RS_REL
        pb_s: list[float] = []
        pb_step: list[float] = []
        pb_cargo: list[float] = []
        nat_s: list[float] = []
        nat_cargo: list[float] = []
        waited = 0
        say(f"incremental {NATIVE_ARCH} x{args.runs}, packbin then native each round ...")
        for i in range(args.runs):
            value = TRIGGERS[1] if current_trigger(pb_main) == TRIGGERS[0] else TRIGGERS[0]
            set_trigger(pb_main, value)
            seconds, proc = pb.run(f"--arch={NATIVE_ARCH}", "--json")
            built = [a["arch"] for a in json.loads(proc.stdout)["built"]]
            if built != [NATIVE_ARCH]:
                raise BenchError(f"incremental run {i + 1} built {built}, expected [{NATIVE_ARCH!r}]")
            if _LOCK_WAIT in proc.stderr:
                waited += 1
            pb_s.append(seconds)
            step = _DONE_RE.findall(proc.stderr)
            if step:
                pb_step.append(float(step[-1][1]))
            c = cargo_finished_seconds(pb.log_text(NATIVE_ARCH))
            if c is not None:
                pb_cargo.append(c)
            set_trigger(native.main_rs, value)
            n_seconds, n_cargo = native.build(native_triple)
            nat_s.append(n_seconds)
            if n_cargo is not None:
                nat_cargo.append(n_cargo)
            say(
                f"  round {i + 1}: packbin {seconds:.2f} s (container step {pb_step[-1] if pb_step else float('nan'):.2f}, "
                f"cargo {pb_cargo[-1] if pb_cargo else float('nan'):.2f}); native {n_seconds:.2f} s (cargo {n_cargo or float('nan'):.2f})"
            )
        inc_load = loadavg()
        m_pb, m_nat = median(pb_s), median(nat_s)
        figs.row(
            f"incremental {NATIVE_ARCH}, packbin, median of {args.runs}",
            m_pb,
            spread(pb_s) + (f"; {waited} run(s) waited for another run's lock" if waited else ""),
        )
        if pb_step:
            figs.row('  container step (packbin\'s "done in")', median(pb_step), spread(pb_step))
        if pb_cargo:
            figs.row("  cargo zigbuild inside the container", median(pb_cargo), spread(pb_cargo))
        say("packbin's fixed costs (in-process) ...")
        figs.row("  packbin's fixed costs, median of 3:", None)
        for label, seconds, note in overhead_breakdown(pb.root / "buildcfg.toml"):
            figs.row(f"    {label}", seconds, note)
        figs.row(f"incremental {NATIVE_ARCH}, native cargo zigbuild, median of {args.runs}", m_nat, spread(nat_s))
        if nat_cargo:
            figs.row('  cargo\'s own "Finished in"', median(nat_cargo), spread(nat_cargo))
        figs.row(
            f"native cold, {' + '.join(a.name for a in cfg.architectures)} in one cargo call (reference)", native_cold
        )
        figs.verdict(
            f"incremental within {INCREMENTAL_GOAL_RATIO}x of native",
            m_pb <= INCREMENTAL_GOAL_RATIO * m_nat,
            f"{m_pb:.2f} s vs {m_nat:.2f} s ({m_pb / m_nat:.2f}x)",
        )
        _print(
            figs,
            cfg_name=builder,
            image_tc=image_tc,
            host_tc=host_tc,
            loads=(start_load, noop_load, inc_load, loadavg()),
        )
        return 0 if all(met is not False for _, met, _ in figs.verdicts) else 1
    finally:
        if args.keep:
            say(f"kept {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)


def _print(figs: Figures, *, cfg_name: str, image_tc: str, host_tc: str, loads: tuple[str, str, str, str]) -> None:
    u = os.uname()
    emit: Callable[[str], None] = print
    emit(f"packbin build benchmark: {u.sysname} {u.release} {u.machine}, {os.cpu_count()} CPUs")
    emit(f"builder {cfg_name}: {image_tc}")
    emit(f"host (native): {host_tc}")
    emit(
        f"load average (1/5/15 min): start {loads[0]}; after no-op {loads[1]}; after incremental {loads[2]}; end {loads[3]}"
    )
    width = max(len(r[0]) for r in figs.rows)
    emit(f"{'':{width}}  {'seconds':>8}")
    for label, seconds, note in figs.rows:
        emit(f"{label:{width}}  {seconds:>8}  {note}".rstrip())
    emit("goals:")
    for goal, met, detail in figs.verdicts:
        mark = "skipped" if met is None else ("met" if met else "MISSED")
        emit(f"  {mark:7}  {goal}: {detail}")


if __name__ == "__main__":
    sys.exit(main())
