"""[[c_libraries]] for real: zlib and OpenSSL built from Debian's source packages with zig cc into
static sysroots per target, and the fixture crates whose Debian -sys crates (libz-sys, openssl-sys)
link only a system library built against them.

Each library's fixture crate is built once per run for x86_64 and arm64 (a module fixture per
library); each sysroot is built at most once per run (a second checkout finds them). Sysroot
volumes a fixture made are removed at its end, so the next run builds them again.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from tests.support.c_fixtures import make_c_repo
from tests.support.cargo_workspace import FixtureUnavailable
from tests.support.repo import packbin

pytestmark = [pytest.mark.docker, pytest.mark.slow]

#: library -> the first line its fixture's binary prints: (prefix, suffix) computed here.
FIRST_LINE = {
    "zlib": ("zlib 1.", f" crc32(packbin) = {zlib.crc32(b'packbin'):08x}"),
    "openssl": ("openssl OpenSSL 3.", f" sha256(packbin) = {hashlib.sha256(b'packbin').hexdigest()}"),
}
TRIPLES = {"x86_64": "x86_64-unknown-linux-musl", "arm64": "aarch64-unknown-linux-musl"}
RUNNERS: dict[str, list[str]] = {"x86_64": [], "arm64": ["qemu-aarch64-static"]}


def _sysroot_volumes() -> set[str]:
    found = docker.from_env().volumes.list(filters={"label": ["io.packbin.owner=packbin", "io.packbin.kind=c-sysroot"]})
    return {str(v.name) for v in found}


def _repo(library: str, dest: Path, **kw: Any) -> Path:
    try:
        return make_c_repo(library, dest, **kw)
    except FixtureUnavailable as e:
        pytest.skip(str(e))


Built = tuple[str, Path, str]  # the library, the repository, what packbin printed


@pytest.fixture(scope="module", params=sorted(FIRST_LINE))
def built(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, builder_image: object
) -> Iterator[Built]:
    """The library's fixture crate with [[c_libraries]] name = LIBRARY, built for both architectures."""
    library = str(request.param)
    before = _sysroot_volumes()
    repo = _repo(library, tmp_path_factory.mktemp(library) / "repo", c_libraries=(library,))
    res = packbin("build-pack-binaries", "--arch=all", "--json", cwd=repo)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-6000:]
    yield library, repo, res.stderr
    client = docker.from_env()
    for name in sorted(_sysroot_volumes() - before):
        client.volumes.get(name).remove(force=True)


def _artifacts(repo: Path) -> dict[str, Path]:
    manifest = json.loads((repo / "dist/pack-binaries/manifest.json").read_text())
    return {a["arch"]: repo / a["path"] for a in manifest["artifacts"]}


@pytest.mark.parametrize("arch", sorted(TRIPLES))
def test_binary_is_static_and_calls_the_library(built: Built, arch: str) -> None:
    library, repo, _ = built
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
    # The library's own version string and a checksum computed by the linked library, equal to Python's.
    prefix, suffix = FIRST_LINE[library]
    assert lines[0].startswith(prefix) and lines[0].endswith(suffix), lines
    assert lines[1:] == ["build-net: lo", f"build-target: {TRIPLES[arch]}"]


def test_each_sysroot_was_made_or_found_once(built: Built) -> None:
    library, _, said = built
    for triple in TRIPLES.values():
        lines = [x for x in said.splitlines() if f"[c-sysroot] {library} " in x and f" for {triple}: " in x]
        assert len(lines) == 1 or (len(lines) == 2 and "building into" in lines[0] and "built in" in lines[1]), lines


def test_a_second_build_builds_no_sysroot(built: Built, tmp_path: Path) -> None:
    library = built[0]
    other = _repo(library, tmp_path / "other", c_libraries=(library,))
    res = packbin("build-pack-binaries", "--arch=all", "--json", cwd=other)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-6000:]
    for triple in TRIPLES.values():
        (line,) = [x for x in res.stderr.splitlines() if f"[c-sysroot] {library} " in x and f" for {triple}: " in x]
        assert line.endswith("not built again"), line
    assert "building into" not in res.stderr
    assert _artifacts(other).keys() == {"x86_64", "arm64"}


@pytest.mark.parametrize(("library", "crate"), [("zlib", "libz-sys"), ("openssl", "openssl-sys")])
def test_without_c_libraries_the_dry_run_names_the_library(library: str, crate: str, tmp_path: Path) -> None:
    repo = _repo(library, tmp_path / "repo")
    res = packbin("build-pack-binaries", "--dry-run", "--json", cwd=repo)
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert [(n["crate"], n["library"], n["provided"]) for n in doc["c_dependencies"]] == [(crate, library, False)]
    assert any("[[c_libraries]]" in w and library in w for w in doc["warnings"])
