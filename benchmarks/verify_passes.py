"""In-process verify-static work, N passes, for counting instructions (issue 8's speed bound).

    valgrind --tool=callgrind python3.11 benchmarks/verify_passes.py 2 [DIR ...]
    valgrind --tool=callgrind python3.11 benchmarks/verify_passes.py 0 [DIR ...]

Lists the ELF files under the directories (default: bench_verify.py's), then parses and judges
each (the static policy, any architecture) N times. The second run's count, subtracted from the
first's, is the cost of the N passes without start-up and listing. Wall time on a shared machine
moves by 15% from run to run; instruction counts do not. Run it against older code with
``PYTHONPATH=OLD_TREE/src`` (the import below falls back to the layout before packbin.elf/).
Use the real interpreter, not a pyenv shim, or callgrind counts the shim's bash.
"""

from __future__ import annotations

import os
import sys

from elf_walk import DEFAULT_DIRS, is_elf, walk_tree

from packbin.elf import ElfError, parse_elf

try:
    from packbin.elf import static_problems
except ImportError:  # before the elf/ package: the policy was packbin.policy
    from packbin.policy import static_problems  # type: ignore[import-not-found,no-redef]


def elf_files(dirs: list[str]) -> list[str]:
    """The regular files under ``dirs`` that start with the ELF magic."""
    return [p for d in dirs if os.path.isdir(d) for p in walk_tree(d) if is_elf(p)]


def main() -> int:
    passes = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    files = elf_files(sys.argv[2:] or DEFAULT_DIRS)
    for _ in range(passes):
        for path in files:
            try:
                static_problems(parse_elf(path), None)
            except ElfError:
                pass
    print(f"{len(files)} ELF files, {passes} passes", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
