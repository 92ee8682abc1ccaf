"""The GitHub Actions step summary: a Markdown table appended to $GITHUB_STEP_SUMMARY when set."""

from __future__ import annotations

from pathlib import Path

import pytest

from packbin.build.report import SUMMARY_ENV, append_step_summary
from packbin.dist.manifest import Artifact, Toolchain

SHA_X = "1f" * 32
SHA_A = "ab" * 32


def artifact(arch: str, sha: str, *, static: bool = True, size: int = 391_224) -> Artifact:
    return Artifact(
        arch=arch,
        target=f"{arch}-unknown-linux-musl",
        pack="core",
        binary="attune-core-timer-sensor",
        path=f"dist/pack-binaries/{arch}/core/sensors/attune-core-timer-sensor",
        sha256=sha,
        size=size,
        static=static,
        stripped=True,
        source_hash="",
        builder_image="",
        toolchain=Toolchain(),
    )


ARTIFACTS = [artifact("x86_64", SHA_X), artifact("arm64", SHA_A, static=False, size=1_048_577)]


def test_summary_is_a_markdown_table(tmp_path: Path) -> None:
    summary = tmp_path / "step_summary.md"
    assert append_step_summary("Pack binaries", ARTIFACTS, env={SUMMARY_ENV: str(summary)}) is True
    assert summary.read_text(encoding="utf-8") == (
        "### Pack binaries\n"
        "\n"
        "| arch | path | size | static | sha256 |\n"
        "| --- | --- | ---: | --- | --- |\n"
        f"| x86_64 | `dist/pack-binaries/x86_64/core/sensors/attune-core-timer-sensor` | 391224 | yes | `{SHA_X}` |\n"
        f"| arm64 | `dist/pack-binaries/arm64/core/sensors/attune-core-timer-sensor` | 1048577 | **no** | `{SHA_A}` |\n"
        "\n"
    )


def test_summary_appends_to_what_earlier_steps_wrote(tmp_path: Path) -> None:
    summary = tmp_path / "step_summary.md"
    summary.write_text("## Earlier step\n\n", encoding="utf-8")
    env = {SUMMARY_ENV: str(summary)}
    append_step_summary("First", ARTIFACTS[:1], env=env)
    append_step_summary("Second", ARTIFACTS[1:], env=env)
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("## Earlier step\n\n### First\n")
    assert text.index("### First") < text.index("### Second")
    assert text.count("| arch | path | size | static | sha256 |") == 2


def test_unset_or_empty_env_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert append_step_summary("Pack binaries", ARTIFACTS, env={}) is False
    assert append_step_summary("Pack binaries", ARTIFACTS, env={SUMMARY_ENV: ""}) is False
    assert list(tmp_path.iterdir()) == []


def test_default_env_is_the_process_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    summary = tmp_path / "from-environ.md"
    monkeypatch.setenv(SUMMARY_ENV, str(summary))
    assert append_step_summary("Pack binaries", ARTIFACTS) is True
    assert "| x86_64 |" in summary.read_text(encoding="utf-8")
    monkeypatch.delenv(SUMMARY_ENV)
    summary.unlink()
    assert append_step_summary("Pack binaries", ARTIFACTS) is False
    assert not summary.exists()


def test_no_artifacts_writes_nothing(tmp_path: Path) -> None:
    summary = tmp_path / "step_summary.md"
    assert append_step_summary("Pack binaries", [], env={SUMMARY_ENV: str(summary)}) is False
    assert not summary.exists()
