"""Real ELF files for the verifier's tests, made by real compilers and cached between runs.

``zig cc`` (from the ziglang wheel) cross-compiles small C programs for eight targets, each
as a static executable, a static-pie, a dynamic executable, a shared library and a relocatable
object; the host's ``rustc`` adds a dynamic and a ``+crt-static`` executable. Nothing here is hand-made bytes: the
corrupt cases in test_elf_malformed.py start from these files.

Outputs are cached under ``$PACKBIN_TEST_CACHE`` (default ``~/.cache/packbin-tests``), keyed by a
hash of the source, the flags and the compiler's version (not the Python running it), so a
second run, also from another venv with the same ziglang, builds nothing. Only what the files
need is compiled: the static kinds link no libc (their own ``_start``), so musl's libc.a is never
built; the dynamic kinds need only musl's crt objects and libc.so stub (zig's cache, kept next
to the outputs per zig version), and no compiler_rt (``-rtlib=none``). Targets build in parallel, each with its own zig cache because
zig's global cache races when several processes fill it at once.

``python -m tests.support.elf_fixtures`` builds everything and prints one path per line.
"""

from __future__ import annotations

import concurrent.futures
import fcntl
import functools
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

HELLO_C = r"""
#include <stdio.h>
#include <stdlib.h>
int main(int argc, char **argv) {
    const char *who = argc > 1 ? argv[1] : getenv("USER");
    printf("hello, %s\n", who ? who : "world");
    return 0;
}
"""

#: The static kinds link no libc: their own entry point, so zig need not build musl's libc.a
#: for each target (minutes per target on two cores). The ELF facts under test (no PT_INTERP, no
#: DT_NEEDED, ET_EXEC or static-pie, build-id, symbols) are the linker's, with or without libc.
STATIC_C = r"""
static const char greeting[] = "hello, world";
const char *packbin_greeting(void) { return greeting; }
void _start(void) {
    /* exit(0) where the tests run these files (the exec oracle: x86_64 natively, arm64 under
       qemu); the other targets' files are only parsed. */
#if defined(__x86_64__)
    __asm__ volatile("mov $60, %%eax\n\txor %%edi, %%edi\n\tsyscall" ::: "rax", "rdi", "memory");
#elif defined(__aarch64__)
    __asm__ volatile("mov x0, #0\n\tmov x8, #93\n\tsvc #0" ::: "x0", "x8", "memory");
#endif
    for (;;) {
        __asm__ volatile("" ::: "memory");
    }
}
"""

LIB_C = r"""
#include <stdlib.h>
#include <string.h>
size_t packbin_len(const char *s) { return strlen(s ? s : getenv("HOME")); }
"""

MAIN_RS = r"""
fn main() {
    let who = std::env::args().nth(1).unwrap_or_else(|| "world".to_string());
    println!("hello, {who}");
}
"""

SONAME = "libpackbin.so.1"


@dataclass(frozen=True, kw_only=True)
class ZigTarget:
    """One cross target and what its ELF files must say."""

    arch: str  # packbin.arch.arch_name() of its files
    triple: str
    machine: int
    elf_class: int
    endian: str
    interpreter: str  # musl's dynamic loader for this target


TARGETS: tuple[ZigTarget, ...] = (
    ZigTarget(
        arch="x86_64",
        triple="x86_64-linux-musl",
        machine=62,
        elf_class=64,
        endian="little",
        interpreter="/lib/ld-musl-x86_64.so.1",
    ),
    ZigTarget(
        arch="arm64",
        triple="aarch64-linux-musl",
        machine=183,
        elf_class=64,
        endian="little",
        interpreter="/lib/ld-musl-aarch64.so.1",
    ),
    ZigTarget(
        arch="arm",
        triple="arm-linux-musleabihf",
        machine=40,
        elf_class=32,
        endian="little",
        interpreter="/lib/ld-musl-armhf.so.1",
    ),
    ZigTarget(
        arch="i386",
        triple="x86-linux-musl",
        machine=3,
        elf_class=32,
        endian="little",
        interpreter="/lib/ld-musl-i386.so.1",
    ),
    ZigTarget(
        arch="riscv64",
        triple="riscv64-linux-musl",
        machine=243,
        elf_class=64,
        endian="little",
        interpreter="/lib/ld-musl-riscv64.so.1",
    ),
    ZigTarget(
        arch="ppc64le",
        triple="powerpc64le-linux-musl",
        machine=21,
        elf_class=64,
        endian="little",
        interpreter="/lib/ld-musl-powerpc64le.so.1",
    ),
    ZigTarget(
        arch="s390x",
        triple="s390x-linux-musl",
        machine=22,
        elf_class=64,
        endian="big",
        interpreter="/lib/ld-musl-s390x.so.1",
    ),
    # The 32-bit big-endian one.
    ZigTarget(
        arch="ppc",
        triple="powerpc-linux-musleabihf",
        machine=20,
        elf_class=32,
        endian="big",
        interpreter="/lib/ld-musl-powerpc.so.1",
    ),
)

#: kind -> (source, zig cc flags, stripped). Build ids vary in length (sha1 20 bytes, md5 16,
#: fast 8) so the note parser sees more than one shape; one variant has none at all.
ZIG_VARIANTS: dict[str, tuple[str, tuple[str, ...], bool]] = {
    "static": (STATIC_C, ("-nostdlib", "-static", "-Wl,--build-id=sha1"), False),
    "static-pie": (STATIC_C, ("-nostdlib", "-static", "-fPIE", "-pie", "-s", "-Wl,--build-id=md5"), True),
    # -rtlib=none: zig would otherwise build compiler_rt for every target (most of a cold run);
    # these tiny programs need none of it.
    "dynamic": (HELLO_C, ("-dynamic", "-rtlib=none", "-Wl,--build-id=fast"), False),
    "shared": (LIB_C, ("-shared", "-fPIC", "-rtlib=none", f"-Wl,-soname,{SONAME}"), False),
    "object": (HELLO_C, ("-c",), False),  # compile only: a relocatable object with a .symtab
}

_TYPE_NAMES = {"static": "exec", "static-pie": "pie", "dynamic": "exec", "shared": "shared", "object": "relocatable"}


@dataclass(frozen=True, kw_only=True)
class Fixture:
    """A built ELF file and the facts a correct parser must report for it."""

    name: str  # "arm64-static", "rust-dynamic", ...
    path: Path
    toolchain: str  # "zig" | "rustc"
    kind: str  # "static" | "static-pie" | "dynamic" | "shared" | "object"
    arch: str
    machine: int
    elf_class: int
    endian: str
    type_name: str  # expected ElfInfo.type_name
    interpreter: str | None
    needed: tuple[str, ...]  # must all be present (exactly these for zig fixtures)
    soname: str | None
    stripped: bool
    build_id: bool  # a GNU build-id note is expected

    @property
    def static_ok(self) -> bool:
        """True when the static policy (any architecture) must accept this file."""
        return self.kind in ("static", "static-pie")


def fixture_names() -> list[str]:
    """Every fixture name, known without building anything (for test parametrization)."""
    return [f"{t.arch}-{kind}" for t in TARGETS for kind in ZIG_VARIANTS] + ["rust-dynamic", "rust-static-pie"]


def cache_dir() -> Path:
    """$PACKBIN_TEST_CACHE, else ~/.cache/packbin-tests."""
    env = os.environ.get("PACKBIN_TEST_CACHE")
    base = Path(env) if env else Path.home() / ".cache" / "packbin-tests"
    base.mkdir(parents=True, exist_ok=True)
    tag = base / "CACHEDIR.TAG"
    if not tag.exists():
        tag.write_text("Signature: 8a477f597d28d172789f06886806bc55\n# packbin test fixtures; safe to delete.\n")
    return base


@functools.cache
def zig_version() -> str:
    return subprocess.run(
        [sys.executable, "-m", "ziglang", "version"], check=True, capture_output=True, text=True
    ).stdout.strip()


@functools.cache
def find_rustc() -> str | None:
    """The host's rustc: PATH first, then rustup's ~/.cargo/bin."""
    found = shutil.which("rustc")
    if found:
        return found
    candidate = Path.home() / ".cargo" / "bin" / "rustc"
    return str(candidate) if candidate.is_file() else None


@functools.cache
def rustc_version() -> str | None:
    rustc = find_rustc()
    if rustc is None:
        return None
    try:
        return subprocess.run([rustc, "-vV"], check=True, capture_output=True, text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def _key(*parts: object) -> str:
    return hashlib.sha256(json.dumps([str(p) for p in parts]).encode()).hexdigest()[:16]


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    # Two pytest processes filling the same zig cache race (EEXIST); one lock per target.
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def compile_program(out: Path, source: str, suffix: str, cmd_for: list[str], env: dict[str, str]) -> None:
    """Run ``cmd_for`` (with SRC/OUT placeholders) in a scratch dir; install its output atomically.

    The one way the test suite compiles an ELF file (these fixtures and tests.support.deploy_fixtures).
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="packbin-fixture-", dir=out.parent) as tmp:
        src = Path(tmp) / f"src{suffix}"
        src.write_text(source)
        built = Path(tmp) / "out"
        cmd = [str(src) if a == "SRC" else str(built) if a == "OUT" else a for a in cmd_for]
        proc = subprocess.run(cmd, check=False, cwd=tmp, env=env, capture_output=True, text=True)
        if proc.returncode != 0 or not built.is_file():
            raise RuntimeError(f"fixture build failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr[-4000:]}")
        os.replace(built, out)


def _build_zig_target(target: ZigTarget, base: Path) -> list[Fixture]:
    # zig's own cache (crt objects, libc.so stubs) per compiler version and target: a new venv
    # with the same ziglang reuses it, a new ziglang starts afresh.
    zig_cache = base / "zig" / zig_version() / target.triple
    env = {**os.environ, "ZIG_GLOBAL_CACHE_DIR": str(zig_cache), "ZIG_LOCAL_CACHE_DIR": str(zig_cache)}
    out: list[Fixture] = []
    with _locked(base / "zig" / zig_version() / f"{target.triple}.lock"):
        for kind, (source, flags, stripped) in ZIG_VARIANTS.items():
            name = f"{target.arch}-{kind}"
            path = base / "elf" / f"{name}-{_key(zig_version(), target.triple, flags, source)}"
            if not path.is_file():
                _progress(f"  zig cc -target {target.triple} {' '.join(flags)}")
                cmd = [
                    sys.executable,
                    "-m",
                    "ziglang",
                    "cc",
                    "-target",
                    target.triple,
                    *flags,
                    "-O2",
                    "SRC",
                    "-o",
                    "OUT",
                ]
                compile_program(path, source, ".c", cmd, env)
            out.append(
                Fixture(
                    name=name,
                    path=path,
                    toolchain="zig",
                    kind=kind,
                    arch=target.arch,
                    machine=target.machine,
                    elf_class=target.elf_class,
                    endian=target.endian,
                    type_name=_TYPE_NAMES[kind],
                    interpreter=target.interpreter if kind == "dynamic" else None,
                    needed=("libc.so",) if kind in ("dynamic", "shared") else (),
                    soname=SONAME if kind == "shared" else None,
                    stripped=stripped,
                    build_id=kind not in ("shared", "object"),
                )
            )
    return out


def _build_rust(base: Path) -> list[Fixture]:
    rustc, version = find_rustc(), rustc_version()
    if rustc is None or version is None or "host: x86_64-unknown-linux-gnu" not in version:
        return []
    out: list[Fixture] = []
    env = dict(os.environ)
    for kind, flags in (("dynamic", ()), ("static-pie", ("-C", "target-feature=+crt-static"))):
        name = f"rust-{kind}"
        path = base / "elf" / f"{name}-{_key(version, flags, MAIN_RS)}"
        if not path.is_file():
            _progress(f"  rustc {' '.join(flags)}")
            cmd = [rustc, "--edition", "2021", "-O", "--target", "x86_64-unknown-linux-gnu", *flags, "SRC", "-o", "OUT"]
            compile_program(path, MAIN_RS, ".rs", cmd, env)
        out.append(
            Fixture(
                name=name,
                path=path,
                toolchain="rustc",
                kind=kind,
                arch="x86_64",
                machine=62,
                elf_class=64,
                endian="little",
                type_name="pie",
                interpreter="/lib64/ld-linux-x86-64.so.2" if kind == "dynamic" else None,
                needed=("libc.so.6",) if kind == "dynamic" else (),
                soname=None,
                stripped=False,
                build_id=True,
            )
        )
    return out


def _progress(line: str) -> None:
    # pytest captures sys.stderr during fixture setup; the first run is slow enough to say so.
    print(line, file=sys.__stderr__, flush=True)


def build_all() -> dict[str, Fixture]:
    """Build (or find in the cache) every fixture; name -> Fixture. Raises on a failed build."""
    base = cache_dir()
    jobs = min(len(TARGETS) + 1, max(2, os.cpu_count() or 2))
    results: list[Fixture] = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(_build_zig_target, t, base) for t in TARGETS]
        futures.append(pool.submit(_build_rust, base))
        for fut in futures:
            results.extend(fut.result())
    return {f.name: f for f in results}


# -- readelf: the reference the parser is cross-checked against ------------------------------------

#: readelf -h "Machine:" strings -> e_machine.
READELF_MACHINES = {
    "Advanced Micro Devices X86-64": 62,
    "AArch64": 183,
    "ARM": 40,
    "Intel 80386": 3,
    "RISC-V": 243,
    "PowerPC64": 21,
    "IBM S/390": 22,
    "PowerPC": 20,
    "MIPS R3000": 8,
}


@dataclass(frozen=True, kw_only=True)
class ReadelfFacts:
    """What binutils' readelf says about a file, in ElfInfo's terms."""

    elf_class: int
    endian: str
    e_type: str  # "EXEC", "DYN", "REL", "CORE"
    machine: int | None  # None: a machine name missing from READELF_MACHINES
    machine_text: str
    interpreter: str | None
    needed: tuple[str, ...]
    soname: str | None
    pie_flag: bool
    has_dynamic: bool
    has_symtab: bool
    build_id: str | None


def readelf_facts(path: Path) -> ReadelfFacts:
    """Run ``readelf -h -l -d -S -n --wide`` and pick out the facts ElfInfo also reports."""
    text = subprocess.run(
        ["readelf", "-h", "-l", "-d", "-S", "-n", "--wide", str(path)],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "LC_ALL": "C"},
    ).stdout

    def field(label: str) -> str:
        m = re.search(rf"^\s*{re.escape(label)}:\s*(.*?)\s*$", text, re.MULTILINE)
        assert m, f"readelf printed no {label!r} for {path}"
        return m.group(1)

    machine_text = field("Machine")
    interp = re.search(r"\[Requesting program interpreter: (.*)\]", text)
    soname = re.search(r"\(SONAME\)\s+Library soname: \[(.*)\]", text)
    build_id = re.search(r"Build ID: ([0-9a-f]+)", text)
    flags_1 = re.search(r"\(FLAGS_1\)\s+Flags:(.*)$", text, re.MULTILINE)
    return ReadelfFacts(
        elf_class=int(field("Class").removeprefix("ELF")),
        endian="little" if "little endian" in field("Data") else "big",
        e_type=field("Type").split()[0],
        machine=READELF_MACHINES.get(machine_text),
        machine_text=machine_text,
        interpreter=interp.group(1) if interp else None,
        needed=tuple(re.findall(r"\(NEEDED\)\s+Shared library: \[(.*)\]", text)),
        soname=soname.group(1) if soname else None,
        pie_flag=bool(flags_1 and "PIE" in flags_1.group(1).split()),
        has_dynamic=re.search(r"^\s+DYNAMIC\s+0x", text, re.MULTILINE) is not None,
        has_symtab=re.search(r"^\s+\[\s*\d+\]\s+\S+\s+SYMTAB\s", text, re.MULTILINE) is not None,
        build_id=build_id.group(1) if build_id else None,
    )


#: Static executables of another float ABI than their machine's preset (the e_flags checks of
#: tests/unit/test_arch_presets.py): name -> (zig target, extra zig cc flags).
ABI_VARIANTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "arm-softfloat-static": ("arm-linux-musleabi", ()),  # EABI 5, EF_ARM_ABI_FLOAT_SOFT
    "riscv64-lp64-static": ("riscv64-linux-musl", ("-mabi=lp64",)),  # EF_RISCV_FLOAT_ABI_SOFT
}


def abi_variant(name: str) -> Path:
    """The static fixture (STATIC_C) built for an :data:`ABI_VARIANTS` entry, cached like the rest."""
    triple, extra = ABI_VARIANTS[name]
    base = cache_dir()
    flags = (*ZIG_VARIANTS["static"][1], *extra)
    path = base / "elf" / f"{name}-{_key(zig_version(), triple, flags, STATIC_C)}"
    zig_cache = base / "zig" / zig_version() / triple
    env = {**os.environ, "ZIG_GLOBAL_CACHE_DIR": str(zig_cache), "ZIG_LOCAL_CACHE_DIR": str(zig_cache)}
    with _locked(base / "zig" / zig_version() / f"{triple}.lock"):
        if not path.is_file():
            _progress(f"  zig cc -target {triple} {' '.join(flags)}")
            cmd = [sys.executable, "-m", "ziglang", "cc", "-target", triple, *flags, "-O2", "SRC", "-o", "OUT"]
            compile_program(path, STATIC_C, ".c", cmd, env)
    return path


#: Every fixture's name, known without building anything (for parametrize).
FIXTURE_NAMES = fixture_names()


@functools.cache
def all_fixtures() -> dict[str, Fixture]:
    """Every fixture, built on first use (minutes the first time, cached on disk afterwards)."""
    return build_all()


def elf_fixture(name: str) -> Fixture:
    """The named fixture; skips when its toolchain is missing on this machine (rustc)."""
    import pytest

    fixtures = all_fixtures()
    if name not in fixtures:
        if name.startswith("rust-"):
            pytest.skip("no x86_64 host rustc (rustup's ~/.cargo/bin or PATH)")
        raise AssertionError(f"fixture {name} was not built")
    return fixtures[name]


if __name__ == "__main__":
    for fixture in build_all().values():
        print(fixture.path)
