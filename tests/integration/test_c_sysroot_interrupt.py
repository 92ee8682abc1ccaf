"""An interrupted C sysroot build leaves nothing that looks complete, and the next build makes it.

A real interruption: packbin gets SIGINT while zig compiles zlib in the sysroot container (the
script has printed "... with zig cc"). The volume then has no ``root/``, and the next build
builds the sysroot again instead of finding it. The library's version is pinned here, so the
volume is this test's own (an unpinned zlib's volume has the suite's name instead) and is
removed at the end.
"""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from tests.support.c_fixtures import make_c_repo
from tests.support.cargo_workspace import FixtureUnavailable
from tests.support.repo import interrupt_at, packbin

pytestmark = [pytest.mark.docker, pytest.mark.slow]

VERSION = "1:1.2.13.dfsg-1"
TRIPLE = "x86_64-unknown-linux-musl"


def _volumes() -> dict[str, docker.models.volumes.Volume]:
    client = docker.from_env()
    found = client.volumes.list(filters={"label": ["io.packbin.owner=packbin", "io.packbin.kind=c-sysroot"]})
    return {str(v.name): v for v in found if str(v.name).startswith("packbin-c-zlib-1_1.2.13.dfsg-1-")}


@pytest.fixture
def repo(tmp_path: Path, builder_image: object) -> Iterator[Path]:
    for v in _volumes().values():  # this test's pinned version only: start from no sysroot
        v.remove(force=True)
    try:
        root = make_c_repo("zlib", tmp_path / "repo", c_libraries=("zlib",))
    except FixtureUnavailable as e:
        pytest.skip(str(e))
    cfg = root / "buildcfg.toml"
    cfg.write_text(cfg.read_text().replace('name = "zlib"\n', f'name = "zlib"\nversion = "{VERSION}"\n'))
    yield root
    for v in _volumes().values():
        v.remove(force=True)


def _listing(volume: str) -> list[str]:
    client = docker.from_env()
    image = client.images.list("packbin/builder")[0]
    out = client.containers.run(
        image.id, ["ls", "-A", "/v"], volumes={volume: {"bind": "/v", "mode": "ro"}}, remove=True
    )
    return sorted(out.decode().split())


def test_an_interrupted_sysroot_build_is_built_again(repo: Path) -> None:
    status, said = interrupt_at("build-pack-binaries", "--arch=x86_64", line="with zig cc", sig=signal.SIGINT, cwd=repo)
    assert status != 0, said
    (volume,) = [name for name in _volumes() if TRIPLE in name]
    assert "root" not in _listing(volume), said  # an unfinished build in .tmp-* at most
    res = packbin("build-pack-binaries", "--arch=x86_64", cwd=repo)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert f"zlib {VERSION} for {TRIPLE}: building into {volume}" in res.stdout
    assert [x for x in _listing(volume) if not x.startswith(".")] == ["root"]
    assert not [x for x in _listing(volume) if x.startswith(".tmp-")]
    run = subprocess.run(
        [str(repo / "dist/pack-binaries/x86_64/bin/c-zlib-demo")], capture_output=True, text=True, check=False
    )
    assert run.returncode == 0 and run.stdout.startswith("zlib 1.2.13 crc32(packbin) = "), run
