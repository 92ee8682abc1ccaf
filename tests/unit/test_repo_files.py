"""Repository files a contributor relies on: .gitignore, the license, the package metadata."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from tests.support.repo import REPO

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def test_a_local_venv_is_ignored() -> None:
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    res = subprocess.run(["git", "check-ignore", "-q", ".venv/bin/python"], cwd=REPO, check=False)
    assert res.returncode == 0


def test_license_is_an_spdx_string_with_the_apache_text_shipped() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["license"] == "Apache-2.0"
    assert project["license-files"] == ["LICENSE"]
    text = (REPO / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text and "END OF TERMS AND CONDITIONS" in text
    assert "License :: OSI Approved" not in " ".join(project["classifiers"])  # PEP 639: no license classifiers
    assert {"Homepage", "Issues"} <= set(project["urls"])


def test_dev_extra_has_the_type_stubs_mypy_needs() -> None:
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert any(d.startswith("types-docker") for d in extras["dev"])
