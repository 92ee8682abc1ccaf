"""The static-linkage policy on real files: what passes, what fails, and the words it uses."""

from __future__ import annotations

import dataclasses

import pytest

from packbin.arch import Architecture
from packbin.elf.parser import parse_elf
from packbin.elf.policy import describe_linkage, is_static, static_problems
from packbin.elf.record import ElfInfo
from tests.support.elf_fixtures import FIXTURE_NAMES, TARGETS, elf_fixture

# Builds real ELF files or crates (zig, gcc, cargo, rustc; cached after the first run).
pytestmark = pytest.mark.compiler


def arch_of(name: str) -> Architecture:
    """An Architecture as buildcfg.toml would declare it, for a fixture target's arch name."""
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


def info_of(name: str) -> ElfInfo:
    return parse_elf(elf_fixture(name).path)


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_verdict_without_arch(name: str) -> None:
    fx = elf_fixture(name)
    problems = static_problems(parse_elf(fx.path), None)
    assert (problems == ()) == fx.static_ok, problems


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_linkage_words(name: str) -> None:
    fx = elf_fixture(name)
    info = parse_elf(fx.path)
    expected = {
        "static": "static",
        "static-pie": "static-pie",
        "dynamic": "dynamic",
        "shared": "dynamic",
        "object": "static",
    }[fx.kind]
    assert describe_linkage(info) == expected
    assert is_static(info) == (fx.kind in ("static", "static-pie", "object"))


@pytest.mark.parametrize("target", [t.arch for t in TARGETS])
def test_static_files_pass_for_their_own_arch_and_fail_for_others(target: str) -> None:
    for kind in ("static", "static-pie"):
        info = info_of(f"{target}-{kind}")
        assert static_problems(info, arch_of(target)) == ()
        for other in (t.arch for t in TARGETS if t.arch != target):
            problems = static_problems(info, arch_of(other))
            assert len(problems) == 1 and problems[0].startswith("wrong architecture: "), problems


def test_the_issue_examples() -> None:
    assert static_problems(info_of("arm64-dynamic"), None) == (
        "dynamic: needs interpreter /lib/ld-musl-aarch64.so.1 and libc.so",
    )
    assert static_problems(info_of("x86_64-static"), arch_of("arm64")) == (
        "wrong architecture: x86_64 (EM_X86_64), expected arm64 (EM_AARCH64)",
    )


def test_dynamic_for_the_wrong_arch_lists_both_problems() -> None:
    assert static_problems(info_of("s390x-dynamic"), arch_of("x86_64")) == (
        "dynamic: needs interpreter /lib/ld-musl-s390x.so.1 and libc.so",
        "wrong architecture: s390x (EM_S390), expected x86_64 (EM_X86_64)",
    )


def test_shared_library() -> None:
    assert static_problems(info_of("ppc-shared"), arch_of("ppc")) == (
        "shared library (libpackbin.so.1), not an executable",
        "dynamic: needs libc.so",
    )
    # Without a soname and without needed libraries it is still not an executable.
    bare = dataclasses.replace(info_of("x86_64-shared"), soname=None, needed=())
    assert static_problems(bare, None) == ("shared library, not an executable",)
    assert describe_linkage(bare) == "dynamic"


def test_relocatable_object() -> None:
    assert static_problems(info_of("riscv64-object"), None) == ("relocatable object file, not an executable",)


def test_glibc_programs() -> None:
    dynamic = static_problems(info_of("rust-dynamic"), arch_of("x86_64"))
    assert len(dynamic) == 1
    assert dynamic[0].startswith("dynamic: needs interpreter /lib64/ld-linux-x86-64.so.2 and ")
    assert "libc.so.6" in dynamic[0]
    static_pie = info_of("rust-static-pie")
    assert static_problems(static_pie, arch_of("x86_64")) == ()
    assert describe_linkage(static_pie) == "static-pie"


def test_pie_without_interpreter_but_with_needed_is_dynamic() -> None:
    info = dataclasses.replace(info_of("x86_64-static-pie"), needed=("libc.so",))
    assert static_problems(info, None) == ("dynamic: needs libc.so",)
    assert describe_linkage(info) == "dynamic"


def test_same_machine_other_class_or_byte_order() -> None:
    info = info_of("arm-static")
    armeb = dataclasses.replace(info, endian="big")
    assert static_problems(armeb, arch_of("arm")) == (
        "wrong architecture: armeb (EM_ARM, 32-bit big-endian), expected arm (EM_ARM, 32-bit little-endian)",
    )
    ppc64 = dataclasses.replace(info_of("ppc64le-static"), endian="big")
    assert static_problems(ppc64, arch_of("ppc64le")) == (
        "wrong architecture: ppc64 (EM_PPC64, 64-bit big-endian), expected ppc64le (EM_PPC64, 64-bit little-endian)",
    )


def test_core_and_unknown_types() -> None:
    info = info_of("x86_64-static")
    assert static_problems(dataclasses.replace(info, e_type=4, type_name="core"), None) == (
        "core dump, not an executable",
    )
    assert static_problems(dataclasses.replace(info, e_type=0xFE00, type_name="unknown"), None) == (
        "unknown ELF type 0xfe00, not an executable",
    )


def test_unknown_machine_is_named_by_number() -> None:
    info = dataclasses.replace(info_of("x86_64-static"), machine=0x1234)
    assert static_problems(info, arch_of("x86_64")) == (
        "wrong architecture: unknown (EM_4660), expected x86_64 (EM_X86_64)",
    )


def test_executable_without_loadable_segment_fails(tmp_path: object) -> None:
    """Corrupt case (hand-edited bytes of a real static binary): every PT_LOAD turned into PT_NULL."""
    import struct
    from pathlib import Path

    data = bytearray(Path(elf_fixture("x86_64-static").path).read_bytes())
    (phoff,) = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    for i in range(phnum):
        off = phoff + i * phentsize
        if struct.unpack_from("<I", data, off)[0] == 1:  # PT_LOAD
            struct.pack_into("<I", data, off, 0)  # PT_NULL
    path = Path(str(tmp_path)) / "noload"
    path.write_bytes(bytes(data))
    info = parse_elf(path)
    assert info.load_segments == 0
    assert static_problems(info, None) == ("no loadable segment (PT_LOAD): the kernel cannot run it",)
    assert parse_elf(elf_fixture("x86_64-static").path).load_segments >= 1
