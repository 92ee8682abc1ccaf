"""How Linux's ELF loader reads each machine's files: the table the static policy models it by.

binfmt_elf reads ``bprm->buf`` as ``struct elfhdr`` of the kernel's own class and byte order, so
which EI_CLASS and EI_DATA a machine's files must have, and how much address space a program gets,
depend on the machine. :mod:`packbin.elf.policy` refuses any machine not listed here.
"""

from __future__ import annotations

from dataclasses import dataclass

from packbin.arch import ElfMachine


@dataclass(frozen=True, kw_only=True)
class KernelLoader:
    """How Linux's ELF loader reads the files of one e_machine."""

    classes: tuple[int, ...]  # the EI_CLASS values whose header layout the accepting loader uses
    endians: tuple[str, ...]  # the byte orders of the kernels that run this machine
    user_top: int  # the smallest user address-space end (TASK_SIZE) among its common configurations
    class_note: str = ""  # why a class is the only one, for the failure message


#: e_machine -> the loader's reading of it. binfmt_elf reads ``bprm->buf`` as ``struct elfhdr`` of
#: the kernel's own class and byte order; ``elf_check_arch`` decides whether a file is its own:
#:
#: - x86_64 (arch/x86/include/asm/elf.h): ``elf_check_arch(x)`` is ``e_machine == EM_X86_64`` and
#:   nothing else, so an ELFCLASS32 header with EM_X86_64 is read as an ELF64 header whenever its
#:   bytes at the ELF64 offsets pass ``load_elf_phdrs`` (only when they do not does the x32 compat
#:   loader get to read it as ELF32). The parser follows EI_CLASS: the two readings differ, so
#:   EM_X86_64 must be ELFCLASS64. EM_386 is taken by the compat (or a 32-bit kernel's) loader,
#:   always as ELF32.
#: - arm64 (arch/arm64/include/asm/elf.h): ``elf_check_arch(x)`` is ``e_machine == EM_AARCH64``;
#:   EM_ARM goes to the 32-bit compat loader. Same reasoning: EM_AARCH64 is ELF64, EM_ARM ELF32.
#: - powerpc: the native 64-bit check is ``e_machine == EM_PPC64``; EM_PPC is the 32-bit loader's.
#: - riscv and s390 check ``e_ident[EI_CLASS] == ELF_CLASS`` themselves, so either class is read
#:   the way it says (rv32/s390 31-bit by the compat loader).
#: No loader checks EI_DATA: a file whose EI_DATA is not the byte order of a kernel of that
#: machine is read byte-swapped by the kernel, which is not what the parser read.
#: user_top is TASK_SIZE: x86_64 with 4-level paging; arm64 and riscv64 with 39-bit (3-level)
#: address spaces, the smallest they ship with; 32-bit: the default 3 GiB user split.
KERNEL_LOADERS: dict[int, KernelLoader] = {
    ElfMachine.EM_X86_64: KernelLoader(
        classes=(64,),
        endians=("little",),
        user_top=(1 << 47) - 4096,
        class_note="the kernel's x86_64 loader checks only e_machine and reads the header as ELF64 whatever EI_CLASS says",
    ),
    ElfMachine.EM_386: KernelLoader(
        classes=(32,),
        endians=("little",),
        user_top=0xC000_0000,
        class_note="EM_386 files are loaded by the 32-bit loader, as ELF32",
    ),
    ElfMachine.EM_AARCH64: KernelLoader(
        classes=(64,),
        endians=("little", "big"),
        user_top=1 << 39,
        class_note="the kernel's arm64 loader checks only e_machine and reads the header as ELF64 whatever EI_CLASS says",
    ),
    ElfMachine.EM_ARM: KernelLoader(
        classes=(32,),
        endians=("little", "big"),
        user_top=0xC000_0000,
        class_note="EM_ARM files are loaded by the 32-bit loader, as ELF32",
    ),
    ElfMachine.EM_PPC64: KernelLoader(
        classes=(64,),
        endians=("little", "big"),
        user_top=1 << 46,
        class_note="the kernel's ppc64 loader checks only e_machine and reads the header as ELF64",
    ),
    ElfMachine.EM_PPC: KernelLoader(
        classes=(32,),
        endians=("big",),
        user_top=0xC000_0000,
        class_note="EM_PPC files are loaded by the 32-bit loader, as ELF32",
    ),
    ElfMachine.EM_RISCV: KernelLoader(classes=(32, 64), endians=("little",), user_top=1 << 38),
    ElfMachine.EM_S390: KernelLoader(classes=(32, 64), endians=("big",), user_top=1 << 42),
}
