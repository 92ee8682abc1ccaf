"""The workspace root and its members, as cargo finds them (packbin.workspace.layout).

The fixture repository is tests/support/workspace_repo.py's (see its docstring); the
``repo`` and ``cache_env`` fixtures are this directory's conftest.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from packbin.workspace import (
    load_workspace,
)
from tests.support.workspace_repo import (
    cargo_metadata,
    config_error,
    inputs,
    load,
    lock,
    write,
    write_config,
)


def test_virtual_workspace_members_glob_exclude_and_pointer(repo: Path) -> None:
    ws = load_workspace(load(repo), repo / "ws/crates/sensor/Cargo.toml")
    assert ws.root_rel == "ws"
    assert ws.lock == (repo / "ws/Cargo.lock").resolve()
    assert ws.is_workspace
    members = {m.name: m for m in ws.members}
    # crates/experimental is excluded; tools/gen is listed and points back with package.workspace
    assert sorted(members) == ["attune-sensor", "gen", "other", "shared", "testutil"]
    assert members["attune-sensor"].bins == ("sensor-bin",)
    assert members["attune-sensor"].path_deps == ("ws/crates/shared",)  # not the dev-dependency
    assert members["shared"].path_deps == ("ext/extlib",)
    assert sorted(members["other"].bins) == ["multi", "other-tool"]
    # the path dependency outside the workspace is loaded too, but is no member
    outside = [p for p in ws.packages if not p.workspace_member]
    assert [(p.name, p.dir) for p in outside] == [("extlib", "ext/extlib")]


def test_package_workspace_pointer_finds_the_root(repo: Path) -> None:
    # gen's own directory has no [workspace] above it but ws/: the pointer is followed directly.
    write(repo, "ws/tools/Cargo.toml", "[workspace]\nmembers = []\n")  # a nearer root the pointer skips
    ws = load_workspace(load(repo), repo / "ws/tools/gen/Cargo.toml")
    assert ws.root_rel == "ws"


def test_excluded_member_is_its_own_workspace_root(repo: Path) -> None:
    write(repo, "ws/crates/experimental/Cargo.lock", lock(("experimental", None)))
    ws = load_workspace(load(repo), repo / "ws/crates/experimental/Cargo.toml")
    assert ws.root_rel == "ws/crates/experimental"
    assert not ws.is_workspace
    assert [m.name for m in ws.members] == ["experimental"]


@pytest.mark.compiler  # runs cargo
def test_a_package_the_workspace_does_not_list_is_refused(repo: Path) -> None:
    write(repo, "ws/stray/Cargo.toml", '[package]\nname = "stray"\nversion = "0.1.0"\n')
    write(repo, "ws/stray/src/main.rs", "fn main() {}\n")
    write_config(repo, [("stray", "ws/stray/Cargo.toml", "")])
    err = config_error(repo, "stray")
    assert "ws/stray/Cargo.toml believes it is in the workspace at ws/Cargo.toml" in err.message
    assert err.hint is not None and "workspace.members" in err.hint


@pytest.mark.parametrize("manifest", ["ws/crates/sensor/Cargo.toml", "rootws/Cargo.toml", "standalone/Cargo.toml"])
def test_members_and_targets_agree_with_cargo_metadata(repo: Path, manifest: str) -> None:
    meta = cargo_metadata(repo / manifest)
    ws = load_workspace(load(repo), repo / manifest)
    packages = meta["packages"]
    assert isinstance(packages, list)
    member_ids = set(meta["workspace_members"])  # type: ignore[arg-type]
    cargo_members = {p["name"]: p for p in packages if p["id"] in member_ids}
    assert sorted(cargo_members) == sorted(m.name for m in ws.members)
    assert Path(str(meta["workspace_root"])).resolve() == ws.root.resolve()
    for m in ws.members:
        p = cargo_members[m.name]
        assert Path(p["manifest_path"]).resolve() == (repo / m.manifest).resolve()
        cargo_targets = sorted(
            (t["kind"][0].replace("custom-build", "build"), str(Path(t["src_path"]).resolve()))
            for t in p["targets"]
            if t["kind"][0] in ("lib", "bin", "custom-build", "example", "test", "bench")
        )
        ours = sorted((t.kind, str((repo / t.rel).resolve())) for t in m.targets if t.kind in ("lib", "bin", "build"))
        assert [t for t in cargo_targets if t[0] in ("lib", "bin", "build")] == ours
        assert sorted(t["name"] for t in p["targets"] if t["kind"] == ["bin"]) == sorted(m.bins)


def test_manifest_may_name_the_workspace_root(repo: Path) -> None:
    write_config(repo, [("sensor-bin", "ws/Cargo.toml", "")])
    assert inputs(repo, "sensor-bin").package == "attune-sensor"


def test_missing_lock_names_the_workspace_root(repo: Path) -> None:
    (repo / "ws/Cargo.lock").unlink()
    err = config_error(repo, "sensor-bin")
    assert err.message == "ws/Cargo.lock is missing (the lock file of the workspace at ws)"
    assert err.hint == "run `cargo generate-lockfile --manifest-path ws/Cargo.toml` and commit it (builds use --locked)"
