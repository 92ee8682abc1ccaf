"""A section's bytes as binutils reads them (a reader packbin did not write)."""

from __future__ import annotations

import subprocess
from pathlib import Path


def dump_section(binary: Path, name: str, workdir: Path) -> bytes:
    """``objcopy --dump-section NAME=FILE``: the section's bytes. The generic ``elf64-little``
    format, because Debian's binutils knows no foreign machine (arm64) otherwise."""
    dump = workdir / "section.bin"
    subprocess.run(
        ["objcopy", "-I", "elf64-little", "-O", "elf64-little", "--dump-section", f"{name}={dump}"]
        + [str(binary), str(workdir / "objcopy-out")],
        check=True,
        capture_output=True,
    )
    return dump.read_bytes()
