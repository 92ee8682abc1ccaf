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
    replaced: tuple[str, ...] = ()  # the paths of ``copied`` that replace a file DEST held

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
            replaced=tuple(p for p in self.replaced if p not in failed),
        )

    def to_json(self, *, dry_run: bool = False) -> dict[str, bool | list[str] | list[dict[str, str]]]:
        """The ``--json`` document of issue 4; with ``dry_run`` the lists say what a run would do."""
        return {
            "dry_run": dry_run,
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
    # A dry run changed nothing: its rows say what a run would do (and which copies replace a file).
    words, w = (_DRY_WORDS, 14) if dry_run else (_WORDS, 11)
    replaced = set(report.replaced) if dry_run else set()
    lines += [f"  {words['replaced' if p in replaced else 'copied']:<{w}}{d(p)}" for p in report.copied]
    lines += [f"  {words['deleted']:<{w}}{d(p)}" for p in report.deleted]
    lines += [f"  {words['preserved']:<{w}}{d(p)}: {d(r)}" for p, r in report.preserved]
    lines += [f"  {words['refused']:<{w}}{d(p)}: {d(r)}" for p, r in report.refused]
    return "\n".join(lines) + "\n"


_WORDS = {"copied": "copied", "deleted": "deleted", "preserved": "preserved", "refused": "refused"}
_DRY_WORDS = {
    "copied": "would copy",
    "replaced": "would replace",
    "deleted": "would delete",
    "preserved": "would keep",
    "refused": "would refuse",
}
