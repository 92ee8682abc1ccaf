"""collect-pack-binaries carries each binary's SBOM and each tree's provenance statement, and
refuses what does not belong (tests/unit/test_collect.py's trees and real binaries; the SBOMs
made by packbin's own make_sbom from real `cargo metadata`; the statements and manifests written
by hand, the way a hostile or broken CI job could write them)."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from packbin.build.deps import DependencyList, dependency_list
from packbin.build.sbom import make_sbom
from packbin.ci.collect import run_collect
from packbin.config.model import BuildConfig
from packbin.dist.manifest import Manifest, Provenance
from tests.support.dep_graphs import metadata, path_workspace
from tests.unit.test_collect import BINARY, INSTALL, TARGETS, artifact, compile_c, fails, make_tree, repo

__all__ = ["compile_c", "repo"]  # the fixtures of test_collect.py, used here by name

PROVENANCE = "dist/pack-binaries/provenance.intoto.json"


@pytest.fixture(scope="module")
def deps(tmp_path_factory: pytest.TempPathFactory) -> DependencyList:
    ws = path_workspace(tmp_path_factory.mktemp("paths") / "ws")
    manifest = ws / "crates/app-0.1.0/Cargo.toml"
    return dependency_list(
        metadata(manifest, TARGETS["x86_64"]),
        package="app",
        manifest_path=str(manifest),
        lock_text=(ws / "Cargo.lock").read_text(),
        repo_root=str(ws),
    )


def _statement(*shas: str) -> dict[str, Any]:
    return {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": f"b{i}", "digest": {"sha256": s}} for i, s in enumerate(shas)],
        "predicateType": "https://slsa.dev/provenance/v1",
        "predicate": {},
    }


def tree_with_records(
    root: Path,
    arch: str,
    data: bytes,
    deps: DependencyList,
    *,
    sbom_for: str | None = None,
    statement: dict[str, Any] | None = None,
) -> Path:
    """A tree whose binary has its SBOM beside it (made for ``sbom_for``'s sha256, default its own)
    and whose manifest records a provenance statement (default: one naming the binary)."""
    sha = hashlib.sha256(data).hexdigest()
    sbom = make_sbom(
        deps, binary=BINARY, arch=arch, target=TARGETS[arch], sha256=sbom_for or sha, packbin_version="test"
    )
    (root / arch / INSTALL).parent.mkdir(parents=True, exist_ok=True)
    (root / arch / (INSTALL + ".cdx.json")).write_bytes(sbom)
    text = json.dumps(statement if statement is not None else _statement(sha)).encode()
    (root / "provenance.intoto.json").write_bytes(text)
    art = artifact(
        arch,
        data,
        sbom=f"dist/pack-binaries/{arch}/{INSTALL}.cdx.json",
        sbom_sha256=hashlib.sha256(sbom).hexdigest(),
    )
    make_tree(root, arch, data, entries=[art])
    m = Manifest(artifacts=(art,), provenance=Provenance(path=PROVENANCE, sha256=hashlib.sha256(text).hexdigest()))
    (root / "manifest.json").write_text(m.to_json())
    return root


def test_sboms_and_statements_are_carried(
    repo: BuildConfig, tmp_path: Path, compile_c: Callable[..., bytes], deps: DependencyList
) -> None:
    dirs = [str(tree_with_records(tmp_path / "dl" / arch, arch, compile_c(arch), deps)) for arch in ("x86_64", "arm64")]
    merged = run_collect(repo, dirs, out=io.StringIO())
    for a in merged.artifacts:
        assert a.sbom == a.path + ".cdx.json"
        assert hashlib.sha256((repo.root / a.sbom).read_bytes()).hexdigest() == a.sbom_sha256
    assert merged.provenance is not None
    bundle = repo.root / merged.provenance.path
    assert merged.provenance.path == "dist/pack-binaries/provenance.intoto.jsonl"
    assert hashlib.sha256(bundle.read_bytes()).hexdigest() == merged.provenance.sha256
    lines = [json.loads(line) for line in bundle.read_text().splitlines()]
    named = {s["digest"]["sha256"] for st in lines for s in st["subject"]}
    assert named == {a.sha256 for a in merged.artifacts} and len(lines) == 2
    assert Manifest.load(repo.root / "dist/pack-binaries/manifest.json") == merged


def test_an_sbom_of_another_binary_is_refused(
    repo: BuildConfig, tmp_path: Path, compile_c: Callable[..., bytes], deps: DependencyList
) -> None:
    x86 = compile_c("x86_64")
    other = hashlib.sha256(compile_c("x86_64", variant="v2")).hexdigest()
    dirs = [
        str(tree_with_records(tmp_path / "x", "x86_64", x86, deps, sbom_for=other)),
        str(tree_with_records(tmp_path / "a", "arm64", compile_c("arm64"), deps)),
    ]
    fails(
        repo,
        dirs,
        f"{INSTALL}.cdx.json does not name the binary beside it (sha256 {hashlib.sha256(x86).hexdigest()[:16]})",
    )


def test_a_changed_sbom_is_refused(
    repo: BuildConfig, tmp_path: Path, compile_c: Callable[..., bytes], deps: DependencyList
) -> None:
    x = tree_with_records(tmp_path / "x", "x86_64", compile_c("x86_64"), deps)
    sbom = x / "x86_64" / (INSTALL + ".cdx.json")
    sbom.write_bytes(sbom.read_bytes().replace(b'"version"', b'"version" ', 1))
    dirs = [str(x), str(tree_with_records(tmp_path / "a", "arm64", compile_c("arm64"), deps))]
    fails(repo, dirs, "sha256 mismatch", ".cdx.json")


def test_an_sbom_away_from_its_binary_is_refused(
    repo: BuildConfig, tmp_path: Path, compile_c: Callable[..., bytes], deps: DependencyList
) -> None:
    x = tree_with_records(tmp_path / "x", "x86_64", compile_c("x86_64"), deps)
    m = Manifest.load(x / "manifest.json")
    moved = replace(m.artifacts[0], sbom="dist/pack-binaries/x86_64/elsewhere.cdx.json")
    (x / "manifest.json").write_text(Manifest(artifacts=(moved,), provenance=m.provenance).to_json())
    dirs = [str(x), str(tree_with_records(tmp_path / "a", "arm64", compile_c("arm64"), deps))]
    fails(repo, dirs, "sbom 'dist/pack-binaries/x86_64/elsewhere.cdx.json' is not beside its binary")


def test_a_statement_that_does_not_name_the_binary_is_refused(
    repo: BuildConfig, tmp_path: Path, compile_c: Callable[..., bytes], deps: DependencyList
) -> None:
    stranger = _statement("0" * 64)
    dirs = [
        str(tree_with_records(tmp_path / "x", "x86_64", compile_c("x86_64"), deps, statement=stranger)),
        str(tree_with_records(tmp_path / "a", "arm64", compile_c("arm64"), deps)),
    ]
    fails(repo, dirs, "the provenance statement does not name x86_64/attune-core-timer-sensor")


def test_a_statement_that_is_not_in_toto_is_refused(
    repo: BuildConfig, tmp_path: Path, compile_c: Callable[..., bytes], deps: DependencyList
) -> None:
    dirs = [
        str(tree_with_records(tmp_path / "x", "x86_64", compile_c("x86_64"), deps, statement={"_type": "other"})),
        str(tree_with_records(tmp_path / "a", "arm64", compile_c("arm64"), deps)),
    ]
    fails(repo, dirs, "is not an in-toto statement")


def test_trees_from_before_issue_18_still_collect(
    repo: BuildConfig, tmp_path: Path, compile_c: Callable[..., bytes]
) -> None:
    dirs = [str(make_tree(tmp_path / arch, arch, compile_c(arch))) for arch in ("x86_64", "arm64")]
    merged = run_collect(repo, dirs, out=io.StringIO())
    assert merged.provenance is None
    assert all(a.sbom is None for a in merged.artifacts)
