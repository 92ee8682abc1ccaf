"""The init image carries only _DEPLOY_MODULES: they must import (and load a config) on their own."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from packbin.compose.init_image import _DEPLOY_MODULES
from tests.support.repo import REPO


def test_deploy_modules_are_import_closed(tmp_path: Path) -> None:
    pkg = tmp_path / "packbin"
    pkg.mkdir()
    for name in _DEPLOY_MODULES:
        (pkg / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / "src" / "packbin" / name, pkg / name)
    code = (
        f"import sys; sys.path.insert(0, {str(tmp_path)!r})\n"
        "import packbin.deploy, packbin.deploy.cli, packbin.deploy.__main__\n"
        "from packbin.config.model import BuildConfig\n"
        f"cfg = BuildConfig.load({str(REPO / 'buildcfg.toml')!r}, env={{}})\n"
        "print(cfg.builder.debian_mirror)\n"
    )
    # -S -E -s: no site-packages, no PYTHONPATH: only the copied modules and the standard library.
    res = subprocess.run(
        [sys.executable, "-S", "-E", "-s", "-c", code], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("http")
    # The image's entry point, `python3 -m packbin.deploy`, from the copied files alone.
    env = {"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"}
    res = subprocess.run(
        [sys.executable, "-s", "-m", "packbin.deploy", "--help"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    assert "python3 -m packbin.deploy" in res.stdout


def test_deploy_modules_hold_the_whole_deploy_package() -> None:
    package = REPO / "src" / "packbin" / "deploy"
    files = {f"deploy/{p.name}" for p in package.glob("*.py")}
    assert files and files <= set(_DEPLOY_MODULES), sorted(files - set(_DEPLOY_MODULES))
