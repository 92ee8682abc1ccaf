"""The static-linkage policy: is this ELF file a static executable (for this architecture)?

Small on purpose: it compares an :class:`~packbin.elf.ElfInfo` with what a pack binary must be and
says, in plain words, every way it falls short. It never reads files.

A file passes when it has no PT_INTERP, no DT_NEEDED, is ET_EXEC or a static-pie (ET_DYN with
DF_1_PIE and no interpreter), and, when an architecture is given, has that architecture's
machine, class and byte order.
"""

from __future__ import annotations

from packbin.arch import Architecture, machine_label
from packbin.elf import DF_1_PIE, ET_DYN, ElfInfo


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

    if not is_static(info):
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
                problems.append(f"wrong architecture: {name} ({machine_label(info.machine)}), expected {arch.describe_machine()}")
            else:
                # Same machine, other class or byte order (armeb vs arm, x32 vs x86_64): say how.
                problems.append(
                    f"wrong architecture: {name} ({_shape(*found)}), expected {arch.name} ({_shape(*expected)})"
                )
    return tuple(problems)
