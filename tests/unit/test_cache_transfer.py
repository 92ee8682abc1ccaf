"""cache-import's checks of an untrusted cache directory, and the cache key (no engine needed:
the export/import round trip through real engines is in tests/integration/test_engines.py)."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import tarfile
from pathlib import Path

import pytest

from packbin.build.volumes import tool_volumes
from packbin.ci.cache_index import INDEX_NAME, read_index
from packbin.ci.cache_tar import check_cache_tar
from packbin.ci.cache_transfer import cache_key
from packbin.config.model import BuildConfig
from packbin.errors import UsageError

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def cfg(tmp_path: Path) -> BuildConfig:
    root = tmp_path / "repo"
    root.mkdir()
    shutil.copy(REPO / "buildcfg.toml", root)
    shutil.copytree(REPO / "packs", root / "packs", ignore=shutil.ignore_patterns("target"))
    return BuildConfig.load(root / "buildcfg.toml", env={})


def tar_of(*members: tuple[str, str, str]) -> bytes:
    """(name, kind, data-or-linkname) -> tar bytes; kind is file, dir, sym, hard, fifo, chr."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, kind, data in members:
            ti = tarfile.TarInfo(name)
            if kind == "file":
                ti.size = len(data)
                tf.addfile(ti, io.BytesIO(data.encode()))
                continue
            ti.type = {
                "dir": tarfile.DIRTYPE,
                "sym": tarfile.SYMTYPE,
                "hard": tarfile.LNKTYPE,
                "fifo": tarfile.FIFOTYPE,
                "chr": tarfile.CHRTYPE,
            }[kind]
            ti.linkname = data
            tf.addfile(ti)
    return buf.getvalue()


def test_a_volume_tar_as_exported_passes() -> None:
    data = tar_of(
        ("v", "dir", ""),
        ("v/registry/index", "file", "x"),
        # cargo-zigbuild's cache holds absolute symlinks into the image: resolved in containers only
        ("v/cargo-zigbuild/wrappers/ar", "sym", "/opt/zigbuild/bin/cargo-zigbuild"),
        ("v/rel", "sym", "registry/index"),
        ("v/hard", "hard", "v/registry/index"),
    )
    assert check_cache_tar(io.BytesIO(data), where="t") == 5


@pytest.mark.parametrize(
    "members, why",
    [
        ((("/etc/passwd", "file", "x"),), "outside the volume"),
        ((("v/../../etc/passwd", "file", "x"),), "outside the volume"),
        ((("etc/passwd", "file", "x"),), "outside the volume"),
        ((("v/link", "sym", "/etc"), ("v/link/passwd", "file", "x")), "through a symlink"),
        ((("v/a", "sym", "/"), ("v/a/b/c", "dir", "")), "through a symlink"),
        ((("v/dev", "chr", ""),), "not a file, directory or link"),
        ((("v/fifo", "fifo", ""),), "not a file, directory or link"),
        ((("v/h", "hard", "/etc/shadow"),), "hardlink"),
        ((("v/h", "hard", "v/later"), ("v/later", "file", "x")), "hardlink"),
    ],
)
def test_hostile_volume_tars_are_refused(members: tuple[tuple[str, str, str], ...], why: str) -> None:
    with pytest.raises(UsageError) as info:
        check_cache_tar(io.BytesIO(tar_of(*members)), where="cache.tar")
    assert why in info.value.message
    assert "nothing of it was imported" in info.value.message


def test_not_a_tar_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="not a readable tar"):
        check_cache_tar(io.BytesIO(b"\x00garbage" * 100), where="x.tar")


def write_index(d: Path, files: list[dict[str, object]], **extra: object) -> None:
    d.mkdir(exist_ok=True)
    (d / INDEX_NAME).write_text(json.dumps({"format": 1, "key": "k", "files": files, **extra}))


def entry(volume: str, file: str, data: bytes = b"") -> dict[str, object]:
    return {"volume": volume, "file": file, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def test_index_lists_volumes_and_images(cfg: BuildConfig, tmp_path: Path) -> None:
    d = tmp_path / "cache"
    write_index(
        d,
        [
            entry("packbin-cargo-home", "packbin-cargo-home.tar"),
            entry("packbin-std-aarch64-unknown-linux-musl", "s.tar"),
            entry("", "builder-image-linux-amd64.tar"),
        ],
    )
    key, files, images = read_index(d, cfg)
    assert key == "k"
    assert [f.volume for f in files] == ["packbin-cargo-home", "packbin-std-aarch64-unknown-linux-musl"]
    assert [i.file for i in images] == ["builder-image-linux-amd64.tar"]


@pytest.mark.parametrize(
    "bad, why",
    [
        (entry("packbin-cargo-home", "../escape.tar"), "directly in"),
        (entry("packbin-cargo-home", "/etc/x.tar"), "directly in"),
        (entry("packbin-cargo-home", "sub/x.tar"), "directly in"),
        (entry("packbin-cargo-home", "x.txt"), "directly in"),
        (entry("someone-elses-volume", "x.tar"), "not one of this configuration's cache volumes"),
        (entry("packbin-src-0123", "x.tar"), "not one of this configuration's cache volumes"),
        (entry("packbin-target-riscv64gc-unknown-linux-musl", "x.tar"), "not one of"),
        ({"volume": "packbin-cargo-home", "file": "x.tar", "size": "1", "sha256": ""}, "needs volume"),
        ("not an object", "is not an object"),
    ],
)
def test_hostile_index_entries_are_refused(cfg: BuildConfig, tmp_path: Path, bad: object, why: str) -> None:
    write_index(tmp_path / "c", [bad])  # type: ignore[list-item]
    with pytest.raises(UsageError) as info:
        read_index(tmp_path / "c", cfg)
    assert why in info.value.message


def test_a_file_listed_twice_is_refused(cfg: BuildConfig, tmp_path: Path) -> None:
    write_index(tmp_path / "c", [entry("packbin-cargo-home", "a.tar"), entry("packbin-cargo-home", "a.tar")])
    with pytest.raises(UsageError, match="listed twice"):
        read_index(tmp_path / "c", cfg)


@pytest.mark.parametrize("content", ["{", "[]", '{"format": 99, "files": []}', "x" * (2 << 20)])
def test_broken_index_is_one_line(cfg: BuildConfig, tmp_path: Path, content: str) -> None:
    d = tmp_path / "c"
    d.mkdir()
    (d / INDEX_NAME).write_text(content)
    with pytest.raises(UsageError) as info:
        read_index(d, cfg)
    assert "\n" not in info.value.message


def test_missing_index_says_how_to_make_one(cfg: BuildConfig, tmp_path: Path) -> None:
    with pytest.raises(UsageError) as info:
        read_index(tmp_path, cfg)
    assert "holds no packbin cache" in info.value.message
    assert info.value.hint and "cache-export" in info.value.hint


def test_cache_volumes_are_the_ones_builds_use(cfg: BuildConfig) -> None:
    assert tool_volumes(cfg.architectures) == (
        "packbin-cargo-home",
        "packbin-target-x86_64-unknown-linux-musl",
        "packbin-zigcache-x86_64-unknown-linux-musl",
        "packbin-std-x86_64-unknown-linux-musl",
        "packbin-target-aarch64-unknown-linux-musl",
        "packbin-zigcache-aarch64-unknown-linux-musl",
        "packbin-std-aarch64-unknown-linux-musl",
    )


def test_key_follows_the_lock_file_the_builder_and_the_architectures(cfg: BuildConfig) -> None:
    import dataclasses

    base = cache_key(cfg, cfg.architectures)
    assert base == cache_key(cfg, cfg.architectures)  # stable
    assert cache_key(cfg, cfg.architectures[:1]) != base
    builder = dataclasses.replace(cfg.builder, ziglang_version="0.0.1")
    assert cache_key(dataclasses.replace(cfg, builder=builder), cfg.architectures) != base
    lock = cfg.binaries[0].crate_dir / "Cargo.lock"
    lock.write_text(lock.read_text() + "\n# changed\n")
    assert cache_key(cfg, cfg.architectures) != base


def test_cache_key_task_needs_no_engine(cfg: BuildConfig) -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "DOCKER_HOST": "unix:///nonexistent.sock"}
    res = subprocess.run(
        [sys.executable, "-m", "packbin", "cache-key"],
        cwd=cfg.root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == cache_key(cfg, cfg.architectures)
