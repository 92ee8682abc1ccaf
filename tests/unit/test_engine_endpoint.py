"""Choosing the engine endpoint like the docker CLI does, without the CLI and without an engine.

Contexts are written in the docker CLI's own on-disk format: ``$DOCKER_CONFIG/config.json`` with
``currentContext``, and ``$DOCKER_CONFIG/contexts/meta/<sha256(name)>/meta.json``.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest

import packbin.engine.endpoint
from packbin.engine import connect, resolve_endpoint
from packbin.errors import EngineError
from packbin.util.tarwriter import tar_bytes

COLIMA_SOCK = "unix:///Users/me/.colima/default/docker.sock"
ROOTLESS_SOCK = "unix:///run/user/1000/docker.sock"


def write_context(config_dir: Path, name: str, host: str) -> Path:
    """A context as `docker context create NAME --docker host=HOST` stores it."""
    meta_dir = config_dir / "contexts" / "meta" / hashlib.sha256(name.encode()).hexdigest()
    meta_dir.mkdir(parents=True)
    meta = {
        "Name": name,
        "Metadata": {"Description": f"{name} engine"},
        "Endpoints": {"docker": {"Host": host, "SkipTLSVerify": False}},
    }
    (meta_dir / "meta.json").write_text(json.dumps(meta))
    return meta_dir / "meta.json"


def write_config(config_dir: Path, current: object) -> None:
    config_dir.mkdir(parents=True, exist_ok=True)
    (config_dir / "config.json").write_text(json.dumps({"auths": {}, "currentContext": current}))


@pytest.fixture
def docker_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty DOCKER_CONFIG dir; HOME moved too, so no real ~/.docker is read."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    d = tmp_path / "docker-config"
    d.mkdir()
    write_context(d, "colima", COLIMA_SOCK)
    write_context(d, "rootless", ROOTLESS_SOCK)
    return d


def test_docker_host_wins_over_everything(docker_config: Path) -> None:
    write_config(docker_config, "colima")
    ep = resolve_endpoint(
        {"DOCKER_HOST": "tcp://10.0.0.5:2376", "DOCKER_CONTEXT": "rootless", "DOCKER_CONFIG": str(docker_config)}
    )
    assert (ep.host, ep.source) == ("tcp://10.0.0.5:2376", "DOCKER_HOST")


def test_current_context_from_config_json(docker_config: Path) -> None:
    write_config(docker_config, "colima")
    ep = resolve_endpoint({"DOCKER_CONFIG": str(docker_config)})
    assert ep.host == COLIMA_SOCK
    assert ep.source == "docker context 'colima'"


def test_docker_context_env_beats_config_json(docker_config: Path) -> None:
    write_config(docker_config, "colima")
    ep = resolve_endpoint({"DOCKER_CONTEXT": "rootless", "DOCKER_CONFIG": str(docker_config)})
    assert ep.host == ROOTLESS_SOCK
    assert ep.source == "DOCKER_CONTEXT 'rootless'"


def test_empty_docker_host_is_ignored(docker_config: Path) -> None:
    ep = resolve_endpoint({"DOCKER_HOST": "", "DOCKER_CONTEXT": "colima", "DOCKER_CONFIG": str(docker_config)})
    assert ep.host == COLIMA_SOCK


def test_context_dir_defaults_to_home_dot_docker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    write_context(home / ".docker", "colima", COLIMA_SOCK)
    write_config(home / ".docker", "colima")
    ep = resolve_endpoint({})
    assert ep.host == COLIMA_SOCK


def test_context_name_with_unicode_is_hashed_like_the_cli(docker_config: Path) -> None:
    write_context(docker_config, "büro", "unix:///srv/büro.sock")
    ep = resolve_endpoint({"DOCKER_CONTEXT": "büro", "DOCKER_CONFIG": str(docker_config)})
    assert ep.host == "unix:///srv/büro.sock"


@pytest.mark.parametrize("env_key", ["DOCKER_CONTEXT", "config"])
def test_default_context_uses_the_default_sockets(docker_config: Path, env_key: str) -> None:
    env = {"DOCKER_CONFIG": str(docker_config)}
    if env_key == "DOCKER_CONTEXT":
        env["DOCKER_CONTEXT"] = "default"
    else:
        write_config(docker_config, "default")
    assert resolve_endpoint(env).source == "default socket"


def test_missing_context_is_an_engine_error_naming_it(docker_config: Path) -> None:
    with pytest.raises(EngineError) as info:
        resolve_endpoint({"DOCKER_CONTEXT": "desktop-linux", "DOCKER_CONFIG": str(docker_config)})
    err = info.value
    assert err.exit_code == 3
    assert err.message.startswith("docker context 'desktop-linux' (from DOCKER_CONTEXT) cannot be read at ")
    meta = docker_config / "contexts" / "meta" / hashlib.sha256(b"desktop-linux").hexdigest() / "meta.json"
    assert err.message.count(str(meta)) == 1 and err.message.endswith(": No such file or directory")
    assert err.hint is not None and "DOCKER_HOST" in err.hint


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        json.dumps({"Name": "broken", "Endpoints": {}}),
        json.dumps({"Name": "broken", "Endpoints": {"docker": None}}),
        "[]",
    ],
    ids=["bad-json", "no-docker-endpoint", "null-endpoint", "a-list"],
)
def test_broken_context_is_an_engine_error_naming_it(docker_config: Path, content: str) -> None:
    meta = write_context(docker_config, "broken", "unix:///x.sock")
    meta.write_text(content)
    write_config(docker_config, "broken")
    with pytest.raises(EngineError) as info:
        resolve_endpoint({"DOCKER_CONFIG": str(docker_config)})
    assert "docker context 'broken' (from docker context)" in info.value.message
    assert str(meta) in info.value.message


def test_non_string_current_context_does_not_crash(docker_config: Path) -> None:
    write_config(docker_config, 5)
    try:
        resolve_endpoint({"DOCKER_CONFIG": str(docker_config)})
    except EngineError as e:
        assert "config.json" in str(e)


def test_unreadable_config_json_falls_back_to_default_socket_with_a_warning(docker_config: Path) -> None:
    (docker_config / "config.json").write_text("{ this is not json")
    ep = resolve_endpoint({"DOCKER_CONFIG": str(docker_config)})
    assert ep.source == "default socket"
    assert len(ep.warnings) == 1 and ep.warnings[0].startswith(f"error loading {docker_config / 'config.json'}: ")
    # Also with DOCKER_HOST set, as the docker CLI loads the file whatever the endpoint.
    ep = resolve_endpoint({"DOCKER_CONFIG": str(docker_config), "DOCKER_HOST": "unix:///x.sock"})
    assert ep.source == "DOCKER_HOST" and len(ep.warnings) == 1


def test_a_valid_or_missing_config_json_gives_no_warning(docker_config: Path) -> None:
    assert resolve_endpoint({"DOCKER_CONFIG": str(docker_config)}).warnings == ()
    write_config(docker_config, "default")
    assert resolve_endpoint({"DOCKER_CONFIG": str(docker_config)}).warnings == ()


def test_default_socket_fallback_prefers_existing_sockets(docker_config: Path, tmp_path: Path) -> None:
    runtime = tmp_path / "xdg-runtime"
    runtime.mkdir()
    (runtime / "docker.sock").touch()  # rootless dockerd's socket, as a placeholder file
    ep = resolve_endpoint({"DOCKER_CONFIG": str(docker_config), "XDG_RUNTIME_DIR": str(runtime)})
    assert ep.source == "default socket"
    # /var/run/docker.sock comes first when it exists (a system engine), then the rootless one.
    expected = (
        "unix:///var/run/docker.sock" if Path("/var/run/docker.sock").exists() else f"unix://{runtime}/docker.sock"
    )
    assert ep.host == expected


def test_default_socket_when_none_exists(docker_config: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(packbin.engine.endpoint, "_default_sockets", lambda env: [str(tmp_path / "nope.sock")])
    ep = resolve_endpoint({"DOCKER_CONFIG": str(docker_config)})
    assert (ep.host, ep.source) == ("unix:///var/run/docker.sock", "default socket")


def test_connect_to_a_missing_socket_is_a_one_line_engine_error(docker_config: Path) -> None:
    with pytest.raises(EngineError) as info:
        connect({"DOCKER_HOST": "unix:///nonexistent/x.sock", "DOCKER_CONFIG": str(docker_config)}, timeout=5)
    err = info.value
    assert err.exit_code == 3
    assert "unix:///nonexistent/x.sock" in err.message
    assert "DOCKER_HOST" in err.message
    assert "\n" not in err.message
    assert "Traceback" not in str(err)
    assert err.hint and "DOCKER_HOST" in err.hint


def test_connect_names_the_context_it_tried(docker_config: Path, tmp_path: Path) -> None:
    write_context(docker_config, "gone", f"unix://{tmp_path}/gone.sock")
    with pytest.raises(EngineError) as info:
        connect({"DOCKER_CONTEXT": "gone", "DOCKER_CONFIG": str(docker_config)}, timeout=5)
    assert f"unix://{tmp_path}/gone.sock" in info.value.message
    assert "DOCKER_CONTEXT 'gone'" in info.value.message


# -- tar_bytes -----------------------------------------------------------------------------


def test_tar_bytes_is_deterministic() -> None:
    a = tar_bytes({"b.txt": b"bee", "a/x.sh": (b"#!/bin/sh\n", 0o755), "Dockerfile": b"FROM scratch\n"})
    b = tar_bytes({"Dockerfile": b"FROM scratch\n", "a/x.sh": (b"#!/bin/sh\n", 0o755), "b.txt": b"bee"})
    assert a == b
    assert a == tar_bytes({"b.txt": b"bee", "a/x.sh": (b"#!/bin/sh\n", 0o755), "Dockerfile": b"FROM scratch\n"})
    assert tar_bytes({"f": b"1"}) != tar_bytes({"f": b"2"})


def test_tar_bytes_content_modes_and_mtime() -> None:
    data = tar_bytes({"b.txt": b"bee", "a/x.sh": (b"#!/bin/sh\n", 0o755)}, mtime=1_700_000_000)
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        members = tf.getmembers()
        assert [m.name for m in members] == ["a/x.sh", "b.txt"]
        assert [m.mode for m in members] == [0o755, 0o644]
        assert {m.mtime for m in members} == {1_700_000_000}
        assert {(m.uid, m.gid) for m in members} == {(0, 0)}
        f = tf.extractfile("b.txt")
        assert f is not None and f.read() == b"bee"
    with tarfile.open(fileobj=io.BytesIO(tar_bytes({"f": b"x"}))) as tf:
        assert tf.getmembers()[0].mtime == 0


def test_context_tls_material_is_used_like_the_cli(tmp_path: Path) -> None:
    """A tcp:// context with contexts/tls/<sha256>/docker/*.pem gets a TLS client config."""
    config_dir = tmp_path / "docker"
    write_context(config_dir, "remote", "tcp://build-host.example:2376")
    (config_dir / "config.json").write_text(json.dumps({"currentContext": "remote"}))
    tls_dir = config_dir / "contexts" / "tls" / hashlib.sha256(b"remote").hexdigest() / "docker"
    tls_dir.mkdir(parents=True)
    for name in ("ca.pem", "cert.pem", "key.pem"):
        (tls_dir / name).write_text(f"placeholder {name}\n")  # TLSConfig only checks the files exist
    ep = resolve_endpoint({"DOCKER_CONFIG": str(config_dir)})
    assert ep.host == "tcp://build-host.example:2376" and ep.source == "docker context 'remote'"
    assert ep.tls is not None
    assert (
        ep.tls.ca_cert == str(tls_dir / "ca.pem") and ep.tls.verify == str(tls_dir / "ca.pem") or ep.tls.verify is True
    )
    assert ep.tls.cert == (str(tls_dir / "cert.pem"), str(tls_dir / "key.pem"))


def test_context_without_tls_material_has_none(tmp_path: Path) -> None:
    config_dir = tmp_path / "docker"
    write_context(config_dir, "colima", "unix:///home/u/.colima/default/docker.sock")
    ep = resolve_endpoint({"DOCKER_CONFIG": str(config_dir), "DOCKER_CONTEXT": "colima"})
    assert ep.tls is None


def test_ssh_endpoint_without_paramiko_names_the_extra() -> None:
    # paramiko is installed here (the `ssh` extra); its absence is simulated the way Python
    # itself blocks an import (None in sys.modules), in a child process.
    code = (
        "import sys; sys.modules['paramiko'] = None\n"
        "from packbin.engine import connect\n"
        "from packbin.errors import EngineError\n"
        "try:\n"
        "    connect({'DOCKER_HOST': 'ssh://someone@127.0.0.1:1'}, timeout=5)\n"
        "except EngineError as e:\n"
        "    print(e.exit_code, e.message, e.hint, sep='|')\n"
    )
    import subprocess
    import sys

    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    code_, message, hint = res.stdout.strip().split("|")
    assert code_ == "3"
    assert (
        message
        == "the engine at ssh://someone@127.0.0.1:1 (from DOCKER_HOST) is an ssh:// endpoint, which needs the `ssh` extra"
    )
    assert hint.startswith("pip install 'packbin-static[ssh]'")
