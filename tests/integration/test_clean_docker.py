"""clean, for real. Marked ``runs_last`` (tests/conftest.py runs it after every other test, see
tests/support/ordering.py): it removes packbin's cache volumes, so the next run's first build is
cold (the images are kept without --all)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import docker.errors
import pytest

from tests.support.repo import copy_repo, packbin

pytestmark = [pytest.mark.docker, pytest.mark.runs_last]


def test_clean_removes_dist_containers_and_volumes_but_nothing_else(
    engine: Any, builder_image: Any, tmp_path: Path
) -> None:
    repo = copy_repo(tmp_path / "repo")
    (repo / "dist/pack-binaries").mkdir(parents=True)
    (repo / "dist/pack-binaries/manifest.json").write_text('{"artifacts": []}')
    owned = {"io.packbin.owner": "packbin", "io.packbin.kind": "build"}
    vol = engine.client.volumes.create(name=f"packbin-test-clean-{uuid.uuid4().hex[:8]}", labels=owned)
    foreign_vol = engine.client.volumes.create(name=f"user-volume-{uuid.uuid4().hex[:8]}")
    container = engine.client.containers.create(builder_image.tag, ["true"], labels=owned)
    try:
        res = packbin("clean", cwd=repo)
        assert res.returncode == 0, res.stdout + res.stderr
        assert not (repo / "dist").exists()
        assert f"removing container {container.name}" in res.stdout
        assert f"removing volume {vol.name}" in res.stdout
        names = {v.name for v in engine.client.volumes.list()}
        assert vol.name not in names and foreign_vol.name in names
        assert not engine.client.containers.list(all=True, filters={"label": "io.packbin.owner=packbin"})
        assert engine.image_id(builder_image.tag) is not None  # images stay without --all
    finally:
        foreign_vol.remove(force=True)
        for v in engine.client.volumes.list(filters={"name": vol.name}):
            v.remove(force=True)
        try:
            container.remove(force=True)
        except docker.errors.NotFound:  # already removed by clean, as it should be
            pass
