"""packbin's tasks inside a repository's own tasks.py: the real `invoke` command in a throwaway
attune-shaped repository whose tasks.py has a task of its own plus
`ns.add_collection(packbin_tasks)`. No Docker: DOCKER_HOST points at a socket that does not exist.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cargo_trees import attune_repo
from tests.support.repo import REPO, _env

NO_ENGINE = {"DOCKER_HOST": "unix:///nonexistent/docker.sock"}


def invoke(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The real `invoke` command line in ``cwd``."""
    return subprocess.run(
        [sys.executable, "-m", "invoke", *args],
        cwd=cwd,
        env=_env(NO_ENGINE),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture
def attune(tmp_path: Path) -> Path:
    return attune_repo(tmp_path / "attune")


def listed(stdout: str) -> list[str]:
    """The task names of `invoke --list`."""
    # A task line starts with two spaces; its wrapped description lines with more.
    return [line.split()[0] for line in stdout.splitlines() if line.startswith("  ") and line[2:3].isalpha()]


def test_own_tasks_py_lists_both_and_runs_packbins_tasks(attune: Path) -> None:
    r = invoke("--list", cwd=attune)
    assert r.returncode == 0, r.stderr
    names = listed(r.stdout)
    assert "fmt" in names
    assert {"packbin.build-pack-binaries", "packbin.init", "packbin.verify-static"} <= set(names)
    assert "build-pack-binaries" not in names

    assert invoke("fmt", cwd=attune).stdout == "fmt: nothing to do\n"

    r = invoke("packbin.init", cwd=attune)
    assert r.returncode == 0, r.stderr
    assert (attune / "buildcfg.toml").is_file()

    r = invoke("packbin.build-pack-binaries", "--dry-run", "--arch=all", cwd=attune)
    assert r.returncode == 0, r.stderr
    rows = {tuple(line.split()[1:3]) for line in r.stdout.splitlines() if line.startswith("build ")}
    assert ("x86_64", "attune-core-timer-sensor") in rows and ("arm64", "attune-core-timer-sensor") in rows
    assert "nothing was done" in r.stdout

    r = invoke("packbin.verify-static", "--help", cwd=attune)
    assert r.returncode == 0, r.stderr
    assert "Check that ELF files are static executables" in r.stdout and "--arch" in r.stdout

    # A user error is still one line and exit 2 under the namespace.
    r = invoke("packbin.build-pack-binaries", "--dry-run", "--binary", "nope", cwd=attune)
    assert r.returncode == 2 and r.stderr.startswith("packbin: error: ") and "Traceback" not in r.stderr


def test_under_a_name_of_the_repositorys_choosing(attune: Path) -> None:
    text = (
        (attune / "tasks.py")
        .read_text()
        .replace("ns.add_collection(packbin_tasks)", 'ns.add_collection(packbin_tasks, "pb")')
    )
    (attune / "tasks.py").write_text(text)
    r = invoke("--list", cwd=attune)
    assert r.returncode == 0, r.stderr
    assert {"fmt", "pb.build-pack-binaries", "pb.init"} <= set(listed(r.stdout))
    assert invoke("pb.init", "--print", cwd=attune).stdout.startswith("# packbin build configuration")


def test_this_repository_keeps_plain_task_names() -> None:
    r = invoke("--list", cwd=REPO)
    assert r.returncode == 0, r.stderr
    names = listed(r.stdout)
    assert "build-pack-binaries" in names and "init" in names and not any(n.startswith("packbin.") for n in names)
    r = subprocess.run(
        [sys.executable, "-m", "packbin", "--list"],
        cwd=REPO,
        env=_env(None),
        capture_output=True,
        text=True,
        check=False,
    )
    assert r.returncode == 0 and "build-pack-binaries" in listed(r.stdout) and "init" in listed(r.stdout)
