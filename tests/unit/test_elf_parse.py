"""The ELF reader on real files from real compilers, checked against what they must be and
against binutils' readelf."""

from __future__ import annotations

import dataclasses
import io
import os
import shutil
from pathlib import Path

import pytest

from packbin.elf.parser import is_elf, parse_elf, parse_elf_stream
from packbin.elf.record import DF_1_PIE, ElfInfo, NotElfError
from tests.support.elf_fixtures import FIXTURE_NAMES, elf_fixture, readelf_facts

pytestmark = [
    pytest.mark.skipif(shutil.which("readelf") is None, reason="binutils readelf is the reference"),
    pytest.mark.compiler,  # the zig/rustc-built ELF fixtures
]

READELF_TYPES = {"REL": 1, "EXEC": 2, "DYN": 3, "CORE": 4}


def assert_matches_readelf(info: ElfInfo, path: Path) -> None:
    ref = readelf_facts(path)
    assert ref.machine is not None, f"add readelf's machine name {ref.machine_text!r} to READELF_MACHINES"
    assert info.elf_class == ref.elf_class
    assert info.endian == ref.endian
    assert info.machine == ref.machine
    assert info.e_type == READELF_TYPES[ref.e_type]
    assert info.interpreter == ref.interpreter
    assert info.needed == ref.needed  # same names, same order
    assert info.soname == ref.soname
    assert bool(info.flags_1 & DF_1_PIE) == ref.pie_flag
    assert info.has_dynamic == ref.has_dynamic
    assert info.stripped == (not ref.has_symtab)
    assert info.build_id == ref.build_id


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_fixture_facts(name: str) -> None:
    fx = elf_fixture(name)
    info = parse_elf(fx.path)
    assert (info.machine, info.elf_class, info.endian) == (fx.machine, fx.elf_class, fx.endian)
    assert info.arch == fx.arch
    assert info.type_name == fx.type_name
    assert info.interpreter == fx.interpreter
    assert set(fx.needed) <= set(info.needed)
    if fx.toolchain == "zig" or fx.kind != "dynamic":
        assert info.needed == fx.needed
    assert info.soname == fx.soname
    assert info.stripped == fx.stripped
    assert (info.build_id is not None) == fx.build_id
    assert info.size == fx.path.stat().st_size
    if fx.kind == "static-pie":
        assert info.flags_1 & DF_1_PIE


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_fixture_matches_readelf(name: str) -> None:
    fx = elf_fixture(name)
    assert_matches_readelf(parse_elf(fx.path), fx.path)


class CountingStream(io.BytesIO):
    """A stream that records every read, to prove the reader reads little and never past the end."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.reads: list[tuple[int, int]] = []

    def read(self, n: int | None = -1, /) -> bytes:
        start = self.tell()
        data = super().read(n)
        self.reads.append((start, len(data)))
        return data


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_stream_parse_equals_path_parse_and_reads_little(name: str) -> None:
    fx = elf_fixture(name)
    data = fx.path.read_bytes()
    stream = CountingStream(data)
    assert parse_elf_stream(stream, len(data)) == parse_elf(fx.path)
    total = sum(n for _, n in stream.reads)
    assert all(start + n <= len(data) for start, n in stream.reads)
    # Header, program headers, dynamic segment, string table, notes, section headers: a few KB.
    assert total < 16384, f"read {total} of {len(data)} bytes"
    assert len(stream.reads) <= 12


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_parser_sets_every_field_of_the_record(name: str) -> None:
    # The parser fills ElfInfo's dict directly (its frozen __init__ is slow): a field it forgot
    # would only fail on first use, and an extra key would shadow a property.
    info = parse_elf(elf_fixture(name).path)
    assert set(vars(info)) == {f.name for f in dataclasses.fields(ElfInfo)}
    assert dataclasses.replace(info) == info  # the real __init__ accepts every value as set


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_is_elf(name: str) -> None:
    assert is_elf(elf_fixture(name).path)


def test_is_elf_false_for_scripts_and_empty(tmp_path: Path) -> None:
    script = tmp_path / "run.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    assert not is_elf(script)
    assert not is_elf(empty)
    with pytest.raises(NotElfError, match=r"starts with b'#!/b'"):
        parse_elf(script)
    with pytest.raises(NotElfError, match="empty file"):
        parse_elf(empty)


def test_missing_file_raises_oserror(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        parse_elf(tmp_path / "nope")


def test_fifo_does_not_block(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(NotElfError):
        parse_elf(fifo)


# Files of the host system: glibc-built executables, the dynamic loader, libc, a crt object.
SYSTEM_FILES = [
    "/usr/bin/ls",
    "/usr/bin/bash",
    "/lib64/ld-linux-x86-64.so.2",
    "/usr/lib/x86_64-linux-gnu/libc.so.6",
    "/usr/lib/x86_64-linux-gnu/libstdc++.so.6",
    "/usr/lib/x86_64-linux-gnu/crt1.o",
    "/usr/sbin/ldconfig",
]


@pytest.mark.parametrize("path", SYSTEM_FILES)
def test_system_file_matches_readelf(path: str) -> None:
    p = Path(path)
    if not p.is_file():
        pytest.skip(f"{path} not on this machine")
    assert_matches_readelf(parse_elf(p), p)


def test_arch_names() -> None:
    def info(machine: int, elf_class: int, endian: str) -> ElfInfo:
        return ElfInfo(
            elf_class=elf_class,
            endian=endian,
            machine=machine,
            e_type=2,
            type_name="exec",
            interpreter=None,
            needed=(),
            soname=None,
            flags_1=0,
            has_dynamic=False,
            load_segments=1,
            stripped=True,
            build_id=None,
            size=0,
            header=b"",
            program_table=None,
            section_table=None,
            gnu_property=None,
        )

    assert info(62, 64, "little").arch == "x86_64"
    assert info(183, 64, "little").arch == "arm64"
    assert info(40, 32, "big").arch == "armeb"
    assert info(22, 64, "big").arch == "s390x"
    assert info(0x1234, 64, "little").arch is None
