"""Hostile input through the real command line: no traceback, no hang, no exit code outside README's table.

Every case runs ``python -m packbin TASK ...`` (the console script's code) in a throwaway
repository with hostile paths, configs, file names and trees. The suite fails on a traceback on
stderr, on a run that does not end within its time bound, and on an exit code the README's table
does not list. The findings of issue 8 each have a case here that failed before the fix.
Nothing here needs a Docker engine: tasks that would use one get an endpoint that does not exist.
"""

from __future__ import annotations

import concurrent.futures
import fcntl
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.support.elf_fixtures import elf_fixture
from tests.support.repo import REPO, SMALL_BUILDCFG

# Most cases deploy a real static ELF (zig-built fixture, cached after the first run).
pytestmark = pytest.mark.compiler

TRACEBACK = "Traceback (most recent call last)"
NO_ENGINE = {"DOCKER_HOST": "unix:///nonexistent/packbin-hostile.sock", "DOCKER_CONTEXT": "", "PACKBIN_DEBUG": ""}


def documented_exit_codes() -> set[int]:
    """The exit codes README.md's table lists (the line that starts with "Exit codes: 0 ok; ...")."""
    text = (REPO / "README.md").read_text()
    line = next(
        ln for ln in text.split("\n\n") if ln.lstrip().startswith("Exit codes: 0 ok;") or "\nExit codes: 0 ok;" in ln
    )
    table = line[line.index("Exit codes:") :]
    return {int(n) for n in re.findall(r"(?:^|[;:]\s*)(\d+)\s", table)}


CODES = documented_exit_codes()


def run(
    *args: str,
    cwd: Path,
    env: dict[str, str] | None = None,
    timeout: float = 30,
    stdin: int | None = subprocess.DEVNULL,
) -> subprocess.CompletedProcess[str]:
    """``python -m packbin ARGS`` with the suite's three checks applied."""
    full = {
        k: v for k, v in os.environ.items() if k not in ("PACKBIN_CONFIG", "RUST_TARGET", "PACK_BINARIES_RUST_TARGET")
    }
    full.update(NO_ENGINE)
    full.update(env or {})
    try:
        r = subprocess.run(
            [sys.executable, "-m", "packbin", *args],
            cwd=cwd,
            env=full,
            capture_output=True,
            text=True,
            errors="backslashreplace",
            timeout=timeout,
            check=False,
            stdin=stdin,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"packbin {' '.join(args)!r} did not end within {timeout} s (a hang)")
    shown = [a if len(a) < 80 else a[:40] + f"...({len(a)} chars)" for a in args]
    assert TRACEBACK not in r.stderr, f"traceback from packbin {shown!r}:\n{r.stderr[-1500:]}"
    assert r.returncode in CODES, (
        f"exit {r.returncode} (not in README's table {sorted(CODES)}) from {shown!r}: {r.stderr[-1500:]}"
    )
    return r


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "crate").mkdir(parents=True)
    (root / "crate" / "Cargo.toml").write_text('[package]\nname = "x"\nversion = "0.1.0"\n')
    (root / "packs" / "core" / "sensors").mkdir(parents=True)
    (root / "packs" / "core" / "pack.yaml").write_text("ref: core\n")
    (root / "buildcfg.toml").write_text(SMALL_BUILDCFG)
    return root


def static_elf() -> bytes:
    return elf_fixture("x86_64-static").path.read_bytes()


def test_exit_code_table_is_read_from_the_readme() -> None:
    assert {0, 1, 2, 3, 4, 5, 6, 129, 130, 143} <= CODES


# -- verify-static ---------------------------------------------------------------------------------


def test_a_thousand_deep_directory(repo: Path, tmp_path: Path) -> None:
    deep = tmp_path / "deep"
    deep.mkdir()
    try:
        fd = os.open(deep, os.O_RDONLY | os.O_DIRECTORY)
        try:
            for _ in range(1000):  # through directory fds: pathlib and os.makedirs recurse themselves
                os.mkdir("d", dir_fd=fd)
                sub = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
                os.close(fd)
                fd = sub
            r = run("verify-static", str(deep), cwd=repo)
            assert r.returncode == 2 and "no ELF files found" in r.stderr
            out = os.open("prog", os.O_WRONLY | os.O_CREAT, 0o755, dir_fd=fd)
            os.write(out, static_elf())
            os.close(out)
        finally:
            os.close(fd)
        r = run("verify-static", "--json", str(deep), cwd=repo)
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["results"][0]["path"].endswith("/d/prog")
    finally:
        # pytest's own clean-up of old tmp dirs (shutil.rmtree) recurses too: remove it here, with find.
        subprocess.run(["find", str(deep), "-depth", "-delete"], check=True)


def test_non_utf8_names_with_a_strict_utf8_stdout(repo: Path, tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    bad = os.fsdecode(b"prog-\xff\xfe")
    (tree / bad).write_bytes(static_elf())
    (tree / os.fsdecode(b"script-\xe9")).write_text("#!/bin/sh\n")
    strict = {"PYTHONIOENCODING": "utf-8:strict"}
    r = run("verify-static", str(tree), cwd=repo, env=strict)
    assert r.returncode == 0, r.stderr
    assert "prog-\\xff\\xfe" in r.stdout
    r = run("verify-static", "--json", str(tree), cwd=repo, env=strict)
    assert r.returncode == 0 and len(json.loads(r.stdout)["results"]) == 1


def test_the_readme_form_with_a_bare_double_dash(repo: Path, tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_bytes(static_elf())
    b.write_bytes(static_elf())
    r = run("verify-static", "--json", "--", str(a), str(b), cwd=repo)
    assert r.returncode == 0, r.stderr
    assert [x["path"] for x in json.loads(r.stdout)["results"]] == [str(a), str(b)]


def test_usage_errors_under_json_print_an_error_document(repo: Path, tmp_path: Path) -> None:
    for args in (
        ["verify-static", "--json", str(tmp_path / "missing")],
        ["verify-static", "--json", str(tmp_path)],  # a directory with no ELF file: exit 2
        ["init-packs", "--json"],  # neither --dest nor --volume
        ["verify-static", "--json", str(tmp_path), "--arch", "vax"],
    ):
        r = run(*args, cwd=repo)
        assert r.returncode == 2, (args, r.stderr)
        doc = json.loads(r.stdout)
        assert doc["error"]["exit_code"] == 2 and doc["error"]["message"], doc


def test_arch_with_a_broken_buildcfg_is_an_error_not_the_builtin_table(repo: Path, tmp_path: Path) -> None:
    (tmp_path / "prog").write_bytes(static_elf())
    (repo / "buildcfg.toml").write_text("[architectures\n")
    r = run("verify-static", str(tmp_path / "prog"), "--arch", "x86_64", cwd=repo)
    assert r.returncode == 2 and "buildcfg.toml" in r.stderr and "invalid TOML" in r.stderr
    outside = tmp_path / "outside"
    outside.mkdir()
    r = run("verify-static", str(tmp_path / "prog"), "--arch", "x86_64", cwd=outside)
    assert r.returncode == 0, r.stderr  # no buildcfg.toml at all: the built-in table


# -- configuration ---------------------------------------------------------------------------------


def test_hostile_configs(repo: Path, tmp_path: Path) -> None:
    (tmp_path / "prog").write_bytes(static_elf())
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)
    nested = tmp_path / "nested.toml"
    nested.write_text("x = " + "[" * 5000 + "]" * 5000 + "\n")
    for config, words in (
        (Path("/dev/zero"), "not a regular file"),
        (fifo, "not a regular file"),
        (nested, "nested too deeply"),
        (tmp_path, "not a regular file"),
    ):
        t0 = time.monotonic()
        r = run(
            "init-packs",
            "--dest",
            str(tmp_path / "dest"),
            "--arch",
            "x86_64",
            cwd=repo,
            env={"PACKBIN_CONFIG": str(config)},
            timeout=20,
        )
        assert r.returncode == 2 and words in r.stderr, (config, r.stderr)
        assert len(r.stderr.strip().splitlines()) <= 2 and time.monotonic() - t0 < 20
    big = tmp_path / "big.toml"
    big.write_bytes(b"# " + b"x" * (2 << 20) + b"\n")
    r = run("verify-static", str(tmp_path / "prog"), "--arch", "x86_64", cwd=repo, env={"PACKBIN_CONFIG": str(big)})
    assert r.returncode == 2 and "larger than" in r.stderr


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        (
            lambda t: t.replace(
                'rust_target = "aarch64-unknown-linux-musl"', 'rust_target = "x86_64-unknown-linux-musl"'
            ),
            "is already the target of architecture",
        ),
        (
            lambda t: (
                t + '[[binaries]]\nname = "other"\npack = "core"\nmanifest = "crate/Cargo.toml"\n'
                'install_path = "sensors/attune-core-timer-sensor"\n'
            ),
            "is already where binary",
        ),
        (
            lambda t: t.replace('manifest = "crate/Cargo.toml"', 'manifest = "link/Cargo.toml"'),
            "leads outside the repository",
        ),
    ],
)
def test_config_validations(repo: Path, tmp_path: Path, edit: object, words: str) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "Cargo.toml").write_text('[package]\nname = "y"\nversion = "0.1.0"\n')
    (repo / "link").symlink_to(elsewhere)
    (repo / "buildcfg.toml").write_text(edit((repo / "buildcfg.toml").read_text()))  # type: ignore[operator]
    r = run("init-packs", "--dest", str(tmp_path / "dest"), "--arch", "x86_64", cwd=repo)
    assert r.returncode == 2 and words in r.stderr, r.stderr


# -- init-packs ------------------------------------------------------------------------------------


def test_dest_where_nothing_can_be_created(repo: Path) -> None:
    r = run("init-packs", "--dest", "/proc/packbin-newdir", "--arch", "x86_64", cwd=repo)
    assert r.returncode == 2 and "cannot create it" in r.stderr


def test_trees_that_overlap_in_any_direction_are_refused_and_nothing_is_lost(repo: Path, tmp_path: Path) -> None:
    bins = tmp_path / "bins"
    for arch in ("x86_64", "arm64"):
        (bins / arch / "core" / "sensors").mkdir(parents=True)
        (bins / arch / "core" / "sensors" / "attune-core-timer-sensor").write_bytes(static_elf())
    (bins / "manifest.json").write_text("{}")
    before = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*"))
    src = repo / "packs"
    cases = [
        ("--dest", str(bins), "--binaries", str(bins)),  # the loss
        ("--dest", str(bins / "x86_64"), "--binaries", str(bins)),  # DEST inside the binaries tree
        ("--dest", str(tmp_path), "--binaries", str(bins)),  # the binaries tree inside DEST
        ("--dest", str(src / "core"), "--binaries", str(bins)),  # DEST inside SOURCE
        ("--dest", str(tmp_path / "out"), "--binaries", str(src)),  # the binaries tree is SOURCE
    ]
    for case in cases:
        r = run("init-packs", "--source", str(src), *case, "--arch", "x86_64", "--delete", cwd=repo)
        assert r.returncode == 2 and "overlap" in r.stderr, (case, r.stderr)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == before


def test_non_utf8_names_in_the_deployed_tree(repo: Path, tmp_path: Path) -> None:
    name = os.fsdecode(b"action-\xff.sh")
    (repo / "packs" / "core" / name).write_text("#!/bin/sh\n")
    dest = tmp_path / "dest"
    r = run("init-packs", "--dest", str(dest), "--arch", "x86_64", cwd=repo, env={"PYTHONIOENCODING": "utf-8:strict"})
    assert r.returncode == 0, r.stderr
    assert "action-\\xff.sh" in r.stdout and (dest / "core" / name).is_file()


def test_two_init_packs_at_once_into_one_new_dest_both_succeed(repo: Path, tmp_path: Path) -> None:
    for i in range(300):
        (repo / "packs" / "core" / f"file{i:03}.txt").write_text(str(i))
    dest = tmp_path / "dest"
    results: list[subprocess.CompletedProcess[str]] = []

    def one() -> None:
        results.append(run("init-packs", "--dest", str(dest), "--arch", "x86_64", "--json", cwd=repo, timeout=60))

    threads = [threading.Thread(target=one) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.returncode for r in results] == [0, 0], [r.stderr for r in results]
    copied = sorted(len(json.loads(r.stdout)["copied"]) for r in results)
    assert copied[0] == 0 and copied[1] >= 301  # one did the work, the other found it done
    assert len(list((dest / "core").iterdir())) >= 301


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_sigterm_and_sighup_clean_up_like_ctrl_c(repo: Path, tmp_path: Path, sig: int, code: int) -> None:
    """init-packs waits for DEST's lock (held here); the signal ends it: exit 128+N, nothing written."""
    dest = tmp_path / "dest"
    dest.mkdir()
    fd = os.open(dest, os.O_RDONLY | os.O_DIRECTORY)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        env = {k: v for k, v in os.environ.items() if k != "PACKBIN_CONFIG"}
        env.update(NO_ENGINE)
        proc = subprocess.Popen(
            [sys.executable, "-m", "packbin", "init-packs", "--dest", str(dest), "--arch", "x86_64"],
            cwd=repo,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 30
        assert proc.stderr is not None
        line = proc.stderr.readline()
        assert "waiting for another init-packs" in line, line
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        os.close(fd)
    assert TRACEBACK not in err, err
    assert proc.returncode == code, (proc.returncode, err)
    assert "terminated" in err
    assert list(dest.iterdir()) == []


# -- every task, hostile arguments -----------------------------------------------------------------


def hostile_paths(tmp_path: Path) -> list[str]:
    fifo = tmp_path / "a-fifo"
    os.mkfifo(fifo)
    return ["", "\n", os.fsdecode(b"\xff\xfe"), "/dev/zero", str(fifo), "x" * 5000]


TASKS: list[list[str]] = [
    ["verify-static", "{}"],
    ["verify-static", "--json", "{}"],
    ["verify-static", "{}", "--arch", "{}"],
    ["init-packs", "--dest", "{}", "--arch", "x86_64", "--dry-run"],
    ["init-packs", "--dest", "{}/new", "--arch", "x86_64", "--dry-run"],
    ["init-packs", "--dest", "OUT", "--source", "{}", "--arch", "x86_64"],
    ["init-packs", "--dest", "OUT", "--binaries", "{}", "--arch", "x86_64"],
    ["init-packs", "--dest", "OUT", "--arch", "{}"],
    ["init-packs", "--volume", "{}", "--arch", "x86_64"],
    ["collect-pack-binaries", "{}"],
    ["collect-pack-binaries", "{}", "--arch", "{}"],
    ["build-pack-binaries", "--arch", "{}"],
    ["build-pack-binaries", "--binary", "{}"],
    ["build-pack-binaries", "--jobs", "{}"],
    ["smoke-pack-binaries", "--arch", "{}"],
    ["build-pack-binaries-init-image", "--arch", "{}"],
]


@pytest.mark.parametrize("task", TASKS, ids=lambda t: " ".join(t))
def test_every_task_with_hostile_arguments(repo: Path, tmp_path: Path, task: list[str]) -> None:
    out = tmp_path / "out"
    cases = [[a.replace("OUT", str(out)).replace("{}", value) for a in task] for value in hostile_paths(tmp_path)]
    # Independent runs, a few at a time: the suite stays fast on two cores.
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        for f in [pool.submit(run, *args, cwd=repo, timeout=30) for args in cases]:
            f.result()


def test_hostile_dep_sections_under_deps_and_json(repo: Path, tmp_path: Path) -> None:
    """A .dep-v0 section crafted to hurt (a zlib bomb, deep nesting, huge numbers, bad UTF-8, a
    cycle, terminal escapes) is one line of verify-static's output, never a traceback or a hang,
    and the static verdict stays ok."""
    import zlib

    from packbin.elf.depinfo import DEP_SECTION
    from packbin.elf.sections import add_section

    image = static_elf()
    documents = {
        "bomb": zlib.compress(bytes(256 << 20), 9),
        "deep": zlib.compress(b"[" * 500_000 + b"]" * 500_000),
        "deep-object": zlib.compress(b'{"packages":' + b'{"a":' * 200_000 + b"0" + b"}" * 200_001),
        "huge-number": zlib.compress(b'{"format":' + b"9" * 100_000 + b',"packages":[]}'),
        "bad-utf8": zlib.compress(b'{"packages":[{"name":"\xc3\x28","version":"1","source":"local","root":true}]}'),
        "cycle": zlib.compress(
            b'{"packages":[{"name":"a","version":"1","source":"local","root":true,"dependencies":[1]},'
            b'{"name":"b","version":"1","source":"local","dependencies":[0]}]}'
        ),
        "escapes": zlib.compress(
            b'{"packages":[{"name":"\\u001b]0;owned\\u0007","version":"\\u001b[2J","source":"local","root":true}]}'
        ),
        "truncated": zlib.compress(b'{"packages":[]}')[:6],
    }
    paths = []
    for name, content in documents.items():
        path = tmp_path / name
        path.write_bytes(add_section(image, DEP_SECTION, content))
        paths.append(str(path))
    started = time.monotonic()
    table = run("verify-static", "--deps", paths[0], "--", *paths[1:], cwd=repo)
    doc = run("verify-static", "--json", paths[0], "--", *paths[1:], cwd=repo)
    assert time.monotonic() - started < 20
    assert table.returncode == doc.returncode == 0, table.stderr + doc.stderr
    assert "\x1b" not in table.stdout and "\x07" not in table.stdout
    results = json.loads(doc.stdout)["results"]
    problems = {Path(r["path"]).name: r.get("dependencies_problem") for r in results}
    assert problems["escapes"] is None  # a valid list, shown escaped
    assert all(problems[n] for n in documents if n != "escapes"), problems
    assert table.stdout.count("cannot be used") == len(documents) - 1
