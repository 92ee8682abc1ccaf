"""The fixture repository of the packbin.workspace tests (no Docker) and their helpers.

The fixture is a small repository with tiny std-only crates laid out as real projects are: a
virtual workspace (members glob + exclude, `workspace = true` path deps, package.workspace, a path
dependency outside the workspace, a dev-only test crate), a workspace whose root is a package, and
a standalone crate. Where cargo is installed, its own `cargo metadata` cross-checks the members
and bin targets found.

Shared by the tests in tests/unit/workspace/ (one file per packbin.workspace module)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

from packbin import workspace as wsmod
from packbin.config.model import BuildConfig, PackBinary
from packbin.errors import ConfigError
from packbin.workspace import (
    BinaryInputs,
    collect_inputs,
)

HEADER = """
[architectures.x86_64]
rust_target = "x86_64-unknown-linux-musl"
docker_platform = "linux/amd64"
elf_machine = "EM_X86_64"
elf_class = 64
byte_order = "little"
"""


#: (bin name, manifest, extra keys) for buildcfg.toml
BINARIES = [
    ("sensor-bin", "ws/crates/sensor/Cargo.toml", ""),
    ("other-tool", "ws/crates/other/Cargo.toml", ""),
    ("multi", "ws/crates/other", ""),
    ("gen", "ws/tools/gen/Cargo.toml", ""),
    ("rootpkg", "rootws/Cargo.toml", ""),
    ("solo", "standalone/Cargo.toml", ""),
]


OLD_NS = 1_600_000_000_000_000_000


def write(root: Path, rel: str, text: str) -> Path:
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(textwrap.dedent(text).lstrip())
    return p


def lock(*packages: tuple[str, str | None]) -> str:
    out = "version = 4\n"
    for name, source in packages:
        out += f'\n[[package]]\nname = "{name}"\nversion = "1.0.0"\n'
        if source:
            out += f'source = "{source}"\n'
    return out


def make_repo(root: Path) -> None:
    write(root, "docs/guide.md", "# guide\n")
    write(root, "web/index.html", "<p>hi</p>\n")
    # The virtual workspace.
    write(
        root,
        "ws/Cargo.toml",
        """
        [workspace]
        resolver = "2"
        members = ["crates/*", "tools/gen"]
        exclude = ["crates/experimental"]

        [workspace.package]
        edition = "2021"
        version = "0.1.0"

        [workspace.dependencies]
        shared = { path = "crates/shared" }
    """,
    )
    write(root, "ws/Cargo.lock", lock(("attune-sensor", None), ("shared", None)))
    write(root, "ws/docs/notes.md", "notes\n")
    write(
        root,
        "ws/crates/shared/Cargo.toml",
        """
        [package]
        name = "shared"
        version.workspace = true
        edition.workspace = true

        [dependencies]
        extlib = { path = "../../../ext/extlib" }
    """,
    )
    write(root, "ws/crates/shared/src/lib.rs", "pub fn tick() -> u32 { extlib::one() }\n")
    write(root, "ws/crates/shared/src/util.rs", "pub fn u() {}\n")
    write(
        root,
        "ws/crates/sensor/Cargo.toml",
        """
        [package]
        name = "attune-sensor"
        version.workspace = true
        edition.workspace = true

        [[bin]]
        name = "sensor-bin"
        path = "src/main.rs"

        [dependencies]
        shared.workspace = true

        [dev-dependencies]
        testutil = { path = "../testutil" }
    """,
    )
    write(root, "ws/crates/sensor/src/main.rs", 'fn main() { println!("{}", shared::tick()); }\n')
    write(root, "ws/crates/sensor/queries/q.sql", "select 1;\n")
    write(
        root,
        "ws/crates/testutil/Cargo.toml",
        """
        [package]
        name = "testutil"
        version = "0.1.0"
        edition = "2021"
    """,
    )
    write(root, "ws/crates/testutil/src/lib.rs", "pub fn helper() {}\n")
    write(
        root,
        "ws/crates/other/Cargo.toml",
        """
        [package]
        name = "other"
        version = "0.1.0"
        edition = "2021"
    """,
    )
    write(root, "ws/crates/other/build.rs", "fn main() {}\n")
    write(root, "ws/crates/other/src/bin/other-tool.rs", "fn main() {}\n")
    write(root, "ws/crates/other/src/bin/multi/main.rs", "mod part;\nfn main() { part::f() }\n")
    write(root, "ws/crates/other/src/bin/multi/part.rs", "pub fn f() {}\n")
    write(root, "ws/crates/experimental/Cargo.toml", '[package]\nname = "experimental"\nversion = "0.1.0"\n')
    write(root, "ws/crates/experimental/src/main.rs", "fn main() {}\n")
    write(
        root,
        "ws/tools/gen/Cargo.toml",
        """
        [package]
        name = "gen"
        version = "0.1.0"
        edition = "2021"
        workspace = "../.."
    """,
    )
    write(root, "ws/tools/gen/src/main.rs", "fn main() {}\n")
    # A path dependency outside the workspace but inside the repository.
    write(root, "ext/extlib/Cargo.toml", '[package]\nname = "extlib"\nversion = "0.1.0"\nedition = "2021"\n')
    write(root, "ext/extlib/src/lib.rs", "pub fn one() -> u32 { 1 }\n")
    # A workspace whose root is a package.
    write(
        root,
        "rootws/Cargo.toml",
        """
        [package]
        name = "rootpkg"
        version = "0.1.0"
        edition = "2021"

        [workspace]
        members = ["sub"]

        [dependencies]
        sub = { path = "sub" }
    """,
    )
    write(root, "rootws/Cargo.lock", lock(("rootpkg", None), ("sub", None)))
    write(root, "rootws/build.rs", "fn main() {}\n")
    write(root, "rootws/src/main.rs", "fn main() { sub::s() }\n")
    write(root, "rootws/notes.txt", "not an input\n")
    write(root, "rootws/sub/Cargo.toml", '[package]\nname = "sub"\nversion = "0.1.0"\nedition = "2021"\n')
    write(root, "rootws/sub/src/lib.rs", "pub fn s() {}\n")
    # A standalone crate.
    write(root, "standalone/Cargo.toml", '[package]\nname = "solo"\nversion = "0.1.0"\nedition = "2021"\n')
    write(root, "standalone/Cargo.lock", lock(("solo", None)))
    write(root, "standalone/src/main.rs", "fn main() {}\n")
    write_config(root)


def write_config(root: Path, binaries: list[tuple[str, str, str]] = BINARIES) -> None:
    text = HEADER
    for name, manifest, extra in binaries:
        text += f'\n[[binaries]]\nname = "{name}"\npack = "core"\nmanifest = "{manifest}"\n{extra}\n'
    (root / "buildcfg.toml").write_text(text)


def load(root: Path) -> BuildConfig:
    return BuildConfig.load(root / "buildcfg.toml", env={})


def binary(cfg: BuildConfig, name: str) -> PackBinary:
    return next(b for b in cfg.binaries if b.name == name)


def inputs(root: Path, name: str) -> BinaryInputs:
    cfg = load(root)
    return collect_inputs(cfg, binary(cfg, name))


def rels(bi: BinaryInputs) -> set[str]:
    return {f.rel for f in bi.files}


def config_error(root: Path, name: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        inputs(root, name)
    assert info.value.exit_code == 2
    return info.value


def cargo_metadata(manifest: Path) -> dict[str, object]:
    cargo = shutil.which("cargo")
    if cargo is None:
        pytest.skip("cargo is not installed on this host: cannot cross-check against cargo metadata")
    env = dict(os.environ, CARGO_NET_OFFLINE="true")
    out = subprocess.run(
        [cargo, "metadata", "--offline", "--no-deps", "--format-version", "1", "--manifest-path", str(manifest)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        timeout=120,
    )
    data: dict[str, object] = json.loads(out.stdout)
    return data


def materialize(out: Path, files: tuple[wsmod.InputFile, ...], stubs: tuple[wsmod.Stub, ...]) -> None:
    for f in files:
        (out / f.rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(f.path, out / f.rel)
    for s in stubs:
        (out / s.rel).parent.mkdir(parents=True, exist_ok=True)
        (out / s.rel).write_bytes(s.data)


CRATES_IO = "registry+https://github.com/rust-lang/crates.io-index"


VENDOR_CONFIG = """
    [source.crates-io]
    replace-with = "vendored-sources"

    [source."git+https://git.example.com/team/gitdep?branch=main"]
    git = "https://git.example.com/team/gitdep"
    branch = "main"
    replace-with = "vendored-sources"

    [source.vendored-sources]
    directory = "vendor"
"""


def vendored(repo: Path) -> None:
    write(repo, "ws/.cargo/config.toml", VENDOR_CONFIG)
    write(repo, "ws/vendor/serde/Cargo.toml", '[package]\nname = "serde"\nversion = "1.0.0"\n')
    write(repo, "ws/vendor/serde/src/lib.rs", "\n")
    write(repo, "ws/vendor/serde/.cargo-checksum.json", '{"files":{},"package":null}\n')
    write(repo, "ws/vendor/serde/target/keep.rs", "// a vendored crate may ship anything: its checksum covers it\n")


def set_lock(repo: Path, *sources: str) -> None:
    pkgs: list[tuple[str, str | None]] = [("attune-sensor", None), ("shared", None)]
    pkgs += [(f"dep{i}", s) for i, s in enumerate(sources)]
    (repo / "ws/Cargo.lock").write_text(lock(*pkgs))


def cache_file(cache_env: Path) -> Path:
    files = list((cache_env / "input-hashes").glob("*.json"))
    assert len(files) == 1
    return files[0]
