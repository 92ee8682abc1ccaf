"""verify-static: walking paths, verdicts, the table, the JSON document and the exit codes."""

from __future__ import annotations

import io
import json
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

import packbin.elf.verify
from packbin.arch import Architecture
from packbin.elf.verify import (
    VerifyResult,
    render_json,
    render_table,
    run_verify_static,
    verify_file,
    verify_paths,
)
from packbin.errors import CheckFailed, UsageError
from tests.support.elf_fixtures import TARGETS, elf_fixture

# Builds real ELF files or crates (zig, gcc, cargo, rustc; cached after the first run).
pytestmark = pytest.mark.compiler

JSON_KEYS = {
    "path",
    "ok",
    "static",
    "arch",
    "machine",
    "class",
    "endian",
    "type",
    "interpreter",
    "needed",
    "stripped",
    "problems",
}


def arch_of(name: str) -> Architecture:
    t = next(t for t in TARGETS if t.arch == name)
    return Architecture(
        name=t.arch,
        aliases=(),
        rust_target=t.triple,
        docker_platform="linux/" + t.arch,
        elf_machine=t.machine,
        elf_class=t.elf_class,
        byte_order=t.endian,
    )


def copy(name: str, dest: Path) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(elf_fixture(name).path, dest)
    return dest


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """dist/ with static, dynamic, shared and non-ELF files, a nested dir, a symlink and a FIFO."""
    root = tmp_path / "dist"
    copy("x86_64-static", root / "x86_64" / "timer")
    copy("arm64-static-pie", root / "arm64" / "timer")
    copy("arm64-dynamic", root / "arm64" / "nested" / "dyn")
    copy("s390x-shared", root / "lib" / "libpackbin.so.1")
    (root / "README.txt").write_text("not a binary\n")
    (root / "run.sh").write_text("#!/bin/sh\nexec ./timer\n")
    (root / "empty").touch()
    os.symlink(root / "arm64" / "nested" / "dyn", root / "x86_64" / "link-to-dyn")
    os.mkfifo(root / "fifo")
    return root


def test_verify_file_static_and_dynamic() -> None:
    ok = verify_file(elf_fixture("riscv64-static").path, arch_of("riscv64"))
    assert ok.ok and ok.problems == () and ok.info is not None and ok.info.machine == 243
    bad = verify_file(elf_fixture("i386-dynamic").path, None)
    assert not bad.ok
    assert bad.problems == ("dynamic: needs interpreter /lib/ld-musl-i386.so.1 and libc.so",)


def test_verify_file_not_elf_and_malformed(tmp_path: Path) -> None:
    script = tmp_path / "run.sh"
    script.write_text("#!/bin/sh\n")
    assert verify_file(script, None) == VerifyResult(
        path=str(script), ok=False, info=None, problems=("not an ELF file",)
    )
    data = elf_fixture("x86_64-static").path.read_bytes()
    phoff, phentsize, phnum = struct.unpack_from("<Q", data, 32)[0], *struct.unpack_from("<HH", data, 54)
    cut = tmp_path / "cut"
    cut.write_bytes(data[:100])
    result = verify_file(cut, None)
    assert not result.ok and result.info is None
    end = phoff + phentsize * phnum
    assert result.problems == (
        f"malformed ELF file: truncated program header table: ends at {end:#x}, file is 0x64 bytes",
    )


def test_walk_skips_non_elf_symlinks_and_fifos_in_sorted_order(tree: Path) -> None:
    results = verify_paths([str(tree)], None)
    assert [r.path for r in results] == [
        f"{tree}/arm64/nested/dyn",
        f"{tree}/arm64/timer",
        f"{tree}/lib/libpackbin.so.1",
        f"{tree}/x86_64/timer",
    ]
    assert [r.ok for r in results] == [False, True, False, True]


def test_named_files_are_always_judged(tree: Path) -> None:
    results = verify_paths(
        [str(tree / "run.sh"), str(tree / "empty"), str(tree / "x86_64" / "link-to-dyn"), str(tree / "fifo")], None
    )
    assert [r.problems for r in results] == [
        ("not an ELF file",),
        ("not an ELF file",),
        ("dynamic: needs interpreter /lib/ld-musl-aarch64.so.1 and libc.so",),  # a named symlink is followed
        ("not a regular file",),
    ]


def test_several_paths_keep_their_order(tree: Path) -> None:
    results = verify_paths([str(tree / "x86_64"), str(tree / "arm64" / "timer")], arch_of("arm64"))
    assert [(r.path, r.ok) for r in results] == [(f"{tree}/x86_64/timer", False), (f"{tree}/arm64/timer", True)]
    assert results[0].problems == ("wrong architecture: x86_64 (EM_X86_64), expected arm64 (EM_AARCH64)",)


def test_missing_path_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such file or directory") as e:
        verify_paths([str(tmp_path / "nope")], None)
    assert e.value.exit_code == 2


def test_unreadable_named_file_is_a_usage_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = copy("x86_64-static", tmp_path / "bin")

    def denied(path: object) -> None:
        raise PermissionError(13, "Permission denied", str(path))

    # root reads everything, so the refusal is simulated where the file is opened.
    monkeypatch.setattr(packbin.elf.verify, "parse_elf", denied)
    with pytest.raises(UsageError, match="cannot read: Permission denied"):
        verify_paths([str(target)], None)
    # Inside a directory the same file is a failed result: the rest still gets checked.
    results = verify_paths([str(tmp_path)], None)
    assert results[0].problems == ("cannot read: Permission denied",)


def test_json_schema(tree: Path) -> None:
    results = verify_paths([str(tree), str(tree / "run.sh")], None)
    doc = json.loads(render_json(results))
    assert list(doc) == ["results"]
    for entry in doc["results"]:
        assert set(entry) == JSON_KEYS
    dyn, static_pie, shared, static, script = doc["results"]
    assert dyn == {
        "path": f"{tree}/arm64/nested/dyn",
        "ok": False,
        "static": False,
        "arch": "arm64",
        "machine": 183,
        "class": 64,
        "endian": "little",
        "type": "exec",
        "interpreter": "/lib/ld-musl-aarch64.so.1",
        "needed": ["libc.so"],
        "stripped": False,
        "problems": ["dynamic: needs interpreter /lib/ld-musl-aarch64.so.1 and libc.so"],
    }
    assert static_pie["ok"] and static_pie["static"] and static_pie["type"] == "pie" and static_pie["stripped"]
    assert shared["type"] == "shared" and shared["endian"] == "big" and shared["machine"] == 22
    assert shared["class"] == 64 and shared["arch"] == "s390x" and not shared["static"]
    assert static["type"] == "exec" and static["static"] and static["problems"] == []
    assert script == {
        "path": f"{tree}/run.sh",
        "ok": False,
        "static": False,
        "arch": None,
        "machine": None,
        "class": None,
        "endian": None,
        "type": None,
        "interpreter": None,
        "needed": [],
        "stripped": None,
        "problems": ["not an ELF file"],
    }


def test_table(tree: Path) -> None:
    text = render_table(verify_paths([str(tree)], None))
    lines = text.splitlines()
    assert lines[0].split() == ["PATH", "ARCH", "LINKAGE", "SIZE", "VERDICT"]
    row = next(line for line in lines if line.startswith(f"{tree}/arm64/nested/dyn"))
    assert row.split()[1:3] == ["arm64", "dynamic"] and row.endswith("FAIL")
    assert "    - dynamic: needs interpreter /lib/ld-musl-aarch64.so.1 and libc.so" in lines
    row = next(line for line in lines if line.startswith(f"{tree}/arm64/timer"))
    assert row.split()[1:3] == ["arm64", "static-pie"] and row.endswith("ok")
    assert "    - shared library (libpackbin.so.1), not an executable" in lines
    assert lines[-1] == "4 files: 2 ok, 2 failed"


def test_run_all_ok_prints_and_returns() -> None:
    out = io.StringIO()
    run_verify_static([str(elf_fixture("ppc-static").path)], arch_of("ppc"), as_json=False, out=out)
    assert out.getvalue().splitlines()[-1] == "1 file: 1 ok, 0 failed"


def test_run_some_failed_raises_check_failed(tree: Path) -> None:
    out = io.StringIO()
    with pytest.raises(CheckFailed) as e:
        run_verify_static([str(tree)], arch_of("arm64"), as_json=True, out=out)
    assert str(e.value) == "3 of 4 files failed the static check for arm64"
    assert e.value.exit_code == 1
    assert len(json.loads(out.getvalue())["results"]) == 4  # the document is printed before the error


def test_run_without_paths_or_elf_files_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as e:
        run_verify_static([], None, as_json=False, out=io.StringIO())
    assert e.value.exit_code == 2
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(UsageError, match="no ELF files found"):
        run_verify_static([str(tmp_path)], None, as_json=True, out=io.StringIO())


# The command line, end to end: the exit codes a CI job sees. The first path is bare, the
# others come with the repeatable --also flag.
@pytest.mark.parametrize(
    ("names", "extra", "code"),
    [
        (["x86_64-static"], [], 0),
        (["x86_64-static", "arm64-static"], ["--arch", "arm64"], 1),
        (["x86_64-dynamic"], [], 1),
    ],
)
def test_cli_exit_codes(names: list[str], extra: list[str], code: int) -> None:
    paths = [str(elf_fixture(n).path) for n in names]
    argv = [paths[0], *(a for p in paths[1:] for a in ("--also", p))]
    proc = subprocess.run(
        [sys.executable, "-m", "packbin", "verify-static", "--json", *argv, *extra],
        check=False,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == code, proc.stderr
    assert len(json.loads(proc.stdout)["results"]) == len(names)


def test_cli_missing_path_exits_2(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "packbin", "verify-static", str(tmp_path / "nope")],
        check=False,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert "no such file or directory" in proc.stderr
