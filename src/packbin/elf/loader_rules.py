"""The loader's rules: how Linux's ELF loader (fs/binfmt_elf.c), qemu-user and the program's own
start code read an executable's header and program headers, as checks on an
:class:`~packbin.elf.record.ElfInfo`.

- :func:`header_problems`: the ELF header as the kernel (and qemu-user) reads it;
- :func:`segment_problems`: the PT_LOADs, the entry point and the entries the start code reads;
- :func:`loader_problems`: both, for a file of a type the loader accepts.

The static-linkage policy (:mod:`packbin.elf.policy`) runs them once a file passes its other
rules; they never read files.
"""

from __future__ import annotations

import bisect
import itertools
import operator
import struct

from packbin.arch import ElfMachine, machine_label
from packbin.elf.loaders import KERNEL_LOADERS, KernelLoader
from packbin.elf.record import (
    ET_EXEC,
    MAX_PROPERTY_NOTE,
    PF_X,
    PT_DYNAMIC,
    PT_GNU_EH_FRAME,
    PT_GNU_PROPERTY,
    PT_GNU_RELRO,
    PT_INTERP,
    PT_NOTE,
    PT_PHDR,
    PT_TLS,
    ElfInfo,
    Segment,
)

NT_GNU_PROPERTY_TYPE_0 = 5

#: load_elf_phdrs(): ``e_phentsize != sizeof(struct elf_phdr)`` is refused; the table's size must be
#: non-zero and at most 64 KiB, and kernels before 5.x also refused more than ELF_MIN_ALIGN (a 4 KiB
#: page on x86). The smaller bound is used: 73 ELF64 headers, far more than any linker writes.
MAX_PHDR_TABLE = 4096
PHDR_SIZE = {32: 32, 64: 56}
EHDR_SIZE = {32: 52, 64: 64}
#: mmap() needs p_offset - PAGEOFFSET(p_vaddr) page-aligned (elf_map); 4 KiB is the smallest page
#: of every architecture above. Bigger pages are covered by p_align (below).
PAGE = 4096
#: ET_EXEC is mapped at its own addresses with MAP_FIXED, which fails below vm.mmap_min_addr
#: (Debian and most distributions: 65536).
MMAP_MIN_ADDR = 65536
#: Linkers lay the image out contiguously in the file (at most a page of padding between
#: segments; node, the largest seen, has two). A bigger hole between two PT_LOADs means file
#: bytes the program was linked to find in memory are not mapped: a PT_LOAD went missing.
MAX_LOAD_GAP = 64 << 10
#: No linker aligns a segment (or a TLS block) past this; the kernel must place an ET_DYN at a
#: multiple of the largest p_align, and libc gives every thread a copy of the TLS block.
MAX_ALIGN = 1 << 30
MAX_TLS = 1 << 30
#: Memory the PT_LOADs ask for at exec, bss included. The kernel maps it all before the program
#: starts (vm_brk for the bss) and kills the process when the machine cannot commit it; qemu-user
#: reserves it as guest address space up front. Pack binaries need megabytes; past 1 GiB the
#: answer depends on the machine, so it is refused rather than guessed.
MAX_IMAGE = 1 << 30
#: Entries the program's own start code (libc: TLS set-up, RELRO, self-relocation, the unwinder)
#: reads from its program headers, through AT_PHDR. There is one of each in a linked program.
_ONCE = {
    PT_PHDR: "PT_PHDR",
    PT_TLS: "PT_TLS",
    PT_DYNAMIC: "PT_DYNAMIC",
    PT_GNU_RELRO: "PT_GNU_RELRO",
    PT_GNU_EH_FRAME: "PT_GNU_EH_FRAME",
    PT_INTERP: "PT_INTERP",
    PT_GNU_PROPERTY: "PT_GNU_PROPERTY",
}
#: Entries that describe bytes of the image: they must be bytes some PT_LOAD maps.
_MAPPED = {**_ONCE, PT_NOTE: "PT_NOTE"}
_FILE_OFFSET = operator.attrgetter("offset")
_NO_ADDRESS = 1 << 128  # past every 64-bit address


def loader_problems(info: ElfInfo) -> list[str]:
    """Every way the kernel's loader would refuse ``info``, read it differently, or map it unusably.

    Only meaningful for ET_EXEC and ET_DYN (the types ``load_elf_binary`` accepts).
    """
    return header_problems(info) or segment_problems(info)


def segment_problems(info: ElfInfo) -> list[str]:
    """The PT_LOADs, the entry point and the entries the program's start code reads (see below)."""
    loader = KERNEL_LOADERS[info.machine]
    problems = _load_problems(info, loader)
    problems.extend(_entry_problems(info))
    problems.extend(_image_problems(info, loader))
    return problems


def header_problems(info: ElfInfo) -> list[str]:
    """The ELF header as the kernel (and qemu-user) reads it: machine, class, byte order, table."""
    problems: list[str] = []
    loader = KERNEL_LOADERS.get(info.machine)
    if loader is None:
        # Without a model of its loader, packbin cannot say the kernel reads it as parsed.
        return [f"unknown machine {machine_label(info.machine)}: packbin does not know how Linux loads it"]
    if info.elf_class not in loader.classes:
        # The class trick: the header the kernel reads is not the header the parser read.
        return [
            f"ELF{info.elf_class} header with {machine_label(info.machine)}: {loader.class_note}, so it would not load as parsed"
        ]
    if info.endian not in loader.endians:
        return [
            f"{info.endian}-endian header with {machine_label(info.machine)}: no Linux kernel of that machine reads it in that byte order"
        ]

    # Foreign-architecture runs (an arm64 image on an amd64 engine, and the reverse) go through
    # binfmt_misc and qemu-user, which check more than the kernel: the binfmt entry's mask
    # requires EI_ABIVERSION and EI_PAD to be zero, and qemu's elf_check_ident/elf_check_ehdr
    # require EI_VERSION == EV_CURRENT and e_ehsize == sizeof(Elf_Ehdr).
    if info.ident[6] != 1:
        problems.append(f"EI_VERSION is {info.ident[6]}, not 1 (EV_CURRENT): qemu-user refuses it")
    if any(info.ident[8:16]):
        problems.append(
            "EI_ABIVERSION or EI_PAD bytes are not zero: the binfmt_misc entries of qemu-user do not match it"
        )
    if info.ehsize != EHDR_SIZE[info.elf_class]:
        problems.append(
            f"e_ehsize is {info.ehsize}, not {EHDR_SIZE[info.elf_class]} (ELF{info.elf_class} header): qemu-user refuses it"
        )

    # load_elf_phdrs(): the entry size must be the kernel's struct elf_phdr, exactly.
    want = PHDR_SIZE[info.elf_class]
    if info.phentsize != want:
        problems.append(
            f"e_phentsize is {info.phentsize}, not {want} (ELF{info.elf_class} program header): the kernel refuses it"
        )
    table = info.phnum * want
    if info.phnum == 0 or table > MAX_PHDR_TABLE:
        problems.append(f"e_phnum is {info.phnum}: the kernel loads 1 to {MAX_PHDR_TABLE // want} program headers")
    elif info.phoff + table > info.size:
        problems.append(
            f"program header table ends at {info.phoff + table:#x}, past the end of the file ({info.size:#x} bytes)"
        )
    return problems


def _load_problems(info: ElfInfo, loader: KernelLoader) -> list[str]:
    problems: list[str] = []
    prev_end: int | None = None
    size, user_top = info.size, loader.user_top
    for i, (offset, vaddr, filesz, memsz, align, _flags) in enumerate(info.loads):
        bad: list[str] = []  # this segment's problems; the label is made only when there are some
        # load_elf_binary(): "p_filesz must always be <= p_memsz" (else -EINVAL after the point
        # of no return: the process is killed).
        if filesz > memsz:
            bad.append(f"p_filesz {filesz:#x} is larger than p_memsz {memsz:#x}: the kernel refuses it")
        # The file bytes mapped must exist: past the end of the file, touching them is SIGBUS.
        if filesz and offset + filesz > size:
            bad.append(f"file bytes {offset:#x}..{offset + filesz:#x} run past the end of the file ({size:#x} bytes)")
        # elf_map(): mmap at p_offset - PAGEOFFSET(p_vaddr) needs that offset page-aligned.
        if filesz and (offset - vaddr) % PAGE:
            bad.append(
                f"p_offset {offset:#x} and p_vaddr are not congruent modulo the page size ({PAGE:#x}): mmap refuses it"
            )
        # gABI: p_align is 0, 1 or a power of two with p_vaddr = p_offset (mod p_align); kernels
        # with bigger pages (arm64 16K/64K, ppc64 64K) rely on it, and so does the ET_DYN load bias.
        if align > 1:
            if align & (align - 1):
                bad.append(f"p_align {align:#x} is not a power of two")
            elif align > MAX_ALIGN:
                bad.append(
                    f"p_align {align:#x} is larger than {MAX_ALIGN:#x}: the kernel cannot place the image at such a multiple"
                )
            elif filesz and (offset - vaddr) % align:
                bad.append(f"p_offset {offset:#x} and p_vaddr are not congruent modulo p_align {align:#x}")
        end = vaddr + memsz
        # The kernel: BAD_ADDR(k) || p_memsz > TASK_SIZE || TASK_SIZE - p_memsz < k.
        if end > user_top:
            bad.append(f"ends at {end:#x}, beyond the {user_top:#x} bytes of user address space")
        # gABI: PT_LOAD entries are sorted by p_vaddr; the kernel sizes an ET_DYN mapping from the
        # first and the last one (total_mapping_size), and MAP_FIXED over an earlier segment
        # would replace its pages. So: ascending, not overlapping.
        if prev_end is None:
            prev_end = end
        else:
            if vaddr < prev_end:
                bad.append(f"overlaps or precedes the previous PT_LOAD (which ends at {prev_end:#x})")
            prev_end = max(prev_end, end)
        if bad:
            where = f"PT_LOAD #{i} (vaddr {vaddr:#x})"
            problems.extend([f"{where}: {p}" for p in bad])
    total = sum(seg.memsz for seg in info.loads)
    if total > MAX_IMAGE:
        problems.append(f"the PT_LOADs need {total:#x} bytes of memory at exec, more than {MAX_IMAGE:#x}")
    if info.e_type == ET_EXEC and info.loads:
        low = min(seg.vaddr for seg in info.loads) & ~(PAGE - 1)
        if low < MMAP_MIN_ADDR:
            problems.append(
                f"ET_EXEC mapped at {low:#x}, below vm.mmap_min_addr ({MMAP_MIN_ADDR:#x}): the kernel cannot map it"
            )
    return problems


def _entry_problems(info: ElfInfo) -> list[str]:
    # start_thread() jumps to e_entry (+ load bias): it must be file-backed code of the image.
    # ppc64 ELFv1's entry is a function descriptor in data, so only there PF_X is not required.
    need_x = info.machine != ElfMachine.EM_PPC64
    for seg in info.loads:
        if seg.vaddr <= info.entry < seg.vaddr + seg.filesz:
            if need_x and not seg.flags & PF_X:
                return [f"entry point {info.entry:#x} is in a PT_LOAD that is not executable"]
            return []
    if not info.loads:
        return []  # already "no loadable segment"
    return [f"entry point {info.entry:#x} is not inside the file image of any PT_LOAD"]


def _mapped_from_file(seg: Segment, loads: tuple[Segment, ...]) -> bool:
    """True when one PT_LOAD maps ``seg``'s file bytes at ``seg``'s address (what the parser reads
    at p_offset is what the program finds at p_vaddr)."""
    offset, vaddr, filesz = seg.offset, seg.vaddr, seg.filesz
    for ld_offset, ld_vaddr, ld_filesz, _, _, _ in loads:
        if ld_offset <= offset and offset + filesz <= ld_offset + ld_filesz and vaddr - ld_vaddr == offset - ld_offset:
            return True
    return False


def _image_problems(info: ElfInfo, loader: KernelLoader) -> list[str]:
    """The program headers describe the linked image as the program's start code will read it."""
    loads = info.loads
    if not loads:
        return []
    problems = _layout_problems(info, loads)
    problems.extend(_section_problems(info, loads))
    problems.extend(_program_entry_problems(info, loader, loads))
    return problems


def _layout_problems(info: ElfInfo, loads: tuple[Segment, ...]) -> list[str]:
    """The first PT_LOAD maps the headers; the PT_LOADs leave no big hole in the file."""
    problems: list[str] = []
    # The kernel passes the program headers' address as AT_PHDR (the PT_LOAD holding e_phoff; older
    # kernels: first PT_LOAD's p_vaddr - p_offset + e_phoff), and libc reads PT_TLS and the rest
    # there. So the first PT_LOAD maps the file from offset 0, and the table is in its image.
    first = loads[0]
    table = info.phnum * info.phentsize
    if first.offset != 0:
        problems.append(
            f"the first PT_LOAD maps file offset {first.offset:#x}, not 0: the ELF and program headers are not in memory"
        )
    elif not (info.phoff + table <= first.filesz):
        problems.append(
            "the program header table is not inside the first PT_LOAD: the program's start code cannot read it (AT_PHDR)"
        )
    ordered = sorted(loads, key=_FILE_OFFSET)
    for a, b in itertools.pairwise(ordered):
        gap = b.offset - (a.offset + a.filesz)
        if gap > max(MAX_LOAD_GAP, b.align):
            problems.append(
                f"{gap:#x} bytes of the file between PT_LOADs at {a.offset:#x} and {b.offset:#x} are not mapped: a segment is missing"
            )
    return problems


def _section_problems(info: ElfInfo, loads: tuple[Segment, ...]) -> list[str]:
    """The first allocated section no PT_LOAD provides, if any."""
    # The linker's sections say what the image holds; each must be memory some PT_LOAD provides
    # (a PT_LOAD dropped from the table, or e_phnum cut short, leaves code or data unmapped).
    ranges = sorted((ld.vaddr, ld.vaddr + ld.memsz) for ld in loads)
    starts = [start for start, _ in ranges]
    # Sections come in address order, many to a PT_LOAD: the search runs only when a section
    # leaves the span [lo, nxt) in which the search found the previous one.
    lo, hi, nxt = 1, 0, 0
    for addr, size in info.alloc_sections:
        end = addr + size
        if lo <= addr < nxt and end <= hi:
            continue
        i = bisect.bisect_right(starts, addr) - 1  # the PT_LOAD starting last at or before it
        if i < 0 or end > ranges[i][1]:
            return [
                f"section at {addr:#x} ({size:#x} bytes) is not inside any PT_LOAD: part of the program is not mapped"
            ]
        lo, hi = ranges[i]
        nxt = starts[i + 1] if i + 1 < len(starts) else _NO_ADDRESS
    return []


def _program_entry_problems(info: ElfInfo, loader: KernelLoader, loads: tuple[Segment, ...]) -> list[str]:
    """The entries other than PT_LOAD that the start code reads: mapped from their own bytes, once each."""
    problems: list[str] = []
    table = info.phnum * info.phentsize
    seen: dict[int, int] = {}
    for p_type, seg in info.others:
        seen[p_type] = seen.get(p_type, 0) + 1
        name = _MAPPED.get(p_type)
        if name is None:
            continue
        if seg.filesz > seg.memsz:
            problems.append(f"{name}: p_filesz {seg.filesz:#x} is larger than p_memsz {seg.memsz:#x}")
        elif seg.vaddr + seg.memsz > loader.user_top:
            problems.append(
                f"{name}: ends at {seg.vaddr + seg.memsz:#x}, beyond the {loader.user_top:#x} bytes of user address space"
            )
        elif seg.filesz and not _mapped_from_file(seg, loads):
            problems.append(
                f"{name} (offset {seg.offset:#x}, vaddr {seg.vaddr:#x}) is not mapped from its own file bytes by a PT_LOAD: "
                "the program would read other bytes than the ones checked"
            )
        if p_type == PT_TLS:
            problems.extend(_tls_problems(seg))
        elif p_type == PT_GNU_RELRO:
            # mprotect()ed read-only after start-up: it must be memory some PT_LOAD provides.
            if not any(ld.vaddr <= seg.vaddr and seg.vaddr + seg.memsz <= ld.vaddr + ld.memsz for ld in loads):
                problems.append(f"PT_GNU_RELRO ({seg.vaddr:#x}, {seg.memsz:#x} bytes) is not inside a PT_LOAD")
        elif p_type == PT_GNU_PROPERTY and seg is next(sg for t, sg in reversed(info.others) if t == PT_GNU_PROPERTY):
            problems.extend(_property_problems(info, seg))
        elif p_type == PT_PHDR and (seg.offset != info.phoff or seg.filesz < table):
            problems.append(
                f"PT_PHDR (offset {seg.offset:#x}, {seg.filesz:#x} bytes) is not the program header table ({info.phoff:#x}, {table:#x} bytes)"
            )
    for p_type, count in seen.items():
        if count > 1 and p_type in _ONCE:
            problems.append(
                f"{count} {_ONCE[p_type]} entries: a linked program has one, and readers disagree on which one counts"
            )
    return problems


def _tls_problems(seg: Segment) -> list[str]:
    """PT_TLS: the TLS block's layout is the thread pointer's, so its alignment and size must be usable."""
    problems: list[str] = []
    # libc aligns the block to p_align (musl computes sizes modulo p_align - 1, so 0 is not
    # "no alignment" there).
    if seg.align == 0 or seg.align & (seg.align - 1):
        problems.append(f"PT_TLS: p_align {seg.align:#x} is not a power of two")
    elif seg.align > MAX_ALIGN:
        problems.append(f"PT_TLS: p_align {seg.align:#x} is larger than {MAX_ALIGN:#x}")
    elif seg.align > 1 and seg.vaddr % seg.align:
        problems.append(f"PT_TLS: p_vaddr {seg.vaddr:#x} is not aligned to its p_align {seg.align:#x}")
    if seg.memsz > MAX_TLS:
        problems.append(
            f"PT_TLS: p_memsz {seg.memsz:#x} is larger than {MAX_TLS:#x}: libc cannot give each thread such a TLS block"
        )
    return problems


def _property_problems(info: ElfInfo, seg: Segment) -> list[str]:
    """The last PT_GNU_PROPERTY, checked as fs/binfmt_elf.c parse_elf_properties() checks it.

    arm64 kernels (ARCH_USE_GNU_PROPERTY, for BTI) and qemu-user refuse the exec when it is
    malformed: longer than 1 KiB, not one NT_GNU_PROPERTY_TYPE_0 "GNU" note, or properties that
    overrun the note, are misaligned or not sorted by type.
    """
    note = info.gnu_property
    bad = "PT_GNU_PROPERTY: "
    if seg.filesz > MAX_PROPERTY_NOTE:
        return [bad + f"{seg.filesz:#x} bytes, more than the {MAX_PROPERTY_NOTE} the kernel reads"]
    if note is None or len(note) < seg.filesz:
        return [bad + "its bytes are not in the file"]
    e = "<" if info.endian == "little" else ">"
    if len(note) < 16:
        return [bad + f"{len(note)} bytes, too short for a note"]
    namesz, descsz, n_type = struct.unpack_from(e + "III", note)
    if n_type != NT_GNU_PROPERTY_TYPE_0 or namesz != 4 or note[12:16] != b"GNU\0":
        return [bad + "not an NT_GNU_PROPERTY_TYPE_0 note named GNU"]
    align = 8 if info.elf_class == 64 else 4
    off = -(-16 // align) * align
    n = len(note)
    if off > n or descsz > n - off:
        return [bad + "the note's descriptor runs past the segment"]
    end = off + descsz
    prev: int | None = None
    while off < end:
        if end - off < 8:
            return [bad + "a property header runs past the note"]
        pr_type, pr_datasz = struct.unpack_from(e + "II", note, off)
        off += 8
        step = -(-pr_datasz // align) * align
        if pr_datasz > end - off or step > end - off:
            return [bad + f"property {pr_type:#x} runs past the note"]
        if prev is not None and pr_type <= prev:
            return [bad + "properties are not sorted by type (or repeat one)"]
        prev = pr_type
        off += step
    return []


__all__ = ["header_problems", "loader_problems", "segment_problems"]
