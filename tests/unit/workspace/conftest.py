"""Fixtures of the packbin.workspace tests: a private hash cache and the fixture repository."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.workspace_repo import make_repo


@pytest.fixture(autouse=True)
def cache_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "cache"
    monkeypatch.setenv("PACKBIN_CACHE_DIR", str(path))
    return path


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    make_repo(root)
    return root
