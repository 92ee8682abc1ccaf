"""One error hierarchy for packbin.

Every error carries the exit code the command line ends with and a message that says what
failed and what to try next. Low-level errors are wrapped with ``raise ... from e`` where the
context is known; the CLI catches :class:`PackbinError` once, at the top, and prints the message
without a traceback (set ``PACKBIN_DEBUG=1`` to see one).
"""

from __future__ import annotations

import os


class PackbinError(Exception):
    """Base class: a failure with a user-facing message and an exit code."""

    exit_code: int = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message}\n  hint: {self.hint}"
        return self.message


class CheckFailed(PackbinError):
    """The command ran, and something it checked failed (a verify verdict, a refused file)."""

    exit_code = 1


class UsageError(PackbinError):
    """Bad arguments: the command could not run."""

    exit_code = 2


class ConfigError(UsageError):
    """buildcfg.toml (or an override) is malformed or inconsistent."""

    exit_code = 2


class EngineError(PackbinError):
    """The Docker engine is unreachable or refused an operation."""

    exit_code = 3


class BuildError(PackbinError):
    """A builder image or a cargo build failed."""

    exit_code = 4


class ArtifactRejected(PackbinError):
    """An artifact failed extraction checks or ELF verification; nothing was installed."""

    exit_code = 5


class InstallError(PackbinError):
    """Writing into dist/, packs/ or a volume failed."""

    exit_code = 6


class Interrupted(PackbinError):
    """Ctrl-C, SIGTERM or SIGHUP: cleaned up, nothing half-installed. Exit 128 + the signal."""

    exit_code = 130

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        # Raised while handling a Terminated (see packbin.cli.program): exit as that signal says.
        self.exit_code = 128 + _last_signal if _last_signal else 130


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP arrived: unwinds like Ctrl-C (containers removed, nothing installed)."""

    def __init__(self, signum: int, name: str) -> None:
        super().__init__(name)
        self.signum = signum
        self.name = name


#: The last terminating signal received (0: none, or Ctrl-C).
_last_signal = 0


def note_signal(signum: int) -> None:
    """Record a terminating signal (called by the handlers in packbin.cli.program)."""
    global _last_signal
    _last_signal = signum


def interrupt_exit_code(e: BaseException) -> int:
    """130 for Ctrl-C, 128 + N for a Terminated by signal N (143 SIGTERM, 129 SIGHUP)."""
    return 128 + e.signum if isinstance(e, Terminated) else 130


def interrupt_words(e: BaseException) -> str:
    """How an interruption is reported: ``interrupted``, or ``terminated (SIGTERM); cleaned up``."""
    return f"terminated ({e.name}); cleaned up" if isinstance(e, Terminated) else "interrupted"


def display_path(path: str) -> str:
    """``path`` printable on any terminal: bytes that are not UTF-8 and control characters appear
    as ``\\xNN`` escapes (file names are bytes; a strict UTF-8 stdout cannot print the rest)."""
    if path.isprintable() and path.isascii():
        return path
    text = os.fsencode(path).decode("utf-8", "backslashreplace")
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)
