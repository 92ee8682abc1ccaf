"""clean removes only packbin's own entries in dist/, and says so when the engine is unreachable."""

from __future__ import annotations

from pathlib import Path

from tests.support.repo import copy_repo, packbin


def test_clean_keeps_the_wheel_and_sdist_and_exits_3_without_an_engine(tmp_path: Path) -> None:
    repo = copy_repo(tmp_path / "repo")
    dist = repo / "dist"
    (dist / "pack-binaries" / "x86_64" / "core").mkdir(parents=True)
    (dist / "pack-binaries" / "manifest.json").write_text("{}")
    (dist / "logs").mkdir()
    (dist / "logs" / "build-x86_64.log").write_text("log")
    (dist / ".staging-abc123" / "x86_64").mkdir(parents=True)
    wheel = dist / "packbin_static-0.1.0-py3-none-any.whl"
    sdist = dist / "packbin_static-0.1.0.tar.gz"
    wheel.write_bytes(b"PK")
    sdist.write_bytes(b"\x1f\x8b")

    res = packbin("clean", cwd=repo, env={"DOCKER_HOST": "unix:///nonexistent/docker.sock"})

    assert res.returncode == 3, (res.stdout, res.stderr)
    assert sorted(p.name for p in dist.iterdir()) == sorted([sdist.name, wheel.name])
    err = res.stderr.strip().splitlines()
    assert err[0].startswith("packbin: error: removed .staging-abc123, logs, pack-binaries from ")
    assert "containers, volumes and images not removed: cannot reach the Docker engine" in err[0]
    assert "Traceback" not in res.stderr


def test_clean_removes_an_emptied_dist_and_touches_nothing_else(tmp_path: Path) -> None:
    repo = copy_repo(tmp_path / "repo")
    (repo / "dist" / "pack-binaries").mkdir(parents=True)
    before = sorted(p.name for p in repo.iterdir())
    res = packbin("clean", cwd=repo, env={"DOCKER_HOST": "unix:///nonexistent/docker.sock"})
    assert res.returncode == 3
    assert sorted(p.name for p in repo.iterdir()) == [n for n in before if n != "dist"]
