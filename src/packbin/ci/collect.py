"""collect-pack-binaries: merge per-architecture dist trees (CI artifacts) into one dist/.

Each DIR is a downloaded artifact of one build job: a ``dist/`` or ``dist/pack-binaries/``
directory, possibly nested one or two levels down (actions/download-artifact puts each artifact
under DIR/<artifact-name>/). Every ``manifest.json`` found there marks one tree.

The trees are untrusted: another job wrote them. So, before anything is written:

- every manifest is validated (:meth:`Manifest.load`), every entry must name a configured
  architecture and binary, with that architecture's Rust target, at exactly the path
  build-pack-binaries would give it;
- every file must be a regular file reached without following a symlink, inside its tree;
- every file is copied to a private staging directory, and that copy is hashed (it must match
  the recorded sha256 and size) and verified as a static executable of its architecture;
- two entries for the same (arch, binary) must agree; every required architecture (default: all
  configured ones) must be present with every configured binary.

Only when all of that holds are the staged copies installed (atomically, file by file) into
``<dist_dir>/pack-binaries/`` and the merged manifest written, last. Any problem: CheckFailed
listing all of them, and nothing written.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, TextIO

from packbin.arch import Architecture
from packbin.build.report import SUMMARY_ENV, append_step_summary, artifact_rows, table
from packbin.config.model import BuildConfig
from packbin.dist.layout import MANIFEST_NAME, binary_relpath, dist_tree, manifest_relpath
from packbin.dist.manifest import Artifact, Manifest
from packbin.elf.verify import verify_file
from packbin.errors import CheckFailed, ConfigError, UsageError
from packbin.util.atomic import atomic_copy

#: How deep below each DIR a manifest.json is looked for: DIR/manifest.json is depth 0,
#: DIR/<artifact>/pack-binaries/manifest.json is depth 2. One more for good measure.
SEARCH_DEPTH = 3
SUMMARY_TITLE = "Collected pack binaries"


@dataclass(frozen=True, kw_only=True)
class ArtifactTree:
    """One per-architecture tree: the directory holding a manifest.json, and what it lists."""

    given: str  # the DIR argument it was found under
    root: Path
    manifest: Manifest


@dataclass(frozen=True, kw_only=True)
class Collected:
    """An artifact that passed every check, with its verified private copy."""

    artifact: Artifact
    tree: ArtifactTree
    staged: Path


@dataclass(frozen=True, kw_only=True)
class CollectReport:
    """What a successful collect installed, and what it saw but did not take."""

    collected: tuple[Collected, ...]
    trees: tuple[ArtifactTree, ...]
    ignored: tuple[str, ...]  # entries of architectures not selected with --arch
    duplicates: tuple[str, ...]  # identical entries seen in more than one tree
    manifest: str  # relative to the repository root

    def to_json(self) -> dict[str, Any]:
        """The ``--json`` document: the merged manifest, its artifacts and the trees read."""
        return {
            "ok": True,
            "manifest": self.manifest,
            "artifacts": [c.artifact.to_json() for c in self.collected],
            "trees": [
                {"dir": t.given, "root": str(t.root), "artifacts": len(t.manifest.artifacts)} for t in self.trees
            ],
            "ignored": list(self.ignored),
            "duplicates": list(self.duplicates),
        }


def run_collect(
    cfg: BuildConfig,
    dirs: list[str],
    *,
    out: TextIO,
    require: tuple[str, ...] | None = None,
    as_json: bool = False,
    err: TextIO | None = None,
) -> Manifest:
    """Merge, re-verify and install the trees under ``dirs``; returns the merged manifest.

    ``require``: architectures (names, aliases, "all", comma lists) to collect and require;
    None: every configured architecture. Entries of other architectures are ignored (reported).
    Raises CheckFailed (nothing written) on any problem, UsageError for a DIR that does not exist.
    Progress goes to ``err`` (default: ``out``, or stderr with ``as_json``).
    """
    log = err if err is not None else (sys.stderr if as_json else out)
    if not dirs:
        raise UsageError(
            "collect-pack-binaries needs at least one DIR",
            hint="pass the downloaded artifact directories, e.g. collected/pack-binaries-x86_64",
        )
    selected = _selected(cfg, require)
    problems: list[str] = []
    trees = _find_trees(dirs, problems, log)
    out_manifest_path = cfg.root / manifest_relpath(cfg)
    # Read our own manifest now: a broken one must stop the run before anything is installed.
    existing = Manifest.load(out_manifest_path)

    with tempfile.TemporaryDirectory(prefix="packbin-collect-") as staging_dir:
        staging = Path(staging_dir)
        collected: dict[tuple[str, str], Collected] = {}
        ignored: list[str] = []
        duplicates: list[str] = []
        for tree in trees:
            for i, art in enumerate(tree.manifest.artifacts):
                where = f"{_show(tree.root / MANIFEST_NAME)}: artifacts[{i}] ({art.arch}/{art.binary})"
                arch = _check_entry(cfg, art, where, problems)
                if arch is None:
                    continue
                if arch not in selected:
                    ignored.append(f"{art.arch}/{art.binary} from {_show(tree.root)}")
                    continue
                earlier = collected.get(art.key)
                if earlier is not None:
                    if earlier.artifact.sha256 == art.sha256:
                        duplicates.append(
                            f"{art.arch}/{art.binary}: {_show(tree.root)} has the same file as {_show(earlier.tree.root)}"
                        )
                    elif art.input_hash and art.input_hash == earlier.artifact.input_hash:
                        # The same inputs must give the same bytes on any engine or runner.
                        problems.append(
                            f"{where}: not reproducible: the same inputs (input_hash {art.input_hash[:16]}) gave sha256 "
                            f"{art.sha256[:16]} here and {earlier.artifact.sha256[:16]} in {_show(earlier.tree.root)} "
                            f"(builder images {art.builder_image} and {earlier.artifact.builder_image})"
                        )
                    else:
                        problems.append(
                            f"{where}: conflicts with {_show(earlier.tree.root)}: sha256 {art.sha256[:16]} here, "
                            f"{earlier.artifact.sha256[:16]} there (two different builds of one binary)"
                        )
                    continue
                staged = _stage(cfg, tree, art, arch, staging, where, problems)
                if staged is not None:
                    collected[art.key] = Collected(artifact=art, tree=tree, staged=staged)
                    log.write(
                        f"verified {art.arch}/{art.binary} from {_show(tree.root)}: static {arch.name} executable, sha256 {art.sha256[:16]}\n"
                    )
        problems.extend(_missing(cfg, selected, collected, dirs))

        if problems:
            _fail_summary(problems)
            if as_json:
                out.write(json.dumps({"ok": False, "problems": problems}, indent=2) + "\n")
            raise CheckFailed(
                f"collect failed, nothing was written ({len(problems)} problem(s)):\n  " + "\n  ".join(problems),
                hint="each DIR must be a dist/pack-binaries tree made by `invoke build-pack-binaries` for the same buildcfg.toml",
            )

        # Everything checked: install the verified copies, then the manifest (last, so it never
        # names a file that is not there).
        ordered = sorted(collected.values(), key=lambda c: (c.artifact.binary, c.artifact.arch))
        for c in ordered:
            atomic_copy(c.staged, cfg.root / c.artifact.path, mode=0o755)
        merged = existing.merged([c.artifact for c in ordered])
        merged.save(out_manifest_path)

    report = CollectReport(
        collected=tuple(ordered),
        trees=tuple(trees),
        ignored=tuple(ignored),
        duplicates=tuple(duplicates),
        manifest=manifest_relpath(cfg),
    )
    _write(report, out=out, as_json=as_json)
    append_step_summary(SUMMARY_TITLE, [c.artifact for c in ordered])
    return merged


def _selected(cfg: BuildConfig, require: tuple[str, ...] | None) -> tuple[Architecture, ...]:
    if not require:
        return cfg.architectures
    out: list[Architecture] = []
    for spec in require:
        for arch in cfg.select_arches(spec):
            if arch not in out:
                out.append(arch)
    return tuple(out)


def _find_trees(dirs: Sequence[str], problems: list[str], log: TextIO) -> list[ArtifactTree]:
    trees: list[ArtifactTree] = []
    seen: set[Path] = set()
    for given in dirs:
        top = Path(given)
        if not top.is_dir():
            raise UsageError(
                f"{given}: not a directory", hint="pass the directories the build artifacts were downloaded to"
            )
        found = _manifests_under(top, problems)
        if not found:
            problems.append(
                f"{given}: no {MANIFEST_NAME} within {SEARCH_DEPTH} levels (is this a downloaded pack-binaries artifact?)"
            )
        for path in found:
            key = path.resolve()
            if key in seen:
                continue  # the same tree named twice (overlapping DIRs): read it once
            seen.add(key)
            try:
                manifest = Manifest.load(path, missing_ok=False)
            except UsageError as e:
                problems.append(f"invalid manifest: {e.message}")
                continue
            log.write(f"found {_show(path)}: {len(manifest.artifacts)} artifact(s)\n")
            trees.append(ArtifactTree(given=given, root=path.parent, manifest=manifest))
    return trees


def _manifests_under(top: Path, problems: list[str]) -> list[Path]:
    """manifest.json files at most SEARCH_DEPTH levels below ``top``, never through a symlink.

    A directory holding a manifest is a tree: its own subdirectories belong to it and are not
    searched for further manifests. Hidden directories (staging dirs of a running build) are
    skipped.
    """
    found: list[Path] = []

    def walk(d: Path, depth: int) -> None:
        try:
            entries = sorted(os.scandir(d), key=lambda e: e.name)
        except OSError as e:
            problems.append(f"{_show(d)}: cannot list: {e.strerror}")
            return
        for entry in entries:
            if entry.name == MANIFEST_NAME:
                if entry.is_symlink() or not entry.is_file(follow_symlinks=False):
                    problems.append(
                        f"{_show(Path(entry.path))}: not a regular file (a symlink or special file is refused)"
                    )
                else:
                    found.append(Path(entry.path))
                return
        if depth >= SEARCH_DEPTH:
            return
        for entry in entries:
            if not entry.name.startswith(".") and entry.is_dir(follow_symlinks=False):
                walk(Path(entry.path), depth + 1)

    walk(top, 0)
    return found


def _check_entry(cfg: BuildConfig, art: Artifact, where: str, problems: list[str]) -> Architecture | None:
    """The entry's architecture when its metadata is what build-pack-binaries writes; else None."""
    try:
        arch = cfg.arch(art.arch)
    except ConfigError:
        problems.append(f"{where}: architecture {art.arch!r} is not configured in {cfg.source.name}")
        return None
    # Aliases are fine on the command line, not in a manifest: every consumer matches on the name.
    if art.arch != arch.name:
        problems.append(f"{where}: architecture must be written {arch.name!r}, not {art.arch!r}")
        return None
    ok = True
    if art.target != arch.rust_target:
        problems.append(f"{where}: target {art.target!r} is not {arch.name}'s {arch.rust_target}")
        ok = False
    binary = next((b for b in cfg.binaries if b.name == art.binary), None)
    if binary is None:
        problems.append(f"{where}: binary {art.binary!r} is not declared in {cfg.source.name}")
        return None
    expected = binary_relpath(cfg, arch.name, binary.pack, binary.install_path)
    if art.path != expected or art.pack != binary.pack:
        problems.append(
            f"{where}: path {art.path!r} ({_pack_words(art.pack)}) is not where build-pack-binaries puts it: "
            f"{expected!r} ({_pack_words(binary.pack)} in {cfg.source.name})"
        )
        ok = False
    if not art.static:
        problems.append(f"{where}: recorded as not static; pack binaries must be static executables")
        ok = False
    return arch if ok else None


def _stage(
    cfg: BuildConfig,
    tree: ArtifactTree,
    art: Artifact,
    arch: Architecture,
    staging: Path,
    where: str,
    problems: list[str],
) -> Path | None:
    """Copy the entry's file into ``staging`` and check the copy; the copy's path, or None."""
    parts = _tree_parts(cfg, art)
    src = tree.root
    for i, part in enumerate(parts):
        src = src / part
        try:
            st = os.lstat(src)
        except FileNotFoundError:
            problems.append(f"{where}: {_show(src)} does not exist")
            return None
        except OSError as e:
            problems.append(f"{where}: {_show(src)}: {e.strerror}")
            return None
        if stat.S_ISLNK(st.st_mode):
            target = os.readlink(src)
            problems.append(
                f"{where}: {_show(src)} is a symlink (to {target!r}); refused: files must be inside their tree, reached without links"
            )
            return None
        last = i == len(parts) - 1
        if not last and not stat.S_ISDIR(st.st_mode):
            problems.append(f"{where}: {_show(src)} is not a directory")
            return None
        if last and not stat.S_ISREG(st.st_mode):
            problems.append(f"{where}: {_show(src)} is not a regular file")
            return None
    dest = staging / arch.name / art.binary
    dest.parent.mkdir(parents=True, exist_ok=True)
    h = hashlib.sha256()
    size = 0
    try:
        # O_NOFOLLOW: the file was checked above; a link swapped in since then is not followed.
        fd = os.open(src, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(fd, "rb") as fin, open(dest, "wb") as fout:
            for chunk in iter(lambda: fin.read(1 << 20), b""):
                h.update(chunk)
                size += len(chunk)
                fout.write(chunk)
    except OSError as e:
        problems.append(f"{where}: cannot read {_show(src)}: {e.strerror}")
        return None
    ok = True
    if size != art.size:
        problems.append(f"{where}: {_show(src)} is {size} bytes, the manifest says {art.size}")
        ok = False
    digest = h.hexdigest()
    if digest != art.sha256:
        problems.append(f"{where}: sha256 mismatch: {_show(src)} is {digest}, the manifest says {art.sha256}")
        ok = False
    result = verify_file(dest, arch)
    if not result.ok:
        problems.append(f"{where}: {_show(src)} fails verification for {arch.name}: " + "; ".join(result.problems))
        ok = False
    return dest if ok else None


def _pack_words(pack: str | None) -> str:
    return "no pack" if pack is None else f"pack {pack!r}"


def _tree_parts(cfg: BuildConfig, art: Artifact) -> tuple[str, ...]:
    """The entry's path inside its tree: <arch>/<pack>/<install path> (or <arch>/bin/<name>).

    Recorded paths are relative to the repository root (``dist/pack-binaries/<arch>/...``, which
    :func:`_check_entry` enforced); inside a tree they are relative to its manifest's directory.
    """
    return PurePosixPath(art.path).parts[len(PurePosixPath(dist_tree(cfg)).parts) :]


def _missing(
    cfg: BuildConfig,
    selected: tuple[Architecture, ...],
    collected: dict[tuple[str, str], Collected],
    dirs: Sequence[str],
) -> list[str]:
    problems: list[str] = []
    where = ", ".join(dirs)
    for arch in selected:
        have = {b for (a, b) in collected if a == arch.name}
        wanted = [b.name for b in cfg.binaries]
        if not have and wanted:
            problems.append(f"missing architecture {arch.name}: no valid {arch.name} binary under {where}")
            continue
        for name in wanted:
            if name not in have:
                problems.append(f"missing {arch.name}/{name}: no valid entry under {where}")
    return problems


def _write(report: CollectReport, *, out: TextIO, as_json: bool) -> None:
    if as_json:
        out.write(json.dumps(report.to_json(), indent=2) + "\n")
        return
    arts = [c.artifact for c in report.collected]
    rows = artifact_rows(arts)
    for row, c in zip(rows, report.collected):
        row.append(_show(c.tree.root))
    out.write(table(["arch", "path", "size", "linkage", "sha256", "from"], rows) + "\n")
    out.writelines(f"ignored (architecture not selected): {line}\n" for line in report.ignored)
    out.writelines(f"duplicate, identical: {line}\n" for line in report.duplicates)
    arches = sorted({a.arch for a in arts})
    out.write(
        f"collected {len(arts)} binaries ({', '.join(arches)}) from {len(report.trees)} tree(s); manifest {report.manifest}\n"
    )
    out.flush()


def _fail_summary(problems: list[str]) -> None:
    """On failure, the step summary says why (append_step_summary only writes artifact tables)."""
    target = os.environ.get(SUMMARY_ENV)
    if not target:
        return
    lines = [f"### {SUMMARY_TITLE}: failed, nothing written", ""] + [f"- {p}" for p in problems]
    with open(Path(target), "a", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n\n")


def _show(p: Path) -> str:
    """A path as the user typed it: relative to the working directory when it is below it."""
    try:
        return str(p.relative_to(Path.cwd()))
    except ValueError:
        return str(p)


__all__ = ["SEARCH_DEPTH", "ArtifactTree", "CollectReport", "Collected", "run_collect"]
