"""An attune-shaped Cargo workspace built from Debian's crate sources, for tests and benchmarks.

The workspace mirrors the seed project: a virtual root with shared `[workspace.dependencies]`, a
shared lib crate (`crates/common`), the timer sensor bin (`attune-core-timer-sensor` in package
`attune-sensor`) using tokio (macros), serde (derive), anyhow and ring (C and asm through the C
compiler), a build script that needs SQLX_OFFLINE=true and reads `.sqlx/` at the workspace root,
an unrelated member, and `docs/` + `web/` that no build reads.

Its Cargo.lock and `vendor/` come from Debian's `librust-*-dev` packages
(/usr/share/cargo/registry, a cargo directory source), resolved and vendored by the host cargo
with no network. That takes seconds, so it is done once into a cache directory keyed by the
fixture's text, the host cargo's version and the registry's contents, and each test gets a copy.

The sensor prints lines a test can check::

    tick 1: {"sensor":"attune-core-timer-sensor","tick":1,...}   (three ticks, 10 ms apart)
    sha256(attune): <hex>                                        (ring)
    common: common-v1                                            (attune-common's MARKER)
    sqlx-query: SELECT ...                                       (baked from .sqlx/ by build.rs)
    build-net: lo                                                (/sys/class/net as build.rs saw it)
    build-target: x86_64-unknown-linux-musl                      (build.rs's TARGET)
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

#: Debian's crate sources (installed by `apt-get install librust-...-dev`, see .ci/run).
DEBIAN_REGISTRY = Path("/usr/share/cargo/registry")

#: The Debian packages whose crates the workspace depends on (bookworm: tokio 1.24.2, ring 0.16.20,
#: serde 1.0.152, serde_json 1.0.87, anyhow 1.0.69); their dependencies come with them.
DEBIAN_PACKAGES = (
    "librust-tokio-dev",
    "librust-tokio-macros-dev",
    "librust-ring-dev",
    "librust-serde-dev",
    "librust-serde-derive-dev",
    "librust-serde-json-dev",
    "librust-anyhow-dev",
)

#: Crates the workspace needs in DEBIAN_REGISTRY (directory name prefixes), checked before building.
REQUIRED_CRATES = (
    "tokio-1.",
    "tokio-macros-",
    "ring-0.16.",
    "serde-1.",
    "serde_derive-1.",
    "serde_json-1.",
    "anyhow-1.",
)

SENSOR_BIN = "attune-core-timer-sensor"
SENSOR_PACKAGE = "attune-sensor"
OTHER_BIN = "attune-other-tool"
#: What attune-common's MARKER says; a test edits it (a one-line change in the shared crate).
COMMON_MARKER = "common-v1"
SQLX_QUERY = "SELECT id, name, interval_ms FROM sensor WHERE enabled = true"

_ROOT_MANIFEST = """\
[workspace]
members = ["crates/*"]
resolver = "2"

[workspace.package]
version = "0.3.1"
edition = "2021"
license = "Apache-2.0"
publish = false

[workspace.dependencies]
serde = { version = "1", features = ["derive"] }
serde_json = "1"
tokio = { version = "1", default-features = false, features = ["rt", "macros", "time"] }
anyhow = "1"
ring = "0.16"
attune-common = { path = "crates/common" }
{extra_workspace_deps}
[profile.release]
opt-level = 3
debug = false
strip = "debuginfo"
codegen-units = 16
incremental = false

[profile.dev]
debug = 1
"""

_COMMON_MANIFEST = """\
[package]
name = "attune-common"
version.workspace = true
edition.workspace = true
license.workspace = true
publish.workspace = true

[lib]
path = "src/lib.rs"

[dependencies]
serde.workspace = true
serde_json.workspace = true
anyhow.workspace = true
"""

_COMMON_LIB = """\
//! Types shared by attune's sensors and tools.

use anyhow::Context;
use serde::{Deserialize, Serialize};

/// Changed by tests to check that a change in this crate rebuilds its dependents.
pub const MARKER: &str = "@MARKER@";

/// A sensor's timer settings, as the sensor reads them from its JSON config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimerConfig {
    pub interval_ms: u64,
    pub ticks: u32,
}

/// One event a sensor emits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SensorEvent {
    pub sensor: String,
    pub tick: u32,
    pub interval_ms: u64,
}

pub fn parse_config(text: &str) -> anyhow::Result<TimerConfig> {
    serde_json::from_str(text).context("invalid timer config")
}

pub fn event_json(event: &SensorEvent) -> anyhow::Result<String> {
    serde_json::to_string(event).context("cannot encode event")
}
"""

_SENSOR_MANIFEST = """\
[package]
name = "attune-sensor"
version.workspace = true
edition.workspace = true
license.workspace = true
publish.workspace = true
build = "build.rs"

[[bin]]
name = "attune-core-timer-sensor"
path = "src/main.rs"

[dependencies]
attune-common.workspace = true
serde.workspace = true
tokio.workspace = true
anyhow.workspace = true
ring.workspace = true
{extra_member_deps}"""

_SENSOR_BUILD_RS = """\
//! Like sqlx's macros in offline mode: refuses to build without SQLX_OFFLINE=true and reads the
//! prepared queries in the workspace's .sqlx/ (outside this crate). Also records which network
//! interfaces it could see, so a test can tell whether the build ran with network.

use std::{env, fs, path::PathBuf};

fn main() {
    println!("cargo:rerun-if-env-changed=SQLX_OFFLINE");
    if env::var("SQLX_OFFLINE").as_deref() != Ok("true") {
        panic!("SQLX_OFFLINE=true is required: this build has no database to check queries against");
    }

    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let sqlx_dir = manifest_dir.join("../../.sqlx");
    println!("cargo:rerun-if-changed={}", sqlx_dir.display());
    let mut queries: Vec<PathBuf> = fs::read_dir(&sqlx_dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", sqlx_dir.display()))
        .map(|entry| entry.expect("read_dir entry").path())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name.starts_with("query-") && name.ends_with(".json")
        })
        .collect();
    queries.sort();
    let first = queries.first().unwrap_or_else(|| panic!("no query-*.json in {}", sqlx_dir.display()));
    for query in &queries {
        println!("cargo:rerun-if-changed={}", query.display());
    }
    let text = fs::read_to_string(first).expect("read query file");
    // The "query" field's value; the build dependencies stay std-only.
    let query = text
        .split("\\"query\\"")
        .nth(1)
        .and_then(|rest| rest.split('"').nth(1))
        .unwrap_or_else(|| panic!("no \\"query\\" field in {}", first.display()));
    println!("cargo:rustc-env=SENSOR_SQLX_QUERY={query}");
    println!("cargo:rustc-env=SENSOR_SQLX_FILES={}", queries.len());

    let mut interfaces: Vec<String> = match fs::read_dir("/sys/class/net") {
        Ok(entries) => entries.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect(),
        Err(_) => vec!["(unreadable)".to_string()],
    };
    interfaces.sort();
    println!("cargo:rustc-env=SENSOR_BUILD_NET={}", interfaces.join(","));
    println!("cargo:rustc-env=SENSOR_BUILD_TARGET={}", env::var("TARGET").unwrap_or_default());
}
"""

_SENSOR_MAIN = """\
use std::time::Duration;

use attune_common::{event_json, parse_config, SensorEvent, MARKER};
use ring::digest;

const CONFIG: &str = r#"{"interval_ms": 10, "ticks": 3}"#;

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let config = parse_config(CONFIG)?;
    let mut interval = tokio::time::interval(Duration::from_millis(config.interval_ms));
    for tick in 1..=config.ticks {
        interval.tick().await;
        let event = SensorEvent { sensor: "attune-core-timer-sensor".into(), tick, interval_ms: config.interval_ms };
        println!("tick {tick}: {}", event_json(&event)?);
    }
    let hex: String = digest::digest(&digest::SHA256, b"attune").as_ref().iter().map(|b| format!("{b:02x}")).collect();
    println!("sha256(attune): {hex}");
    println!("common: {MARKER}");
    println!("sqlx-query: {} ({} file(s))", env!("SENSOR_SQLX_QUERY"), env!("SENSOR_SQLX_FILES"));
    println!("build-net: {}", env!("SENSOR_BUILD_NET"));
    println!("build-target: {}", env!("SENSOR_BUILD_TARGET"));
    Ok(())
}
"""

_OTHER_MANIFEST = """\
[package]
name = "attune-other-tool"
version.workspace = true
edition.workspace = true
license.workspace = true
publish.workspace = true

[[bin]]
name = "attune-other-tool"
path = "src/main.rs"
"""

_OTHER_MAIN = """\
fn main() {
    println!("attune-other-tool {}", env!("CARGO_PKG_VERSION"));
}
"""

_SQLX_QUERY_JSON = (
    json.dumps(
        {
            "db_name": "PostgreSQL",
            "query": SQLX_QUERY,
            "describe": {
                "columns": [
                    {"ordinal": 0, "name": "id", "type_info": "Int8"},
                    {"ordinal": 1, "name": "name", "type_info": "Text"},
                    {"ordinal": 2, "name": "interval_ms", "type_info": "Int8"},
                ],
                "parameters": {"Left": []},
                "nullable": [False, False, False],
            },
            "hash": hashlib.sha256(SQLX_QUERY.encode()).hexdigest(),
        },
        indent=2,
    )
    + "\n"
)

#: Extra crates for the `big` workspace (vendor/ past 50 MB for the bytes-sent benchmark):
#: (Debian package, dependency line for [workspace.dependencies]). encoding_rs is what sqlx and
#: reqwest pull in; regex without its default `perf` features needs only regex-syntax.
BIG_EXTRA = (
    ("librust-encoding-rs-dev", 'encoding_rs = "0.8"'),
    ("librust-regex-dev", 'regex = { version = "1", default-features = false, features = ["std", "unicode"] }'),
)


def workspace_files(*, big: bool = False) -> dict[str, str]:
    """The workspace's own files (relative path -> text), without Cargo.lock and vendor/."""
    extra_ws = "".join(line + "\n" for _, line in BIG_EXTRA) if big else ""
    extra_member = "".join(line.split(" ", 1)[0] + ".workspace = true\n" for _, line in BIG_EXTRA) if big else ""
    return {
        "Cargo.toml": _ROOT_MANIFEST.replace("{extra_workspace_deps}", extra_ws),
        "crates/common/Cargo.toml": _COMMON_MANIFEST,
        "crates/common/src/lib.rs": _COMMON_LIB.replace("@MARKER@", COMMON_MARKER),
        "crates/sensor/Cargo.toml": _SENSOR_MANIFEST.replace("{extra_member_deps}", extra_member),
        "crates/sensor/build.rs": _SENSOR_BUILD_RS,
        "crates/sensor/src/main.rs": _SENSOR_MAIN,
        "crates/other-tool/Cargo.toml": _OTHER_MANIFEST,
        "crates/other-tool/src/main.rs": _OTHER_MAIN,
        ".sqlx/query-0001.json": _SQLX_QUERY_JSON,
        "docs/index.md": "# attune\n\nOperator documentation (no build reads this).\n",
        "docs/sensors.md": "# Sensors\n\nThe timer sensor emits one event per interval.\n",
        "web/index.html": '<!doctype html>\n<title>attune</title>\n<script src="app.js"></script>\n',
        "web/app.js": "console.log('attune web ui');\n",
        ".gitignore": "/target\n",
    }


class FixtureUnavailable(Exception):
    """The host lacks what the fixture is made from (cargo, Debian's crate sources)."""


def host_cargo() -> str:
    """The `cargo` on PATH (rustup's or Debian's); FixtureUnavailable when there is none."""
    cargo = shutil.which("cargo")
    if cargo is None:
        raise FixtureUnavailable("no `cargo` on PATH (install Debian's `cargo` package; .ci/run does)")
    return cargo


def cache_root() -> Path:
    """$PACKBIN_TEST_CACHE, else ~/.cache/packbin-tests (the ELF fixtures' cache)."""
    from tests.support.elf_fixtures import cache_dir

    return cache_dir()


def _check_registry(*, big: bool) -> list[str]:
    if not DEBIAN_REGISTRY.is_dir():
        raise FixtureUnavailable(f"{DEBIAN_REGISTRY} is missing: apt-get install {' '.join(DEBIAN_PACKAGES)}")
    names = sorted(p.name for p in DEBIAN_REGISTRY.iterdir())
    required = list(REQUIRED_CRATES) + ([line.split(" ", 1)[0] + "-" for _, line in BIG_EXTRA] if big else [])
    missing = [r for r in required if not any(n.startswith(r) for n in names)]
    if missing:
        packages = list(DEBIAN_PACKAGES) + ([p for p, _ in BIG_EXTRA] if big else [])
        raise FixtureUnavailable(f"{DEBIAN_REGISTRY} lacks {', '.join(missing)}: apt-get install {' '.join(packages)}")
    return names


def offline_cargo_env(cargo_home: Path) -> dict[str, str]:
    """Environment for host cargo with ``cargo_home`` as CARGO_HOME and crates-io replaced by Debian's sources."""
    cargo_home.mkdir(parents=True, exist_ok=True)
    (cargo_home / "config.toml").write_text(
        f'[source.crates-io]\nreplace-with = "deb"\n\n[source.deb]\ndirectory = "{DEBIAN_REGISTRY}"\n\n[net]\noffline = true\n'
    )
    env = dict(os.environ)
    env["CARGO_HOME"] = str(cargo_home)
    # rustup's proxies find their toolchains through RUSTUP_HOME, which defaults to a path under
    # the real home; keep it pointing there when CARGO_HOME moves.
    env.setdefault("RUSTUP_HOME", str(Path.home() / ".rustup"))
    return env


def _run(cmd: list[str], *, cwd: Path, env: dict[str, str]) -> str:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}) in {cwd}:\n{proc.stderr[-4000:]}")
    return proc.stdout


def _generate(root: Path, files: Mapping[str, str]) -> None:
    """Write ``files`` into ``root``, then their Cargo.lock, vendor/ and .cargo/config.toml."""
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    cargo = host_cargo()
    with tempfile.TemporaryDirectory(prefix="packbin-cargo-home-") as home:
        env = offline_cargo_env(Path(home))
        _run([cargo, "generate-lockfile", "--offline"], cwd=root, env=env)
        printed = _run(
            [cargo, "vendor", "--offline", "--respect-source-config", "--locked", "vendor"], cwd=root, env=env
        )
    # What `cargo vendor` prints is the source replacement for the vendored tree; keep only it
    # (it also names the "deb" source, which exists only in the temporary CARGO_HOME).
    (root / ".cargo").mkdir(exist_ok=True)
    (root / ".cargo" / "config.toml").write_text(_vendor_config(printed))


def _vendor_config(printed: str) -> str:
    if 'directory = "vendor"' not in printed:
        raise RuntimeError(f"unexpected `cargo vendor` output:\n{printed}")
    return '[source.crates-io]\nreplace-with = "vendored-sources"\n\n[source.vendored-sources]\ndirectory = "vendor"\n'


def _cache_key(files: Mapping[str, str], registry: list[str]) -> str:
    cargo_version = subprocess.run(
        [host_cargo(), "--version"], capture_output=True, text=True, check=True
    ).stdout.strip()
    blob = json.dumps({"files": files, "cargo": cargo_version, "registry": registry, "fixture": 1}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def vendored_template(prefix: str, files: Mapping[str, str], registry: list[str]) -> Path:
    """The cached tree of ``files`` with its Cargo.lock and vendor/ made offline from Debian's
    crate sources (read it, copy it; do not build in it), under ``cache_root()/<prefix><key>``;
    the key covers the files, the host cargo's version and ``registry`` (the crates present).

    Built on first use (a second or two). Concurrent sessions each build into a temporary
    directory and the first rename wins.
    """
    root = cache_root()
    target = root / f"{prefix}{_cache_key(files, registry)}"
    if (target / "Cargo.lock").is_file():
        return target
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=root))
    try:
        _generate(staging, files)
        try:
            staging.rename(target)
        except OSError:
            if not (target / "Cargo.lock").is_file():
                raise
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return target


def workspace_template(*, big: bool = False) -> Path:
    """The cached, generated workspace (:func:`vendored_template` of :func:`workspace_files`)."""
    prefix = f"cargo-workspace-{'big-' if big else ''}"
    return vendored_template(prefix, workspace_files(big=big), _check_registry(big=big))


def make_workspace(dest: Path, *, big: bool = False) -> Path:
    """Copy the generated workspace to ``dest`` (created; may exist empty) and return its root."""
    shutil.copytree(workspace_template(big=big), dest, symlinks=True, dirs_exist_ok=True)
    return dest


def make_workspace_or_skip(dest: Path) -> Path:
    """:func:`make_workspace`, skipping the test (saying why) when the host cannot generate the workspace."""
    try:
        return make_workspace(dest)
    except FixtureUnavailable as e:
        pytest.skip(str(e))


def make_benchmark_workspace(dest: Path) -> Path:
    """The workspace with extra dependencies so that vendor/ passes 50 MB (the bytes-sent benchmark)."""
    return make_workspace(dest, big=True)


def vendor_size(root: Path) -> int:
    """Bytes of regular files under ``root``/vendor."""
    return sum(p.stat().st_size for p in (root / "vendor").rglob("*") if p.is_file() and not p.is_symlink())


@pytest.fixture(scope="session")
def cargo_workspace_template() -> Iterator[Path]:
    """The generated workspace (read-only; copy it with make_workspace or shutil.copytree).

    Skips, saying why, when the host has no cargo or lacks Debian's crate sources.
    """
    try:
        yield workspace_template()
    except FixtureUnavailable as e:
        pytest.skip(str(e))
