"""The planner shared by the directory destination and the Docker volume: what to write, keep, refuse, delete."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol

from packbin.arch import Architecture
from packbin.deploy.entries import Entry, SourceItem, SourceTree, add_reason, ancestors, kind_words, rel_parts
from packbin.deploy.report import DeployReport
from packbin.deploy.verdicts import ELF_MAGIC, NOT_ELF, Verdict, judge_path


class DestView(Protocol):
    """What DEST holds, as the planner sees it: a listing plus lazy reads for the few files it must judge.

    ``entries`` holds every path below every DEST directory that the source also has as a
    directory (and, for ``delete``, below every DEST directory). A path missing from it whose
    ancestors are all listed directories is absent.
    """

    #: How finely DEST keeps mtimes: 1 for a filesystem, 10**9 for a tar read back from the engine.
    mtime_granularity_ns: int

    @property
    def entries(self) -> Mapping[str, Entry]:
        """Every entry below DEST by relative path (directories, files, symlinks, others)."""
        ...

    def verdict(self, rel: str) -> Verdict:
        """The verifier's verdict on the regular file at ``rel`` (read now, cached)."""
        ...

    def same_content(self, rel: str, item: SourceItem) -> bool:
        """Whether the regular file at ``rel`` has exactly the bytes of ``item``."""
        ...


Op = Literal["mkdir", "chmod", "write", "delete"]


@dataclass(frozen=True, kw_only=True, slots=True)
class Action:
    """One change to DEST. ``expect`` is what DEST held at ``rel`` when planned (None: nothing)."""

    op: Op
    rel: str
    item: SourceItem | None = None  # mkdir, chmod, write
    expect: Entry | None = None


@dataclass(frozen=True, kw_only=True)
class DeployPlan:
    """The changes, in the order to apply them, and the report they produce if all succeed."""

    actions: tuple[Action, ...]
    report: DeployReport


def plan_deploy(
    source: SourceTree,
    dest: DestView,
    arch: Architecture,
    *,
    delete: bool = False,
    checksum: bool = False,
    source_verdict: Callable[[SourceItem], Verdict] | None = None,
) -> DeployPlan:
    """Apply the rules to (source, what DEST holds): no writes, reads only where a rule needs content.

    Reads happen only when a file differs and DEST's file might be a protected binary, for
    ``checksum``, and for ``delete`` candidates; the unchanged path reads nothing.
    """
    entries = dest.entries
    judge_source = source_verdict or (lambda item: judge_path(item.path, arch))
    draft = _Draft(refused=dict(source.refused))
    gran = max(1, dest.mtime_granularity_ns)

    for rel in source.order:
        if draft.blocked and any(a in draft.blocked for a in ancestors(rel)):
            continue
        item = source.items[rel]
        src = item.entry
        have = entries.get(rel)
        if src.kind == "dir":
            _plan_dir(draft, item, have)
            continue
        if have is None:
            draft.actions.append(Action(op="write", rel=rel, item=item))
            draft.copied.append(rel)
            continue
        if have.kind in ("dir", "other"):
            add_reason(
                draft.refused,
                rel,
                f"DEST has {kind_words(have.kind)} where the source has {kind_words(src.kind)}; left alone",
            )
            continue
        if _unchanged(item, have, dest, gran, checksum):
            draft.unchanged.append(rel)
            continue
        if _kept(draft, item, have, dest.verdict, arch, judge_source):
            continue
        draft.actions.append(Action(op="write", rel=rel, item=item, expect=have))
        draft.copied.append(rel)
        draft.replaced.append(rel)

    deleted: list[str] = []
    if delete:
        deleted = _plan_deletions(source, dest, arch, draft)
    # Directory modes last, deepest first, so a read-only source directory does not stop its own filling.
    draft.actions.extend(sorted(draft.chmods, key=lambda a: rel_parts(a.rel), reverse=True))
    report = DeployReport(
        copied=tuple(draft.copied),
        unchanged=tuple(draft.unchanged),
        preserved=tuple(sorted(draft.preserved)),
        refused=tuple(sorted(draft.refused.items())),
        deleted=tuple(deleted),
        replaced=tuple(draft.replaced),
    )
    return DeployPlan(actions=tuple(draft.actions), report=report)


@dataclass(kw_only=True)
class _Draft:
    """The plan being made: the actions so far and what the report will say."""

    refused: dict[str, str]
    blocked: set[str] = field(default_factory=set)  # source directories that DEST holds as something else
    actions: list[Action] = field(default_factory=list)
    chmods: list[Action] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    preserved: list[tuple[str, str]] = field(default_factory=list)
    copied: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)  # the copies over a file DEST holds


def _plan_dir(draft: _Draft, item: SourceItem, have: Entry | None) -> None:
    """A source directory: made (its mode set at the end), its mode fixed, or refused when DEST holds something else."""
    rel = item.rel
    if have is None:
        draft.actions.append(Action(op="mkdir", rel=rel, item=item))
        draft.chmods.append(Action(op="chmod", rel=rel, item=item))
    elif have.kind == "dir":
        if have.mode != item.entry.mode:
            draft.chmods.append(Action(op="chmod", rel=rel, item=item, expect=have))
    else:
        draft.blocked.add(rel)
        add_reason(
            draft.refused,
            rel,
            f"DEST has {kind_words(have.kind)} where the source has a directory; left alone, nothing below it copied",
        )


def _kept(
    draft: _Draft,
    item: SourceItem,
    have: Entry,
    dest_verdict: Callable[[str], Verdict],
    arch: Architecture,
    judge_source: Callable[[SourceItem], Verdict],
) -> bool:
    """Whether DEST's differing file stays (refused or preserved, recorded in ``draft``): a static
    executable of ARCH (or maybe one) is replaced only by a verified one."""
    rel, src = item.rel, item.entry
    held = dest_verdict(rel) if have.kind == "file" and have.size >= len(ELF_MAGIC) else NOT_ELF
    if not (held.ok or held.undecided):
        return False
    cand = item.verdict if item.verdict is not None else (judge_source(item) if src.kind == "file" else None)
    if cand is not None and cand.undecided and not held.undecided:
        add_reason(
            draft.refused,
            rel,
            f"the source's file cannot be judged ({cand.undecided}); DEST's static executable kept",
        )
        return True
    if held.undecided and (cand is None or not cand.ok):
        add_reason(
            draft.refused,
            rel,
            f"DEST's file cannot be judged ({held.undecided}) and the source's is not a verified static executable; left alone",
        )
        return True
    if cand is None or not cand.ok:
        what = cand.describe() if cand is not None else f"a symlink to {src.link!r}"
        draft.preserved.append(
            (
                rel,
                f"DEST has a static {arch.describe_machine()} executable and the source's file is not one ({what}); kept",
            )
        )
        return True
    return False


def _unchanged(item: SourceItem, have: Entry, dest: DestView, gran: int, checksum: bool) -> bool:
    src = item.entry
    if src.kind == "symlink":
        return have.kind == "symlink" and have.link == src.link
    if have.kind != "file" or have.size != src.size or have.mode != src.mode:
        return False
    if checksum:
        return dest.same_content(item.rel, item)
    return have.mtime_ns // gran == src.mtime_ns // gran


def _plan_deletions(source: SourceTree, dest: DestView, arch: Architecture, draft: _Draft) -> list[str]:
    # Paths the source has but refused (and what DEST holds below them) are the source's: not deleted.
    refused, preserved, actions = draft.refused, draft.preserved, draft.actions
    hands_off = set(refused) | draft.blocked
    entries = dest.entries
    kept_dirs: set[str] = set()
    deleted: list[str] = []
    candidates = [
        r
        for r in entries
        if r not in source.items and r not in hands_off and not any(a in hands_off for a in ancestors(r))
    ]
    for rel in sorted(candidates, key=rel_parts, reverse=True):  # children before their directory
        have = entries[rel]
        held = dest.verdict(rel) if have.kind == "file" and have.size >= len(ELF_MAGIC) else NOT_ELF
        if held.undecided:
            add_reason(refused, rel, f"DEST's file cannot be judged ({held.undecided}); not deleted")
            kept_dirs.update(ancestors(rel))
            continue
        if held.ok:
            preserved.append(
                (rel, f"a static {arch.describe_machine()} executable the source does not have; --delete keeps it")
            )
            kept_dirs.update(ancestors(rel))
            continue
        if have.kind == "dir" and rel in kept_dirs:
            continue
        actions.append(Action(op="delete", rel=rel, expect=have))
        deleted.append(rel)
    deleted.reverse()
    return deleted
