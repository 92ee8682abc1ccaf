"""[[c_libraries]] for real: zlib built from Debian's source package with zig cc into a static
sysroot per target, and a crate whose Debian libz-sys links only a system zlib built against it.

The module builds the zlib fixture crate once for x86_64 and arm64; each sysroot is built at most
once per run (a second checkout finds them). Sysroot volumes this module made are removed at the
end, so the next run builds them again.
"""

from __future__ import annotations

import json
import subprocess
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from tests.support.c_fixtures import FIXTURES, make_c_repo
from tests.support.cargo_workspace import FixtureUnavailable
from tests.support.repo import packbin

pytestmark = [pytest.mark.docker, pytest.mark.slow]

PACKAGE = FIXTURES["zlib"].package
TRIPLES = {"x86_64": "x86_64-unknown-linux-musl", "arm64": "aarch64-unknown-linux-musl"}
RUNNERS: dict[str, list[str]] = {"x86_64": [], "arm64": ["qemu-aarch64-static"]}


def _sysroot_volumes() -> set[str]:
    found = docker.from_env().volumes.list(filters={"label": ["io.packbin.owner=packbin", "io.packbin.kind=c-sysroot"]})
    return {str(v.name) for v in found}


def _repo(dest: Path, **kw: Any) -> Path:
    try:
        return make_c_repo("zlib", dest, **kw)
    except FixtureUnavailable as e:
        pytest.skip(str(e))


@pytest.fixture(scope="module")
def zlib_built(
    tmp_path_factory: pytest.TempPathFactory, builder_image: object
) -> Iterator[tuple[Path, dict[str, Any], str]]:
    """The zlib fixture with [[c_libraries]] name = "zlib", built for both architectures: the
    repository, the --json report, and what packbin printed."""
    before = _sysroot_volumes()
    repo = _repo(tmp_path_factory.mktemp("zlib") / "repo", c_libraries=("zlib",))
    res = packbin("build-pack-binaries", "--arch=all", "--json", cwd=repo)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-6000:]
    yield repo, json.loads(res.stdout), res.stderr
    client = docker.from_env()
    for name in sorted(_sysroot_volumes() - before):
        client.volumes.get(name).remove(force=True)


def _artifacts(repo: Path) -> dict[str, Path]:
    manifest = json.loads((repo / "dist/pack-binaries/manifest.json").read_text())
    return {a["arch"]: repo / a["path"] for a in manifest["artifacts"]}


@pytest.mark.parametrize("arch", sorted(TRIPLES))
def test_zlib_binary_is_static_and_calls_zlib(zlib_built: tuple[Path, dict[str, Any], str], arch: str) -> None:
    repo, _, _ = zlib_built
    path = _artifacts(repo)[arch]
    verified = packbin("verify-static", f"--arch={arch}", str(path), cwd=repo)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    dynamic = subprocess.run(["readelf", "-d", str(path)], capture_output=True, text=True, check=True).stdout
    assert "NEEDED" not in dynamic and "no dynamic section" in dynamic
    phdrs = subprocess.run(["readelf", "-l", "--wide", str(path)], capture_output=True, text=True, check=True).stdout
    assert "INTERP" not in phdrs
    run = subprocess.run([*RUNNERS[arch], str(path)], capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    # zlib's own version string and a CRC-32 computed by the linked zlib, equal to Python's.
    assert lines[0].startswith("zlib 1.") and lines[0].endswith(f" crc32(packbin) = {zlib.crc32(b'packbin'):08x}")
    assert lines[1:] == ["build-net: lo", f"build-target: {TRIPLES[arch]}"]


def test_each_sysroot_was_made_or_found_once(zlib_built: tuple[Path, dict[str, Any], str]) -> None:
    _, _, said = zlib_built
    for triple in TRIPLES.values():
        lines = [x for x in said.splitlines() if "[c-sysroot] zlib" in x and f" for {triple}: " in x]
        assert len(lines) == 1 or (len(lines) == 2 and "building into" in lines[0] and "built in" in lines[1]), lines


def test_a_second_build_builds_no_sysroot(zlib_built: tuple[Path, dict[str, Any], str], tmp_path: Path) -> None:
    other = _repo(tmp_path / "other", c_libraries=("zlib",))
    res = packbin("build-pack-binaries", "--arch=all", "--json", cwd=other)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-6000:]
    for triple in TRIPLES.values():
        (line,) = [x for x in res.stderr.splitlines() if "[c-sysroot] zlib" in x and f" for {triple}: " in x]
        assert line.endswith("not built again"), line
    assert "building into" not in res.stderr
    assert _artifacts(other).keys() == {"x86_64", "arm64"}


def test_without_c_libraries_the_dry_run_names_zlib(tmp_path: Path) -> None:
    repo = _repo(tmp_path / "repo")
    res = packbin("build-pack-binaries", "--dry-run", "--json", cwd=repo)
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert [(n["crate"], n["library"], n["provided"]) for n in doc["c_dependencies"]] == [("libz-sys", "zlib", False)]
    assert any("[[c_libraries]]" in w and "zlib" in w for w in doc["warnings"])
