"""init-packs into a directory: every rule of issue 4 on real files and real compiled binaries.

The binaries are made by real compilers (gcc, gcc -static, zig cc for aarch64), see
tests/deploy_fixtures.py; hand-made bytes appear only where a test needs "not an ELF file".
"""

from __future__ import annotations

import io
import json
import os
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
import packbin.deploy.writer
from packbin.arch import Architecture
from packbin.config.model import builtin_config
from packbin.deploy import DeployReport, init_packs_dir, main
from packbin.errors import CheckFailed, UsageError
from tests.support import deploy_fixtures as fx

# Builds real ELF files or crates (zig, gcc, cargo, rustc; cached after the first run).
pytestmark = pytest.mark.compiler

X86 = builtin_config().arch("x86_64")
ARM = builtin_config().arch("arm64")
SENSOR = "core/sensors/attune-core-timer-sensor"


def put(path: Path, data: bytes | str, mode: int = 0o644, mtime: int | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    path.chmod(mode)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


@pytest.fixture
def tree(tmp_path: Path) -> tuple[Path, Path, Path]:
    """(source, dest, binaries): a small pack tree, an empty DEST location, an empty binaries tree."""
    src = tmp_path / "packs"
    put(src / "core/pack.yaml", "name: core\n")
    put(src / "core/actions/echo.sh", '#!/bin/sh\necho "$@"\n', 0o755)
    put(src / "core/actions/echo.yaml", "entry_point: echo.sh\n")
    put(src / "core/triggers/intervaltimer.yaml", "name: intervaltimer\n")
    (src / "core/actions/latest").symlink_to("echo.sh")
    return src, tmp_path / "dest", tmp_path / "dist" / "pack-binaries"


def run(src: Path, dest: Path, binaries: Path | None = None, arch: Architecture = X86, **kw: bool) -> DeployReport:
    return init_packs_dir(source=src, dest=dest, binaries=binaries, arch=arch, **kw)


def files_under(root: Path) -> dict[str, bytes | str]:
    """rel -> bytes for files, "-> target" for symlinks (directories implied)."""
    out: dict[str, bytes | str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            p = Path(dirpath) / name
            rel = p.relative_to(root).as_posix()
            out[rel] = f"-> {os.readlink(p)}" if p.is_symlink() else p.read_bytes()
    return out


# -- copying ------------------------------------------------------------------------------


def test_first_run_copies_the_tree_with_modes_mtimes_and_symlinks(tree: tuple[Path, Path, Path]) -> None:
    src, dest, _ = tree
    os.utime(src / "core/pack.yaml", ns=(1_600_000_000_123_456_789, 1_600_000_000_123_456_789))
    report = run(src, dest)
    assert report.ok
    assert sorted(report.copied) == [
        "core/actions/echo.sh",
        "core/actions/echo.yaml",
        "core/actions/latest",
        "core/pack.yaml",
        "core/triggers/intervaltimer.yaml",
    ]
    assert files_under(dest) == files_under(src)
    assert os.readlink(dest / "core/actions/latest") == "echo.sh"
    assert stat.S_IMODE((dest / "core/actions/echo.sh").stat().st_mode) == 0o755
    assert stat.S_IMODE((dest / "core/pack.yaml").stat().st_mode) == 0o644
    assert (dest / "core/pack.yaml").stat().st_mtime_ns == 1_600_000_000_123_456_789
    assert not [p for p in dest.rglob("*") if p.name.endswith(".packbin-tmp")]


def test_second_run_does_nothing_and_reads_no_file(
    tree: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    src, dest, _ = tree
    run(src, dest)
    inodes = {p: p.lstat().st_ino for p in dest.rglob("*")}
    # The no-op path is lstat only: any open() of a file (not a directory) would be a read.
    real_open = os.open
    opened: list[str] = []

    def spy(path: object, flags: int, *args: object, **kw: object) -> int:
        if not flags & os.O_DIRECTORY:
            opened.append(str(path))
        return real_open(path, flags, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(packbin.deploy.writer.os, "open", spy)  # the os module itself: every os.open
    report = run(src, dest)
    assert report.copied == () and report.deleted == () and report.refused == ()
    assert len(report.unchanged) == 5
    assert opened == []
    assert {p: p.lstat().st_ino for p in dest.rglob("*")} == inodes


def test_changed_file_is_replaced_atomically(tree: tuple[Path, Path, Path]) -> None:
    src, dest, _ = tree
    run(src, dest)
    before = (dest / "core/pack.yaml").stat().st_ino
    put(src / "core/pack.yaml", "name: core\nversion: 2\n")
    report = run(src, dest)
    assert report.copied == ("core/pack.yaml",)
    assert (dest / "core/pack.yaml").read_text() == "name: core\nversion: 2\n"
    # A new inode: written beside and renamed over, never rewritten in place.
    assert (dest / "core/pack.yaml").stat().st_ino != before


def test_mode_change_alone_is_copied(tree: tuple[Path, Path, Path]) -> None:
    src, dest, _ = tree
    run(src, dest)
    (src / "core/actions/echo.yaml").chmod(0o755)
    report = run(src, dest)
    assert report.copied == ("core/actions/echo.yaml",)
    assert stat.S_IMODE((dest / "core/actions/echo.yaml").stat().st_mode) == 0o755


def test_checksum_compares_content_when_size_and_mtime_agree(tree: tuple[Path, Path, Path]) -> None:
    src, dest, _ = tree
    put(src / "core/pack.yaml", "aaaa\n", mtime=1_700_000_000)
    run(src, dest)
    put(dest / "core/pack.yaml", "bbbb\n", mtime=1_700_000_000)  # same size and mtime, other bytes
    assert "core/pack.yaml" in run(src, dest).unchanged
    report = run(src, dest, checksum=True)
    assert report.copied == ("core/pack.yaml",)
    assert (dest / "core/pack.yaml").read_text() == "aaaa\n"
    assert "core/pack.yaml" in run(src, dest, checksum=True).unchanged


def test_build_junk_is_skipped(tree: tuple[Path, Path, Path]) -> None:
    src, dest, _ = tree
    crate = src / "core/sensors/timer-sensor"
    put(crate / "Cargo.toml", "[package]\n")
    put(crate / "src/main.rs", "fn main() {}\n")
    put(crate / "target/release/attune-core-timer-sensor", fx.dynamic_x86_64(), 0o755)
    put(src / "core/actions/__pycache__/x.cpython-311.pyc", b"\0")
    put(src / "core/target/keep.yaml", "a pack dir called target, no Cargo.toml beside it\n")
    run(src, dest)
    assert (dest / "core/sensors/timer-sensor/src/main.rs").is_file()
    assert not (dest / "core/sensors/timer-sensor/target").exists()
    assert not (dest / "core/actions/__pycache__").exists()
    assert (dest / "core/target/keep.yaml").is_file()


def test_dry_run_reports_the_same_and_writes_nothing(tree: tuple[Path, Path, Path]) -> None:
    src, dest, _ = tree
    dry = run(src, dest, dry_run=True)
    assert not dest.exists()
    real = run(src, dest)
    assert dry == real
    put(src / "core/pack.yaml", "changed\n")
    (dest / "core/extra.txt").write_text("x")
    snapshot = files_under(dest)
    dry = run(src, dest, dry_run=True, delete=True)
    assert dry.copied == ("core/pack.yaml",) and dry.deleted == ("core/extra.txt",)
    assert files_under(dest) == snapshot


# -- the static binary rules -------------------------------------------------------------------


def test_seed_scenario_stale_dynamic_binary_never_overwrites_the_static_one(tree: tuple[Path, Path, Path]) -> None:
    """The seed's second root cause: a plain copy of packs/ replaced the fresh static binary."""
    src, dest, _ = tree
    static = fx.static_x86_64()
    put(dest / SENSOR, static, 0o755)
    put(src / SENSOR, fx.dynamic_x86_64(), 0o755)
    report = run(src, dest)
    assert (dest / SENSOR).read_bytes() == static
    [(path, reason)] = report.preserved
    assert path == SENSOR
    assert "static x86_64" in reason and "dynamic" in reason and "ld-linux-x86-64" in reason
    assert report.ok  # preserving is the rule working, not a failure
    assert SENSOR not in report.copied


@pytest.mark.parametrize(
    ("incoming", "why"),
    [
        (lambda: fx.static_arm64(), "another architecture"),
        (lambda: b"#!/bin/sh\necho not a binary\n", "not an ELF file"),
        (lambda: fx.dynamic_arm64(), "a dynamic ELF of another architecture"),
    ],
)
def test_static_binary_at_dest_is_kept_against_anything_that_is_not_one(
    tree: tuple[Path, Path, Path], incoming: Callable[[], bytes], why: str
) -> None:
    src, dest, _ = tree
    static = fx.static_x86_64()
    put(dest / SENSOR, static, 0o755)
    put(src / SENSOR, incoming(), 0o755)
    report = run(src, dest)
    assert (dest / SENSOR).read_bytes() == static, why
    assert [p for p, _ in report.preserved] == [SENSOR]


def test_a_symlink_in_the_source_does_not_replace_a_static_binary(tree: tuple[Path, Path, Path]) -> None:
    src, dest, _ = tree
    static = fx.static_x86_64()
    put(dest / SENSOR, static, 0o755)
    (src / "core/sensors").mkdir(parents=True)
    (src / SENSOR).symlink_to("../pack.yaml")
    report = run(src, dest)
    assert (dest / SENSOR).read_bytes() == static and not (dest / SENSOR).is_symlink()
    assert [p for p, _ in report.preserved] == [SENSOR]


def test_the_verifier_decides_for_arm64_too(tree: tuple[Path, Path, Path]) -> None:
    src, dest, bins = tree
    static = fx.static_arm64()
    put(dest / SENSOR, static, 0o755)
    put(src / SENSOR, fx.static_x86_64(), 0o755)  # static, but for the wrong machine
    report = run(src, dest, arch=ARM)
    assert (dest / SENSOR).read_bytes() == static
    assert [p for p, _ in report.preserved] == [SENSOR]
    newer = fx.static_arm64("v2")
    put(bins / "arm64" / SENSOR, newer, 0o755)
    report = run(src, dest, bins, arch=ARM)
    assert report.copied == (SENSOR,)
    assert (dest / SENSOR).read_bytes() == newer


def test_verified_binary_from_the_binaries_tree_replaces_an_older_static_one(tree: tuple[Path, Path, Path]) -> None:
    src, dest, bins = tree
    put(dest / SENSOR, fx.static_x86_64("v1"), 0o755)
    put(src / SENSOR, fx.dynamic_x86_64(), 0o755)  # stale host build: overlaid by the binaries tree
    newer = fx.static_x86_64("v2")
    put(bins / "x86_64" / SENSOR, newer, 0o755)
    put(bins / "arm64" / SENSOR, fx.static_arm64(), 0o755)  # other architectures are not looked at
    put(bins / "manifest.json", "{}")
    report = run(src, dest, bins)
    assert report.ok and report.preserved == ()
    assert SENSOR in report.copied
    assert (dest / SENSOR).read_bytes() == newer
    assert stat.S_IMODE((dest / SENSOR).stat().st_mode) == 0o755
    again = run(src, dest, bins)
    assert SENSOR in again.unchanged and again.copied == ()


def test_binaries_tree_overlays_into_a_fresh_dest(tree: tuple[Path, Path, Path]) -> None:
    src, dest, bins = tree
    static = fx.static_x86_64()
    put(bins / "x86_64/core/sensors/attune-core-timer-sensor", static, 0o755)
    report = run(src, dest, bins)
    assert (dest / SENSOR).read_bytes() == static
    assert SENSOR in report.copied


@pytest.mark.parametrize(
    ("bad", "expect"),
    [
        (lambda: fx.dynamic_x86_64(), "interpreter"),
        (lambda: fx.static_arm64(), "EM_X86_64"),
        (lambda: b"text\n", "not an ELF"),
    ],
)
def test_binaries_tree_refuses_anything_but_a_static_executable_of_arch(
    tree: tuple[Path, Path, Path], bad: Callable[[], bytes], expect: str
) -> None:
    src, dest, bins = tree
    put(bins / "x86_64" / SENSOR, bad(), 0o755)
    report = run(src, dest, bins)
    assert not report.ok
    [(path, reason)] = report.refused
    assert path == SENSOR and "binaries tree" in reason
    assert not (dest / SENSOR).exists()


def test_binaries_tree_symlink_is_refused(tree: tuple[Path, Path, Path]) -> None:
    src, dest, bins = tree
    real = put(bins / "elsewhere" / "bin", fx.static_x86_64(), 0o755)
    (bins / "x86_64/core/sensors").mkdir(parents=True)
    (bins / "x86_64" / SENSOR).symlink_to(real)
    report = run(src, dest, bins)
    assert [p for p, _ in report.refused] == [SENSOR]
    assert not (dest / SENSOR).exists()


def test_a_dynamic_binary_at_dest_is_not_protected(tree: tuple[Path, Path, Path]) -> None:
    src, dest, _ = tree
    put(dest / SENSOR, fx.dynamic_x86_64("v1"), 0o755)
    put(src / SENSOR, fx.dynamic_x86_64("v2"), 0o755)
    report = run(src, dest)
    assert SENSOR in report.copied
    assert (dest / SENSOR).read_bytes() == fx.dynamic_x86_64("v2")


# -- delete ------------------------------------------------------------------------------------


def test_delete_removes_what_the_source_lost_but_keeps_static_binaries(tree: tuple[Path, Path, Path]) -> None:
    src, dest, _ = tree
    run(src, dest)
    put(dest / "core/actions/old.sh", "#!/bin/sh\n")
    put(dest / "retired/pack.yaml", "name: retired\n")
    put(dest / "retired/sub/deep.txt", "x")
    static = fx.static_x86_64()
    put(dest / SENSOR, static, 0o755)
    put(dest / "retired/bin/tool", static, 0o755)
    put(dest / "core/sensors/stale-dynamic", fx.dynamic_x86_64(), 0o755)
    without = run(src, dest)
    assert without.deleted == () and (dest / "core/actions/old.sh").exists()
    report = run(src, dest, delete=True)
    assert sorted(report.deleted) == [
        "core/actions/old.sh",
        "core/sensors/stale-dynamic",
        "retired/pack.yaml",
        "retired/sub",
        "retired/sub/deep.txt",
    ]
    assert sorted(p for p, _ in report.preserved) == [SENSOR, "retired/bin/tool"]
    assert (dest / SENSOR).read_bytes() == static and (dest / "retired/bin/tool").read_bytes() == static
    assert not (dest / "retired/sub").exists() and not (dest / "core/actions/old.sh").exists()
    assert (dest / "core/pack.yaml").exists()


# -- the command line and the task ----------------------------------------------------------------


def test_main_json_and_exit_codes(tree: tuple[Path, Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    src, dest, bins = tree
    assert main(["--source", str(src), "--dest", str(dest), "--arch", "amd64", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert set(doc) == {"dry_run", "copied", "unchanged", "preserved", "refused", "deleted"}
    assert doc["dry_run"] is False
    assert "core/pack.yaml" in doc["copied"]
    put(bins / "x86_64" / SENSOR, fx.dynamic_x86_64(), 0o755)
    args = ["--source", str(src), "--dest", str(dest), "--binaries", str(bins), "--json"]
    assert (
        main(
            [
                *args,
                "--arch-name",
                "x86_64",
                "--elf-machine",
                "EM_X86_64",
                "--elf-class",
                "64",
                "--byte-order",
                "little",
            ]
        )
        == 1
    )
    doc = json.loads(capsys.readouterr().out)
    assert doc["refused"][0]["path"] == SENSOR and doc["refused"][0]["reason"]
    assert main(["--source", str(src), "--dest", str(dest), "--arch", "vax"]) == 2
    assert "unknown architecture" in capsys.readouterr().err
    assert main(["--source", str(src), "--dest", str(dest)]) == 2


def test_deploy_module_runs_without_docker_invoke_or_platformdirs(tree: tuple[Path, Path, Path]) -> None:
    """The init image has python3 and packbin's pure modules only."""
    src, dest, _ = tree
    code = (
        "import sys\n"
        "for name in ('docker', 'invoke', 'platformdirs', 'requests'):\n"
        "    sys.modules[name] = None  # any import of them now fails\n"
        "from packbin.deploy import main\n"
        f"sys.exit(main(['--source', {str(src)!r}, '--dest', {str(dest)!r}, '--arch', 'x86_64']))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "5 copied" in proc.stdout


def test_usage_errors(tree: tuple[Path, Path, Path], tmp_path: Path) -> None:
    src, dest, _ = tree
    with pytest.raises(UsageError, match="overlap"):
        run(src, src / "core" / "deployed")
    with pytest.raises(UsageError, match="parent"):
        run(src, tmp_path / "no" / "such" / "dest")
    with pytest.raises(UsageError, match="source"):
        run(tmp_path / "missing", dest)
    with pytest.raises(UsageError, match="binaries tree"):
        run(src, dest, tmp_path / "no-binaries-here")


def test_run_init_packs_defaults_json_and_refusal(tmp_path: Path) -> None:
    from packbin.compose.init_packs import InitPacksRequest, run_init_packs

    cfg = builtin_config(tmp_path)
    put(cfg.packs_dir / "core/pack.yaml", "name: core\n")
    static = fx.static_x86_64()
    put(cfg.dist_dir / "pack-binaries/x86_64" / SENSOR, static, 0o755)
    out = io.StringIO()
    report = run_init_packs(
        cfg,
        InitPacksRequest(
            dest=str(tmp_path / "deployed"),
            arch="x86_64",
            as_json=True,
        ),
        out=out,
    )
    assert json.loads(out.getvalue())["copied"] == ["core/pack.yaml", SENSOR]
    assert report.ok and (tmp_path / "deployed" / SENSOR).read_bytes() == static
    with pytest.raises(UsageError, match="exactly one"):
        run_init_packs(
            cfg,
            InitPacksRequest(
                arch="x86_64",
            ),
            out=io.StringIO(),
        )
    with pytest.raises(UsageError, match="exactly one"):
        run_init_packs(
            cfg,
            InitPacksRequest(
                dest="a",
                volume="b",
                arch="x86_64",
            ),
            out=io.StringIO(),
        )
    put(cfg.packs_dir / "core/fifo-stand-in", "")
    os.unlink(cfg.packs_dir / "core/fifo-stand-in")
    os.mkfifo(cfg.packs_dir / "core/pipe")
    human = io.StringIO()
    with pytest.raises(CheckFailed) as e:
        run_init_packs(
            cfg,
            InitPacksRequest(
                dest=str(tmp_path / "deployed"),
                arch="amd64",
            ),
            out=human,
        )
    assert e.value.exit_code == 1
    assert "refused    core/pipe: a FIFO" in human.getvalue()
