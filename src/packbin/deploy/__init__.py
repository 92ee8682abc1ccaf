"""init-packs: copy the pack tree into a destination without ever losing a static binary.

The rules (issue 4), in one planner shared by the directory destination (here) and the Docker
named volume (:mod:`packbin.compose.volume`):

- An ELF file already at DEST that is a static executable of ARCH is never replaced by a file that
  is not one (a dynamic ELF, another architecture, a non-ELF file, a symlink): it is kept and
  reported as *preserved*, with the reason. A file the verifier passes as a static executable of
  ARCH replaces it when the content differs. The verifier (:mod:`packbin.elf.parser` +
  :mod:`packbin.elf.policy`) decides; there is no list of names.
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

The package, in the order a run flows through it:

- :mod:`~packbin.deploy.verdicts`: the verifier's word on one file (ELF + static policy);
- :mod:`~packbin.deploy.entries`: what a tree holds (entries, source items, path helpers);
- :mod:`~packbin.deploy.scan`: the source scan and the binaries overlay;
- :mod:`~packbin.deploy.planner`: the planner shared with :mod:`packbin.compose.volume`;
- :mod:`~packbin.deploy.writer`: the directory writer (descriptor-relative, ``O_NOFOLLOW``);
- :mod:`~packbin.deploy.directory`: :func:`init_packs_dir`, one run into a directory;
- :mod:`~packbin.deploy.report`: the report and its text form;
- :mod:`~packbin.deploy.cli` (and ``__main__``): the init image's command line.

This package runs inside the small init image too (``python3 -m packbin.deploy``), which has no
docker, invoke or platformdirs: it imports the standard library and packbin.{arch, elf, policy,
errors} only (packbin.config.model, for ``--arch NAME``, lazily in :func:`main`).
"""

from __future__ import annotations

from packbin.deploy.cli import main
from packbin.deploy.directory import init_packs_dir
from packbin.deploy.entries import Entry, SourceItem, SourceTree
from packbin.deploy.planner import DeployPlan, DestView, plan_deploy
from packbin.deploy.report import DeployReport, format_report
from packbin.deploy.scan import scan_source
from packbin.deploy.verdicts import Verdict, judge_stream

__all__ = [
    "DeployPlan",
    "DeployReport",
    "DestView",
    "Entry",
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
