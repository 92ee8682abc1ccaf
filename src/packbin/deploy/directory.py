"""init-packs into a directory: check the trees, lock DEST, scan, plan and apply."""

from __future__ import annotations

import fcntl
import os
import stat
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from packbin.arch import Architecture
from packbin.deploy.entries import DIR_FLAGS, Entry, SourceItem, kind_words, mode_kind
from packbin.deploy.planner import plan_deploy
from packbin.deploy.report import DeployReport
from packbin.deploy.scan import scan_source
from packbin.deploy.verdicts import NOT_ELF, Verdict
from packbin.deploy.writer import DirView, apply_dir, syncfs
from packbin.errors import UsageError, display_path


def _check_overlap(source: Path, dest: Path, binaries: Path | None) -> None:
    """SOURCE, DEST and the binaries tree must be three separate trees, none inside another.

    DEST inside the binaries tree (or the reverse) would make ``--delete`` remove the binaries of
    the other architectures; DEST inside SOURCE would copy itself. Compared by real path.
    """
    trees = [("source", source), ("DEST", dest)] + ([("binaries tree", binaries)] if binaries is not None else [])
    real = [(name, given, os.path.realpath(given)) for name, given in trees]
    for i, (a_name, a_given, a) in enumerate(real):
        for b_name, b_given, b in real[i + 1 :]:
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
        raise UsageError(
            f"DEST {display_path(str(dest))}: {e.strerror}", hint="give a directory path that can exist"
        ) from e
    if st is not None and not stat.S_ISDIR(st.st_mode):
        what = f"a symlink to {os.readlink(dest)!r}" if stat.S_ISLNK(st.st_mode) else kind_words(mode_kind(st.st_mode))
        return DeployReport(refused=((".", f"DEST {dest} is {what}, not a directory; not followed, nothing written"),))
    if st is None:
        if not os.path.isdir(dest.parent):
            raise UsageError(
                f"DEST {dest}: its parent directory does not exist",
                hint="create the parent first; init-packs creates DEST only",
            )
        if dry_run:
            plan = plan_deploy(tree, _EmptyView(), arch, delete=delete, checksum=checksum)
            return plan.report
        try:
            os.mkdir(dest, stat.S_IMODE(os.stat(source).st_mode) | 0o700)
        except FileExistsError:
            pass  # another init-packs made it just now: the lock below puts us after it
        except OSError as e:
            raise UsageError(
                f"DEST {display_path(str(dest))}: cannot create it: {e.strerror}",
                hint="choose a DEST on a writable file system (its parent must exist)",
            ) from e
    try:
        root_fd = os.open(dest, DIR_FLAGS)
    except OSError as e:
        return DeployReport(
            refused=((".", f"DEST {dest} cannot be opened as a directory without following a symlink: {e.strerror}"),)
        )
    try:
        _lock_dest(root_fd, dest, shared=dry_run)
        descend = None if delete else {r for r, i in tree.items.items() if i.entry.kind == "dir"}
        view = DirView(root_fd, descend=descend, arch=arch)
        plan = plan_deploy(tree, view, arch, delete=delete, checksum=checksum)
        if dry_run:
            return plan.report
        report = apply_dir(root_fd, plan)
        if plan.actions:
            syncfs(root_fd)
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
