"""ELF reader: the facts the static-linkage policy needs, read from the header inward.

Pure Python, standard library only. It parses ELF32 and ELF64 in either byte order: the file
header, the program headers, the dynamic segment (DT_NEEDED, DT_SONAME, DT_FLAGS_1), the section
header table (is there a symbol table?) and the GNU build-id note, and returns a frozen
:class:`ElfInfo`. It knows no policy (see :mod:`packbin.policy`).

Untrusted input is the normal case (a build container's output, anything under /usr), so:

- only the bytes needed are read, with positioned reads; never the whole file;
- every offset and size is checked against the file size *before* anything is read or
  allocated, so a lying count (e_phnum, e_shnum, p_filesz) cannot make it allocate more than
  the file holds, and the loops that walk variable-length data (dynamic entries, notes, strings)
  have fixed upper bounds, so no input makes it slow;
- malformed input raises :class:`ElfError` with a message that says what is wrong and where.
  Any other exception type (except OSError from the file system) is a bug.
"""

from __future__ import annotations

import functools
import os
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import BinaryIO, NamedTuple

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

#: The kernel refuses a PT_INTERP longer than PATH_MAX (fs/binfmt_elf.c); so do we.
PATH_MAX = 4096
#: Upper bounds for walks over variable-length data. Real files stay far below them (a large
#: shared library has about 100 dynamic entries and a few hundred bytes of notes); they exist so
#: a crafted file cannot turn a walk into a hang.
MAX_DYNAMIC_ENTRIES = 1 << 16
#: Program and section header tables are read whole; past this size (about 300,000 entries, far
#: more than the kernel's vm.max_map_count gives even a core dump) a file is refused instead, so
#: that an extended count (PN_XNUM) in a sparse file cannot make the reader allocate gigabytes.
MAX_TABLE_BYTES = 16 << 20
MAX_NOTE_BYTES = 1 << 16
#: The kernel reads a PT_GNU_PROPERTY into a 1 KiB buffer and refuses a longer one.
MAX_PROPERTY_NOTE = 1024
MAX_NAME = 4096
#: A dynamic string table up to this size is read in one go; above it, names are read one by one
#: (libLLVM's is megabytes, and only the DT_NEEDED names are wanted).
_STRTAB_WHOLE = 1 << 14
_DYN_CHUNK = 4096

_TYPE_NAMES = {ET_REL: "relocatable", ET_EXEC: "exec", ET_CORE: "core"}


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
    """What one ELF file says about itself. Parsed by :func:`parse_elf`; judged elsewhere."""

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
    #: demand (:attr:`ident`, :attr:`phentsize`, ...; see packbin.policy).
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
        return _LAYOUTS[(self.elf_class, self.endian)].ehdr.unpack_from(self.header, 16)

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
    def segments(self) -> tuple[tuple[int, Segment], ...]:
        """(p_type, fields) of every program header but PT_NULL, in table order."""
        if self.program_table is None:
            return ()
        entsize, table = self.program_table
        lay = _LAYOUTS[(self.elf_class, self.endian)]
        if entsize == lay.phdr_full.size:
            rows = list(lay.phdr_full.iter_unpack(table))
        else:
            rows = [lay.phdr_full.unpack_from(table, i * entsize) for i in range(len(table) // entsize)]
        if self.elf_class == 64:  # type flags offset vaddr filesz memsz align
            return tuple((t, Segment(b, c, d, e, g, a)) for t, a, b, c, d, e, g in rows if t)
        # ELF32: type offset vaddr filesz memsz flags align
        return tuple((t, Segment(a, b, c, d, g, f)) for t, a, b, c, d, f, g in rows if t)

    @functools.cached_property
    def loads(self) -> tuple[Segment, ...]:
        """The PT_LOAD entries, in table order."""
        return tuple(seg for t, seg in self.segments if t == PT_LOAD)

    @functools.cached_property
    def others(self) -> tuple[tuple[int, Segment], ...]:
        """Every other entry but PT_NULL, with its p_type, in table order."""
        return tuple((t, seg) for t, seg in self.segments if t != PT_LOAD)

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
        lay = _LAYOUTS[(self.elf_class, self.endian)]
        count = len(table) // entsize
        if entsize == lay.shdr_alloc.size:
            shdrs = list(lay.shdr_alloc.iter_unpack(table))
        else:
            shdrs = [lay.shdr_alloc.unpack_from(table, i * entsize) for i in range(count)]
        # .tbss (SHF_TLS + SHT_NOBITS) takes no room in the image: each thread gets its own.
        return tuple(
            (addr, size)
            for typ, fl, addr, size in shdrs
            if fl & SHF_ALLOC and size and not (typ == SHT_NOBITS and fl & SHF_TLS)
        )

    @property
    def arch(self) -> str | None:
        """The conventional architecture name (x86_64, arm64, ...), None when unknown."""
        return arch_name(self.machine, self.elf_class, self.endian)


class _Layout:
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


_LAYOUTS = {(c, o): _Layout(c, o) for c in (32, 64) for o in ("little", "big")}

Reader = Callable[[int, int], bytes]


def _check_table(what: str, count: int, entsize: int) -> None:
    if count * entsize > MAX_TABLE_BYTES:
        raise ElfError(
            f"{what} has {count} entries ({count * entsize:#x} bytes), more than the {MAX_TABLE_BYTES >> 20} MiB packbin reads"
        )


def _check_end(what: str, start: int, length: int, size: int) -> None:
    end = start + length
    if end > size:
        raise ElfError(f"truncated {what}: ends at {end:#x}, file is {size:#x} bytes")


def _decode(raw: bytes) -> str:
    # Names are bytes to the loader; backslashreplace keeps odd ones printable and JSON-safe.
    return raw.decode("utf-8", "backslashreplace")


def parse_elf(path: str | os.PathLike[str]) -> ElfInfo:
    """Parse the ELF file at ``path``.

    Raises :class:`NotElfError` when it is not ELF at all, :class:`ElfError` when it is malformed;
    OSError (missing, unreadable, a directory) propagates unchanged.
    """
    # O_NONBLOCK: opening a FIFO must not wait for a writer; it then reads as an empty file.
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        size = os.fstat(fd).st_size

        def read(offset: int, length: int) -> bytes:
            data = os.pread(fd, length, offset)
            if len(data) != length:
                raise ElfError(
                    f"short read at {offset:#x}: wanted {length} bytes, got {len(data)} (file changed while reading?)"
                )
            return data

        return _parse(read, size)
    finally:
        os.close(fd)


def parse_elf_stream(f: BinaryIO, size: int) -> ElfInfo:
    """Parse an ELF image from a seekable binary stream holding ``size`` bytes."""

    def read(offset: int, length: int) -> bytes:
        f.seek(offset)
        chunks: list[bytes] = []
        want = length
        while want > 0:
            chunk = f.read(want)
            if not chunk:
                break
            chunks.append(chunk)
            want -= len(chunk)
        data = b"".join(chunks)
        if len(data) != length:
            raise ElfError(
                f"short read at {offset:#x}: wanted {length} bytes, got {len(data)} (stream shorter than {size:#x} bytes?)"
            )
        return data

    return _parse(read, size)


def is_elf(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` starts with the ELF magic. Reads 4 bytes; OSError propagates."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        return os.pread(fd, 4, 0) == ELF_MAGIC
    finally:
        os.close(fd)


def _parse(read: Reader, size: int) -> ElfInfo:
    if size <= 0:
        raise NotElfError("empty file (0 bytes), not an ELF file")
    head = read(0, min(size, 64))
    if head[:4] != ELF_MAGIC:
        raise NotElfError(f"not an ELF file: starts with {head[:4]!r}, not {ELF_MAGIC!r}")
    if size < 16:
        raise ElfError(f"truncated ELF identification: file is {size} bytes, e_ident needs 16")
    ei_class, ei_data = head[4], head[5]
    if ei_class not in (1, 2):
        raise ElfError(f"invalid EI_CLASS {ei_class} (expected 1 for ELF32 or 2 for ELF64)")
    if ei_data not in (1, 2):
        raise ElfError(f"invalid EI_DATA {ei_data} (expected 1 for little endian or 2 for big endian)")
    elf_class = 32 if ei_class == 1 else 64
    endian = "little" if ei_data == 1 else "big"
    lay = _LAYOUTS[(elf_class, endian)]
    _check_end(f"ELF{elf_class} file header", 0, lay.ehdr_size, size)
    (
        e_type,
        machine,
        _version,
        _entry,
        phoff,
        shoff,
        _flags,
        _ehsize,
        phentsize,
        phnum,
        shentsize,
        shnum,
        _shstrndx,
    ) = lay.ehdr.unpack_from(head, 16)

    # Section 0 carries the real counts when they overflow the 16-bit header fields.
    sh0: tuple[int, int] | None = None
    if shoff and (shnum == 0 or phnum == PN_XNUM):
        if shentsize < lay.shdr_type.size:
            raise ElfError(
                f"e_shentsize {shentsize} is smaller than an ELF{elf_class} section header ({lay.shdr_type.size} bytes)"
            )
        _check_end("section header 0", shoff, lay.shdr0.size, size)
        sh0 = lay.shdr0.unpack(read(shoff, lay.shdr0.size))
    if phnum == PN_XNUM:
        if sh0 is None:
            raise ElfError("e_phnum is PN_XNUM (0xffff) but there is no section header 0 holding the real count")
        phnum = sh0[1]

    # -- program headers ---------------------------------------------------------------------
    interp_ph: tuple[int, int] | None = None
    dyn_ph: tuple[int, int] | None = None
    prop_ph: tuple[int, int] | None = None
    loads: list[tuple[int, int, int]] = []  # (p_offset, p_vaddr, p_filesz)
    notes: list[tuple[int, int, int]] = []  # (p_offset, p_filesz, p_align)
    program_table: tuple[int, bytes] | None = None
    if phnum:
        if phentsize < lay.phdr.size:
            raise ElfError(
                f"e_phentsize {phentsize} is smaller than an ELF{elf_class} program header ({lay.phdr.size} bytes)"
            )
        # Checking the end against the file size also caps phnum by the file size.
        _check_end("program header table", phoff, phnum * phentsize, size)
        _check_table("program header table", phnum, phentsize)
        table = read(phoff, phnum * phentsize)
        if phentsize == lay.phdr.size:
            phdrs = lay.phdr.iter_unpack(table)
        else:
            phdrs = (lay.phdr.unpack_from(table, i * phentsize) for i in range(phnum))
        program_table = (phentsize, table)
        for p_type, p_offset, p_vaddr, p_filesz, p_align in phdrs:
            if p_type == PT_LOAD:
                loads.append((p_offset, p_vaddr, p_filesz))
            elif p_type == PT_INTERP:
                if interp_ph is None:  # the kernel uses the first one
                    interp_ph = (p_offset, p_filesz)
            elif p_type == PT_DYNAMIC:
                if dyn_ph is None:
                    dyn_ph = (p_offset, p_filesz)
            elif p_type == PT_NOTE:
                notes.append((p_offset, p_filesz, p_align))
            elif p_type == PT_GNU_PROPERTY:
                prop_ph = (p_offset, p_filesz)  # the kernel parses the last one

    interpreter = _read_interp(read, size, *interp_ph) if interp_ph else None

    # -- dynamic segment ---------------------------------------------------------------------
    needed: tuple[str, ...] = ()
    soname: str | None = None
    flags_1 = 0
    if dyn_ph is not None:
        needed, soname, flags_1 = _read_dynamic(read, size, lay, dyn_ph[0], dyn_ph[1], loads)

    # -- section headers: only "is there a symbol table?" --------------------------------------
    stripped = True
    section_table: tuple[int, bytes] | None = None
    if shoff:
        count = shnum if shnum else (sh0[0] if sh0 else 0)
        if count:
            if shentsize < lay.shdr_type.size:
                raise ElfError(
                    f"e_shentsize {shentsize} is smaller than an ELF{elf_class} section header ({lay.shdr_type.size} bytes)"
                )
            _check_end("section header table", shoff, count * shentsize, size)
            _check_table("section header table", count, shentsize)
            table = read(shoff, count * shentsize)
            if shentsize == lay.shdr_type.size:
                stripped = (SHT_SYMTAB,) not in lay.shdr_type.iter_unpack(table)
            else:
                stripped = all(lay.shdr_type.unpack_from(table, i * shentsize)[0] != SHT_SYMTAB for i in range(count))
            section_table = (shentsize, table)

    build_id = _read_build_id(read, size, lay, notes) if notes else None
    gnu_property: bytes | None = None
    if prop_ph is not None and prop_ph[0] < size:
        gnu_property = read(prop_ph[0], min(prop_ph[1], MAX_PROPERTY_NOTE + 1, size - prop_ph[0]))

    if e_type == ET_DYN:
        type_name = "pie" if (flags_1 & DF_1_PIE) or interpreter is not None else "shared"
    else:
        type_name = _TYPE_NAMES.get(e_type, "unknown")
    return ElfInfo(
        elf_class=elf_class,
        endian=endian,
        machine=machine,
        e_type=e_type,
        type_name=type_name,
        interpreter=interpreter,
        needed=needed,
        soname=soname,
        flags_1=flags_1,
        has_dynamic=dyn_ph is not None,
        load_segments=len(loads),
        header=head,
        program_table=program_table,
        section_table=section_table,
        gnu_property=gnu_property,
        stripped=stripped,
        build_id=build_id,
        size=size,
    )


def _read_interp(read: Reader, size: int, offset: int, filesz: int) -> str:
    # Same limits as the kernel's loader: 2..PATH_MAX bytes, NUL-terminated.
    if filesz > PATH_MAX:
        raise ElfError(f"PT_INTERP at {offset:#x} is {filesz:#x} bytes, longer than PATH_MAX ({PATH_MAX})")
    if filesz < 2:
        raise ElfError(f"PT_INTERP at {offset:#x} is {filesz} bytes, too short for a path")
    _check_end("PT_INTERP segment", offset, filesz, size)
    raw = read(offset, filesz)
    if raw[-1] != 0:
        raise ElfError(f"PT_INTERP at {offset:#x} is not NUL-terminated")
    return _decode(raw[: raw.index(0)])


def _read_dynamic(
    read: Reader, size: int, lay: _Layout, offset: int, filesz: int, loads: list[tuple[int, int, int]]
) -> tuple[tuple[str, ...], str | None, int]:
    """Walk PT_DYNAMIC up to DT_NULL; resolve DT_NEEDED and DT_SONAME names through DT_STRTAB."""
    _check_end("dynamic segment", offset, filesz, size)
    entsize = lay.dyn.size
    total = filesz // entsize
    needed_offsets: list[int] = []
    soname_offset: int | None = None
    strtab: int | None = None
    strsz: int | None = None
    flags_1 = 0
    seen = 0
    terminated = False
    # Read in chunks so a huge (lying) p_filesz costs nothing past DT_NULL.
    while seen < total and not terminated:
        if seen >= MAX_DYNAMIC_ENTRIES:
            raise ElfError(f"dynamic segment at {offset:#x}: no DT_NULL in the first {MAX_DYNAMIC_ENTRIES} entries")
        n = min(total - seen, _DYN_CHUNK // entsize, MAX_DYNAMIC_ENTRIES - seen)
        chunk = read(offset + seen * entsize, n * entsize)
        seen += n
        for tag, val in lay.dyn.iter_unpack(chunk):
            if tag == DT_NULL:
                terminated = True
                break
            if tag == DT_NEEDED:
                needed_offsets.append(val)
            elif tag == DT_STRTAB:
                if strtab is None:
                    strtab = val
            elif tag == DT_STRSZ:
                if strsz is None:
                    strsz = val
            elif tag == DT_SONAME:
                soname_offset = val
            elif tag == DT_FLAGS_1:
                flags_1 |= val
    if not terminated:
        raise ElfError(f"dynamic segment at {offset:#x} ({filesz:#x} bytes) has no DT_NULL terminator")
    if not needed_offsets and soname_offset is None:
        return (), None, flags_1
    if strtab is None:
        raise ElfError("dynamic segment has DT_NEEDED or DT_SONAME but no DT_STRTAB")

    # DT_STRTAB is a virtual address: map it to a file offset through the PT_LOAD segments.
    for p_offset, p_vaddr, p_filesz in loads:
        if p_vaddr <= strtab < p_vaddr + p_filesz:
            table_off = p_offset + (strtab - p_vaddr)
            segment_end = p_offset + p_filesz
            break
    else:
        raise ElfError(f"DT_STRTAB address {strtab:#x} is not inside the file image of any PT_LOAD segment")
    if strsz is not None:
        _check_end("dynamic string table (DT_STRTAB/DT_STRSZ)", table_off, strsz, size)
        table_len = strsz
    else:
        if table_off >= size:
            raise ElfError(f"dynamic string table at {table_off:#x} starts past the end of the file ({size:#x} bytes)")
        table_len = min(segment_end, size) - table_off

    whole = read(table_off, table_len) if table_len <= _STRTAB_WHOLE else None

    def name(index: int, what: str) -> str:
        if index >= table_len:
            raise ElfError(f"{what} name offset {index:#x} is outside the dynamic string table ({table_len:#x} bytes)")
        if whole is not None:
            end = whole.find(b"\0", index, index + MAX_NAME + 1)
            if end < 0:
                raise ElfError(
                    f"{what} name at string table offset {index:#x} is not NUL-terminated within {MAX_NAME} bytes"
                )
            return _decode(whole[index:end])
        # A big table: read a small window, growing to MAX_NAME, only where the name is.
        window = 256
        while True:
            length = min(window, table_len - index, MAX_NAME + 1)
            raw = read(table_off + index, length)
            end = raw.find(b"\0")
            if end >= 0:
                return _decode(raw[:end])
            if length < window or window > MAX_NAME:
                raise ElfError(
                    f"{what} name at string table offset {index:#x} is not NUL-terminated within {MAX_NAME} bytes"
                )
            window *= 4

    needed = tuple(name(i, "DT_NEEDED") for i in needed_offsets)
    soname = name(soname_offset, "DT_SONAME") if soname_offset is not None else None
    return needed, soname, flags_1


def _read_build_id(read: Reader, size: int, lay: _Layout, notes: list[tuple[int, int, int]]) -> str | None:
    """The NT_GNU_BUILD_ID descriptor from the PT_NOTE segments, as hex."""
    budget = MAX_NOTE_BYTES
    for offset, filesz, p_align in notes:
        if budget <= 0:
            break
        _check_end("PT_NOTE segment", offset, filesz, size)
        length = min(filesz, budget)
        budget -= length
        data = read(offset, length)
        # Notes are 4-byte aligned, except in segments aligned to 8 (GNU property notes).
        align = 8 if p_align == 8 else 4
        pos = 0
        while pos + 12 <= length:
            namesz, descsz, n_type = lay.note.unpack_from(data, pos)
            name_at = pos + 12
            # Padding is to absolute alignment within the segment (readelf and the kernel agree).
            desc_at = -(-(name_at + namesz) // align) * align
            desc_end = desc_at + descsz
            if desc_end > length:
                if length < filesz:
                    break  # cut off by the budget, not malformed
                raise ElfError(
                    f"note at {offset + pos:#x} runs past the end of its PT_NOTE segment ({filesz:#x} bytes)"
                )
            if n_type == NT_GNU_BUILD_ID and data[name_at : name_at + namesz] == b"GNU\0":
                return data[desc_at:desc_end].hex()
            pos = -(-desc_end // align) * align
    return None
