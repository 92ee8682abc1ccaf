"""One error hierarchy for packbin.

Every error carries the exit code the command line ends with and a message that says what
failed and what to try next. Low-level errors are wrapped with ``raise ... from e`` where the
context is known; the CLI catches :class:`PackbinError` once, at the top, and prints the message
without a traceback (set ``PACKBIN_DEBUG=1`` to see one).
"""

from __future__ import annotations


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
    """Ctrl-C: cleaned up, nothing half-installed."""

    exit_code = 130
