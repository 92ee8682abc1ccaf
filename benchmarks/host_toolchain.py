"""The native side's toolchain for bench_build.py: Debian's rust and the pinned zig tools, found
or (only when asked) installed.

``check_host_toolchain`` looks: Debian's rustc-web / cargo-web / rust-web-src (one version, with
std's vendored dependencies for ``-Zbuild-std``), and a bin dir holding cargo-zigbuild and a
python3 with ziglang at the builder's pinned versions (this interpreter's, or a venv under
$TMPDIR). ``setup_host_toolchain`` (bench_build.py ``--setup-host-toolchain``) installs what is
missing, printing each command first: it adds bookworm-security to apt's sources when
``apt-cache policy rustc-web`` does not show it, apt-get installs the three packages (through
sudo when not root), and pip-installs ziglang and cargo-zigbuild into the venv.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from _common import BenchError

DEBIAN_RUST_PACKAGES = ("rustc-web", "cargo-web", "rust-web-src")
SECURITY_SOURCE = "deb http://deb.debian.org/debian-security bookworm-security main"
SECURITY_LIST = Path("/etc/apt/sources.list.d/packbin-bench-security.list")
HOST_CARGO = Path("/usr/bin/cargo")
HOST_RUSTC = Path("/usr/bin/rustc")
STD_VENDOR = Path("/usr/lib/rustlib/src/rust/library/vendor")
DEFAULT_VENV = Path(tempfile.gettempdir()) / "packbin-bench-zigbuild-venv"


@dataclass(frozen=True, kw_only=True)
class HostToolchain:
    """The native side: Debian's rust and a bin dir holding cargo-zigbuild and a python3 with ziglang."""

    zig_bin_dir: Path
    rustc: str
    cargo_zigbuild: str
    zig: str


def _out(cmd: Sequence[str | os.PathLike[str]], env: dict[str, str] | None = None) -> str | None:
    try:
        proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, check=False, env=env)
    except OSError:
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


def _debian_rust_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for pkg in DEBIAN_RUST_PACKAGES:
        status = _out(["dpkg-query", "-W", "-f=${db:Status-Abbrev}|${Version}", pkg])
        versions[pkg] = status.split("|", 1)[1] if status and status.startswith("ii") else None
    return versions


def _zig_bin_candidates(venv: Path) -> list[Path]:
    return [Path(sys.executable).parent, venv / "bin"]


def _zig_tools_in(bin_dir: Path, zig_pin: str, czb_pin: str) -> tuple[str, str] | None:
    """(cargo-zigbuild version, zig version) when ``bin_dir`` has both at the pinned versions."""
    czb = bin_dir / "cargo-zigbuild"
    py = bin_dir / "python3"
    if not czb.is_file() or not py.is_file():
        return None
    czb_v = (_out([czb, "--version"]) or "").split(" ")[-1]
    zig_v = _out([py, "-m", "ziglang", "version"]) or ""
    return (czb_v, zig_v) if (czb_v, zig_v) == (czb_pin, zig_pin) else None


def check_host_toolchain(zig_pin: str, czb_pin: str, venv: Path) -> tuple[HostToolchain | None, list[str]]:
    """The host toolchain, or the list of what is missing (in words)."""
    missing: list[str] = []
    versions = _debian_rust_versions()
    absent = [p for p, v in versions.items() if v is None]
    if absent:
        missing.append(f"Debian packages not installed: {' '.join(absent)} (from bookworm-security)")
    elif len(set(versions.values())) != 1:
        missing.append("Debian rust packages differ in version: " + ", ".join(f"{p} {v}" for p, v in versions.items()))
    for p in (HOST_CARGO, HOST_RUSTC):
        if not p.is_file():
            missing.append(f"{p} (package {'cargo-web' if p.name == 'cargo' else 'rustc-web'})")
    if not STD_VENDOR.is_dir():
        missing.append(f"{STD_VENDOR} (package rust-web-src: std's vendored dependencies for -Zbuild-std)")
    found: tuple[Path, tuple[str, str]] | None = None
    for d in _zig_bin_candidates(venv):
        tools = _zig_tools_in(d, zig_pin, czb_pin)
        if tools is not None:
            found = (d, tools)
            break
    if found is None:
        where = " or ".join(str(d) for d in _zig_bin_candidates(venv))
        missing.append(f"ziglang=={zig_pin} and cargo-zigbuild=={czb_pin} (looked in {where})")
    if missing or found is None:
        return None, missing
    rustc = (_out([HOST_RUSTC, "--version"]) or "").split(" ")[1:2]
    return HostToolchain(
        zig_bin_dir=found[0], rustc=rustc[0] if rustc else "?", cargo_zigbuild=found[1][0], zig=found[1][1]
    ), []


def _run_setup(cmd: list[str]) -> None:
    if os.geteuid() != 0 and cmd[0] in ("apt-get", "tee") and shutil.which("sudo"):
        cmd = ["sudo", *cmd]
    print("+ " + " ".join(cmd), file=sys.stderr, flush=True)
    # Their output goes to stderr with the progress, so stdout carries only the table.
    if subprocess.run(cmd, check=False, stdout=sys.stderr).returncode != 0:
        raise BenchError(f"setup step failed: {' '.join(cmd)}")


def setup_host_toolchain(zig_pin: str, czb_pin: str, venv: Path) -> None:
    """Install what check_host_toolchain finds missing (apt from bookworm-security, pip into a venv)."""
    versions = _debian_rust_versions()
    if any(v is None for v in versions.values()) or len(set(versions.values())) != 1 or not STD_VENDOR.is_dir():
        policy = _out(["apt-cache", "policy", "rustc-web"]) or ""
        print("+ apt-cache policy rustc-web", file=sys.stderr)
        if "bookworm-security" not in policy:
            print(f"+ echo '{SECURITY_SOURCE}' > {SECURITY_LIST}", file=sys.stderr, flush=True)
            try:
                SECURITY_LIST.write_text(SECURITY_SOURCE + "\n", encoding="utf-8")
            except OSError as e:
                raise BenchError(f"cannot write {SECURITY_LIST}: {e.strerror} (run as root)") from e
            _run_setup(["apt-get", "update"])
        elif not (Path("/var/lib/apt/lists").is_dir() and any(Path("/var/lib/apt/lists").glob("*security*Packages*"))):
            _run_setup(["apt-get", "update"])
        _run_setup(["apt-get", "install", "-y", "--no-install-recommends", *DEBIAN_RUST_PACKAGES])
    if not any(_zig_tools_in(d, zig_pin, czb_pin) for d in _zig_bin_candidates(venv)):
        if not (venv / "bin" / "pip").is_file():
            _run_setup([sys.executable, "-m", "venv", str(venv)])
        _run_setup(
            [
                str(venv / "bin" / "pip"),
                "install",
                "--disable-pip-version-check",
                f"ziglang=={zig_pin}",
                f"cargo-zigbuild=={czb_pin}",
            ]
        )
