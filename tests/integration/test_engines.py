"""Several real engines: an architecture routed to its own engine, parallel lanes, an unreachable
engine, cache export/import into a fresh engine, and reproducible bytes.

The second engine is a real dockerd in a network namespace of its own (tests/support/
second_engine.py). It has no way out, so the builder image reaches it the way a fresh CI runner's
engine gets it: `cache-export --with-image` on the first engine, `cache-import` on the second.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from packbin.ci.cache_tar import check_cache_tar
from tests.support.repo import clone_built, copy_repo, interrupt_at, packbin
from tests.support.second_engine import SecondEngineUnavailable, remove_packbin_volumes, second_engine

pytestmark = [pytest.mark.docker, pytest.mark.slow]

SENSOR = "attune-core-timer-sensor"
X86 = "x86_64-unknown-linux-musl"
ARM = "aarch64-unknown-linux-musl"
STD_STEP = "building the musl std"


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def _manifest(repo: Path) -> dict[str, dict[str, Any]]:
    doc = json.loads((repo / "dist/pack-binaries/manifest.json").read_text())
    return {f"{a['arch']}/{a['binary']}": a for a in doc["artifacts"]}


@pytest.fixture(scope="module")
def single(tmp_path_factory: pytest.TempPathFactory, builder_image: object) -> Path:
    """Both architectures built on the default engine alone: the reference bytes."""
    repo = copy_repo(tmp_path_factory.mktemp("single") / "repo")
    res = packbin("build-pack-binaries", "--arch=all", "--deploy-arch=x86_64", cwd=repo)
    assert res.returncode == 0, res.stderr[-4000:]
    return repo


@pytest.fixture(scope="module")
def engine2(single: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A second engine, seeded like a fresh CI runner: the first engine's caches and builder image
    exported to a directory and imported there. Yields (endpoint, the cache directory)."""
    cache = tmp_path_factory.mktemp("cache") / "packbin-cache"
    res = packbin("cache-export", "--dir", str(cache), "--with-image", "--json", cwd=single)
    assert res.returncode == 0, res.stderr[-3000:]
    exported = json.loads(res.stdout)["reports"][0]
    assert {f["volume"] for f in exported["files"]} >= {
        "packbin-cargo-home",
        f"packbin-std-{X86}",
        f"packbin-std-{ARM}",
        f"packbin-target-{X86}",
    }
    try:
        ctx = second_engine()
        endpoint = ctx.__enter__()
    except SecondEngineUnavailable as e:
        pytest.skip(f"no second engine on this machine: {e}")
    try:
        env = {"PACKBIN_ENGINE_X86_64": endpoint, "PACKBIN_ENGINE_ARM64": endpoint}
        res = packbin("cache-import", "--dir", str(cache), cwd=single, env=env)
        assert res.returncode == 0, res.stderr[-3000:]
        assert "loading the builder image" in res.stdout
        yield endpoint, cache
    finally:
        ctx.__exit__(None, None, None)


def _client(endpoint: str) -> docker.DockerClient:
    return docker.DockerClient(base_url=endpoint, timeout=60)


def _volumes(endpoint: str) -> set[str]:
    return {str(v.name) for v in _client(endpoint).volumes.list()}


def test_an_architecture_builds_on_its_own_engine_in_parallel_with_the_same_bytes(
    single: Path, engine2: tuple[str, Path], tmp_path: Path
) -> None:
    endpoint, _ = engine2
    repo = clone_built(single, tmp_path)
    before = _volumes(endpoint)
    res = packbin(
        "build-pack-binaries",
        "--arch=all",
        "--force",
        "--deploy-arch=x86_64",
        cwd=repo,
        env={"PACKBIN_ENGINE_ARM64": endpoint},
    )
    assert res.returncode == 0, res.stderr[-4000:]
    out = res.stdout.splitlines()
    # arm64 went to the second engine: its sources volume for this checkout is there now.
    new = _volumes(endpoint) - before
    assert [v for v in new if v.startswith("packbin-src-")], (new, res.stdout[-2000:])
    # Both lanes ran at once: each started before the other finished.
    first = {
        a: next(i for i, line in enumerate(out) if line.startswith(f"[{a}") and "building" in line)
        for a in ("x86_64", "arm64")
    }
    done = {
        a: next(i for i, line in enumerate(out) if line.startswith(f"[{a}") and " done in " in line)
        for a in ("x86_64", "arm64")
    }
    assert first["x86_64"] < done["arm64"] and first["arm64"] < done["x86_64"], res.stdout
    # The same inputs give the same bytes on either engine.
    ref, got = _manifest(single), _manifest(repo)
    for key in (f"x86_64/{SENSOR}", f"arm64/{SENSOR}"):
        assert got[key]["sha256"] == ref[key]["sha256"], key
        assert got[key]["input_hash"] == ref[key]["input_hash"], key
    # Sequential (--jobs 1) gives them too.
    res = packbin("build-pack-binaries", "--arch=all", "--force", "--jobs=1", "--deploy-arch=x86_64", cwd=repo)
    assert res.returncode == 0, res.stderr[-3000:]
    assert {k: a["sha256"] for k, a in _manifest(repo).items()} == {k: a["sha256"] for k, a in ref.items()}


def test_an_unreachable_engine_fails_before_any_build(single: Path, tmp_path: Path) -> None:
    repo = clone_built(single, tmp_path)
    dist_before = {p: _sha(p) for p in (repo / "dist/pack-binaries").rglob("*") if p.is_file()}
    gone = f"unix://{tmp_path}/gone.sock"
    res = packbin("build-pack-binaries", "--arch=all", "--force", cwd=repo, env={"PACKBIN_ENGINE_ARM64": gone})
    assert res.returncode == 3, res.stdout + res.stderr
    assert (
        f"packbin: error: cannot reach the Docker engine for arm64 at {gone} (from PACKBIN_ENGINE_ARM64)" in res.stderr
    )
    assert "Traceback" not in res.stderr
    assert "building" not in res.stdout  # x86_64, whose engine is up, did not start either
    assert {p: _sha(p) for p in (repo / "dist/pack-binaries").rglob("*") if p.is_file()} == dist_before


def test_cache_import_into_a_fresh_engine_makes_the_next_build_incremental(
    single: Path, engine2: tuple[str, Path], tmp_path: Path
) -> None:
    endpoint, cache = engine2
    client = _client(endpoint)
    # A fresh engine: none of packbin's cache volumes (the image stays; it was imported with them).
    remove_packbin_volumes(endpoint)
    env = {"PACKBIN_ENGINE_X86_64": endpoint}
    res = packbin("cache-import", "--dir", str(cache), "--arch=x86_64", "--no-image", "--json", cwd=single, env=env)
    assert res.returncode == 0, res.stderr[-3000:]
    imported = {f["volume"] for f in json.loads(res.stdout)["reports"][0]["files"]}
    assert imported == {"packbin-cargo-home", f"packbin-target-{X86}", f"packbin-zigcache-{X86}", f"packbin-std-{X86}"}
    # Importing again keeps what is there (an older cache never overwrites a warmer one).
    res = packbin("cache-import", "--dir", str(cache), "--arch=x86_64", "--no-image", cwd=single, env=env)
    assert res.returncode == 0 and "exists on the engine; kept" in res.stdout, res.stdout + res.stderr

    repo = clone_built(single, tmp_path)
    res = packbin("build-pack-binaries", "--arch=x86_64", "--force", "--deploy-arch=x86_64", cwd=repo, env=env)
    assert res.returncode == 0, res.stderr[-3000:]
    assert STD_STEP not in res.stdout  # the imported std was used, not rebuilt
    assert _manifest(repo)[f"x86_64/{SENSOR}"]["sha256"] == _manifest(single)[f"x86_64/{SENSOR}"]["sha256"]
    # zig's cache was pointed at this engine's copies of its inputs, and zig compiled nothing
    # again: no object in its cache is newer than the canary written before cargo ran. (Without
    # zig_cache.py, zig compiled musl's objects again here: 1,056 of them, 34 s.)
    assert "zig's cache holds copies of its inputs" in res.stdout, res.stdout[-3000:]
    newer = client.containers.run(
        _manifest(repo)[f"x86_64/{SENSOR}"]["builder_image"],
        ["sh", "-c", "find /cache/zig/o -name '*.o' -newer /cache/.packbin-zig-inodes | wc -l"],
        volumes={f"packbin-zigcache-{X86}": {"bind": "/cache", "mode": "ro"}},
        network_mode="none",
        remove=True,
    )
    assert newer.strip() == b"0"


def test_ctrl_c_during_an_import_leaves_each_volume_whole_or_absent(single: Path, engine2: tuple[str, Path]) -> None:
    """The volumes are restored side by side; Ctrl-C stops the uploads, and a volume left on the
    engine holds every member of its tar."""
    endpoint, cache = engine2
    client = _client(endpoint)
    remove_packbin_volumes(endpoint)
    code, out = interrupt_at(
        *("cache-import", "--dir", str(cache), "--arch=x86_64", "--no-image"),
        line=f"-> packbin-zigcache-{X86}",
        sig=signal.SIGINT,
        cwd=single,
        env={"PACKBIN_ENGINE_X86_64": endpoint},
    )
    assert code == 130, out
    assert "interrupted" in out and "Traceback" not in out
    assert [c.name for c in client.containers.list(all=True, filters={"label": "io.packbin.kind=cache"})] == []
    index = json.loads((cache / "packbin-cache.json").read_text())
    image = _manifest(single)[f"x86_64/{SENSOR}"]["builder_image"]
    for f in index["files"]:
        if f["volume"] not in _volumes(endpoint):
            continue
        with open(cache / f["file"], "rb") as tar:
            members = check_cache_tar(tar, where=f["file"])
        count = client.containers.run(
            image, ["sh", "-c", "find /v | wc -l"], volumes={f["volume"]: {"bind": "/v", "mode": "ro"}}, remove=True
        )
        assert int(count) == members, f["volume"]


def test_a_tampered_cache_is_refused_before_the_engine_sees_it(
    single: Path, engine2: tuple[str, Path], tmp_path: Path
) -> None:
    endpoint, cache = engine2
    bad = tmp_path / "bad-cache"
    bad.mkdir()
    shutil.copy(cache / "packbin-cache.json", bad)
    for name in json.loads((cache / "packbin-cache.json").read_text())["files"]:
        if name["file"].startswith("packbin-zigcache"):
            data = bytearray((cache / name["file"]).read_bytes())
            data[600] ^= 0xFF  # one flipped byte
            (bad / name["file"]).write_bytes(bytes(data))
    env = {"PACKBIN_ENGINE_X86_64": endpoint, "PACKBIN_ENGINE_ARM64": endpoint}
    client = _client(endpoint)
    for v in client.volumes.list():
        if str(v.name).startswith("packbin-zigcache"):
            v.remove(force=True)
    res = packbin("cache-import", "--dir", str(bad), "--no-image", cwd=single, env=env)
    assert res.returncode == 2, res.stdout + res.stderr
    assert "does not match packbin-cache.json" in res.stderr and "Traceback" not in res.stderr
    assert not [v for v in _volumes(endpoint) if v.startswith("packbin-zigcache")]


STAMP_BUILD_RS = """
use std::time::{SystemTime, UNIX_EPOCH};
fn main() {
    let n = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos();
    let out = std::env::var("OUT_DIR").unwrap();
    std::fs::write(format!("{out}/stamp.rs"), format!("pub const STAMP: u128 = {n};")).unwrap();
}
"""


def test_check_reproducible_rebuilds_in_fresh_volumes_and_names_what_differs(single: Path, tmp_path: Path) -> None:
    # Two binaries: the timer sensor (reproducible) and one whose build script bakes in the time.
    repo = clone_built(single, tmp_path)
    crate = repo / "packs/core/stamp"
    (crate / "src").mkdir(parents=True)
    (crate / "Cargo.toml").write_text('[package]\nname = "stamp"\nversion = "0.1.0"\nedition = "2021"\n')
    (crate / "Cargo.lock").write_text('version = 3\n\n[[package]]\nname = "stamp"\nversion = "0.1.0"\n')
    (crate / "build.rs").write_text(STAMP_BUILD_RS)
    (crate / "src/main.rs").write_text(
        'include!(concat!(env!("OUT_DIR"), "/stamp.rs"));\nfn main() { println!("{STAMP}"); }\n'
    )
    with open(repo / "buildcfg.toml", "a") as f:
        f.write(
            '\n[[binaries]]\nname = "stamp"\npack = "core"\nmanifest = "packs/core/stamp/Cargo.toml"\n'
            'install_path = "sensors/stamp"\n'
        )
    res = packbin("build-pack-binaries", "--arch=x86_64", "--deploy-arch=x86_64", cwd=repo)
    assert res.returncode == 0, res.stderr[-3000:]
    installed = _sha(repo / "dist/pack-binaries/x86_64/core/sensors/stamp")
    engine = docker.from_env()
    before = {str(v.name) for v in engine.volumes.list()}

    res = packbin("build-pack-binaries", "--arch=x86_64", "--check-reproducible", "--json", cwd=repo)
    assert res.returncode == 1, res.stdout + res.stderr[-3000:]
    verdicts = {r["binary"]: r for r in json.loads(res.stdout)["reproducible"]}
    assert verdicts[SENSOR]["sha256"] == verdicts[SENSOR]["fresh_sha256"]
    assert verdicts["stamp"]["sha256"] != verdicts["stamp"]["fresh_sha256"]
    assert "packbin: error: not reproducible: x86_64/stamp" in res.stderr
    assert SENSOR not in res.stderr.split("not reproducible:")[1].split("\n")[0]
    assert STD_STEP in res.stderr  # fresh volumes: std built from scratch too
    # dist/ keeps the installed binary; the fresh volumes are gone.
    assert _sha(repo / "dist/pack-binaries/x86_64/core/sensors/stamp") == installed
    assert not [v for v in {str(v.name) for v in engine.volumes.list()} - before if v.startswith("packbin-repro-")]
