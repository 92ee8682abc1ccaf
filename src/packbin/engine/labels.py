"""What packbin's labels on engine resources say, and the identities they compare against.

Every container and volume packbin creates is labelled as packbin's (``clean`` and the tests
find them so), with its kind, and a container with the process that made it: a container whose
maker on this host is gone (SIGKILL, a crashed runner) is removed by the next packbin.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping

OWNER_LABEL = "io.packbin.owner"
KIND_LABEL = "io.packbin.kind"
VOLUME_ID_LABEL = "io.packbin.volume-id"
HOST_LABEL = "io.packbin.host"
PID_LABEL = "io.packbin.pid"
KEEP_ENV = "PACKBIN_KEEP_CONTAINERS"


def _namespace(kind: str) -> str:
    try:
        ns = os.readlink(f"/proc/self/ns/{kind}")
    except OSError:
        ns = "?"
    return f"{socket.gethostname()} {ns}"


def process_host() -> str:
    """This host and PID namespace: pids are only comparable inside one (CI containers sharing a
    docker socket each have their own)."""
    return _namespace("pid")


def filesystem_view() -> str:
    """This host and mount namespace: a path names one directory only inside one."""
    return _namespace("mnt")


def maker_gone(labels: Mapping[str, str], host: str) -> bool:
    """Whether the packbin process a container's labels name is known to be gone."""
    if labels.get(HOST_LABEL) != host:
        return False
    try:
        os.kill(int(labels.get(PID_LABEL, "")), 0)
    except ProcessLookupError:
        return True
    except (ValueError, OSError):  # no pid label; a process of another user (alive)
        return False
    return False
