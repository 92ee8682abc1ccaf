"""`packbin init` and `build-pack-binaries --manifest` on real Cargo trees, through the real
command line (python -m packbin). No Docker: the dry runs point DOCKER_HOST at a socket that does
not exist, which shows a plan needs no engine.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from packbin.config.model import BuildConfig
from tests.support.cargo_trees import ATTUNE_BINS, attune_repo, main_rs, std_crate, write
from tests.support.repo import REPO, packbin

NO_ENGINE = {"DOCKER_HOST": "unix:///nonexistent/docker.sock"}


@pytest.fixture
def attune(tmp_path: Path) -> Path:
    return attune_repo(tmp_path / "attune")


def plan_rows(stdout: str) -> set[tuple[str, str, str]]:
    """(arch, binary, dist path) of each `build` row of a dry run's plan."""
    rows = set()
    for line in stdout.splitlines():
        cols = line.split()
        if len(cols) >= 4 and cols[0] == "build":
            rows.add((cols[1], cols[2], cols[3]))
    return rows


def test_init_lists_every_bin_of_the_attune_repository(attune: Path) -> None:
    r = packbin("init", cwd=attune)
    assert r.returncode == 0, r.stderr
    assert "wrote" in r.stdout and "5 binaries" in r.stdout
    cfg = BuildConfig.load(attune / "buildcfg.toml", env={})
    got = sorted((b.name, b.manifest.relative_to(attune.resolve()).as_posix(), b.pack) for b in cfg.binaries)
    assert got == sorted((name, manifest, None) for name, _, manifest in ATTUNE_BINS)
    assert {b.package for b in cfg.binaries} == {None}  # every name is unique: the manifest says which package
    text = (attune / "buildcfg.toml").read_text()
    # The sensor's crate is not inside packs/, but packs/core/sensors/timer.yaml names it.
    assert '# packs/core/sensors/timer.yaml names this binary; to ship it in that pack:\n# pack = "core"' in text
    assert '# all_arches = ["x86_64", "arm64"]' in text and "your-repository.md" in text
    assert not [p for p in attune.iterdir() if p.name.endswith(".packbin-tmp")]

    r = packbin(
        "build-pack-binaries",
        "--dry-run",
        "--binary",
        "attune-core-timer-sensor",
        "--arch=all",
        cwd=attune,
        env=NO_ENGINE,
    )
    assert r.returncode == 0, r.stderr
    assert plan_rows(r.stdout) == {
        ("x86_64", "attune-core-timer-sensor", "dist/pack-binaries/x86_64/bin/attune-core-timer-sensor"),
        ("arm64", "attune-core-timer-sensor", "dist/pack-binaries/arm64/bin/attune-core-timer-sensor"),
    }
    assert "nothing was done" in r.stdout
    assert not (attune / "dist").exists()


def test_init_never_overwrites_and_print_shows_the_same_text(attune: Path) -> None:
    assert packbin("init", cwd=attune).returncode == 0
    written = (attune / "buildcfg.toml").read_text()
    (attune / "buildcfg.toml").write_text(written + "# my edit\n")
    r = packbin("init", cwd=attune)
    assert r.returncode == 2
    assert "already exists" in r.stderr and "--print" in r.stderr and "Traceback" not in r.stderr
    assert (attune / "buildcfg.toml").read_text().endswith("# my edit\n")
    r = packbin("init", "--print", cwd=attune)
    assert r.returncode == 0 and r.stdout == written


def test_binary_picks_a_subset_and_suggests_a_known_name(attune: Path) -> None:
    r = packbin("init", "--print", "--binary", "attune-worker", "-b", "attune-api", cwd=attune)
    assert r.returncode == 0, r.stderr
    assert [line for line in r.stdout.splitlines() if line.startswith("name = ")] == [
        'name = "attune-api"',
        'name = "attune-worker"',
    ]
    r = packbin("init", "--binary", "attune-wroker", cwd=attune)
    assert r.returncode == 2
    assert "did you mean 'attune-worker'?" in r.stderr and "attune-api" in r.stderr
    assert not (attune / "buildcfg.toml").exists()


def test_not_a_cargo_repository(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("no crates here\n")
    r = packbin("init", cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr.startswith("packbin: error: ") and "not a Cargo repository" in r.stderr and "hint:" in r.stderr
    assert not (tmp_path / "buildcfg.toml").exists()


def test_inside_a_workspace_points_at_its_root(attune: Path) -> None:
    r = packbin("init", cwd=attune / "crates" / "api")
    assert r.returncode == 2
    assert f"run `packbin init` in {attune.resolve()}" in r.stderr
    assert not (attune / "crates/api/buildcfg.toml").exists()


def test_a_bin_name_two_packages_share(attune: Path) -> None:
    write(attune, "crates/tools/Cargo.toml", '[package]\nname = "attune-tools"\nversion = "0.4.0"\nedition = "2021"\n')
    write(attune, "crates/tools/src/bin/attune-cli.rs", main_rs("attune-cli"))
    r = packbin("init", cwd=attune)
    assert r.returncode == 0, r.stderr
    text = (attune / "buildcfg.toml").read_text()
    assert 'name = "attune-cli"\nmanifest = "crates/cli/Cargo.toml"\npackage = "attune-cli"' in text
    assert '# name = "attune-cli"\n# manifest = "crates/tools/Cargo.toml"\n# package = "attune-tools"' in text
    cfg = BuildConfig.load(attune / "buildcfg.toml", env={})
    assert [(b.name, b.package) for b in cfg.binaries if b.name == "attune-cli"] == [("attune-cli", "attune-cli")]


def test_a_malformed_manifest_is_named_and_the_rest_still_written(attune: Path) -> None:
    write(attune, "crates/broken/Cargo.toml", "[package\n")
    r = packbin("init", cwd=attune)
    assert r.returncode == 0, r.stderr
    assert "crates/broken/Cargo.toml: invalid TOML" in r.stderr and "Traceback" not in r.stderr
    assert len(BuildConfig.load(attune / "buildcfg.toml", env={}).binaries) == 5


def test_a_crate_inside_packs_gets_its_pack_as_this_repository_has_it(tmp_path: Path) -> None:
    shutil.copytree(REPO / "packs", tmp_path / "packs", ignore=shutil.ignore_patterns("target"))
    r = packbin("init", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    mine = BuildConfig.load(tmp_path / "buildcfg.toml", env={})
    ours = BuildConfig.load(REPO / "buildcfg.toml", env={})

    def entries(cfg: BuildConfig) -> list[tuple[str, str | None, str, str]]:
        return [(b.name, b.pack, b.manifest.relative_to(cfg.root).as_posix(), b.install_path) for b in cfg.binaries]

    assert entries(mine) == entries(ours)
    r = packbin("build-pack-binaries", "--dry-run", "--arch=all", cwd=tmp_path, env=NO_ENGINE)
    assert r.returncode == 0, r.stderr
    assert (
        "x86_64",
        "attune-core-timer-sensor",
        "dist/pack-binaries/x86_64/core/sensors/attune-core-timer-sensor",
    ) in (plan_rows(r.stdout))


def test_the_no_config_hint_says_how_to_make_one(attune: Path) -> None:
    r = packbin("build-pack-binaries", "--dry-run", cwd=attune, env=NO_ENGINE)
    assert r.returncode == 2
    assert "no buildcfg.toml" in r.stderr and "run `packbin init` to write one" in r.stderr and "--manifest" in r.stderr


# -- build-pack-binaries --manifest ------------------------------------------------------------
def test_manifest_without_a_config_builds_that_crate_with_defaults(tmp_path: Path) -> None:
    crate = std_crate(tmp_path / "hello")
    r = packbin("build-pack-binaries", "--dry-run", "--arch=all", "--manifest", "Cargo.toml", cwd=crate, env=NO_ENGINE)
    assert r.returncode == 0, r.stderr
    assert plan_rows(r.stdout) == {
        ("x86_64", "hello-static", "dist/pack-binaries/x86_64/bin/hello-static"),
        ("arm64", "hello-static", "dist/pack-binaries/arm64/bin/hello-static"),
    }
    assert not (crate / "buildcfg.toml").exists()


def test_manifest_with_several_bins_names_them(tmp_path: Path) -> None:
    crate = std_crate(tmp_path / "multi", "multi", bins=("multi-extra",))
    r = packbin("build-pack-binaries", "--dry-run", "--manifest", ".", cwd=crate, env=NO_ENGINE)
    assert r.returncode == 2
    assert "2 bins: multi, multi-extra" in r.stderr and "--binary" in r.stderr and "packbin init" in r.stderr
    r = packbin("build-pack-binaries", "--dry-run", "--manifest", ".", "-b", "multi-extra", cwd=crate, env=NO_ENGINE)
    assert r.returncode == 0, r.stderr
    assert plan_rows(r.stdout) == {("x86_64", "multi-extra", "dist/pack-binaries/x86_64/bin/multi-extra")}
    r = packbin("build-pack-binaries", "--dry-run", "--manifest", ".", "-b", "multi-extar", cwd=crate, env=NO_ENGINE)
    assert r.returncode == 2 and "did you mean 'multi-extra'?" in r.stderr


def test_manifest_with_a_config_must_be_one_it_configures(attune: Path) -> None:
    assert packbin("init", "--binary", "attune-worker", "--binary", "attune-api", cwd=attune).returncode == 0
    r = packbin("build-pack-binaries", "--dry-run", "--manifest", "crates/cli", cwd=attune, env=NO_ENGINE)
    assert r.returncode == 2
    assert "configures no binary of that crate" in r.stderr
    assert "crates/api/Cargo.toml, crates/worker/Cargo.toml" in r.stderr
    r = packbin("build-pack-binaries", "--dry-run", "--manifest", "crates/api/Cargo.toml", cwd=attune, env=NO_ENGINE)
    assert r.returncode == 0, r.stderr
    assert {b for _, b, _ in plan_rows(r.stdout)} == {"attune-api"}


def test_manifest_outside_the_working_directory(tmp_path: Path) -> None:
    std_crate(tmp_path / "elsewhere")
    (tmp_path / "here").mkdir()
    r = packbin("build-pack-binaries", "--dry-run", "--manifest", "../elsewhere", cwd=tmp_path / "here", env=NO_ENGINE)
    assert r.returncode == 2 and "outside the working directory" in r.stderr
