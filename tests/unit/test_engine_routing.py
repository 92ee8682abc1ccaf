"""An engine per architecture: ``engine`` under ``[architectures.NAME]``, ``PACKBIN_ENGINE_<NAME>``,
and the routing of architectures to endpoints (no engine needed: unreachable endpoints are real
missing sockets)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_config import edited, write_repo
from test_engine_endpoint import write_context

from packbin.config.engines import engine_env_var
from packbin.config.model import BuildConfig
from packbin.engine.routing import connect_routes, endpoint_hosts
from packbin.errors import ConfigError, EngineError

ARM_TABLE = "[architectures.arm64]\n"
REPO = Path(__file__).resolve().parents[2]


def load(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> BuildConfig:
    return BuildConfig.load(write_repo(tmp_path, text), env=env or {})


def with_arm_engine(spec: str) -> str:
    return edited(ARM_TABLE, f'{ARM_TABLE}engine = "{spec}"\n')


def test_env_var_names() -> None:
    assert engine_env_var("arm64") == "PACKBIN_ENGINE_ARM64"
    assert engine_env_var("x86_64") == "PACKBIN_ENGINE_X86_64"
    assert engine_env_var("ppc64le.v2-b") == "PACKBIN_ENGINE_PPC64LE_V2_B"


def test_no_engine_means_the_default_engine(tmp_path: Path) -> None:
    cfg = load(tmp_path, edited("", ""))
    assert cfg.engines == ()
    assert all(cfg.engine_for(a) is None for a in cfg.architectures)


def test_engine_from_buildcfg(tmp_path: Path) -> None:
    cfg = load(tmp_path, with_arm_engine("ssh://builder@arm-box"))
    choice = cfg.engine_for(cfg.arch("arm64"))
    assert choice is not None
    assert (choice.spec, choice.source) == ("ssh://builder@arm-box", "buildcfg.toml architectures.arm64.engine")
    assert cfg.engine_for(cfg.arch("x86_64")) is None


def test_env_overrides_buildcfg_and_default_resets(tmp_path: Path) -> None:
    text = with_arm_engine("ssh://builder@arm-box")
    cfg = load(tmp_path, text, {"PACKBIN_ENGINE_ARM64": "tcp://10.0.0.9:2376"})
    choice = cfg.engine_for(cfg.arch("aarch64"))
    assert choice is not None and (choice.spec, choice.source) == ("tcp://10.0.0.9:2376", "PACKBIN_ENGINE_ARM64")
    # "default" sends it back to the default engine; an empty variable is unset (CI templates).
    assert load(tmp_path / "b", text, {"PACKBIN_ENGINE_ARM64": "default"}).engines == ()
    assert load(tmp_path / "c", text, {"PACKBIN_ENGINE_ARM64": "  "}).engines[0].spec == "ssh://builder@arm-box"


def test_a_context_name_is_an_engine(tmp_path: Path) -> None:
    cfg = load(tmp_path, edited("", ""), {"PACKBIN_ENGINE_X86_64": "colima"})
    assert [(e.arch, e.spec) for e in cfg.engines] == [("x86_64", "colima")]


@pytest.mark.parametrize("spec", ["http://x", "unix://", "two words", "-rf"])
def test_bad_engine_in_buildcfg_names_the_key(tmp_path: Path, spec: str) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, with_arm_engine(spec))
    assert "architectures.arm64.engine" in info.value.message


def test_bad_engine_env_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, edited("", ""), {"PACKBIN_ENGINE_ARM64": "http://nope"})
    assert "PACKBIN_ENGINE_ARM64" in info.value.message


def test_engine_env_for_an_unknown_architecture_is_not_silently_ignored(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, edited("", ""), {"PACKBIN_ENGINE_AARCH64": "ssh://x"})
    assert "PACKBIN_ENGINE_AARCH64 names no configured architecture" in info.value.message
    assert "PACKBIN_ENGINE_ARM64" in info.value.message  # the suggestion


def test_hosts_resolve_contexts_and_share_the_default(tmp_path: Path) -> None:
    config_dir = tmp_path / "docker-config"
    write_context(config_dir, "armbox", "tcp://10.1.2.3:2376")
    env = {"DOCKER_CONFIG": str(config_dir), "DOCKER_HOST": "unix:///run/first.sock", "PACKBIN_ENGINE_ARM64": "armbox"}
    cfg = load(tmp_path, edited("", ""), env)
    assert endpoint_hosts(cfg, cfg.architectures, env) == {
        "x86_64": "unix:///run/first.sock",
        "arm64": "tcp://10.1.2.3:2376",
    }


def test_unreachable_engine_names_its_architecture_and_source(tmp_path: Path) -> None:
    sock = tmp_path / "nope.sock"
    env = {"PACKBIN_ENGINE_ARM64": f"unix://{sock}", "DOCKER_CONFIG": str(tmp_path / "dc")}
    cfg = load(tmp_path, edited("", ""), env)
    with pytest.raises(EngineError) as info:
        connect_routes(cfg, (cfg.arch("arm64"),), env)
    msg = info.value.message
    assert msg.startswith(f"cannot reach the Docker engine for arm64 at unix://{sock} (from PACKBIN_ENGINE_ARM64)")
    assert "\n" not in msg and info.value.exit_code == 3


def test_missing_context_for_an_architecture_is_one_line(tmp_path: Path) -> None:
    env = {"PACKBIN_ENGINE_ARM64": "no-such-context", "DOCKER_CONFIG": str(tmp_path / "dc")}
    cfg = load(tmp_path, edited("", ""), env)
    with pytest.raises(EngineError) as info:
        endpoint_hosts(cfg, cfg.architectures, env)
    assert "docker context 'no-such-context' (from PACKBIN_ENGINE_ARM64)" in info.value.message


def test_dry_run_needs_no_engine_even_when_one_is_configured(tmp_path: Path) -> None:
    # The plan is pure: an unreachable arm64 engine does not matter to --dry-run.
    import shutil
    import subprocess
    import sys

    path = write_repo(tmp_path, with_arm_engine(f"unix://{tmp_path}/gone.sock"))
    shutil.rmtree(path.parent / "packs")
    shutil.copytree(REPO / "packs", path.parent / "packs", ignore=shutil.ignore_patterns("target"))
    res = subprocess.run(
        [sys.executable, "-m", "packbin", "build-pack-binaries", "--arch=all", "--dry-run", "--json"],
        cwd=path.parent,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)
