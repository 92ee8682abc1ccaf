"""Architectures: the ELF machine table and the configured build architectures.

The ELF side (``ElfMachine`` and :func:`arch_name`) is a fixed table from the ELF specification,
used by the verifier to name what it finds. The build side (:class:`Architecture`) comes from
the built-in presets (:mod:`packbin.config.presets`), completed or overridden by buildcfg.toml: name,
aliases, Rust triple, Docker platform and what the ELF header must say, e_flags included.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class ElfMachine(enum.IntEnum):
    """e_machine values packbin can name (ELF gABI, "Machine Information")."""

    EM_SPARC = 2
    EM_386 = 3
    EM_68K = 4
    EM_MIPS = 8
    EM_PARISC = 15
    EM_SPARC32PLUS = 18
    EM_PPC = 20
    EM_PPC64 = 21
    EM_S390 = 22
    EM_ARM = 40
    EM_SPARCV9 = 43
    EM_IA_64 = 50
    EM_X86_64 = 62
    EM_AARCH64 = 183
    EM_RISCV = 243
    EM_LOONGARCH = 258


def machine_label(machine: int) -> str:
    """``EM_X86_64`` for a known machine, ``EM_<number>`` otherwise."""
    try:
        return ElfMachine(machine).name
    except ValueError:
        return f"EM_{machine}"


def arch_name(machine: int, elf_class: int, endian: str) -> str | None:
    """The conventional architecture name for an ELF header, or None when unknown.

    Names follow Docker/Debian usage where the two agree (arm64, ppc64le, s390x, riscv64).
    """
    little = endian == "little"
    m = machine
    if m == ElfMachine.EM_X86_64:
        return "x86_64" if elf_class == 64 else "x32"
    if m == ElfMachine.EM_AARCH64:
        return "arm64" if little else "arm64be"
    if m == ElfMachine.EM_386:
        return "i386"
    if m == ElfMachine.EM_ARM:
        return "arm" if little else "armeb"
    if m == ElfMachine.EM_RISCV:
        return "riscv64" if elf_class == 64 else "riscv32"
    if m == ElfMachine.EM_PPC64:
        return "ppc64le" if little else "ppc64"
    if m == ElfMachine.EM_PPC:
        return "ppc" if not little else "ppcle"
    if m == ElfMachine.EM_S390:
        return "s390x" if elf_class == 64 else "s390"
    if m == ElfMachine.EM_MIPS:
        base = "mips64" if elf_class == 64 else "mips"
        return base + ("el" if little else "")
    if m in (ElfMachine.EM_SPARCV9,):
        return "sparc64"
    if m in (ElfMachine.EM_SPARC, ElfMachine.EM_SPARC32PLUS):
        return "sparc"
    if m == ElfMachine.EM_LOONGARCH:
        return "loongarch64" if elf_class == 64 else "loongarch32"
    if m == ElfMachine.EM_68K:
        return "m68k"
    if m == ElfMachine.EM_IA_64:
        return "ia64"
    if m == ElfMachine.EM_PARISC:
        return "hppa"
    return None


#: ``uname -m`` / the engine's ``Architecture`` -> Docker platform. Used for the engine's native
#: platform and, before any connection exists, for the host's.
MACHINE_TO_PLATFORM = {
    "x86_64": "linux/amd64",
    "amd64": "linux/amd64",
    "aarch64": "linux/arm64",
    "arm64": "linux/arm64",
    "armv7l": "linux/arm/v7",
    "riscv64": "linux/riscv64",
    "ppc64le": "linux/ppc64le",
    "s390x": "linux/s390x",
}


@dataclass(frozen=True, kw_only=True)
class FlagRule:
    """One field of e_flags a target's executables must carry (``e_flags & mask == value``)."""

    mask: int
    value: int
    expected: str  # how problems name the wanted value: "the hard-float ABI (EF_ARM_ABI_FLOAT_HARD)"
    #: (field value, how a file with it is described): "soft-float (EF_ARM_ABI_FLOAT_SOFT)".
    known: tuple[tuple[int, str], ...] = ()

    def describe(self, e_flags: int) -> str:
        """How a file with these e_flags is described for this field."""
        found = e_flags & self.mask
        return dict(self.known).get(found, f"e_flags & {self.mask:#x} = {found:#x}")

    def problem(self, arch_name: str, e_flags: int) -> str | None:
        """``armv7 expects ..., this file is ...``; None when the file has the wanted value."""
        if e_flags & self.mask == self.value:
            return None
        return f"{arch_name} expects {self.expected}, this file is {self.describe(e_flags)}"


@dataclass(frozen=True, kw_only=True)
class Architecture:
    """One build architecture: a preset, or a preset completed by buildcfg.toml ``[architectures.NAME]``."""

    name: str
    aliases: tuple[str, ...]
    rust_target: str
    docker_platform: str
    elf_machine: int
    elf_class: int
    byte_order: str  # "little" | "big"
    #: What the loader (or the target's ABI) needs in e_flags; empty when nothing is checked.
    e_flags: tuple[FlagRule, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        """The canonical name followed by its aliases."""
        return (self.name, *self.aliases)

    def describe_machine(self) -> str:
        """``arm64 (EM_AARCH64)``: how problems name the expected architecture."""
        return f"{self.name} ({machine_label(self.elf_machine)})"
