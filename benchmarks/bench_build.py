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
   Goal: under 0.5 s for both. packbin's modules are compiled to bytecode first, as installing
   a wheel does (``_common.write_bytecode``).
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

The script installs nothing unless given ``--setup-host-toolchain`` (host_toolchain.py), which
(printing each command first) adds bookworm-security to apt's sources if ``apt-cache policy
rustc-web`` does not show it, installs rustc-web cargo-web rust-web-src, and pip-installs the
pinned ziglang and cargo-zigbuild into a venv under $TMPDIR unless this interpreter's environment
already has them. Without it, a missing piece is an error that names it (exit 2).

It prints a table of the figures with the load average and the goal verdicts; exit status 0 when
every measured goal is met, 1 when one is missed, 2 when it could not run. The two sides it runs
are in build_sides.py; what every benchmark shares is in _common.py.

    python benchmarks/bench_build.py [--skip-cold] [--runs 5] [--noop-runs 7] [--setup-host-toolchain]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from _common import REPO, BenchError, loadavg, median, say, spread, timed, write_bytecode
from build_sides import (
    DONE_RE,
    LOCK_WAIT,
    MAIN_RS_REL,
    Native,
    Packbin,
    cargo_finished_seconds,
    cold_build,
    copy_repo,
    overhead_breakdown,
)
from host_toolchain import DEFAULT_VENV, check_host_toolchain, setup_host_toolchain

NATIVE_ARCH = "x86_64"
TRIGGER_RE = re.compile(r'^(const DEFAULT_TRIGGER: &str = ")([^"]*)(";)$', re.MULTILINE)
TRIGGERS = ("core.intervaltimer", "core.intervaltimer.bench")

NOOP_GOAL_S = 0.5
INCREMENTAL_GOAL_RATIO = 1.5


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
    write_bytecode()  # time packbin, not Python compiling it (see _common)
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
            if LOCK_WAIT in proc.stderr:
                waited += 1
            pb_s.append(seconds)
            step = DONE_RE.findall(proc.stderr)
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
