"""Can foreign-architecture binaries run (binfmt_misc + qemu-user)?

Most tests use a tmp directory laid out like /proc/sys/fs/binfmt_misc. That is a fake of a kernel
interface: a unit test cannot mount binfmt_misc or register handlers (root, and it would change
the machine for everyone). The entry text is the kernel's real format, copied from
/proc/sys/fs/binfmt_misc/qemu-aarch64 on a machine where qemu-user-static registered it. One
test reads the real /proc/sys/fs/binfmt_misc when it is mounted.
"""

from __future__ import annotations

import platform
from pathlib import Path

import pytest

from packbin.arch import Architecture
from packbin.config.model import builtin_config
from packbin.engine.binfmt import BINFMT_DIR, QEMU_NAMES, foreign_exec, host_arch_name, register_qemu

# Verbatim from /proc/sys/fs/binfmt_misc/qemu-aarch64 (Debian 12, qemu-user-static, flags POF).
QEMU_AARCH64_ENTRY = """\
enabled
interpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P
flags: POF
offset 0
magic 7f454c460201010000000000000000000200b700
mask ffffffffffffff00fffffffffffffffffeffffff
"""

ARCHES = builtin_config(Path("/"))
ARM64 = ARCHES.arch("arm64")
X86_64 = ARCHES.arch("x86_64")


def fake_binfmt(tmp_path: Path, entries: dict[str, str] | None = None, status: str = "enabled\n") -> Path:
    d = tmp_path / "binfmt_misc"
    d.mkdir()
    (d / "status").write_text(status)
    (d / "register").write_text("")  # write-only in the kernel; present so the layout matches
    for name, text in (entries or {}).items():
        (d / name).write_text(text)
    return d


def test_enabled_entry_with_f_flag_is_runnable(tmp_path: Path) -> None:
    d = fake_binfmt(tmp_path, {"qemu-aarch64": QEMU_AARCH64_ENTRY})
    r = foreign_exec(ARM64, native="x86_64", local_engine=True, binfmt_dir=d)
    assert r.arch == "arm64"
    assert r.runnable is True
    assert r.reason == "binfmt qemu-aarch64 (/usr/libexec/qemu-binfmt/aarch64-binfmt-P, flags POF)"


def test_entry_without_f_flag_is_not_runnable(tmp_path: Path) -> None:
    d = fake_binfmt(tmp_path, {"qemu-aarch64": QEMU_AARCH64_ENTRY.replace("flags: POF", "flags: PO")})
    r = foreign_exec(ARM64, native="x86_64", local_engine=True, binfmt_dir=d)
    assert r.runnable is False
    assert "lacks the F flag" in r.reason
    assert "/usr/libexec/qemu-binfmt/aarch64-binfmt-P" in r.reason
    assert "qemu-aarch64" in r.hint and "F" in r.hint


def test_entry_with_no_flags_at_all_is_not_runnable(tmp_path: Path) -> None:
    d = fake_binfmt(tmp_path, {"qemu-aarch64": QEMU_AARCH64_ENTRY.replace("flags: POF\n", "flags: \n")})
    assert foreign_exec(ARM64, native="x86_64", local_engine=True, binfmt_dir=d).runnable is False


def test_disabled_entry_is_not_runnable(tmp_path: Path) -> None:
    d = fake_binfmt(tmp_path, {"qemu-aarch64": QEMU_AARCH64_ENTRY.replace("enabled\n", "disabled\n", 1)})
    r = foreign_exec(ARM64, native="x86_64", local_engine=True, binfmt_dir=d)
    assert r.runnable is False
    assert r.reason == "binfmt handler qemu-aarch64 is disabled"
    assert r.hint == f"echo 1 > {d / 'qemu-aarch64'}"


def test_missing_entry_is_not_runnable(tmp_path: Path) -> None:
    d = fake_binfmt(tmp_path, {"qemu-arm": QEMU_AARCH64_ENTRY})
    r = foreign_exec(ARM64, native="x86_64", local_engine=True, binfmt_dir=d)
    assert r.runnable is False
    assert r.reason == "no binfmt handler qemu-aarch64 registered"
    assert "qemu-user-static" in r.hint
    assert str(d / "register") in r.hint


def test_binfmt_not_mounted(tmp_path: Path) -> None:
    d = tmp_path / "binfmt_misc"
    d.mkdir()  # the mount point exists, empty, as on a host where it is not mounted
    r = foreign_exec(ARM64, native="x86_64", local_engine=True, binfmt_dir=d)
    assert r.runnable is False
    assert r.reason == "binfmt_misc is not mounted"
    assert f"mount -t binfmt_misc binfmt_misc {d}" in r.hint


def test_globally_disabled_binfmt_is_not_runnable(tmp_path: Path) -> None:
    d = fake_binfmt(tmp_path, {"qemu-aarch64": QEMU_AARCH64_ENTRY}, status="disabled\n")
    assert foreign_exec(ARM64, native="x86_64", local_engine=True, binfmt_dir=d).runnable is False


def test_native_arch_needs_no_binfmt(tmp_path: Path) -> None:
    r = foreign_exec(X86_64, native="x86_64", local_engine=True, binfmt_dir=tmp_path / "absent")
    assert (r.runnable, r.reason) == (True, "native")
    r = foreign_exec(ARM64, native="arm64", local_engine=False, binfmt_dir=tmp_path / "absent")
    assert (r.runnable, r.reason) == (True, "native")


def test_x86_64_runs_i686_itself_but_arm64_needs_qemu_for_armv7(tmp_path: Path) -> None:
    """An x86_64 kernel runs i386 executables (the i686 smoke test runs them so, for real); arm64
    gets no such pass for armv7, since many arm64 CPUs have no 32-bit state."""
    cfg = builtin_config()
    r = foreign_exec(cfg.arch("i686"), native="x86_64", local_engine=True, binfmt_dir=tmp_path / "absent")
    assert r.runnable is True and r.reason.startswith("native")
    r = foreign_exec(cfg.arch("armv7"), native="arm64", local_engine=True, binfmt_dir=tmp_path / "absent")
    assert r.runnable is False


def test_remote_engine_cannot_tell(tmp_path: Path) -> None:
    d = fake_binfmt(tmp_path, {"qemu-aarch64": QEMU_AARCH64_ENTRY})
    r = foreign_exec(ARM64, native="x86_64", local_engine=False, binfmt_dir=d)
    assert r.runnable is None
    assert "remote engine" in r.reason


def test_docker_desktop_on_macos_cannot_tell(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(platform, "system", lambda: "Darwin")
    r = foreign_exec(ARM64, native="x86_64", local_engine=True, binfmt_dir=tmp_path)
    assert r.runnable is None
    assert r.hint


def test_architecture_without_a_known_qemu_handler(tmp_path: Path) -> None:
    mips = Architecture(
        name="mips64el",
        aliases=(),
        rust_target="mips64el-unknown-linux-muslabi64",
        docker_platform="linux/mips64le",
        elf_machine=8,
        elf_class=64,
        byte_order="little",
    )
    d = fake_binfmt(tmp_path)
    r = foreign_exec(mips, native="x86_64", local_engine=True, binfmt_dir=d)
    assert (r.runnable, r.reason) == (False, "no known qemu handler for mips64el")


def test_every_builtin_architecture_has_a_qemu_handler_name() -> None:
    assert {a.name for a in ARCHES.architectures} <= set(QEMU_NAMES)


def test_host_arch_name_uses_build_names(monkeypatch: pytest.MonkeyPatch) -> None:
    for machine, name in [
        ("x86_64", "x86_64"),
        ("AMD64", "AMD64"),
        ("aarch64", "arm64"),
        ("arm64", "arm64"),
        ("riscv64", "riscv64"),
    ]:
        monkeypatch.setattr(platform, "machine", lambda m=machine: m)
        assert host_arch_name() == name


def test_register_qemu_writes_the_conf_line(tmp_path: Path) -> None:
    d = fake_binfmt(tmp_path)
    conf = tmp_path / "binfmt.d"
    conf.mkdir()
    line = r":qemu-aarch64:M::\x7f\x45\x4c\x46\x02\x01\x01\x00:\xff\xff\xff\xff\xff\xff\xff\x00:/usr/libexec/qemu-binfmt/aarch64-binfmt-P:OPF"
    (conf / "qemu-aarch64.conf").write_text(f"# comment\n{line}\n")
    assert register_qemu("arm64", binfmt_dir=d, conf_dir=conf) == "registered qemu-aarch64"
    assert (d / "register").read_text() == line
    (d / "qemu-aarch64").write_text(QEMU_AARCH64_ENTRY)
    assert register_qemu("arm64", binfmt_dir=d, conf_dir=conf) == "qemu-aarch64 already registered"


# -- the real kernel interface -------------------------------------------------------------


@pytest.mark.skipif(not (BINFMT_DIR / "status").exists(), reason=f"binfmt_misc is not mounted at {BINFMT_DIR}")
def test_real_binfmt_misc_agrees_with_its_entry() -> None:
    host = host_arch_name()
    if host not in ("x86_64", "arm64"):
        pytest.skip(f"host architecture {platform.machine()} is not x86_64 or arm64")
    foreign = ARM64 if host == "x86_64" else X86_64
    entry = BINFMT_DIR / QEMU_NAMES[foreign.name]
    r = foreign_exec(foreign, native=host, local_engine=True)
    if not entry.exists():
        assert r.runnable is False
        assert r.reason == f"no binfmt handler {entry.name} registered"
        return
    lines = entry.read_text().splitlines()
    flags = next(ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("flags:"))
    globally_on = (BINFMT_DIR / "status").read_text().strip() == "enabled"
    assert r.runnable is (globally_on and lines[0] == "enabled" and "F" in flags)
    if r.runnable:
        assert entry.name in r.reason and flags in r.reason
