"""docker compose up for real: the init service fills packs_data, the sensor runs from it.

Uses a real Compose implementation (the v2 plugin when the docker CLI has it, else
docker-compose v1, which .ci/run installs) against the real engine.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.repo import REPO, copy_repo, packbin

pytestmark = [pytest.mark.docker, pytest.mark.slow]

SENSOR = "attune-core-timer-sensor"


def _compose_cmd() -> list[str]:
    if (
        shutil.which("docker")
        and subprocess.run(["docker", "compose", "version"], capture_output=True, check=False).returncode == 0
    ):
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    pytest.skip("no Compose implementation (docker compose plugin or docker-compose) is installed")


@pytest.fixture(scope="module")
def deployed_repo(tmp_path_factory: pytest.TempPathFactory, builder_image: object, engine: Any) -> Iterator[Path]:
    repo = copy_repo(tmp_path_factory.mktemp("compose") / "repo")
    shutil.copy2(REPO / "docker-compose.yaml", repo / "docker-compose.yaml")
    res = packbin("build-pack-binaries", "--arch=all", cwd=repo)
    assert res.returncode == 0, res.stderr[-3000:]
    # A stale, dynamically linked binary in the host's pack tree: the seed's second root cause.
    shutil.copy2("/bin/true", repo / "packs/core/sensors" / SENSOR)
    res = packbin("build-pack-binaries-init-image", "--arch=all", cwd=repo)
    assert res.returncode == 0, res.stderr[-3000:]
    yield repo
    for repo_name in ("packbin/pack-binaries-init", "packbin/pack-runtime"):
        for img in engine.client.images.list(name=repo_name):
            engine.client.images.remove(img.id, force=True)


def _volume_file(engine: Any, volume: str, path: str) -> bytes:
    import io
    import tarfile

    c = engine.client.containers.create(
        "packbin/pack-runtime:native", command=["/never-started"], volumes={volume: {"bind": "/packs", "mode": "ro"}}
    )
    try:
        stream, _ = c.get_archive(f"/packs/{path}")
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tf:
            f = tf.extractfile(tf.getmembers()[0])
            assert f is not None
            return f.read()
    finally:
        c.remove(force=True)


@pytest.mark.parametrize("target", [None, "aarch64-unknown-linux-musl"])
def test_compose_up_deploys_static_binary_and_runs_sensor(deployed_repo: Path, engine: Any, target: str | None) -> None:
    from packbin.config.model import BuildConfig
    from packbin.engine.binfmt import foreign_exec

    cfg = BuildConfig.load(deployed_repo / "buildcfg.toml", env={})
    arch = cfg.arch_for_target(target) if target else cfg.arch_for_platform(engine.native_platform)
    assert arch is not None
    native = cfg.arch_for_platform(engine.native_platform)
    if foreign_exec(arch, native=native.name if native else "", local_engine=True).runnable is False:
        pytest.skip(f"the engine cannot run {arch.name} binaries (binfmt/qemu not registered)")
    project = f"pbtest{uuid.uuid4().hex[:8]}"
    cmd = [*_compose_cmd(), "-p", project]
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "ATTUNE_TIMER_INTERVAL_MS": "200"}
    if target:
        env["PACK_BINARIES_RUST_TARGET"] = target
    try:
        up = subprocess.run(
            [*cmd, "up", "-d"], cwd=deployed_repo, env=env, capture_output=True, text=True, timeout=300, check=False
        )
        assert up.returncode == 0, up.stdout + up.stderr
        events: list[dict[str, Any]] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(events) < 3:
            logs = subprocess.run(
                [*cmd, "logs", "--no-color", "sensor"],
                cwd=deployed_repo,
                env=env,
                capture_output=True,
                text=True,
                check=False,
            ).stdout
            events = [
                json.loads(line.split("|", 1)[1]) for line in logs.splitlines() if "|" in line and '"trigger"' in line
            ]
            time.sleep(0.5)
        assert len(events) >= 3, logs
        assert [e["seq"] for e in events[:3]] == [1, 2, 3] and events[0]["interval_ms"] == 200
        init_logs = subprocess.run(
            [*cmd, "logs", "--no-color", "init-pack-binaries"],
            cwd=deployed_repo,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        ).stdout
        assert f"core/sensors/{SENSOR}" in init_logs
        volume = f"{project}_packs_data"
        deployed = _volume_file(engine, volume, f"core/sensors/{SENSOR}")
        built = (deployed_repo / f"dist/pack-binaries/{arch.name}/core/sensors/{SENSOR}").read_bytes()
        stale = (deployed_repo / f"packs/core/sensors/{SENSOR}").read_bytes()
        assert hashlib.sha256(deployed).hexdigest() == hashlib.sha256(built).hexdigest()
        assert deployed != stale
        assert b"ref: core" in _volume_file(engine, volume, "core/pack.yaml")
    finally:
        subprocess.run(
            [*cmd, "down", "-v", "--remove-orphans"],
            cwd=deployed_repo,
            env=env,
            capture_output=True,
            check=False,
            timeout=120,
        )
