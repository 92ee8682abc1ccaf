"""What the user asked build-pack-binaries for: the task's flags, parsed and checked once."""

from __future__ import annotations

from dataclasses import dataclass

from packbin.errors import UsageError


@dataclass(frozen=True, kw_only=True)
class BuildRequest:
    """What the user asked for (the task's flags, already parsed)."""

    arch: str | None = None  # None: the configured default; "all"; or names/aliases, comma-separated
    binaries: tuple[str, ...] = ()
    jobs: int | None = None  # None: every architecture at once
    force: bool = False
    deploy_arch: str | None = None
    as_json: bool = False
    rebuild_image: bool = False
    dry_run: bool = False  # print the plan; no engine, no container, nothing written
    check_reproducible: bool = False  # then rebuild every selected binary in fresh volumes and compare

    def __post_init__(self) -> None:
        # The one check of --jobs, whether it came from the command line or from Python.
        if self.jobs is not None and self.jobs < 1:
            if self.jobs < 0:
                raise UsageError(f"--jobs must be 0 (all at once) or more, got {self.jobs}")
            raise UsageError(f"--jobs must be at least 1, got {self.jobs}")

    @staticmethod
    def jobs_from_flag(value: str) -> int | None:
        """``--jobs`` as typed: a whole number, 0 meaning every architecture at once (None).

        Converted here rather than by invoke, whose int conversion of a bad value is a traceback;
        the range is checked by the request itself.
        """
        try:
            n = int(value)
        except ValueError:
            raise UsageError(f"--jobs takes a whole number, got {value!r}") from None
        return n or None
