"""The repository under test and throwaway copies of it: the small buildcfg.toml bodies, copying
the checkout, and running the real `packbin` command line."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from packbin.config.model import BuildConfig

REPO = Path(__file__).resolve().parents[2]


#: A small buildcfg.toml body (both architectures, one binary whose crate is `crate/`) for tests
#: that lay out their own repository; prefix it with the top-level keys a test needs.
SMALL_BUILDCFG = """
[architectures.x86_64]
aliases = ["amd64"]
rust_target = "x86_64-unknown-linux-musl"
docker_platform = "linux/amd64"
elf_machine = "EM_X86_64"
elf_class = 64
byte_order = "little"
[architectures.arm64]
aliases = ["aarch64"]
rust_target = "aarch64-unknown-linux-musl"
docker_platform = "linux/arm64"
elf_machine = "EM_AARCH64"
elf_class = 64
byte_order = "little"
[[binaries]]
name = "attune-core-timer-sensor"
pack = "core"
manifest = "crate/Cargo.toml"
install_path = "sensors/attune-core-timer-sensor"
"""


#: buildcfg.toml for a repository whose root is the attune-shaped Cargo workspace of
#: tests/support/cargo_workspace.py: its sensor bin is a member with a build script that needs
#: SQLX_OFFLINE and reads .sqlx/ at the root.
WORKSPACE_BUILDCFG = (
    'default_arch = "x86_64"\ndeploy_arch = "x86_64"\n[builder.env]\nSQLX_OFFLINE = "true"\n'
    + SMALL_BUILDCFG.replace(
        'manifest = "crate/Cargo.toml"', 'manifest = "crates/sensor/Cargo.toml"\ninputs = [".sqlx"]'
    )
)


def workspace_repo(dest: Path) -> Path:
    """The workspace of tests/support/cargo_workspace.py at the root of a repository that also
    holds buildcfg.toml (:data:`WORKSPACE_BUILDCFG`) and packs/; skips the test when the fixture
    cannot be made on this machine."""
    import pytest

    from tests.support.cargo_workspace import FixtureUnavailable, make_workspace

    try:
        make_workspace(dest)
    except FixtureUnavailable as e:
        pytest.skip(str(e))
    (dest / "buildcfg.toml").write_text(WORKSPACE_BUILDCFG)
    (dest / "packs/core/sensors").mkdir(parents=True)
    (dest / "packs/core/pack.yaml").write_text("ref: core\n")
    return dest


def clone_built(built_repo: Path, tmp_path: Path) -> Path:
    """A copy of a repository a module-scoped fixture built, for a test that changes it."""
    dest = tmp_path / "repo"
    shutil.copytree(built_repo, dest, symlinks=True)
    return dest


def copy_repo(dest: Path) -> Path:
    """A minimal copy of the repository (config + packs) to build in, without touching the checkout."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy2(REPO / "buildcfg.toml", dest / "buildcfg.toml")
    shutil.copytree(
        REPO / "packs",
        dest / "packs",
        symlinks=True,
        ignore=shutil.ignore_patterns("target", "attune-core-timer-sensor"),
    )
    return dest


def without_architecture_tables(text: str) -> str:
    """A buildcfg.toml text with every ``[architectures.NAME]`` table removed (the presets then apply)."""
    out: list[str] = []
    skipping = False
    for line in text.splitlines(keepends=True):
        if line.startswith("["):
            skipping = line.startswith("[architectures")
        if not skipping:
            out.append(line)
    return "".join(out)


def _env(extra: dict[str, str] | None) -> dict[str, str]:
    """This process's environment without what would select another config or target, plus ``extra``."""
    env = {
        k: v for k, v in os.environ.items() if k not in ("PACKBIN_CONFIG", "RUST_TARGET", "PACK_BINARIES_RUST_TARGET")
    }
    env.update(extra or {})
    return env


def packbin(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 1200
) -> subprocess.CompletedProcess[str]:
    """Run the real `packbin` command line (python -m packbin) in ``cwd``."""
    full_env = _env(env)
    return subprocess.run(
        [sys.executable, "-m", "packbin", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def interrupt_at(*args: str, line: str, sig: int, cwd: Path, env: dict[str, str] | None = None) -> tuple[int, str]:
    """Run the real `packbin` in ``cwd``, send ``sig`` once it prints a line containing ``line``,
    and return (exit status, all it printed). Fails the test when no such line comes."""
    import pytest

    full_env = _env(env)
    proc = subprocess.Popen(
        [sys.executable, "-u", "-m", "packbin", *args],
        cwd=cwd,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    seen = []
    for out in proc.stdout:
        seen.append(out)
        if line in out:
            break
    else:
        proc.wait()
        pytest.fail(f"packbin never printed {line!r}:\n" + "".join(seen))
    proc.send_signal(sig)
    rest = proc.communicate(timeout=120)[0]
    return proc.returncode, "".join(seen) + rest


def skeleton_config(root: Path) -> BuildConfig:
    """This repository's buildcfg.toml in ``root`` (created) over an empty timer-sensor crate
    directory: a loaded config for tests that never build."""
    from packbin.config.model import BuildConfig

    (root / "packs/core/sensors/timer-sensor").mkdir(parents=True)
    (root / "packs/core/sensors/timer-sensor/Cargo.toml").write_text("[package]\n")
    (root / "buildcfg.toml").write_text((REPO / "buildcfg.toml").read_text())
    return BuildConfig.load(root / "buildcfg.toml", env={})
