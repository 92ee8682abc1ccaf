"""Cargo configs, source replacement, the network and [build] rustflags (packbin.workspace.sources).

The fixture repository is tests/support/workspace_repo.py's (see its docstring); the
``repo`` and ``cache_env`` fixtures are this directory's conftest.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.workspace_repo import (
    CRATES_IO,
    VENDOR_CONFIG,
    config_error,
    inputs,
    rels,
    set_lock,
    vendored,
    write,
)


def test_vendor_dir_from_cargo_config_is_an_input(repo: Path) -> None:
    vendored(repo)
    set_lock(repo, CRATES_IO, "git+https://git.example.com/team/gitdep?branch=main#0123456789abcdef")
    bi = inputs(repo, "sensor-bin")
    assert {
        "ws/.cargo/config.toml",
        "ws/vendor/serde/Cargo.toml",
        "ws/vendor/serde/.cargo-checksum.json",
        "ws/vendor/serde/target/keep.rs",
    } <= rels(bi)
    assert bi.vendor_dirs == ("ws/vendor",)
    assert bi.workspace.source_configs == ((repo / "ws/.cargo/config.toml").resolve(),)
    assert not bi.needs_fetch
    assert bi.registry_hosts == ()
    # the vendor dir is no member's source: a vendored crate change changes the digest
    before, key = bi.digest, bi.fetch_key
    (repo / "ws/vendor/serde/src/lib.rs").write_text("// patched\n")
    bi2 = inputs(repo, "sensor-bin")
    assert bi2.digest != before
    assert bi2.fetch_key == key  # the fetch step depends on the lock and configs only
    (repo / "ws/.cargo/config.toml").write_text((repo / "ws/.cargo/config.toml").read_text() + "\n[net]\nretry = 3\n")
    assert inputs(repo, "sensor-bin").fetch_key != key


def test_missing_vendor_dir_is_a_config_error(repo: Path) -> None:
    write(repo, "ws/.cargo/config.toml", VENDOR_CONFIG)
    set_lock(repo, CRATES_IO)
    err = config_error(repo, "sensor-bin")
    assert err.message == "vendor directory ws/vendor (a source replacement in ws/.cargo/config.toml) does not exist"
    assert err.hint is not None and "cargo vendor" in err.hint


@pytest.mark.parametrize(
    ("config", "sources", "needs_fetch", "hosts"),
    [
        pytest.param("", [], False, (), id="no-external-packages"),
        pytest.param("", [CRATES_IO], True, ("index.crates.io", "static.crates.io"), id="crates-io"),
        pytest.param(
            "",
            ["sparse+https://index.crates.io/"],
            True,
            ("index.crates.io", "static.crates.io"),
            id="crates-io-sparse",
        ),
        pytest.param(VENDOR_CONFIG, [CRATES_IO], False, (), id="vendored"),
        pytest.param(
            VENDOR_CONFIG,
            [CRATES_IO, "git+https://git.example.com/team/gitdep?branch=main#abc"],
            False,
            (),
            id="vendored-git",
        ),
        pytest.param(
            VENDOR_CONFIG,
            ["git+https://git.example.com/team/gitdep?branch=dev#abc"],
            True,
            ("git.example.com",),
            id="git-other-branch-not-vendored",
        ),
        pytest.param("", ["git+https://git.example.com/team/gitdep#abc"], True, ("git.example.com",), id="git"),
        pytest.param(
            '[registries.internal]\nindex = "sparse+http://127.0.0.1:8080/index/"\n',
            ["sparse+http://127.0.0.1:8080/index/"],
            True,
            ("127.0.0.1",),
            id="private-sparse-registry",
        ),
        pytest.param(
            '[source.crates-io]\nreplace-with = "mirror"\n[source.mirror]\nregistry = "sparse+http://10.1.2.3:3000/index/"\n',
            [CRATES_IO],
            True,
            ("10.1.2.3",),
            id="crates-io-mirror",
        ),
        pytest.param(
            '[source.crates-io]\nreplace-with = "internal"\n[registries.internal]\nindex = "https://git.corp.example/index"\n',
            [CRATES_IO],
            True,
            ("git.corp.example",),
            id="replaced-by-a-registry",
        ),
        pytest.param(
            '[source.internal]\nregistry = "sparse+http://127.0.0.1:8080/index/"\nreplace-with = "vendored-sources"\n'
            '[source.vendored-sources]\ndirectory = "vendor"\n',
            ["sparse+http://127.0.0.1:8080/index/"],
            False,
            (),
            id="private-registry-vendored",
        ),
        pytest.param(
            '[source.crates-io]\nreplace-with = "local"\n[source.local]\nlocal-registry = "vendor"\n',
            [CRATES_IO],
            False,
            (),
            id="local-registry",
        ),
    ],
)
def test_needs_fetch(repo: Path, config: str, sources: list[str], needs_fetch: bool, hosts: tuple[str, ...]) -> None:
    if config:
        write(repo, "ws/.cargo/config.toml", config)
        (repo / "ws/vendor").mkdir()
    set_lock(repo, *sources)
    bi = inputs(repo, "sensor-bin")
    assert bi.needs_fetch is needs_fetch
    assert bi.registry_hosts == hosts


def test_replace_with_cycle_and_unknown_source_are_config_errors(repo: Path) -> None:
    set_lock(repo, CRATES_IO)
    write(
        repo,
        "ws/.cargo/config.toml",
        '[source.crates-io]\nreplace-with = "a"\n[source.a]\nreplace-with = "crates-io"\n',
    )
    assert "a cycle of replace-with sources: crates-io -> a -> crates-io" in config_error(repo, "sensor-bin").message
    write(repo, "ws/.cargo/config.toml", '[source.crates-io]\nreplace-with = "nowhere"\n')
    assert "names 'nowhere', which no [source.nowhere]" in config_error(repo, "sensor-bin").message


def test_config_hierarchy_deeper_wins_and_legacy_name_wins(repo: Path) -> None:
    # repo-level config says vendor; the package-level one points crates-io elsewhere: deeper wins
    write(repo, ".cargo/config.toml", '[source.crates-io]\nreplace-with = "v"\n[source.v]\ndirectory = "vendor"\n')
    (repo / "vendor").mkdir()
    write(repo, "ws/crates/sensor/.cargo/config.toml", '[source.v]\ndirectory = "crates/vendor-near"\n')
    write(repo, "ws/crates/sensor/.cargo/config", '[source.v]\ndirectory = "../../vendor-legacy"\n')
    (repo / "ws/vendor-legacy").mkdir()
    set_lock(repo, CRATES_IO)
    bi = inputs(repo, "sensor-bin")
    # per directory the extension-less legacy file is the one cargo reads
    assert [p.relative_to(repo.resolve()).as_posix() for p in bi.workspace.source_configs] == [
        "ws/crates/sensor/.cargo/config",
        ".cargo/config.toml",
    ]
    # a directory path is relative to the directory holding .cargo/
    assert bi.vendor_dirs == ("ws/vendor-legacy",)
    assert not bi.needs_fetch


def test_build_rustflags_join_across_configs_lower_precedence_first(repo: Path) -> None:
    write(repo, "ws/.cargo/config.toml", '[build]\nrustflags = ["--cfg", "tokio_unstable"]\n')
    write(repo, "ws/crates/sensor/.cargo/config.toml", '[build]\nrustflags = "-C debuginfo=1"\n')
    assert inputs(repo, "sensor-bin").build_rustflags == ("--cfg", "tokio_unstable", "-C", "debuginfo=1")
    assert inputs(repo, "other-tool").build_rustflags == ("--cfg", "tokio_unstable")  # not under sensor/


def test_build_rustflags_are_none_where_target_rustflags_apply(repo: Path) -> None:
    """cargo ignores [build] rustflags when any [target.*] rustflags are set; so does packbin."""
    write(repo, "ws/.cargo/config.toml", '[build]\nrustflags = ["--cfg", "a"]\n')
    write(repo, "ws/crates/sensor/.cargo/config.toml", '[target.\'cfg(unix)\']\nrustflags = ["--cfg", "b"]\n')
    assert inputs(repo, "sensor-bin").build_rustflags == ()
    assert inputs(repo, "other-tool").build_rustflags == ("--cfg", "a")


def test_build_rustflags_of_another_type_are_a_config_error(repo: Path) -> None:
    write(repo, "ws/.cargo/config.toml", "[build]\nrustflags = 3\n")
    assert config_error(repo, "sensor-bin").message == (
        "ws/.cargo/config.toml: build.rustflags must be a string or an array of strings"
    )
