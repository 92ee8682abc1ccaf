"""The architectures packbin knows without being told: one preset per Rust musl triple.

An explicit table, as cibuildwheel's ``architecture.py`` and auditwheel's ``lddtree._get_platform``
keep one: the Rust triple decides everything else (Docker platform, ELF machine, class, byte
order, and the e_flags that matter). buildcfg.toml's ``[architectures.NAME]`` tables only
override what differs (config.py); ``--arch`` may name any preset, configured or not.

A preset is here only when all three held on the reference machine (Debian 12 x86_64, the
builder's offline profile): std builds from Debian's rust-web-src, zig links the sensor
statically, and the result runs (natively or under qemu-user-static). docs/architectures.md
records the targets tried that did not make it, and why.

e_flags: only what a loader reads, or what tells the triple's ABI apart from its neighbour's,
is checked (see each rule):

- ARM: Linux's arm64 compat loader (arch/arm64/include/asm/elf.h ``compat_elf_check_arch``)
  refuses EABI version 0, and arch/arm/kernel/elf.c ``elf_check_arch`` applies its legacy
  (APCS-26, FPA/VFP) checks only to EABI-0 files; EABI 5 is what rustc, LLVM and musl write. The
  float ABI is read by no kernel or qemu for a static file, but it is what separates
  ``armv7-unknown-linux-musleabihf`` from ``...-musleabi``: a soft-float file was built for
  another target (and would not link with, nor call into, anything hard-float).
- RISC-V: the float ABI field (EF_RISCV_FLOAT_ABI, 0x6) is lp64d (DOUBLE, 0x4) for
  riscv64gc; the kernel (``elf_check_arch``: machine and class only) and qemu do not read it, it
  is the triple's ABI as above. EF_RISCV_RVC (0x1) only says compressed instructions occur:
  no loader concern, not checked.
- ppc64le: the kernel and qemu-user read ``e_flags & 3`` at exec (SET_PERSONALITY /
  TIF_ELF2ABI, qemu's ``get_ppc64_abi``): anything but 2 (ELFv2) makes them treat e_entry as an
  ELFv1 function descriptor and jump through it. musl supports only ELFv2 on powerpc64.
- x86_64, arm64, i686, s390x: no e_flags are defined or read (zero in every file).
"""

from __future__ import annotations

import difflib

from packbin.arch import Architecture, ElfMachine, FlagRule

EF_ARM_EABIMASK = 0xFF00_0000
EF_ARM_EABI_VER5 = 0x0500_0000
EF_ARM_ABI_FLOAT_SOFT = 0x200
EF_ARM_ABI_FLOAT_HARD = 0x400
EF_RISCV_FLOAT_ABI = 0x6
EF_RISCV_FLOAT_ABI_SOFT, EF_RISCV_FLOAT_ABI_SINGLE, EF_RISCV_FLOAT_ABI_DOUBLE, EF_RISCV_FLOAT_ABI_QUAD = 0, 2, 4, 6
EF_PPC64_ABI = 0x3

ARM_EABI5 = FlagRule(
    mask=EF_ARM_EABIMASK,
    value=EF_ARM_EABI_VER5,
    expected="ARM EABI version 5 (EF_ARM_EABI_VER5)",
    known=tuple(
        [(0, "of no EABI version (legacy ABI: arm64's 32-bit loader refuses it)")]
        + [(v << 24, f"EABI version {v}") for v in range(1, 5)]
    ),
)
ARM_HARD_FLOAT = FlagRule(
    mask=EF_ARM_ABI_FLOAT_SOFT | EF_ARM_ABI_FLOAT_HARD,
    value=EF_ARM_ABI_FLOAT_HARD,
    expected="the hard-float ABI (EF_ARM_ABI_FLOAT_HARD)",
    known=(
        (EF_ARM_ABI_FLOAT_SOFT, "soft-float (EF_ARM_ABI_FLOAT_SOFT)"),
        (0, "of no stated float ABI"),
        (EF_ARM_ABI_FLOAT_SOFT | EF_ARM_ABI_FLOAT_HARD, "both soft- and hard-float (invalid)"),
    ),
)
RISCV_DOUBLE_FLOAT = FlagRule(
    mask=EF_RISCV_FLOAT_ABI,
    value=EF_RISCV_FLOAT_ABI_DOUBLE,
    expected="the double-float ABI lp64d (EF_RISCV_FLOAT_ABI_DOUBLE)",
    known=(
        (EF_RISCV_FLOAT_ABI_SOFT, "soft-float lp64 (EF_RISCV_FLOAT_ABI_SOFT)"),
        (EF_RISCV_FLOAT_ABI_SINGLE, "single-float lp64f (EF_RISCV_FLOAT_ABI_SINGLE)"),
        (EF_RISCV_FLOAT_ABI_QUAD, "quad-float lp64q (EF_RISCV_FLOAT_ABI_QUAD)"),
    ),
)
PPC64_ELFV2 = FlagRule(
    mask=EF_PPC64_ABI,
    value=2,
    expected="the ELFv2 ABI (e_flags & 3 == 2)",
    known=(
        (0, "of no stated ABI (the loader treats it as ELFv1: e_entry is read as a function descriptor)"),
        (1, "ELFv1 (e_entry is a function descriptor; musl has no ELFv1 port)"),
        (3, "of an undefined ABI (e_flags & 3 == 3)"),
    ),
)

#: The presets, in the order help text lists them.
PRESETS: tuple[Architecture, ...] = (
    Architecture(
        name="x86_64",
        aliases=("amd64", "x86-64", "x64"),
        rust_target="x86_64-unknown-linux-musl",
        docker_platform="linux/amd64",
        elf_machine=ElfMachine.EM_X86_64,
        elf_class=64,
        byte_order="little",
    ),
    Architecture(
        name="arm64",
        aliases=("aarch64", "arm64v8"),
        rust_target="aarch64-unknown-linux-musl",
        docker_platform="linux/arm64",
        elf_machine=ElfMachine.EM_AARCH64,
        elf_class=64,
        byte_order="little",
    ),
    Architecture(
        name="armv7",
        aliases=("arm", "armhf", "arm32v7"),
        rust_target="armv7-unknown-linux-musleabihf",
        docker_platform="linux/arm/v7",
        elf_machine=ElfMachine.EM_ARM,
        elf_class=32,
        byte_order="little",
        e_flags=(ARM_EABI5, ARM_HARD_FLOAT),
    ),
    Architecture(
        name="riscv64",
        aliases=(),
        rust_target="riscv64gc-unknown-linux-musl",
        docker_platform="linux/riscv64",
        elf_machine=ElfMachine.EM_RISCV,
        elf_class=64,
        byte_order="little",
        e_flags=(RISCV_DOUBLE_FLOAT,),
    ),
    Architecture(
        name="i686",
        aliases=("i386", "x86", "386"),
        rust_target="i686-unknown-linux-musl",
        docker_platform="linux/386",
        elf_machine=ElfMachine.EM_386,
        elf_class=32,
        byte_order="little",
    ),
    Architecture(
        name="ppc64le",
        aliases=("powerpc64le",),
        rust_target="powerpc64le-unknown-linux-musl",
        docker_platform="linux/ppc64le",
        elf_machine=ElfMachine.EM_PPC64,
        elf_class=64,
        byte_order="little",
        e_flags=(PPC64_ELFV2,),
    ),
    Architecture(
        name="s390x",
        aliases=(),
        rust_target="s390x-unknown-linux-musl",
        docker_platform="linux/s390x",
        elf_machine=ElfMachine.EM_S390,
        elf_class=64,
        byte_order="big",
    ),
)

#: The qemu-user-static each preset's binaries run under on an x86_64 host (None: natively).
QEMU_USER: dict[str, str | None] = {
    "x86_64": None,
    "arm64": "qemu-aarch64-static",
    "armv7": "qemu-arm-static",
    "riscv64": "qemu-riscv64-static",
    "i686": None,
    "ppc64le": "qemu-ppc64le-static",
    "s390x": "qemu-s390x-static",
}

#: What ``--arch=all`` builds when buildcfg.toml has no ``all_arches`` (plus every architecture
#: with its own table).
DEFAULT_ALL = ("x86_64", "arm64")

#: Every Linux musl target rustc 1.95 knows (``rustc --print target-list``). A triple here but
#: without a preset may be configured with a full ``[architectures.NAME]`` table; one that is not
#: here is a typo or not a static Linux target, and is refused with the nearest preset triple.
RUST_MUSL_TARGETS = frozenset(
    {
        "aarch64-unknown-linux-musl",
        "aarch64_be-unknown-linux-musl",
        "arm-unknown-linux-musleabi",
        "arm-unknown-linux-musleabihf",
        "armv5te-unknown-linux-musleabi",
        "armv7-unknown-linux-musleabi",
        "armv7-unknown-linux-musleabihf",
        "hexagon-unknown-linux-musl",
        "i586-unknown-linux-musl",
        "i686-unknown-linux-musl",
        "loongarch64-unknown-linux-musl",
        "mips-unknown-linux-musl",
        "mips64-openwrt-linux-musl",
        "mips64-unknown-linux-muslabi64",
        "mips64el-unknown-linux-muslabi64",
        "mipsel-unknown-linux-musl",
        "powerpc-unknown-linux-musl",
        "powerpc-unknown-linux-muslspe",
        "powerpc64-unknown-linux-musl",
        "powerpc64le-unknown-linux-musl",
        "riscv32gc-unknown-linux-musl",
        "riscv64gc-unknown-linux-musl",
        "s390x-unknown-linux-musl",
        "thumbv7neon-unknown-linux-musleabihf",
        "x86_64-unikraft-linux-musl",
        "x86_64-unknown-linux-musl",
    }
)

#: e_machine names people write that are not the ELF spec's (``EM_ARM`` is 32-bit ARM).
ELF_MACHINE_ALIASES = {
    "EM_ARM64": "EM_AARCH64",
    "EM_AMD64": "EM_X86_64",
    "EM_X64": "EM_X86_64",
    "EM_X86": "EM_386",
    "EM_I386": "EM_386",
    "EM_I686": "EM_386",
    "EM_ARMV7": "EM_ARM",
    "EM_ARMHF": "EM_ARM",
    "EM_RISCV64": "EM_RISCV",
    "EM_PPC64LE": "EM_PPC64",
    "EM_POWERPC64": "EM_PPC64",
    "EM_S390X": "EM_S390",
    "EM_LOONGARCH64": "EM_LOONGARCH",
}

_BY_TARGET = {a.rust_target: a for a in PRESETS}
_BY_NAME = {n.lower(): a for a in PRESETS for n in a.names}


def preset_for_target(triple: str) -> Architecture | None:
    """The preset whose Rust target is ``triple``, or None."""
    return _BY_TARGET.get(triple)


def preset_named(name: str) -> Architecture | None:
    """The preset called ``name`` or having it as an alias (case-insensitive), or None."""
    return _BY_NAME.get(name.strip().lower())


def preset_names() -> list[str]:
    """Every preset name and alias, in table order."""
    return [n for a in PRESETS for n in a.names]


def nearest_preset_target(triple: str) -> str:
    """The preset triple closest to ``triple`` (the musl twin of a glibc triple when there is one)."""
    twin = triple.replace("-linux-gnu", "-linux-musl")
    if twin in _BY_TARGET:
        return twin
    close = difflib.get_close_matches(twin, list(_BY_TARGET), n=1, cutoff=0.0)
    return close[0]


def rust_target_problem(triple: str) -> str | None:
    """Why ``triple`` cannot build a static pack binary, or None when it can (a preset or a
    known Rust musl target)."""
    if triple in RUST_MUSL_TARGETS:
        return None
    near = nearest_preset_target(triple)
    if "-linux-gnu" in triple:
        return f"{triple!r} links glibc dynamically: not static; use {near!r}"
    if "-linux-musl" not in triple:
        return f"{triple!r} is not a Linux musl target, so its binaries are not static Linux executables; use e.g. {near!r}"
    return f"unknown Rust target {triple!r} (did you mean {near!r}?)"


__all__ = [
    "DEFAULT_ALL",
    "ELF_MACHINE_ALIASES",
    "PRESETS",
    "QEMU_USER",
    "RUST_MUSL_TARGETS",
    "nearest_preset_target",
    "preset_for_target",
    "preset_named",
    "preset_names",
    "rust_target_problem",
]
