"""build/sbom.py: CycloneDX 1.6 from real dependency lists, checked with CycloneDX's own schema.

The dependency lists come from real `cargo metadata` (the attune workspace: tokio, serde, ring
from Debian's crate sources; the path-only workspace with one crate in two versions); the schema
check is cyclonedx-python-lib's strict JSON validator for 1.6, the license check the
license-expression package's SPDX licensing.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from license_expression import get_spdx_licensing

from packbin.build.deps import DependencyList, dependency_list
from packbin.build.sbom import make_sbom, sbom_names_binary, serial_number
from tests.support.cargo_workspace import SENSOR_BIN, SENSOR_PACKAGE, make_workspace_or_skip
from tests.support.dep_graphs import TRIPLES, metadata, path_workspace

pytestmark = pytest.mark.compiler  # runs the host cargo (resolution only: no build)

SHA = hashlib.sha256(b"the binary's bytes").hexdigest()


def _deps(ws: Path, member: str, package: str, triple: str) -> DependencyList:
    manifest = ws / member / "Cargo.toml"
    return dependency_list(
        metadata(manifest, triple),
        package=package,
        manifest_path=str(manifest),
        lock_text=(ws / "Cargo.lock").read_text(),
        repo_root=str(ws),
    )


@pytest.fixture(scope="module")
def attune(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_workspace_or_skip(tmp_path_factory.mktemp("attune") / "ws")


@pytest.fixture(scope="module")
def sensor_deps(attune: Path) -> dict[str, DependencyList]:
    return {t: _deps(attune, "crates/sensor", SENSOR_PACKAGE, t) for t in TRIPLES}


@pytest.fixture(scope="module")
def dupes_deps(tmp_path_factory: pytest.TempPathFactory) -> DependencyList:
    ws = path_workspace(tmp_path_factory.mktemp("paths") / "ws")
    return _deps(ws, "crates/app-0.1.0", "app", TRIPLES[0])


def _sbom(deps: DependencyList, *, sha: str = SHA, triple: str = TRIPLES[0]) -> bytes:
    return make_sbom(deps, binary=SENSOR_BIN, arch="x86_64", target=triple, sha256=sha, packbin_version="0.1.0")


def _valid(sbom: bytes) -> None:
    error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(sbom.decode())
    assert error is None, str(error)[:3000]


def _check_matches(deps: DependencyList, doc: dict[str, Any]) -> None:
    components = doc["components"]
    assert [(c["name"], c["version"]) for c in components] == [(p.name, p.version) for p in deps.packages]
    refs = [c["bom-ref"] for c in components]
    assert len(set(refs)) == len(refs)
    for crate, c in zip(deps.packages, components):
        props = {p["name"]: p["value"] for p in c["properties"]}
        assert c["scope"] == ("required" if crate.kind == "runtime" else "excluded")
        assert (props.get("cdx:rustc:dependency_kind") == "build") == (crate.kind == "build")
        assert props["packbin:source"] == crate.source
        assert props.get("packbin:local-path") == crate.local_path
        assert ("purl" in c) == (crate.source == "crates.io")
        if "purl" in c:
            assert c["purl"] == f"pkg:cargo/{crate.name}@{crate.version}"
        assert c.get("hashes", []) == ([{"alg": "SHA-256", "content": crate.checksum}] if crate.checksum else [])
        assert ("licenses" in c) == (crate.license is not None)
        for lic in c.get("licenses", []):
            assert get_spdx_licensing().validate(lic["expression"]).errors == []
    # The graph: the binary on the root crate, each crate on its dependencies.
    graph = {d["ref"]: d["dependsOn"] for d in doc["dependencies"]}
    binary = doc["metadata"]["component"]
    assert graph.pop(binary["bom-ref"]) == [refs[deps.packages.index(deps.root)]]
    assert graph == {refs[i]: [refs[d] for d in p.dependencies] for i, p in enumerate(deps.packages)}


@pytest.mark.parametrize("triple", TRIPLES)
def test_sensor_sbom_is_valid_cyclonedx_1_6(sensor_deps: dict[str, DependencyList], triple: str) -> None:
    deps = sensor_deps[triple]
    sbom = _sbom(deps, triple=triple)
    _valid(sbom)
    doc = json.loads(sbom)
    _check_matches(deps, doc)
    binary = doc["metadata"]["component"]
    assert (binary["type"], binary["name"], binary["hashes"]) == (
        "application",
        SENSOR_BIN,
        [{"alg": "SHA-256", "content": SHA}],
    )
    assert {"name": "packbin:target", "value": triple} in binary["properties"]
    assert doc["serialNumber"] == serial_number(SHA)
    # Registry crates have purls and lock checksums; ring (license-file only) has no license.
    by_name = {c["name"]: c for c in doc["components"]}
    assert by_name["tokio"]["purl"] == f"pkg:cargo/tokio@{by_name['tokio']['version']}"
    assert "licenses" not in by_name["ring"]
    # cc 1.0.73 says "MIT/Apache-2.0" (cargo's deprecated form): written as an SPDX expression.
    assert by_name["cc"]["licenses"] == [{"expression": "MIT OR Apache-2.0"}]


def test_schema_check_catches_a_broken_document(sensor_deps: dict[str, DependencyList]) -> None:
    # The validator is not a formality: a component without a name fails it.
    doc = json.loads(_sbom(sensor_deps[TRIPLES[0]]))
    del doc["components"][0]["name"]
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(json.dumps(doc)) is not None


def test_two_versions_of_one_crate(dupes_deps: DependencyList) -> None:
    sbom = _sbom(dupes_deps)
    _valid(sbom)
    doc = json.loads(sbom)
    _check_matches(dupes_deps, doc)
    dupes = [c["bom-ref"] for c in doc["components"] if c["name"] == "dupe"]
    assert dupes == ["dupe@1.0.0#local:crates/dupe-1.0.0", "dupe@2.0.0#local:crates/dupe-2.0.0"]


def test_same_name_version_and_source_twice(dupes_deps: DependencyList) -> None:
    # Two git crates of one name and version from two repositories: cargo allows it, but the
    # fixture cannot make it offline, so the second copy is made here from a real crate.
    crates = list(dupes_deps.packages)
    leaf = next(n for n, p in enumerate(crates) if p.name == "leaf")
    crates[leaf] = replace(crates[leaf], source="git", local_path=None)
    crates.append(replace(crates[leaf], dependencies=()))
    twice = DependencyList(packages=tuple(crates))
    sbom = _sbom(twice)
    _valid(sbom)
    refs = [c["bom-ref"] for c in json.loads(sbom)["components"]]
    assert len(set(refs)) == len(refs)
    assert f"leaf@0.1.0#git#{leaf}" in refs and f"leaf@0.1.0#git#{len(crates) - 1}" in refs


def test_deterministic(sensor_deps: dict[str, DependencyList]) -> None:
    deps = sensor_deps[TRIPLES[0]]
    assert _sbom(deps) == _sbom(deps)
    other = hashlib.sha256(b"other bytes").hexdigest()
    assert json.loads(_sbom(deps, sha=other))["serialNumber"] != json.loads(_sbom(deps))["serialNumber"]
    assert b"timestamp" not in _sbom(deps)
    with pytest.raises(ValueError, match="not 64 lowercase hex"):
        _sbom(deps, sha="ABC")


def test_sbom_names_binary(sensor_deps: dict[str, DependencyList]) -> None:
    sbom = _sbom(sensor_deps[TRIPLES[0]])
    assert sbom_names_binary(sbom, sha256=SHA)
    assert not sbom_names_binary(sbom, sha256=hashlib.sha256(b"x").hexdigest())
    assert not sbom_names_binary(sbom, sha256="not-a-hash")
    doc = json.loads(sbom)
    # Another binary's SBOM renamed to this one (the serial number no longer fits the hash).
    doc["metadata"]["component"]["hashes"][0]["content"] = other = hashlib.sha256(b"y").hexdigest()
    assert not sbom_names_binary(json.dumps(doc).encode(), sha256=other)
    for broken in (
        b"",
        b"\xff",
        sbom[: len(sbom) // 2],
        b"[]",
        b"[" * 100_000,
        json.dumps({**doc, "bomFormat": "SPDX"}).encode(),
        json.dumps({**doc, "metadata": []}).encode(),
        json.dumps({**doc, "metadata": {"component": {"hashes": "x"}}}).encode(),
    ):
        assert not sbom_names_binary(broken, sha256=SHA)
