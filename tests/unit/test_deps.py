"""build/deps.py: a binary's dependency list from real `cargo metadata`, checked against `cargo tree`.

The expectations come from cargo itself, never from a list written here: the package set is what
``cargo tree -e normal,build`` shows, the runtime packages what ``cargo tree -e
normal,no-proc-macro`` shows (the rest are build-only: behind a build dependency or a proc
macro), the edges the tree's indentation. Malformed metadata is real metadata with one field
broken.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from packbin._compat import tomllib
from packbin.build.deps import DependencyList, dependency_list
from packbin.build.metadata import MAX_METADATA_BYTES
from packbin.elf.depinfo import dep_section, parse_dep_section
from packbin.errors import BuildError
from tests.support.cargo_workspace import SENSOR_PACKAGE, make_workspace_or_skip
from tests.support.dep_graphs import TRIPLES, cargo, metadata, path_workspace, tree_edges, tree_packages

pytestmark = pytest.mark.compiler  # runs the host cargo (resolution only: no build)

REPO = Path(__file__).resolve().parents[2]
TIMER_SENSOR = REPO / "packs/core/sensors/timer-sensor"


@pytest.fixture(scope="module")
def attune(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of the attune-shaped workspace (tokio, serde, ring; vendored from Debian)."""
    return make_workspace_or_skip(tmp_path_factory.mktemp("attune") / "ws")


@pytest.fixture(scope="module")
def paths_ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return path_workspace(tmp_path_factory.mktemp("paths") / "ws")


def _list(ws: Path, member: str, package: str, triple: str) -> DependencyList:
    manifest = ws / member / "Cargo.toml"
    lock = ws / "Cargo.lock"
    return dependency_list(
        metadata(manifest, triple),
        package=package,
        manifest_path=str(manifest),
        lock_text=lock.read_text() if lock.is_file() else None,
        repo_root=str(ws),
        binary=package,
    )


def _check_against_cargo_tree(ws: Path, deps: DependencyList, package: str, triple: str) -> None:
    listed = {(p.name, p.version) for p in deps.packages}
    assert listed == tree_packages(ws, package, triple, "normal,build")
    runtime = tree_packages(ws, package, triple, "normal,no-proc-macro")
    assert {(p.name, p.version) for p in deps.packages if p.kind == "runtime"} == runtime
    assert {(p.name, p.version) for p in deps.packages if p.kind == "build"} == listed - runtime
    edges = {
        ((p.name, p.version), (deps.packages[d].name, deps.packages[d].version))
        for p in deps.packages
        for d in p.dependencies
    }
    assert edges == tree_edges(ws, package, triple, "normal,build")
    # cargo-auditable's order: by name, then package id; each package's dependencies sorted.
    assert [p.name for p in deps.packages] == sorted(p.name for p in deps.packages)
    assert all(list(p.dependencies) == sorted(set(p.dependencies)) for p in deps.packages)
    assert [p.root for p in deps.packages].count(True) == 1 and deps.root.name == package


@pytest.mark.parametrize("triple", TRIPLES)
def test_attune_sensor_matches_cargo_tree(attune: Path, triple: str) -> None:
    deps = _list(attune, "crates/sensor", SENSOR_PACKAGE, triple)
    _check_against_cargo_tree(attune, deps, SENSOR_PACKAGE, triple)
    by_name = {p.name: p for p in deps.packages}
    # The attune workspace's other bin and the unreached part of the workspace are not listed.
    assert "attune-other-tool" not in by_name
    # Path packages: local, with their directory; vendored crates keep crates.io as their source.
    assert (deps.root.source, deps.root.local_path) == ("local", "crates/sensor")
    assert (by_name["attune-common"].source, by_name["attune-common"].local_path) == ("local", "crates/common")
    lock = tomllib.loads((attune / "Cargo.lock").read_text())["package"]
    for p in deps.packages:
        if p.source == "local":
            assert p.checksum is None
            continue
        assert p.source == "crates.io" and p.local_path is None
        entry = next(e for e in lock if (e["name"], e["version"]) == (p.name, p.version))
        wanted = entry.get("checksum")
        assert p.checksum == (wanted if wanted and len(wanted) == 64 else None)
        manifest = tomllib.loads((attune / "vendor" / p.name / "Cargo.toml").read_text())["package"]
        assert p.license == manifest.get("license")
    assert any(p.checksum for p in deps.packages)
    assert any(p.license is None for p in deps.packages)  # ring 0.16 has only a license-file


@pytest.mark.parametrize("triple", TRIPLES)
def test_path_workspace_dev_build_proc_macro_and_duplicates(paths_ws: Path, triple: str) -> None:
    deps = _list(paths_ws, "crates/app-0.1.0", "app", triple)
    _check_against_cargo_tree(paths_ws, deps, "app", triple)
    names = [p.name for p in deps.packages]
    # The dev dependency and what only it reaches are dropped; cargo metadata has them.
    graph = json.loads(metadata(paths_ws / "crates/app-0.1.0/Cargo.toml", triple))
    assert {"devhelper", "devonly"} <= {p["name"] for p in graph["packages"]}
    assert not {"devhelper", "devonly"} & set(names)
    assert names.count("dupe") == 2
    assert all(p.source == "local" and p.local_path == f"crates/{p.name}-{p.version}" for p in deps.packages)


def test_timer_sensor_crate_alone(tmp_path: Path) -> None:
    # The repository's own pack crate is std-only: its list is the root alone.
    for triple in TRIPLES:
        deps = _list(REPO, str(TIMER_SENSOR.relative_to(REPO)), "attune-core-timer-sensor", triple)
        assert len(deps.packages) == 1
        root = deps.root
        assert (root.name, root.source, root.kind, root.local_path) == (
            "attune-core-timer-sensor",
            "local",
            "runtime",
            "packs/core/sensors/timer-sensor",
        )
        assert root.license == tomllib.loads((TIMER_SENSOR / "Cargo.toml").read_text())["package"]["license"]


def test_dep_list_is_the_section_shape(attune: Path) -> None:
    deps = _list(attune, "crates/sensor", SENSOR_PACKAGE, TRIPLES[0])
    section = deps.dep_list()
    assert section.format == 1
    # The section's own encoder and reader (which checks the graph) take it back unchanged.
    assert parse_dep_section(dep_section(section)) == section
    assert [(p.name, p.version, p.source, p.kind, p.dependencies, p.root) for p in section.packages] == [
        (p.name, p.version, p.source, p.kind, p.dependencies, p.root) for p in deps.packages
    ]


def test_root_by_package_id_and_virtual_workspace(attune: Path) -> None:
    # From the virtual root's manifest, resolve.root is null: the root is found by id or by manifest.
    raw = metadata(attune / "Cargo.toml", TRIPLES[0])
    doc = json.loads(raw)
    assert doc["resolve"]["root"] is None
    sensor = next(p for p in doc["packages"] if p["name"] == SENSOR_PACKAGE)
    manifest = str(attune / "crates/sensor/Cargo.toml")
    common = {"manifest_path": manifest, "lock_text": None, "repo_root": str(attune)}
    by_id = dependency_list(raw, package_id=sensor["id"], package=SENSOR_PACKAGE, **common)
    by_manifest = dependency_list(raw, package=SENSOR_PACKAGE, **common)
    assert by_id == by_manifest
    # The workspace-wide resolution gives the same list as the member's own (this workspace has
    # no feature that only another member turns on).
    member = _list(attune, "crates/sensor", SENSOR_PACKAGE, TRIPLES[0])
    assert [(p.name, p.version, p.kind, p.dependencies, p.root) for p in by_id.packages] == [
        (p.name, p.version, p.kind, p.dependencies, p.root) for p in member.packages
    ]


def test_no_deps_metadata_is_refused(attune: Path) -> None:
    manifest = attune / "crates/sensor/Cargo.toml"
    raw = cargo(attune, "metadata", "--format-version", "1", "--offline", "--no-deps", "--manifest-path", str(manifest))
    with pytest.raises(BuildError, match=r"resolve: missing or null \(cargo metadata ran with --no-deps\)"):
        dependency_list(
            raw.encode(), package=SENSOR_PACKAGE, manifest_path=str(manifest), lock_text=None, repo_root=str(attune)
        )


# --- malformed metadata: the real document with one thing broken -------------------------------

Doc = dict[str, Any]


def _pkg(doc: Doc, name: str) -> Doc:
    return next(p for p in doc["packages"] if p["name"] == name)


def _node(doc: Doc, name: str) -> Doc:
    pkg_id = _pkg(doc, name)["id"]
    return next(n for n in doc["resolve"]["nodes"] if n["id"] == pkg_id)


def _set(path: Callable[[Doc], Doc], key: str, value: object) -> Callable[[Doc], None]:
    def mutate(doc: Doc) -> None:
        path(doc)[key] = value

    return mutate


def _drop(path: Callable[[Doc], Doc], key: str) -> Callable[[Doc], None]:
    def mutate(doc: Doc) -> None:
        del path(doc)[key]

    return mutate


def _cycle(doc: Doc) -> None:
    # untrusted 0.7.1 (a leaf) "depends on" ring, which depends on it.
    _node(doc, "untrusted")["deps"].append(
        copy.deepcopy(next(d for d in _node(doc, "attune-sensor")["deps"] if d["name"] == "ring"))
    )


def _duplicate_package(doc: Doc) -> None:
    doc["packages"].append(copy.deepcopy(doc["packages"][0]))


def _duplicate_node(doc: Doc) -> None:
    doc["resolve"]["nodes"].append(copy.deepcopy(doc["resolve"]["nodes"][0]))


def _unknown_dep(doc: Doc) -> None:
    _node(doc, "ring")["deps"][0]["pkg"] = "registry+https://example.invalid#nope@1.0.0"


def _unknown_node(doc: Doc) -> None:
    doc["resolve"]["nodes"][0]["id"] = "path+file:///elsewhere#ghost@0.0.0"


def _top(doc: Doc) -> Doc:
    return doc


def _resolve(doc: Doc) -> Doc:
    return doc["resolve"]  # type: ignore[no-any-return]


def _ring(doc: Doc) -> Doc:
    return _pkg(doc, "ring")


def _ring_target(doc: Doc) -> Doc:
    return _pkg(doc, "ring")["targets"][0]  # type: ignore[no-any-return]


def _ring_edge(doc: Doc) -> Doc:
    return _node(doc, "ring")["deps"][0]  # type: ignore[no-any-return]


def _ring_kind(doc: Doc) -> Doc:
    return _node(doc, "ring")["deps"][0]["dep_kinds"][0]  # type: ignore[no-any-return]


BROKEN: dict[str, tuple[Callable[[Doc], None], str]] = {
    "version string": (_set(_top, "version", "1"), r"version: a string, not a number"),
    "version true": (_set(_top, "version", True), r"version: a boolean, not a number"),
    "version 2": (_set(_top, "version", 2), r"format version 2, not 1"),
    "packages object": (_set(_top, "packages", {}), r"packages: an object, not an array"),
    "packages missing": (_drop(_top, "packages"), r"packages: missing"),
    "package id number": (_set(_ring, "id", 7), r"packages\[\d+\]\.id: a number, not a string"),
    "package name missing": (_drop(_ring, "name"), r"packages\[\d+\]\.name: missing"),
    "package name empty": (_set(_ring, "name", ""), r"packages\[\d+\]\.name: empty"),
    "package name too long": (_set(_ring, "name", "r" * 1025), r"\"name\" is 1025 characters long"),
    "package version null": (_set(_ring, "version", None), r"packages\[\d+\]\.version: null, not a string"),
    "package source number": (_set(_ring, "source", 3), r"packages\[\d+\]\.source: a number, not a string or null"),
    "package source unknown": (_set(_ring, "source", "svn+https://x"), r"'svn\+https://x' is no source cargo writes"),
    "package license array": (_set(_ring, "license", ["MIT"]), r"packages\[\d+\]\.license: an array"),
    "package manifest missing": (_drop(_ring, "manifest_path"), r"packages\[\d+\]\.manifest_path: missing"),
    "targets string": (_set(_ring, "targets", "lib"), r"packages\[\d+\]\.targets: a string, not an array"),
    "target kind missing": (_drop(_ring_target, "kind"), r"targets\[0\]\.kind: missing"),
    "target kind number": (_set(_ring_target, "kind", [1]), r"targets\[0\]\.kind\[0\]: a number, not a string"),
    "package twice": (_duplicate_package, r"appears twice"),
    "resolve array": (_set(_top, "resolve", []), r"resolve: an array, not an object"),
    "resolve root number": (_set(_resolve, "root", 5), r"resolve\.root: a number"),
    "resolve root unknown": (_set(_resolve, "root", "ghost"), r"resolve\.root: 'ghost' has no node"),
    "nodes missing": (_drop(_resolve, "nodes"), r"resolve\.nodes: missing"),
    "node twice": (_duplicate_node, r"resolve\.nodes\[\d+\]\.id: .* appears twice"),
    "node not a package": (_unknown_node, r"is not in packages"),
    "deps null": (_set(lambda d: _node(d, "ring"), "deps", None), r"resolve\.nodes\[\d+\]\.deps: null, not an array"),
    "dep pkg missing": (_drop(_ring_edge, "pkg"), r"deps\[0\]\.pkg: missing"),
    "dep pkg unknown": (_unknown_dep, r"which has no node"),
    "dep kinds object": (_set(_ring_edge, "dep_kinds", {}), r"deps\[0\]\.dep_kinds: an object, not an array"),
    "dep kind unknown": (
        _set(_ring_kind, "kind", "weird"),
        r"dep_kinds\[0\]\.kind: 'weird', not null, 'build' or 'dev'",
    ),
    "cycle": (_cycle, r"the dependency graph has a cycle"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_malformed_metadata_is_a_build_error(attune: Path, case: str) -> None:
    manifest = attune / "crates/sensor/Cargo.toml"
    doc = json.loads(metadata(manifest, TRIPLES[0]))
    mutate, message = BROKEN[case]
    mutate(doc)
    with pytest.raises(BuildError, match=message) as info:
        dependency_list(
            json.dumps(doc).encode(),
            package=SENSOR_PACKAGE,
            manifest_path=str(manifest),
            lock_text=None,
            repo_root=str(attune),
            binary="attune-core-timer-sensor",
        )
    assert info.value.message.startswith("the dependency list of attune-core-timer-sensor: ")
    assert info.value.hint and info.value.exit_code == 4


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", r"not JSON"),
        (b"\xff\xfe{}", r"not JSON"),
        (b"[" * 100_000, r"not JSON"),
        (b"[]", r"an array, not an object"),
        (b" " * (MAX_METADATA_BYTES + 1), r"more than the 64 MiB read"),
    ],
    ids=["empty", "not utf-8", "nested too deep", "array", "too large"],
)
def test_not_metadata_at_all(data: bytes, message: str) -> None:
    with pytest.raises(BuildError, match=message):
        dependency_list(
            data, package="p", manifest_path="/build/src/Cargo.toml", lock_text=None, repo_root="/build/src"
        )


def test_root_not_found_and_outside_repository(attune: Path) -> None:
    manifest = attune / "crates/sensor/Cargo.toml"
    raw = metadata(manifest, TRIPLES[0])
    kw: dict[str, Any] = {"lock_text": None, "repo_root": str(attune)}
    with pytest.raises(BuildError, match=r"no package 'attune-sensr' with manifest"):
        dependency_list(raw, package="attune-sensr", manifest_path=str(manifest), **kw)
    with pytest.raises(BuildError, match=r"no package 'attune-sensor' with manifest"):
        dependency_list(raw, package=SENSOR_PACKAGE, manifest_path=str(attune / "Cargo.toml"), **kw)
    with pytest.raises(BuildError, match=r"no node for the root package id 'nope'"):
        dependency_list(raw, package_id="nope", package=SENSOR_PACKAGE, manifest_path=str(manifest), **kw)
    # The container's repository root is not where cargo saw the crates: a clear error, not "../.."
    with pytest.raises(BuildError, match=r"outside the repository \(/build/src\)"):
        dependency_list(
            raw, package=SENSOR_PACKAGE, manifest_path=str(manifest), lock_text=None, repo_root="/build/src"
        )


def test_bad_cargo_lock(attune: Path) -> None:
    manifest = attune / "crates/sensor/Cargo.toml"
    raw = metadata(manifest, TRIPLES[0])
    kw: dict[str, Any] = {"package": SENSOR_PACKAGE, "manifest_path": str(manifest), "repo_root": str(attune)}
    with pytest.raises(BuildError, match=r"Cargo.lock is unusable: not TOML"):
        dependency_list(raw, lock_text="[[package]\n", **kw)
    with pytest.raises(BuildError, match=r"Cargo.lock is unusable: package\[0\]: name, version, source and checksum"):
        dependency_list(raw, lock_text='[[package]]\nname = "ring"\nchecksum = 5\n', **kw)
    with pytest.raises(BuildError, match=r"`package` is not an array of tables"):
        dependency_list(raw, lock_text='package = "x"\n', **kw)


# --- any JSON value anywhere: a BuildError or a list, never another exception ------------------

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=6,
)


def _paths(value: object, prefix: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    """Every (key or index) path into a JSON document."""
    found = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            found += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found += _paths(v, (*prefix, i))
    return found


@pytest.fixture(scope="module")
def sensor_metadata(attune: Path) -> tuple[Doc, list[tuple[object, ...]]]:
    doc = json.loads(metadata(attune / "crates/sensor/Cargo.toml", TRIPLES[0]))
    return doc, _paths(doc)[1:]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_field_replaced_by_any_json(
    attune: Path, sensor_metadata: tuple[Doc, list[tuple[object, ...]]], data: st.DataObject
) -> None:
    doc, paths = sensor_metadata
    doc = copy.deepcopy(doc)
    path = data.draw(st.sampled_from(paths))
    value = data.draw(_JSON)
    target: Any = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    manifest = str(attune / "crates/sensor/Cargo.toml")
    try:
        deps = dependency_list(
            json.dumps(doc).encode(),
            package=SENSOR_PACKAGE,
            manifest_path=manifest,
            lock_text=None,
            repo_root=str(attune),
        )
    except BuildError:
        return
    assert [p.root for p in deps.packages].count(True) == 1
    assert parse_dep_section(dep_section(deps.dep_list())) == deps.dep_list()
