"""A connected engine: typed wrappers around docker-py.

docker-py returns untyped dicts; they get types here and nowhere else. packbin never runs the
``docker`` CLI.
"""

from __future__ import annotations

import io
import logging
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import docker
import docker.errors
import requests.exceptions

from packbin.arch import MACHINE_TO_PLATFORM
from packbin.engine.container import Container, ContainerSpec, LiveContainers, find_containers
from packbin.engine.endpoint import Endpoint
from packbin.engine.labels import (
    HOST_LABEL,
    KIND_LABEL,
    OWNER_LABEL,
    VOLUME_ID_LABEL,
    maker_gone,
    process_host,
)
from packbin.errors import BuildError, EngineError

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class EngineInfo:
    """What ``doctor`` reports about the engine."""

    endpoint: str
    source: str
    server_version: str
    api_version: str
    os_type: str
    architecture: str  # as the engine says: x86_64, aarch64
    platform: str  # docker platform: linux/amd64, linux/arm64
    ncpu: int
    mem_total: int
    root_dir: str
    driver: str


class Engine:
    """A connected engine. The docker-py client is reachable as ``.client`` for the wrappers here."""

    def __init__(self, client: docker.DockerClient, endpoint: Endpoint) -> None:
        self.client = client
        self.endpoint = endpoint
        self._info: EngineInfo | None = None
        self._live = LiveContainers()

    # -- facts ---------------------------------------------------------------------------
    def info(self) -> EngineInfo:
        """The engine's facts (version, platform, endpoint), asked once and cached."""
        if self._info is None:
            try:
                raw = self.client.info()
                ver = self.client.version()
            except docker.errors.APIError as e:
                raise EngineError(f"engine at {self.endpoint.host} refused `info`: {e.explanation}") from e
            arch = str(raw.get("Architecture", ""))
            self._info = EngineInfo(
                endpoint=self.endpoint.host,
                source=self.endpoint.source,
                server_version=str(ver.get("Version", "?")),
                api_version=str(ver.get("ApiVersion", "?")),
                os_type=str(raw.get("OSType", "linux")),
                architecture=arch,
                platform=MACHINE_TO_PLATFORM.get(arch, f"linux/{arch}"),
                ncpu=int(raw.get("NCPU", 0) or 0),
                mem_total=int(raw.get("MemTotal", 0) or 0),
                root_dir=str(raw.get("DockerRootDir", "")),
                driver=str(raw.get("Driver", "")),
            )
        return self._info

    @property
    def native_platform(self) -> str:
        """The engine's native Docker platform (``linux/amd64``)."""
        return self.info().platform

    # -- images --------------------------------------------------------------------------
    def image_id(self, ref: str) -> str | None:
        """The local image id for ``ref``, or None when it is not present."""
        try:
            return str(self.client.images.get(ref).id)
        except docker.errors.ImageNotFound:
            return None
        except docker.errors.APIError as e:
            raise EngineError(f"cannot inspect image {ref}: {e.explanation}") from e

    def image_labels(self, ref: str) -> dict[str, str]:
        """The labels of the local image ``ref`` ({} when it is not present)."""
        try:
            return dict(self.client.images.get(ref).labels or {})
        except docker.errors.ImageNotFound:
            return {}

    def try_pull(self, ref: str) -> bool:
        """Pull ``ref``; False (not an error) when the registry cannot be reached or lacks it."""
        repo, _, tag = ref.rpartition(":") if ":" in ref.rsplit("/", 1)[-1] else (ref, "", "latest")
        log.info("pulling %s", ref)
        try:
            self.client.images.pull(repo, tag=tag)
            return True
        except (docker.errors.APIError, requests.exceptions.RequestException) as e:
            log.info("cannot pull %s: %s", ref, getattr(e, "explanation", e))
            return False

    def build_image(
        self,
        *,
        context: bytes,
        tag: str,
        labels: Mapping[str, str],
        platform: str | None = None,
        on_line: Callable[[str], None] | None = None,
        buildargs: Mapping[str, str] | None = None,
    ) -> tuple[str, list[str]]:
        """Classic build from an in-memory tar context; returns (image id, log lines).

        Raises BuildError with the log's tail when a step fails.
        """
        lines: list[str] = []
        image_id: str | None = None
        try:
            stream = self.client.api.build(
                fileobj=io.BytesIO(context),
                custom_context=True,
                tag=tag,
                labels=dict(labels),
                rm=True,
                forcerm=True,
                decode=True,
                platform=platform,
                buildargs=dict(buildargs or {}),
            )
            for chunk in stream:
                if "stream" in chunk:
                    for line in str(chunk["stream"]).splitlines():
                        lines.append(line)
                        if on_line and line.strip():
                            on_line(line)
                if "aux" in chunk and isinstance(chunk["aux"], dict) and "ID" in chunk["aux"]:
                    image_id = str(chunk["aux"]["ID"])
                if "error" in chunk or "errorDetail" in chunk:
                    msg = str(chunk.get("error") or chunk.get("errorDetail", {}).get("message", "build failed"))
                    lines.append(msg)
                    raise BuildError(
                        f"image build for {tag} failed: {msg.strip()}",
                        hint="the build log above shows the failing step",
                    )
        except docker.errors.APIError as e:
            raise BuildError(f"image build for {tag} failed: {e.explanation}") from e
        except requests.exceptions.ConnectionError as e:
            raise EngineError(f"lost the engine at {self.endpoint.host} during the image build: {e}") from e
        if image_id is None:
            image_id = self.image_id(tag)
        if image_id is None:
            raise BuildError(f"image build for {tag} reported no image id")
        return image_id, lines

    def import_rootfs(self, tar_path: Path, *, repository: str, tag: str, changes: Iterable[str] = ()) -> str:
        """Import a root filesystem tarball as an image (the engine's image import)."""
        with open(tar_path, "rb") as f:
            try:
                resp = self.client.api.import_image_from_data(
                    f, repository=repository, tag=tag, changes=list(changes) or None
                )
            except docker.errors.APIError as e:
                raise EngineError(f"image import of {tar_path} failed: {e.explanation}") from e
        image = self.image_id(f"{repository}:{tag}")
        if image is None:
            raise EngineError(f"image import of {tar_path} did not produce {repository}:{tag}: {resp}")
        return image

    def image_tags(self, repository: str) -> list[str]:
        """Every local tag of ``repository`` (``packbin/builder:debian-...``)."""
        try:
            return [str(t) for img in self.client.images.list(name=repository) for t in img.tags]
        except docker.errors.APIError as e:
            raise EngineError(f"cannot list images of {repository}: {e.explanation}") from e

    def owned_images(self) -> list[tuple[str, list[str]]]:
        """(image id, tags) of every image labelled as packbin's."""
        try:
            return [
                (str(img.id), [str(t) for t in img.tags])
                for img in self.client.images.list(filters={"label": f"{OWNER_LABEL}=packbin"})
            ]
        except docker.errors.APIError as e:
            raise EngineError(f"cannot list images: {e.explanation}") from e

    def remove_image(self, ref: str, *, force: bool = False) -> str | None:
        """Remove (or untag) ``ref``; None when done, else the engine's reason (e.g. in use)."""
        try:
            self.client.images.remove(ref, force=force)
            return None
        except docker.errors.ImageNotFound:
            return None
        except docker.errors.APIError as e:
            return str(e.explanation)

    def tag_image(self, image_id: str, repository: str, tag: str) -> None:
        """Tag ``image_id`` as ``repository:tag``; EngineError if the engine refuses."""
        try:
            self.client.images.get(image_id).tag(repository, tag)
        except docker.errors.APIError as e:
            raise EngineError(f"cannot tag {image_id[:19]} as {repository}:{tag}: {e.explanation}") from e

    def save_image(self, ref: str) -> Iterator[bytes]:
        """``docker save`` of ``ref`` (with its tag) through the API, streamed."""
        try:
            return iter(self.client.images.get(ref).save(chunk_size=1 << 20, named=ref))
        except docker.errors.APIError as e:
            raise EngineError(f"cannot save image {ref}: {e.explanation}") from e

    def load_images(self, data: IO[bytes]) -> list[str]:
        """``docker load`` of a saved image tar (streamed from ``data``); the tags it restored."""
        try:
            images = self.client.images.load(data)
        except docker.errors.APIError as e:
            raise EngineError(f"the engine refused the image archive: {e.explanation}") from e
        return [str(t) for img in images for t in img.tags]

    # -- volumes -------------------------------------------------------------------------
    def volume_exists(self, name: str) -> bool:
        """Read-only: unlike ensure_volume it creates nothing (a dry run must not)."""
        try:
            self.client.volumes.get(name)
            return True
        except docker.errors.NotFound:
            return False
        except docker.errors.APIError as e:
            raise EngineError(f"cannot inspect volume {name}: {e.explanation}") from e

    def owned_volumes(self) -> list[str]:
        """The names of the volumes labelled as packbin's."""
        try:
            return [str(v.name) for v in self.client.volumes.list(filters={"label": f"{OWNER_LABEL}=packbin"})]
        except docker.errors.APIError as e:
            raise EngineError(f"cannot list volumes: {e.explanation}") from e

    def remove_volume(self, name: str) -> str | None:
        """Remove volume ``name``; None when done, else the engine's reason (e.g. in use)."""
        try:
            self.client.volumes.get(name).remove(force=True)
            return None
        except docker.errors.NotFound:
            return None
        except docker.errors.APIError as e:
            return str(e.explanation)

    def volumes_of_kind(self, kind: str) -> list[tuple[str, dict[str, str]]]:
        """(name, labels) of packbin's volumes of ``kind``."""
        try:
            found = self.client.volumes.list(filters={"label": [f"{OWNER_LABEL}=packbin", f"{KIND_LABEL}={kind}"]})
        except docker.errors.APIError as e:
            raise EngineError(f"cannot list volumes: {e.explanation}") from e
        return [(str(v.name), dict((v.attrs or {}).get("Labels") or {})) for v in found]

    def ensure_volume(self, name: str, *, kind: str, labels: Mapping[str, str] | None = None) -> str:
        """Create volume ``name`` unless it exists; return its identity.

        The identity is a random id set as a label when packbin creates the volume (labels never
        change), so a volume removed and created again is told apart from the earlier one even
        within the same second (the engine's CreatedAt has one-second resolution).
        """
        try:
            try:
                v = self.client.volumes.get(name)
            except docker.errors.NotFound:
                ident = uuid.uuid4().hex
                self.client.volumes.create(
                    name=name,
                    labels={**(labels or {}), OWNER_LABEL: "packbin", KIND_LABEL: kind, VOLUME_ID_LABEL: ident},
                )
                return ident
        except docker.errors.APIError as e:
            raise EngineError(f"cannot create volume {name}: {e.explanation}") from e
        # No id label (made by something else): no identity, so nothing recorded about it is trusted.
        # (CreatedAt is no substitute: the local driver reports its directory's mtime.)
        return str(((v.attrs or {}).get("Labels") or {}).get(VOLUME_ID_LABEL, ""))

    # -- containers ----------------------------------------------------------------------
    def container(
        self,
        *,
        image: str,
        kind: str,
        command: list[str] | None = None,
        name: str | None = None,
        environment: Mapping[str, str] | None = None,
        volumes: Mapping[str, str] | None = None,
        working_dir: str | None = None,
        platform: str | None = None,
        entrypoint: list[str] | None = None,
        user: str | None = None,
        network_mode: str | None = None,
    ) -> Container:
        """A labelled container, created (not started) on entering its ``with`` block and removed
        with force on leaving it, on KeyboardInterrupt too (see :mod:`packbin.engine.container`)."""
        spec = ContainerSpec(
            image=image,
            kind=kind,
            command=command,
            name=name,
            environment=environment,
            volumes=volumes,
            working_dir=working_dir,
            platform=platform,
            entrypoint=entrypoint,
            user=user,
            network_mode=network_mode,
        )
        return Container(self.client, host=self.endpoint.host, spec=spec, live=self._live)

    def remove_stale_containers(self, *, kind: str | None = None, volume: str | None = None) -> list[str]:
        """Force-remove packbin containers (of ``kind``, mounting ``volume``, when given) made by a
        process of this host that no longer exists (SIGKILL, a crashed runner: nothing else would
        remove them, and a running one holds its volumes' locks); return their names. Containers
        of another host, of a live process, or without the labels (an older packbin) are left alone.
        """
        host = process_host()
        removed: list[str] = []
        labels_filter = [f"{OWNER_LABEL}=packbin", f"{HOST_LABEL}={host}"]
        if kind is not None:
            labels_filter.append(f"{KIND_LABEL}={kind}")
        live = self._live.ids()
        for c in find_containers(self.client, {"label": labels_filter}, host=self.endpoint.host):
            if (volume is not None and volume not in c.mounted_volumes) or c.id in live:
                continue
            if not maker_gone(c.labels, host):
                continue
            c.remove()
            removed.append(c.name)
        return removed

    def remove_live_containers(self) -> int:
        """Force-remove every container this process has open (Ctrl-C from another thread)."""
        live = self._live.snapshot()
        for c in live:
            c.remove()
        return len(live)

    def owned_containers(self) -> list[Container]:
        """Every container labelled as packbin's, running or not."""
        return find_containers(self.client, {"label": f"{OWNER_LABEL}=packbin"}, host=self.endpoint.host)
