"""What smoke-pack-binaries reports: each run of a binary, each binary skipped, and the whole."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class SmokeRun:
    """One container run of one binary with one argument list."""

    arch: str
    binary: str
    image: str
    platform: str
    args: tuple[str, ...]
    exit_code: int | None  # None: the engine refused to start the container
    started: bool  # False: the binary could not be executed at all (refused, or runc's exec failed)
    output: tuple[str, ...]  # stdout and stderr, interleaved as the container wrote them
    problem: str | None  # None when the run passed its checks
    seconds: float

    @property
    def ok(self) -> bool:
        """True when the run passed its checks."""
        return self.problem is None

    @property
    def command(self) -> str:
        """The command line that ran in the container."""
        return " ".join((self.binary, *self.args))


@dataclass(frozen=True, kw_only=True)
class SmokeSkip:
    """A binary that was not run, and why."""

    arch: str
    binary: str
    reason: str
    hint: str = ""


@dataclass(frozen=True, kw_only=True)
class SmokeReport:
    """Every run and every skip of one smoke invocation."""

    endpoint: str
    native_platform: str
    runs: tuple[SmokeRun, ...]
    skipped: tuple[SmokeSkip, ...]

    @property
    def failed(self) -> tuple[SmokeRun, ...]:
        """The runs that failed their checks."""
        return tuple(r for r in self.runs if not r.ok)

    @property
    def ok(self) -> bool:
        """True when no run failed."""
        return not self.failed


__all__ = ["SmokeReport", "SmokeRun", "SmokeSkip"]
