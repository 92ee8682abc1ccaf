"""docker-compose.yaml never pulls packbin's own images (they are built locally, on no registry)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.support.repo import REPO


def _service_blocks(rendered: str) -> dict[str, str]:
    """Service name -> its lines, from `docker-compose config` output (two-space indented names)."""
    blocks: dict[str, list[str]] = {}
    current: str | None = None
    in_services = False
    for line in rendered.splitlines():
        if not line.startswith(" "):
            in_services, current = line == "services:", None
        elif in_services and line.startswith("  ") and not line.startswith("   ") and line.endswith(":"):
            current = line.strip()[:-1]
            blocks[current] = []
        elif in_services and current is not None:
            blocks[current].append(line.strip())
    return {name: "\n".join(lines) for name, lines in blocks.items()}


def test_packbin_images_are_never_pulled_and_compose_v1_accepts_the_key() -> None:
    compose = shutil.which("docker-compose")
    if compose is None:
        pytest.skip("docker-compose (v1) is not installed (.ci/run installs it)")
    # `config` validates and renders the file; it needs no engine.
    res = subprocess.run(
        [compose, "-f", str(REPO / "docker-compose.yaml"), "config"], capture_output=True, text=True, check=False
    )
    assert res.returncode == 0, res.stderr
    blocks = _service_blocks(res.stdout)
    assert set(blocks) == {"init-pack-binaries", "sensor"}
    for name, block in blocks.items():
        assert "image: packbin/" in block and "pull_policy: never" in block.splitlines(), name
