"""An ssh:// engine, for real: a private sshd on 127.0.0.1 whose remote side runs
`docker system dial-stdio` (the docker CLI) against this machine's engine, reached with the system
`ssh` client, as `DOCKER_HOST=ssh://user@host` works for the docker CLI."""

from __future__ import annotations

import getpass
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.repo import REPO, packbin

pytestmark = [pytest.mark.docker]

SSHD = "/usr/sbin/sshd"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def ssh_engine(engine: object, tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """(DOCKER_HOST, env) for an sshd on a free loopback port; the env puts a `ssh` first on PATH
    that is the system client with this test's config (its key and known_hosts), because OpenSSH
    reads ~/.ssh from the passwd entry, not $HOME."""
    if not (Path(SSHD).is_file() and shutil.which("ssh") and shutil.which("ssh-keygen")):
        pytest.skip("needs openssh-server and openssh-client (.ci/run installs them)")
    if shutil.which("docker") is None:
        pytest.skip("the sshd side needs the docker CLI for `docker system dial-stdio`")
    if os.geteuid() != 0:
        pytest.skip("sshd with a private config runs as root here")
    d = tmp_path / "ssh"
    d.mkdir()
    for name in ("hostkey", "userkey"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / name)], check=True)
    shutil.copy(d / "userkey.pub", d / "authorized_keys")
    port = _free_port()
    (d / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/hostkey\nAuthorizedKeysFile {d}/authorized_keys\n"
        "PermitRootLogin prohibit-password\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
        f"UsePAM no\nStrictModes no\nPidFile {d}/sshd.pid\n"
    )
    host_key = " ".join((d / "hostkey.pub").read_text().split()[:2])
    (d / "known_hosts").write_text(f"[127.0.0.1]:{port} {host_key}\n")
    (d / "ssh_config").write_text(
        f"Host *\n  IdentityFile {d}/userkey\n  IdentitiesOnly yes\n  UserKnownHostsFile {d}/known_hosts\n"
        "  StrictHostKeyChecking yes\n  BatchMode yes\n"
    )
    bin_dir = d / "bin"
    bin_dir.mkdir()
    (bin_dir / "ssh").write_text(f'#!/bin/sh\nexec {shutil.which("ssh")} -F {d}/ssh_config "$@"\n')
    (bin_dir / "ssh").chmod(0o755)
    Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege-separation directory
    sshd = subprocess.Popen([SSHD, "-D", "-e", "-f", str(d / "sshd_config")], stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if sshd.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"sshd did not start: {sshd.stderr.read() if sshd.stderr else ''}") from None
                time.sleep(0.1)
        env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "DOCKER_CONFIG": str(d)}
        yield f"ssh://{getpass.getuser()}@127.0.0.1:{port}", env
    finally:
        sshd.send_signal(signal.SIGTERM)
        sshd.wait(timeout=10)


def test_doctor_reaches_the_engine_over_ssh(ssh_engine: tuple[str, dict[str, str]], engine: object) -> None:
    host, env = ssh_engine
    res = packbin("doctor", cwd=REPO, env={**env, "DOCKER_HOST": host}, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
    version = engine.info().server_version  # type: ignore[attr-defined]
    assert f"ok    engine: {host} (from DOCKER_HOST), Docker {version}" in res.stdout
    assert "paramiko" not in res.stdout + res.stderr


def test_an_ssh_context_works_too(ssh_engine: tuple[str, dict[str, str]]) -> None:
    import hashlib
    import json

    host, env = ssh_engine
    meta = Path(env["DOCKER_CONFIG"]) / "contexts" / "meta" / hashlib.sha256(b"remote").hexdigest()
    meta.mkdir(parents=True)
    (meta / "meta.json").write_text(
        json.dumps({"Name": "remote", "Endpoints": {"docker": {"Host": host, "SkipTLSVerify": False}}})
    )
    res = packbin("doctor", cwd=REPO, env={**env, "DOCKER_CONTEXT": "remote"}, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"ok    engine: {host} (from DOCKER_CONTEXT 'remote')" in res.stdout


def test_an_unknown_host_key_is_a_one_line_engine_error(ssh_engine: tuple[str, dict[str, str]]) -> None:
    host, env = ssh_engine
    known = Path(env["DOCKER_CONFIG"]) / "known_hosts"
    known.write_text("")  # ssh now refuses the host (StrictHostKeyChecking yes, BatchMode yes)
    res = packbin("doctor", cwd=REPO, env={**env, "DOCKER_HOST": host}, timeout=120)
    assert res.returncode == 3, res.stdout + res.stderr
    assert f"FAIL  engine: cannot reach the Docker engine at {host} (from DOCKER_HOST)" in res.stdout
    assert "Host key verification failed" in res.stderr  # ssh's own reason, passed through
    port = host.rsplit(":", 1)[1]
    assert (
        f"-> check that `ssh -p {port} {getpass.getuser()}@127.0.0.1 docker system dial-stdio` connects" in res.stdout
    )
    assert "Traceback" not in res.stderr
