"""bindgen for real: ``[builder] packages = ["libclang-dev"]`` puts libclang into the builder image,
and the bindgen fixture crate (a build script that runs bindgen over a C header including
<stdint.h> and <stddef.h>, against the target's musl headers) builds static for x86_64 and arm64,
and runs."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.support.c_fixtures import fnv1a32, make_c_repo
from tests.support.cargo_workspace import FixtureUnavailable
from tests.support.repo import packbin

pytestmark = [pytest.mark.docker, pytest.mark.slow]

TRIPLES = {"x86_64": "x86_64-unknown-linux-musl", "arm64": "aarch64-unknown-linux-musl"}
RUNNERS: dict[str, list[str]] = {"x86_64": [], "arm64": ["qemu-aarch64-static"]}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, builder_image: object) -> tuple[Path, str]:
    """The bindgen fixture with libclang-dev in the builder image, built for both architectures."""
    try:
        repo = make_c_repo("bindgen", tmp_path_factory.mktemp("bindgen") / "repo", packages=("libclang-dev",))
    except FixtureUnavailable as e:
        pytest.skip(str(e))
    # The build script compiles c/demo.c and reads c/demo.h: inputs cargo's own rules do not name.
    cfg = repo / "buildcfg.toml"
    cfg.write_text(cfg.read_text().replace('manifest = "Cargo.toml"\n', 'manifest = "Cargo.toml"\ninputs = ["c"]\n'))
    assert 'inputs = ["c"]' in cfg.read_text()
    res = packbin("build-pack-binaries", "--arch=all", "--json", cwd=repo, timeout=2400)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-6000:]
    return repo, res.stderr


@pytest.mark.parametrize("arch", sorted(TRIPLES))
def test_bindgen_binary_is_static_and_runs(built: tuple[Path, str], arch: str) -> None:
    repo, said = built
    manifest = json.loads((repo / "dist/pack-binaries/manifest.json").read_text())
    path = repo / next(a["path"] for a in manifest["artifacts"] if a["arch"] == arch)
    verified = packbin("verify-static", f"--arch={arch}", str(path), cwd=repo)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    dynamic = subprocess.run(["readelf", "-d", str(path)], capture_output=True, text=True, check=True).stdout
    assert "no dynamic section" in dynamic
    run = subprocess.run([*RUNNERS[arch], str(path)], capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == [
        "bindgen demo_add(2, 40) = 42",
        f"bindgen demo_fnv1a(packbin) = {fnv1a32(b'packbin'):08x}",
        "build-net: lo",
        f"build-target: {TRIPLES[arch]}",
    ]
    # bindgen's clang read zig's musl headers for this target, not the builder's glibc ones.
    var = "BINDGEN_EXTRA_CLANG_ARGS_" + TRIPLES[arch].replace("-", "_")
    (line,) = [x for x in said.splitlines() if "bindgen: LIBCLANG_PATH=/usr/lib/llvm-" in x and var in x]
    assert f"/libc/include/{TRIPLES[arch].split('-')[0]}-linux-musl" in line
