"""Benchmark: what the dependency list, the SBOM and the provenance (issue 18) cost, side by side.

One throwaway copy of the attune-shaped workspace (tests/support/cargo_workspace.py) under
$TMPDIR, the real engine and builder image; each figure is the wall time of a whole
``python -m packbin build-pack-binaries --arch=all ...`` process, with ``[builder] auditable``
on and off in the same repository (so both sides share one sources volume and target directory):

1. No-op (nothing changed): median of ``--noop-runs`` (7). Goal: auditable on within 0.05 s of
   off (the no-op path reads no metadata and writes nothing).
2. One-line change in the shared lib crate, both targets: median of ``--runs`` (3), the sides
   interleaved (on, off, on, off, ...) so load drift hits both. The difference is the cost of
   ``cargo metadata`` per bin in the container plus the embed step, the SBOMs and the
   provenance on the host.

    python benchmarks/bench_deps.py [--runs 3] [--noop-runs 7]

Exit status 0 when the no-op goal is met, 1 when it is missed, 2 when it could not run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from _common import CHECKOUT_PATHS, exit_from, loadavg, median, packbin_timed, say, spread, write_bytecode

sys.path[:0] = CHECKOUT_PATHS

from bench_workspace import set_marker, workspace_repo

from tests.support.cargo_workspace import COMMON_MARKER

NOOP_GOAL_S = 0.05


def build(repo: Path) -> tuple[float, dict[str, Any]]:
    seconds, proc = packbin_timed("build-pack-binaries", "--json", "--arch=all", cwd=repo)
    return seconds, json.loads(proc.stdout)


def set_auditable(repo: Path, on: bool) -> None:
    """``[builder] auditable`` in the repository's buildcfg.toml (the key written before [builder.env])."""
    cfg = repo / "buildcfg.toml"
    lines = [ln for ln in cfg.read_text().splitlines(keepends=True) if not ln.startswith(("auditable", "[builder]"))]
    text = "".join(lines).replace("[builder.env]", f"[builder]\nauditable = {'true' if on else 'false'}\n[builder.env]")
    cfg.write_text(text)


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3, help="one-line-change runs per side (default 3)")
    ap.add_argument("--noop-runs", type=int, default=7, help="no-op runs per side (default 7)")
    args = ap.parse_args()
    write_bytecode()  # time packbin, not Python compiling it (see _common)
    tmp = Path(tempfile.mkdtemp(prefix="packbin-bench-deps-"))
    try:
        repo = workspace_repo(tmp / "repo")
        noop: dict[bool, list[float]] = {True: [], False: []}
        for on in (True, False):
            set_auditable(repo, on)
            say(f"first build, auditable={on} (not timed)")
            build(repo)
            for _ in range(args.noop_runs):
                seconds, report = build(repo)
                if report["built"]:
                    raise SystemExit(f"a no-op run built {len(report['built'])} artifact(s)")
                noop[on].append(seconds)
        change: dict[bool, list[float]] = {True: [], False: []}
        for i in range(args.runs):
            for on in (True, False):
                set_auditable(repo, on)
                set_marker(repo, f"{COMMON_MARKER}-{i}-{on}")
                say(f"one-line change {i + 1}/{args.runs}, auditable={on}")
                seconds, report = build(repo)
                if {a["arch"] for a in report["built"]} != {"x86_64", "arm64"}:
                    raise SystemExit("a one-line change did not rebuild both architectures")
                change[on].append(seconds)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    rows = [
        (f"no-op --arch=all (median of {args.noop_runs})", noop),
        (f"one-line change --arch=all (median of {args.runs})", change),
    ]
    print(f"load average at the end: {loadavg()} ({os.cpu_count()} cores)")
    print(f"{'':<44}  {'auditable on':>12}  {'off':>8}  {'difference':>10}")
    for title, xs in rows:
        on, off = median(xs[True]), median(xs[False])
        print(
            f"{title:<44}  {on:>11.2f}s  {off:>7.2f}s  {on - off:>+9.2f}s   on: {spread(xs[True])}; off: {spread(xs[False])}"
        )
    ok = median(noop[True]) - median(noop[False]) <= NOOP_GOAL_S
    print(f"goal: no-op within {NOOP_GOAL_S} s of auditable off: {'met' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    exit_from(main)
