"""Connect to an engine and check that it answers; one line naming the endpoint when it does not."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

import docker
import docker.errors
import requests.exceptions

from packbin.engine.client import Engine
from packbin.engine.endpoint import Endpoint, engine_hint, resolve_endpoint
from packbin.engine.labels import KEEP_ENV
from packbin.errors import EngineError

log = logging.getLogger(__name__)


#: How long the first ping may take: an unreachable tcp:// host must fail in seconds, not after the
#: long timeout that image builds and big transfers need.
PING_TIMEOUT = 20


def connect(
    env: Mapping[str, str] | None = None,
    *,
    timeout: int = 600,
    warn: bool = True,
    spec: str | None = None,
    source: str = "",
    purpose: str = "",
    endpoint: Endpoint | None = None,
) -> Engine:
    """Connect to the engine and check it answers; EngineError (one line, no traceback) otherwise.

    ``spec``/``source``: an architecture's own engine (see resolve_endpoint), or ``endpoint``
    already resolved from them; ``purpose`` names
    what it is for in the message ("for arm64"). ``warn=False``: the endpoint's warnings are the
    caller's to show (doctor lists them).
    """
    env = os.environ if env is None else env
    if endpoint is None:
        endpoint = resolve_endpoint(env, spec=spec, source=source)
    for warning in endpoint.warnings if warn else ():
        log.warning("%s", warning)
    # ssh://: the system `ssh` client runs `docker system dial-stdio` on the remote host, as the
    # docker CLI does, so ~/.ssh/config, ssh-agent and known_hosts apply. docker-py still imports
    # paramiko for it (the `ssh` extra).
    ssh = endpoint.host.startswith("ssh://")
    if ssh:
        _check_ssh_support(endpoint)
    try:
        if endpoint.env_tls:
            client = docker.DockerClient.from_env(
                environment={**env, "DOCKER_HOST": endpoint.host}, timeout=timeout, use_ssh_client=ssh
            )
        else:
            base_url = endpoint.host.replace("tcp://", "https://", 1) if endpoint.tls is not None else endpoint.host
            client = docker.DockerClient(
                base_url=base_url, timeout=timeout, tls=endpoint.tls or False, use_ssh_client=ssh
            )
        client.api.timeout = min(timeout, PING_TIMEOUT)
        try:
            client.ping()
        finally:
            client.api.timeout = timeout
    except (docker.errors.DockerException, requests.exceptions.RequestException) as e:
        what = f"the Docker engine {purpose}" if purpose else "the Docker engine"
        raise EngineError(
            f"cannot reach {what} at {endpoint.host} (from {endpoint.source}): {_short(e)}",
            hint=engine_hint(endpoint),
        ) from e
    engine = Engine(client, endpoint)
    if os.environ.get(KEEP_ENV) != "1":  # kept for debugging: not swept either
        try:
            for name in engine.remove_stale_containers():
                log.warning("removed container %s: the packbin process that made it is gone", name)
        except EngineError as e:  # housekeeping: never a reason to stop
            log.warning("could not look for orphaned packbin containers: %s", e)
    return engine


def _check_ssh_support(endpoint: Endpoint) -> None:
    import importlib
    import shutil

    try:
        importlib.import_module("paramiko")  # docker.transport.sshconn imports it at module level
    except ImportError:
        raise EngineError(
            f"the engine at {endpoint.host} (from {endpoint.source}) is an ssh:// endpoint, which needs the `ssh` extra",
            hint="pip install 'packbin-static[ssh]' (docker-py imports paramiko; the connection itself uses your `ssh` client)",
        ) from None
    if shutil.which("ssh") is None:
        raise EngineError(
            f"the engine at {endpoint.host} (from {endpoint.source}) is an ssh:// endpoint, and no `ssh` client is on PATH",
            hint="install OpenSSH's client (apt-get install openssh-client)",
        )


def _short(e: BaseException) -> str:
    text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    # docker-py nests the requests error; keep the reason, drop the repr noise.
    for marker in (
        "Connection refused",
        "No such file or directory",
        "Permission denied",
        "timed out",
        "Name or service not known",
    ):
        if marker in str(e):
            return marker
    return text[:200]
