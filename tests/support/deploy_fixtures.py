"""Real ELF fixtures for the init-packs tests, made by real compilers and cached.

- x86_64: the host's ``gcc -static`` (static) and ``gcc`` (dynamic, glibc interpreter).
- arm64: ``python -m ziglang cc -target aarch64-linux-musl -static`` (static) and
  ``-target aarch64-linux-gnu`` (dynamic, glibc interpreter).

Each program prints a variant string, so two variants of the same kind differ in content (what the
"a newer static binary replaces an older one" tests need). Builds are cached under
``$PACKBIN_TEST_CACHE`` (default ``~/.cache/packbin-tests``) keyed by the compiler command and
source, and written atomically so parallel test runs never see half a binary.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.elf_fixtures import cache_dir, compile_program

_SOURCE = """#include <stdio.h>
int main(void) { puts("packbin deploy fixture %s"); return 0; }
"""


@dataclass(frozen=True, kw_only=True)
class Recipe:
    arch: str  # packbin architecture name
    static: bool

    def command(self, src: Path, out: Path) -> list[str]:
        if self.arch == "x86_64":
            return ["gcc", "-O1", *(["-static"] if self.static else []), "-o", str(out), str(src)]
        target = "aarch64-linux-musl" if self.static else "aarch64-linux-gnu"
        return [
            sys.executable,
            "-m",
            "ziglang",
            "cc",
            "-target",
            target,
            *(["-static"] if self.static else []),
            "-O1",
            "-o",
            str(out),
            str(src),
        ]


def cache_root() -> Path:
    """The fixtures' directory in the shared test cache (tests.support.elf_fixtures.cache_dir)."""
    path = cache_dir() / "deploy-fixtures"
    path.mkdir(parents=True, exist_ok=True)
    return path


def build(arch: str, *, static: bool, variant: str = "v1") -> Path:
    """Path of a cached real binary; compiles it on first use (pytest.skip when no compiler)."""
    recipe = Recipe(arch=arch, static=static)
    source = _SOURCE % variant
    key_material = "\0".join([*recipe.command(Path("src.c"), Path("out")), source])
    key = hashlib.sha256(key_material.encode()).hexdigest()[:16]
    kind = "static" if static else "dynamic"
    out = cache_root() / f"{arch}-{kind}-{variant}-{key}"
    if out.is_file():
        return out
    if arch == "x86_64" and shutil.which("gcc") is None:
        pytest.skip("gcc is not installed")
    if arch != "x86_64" and importlib.util.find_spec("ziglang") is None:
        pytest.skip("the ziglang wheel is not installed")
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".zig-local-") as zig_local:
        # zig keeps a global cache; point it inside our cache so tests never write elsewhere.
        env = {
            **os.environ,
            "ZIG_GLOBAL_CACHE_DIR": str(cache_root() / "zig-cache"),
            "ZIG_LOCAL_CACHE_DIR": zig_local,
        }
        compile_program(out, source, ".c", recipe.command(Path("SRC"), Path("OUT")), env)
    return out


def static_x86_64(variant: str = "v1") -> bytes:
    return build("x86_64", static=True, variant=variant).read_bytes()


def dynamic_x86_64(variant: str = "v1") -> bytes:
    return build("x86_64", static=False, variant=variant).read_bytes()


def static_arm64(variant: str = "v1") -> bytes:
    return build("arm64", static=True, variant=variant).read_bytes()


def dynamic_arm64(variant: str = "v1") -> bytes:
    return build("arm64", static=False, variant=variant).read_bytes()
