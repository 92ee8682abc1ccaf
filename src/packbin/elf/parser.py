"""ELF reader: the facts the static-linkage policy needs, read from the header inward.

Pure Python, standard library only. It parses ELF32 and ELF64 in either byte order: the file
header, the program headers, the dynamic segment (DT_NEEDED, DT_SONAME, DT_FLAGS_1), the section
header table (is there a symbol table?) and the GNU build-id note, and returns a frozen
:class:`~packbin.elf.record.ElfInfo`. It knows no policy (see :mod:`packbin.elf.policy`).

Untrusted input is the normal case (a build container's output, anything under /usr), so:

- only the bytes needed are read, with positioned reads (the first 2 KiB in one go: the headers
  and notes that follow the ELF header); never the whole file;
- every offset and size is checked against the file size *before* anything is read or
  allocated, so a lying count (e_phnum, e_shnum, p_filesz) cannot make it allocate more than
  the file holds, and the loops that walk variable-length data (dynamic entries, notes, strings)
  have fixed upper bounds, so no input makes it slow;
- malformed input raises :class:`ElfError` with a message that says what is wrong and where.
  Any other exception type (except OSError from the file system) is a bug.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import BinaryIO

from packbin.elf.record import (
    DF_1_PIE,
    DT_FLAGS_1,
    DT_NEEDED,
    DT_NULL,
    DT_SONAME,
    DT_STRSZ,
    DT_STRTAB,
    ELF_MAGIC,
    ET_CORE,
    ET_DYN,
    ET_EXEC,
    ET_REL,
    LAYOUTS,
    MAX_PROPERTY_NOTE,
    NT_GNU_BUILD_ID,
    PN_XNUM,
    PT_DYNAMIC,
    PT_GNU_PROPERTY,
    PT_INTERP,
    PT_LOAD,
    PT_NOTE,
    SHT_SYMTAB,
    ElfError,
    ElfInfo,
    Layout,
    NotElfError,
)

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
MAX_NAME = 4096
#: A dynamic string table up to this size is read in one go; above it, names are read one by one
#: (libLLVM's is megabytes, and only the DT_NEEDED names are wanted).
_STRTAB_WHOLE = 1 << 14
_DYN_CHUNK = 4096
#: The first read takes this much of the file, not just the ELF header: linkers put the program
#: headers, PT_INTERP and the notes (build-id, PT_GNU_PROPERTY) right after it (x86_64 programs end
#: them near 0x400), so one read serves them all instead of a read each.
_HEAD = 2048

_TYPE_NAMES = {ET_REL: "relocatable", ET_EXEC: "exec", ET_CORE: "core"}
Reader = Callable[[int, int], bytes]
_new_object = object.__new__


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
    head = read(0, min(size, _HEAD))
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
    lay = LAYOUTS[(elf_class, endian)]
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
        sh0 = lay.shdr0.unpack(_bytes_at(head, read, shoff, lay.shdr0.size))
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
        table = _bytes_at(head, read, phoff, phnum * phentsize)
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

    interpreter = _read_interp(head, read, size, *interp_ph) if interp_ph else None

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

    build_id = _read_build_id(head, read, size, lay, notes) if notes else None
    gnu_property: bytes | None = None
    if prop_ph is not None and prop_ph[0] < size:
        gnu_property = _bytes_at(head, read, prop_ph[0], min(prop_ph[1], MAX_PROPERTY_NOTE + 1, size - prop_ph[0]))

    if e_type == ET_DYN:
        type_name = "pie" if (flags_1 & DF_1_PIE) or interpreter is not None else "shared"
    else:
        type_name = _TYPE_NAMES.get(e_type, "unknown")
    # ElfInfo is frozen, so its generated __init__ sets each of its 18 fields through
    # object.__setattr__: a tenth of the whole parse. Filling the new instance's dict in one step
    # does the same (tests/unit/test_elf_parse.py checks that every field is set, and nothing else).
    info: ElfInfo = _new_object(ElfInfo)
    info.__dict__.update(
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
        header=head[:64],
        program_table=program_table,
        section_table=section_table,
        gnu_property=gnu_property,
        stripped=stripped,
        build_id=build_id,
        size=size,
    )
    return info


def _bytes_at(head: bytes, read: Reader, offset: int, length: int) -> bytes:
    """``length`` bytes at ``offset``: from ``head`` (the file's first bytes) when it holds them."""
    end = offset + length
    if end <= len(head):
        return head[offset:end]
    return read(offset, length)


def _read_interp(head: bytes, read: Reader, size: int, offset: int, filesz: int) -> str:
    # Same limits as the kernel's loader: 2..PATH_MAX bytes, NUL-terminated.
    if filesz > PATH_MAX:
        raise ElfError(f"PT_INTERP at {offset:#x} is {filesz:#x} bytes, longer than PATH_MAX ({PATH_MAX})")
    if filesz < 2:
        raise ElfError(f"PT_INTERP at {offset:#x} is {filesz} bytes, too short for a path")
    _check_end("PT_INTERP segment", offset, filesz, size)
    raw = _bytes_at(head, read, offset, filesz)
    if raw[-1] != 0:
        raise ElfError(f"PT_INTERP at {offset:#x} is not NUL-terminated")
    return _decode(raw[: raw.index(0)])


def _read_dynamic(
    read: Reader, size: int, lay: Layout, offset: int, filesz: int, loads: list[tuple[int, int, int]]
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


def _read_build_id(head: bytes, read: Reader, size: int, lay: Layout, notes: list[tuple[int, int, int]]) -> str | None:
    """The NT_GNU_BUILD_ID descriptor from the PT_NOTE segments, as hex."""
    budget = MAX_NOTE_BYTES
    for offset, filesz, p_align in notes:
        if budget <= 0:
            break
        _check_end("PT_NOTE segment", offset, filesz, size)
        length = min(filesz, budget)
        budget -= length
        data = _bytes_at(head, read, offset, length)
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
