"""Cache and state dirs: platform defaults, env overrides, created on demand, CACHEDIR.TAG."""

from __future__ import annotations

from pathlib import Path

import pytest

import packbin.util.dirs
from packbin.errors import PackbinError
from packbin.util.dirs import CACHEDIR_TAG, CACHEDIR_TAG_SIGNATURE, cache_dir, state_dir


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point every default at tmp_path so no test touches the real ~/.cache or ~/.local/state."""
    monkeypatch.delenv("PACKBIN_CACHE_DIR", raising=False)
    monkeypatch.delenv("PACKBIN_STATE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg-state"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return tmp_path


def test_cache_dir_default_follows_platformdirs(isolated_home: Path) -> None:
    path = cache_dir()
    assert path == isolated_home / "xdg-cache" / "packbin"
    assert path.is_dir()


def test_cache_dir_has_a_valid_cachedir_tag(isolated_home: Path) -> None:
    tag = cache_dir() / "CACHEDIR.TAG"
    data = tag.read_bytes()
    # The spec: the file must begin with exactly these 43 bytes.
    assert data.startswith(b"Signature: 8a477f597d28d172789f06886806bc55")
    assert data == CACHEDIR_TAG
    assert len(CACHEDIR_TAG_SIGNATURE) == 43


def test_cache_dir_env_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "custom" / "nested" / "cache"
    monkeypatch.setenv("PACKBIN_CACHE_DIR", str(target))
    assert cache_dir() == target
    assert (target / "CACHEDIR.TAG").read_bytes().startswith(CACHEDIR_TAG_SIGNATURE)
    assert not (tmp_path / "xdg-cache").exists()


def test_relative_override_is_made_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PACKBIN_CACHE_DIR", "rel-cache")
    path = cache_dir()
    # Absolute, so a later chdir by the caller (tasks run from a subdirectory) cannot move it.
    assert path.is_absolute()
    assert path == tmp_path / "rel-cache"


def test_tilde_in_override_is_expanded(isolated_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PACKBIN_CACHE_DIR", "~/pb-cache")
    assert cache_dir() == isolated_home / "home" / "pb-cache"


def test_empty_override_means_default(isolated_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PACKBIN_CACHE_DIR", "")
    assert cache_dir() == isolated_home / "xdg-cache" / "packbin"


def test_existing_tag_is_left_alone_and_a_broken_one_repaired(isolated_home: Path) -> None:
    tag = cache_dir() / "CACHEDIR.TAG"
    custom = CACHEDIR_TAG_SIGNATURE + b"\n# written by someone else\n"
    tag.write_bytes(custom)
    cache_dir()
    assert tag.read_bytes() == custom
    tag.write_bytes(b"garbage")
    cache_dir()
    assert tag.read_bytes() == CACHEDIR_TAG


def test_cached_files_survive_repeated_calls(isolated_home: Path) -> None:
    (cache_dir() / "keep.bin").write_bytes(b"x")
    assert (cache_dir() / "keep.bin").read_bytes() == b"x"


def test_state_dir_default_and_override(isolated_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = state_dir()
    assert path == isolated_home / "xdg-state" / "packbin"
    assert path.is_dir()
    # State is not cache: backup tools must not skip it.
    assert not (path / "CACHEDIR.TAG").exists()
    monkeypatch.setenv("PACKBIN_STATE_DIR", str(isolated_home / "st"))
    assert state_dir() == isolated_home / "st"
    assert (isolated_home / "st").is_dir()


def test_unusable_override_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a dir")
    monkeypatch.setenv("PACKBIN_CACHE_DIR", str(blocker))
    with pytest.raises(PackbinError) as exc:
        cache_dir()
    assert str(blocker) in str(exc.value)
    assert "PACKBIN_CACHE_DIR" in str(exc.value)
    monkeypatch.setenv("PACKBIN_STATE_DIR", str(blocker / "sub"))
    with pytest.raises(PackbinError, match="PACKBIN_STATE_DIR"):
        state_dir()


def test_intact_tag_is_not_rewritten(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A shared or read-only cache that is already tagged is used as it is."""
    monkeypatch.setenv("PACKBIN_CACHE_DIR", str(tmp_path / "c"))
    cache_dir()

    def no_writes(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(packbin.util.dirs, "atomic_write_bytes", no_writes)
    assert cache_dir() == tmp_path / "c"
    (tmp_path / "c" / "CACHEDIR.TAG").unlink()
    with pytest.raises(PackbinError, match="Permission denied"):
        cache_dir()
