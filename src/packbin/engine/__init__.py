"""The Docker Engine API boundary, in the order a run meets it: where the engine is
(``endpoint``), connecting to it (``connect``), which engine builds which architecture
(``routing``), the typed wrapper around docker-py (``client``: images, volumes, facts), the
container handle it makes (``container``: a context manager with put/get/stream/kill/remove),
what packbin's labels say (``labels``), and whether it can run a foreign architecture
(``binfmt``). packbin never runs the ``docker`` CLI; nothing outside this package sees
docker-py's objects.
"""

from __future__ import annotations

from packbin.engine.client import Engine, EngineInfo
from packbin.engine.connect import connect
from packbin.engine.container import Container
from packbin.engine.endpoint import DOCTOR_HINT, Endpoint, resolve_endpoint
from packbin.engine.labels import (
    HOST_LABEL,
    KEEP_ENV,
    KIND_LABEL,
    OWNER_LABEL,
    PID_LABEL,
    VOLUME_ID_LABEL,
    filesystem_view,
    process_host,
)

__all__ = [
    "DOCTOR_HINT",
    "HOST_LABEL",
    "KEEP_ENV",
    "KIND_LABEL",
    "OWNER_LABEL",
    "PID_LABEL",
    "VOLUME_ID_LABEL",
    "Container",
    "Endpoint",
    "Engine",
    "EngineInfo",
    "connect",
    "filesystem_view",
    "process_host",
    "resolve_endpoint",
]
