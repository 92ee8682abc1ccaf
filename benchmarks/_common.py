"""What the benchmark scripts share: the checkout, progress lines, timed commands, medians, and
packbin's names for its build volumes and locks.

The scripts run as ``python benchmarks/<script>.py``, so this directory is first on ``sys.path``
and ``import _common`` finds this file. Nothing here imports packbin at module level: a script
decides which packbin it measures (the installed one, or the checkout's ``src/`` through
:data:`CHECKOUT_PATHS`).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

if TYPE_CHECKING:
    from packbin.engine import Engine

#: The checkout this file is in.
REPO = Path(__file__).resolve().parent.parent
#: What a script puts first on ``sys.path`` to import this checkout's packbin and ``tests.support``.
CHECKOUT_PATHS = [str(REPO), str(REPO / "src")]


class BenchError(Exception):
    """The benchmark could not run: a command failed, or what it measures is not there."""


def say(msg: str) -> None:
    """Progress on stderr (the figures go to stdout)."""
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def loadavg() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def timed(
    cmd: Sequence[str], *, cwd: Path | None = None, env: dict[str, str] | None = None
) -> tuple[float, subprocess.CompletedProcess[str]]:
    """(wall seconds, the finished process) of ``cmd``, its output captured; BenchError when it fails."""
    t0 = time.perf_counter()
    proc = subprocess.run(list(cmd), cwd=cwd, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        where = f" (in {cwd})" if cwd is not None else ""
        raise BenchError(
            f"{' '.join(cmd)}{where} failed with exit status {proc.returncode}:\n"
            f"{proc.stdout[-3000:]}{proc.stderr[-3000:]}"
        )
    return elapsed, proc


def checkout_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This environment with the checkout's ``src/`` as PYTHONPATH (a child ``python -m packbin``
    runs this checkout's code), plus ``extra``."""
    return dict(os.environ, PYTHONPATH=str(REPO / "src"), **(extra or {}))


def packbin_timed(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> tuple[float, subprocess.CompletedProcess[str]]:
    """A whole ``python -m packbin ARGS`` process of this checkout's code, timed (see :func:`timed`)."""
    return timed([sys.executable, "-m", "packbin", *args], cwd=cwd, env=checkout_env(env))


def write_bytecode() -> list[str]:
    """Compile packbin's modules (this checkout's ``src/`` and the installed package, which may be
    another directory) and this checkout's tasks.py to bytecode, as installing a wheel does, and
    return the directories compiled.

    A timed run then measures packbin, not the compiler: with PYTHONDONTWRITEBYTECODE=1 (set in
    some environments, this one included) and no ``.pyc`` files, every run recompiles every
    module, about 0.1 s of a 0.2 s no-op. Python still reads ``.pyc`` files under that variable.
    """
    find = "import importlib.util, pathlib; s = importlib.util.find_spec('packbin'); print(pathlib.Path(s.origin).parent if s and s.origin else '')"
    installed = subprocess.run(
        [sys.executable, "-c", find], cwd="/", capture_output=True, text=True, check=False
    ).stdout.strip()
    dirs = sorted({str(REPO / "src" / "packbin"), *([installed] if installed else [])})
    proc = subprocess.run(
        [sys.executable, "-m", "compileall", "-q", *dirs, str(REPO / "tasks.py")],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise BenchError(f"compileall failed:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    say(f"bytecode written for {', '.join(dirs)} (as an install does)")
    return dirs


def median(xs: Sequence[float]) -> float:
    return statistics.median(xs)


def spread(xs: Sequence[float]) -> str:
    return f"min {min(xs):.2f} max {max(xs):.2f}" if len(xs) > 1 else ""


def exit_from(main: Callable[[], int]) -> NoReturn:
    """``sys.exit(main())``; a BenchError ends the script with its message on stderr and exit
    status 1 (as ``raise SystemExit(message)`` does)."""
    try:
        status = main()
    except BenchError as e:
        raise SystemExit(str(e)) from None
    sys.exit(status)


# -- packbin's names for a target's build volumes and lock ---------------------------------------
# The one place the benchmarks name them (bench_build, bench_workspace), from packbin.build.volumes,
# the home of every volume name and lock path packbin uses.


def build_volumes(triple: str) -> tuple[str, str]:
    """The target volume and the zig-cache volume packbin builds ``triple`` with."""
    from packbin.build.volumes import WARM

    caches = WARM.for_target(triple)
    return caches.target, caches.zigcache


def build_lock_path(engine: Engine, triple: str) -> Path:
    """The lock packbin's (warm) builds of ``triple`` on ``engine`` hold: holding it while the
    target's volumes are removed waits for a concurrent build instead of breaking it."""
    from packbin.build.volumes import WARM

    return WARM.lock_path(engine, triple)
