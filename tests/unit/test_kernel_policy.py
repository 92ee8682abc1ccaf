"""The findings of issue 8 about verdicts the kernel disagrees with, on real programs.

Each file starts as a real x86_64 program (zig's musl builds) and is changed the way the issue
describes; the verifier must refuse it, and say why.
"""

from __future__ import annotations

import platform
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from packbin.config.model import builtin_config
from packbin.elf.loaders import KERNEL_LOADERS
from packbin.elf.parser import parse_elf
from packbin.elf.policy import loader_problems, static_problems
from packbin.elf.record import ElfError
from packbin.elf.verify import verify_file
from tests.support.elf_fixtures import elf_fixture

# Builds real ELF files or crates (zig, gcc, cargo, rustc; cached after the first run).
pytestmark = pytest.mark.compiler

X86_64 = builtin_config().arch("x86_64")


def _write(tmp_path: Path, data: bytes, name: str = "f") -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


@pytest.fixture(scope="module")
def gcc_dynamic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A dynamic non-PIE x86_64 program by the host's gcc (the issue's example)."""
    gcc = shutil.which("gcc")
    if gcc is None or platform.machine() != "x86_64":
        pytest.skip("needs the host's gcc on x86_64")
    d = tmp_path_factory.mktemp("gcc")
    (d / "hello.c").write_text('#include <stdio.h>\nint main(void) { puts("hello"); return 0; }\n')
    subprocess.run([gcc, "-O2", "-no-pie", "-o", str(d / "hello"), str(d / "hello.c")], check=True)
    return d / "hello"


@pytest.mark.parametrize("value", [57, 64, 67, 1999])
@pytest.mark.parametrize("program", ["gcc", "zig"])
def test_phentsize_the_kernel_refuses_is_refused(
    tmp_path: Path, value: int, program: str, request: pytest.FixtureRequest
) -> None:
    # Issue 8: e_phentsize 67 on gcc's dynamic program made the parser step over PT_INTERP: "ok".
    path = request.getfixturevalue("gcc_dynamic") if program == "gcc" else elf_fixture("x86_64-dynamic").path
    data = bytearray(path.read_bytes())
    struct.pack_into("<H", data, 54, value)
    for arch in (None, X86_64):
        result = verify_file(_write(tmp_path, bytes(data)), arch)
        assert not result.ok
        assert any("e_phentsize" in p or "malformed" in p for p in result.problems), result.problems


def test_class_trick_is_refused(tmp_path: Path) -> None:
    """EI_CLASS 1 with EM_X86_64 and a 32-bit program header table where the kernel does not look.

    The kernel's x86_64 loader reads the header as ELF64 (its phdrs at e_phoff64, PT_INTERP and
    all); the parser reads the ELF32 view, which holds one PT_LOAD and nothing else.
    """
    data = bytearray(elf_fixture("x86_64-dynamic").path.read_bytes())
    size = len(data)
    table = size + (-size % 4)
    data += bytes(table - size)
    data += struct.pack("<IIIIIIII", 1, 0, 0x400000, 0x400000, 0x1000, 0x1000, 5, 0x1000)  # PT_LOAD
    data[4] = 1  # ELFCLASS32
    struct.pack_into("<I", data, 28, table)  # e_phoff32: the high half of e_entry64 (the kernel runs ld.so first)
    # e_ehsize32 e_phentsize32 e_phnum32 e_shentsize32 live in e_shoff64, which the kernel never reads.
    # e_shoff32 is the low half of e_phoff64 (the real table, kept for the kernel): read as a section
    # header 0, its sh_size is 0, so the parser finds no sections.
    struct.pack_into("<HHHH", data, 40, 52, 32, 1, 40)
    p = _write(tmp_path, bytes(data))
    info = parse_elf(p)
    assert info.elf_class == 32 and info.machine == 62 and info.interpreter is None  # what the parser sees
    result = verify_file(p, None)
    assert not result.ok
    assert any("ELF32 header with EM_X86_64" in x for x in result.problems), result.problems
    assert not verify_file(p, X86_64).ok


def test_every_modelled_machine_passes_its_own_real_static_programs() -> None:
    for name in ("x86_64", "arm64", "arm", "i386", "riscv64", "ppc64le", "s390x", "ppc"):
        for kind in ("static", "static-pie"):
            info = parse_elf(elf_fixture(f"{name}-{kind}").path)
            assert info.machine in KERNEL_LOADERS
            assert loader_problems(info) == [], (name, kind)


def test_unknown_machine_is_not_guessed(tmp_path: Path) -> None:
    data = bytearray(elf_fixture("x86_64-static").path.read_bytes())
    struct.pack_into("<H", data, 18, 0x1234)
    problems = static_problems(parse_elf(_write(tmp_path, bytes(data))), None)
    assert problems == ("unknown machine EM_4660: packbin does not know how Linux loads it",)


@pytest.mark.parametrize(
    ("offset", "fmt", "value", "words"),
    [
        (56, "<H", 0xFFFF, "e_phnum is 65535"),  # PN_XNUM: the kernel does not resolve it (the parser does)
        (56, "<H", 100, "e_phnum is 100"),  # more than fits in the loader's limit
        (6, "<B", 0, "EI_VERSION is 0"),  # qemu-user
        (52, "<H", 65, "e_ehsize is 65"),  # qemu-user
        (24, "<Q", 0x10, "entry point 0x10"),
    ],
)
def test_header_fields_the_loader_reads(tmp_path: Path, offset: int, fmt: str, value: int, words: str) -> None:
    data = bytearray(elf_fixture("x86_64-static").path.read_bytes())
    struct.pack_into(fmt, data, offset, value)
    try:
        info = parse_elf(_write(tmp_path, bytes(data)))
    except ElfError:
        return  # the parser refusing it is fine too
    problems = static_problems(info, X86_64)
    assert any(words in p for p in problems), problems


def test_a_dropped_pt_load_is_refused(tmp_path: Path) -> None:
    data = bytearray(elf_fixture("x86_64-static").path.read_bytes())
    info = parse_elf(_write(tmp_path, bytes(data)))
    phoff, phentsize = info.phoff, info.phentsize
    index = [i for i, (t, _) in enumerate(s for s in info.segments) if t == 1][-1]
    struct.pack_into("<I", data, phoff + index * phentsize, 0)  # the last PT_LOAD becomes PT_NULL
    problems = static_problems(parse_elf(_write(tmp_path, bytes(data))), X86_64)
    assert problems, "a program missing its data segment must not pass"


def test_init_packs_keeps_the_static_binary_against_the_phentsize_trick(tmp_path: Path, gcc_dynamic: Path) -> None:
    """Issue 8: init-packs let the e_phentsize-67 file replace the good static binary in DEST."""
    from packbin.deploy import init_packs_dir

    src, dest = tmp_path / "src", tmp_path / "dest"
    (src / "core" / "sensors").mkdir(parents=True)
    (dest / "core" / "sensors").mkdir(parents=True)
    good = elf_fixture("x86_64-static").path.read_bytes()
    (dest / "core" / "sensors" / "sensor").write_bytes(good)
    trick = bytearray(gcc_dynamic.read_bytes())
    struct.pack_into("<H", trick, 54, 67)
    (src / "core" / "sensors" / "sensor").write_bytes(bytes(trick))
    report = init_packs_dir(source=src, dest=dest, binaries=None, arch=X86_64)
    assert [p for p, _ in report.preserved] == ["core/sensors/sensor"]
    assert (dest / "core" / "sensors" / "sensor").read_bytes() == good
