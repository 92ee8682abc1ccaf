"""ELF verification: read an ELF file's facts, judge them against Linux's loader, report.

- :mod:`packbin.elf.record`: :class:`ElfInfo`, the frozen record of one file, and the ELF constants;
- :mod:`packbin.elf.contents` and :mod:`packbin.elf.parser`: the reader that fills it (standard
  library only, knows no policy): the parser reads the headers, ``contents`` what they point at
  (PT_INTERP, PT_DYNAMIC and its strings, the build-id note);
- :mod:`packbin.elf.loaders`, :mod:`packbin.elf.loader_rules` and :mod:`packbin.elf.policy`: the
  static-linkage policy, which models how the kernel's loader reads each machine's files
  (``loaders``: each machine's loader; ``loader_rules``: the header and program-header checks;
  ``policy``: static or not, for which architecture);
- :mod:`packbin.elf.sections` and :mod:`packbin.elf.depinfo`: sections by name (find one, add a
  non-alloc one) and the ``.dep-v0`` dependency list cargo-auditable defines, read and written;
- :mod:`packbin.elf.verify`: the ``verify-static`` command (walks, verdicts, table and JSON).

Every name of the modules before ``verify`` that others use is re-exported here. :mod:`packbin.elf.verify` is not: it is a
command, imported where it is used, and neither are ``sections`` and ``depinfo`` (the build and
verify-static import them), so that the deploy step (which judges files but reports
them its own way) does not load it.
"""

from __future__ import annotations

from packbin.elf.contents import MAX_DYNAMIC_ENTRIES, MAX_NAME, MAX_NOTE_BYTES, PATH_MAX
from packbin.elf.loaders import KERNEL_LOADERS, KernelLoader
from packbin.elf.parser import MAX_TABLE_BYTES, is_elf, parse_elf, parse_elf_stream
from packbin.elf.policy import (
    describe_linkage,
    header_problems,
    is_static,
    loader_problems,
    segment_problems,
    static_problems,
)
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
    MAX_PROPERTY_NOTE,
    NT_GNU_BUILD_ID,
    PF_R,
    PF_W,
    PF_X,
    PN_XNUM,
    PT_DYNAMIC,
    PT_GNU_EH_FRAME,
    PT_GNU_PROPERTY,
    PT_GNU_RELRO,
    PT_GNU_STACK,
    PT_INTERP,
    PT_LOAD,
    PT_NOTE,
    PT_PHDR,
    PT_TLS,
    SHF_ALLOC,
    SHF_TLS,
    SHT_NOBITS,
    SHT_SYMTAB,
    ElfError,
    ElfInfo,
    NotElfError,
    Segment,
)

__all__ = [
    "DF_1_PIE",
    "DT_FLAGS_1",
    "DT_NEEDED",
    "DT_NULL",
    "DT_SONAME",
    "DT_STRSZ",
    "DT_STRTAB",
    "ELF_MAGIC",
    "ET_CORE",
    "ET_DYN",
    "ET_EXEC",
    "ET_REL",
    "KERNEL_LOADERS",
    "MAX_DYNAMIC_ENTRIES",
    "MAX_NAME",
    "MAX_NOTE_BYTES",
    "MAX_PROPERTY_NOTE",
    "MAX_TABLE_BYTES",
    "NT_GNU_BUILD_ID",
    "PATH_MAX",
    "PF_R",
    "PF_W",
    "PF_X",
    "PN_XNUM",
    "PT_DYNAMIC",
    "PT_GNU_EH_FRAME",
    "PT_GNU_PROPERTY",
    "PT_GNU_RELRO",
    "PT_GNU_STACK",
    "PT_INTERP",
    "PT_LOAD",
    "PT_NOTE",
    "PT_PHDR",
    "PT_TLS",
    "SHF_ALLOC",
    "SHF_TLS",
    "SHT_NOBITS",
    "SHT_SYMTAB",
    "ElfError",
    "ElfInfo",
    "KernelLoader",
    "NotElfError",
    "Segment",
    "describe_linkage",
    "header_problems",
    "is_elf",
    "is_static",
    "loader_problems",
    "parse_elf",
    "parse_elf_stream",
    "segment_problems",
    "static_problems",
]
