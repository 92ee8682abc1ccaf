"""The up-to-date path stays light: importing the command line and the build pipeline loads no
Docker SDK, no HTTP stack, and none of the modules only a build needs (lanes, the dependency-list
step, the verifier, the SBOM and provenance writers). A top-level import of any of them in the
wrong module (the dependency-list step once pulled in the Docker SDK through build/sources.py,
+0.4 s on every no-op run) fails here; the figure itself is benchmarks/bench_build.py's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

#: Loaded only once something is built (or an engine is needed).
BUILD_ONLY = (
    "docker",
    "requests",
    "paramiko",
    "packbin.engine",
    "packbin.build.lanes",
    "packbin.build.sources",
    "packbin.build.container",
    "packbin.build.embed",
    "packbin.build.attest",
    "packbin.build.sbom",
    "packbin.build.provenance",
    "packbin.build.deps",
    "packbin.elf.verify",
    "packbin.elf.depinfo",
    "packbin.util.deflate",
)

ENTRY_POINTS = ("packbin.cli.program", "packbin.cli.tasks", "packbin.build.pipeline", "tasks")


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_the_no_op_path_imports_nothing_a_build_needs(entry: str) -> None:
    code = f"import importlib, json, sys\nimportlib.import_module({entry!r})\nprint(json.dumps(sorted(sys.modules)))\n"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=_repo())
    loaded = set(json.loads(proc.stdout))
    assert entry in loaded
    heavy = sorted(m for m in loaded if m in BUILD_ONLY or m.split(".")[0] in BUILD_ONLY[:3])
    assert heavy == [], f"importing {entry} loads {heavy}: import them inside the function that builds"


def test_the_check_sees_a_heavy_import() -> None:
    """The subprocess check does see what a module pulls in: the dependency-list step loads the
    Docker SDK (through build/sources.py), which is why it is imported lazily."""
    code = "import json, sys\nimport packbin.build.embed\nprint(json.dumps(sorted(sys.modules)))\n"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=_repo())
    assert {"docker", "packbin.build.sources"} <= set(json.loads(proc.stdout))


def _repo() -> str:
    return str(Path(__file__).resolve().parents[2])
