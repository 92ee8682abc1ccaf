"""Binaries without a pack and copy_to_packs = false, built for real (a real engine, cargo zigbuild).

A repository with no packs/ at all builds its one binary into dist/pack-binaries/x86_64/bin/;
a repository with packs/ and ``copy_to_packs = false`` builds into dist/ and leaves packs/ as it was.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import docker
import pytest

from packbin.arch import Architecture
from packbin.config.model import BuildConfig
from packbin.elf.verify import verify_file
from tests.support import sensor_checks
from tests.support.repo import REPO, SMALL_BUILDCFG, copy_repo, packbin

pytestmark = [pytest.mark.docker, pytest.mark.slow]

SENSOR = "attune-core-timer-sensor"
CRATE = REPO / "packs/core/sensors/timer-sensor"
ARCHES = SMALL_BUILDCFG.split("[[binaries]]")[0]
PACKLESS_BUILDCFG = (
    'default_arch = "x86_64"\ndeploy_arch = "x86_64"\n'
    + ARCHES
    + f'[[binaries]]\nname = "{SENSOR}"\nmanifest = "tools/timer/Cargo.toml"\n'
)


def _container_creates(since: float, until: float) -> list[Any]:
    events = docker.from_env().events(
        since=int(since),
        until=int(until) + 1,
        decode=True,
        filters={"type": "container", "event": "create", "label": "io.packbin.owner=packbin"},
    )
    return list(events)


def _x86_64(repo: Path) -> Architecture:
    return BuildConfig.load(repo / "buildcfg.toml", env={}).arch("x86_64")


def _assert_static_and_runs(repo: Path, path: Path) -> None:
    result = verify_file(path, _x86_64(repo))
    assert result.ok, result.problems
    # binutils agrees: no interpreter, no dynamic section.
    phdrs = subprocess.run(["readelf", "-l", "--wide", str(path)], capture_output=True, text=True, check=True).stdout
    assert "INTERP" not in phdrs
    sensor_checks.run_all_checks(path, expected_target="x86_64-unknown-linux-musl")


def _tree(root: Path) -> dict[str, tuple[bytes, int]]:
    return {
        str(p.relative_to(root)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


@pytest.fixture(scope="module")
def packless(tmp_path_factory: pytest.TempPathFactory, builder_image: object) -> tuple[Path, dict[str, Any]]:
    """A repository without packs/: one crate under tools/, one [[binaries]] table without pack."""
    repo = tmp_path_factory.mktemp("packless") / "repo"
    shutil.copytree(CRATE, repo / "tools/timer", ignore=shutil.ignore_patterns("target"))
    (repo / "buildcfg.toml").write_text(PACKLESS_BUILDCFG)
    res = packbin("build-pack-binaries", "--arch=x86_64", "--json", cwd=repo)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    return repo, json.loads(res.stdout)


def test_packless_binary_lands_under_bin_static_and_running(packless: tuple[Path, dict[str, Any]]) -> None:
    repo, report = packless
    path = repo / f"dist/pack-binaries/x86_64/bin/{SENSOR}"
    _assert_static_and_runs(repo, path)
    (entry,) = json.loads((repo / "dist/pack-binaries/manifest.json").read_text())["artifacts"]
    assert entry["pack"] is None and entry["path"] == f"dist/pack-binaries/x86_64/bin/{SENSOR}"
    assert [a["path"] for a in report["built"]] == [entry["path"]]
    # The binary, its SBOM (named in the manifest) and the run's provenance statement.
    assert report["installed"] == [entry["path"], entry["sbom"], "dist/pack-binaries/provenance.intoto.json"]
    assert report["packs"] == [{"arch": "x86_64", "binary": SENSOR, "pack_path": None, "packs_skip": "no pack"}]
    assert not (repo / "packs").exists()


def test_packless_rerun_is_a_no_op_without_a_container(packless: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(packless[0], repo, symlinks=True)
    t0 = time.time() - 1
    res = packbin("build-pack-binaries", "--arch=x86_64", "--json", cwd=repo)
    t1 = time.time()
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout)
    assert report["built"] == [] and report["installed"] == []
    assert [a["binary"] for a in report["up_to_date"]] == [SENSOR]
    assert _container_creates(t0, t1) == []
    assert not (repo / "packs").exists()


def test_copy_to_packs_false_leaves_packs_untouched(builder_image: object, tmp_path: Path) -> None:
    repo = copy_repo(tmp_path / "repo")
    text = (repo / "buildcfg.toml").read_text()
    (repo / "buildcfg.toml").write_text("copy_to_packs = false\n" + text)
    before = _tree(repo / "packs")
    res = packbin("build-pack-binaries", "--arch=x86_64", "--deploy-arch=x86_64", "--json", cwd=repo)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    report = json.loads(res.stdout)
    dist = f"dist/pack-binaries/x86_64/core/sensors/{SENSOR}"
    # The binary, its SBOM and the run's provenance statement; nothing under packs/.
    assert report["installed"] == [dist, f"{dist}.cdx.json", "dist/pack-binaries/provenance.intoto.json"]
    assert report["packs"] == [
        {"arch": "x86_64", "binary": SENSOR, "pack_path": None, "packs_skip": "copy_to_packs = false"}
    ]
    _assert_static_and_runs(repo, repo / dist)
    assert _tree(repo / "packs") == before
    assert not (repo / f"packs/core/sensors/{SENSOR}").exists()
    # The missing packs/ copy is not a reason to reinstall either.
    again = packbin("build-pack-binaries", "--arch=x86_64", "--deploy-arch=x86_64", "--json", cwd=repo)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["installed"] == [] and _tree(repo / "packs") == before
