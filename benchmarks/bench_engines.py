"""Benchmark: several engines and caches that travel (issue 9's figures), side by side in one run.

A second real engine is started on this machine (tests/support/second_engine.py: a dockerd in a
network namespace of its own) and stopped at the end. Both engines share this machine's cores,
so two engines cannot be faster than one here; the figure shows what the routing costs. The
workspace is the attune-shaped one of tests/support/cargo_workspace.py (tokio, serde, ring, a
build script), built from Debian's crate sources. Each figure is the wall time of whole
``python -m packbin ...`` processes.

1. ``--arch=all --force`` with both architectures on the default engine, against the same with
   arm64 on the second engine (``PACKBIN_ENGINE_ARM64``), both engines warm. Median of ``--runs``.
2. A fresh checkout built on a fresh engine (no packbin volumes; the builder image present), x86_64:
   - cold: nothing else (the std, the dependencies and the crate are compiled);
   - after import: ``cache-import`` of a ``cache-export`` made on the warm engine, then the build
     (the import is timed with it), ``--runs`` times, each into an engine emptied again;
   - warm: a fresh checkout built on the warm default engine, after each of those.
   Goal (issue 9): the build after the import within 1.5x of warm (medians). The import itself
   is reported beside it, and the ratio with it counted in.

    python benchmarks/bench_engines.py [--runs 3]

Exit status 0 when the goal is met, 1 when it is missed, 2 when it could not run.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from _common import CHECKOUT_PATHS, exit_from, packbin_timed, say, write_bytecode

sys.path[:0] = CHECKOUT_PATHS

from tests.support.cargo_workspace import make_workspace
from tests.support.repo import WORKSPACE_BUILDCFG as WS_CONFIG
from tests.support.second_engine import SecondEngineUnavailable, remove_packbin_volumes, second_engine


def run(*args: str, cwd: Path, env: dict[str, str] | None = None) -> float:
    """Wall seconds of a whole ``python -m packbin ARGS`` (this checkout's code)."""
    return packbin_timed(*args, cwd=cwd, env=env)[0]


def workspace(dest: Path) -> Path:
    make_workspace(dest)
    (dest / "buildcfg.toml").write_text(WS_CONFIG)
    (dest / "packs/core/sensors").mkdir(parents=True, exist_ok=True)
    return dest


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    write_bytecode()  # time packbin, not Python compiling it (see _common)
    tmp = Path(tempfile.mkdtemp(prefix="bench-engines-"))
    try:
        base = workspace(tmp / "base")
        say("warming the default engine (both architectures)")
        run("build-pack-binaries", "--arch=all", cwd=base)
        cache = tmp / "cache"
        say("exporting the default engine's caches and builder image")
        export_s = run("cache-export", "--dir", str(cache), "--with-image", cwd=base)
        try:
            ctx = second_engine()
            endpoint = ctx.__enter__()
        except SecondEngineUnavailable as e:
            say(f"cannot run: {e}")
            return 2
        try:
            two = {"PACKBIN_ENGINE_ARM64": endpoint}
            say("seeding the second engine (image and caches, as a fresh CI runner would)")
            seed_s = run("cache-import", "--dir", str(cache), cwd=base, env={**two, "PACKBIN_ENGINE_X86_64": endpoint})
            run("build-pack-binaries", "--arch=all", "--force", cwd=base, env=two)  # warm arm64 there

            one_engine, two_engines = [], []
            for i in range(args.runs):
                one_engine.append(run("build-pack-binaries", "--arch=all", "--force", cwd=base))
                two_engines.append(run("build-pack-binaries", "--arch=all", "--force", cwd=base, env=two))
                say(f"run {i + 1}: one engine {one_engine[-1]:.1f}s, two engines {two_engines[-1]:.1f}s")

            x86_there = {"PACKBIN_ENGINE_X86_64": endpoint}
            remove_packbin_volumes(endpoint)
            cold_s = run("build-pack-binaries", "--arch=x86_64", cwd=workspace(tmp / "cold"), env=x86_there)
            say(f"cold on a fresh engine: {cold_s:.1f}s")
            imports, afters, warms = [], [], []
            for i in range(args.runs):
                remove_packbin_volumes(endpoint)
                fresh = workspace(tmp / f"fresh{i}")
                imports.append(
                    run("cache-import", "--dir", str(cache), "--arch=x86_64", "--no-image", cwd=fresh, env=x86_there)
                )
                afters.append(run("build-pack-binaries", "--arch=x86_64", cwd=fresh, env=x86_there))
                warms.append(run("build-pack-binaries", "--arch=x86_64", cwd=workspace(tmp / f"warm{i}")))
                say(
                    f"run {i + 1}: import {imports[-1]:.1f}s + build {afters[-1]:.1f}s; "
                    f"warm (default engine, fresh checkout) {warms[-1]:.1f}s"
                )
        finally:
            ctx.__exit__(None, None, None)
        sizes = json.loads((cache / "packbin-cache.json").read_text())["files"]
        import_s, after_s, warm_s = (statistics.median(x) for x in (imports, afters, warms))
        ratio = after_s / warm_s
        print(
            json.dumps(
                {
                    "arch_all_one_engine_median_s": round(statistics.median(one_engine), 2),
                    "arch_all_two_engines_median_s": round(statistics.median(two_engines), 2),
                    "runs": args.runs,
                    "export_with_image_s": round(export_s, 1),
                    "seed_second_engine_import_with_image_s": round(seed_s, 1),
                    "cache_mb": {f["file"]: round(f["size"] / 1e6, 1) for f in sizes},
                    "fresh_engine_cold_s": round(cold_s, 1),
                    "fresh_engine_import_s": [round(x, 2) for x in imports],
                    "fresh_engine_build_after_import_s": [round(x, 2) for x in afters],
                    "warm_s": [round(x, 2) for x in warms],
                    "build_after_import_over_warm": round(ratio, 2),
                    "import_plus_build_over_warm": round((import_s + after_s) / warm_s, 2),
                    "goal_met": ratio <= 1.5,
                },
                indent=2,
            )
        )
        return 0 if ratio <= 1.5 else 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    exit_from(main)
