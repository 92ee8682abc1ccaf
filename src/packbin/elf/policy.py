"""The static-linkage policy: is this ELF file a static executable (for this architecture)?

Small on purpose: it compares an :class:`~packbin.elf.record.ElfInfo` with what a pack binary must be and
says, in plain words, every way it falls short. It never reads files.

"Static" here means: Linux's ELF loader (fs/binfmt_elf.c, ``load_elf_binary``) would exec the
file with no interpreter, and the file's own bytes say the same thing to this parser as to that
loader. So a file passes when

- it is ET_EXEC, or a static-pie (ET_DYN with DF_1_PIE), with no PT_INTERP and no DT_NEEDED;
- its machine is one whose loader packbin models (:data:`~packbin.elf.loaders.KERNEL_LOADERS`), and its EI_CLASS and
  EI_DATA are the ones that loader uses for that machine (the kernel never looks at EI_CLASS or
  EI_DATA for its native machine: it reads the header in its own layout);
- the program header table is what the loader accepts (entry size, count, inside the file), and
  what qemu-user also checks for foreign-architecture runs (:func:`header_problems`);
- every PT_LOAD is one the loader can map and the program can use, the entry point is code of the
  image, and the entries the program's own start code reads through AT_PHDR (PT_TLS,
  PT_GNU_RELRO, PT_DYNAMIC, ...) describe bytes of that image (:func:`segment_problems`);
  these two, the loader's rules, are :mod:`packbin.elf.loader_rules`;
- when an architecture is given, it has that architecture's machine, class and byte order, and
  the e_flags its preset says matter (:attr:`~packbin.arch.Architecture.e_flags`: ARM EABI
  version and float ABI, RISC-V float ABI, ppc64 ELFv2; why each, in packbin.config.presets).

tests/unit/test_exec_oracle.py holds these rules to the kernel: every header mutant of a real
program that passes here must run alone in an empty root.

Anything the parser and the kernel could read differently is a failure with its reason, not a
guess: being stricter than the kernel only ever refuses a file, never passes a bad one.
"""

from __future__ import annotations

from packbin.arch import Architecture, machine_label
from packbin.elf.loader_rules import header_problems, loader_problems, segment_problems
from packbin.elf.record import DF_1_PIE, ET_DYN, ElfInfo


def is_static(info: ElfInfo) -> bool:
    """No interpreter and no needed libraries (what the JSON report calls ``static``)."""
    return info.interpreter is None and not info.needed


def describe_linkage(info: ElfInfo) -> str:
    """``static``, ``static-pie`` or ``dynamic``.

    A shared library counts as dynamic even without DT_NEEDED: it only runs when loaded by
    something else.
    """
    if not is_static(info):
        return "dynamic"
    if info.e_type == ET_DYN:
        return "static-pie" if info.flags_1 & DF_1_PIE else "dynamic"
    return "static"


def _shape(machine: int, elf_class: int, endian: str) -> str:
    return f"{machine_label(machine)}, {elf_class}-bit {endian}-endian"


def static_problems(info: ElfInfo, arch: Architecture | None) -> tuple[str, ...]:
    """Every reason ``info`` is not a static executable (for ``arch``); ``()`` means it is one."""
    problems: list[str] = []

    if info.type_name == "shared":
        what = f"shared library ({info.soname})" if info.soname else "shared library"
        problems.append(f"{what}, not an executable")
    elif info.type_name == "relocatable":
        problems.append("relocatable object file, not an executable")
    elif info.type_name == "core":
        problems.append("core dump, not an executable")
    elif info.type_name == "unknown":
        problems.append(f"unknown ELF type {info.e_type:#x}, not an executable")

    if info.type_name in ("exec", "pie") and info.load_segments == 0:
        problems.append("no loadable segment (PT_LOAD): the kernel cannot run it")

    static = is_static(info)
    if not static:
        parts: list[str] = []
        if info.interpreter is not None:
            parts.append(f"interpreter {info.interpreter}")
        if info.needed:
            parts.append(", ".join(info.needed))
        problems.append("dynamic: needs " + " and ".join(parts))

    if arch is not None:
        found = (info.machine, info.elf_class, info.endian)
        expected = (arch.elf_machine, arch.elf_class, arch.byte_order)
        if found != expected:
            name = info.arch or "unknown"
            if info.machine != arch.elf_machine:
                problems.append(
                    f"wrong architecture: {name} ({machine_label(info.machine)}), expected {arch.describe_machine()}"
                )
            else:
                # Same machine, other class or byte order (armeb vs arm, x32 vs x86_64): say how.
                problems.append(
                    f"wrong architecture: {name} ({_shape(*found)}), expected {arch.name} ({_shape(*expected)})"
                )
        else:
            # Same machine, class and byte order, other ABI (soft-float armv7, ELFv1 ppc64le):
            # also the wrong architecture, so the loader checks below are skipped as for those.
            problems.extend(
                "wrong architecture: " + p
                for p in (rule.problem(arch.name, info.e_flags) for rule in arch.e_flags)
                if p
            )

    if info.type_name in ("exec", "pie") and static and not any(p.startswith("wrong architecture") for p in problems):
        # How the loader reads the header explains the rest (a bogus e_phentsize hides PT_INTERP
        # or every PT_LOAD from the parser). A file the parser already sees as dynamic is refused
        # for that; the segment checks, the costly part, only run for a file that passes
        # everything else: a refused file needs no more reasons.
        problems.extend(header_problems(info))
        if not problems:
            problems.extend(segment_problems(info))
    return tuple(problems)


__all__ = [
    "describe_linkage",
    "header_problems",
    "is_static",
    "loader_problems",
    "segment_problems",
    "static_problems",
]
