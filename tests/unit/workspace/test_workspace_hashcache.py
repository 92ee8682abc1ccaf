"""The stat-keyed cache of file hashes (packbin.workspace.hashcache).

The fixture repository is tests/support/workspace_repo.py's (see its docstring); the
``repo`` and ``cache_env`` fixtures are this directory's conftest.py.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.support.workspace_repo import (
    OLD_NS,
    cache_file,
    inputs,
)


def test_stat_cache_is_used_and_notices_same_size_changes(
    repo: Path, cache_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    main = repo / "standalone/src/main.rs"
    os.utime(main, ns=(OLD_NS, OLD_NS))
    monkeypatch.setattr("packbin.workspace.hashcache.RACY_NS", 0)  # the files were just written: let them be cached now
    first = inputs(repo, "solo")
    real = next(f.sha256 for f in first.files if f.rel == "standalone/src/main.rs")
    # Prove an unchanged file is not read again: a planted hash is believed.
    path = cache_file(cache_env)
    data = json.loads(path.read_text())
    data["entries"]["standalone/src/main.rs"][4] = "0" * 64
    path.write_text(json.dumps(data))
    assert next(f.sha256 for f in inputs(repo, "solo").files if f.rel == "standalone/src/main.rs") == "0" * 64
    # Same size, mtime put back: the ctime still moves, so the change is seen.
    main.write_text(main.read_text().replace("main", "mian"))
    os.utime(main, ns=(OLD_NS, OLD_NS))
    changed = next(f.sha256 for f in inputs(repo, "solo").files if f.rel == "standalone/src/main.rs")
    assert changed not in ("0" * 64, real)


def test_corrupt_stat_cache_is_ignored(repo: Path, cache_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("packbin.workspace.hashcache.RACY_NS", 0)
    good = inputs(repo, "sensor-bin").digest
    cache_file(cache_env).write_bytes(b"\x00{not json")
    assert inputs(repo, "sensor-bin").digest == good
    json.loads(cache_file(cache_env).read_text())  # rewritten whole
    cache_file(cache_env).write_text('{"version": 1, "root": "x", "entries": {"a": [1]}}')
    assert inputs(repo, "sensor-bin").digest == good


def test_freshly_written_files_are_not_cached(repo: Path, cache_env: Path) -> None:
    # A file changed within the racy window could change again in the same timestamp tick.
    os.utime(repo / "standalone/Cargo.toml", ns=(OLD_NS, OLD_NS))
    inputs(repo, "solo")
    entries = (
        json.loads(cache_file(cache_env).read_text())["entries"]
        if list((cache_env / "input-hashes").glob("*.json"))
        else {}
    )
    assert "standalone/src/main.rs" not in entries
