"""The ``packbin`` console script: invoke's Program over the same Collection as tasks.py."""

from __future__ import annotations

import json
import shlex
import signal
import sys
import threading
from types import FrameType

from invoke.exceptions import ParseError
from invoke.program import Program

from packbin import __version__
from packbin.errors import Terminated, note_signal
from packbin.tasks import ns

#: Exit code for bad arguments ("could not run"), as for packbin's own UsageError.
USAGE_EXIT = 2


class PackbinProgram(Program):
    """invoke's Program, except that a command-line parse error exits 2, not 1.

    packbin keeps 1 for "ran, and some check failed" (verify-static, init-packs).
    """

    _parse_failed = False

    def parse_tasks(self) -> None:
        try:
            super().parse_tasks()
        except ParseError as e:
            # `verify-static [--json] -- a b`: every path after the bare `--`. invoke requires the
            # positional PATH before it, so the first path after `--` becomes PATH.
            words = shlex.split(self.core.remainder or "")
            if "verify-static" in self.core.unparsed[:1] and "positional" in str(e) and words:
                self.core.unparsed.append(words[0])
                self.core.remainder = shlex.join(words[1:])
                try:
                    super().parse_tasks()
                    return
                except ParseError:
                    pass
            self._parse_failed = True
            raise

    def parse_core(self, argv: list[str] | None) -> None:
        try:
            super().parse_core(argv)
        except ParseError:
            self._parse_failed = True
            raise

    def run(self, argv: list[str] | None = None, exit: bool = True) -> None:
        try:
            super().run(argv, exit)
        except SystemExit as e:
            if self._parse_failed and e.code == 1:
                if "--json" in (argv if argv is not None else sys.argv):
                    sys.stdout.write(json.dumps({"error": {"message": "bad arguments (see stderr)", "hint": None, "exit_code": USAGE_EXIT}}) + "\n")
                raise SystemExit(USAGE_EXIT) from None
            raise


program = PackbinProgram(namespace=ns, version=__version__, name="packbin", binary="packbin")


def install_signal_handlers() -> None:
    """Make SIGTERM and SIGHUP unwind like Ctrl-C: a :class:`Terminated` (a KeyboardInterrupt)
    raised in the main thread, so every ``finally`` and ``except KeyboardInterrupt`` runs
    (containers removed, temp files unlinked, nothing installed); the exit code is 128 + N.

    CI cancellation, ``timeout`` and process managers send SIGTERM; a closed terminal sends SIGHUP.
    A signal that was ignored when packbin started (``nohup``) stays ignored.
    """
    if threading.current_thread() is not threading.main_thread():
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        note_signal(signum)
        raise Terminated(signum, signal.Signals(signum).name)

    for sig in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(sig) is not signal.SIG_IGN:
            signal.signal(sig, handler)


def main() -> None:
    install_signal_handlers()
    program.run()


if __name__ == "__main__":
    main()
