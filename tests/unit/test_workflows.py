"""The GitHub workflows call packbin as it is: every `invoke TASK --flag` they run exists, and the
build job keeps packbin's caches between runs (key, restore, import, build, export, save)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest

yaml = pytest.importorskip("yaml")

from packbin.cli.tasks import ns

WORKFLOWS = Path(__file__).resolve().parents[2] / ".github" / "workflows"


def load(name: str) -> dict[str, Any]:
    doc = yaml.safe_load((WORKFLOWS / name).read_text())
    assert isinstance(doc, dict)
    return doc


def invocations() -> list[tuple[str, list[str]]]:
    found: list[tuple[str, list[str]]] = []
    for path in sorted(WORKFLOWS.glob("*.yml")):
        for job in yaml.safe_load(path.read_text())["jobs"].values():
            for step in job.get("steps", []):
                for line in str(step.get("run", "")).splitlines():
                    for m in re.finditer(r"invoke ([a-z-]+)([^;&|)]*)", line):
                        # ${{ ... }} expressions stand in for values: drop them before splitting.
                        args = shlex.split(re.sub(r"\$\{\{[^}]*\}\}", "X", m[2]))
                        found.append((m[1], args))
    return found


def test_workflows_call_packbin() -> None:
    assert {name for name, _ in invocations()} >= {"build-pack-binaries", "cache-key", "cache-import", "cache-export"}


@pytest.mark.parametrize(("task", "args"), invocations())
def test_every_invoked_task_and_flag_exists(task: str, args: list[str]) -> None:
    t = ns.tasks.get(task) or ns.tasks.get(task.replace("-", "_"))
    assert t is not None, f"the workflow runs `invoke {task}`, which is not a task"
    flags = {f"--{a.name.replace('_', '-')}" for a in t.get_arguments()}
    for arg in args:
        if arg.startswith("--"):
            assert arg.split("=")[0] in flags, f"`invoke {task}` has no {arg.split('=')[0]}"


def test_build_job_keeps_caches_between_runs() -> None:
    job = load("pack-binaries.yml")["jobs"]["build"]
    steps = job["steps"]
    names = [s.get("name", s.get("uses", "")) for s in steps]

    def index(pred: Any) -> int:
        return next(i for i, s in enumerate(steps) if pred(s))

    key = index(lambda s: "invoke cache-key" in str(s.get("run", "")))
    restore = index(lambda s: str(s.get("uses", "")).startswith("actions/cache/restore@"))
    imp = index(lambda s: "invoke cache-import" in str(s.get("run", "")))
    build = index(lambda s: "invoke build-pack-binaries" in str(s.get("run", "")))
    exp = index(lambda s: "invoke cache-export" in str(s.get("run", "")))
    save = index(lambda s: str(s.get("uses", "")).startswith("actions/cache/save@"))
    assert key < restore < imp < build < exp < save, names
    key_ref = "${{ steps." + steps[key]["id"] + ".outputs.key }}"
    assert steps[restore]["with"]["key"] == key_ref == steps[save]["with"]["key"]
    assert steps[restore]["with"]["restore-keys"]  # a near miss still restores
    assert steps[restore]["with"]["path"] == steps[save]["with"]["path"]


def test_arm64_builds_on_an_arm64_runner_by_default() -> None:
    matrix = load("pack-binaries.yml")["jobs"]["build"]["strategy"]["matrix"]["include"]
    runners = {row["arch"]: row["runner"] for row in matrix}
    assert runners["x86_64"] == "ubuntu-latest"
    assert "ubuntu-24.04-arm" in runners["arm64"] and "vars.PACKBIN_ARM64_RUNNER" in runners["arm64"]
