"""Installing into dist/ and packs/ never writes through a symlink planted in the tree."""

from __future__ import annotations

from pathlib import Path

import pytest

from packbin.build.install import safe_destination
from packbin.errors import InstallError


def test_plain_path_is_accepted(tmp_path: Path) -> None:
    (tmp_path / "packs/core/sensors").mkdir(parents=True)
    assert safe_destination(tmp_path, "packs/core/sensors/bin") == tmp_path / "packs/core/sensors/bin"
    assert safe_destination(tmp_path, "dist/new/dir/bin") == tmp_path / "dist/new/dir/bin"


def test_symlinked_directory_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (tmp_path / "repo/packs/core").mkdir(parents=True)
    (tmp_path / "repo/packs/core/sensors").symlink_to(outside)
    with pytest.raises(InstallError, match="packs/core/sensors is a symlink"):
        safe_destination(tmp_path / "repo", "packs/core/sensors/bin")
    assert list(outside.iterdir()) == []


def test_file_where_directory_expected_is_refused(tmp_path: Path) -> None:
    (tmp_path / "packs/core").mkdir(parents=True)
    (tmp_path / "packs/core/sensors").write_text("not a dir")
    with pytest.raises(InstallError, match="is not a directory"):
        safe_destination(tmp_path, "packs/core/sensors/bin")


@pytest.mark.parametrize("rel", ["/etc/passwd", "packs/../../x"])
def test_escaping_paths_are_refused(tmp_path: Path, rel: str) -> None:
    with pytest.raises(InstallError):
        safe_destination(tmp_path, rel)
