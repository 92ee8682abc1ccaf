"""Sections by name: find one, or add a non-alloc one to a finished executable.

:func:`add_section` is how a build embeds data the program never loads (cargo-auditable's
``.dep-v0``): the section's bytes, a new section-name table (the old names and the new one) and a
new section header table (the old entries, the name table's entry pointing at the new table, and
the new entry) are appended to the file; the ELF header's ``e_shoff`` and ``e_shnum`` are the only
bytes rewritten. The program headers and every byte a PT_LOAD maps stay where they are, so the
program runs as before. When the old section header table was the last thing in the file (as
linkers write it) and nothing else covers it, it is dropped first instead of left behind.

:func:`find_section` and :func:`section_range` read a section by name with the parser's rules:
every offset and size checked against the file before it is read, every walk bounded. Both are
standard library only; what cannot be read or edited safely raises an :class:`ElfError` subclass.
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import overload

from packbin.elf.record import ELF_MAGIC, LAYOUTS, PN_XNUM, SHT_NOBITS, ElfError, NotElfError

SHT_PROGBITS, SHT_STRTAB = 1, 3
SHN_LORESERVE, SHN_XINDEX = 0xFF00, 0xFFFF
#: A section-name table past this size is refused (real ones are a few hundred bytes).
MAX_SHSTRTAB = 1 << 20
#: Section header tables past this many entries are refused (as :data:`packbin.elf.parser.MAX_TABLE_BYTES`
#: bounds them; below SHN_LORESERVE, so the count always fits e_shnum).
MAX_SECTIONS = SHN_LORESERVE - 1
#: The longest section name :func:`add_section` writes.
MAX_SECTION_NAME = 255

Reader = Callable[[int, int], bytes]


class NoSectionHeaders(ElfError):
    """The file has no section header table (or no section-name table) to add a section to."""


class ExtendedNumbering(ElfError):
    """The file counts its sections in section 0 (e_shnum 0 or e_shstrndx SHN_XINDEX): not edited."""


class SectionExists(ElfError):
    """The file already has a section of the name being added."""


@dataclass(frozen=True, kw_only=True)
class _Sections:
    """The header fields and section headers of one file, as read (entries as unpacked tuples)."""

    elf_class: int
    endian: str
    shoff: int
    shentsize: int
    shstrndx: int
    entries: tuple[tuple[int, ...], ...]  # name type flags addr offset size link info addralign entsize
    names: bytes  # the section-name table's bytes


@functools.cache
def _shdr_struct(elf_class: int, endian: str) -> struct.Struct:
    e = "<" if endian == "little" else ">"
    return struct.Struct(f"{e}IIQQQQIIQQ" if elf_class == 64 else f"{e}IIIIIIIIII")


@overload
def _read_sections(read: Reader, size: int) -> _Sections: ...
@overload
def _read_sections(
    read: Reader, size: int, header: bytes | None, table: bytes | None, wanted: bytes
) -> _Sections | None: ...
def _read_sections(
    read: Reader, size: int, header: bytes | None = None, table: bytes | None = None, wanted: bytes | None = None
) -> _Sections | None:
    """The section header table and the name table through ``read``, every range checked first.

    ``header`` (the file's first 64 bytes) and ``table`` (the section header table) are used
    instead of reading them again when the caller has them (the parser's ElfInfo does). With
    ``wanted``, None when no section can have that name (it is not in the name table): the
    other headers are then not decoded at all (verify-static --json asks this of every file).
    """
    if size < 16:
        raise NotElfError(f"not an ELF file: {size} bytes")
    ident = header[:16] if header is not None else read(0, 16)
    if ident[:4] != ELF_MAGIC:
        raise NotElfError(f"not an ELF file: starts with {ident[:4]!r}, not {ELF_MAGIC!r}")
    if ident[4] not in (1, 2) or ident[5] not in (1, 2):
        raise ElfError(f"invalid EI_CLASS {ident[4]} or EI_DATA {ident[5]}")
    elf_class, endian = (32 if ident[4] == 1 else 64), ("little" if ident[5] == 1 else "big")
    lay = LAYOUTS[(elf_class, endian)]
    if size < lay.ehdr_size:
        raise ElfError(f"truncated ELF{elf_class} file header: file is {size} bytes")
    *_, shoff, _flags, _eh, _phes, _phn, shentsize, shnum, shstrndx = lay.ehdr.unpack(
        header[16 : lay.ehdr_size] if header is not None and len(header) >= lay.ehdr_size else read(16, lay.ehdr.size)
    )
    if not shoff:
        raise NoSectionHeaders("no section header table (e_shoff is 0)")
    if shnum == 0 or shstrndx == SHN_XINDEX:
        raise ExtendedNumbering("the section count or the name table's index is in section 0 (extended numbering)")
    shdr = _shdr_struct(elf_class, endian)
    if shentsize != shdr.size:
        raise ElfError(f"e_shentsize is {shentsize}, not {shdr.size} (ELF{elf_class} section header)")
    if shoff + shnum * shentsize > size:
        raise ElfError(
            f"truncated section header table: ends at {shoff + shnum * shentsize:#x}, file is {size:#x} bytes"
        )
    if shnum > MAX_SECTIONS:
        raise ExtendedNumbering(f"{shnum} sections, more than the {MAX_SECTIONS} e_shnum can count")
    if table is None or len(table) != shnum * shentsize:
        table = read(shoff, shnum * shentsize)
    if not 0 < shstrndx < shnum:
        raise NoSectionHeaders(f"no section-name table (e_shstrndx {shstrndx}, {shnum} sections)")
    _, typ, _, _, str_off, str_size, *_ = shdr.unpack_from(table, shstrndx * shentsize)
    if typ != SHT_STRTAB:
        raise ElfError(f"section {shstrndx} (e_shstrndx) is of type {typ}, not SHT_STRTAB")
    if str_size > MAX_SHSTRTAB:
        raise ElfError(f"section-name table of {str_size} bytes, more than the {MAX_SHSTRTAB} packbin reads")
    if str_off + str_size > size:
        raise ElfError(f"truncated section-name table: ends at {str_off + str_size:#x}, file is {size:#x} bytes")
    names = read(str_off, str_size) if str_size else b""
    if wanted is not None and wanted + b"\0" not in names:
        return None
    entries = tuple(shdr.iter_unpack(table))
    return _Sections(
        elf_class=elf_class,
        endian=endian,
        shoff=shoff,
        shentsize=shentsize,
        shstrndx=shstrndx,
        entries=entries,
        names=names,
    )


def _name(names: bytes, offset: int) -> bytes | None:
    """The NUL-terminated name at ``offset``, None when it does not end inside the table."""
    end = names.find(b"\0", offset)
    return names[offset:end] if 0 <= offset < len(names) and end >= 0 else None


def _index_of(sections: _Sections, name: bytes) -> int | None:
    for i, entry in enumerate(sections.entries):
        if i and _name(sections.names, entry[0]) == name:
            return i
    return None


def section_range(
    read: Reader, size: int, name: str, *, header: bytes | None = None, table: bytes | None = None
) -> tuple[int, int] | None:
    """(offset, size) in the file of the first section called ``name``, None when there is none.

    ``read(offset, length)`` returns exactly that many bytes of a file of ``size`` bytes. The
    range is checked to lie inside the file (ElfError otherwise); an SHT_NOBITS section is (0, 0).
    ``header`` and ``table``, when given, are the file's first 64 bytes and its section header
    table as already read (ElfInfo.header and ElfInfo.section_table): then only the name table
    is read.
    """
    raw = name.encode()
    sections = _read_sections(read, size, header, table, raw)
    index = _index_of(sections, raw) if sections is not None else None
    if index is None:
        return None
    assert sections is not None
    _, typ, _, _, offset, length, *_ = sections.entries[index]
    if typ == SHT_NOBITS:
        return (0, 0)
    if offset + length > size:
        raise ElfError(
            f"section {name} (offset {offset:#x}, {length} bytes) ends past the end of the file ({size:#x} bytes)"
        )
    return (offset, length)


def _image_reader(image: bytes) -> Reader:
    def read(offset: int, length: int) -> bytes:
        data = image[offset : offset + length]
        if len(data) != length:
            raise ElfError(f"short read at {offset:#x}: wanted {length} bytes, image is {len(image):#x}")
        return data

    return read


def find_section(image: bytes, name: str) -> bytes | None:
    """The bytes of the section called ``name`` in the ELF ``image``, None when it has none."""
    found = section_range(_image_reader(image), len(image), name)
    if found is None:
        return None
    offset, length = found
    return image[offset : offset + length]


def _covered_past(image: bytes, sections: _Sections, phoff: int, phentsize: int, phnum: int, start: int) -> bool:
    """Does any program header's or section's file range reach past ``start``?"""
    lay = LAYOUTS[(sections.elf_class, sections.endian)]
    for i in range(phnum):
        _t, p_offset, _v, p_filesz, _a = lay.phdr.unpack_from(image, phoff + i * phentsize)
        if p_filesz and p_offset + p_filesz > start:
            return True
    return any(
        typ != SHT_NOBITS and size and offset + size > start for _, typ, _, _, offset, size, *_ in sections.entries
    )


def add_section(image: bytes, name: str, content: bytes) -> bytes:
    """The ELF ``image`` with one more section: non-alloc SHT_PROGBITS, flags 0, alignment 1.

    Raises :class:`SectionExists` when ``image`` has a section of that name already,
    :class:`NoSectionHeaders` and :class:`ExtendedNumbering` for files it does not edit,
    :class:`NotElfError` / :class:`ElfError` for a file that is not (well-formed) ELF.
    """
    raw_name = name.encode()
    if not raw_name or len(raw_name) > MAX_SECTION_NAME or b"\0" in raw_name:
        raise ValueError(f"bad section name {name!r}")
    sections = _read_sections(_image_reader(image), len(image))
    if _index_of(sections, raw_name) is not None:
        raise SectionExists(f"the file already has a {name} section")
    count = len(sections.entries)
    if count + 1 > MAX_SECTIONS:
        raise ExtendedNumbering(f"{count} sections: one more needs extended numbering")
    shdr = _shdr_struct(sections.elf_class, sections.endian)
    lay = LAYOUTS[(sections.elf_class, sections.endian)]
    fields = lay.ehdr.unpack_from(image, 16)
    phoff, phentsize, phnum = fields[4], fields[8], fields[9]
    if phnum == PN_XNUM:
        raise ExtendedNumbering("e_phnum is PN_XNUM: the program header count is in section 0")
    if phnum and (phentsize < lay.phdr.size or phoff + phnum * phentsize > len(image)):
        raise ElfError(f"program header table (e_phoff {phoff:#x}, {phnum} x {phentsize} bytes) not inside the file")

    drop = sections.shoff + count * shdr.size == len(image) and not _covered_past(
        image, sections, phoff, phentsize, phnum, sections.shoff
    )
    out = bytearray(image[: sections.shoff] if drop else image)
    content_offset = len(out)
    out += content
    names_offset = len(out)
    names = sections.names + raw_name + b"\0"
    out += names
    align = 8 if sections.elf_class == 64 else 4
    out += bytes(-len(out) % align)
    new_shoff = len(out)
    for i, entry in enumerate(sections.entries):
        if i == sections.shstrndx:
            entry = (*entry[:4], names_offset, len(names), *entry[6:])
        out += shdr.pack(*entry)
    out += shdr.pack(len(sections.names), SHT_PROGBITS, 0, 0, content_offset, len(content), 0, 0, 1, 0)

    # e_shoff and e_shnum: the only header fields that change.
    e = "<" if sections.endian == "little" else ">"
    if sections.elf_class == 64:
        struct.pack_into(f"{e}Q", out, 40, new_shoff)
        struct.pack_into(f"{e}H", out, 60, count + 1)
    else:
        struct.pack_into(f"{e}I", out, 32, new_shoff)
        struct.pack_into(f"{e}H", out, 48, count + 1)
    return bytes(out)


__all__ = [
    "MAX_SECTION_NAME",
    "ExtendedNumbering",
    "NoSectionHeaders",
    "SectionExists",
    "add_section",
    "find_section",
    "section_range",
]
