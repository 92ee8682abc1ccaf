"""Three crates with C underneath, built from Debian's crate sources, for tests and benchmarks.

- ``bindgen``: a build script that compiles a tiny C file with ``cc`` and runs ``bindgen`` (as a
  build dependency, libclang loaded at run time) over its header, which includes the target's
  <stdint.h> and <stddef.h>; the bin calls the C through the generated bindings.
- ``zlib``: depends on ``libz-sys`` directly, with no static/bundled feature (Debian's libz-sys has
  none: it links the system zlib found by pkg-config, or panics); prints zlib's own version and a
  CRC-32 computed by zlib.
- ``openssl``: depends on ``openssl`` (so ``openssl-sys``) without the ``vendored`` feature;
  prints OpenSSL's version and a SHA-256 computed by OpenSSL.

Each crate's own build.rs also records the network interfaces it could see (``build-net: lo``
in a container with no network) and the target, like the attune workspace's sensor. The lines::

    bindgen demo_add(2, 40) = 42                       (bindgen fixture)
    bindgen demo_fnv1a(packbin) = <8 hex digits>       (FNV-1a 32 of b"packbin", computed in C)
    zlib <version> crc32(packbin) = <8 hex digits>     (zlib fixture; zlib.crc32(b"packbin"))
    openssl <version text> sha256(packbin) = <hex>     (openssl fixture; sha256 of b"packbin")
    build-net: lo
    build-target: x86_64-unknown-linux-musl

Their Cargo.lock and vendor/ are made by the host cargo with no network from
/usr/share/cargo/registry, once per fixture text, cargo version and registry contents, into the
test cache directory (as :mod:`tests.support.cargo_workspace` does); each test gets a copy.
Vendor trees are never committed.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.cargo_workspace import (
    DEBIAN_REGISTRY,
    FixtureUnavailable,
    vendored_template,
)


@dataclass(frozen=True, kw_only=True)
class CFixture:
    """One fixture crate: its name (package and bin), what it needs, where its crates come from."""

    key: str  # "bindgen", "zlib", "openssl"
    package: str  # the package and bin name
    #: The C library packbin's [[c_libraries]] must provide (None: the crate brings its own C).
    library: str | None
    #: The -sys crate that looks for that library (None with library None).
    sys_crate: str | None
    #: Debian packages that put the crates into DEBIAN_REGISTRY.
    debian_packages: tuple[str, ...]
    #: Directory-name prefixes the registry must hold.
    required_crates: tuple[str, ...]
    files: tuple[tuple[str, str], ...]  # (relative path, text), without Cargo.lock and vendor/


_BUILD_NET = """\
    let mut interfaces: Vec<String> = match std::fs::read_dir("/sys/class/net") {
        Ok(entries) => entries.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect(),
        Err(_) => vec!["(unreadable)".to_string()],
    };
    interfaces.sort();
    println!("cargo:rustc-env=FIXTURE_BUILD_NET={}", interfaces.join(","));
    println!("cargo:rustc-env=FIXTURE_BUILD_TARGET={}", std::env::var("TARGET").unwrap_or_default());
"""

_PRINT_BUILD = """\
    println!("build-net: {}", env!("FIXTURE_BUILD_NET"));
    println!("build-target: {}", env!("FIXTURE_BUILD_TARGET"));
"""

_MANIFEST = """\
[package]
name = "{name}"
version = "0.1.0"
edition = "2021"
publish = false
build = "build.rs"

[[bin]]
name = "{name}"
path = "src/main.rs"

{deps}
[profile.release]
opt-level = "s"
"""

_BINDGEN_HEADER = """\
#include <stddef.h>
#include <stdint.h>

int32_t demo_add(int32_t a, int32_t b);
uint32_t demo_fnv1a(const uint8_t *data, size_t len);
"""

_BINDGEN_C = """\
#include "demo.h"

int32_t demo_add(int32_t a, int32_t b) { return a + b; }

uint32_t demo_fnv1a(const uint8_t *data, size_t len) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) {
        h ^= data[i];
        h *= 16777619u;
    }
    return h;
}
"""

_BINDGEN_BUILD_RS = (
    """\
//! Compiles c/demo.c for the target and generates its bindings with bindgen (libclang at run time).

fn main() {
    println!("cargo:rerun-if-changed=c/demo.h");
    println!("cargo:rerun-if-changed=c/demo.c");
    cc::Build::new().file("c/demo.c").include("c").compile("demo");
    let bindings = bindgen::Builder::default()
        .header("c/demo.h")
        .allowlist_function("demo_.*")
        .generate()
        .expect("bindgen could not generate the bindings of c/demo.h");
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    bindings.write_to_file(out.join("bindings.rs")).expect("write bindings.rs");
"""
    + _BUILD_NET
    + "}\n"
)

_BINDGEN_MAIN = (
    """\
#[allow(non_upper_case_globals, non_camel_case_types, non_snake_case, dead_code)]
mod ffi {
    include!(concat!(env!("OUT_DIR"), "/bindings.rs"));
}

fn main() {
    let data = b"packbin";
    let sum = unsafe { ffi::demo_add(2, 40) };
    let hash = unsafe { ffi::demo_fnv1a(data.as_ptr(), data.len() as _) };
    println!("bindgen demo_add(2, 40) = {sum}");
    println!("bindgen demo_fnv1a(packbin) = {hash:08x}");
"""
    + _PRINT_BUILD
    + "}\n"
)

_ZLIB_MAIN = (
    """\
use std::ffi::CStr;

fn main() {
    let data = b"packbin";
    let version = unsafe { CStr::from_ptr(libz_sys::zlibVersion()) }.to_string_lossy().into_owned();
    let crc = unsafe { libz_sys::crc32(0, data.as_ptr(), data.len() as _) };
    println!("zlib {version} crc32(packbin) = {crc:08x}");
"""
    + _PRINT_BUILD
    + "}\n"
)

_OPENSSL_MAIN = (
    """\
fn main() {
    let digest = openssl::sha::sha256(b"packbin");
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    println!("openssl {} sha256(packbin) = {hex}", openssl::version::version());
"""
    + _PRINT_BUILD
    + "}\n"
)

_PLAIN_BUILD_RS = "fn main() {\n" + _BUILD_NET + "}\n"


def _crate(name: str, deps: str, build_rs: str, main: str, *extra: tuple[str, str]) -> tuple[tuple[str, str], ...]:
    return (
        ("Cargo.toml", _MANIFEST.format(name=name, deps=deps)),
        ("build.rs", build_rs),
        ("src/main.rs", main),
        (".gitignore", "/target\n"),
        *extra,
    )


BINDGEN = CFixture(
    key="bindgen",
    package="c-bindgen-demo",
    library=None,
    sys_crate=None,
    debian_packages=("librust-bindgen-dev", "librust-cc-dev"),
    required_crates=("bindgen-0.", "clang-sys-1.", "cc-1."),
    files=_crate(
        "c-bindgen-demo",
        '[build-dependencies]\ncc = "1"\nbindgen = { version = "0.60", default-features = false, features = ["runtime"] }\n',
        _BINDGEN_BUILD_RS,
        _BINDGEN_MAIN,
        ("c/demo.h", _BINDGEN_HEADER),
        ("c/demo.c", _BINDGEN_C),
    ),
)

ZLIB = CFixture(
    key="zlib",
    package="c-zlib-demo",
    library="zlib",
    sys_crate="libz-sys",
    debian_packages=("librust-libz-sys-dev", "librust-pkg-config-dev"),
    required_crates=("libz-sys-1.", "pkg-config-0."),
    files=_crate("c-zlib-demo", '[dependencies]\nlibz-sys = "1"\n', _PLAIN_BUILD_RS, _ZLIB_MAIN),
)

OPENSSL = CFixture(
    key="openssl",
    package="c-openssl-demo",
    library="openssl",
    sys_crate="openssl-sys",
    debian_packages=("librust-openssl-dev", "librust-openssl-sys-dev", "librust-pkg-config-dev"),
    required_crates=("openssl-0.10.", "openssl-sys-0.9.", "pkg-config-0."),
    files=_crate("c-openssl-demo", '[dependencies]\nopenssl = "0.10"\n', _PLAIN_BUILD_RS, _OPENSSL_MAIN),
)

FIXTURES = {f.key: f for f in (BINDGEN, ZLIB, OPENSSL)}


def fnv1a32(data: bytes) -> int:
    """FNV-1a (32 bit), what the bindgen fixture's C computes, for tests to compare against."""
    h = 2166136261
    for byte in data:
        h = ((h ^ byte) * 16777619) & 0xFFFFFFFF
    return h


def _check_registry(fixture: CFixture) -> list[str]:
    if not DEBIAN_REGISTRY.is_dir():
        raise FixtureUnavailable(f"{DEBIAN_REGISTRY} is missing: apt-get install {' '.join(fixture.debian_packages)}")
    names = sorted(p.name for p in DEBIAN_REGISTRY.iterdir())
    missing = [r for r in fixture.required_crates if not any(n.startswith(r) for n in names)]
    if missing:
        raise FixtureUnavailable(
            f"{DEBIAN_REGISTRY} lacks {', '.join(missing)}: apt-get install {' '.join(fixture.debian_packages)}"
        )
    return names


def c_fixture_template(key: str) -> Path:
    """The cached, generated crate ``key`` ("bindgen", "zlib", "openssl"): read or copy it, never build in it.

    Made on first use (a second or two); concurrent sessions each make it in a temporary
    directory and the first rename wins. FixtureUnavailable without cargo or the crates.
    """
    fixture = FIXTURES[key]
    return vendored_template(f"c-fixture-{key}-", dict(fixture.files), _check_registry(fixture))


def make_c_fixture(key: str, dest: Path) -> Path:
    """Copy the generated crate ``key`` to ``dest`` (created; may exist empty) and return its root."""
    shutil.copytree(c_fixture_template(key), dest, symlinks=True, dirs_exist_ok=True)
    return dest


def buildcfg_text(key: str, *, c_libraries: tuple[str, ...] = (), packages: tuple[str, ...] = ()) -> str:
    """A buildcfg.toml for the crate ``key`` at the repository root: its bin on its own (no pack),
    x86_64 and arm64, with these ``[[c_libraries]]`` and ``[builder] packages``."""
    fixture = FIXTURES[key]
    text = 'all_arches = ["x86_64", "arm64"]\n\n'
    if packages:
        text += "[builder]\npackages = [" + ", ".join(json.dumps(p) for p in packages) + "]\n\n"
    text += f'[[binaries]]\nname = "{fixture.package}"\nmanifest = "Cargo.toml"\n'
    for name in c_libraries:
        text += f'\n[[c_libraries]]\nname = "{name}"\n'
    return text


def make_c_repo(key: str, dest: Path, *, c_libraries: tuple[str, ...] = (), packages: tuple[str, ...] = ()) -> Path:
    """The crate ``key`` as a repository at ``dest`` with its buildcfg.toml (see :func:`buildcfg_text`)."""
    make_c_fixture(key, dest)
    (dest / "buildcfg.toml").write_text(buildcfg_text(key, c_libraries=c_libraries, packages=packages))
    return dest


@pytest.fixture(scope="session", params=sorted(FIXTURES))
def c_fixture_template_any(request: pytest.FixtureRequest) -> Iterator[tuple[CFixture, Path]]:
    """Each generated fixture crate in turn (read-only), with its description; skips, saying why,
    when the host has no cargo or lacks Debian's crate sources."""
    try:
        yield FIXTURES[request.param], c_fixture_template(request.param)
    except FixtureUnavailable as e:
        pytest.skip(str(e))
