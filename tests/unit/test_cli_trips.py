"""The small trips a new user hits on the command line, through the real `packbin` command.

Each case runs ``python -m packbin ...`` in a throwaway repository. Nothing here builds: the
engine endpoint is a socket path with no engine behind it, so a case that got past parsing by
mistake fails on the engine instead of starting a build.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.repo import REPO, SMALL_BUILDCFG, copy_repo

TRACEBACK = "Traceback (most recent call last)"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "crate").mkdir(parents=True)
    (root / "crate" / "Cargo.toml").write_text('[package]\nname = "x"\nversion = "0.1.0"\n')
    (root / "packs" / "core").mkdir(parents=True)
    (root / "buildcfg.toml").write_text(SMALL_BUILDCFG)
    return root


@pytest.fixture
def refused(tmp_path: Path) -> Iterator[str]:
    """``unix://PATH`` of a real socket that nobody listens on: connecting is refused (ECONNREFUSED)."""
    path = tmp_path / "engine.sock"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(path))  # bound, never listening
    try:
        yield f"unix://{path}"
    finally:
        s.close()


def _env(docker_host: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PACKBIN_CONFIG", "RUST_TARGET", "PACK_BINARIES_RUST_TARGET", "PACKBIN_DEBUG")
    }
    env.update({"DOCKER_HOST": docker_host, "DOCKER_CONTEXT": ""})
    env.update(extra or {})
    return env


def run(
    *args: str,
    cwd: Path,
    docker_host: str = "unix:///nonexistent/packbin-trips.sock",
    command: str = "packbin",
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    r = subprocess.run(
        [sys.executable, "-m", command, *args],
        cwd=cwd,
        env=_env(docker_host, env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert TRACEBACK not in r.stderr, r.stderr[-2000:]
    return r


def usage_error(r: subprocess.CompletedProcess[str]) -> tuple[str, str]:
    """(the error line, the hint line) of an exit-2 parse error; fails on anything else."""
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    lines = r.stderr.rstrip("\n").split("\n")
    assert lines[0].startswith("packbin: error: "), r.stderr
    assert len(lines) <= 2, r.stderr
    hint = lines[1] if len(lines) == 2 else ""
    assert not hint or hint.startswith("  hint: "), r.stderr
    return lines[0].removeprefix("packbin: error: "), hint


# -- 1. mistyped flags get a suggestion --------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["build-pack-binaries", "--dryrun"], "unknown option --dryrun (did you mean --dry-run?)"),
        (["build-pack-binaries", "--arc=arm64"], "unknown option --arc (did you mean --arch?)"),
        (["build-pack-binaries", "--arc", "arm64"], "unknown option --arc (did you mean --arch?)"),
        (["verify-static", "/usr/bin", "--arc", "x86_64"], "unknown option --arc (did you mean --arch?)"),
        (["build-pack-binaries", "--forse"], "unknown option --forse (did you mean --force?)"),
        (["--lsit"], "unknown option --lsit (did you mean --list?)"),
        (["build-pack-binaries", "--force=3"], "--force takes no value (got --force=3)"),
    ],
)
def test_mistyped_flags_get_a_suggestion(repo: Path, args: list[str], expected: str) -> None:
    error, hint = usage_error(run(*args, cwd=repo))
    assert error == expected
    assert "--help" in hint


def test_a_task_flag_before_the_task_name_says_whose_it_is(repo: Path) -> None:
    error, hint = usage_error(run("--arch", "x86_64", "build-pack-binaries", cwd=repo))
    assert error == "unknown option --arch before the task name"
    assert "build-pack-binaries" in hint and "after the task" in hint


# -- 2. a flag without its value, and invoke's other raw parse messages -------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["build-pack-binaries", "--arch"], "--arch needs a value (x86_64, arm64, "),
        (["build-pack-binaries", "-a"], "--arch needs a value (x86_64, arm64, "),
        (["build-pack-binaries", "--arch", "--force"], "--arch needs a value (x86_64, arm64, "),
        (["build-pack-binaries", "--arch="], "--arch needs a value (x86_64, arm64, "),
        (["build-pack-binaries", "--arch", ""], "--arch needs a value (x86_64, arm64, "),
        (["build-pack-binaries", "--jobs"], "--jobs needs a value (a whole number; 0: all at once)"),
        (["build-pack-binaries", "--deploy-arch"], "--deploy-arch needs a value (x86_64, arm64, "),
        # A repeatable flag without a value: invoke would take it as not given and build everything.
        (["build-pack-binaries", "--binary"], "--binary needs a value"),
        (["build-pack-binaries", "--binary", "--force"], "--binary needs a value"),
        (["verify-static", "--also"], "--also needs a value"),
        (["--list-depth"], "--list-depth needs a value"),
    ],
)
def test_a_flag_without_its_value(repo: Path, args: list[str], expected: str) -> None:
    error, hint = usage_error(run(*args, cwd=repo))
    assert error.startswith(expected), error
    assert "Argument" not in error and "needed value" not in error
    if "--arch" in expected:
        assert error.endswith("all, ...)"), error
    assert "VALUE" in hint


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["verify-static"], "verify-static needs PATH"),
        (["collect-pack-binaries"], "collect-pack-binaries needs DIRS"),
        (["--list-depth", "x"], "--list-depth takes a whole number"),
        (["--list", "nosuch"], "--list nosuch: no such namespace; packbin's tasks are all at the top"),
    ],
)
def test_other_raw_parse_messages_in_packbin_words(repo: Path, args: list[str], expected: str) -> None:
    error, _ = usage_error(run(*args, cwd=repo))
    assert error == expected


# -- 3. a second path where one is taken ------------------------------------------------------------


def test_a_second_path_after_verify_static_says_how_to_give_several(repo: Path) -> None:
    error, _ = usage_error(run("verify-static", "/usr/bin", "/usr/lib", cwd=repo))
    assert error == (
        "verify-static takes one PATH; check more with --also /usr/lib or after --: verify-static /usr/bin -- /usr/lib"
    )
    error, _ = usage_error(run("verify-static", "--json", "/usr/bin", "/usr/lib", "./lib64", cwd=repo))
    assert error.endswith("verify-static /usr/bin -- /usr/lib ./lib64"), error


def test_the_suggested_form_works(repo: Path, tmp_path: Path) -> None:
    # The form the message suggests really checks both paths (two directories without ELF files: exit 2, both named).
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    r = run("verify-static", str(a), "--", str(b), cwd=repo)
    assert r.returncode == 2 and str(a) in r.stderr and str(b) in r.stderr, r.stderr


def test_a_second_dir_after_collect_says_comma_separated(repo: Path, tmp_path: Path) -> None:
    error, _ = usage_error(run("collect-pack-binaries", "ci/x86_64", "ci/arm64", cwd=repo))
    assert (
        error
        == "collect-pack-binaries takes one DIRS argument, comma-separated: collect-pack-binaries ci/x86_64,ci/arm64"
    )


def test_a_mistyped_task_is_still_a_mistyped_task(repo: Path) -> None:
    error, hint = usage_error(run("verify-static", "/usr/bin", "buidl", cwd=repo))
    assert "--list" in hint
    assert error == "no task named 'buidl' (did you mean 'build-pack-binaries'?)"


# -- 4. --json: an error document for every PackbinError exit -----------------------------------------


def _one_error_document(r: subprocess.CompletedProcess[str], code: int) -> dict[str, object]:
    assert r.returncode == code, (r.returncode, r.stdout, r.stderr)
    doc = json.loads(r.stdout)  # exactly one document
    error = doc["error"]
    assert error["exit_code"] == code and error["message"], doc
    assert r.stderr.startswith(f"packbin: error: {error['message']}"), r.stderr
    return error


def test_json_engine_unreachable_prints_the_error_document(tmp_path: Path, refused: str) -> None:
    repo = copy_repo(tmp_path / "repo")  # the real sensor, nothing built: the build needs the engine
    error = _one_error_document(run("build-pack-binaries", "--json", cwd=repo, docker_host=refused), 3)
    assert refused in str(error["message"]) and error["hint"], error
    assert not (repo / "dist" / "pack-binaries" / "manifest.json").exists()
    error = _one_error_document(
        run("init-packs", "--volume", "packbin-trips-never", "--json", cwd=repo, docker_host=refused), 3
    )
    assert refused in str(error["message"]), error
    error = _one_error_document(
        run("cache-export", "--dir", str(tmp_path / "c"), "--json", cwd=repo, docker_host=refused), 3
    )


def test_json_parse_errors_carry_the_real_message(repo: Path) -> None:
    error = _one_error_document(run("build-pack-binaries", "--json", "--arch", cwd=repo), 2)
    assert str(error["message"]).startswith("--arch needs a value (")
    assert str(error["hint"]).startswith("give it as --arch=VALUE")


def test_json_failed_check_prints_only_its_report(repo: Path, tmp_path: Path) -> None:
    # Exit 1 (the check ran and failed): the report, with the failure, is the one document.
    shutil.copy(sys.executable, tmp_path / "dynamic-python")
    r = run("verify-static", "--json", str(tmp_path / "dynamic-python"), cwd=repo)
    assert r.returncode == 1, r.stderr
    doc = json.loads(r.stdout)
    assert "error" not in doc and doc["results"][0]["ok"] is False


# -- 7. doctor says where the default architecture came from ------------------------------------------


def _doctor_config_line(cwd: Path, env: dict[str, str] | None = None) -> str:
    r = run("doctor", cwd=cwd, env=env)
    return next(line for line in r.stdout.splitlines() if line.startswith("ok    config:"))


def test_doctor_names_where_the_default_arch_came_from(repo: Path) -> None:
    assert "default x86_64 from the built-in default)" in _doctor_config_line(repo)
    (repo / "buildcfg.toml").write_text('default_arch = "arm64"\n' + SMALL_BUILDCFG)
    assert "default arm64 from buildcfg.toml default_arch)" in _doctor_config_line(repo)
    line = _doctor_config_line(repo, env={"PACK_BINARIES_RUST_TARGET": "x86_64-unknown-linux-musl"})
    assert "default x86_64 from PACK_BINARIES_RUST_TARGET)" in line


def test_the_checkout_config_names_its_key() -> None:
    assert "default x86_64 from buildcfg.toml default_arch)" in _doctor_config_line(REPO)
