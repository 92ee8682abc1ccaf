"""Benchmark: packbin's ELF verifier against pyelftools doing the same checks.

    python benchmarks/bench_verify.py [--repeat N] [DIR ...]

Default directories: /usr/bin, /usr/sbin, /usr/lib/x86_64-linux-gnu (walked recursively,
symlinks not followed, non-ELF files skipped).

1. In-process: every ELF file is parsed and judged (static policy, any architecture) by packbin
   and by pyelftools (benchmarks/pyelftools_verify.py); the facts and verdicts must agree file for
   file. Prints files/s for each and the ratio (goal: packbin >= 10x).
2. Whole-process: ``packbin verify-static --json DIR --also DIR ...`` (the console script when it is on
   PATH and works, else the same through ``python -c``) against
   ``python benchmarks/pyelftools_verify.py DIR ...``; their JSON verdicts must agree too
   (goal: >= 6x).

Each measurement is the best of ``--repeat`` runs (default 2), so both sides read from a warm
page cache. Exits non-zero on any disagreement. Needs the ``bench`` extra (pyelftools).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import elftools
import pyelftools_verify
from elf_walk import DEFAULT_DIRS, is_elf, walk
from elftools.common.exceptions import ELFError as PyElfError

from packbin.elf.parser import parse_elf
from packbin.elf.policy import static_problems
from packbin.elf.record import ElfError, ElfInfo

#: The facts both parsers must agree on (build_id: pyelftools side does not read it).
FACTS = (
    "elf_class",
    "endian",
    "machine",
    "e_type",
    "type_name",
    "interpreter",
    "needed",
    "soname",
    "flags_1",
    "has_dynamic",
    "stripped",
    "size",
    "ident",
    "ehsize",
    "entry",
    "phoff",
    "phentsize",
    "phnum",
    "loads",
    "dynamic",
    "others",
    "alloc_sections",
    "gnu_property",
)

Verdict = tuple[bool, tuple[str, ...]]


def elf_files(dirs: list[str]) -> list[str]:
    return [p for p, _ in walk(dirs) if is_elf(p)]


def packbin_one(path: str) -> tuple[ElfInfo | None, Verdict]:
    try:
        info = parse_elf(path)
    except ElfError as e:
        return None, (False, (f"malformed ELF file: {e}",))
    problems = static_problems(info, None)
    return info, (not problems, problems)


def pyelftools_one(path: str) -> tuple[ElfInfo | None, Verdict]:
    try:
        info = pyelftools_verify.read_info(path)
    except (PyElfError, ValueError, KeyError) as e:
        return None, (False, (f"malformed ELF file: {e}",))
    problems = static_problems(info, None)
    return info, (not problems, problems)


def timed(
    fn: Callable[[str], tuple[ElfInfo | None, Verdict]], files: list[str], repeat: int
) -> tuple[float, list[tuple[ElfInfo | None, Verdict]]]:
    best = float("inf")
    out: list[tuple[ElfInfo | None, Verdict]] = []
    for _ in range(repeat):
        start = time.perf_counter()
        out = [fn(p) for p in files]
        best = min(best, time.perf_counter() - start)
    return best, out


FALLBACK_CODE = (
    "import sys\n"
    "from packbin.errors import PackbinError\n"
    "from packbin.elf.verify import run_verify_static\n"
    "try:\n"
    "    run_verify_static(sys.argv[1:], None, as_json=True, out=sys.stdout)\n"
    "except PackbinError as e:\n"
    "    sys.exit(e.exit_code)\n"
)


def packbin_command(dirs: list[str]) -> tuple[list[str], str]:
    """The whole-process packbin command and a label: the console script when it works, else python -c.

    invoke takes one value per flag, so the first directory is positional and the others go as repeated ``--also`` flags or
    after ``--``; each form is tried once for real (exit 0 or 1 means it ran: 1 = some files are
    not static, expected here).
    """
    fallback = [sys.executable, "-c", FALLBACK_CODE, *dirs]
    exe = shutil.which("packbin")
    if exe is None:
        return fallback, "python -c 'from packbin.elf.verify import run_verify_static ...' (no packbin on PATH)"
    forms = {
        "packbin verify-static --json DIR --also DIR ...": [
            exe,
            "verify-static",
            "--json",
            dirs[0],
            *(a for d in dirs[1:] for a in ("--also", d)),
        ],
        "packbin verify-static --json DIR -- DIR ...": [exe, "verify-static", "--json", dirs[0], "--", *dirs[1:]],
    }
    for label, cmd in forms.items():
        probe = subprocess.run(cmd, check=False, capture_output=True, text=True)
        if probe.returncode in (0, 1):
            return cmd, label
        last = probe.stderr.strip().splitlines()[-1:] or [f"exit {probe.returncode}"]
        print(f"note: `{label}` does not run ({last[0]})")
    return fallback, "python -c 'from packbin.elf.verify import run_verify_static ...' (the console script did not run)"


def run_process(cmd: list[str], repeat: int) -> tuple[float, dict[str, dict[str, object]]]:
    best = float("inf")
    results: dict[str, dict[str, object]] = {}
    for _ in range(repeat):
        start = time.perf_counter()
        proc = subprocess.run(cmd, check=False, capture_output=True, text=True)
        elapsed = time.perf_counter() - start
        if proc.returncode not in (0, 1):
            raise SystemExit(f"{cmd[0]} exited {proc.returncode}:\n{proc.stderr[-2000:]}")
        best = min(best, elapsed)
        results = {r["path"]: r for r in json.loads(proc.stdout)["results"]}
    return best, results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dirs", nargs="*", default=DEFAULT_DIRS)
    parser.add_argument("--repeat", type=int, default=2, help="runs per measurement; the best counts")
    args = parser.parse_args()
    dirs = [d for d in args.dirs if os.path.isdir(d)]

    files = elf_files(dirs)
    total = sum(os.path.getsize(p) for p in files)
    print(f"python {platform.python_version()}, pyelftools {elftools.__version__}, {os.cpu_count()} CPUs")
    print(f"{len(files)} ELF files, {total / 1e9:.2f} GB, under {', '.join(dirs)}")

    # -- in-process ------------------------------------------------------------------------
    t_pb, pb = timed(packbin_one, files, args.repeat)
    t_pe, pe = timed(pyelftools_one, files, args.repeat)
    disagreements = 0
    for path, (pb_info, pb_verdict), (pe_info, pe_verdict) in zip(files, pb, pe):
        diffs = []
        if pb_verdict != pe_verdict:
            diffs.append(f"verdict packbin={pb_verdict} pyelftools={pe_verdict}")
        if pb_info and pe_info:
            diffs += [
                f"{k}: packbin={getattr(pb_info, k)!r} pyelftools={getattr(pe_info, k)!r}"
                for k in FACTS
                if getattr(pb_info, k) != getattr(pe_info, k)
            ]
        if diffs:
            disagreements += 1
            print(f"DISAGREE {path}: " + "; ".join(diffs))
    failed = sum(1 for _, (ok, _) in pb if not ok)
    print(f"verdicts: {len(files) - failed} static, {failed} not; {disagreements} disagreements")
    r_pb, r_pe = len(files) / t_pb, len(files) / t_pe
    print(f"in-process  packbin    {t_pb:8.3f} s  {r_pb:10.0f} files/s")
    print(f"in-process  pyelftools {t_pe:8.3f} s  {r_pe:10.0f} files/s")
    print(f"in-process  ratio      {r_pb / r_pe:8.1f}x  (goal >= 10x)")

    # -- whole process ---------------------------------------------------------------------
    pb_cmd, pb_label = packbin_command(dirs)
    pe_cmd = [sys.executable, str(HERE / "pyelftools_verify.py"), *dirs]
    print(f"whole-process packbin command: {pb_label}")
    w_pb, pb_json = run_process(pb_cmd, args.repeat)
    w_pe, pe_json = run_process(pe_cmd, args.repeat)
    if pb_json.keys() != pe_json.keys():
        only = sorted(pb_json.keys() ^ pe_json.keys())
        print(f"DISAGREE whole-process file sets differ: {only[:10]}")
        disagreements += len(only)
    for path in sorted(pb_json.keys() & pe_json.keys()):
        a, b = pb_json[path], pe_json[path]
        if (a["ok"], a["problems"]) != (b["ok"], b["problems"]):
            disagreements += 1
            print(f"DISAGREE whole-process {path}: packbin={a['problems']} pyelftools={b['problems']}")
    print(f"whole-process packbin    {w_pb:8.3f} s  {len(pb_json) / w_pb:10.0f} files/s")
    print(f"whole-process pyelftools {w_pe:8.3f} s  {len(pe_json) / w_pe:10.0f} files/s")
    print(f"whole-process ratio      {w_pe / w_pb:8.1f}x  (goal >= 6x)")
    if disagreements:
        print(f"{disagreements} disagreements", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
