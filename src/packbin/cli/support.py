"""How packbin's invoke tasks behave alike: one meaning per short flag, each task's help, signals
(SIGTERM and SIGHUP unwind like Ctrl-C), and user errors turned into one line and an exit code,
under ``--json`` also the one error document.

The tasks (packbin.cli.tasks) and the ``packbin`` program (packbin.cli.program) both import it; it
imports neither."""

from __future__ import annotations

import functools
import inspect
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any, TypeVar

from invoke.exceptions import Exit
from invoke.parser.context import ParserContext
from invoke.program import Program
from invoke.tasks import Task, task

from packbin.errors import (
    CheckFailed,
    PackbinError,
    Terminated,
    UsageError,
    display_path,
    interrupt_exit_code,
    interrupt_words,
    note_signal,
)

F = TypeVar("F", bound=Callable[..., Any])

#: The only short flags, each with one meaning in every task (`-h` stays invoke's --help).
#: invoke would otherwise derive them from first letters, task by task (-a was --arch here and
#: --also there).
SHORT_FLAGS = {"arch": "a", "binary": "b", "jobs": "j", "force": "f", "dry_run": "n"}


class PackbinTask(Task[Any]):
    """An invoke Task whose short flags come from SHORT_FLAGS instead of first letters."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["auto_shortflags"] = False
        super().__init__(*args, **kwargs)

    def arg_opts(self, name: str, default: Any, taken_names: Any) -> dict[str, Any]:
        """invoke's flag options, with the short flag from SHORT_FLAGS instead of the first letter."""
        opts: dict[str, Any] = super().arg_opts(name, default, taken_names)
        short = SHORT_FLAGS.get(name)
        if short and short not in taken_names and not opts["positional"]:
            opts["names"].append(short)
        return opts


def packbin_task(*args: Any, **kwargs: Any) -> Callable[..., Any]:
    """invoke's @task with PackbinTask."""
    return task(*args, klass=PackbinTask, **kwargs)


def help_asked(value: str, the_task: Task[Any]) -> bool:
    """`invoke TASK --help` on a task with a positional argument: invoke hands `--help` over as the
    argument (the `packbin` command catches it before); print the task's help instead."""
    if value not in ("-h", "--help"):
        return False
    argv0 = os.path.basename(sys.argv[0])
    binary = os.path.basename(os.path.dirname(sys.argv[0])) if argv0 == "__main__.py" else argv0 or "packbin"
    print_task_help(the_task, the_task.name.replace("_", "-"), Program(name="packbin", binary=binary))
    return True


def print_task_help(the_task: Task[Any], name: str, program: Program) -> None:
    """invoke's per-task help as ``program.binary name --help`` prints it, with positional
    arguments shown as positional (for the ``packbin`` command and the ``invoke`` one)."""
    args = the_task.get_arguments()
    positional = [a for a in args if a.positional]
    flags = [a for a in args if not a.positional]
    usage = " ".join(
        [
            "Usage:",
            program.binary,
            name,
            *(["[--options]"] if flags else []),
            *((a.name or "").upper() for a in positional),
        ]
    )
    print(usage)
    print()
    doc = inspect.getdoc(the_task)
    for line in (doc or "").splitlines():
        print(program.leading_indent + line if line.strip() else "")
    print()
    if positional:
        print("Arguments:")
        program.print_columns([((a.name or "").upper(), a.help) for a in positional])
    print("Options:")
    if flags:
        program.print_columns(ParserContext(args=flags).help_tuples())
    else:
        print(program.leading_indent + "none")
        print()


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


def user_errors(fn: F) -> F:
    """Turn PackbinError (and Ctrl-C, SIGTERM, SIGHUP) into invoke.Exit with the error's message and code.

    Under ``--json``, every such exit also prints ``{"error": {...}}`` on stdout (see
    :func:`print_json_error`), so a consumer of the document always gets one: except a
    :class:`CheckFailed` (exit 1), whose report (with the failures) was the document.
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        logging.basicConfig(
            level=logging.DEBUG if os.environ.get("PACKBIN_DEBUG") else logging.WARNING,
            format="%(levelname)s %(name)s: %(message)s",
        )
        install_signal_handlers()
        # File names are bytes: a strict stdout (PYTHONIOENCODING=utf-8:strict) must not turn one
        # into a traceback halfway through a report. Reports escape names; this is the backstop.
        if hasattr(sys.stdout, "reconfigure"):
            sys.stdout.reconfigure(errors="backslashreplace")
        try:
            return fn(*args, **kwargs)
        except PackbinError as e:
            if os.environ.get("PACKBIN_DEBUG"):
                raise
            if kwargs.get("json") and not isinstance(e, CheckFailed):
                print_json_error(e.message, e.exit_code, hint=e.hint)
            raise Exit(f"packbin: error: {e}", code=e.exit_code) from None
        except KeyboardInterrupt as e:
            if kwargs.get("json"):
                print_json_error(interrupt_words(e), interrupt_exit_code(e))
            raise Exit(f"packbin: {interrupt_words(e)}", code=interrupt_exit_code(e)) from None
        except OSError as e:
            # The backstop for a path the user gave that the system refuses where no step
            # expected it (a name longer than NAME_MAX, a file where a directory should be):
            # one line and exit 2, never a traceback.
            if os.environ.get("PACKBIN_DEBUG"):
                raise
            where = f"{display_path(os.fsdecode(e.filename))}: " if isinstance(e.filename, (str, bytes)) else ""
            message = f"cannot use {where}{e.strerror or e}"
            if kwargs.get("json"):
                print_json_error(message, UsageError.exit_code)
            raise Exit(f"packbin: error: {message}", code=UsageError.exit_code) from None

    return wrapper  # type: ignore[return-value]


def print_json_error(message: str, code: int, *, hint: str | None = None) -> None:
    """The ``--json`` document of a run that ended in an error, on stdout:
    ``{"error": {"message", "hint", "exit_code"}}``. The one writer of that document: the tasks'
    errors (:func:`user_errors`) and the command line's parse errors (packbin.cli.program) both use it."""
    import json as _json

    sys.stdout.write(_json.dumps({"error": {"message": message, "hint": hint, "exit_code": code}}) + "\n")
    sys.stdout.flush()
