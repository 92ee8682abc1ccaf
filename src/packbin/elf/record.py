"""The record the ELF reader returns: :class:`ElfInfo`, its constants and byte layouts.

:class:`ElfInfo` holds what one ELF file says about itself; the tables the policy needs only for
some files (program headers, section headers) stay raw bytes here and are decoded on demand. The
reader that fills it is :mod:`packbin.elf.parser`; the judgement is :mod:`packbin.elf.policy`.
"""

from __future__ import annotations

import functools
import struct
from dataclasses import dataclass, field
from typing import NamedTuple

from packbin.arch import arch_name

ELF_MAGIC = b"\x7fELF"

ET_REL, ET_EXEC, ET_DYN, ET_CORE = 1, 2, 3, 4
PT_LOAD, PT_DYNAMIC, PT_INTERP, PT_NOTE = 1, 2, 3, 4
PF_X, PF_W, PF_R = 1, 2, 4
PT_PHDR, PT_TLS = 6, 7
PT_GNU_EH_FRAME, PT_GNU_STACK, PT_GNU_RELRO, PT_GNU_PROPERTY = 0x6474E550, 0x6474E551, 0x6474E552, 0x6474E553
DT_NULL, DT_NEEDED, DT_STRTAB, DT_STRSZ, DT_SONAME = 0, 1, 5, 10, 14
DT_FLAGS_1 = 0x6FFFFFFB
DF_1_PIE = 0x08000000
SHT_SYMTAB, SHT_NOBITS = 2, 8
SHF_ALLOC, SHF_TLS = 0x2, 0x400
NT_GNU_BUILD_ID = 3
PN_XNUM = 0xFFFF

#: The kernel reads a PT_GNU_PROPERTY into a 1 KiB buffer and refuses a longer one.
MAX_PROPERTY_NOTE = 1024


class Segment(NamedTuple):
    """One program header's fields that say where its bytes go (PT_LOAD, PT_DYNAMIC)."""

    offset: int  # p_offset
    vaddr: int  # p_vaddr
    filesz: int  # p_filesz
    memsz: int  # p_memsz
    align: int  # p_align
    flags: int  # p_flags (PF_R | PF_W | PF_X)


class ElfError(Exception):
    """The file is not a well-formed ELF file; the message says what is wrong and where."""


class NotElfError(ElfError):
    """The file does not start with the ELF magic (an empty file, a script, an archive, ...)."""


@dataclass(frozen=True, kw_only=True)
class ElfInfo:
    """What one ELF file says about itself. Parsed by :func:`~packbin.elf.parser.parse_elf`; judged elsewhere."""

    elf_class: int  # 32 | 64
    endian: str  # "little" | "big"
    machine: int  # e_machine
    e_type: int
    type_name: str  # "exec" | "pie" | "shared" | "relocatable" | "core" | "unknown"
    interpreter: str | None
    needed: tuple[str, ...]
    soname: str | None
    flags_1: int
    has_dynamic: bool
    load_segments: int  # PT_LOAD entries: an executable without one cannot be run
    #: The ELF header's bytes as the file has them: the loader's view of it is read from here on
    #: demand (:attr:`ident`, :attr:`phentsize`, ...; see packbin.elf.policy).
    header: bytes = field(repr=False)
    #: (e_phentsize, the program header table's bytes as read), None without one. Decoded on
    #: demand (:attr:`segments`): the policy needs every field only for files that pass the rest.
    program_table: tuple[int, bytes] | None = field(repr=False)
    #: (e_shentsize, the section header table's bytes), None without one. Kept raw: only
    #: :attr:`alloc_sections` reads it, and only for the files the policy gets that far with.
    section_table: tuple[int, bytes] | None = field(repr=False)
    #: The bytes of the last PT_GNU_PROPERTY (the one the loader parses), at most
    #: MAX_PROPERTY_NOTE + 1 of them; None when there is none or it lies outside the file.
    gnu_property: bytes | None
    stripped: bool  # no symbol table section (SHT_SYMTAB, i.e. .symtab)
    build_id: str | None  # hex
    size: int  # file size in bytes

    @functools.cached_property
    def _ehdr(self) -> tuple[int, ...]:
        return LAYOUTS[(self.elf_class, self.endian)].ehdr.unpack_from(self.header, 16)

    @property
    def ident(self) -> bytes:
        """e_ident, all 16 bytes."""
        return self.header[:16]

    @property
    def entry(self) -> int:
        """e_entry."""
        return self._ehdr[3]

    @property
    def phoff(self) -> int:
        """e_phoff."""
        return self._ehdr[4]

    @property
    def e_flags(self) -> int:
        """e_flags: processor-specific (ARM EABI and float ABI, RISC-V float ABI, ppc64 ELF ABI)."""
        return self._ehdr[6]

    @property
    def ehsize(self) -> int:
        """e_ehsize."""
        return self._ehdr[7]

    @property
    def phentsize(self) -> int:
        """e_phentsize."""
        return self._ehdr[8]

    @property
    def phnum(self) -> int:
        """e_phnum as written: PN_XNUM stays 0xffff (the parser resolves it, the kernel does not)."""
        return self._ehdr[9]

    @functools.cached_property
    def _program_headers(
        self,
    ) -> tuple[tuple[tuple[int, Segment], ...], tuple[Segment, ...], tuple[tuple[int, Segment], ...]]:
        # One pass for segments, loads and others: the policy reads all three of every file it
        # gets that far with. Segments are made with tuple.__new__: NamedTuple's own __new__ is
        # Python code, and this runs for every program header.
        if self.program_table is None:
            return (), (), ()
        entsize, table = self.program_table
        lay = LAYOUTS[(self.elf_class, self.endian)]
        if entsize == lay.phdr_full.size:
            rows = lay.phdr_full.iter_unpack(table)
        else:
            rows = (lay.phdr_full.unpack_from(table, i * entsize) for i in range(len(table) // entsize))
        new = tuple.__new__
        if self.elf_class == 64:  # type flags offset vaddr filesz memsz align
            segments = [(t, new(Segment, (b, c, d, e, g, a))) for t, a, b, c, d, e, g in rows if t]
        else:  # ELF32: type offset vaddr filesz memsz flags align
            segments = [(t, new(Segment, (a, b, c, d, g, f))) for t, a, b, c, d, f, g in rows if t]
        loads = tuple([seg for t, seg in segments if t == PT_LOAD])
        others = tuple([ts for ts in segments if ts[0] != PT_LOAD])
        return tuple(segments), loads, others

    @property
    def segments(self) -> tuple[tuple[int, Segment], ...]:
        """(p_type, fields) of every program header but PT_NULL, in table order."""
        return self._program_headers[0]

    @property
    def loads(self) -> tuple[Segment, ...]:
        """The PT_LOAD entries, in table order."""
        return self._program_headers[1]

    @property
    def others(self) -> tuple[tuple[int, Segment], ...]:
        """Every other entry but PT_NULL, with its p_type, in table order."""
        return self._program_headers[2]

    @property
    def dynamic(self) -> Segment | None:
        """The first PT_DYNAMIC (the one this parser reads)."""
        return next((seg for t, seg in self.segments if t == PT_DYNAMIC), None)

    @functools.cached_property
    def alloc_sections(self) -> tuple[tuple[int, int], ...]:
        """(sh_addr, sh_size) of the sections the linker placed in memory (SHF_ALLOC, not .tbss);
        empty without section headers. Not read by the kernel: what the image should contain."""
        if self.section_table is None:
            return ()
        entsize, table = self.section_table
        lay = LAYOUTS[(self.elf_class, self.endian)]
        if entsize == lay.shdr_alloc.size:
            shdrs = lay.shdr_alloc.iter_unpack(table)
        else:
            shdrs = (lay.shdr_alloc.unpack_from(table, i * entsize) for i in range(len(table) // entsize))
        # .tbss (SHF_TLS + SHT_NOBITS) takes no room in the image: each thread gets its own.
        return tuple(
            [
                (addr, size)
                for typ, fl, addr, size in shdrs
                if fl & SHF_ALLOC and size and not (typ == SHT_NOBITS and fl & SHF_TLS)
            ]
        )

    @property
    def arch(self) -> str | None:
        """The conventional architecture name (x86_64, arm64, ...), None when unknown."""
        return arch_name(self.machine, self.elf_class, self.endian)


class Layout:
    """Precompiled structs for one (class, byte order) pair; fields not needed are pad bytes."""

    def __init__(self, elf_class: int, endian: str) -> None:
        e = "<" if endian == "little" else ">"
        w = "Q" if elf_class == 64 else "I"  # address / offset / size width
        # After e_ident: e_type e_machine e_version e_entry e_phoff e_shoff e_flags e_ehsize
        # e_phentsize e_phnum e_shentsize e_shnum e_shstrndx.
        self.ehdr = struct.Struct(f"{e}HHI{w}{w}{w}IHHHHHH")
        self.ehdr_size = 16 + self.ehdr.size
        # -> (p_type, p_offset, p_vaddr, p_filesz, p_align), what parsing needs; phdr_full has every
        # field but p_paddr, in file order (which differs: p_flags moved in ELF64 for alignment).
        if elf_class == 64:
            self.phdr = struct.Struct(f"{e}I4xQQ8xQ8xQ")  # type flags offset vaddr paddr filesz memsz align
            self.phdr_full = struct.Struct(f"{e}IIQQ8xQQQ")
            # -> (sh_type,) and, for section 0 (extended numbering), (sh_size, sh_info)
            self.shdr_type = struct.Struct(f"{e}4xI56x")
            # -> (sh_type, sh_flags, sh_addr, sh_size)
            self.shdr_alloc = struct.Struct(f"{e}4xIQQ8xQ24x")
            self.shdr0 = struct.Struct(f"{e}32xQ4xI16x")
        else:
            self.phdr = struct.Struct(f"{e}III4xI4x4xI")  # type offset vaddr paddr filesz memsz flags align
            self.phdr_full = struct.Struct(f"{e}III4xIIII")
            self.shdr_type = struct.Struct(f"{e}4xI32x")
            self.shdr_alloc = struct.Struct(f"{e}4xIII4xI16x")
            self.shdr0 = struct.Struct(f"{e}20xI4xI8x")
        self.dyn = struct.Struct(f"{e}{w}{w}")  # (d_tag, d_val); tags read unsigned, DT_* are all positive
        self.note = struct.Struct(f"{e}III")  # namesz descsz type, 32-bit in both classes


LAYOUTS = {(c, o): Layout(c, o) for c in (32, 64) for o in ("little", "big")}
