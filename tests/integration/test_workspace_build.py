"""Real pack crates: a Cargo workspace member with dependencies, built for real.

The workspace (tests/support/cargo_workspace.py) is attune-shaped: a virtual root, a shared lib
crate, the timer sensor bin (tokio with macros, serde derive, anyhow, ring's C and assembly, a
build script that needs SQLX_OFFLINE and reads .sqlx/ outside its crate), an unrelated member,
docs/ and web/. Its dependencies are vendored from Debian's crate sources. The first build of
both architectures is shared with test_deps_build (one build per run); the other tests work on
copies of the built tree.

The registry test serves a real sparse registry on the loopback address and checks that the
fetch step downloads from it once, and that an unchanged lock fetches nothing again.
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

from tests.support.cargo_workspace import COMMON_MARKER, SENSOR_BIN
from tests.support.repo import WORKSPACE_BUILDCFG as CONFIG
from tests.support.repo import clone_built, packbin, workspace_repo

pytestmark = [pytest.mark.docker, pytest.mark.slow]


DIST = {arch: f"dist/pack-binaries/{arch}/core/sensors/{SENSOR_BIN}" for arch in ("x86_64", "arm64")}


def _run_sensor(binary: Path, runner: list[str] | None = None) -> dict[str, str]:
    out = subprocess.run([*(runner or []), str(binary)], capture_output=True, text=True, timeout=60, check=True).stdout
    lines = out.splitlines()
    assert sum(1 for ln in lines if ln.startswith("tick ")) == 3, out
    return {k: v.strip() for k, _, v in (ln.partition(":") for ln in lines if not ln.startswith("tick "))}


def _container_creates(since: float, until: float, image: str) -> list[Any]:
    """packbin containers created from ``image`` in the window (another packbin user of the
    engine, with another builder image, does not count)."""
    client = docker.from_env()
    events = client.events(
        since=int(since),
        until=int(until) + 1,
        decode=True,
        filters={"type": "container", "event": "create", "label": "io.packbin.owner=packbin"},
    )
    return [e for e in events if e.get("Actor", {}).get("Attributes", {}).get("image") == image]


@pytest.fixture
def built(built_workspace: tuple[Path, dict[str, Any]]) -> tuple[Path, dict[str, Any]]:
    """The workspace built once per run (tests/conftest.py, shared with test_deps_build)."""
    return built_workspace


def test_workspace_member_builds_static_for_both_architectures(built: tuple[Path, dict[str, Any]]) -> None:
    repo, report = built
    assert {a["arch"] for a in report["built"]} == {"x86_64", "arm64"}
    for arch in ("x86_64", "arm64"):
        res = packbin("verify-static", "--json", f"--arch={arch}", DIST[arch], cwd=repo)
        assert res.returncode == 0, res.stdout + res.stderr
        assert json.loads(res.stdout)["results"][0]["static"] is True
        header = subprocess.run(
            ["readelf", "-l", "--wide", str(repo / DIST[arch])], capture_output=True, text=True, check=True
        ).stdout
        assert "INTERP" not in header
    assert (repo / f"packs/core/sensors/{SENSOR_BIN}").read_bytes() == (repo / DIST["x86_64"]).read_bytes()
    assert report["bytes_sent"] > 1 << 20  # the first build sends the workspace with its vendor tree


def test_x86_64_binary_runs_and_its_build_script_saw_no_network(built: tuple[Path, dict[str, Any]]) -> None:
    repo, _ = built
    out = _run_sensor(repo / DIST["x86_64"])
    assert out["common"] == COMMON_MARKER
    assert out["sqlx-query"].startswith("SELECT")
    assert out["build-target"] == "x86_64-unknown-linux-musl"
    # The compile ran with network "none": the build script saw the loopback interface only.
    assert out["build-net"] == "lo"
    assert len(out["sha256(attune)"]) == 64  # ring's C/assembly code ran


def test_arm64_binary_runs_under_qemu(built: tuple[Path, dict[str, Any]]) -> None:
    repo, _ = built
    qemu = shutil.which("qemu-aarch64-static")
    if qemu is None:
        pytest.skip("qemu-aarch64-static is not installed (apt-get install qemu-user-static)")
    out = _run_sensor(repo / DIST["arm64"], [qemu])
    assert out["build-target"] == "aarch64-unknown-linux-musl" and out["build-net"] == "lo"
    assert out["sha256(attune)"] == _run_sensor(repo / DIST["x86_64"])["sha256(attune)"]


def test_unchanged_rerun_and_a_docs_change_start_no_container(
    built: tuple[Path, dict[str, Any]], tmp_path: Path, builder_image: Any
) -> None:
    repo = clone_built(built[0], tmp_path)
    (repo / "docs/index.md").write_text("# attune\n\nrewritten docs\n")
    (repo / "web/app.js").write_text("console.log('changed');\n")
    (repo / "crates/other-tool/src/main.rs").write_text('fn main() { println!("changed"); }\n')
    t0 = time.time() - 1
    res = packbin("build-pack-binaries", "--arch=all", "--json", cwd=repo)
    t1 = time.time()
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout)
    assert report["built"] == [] and report["bytes_sent"] == 0
    assert _container_creates(t0, t1, builder_image.tag) == []


def test_shared_lib_change_rebuilds_both_and_sends_about_that_file(
    built: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    repo = clone_built(built[0], tmp_path)
    # A clone is a new checkout (its own sources volume): the first build there sends everything.
    first = packbin("build-pack-binaries", "--arch=all", "--json", "--force", cwd=repo)
    assert first.returncode == 0, first.stderr[-4000:]
    lib = repo / "crates/common/src/lib.rs"
    lib.write_text(lib.read_text().replace(COMMON_MARKER, "common-v2"))
    res = packbin("build-pack-binaries", "--arch=all", "--json", cwd=repo)
    assert res.returncode == 0, res.stderr[-4000:]
    report = json.loads(res.stdout)
    assert {a["arch"] for a in report["built"]} == {"x86_64", "arm64"}
    # One changed file (plus the build script and per-build config), not the 20+ MB workspace.
    assert 0 < report["bytes_sent"] < 64 << 10, report["bytes_sent"]
    assert _run_sensor(repo / DIST["x86_64"])["common"] == "common-v2"
    # Dependencies and the musl std came from the caches: only the workspace's crates compiled.
    assert "Compiling tokio" not in res.stderr and "Compiling std " not in res.stderr


def test_sqlx_input_change_rebuilds(built: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    repo = clone_built(built[0], tmp_path)
    query = next((repo / ".sqlx").glob("query-*.json"))
    query.write_text(query.read_text().replace("SELECT", "SELECT /* v2 */"))
    res = packbin("build-pack-binaries", "--arch=x86_64", "--json", cwd=repo)
    assert res.returncode == 0, res.stderr[-4000:]
    assert [a["arch"] for a in json.loads(res.stdout)["built"]] == ["x86_64"]
    assert "/* v2 */" in _run_sensor(repo / DIST["x86_64"])["sqlx-query"]


def test_missing_lock_is_one_line_naming_the_workspace_root(tmp_path: Path) -> None:
    repo = workspace_repo(tmp_path / "repo")
    (repo / "Cargo.lock").unlink()
    res = packbin("build-pack-binaries", "--arch=x86_64", cwd=repo)
    assert res.returncode == 2, res.stdout + res.stderr
    assert "Cargo.lock" in res.stderr and "cargo generate-lockfile --manifest-path Cargo.toml" in res.stderr
    assert "Traceback" not in res.stderr


# -- a registry on the loopback address -------------------------------------------------------


def test_registry_dependencies_are_fetched_once_then_compiled_offline(tmp_path: Path, builder_image: object) -> None:
    from tests.support.sparse_registry import REGISTRY_BIN, SparseRegistry, make_registry_workspace

    with SparseRegistry() as registry:
        repo = tmp_path / "repo"
        make_registry_workspace(repo / "demo", registry.index_url)
        (repo / "buildcfg.toml").write_text(
            CONFIG.replace("crates/sensor/Cargo.toml", "demo/Cargo.toml")
            .replace('name = "attune-core-timer-sensor"', f'name = "{REGISTRY_BIN}"')
            .replace("sensors/attune-core-timer-sensor", f"sensors/{REGISTRY_BIN}")
            .replace('inputs = [".sqlx"]\n', "")
        )
        (repo / "packs/core").mkdir(parents=True)
        registry.reset_counts()
        res = packbin("build-pack-binaries", "--arch=x86_64", "--json", cwd=repo)
        assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-4000:]
        assert "fetching dependencies" in res.stderr
        downloads = registry.downloads()
        assert downloads and all(n >= 1 for n in downloads.values()), registry.counts()
        out = subprocess.run(
            [str(repo / f"dist/pack-binaries/x86_64/core/sensors/{REGISTRY_BIN}")],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert "itoa: 42" in out

        # The lock did not change: a forced rebuild compiles again but fetches nothing.
        registry.reset_counts()
        again = packbin("build-pack-binaries", "--arch=x86_64", "--json", "--force", cwd=repo)
        assert again.returncode == 0, again.stderr[-4000:]
        assert "fetching dependencies" not in again.stderr
        assert registry.total_requests() == 0, registry.counts()


def test_outputs_never_come_from_an_old_file_date_or_another_checkout(
    built: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    import os

    # Checkout A changes the shared crate and builds: the shared target dir now holds A's crate.
    a = clone_built(built[0], tmp_path / "a")
    lib_a = a / "crates/common/src/lib.rs"
    lib_a.write_text(lib_a.read_text().replace(COMMON_MARKER, "common-from-a"))
    assert packbin("build-pack-binaries", "--arch=x86_64", cwd=a).returncode == 0
    assert _run_sensor(a / DIST["x86_64"])["common"] == "common-from-a"
    # A changed file dated in the past (cp -p, tar, a restored backup) still rebuilds, though
    # cargo alone judges it by that date.
    lib_a.write_text(lib_a.read_text().replace("common-from-a", "common-old-date"))
    os.utime(lib_a, (946684800, 946684800))  # 2000-01-01
    res = packbin("build-pack-binaries", "--arch=x86_64", cwd=a)
    assert res.returncode == 0, res.stderr[-3000:]
    assert _run_sensor(a / DIST["x86_64"])["common"] == "common-old-date"
    # Checkout B has the same paths, older file dates and other content (copies keep dates):
    # cargo alone would take A's outputs in the shared target dir as fresh.
    b = clone_built(built[0], tmp_path / "b")
    res = packbin("build-pack-binaries", "--arch=x86_64", "--force", cwd=b)
    assert res.returncode == 0, res.stderr[-3000:]
    assert _run_sensor(b / DIST["x86_64"])["common"] == COMMON_MARKER
