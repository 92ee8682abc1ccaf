"""Target inference and which package owns a bin (packbin.workspace.targets).

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
    rels,
    write,
    write_config,
)


def test_bin_name_differs_from_package_name(repo: Path) -> None:
    bi = inputs(repo, "sensor-bin")
    assert bi.package == "attune-sensor"
    assert bi.manifest_rel == "ws/crates/sensor/Cargo.toml"
    assert bi.package_dir == "ws/crates/sensor"
    assert bi.workspace.root_rel == "ws"


@pytest.mark.parametrize(
    ("name", "main"), [("other-tool", "src/bin/other-tool.rs"), ("multi", "src/bin/multi/main.rs")]
)
def test_src_bin_discovery(repo: Path, name: str, main: str) -> None:
    bi = inputs(repo, name)
    assert bi.package == "other"
    assert f"ws/crates/other/{main}" in rels(bi)
    assert "ws/crates/other/src/bin/multi/part.rs" in rels(bi)  # the whole package dir


def test_autobins_false_hides_src_bin(repo: Path) -> None:
    p = repo / "ws/crates/other/Cargo.toml"
    p.write_text(
        p.read_text().replace('edition = "2021"', 'edition = "2021"\nautobins = false\n[[bin]]\nname = "other-tool"')
    )
    assert inputs(repo, "other-tool").package == "other"
    err = config_error(repo, "multi")
    assert err.message.startswith("binary 'multi': no bin target of that name in the workspace at ws")


def test_edition_2015_with_declared_bins_infers_no_others(repo: Path) -> None:
    # cargo: an explicit [[bin]] turns off bin inference in edition 2015 (autobins unset).
    write(
        repo,
        "standalone/Cargo.toml",
        '[package]\nname = "solo"\nversion = "0.1.0"\n\n[[bin]]\nname = "solo"\npath = "src/main.rs"\n',
    )
    write(repo, "standalone/src/bin/extra.rs", "fn main() {}\n")
    ws = load_workspace(load(repo), repo / "standalone/Cargo.toml")
    assert ws.members[0].bins == ("solo",)
    meta = cargo_metadata(repo / "standalone/Cargo.toml")
    packages = meta["packages"]
    assert isinstance(packages, list)
    assert sorted(t["name"] for t in packages[0]["targets"] if t["kind"] == ["bin"]) == ["solo"]


def test_unknown_bin_lists_the_bins_that_exist(repo: Path) -> None:
    write_config(repo, [("sensor-bim", "ws/crates/sensor/Cargo.toml", "")])
    err = config_error(repo, "sensor-bim")
    assert (
        err.message
        == "binary 'sensor-bim': no bin target of that name in the workspace at ws (did you mean 'sensor-bin'?)"
    )
    assert (
        err.hint
        == "bins: gen (package gen), multi (package other), other-tool (package other), sensor-bin (package attune-sensor)"
    )


def test_same_bin_name_in_two_packages_needs_the_package_key(repo: Path) -> None:
    write(repo, "ws/crates/testutil/src/bin/gen.rs", "fn main() {}\n")
    write_config(repo, [("gen", "ws/Cargo.toml", "")])
    err = config_error(repo, "gen")
    assert err.message == "binary 'gen' is a bin of several packages: gen, testutil"
    assert err.hint is not None and 'package = "..."' in err.hint
    write_config(repo, [("gen", "ws/Cargo.toml", 'package = "testutil"')])
    bi = inputs(repo, "gen")
    assert bi.package == "testutil"
    assert bi.manifest_rel == "ws/crates/testutil/Cargo.toml"
    write_config(repo, [("gen", "ws/Cargo.toml", 'package = "testutill"')])
    assert "(did you mean 'testutil'?)" in config_error(repo, "gen").message
