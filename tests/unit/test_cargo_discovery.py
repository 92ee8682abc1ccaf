"""Finding every bin of a repository from its Cargo.toml files (packbin.workspace.discovery): no Docker.

The trees are real Cargo layouts (std-only crates); where cargo is installed, its own
`cargo metadata --offline --no-deps` on every workspace and standalone crate found is the oracle
for bins, packages and manifests.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from packbin.workspace.discovery import MAX_MANIFEST_BYTES, discover
from tests.support.cargo_trees import ATTUNE_BINS, attune_repo, lock, main_rs, write


def pkg(name: str, extra: str = "", *, edition: str = 'edition = "2021"') -> str:
    return f'[package]\nname = "{name}"\nversion = "0.1.0"\n{edition}\n{extra}'


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A root workspace with several member bins, an excluded standalone crate, and what to skip."""
    root = tmp_path / "repo"
    write(
        root,
        "Cargo.toml",
        """
        [workspace]
        members = ["crates/*", "tools/gen"]
        exclude = ["crates/core-timer-sensor", "crates/fixture-only", "broken"]

        [workspace.package]
        edition = "2021"

        [workspace.dependencies]
        helper = { path = "helpers/helper" }
        """,
    )
    # Explicit [[bin]] plus discovered src/bin/*.rs and src/bin/*/main.rs (edition 2021 keeps inferring).
    write(root, "crates/api/Cargo.toml", pkg("attune-api", '[[bin]]\nname = "api-server"\npath = "src/server.rs"\n'))
    write(root, "crates/api/src/server.rs", main_rs("api-server"))
    write(root, "crates/api/src/bin/attune-migrate.rs", main_rs("attune-migrate"))
    write(root, "crates/api/src/bin/attune-cli/main.rs", main_rs("attune-cli"))
    write(root, "crates/api/src/bin/.hidden.rs", main_rs("hidden"))
    # autobins = false: only the declared bin, src/main.rs and src/bin/ are not targets.
    write(
        root,
        "crates/worker/Cargo.toml",
        pkg("attune-worker", 'autobins = false\n\n[[bin]]\nname = "worker-main"\npath = "src/w.rs"\n'),
    )
    write(root, "crates/worker/src/w.rs", main_rs("worker-main"))
    write(root, "crates/worker/src/main.rs", main_rs("not-a-bin"))
    write(root, "crates/worker/src/bin/also-not.rs", main_rs("also-not"))
    # The implicit src/main.rs bin, named after the package; edition inherited from the workspace.
    write(
        root,
        "crates/common/Cargo.toml",
        '[package]\nname = "attune-common"\nversion = "0.1.0"\nedition.workspace = true\n',
    )
    write(root, "crates/common/src/main.rs", main_rs("attune-common"))
    write(root, "crates/common/src/lib.rs", "")
    # A member by a literal entry, whose workspace path dependency becomes a member too (cargo's find_path_deps).
    write(root, "tools/gen/Cargo.toml", pkg("gen", "\n[dependencies]\nhelper.workspace = true\n"))
    write(root, "tools/gen/src/main.rs", main_rs("gen"))
    write(root, "helpers/helper/Cargo.toml", pkg("helper"))
    write(root, "helpers/helper/src/lib.rs", "")
    write(root, "helpers/helper/src/bin/attune-cli.rs", main_rs("attune-cli"))  # a second attune-cli
    # Excluded and standalone: its own [workspace] and Cargo.lock.
    write(root, "crates/core-timer-sensor/Cargo.toml", pkg("attune-core-timer-sensor", "\n[workspace]\n"))
    write(root, "crates/core-timer-sensor/src/main.rs", main_rs("attune-core-timer-sensor"))
    lock(root, root / "crates/core-timer-sensor", [("attune-core-timer-sensor", "0.1.0")])
    # Excluded, no lock, no [workspace]: a fixture, not a standalone crate.
    write(root, "crates/fixture-only/Cargo.toml", pkg("fixture-only"))
    write(root, "crates/fixture-only/src/main.rs", main_rs("fixture-only"))
    # Excluded and broken.
    write(root, "broken/Cargo.toml", '[package\nname = "broken"\n')
    # Never walked: vendor/, target/ (and a renamed build dir with CACHEDIR.TAG), hidden dirs.
    for skipped in ("vendor/dep", "target/release/build/x", "crates/api/target/debug/x", ".cargo/registry/y", "out/z"):
        write(root, f"{skipped}/Cargo.toml", pkg("skipped-" + skipped.replace("/", "-").strip(".")))
        write(root, f"{skipped}/src/main.rs", main_rs("skipped"))
    write(root, "out/CACHEDIR.TAG", "Signature: 8a477f597d28d172789f06886806bc55\n")
    # A symlink leading out of the repository, to a crate elsewhere.
    outside = tmp_path / "outside"
    write(outside, "Cargo.toml", pkg("outside-crate"))
    write(outside, "src/main.rs", main_rs("outside-crate"))
    (root / "linked").symlink_to(outside, target_is_directory=True)
    (root / "tools/Cargo.toml").symlink_to(outside / "Cargo.toml")
    lock(root, root, [("attune-api", "0.1.0")])
    return root


def cargo_metadata(manifest: Path) -> dict[str, object]:
    cargo = shutil.which("cargo")
    if cargo is None:
        pytest.skip("cargo is not installed on this host: cannot cross-check against cargo metadata")
    out = subprocess.run(
        [cargo, "metadata", "--offline", "--no-deps", "--format-version", "1", "--manifest-path", str(manifest)],
        capture_output=True,
        text=True,
        check=True,
        env=dict(os.environ, CARGO_NET_OFFLINE="true"),
        timeout=120,
    )
    data: dict[str, object] = json.loads(out.stdout)
    return data


def cargo_bins(root: Path, workspaces: tuple[str, ...]) -> set[tuple[str, str, str, str]]:
    """(bin, package, manifest, source) of every bin cargo metadata reports for these workspaces."""
    out: set[tuple[str, str, str, str]] = set()
    real = root.resolve()
    for ws in workspaces:
        meta = cargo_metadata(root / ws)
        for p in meta["packages"]:  # type: ignore[attr-defined]
            for t in p["targets"]:
                if "bin" in t["kind"]:
                    out.add(
                        (
                            t["name"],
                            p["name"],
                            Path(p["manifest_path"]).relative_to(real).as_posix(),
                            Path(t["src_path"]).relative_to(real).as_posix(),
                        )
                    )
    return out


def test_every_bin_of_the_tree(tree: Path) -> None:
    d = discover(tree)
    assert d.workspaces == ("Cargo.toml", "crates/core-timer-sensor/Cargo.toml")
    assert {(b.name, b.package, b.manifest, b.path) for b in d.bins} == {
        ("api-server", "attune-api", "crates/api/Cargo.toml", "crates/api/src/server.rs"),
        ("attune-migrate", "attune-api", "crates/api/Cargo.toml", "crates/api/src/bin/attune-migrate.rs"),
        ("attune-cli", "attune-api", "crates/api/Cargo.toml", "crates/api/src/bin/attune-cli/main.rs"),
        ("worker-main", "attune-worker", "crates/worker/Cargo.toml", "crates/worker/src/w.rs"),
        ("attune-common", "attune-common", "crates/common/Cargo.toml", "crates/common/src/main.rs"),
        ("gen", "gen", "tools/gen/Cargo.toml", "tools/gen/src/main.rs"),
        ("attune-cli", "helper", "helpers/helper/Cargo.toml", "helpers/helper/src/bin/attune-cli.rs"),
        (
            "attune-core-timer-sensor",
            "attune-core-timer-sensor",
            "crates/core-timer-sensor/Cargo.toml",
            "crates/core-timer-sensor/src/main.rs",
        ),
    }
    sensor = d.named("attune-core-timer-sensor")[0]
    assert sensor.standalone and not d.named("gen")[0].standalone
    assert d.ambiguous("attune-cli") and not d.ambiguous("gen")


def test_agrees_with_cargo_metadata(tree: Path) -> None:
    d = discover(tree)
    assert {(b.name, b.package, b.manifest, b.path) for b in d.bins} == cargo_bins(tree, d.workspaces)


def test_what_was_skipped_is_reported_with_its_path(tree: Path) -> None:
    problems = {p.path: p.problem for p in discover(tree).problems}
    assert "invalid TOML" in problems["broken/Cargo.toml"]
    assert "without a Cargo.lock" in problems["crates/fixture-only/Cargo.toml"]
    assert "leading out of the repository" in problems["linked"]
    assert "leading out of the repository" in problems["tools/Cargo.toml"]
    assert not any(p.startswith(("vendor", "target", ".cargo", "out/", "crates/api/target")) for p in problems)


def test_a_package_its_workspace_does_not_list_is_refused_as_cargo_does(tree: Path) -> None:
    write(tree, "stray/Cargo.toml", pkg("stray"))
    write(tree, "stray/src/main.rs", main_rs("stray"))
    d = discover(tree)
    assert "does not list it" in {p.path: p.problem for p in d.problems}["stray/Cargo.toml"]
    assert not d.named("stray")
    cargo = shutil.which("cargo")
    if cargo is None:
        pytest.skip("cargo is not installed on this host: cannot check that cargo refuses it too")
    proc = subprocess.run(
        [
            cargo,
            "metadata",
            "--offline",
            "--no-deps",
            "--format-version",
            "1",
            "--manifest-path",
            str(tree / "stray/Cargo.toml"),
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != 0 and "workspace" in proc.stderr


def test_standalone_crates_without_a_root_workspace(tmp_path: Path) -> None:
    write(tmp_path, "one/Cargo.toml", pkg("one"))
    write(tmp_path, "one/src/main.rs", main_rs("one"))
    # Edition 2015 with a declared bin and no path: cargo's legacy src/<name>.rs.
    write(tmp_path, "two/Cargo.toml", pkg("two", '[[bin]]\nname = "two-tool"\n', edition=""))
    write(tmp_path, "two/src/bin/two-tool.rs", main_rs("two-tool"))
    d = discover(tmp_path)
    assert d.workspaces == ("one/Cargo.toml", "two/Cargo.toml")
    assert {(b.name, b.manifest) for b in d.bins} == {("one", "one/Cargo.toml"), ("two-tool", "two/Cargo.toml")}
    assert {(b.name, b.package, b.manifest, b.path) for b in d.bins} == cargo_bins(tmp_path, d.workspaces)


def test_an_oversized_or_odd_manifest_is_a_problem_not_a_hang(tmp_path: Path) -> None:
    write(tmp_path, "big/Cargo.toml", "# " + "x" * MAX_MANIFEST_BYTES + "\n")
    (tmp_path / "fifo").mkdir()
    os.mkfifo(tmp_path / "fifo" / "Cargo.toml")
    write(tmp_path, "ok/Cargo.toml", pkg("ok"))
    write(tmp_path, "ok/src/main.rs", main_rs("ok"))
    d = discover(tmp_path)
    problems = {p.path: p.problem for p in d.problems}
    assert "larger than 1 MiB" in problems["big/Cargo.toml"]
    assert "not a regular file" in problems["fifo/Cargo.toml"]
    assert [b.name for b in d.bins] == ["ok"]


def test_the_attune_shaped_repository(tmp_path: Path) -> None:
    root = attune_repo(tmp_path / "attune")
    d = discover(root)
    assert sorted((b.name, b.package, b.manifest) for b in d.bins) == sorted(ATTUNE_BINS)
    assert d.workspaces == ("Cargo.toml", "crates/core-timer-sensor/Cargo.toml")
    assert d.problems == ()
    assert {(b.name, b.package, b.manifest, b.path) for b in d.bins} == cargo_bins(root, d.workspaces)


def test_a_bin_name_that_is_no_file_name_is_a_problem_not_a_bin(tmp_path: Path) -> None:
    """A hostile [[bin]] name (a path) is reported, never offered for buildcfg.toml."""
    root = tmp_path / "repo"
    write(
        root,
        "Cargo.toml",
        pkg("a", '[[bin]]\nname = "../../x"\npath = "src/main.rs"\n[[bin]]\nname = "ok"\npath = "src/main.rs"\n'),
    )
    write(root, "src/main.rs", main_rs("a"))
    found = discover(root)
    assert [b.name for b in found.bins] == ["ok"]
    assert [(p.path, "'../../x'" in p.problem) for p in found.problems] == [("Cargo.toml", True)]
