"""Corrupt input: every case ends in ElfError (with a precise message) or a verdict, quickly.

The corrupt files start from real fixtures; this module knows the ELF layout itself (with struct,
independently of packbin.elf) to know where to cut and what to overwrite.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import re
import struct
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from packbin.elf.parser import parse_elf, parse_elf_stream
from packbin.elf.policy import loader_problems, static_problems
from packbin.elf.record import ElfError, ElfInfo, NotElfError
from tests.support.elf_fixtures import elf_fixture

# Builds real ELF files or crates (zig, gcc, cargo, rustc; cached after the first run).
pytestmark = pytest.mark.compiler

PT_LOAD, PT_DYNAMIC, PT_INTERP, PT_NOTE = 1, 2, 3, 4
DT_NULL, DT_NEEDED, DT_STRTAB, DT_STRSZ, DT_DEBUG = 0, 1, 5, 10, 21

# Field name -> (offset, struct code) for ELF64 and ELF32 file headers.
EHDR = {
    64: {
        "e_phoff": (32, "Q"),
        "e_shoff": (40, "Q"),
        "e_phentsize": (54, "H"),
        "e_phnum": (56, "H"),
        "e_shentsize": (58, "H"),
        "e_shnum": (60, "H"),
    },
    32: {
        "e_phoff": (28, "I"),
        "e_shoff": (32, "I"),
        "e_phentsize": (42, "H"),
        "e_phnum": (44, "H"),
        "e_shentsize": (46, "H"),
        "e_shnum": (48, "H"),
    },
}
PHDR = {
    64: {"p_type": (0, "I"), "p_offset": (8, "Q"), "p_vaddr": (16, "Q"), "p_filesz": (32, "Q"), "p_align": (48, "Q")},
    32: {"p_type": (0, "I"), "p_offset": (4, "I"), "p_vaddr": (8, "I"), "p_filesz": (16, "I"), "p_align": (28, "I")},
}
SHDR_SIZE_FIELD = {64: (32, "Q"), 32: (20, "I")}


class Image:
    """A mutable ELF image with just enough layout knowledge to corrupt it on purpose."""

    def __init__(self, data: bytes) -> None:
        self.data = bytearray(data)
        self.cls = 64 if data[4] == 2 else 32
        self.e = "<" if data[5] == 1 else ">"
        self.word = "Q" if self.cls == 64 else "I"

    def _get(self, off: int, code: str) -> int:
        return int(struct.unpack_from(self.e + code, self.data, off)[0])

    def _set(self, off: int, code: str, value: int) -> None:
        mask = (1 << (8 * struct.calcsize(code))) - 1
        struct.pack_into(self.e + code, self.data, off, value & mask)

    def get(self, name: str) -> int:
        return self._get(*EHDR[self.cls][name])

    def set(self, name: str, value: int) -> Image:
        off, code = EHDR[self.cls][name]
        self._set(off, code, value)
        return self

    @property
    def ehdr_size(self) -> int:
        return 64 if self.cls == 64 else 52

    def ph_at(self, i: int) -> int:
        return self.get("e_phoff") + i * self.get("e_phentsize")

    def phdrs(self) -> list[dict[str, int]]:
        out = []
        for i in range(self.get("e_phnum")):
            at = self.ph_at(i)
            out.append({"index": i, "at": at, **{k: self._get(at + o, c) for k, (o, c) in PHDR[self.cls].items()}})
        return out

    def ph(self, p_type: int) -> dict[str, int]:
        return next(p for p in self.phdrs() if p["p_type"] == p_type)

    def set_ph(self, index: int, name: str, value: int) -> Image:
        off, code = PHDR[self.cls][name]
        self._set(self.ph_at(index) + off, code, value)
        return self

    def dyn_entries(self) -> list[tuple[int, int, int]]:
        """(file offset of the entry, tag, value) for every entry of PT_DYNAMIC."""
        d = self.ph(PT_DYNAMIC)
        ent = 16 if self.cls == 64 else 8
        out = []
        for at in range(d["p_offset"], d["p_offset"] + d["p_filesz"] - ent + 1, ent):
            tag, val = struct.unpack_from(self.e + self.word * 2, self.data, at)
            out.append((at, tag, val))
        return out

    def set_dyn(self, at: int, tag: int | None = None, val: int | None = None) -> Image:
        size = 8 if self.cls == 64 else 4
        if tag is not None:
            self._set(at, self.word, tag)
        if val is not None:
            self._set(at + size, self.word, val)
        return self

    def dyn(self, tag: int) -> tuple[int, int, int]:
        return next(e for e in self.dyn_entries() if e[1] == tag)

    def regions(self) -> list[tuple[int, int]]:
        """(start, length) of every structure the reader looks at: where mutations matter."""
        out = [(0, self.ehdr_size)]
        out.append((self.get("e_phoff"), self.get("e_phnum") * self.get("e_phentsize")))
        if self.get("e_shoff"):
            out.append((self.get("e_shoff"), self.get("e_shnum") * self.get("e_shentsize")))
        for p in self.phdrs():
            if p["p_type"] in (PT_DYNAMIC, PT_INTERP, PT_NOTE):
                out.append((p["p_offset"], p["p_filesz"]))
        return [(s, n) for s, n in out if n > 0 and s + n <= len(self.data)]

    def bytes(self) -> bytes:
        return bytes(self.data)


def parse_bytes(data: bytes) -> ElfInfo:
    return parse_elf_stream(io.BytesIO(data), len(data))


def outcome(data: bytes, budget: float = 1.0) -> ElfInfo | ElfError:
    """Parse; return the info or the ElfError. Anything else propagates (a bug); so does slowness."""
    start = time.perf_counter()
    result: ElfInfo | ElfError
    try:
        info = parse_bytes(data)
    except ElfError as e:
        result = e
    else:
        static_problems(info, None)  # the policy must take whatever the parser returns
        result = info
    elapsed = time.perf_counter() - start
    assert elapsed < budget, f"took {elapsed:.3f}s"
    return result


BASES = ["x86_64-dynamic", "ppc-dynamic", "arm64-static-pie", "s390x-shared", "i386-static", "arm-object"]
# The dynamic ones cover every structure (INTERP, DYNAMIC, NOTE, sections); one per byte order/class.
DYNAMIC_BASES = ["x86_64-dynamic", "ppc-dynamic", "arm-dynamic", "s390x-dynamic"]


def image(name: str) -> Image:
    return Image(elf_fixture(name).path.read_bytes())


# -- truncation -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", BASES)
def test_truncated_at_every_header_boundary(name: str) -> None:
    img = image(name)
    data = img.bytes()
    cuts = set(range(img.ehdr_size + 2))
    for start, length in img.regions():
        cuts |= {start - 1, start, start + 1, start + length - 1, start + length}
    for p in img.phdrs():
        cuts |= {p["at"], p["at"] + 1}
    if img.get("e_shoff"):
        shoff, ent = img.get("e_shoff"), img.get("e_shentsize")
        cuts |= {shoff + i * ent for i in range(img.get("e_shnum") + 1)}
    cuts |= {len(data) - 1}
    ph_end = img.get("e_phoff") + img.get("e_phnum") * img.get("e_phentsize")
    sh_end = img.get("e_shoff") + img.get("e_shnum") * img.get("e_shentsize")
    needed_end = max(ph_end, sh_end)
    for n in sorted(c for c in cuts if 0 <= c < len(data)):
        result = outcome(data[:n])
        if n < 4:
            assert isinstance(result, NotElfError), n
        elif n < needed_end:
            # Something the reader needs is cut off: always an error, never a verdict.
            assert isinstance(result, ElfError) and not isinstance(result, NotElfError), (n, result)
        if img.ehdr_size <= n < ph_end and img.get("e_phoff") >= img.ehdr_size:
            assert str(result) == f"truncated program header table: ends at {ph_end:#x}, file is {n:#x} bytes"


def test_short_files() -> None:
    data = elf_fixture("x86_64-static").path.read_bytes()
    assert str(outcome(b"")) == "empty file (0 bytes), not an ELF file"
    for n in range(1, 4):
        assert isinstance(outcome(data[:n]), NotElfError)
    for n in range(4, 16):
        assert str(outcome(data[:n])) == f"truncated ELF identification: file is {n} bytes, e_ident needs 16"
    for n in range(16, 64):
        assert str(outcome(data[:n])) == f"truncated ELF64 file header: ends at 0x40, file is {n:#x} bytes"


def test_zero_length_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.touch()
    with pytest.raises(NotElfError, match="empty file"):
        parse_elf(empty)


# -- lying offsets and sizes ----------------------------------------------------------------------

Mutation = Callable[[Image], object]


def _without_terminator(img: Image) -> None:
    for at, tag, _ in img.dyn_entries():
        if tag == DT_NULL:
            img.set_dyn(at, tag=DT_DEBUG)


def _note_desc_huge(img: Image) -> None:
    note = img.ph(PT_NOTE)
    img._set(note["p_offset"] + 4, "I", 0x7FFFFFF0)


def _sh0_size_huge(img: Image) -> None:
    off, code = SHDR_SIZE_FIELD[img.cls]
    img.set("e_shnum", 0)
    img._set(img.get("e_shoff") + off, code, 0xFFFFFFF)


def _no_loads(img: Image) -> None:
    for p in img.phdrs():
        if p["p_type"] == PT_LOAD:
            img.set_ph(p["index"], "p_type", 0)


LIES: list[tuple[str, Mutation, str]] = [
    ("e_phoff at end of file", lambda i: i.set("e_phoff", len(i.data)), r"^truncated program header table: ends at 0x"),
    ("e_phoff huge", lambda i: i.set("e_phoff", 1 << (i.cls - 1)), r"^truncated program header table"),
    ("e_phnum huge", lambda i: i.set("e_phnum", 0xFFFE), r"^truncated program header table"),
    (
        "e_phentsize tiny",
        lambda i: i.set("e_phentsize", 8),
        r"^e_phentsize 8 is smaller than an ELF(32|64) program header",
    ),
    (
        "e_phnum PN_XNUM without sections",
        lambda i: i.set("e_phnum", 0xFFFF).set("e_shoff", 0),
        r"PN_XNUM .* no section header 0",
    ),
    (
        "e_shoff near end",
        lambda i: i.set("e_shoff", len(i.data) - 10),
        r"^truncated (section header 0|section header table)",
    ),
    ("e_shnum huge", lambda i: i.set("e_shnum", 0xFFFE), r"^truncated section header table"),
    ("e_shentsize tiny", lambda i: i.set("e_shentsize", 4), r"^e_shentsize 4 is smaller"),
    ("extended e_shnum huge", _sh0_size_huge, r"^truncated section header table"),
    ("EI_CLASS 3", lambda i: i.data.__setitem__(4, 3), r"^invalid EI_CLASS 3"),
    ("EI_DATA 0", lambda i: i.data.__setitem__(5, 0), r"^invalid EI_DATA 0"),
    (
        "PT_INTERP offset past end",
        lambda i: i.set_ph(i.ph(PT_INTERP)["index"], "p_offset", len(i.data) - 4),
        r"^truncated PT_INTERP segment",
    ),
    (
        "PT_INTERP longer than PATH_MAX",
        lambda i: i.set_ph(i.ph(PT_INTERP)["index"], "p_filesz", 0x10000),
        r"longer than PATH_MAX",
    ),
    ("PT_INTERP one byte", lambda i: i.set_ph(i.ph(PT_INTERP)["index"], "p_filesz", 1), r"too short for a path"),
    (
        "PT_INTERP without NUL",
        lambda i: i.set_ph(i.ph(PT_INTERP)["index"], "p_filesz", i.ph(PT_INTERP)["p_filesz"] - 1),
        r"not NUL-terminated",
    ),
    (
        "PT_DYNAMIC offset past end",
        lambda i: i.set_ph(i.ph(PT_DYNAMIC)["index"], "p_offset", len(i.data) - 8),
        r"^truncated dynamic segment",
    ),
    (
        "PT_DYNAMIC size huge",
        lambda i: i.set_ph(i.ph(PT_DYNAMIC)["index"], "p_filesz", 0xFFFFFF00),
        r"^truncated dynamic segment",
    ),
    ("dynamic segment without DT_NULL", _without_terminator, r"has no DT_NULL terminator"),
    (
        "DT_STRTAB outside every PT_LOAD",
        lambda i: i.set_dyn(i.dyn(DT_STRTAB)[0], val=0xDEAD0000),
        r"^DT_STRTAB address 0xdead0000 is not inside the file image of any PT_LOAD segment$",
    ),
    ("no PT_LOAD at all", _no_loads, r"is not inside the file image of any PT_LOAD"),
    ("DT_STRTAB missing", lambda i: i.set_dyn(i.dyn(DT_STRTAB)[0], tag=DT_DEBUG), r"no DT_STRTAB"),
    ("DT_STRSZ huge", lambda i: i.set_dyn(i.dyn(DT_STRSZ)[0], val=0xFFFFFFF0), r"^truncated dynamic string table"),
    (
        "DT_NEEDED offset outside the table",
        lambda i: i.set_dyn(i.dyn(DT_NEEDED)[0], val=i.dyn(DT_STRSZ)[2] + 5),
        r"^DT_NEEDED name offset 0x[0-9a-f]+ is outside the dynamic string table",
    ),
    (
        "PT_NOTE offset past end",
        lambda i: i.set_ph(i.ph(PT_NOTE)["index"], "p_offset", len(i.data) - 4),
        r"^truncated PT_NOTE segment",
    ),
    ("note descriptor runs off the segment", _note_desc_huge, r"runs past the end of its PT_NOTE segment"),
]


@pytest.mark.parametrize("name", DYNAMIC_BASES)
@pytest.mark.parametrize(("what", "mutate", "message"), LIES, ids=[w for w, _, _ in LIES])
def test_lying_fields_give_precise_errors(name: str, what: str, mutate: Mutation, message: str) -> None:
    img = image(name)
    assert isinstance(outcome(img.bytes()), ElfInfo)  # the unmutated base parses
    mutate(img)
    result = outcome(img.bytes())
    assert isinstance(result, ElfError), f"{what}: got a verdict {result}"
    assert re.search(message, str(result)), str(result)


@pytest.mark.parametrize("name", DYNAMIC_BASES)
def test_overlapping_segments_give_a_verdict(name: str) -> None:
    img = image(name)
    expected = parse_bytes(img.bytes())
    loads = [p for p in img.phdrs() if p["p_type"] == PT_LOAD]
    # Every PT_LOAD covers the whole file at the first one's address: they all overlap.
    for p in loads:
        for field in ("p_offset", "p_vaddr", "p_filesz"):
            img.set_ph(p["index"], field, loads[0][field])
    result = outcome(img.bytes())
    assert isinstance(result, (ElfInfo, ElfError))
    # PT_DYNAMIC overlapping the program header table: its bytes read as dynamic entries.
    img = image(name)
    img.set_ph(img.ph(PT_DYNAMIC)["index"], "p_offset", img.get("e_phoff"))
    assert isinstance(outcome(img.bytes()), (ElfInfo, ElfError))
    # A second PT_LOAD duplicated over the first: the first mapping wins, names still resolve.
    img = image(name)
    if len(loads) >= 2:
        src = loads[0]
        for field in ("p_offset", "p_vaddr", "p_filesz"):
            img.set_ph(loads[1]["index"], field, src[field])
        result = outcome(img.bytes())
        if isinstance(result, ElfInfo):
            assert result.interpreter == expected.interpreter


SHDR_INFO_FIELD = {64: (44, "I"), 32: (28, "I")}


@pytest.mark.parametrize("name", DYNAMIC_BASES)
def test_extended_numbering_in_section_zero(name: str) -> None:
    # PN_XNUM / e_shnum == 0: the real counts live in section header 0 (sh_info, sh_size).
    img = image(name)
    expected = parse_bytes(img.bytes())
    phnum, shnum, shoff = img.get("e_phnum"), img.get("e_shnum"), img.get("e_shoff")
    img.set("e_phnum", 0xFFFF).set("e_shnum", 0)
    img._set(shoff + SHDR_INFO_FIELD[img.cls][0], "I", phnum)
    img._set(shoff + SHDR_SIZE_FIELD[img.cls][0], SHDR_SIZE_FIELD[img.cls][1], shnum)
    got = parse_bytes(img.bytes())
    # The parser resolves the counts; it keeps e_phnum as written, because the kernel does not
    # resolve PN_XNUM (load_elf_phdrs reads 0xffff entries and refuses), which the policy says.
    # (Section 0's raw bytes differ: they now carry the counts.)
    assert dataclasses.replace(got, header=expected.header, section_table=expected.section_table) == expected
    assert got.phnum == 0xFFFF and expected.phnum == phnum
    assert got.alloc_sections == expected.alloc_sections and got.segments == expected.segments
    assert any("e_phnum is 65535" in p for p in loader_problems(got))


def test_dynamic_without_terminator_message() -> None:
    img = image("x86_64-dynamic")
    dyn = img.ph(PT_DYNAMIC)
    _without_terminator(img)
    assert str(outcome(img.bytes())) == (
        f"dynamic segment at {dyn['p_offset']:#x} ({dyn['p_filesz']:#x} bytes) has no DT_NULL terminator"
    )


# -- a 4 GiB sparse file --------------------------------------------------------------------------

FOUR_GIB = 4 << 30


def _sparse(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "sparse.elf"
    with open(path, "wb") as f:
        f.write(data)
        f.truncate(FOUR_GIB)
    if path.stat().st_blocks * 512 > 64 << 20:
        pytest.skip("this file system does not make sparse files")
    return path


Check = Callable[["ElfInfo | ElfError"], bool]


def _dynamic(r: ElfInfo | ElfError) -> bool:
    return isinstance(r, ElfInfo) and r.interpreter == "/lib/ld-musl-x86_64.so.1" and r.needed == ("libc.so",)


SPARSE_CASES: list[tuple[str, Mutation, Check]] = [
    ("valid header, 4 GiB of holes after it", lambda i: None, _dynamic),
    (
        "section headers in the hole",
        lambda i: i.set("e_shoff", FOUR_GIB - (8 << 20)).set("e_shnum", 0xFFFE),
        lambda r: _dynamic(r) and isinstance(r, ElfInfo) and r.stripped,
    ),
    # All-zero program headers are PT_NULL: nothing dynamic left to see.
    (
        "program headers in the hole",
        lambda i: i.set("e_phoff", 3 << 30).set("e_phnum", 0xFFFE),
        lambda r: isinstance(r, ElfInfo) and r.interpreter is None and not r.has_dynamic,
    ),
    # Zeros start with DT_NULL: an empty dynamic segment.
    (
        "dynamic segment of 2 GiB in the hole",
        lambda i: i.set_ph(i.ph(PT_DYNAMIC)["index"], "p_offset", 2 << 30).set_ph(
            i.ph(PT_DYNAMIC)["index"], "p_filesz", 2 << 30
        ),
        lambda r: isinstance(r, ElfInfo) and r.has_dynamic and r.needed == (),
    ),
    (
        "note segment of 3 GiB in the hole",
        lambda i: i.set_ph(i.ph(PT_NOTE)["index"], "p_offset", 1 << 30).set_ph(
            i.ph(PT_NOTE)["index"], "p_filesz", 3 << 30
        ),
        lambda r: _dynamic(r) and isinstance(r, ElfInfo) and r.build_id is None,
    ),
    (
        "interpreter of 3 GiB",
        lambda i: i.set_ph(i.ph(PT_INTERP)["index"], "p_filesz", 3 << 30),
        lambda r: isinstance(r, ElfError) and "longer than PATH_MAX" in str(r),
    ),
    ("string table of 3 GiB", lambda i: i.set_dyn(i.dyn(DT_STRSZ)[0], val=3 << 30), _dynamic),
    # Extended numbering: 50 million program headers (2.8 GB) would fit in the file.
    (
        "PN_XNUM count of 50 million",
        lambda i: (i.set("e_phnum", 0xFFFF).set("e_phoff", 64), i._set(i.get("e_shoff") + 44, "I", 50_000_000)),
        lambda r: isinstance(r, ElfError) and "program header table has 50000000 entries" in str(r),
    ),
]


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("what", "mutate", "check"), SPARSE_CASES, ids=[w for w, _, _ in SPARSE_CASES])
def test_four_gib_sparse_file(what: str, mutate: Mutation, check: Check, tmp_path: Path) -> None:
    img = image("x86_64-dynamic")
    mutate(img)
    path = _sparse(tmp_path, img.bytes())
    tracemalloc.start()
    start = time.perf_counter()
    try:
        result: ElfInfo | ElfError = parse_elf(path)
    except ElfError as e:
        result = e
    elapsed = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    path.unlink()
    assert elapsed < 2.0, f"{what}: {elapsed:.2f}s"
    assert peak < 16 << 20, f"{what}: allocated {peak} bytes"
    if isinstance(result, ElfInfo):
        assert result.size == FOUR_GIB
    assert check(result), result


# -- property test: mutated real files -------------------------------------------------------------

HYPOTHESIS_BASES = ["x86_64-dynamic", "ppc-dynamic", "s390x-shared", "arm-static-pie", "riscv64-static", "i386-object"]
_BASE_BYTES: dict[str, tuple[bytes, list[tuple[int, int]]]] = {}


def _base(name: str) -> tuple[bytes, list[tuple[int, int]]]:
    if name not in _BASE_BYTES:
        img = image(name)
        _BASE_BYTES[name] = (img.bytes(), img.regions())
    return _BASE_BYTES[name]


SPECIAL = st.sampled_from(
    [0, 1, 2, 3, 4, 0x7F, 0xFF, 0xFFFF, 0xFFFE, 0x7FFFFFFF, 0xFFFFFFFF, 1 << 31, 1 << 32, 1 << 63, (1 << 64) - 1]
)


class BoundedStream(io.BytesIO):
    """Fails the test if the reader asks for more bytes than the file holds in one read."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.size = len(data)

    def read(self, n: int | None = -1, /) -> bytes:
        assert n is not None and 0 <= n <= self.size, f"read of {n} bytes from a {self.size}-byte file"
        return super().read(n)


@settings(max_examples=1500, deadline=1000)
@given(data=st.data())
def test_mutated_fixtures_end_in_elferror_or_verdict(data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(HYPOTHESIS_BASES), label="base")
    raw, regions = _base(name)
    buf = bytearray(raw)
    for _ in range(data.draw(st.integers(1, 4), label="mutations")):
        start, length = data.draw(st.sampled_from(regions), label="region")
        at = start + data.draw(st.integers(0, max(0, length - 1)), label="offset")
        if at < 4 and data.draw(st.integers(0, 9)):
            at += 4  # mostly keep the magic: a file that is not ELF at all teaches little
        kind = data.draw(st.sampled_from(["flip"] * 4 + ["write"] * 4 + ["truncate"]), label="kind")
        if kind == "flip" and at < len(buf):
            buf[at] ^= 1 << data.draw(st.integers(0, 7), label="bit")
        elif kind == "write":
            width = data.draw(st.sampled_from([1, 2, 4, 8]), label="width")
            value = data.draw(st.one_of(SPECIAL, st.integers(0, (1 << 64) - 1), st.just(len(buf))), label="value")
            chunk = (value & ((1 << (8 * width)) - 1)).to_bytes(width, data.draw(st.sampled_from(["little", "big"])))
            buf[at : at + width] = chunk
        else:
            del buf[at:]
    mutated = bytes(buf)
    start_time = time.perf_counter()
    try:
        info = parse_elf_stream(BoundedStream(mutated), len(mutated))
    except ElfError as e:
        event(f"ElfError: {str(e).split(':')[0][:40]}")
    else:
        event("verdict")
        assert isinstance(info, ElfInfo)
        assert info.size == len(mutated)
        assert all(isinstance(n, str) for n in info.needed)
        static_problems(info, None)
    assert time.perf_counter() - start_time < 0.5


# -- an added .dep-v0 section, corrupted: the reader of the section says why, never crashes -----


@functools.cache
def _with_dep_section(name: str) -> tuple[bytes, list[tuple[int, int]]]:
    """A fixture with a .dep-v0 section, and the regions the edit wrote (section header table,
    names, content) for the mutations to aim at."""
    from packbin.elf.depinfo import DEP_SECTION, DepList, DepPackage, dep_section
    from packbin.elf.sections import add_section, find_section

    deps = DepList(
        packages=(
            DepPackage(name="prog", version="1.0.0", source="local", dependencies=(1,), root=True),
            DepPackage(name="libc", version="0.2.155", source="crates.io"),
        )
    )
    base = elf_fixture(name).path.read_bytes()
    content = dep_section(deps)
    raw = add_section(base, DEP_SECTION, content)
    e = "<" if raw[5] == 1 else ">"
    shoff = struct.unpack_from(f"{e}Q" if raw[4] == 2 else f"{e}I", raw, 40 if raw[4] == 2 else 32)[0]
    names = find_section(raw, ".shstrtab") or b""
    content_at = raw.index(content, len(base) - 4096 if len(base) > 4096 else 0)
    return raw, [
        (0, 64),
        (content_at, len(content)),
        (content_at + len(content), len(names)),
        (shoff, len(raw) - shoff),
    ]


DEP_BASES = ["x86_64-static", "arm-static", "s390x-static-pie", "ppc-static"]


@settings(max_examples=600, deadline=2000)
@given(data=st.data())
def test_corrupted_dep_sections_end_in_dep_list_error_or_a_list(data: st.DataObject) -> None:
    from packbin.elf.depinfo import DepList, DepListError, read_dep_list_from

    raw, regions = _with_dep_section(data.draw(st.sampled_from(DEP_BASES), label="base"))
    buf = bytearray(raw)
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        start, length = data.draw(st.sampled_from(regions), label="region")
        at = start + data.draw(st.integers(0, max(0, length - 1)), label="offset")
        kind = data.draw(st.sampled_from(["flip", "write", "truncate"]), label="kind")
        if kind == "flip" and at < len(buf):
            buf[at] ^= 1 << data.draw(st.integers(0, 7), label="bit")
        elif kind == "write":
            width = data.draw(st.sampled_from([1, 2, 4, 8]), label="width")
            value = data.draw(st.one_of(SPECIAL, st.integers(0, (1 << 64) - 1), st.just(len(buf))), label="value")
            buf[at : at + width] = (value & ((1 << (8 * width)) - 1)).to_bytes(width, "little")
        else:
            del buf[at:]
    mutated = bytes(buf)
    stream = BoundedStream(mutated)

    def read(offset: int, length: int) -> bytes:
        assert 0 <= offset and 0 <= length and offset + length <= len(mutated), (offset, length)
        stream.seek(offset)
        return stream.read(length)

    started = time.perf_counter()
    try:
        found = read_dep_list_from(read, len(mutated))
    except DepListError as e:
        event(f"DepListError: {str(e)[:30]}")
    except ElfError as e:  # not ELF any more (the magic or class hit), or a table the reader refuses
        event(f"ElfError: {type(e).__name__}")
    else:
        event("list" if found else "none")
        assert found is None or isinstance(found, DepList)
    assert time.perf_counter() - started < 1
