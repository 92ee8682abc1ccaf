"""A small, real sparse Cargo registry served on the loopback address from a thread.

It packs crates from Debian's sources (/usr/share/cargo/registry) into `.crate` files itself
(deterministic tar.gz of ``name-version/...``) and serves them the way crates.io's sparse
protocol does: ``index/config.json``, one index file per crate at cargo's sparse paths
(``1/a``, ``2/ab``, ``3/a/abc``, ``ab/cd/abcd``), and the downloads. It counts requests per
path, so a test can assert that a build fetched what it needed, or fetched nothing.

Use it as a context manager::

    with SparseRegistry() as registry:
        ws = make_registry_workspace(tmp_path / "ws", registry.index_url)
        ... cargo build ...
        assert registry.downloads() == {"itoa-1.0.1.crate": 1, ...}
"""

from __future__ import annotations

import gzip
import hashlib
import http.server
import io
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import threading
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, final

import pytest

from packbin._compat import tomllib
from tests.support.cargo_workspace import DEBIAN_REGISTRY, FixtureUnavailable, host_cargo

#: Small crates with no dependencies outside this set (lock_api needs scopeguard and, as a build
#: dependency, autocfg: a registry crate with a build script). All come with librust-tokio-dev.
DEFAULT_CRATES = ("itoa-1.0.1", "scopeguard-1.1.0", "autocfg-1.1.0", "lock_api-0.4.9")

_EPOCH = 1_600_000_000  # fixed mtime in the .crate files, so that their checksums are stable


def sparse_path(name: str) -> str:
    """Where cargo's sparse protocol looks for ``name``'s index file (relative to the index URL)."""
    n = name.lower()
    if len(n) <= 2:
        return f"{len(n)}/{n}"
    if len(n) == 3:
        return f"3/{n[0]}/{n}"
    return f"{n[:2]}/{n[2:4]}/{n}"


def pack_crate(src: Path) -> tuple[str, str, bytes]:
    """(name, version, .crate bytes) for a crate directory laid out as Debian ships it."""
    manifest = tomllib.loads((src / "Cargo.toml").read_text())
    name, version = manifest["package"]["name"], manifest["package"]["version"]
    prefix = f"{name}-{version}"
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(p for p in src.rglob("*") if p.is_file()):
            rel = path.relative_to(src).as_posix()
            if rel == ".cargo-checksum.json":
                continue  # Debian's directory-source marker, not part of a published crate
            info = tarfile.TarInfo(f"{prefix}/{rel}")
            data = path.read_bytes()
            info.size = len(data)
            info.mtime = _EPOCH
            info.mode = 0o755 if os.access(path, os.X_OK) else 0o644
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(data))
    return name, version, gzip.compress(raw.getvalue(), compresslevel=9, mtime=0)


def _dep_entries(table: Mapping[str, Any], kind: str, target: str | None) -> Iterable[dict[str, Any]]:
    for dep_name, spec in table.items():
        if isinstance(spec, str):
            spec = {"version": spec}
        yield {
            "name": dep_name,
            "req": spec.get("version", "*"),
            "features": list(spec.get("features", [])),
            "optional": bool(spec.get("optional", False)),
            "default_features": bool(spec.get("default-features", spec.get("default_features", True))),
            "target": target,
            "kind": kind,
            "registry": None,
            "package": spec.get("package"),
        }


def index_entry(manifest: Mapping[str, Any], cksum: str) -> dict[str, Any]:
    """The sparse index line for a crate, from its (normalized, as published) Cargo.toml."""
    deps: list[dict[str, Any]] = []
    kinds = (("dependencies", "normal"), ("build-dependencies", "build"), ("dev-dependencies", "dev"))
    for key, kind in kinds:
        deps.extend(_dep_entries(manifest.get(key, {}), kind, None))
    for target, tables in manifest.get("target", {}).items():
        for key, kind in kinds:
            deps.extend(_dep_entries(tables.get(key, {}), kind, target))
    features: dict[str, list[str]] = manifest.get("features", {})
    # Features using the newer `dep:` / `?/` syntax go to "features2" (index format v2), as crates.io does.
    new_syntax = {k: v for k, v in features.items() if any(f.startswith("dep:") or "?/" in f for f in v)}
    entry: dict[str, Any] = {
        "name": manifest["package"]["name"],
        "vers": manifest["package"]["version"],
        "deps": deps,
        "cksum": cksum,
        "features": {k: v for k, v in features.items() if k not in new_syntax},
        "yanked": False,
        "links": manifest["package"].get("links"),
    }
    if new_syntax:
        entry["features2"] = new_syntax
        entry["v"] = 2
    return entry


@final
class SparseRegistry:
    """A sparse registry on http://HOST:PORT/index/ serving ``crates`` (Debian registry dir names).

    Started on construction, stopped by ``stop()`` or leaving the ``with`` block. Serves only
    what it packed; anything else is a 404 (and counted, like every request).
    """

    def __init__(
        self, crates: Iterable[str] = DEFAULT_CRATES, *, host: str = "127.0.0.1", registry_dir: Path = DEBIAN_REGISTRY
    ) -> None:
        self._files: dict[str, bytes] = {}
        self.crate_files: dict[str, str] = {}  # "name-version.crate" -> sha256
        index: dict[str, list[str]] = {}
        for dirname in crates:
            src = registry_dir / dirname
            if not (src / "Cargo.toml").is_file():
                raise FixtureUnavailable(f"{src} is missing (apt-get install librust-tokio-dev)")
            name, version, blob = pack_crate(src)
            cksum = hashlib.sha256(blob).hexdigest()
            self._files[f"crates/{name}/{name}-{version}.crate"] = blob
            self.crate_files[f"{name}-{version}.crate"] = cksum
            manifest = tomllib.loads((src / "Cargo.toml").read_text())
            index.setdefault(name, []).append(json.dumps(index_entry(manifest, cksum), separators=(",", ":")))
        for name, lines in index.items():
            self._files[f"index/{sparse_path(name)}"] = ("\n".join(lines) + "\n").encode()

        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        registry = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = 30  # a stalled client cannot hold a thread forever

            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0].lstrip("/")
                with registry._lock:
                    registry._counts[path] += 1
                body = registry._files.get(path)
                if body is None:
                    self.send_response(404)
                    body = b"not found\n"
                    ctype = "text/plain"
                else:
                    self.send_response(200)
                    ctype = "application/json" if path.startswith("index/") else "application/octet-stream"
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # the counts are the log

        self._server = http.server.ThreadingHTTPServer((host, 0), Handler)
        self._server.daemon_threads = True
        self.host = host
        self.port: int = self._server.server_address[1]
        base = f"http://{host}:{self.port}"
        self._files["index/config.json"] = json.dumps(
            {"dl": f"{base}/crates/{{crate}}/{{crate}}-{{version}}.crate", "api": None}
        ).encode()
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name=f"sparse-registry-{self.port}", daemon=True
        )
        self._thread.start()

    @property
    def index_url(self) -> str:
        """The registry's index as cargo's config names it (``sparse+http://.../index/``)."""
        return f"sparse+http://{self.host}:{self.port}/index/"

    def counts(self) -> dict[str, int]:
        """Requests so far, per path (without the leading slash)."""
        with self._lock:
            return dict(self._counts)

    def total_requests(self) -> int:
        with self._lock:
            return sum(self._counts.values())

    def downloads(self) -> dict[str, int]:
        """.crate downloads so far, by file name ("itoa-1.0.1.crate")."""
        return {
            path.rsplit("/", 1)[1]: n
            for path, n in self.counts().items()
            if path.startswith("crates/") and path.endswith(".crate")
        }

    def reset_counts(self) -> None:
        with self._lock:
            self._counts.clear()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def __enter__(self) -> SparseRegistry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


REGISTRY_BIN = "registry-demo"

_DEMO_MANIFEST = """\
[package]
name = "registry-demo"
version = "0.1.0"
edition = "2021"
publish = false

[[bin]]
name = "registry-demo"
path = "src/main.rs"

[dependencies]
itoa = "1"
lock_api = "0.4"
scopeguard = "1"

[workspace]
"""

_DEMO_MAIN = """\
use std::sync::atomic::{AtomicBool, Ordering};

use lock_api::{GuardSend, Mutex, RawMutex};

/// A spin lock: lock_api's RawMutex, implemented in a few lines.
struct Spin(AtomicBool);

unsafe impl RawMutex for Spin {
    #[allow(clippy::declare_interior_mutable_const)]
    const INIT: Spin = Spin(AtomicBool::new(false));
    type GuardMarker = GuardSend;
    fn lock(&self) {
        while !self.try_lock() {
            std::hint::spin_loop();
        }
    }
    fn try_lock(&self) -> bool {
        self.0.compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed).is_ok()
    }
    unsafe fn unlock(&self) {
        self.0.store(false, Ordering::Release);
    }
}

fn main() {
    let counter: Mutex<Spin, u64> = Mutex::new(40);
    {
        let mut n = counter.lock();
        let _bump = scopeguard::guard((), |_| println!("scopeguard: released"));
        *n += 2;
    }
    let mut buf = itoa::Buffer::new();
    println!("itoa: {}", buf.format(*counter.lock()));
}
"""


def registry_cargo_config(index_url: str) -> str:
    """A .cargo/config.toml replacing crates-io with the registry at ``index_url`` (sparse+http://...)."""
    return f'[source.crates-io]\nreplace-with = "loopback"\n\n[source.loopback]\nregistry = "{index_url}"\n'


def make_registry_workspace(dest: Path, registry_url: str) -> Path:
    """A one-bin workspace (package `registry-demo`, bin `registry-demo`, prints ``itoa: 42``) whose
    crates come from the registry at ``registry_url``, with its Cargo.lock resolved against it.

    The lock names the crates' source as crates-io (the registry replaces crates-io in
    .cargo/config.toml), so it stays valid for a registry on another port serving the same crates.
    """
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "src").mkdir(exist_ok=True)
    (dest / "Cargo.toml").write_text(_DEMO_MANIFEST)
    (dest / "src" / "main.rs").write_text(_DEMO_MAIN)
    (dest / ".gitignore").write_text("/target\n")
    (dest / ".cargo").mkdir(exist_ok=True)
    (dest / ".cargo" / "config.toml").write_text(registry_cargo_config(registry_url))
    with tempfile.TemporaryDirectory(prefix="packbin-cargo-home-") as home:
        env = cargo_env(Path(home))
        proc = subprocess.run(
            [host_cargo(), "generate-lockfile"],
            cwd=dest,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    if proc.returncode != 0:
        raise RuntimeError(f"cargo generate-lockfile against {registry_url} failed:\n{proc.stderr[-4000:]}")
    return dest


def cargo_env(cargo_home: Path) -> dict[str, str]:
    """Environment for host cargo with an empty ``cargo_home`` (no user config, no cached crates)."""
    cargo_home.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARGO_")}
    env["CARGO_HOME"] = str(cargo_home)
    env.setdefault("RUSTUP_HOME", str(Path.home() / ".rustup"))
    # The registry is on loopback: never through a proxy the environment may name.
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    return env


def copy_cargo_home(src: Path, dest: Path) -> Path:
    """A copy of a CARGO_HOME (registry cache included), for a second build that must fetch nothing."""
    shutil.copytree(src, dest, symlinks=True)
    return dest


@pytest.fixture
def sparse_registry() -> Iterator[SparseRegistry]:
    """A running SparseRegistry with DEFAULT_CRATES (stopped afterwards); skips when the crates are missing."""
    try:
        registry = SparseRegistry()
    except FixtureUnavailable as e:
        pytest.skip(str(e))
    with registry:
        yield registry
