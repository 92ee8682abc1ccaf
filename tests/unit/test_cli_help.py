"""Every task and every flag has help text, and `packbin` and `invoke` expose the same tasks."""

from __future__ import annotations

import subprocess
import sys

from packbin.cli.tasks import ns
from tests.support.repo import REPO

EXPECTED = {
    "build-pack-binaries",
    "docker-build-pack-binaries",
    "docker-build-pack-binaries-arm64",
    "docker-build-pack-binaries-all",
    "builder-image",
    "clean",
    "doctor",
    "verify-static",
    "init-packs",
    "init",
    "build-pack-binaries-init-image",
    "smoke-pack-binaries",
    "collect-pack-binaries",
    "cache-export",
    "cache-import",
    "cache-key",
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
    inv = subprocess.run(
        [sys.executable, "-m", "invoke", "--list"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout
    pb = subprocess.run(
        [sys.executable, "-m", "packbin", "--list"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout
    for name in EXPECTED:
        assert name in inv and name in pb


def test_unknown_flag_exits_2_without_traceback() -> None:
    res = subprocess.run(
        [sys.executable, "-m", "packbin", "build-pack-binaries", "--no-such-flag"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode == 2 and "Traceback" not in res.stderr


def test_unknown_arch_is_a_clear_error() -> None:
    res = subprocess.run(
        [sys.executable, "-m", "packbin", "build-pack-binaries", "--arch=arm46"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode == 2
    assert "unknown architecture 'arm46' (did you mean 'arm64'?)" in res.stderr and "Traceback" not in res.stderr


def test_bad_jobs_value_exits_2_without_traceback() -> None:
    for value in ("abc", "-1"):
        res = subprocess.run(
            [sys.executable, "-m", "invoke", "build-pack-binaries", f"--jobs={value}"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=False,
        )
        assert res.returncode == 2, res.stderr
        assert "--jobs" in res.stderr and "Traceback" not in res.stderr


def _packbin(*args: str, cwd: object = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "packbin", *args], cwd=cwd, capture_output=True, text=True, check=False
    )


def test_task_help_works_for_tasks_with_a_positional_argument() -> None:
    for prog in ("packbin", "invoke"):
        for name, positional in (("verify-static", "PATH"), ("collect-pack-binaries", "DIRS")):
            for flag in ("--help", "-h"):
                res = subprocess.run(
                    [sys.executable, "-m", prog, name, flag], cwd=REPO, capture_output=True, text=True, check=False
                )
                assert res.returncode == 0, (prog, name, flag, res.stderr)
                usage = res.stdout.splitlines()[0]
                assert usage.endswith(f"{name} [--options] {positional}"), usage
                assert "Arguments:" in res.stdout and "--path" not in res.stdout and "--dirs" not in res.stdout
    # After other flags too, and under `packbin --help TASK`.
    assert "Usage: packbin verify-static" in _packbin("verify-static", "--json", "--help").stdout
    assert "Usage: packbin verify-static" in _packbin("--help", "verify-static").stdout


def test_each_short_flag_means_one_long_flag_in_every_task() -> None:
    meaning: dict[str, str] = {}
    for name in ns.task_names:
        for arg in ns[name].get_arguments():
            long_names = [n for n in arg.names if len(n) > 1]
            for short in (n for n in arg.names if len(n) == 1):
                assert short != "h", f"{name}: -h is --help"
                assert meaning.setdefault(short, long_names[0]) == long_names[0], (
                    f"-{short} is --{meaning[short]} elsewhere but --{long_names[0]} in {name}"
                )
    assert meaning == {"a": "arch", "b": "binary", "j": "jobs", "f": "force", "n": "dry-run"}


def test_verify_static_short_a_is_arch(tmp_path: object) -> None:
    res = _packbin("verify-static", "/bin/ls", "-a", "arm46")
    assert res.returncode == 2 and "unknown architecture 'arm46'" in res.stderr, res.stderr


def test_invoke_core_flags_for_shell_commands_are_hidden_and_refused() -> None:
    helptext = _packbin("--help").stdout
    for flag in ("--dry", "--echo", "--pty", "--warn-only", "--hide", "--command-timeout", "--config"):
        assert flag not in helptext
    for argv in (["-R", "build-pack-binaries"], ["build-pack-binaries", "--echo"], ["--warn-only", "doctor"]):
        res = _packbin(*argv)
        assert res.returncode == 2, (argv, res.stdout, res.stderr)
        assert res.stderr.startswith("packbin: error: --") and "does not run" in res.stderr


def test_unknown_task_gets_a_suggestion() -> None:
    res = _packbin("buidl")
    assert res.returncode == 2
    assert res.stderr.splitlines()[0] == "packbin: error: no task named 'buidl' (did you mean 'build-pack-binaries'?)"
    res = _packbin("doctr")
    assert "(did you mean 'doctor'?)" in res.stderr


def test_list_into_a_closed_pipe_ends_quietly() -> None:
    res = subprocess.run(
        f"{sys.executable} -m packbin --list | head -1",
        shell=True,
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.stdout.strip() == "Subcommands:"
    assert "Traceback" not in res.stderr and "BrokenPipeError" not in res.stderr, res.stderr
    # `true` closes the pipe before packbin writes anything: the write always fails.
    for args in ("--list", "verify-static --help"):
        res = subprocess.run(
            ["bash", "-c", f"{sys.executable} -m packbin {args} | true; exit ${{PIPESTATUS[0]}}"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=False,
        )
        assert res.returncode == 141 and res.stderr == "", (args, res.returncode, res.stderr)


def test_build_dry_run_prints_the_plan_without_an_engine(tmp_path: object) -> None:
    from pathlib import Path

    from tests.support.repo import copy_repo

    repo = copy_repo(Path(str(tmp_path)) / "repo")
    env = {**__import__("os").environ, "DOCKER_HOST": "unix:///nonexistent/docker.sock"}
    res = subprocess.run(
        [sys.executable, "-m", "packbin", "build-pack-binaries", "--dry-run", "--arch=all"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    assert "would build 2, reinstall 0, skip 0 up to date (2 build containers)" in res.stdout
    assert not (repo / "dist").exists()
