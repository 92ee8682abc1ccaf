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
- an SBOM recorded beside a binary is copied and hashed the same way and must name that binary
  (its sha256); a tree's provenance statement must be an in-toto statement naming every binary
  taken from the tree (:mod:`packbin.ci.attestations`);
- two entries for the same (arch, binary) must agree; every required architecture (default: all
  configured ones) must be present with every configured binary.

Only when all of that holds are the staged copies installed (atomically, file by file) into
``<dist_dir>/pack-binaries/`` (each SBOM beside its binary, the trees' statements as one
bundle, ``provenance.intoto.jsonl``) and the merged manifest written, last. Any problem: CheckFailed
listing all of them, and nothing written.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TextIO

from packbin.arch import Architecture
from packbin.build.report import SUMMARY_ENV, append_step_summary, artifact_rows, table
from packbin.ci.attestations import stage_sbom, stage_statement, statement_problems, write_bundle
from packbin.ci.trees import SEARCH_DEPTH, ArtifactTree, check_entry, find_trees, show_path, stage_entry
from packbin.config.model import BuildConfig
from packbin.dist.layout import MANIFEST_NAME, manifest_relpath
from packbin.dist.manifest import Artifact, Manifest
from packbin.errors import CheckFailed, UsageError
from packbin.util.atomic import atomic_copy

SUMMARY_TITLE = "Collected pack binaries"


@dataclass(frozen=True, kw_only=True)
class Collected:
    """An artifact that passed every check, with its verified private copy."""

    artifact: Artifact
    tree: ArtifactTree
    staged: Path
    staged_sbom: Path | None = None  # its SBOM's checked copy (None: the entry records none)


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
    trees = find_trees(dirs, problems, log)
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
                where = f"{show_path(tree.root / MANIFEST_NAME)}: artifacts[{i}] ({art.arch}/{art.binary})"
                arch = check_entry(cfg, art, where, problems)
                if arch is None:
                    continue
                if arch not in selected:
                    ignored.append(f"{art.arch}/{art.binary} from {show_path(tree.root)}")
                    continue
                earlier = collected.get(art.key)
                if earlier is not None:
                    same = _second_copy(art, tree, earlier)
                    (duplicates if same else problems).append(same or _conflict(art, earlier, where))
                    continue
                staged = stage_entry(cfg, tree, art, arch, staging, where, problems)
                sbom_ok, sbom = stage_sbom(cfg, tree, art, staging, where, problems)
                if staged is not None and sbom_ok:
                    collected[art.key] = Collected(artifact=art, tree=tree, staged=staged, staged_sbom=sbom)
                    log.write(
                        f"verified {art.arch}/{art.binary} from {show_path(tree.root)}: static {arch.name} executable, sha256 {art.sha256[:16]}\n"
                    )
        problems.extend(_missing(cfg, selected, collected, dirs))
        statements = _statements(cfg, trees, collected, staging, problems)

        if problems:
            _refuse(problems, out=out, as_json=as_json)

        ordered = sorted(collected.values(), key=lambda c: (c.artifact.binary, c.artifact.arch))
        merged = _install(cfg, ordered, existing, statements, out_manifest_path)

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


def _install(
    cfg: BuildConfig,
    ordered: list[Collected],
    existing: Manifest,
    statements: list[dict[str, Any]],
    manifest_path: Path,
) -> Manifest:
    """Everything checked: install the verified copies, then the manifest (last, so it never
    names a file that is not there)."""
    for c in ordered:
        atomic_copy(c.staged, cfg.root / c.artifact.path, mode=0o755)
        if c.staged_sbom is not None and c.artifact.sbom is not None:
            atomic_copy(c.staged_sbom, cfg.root / c.artifact.sbom, mode=0o644)
    merged = replace(existing.merged([c.artifact for c in ordered]), provenance=write_bundle(cfg, statements))
    merged.save(manifest_path)
    return merged


def _statements(
    cfg: BuildConfig,
    trees: list[ArtifactTree],
    collected: dict[tuple[str, str], Collected],
    staging: Path,
    problems: list[str],
) -> list[dict[str, Any]]:
    """The provenance statement of each tree that has one, checked against what was taken from it."""
    statements: list[dict[str, Any]] = []
    for i, tree in enumerate(trees):
        ok, statement = stage_statement(cfg, tree, staging, problems, index=i)
        if not ok or statement is None:
            continue
        taken = [c.artifact for c in collected.values() if c.tree is tree]
        found = statement_problems(statement, taken, f"{show_path(tree.root)}: provenance")
        problems.extend(found)
        if taken and not found:
            statements.append(statement)
    return statements


def _second_copy(art: Artifact, tree: ArtifactTree, earlier: Collected) -> str | None:
    """An entry collected from an earlier tree too: the duplicate note when the files agree."""
    if earlier.artifact.sha256 != art.sha256:
        return None
    return f"{art.arch}/{art.binary}: {show_path(tree.root)} has the same file as {show_path(earlier.tree.root)}"


def _conflict(art: Artifact, earlier: Collected, where: str) -> str:
    """The problem of an entry whose file differs from the one an earlier tree gave."""
    if art.input_hash and art.input_hash == earlier.artifact.input_hash:
        # The same inputs must give the same bytes on any engine or runner.
        return (
            f"{where}: not reproducible: the same inputs (input_hash {art.input_hash[:16]}) gave sha256 "
            f"{art.sha256[:16]} here and {earlier.artifact.sha256[:16]} in {show_path(earlier.tree.root)} "
            f"(builder images {art.builder_image} and {earlier.artifact.builder_image})"
        )
    return (
        f"{where}: conflicts with {show_path(earlier.tree.root)}: sha256 {art.sha256[:16]} here, "
        f"{earlier.artifact.sha256[:16]} there (two different builds of one binary)"
    )


def _refuse(problems: list[str], *, out: TextIO, as_json: bool) -> None:
    """Every problem in the step summary (and the ``--json`` document), then CheckFailed: nothing written."""
    _fail_summary(problems)
    if as_json:
        out.write(json.dumps({"ok": False, "problems": problems}, indent=2) + "\n")
    raise CheckFailed(
        f"collect failed, nothing was written ({len(problems)} problem(s)):\n  " + "\n  ".join(problems),
        hint="each DIR must be a dist/pack-binaries tree made by `invoke build-pack-binaries` for the same buildcfg.toml",
    )


def _selected(cfg: BuildConfig, require: tuple[str, ...] | None) -> tuple[Architecture, ...]:
    if not require:
        return cfg.architectures
    out: list[Architecture] = []
    for spec in require:
        for arch in cfg.select_arches(spec):
            if arch not in out:
                out.append(arch)
    return tuple(out)


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
        row.append(show_path(c.tree.root))
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


__all__ = ["SEARCH_DEPTH", "ArtifactTree", "CollectReport", "Collected", "run_collect"]
