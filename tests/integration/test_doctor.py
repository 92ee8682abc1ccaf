"""doctor and builder-image against the real engine."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.repo import REPO, packbin

pytestmark = [pytest.mark.docker]


def test_doctor_reports_engine_platform_and_foreign_execution(engine: Any) -> None:
    res = packbin("doctor", cwd=REPO)
    assert res.returncode == 0, res.stdout + res.stderr
    info = engine.info()
    assert f"engine: {info.endpoint} (from {info.source}), Docker {info.server_version}" in res.stdout
    assert f"native platform: {info.platform}" in res.stdout
    assert "run arm64 binaries:" in res.stdout and "run x86_64 binaries:" in res.stdout
    assert "disk (repository):" in res.stdout


def test_doctor_with_unreachable_engine_says_what_to_do(tmp_path: Path) -> None:
    res = packbin("doctor", cwd=REPO, env={"DOCKER_HOST": f"unix://{tmp_path}/none.sock"})
    assert res.returncode == 3
    assert (
        f"FAIL  engine: cannot reach the Docker engine at unix://{tmp_path}/none.sock (from DOCKER_HOST)" in res.stdout
    )
    assert "->" in res.stdout and "Traceback" not in res.stderr


def test_builder_image_shows_the_reused_image(builder_image: Any) -> None:
    res = packbin("builder-image", "--no-pull", cwd=REPO)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith(builder_image.tag) and "(up to date)" in res.stdout


def test_outdated_builder_images_are_untagged_but_the_current_one_kept(engine: Any, builder_image: Any) -> None:
    from packbin.build.image import IMAGE_REPO, _remove_stale_builders
    from packbin.util.tarwriter import tar_bytes

    stale = f"{IMAGE_REPO}:{builder_image.profile}-0000000000000000"
    ctx = tar_bytes({"Dockerfile": b"FROM scratch\nCOPY f /f\n", "f": b"stale recipe\n"})
    engine.build_image(context=ctx, tag=stale, labels={"io.packbin.owner": "packbin"})
    seen: list[str] = []
    try:
        _remove_stale_builders(engine, keep=builder_image.tag, profile=builder_image.profile, echo=seen.append)
        assert engine.image_id(stale) is None
        assert engine.image_id(builder_image.tag) is not None
        assert f"builder: removed the outdated {stale}" in seen
    finally:
        if engine.image_id(stale) is not None:
            engine.client.images.remove(stale, force=True)


def test_a_failed_base_image_pull_is_not_retried_for_an_hour(
    engine: Any, builder_image: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from packbin.build.image import resolve_profile
    from packbin.config.model import BuildConfig
    from packbin.engine import Engine

    class CountingEngine(Engine):
        """The real engine, counting pull attempts."""

        pulls = 0

        def try_pull(self, ref: str) -> bool:
            self.pulls += 1
            return super().try_pull(ref)

    monkeypatch.setenv("PACKBIN_CACHE_DIR", str(tmp_path / "cache"))
    counting = CountingEngine(engine.client, engine.endpoint)
    cfg = BuildConfig.load(REPO / "buildcfg.toml", env={})
    first = resolve_profile(counting, cfg, echo=lambda _: None)
    if first[0] != "debian" or counting.pulls == 0:
        pytest.skip("a base image is present or pullable here: no pull failure to remember")
    after_first = counting.pulls
    assert resolve_profile(counting, cfg, echo=lambda _: None) == first
    assert counting.pulls == after_first  # remembered: not asked again
    assert resolve_profile(counting, cfg, retry_failed_pulls=True, echo=lambda _: None) == first
    assert counting.pulls == 2 * after_first  # builder-image --rebuild asks again
