"""elf/sections.py: a section added to real executables, read back by three other readers, and the
programs still run.

The oracles are binutils (readelf, objcopy), lief (the parser cargo-auditable's PARSING.md names),
packbin's own parser, and the kernel or qemu-user running the edited file.
"""

from __future__ import annotations

import os
import re
import struct
import subprocess
from pathlib import Path

import pytest

from packbin.elf.parser import parse_elf
from packbin.elf.record import ElfError, NotElfError
from packbin.elf.sections import (
    ExtendedNumbering,
    NoSectionHeaders,
    SectionExists,
    add_section,
    find_section,
    section_range,
)
from tests.support import exec_programs
from tests.support.elf_fixtures import elf_fixture

pytestmark = pytest.mark.compiler

CONTENT = b"x\x9c" + bytes(range(256)) * 3 + b"packbin"
EXEC_ARCHES = sorted(exec_programs.EXEC_TARGETS)
FIXTURES = ["x86_64-static", "arm64-static-pie", "arm-static", "i386-static-pie", "s390x-static", "ppc-static",
            "ppc64le-static", "riscv64-static-pie", "x86_64-dynamic", "x86_64-shared", "x86_64-object"]  # fmt: skip
#: objcopy's generic BFD targets: the host's binutils may know only its own machine.
BFD = {
    (32, "little"): "elf32-little",
    (32, "big"): "elf32-big",
    (64, "little"): "elf64-little",
    (64, "big"): "elf64-big",
}


def _edited(path: Path, tmp_path: Path, content: bytes = CONTENT) -> Path:
    out = tmp_path / (path.name + ".dep")
    out.write_bytes(add_section(path.read_bytes(), ".dep-v0", content))
    out.chmod(0o755)
    return out


def _without_section_fields(image: bytes, elf_class: int) -> bytes:
    """``image`` with e_shoff and e_shnum (the only bytes add_section rewrites) zeroed."""
    img = bytearray(image)
    off_shoff, off_shnum, width = (40, 60, 8) if elf_class == 64 else (32, 48, 4)
    img[off_shoff : off_shoff + width] = bytes(width)
    img[off_shnum : off_shnum + 2] = bytes(2)
    return bytes(img)


def _loaded_bytes(path: Path) -> list[bytes]:
    """Every PT_LOAD's file bytes, the ELF header's section fields zeroed."""
    info = parse_elf(path)
    img = _without_section_fields(path.read_bytes(), info.elf_class)
    return [img[seg.offset : seg.offset + seg.filesz] for seg in info.loads]


@pytest.mark.parametrize("name", FIXTURES)
def test_added_section_leaves_the_program_alone(name: str, tmp_path: Path) -> None:
    src = elf_fixture(name).path
    before, out = parse_elf(src), _edited(src, tmp_path)
    after = parse_elf(out)
    assert after.program_table == before.program_table
    assert after.loads == before.loads and after.segments == before.segments
    assert _without_section_fields(after.header, after.elf_class) == _without_section_fields(
        before.header, before.elf_class
    )
    assert _loaded_bytes(out) == _loaded_bytes(src)
    assert (after.interpreter, after.needed, after.type_name, after.build_id, after.stripped) == (
        before.interpreter,
        before.needed,
        before.type_name,
        before.build_id,
        before.stripped,
    )
    assert find_section(out.read_bytes(), ".dep-v0") == CONTENT
    # Every old section is still there, with its bytes; the name table has one name more.
    for old in re.findall(r"^\s+\[\s*\d+\]\s+(\.\S+)", _readelf("-S", src), re.MULTILINE):
        if old != ".shstrtab":
            assert find_section(out.read_bytes(), old) == find_section(src.read_bytes(), old), old
    assert find_section(out.read_bytes(), ".shstrtab") == find_section(src.read_bytes(), ".shstrtab") + b".dep-v0\0"


def _readelf(flags: str, path: Path) -> str:
    proc = subprocess.run(
        ["readelf", flags, "--wide", str(path)],
        check=False,
        capture_output=True,
        text=True,
        env={**os.environ, "LC_ALL": "C"},
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout + proc.stderr


@pytest.mark.parametrize("name", FIXTURES)
def test_binutils_reads_the_section_and_the_same_segments(name: str, tmp_path: Path) -> None:
    fixture = elf_fixture(name)
    out = _edited(fixture.path, tmp_path)
    listing = _readelf("-lS", out)
    assert "Warning" not in listing and "Error" not in listing, listing
    row = re.search(
        r"\]\s+\.dep-v0\s+PROGBITS\s+0+\s+([0-9a-f]+)\s+([0-9a-f]+)\s+00\s+0\s+0\s+1$", listing, re.MULTILINE
    )
    assert row, listing  # flags empty, link 0, info 0, alignment 1
    assert int(row.group(2), 16) == len(CONTENT)
    segments = lambda text: text.split("Program Headers:")[1].split("Section to Segment")[0]
    if fixture.kind != "object":
        assert segments(listing) == segments(_readelf("-lS", fixture.path))
    dumped = tmp_path / "dumped"
    bfd = BFD[(fixture.elf_class, fixture.endian)]
    subprocess.run(["objcopy", "-I", bfd, "--dump-section", f".dep-v0={dumped}", str(out)], check=True)
    assert dumped.read_bytes() == CONTENT


@pytest.mark.parametrize("arch", EXEC_ARCHES)
def test_edited_programs_still_run(arch: str, tmp_path: Path) -> None:
    if exec_programs.runner(arch) is None:
        print(f"skip: nothing here runs {arch} programs ({exec_programs.EXEC_TARGETS[arch][1]} missing)")
        pytest.skip(f"no way to run {arch} programs on this host")
    src = exec_programs.exec_program(arch)
    before = exec_programs.run(arch, src)
    assert (before.returncode, before.stdout) == (exec_programs.EXIT_CODE, exec_programs.MESSAGE)
    out = _edited(src, tmp_path, os.urandom(70_000))
    after = exec_programs.run(arch, out)
    assert (after.returncode, after.stdout, after.stderr) == (before.returncode, before.stdout, before.stderr)


def test_lief_reads_the_section(tmp_path: Path) -> None:
    lief = pytest.importorskip("lief")
    for arch in EXEC_ARCHES:
        out = _edited(exec_programs.exec_program(arch), tmp_path)
        binary = lief.parse(str(out))
        assert binary is not None, arch
        section = next(s for s in binary.sections if s.name == ".dep-v0")
        assert bytes(section.content) == CONTENT, arch
        assert section.flags == 0 and section.alignment == 1, arch


def test_same_input_same_bytes(tmp_path: Path) -> None:
    image = exec_programs.exec_program("s390x").read_bytes()
    assert add_section(image, ".dep-v0", CONTENT) == add_section(bytes(image), ".dep-v0", CONTENT)


def test_the_old_trailing_table_is_dropped_not_kept() -> None:
    image = exec_programs.exec_program("x86_64").read_bytes()
    shoff, shnum = struct.unpack_from("<Q", image, 40)[0], struct.unpack_from("<H", image, 60)[0]
    assert shoff + shnum * 64 == len(image)  # the linker put the table last
    edited = add_section(image, ".dep-v0", b"")
    # The content (empty), the old names plus ".dep-v0\0", padding, one more header than before.
    names = find_section(edited, ".shstrtab")
    assert names is not None
    assert len(edited) <= shoff + len(names) + 7 + (shnum + 1) * 64
    assert find_section(edited, ".dep-v0") == b""


def test_refuses_a_second_section_of_the_name() -> None:
    once = add_section(exec_programs.exec_program("arm").read_bytes(), ".dep-v0", CONTENT)
    with pytest.raises(SectionExists, match=r"already has a \.dep-v0 section"):
        add_section(once, ".dep-v0", b"again")
    twice = add_section(once, ".other", b"two")  # another name is fine, and both read back
    assert (find_section(twice, ".dep-v0"), find_section(twice, ".other")) == (CONTENT, b"two")


def test_refuses_what_it_cannot_edit() -> None:
    image = bytearray(exec_programs.exec_program("x86_64").read_bytes())
    with pytest.raises(NotElfError):
        add_section(b"#!/bin/sh\n" * 10, ".dep-v0", b"")
    no_headers = bytearray(image)
    struct.pack_into("<Q", no_headers, 40, 0)
    with pytest.raises(NoSectionHeaders, match="e_shoff is 0"):
        add_section(bytes(no_headers), ".dep-v0", b"")
    extended = bytearray(image)
    struct.pack_into("<H", extended, 60, 0)
    with pytest.raises(ExtendedNumbering):
        add_section(bytes(extended), ".dep-v0", b"")
    xindex = bytearray(image)
    struct.pack_into("<H", xindex, 62, 0xFFFF)
    with pytest.raises(ExtendedNumbering):
        add_section(bytes(xindex), ".dep-v0", b"")
    past_end = bytearray(image)
    struct.pack_into("<Q", past_end, 40, len(image) - 10)
    with pytest.raises(ElfError, match="truncated section header table"):
        add_section(bytes(past_end), ".dep-v0", b"")
    bad_entsize = bytearray(image)
    struct.pack_into("<H", bad_entsize, 58, 40)
    with pytest.raises(ElfError, match="e_shentsize is 40, not 64"):
        add_section(bytes(bad_entsize), ".dep-v0", b"")
    with pytest.raises(NoSectionHeaders):
        find_section(bytes(no_headers), ".dep-v0")


def test_section_range_checks_the_section_against_the_file() -> None:
    image = add_section(exec_programs.exec_program("riscv64").read_bytes(), ".dep-v0", CONTENT)
    read = lambda offset, length: image[offset : offset + length]
    found = section_range(read, len(image), ".dep-v0")
    assert found is not None and image[found[0] : found[0] + found[1]] == CONTENT
    assert section_range(read, len(image), ".nothing") is None
    # The new entry is the last header: make its size reach past the end of the file.
    shoff, shnum = struct.unpack_from("<Q", image, 40)[0], struct.unpack_from("<H", image, 60)[0]
    broken = bytearray(image)
    struct.pack_into("<Q", broken, shoff + (shnum - 1) * 64 + 32, len(image))
    with pytest.raises(ElfError, match="ends past the end of the file"):
        find_section(bytes(broken), ".dep-v0")
