"""A second, real Docker engine on this machine, for the several-engines and cache tests.

It is a dockerd with its own data-root, exec-root, pidfile and socket, started in a network
namespace of its own (`unshare --net`): its docker0 then cannot clash with the first engine's,
and it has no way out, so it pulls nothing and its images come from the first engine through
the API. (Started in the host's namespace with `--bridge=none`, a second dockerd deletes the
first engine's docker0 bridge.) See /work/shared/TOOLCHAIN.md.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class SecondEngineUnavailable(RuntimeError):
    """This machine cannot run a second engine (not root, no unshare/dockerd): the test skips."""


def _ping(sock: Path) -> bool:
    import socket

    s = socket.socket(socket.AF_UNIX)
    s.settimeout(2)
    try:
        s.connect(str(sock))
        s.sendall(b"GET /_ping HTTP/1.0\r\n\r\n")
        return b"OK" in s.recv(4096)
    except OSError:
        return False
    finally:
        s.close()


@contextmanager
def second_engine(timeout: float = 60) -> Iterator[str]:
    """Start a second dockerd; yield its endpoint (``unix://...``); stop it and remove its data."""
    if os.geteuid() != 0:
        raise SecondEngineUnavailable("a second dockerd needs root")
    for tool in ("unshare", "dockerd", "ip"):
        if shutil.which(tool) is None:
            raise SecondEngineUnavailable(f"{tool} is not installed")
    # A short path: a unix socket path is limited to 108 bytes.
    root = Path(tempfile.mkdtemp(prefix="pb2-", dir="/tmp"))
    sock = root / "docker.sock"
    log = open(root / "dockerd.log", "wb")  # noqa: SIM115 - closed in finally
    cmd = (
        f"ip link set lo up; exec dockerd --data-root {root}/data --exec-root {root}/exec "
        f"--pidfile {root}/pid -H unix://{sock} --iptables=false"
    )
    proc = subprocess.Popen(["unshare", "--net", "sh", "-c", cmd], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + timeout
        while not _ping(sock):
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = (root / "dockerd.log").read_text(errors="replace")[-2000:]
                raise SecondEngineUnavailable(f"the second dockerd did not start:\n{tail}")
            time.sleep(0.3)
        yield f"unix://{sock}"
    finally:
        _stop(proc, root)
        log.close()


def _stop(proc: subprocess.Popen[bytes], root: Path) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    # Its containers are gone with it; unmount what overlayfs or the volumes left, then remove.
    subprocess.run(
        ["sh", "-c", f"grep -o ' {root}[^ ]*' /proc/mounts | sort -r | xargs -r -n1 umount -l"],
        check=False,
        capture_output=True,
    )
    shutil.rmtree(root, ignore_errors=True)


def copy_image(src_client: object, dst_client: object, ref: str) -> None:
    """Send image ``ref`` from one engine to another through the API (save, then load), streamed
    through a temp file (the builder image is about 2 GB)."""
    import docker

    assert isinstance(src_client, docker.DockerClient) and isinstance(dst_client, docker.DockerClient)
    with tempfile.TemporaryFile() as f:
        for chunk in src_client.images.get(ref).save(chunk_size=1 << 20, named=ref):
            f.write(chunk)
        f.seek(0)
        dst_client.images.load(f)


def remove_packbin_volumes(endpoint: str) -> None:
    """Empty an engine of packbin's volumes, as a fresh CI runner's engine is (images stay)."""
    import docker

    client = docker.DockerClient(base_url=endpoint, timeout=120)
    for v in client.volumes.list():
        if str(v.name).startswith("packbin-"):
            v.remove(force=True)
