"""The Docker Engine API boundary: where the engine is (``endpoint``), connecting to it
(``connect``), the typed wrapper around docker-py (``client``), and whether it can run a foreign
architecture (``binfmt``). packbin never runs the ``docker`` CLI.
"""

from __future__ import annotations

from packbin.engine.client import Engine, EngineInfo
from packbin.engine.connect import connect
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
    "Endpoint",
    "Engine",
    "EngineInfo",
    "connect",
    "filesystem_view",
    "process_host",
    "resolve_endpoint",
]
