"""The verifier's word on one file, as the deploy rules use it: a static executable of ARCH or not."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from typing import BinaryIO

from packbin.arch import Architecture
from packbin.elf.parser import parse_elf_stream
from packbin.elf.policy import static_problems
from packbin.elf.record import ElfError, NotElfError

#: The four bytes every ELF file starts with.
ELF_MAGIC = b"\x7fELF"
# O_NONBLOCK: a FIFO swapped in for a regular file must not hang the run on open().
READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


@dataclass(frozen=True, kw_only=True)
class Verdict:
    """What the verifier says about one file: ``ok`` means a static executable of ARCH."""

    elf: bool
    problems: tuple[str, ...] = ()
    #: Why the verifier could not decide (unreadable, or an ELF it cannot parse). Such a file at DEST
    #: is neither protected nor fair game: it is replaced only by a verified binary, else refused.
    undecided: str = ""

    @property
    def ok(self) -> bool:
        """A static executable of ARCH: an ELF with no problem found."""
        return self.elf and not self.problems

    def describe(self) -> str:
        """The verdict in words, for the report."""
        if not self.elf:
            return self.problems[0] if self.problems else "not an ELF file"
        return "; ".join(self.problems) if self.problems else "a static executable"


NOT_ELF = Verdict(elf=False, problems=("not an ELF file",))


def judge_stream(f: BinaryIO, size: int, arch: Architecture) -> Verdict:
    """Verify a seekable binary stream of ``size`` bytes, positioned at its start."""
    if f.read(len(ELF_MAGIC)) != ELF_MAGIC:
        return NOT_ELF
    try:
        info = parse_elf_stream(f, size)
    except NotElfError:
        return NOT_ELF
    except ElfError as e:
        return Verdict(elf=True, problems=(f"malformed ELF: {e}",), undecided=f"malformed ELF: {e}")
    return Verdict(elf=True, problems=tuple(static_problems(info, arch)))


def judge_fd(fd: int, arch: Architecture) -> Verdict:
    """Verify an open descriptor (closed afterwards); a non-regular file is no executable at all."""
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):
            return Verdict(elf=False, problems=("not a regular file",))
        return judge_stream(f, st.st_size, arch)


def judge_path(path: str, arch: Architecture) -> Verdict:
    try:
        fd = os.open(path, READ_FLAGS)
    except OSError as e:
        return undecided_verdict(f"cannot read {path}: {e.strerror}")
    return judge_fd(fd, arch)


def undecided_verdict(why: str) -> Verdict:
    return Verdict(elf=False, problems=(why,), undecided=why)
