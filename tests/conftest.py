"""Shared fixtures: a real Docker engine, the builder image, and throwaway copies of the repository."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.ordering import move_runs_last_to_end
from tests.support.repo import REPO, copy_repo

# Test this checkout's code in every subprocess (`python -m packbin`) too, whatever another
# `pip install -e` elsewhere points the installed package at (in-process, pyproject.toml's
# pytest `pythonpath` puts src/ first).
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
def _remove_test_source_volumes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Every repository a test builds gets a sources volume (one per checkout); remove the ones
    this session made, so test runs do not pile up copies of their workspaces on the engine.
    Only volumes of checkouts under this session's temp dir: another pytest session on the same
    engine may be building from a volume it made meanwhile."""
    from packbin.build.sources import CHECKOUT_LABEL

    base = str(tmp_path_factory.getbasetemp().resolve())
    before = _source_volumes()
    yield
    after = _source_volumes()
    if before is None or after is None:
        return
    import docker

    client = docker.from_env(timeout=30)
    for name in sorted(after - before):
        try:
            volume = client.volumes.get(name)
            root = (volume.attrs.get("Labels") or {}).get(CHECKOUT_LABEL, "")
            if root != base and not root.startswith(base + "/"):
                continue
            volume.remove(force=True)
        except docker.errors.APIError as e:  # still in use by a container another run owns
            print(f"could not remove {name}: {e}", file=sys.stderr)


@pytest.fixture(scope="session")
def builder_image(engine: object) -> object:
    """The builder image for the repository's buildcfg.toml (built once; minutes when cold)."""
    from packbin.build.image import ensure_builder_image
    from packbin.config.model import BuildConfig

    cfg = BuildConfig.load(REPO / "buildcfg.toml", env={})
    return ensure_builder_image(engine, cfg, echo=lambda line: print(line, file=sys.stderr))  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def built_workspace(tmp_path_factory: pytest.TempPathFactory, builder_image: object) -> tuple[Path, dict[str, Any]]:
    """The attune-shaped workspace (tests/support/cargo_workspace.py) built for both architectures,
    once per run, and its --json report. test_workspace_build and test_deps_build read it; a test
    that changes anything works on a copy (tests.support.repo.clone_built)."""
    import json

    from tests.support.repo import packbin, workspace_repo

    repo = workspace_repo(tmp_path_factory.mktemp("ws") / "repo")
    res = packbin("build-pack-binaries", "--arch=all", "--json", cwd=repo)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-6000:]
    report: dict[str, Any] = json.loads(res.stdout)
    return repo, report


@pytest.fixture
def repo_copy(tmp_path: Path) -> Iterator[Path]:
    yield copy_repo(tmp_path / "repo")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the tests that compile (the ``compile_c`` fixture runs gcc or zig) as ``compiler``, and
    run the tests marked ``runs_last`` after all others: the clean test removes packbin's volumes."""
    for item in items:
        if "compile_c" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.compiler)
    move_runs_last_to_end(items)
