"""Every task and every flag has help text, and `packbin` and `invoke` expose the same tasks."""

from __future__ import annotations

import subprocess
import sys

from conftest import REPO

from packbin.tasks import ns

EXPECTED = {
    "build-pack-binaries", "docker-build-pack-binaries", "docker-build-pack-binaries-arm64",
    "docker-build-pack-binaries-all", "builder-image", "clean", "doctor", "verify-static",
    "init-packs", "build-pack-binaries-init-image", "smoke-pack-binaries", "collect-pack-binaries",
}


def test_every_task_and_flag_has_help() -> None:
    names = set(ns.task_names)
    assert names == EXPECTED
    for name in names:
        task = ns[name]
        assert task.__doc__ and task.__doc__.strip(), f"{name} has no docstring"
        args = task.get_arguments()
        for arg in args:
            assert arg.help, f"{name} --{arg.name} has no help text"


def test_invoke_and_packbin_list_the_same_tasks() -> None:
    inv = subprocess.run([sys.executable, "-m", "invoke", "--list"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    pb = subprocess.run([sys.executable, "-m", "packbin", "--list"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    for name in EXPECTED:
        assert name in inv and name in pb


def test_unknown_flag_exits_2_without_traceback() -> None:
    res = subprocess.run([sys.executable, "-m", "packbin", "build-pack-binaries", "--no-such-flag"], cwd=REPO, capture_output=True, text=True, check=False)
    assert res.returncode == 2 and "Traceback" not in res.stderr


def test_unknown_arch_is_a_clear_error() -> None:
    res = subprocess.run([sys.executable, "-m", "packbin", "build-pack-binaries", "--arch=arm46"], cwd=REPO, capture_output=True, text=True, check=False)
    assert res.returncode == 2
    assert "unknown architecture 'arm46' (did you mean 'arm64'?)" in res.stderr and "Traceback" not in res.stderr


def test_bad_jobs_value_exits_2_without_traceback() -> None:
    for value in ("abc", "-1"):
        res = subprocess.run([sys.executable, "-m", "invoke", "build-pack-binaries", f"--jobs={value}"], cwd=REPO, capture_output=True, text=True, check=False)
        assert res.returncode == 2, res.stderr
        assert "--jobs" in res.stderr and "Traceback" not in res.stderr
