"""doctor and builder-image against the real engine."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, packbin

pytestmark = [pytest.mark.docker]


def test_doctor_reports_engine_platform_and_foreign_execution(engine: Any) -> None:
    res = packbin("doctor", cwd=REPO)
    assert res.returncode == 0, res.stdout + res.stderr
    info = engine.info()
    assert f"engine: {info.endpoint} (from {info.source}), Docker {info.server_version}" in res.stdout
    assert f"native platform: {info.platform}" in res.stdout
    assert "run arm64 binaries:" in res.stdout and "run x86_64 binaries:" in res.stdout
    assert "disk (repository):" in res.stdout


def test_doctor_with_unreachable_engine_says_what_to_do(tmp_path: Path) -> None:
    res = packbin("doctor", cwd=REPO, env={"DOCKER_HOST": f"unix://{tmp_path}/none.sock"})
    assert res.returncode == 1
    assert f"FAIL  engine: cannot reach the Docker engine at unix://{tmp_path}/none.sock (from DOCKER_HOST)" in res.stdout
    assert "->" in res.stdout and "Traceback" not in res.stderr


def test_builder_image_shows_the_reused_image(builder_image: Any) -> None:
    res = packbin("builder-image", "--no-pull", cwd=REPO)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith(builder_image.tag) and "(up to date)" in res.stdout
