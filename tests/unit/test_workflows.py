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


def test_the_attested_digests_are_the_manifests_binaries(tmp_path: Path) -> None:
    """The collect job's digest list (the attestation's subjects) is `sha256sum -c` clean for the
    binaries a real manifest names, and names nothing else (no SBOM, no statement)."""
    import hashlib
    import subprocess

    from packbin.dist.manifest import Artifact, Manifest
    from tests.unit.test_manifest import artifact

    steps = load("pack-binaries.yml")["jobs"]["collect"]["steps"]
    [script] = [s["run"] for s in steps if s.get("name") == "List the binaries' digests"]
    arts: list[Artifact] = []
    for arch, data in (("x86_64", b"\x7fELF x86_64 bytes"), ("arm64", b"\x7fELF arm64 bytes")):
        a = artifact(arch, sha=hashlib.sha256(data).hexdigest())
        (tmp_path / a.path).parent.mkdir(parents=True)
        (tmp_path / a.path).write_bytes(data)
        (tmp_path / (a.path + ".cdx.json")).write_text("{}")
        arts.append(a)
    Manifest(artifacts=tuple(arts)).save(tmp_path / "dist/pack-binaries/manifest.json")
    subprocess.run(["bash", "-c", script], cwd=tmp_path, check=True)
    listed = (tmp_path / "dist/pack-binaries.sha256").read_text().splitlines()
    assert sorted(line.split("  ", 1)[1] for line in listed) == sorted(a.path for a in arts)
    subprocess.run(["sha256sum", "--strict", "-c", "dist/pack-binaries.sha256"], cwd=tmp_path, check=True)
    # The check is real: a changed binary fails it.
    (tmp_path / arts[0].path).write_bytes(b"changed")
    bad = subprocess.run(
        ["sha256sum", "-c", "dist/pack-binaries.sha256"], check=False, cwd=tmp_path, capture_output=True
    )
    assert bad.returncode != 0
