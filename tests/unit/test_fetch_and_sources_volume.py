"""The pure parts of the fetch step and of the sources volume (no Docker)."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from packbin.build.fetch import fetch_network, is_loopback
from packbin.build.sources import wanted_state, write_delta_tar
from packbin.workspace import InputFile, Stub


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
        ("10.0.0.1", False),
        ("index.crates.io", False),
        ("192.168.1.2", False),
        ("", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_fetch_network_is_the_hosts_only_for_a_loopback_registry() -> None:
    assert fetch_network(["127.0.0.1"]) == "host"
    assert fetch_network(["127.0.0.1", "localhost"]) == "host"
    # Anything else goes through the engine's default network (a mixed set too: the bridge
    # reaches the outside; the loopback registry would then fail loudly, not silently).
    assert fetch_network(["index.crates.io"]) is None
    assert fetch_network(["127.0.0.1", "index.crates.io"]) is None
    assert fetch_network([]) is None


def _file(tmp_path: Path, rel: str, data: bytes, *, mtime_ns: int, executable: bool = False) -> InputFile:
    import hashlib
    import os

    p = tmp_path / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data)
    os.utime(p, ns=(mtime_ns, mtime_ns))
    return InputFile(
        rel=rel,
        root=tmp_path,
        size=len(data),
        mtime_ns=mtime_ns,
        executable=executable,
        sha256=hashlib.sha256(data).hexdigest(),
    )


def test_wanted_state_tells_content_exec_bit_and_stubs_apart(tmp_path: Path) -> None:
    a = _file(tmp_path, "a.rs", b"fn a() {}", mtime_ns=10**18)
    b = _file(tmp_path, "b.sh", b"x", mtime_ns=10**18, executable=True)
    state = wanted_state([a, b], [Stub(rel="c/src/lib.rs", data=b""), Stub(rel="a.rs", data=b"")])
    assert set(state) == {"a.rs", "b.sh", "c/src/lib.rs"}
    assert state["a.rs"] == a.sha256  # the real file wins over a stub of the same path
    assert state["b.sh"].endswith(":x") and state["c/src/lib.rs"].startswith("stub:")
    same_bytes_not_exec = _file(tmp_path / "2", "b.sh", b"x", mtime_ns=10**18)
    assert wanted_state([same_bytes_not_exec], [])["b.sh"] != state["b.sh"]


def test_delta_tar_holds_only_the_asked_entries_with_mtimes_and_modes(tmp_path: Path) -> None:
    a = _file(tmp_path, "crates/x/src/main.rs", b"fn main() {}\n", mtime_ns=1_700_000_000_123_456_789)
    b = _file(tmp_path, "build.sh", b"#!/bin/sh\n", mtime_ns=1_600_000_000_000_000_000, executable=True)
    stub = Stub(rel="crates/y/src/lib.rs", data=b"")
    out = io.BytesIO()
    write_delta_tar(out, [a, b], [stub], {"crates/x/src/main.rs", "build.sh", "crates/y/src/lib.rs"})
    with tarfile.open(fileobj=io.BytesIO(out.getvalue())) as tf:
        members = {m.name: m for m in tf.getmembers()}
        assert set(members) == {"crates/x/src/main.rs", "build.sh", "crates/y/src/lib.rs"}
        # cargo's fingerprints compare mtimes: the container must see the host's.
        assert abs(members["crates/x/src/main.rs"].mtime - 1_700_000_000.123456789) < 1e-3
        assert members["build.sh"].mode == 0o755 and members["crates/x/src/main.rs"].mode == 0o644
        assert members["crates/y/src/lib.rs"].mtime == 1
    only = io.BytesIO()
    write_delta_tar(only, [a, b], [stub], {"build.sh"})
    with tarfile.open(fileobj=io.BytesIO(only.getvalue())) as tf:
        assert tf.getnames() == ["build.sh"]


def test_delta_tar_refuses_a_file_that_changed_after_it_was_hashed(tmp_path: Path) -> None:
    from packbin.errors import BuildError

    a = _file(tmp_path, "src/main.rs", b"fn main() {}\n", mtime_ns=10**18)
    a.path.write_bytes(b"fn main() { changed() }\n")
    with pytest.raises(BuildError, match="changed while packbin was sending it"):
        write_delta_tar(io.BytesIO(), [a], [], {"src/main.rs"})
