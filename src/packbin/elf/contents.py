"""What the program headers point at, read for the parser: PT_INTERP, PT_DYNAMIC (DT_NEEDED,
DT_SONAME and DT_FLAGS_1, the names through the dynamic string table) and the PT_NOTE build-id.

The same rules as :mod:`packbin.elf.parser` (whose helpers these are): every offset and size is
checked against the file size before anything is read, and every walk has a fixed upper bound.
"""

from __future__ import annotations

from collections.abc import Callable

from packbin.elf.record import (
    DT_FLAGS_1,
    DT_NEEDED,
    DT_NULL,
    DT_SONAME,
    DT_STRSZ,
    DT_STRTAB,
    NT_GNU_BUILD_ID,
    ElfError,
    Layout,
)

#: The kernel refuses a PT_INTERP longer than PATH_MAX (fs/binfmt_elf.c); so do we.
PATH_MAX = 4096
#: Upper bounds for walks over variable-length data. Real files stay far below them (a large
#: shared library has about 100 dynamic entries and a few hundred bytes of notes); they exist so
#: a crafted file cannot turn a walk into a hang.
MAX_DYNAMIC_ENTRIES = 1 << 16
MAX_NOTE_BYTES = 1 << 16
MAX_NAME = 4096
#: A dynamic string table up to this size is read in one go; above it, names are read one by one
#: (libLLVM's is megabytes, and only the DT_NEEDED names are wanted).
_STRTAB_WHOLE = 1 << 14
_DYN_CHUNK = 4096
Reader = Callable[[int, int], bytes]


def check_end(what: str, start: int, length: int, size: int) -> None:
    end = start + length
    if end > size:
        raise ElfError(f"truncated {what}: ends at {end:#x}, file is {size:#x} bytes")


def decode(raw: bytes) -> str:
    # Names are bytes to the loader; backslashreplace keeps odd ones printable and JSON-safe.
    return raw.decode("utf-8", "backslashreplace")


def bytes_at(head: bytes, read: Reader, offset: int, length: int) -> bytes:
    """``length`` bytes at ``offset``: from ``head`` (the file's first bytes) when it holds them."""
    end = offset + length
    if end <= len(head):
        return head[offset:end]
    return read(offset, length)


def read_interp(head: bytes, read: Reader, size: int, offset: int, filesz: int) -> str:
    # Same limits as the kernel's loader: 2..PATH_MAX bytes, NUL-terminated.
    if filesz > PATH_MAX:
        raise ElfError(f"PT_INTERP at {offset:#x} is {filesz:#x} bytes, longer than PATH_MAX ({PATH_MAX})")
    if filesz < 2:
        raise ElfError(f"PT_INTERP at {offset:#x} is {filesz} bytes, too short for a path")
    check_end("PT_INTERP segment", offset, filesz, size)
    raw = bytes_at(head, read, offset, filesz)
    if raw[-1] != 0:
        raise ElfError(f"PT_INTERP at {offset:#x} is not NUL-terminated")
    return decode(raw[: raw.index(0)])


def read_dynamic(
    read: Reader, size: int, lay: Layout, offset: int, filesz: int, loads: list[tuple[int, int, int]]
) -> tuple[tuple[str, ...], str | None, int]:
    """Walk PT_DYNAMIC up to DT_NULL; resolve DT_NEEDED and DT_SONAME names through DT_STRTAB.

    Part of the parser's hot path (every dynamic file comes here), kept whole on purpose although
    it is over the 80-line bound: split into the walk and the name lookup, it cost one call more
    per file, +0.46% of the instructions of benchmarks/verify_passes.py (callgrind, 2 passes over
    1,710 files: 635.9 M against 633.0 M).
    """
    check_end("dynamic segment", offset, filesz, size)
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
        check_end("dynamic string table (DT_STRTAB/DT_STRSZ)", table_off, strsz, size)
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
            return decode(whole[index:end])
        # A big table: read a small window, growing to MAX_NAME, only where the name is.
        window = 256
        while True:
            length = min(window, table_len - index, MAX_NAME + 1)
            raw = read(table_off + index, length)
            end = raw.find(b"\0")
            if end >= 0:
                return decode(raw[:end])
            if length < window or window > MAX_NAME:
                raise ElfError(
                    f"{what} name at string table offset {index:#x} is not NUL-terminated within {MAX_NAME} bytes"
                )
            window *= 4

    needed = tuple(name(i, "DT_NEEDED") for i in needed_offsets)
    soname = name(soname_offset, "DT_SONAME") if soname_offset is not None else None
    return needed, soname, flags_1


def read_build_id(head: bytes, read: Reader, size: int, lay: Layout, notes: list[tuple[int, int, int]]) -> str | None:
    """The NT_GNU_BUILD_ID descriptor from the PT_NOTE segments, as hex."""
    budget = MAX_NOTE_BYTES
    for offset, filesz, p_align in notes:
        if budget <= 0:
            break
        check_end("PT_NOTE segment", offset, filesz, size)
        length = min(filesz, budget)
        budget -= length
        data = bytes_at(head, read, offset, length)
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


__all__ = [
    "MAX_DYNAMIC_ENTRIES",
    "MAX_NAME",
    "MAX_NOTE_BYTES",
    "PATH_MAX",
    "Reader",
    "bytes_at",
    "check_end",
    "decode",
    "read_build_id",
    "read_dynamic",
    "read_interp",
]
