"""Shared fixtures: a real Docker engine, the builder image, and throwaway copies of the repository."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/ helpers (sensor_checks, fixtures)
# Test this checkout's code, in-process and in every subprocess (`python -m packbin`), whatever
# another `pip install -e` elsewhere points the installed package at.
sys.path.insert(0, str(REPO / "src"))
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO / "src"), os.environ.get("PYTHONPATH", "")) if p)


@pytest.fixture(scope="session")
def engine() -> object:
    """A connected packbin Engine; skips (printing why) only when no engine answers."""
    from packbin.engine import connect
    from packbin.errors import EngineError

    try:
        return connect()
    except EngineError as e:
        pytest.skip(f"no Docker engine: {e.message}")


def _source_volumes() -> set[str] | None:
    import docker
    import requests

    try:
        client = docker.from_env(timeout=10)
        return {str(v.name) for v in client.volumes.list(filters={"label": "io.packbin.kind=sources"})}
    except (docker.errors.DockerException, requests.exceptions.RequestException):  # no engine: nothing to clean up
        return None


@pytest.fixture(scope="session", autouse=True)
def _remove_test_source_volumes() -> Iterator[None]:
    """Every repository a test builds gets a sources volume (one per checkout); remove the ones
    this session made, so test runs do not pile up copies of their workspaces on the engine."""
    before = _source_volumes()
    yield
    after = _source_volumes()
    if before is None or after is None:
        return
    import docker

    client = docker.from_env(timeout=30)
    for name in sorted(after - before):
        try:
            client.volumes.get(name).remove(force=True)
        except docker.errors.APIError as e:  # still in use by a container another run owns
            print(f"could not remove {name}: {e}", file=sys.stderr)


@pytest.fixture(scope="session")
def builder_image(engine: object) -> object:
    """The builder image for the repository's buildcfg.toml (built once; minutes when cold)."""
    from packbin.builder_image import ensure_builder_image
    from packbin.config import BuildConfig

    cfg = BuildConfig.load(REPO / "buildcfg.toml", env={})
    return ensure_builder_image(engine, cfg, echo=lambda line: print(line, file=sys.stderr))  # type: ignore[arg-type]


#: A small buildcfg.toml body (both architectures, one binary whose crate is `crate/`) for tests
#: that lay out their own repository; prefix it with the top-level keys a test needs.
SMALL_BUILDCFG = """
[architectures.x86_64]
aliases = ["amd64"]
rust_target = "x86_64-unknown-linux-musl"
docker_platform = "linux/amd64"
elf_machine = "EM_X86_64"
elf_class = 64
byte_order = "little"
[architectures.arm64]
aliases = ["aarch64"]
rust_target = "aarch64-unknown-linux-musl"
docker_platform = "linux/arm64"
elf_machine = "EM_AARCH64"
elf_class = 64
byte_order = "little"
[[binaries]]
name = "attune-core-timer-sensor"
pack = "core"
manifest = "crate/Cargo.toml"
install_path = "sensors/attune-core-timer-sensor"
"""


#: buildcfg.toml for a repository whose root is the attune-shaped Cargo workspace of
#: tests/support/cargo_workspace.py: its sensor bin is a member with a build script that needs
#: SQLX_OFFLINE and reads .sqlx/ at the root.
WORKSPACE_BUILDCFG = (
    'default_arch = "x86_64"\ndeploy_arch = "x86_64"\n[builder.env]\nSQLX_OFFLINE = "true"\n'
    + SMALL_BUILDCFG.replace(
        'manifest = "crate/Cargo.toml"', 'manifest = "crates/sensor/Cargo.toml"\ninputs = [".sqlx"]'
    )
)


def clone_built(built_repo: Path, tmp_path: Path) -> Path:
    """A copy of a repository a module-scoped fixture built, for a test that changes it."""
    dest = tmp_path / "repo"
    shutil.copytree(built_repo, dest, symlinks=True)
    return dest


def copy_repo(dest: Path) -> Path:
    """A minimal copy of the repository (config + packs) to build in, without touching the checkout."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy2(REPO / "buildcfg.toml", dest / "buildcfg.toml")
    shutil.copytree(
        REPO / "packs",
        dest / "packs",
        symlinks=True,
        ignore=shutil.ignore_patterns("target", "attune-core-timer-sensor"),
    )
    return dest


def packbin(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 1200
) -> subprocess.CompletedProcess[str]:
    """Run the real `packbin` command line (python -m packbin) in ``cwd``."""
    full_env = {
        k: v for k, v in os.environ.items() if k not in ("PACKBIN_CONFIG", "RUST_TARGET", "PACK_BINARIES_RUST_TARGET")
    }
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "packbin", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def repo_copy(tmp_path: Path) -> Iterator[Path]:
    yield copy_repo(tmp_path / "repo")
