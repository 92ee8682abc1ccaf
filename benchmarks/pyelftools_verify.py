"""The pyelftools baseline for bench_verify.py: verify-static's checks, done with pyelftools.

``python benchmarks/pyelftools_verify.py DIR_OR_FILE...`` walks like ``packbin verify-static``
(directories recursively, sorted, symlinks not followed, non-ELF files skipped), reads the same
facts with pyelftools (type, machine, class, byte order, PT_INTERP, DT_NEEDED, DT_SONAME,
DT_FLAGS_1, presence of a SHT_SYMTAB section), judges them with the same policy module, and
prints the same JSON document. Exit 0 when every file passes, 1 otherwise.

It is a benchmark baseline, not a second implementation to maintain: the policy is shared on
purpose so that only the parsing differs.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from typing import Any

from elf_walk import is_elf, walk
from elftools.common.exceptions import ELFError as PyElfError
from elftools.elf import enums as _enums
from elftools.elf.dynamic import DynamicSegment
from elftools.elf.elffile import ELFFile
from elftools.elf.enums import ENUM_E_MACHINE, ENUM_E_TYPE
from elftools.elf.segments import InterpSegment

from packbin.elf.policy import is_static, static_problems
from packbin.elf.record import DF_1_PIE, MAX_PROPERTY_NOTE, PT_GNU_PROPERTY, ElfInfo

#: Every p_type name pyelftools may give (it names them per machine).
_P_TYPES: dict[str, int] = {
    k: v for n in dir(_enums) if n.startswith("ENUM_P_TYPE") for k, v in getattr(_enums, n).items()
}
_TYPES = {"ET_REL": "relocatable", "ET_EXEC": "exec", "ET_CORE": "core"}


def _number(value: Any, table: Mapping[str, int]) -> int:
    # pyelftools names known enum values and passes unknown ones through as ints.
    return value if isinstance(value, int) else int(table[value])


def read_info(path: str) -> ElfInfo:
    """Parse ``path`` with pyelftools into packbin's record (raises pyelftools' errors)."""
    with open(path, "rb") as f:
        elf = ELFFile(f)
        header = elf.header
        interpreter: str | None = None
        needed: list[str] = []
        soname: str | None = None
        flags_1 = 0
        has_dynamic = False
        load_segments = 0
        prop: tuple[int, int] | None = None
        for seg in elf.iter_segments():
            p_type = _number(seg["p_type"], _P_TYPES)
            if p_type == 1:
                load_segments += 1
            elif p_type == PT_GNU_PROPERTY:
                prop = (seg["p_offset"], seg["p_filesz"])
            if isinstance(seg, InterpSegment) and interpreter is None:
                interpreter = seg.get_interp_name()
            elif isinstance(seg, DynamicSegment) and not has_dynamic:
                has_dynamic = True
                for tag in seg.iter_tags():
                    d_tag = tag.entry.d_tag
                    if d_tag == "DT_NEEDED":
                        needed.append(tag.needed)  # type: ignore[attr-defined]  # set per tag at runtime
                    elif d_tag == "DT_SONAME":
                        soname = tag.soname  # type: ignore[attr-defined]
                    elif d_tag == "DT_FLAGS_1":
                        flags_1 |= tag.entry.d_val
        stripped = next(iter(elf.iter_sections(type="SHT_SYMTAB")), None) is None
        size = os.fstat(f.fileno()).st_size
        gnu_property = None
        if prop is not None and prop[0] < size:
            f.seek(prop[0])
            gnu_property = f.read(min(prop[1], MAX_PROPERTY_NOTE + 1, size - prop[0]))
        # The loader-level checks take the two header tables as packbin's record holds them: raw
        # bytes, decoded by the shared record (the policy is shared on purpose, see above).
        f.seek(0)
        head = f.read(64)
        program_table = section_table = None
        if header["e_phnum"]:
            f.seek(header["e_phoff"])
            program_table = (header["e_phentsize"], f.read(header["e_phnum"] * header["e_phentsize"]))
        if header["e_shoff"] and elf.num_sections():
            f.seek(header["e_shoff"])
            section_table = (header["e_shentsize"], f.read(elf.num_sections() * header["e_shentsize"]))
        e_type = _number(header["e_type"], ENUM_E_TYPE)
        if header["e_type"] == "ET_DYN":
            type_name = "pie" if (flags_1 & DF_1_PIE) or interpreter is not None else "shared"
        else:
            type_name = _TYPES.get(str(header["e_type"]), "unknown")
        return ElfInfo(
            elf_class=elf.elfclass,
            endian="little" if elf.little_endian else "big",
            machine=_number(header["e_machine"], ENUM_E_MACHINE),
            e_type=e_type,
            type_name=type_name,
            interpreter=interpreter,
            needed=tuple(needed),
            soname=soname,
            flags_1=flags_1,
            has_dynamic=has_dynamic,
            load_segments=load_segments,
            header=head,
            program_table=program_table,
            section_table=section_table,
            gnu_property=gnu_property,
            stripped=stripped,
            build_id=None,  # not part of the verdict
            size=size,
        )


def verdict(path: str) -> dict[str, object]:
    """One JSON result entry, as verify-static prints it."""
    try:
        info = read_info(path)
    except (PyElfError, ValueError, KeyError, OSError) as e:
        # pyelftools raises several types on malformed input; any of them is a failed file.
        return {"path": path, "ok": False, "static": False, "problems": [f"malformed ELF file: {e}"]}
    problems = static_problems(info, None)
    return {
        "path": path,
        "ok": not problems,
        "static": is_static(info),
        "arch": info.arch,
        "machine": info.machine,
        "class": info.elf_class,
        "endian": info.endian,
        "type": info.type_name,
        "interpreter": info.interpreter,
        "needed": list(info.needed),
        "stripped": info.stripped,
        "problems": list(problems),
    }


def main(argv: list[str]) -> int:
    results: list[dict[str, object]] = []
    for path, named in walk(argv):
        if not is_elf(path):
            if named:
                results.append({"path": path, "ok": False, "static": False, "problems": ["not an ELF file"]})
            continue
        results.append(verdict(path))
    json.dump({"results": results}, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
