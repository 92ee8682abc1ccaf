"""Static programs that print a line and exit 7, for five architectures: made by zig cc, run natively or
under qemu-user, so a test can check that an edited file still runs exactly as before.

Like the static fixtures of :mod:`tests.support.elf_fixtures` they link no libc (their own
``_start`` and raw system calls), so zig need not build musl's libc.a per target; cached the same way.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.support.elf_fixtures import cache_dir, compile_program, zig_version

EXEC_C = r"""
static long sys3(long n, long a, long b, long c) {
#if defined(__x86_64__)
    long ret;
    __asm__ volatile("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
    return ret;
#elif defined(__aarch64__)
    register long x8 __asm__("x8") = n, x0 __asm__("x0") = a, x1 __asm__("x1") = b, x2 __asm__("x2") = c;
    __asm__ volatile("svc #0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2) : "memory");
    return x0;
#elif defined(__arm__)
    register long r7 __asm__("r7") = n, r0 __asm__("r0") = a, r1 __asm__("r1") = b, r2 __asm__("r2") = c;
    __asm__ volatile("svc #0" : "+r"(r0) : "r"(r7), "r"(r1), "r"(r2) : "memory");
    return r0;
#elif defined(__riscv)
    register long a7 __asm__("a7") = n, a0 __asm__("a0") = a, a1 __asm__("a1") = b, a2 __asm__("a2") = c;
    __asm__ volatile("ecall" : "+r"(a0) : "r"(a7), "r"(a1), "r"(a2) : "memory");
    return a0;
#elif defined(__s390x__)
    register long r1 __asm__("r1") = n, r2 __asm__("r2") = a, r3 __asm__("r3") = b, r4 __asm__("r4") = c;
    __asm__ volatile("svc 0" : "+d"(r2) : "d"(r1), "d"(r3), "d"(r4) : "memory");
    return r2;
#endif
}
#if defined(__x86_64__)
enum { SYS_WRITE = 1, SYS_EXIT = 60 };
#elif defined(__aarch64__) || defined(__riscv)
enum { SYS_WRITE = 64, SYS_EXIT = 93 };
#else
enum { SYS_WRITE = 4, SYS_EXIT = 1 };
#endif
static const char message[] = "packbin exec fixture\n";
void _start(void) {
    sys3(SYS_WRITE, 1, (long)message, sizeof message - 1);
    sys3(SYS_EXIT, 7, 0, 0);
    for (;;) __asm__ volatile("" ::: "memory");
}
"""

MESSAGE = b"packbin exec fixture\n"
EXIT_CODE = 7

#: arch -> (zig target, the qemu-user binary that runs it on another host; None: native on x86_64).
EXEC_TARGETS: dict[str, tuple[str, str | None]] = {
    "x86_64": ("x86_64-linux-musl", None),
    "arm64": ("aarch64-linux-musl", "qemu-aarch64-static"),
    "arm": ("arm-linux-musleabihf", "qemu-arm-static"),
    "riscv64": ("riscv64-linux-musl", "qemu-riscv64-static"),
    "s390x": ("s390x-linux-musl", "qemu-s390x-static"),
}
_FLAGS = ("-nostdlib", "-static", "-fomit-frame-pointer", "-O2")


def exec_program(arch: str) -> Path:
    """The program for ``arch`` (built on first use, then cached)."""
    triple, _ = EXEC_TARGETS[arch]
    base = cache_dir()
    key = hashlib.sha256(json.dumps([zig_version(), triple, *_FLAGS, EXEC_C]).encode()).hexdigest()[:16]
    path = base / "elf" / f"exec-{arch}-{key}"
    zig_cache = base / "zig" / zig_version() / triple
    env = {**os.environ, "ZIG_GLOBAL_CACHE_DIR": str(zig_cache), "ZIG_LOCAL_CACHE_DIR": str(zig_cache)}
    lock = base / "zig" / zig_version() / f"{triple}.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # released on close; zig's cache races otherwise
        if not path.is_file():
            cmd = [sys.executable, "-m", "ziglang", "cc", "-target", triple, *_FLAGS, "SRC", "-o", "OUT"]
            compile_program(path, EXEC_C, ".c", cmd, env)
    return path


def runner(arch: str) -> list[str] | None:
    """The command prefix that runs an ``arch`` program here ([] natively), None when nothing can."""
    _, qemu = EXEC_TARGETS[arch]
    if qemu is None:
        return [] if os.uname().machine == "x86_64" else None
    found = shutil.which(qemu)
    return [found] if found else None


def run(arch: str, path: Path) -> subprocess.CompletedProcess[bytes]:
    """Run ``path`` (an ``arch`` program) with an empty environment; the caller checks runner() first."""
    prefix = runner(arch)
    assert prefix is not None
    return subprocess.run([*prefix, str(path)], capture_output=True, timeout=60, env={}, check=False)
