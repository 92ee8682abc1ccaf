"""verify-static and the embedded dependency list: --json carries it, --deps prints it, a broken one
is a line of its own, and the verdict never changes because of it.

Through the real command line (``python -m packbin verify-static``) on real executables given a
.dep-v0 section by packbin's own add_section.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from packbin.elf.depinfo import DEP_SECTION, DepList, DepPackage, dep_section
from packbin.elf.sections import add_section
from packbin.elf.verify import verify_paths
from tests.support import exec_programs
from tests.support.elf_fixtures import elf_fixture

pytestmark = pytest.mark.compiler

DEPS = DepList(
    packages=(
        DepPackage(name="timer-sensor", version="0.3.1", source="local", dependencies=(1, 2), root=True),
        DepPackage(name="libc", version="0.2.155", source="crates.io"),
        DepPackage(name="cc", version="1.0.99", source="crates.io", kind="build"),
    )
)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "packbin", "verify-static", *args], capture_output=True, text=True, check=False
    )


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    """Static programs with a good, a broken and no .dep-v0 section, and a dynamic one with a good one."""
    image = exec_programs.exec_program("x86_64").read_bytes()
    contents = {
        "good": dep_section(DEPS),
        "two-roots": zlib.compress(b'{"packages":[{"name":"a","version":"1","source":"local","root":true},'
                                   b'{"name":"b","version":"1","source":"local","root":true}]}'),
        "bomb": zlib.compress(bytes(64 << 20), 9),
        "garbage": b"\x00\x01not zlib at all",
        "escape": dep_section(DepList(packages=(DepPackage(name="evil\x1b[2J", version="1", source="git", root=True),))),
    }  # fmt: skip
    out = {name: tmp_path / name for name in contents}
    for name, content in contents.items():
        out[name].write_bytes(add_section(image, DEP_SECTION, content))
    out["none"] = tmp_path / "none"
    out["none"].write_bytes(image)
    out["dynamic"] = tmp_path / "dynamic"
    out["dynamic"].write_bytes(
        add_section(elf_fixture("x86_64-dynamic").path.read_bytes(), DEP_SECTION, dep_section(DEPS))
    )
    return out


def _json(files: dict[str, Path], *names: str) -> tuple[int, dict[str, dict[str, object]]]:
    proc = _cli("--json", str(files[names[0]]), "--", *(str(files[n]) for n in names[1:]))
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, {Path(str(r["path"])).name: r for r in json.loads(proc.stdout)["results"]}


def test_json_carries_the_list_or_the_problem(files: dict[str, Path]) -> None:
    code, results = _json(files, "good", "two-roots", "bomb", "garbage", "none")
    assert code == 0  # every one of them is a static executable: the section changes no verdict
    assert results["good"]["dependencies"] == {
        "format": 1,
        "count": 3,
        "packages": [
            {"name": "timer-sensor", "version": "0.3.1", "source": "local", "kind": "runtime", "root": True},
            {"name": "libc", "version": "0.2.155", "source": "crates.io", "kind": "runtime", "root": False},
            {"name": "cc", "version": "1.0.99", "source": "crates.io", "kind": "build", "root": False},
        ],
    }
    assert "dependencies_problem" not in results["good"]
    assert results["two-roots"]["dependencies_problem"] == "2 root packages (#0, #1): exactly one is allowed"
    assert "inflates to more than 8 MiB" in str(results["bomb"]["dependencies_problem"])
    assert "not a zlib stream" in str(results["garbage"]["dependencies_problem"])
    assert "dependencies" not in results["none"] and "dependencies_problem" not in results["none"]
    for name in ("two-roots", "bomb", "garbage"):
        assert results[name]["ok"] and results[name]["problems"] == [] and "dependencies" not in results[name]


def test_the_verdict_is_the_same_with_and_without_the_section(files: dict[str, Path]) -> None:
    code, results = _json(files, "dynamic", "good")
    assert code == 1
    assert not results["dynamic"]["ok"] and results["dynamic"]["dependencies"]
    plain = verify_paths([str(elf_fixture("x86_64-dynamic").path)], None)[0]
    assert tuple(results["dynamic"]["problems"]) == plain.problems  # type: ignore[arg-type]


def test_deps_prints_the_packages_under_each_row(files: dict[str, Path]) -> None:
    proc = _cli("--deps", str(files["good"]), "--", str(files["two-roots"]), str(files["none"]), str(files["escape"]))
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stdout.splitlines()
    good = next(i for i, line in enumerate(lines) if line.startswith(str(files["good"])[:20]) and "good" in line)
    assert lines[good + 1 : good + 5] == [
        "    dependencies: 3 packages (format 1)",
        "      timer-sensor 0.3.1 local (root)",
        "      libc 0.2.155 crates.io",
        "      cc 1.0.99 crates.io, build",
    ]
    assert (
        "    dependencies: the .dep-v0 section cannot be used: 2 root packages (#0, #1): exactly one is allowed"
        in lines
    )
    assert "    dependencies: none embedded (no .dep-v0 section)" in lines
    assert "      evil\\x1b[2J 1 git (root)" in lines  # a terminal escape in a name is shown, not obeyed
    assert "\x1b" not in proc.stdout


def test_the_table_without_deps_is_unchanged(files: dict[str, Path]) -> None:
    with_section, without = _cli(str(files["good"])), _cli(str(files["none"]))
    assert with_section.returncode == without.returncode == 0
    strip = lambda text, name: text.replace(str(files[name]), "FILE")
    assert "dependencies" not in with_section.stdout
    # The same table but for the size column (the section adds bytes).
    assert len(strip(with_section.stdout, "good").splitlines()) == len(strip(without.stdout, "none").splitlines())


def test_without_deps_or_json_the_section_is_not_read(files: dict[str, Path]) -> None:
    [result] = verify_paths([str(files["bomb"])], None)
    assert result.dependencies is None and result.dependencies_problem is None
    [result] = verify_paths([str(files["bomb"])], None, deps=True)
    assert result.dependencies_problem is not None and result.ok
