"""init-packs' report: what was copied, kept, refused or deleted, and its text form."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from packbin.errors import display_path


@dataclass(frozen=True, kw_only=True)
class DeployReport:
    """What init-packs did (or, with dry_run, would do). Paths are POSIX, relative to DEST."""

    copied: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    preserved: tuple[tuple[str, str], ...] = ()  # (path, reason)
    refused: tuple[tuple[str, str], ...] = ()  # (path, reason)
    deleted: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when nothing was refused (exit code 0)."""
        return not self.refused

    def with_failures(self, failed: Mapping[str, str]) -> DeployReport:
        """The planned report after applying it: paths whose write failed move to refused."""
        return DeployReport(
            copied=tuple(p for p in self.copied if p not in failed),
            unchanged=self.unchanged,
            preserved=self.preserved,
            refused=tuple(sorted({**dict(self.refused), **failed}.items())),
            deleted=tuple(p for p in self.deleted if p not in failed),
        )

    def to_json(self) -> dict[str, list[str] | list[dict[str, str]]]:
        """The ``--json`` document of issue 4."""
        return {
            "copied": list(self.copied),
            "unchanged": list(self.unchanged),
            "preserved": [{"path": p, "reason": r} for p, r in self.preserved],
            "refused": [{"path": p, "reason": r} for p, r in self.refused],
            "deleted": list(self.deleted),
        }


def format_report(report: DeployReport, *, dest: str, dry_run: bool = False) -> str:
    """The human report: one summary line, then every path that was not unchanged."""
    verb = "would be " if dry_run else ""
    summary = (
        f"init-packs -> {dest}{' (dry run)' if dry_run else ''}: {len(report.copied)} {verb}copied, "
        f"{len(report.unchanged)} unchanged, {len(report.preserved)} preserved, {len(report.refused)} refused, "
        f"{len(report.deleted)} {verb}deleted"
    )
    lines = [summary]
    # Names are bytes on disk: escape what a strict UTF-8 stdout could not print.
    d = display_path
    lines += [f"  copied     {d(p)}" for p in report.copied]
    lines += [f"  deleted    {d(p)}" for p in report.deleted]
    lines += [f"  preserved  {d(p)}: {d(r)}" for p, r in report.preserved]
    lines += [f"  refused    {d(p)}: {d(r)}" for p, r in report.refused]
    return "\n".join(lines) + "\n"
