"""The verifier against the kernel: every header mutant it passes must run alone in an empty root.

Real programs (gcc's static, static-pie and dynamic x86_64 builds made here, zig's musl static
and static-pie, rustc's +crt-static) are mutated, with a fixed seed: each field of the ELF header
and of every program header set to values a corrupted or crafted file carries (0, 1, all ones,
powers of two, the old value with one bit flipped or nudged by a little, random values, and
values the loader cares about such as other p_type codes or entry sizes), and the file cut at
every header boundary and at random lengths. For every mutant ``verify_file(..., x86_64)`` calls
ok, the oracle executes it in an empty root: a chroot directory that holds only that file (as
root; it then drops to nobody before exec). It must exit 0 and print what the original printed.

What a header check cannot judge is left out, and only that: mutations that keep the file loadable
but change what its code does. An entry point a few bytes away (another instruction), a segment
mapping other bytes of the same file (p_offset moved by pages), fewer file bytes or less memory for
a segment (p_filesz/p_memsz made smaller), permissions taken away, a PT_TLS or PT_GNU_RELRO turned
into another type (the start code then skips its TLS or RELRO set-up), a different TLS size: the
kernel loads such a file and the program then misbehaves, which no header reader can know. They
are not generated. Everything else is fair game: far values, boundaries and random values in every
field, every p_type for the other entries, and PT_LOADs turned into something else.

The arm64 half runs the zig arm64 programs the same way under qemu-user when binfmt_misc has an
aarch64 entry with the F flag (the interpreter is then opened by the kernel, so the empty root
still works); otherwise it is skipped with the reason.
"""

from __future__ import annotations

import os
import random
import shutil
import struct
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from packbin.config.model import builtin_config
from packbin.elf.verify import verify_file
from tests.support.elf_fixtures import compile_program, elf_fixture

# Builds real ELF files or crates (zig, gcc, cargo, rustc; cached after the first run).
pytestmark = pytest.mark.compiler

SEED = int(os.environ.get("PACKBIN_ORACLE_SEED", "8"))
#: Mutants per program (header and program-header fields), plus the truncations.
PER_PROGRAM = 70

HELLO = r"""
#include <stdio.h>
int main(void) { puts("hello, oracle"); return 0; }
"""

# ELF64 header fields: name -> (offset, size).
EHDR64 = {
    "EI_CLASS": (4, 1),
    "EI_DATA": (5, 1),
    "EI_VERSION": (6, 1),
    "EI_OSABI": (7, 1),
    "e_type": (16, 2),
    "e_machine": (18, 2),
    "e_version": (20, 4),
    "e_entry": (24, 8),
    "e_phoff": (32, 8),
    "e_shoff": (40, 8),
    "e_flags": (48, 4),
    "e_ehsize": (52, 2),
    "e_phentsize": (54, 2),
    "e_phnum": (56, 2),
    "e_shentsize": (58, 2),
    "e_shnum": (60, 2),
    "e_shstrndx": (62, 2),
}
PHDR64 = {
    "p_type": (0, 4),
    "p_flags": (4, 4),
    "p_offset": (8, 8),
    "p_vaddr": (16, 8),
    "p_paddr": (24, 8),
    "p_filesz": (32, 8),
    "p_memsz": (40, 8),
    "p_align": (48, 8),
}
#: Values the loader gives meaning to, per field.
SPECIAL = {
    "EI_CLASS": [0, 1, 2, 3],
    "EI_DATA": [0, 1, 2, 3],
    "e_type": [0, 1, 2, 3, 4, 0xFE00],
    "e_machine": [3, 40, 62, 183, 243, 0x3E00],
    "e_phentsize": [0, 32, 55, 56, 57, 64, 67, 112],
    "e_phnum": [0, 1, 73, 74, 1170, 1171, 0xFFFF],
    "p_type": [0, 1, 2, 3, 4, 6, 7, 0x6474E550, 0x6474E551, 0x6474E552, 0x6474E553, 0x70000000],
    "p_align": [0, 1, 3, 0x800, 0x1000, 0x1001, 0x200000, 1 << 63],
}
#: Entries the program's start code reads (PT_PHDR, PT_DYNAMIC, PT_TLS, PT_GNU_EH_FRAME, PT_GNU_RELRO).
RUNTIME_TYPES = {2, 6, 7, 0x6474E550, 0x6474E552}


@dataclass(frozen=True, kw_only=True)
class Mutant:
    what: str
    data: bytes


def _fields(data: bytes) -> Iterator[tuple[str, int, int, int | None]]:
    """(name, offset, size, p_type or None) of every header field of an ELF64 little-endian file."""
    for name, (off, size) in EHDR64.items():
        yield name, off, size, None
    (phoff,) = struct.unpack_from("<Q", data, 32)
    (phnum,) = struct.unpack_from("<H", data, 56)
    for i in range(phnum):
        (p_type,) = struct.unpack_from("<I", data, phoff + i * 56)
        for name, (off, size) in PHDR64.items():
            yield f"phdr[{i}].{name}", phoff + i * 56 + off, size, p_type


def _values(rng: random.Random, name: str, old: int, size: int, p_type: int | None) -> list[int]:
    bits = size * 8
    top = (1 << bits) - 1
    field = name.rsplit(".", 1)[-1]
    far = [top, rng.getrandbits(bits), old ^ (1 << rng.randrange(min(24, bits - 1), bits))]
    if field == "e_entry":
        cands = [0, 1, *far]  # never a few bytes away: that is another instruction, not another header
    elif field == "p_offset":
        cands = [1, old + 1, old - 1, *far]  # not 0 or a page away: other bytes of the same file, mapped alike
    elif field == "p_vaddr":
        cands = [0, 1, old + 1, old - 1, *far]
    elif field == "p_filesz":
        cands = [
            *far[:2],
            old | 1 << rng.randrange(32, bits) if bits > 32 else top,
        ]  # never smaller: fewer bytes of the program
    elif field == "p_memsz":
        cands = [0, *far[:2], 1 << rng.randrange(32, bits) if bits > 32 else top]
        if p_type == 1:
            cands.append(old + rng.randrange(1, 1 << 20))  # a bigger bss: harmless when nothing follows
    elif field == "p_flags":
        cands = [old | 2, old | 1, old | 0x0FF00000, old | 0xF0000000]  # permissions only added
    elif field == "p_type" and p_type in RUNTIME_TYPES:
        cands = []  # removing PT_TLS or PT_GNU_RELRO changes what the start code does, not the loading
    else:
        cands = [
            0,
            1,
            top,
            old ^ (1 << rng.randrange(bits)),
            old + 1,
            old - 1,
            old + 8,
            1 << rng.randrange(bits),
            rng.getrandbits(bits),
        ]
    if cands or field != "p_type":
        cands += SPECIAL.get(field, [])
    return [v & top for v in cands if (v & top) != old]


def mutants(data: bytes, rng: random.Random, count: int) -> list[Mutant]:
    """``count`` seeded field mutants of ``data``, and its truncations."""
    fields = list(_fields(data))
    out: list[Mutant] = []
    for _ in range(count):
        name, off, size, p_type = rng.choice(fields)
        old = int.from_bytes(data[off : off + size], "little")
        values = _values(rng, name, old, size, p_type)
        if not values:
            continue
        value = rng.choice(values)
        buf = bytearray(data)
        buf[off : off + size] = value.to_bytes(size, "little")
        out.append(Mutant(what=f"{name}={value:#x} (was {old:#x})", data=bytes(buf)))
    (phoff,) = struct.unpack_from("<Q", data, 32)
    (phnum,) = struct.unpack_from("<H", data, 56)
    cuts = {0, 4, 16, 52, 63, 64, phoff + phnum * 56 - 1, phoff + phnum * 56, len(data) - 1, len(data) // 2}
    for i in range(phnum):
        (p_offset,) = struct.unpack_from("<Q", data, phoff + i * 56 + 8)
        (p_filesz,) = struct.unpack_from("<Q", data, phoff + i * 56 + 32)
        cuts.add(p_offset + p_filesz - 1)
    cuts.update(rng.randrange(len(data)) for _ in range(4))
    out.extend(Mutant(what=f"truncated to {n} bytes", data=data[:n]) for n in sorted(cuts) if 0 <= n < len(data))
    return out


def run_alone(path: Path, root: Path, timeout: float = 5) -> tuple[int | str, str]:
    """Execute ``path`` as the only file of ``root`` (chroot), as nobody. (exit code or error, stdout)."""
    for entry in root.iterdir():
        entry.unlink()
    prog = root / "prog"
    shutil.copyfile(path, prog)
    prog.chmod(0o755)

    def enter() -> None:
        os.chroot(root)
        os.chdir("/")
        os.setgroups([])
        os.setgid(65534)
        os.setuid(65534)

    try:
        proc = subprocess.run(["/prog"], preexec_fn=enter, capture_output=True, timeout=timeout, env={}, check=False)
    except OSError as e:
        return f"exec failed: {e.strerror}", ""
    except subprocess.TimeoutExpired:
        return "timed out", ""
    return proc.returncode, proc.stdout.decode(errors="replace")


def _need_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("the exec oracle needs root for chroot (an empty root holding only the mutant)")


@pytest.fixture(scope="module")
def gcc_programs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("no gcc on this machine")
    d = tmp_path_factory.mktemp("gcc")
    out: dict[str, Path] = {}
    for kind, flags in {"static": ["-static"], "static-pie": ["-static-pie"], "dynamic": []}.items():
        exe = d / f"gcc-{kind}"
        try:
            compile_program(exe, HELLO, ".c", [gcc, "-O2", *flags, "-o", "OUT", "SRC"], dict(os.environ))
        except RuntimeError as e:
            if kind == "static-pie":
                continue  # an older gcc without -static-pie: the other programs still cover it
            pytest.fail(str(e))
        out[kind] = exe
    return out


def _oracle(programs: dict[str, Path], arch_name: str, root: Path, tmp: Path) -> tuple[int, int, list[str]]:
    arch = builtin_config().arch(arch_name)
    rng = random.Random(SEED)
    passed = ran = 0
    failures: list[str] = []
    for label, path in sorted(programs.items()):
        data = path.read_bytes()
        want = run_alone(path, root)
        for m in mutants(data, rng, PER_PROGRAM):
            mpath = tmp / "mutant"
            mpath.write_bytes(m.data)
            if not verify_file(mpath, arch).ok:
                continue
            passed += 1
            got = run_alone(mpath, root)
            ran += 1
            if got != want:
                failures.append(
                    f"{label}: {m.what}: verifier ok, but in an empty root: {got[0]!r} (original: {want[0]!r})"
                )
    return passed, ran, failures


def test_x86_64_mutants_the_verifier_passes_run_in_an_empty_root(gcc_programs: dict[str, Path], tmp_path: Path) -> None:
    _need_root()
    import platform

    if platform.machine() != "x86_64":
        pytest.skip(f"the host is {platform.machine()}, not x86_64")
    programs = {f"gcc-{k}": v for k, v in gcc_programs.items()}
    programs["zig-static"] = elf_fixture("x86_64-static").path
    programs["zig-static-pie"] = elf_fixture("x86_64-static-pie").path
    programs["zig-dynamic"] = elf_fixture("x86_64-dynamic").path
    try:
        programs["rust-static-pie"] = elf_fixture("rust-static-pie").path
    except pytest.skip.Exception:
        pass
    root = tmp_path / "root"
    root.mkdir()
    # The originals themselves: static ones run alone, dynamic ones cannot (the premise).
    for label, path in programs.items():
        code, _ = run_alone(path, root)
        assert (code == 0) == ("dynamic" not in label), (label, code)
    passed, ran, failures = _oracle(programs, "x86_64", root, tmp_path)
    print(f"exec oracle x86_64: {len(programs)} programs, {passed} mutants passed the verifier, {ran} run")
    assert passed > 20, "the generator should leave some harmless mutants (p_paddr, e_shoff, ...) that pass"
    assert not failures, "\n".join(failures)


def _aarch64_binfmt() -> str | None:
    """None when the kernel can run aarch64 programs from an empty root, else why not."""
    entry = Path("/proc/sys/fs/binfmt_misc/qemu-aarch64")
    try:
        text = entry.read_text()
    except OSError:
        return "no binfmt_misc entry qemu-aarch64 (install qemu-user-static and register it: see README)"
    if "enabled" not in text.splitlines()[0]:
        return "binfmt_misc entry qemu-aarch64 is disabled"
    flags = next((line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("flags:")), "")
    if "F" not in flags:
        return "binfmt_misc entry qemu-aarch64 lacks the F flag (its interpreter is not reachable from an empty root)"
    return None


def test_arm64_mutants_the_verifier_passes_run_under_qemu(tmp_path: Path) -> None:
    _need_root()
    why = _aarch64_binfmt()
    if why:
        print(f"arm64 exec oracle skipped: {why}")
        pytest.skip(why)
    programs = {"zig-static": elf_fixture("arm64-static").path, "zig-static-pie": elf_fixture("arm64-static-pie").path}
    root = tmp_path / "root"
    root.mkdir()
    for label, path in programs.items():
        code, _ = run_alone(path, root, timeout=20)
        assert code == 0, (label, code)
    tmp = Path(tempfile.mkdtemp(dir=tmp_path))
    passed, ran, failures = _oracle(programs, "arm64", root, tmp)
    print(f"exec oracle arm64 (qemu): {len(programs)} programs, {passed} mutants passed the verifier, {ran} run")
    assert not failures, "\n".join(failures)


def _dep_section_variants(data: bytes) -> dict[str, bytes]:
    """``data`` with an added .dep-v0 section: a good one, and broken ones a reader must refuse."""
    import zlib

    from packbin.elf.depinfo import DEP_SECTION, DepList, DepPackage, dep_section
    from packbin.elf.sections import add_section

    good = dep_section(DepList(packages=(DepPackage(name="prog", version="1.0.0", source="local", root=True),)))
    contents = {
        "good": good,
        "truncated": good[: len(good) // 2],
        "not-zlib": b"\xde\xad\xbe\xef" * 50,
        "bomb": zlib.compress(bytes(16 << 20), 9),
        "cycle": zlib.compress(
            b'{"packages":[{"name":"a","version":"1","source":"local","root":true,"dependencies":[0]}]}'
        ),
    }
    out = {name: add_section(data, DEP_SECTION, content) for name, content in contents.items()}
    # The section header's size pointing past the end of the file (the last header is the new one).
    past = bytearray(out["good"])
    shoff, shnum = struct.unpack_from("<Q", past, 40)[0], struct.unpack_from("<H", past, 60)[0]
    struct.pack_into("<Q", past, shoff + (shnum - 1) * 64 + 32, len(past) * 2)
    out["size-past-eof"] = bytes(past)
    return out


def test_dep_sections_change_neither_the_run_nor_the_verdict(tmp_path: Path) -> None:
    """Programs given a .dep-v0 section (good or corrupt) exec exactly as before in an empty root,
    and the verifier's verdict (it passes the static ones) agrees with the kernel."""
    _need_root()
    import platform

    if platform.machine() != "x86_64":
        pytest.skip(f"the host is {platform.machine()}, not x86_64")
    from tests.support.exec_programs import exec_program

    arch = builtin_config().arch("x86_64")
    root = tmp_path / "root"
    root.mkdir()
    programs = {
        "zig-static": elf_fixture("x86_64-static").path,
        "zig-static-pie": elf_fixture("x86_64-static-pie").path,
        "exec-fixture": exec_program("x86_64"),
    }
    runs = 0
    for label, path in programs.items():
        want = run_alone(path, root)
        assert verify_file(path, arch).ok, label
        for what, data in _dep_section_variants(path.read_bytes()).items():
            mpath = tmp_path / "edited"
            mpath.write_bytes(data)
            result = verify_file(mpath, arch)
            got = run_alone(mpath, root)
            runs += 1
            assert result.ok, (label, what, result.problems)
            assert got == want, f"{label} with a {what} .dep-v0 section: {got!r}, originally {want!r}"
    print(f"exec oracle .dep-v0: {runs} edited programs ran as their originals did")
