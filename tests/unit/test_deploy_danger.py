"""init-packs against hostile trees: nothing outside DEST ever changes, and what cannot be done is refused.

Every test snapshots a sibling tree ("outside", which planted symlinks point at) and the source
before the run and compares after: type, mode, size, mtime, content and link target of every entry.

Unreadable files: the tests run as root, and root reads a mode-000 file. Two real ways are used:
a FIFO (never opened: opening it would block the run), and a child process whose capability
bounding set lacks CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH (``setpriv``), for which a root-owned
mode-000 file or directory really is unreadable (EACCES), as for any non-root user.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
from packbin.config.model import builtin_config
from packbin.deploy import DeployPlan, DeployReport, init_packs_dir, plan_deploy, scan_source
from packbin.deploy.writer import DirView, apply_dir
from tests.support import deploy_fixtures as fx

# Builds real ELF files or crates (zig, gcc, cargo, rustc; cached after the first run).
pytestmark = pytest.mark.compiler

X86 = builtin_config().arch("x86_64")
SENSOR = "core/sensors/attune-core-timer-sensor"

Snapshot = dict[str, tuple[object, ...]]


def snapshot(root: Path) -> Snapshot:
    """Everything below ``root`` (and root itself), without following any symlink."""
    out: Snapshot = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in [".", *dirnames, *filenames]:
            p = Path(dirpath) / name if name != "." else Path(dirpath)
            st = p.lstat()
            key = p.relative_to(root).as_posix()
            if stat.S_ISLNK(st.st_mode):
                out[key] = ("link", os.readlink(p))
            elif stat.S_ISREG(st.st_mode):
                out[key] = ("file", st.st_mode, st.st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest())
            else:
                out[key] = ("other", st.st_mode, st.st_mtime_ns if not stat.S_ISDIR(st.st_mode) else 0)
    return out


def put(path: Path, data: bytes | str, mode: int = 0o644) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    path.chmod(mode)
    return path


@pytest.fixture
def world(tmp_path: Path) -> tuple[Path, Path, Path]:
    """(source, dest, outside). outside holds what planted symlinks aim at, including a static binary."""
    src, dest, outside = tmp_path / "packs", tmp_path / "dest", tmp_path / "outside"
    put(src / "core/pack.yaml", "name: core\n")
    put(src / "core/actions/echo.sh", "#!/bin/sh\n", 0o755)
    put(src / "core/sensors/timer.yaml", "name: timer\n")
    put(outside / "secret.txt", "do not touch\n", 0o600)
    put(outside / "sensors/attune-core-timer-sensor", fx.static_x86_64(), 0o755)
    put(outside / "pack.yaml", "outside's pack.yaml\n")
    return src, dest, outside


def run(src: Path, dest: Path, **kw: bool) -> DeployReport:
    return init_packs_dir(source=src, dest=dest, binaries=None, arch=X86, **kw)


def refused(report: DeployReport) -> dict[str, str]:
    return dict(report.refused)


# -- symlinks in the source ------------------------------------------------------------------


def test_symlinks_leaving_the_source_are_refused_and_never_followed(world: tuple[Path, Path, Path]) -> None:
    src, dest, outside = world
    core = src / "core"
    (core / "evil").symlink_to("../../outside/secret.txt")
    (core / "abs").symlink_to(outside / "secret.txt")
    (core / "outdir").symlink_to("../../outside")
    (core / "inner").symlink_to("../../outside")
    (core / "via").symlink_to("inner/secret.txt")  # lexically inside, really outside
    (core / "ok").symlink_to("pack.yaml")
    (core / "dangling").symlink_to("not-there-yet")  # inside the tree: copied as it is
    (core / "loop").symlink_to("loop")  # a link to itself: inside the tree, copied as it is
    before_out, before_src = snapshot(outside), snapshot(src)
    for delete in (False, True):
        report = run(src, dest, delete=delete)
        assert set(refused(report)) == {"core/evil", "core/abs", "core/outdir", "core/inner", "core/via"}
        assert "outside the source tree" in refused(report)["core/evil"]
        assert "absolute" in refused(report)["core/abs"]
        for name in ("evil", "abs", "outdir", "inner", "via"):
            assert not os.path.lexists(dest / "core" / name)
        for name, target in (("ok", "pack.yaml"), ("dangling", "not-there-yet"), ("loop", "loop")):
            assert os.readlink(dest / "core" / name) == target
        assert snapshot(outside) == before_out and snapshot(src) == before_src


# -- what DEST holds -----------------------------------------------------------------------------


@pytest.mark.parametrize("dangling", [False, True])
def test_dest_that_is_a_symlink_is_not_followed(world: tuple[Path, Path, Path], tmp_path: Path, dangling: bool) -> None:
    src, dest, outside = world
    target = tmp_path / "outside" / "new-dir" if dangling else outside
    dest.symlink_to(target)
    before = snapshot(outside)
    for delete in (False, True):
        report = run(src, dest, delete=delete)
        assert report.copied == () and report.deleted == ()
        [(path, reason)] = report.refused
        assert path == "." and "symlink" in reason
    assert snapshot(outside) == before
    assert not (tmp_path / "outside" / "new-dir").exists()


def test_symlinked_directory_inside_dest_is_not_followed(world: tuple[Path, Path, Path]) -> None:
    src, dest, outside = world
    put(src / SENSOR, fx.dynamic_x86_64(), 0o755)
    (dest / "core").mkdir(parents=True)
    (dest / "core/sensors").symlink_to(outside / "sensors")
    (dest / "core/actions").symlink_to("../../outside")
    before = snapshot(outside)
    for delete in (False, True):
        report = run(src, dest, delete=delete)
        assert "core/sensors" in refused(report) and "core/actions" in refused(report)
        assert "symlink" in refused(report)["core/sensors"]
        assert (dest / "core/pack.yaml").read_text() == "name: core\n"  # the rest goes on
        assert snapshot(outside) == before


def test_symlink_at_a_file_path_is_replaced_not_written_through(world: tuple[Path, Path, Path]) -> None:
    src, dest, outside = world
    (dest / "core").mkdir(parents=True)
    (dest / "core/pack.yaml").symlink_to(outside / "pack.yaml")
    before = snapshot(outside)
    report = run(src, dest)
    assert "core/pack.yaml" in report.copied
    assert not (dest / "core/pack.yaml").is_symlink()
    assert (dest / "core/pack.yaml").read_text() == "name: core\n"
    assert snapshot(outside) == before


def test_delete_removes_a_planted_symlink_itself_not_its_target(world: tuple[Path, Path, Path]) -> None:
    src, dest, outside = world
    dest.mkdir()
    (dest / "planted").symlink_to(outside)
    (dest / "planted-file").symlink_to(outside / "secret.txt")
    before = snapshot(outside)
    report = run(src, dest, delete=True)
    assert set(report.deleted) == {"planted", "planted-file"}
    assert not os.path.lexists(dest / "planted")
    assert snapshot(outside) == before


def test_file_where_a_directory_is_expected_and_the_reverse(world: tuple[Path, Path, Path]) -> None:
    src, dest, _ = world
    put(dest / "core/actions", "a file where the source has a directory\n")
    put(dest / "core/pack.yaml/inside.txt", "a directory where the source has a file\n")
    put(dest / "core/pack.yaml/static", fx.static_x86_64(), 0o755)
    before_dest = snapshot(dest / "core/pack.yaml")
    for delete in (False, True):
        report = run(src, dest, delete=delete)
        reasons = refused(report)
        assert "a regular file where the source has a directory" in reasons["core/actions"]
        assert "a directory where the source has a regular file" in reasons["core/pack.yaml"]
        assert (dest / "core/actions").read_text() == "a file where the source has a directory\n"
        assert snapshot(dest / "core/pack.yaml") == before_dest
        assert report.deleted == ()
    assert (dest / "core/sensors/timer.yaml").is_file()


# -- unreadable things -----------------------------------------------------------------------


@pytest.mark.timeout(60)
def test_a_fifo_in_the_source_is_refused_without_opening_it(world: tuple[Path, Path, Path]) -> None:
    src, dest, _ = world
    os.mkfifo(src / "core/pipe")
    report = run(src, dest)
    assert "a FIFO" in refused(report)["core/pipe"]
    assert not os.path.lexists(dest / "core/pipe")
    assert (dest / "core/pack.yaml").is_file()


@pytest.mark.skipif(shutil.which("setpriv") is None, reason="setpriv (util-linux) is not installed")
def test_unreadable_file_and_directory_are_refused_and_the_rest_continues(world: tuple[Path, Path, Path]) -> None:
    src, dest, outside = world
    put(src / "core/actions/secret.yaml", "mode 000\n", 0o000)
    put(src / "core/closed/inside.yaml", "in a mode-000 directory\n")
    (src / "core/closed").chmod(0o000)
    before = snapshot(outside)
    try:
        cmd = [
            "setpriv",
            "--bounding-set",
            "-dac_override,-dac_read_search",
            sys.executable,
            "-m",
            "packbin.deploy",
            "--source",
            str(src),
            "--dest",
            str(dest),
            "--arch",
            "x86_64",
            "--json",
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=120)
    finally:
        (src / "core/closed").chmod(0o755)
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    reasons = {r["path"]: r["reason"] for r in doc["refused"]}
    assert "Permission denied" in reasons["core/actions/secret.yaml"]
    assert "Permission denied" in reasons["core/closed"]
    assert not (dest / "core/actions/secret.yaml").exists()
    assert (dest / "core/actions/echo.sh").read_text() == "#!/bin/sh\n"
    assert "core/actions/secret.yaml" not in doc["copied"]
    assert not [p for p in dest.rglob("*") if p.name.endswith(".packbin-tmp")]
    assert snapshot(outside) == before


# -- changes between planning and writing (TOCTOU) ----------------------------------------------


def _plan(src: Path, dest: Path, *, delete: bool = False) -> tuple[int, DeployPlan]:
    fd = os.open(dest, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    tree = scan_source(src, None, X86)
    view = DirView(
        fd, descend=None if delete else {r for r, i in tree.items.items() if i.entry.kind == "dir"}, arch=X86
    )
    return fd, plan_deploy(tree, view, X86, delete=delete)


def test_directory_swapped_for_a_symlink_after_planning_is_not_followed(world: tuple[Path, Path, Path]) -> None:
    src, dest, outside = world
    run(src, dest)
    put(src / "core/sensors/new.yaml", "new\n")
    put(src / "core/sensors/timer.yaml", "changed\n")
    fd, plan = _plan(src, dest)
    try:
        assert {"core/sensors/new.yaml", "core/sensors/timer.yaml"} <= set(plan.report.copied)
        shutil.rmtree(dest / "core/sensors")
        (dest / "core/sensors").symlink_to(outside / "sensors")
        before = snapshot(outside)
        report = apply_dir(fd, plan)
    finally:
        os.close(fd)
    assert snapshot(outside) == before
    for rel in ("core/sensors/new.yaml", "core/sensors/timer.yaml"):
        assert rel not in report.copied
        assert "not followed" in refused(report)[rel]


def test_static_binary_planted_after_planning_is_not_overwritten(world: tuple[Path, Path, Path]) -> None:
    src, dest, _ = world
    run(src, dest)
    put(src / SENSOR, fx.dynamic_x86_64(), 0o755)
    put(src / "core/pack.yaml", "changed\n")
    fd, plan = _plan(src, dest)
    try:
        static = fx.static_x86_64()
        put(dest / SENSOR, static, 0o755)  # arrives between the plan and the write
        put(dest / "core/pack.yaml", "edited at DEST meanwhile\n")
        report = apply_dir(fd, plan)
    finally:
        os.close(fd)
    assert (dest / SENSOR).read_bytes() == static
    assert (dest / "core/pack.yaml").read_text() == "edited at DEST meanwhile\n"
    assert "DEST changed" in refused(report)[SENSOR]
    assert "DEST changed" in refused(report)["core/pack.yaml"]


@pytest.mark.timeout(60)
def test_source_file_swapped_for_a_fifo_after_listing_is_refused_without_hanging(
    world: tuple[Path, Path, Path],
) -> None:
    src, dest, _ = world
    dest.mkdir()
    fd, plan = _plan(src, dest)
    try:
        os.unlink(src / "core/pack.yaml")
        os.mkfifo(src / "core/pack.yaml")
        report = apply_dir(fd, plan)
    finally:
        os.close(fd)
    assert "changed while init-packs ran" in refused(report)["core/pack.yaml"]
    assert not os.path.lexists(dest / "core/pack.yaml")
    assert (dest / "core/actions/echo.sh").is_file()


def test_delete_after_a_swap_leaves_the_new_thing_alone(world: tuple[Path, Path, Path]) -> None:
    src, dest, outside = world
    run(src, dest)
    put(dest / "core/old/stale.txt", "stale\n")
    fd, plan = _plan(src, dest, delete=True)
    try:
        shutil.rmtree(dest / "core/old")
        (dest / "core/old").symlink_to(outside)
        before = snapshot(outside)
        report = apply_dir(fd, plan)
    finally:
        os.close(fd)
    assert snapshot(outside) == before
    assert os.path.islink(dest / "core/old")
    assert "core/old/stale.txt" in refused(report) and "core/old" in refused(report)
