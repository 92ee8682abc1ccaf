"""Refusals: symlinks and paths that leave the repository (packbin.workspace.repo).

The fixture repository is tests/support/workspace_repo.py's (see its docstring); the
``repo`` and ``cache_env`` fixtures are this directory's conftest.py.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from packbin.config.model import BuildConfig
from packbin.errors import ConfigError
from tests.support.workspace_repo import (
    config_error,
    inputs,
    lock,
    write,
    write_config,
)


def test_symlink_in_a_needed_package_is_refused(repo: Path, tmp_path: Path) -> None:
    secret = tmp_path / "host-secret"
    secret.write_text("id_rsa")
    (repo / "ws/crates/shared/src/key.rs").symlink_to(secret)
    err = config_error(repo, "sensor-bin")
    assert err.message == "ws/crates/shared/src/key.rs: symlinks are not allowed in build inputs"
    # a bin that does not need the shared crate does not read it
    assert inputs(repo, "other-tool").package == "other"


def test_symlinked_directory_to_a_manifest_outside_is_refused(repo: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    shutil.copytree(repo / "standalone", outside)
    (repo / "linked").symlink_to(outside, target_is_directory=True)
    write_config(repo, [("solo", "linked/Cargo.toml", "")])
    # Refused when buildcfg.toml is read (config.py), before the workspace is looked at.
    with pytest.raises(ConfigError, match=r"binaries\[0\]\.manifest: 'linked/Cargo.toml'.* through a symlink"):
        write_config(repo, [("solo", "linked/Cargo.toml", "")])
        BuildConfig.load(repo / "buildcfg.toml", env={})


def test_path_dependency_leaving_the_repository_is_refused(repo: Path, tmp_path: Path) -> None:
    write(tmp_path, "outside/Cargo.toml", '[package]\nname = "outside"\nversion = "0.1.0"\n')
    write(tmp_path, "outside/src/lib.rs", "\n")
    p = repo / "ext/extlib/Cargo.toml"
    p.write_text(p.read_text() + '\n[dependencies]\noutside = { path = "../../../outside" }\n')
    err = config_error(repo, "sensor-bin")
    assert err.message.startswith(
        "path dependency 'outside' of ext/extlib/Cargo.toml '../../../outside' (from ext/extlib) is outside the repository"
    )


def test_workspace_pointer_leaving_the_repository_is_refused(repo: Path) -> None:
    p = repo / "ws/tools/gen/Cargo.toml"
    p.write_text(p.read_text().replace('workspace = "../.."', 'workspace = "../../../.."'))
    err = config_error(repo, "gen")
    assert err.message.startswith(
        "package.workspace of ws/tools/gen/Cargo.toml '../../../..' (from ws/tools/gen) is outside the repository"
    )


def test_vendor_dir_outside_the_repository_is_refused(repo: Path) -> None:
    write(
        repo,
        "ws/.cargo/config.toml",
        """
        [source.crates-io]
        replace-with = "v"
        [source.v]
        directory = "../../vendor"
    """,
    )
    (repo / "ws/Cargo.lock").write_text(
        lock(("attune-sensor", None), ("serde", "registry+https://github.com/rust-lang/crates.io-index"))
    )
    err = config_error(repo, "sensor-bin")
    assert "[source.v] directory '../../vendor'" in err.message and "outside the repository" in err.message
