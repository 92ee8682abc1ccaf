"""Real cargo output for the dependency-list tests: `cargo metadata` as the build container runs
it, and `cargo tree` as the independent answer to check it against.

Besides the attune-shaped workspace (tests/support/cargo_workspace.py: crates from Debian's
sources), :func:`path_workspace` lays out a workspace of path crates only (no registry, so
cargo resolves it offline in a second) with what that workspace lacks: one crate in two versions
(``dupe`` 1.0.0 and 2.0.0, renamed), a dev dependency whose own dependency is a build dependency
elsewhere, a build dependency with a proc macro under it, and a crate reached both at run time
and through a build dependency.
"""

from __future__ import annotations

import os
import re
import subprocess
import textwrap
from pathlib import Path

from tests.support.cargo_workspace import host_cargo

TRIPLES = ("x86_64-unknown-linux-musl", "aarch64-unknown-linux-musl")

_TREE_LINE = re.compile(r"^(\d+)(\S+) v(\S+)")


def cargo(cwd: Path, *args: str) -> str:
    """Run the host cargo offline; its stdout (RuntimeError with stderr when it fails)."""
    env = {k: v for k, v in os.environ.items() if k not in ("CARGO_TARGET_DIR",)}
    proc = subprocess.run(
        [host_cargo(), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"cargo {' '.join(args)} failed in {cwd}:\n{proc.stderr[-3000:]}")
    return proc.stdout


def metadata(manifest: Path, triple: str) -> bytes:
    """What build.sh runs for a bin: `cargo metadata` on its package's manifest, for ``triple``."""
    out = cargo(
        manifest.parent,
        "metadata",
        "--format-version",
        "1",
        "--offline",
        "--locked",
        "--filter-platform",
        triple,
        "--manifest-path",
        str(manifest),
    )
    return out.encode()


def tree(ws: Path, package: str, triple: str, edges: str) -> list[tuple[int, str, str]]:
    """`cargo tree -e EDGES --prefix depth`: (depth, name, version) per line, in order."""
    out = cargo(
        ws, "tree", "-e", edges, "--target", triple, "-p", package, "--prefix", "depth", "--offline", "-f", "{p}"
    )
    lines = []
    for line in out.splitlines():
        m = _TREE_LINE.match(line)
        if m:
            lines.append((int(m.group(1)), m.group(2), m.group(3)))
    return lines


def tree_packages(ws: Path, package: str, triple: str, edges: str) -> set[tuple[str, str]]:
    """The (name, version) of every package `cargo tree -e EDGES` shows."""
    return {(name, version) for _, name, version in tree(ws, package, triple, edges)}


def tree_edges(ws: Path, package: str, triple: str, edges: str) -> set[tuple[tuple[str, str], tuple[str, str]]]:
    """(parent, child) (name, version) pairs, from the tree's indentation."""
    found = set()
    stack: list[tuple[str, str]] = []
    for depth, name, version in tree(ws, package, triple, edges):
        del stack[depth:]
        if stack:
            found.add((stack[-1], (name, version)))
        stack.append((name, version))
    return found


def _write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())


def _lib(root: Path, name: str, version: str, deps: str = "", extra: str = "") -> None:
    _write(
        root,
        f"crates/{name}-{version}/Cargo.toml",
        f'[package]\nname = "{name}"\nversion = "{version}"\nedition = "2021"\nlicense = "MIT"\n{extra}\n'
        f"[dependencies]\n{deps}",
    )
    _write(root, f"crates/{name}-{version}/src/lib.rs", "pub fn f() {}\n")


def path_workspace(root: Path) -> Path:
    """Lay out the path-only workspace at ``root`` (its Cargo.lock by the host cargo, offline)."""
    # Two packages of one name cannot both be members: the dupes are excluded (still path packages).
    _write(
        root,
        "Cargo.toml",
        '[workspace]\nmembers = ["crates/*"]\nexclude = ["crates/dupe-1.0.0", "crates/dupe-2.0.0"]\nresolver = "2"\n',
    )
    _write(
        root,
        "crates/app-0.1.0/Cargo.toml",
        """\
        [package]
        name = "app"
        version = "0.1.0"
        edition = "2021"
        license = "Apache-2.0 OR MIT"

        [dependencies]
        dupe1 = { package = "dupe", path = "../dupe-1.0.0" }
        dupe2 = { package = "dupe", path = "../dupe-2.0.0" }
        shared = { path = "../shared-0.1.0" }

        [build-dependencies]
        buildhelper = { path = "../buildhelper-0.1.0" }

        [dev-dependencies]
        devhelper = { path = "../devhelper-0.1.0" }
        """,
    )
    _write(root, "crates/app-0.1.0/src/main.rs", "fn main() {}\n")
    _write(root, "crates/app-0.1.0/build.rs", "fn main() {}\n")
    _lib(root, "dupe", "1.0.0")
    _lib(root, "dupe", "2.0.0", deps='leaf = { path = "../leaf-0.1.0" }\n')
    _lib(root, "leaf", "0.1.0")
    _lib(root, "shared", "0.1.0")
    _lib(root, "buildhelper", "0.1.0", deps='pm = { path = "../pm-0.1.0" }\nshared = { path = "../shared-0.1.0" }\n')
    _lib(root, "pm", "0.1.0", deps='pmdep = { path = "../pmdep-0.1.0" }\n', extra="[lib]\nproc-macro = true\n")
    _lib(root, "pmdep", "0.1.0")
    _lib(
        root,
        "devhelper",
        "0.1.0",
        deps='devonly = { path = "../devonly-0.1.0" }\npmdep = { path = "../pmdep-0.1.0" }\n',
    )
    _lib(root, "devonly", "0.1.0")
    cargo(root, "generate-lockfile", "--offline")
    return root
