"""Benchmark: C libraries built for the target (``[[c_libraries]]``): each library's sysroot
built once per target, and the builds once the sysroots exist.

For zlib and openssl, one throwaway repository each under $TMPDIR holding the fixture crate of
tests/support/c_fixtures.py that links the library (Debian's -sys crate, which has no bundled C)
with ``[[c_libraries]] name = LIB``; the real engine and builder image. Each figure is the wall
time of a whole ``python -m packbin build-pack-binaries --json ...`` process.

1. Each target on its own (x86_64, then arm64): the library's sysroot volume for that target is
   removed, then ``--arch=ARCH --force``. packbin's own "built in" line gives the sysroot's time
   (the source download included); the process's wall time is the whole build's.
2. No-op ``--arch=all`` (nothing changed), median of ``--noop-runs``. Goal: under 0.5 s, as for
   any no-op (bench_build.py): no container starts and no sysroot is looked into.
3. A one-line change to the crate's main.rs, ``--arch=all``, median of ``--runs``. Checked: each
   target's sysroot is reported "not built again". Shown beside it: packbin's container step
   ("done in") of the same runs, so the sysroot check's share can be read off.

    python benchmarks/bench_c_libraries.py [--runs 3] [--noop-runs 7] [--libraries zlib,openssl]

Exit status 0 when every goal is met, 1 when one is missed, 2 when it could not run.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from _common import (
    CHECKOUT_PATHS,
    BenchError,
    exit_from,
    loadavg,
    median,
    packbin_timed,
    say,
    spread,
    write_bytecode,
)

sys.path[:0] = CHECKOUT_PATHS

import docker
from build_sides import DONE_RE

from tests.support.c_fixtures import make_c_repo

NOOP_GOAL_S = 0.5
ARCHES = {"x86_64": "x86_64-unknown-linux-musl", "arm64": "aarch64-unknown-linux-musl"}
_BUILT_RE = re.compile(r"\[c-sysroot\] (\S+) \S+ for (\S+): built in ([0-9.]+)s")


def build(repo: Path, *args: str) -> tuple[float, dict[str, Any], str]:
    """(wall seconds, the --json report, what packbin printed) of one build."""
    seconds, proc = packbin_timed("build-pack-binaries", "--json", *args, cwd=repo)
    report: dict[str, Any] = json.loads(proc.stdout)
    return seconds, report, proc.stderr


def remove_sysroot(library: str, triple: str) -> list[str]:
    """Remove ``library``'s sysroot volumes for ``triple`` (packbin's labels); their names."""
    client = docker.from_env()
    found = client.volumes.list(
        filters={"label": ["io.packbin.owner=packbin", "io.packbin.kind=c-sysroot", f"io.packbin.c-library={library}"]}
    )
    names = [str(v.name) for v in found if f"-{triple}-" in str(v.name)]
    for name in names:
        client.volumes.get(name).remove(force=True)
    return names


def measure(library: str, base: Path, runs: int, noop_runs: int) -> dict[str, Any]:
    repo = make_c_repo(library, base / library, c_libraries=(library,))
    fig: dict[str, Any] = {"library": library, "sysroot": {}, "whole": {}}
    for arch, triple in ARCHES.items():
        gone = remove_sysroot(library, triple)
        say(f"{library}, {arch}: sysroot removed ({', '.join(gone) or 'none there'}); build --force")
        seconds, _, said = build(repo, f"--arch={arch}", "--force")
        built = [float(m[3]) for m in _BUILT_RE.finditer(said) if m[1] == library and m[2] == triple]
        if len(built) != 1:
            raise BenchError(f"expected one '{library} ... for {triple}: built in' line, got {built}:\n{said[-3000:]}")
        fig["sysroot"][arch], fig["whole"][arch] = built[0], seconds
    build(repo, "--arch=all")  # the other arch's binary too, so the no-op below has both
    noop = []
    for _ in range(noop_runs):
        seconds, report, _ = build(repo, "--arch=all")
        if report["built"]:
            raise BenchError(f"a no-op run built {len(report['built'])} artifact(s)")
        noop.append(seconds)
    change, step = [], []
    main_rs = repo / "src/main.rs"
    text = main_rs.read_text()
    for i in range(runs):
        main_rs.write_text(text + f"// bench change {i}\n")
        say(f"{library}: one-line change {i + 1}/{runs}")
        seconds, report, said = build(repo, "--arch=all")
        if {a["arch"] for a in report["built"]} != set(ARCHES):
            raise BenchError(f"the change rebuilt {[a['arch'] for a in report['built']]}, not both arches")
        again = [x for x in said.splitlines() if f"[c-sysroot] {library} for " in x and x.endswith("not built again")]
        if len(again) != len(ARCHES):
            raise BenchError(f"expected each target's sysroot 'not built again', got:\n{said[-3000:]}")
        change.append(seconds)
        step.append(max(float(m[2]) for m in DONE_RE.finditer(said)))
    fig.update(noop=noop, change=change, step=step)
    return fig


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3, help="one-line-change runs per library (default 3)")
    ap.add_argument("--noop-runs", type=int, default=7, help="no-op runs per library (default 7)")
    ap.add_argument("--libraries", default="zlib,openssl", help="which (default zlib,openssl)")
    args = ap.parse_args()
    write_bytecode()  # time packbin, not Python compiling it (see _common)
    base = Path(tempfile.mkdtemp(prefix="packbin-bench-c-"))
    try:
        figs = [measure(lib, base, args.runs, args.noop_runs) for lib in args.libraries.split(",")]
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print(f"load average at the end: {loadavg()} (2 cores)")
    ok = True
    for f in figs:
        lib = f["library"]
        for arch in ARCHES:
            print(
                f"{lib:8} sysroot, {arch:6}  {f['sysroot'][arch]:7.1f} s   (whole --force build {f['whole'][arch]:.1f} s)"
            )
        met = median(f["noop"]) < NOOP_GOAL_S
        ok = ok and met
        print(
            f"{lib:8} no-op --arch=all        {median(f['noop']):7.2f} s   {spread(f['noop'])}; "
            f"goal < {NOOP_GOAL_S} s: {'met' if met else 'MISSED'}"
        )
        print(
            f"{lib:8} one-line change, all   {median(f['change']):7.2f} s   {spread(f['change'])}; "
            f"container step {median(f['step']):.2f} s; no sysroot rebuilt"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    exit_from(main)
