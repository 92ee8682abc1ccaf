"""The SBOMs and provenance statements of collect-pack-binaries' trees, untrusted like the rest.

Each is copied to the private staging directory (no symlink followed, a size bound), hashed
against what its tree's manifest records, and checked: an SBOM must name the binary beside it
(its sha256), a provenance statement must be an in-toto Statement v1 whose subjects include
every binary collected from its tree. The statements collected become one in-toto bundle beside
the merged manifest: JSON Lines, one statement per tree (the in-toto attestation bundle format).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from packbin.build.sbom import sbom_names_binary
from packbin.ci.trees import ArtifactTree, show_path, stage_file, tree_parts
from packbin.config.model import BuildConfig
from packbin.dist.layout import SBOM_SUFFIX, dist_tree, provenance_relpath
from packbin.dist.manifest import Artifact, Provenance
from packbin.util.atomic import atomic_write_bytes

#: Larger SBOMs and statements than these are refused (a few hundred crates make ~200 KiB).
MAX_SBOM_BYTES = 32 << 20
MAX_PROVENANCE_BYTES = 8 << 20
#: The merged statements: ``dist/pack-binaries/`` + this.
BUNDLE_NAME = "provenance.intoto.jsonl"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"


def stage_sbom(
    cfg: BuildConfig, tree: ArtifactTree, art: Artifact, staging: Path, where: str, problems: list[str]
) -> tuple[bool, Path | None]:
    """Copy and check the SBOM the entry records: (no problem, the staged copy or None when none is recorded)."""
    if art.sbom is None:
        return True, None
    dest = staging / art.arch / (art.binary + SBOM_SUFFIX)
    copied = stage_file(tree.root, tree_parts(cfg, art.sbom), dest, where, problems, max_bytes=MAX_SBOM_BYTES)
    if copied is None:
        return False, None
    src, digest, _ = copied
    if digest != art.sbom_sha256:
        problems.append(f"{where}: sha256 mismatch: {show_path(src)} is {digest}, the manifest says {art.sbom_sha256}")
        return False, None
    if not sbom_names_binary(dest.read_bytes(), sha256=art.sha256):
        problems.append(
            f"{where}: {show_path(src)} does not name the binary beside it (sha256 {art.sha256[:16]}): "
            "an SBOM of another build"
        )
        return False, None
    return True, dest


def stage_statement(
    cfg: BuildConfig, tree: ArtifactTree, staging: Path, problems: list[str], *, index: int
) -> tuple[bool, dict[str, Any] | None]:
    """The tree's provenance statement, checked against its manifest: (no problem, the statement or None)."""
    recorded = tree.manifest.provenance
    if recorded is None:
        return True, None
    where = f"{show_path(tree.root)}: provenance"
    if recorded.path != provenance_relpath(cfg):
        problems.append(
            f"{where}: {recorded.path!r} is not where build-pack-binaries puts it: {provenance_relpath(cfg)!r}"
        )
        return False, None
    dest = staging / f"provenance-{index}.json"
    copied = stage_file(
        tree.root, tree_parts(cfg, recorded.path), dest, where, problems, max_bytes=MAX_PROVENANCE_BYTES
    )
    if copied is None:
        return False, None
    src, digest, _ = copied
    if digest != recorded.sha256:
        problems.append(f"{where}: sha256 mismatch: {show_path(src)} is {digest}, the manifest says {recorded.sha256}")
        return False, None
    try:
        statement = json.loads(dest.read_bytes())
    except (ValueError, RecursionError) as e:
        problems.append(f"{where}: {show_path(src)} is not valid JSON: {e}")
        return False, None
    if not isinstance(statement, dict) or statement.get("_type") != STATEMENT_TYPE:
        problems.append(f"{where}: {show_path(src)} is not an in-toto statement ({STATEMENT_TYPE})")
        return False, None
    return True, statement


def statement_problems(statement: dict[str, Any], arts: list[Artifact], where: str) -> list[str]:
    """Every binary of ``arts`` (collected from the statement's tree) its statement does not name."""
    subjects = statement.get("subject")
    named: set[str] = set()
    if isinstance(subjects, list):
        for s in subjects:
            digest = s.get("digest") if isinstance(s, dict) else None
            if isinstance(digest, dict) and isinstance(digest.get("sha256"), str):
                named.add(digest["sha256"])
    return [
        f"{where}: the provenance statement does not name {a.arch}/{a.binary} (sha256 {a.sha256[:16]})"
        for a in arts
        if a.sha256 not in named
    ]


def write_bundle(cfg: BuildConfig, statements: list[dict[str, Any]]) -> Provenance | None:
    """The collected statements as one JSON Lines bundle beside the merged manifest (None: there are none)."""
    if not statements:
        return None
    data = "".join(json.dumps(s, separators=(",", ":"), ensure_ascii=False) + "\n" for s in statements).encode()
    rel = f"{dist_tree(cfg)}/{BUNDLE_NAME}"
    atomic_write_bytes(cfg.root / rel, data)
    return Provenance(path=rel, sha256=hashlib.sha256(data).hexdigest())


__all__ = [
    "BUNDLE_NAME",
    "MAX_PROVENANCE_BYTES",
    "MAX_SBOM_BYTES",
    "stage_sbom",
    "stage_statement",
    "statement_problems",
    "write_bundle",
]
