"""The sources volume against a real engine: what it holds after each upload, and what was sent."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from packbin.build.sources import SRC_MOUNT, sync_sources
from packbin.build.volumes import source_volume_name
from packbin.config.model import BuildConfig
from packbin.engine import Container
from packbin.workspace import InputFile, Stub

pytestmark = [pytest.mark.docker]


@pytest.fixture
def cfg(tmp_path: Path, builder_image: Any, engine: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[BuildConfig]:
    from tests.support.repo import SMALL_BUILDCFG

    monkeypatch.setenv("PACKBIN_CACHE_DIR", str(tmp_path / "cache"))
    repo = tmp_path / "repo"
    (repo / "crate").mkdir(parents=True)
    (repo / "crate/Cargo.toml").write_text('[package]\nname = "x"\n')
    (repo / "buildcfg.toml").write_text('default_arch = "x86_64"\n' + SMALL_BUILDCFG)
    cfg = BuildConfig.load(repo / "buildcfg.toml", env={})
    yield cfg
    engine.remove_volume(source_volume_name(cfg.root))


def _files(root: Path, tree: dict[str, bytes], executable: frozenset[str] = frozenset()) -> list[InputFile]:
    out = []
    for rel, data in sorted(tree.items()):
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        p.chmod(0o755 if rel in executable else 0o644)
        st = p.stat()
        out.append(
            InputFile(
                rel=rel,
                root=root,
                size=st.st_size,
                mtime_ns=st.st_mtime_ns,
                executable=rel in executable,
                sha256=hashlib.sha256(data).hexdigest(),
            )
        )
    return out


def _on_disk(root: Path, files: list[InputFile]) -> list[InputFile]:
    """The same paths as they are on disk now (content, date)."""
    from dataclasses import replace

    return [
        replace(
            f,
            mtime_ns=(root / f.rel).stat().st_mtime_ns,
            size=(root / f.rel).stat().st_size,
            sha256=hashlib.sha256((root / f.rel).read_bytes()).hexdigest(),
        )
        for f in files
    ]


def _volume_listing(engine: Any, image: str, volume: str) -> dict[str, str]:
    """path -> 'mode sha256' of every file in the volume, read by a container."""
    script = f'cd {SRC_MOUNT} && find . -type f | sort | while read -r f; do echo "$f $(stat -c %a "$f") $(stat -c %Y "$f") $(sha256sum < "$f" | cut -c1-64)"; done'
    lines: list[str] = []
    with engine.container(
        image=image, command=["/bin/sh", "-c", script], kind="test", volumes={volume: SRC_MOUNT}, network_mode="none"
    ) as c:
        assert c.run_streaming(on_line=lines.append) == 0, lines
    return {ln.split()[0][2:]: " ".join(ln.split()[1:]) for ln in lines if ln.strip()}


def test_sync_sends_only_changes_and_removes_what_is_gone(
    cfg: BuildConfig, engine: Any, builder_image: Any, tmp_path: Path
) -> None:
    image = builder_image.tag
    src = tmp_path / "src"
    tree = {
        "Cargo.toml": b"[workspace]\n",
        "crates/a/src/main.rs": b"fn main() {}\n",
        "crates/a/src/bin/extra.rs": b"fn main() {}\n",
        "run.sh": b"#!/bin/sh\n",
        "vendor/big/data.bin": os.urandom(300_000),
    }
    files = _files(src, tree, frozenset({"run.sh"}))
    stubs = [Stub(rel="crates/b/src/lib.rs", data=b"")]
    echoed: list[str] = []
    first = sync_sources(engine, image, cfg, files, stubs, echo=echoed.append)
    assert first.full and first.files_sent == 6 and first.bytes_sent > 300_000
    listing = _volume_listing(engine, image, first.volume)
    assert set(listing) == {*tree, "crates/b/src/lib.rs"}
    assert listing["run.sh"].split()[0] == "755" and listing["Cargo.toml"].split()[0] == "644"
    # The container sees the host's mtimes (cargo's fingerprints compare them).
    assert int(listing["Cargo.toml"].split()[1]) == int(os.stat(src / "Cargo.toml").st_mtime)

    again = sync_sources(engine, image, cfg, files, stubs, echo=echoed.append)
    assert (again.bytes_sent, again.files_sent, again.files_removed) == (0, 0, 0)

    # A changed file alone goes straight into the volume (no process runs), dated no earlier
    # than the upload even though its host date is old (cargo would take it for unchanged).
    import time as _time

    started = int(_time.time())
    tree1 = dict(tree, **{"crates/a/src/main.rs": b'fn main() { println!("1"); }\n'})
    (src / "crates/a/src/main.rs").write_bytes(tree1["crates/a/src/main.rs"])
    os.utime(src / "crates/a/src/main.rs", (946684800, 946684800))
    files1 = _on_disk(src, files)
    edit = sync_sources(engine, image, cfg, files1, stubs, echo=echoed.append)
    assert not edit.full and (edit.files_sent, edit.files_removed) == (1, 0) and edit.bytes_sent < 64 << 10
    listing = _volume_listing(engine, image, edit.volume)
    assert listing["crates/a/src/main.rs"].split()[2] == hashlib.sha256(tree1["crates/a/src/main.rs"]).hexdigest()
    assert int(listing["crates/a/src/main.rs"].split()[1]) >= started
    assert int(listing["Cargo.toml"].split()[1]) == int(os.stat(src / "Cargo.toml").st_mtime)

    # One changed file and one removed bin: only that goes over; the removed file (and its
    # now-empty directory, which cargo would take for a target) is gone from the volume.
    tree2 = dict(tree)
    del tree2["crates/a/src/bin/extra.rs"]
    tree2["crates/a/src/main.rs"] = b'fn main() { println!("2"); }\n'
    (src / "crates/a/src/bin/extra.rs").unlink()
    files2 = _files(src, tree2, frozenset({"run.sh"}))
    delta = sync_sources(engine, image, cfg, files2, stubs, echo=echoed.append)
    assert not delta.full and delta.files_sent == 1 and delta.files_removed == 1
    assert delta.bytes_sent < 64 << 10  # not the 300 kB file again
    listing = _volume_listing(engine, image, delta.volume)
    assert set(listing) == {*tree2, "crates/b/src/lib.rs"}
    assert listing["crates/a/src/main.rs"].split()[2] == hashlib.sha256(tree2["crates/a/src/main.rs"]).hexdigest()


def test_a_recreated_volume_gets_everything_again(
    cfg: BuildConfig, engine: Any, builder_image: Any, tmp_path: Path
) -> None:
    image = builder_image.tag
    files = _files(tmp_path / "src", {"Cargo.toml": b"[workspace]\n", "src/main.rs": b"fn main() {}\n"})
    first = sync_sources(engine, image, cfg, files, [], echo=lambda _: None)
    assert engine.remove_volume(first.volume) is None
    # The host's record speaks of a volume that no longer exists: it is not trusted.
    second = sync_sources(engine, image, cfg, files, [], echo=lambda _: None)
    assert second.full and second.files_sent == 2
    assert set(_volume_listing(engine, image, second.volume)) == {"Cargo.toml", "src/main.rs"}


def test_an_interrupted_upload_is_followed_by_a_full_one(
    cfg: BuildConfig, engine: Any, builder_image: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    image = builder_image.tag
    files = _files(tmp_path / "src", {"Cargo.toml": b"[workspace]\n", "src/main.rs": b"fn main() {}\n"})
    sync_sources(engine, image, cfg, files, [], echo=lambda _: None)
    files2 = _files(
        tmp_path / "src", {"Cargo.toml": b"[workspace]\n", "src/main.rs": b"fn main() { 2 }\n", "src/new.rs": b"\n"}
    )

    # A fake only for the fault: the engine connection dies in the middle of the upload (a real
    # Ctrl-C at that instant cannot be timed from a test).
    def dying_put(c: Any, path: str, data: Any) -> None:
        raise KeyboardInterrupt

    with monkeypatch.context() as m, pytest.raises(KeyboardInterrupt):
        m.setattr(Container, "put_tar", dying_put)  # every container's, for this one upload
        sync_sources(engine, image, cfg, files2, [], echo=lambda _: None)
    after = sync_sources(engine, image, cfg, files2, [], echo=lambda _: None)
    assert after.full and after.files_sent == 3
    assert set(_volume_listing(engine, image, after.volume)) == {"Cargo.toml", "src/main.rs", "src/new.rs"}
