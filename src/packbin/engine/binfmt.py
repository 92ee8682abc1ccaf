"""Can this machine's engine execute binaries of a foreign architecture (binfmt_misc + qemu)?

Only a local engine can be checked (its kernel is this machine's, or Docker Desktop's VM, which
registers its own handlers). Remote engines report "unknown".
"""

from __future__ import annotations

import platform
from dataclasses import dataclass
from pathlib import Path

from packbin.arch import Architecture

BINFMT_DIR = Path("/proc/sys/fs/binfmt_misc")
#: qemu-user handler names by architecture name.
QEMU_NAMES = {
    "x86_64": "qemu-x86_64",
    "arm64": "qemu-aarch64",
    "armv7": "qemu-arm",
    "arm": "qemu-arm",
    "i686": "qemu-i386",
    "i386": "qemu-i386",
    "riscv64": "qemu-riscv64",
    "ppc64le": "qemu-ppc64le",
    "s390x": "qemu-s390x",
}
_HOST = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}


@dataclass(frozen=True, kw_only=True)
class ForeignExec:
    """Whether binaries of ``arch`` can run on this engine (None: cannot tell), why, and what to do."""

    arch: str
    runnable: bool | None  # None: cannot tell
    reason: str
    hint: str = ""


def host_arch_name() -> str:
    """This machine's architecture as packbin names it (``x86_64``, ``arm64``, ...)."""
    m = platform.machine()
    return _HOST.get(m, m)


#: Architectures an engine of the key's architecture runs without emulation: an x86_64 Linux
#: kernel runs i386 executables itself (IA32 emulation, enabled in every distribution kernel).
#: arm64 is not listed for armv7: many arm64 CPUs (Apple's among them) have no AArch32 state.
NATIVE_ALSO = {"x86_64": ("i686", "i386")}


def foreign_exec(arch: Architecture, *, native: str, local_engine: bool, binfmt_dir: Path = BINFMT_DIR) -> ForeignExec:
    """Whether binaries of ``arch`` can run on an engine whose native arch is ``native``."""
    if arch.name == native:
        return ForeignExec(arch=arch.name, runnable=True, reason="native")
    if arch.name in NATIVE_ALSO.get(native, ()):
        return ForeignExec(arch=arch.name, runnable=True, reason=f"native (a {native} kernel runs {arch.name} itself)")
    if not local_engine:
        return ForeignExec(arch=arch.name, runnable=None, reason="remote engine: cannot inspect its binfmt_misc")
    if platform.system() == "Darwin":
        return ForeignExec(
            arch=arch.name,
            runnable=None,
            reason="Docker Desktop/colima VM: emulation is configured inside the VM",
            hint="enable Rosetta or QEMU emulation in the VM's settings",
        )
    qemu = QEMU_NAMES.get(arch.name)
    if qemu is None:
        return ForeignExec(arch=arch.name, runnable=False, reason=f"no known qemu handler for {arch.name}")
    if not (binfmt_dir / "status").exists():
        return ForeignExec(
            arch=arch.name,
            runnable=False,
            reason="binfmt_misc is not mounted",
            hint=f"as root: mount -t binfmt_misc binfmt_misc {binfmt_dir}, then register {qemu} (apt-get install qemu-user-static; see docs/smoke.md)",
        )
    try:
        status = (binfmt_dir / "status").read_text().strip()
    except OSError:
        status = "enabled"
    if status != "enabled":
        return ForeignExec(
            arch=arch.name, runnable=False, reason="binfmt_misc is disabled", hint=f"echo 1 > {binfmt_dir / 'status'}"
        )
    entry = binfmt_dir / qemu
    try:
        text = entry.read_text()
    except FileNotFoundError:
        return ForeignExec(
            arch=arch.name,
            runnable=False,
            reason=f"no binfmt handler {qemu} registered",
            hint=f"apt-get install qemu-user-static, then write the line of /usr/lib/binfmt.d/{qemu}.conf into {binfmt_dir}/register",
        )
    except OSError as e:
        return ForeignExec(arch=arch.name, runnable=None, reason=f"cannot read {entry}: {e.strerror}")
    lines = text.splitlines()
    if not lines or lines[0].strip() != "enabled":
        return ForeignExec(
            arch=arch.name, runnable=False, reason=f"binfmt handler {qemu} is disabled", hint=f"echo 1 > {entry}"
        )
    flags = next((ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("flags:")), "")
    interp = next((ln.split(" ", 1)[1].strip() for ln in lines if ln.startswith("interpreter ")), "?")
    if "F" not in flags:
        # Without F (fix binary) the interpreter path is resolved inside each container, where
        # it does not exist; runs from scratch images then fail.
        return ForeignExec(
            arch=arch.name,
            runnable=False,
            reason=f"binfmt handler {qemu} lacks the F flag (interpreter {interp} is looked up inside containers)",
            hint=f"re-register {qemu} with flags F (the line in /usr/lib/binfmt.d/{qemu}.conf has them)",
        )
    return ForeignExec(arch=arch.name, runnable=True, reason=f"binfmt {qemu} ({interp}, flags {flags})")


def register_qemu(arch_name: str, *, binfmt_dir: Path = BINFMT_DIR, conf_dir: Path = Path("/usr/lib/binfmt.d")) -> str:
    """Register qemu-user-static's handler for ``arch_name`` (root). Returns what was done."""
    qemu = QEMU_NAMES[arch_name]
    if (binfmt_dir / qemu).exists():
        return f"{qemu} already registered"
    line = (conf_dir / f"{qemu}.conf").read_text().strip().splitlines()[-1]
    (binfmt_dir / "register").write_text(line)
    return f"registered {qemu}"
