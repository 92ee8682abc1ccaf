"""Benchmark: init-packs of a tree of 10,000 small files, next to ``cp -a`` of the same tree.

Measures (median of --runs, warm page cache, same filesystem for everything):

- ``cp -a SRC NEW``: the baseline (and ``cp -a; sync``, durable like init-packs, for reference);
- init-packs first run into an empty DEST (``python3 -m packbin.deploy``, so interpreter start-up
  is counted as cp's exec is; the run includes init-packs' one syncfs at the end, cp has none);
- init-packs no-op rerun on the filled DEST (the case every ``docker compose up`` hits).

Goals (issue 4): first run within 2x of ``cp -a``; no-op rerun under 0.5 s. Exit status 0 when both
are met, 1 otherwise.

    python benchmarks/bench_init_packs.py [--files 10000] [--runs 3] [--dir /tmp]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from _common import exit_from, timed, write_bytecode


def make_tree(root: Path, files: int, seed: int = 4) -> int:
    """``files`` small files (64 B - 4 KiB) in packs/<pack>/<dir>/, a few executables and symlinks."""
    rng = random.Random(seed)
    total = 0
    per_dir = 50
    for i in range(files):
        pack, sub = divmod(i // per_dir, 10)
        d = root / f"pack{pack:03d}" / f"dir{sub}"
        if i % per_dir == 0:
            d.mkdir(parents=True, exist_ok=True)
        data = rng.randbytes(rng.randint(64, 4096))
        p = d / f"file{i:05d}.yaml"
        p.write_bytes(data)
        total += len(data)
        if i % 97 == 0:
            p.chmod(0o755)
        if i % 500 == 0:
            (d / f"link{i:05d}").symlink_to(p.name)
    return total


def seconds(cmd: list[str], *, then_sync: bool = False) -> float:
    """Wall time of ``cmd`` (and of a sync after it, with ``then_sync``)."""
    # Start each measurement with nothing dirty: init-packs ends with a syncfs, which would
    # otherwise also pay for writing back what the previous contender left in the page cache.
    os.sync()
    elapsed, _ = timed(cmd)
    if then_sync:
        t0 = time.perf_counter()
        os.sync()
        elapsed += time.perf_counter() - t0
    return elapsed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--files", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--dir", type=Path, default=None, help="where to build the trees (default: $TMPDIR)")
    args = ap.parse_args()
    write_bytecode()  # time packbin, not Python compiling it (see _common)

    base = Path(tempfile.mkdtemp(prefix="packbin-bench-", dir=args.dir))
    try:
        src = base / "packs"
        size = make_tree(src, args.files)
        deploy = [sys.executable, "-m", "packbin.deploy", "--source", str(src), "--arch", "x86_64"]
        timed(["cp", "-a", str(src), str(base / "warm")])  # warm the page cache for both contenders
        shutil.rmtree(base / "warm")

        cp, cp_sync, first, noop = [], [], [], []
        for i in range(args.runs):
            dst = base / f"cp{i}"
            cp.append(seconds(["cp", "-a", str(src), str(dst)]))
            shutil.rmtree(dst)
            cp_sync.append(seconds(["cp", "-a", str(src), str(dst)], then_sync=True))
            shutil.rmtree(dst)
            dst = base / f"ip{i}"
            first.append(seconds([*deploy, "--dest", str(dst)]))
            noop.append(seconds([*deploy, "--dest", str(dst)]))
            shutil.rmtree(dst)
        start = seconds([sys.executable, "-c", "import packbin.deploy"])

        m_cp, m_first, m_noop = statistics.median(cp), statistics.median(first), statistics.median(noop)
        ratio = m_first / m_cp
        ok_first, ok_noop = ratio <= 2.0, m_noop < 0.5
        print(
            f"tree: {args.files} files, {size / 1e6:.1f} MB, in {base} ({os.uname().sysname} {os.uname().release}); median of {args.runs}"
        )
        print(f"{'':28}{'seconds':>9}")
        print(f"{'cp -a':28}{m_cp:9.3f}")
        print(f"{'cp -a; sync (for reference)':28}{statistics.median(cp_sync):9.3f}")
        print(
            f"{'init-packs, first run':28}{m_first:9.3f}   {ratio:.2f}x cp -a   goal <= 2x: {'met' if ok_first else 'MISSED'}"
        )
        print(f"{'init-packs, no-op rerun':28}{m_noop:9.3f}   goal < 0.5 s: {'met' if ok_noop else 'MISSED'}")
        print(f"{'  (python + import alone)':28}{start:9.3f}")
        return 0 if ok_first and ok_noop else 1
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    exit_from(main)
