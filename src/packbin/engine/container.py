"""The container handle: one container on an engine, typed once.

``with engine.container(image=..., kind=...) as c:`` creates the container (detached, labelled as
packbin's, not started) and leaving the block removes it with force, on KeyboardInterrupt too;
with PACKBIN_KEEP_CONTAINERS=1 it is kept for debugging and its name is logged. Inside, the
handle *is* the container: ``c.put_tar``, ``c.run_streaming``, ``c.get_tar``, ``c.kill``. Callers
never see docker-py's objects or its untyped dicts; ``Engine.owned_containers`` returns handles
too (found, not made: nothing removes them but ``remove``).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import IO, Any, final

import docker
import docker.errors
import requests.exceptions
from docker.models.containers import Container as DockerContainer

from packbin.engine.labels import HOST_LABEL, KEEP_ENV, KIND_LABEL, OWNER_LABEL, PID_LABEL, process_host
from packbin.errors import EngineError

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class ContainerSpec:
    """What a container is created with (``volumes``: volume -> mount point, ``:ro`` for read-only)."""

    image: str
    kind: str
    command: list[str] | None = None
    name: str | None = None
    environment: Mapping[str, str] | None = None
    volumes: Mapping[str, str] | None = None
    working_dir: str | None = None
    platform: str | None = None
    entrypoint: list[str] | None = None
    user: str | None = None
    network_mode: str | None = None

    def create_args(self) -> dict[str, Any]:
        """docker-py's ``containers.create`` keywords (the image aside), labels included."""
        binds = {
            src: {"bind": dst.split(":")[0], "mode": dst.split(":")[1] if ":" in dst else "rw"}
            for src, dst in (self.volumes or {}).items()
        }
        return {
            "command": self.command,
            "name": self.name,
            "environment": dict(self.environment or {}),
            "volumes": binds or None,
            "working_dir": self.working_dir,
            "labels": {
                OWNER_LABEL: "packbin",
                KIND_LABEL: self.kind,
                HOST_LABEL: process_host(),
                PID_LABEL: str(os.getpid()),
            },
            "detach": True,
            "platform": self.platform,
            "entrypoint": self.entrypoint,
            "user": self.user,
            "network_mode": self.network_mode,
        }


class LiveContainers:
    """The containers this process has open on one engine (Ctrl-C removes them from another thread)."""

    def __init__(self) -> None:
        self._by_id: dict[str, Container] = {}
        self._lock = threading.Lock()

    def add(self, c: Container) -> None:
        with self._lock:
            self._by_id[c.id] = c

    def discard(self, c: Container) -> None:
        with self._lock:
            self._by_id.pop(c.id, None)

    def ids(self) -> set[str]:
        with self._lock:
            return set(self._by_id)

    def snapshot(self) -> list[Container]:
        with self._lock:
            return list(self._by_id.values())


@final
class Container:
    """One container on an engine: a context manager that creates it on entry and removes it on exit
    (see the module docstring), or a handle to one found on the engine."""

    def __init__(
        self,
        client: docker.DockerClient,
        *,
        host: str,
        spec: ContainerSpec | None = None,
        live: LiveContainers | None = None,
        raw: DockerContainer | None = None,
    ) -> None:
        self._client = client
        self._host = host  # the engine's endpoint, for messages
        self._spec = spec
        self._live = live
        self._raw = raw

    # -- the context manager ---------------------------------------------------------------
    def __enter__(self) -> Container:
        spec = self._spec
        if spec is None or self._raw is not None:
            raise RuntimeError("only a container made by Engine.container() is entered, and once")
        try:
            self._raw = self._client.containers.create(spec.image, **spec.create_args())
        except docker.errors.ImageNotFound as e:
            raise EngineError(f"image {spec.image} is not present on the engine: {e.explanation}") from e
        except docker.errors.APIError as e:
            raise EngineError(f"cannot create a container from {spec.image}: {e.explanation}") from e
        if self._live is not None:
            self._live.add(self)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._live is not None:
            self._live.discard(self)
        if os.environ.get(KEEP_ENV) == "1":
            log.warning("keeping container %s (%s=1)", self.name, KEEP_ENV)
        else:
            self.remove()

    # -- what it is ------------------------------------------------------------------------
    @property
    def _container(self) -> DockerContainer:
        if self._raw is None:
            raise RuntimeError("the container is created on entering its `with` block")
        return self._raw

    @property
    def id(self) -> str:
        return str(self._container.id)

    @property
    def name(self) -> str:
        return str(self._container.name)

    @property
    def labels(self) -> dict[str, str]:
        return {str(k): str(v) for k, v in (self._container.labels or {}).items()}

    @property
    def mounted_volumes(self) -> set[str]:
        """The names of the volumes it mounts (as the engine last said)."""
        mounts = (self._container.attrs or {}).get("Mounts") or []
        return {str(m.get("Name", "")) for m in mounts if isinstance(m, dict)}

    # -- what it does ----------------------------------------------------------------------
    def put_tar(self, path: str, data: bytes | IO[bytes]) -> None:
        """Unpack a tar into the container at ``path``; ``data`` may be a file, streamed rather than held in memory."""
        try:
            ok = self._container.put_archive(path, data)
        except docker.errors.APIError as e:
            raise EngineError(f"cannot copy files into {self.name}:{path}: {e.explanation}") from e
        if not ok:
            raise EngineError(f"the engine refused files for {self.name}:{path}")

    def get_tar(self, path: str) -> Iterator[bytes]:
        """Stream ``path`` out of the container as a tar; raises EngineError when it is missing."""
        try:
            stream, _stat = self._container.get_archive(path)
        except docker.errors.NotFound as e:
            raise EngineError(f"{path} does not exist in container {self.name}") from e
        except docker.errors.APIError as e:
            raise EngineError(f"cannot read {self.name}:{path}: {e.explanation}") from e
        return iter(stream)

    def run_streaming(self, *, on_line: Callable[[str], None]) -> int:
        """Start the container, stream its combined output line by line, and return its exit status."""
        c = self._container
        try:
            c.start()
            buf = b""
            for chunk in c.logs(stream=True, follow=True, stdout=True, stderr=True):
                buf += chunk
                *done, buf = buf.split(b"\n")
                for line in done:
                    on_line(line.decode("utf-8", "replace").rstrip("\r"))
            if buf:
                on_line(buf.decode("utf-8", "replace"))
            result = c.wait()
        except docker.errors.APIError as e:
            raise EngineError(f"container {self.name} failed to run: {e.explanation}") from e
        except requests.exceptions.ConnectionError as e:
            raise EngineError(f"lost the engine at {self._host} while {self.name} ran: {e}") from e
        return int(result.get("StatusCode", -1))

    def kill(self) -> None:
        """Kill the running container; one that has exited meanwhile is not an error."""
        try:
            self._container.kill()
        except (docker.errors.APIError, requests.exceptions.RequestException) as e:
            log.debug("killing %s: %s", self.name, e)

    def remove(self) -> None:
        """Force-remove the container (its volumes stay); one already gone is not an error."""
        c = self._container
        # A second Ctrl-C while removing must not leave the container behind: retry once.
        for attempt in range(3):
            try:
                c.remove(force=True, v=False)
                return
            except docker.errors.NotFound:
                return
            except docker.errors.APIError as e:
                if e.status_code == 409 and "already in progress" in str(e.explanation):
                    return  # another thread (Ctrl-C cleanup) is removing it
                log.warning("could not remove container %s: %s", c.name, e.explanation)
                time.sleep(0.2)
            except KeyboardInterrupt:
                if attempt == 2:
                    raise
            except requests.exceptions.RequestException as e:
                log.warning("could not remove container %s: %s", c.name, e)
                time.sleep(0.2)


def find_containers(client: docker.DockerClient, filters: dict[str, Any], *, host: str) -> list[Container]:
    """Handles to the containers matching ``filters``, inspected; one removed meanwhile (another
    packbin's, finishing) is left out, where docker-py's own list fails whole."""
    try:
        found = client.containers.list(all=True, sparse=True, filters=filters)
    except docker.errors.APIError as e:
        raise EngineError(f"cannot list containers: {e.explanation}") from e
    out = []
    for c in found:
        try:
            c.reload()
        except docker.errors.NotFound:
            continue
        except docker.errors.APIError as e:
            raise EngineError(f"cannot inspect container {c.id}: {e.explanation}") from e
        out.append(Container(client, host=host, raw=c))
    return out
