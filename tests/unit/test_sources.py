"""A crate's sources: the digest the up-to-date check uses, and the tar the build container gets."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from packbin.config import BuildConfig
from packbin.errors import ConfigError
from packbin.sources import CrateSources, sources_tar

REPO = Path(__file__).resolve().parents[2]
CRATE_REL = "packs/core/sensors/timer-sensor"
MTIME_NS = 1_600_000_000_123_456_789


@pytest.fixture
def cfg(tmp_path: Path) -> BuildConfig:
    """A throwaway repository whose crate has a manifest, a lock file, sources and an executable script."""
    root = tmp_path / "repo"
    crate = root / CRATE_REL
    (crate / "src").mkdir(parents=True)
    (crate / "Cargo.toml").write_text('[package]\nname = "timer-sensor"\nversion = "0.1.0"\n')
    (crate / "Cargo.lock").write_text("version = 4\n")
    (crate / "src" / "main.rs").write_text('fn main() { println!("tick"); }\n')
    (crate / "gen.sh").write_text("#!/bin/sh\necho hi\n")
    (crate / "gen.sh").chmod(0o755)
    (root / "buildcfg.toml").write_text((REPO / "buildcfg.toml").read_text())
    return BuildConfig.load(root / "buildcfg.toml", env={})


def crate(cfg: BuildConfig) -> Path:
    return cfg.binaries[0].crate_dir


def digest(cfg: BuildConfig) -> str:
    return CrateSources.collect(cfg, cfg.binaries[0]).digest


def test_collect_lists_the_crate_files(cfg: BuildConfig) -> None:
    src = CrateSources.collect(cfg, cfg.binaries[0])
    assert [f.rel for f in src.files] == [
        f"{CRATE_REL}/Cargo.lock", f"{CRATE_REL}/Cargo.toml", f"{CRATE_REL}/gen.sh", f"{CRATE_REL}/src/main.rs",
    ]
    assert {f.rel.rsplit("/", 1)[1]: f.executable for f in src.files} == {
        "Cargo.lock": False, "Cargo.toml": False, "gen.sh": True, "main.rs": False,
    }
    assert len(src.digest) == 64
    assert src.binary == cfg.binaries[0]


def test_digest_is_stable(cfg: BuildConfig) -> None:
    assert digest(cfg) == digest(cfg)


def test_digest_changes_when_content_changes(cfg: BuildConfig) -> None:
    before = digest(cfg)
    main = crate(cfg) / "src" / "main.rs"
    main.write_text('fn main() { println!("tock"); }\n')
    assert digest(cfg) != before


def test_digest_changes_when_cargo_lock_changes(cfg: BuildConfig) -> None:
    before = digest(cfg)
    (crate(cfg) / "Cargo.lock").write_text("version = 3\n")
    assert digest(cfg) != before


def test_digest_changes_when_exec_bit_changes(cfg: BuildConfig) -> None:
    before = digest(cfg)
    (crate(cfg) / "src" / "main.rs").chmod(0o755)
    assert digest(cfg) != before


def test_digest_ignores_mtime(cfg: BuildConfig) -> None:
    before = digest(cfg)
    for p in crate(cfg).rglob("*"):
        os.utime(p, ns=(MTIME_NS, MTIME_NS))
    assert digest(cfg) == before


def test_digest_changes_when_a_file_is_added_or_renamed(cfg: BuildConfig) -> None:
    before = digest(cfg)
    (crate(cfg) / "src" / "main.rs").rename(crate(cfg) / "src" / "bin.rs")
    renamed = digest(cfg)
    assert renamed != before
    (crate(cfg) / "build.rs").write_text("fn main() {}\n")
    assert digest(cfg) not in (before, renamed)


@pytest.mark.parametrize("skipped", ["target", ".git"])
def test_build_outputs_and_vcs_are_ignored(cfg: BuildConfig, skipped: str) -> None:
    before = digest(cfg)
    out = crate(cfg) / skipped / "release"
    out.mkdir(parents=True)
    (out / "timer-sensor").write_bytes(b"\x7fELF" + b"\0" * 100)
    src = CrateSources.collect(cfg, cfg.binaries[0])
    assert src.digest == before
    assert not any(f"/{skipped}/" in f.rel for f in src.files)


def test_nested_target_named_dir_is_ignored_too(cfg: BuildConfig) -> None:
    # Documents the rule: any directory called target/ is a build output, at any depth.
    before = digest(cfg)
    (crate(cfg) / "src" / "target").mkdir()
    (crate(cfg) / "src" / "target" / "x.rs").write_text("//\n")
    assert digest(cfg) == before


def test_symlinked_file_is_refused(cfg: BuildConfig, tmp_path: Path) -> None:
    secret = tmp_path / "host-secret"
    secret.write_text("id_rsa")
    (crate(cfg) / "src" / "key.rs").symlink_to(secret)
    with pytest.raises(ConfigError) as info:
        CrateSources.collect(cfg, cfg.binaries[0])
    assert info.value.message == f"{CRATE_REL}/src/key.rs: symlinks are not allowed in crate sources"
    assert info.value.exit_code == 2


def test_symlinked_directory_is_refused(cfg: BuildConfig, tmp_path: Path) -> None:
    outside = tmp_path / "host-dir"
    outside.mkdir()
    (outside / "lib.rs").write_text("pub fn f() {}\n")
    (crate(cfg) / "src" / "vendored").symlink_to(outside, target_is_directory=True)
    with pytest.raises(ConfigError):
        CrateSources.collect(cfg, cfg.binaries[0])


def test_missing_cargo_lock_is_a_config_error_with_a_hint(cfg: BuildConfig) -> None:
    (crate(cfg) / "Cargo.lock").unlink()
    with pytest.raises(ConfigError) as info:
        CrateSources.collect(cfg, cfg.binaries[0])
    err = info.value
    assert err.message == f"{CRATE_REL}/Cargo.lock is missing for binary 'attune-core-timer-sensor'"
    assert err.hint is not None
    assert f"cargo generate-lockfile --manifest-path {CRATE_REL}/Cargo.toml" in err.hint


def test_oversized_crate_is_refused(cfg: BuildConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    import packbin.sources

    monkeypatch.setattr(packbin.sources, "MAX_SOURCE_BYTES", 64)
    (crate(cfg) / "blob.bin").write_bytes(b"\0" * 100)
    with pytest.raises(ConfigError) as info:
        CrateSources.collect(cfg, cfg.binaries[0])
    assert f"crate {CRATE_REL} is larger than" in info.value.message


# -- sources_tar -----------------------------------------------------------------------------


def _members(data: bytes) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        return {m.name: m for m in tf.getmembers()}


def test_sources_tar_keeps_mtimes_and_modes(cfg: BuildConfig) -> None:
    main = crate(cfg) / "src" / "main.rs"
    os.utime(main, ns=(MTIME_NS, MTIME_NS))
    data = sources_tar([CrateSources.collect(cfg, cfg.binaries[0])])
    members = _members(data)
    assert sorted(members) == [
        f"src/{CRATE_REL}/Cargo.lock", f"src/{CRATE_REL}/Cargo.toml", f"src/{CRATE_REL}/gen.sh", f"src/{CRATE_REL}/src/main.rs",
    ]
    m = members[f"src/{CRATE_REL}/src/main.rs"]
    # Sub-second precision survives (PAX header), so cargo's fingerprints see the same mtime.
    assert m.mtime == pytest.approx(MTIME_NS / 1e9, abs=1e-6)
    assert m.mtime != int(m.mtime)
    assert m.mode == 0o644
    assert members[f"src/{CRATE_REL}/gen.sh"].mode == 0o755
    assert all(m.isfile() for m in members.values())
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        f = tf.extractfile(f"src/{CRATE_REL}/src/main.rs")
        assert f is not None and f.read() == main.read_bytes()


def test_sources_tar_extracts_with_the_same_mtime(cfg: BuildConfig, tmp_path: Path) -> None:
    main = crate(cfg) / "src" / "main.rs"
    os.utime(main, ns=(MTIME_NS, MTIME_NS))
    dest = tmp_path / "out"
    with tarfile.open(fileobj=io.BytesIO(sources_tar([CrateSources.collect(cfg, cfg.binaries[0])]))) as tf:
        tf.extractall(dest, filter="data")
    st = (dest / "src" / CRATE_REL / "src" / "main.rs").stat()
    assert abs(st.st_mtime_ns - MTIME_NS) < 1_000  # within a microsecond
    assert (dest / "src" / CRATE_REL / "gen.sh").stat().st_mode & 0o777 == 0o755


def test_sources_tar_prefix_extra_and_dedup(cfg: BuildConfig) -> None:
    src = CrateSources.collect(cfg, cfg.binaries[0])
    data = sources_tar([src, src], prefix="in", extra={"packbin-build": (b"#!/bin/sh\n", 0o755)})
    members = _members(data)
    assert members["packbin-build"].mode == 0o755
    assert len([n for n in members if n.startswith("in/")]) == 4  # the same crate twice: once in the tar


def test_sources_tar_is_deterministic(cfg: BuildConfig) -> None:
    src = CrateSources.collect(cfg, cfg.binaries[0])
    assert sources_tar([src]) == sources_tar([src])
