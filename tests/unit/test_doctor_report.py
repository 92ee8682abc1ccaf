"""doctor without an engine: exit 3, and the checks that need no engine still run."""

from __future__ import annotations

from pathlib import Path

from tests.support.repo import REPO, packbin


def test_unreachable_engine_exits_3_after_the_other_checks(tmp_path: Path) -> None:
    res = packbin(
        "doctor", cwd=REPO, env={"DOCKER_HOST": f"unix://{tmp_path}/none.sock", "DOCKER_CONFIG": str(tmp_path)}
    )
    assert res.returncode == 3, res.stdout + res.stderr
    out = res.stdout
    assert f"FAIL  engine: cannot reach the Docker engine at unix://{tmp_path}/none.sock (from DOCKER_HOST)" in out
    assert "run x86_64 binaries (on this host):" in out and "run arm64 binaries (on this host):" in out
    assert "disk (repository):" in out
    assert "packbin doctor" not in out + res.stderr  # no "run doctor" hint from doctor itself
    assert "(2 architectures, 1 binary," in out
    assert res.stderr.strip() == "packbin: error: 1 problem needs fixing: engine"


def test_malformed_docker_config_is_a_warning(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text('{"currentContext": "colima",')
    res = packbin(
        "doctor", cwd=REPO, env={"DOCKER_HOST": f"unix://{tmp_path}/none.sock", "DOCKER_CONFIG": str(tmp_path)}
    )
    assert f"warn  docker config: error loading {tmp_path / 'config.json'}: " in res.stdout
    assert res.returncode == 3
