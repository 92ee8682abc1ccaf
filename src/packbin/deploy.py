"""init-packs: copy the pack tree into a destination without ever losing a static binary.

The rules (issue 4), in one planner shared by the directory destination (here) and the Docker
named volume (:mod:`packbin.volume`):

- An ELF file already at DEST that is a static executable of ARCH is never replaced by a file that
  is not one (a dynamic ELF, another architecture, a non-ELF file, a symlink): it is kept and
  reported as *preserved*, with the reason. A file the verifier passes as a static executable of
  ARCH replaces it when the content differs. The verifier (:mod:`packbin.elf` +
  :mod:`packbin.policy`) decides; there is no list of names.
- The binaries tree (``<binaries>/<arch>/<pack>/<path>``, what build-pack-binaries writes to
  dist/pack-binaries/) is overlaid on the source tree; only verified static executables of ARCH
  from it are overlaid, anything else there is *refused*.
- Other files are copied when they differ (size, mode and mtime; or content with ``checksum``);
  unchanged ones are skipped after one lstat on each side, without reading them.
- Symlinks inside the tree are copied as symlinks; one that points outside the source tree (or is
  absolute) is refused and never followed.
- Nothing is written outside DEST: DEST itself and every directory below it are opened with
  ``O_NOFOLLOW`` relative to their parent's descriptor, so a symlink planted at DEST or anywhere
  inside it is never followed, even if it appears while the run is in progress.
- A file where a directory is expected (or the reverse) is refused, never clobbered.
- ``delete`` removes what the source no longer has, except static executables of ARCH (preserved).

This module runs inside the small init image too (``python3 -m packbin.deploy``), which has no
docker, invoke or platformdirs: it imports the standard library and packbin.{arch, elf, policy,
errors} only (packbin.config, for ``--arch NAME``, lazily in :func:`main`).
"""

from __future__ import annotations

import argparse
import errno
import fcntl
import json
import os
import posixpath
import secrets
import stat
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Literal, Protocol

from packbin.arch import Architecture
from packbin.elf import ElfError, NotElfError, parse_elf_stream
from packbin.errors import PackbinError, UsageError, display_path
from packbin.policy import static_problems

__all__ = [
    "DeployReport",
    "DestView",
    "Entry",
    "Plan",
    "SourceItem",
    "SourceTree",
    "Verdict",
    "format_report",
    "init_packs_dir",
    "judge_stream",
    "main",
    "plan_deploy",
    "scan_source",
]

Kind = Literal["file", "dir", "symlink", "other"]
Origin = Literal["source", "binaries"]

#: Suffix of temp files (the same as packbin.atomic's), skipped in the source and left to --delete at DEST.
TMP_SUFFIX = ".packbin-tmp"
ELF_MAGIC = b"\x7fELF"

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# O_NONBLOCK: a FIFO swapped in for a regular file must not hang the run on open().
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_NEW_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_COPY_CHUNK = 1 << 20


# -- the report ----------------------------------------------------------------------------


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


# -- verdicts ------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Verdict:
    """What the verifier says about one file: ``ok`` means a static executable of ARCH."""

    elf: bool
    problems: tuple[str, ...] = ()
    #: Why the verifier could not decide (unreadable, or an ELF it cannot parse). Such a file at DEST
    #: is neither protected nor fair game: it is replaced only by a verified binary, else refused.
    undecided: str = ""

    @property
    def ok(self) -> bool:
        return self.elf and not self.problems

    def describe(self) -> str:
        if not self.elf:
            return self.problems[0] if self.problems else "not an ELF file"
        return "; ".join(self.problems) if self.problems else "a static executable"


NOT_ELF = Verdict(elf=False, problems=("not an ELF file",))


def judge_stream(f: BinaryIO, size: int, arch: Architecture) -> Verdict:
    """Verify a seekable binary stream of ``size`` bytes, positioned at its start."""
    if f.read(len(ELF_MAGIC)) != ELF_MAGIC:
        return NOT_ELF
    try:
        info = parse_elf_stream(f, size)
    except NotElfError:
        return NOT_ELF
    except ElfError as e:
        return Verdict(elf=True, problems=(f"malformed ELF: {e}",), undecided=f"malformed ELF: {e}")
    return Verdict(elf=True, problems=tuple(static_problems(info, arch)))


def _judge_fd(fd: int, arch: Architecture) -> Verdict:
    """Verify an open descriptor (closed afterwards); a non-regular file is no executable at all."""
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):
            return Verdict(elf=False, problems=("not a regular file",))
        return judge_stream(f, st.st_size, arch)


def _judge_path(path: str, arch: Architecture) -> Verdict:
    try:
        fd = os.open(path, _READ_FLAGS)
    except OSError as e:
        return _undecided(f"cannot read {path}: {e.strerror}")
    return _judge_fd(fd, arch)


def _undecided(why: str) -> Verdict:
    return Verdict(elf=False, problems=(why,), undecided=why)


# -- listings ------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class Entry:
    """What one side holds at one path (from one lstat, or from one tar header)."""

    kind: Kind
    size: int = 0
    mtime_ns: int = 0
    mode: int = 0  # permission bits only (0o7777)
    link: str = ""  # symlink target
    dev: int = 0  # identity, to notice a swap between listing and writing (0: unknown)
    ino: int = 0


def _kind(mode: int) -> Kind:
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "dir"
    if stat.S_ISLNK(mode):
        return "symlink"
    return "other"


def _kind_words(kind: Kind) -> str:
    return {"file": "a regular file", "dir": "a directory", "symlink": "a symlink", "other": "a special file"}[kind]


def _special_name(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device node"
    return "a special file"


def _entry(st: os.stat_result, link: str = "") -> Entry:
    return Entry(
        kind=_kind(st.st_mode), size=st.st_size, mtime_ns=st.st_mtime_ns, mode=stat.S_IMODE(st.st_mode),
        link=link, dev=st.st_dev, ino=st.st_ino,
    )


@dataclass(frozen=True, kw_only=True, slots=True)
class SourceItem:
    """One thing to deploy: a file, directory or symlink of the source or binaries tree."""

    rel: str
    entry: Entry
    path: str  # where it is on this host
    origin: Origin
    verdict: Verdict | None = None  # known up front for the binaries tree (verified while listing)


@dataclass(frozen=True, kw_only=True)
class SourceTree:
    """The source tree with the binaries overlay applied, plus what listing already refused."""

    root: str
    items: Mapping[str, SourceItem]
    refused: Mapping[str, str]

    @property
    def order(self) -> list[str]:
        """Every path, parents before children (tuple order of the components)."""
        return sorted(self.items, key=_parts)


def _parts(rel: str) -> tuple[str, ...]:
    return tuple(rel.split("/"))


def _join(rel: str, name: str) -> str:
    return f"{rel}/{name}" if rel else name


def _ancestors(rel: str) -> Iterator[str]:
    """``a/b/c`` -> ``a/b``, ``a`` (the root "" excluded)."""
    while "/" in rel:
        rel = rel.rsplit("/", 1)[0]
        yield rel


def _is_junk(name: str, is_dir: bool, siblings: set[str]) -> bool:
    # Build output that a plain `cp -r packs/` used to drag into the volume: a crate's target/
    # (only next to a Cargo.toml, so a pack directory that happens to be called "target" is kept),
    # Python byte-code caches, and our own interrupted temp files.
    if name.endswith(TMP_SUFFIX):
        return True
    return is_dir and (name == "__pycache__" or (name == "target" and "Cargo.toml" in siblings))


def _symlink_problem(root_real: str, rel: str, abs_path: str, link: str) -> str | None:
    """Why a source symlink must not be copied, or None when it stays inside the source tree."""
    if posixpath.isabs(link):
        return f"absolute symlink to {link!r}: it would not point into the pack at DEST; not copied"
    lexical = posixpath.normpath(posixpath.join(posixpath.dirname(rel), link))
    if lexical == ".." or lexical.startswith("../"):
        return f"symlink to {link!r} points outside the source tree; not copied, not followed"
    # The lexical check misses chains through other symlinks (a -> sub/x where sub -> /etc).
    real = os.path.realpath(abs_path)
    if real != root_real and not real.startswith(root_real + os.sep):
        return f"symlink to {link!r} resolves outside the source tree (to {real}); not copied, not followed"
    return None


def _add_reason(refused: dict[str, str], rel: str, reason: str) -> None:
    refused[rel] = f"{refused[rel]}; {reason}" if rel in refused else reason


def scan_source(source: Path, binaries: Path | None, arch: Architecture) -> SourceTree:
    """List the source tree (one lstat per entry, no reads) and overlay the verified binaries of ARCH."""
    root = os.fspath(source)
    try:
        st = os.stat(root)  # the user's own path: following a symlink to the tree is fine here
    except OSError as e:
        raise UsageError(f"source {root}: {e.strerror}", hint="pass --source DIR (default: packs_dir of buildcfg.toml)") from e
    if not stat.S_ISDIR(st.st_mode):
        raise UsageError(f"source {root} is not a directory")
    if binaries is not None and not os.path.isdir(binaries):
        raise UsageError(f"binaries tree {binaries}: not a directory", hint="run build-pack-binaries first, or leave --binaries out")
    root_real = os.path.realpath(root)
    items: dict[str, SourceItem] = {}
    refused: dict[str, str] = {}
    stack: list[tuple[str, str]] = [("", root)]
    while stack:
        rel_dir, abs_dir = stack.pop()
        try:
            with os.scandir(abs_dir) as it:
                children = list(it)
        except OSError as e:
            if not rel_dir:
                # Nothing to deploy, and --delete would take an unreadable source for an empty one.
                raise UsageError(f"source {root}: cannot read it: {e.strerror}") from e
            _add_reason(refused, rel_dir, f"cannot read the directory: {e.strerror}; nothing below it copied")
            continue
        siblings = {c.name for c in children}
        for c in children:
            rel = _join(rel_dir, c.name)
            try:
                cst = c.stat(follow_symlinks=False)
            except OSError as e:
                _add_reason(refused, rel, f"cannot stat: {e.strerror}")
                continue
            mode = cst.st_mode
            if stat.S_ISDIR(mode):
                if not _is_junk(c.name, True, siblings):
                    items[rel] = SourceItem(rel=rel, entry=_entry(cst), path=c.path, origin="source")
                    stack.append((rel, c.path))
            elif stat.S_ISREG(mode):
                if not _is_junk(c.name, False, siblings):
                    items[rel] = SourceItem(rel=rel, entry=_entry(cst), path=c.path, origin="source")
            elif stat.S_ISLNK(mode):
                link = os.readlink(c.path)
                problem = _symlink_problem(root_real, rel, c.path, link)
                if problem:
                    _add_reason(refused, rel, problem)
                else:
                    items[rel] = SourceItem(rel=rel, entry=_entry(cst, link), path=c.path, origin="source")
            else:
                _add_reason(refused, rel, f"{_special_name(mode)}: only regular files, directories and symlinks are copied")
    if binaries is not None:
        _overlay_binaries(items, refused, binaries, arch)
    return SourceTree(root=root, items=items, refused=refused)


def _overlay_binaries(items: dict[str, SourceItem], refused: dict[str, str], binaries: Path, arch: Architecture) -> None:
    """Put ``<binaries>/<arch.name>/...`` over the source listing; only verified static executables of ARCH.

    Other architectures' subtrees and the manifest.json at the top are not looked at.
    """
    base = os.path.join(os.fspath(binaries), arch.name)
    if not os.path.isdir(base):
        return
    stack: list[tuple[str, str]] = [("", base)]
    while stack:
        rel_dir, abs_dir = stack.pop()
        try:
            with os.scandir(abs_dir) as it:
                children = list(it)
        except OSError as e:
            _add_reason(refused, rel_dir or ".", f"binaries tree: cannot read {abs_dir}: {e.strerror}")
            continue
        for c in children:
            rel = _join(rel_dir, c.name)
            try:
                cst = c.stat(follow_symlinks=False)
            except OSError as e:
                _add_reason(refused, rel, f"binaries tree: cannot stat {c.path}: {e.strerror}")
                continue
            have = items.get(rel)
            if stat.S_ISDIR(cst.st_mode):
                if have is not None and have.entry.kind != "dir":
                    _add_reason(refused, rel, f"binaries tree has a directory where the source has {_kind_words(have.entry.kind)}; not overlaid")
                    continue
                if have is None:
                    items[rel] = SourceItem(rel=rel, entry=_entry(cst), path=c.path, origin="binaries")
                stack.append((rel, c.path))
                continue
            if not stat.S_ISREG(cst.st_mode):
                what = "a symlink" if stat.S_ISLNK(cst.st_mode) else _special_name(cst.st_mode)
                _add_reason(refused, rel, f"binaries tree: {what}; only verified static {arch.name} executables are overlaid")
                continue
            verdict = _judge_path(c.path, arch)
            if not verdict.ok:
                _add_reason(refused, rel, f"binaries tree: {c.path} is not a static {arch.name} executable ({verdict.describe()}); not overlaid")
            elif have is not None and have.entry.kind == "dir":
                _add_reason(refused, rel, "binaries tree has a file where the source has a directory; not overlaid")
            else:
                items[rel] = SourceItem(rel=rel, entry=_entry(cst), path=c.path, origin="binaries", verdict=verdict)


# -- the planner ---------------------------------------------------------------------------


class DestView(Protocol):
    """What DEST holds, as the planner sees it: a listing plus lazy reads for the few files it must judge.

    ``entries`` holds every path below every DEST directory that the source also has as a
    directory (and, for ``delete``, below every DEST directory). A path missing from it whose
    ancestors are all listed directories is absent.
    """

    #: How finely DEST keeps mtimes: 1 for a filesystem, 10**9 for a tar read back from the engine.
    mtime_granularity_ns: int

    @property
    def entries(self) -> Mapping[str, Entry]: ...

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
class Plan:
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
) -> Plan:
    """Apply the rules to (source, what DEST holds): no writes, reads only where a rule needs content.

    Reads happen only when a file differs and DEST's file might be a protected binary, for
    ``checksum``, and for ``delete`` candidates; the unchanged path reads nothing.
    """
    entries = dest.entries
    judge_source = source_verdict or (lambda item: _judge_path(item.path, arch))
    refused: dict[str, str] = dict(source.refused)
    blocked: set[str] = set()  # source directories that DEST holds as something else
    actions: list[Action] = []
    chmods: list[Action] = []
    unchanged: list[str] = []
    preserved: list[tuple[str, str]] = []
    copied: list[str] = []
    gran = max(1, dest.mtime_granularity_ns)

    for rel in source.order:
        if blocked and any(a in blocked for a in _ancestors(rel)):
            continue
        item = source.items[rel]
        src = item.entry
        have = entries.get(rel)
        if src.kind == "dir":
            if have is None:
                actions.append(Action(op="mkdir", rel=rel, item=item))
                chmods.append(Action(op="chmod", rel=rel, item=item))
            elif have.kind == "dir":
                if have.mode != src.mode:
                    chmods.append(Action(op="chmod", rel=rel, item=item, expect=have))
            else:
                blocked.add(rel)
                _add_reason(refused, rel, f"DEST has {_kind_words(have.kind)} where the source has a directory; left alone, nothing below it copied")
            continue
        if have is None:
            actions.append(Action(op="write", rel=rel, item=item))
            copied.append(rel)
            continue
        if have.kind in ("dir", "other"):
            _add_reason(refused, rel, f"DEST has {_kind_words(have.kind)} where the source has {_kind_words(src.kind)}; left alone")
            continue
        if _unchanged(item, have, dest, gran, checksum):
            unchanged.append(rel)
            continue
        held = dest.verdict(rel) if have.kind == "file" and have.size >= len(ELF_MAGIC) else NOT_ELF
        if held.ok or held.undecided:
            # DEST holds a static executable of ARCH (or maybe one): only a verified one may replace it.
            cand = item.verdict if item.verdict is not None else (judge_source(item) if src.kind == "file" else None)
            if cand is not None and cand.undecided and not held.undecided:
                _add_reason(refused, rel, f"the source's file cannot be judged ({cand.undecided}); DEST's static executable kept")
                continue
            if held.undecided and (cand is None or not cand.ok):
                _add_reason(refused, rel, f"DEST's file cannot be judged ({held.undecided}) and the source's is not a verified static executable; left alone")
                continue
            if cand is None or not cand.ok:
                what = cand.describe() if cand is not None else f"a symlink to {src.link!r}"
                preserved.append((rel, f"DEST has a static {arch.describe_machine()} executable and the source's file is not one ({what}); kept"))
                continue
        actions.append(Action(op="write", rel=rel, item=item, expect=have))
        copied.append(rel)

    deleted: list[str] = []
    if delete:
        deleted = _plan_deletions(source, dest, arch, refused, blocked, actions, preserved)
    # Directory modes last, deepest first, so a read-only source directory does not stop its own filling.
    actions.extend(sorted(chmods, key=lambda a: _parts(a.rel), reverse=True))
    report = DeployReport(
        copied=tuple(copied),
        unchanged=tuple(unchanged),
        preserved=tuple(sorted(preserved)),
        refused=tuple(sorted(refused.items())),
        deleted=tuple(deleted),
    )
    return Plan(actions=tuple(actions), report=report)


def _unchanged(item: SourceItem, have: Entry, dest: DestView, gran: int, checksum: bool) -> bool:
    src = item.entry
    if src.kind == "symlink":
        return have.kind == "symlink" and have.link == src.link
    if have.kind != "file" or have.size != src.size or have.mode != src.mode:
        return False
    if checksum:
        return dest.same_content(item.rel, item)
    return have.mtime_ns // gran == src.mtime_ns // gran


def _plan_deletions(
    source: SourceTree,
    dest: DestView,
    arch: Architecture,
    refused: dict[str, str],
    blocked: set[str],
    actions: list[Action],
    preserved: list[tuple[str, str]],
) -> list[str]:
    # Paths the source has but refused (and what DEST holds below them) are the source's: not deleted.
    hands_off = set(refused) | blocked
    entries = dest.entries
    kept_dirs: set[str] = set()
    deleted: list[str] = []
    candidates = [r for r in entries if r not in source.items and r not in hands_off and not any(a in hands_off for a in _ancestors(r))]
    for rel in sorted(candidates, key=_parts, reverse=True):  # children before their directory
        have = entries[rel]
        held = dest.verdict(rel) if have.kind == "file" and have.size >= len(ELF_MAGIC) else NOT_ELF
        if held.undecided:
            _add_reason(refused, rel, f"DEST's file cannot be judged ({held.undecided}); not deleted")
            kept_dirs.update(_ancestors(rel))
            continue
        if held.ok:
            preserved.append((rel, f"a static {arch.describe_machine()} executable the source does not have; --delete keeps it"))
            kept_dirs.update(_ancestors(rel))
            continue
        if have.kind == "dir" and rel in kept_dirs:
            continue
        actions.append(Action(op="delete", rel=rel, expect=have))
        deleted.append(rel)
    deleted.reverse()
    return deleted


# -- the directory destination --------------------------------------------------------------


def _open_dir_at(parent_fd: int, name: str) -> int:
    return os.open(name, _DIR_FLAGS, dir_fd=parent_fd)


def _open_below(root_fd: int, rel: str, flags: int) -> int:
    """Open ``rel`` below ``root_fd`` without following a symlink in any component."""
    parts = rel.split("/")
    fd = root_fd
    try:
        for name in parts[:-1]:
            nfd = _open_dir_at(fd, name)
            if fd != root_fd:
                os.close(fd)
            fd = nfd
        return os.open(parts[-1], flags, dir_fd=fd)
    finally:
        if fd != root_fd:
            os.close(fd)


class _DirView:
    """DEST as a directory: listed through descriptors, never through a symlink."""

    mtime_granularity_ns = 1

    def __init__(self, root_fd: int, *, descend: set[str] | None, arch: Architecture) -> None:
        self._root_fd = root_fd
        self._arch = arch
        self._verdicts: dict[str, Verdict] = {}
        self._entries: dict[str, Entry] = {}
        self._scan(root_fd, descend)

    @property
    def entries(self) -> Mapping[str, Entry]:
        return self._entries

    def _scan(self, root_fd: int, descend: set[str] | None) -> None:
        # Iterative, one directory descriptor open at a time (each re-opened from the root without
        # following symlinks), so no DEST, however deep, exhausts the stack or the descriptors.
        stack = [""]
        while stack:
            rel = stack.pop()
            try:
                fd = _open_below(root_fd, rel, _DIR_FLAGS) if rel else root_fd
            except OSError:
                continue  # swapped since its lstat; the applier refuses whatever needs it
            try:
                with os.scandir(fd) as it:
                    for c in it:
                        r = _join(rel, c.name)
                        try:
                            st = c.stat(follow_symlinks=False)  # fstatat(fd, name, AT_SYMLINK_NOFOLLOW)
                            link = os.readlink(c.name, dir_fd=fd) if stat.S_ISLNK(st.st_mode) else ""
                        except FileNotFoundError:
                            continue  # gone since readdir: it is not there
                        e = _entry(st, link)
                        self._entries[r] = e
                        if e.kind == "dir" and (descend is None or r in descend):
                            stack.append(r)
            finally:
                if fd != root_fd:
                    os.close(fd)

    def _open_file(self, rel: str) -> int:
        """Open the DEST file at ``rel`` for reading; OSError when it is no longer the listed one."""
        fd = _open_below(self._root_fd, rel, _READ_FLAGS)
        st = os.fstat(fd)
        want = self._entries[rel]
        if not stat.S_ISREG(st.st_mode) or (st.st_dev, st.st_ino) != (want.dev, want.ino):
            os.close(fd)
            raise OSError(errno.ESTALE, "changed while init-packs was reading it")
        return fd

    def verdict(self, rel: str) -> Verdict:
        if rel not in self._verdicts:
            try:
                fd = self._open_file(rel)
            except OSError as e:
                # Not judged is not "not a binary": the planner leaves such a file alone.
                self._verdicts[rel] = _undecided(f"cannot read it: {e.strerror}")
            else:
                self._verdicts[rel] = _judge_fd(fd, self._arch)
        return self._verdicts[rel]

    def same_content(self, rel: str, item: SourceItem) -> bool:
        try:
            dfd = self._open_file(rel)
        except OSError:
            return False
        try:
            sfd = os.open(item.path, _READ_FLAGS)
        except OSError:
            os.close(dfd)
            return False  # the applier reports why it cannot be read
        with os.fdopen(dfd, "rb") as d, os.fdopen(sfd, "rb") as s:
            while True:
                a, b = d.read(_COPY_CHUNK), s.read(_COPY_CHUNK)
                if a != b:
                    return False
                if not a:
                    return True


class _Cursor:
    """Directory descriptors along the current path, each opened O_NOFOLLOW relative to its parent.

    Actions come in path order, so keeping one path open (at most depth descriptors) suffices.
    """

    def __init__(self, root_fd: int) -> None:
        self._root = root_fd
        self._stack: list[tuple[tuple[str, ...], int]] = []

    def dir(self, parts: tuple[str, ...]) -> int:
        while self._stack:
            top = self._stack[-1][0]
            if len(top) <= len(parts) and parts[: len(top)] == top:
                break
            os.close(self._stack.pop()[1])
        while True:
            top_parts, top_fd = self._stack[-1] if self._stack else ((), self._root)
            if len(top_parts) == len(parts):
                return top_fd
            name = parts[len(top_parts)]
            fd = _open_dir_at(top_fd, name)  # ELOOP for a symlink, ENOTDIR for a file: never followed
            self._stack.append((parts[: len(top_parts) + 1], fd))

    def close(self) -> None:
        while self._stack:
            os.close(self._stack.pop()[1])


def _same_entry(st: os.stat_result | None, expect: Entry | None) -> bool:
    if st is None or expect is None:
        return st is None and expect is None
    if _kind(st.st_mode) != expect.kind or (st.st_dev, st.st_ino) != (expect.dev, expect.ino):
        return False
    # A directory's size and mtime change as the run fills or empties it: its identity is enough.
    return expect.kind == "dir" or (st.st_size, st.st_mtime_ns) == (expect.size, expect.mtime_ns)


def _lstat_at(parent_fd: int, name: str) -> os.stat_result | None:
    try:
        return os.stat(name, dir_fd=parent_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None


def _tmp_name(name: str) -> str:
    return f".{name[:180]}.{secrets.token_hex(4)}{TMP_SUFFIX}"


def _copy_fd(src: int, dst: int) -> None:
    try:
        while os.sendfile(dst, src, None, _COPY_CHUNK):
            pass
    except OSError as e:
        if e.errno not in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
            raise
        os.lseek(src, 0, os.SEEK_SET)
        os.lseek(dst, 0, os.SEEK_SET)
        os.ftruncate(dst, 0)
        while chunk := os.read(src, _COPY_CHUNK):
            os.write(dst, chunk)


class _Refuse(Exception):
    """An action cannot be done safely; the message is the report's reason."""


def _write_file(parent_fd: int, name: str, item: SourceItem, expect: Entry | None) -> None:
    """Copy ``item`` to ``name`` in ``parent_fd``: temp file, mode and mtime, then rename over it."""
    try:
        sfd = os.open(item.path, _READ_FLAGS)
    except OSError as e:
        raise _Refuse(f"cannot read the source file: {e.strerror}") from e
    try:
        sst = os.fstat(sfd)
        if not stat.S_ISREG(sst.st_mode) or (sst.st_dev, sst.st_ino) != (item.entry.dev, item.entry.ino):
            raise _Refuse("the source file changed while init-packs ran (replaced by another file); not copied")
        if not _same_entry(_lstat_at(parent_fd, name), expect):
            raise _Refuse("DEST changed while init-packs ran; left alone")
        tmp = _tmp_name(name)
        dfd = os.open(tmp, _NEW_FILE_FLAGS, 0o600, dir_fd=parent_fd)
        try:
            try:
                _copy_fd(sfd, dfd)
                os.fchmod(dfd, stat.S_IMODE(sst.st_mode))
                # The mtime of the bytes actually copied (fstat of the open source), as cp -a keeps it.
                os.utime(dfd, ns=(sst.st_atime_ns, sst.st_mtime_ns))
            finally:
                os.close(dfd)
            # Last look before the rename: a static binary planted since the plan must not be lost.
            if not _same_entry(_lstat_at(parent_fd, name), expect):
                raise _Refuse("DEST changed while init-packs ran; left alone")
            os.replace(tmp, name, src_dir_fd=parent_fd, dst_dir_fd=parent_fd)
        except BaseException:
            try:
                os.unlink(tmp, dir_fd=parent_fd)
            except OSError:
                pass
            raise
    finally:
        os.close(sfd)


def _write_symlink(parent_fd: int, name: str, item: SourceItem, expect: Entry | None) -> None:
    if not _same_entry(_lstat_at(parent_fd, name), expect):
        raise _Refuse("DEST changed while init-packs ran; left alone")
    tmp = _tmp_name(name)
    os.symlink(item.entry.link, tmp, dir_fd=parent_fd)
    try:
        os.replace(tmp, name, src_dir_fd=parent_fd, dst_dir_fd=parent_fd)
    except BaseException:
        try:
            os.unlink(tmp, dir_fd=parent_fd)
        except OSError:
            pass
        raise


def _apply_dir(root_fd: int, plan: Plan) -> DeployReport:
    """Carry out ``plan`` below ``root_fd``; failures become refusals, the rest continues."""
    cursor = _Cursor(root_fd)
    failed: dict[str, str] = {}
    dead: set[str] = set()  # directories that could not be created or entered: skip below them
    try:
        for a in plan.actions:
            if any(p in dead for p in _ancestors(a.rel)) or (a.op == "chmod" and a.rel in dead):
                failed.setdefault(a.rel, "its directory at DEST could not be created or entered")
                continue
            parts = _parts(a.rel)
            try:
                if a.op == "chmod":
                    assert a.item is not None
                    os.fchmod(cursor.dir(parts), a.item.entry.mode)
                    continue
                parent = cursor.dir(parts[:-1])
                name = parts[-1]
                if a.op == "mkdir":
                    try:
                        # Owner-writable until the final chmod fills in the source's mode.
                        os.mkdir(name, 0o700, dir_fd=parent)
                    except FileExistsError:
                        st = _lstat_at(parent, name)
                        if st is None or not stat.S_ISDIR(st.st_mode):
                            raise _Refuse("something other than a directory appeared at DEST while init-packs ran; left alone") from None
                elif a.op == "write":
                    assert a.item is not None
                    if a.item.entry.kind == "symlink":
                        _write_symlink(parent, name, a.item, a.expect)
                    else:
                        _write_file(parent, name, a.item, a.expect)
                elif a.op == "delete":
                    if not _same_entry(_lstat_at(parent, name), a.expect):
                        raise _Refuse("DEST changed while init-packs ran; not deleted")
                    if a.expect is not None and a.expect.kind == "dir":
                        os.rmdir(name, dir_fd=parent)
                    else:
                        os.unlink(name, dir_fd=parent)
            except _Refuse as e:
                failed[a.rel] = str(e)
            except OSError as e:
                failed[a.rel] = _os_reason(a, e)
            if a.rel in failed and a.op == "mkdir":
                dead.add(a.rel)
    finally:
        cursor.close()
    return plan.report.with_failures(failed)


def _os_reason(a: Action, e: OSError) -> str:
    if e.errno in (errno.ELOOP, errno.ENOTDIR):
        return "a directory on the way at DEST is a symlink or not a directory (changed while init-packs ran?); not followed"
    if e.errno in (errno.EISDIR, errno.ENOTEMPTY, errno.EEXIST):
        return f"DEST changed while init-packs ran ({e.strerror}); left alone"
    verb = {"mkdir": "create the directory", "chmod": "set the directory's mode", "write": "write", "delete": "delete"}[a.op]
    return f"cannot {verb}: {e.strerror}"


def _syncfs(fd: int) -> None:
    """Flush DEST's filesystem once (instead of an fsync per file: 10,000 fsyncs take half a minute)."""
    try:
        # ctypes is imported here: Debian's python3-minimal (the init image) lacks it.
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        if libc.syncfs(fd) == 0:
            return
    except (ImportError, OSError, AttributeError):
        pass
    os.sync()


def _check_overlap(source: Path, dest: Path, binaries: Path | None) -> None:
    """SOURCE, DEST and the binaries tree must be three separate trees, none inside another.

    DEST inside the binaries tree (or the reverse) would make ``--delete`` remove the binaries of
    the other architectures; DEST inside SOURCE would copy itself. Compared by real path.
    """
    trees = [("source", source), ("DEST", dest)] + ([("binaries tree", binaries)] if binaries is not None else [])
    real = [(name, given, os.path.realpath(given)) for name, given in trees]
    for i, (a_name, a_given, a) in enumerate(real):
        for b_name, b_given, b in real[i + 1:]:
            if a == b or b.startswith(a.rstrip(os.sep) + os.sep) or a.startswith(b.rstrip(os.sep) + os.sep):
                raise UsageError(
                    f"{a_name} {display_path(str(a_given))} and {b_name} {display_path(str(b_given))} overlap",
                    hint="SOURCE, DEST and the binaries tree must be separate directories, none inside another",
                )


def init_packs_dir(
    *,
    source: Path,
    dest: Path,
    binaries: Path | None,
    arch: Architecture,
    delete: bool = False,
    dry_run: bool = False,
    checksum: bool = False,
) -> DeployReport:
    """Deploy ``source`` (with the verified binaries of ``arch`` from ``binaries`` overlaid) into the directory ``dest``.

    DEST is created if missing (its parent must exist). A DEST that is a symlink or not a directory
    is refused as a whole (path "."). Raises UsageError for a missing source or overlapping trees;
    everything else a run meets ends up in the report.
    """
    _check_overlap(source, dest, binaries)
    tree = scan_source(source, binaries, arch)
    try:
        st: os.stat_result | None = os.lstat(dest)
    except FileNotFoundError:
        st = None
    except OSError as e:  # a name too long, a file where a directory should be (/dev/zero/new)
        raise UsageError(f"DEST {display_path(str(dest))}: {e.strerror}", hint="give a directory path that can exist") from e
    if st is not None and not stat.S_ISDIR(st.st_mode):
        what = f"a symlink to {os.readlink(dest)!r}" if stat.S_ISLNK(st.st_mode) else _kind_words(_kind(st.st_mode))
        return DeployReport(refused=((".", f"DEST {dest} is {what}, not a directory; not followed, nothing written"),))
    if st is None:
        if not os.path.isdir(dest.parent):
            raise UsageError(f"DEST {dest}: its parent directory does not exist", hint="create the parent first; init-packs creates DEST only")
        if dry_run:
            plan = plan_deploy(tree, _EmptyView(), arch, delete=delete, checksum=checksum)
            return plan.report
        try:
            os.mkdir(dest, stat.S_IMODE(os.stat(source).st_mode) | 0o700)
        except FileExistsError:
            pass  # another init-packs made it just now: the lock below puts us after it
        except OSError as e:
            raise UsageError(f"DEST {display_path(str(dest))}: cannot create it: {e.strerror}",
                             hint="choose a DEST on a writable file system (its parent must exist)") from e
    try:
        root_fd = os.open(dest, _DIR_FLAGS)
    except OSError as e:
        return DeployReport(refused=((".", f"DEST {dest} cannot be opened as a directory without following a symlink: {e.strerror}"),))
    try:
        _lock_dest(root_fd, dest, shared=dry_run)
        descend = None if delete else {r for r, i in tree.items.items() if i.entry.kind == "dir"}
        view = _DirView(root_fd, descend=descend, arch=arch)
        plan = plan_deploy(tree, view, arch, delete=delete, checksum=checksum)
        if dry_run:
            return plan.report
        report = _apply_dir(root_fd, plan)
        if plan.actions:
            _syncfs(root_fd)
        return report
    finally:
        os.close(root_fd)


def _lock_dest(root_fd: int, dest: Path, *, shared: bool) -> None:
    """Serialise init-packs runs into one DEST: flock(2) on DEST's own directory descriptor.

    No lock file is left anywhere, and the kernel drops the lock when its holder exits however it
    exits. A second run waits (saying so on stderr), then sees the first one's result.
    """
    mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
    try:
        fcntl.flock(root_fd, mode | fcntl.LOCK_NB)
    except BlockingIOError:
        sys.stderr.write(f"init-packs: waiting for another init-packs into {display_path(str(dest))}\n")
        sys.stderr.flush()
        fcntl.flock(root_fd, mode)


@dataclass
class _EmptyView:
    """An absent DEST (dry run before it exists)."""

    mtime_granularity_ns: int = 1
    _entries: dict[str, Entry] = field(default_factory=dict)

    @property
    def entries(self) -> Mapping[str, Entry]:
        return self._entries

    def verdict(self, rel: str) -> Verdict:
        return NOT_ELF

    def same_content(self, rel: str, item: SourceItem) -> bool:
        return False


# -- the command line (the init image runs `python3 -m packbin.deploy`) ----------------------


def _arch_from_args(ns: argparse.Namespace) -> Architecture:
    explicit = (ns.elf_machine, ns.elf_class, ns.byte_order)
    if ns.arch and any(v is not None for v in explicit):
        raise UsageError("give either --arch NAME or --arch-name/--elf-machine/--elf-class/--byte-order, not both")
    if ns.arch:
        from packbin.config import builtin_config  # stdlib + tomllib only: no docker in the init image

        arch: Architecture = builtin_config().arch(ns.arch)
        return arch
    if any(v is None for v in explicit) or not ns.arch_name:
        raise UsageError("no architecture", hint="pass --arch NAME (x86_64, arm64, ...) or all of --arch-name, --elf-machine, --elf-class, --byte-order")
    from packbin.arch import ElfMachine

    raw = str(ns.elf_machine)
    try:
        machine = int(raw, 0) if raw[:1].isdigit() else int(ElfMachine[raw.upper()])
    except (ValueError, KeyError):
        raise UsageError(f"--elf-machine {raw!r}: give a number or a name like EM_X86_64") from None
    return Architecture(
        name=ns.arch_name, aliases=(), rust_target="", docker_platform="",
        elf_machine=machine, elf_class=ns.elf_class, byte_order=ns.byte_order,
    )


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python3 -m packbin.deploy",
        description="Copy a pack tree into DEST, overlaying verified static binaries of ARCH; never replaces a static binary of ARCH at DEST by one that is not.",
        epilog="Exit status: 0 done, 1 something was refused, 2 bad arguments.",
    )
    p.add_argument("--source", required=True, type=Path, help="the pack tree (packs/)")
    p.add_argument("--dest", required=True, type=Path, help="the destination directory (created if missing; never followed if a symlink)")
    p.add_argument("--binaries", type=Path, help="the binaries tree, <binaries>/<arch>/<pack>/<path> (dist/pack-binaries)")
    p.add_argument("--arch", help="architecture name or alias from the built-in table (x86_64, amd64, arm64, aarch64, ...)")
    p.add_argument("--arch-name", help="with the --elf-* options: an architecture not in the table (names <binaries>/<arch-name>)")
    p.add_argument("--elf-machine", help="e_machine, as a number or a name (EM_X86_64)")
    p.add_argument("--elf-class", type=int, choices=(32, 64))
    p.add_argument("--byte-order", choices=("little", "big"))
    p.add_argument("--delete", action="store_true", help="remove what the source no longer has (static binaries of ARCH are kept)")
    p.add_argument("--dry-run", action="store_true", help="report what would change; write nothing")
    p.add_argument("--checksum", action="store_true", help="compare contents instead of size and mtime")
    p.add_argument("--json", action="store_true", help="print the report as one JSON document")
    return p


def main(argv: list[str] | None = None) -> int:
    """``python3 -m packbin.deploy``: run :func:`init_packs_dir`; 0 ok, 1 something refused, 2 usage."""
    ns = _parser().parse_args(argv)
    try:
        arch = _arch_from_args(ns)
        report = init_packs_dir(
            source=ns.source, dest=ns.dest, binaries=ns.binaries, arch=arch,
            delete=ns.delete, dry_run=ns.dry_run, checksum=ns.checksum,
        )
    except PackbinError as e:
        sys.stderr.write(f"init-packs: error: {e}\n")
        return e.exit_code
    if ns.json:
        sys.stdout.write(json.dumps(report.to_json(), indent=2) + "\n")
    else:
        sys.stdout.write(format_report(report, dest=str(ns.dest), dry_run=ns.dry_run))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
