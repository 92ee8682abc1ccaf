"""The ``packbin`` console script: invoke's Program over the same Collection as tasks.py."""

from __future__ import annotations

import difflib
import inspect
import json
import os
import re
import shlex
import signal
import sys
import threading
from types import FrameType

from invoke.exceptions import Exit, ParseError
from invoke.parser.context import ParserContext
from invoke.program import Program

from packbin import __version__
from packbin.errors import Terminated, note_signal
from packbin.tasks import ns

#: Exit code for bad arguments ("could not run"), as for packbin's own UsageError.
USAGE_EXIT = 2

#: invoke's core flags about running shell commands and invoke's own config files: packbin runs
#: no shell commands, so they would be accepted and do nothing (``-R`` would still build).
#: Hidden from ``packbin --help`` and refused when given.
IGNORED_CORE_FLAGS = (
    "command-timeout",
    "config",
    "dry",
    "echo",
    "hide",
    "prompt-for-sudo-password",
    "pty",
    "warn-only",
    "write-pyc",
)

HELP_TOKENS = ("-h", "--help")

_UNKNOWN_TASK = re.compile(r"^No idea what '(.*)' is!$")


class PackbinProgram(Program):
    """invoke's Program, except that:

    - a command-line parse error exits 2, not 1 (packbin keeps 1 for "ran, and some check
      failed": verify-static, init-packs), as one line ``packbin: error: ...``;
    - an unknown task gets a "did you mean ...?" suggestion;
    - ``TASK --help`` / ``TASK -h`` works for tasks with a positional argument, whose parser
      would otherwise take ``--help`` as the path;
    - invoke's core flags that mean nothing for packbin are hidden and refused.
    """

    _parse_failed = False

    def _fail(self, message: str) -> ParseError:
        self._parse_failed = True
        return ParseError(f"packbin: error: {message}")

    def parse_core(self, argv: list[str] | None) -> None:
        """invoke's core parsing, its errors turned into packbin's one-line error."""
        try:
            super().parse_core(argv)
        except ParseError as e:
            raise self._fail(str(e)) from None

    def parse_tasks(self) -> None:
        """Parse the task part; ``<task> --help`` prints that task's help and stops."""
        wanted = _help_target(self.core.unparsed, list(self.collection.task_names))
        if wanted is not None:
            self.print_task_help(wanted)
            raise Exit
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
            raise self._fail(self._explain(str(e))) from None

    def parse_cleanup(self) -> None:
        """Refuse invoke's shell-command flags (--echo, --dry ...), which packbin does not run."""
        given = [f"--{a.name}" for a in self.args.values() if a.name in IGNORED_CORE_FLAGS and a.got_value]
        if given:
            raise self._fail(
                f"{', '.join(given)}: invoke's option{'s' if len(given) > 1 else ''} for shell commands, which packbin does not run"
                + "; build-pack-binaries --dry-run shows what a build would do"
            )
        try:
            super().parse_cleanup()
        except ParseError as e:
            raise self._fail(self._explain(str(e))) from None

    def _explain(self, message: str) -> str:
        m = _UNKNOWN_TASK.match(message)
        if not m:
            return message
        name = m.group(1)
        if name.startswith("-"):
            return f"unknown option {name}\n  hint: `packbin --help` lists the options, `packbin TASK --help` a task's"
        close = _suggest(name, list(self.collection.task_names))
        suggestion = f" (did you mean {close!r}?)" if close else ""
        return f"no task named {name!r}{suggestion}\n  hint: `packbin --list` lists the tasks"

    def run(self, argv: list[str] | None = None, exit: bool = True) -> None:
        """Run the command line; a parse failure under ``--json`` prints an error document."""
        try:
            super().run(argv, exit)
        except SystemExit as e:
            if self._parse_failed and e.code == 1:
                if "--json" in (argv if argv is not None else sys.argv):
                    sys.stdout.write(
                        json.dumps(
                            {"error": {"message": "bad arguments (see stderr)", "hint": None, "exit_code": USAGE_EXIT}}
                        )
                        + "\n"
                    )
                raise SystemExit(USAGE_EXIT) from None
            raise

    def update_config(self, merge: bool = True) -> None:
        """Merge invoke's config without loading runtime files: packbin runs no shell commands."""
        # invoke's overrides (run.echo, run.dry, timeouts, a runtime config file) all concern
        # shell commands; their flags are refused above, so there is nothing to load.
        if merge:
            self.config.merge()

    def print_help(self) -> None:
        """The top-level help: core options (without the hidden ones) and the task list."""
        print(f"Usage: {self.binary} [--core-opts] <task> [--task-opts] ...")
        print()
        print("Core options:")
        print()
        shown = [a for a in self.core_args() if a.name not in IGNORED_CORE_FLAGS]
        self.print_columns(ParserContext(args=shown).help_tuples())
        self.list_tasks()

    def print_task_help(self, name: str) -> None:
        """invoke's per-task help, with positional arguments shown as positional."""
        task = ns[name]
        args = task.get_arguments()
        positional = [a for a in args if a.positional]
        flags = [a for a in args if not a.positional]
        usage = " ".join(
            ["Usage:", self.binary, name, *(["[--options]"] if flags else []), *(a.name.upper() for a in positional)]
        )
        print(usage)
        print()
        doc = inspect.getdoc(task)
        for line in (doc or "").splitlines():
            print(self.leading_indent + line if line.strip() else "")
        print()
        if positional:
            print("Arguments:")
            self.print_columns([(a.name.upper(), a.help) for a in positional])
        print("Options:")
        if flags:
            self.print_columns(ParserContext(args=flags).help_tuples())
        else:
            print(self.leading_indent + "none")
            print()


def _suggest(name: str, tasks: list[str]) -> str | None:
    """The task ``name`` was probably meant to be: a close whole name, else a close prefix (buidl -> build-...)."""
    close = difflib.get_close_matches(name, tasks, n=1)
    if close:
        return close[0]
    prefixes = {t[: len(name)]: t for t in sorted(tasks, reverse=True)}  # the first task wins a shared prefix
    close = difflib.get_close_matches(name, list(prefixes), n=1, cutoff=0.75)
    return prefixes[close[0]] if close else None


def _help_target(argv: list[str], tasks: list[str]) -> str | None:
    """The task whose ``--help``/``-h`` appears among its arguments (before a bare ``--``), if any."""
    current: str | None = None
    for token in argv:
        if token == "--":
            return None
        if token in tasks:
            current = token
        elif token in HELP_TOKENS and current is not None:
            return current
    return None


def print_task_help(name: str, binary: str) -> None:
    """Print ``name``'s help as ``binary TASK --help`` would (for the ``invoke`` command too)."""
    PackbinProgram(namespace=ns, version=__version__, name="packbin", binary=binary).print_task_help(name)


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
    """The ``packbin`` console script: run the command line with packbin's signal handling and exit codes."""
    install_signal_handlers()
    try:
        program.run()
        sys.stdout.flush()
    except BrokenPipeError:
        # `packbin --list | head -1`: the reader left. Point stdout at /dev/null so the
        # interpreter's final flush does not fail again, and exit like a process killed by SIGPIPE.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        raise SystemExit(128 + 13) from None


if __name__ == "__main__":
    main()
