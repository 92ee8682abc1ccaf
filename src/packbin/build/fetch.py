"""The fetch step: registry and git dependencies into the shared cargo home, with network, only when needed.

Compiles run with no network at all (build scripts and proc macros are code from the internet), so
whatever a workspace needs from a registry (crates.io, a mirror, a private registry named in its
``.cargo/config.toml``) or from git is fetched first, by ``cargo fetch --locked``, into the cargo
home volume that the compile containers mount. A vendored workspace needs no fetch.

The step runs only when a workspace's fetch key (its Cargo.lock and source configs) differs from
the one recorded for this engine and cargo home volume, so an unchanged build connects to nothing.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
from collections.abc import Callable, Sequence

from packbin.build.sources import SRC_MOUNT
from packbin.build.volumes import CARGO_HOME_VOLUME, fetch_record_path
from packbin.config.model import BuildConfig
from packbin.engine import Engine
from packbin.errors import BuildError
from packbin.util.atomic import atomic_write_bytes
from packbin.util.dirs import read_record
from packbin.workspace import BinaryInputs

#: The cargo home (registry index and crate cache, git checkouts) shared by fetch and compile.
CARGO_HOME_MOUNT = "/cargo-home"


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses (a registry the container reaches through the host)."""
    if host.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def fetch_network(hosts: Sequence[str]) -> str | None:
    """The fetch container's network: the host's for a registry on the loopback address (only the
    host's own network reaches it), else the engine's default bridge."""
    return "host" if hosts and all(is_loopback(h) for h in hosts) else None


def workspaces_to_fetch(inputs: Sequence[BinaryInputs]) -> dict[str, BinaryInputs]:
    """workspace root (rel) -> one of its binaries' inputs, for the workspaces that need a fetch."""
    out: dict[str, BinaryInputs] = {}
    for i in inputs:
        if i.needs_fetch:
            out.setdefault(i.workspace.root_rel, i)
    return out


def fetch_dependencies(
    engine: Engine,
    image: str,
    cfg: BuildConfig,
    inputs: Sequence[BinaryInputs],
    *,
    source_volume: str,
    on_line: Callable[[str], None],
) -> list[str]:
    """Run ``cargo fetch --locked`` for every workspace whose fetch key changed; the roots fetched."""
    wanted = workspaces_to_fetch(inputs)
    home_created = engine.ensure_volume(CARGO_HOME_VOLUME, kind="cache")
    path = fetch_record_path(engine)
    record = read_record(path)

    def key(root_rel: str) -> str:
        return hashlib.sha256(f"{cfg.root}\0{root_rel}".encode()).hexdigest()[:16]

    todo = {
        rel: i
        for rel, i in wanted.items()
        if not home_created or record.get(key(rel)) != {"fetch_key": i.fetch_key, "home": home_created}
    }
    if not todo:
        return []
    hosts = sorted({h for i in todo.values() for h in i.registry_hosts})
    network = fetch_network(hosts)
    script = ["set -eu"]
    for rel in sorted(todo):
        where = f"{SRC_MOUNT}/{rel}".rstrip("/")
        script.append(f"echo '::packbin-step fetching the dependencies of {rel or '.'}'")
        script.append(f"cd '{where}' && cargo fetch --locked --manifest-path '{where}/Cargo.toml'")
    env = dict(cfg.builder.env)
    env["CARGO_HOME"] = CARGO_HOME_MOUNT
    on_line(f"fetching dependencies ({', '.join(hosts) or 'no registry host'}; network {network or 'bridge'})")
    tail: list[str] = []

    def emit(line: str) -> None:
        if line.startswith("::packbin-step "):
            line = line.split(" ", 1)[1]
        tail.append(line)
        del tail[:-30]
        on_line(line)

    with engine.container(
        image=image,
        command=["/bin/sh", "-c", "\n".join(script)],
        kind="fetch",
        environment=env,
        volumes={CARGO_HOME_VOLUME: CARGO_HOME_MOUNT, source_volume: f"{SRC_MOUNT}:ro"},
        network_mode=network,
    ) as c:
        status = c.run_streaming(on_line=emit)
    if status != 0:
        raise BuildError(
            f"fetching dependencies failed (exit {status}):\n" + "\n".join(tail[-15:]),
            hint="check that the registry named in .cargo/config.toml is reachable from the engine, and that Cargo.lock is current (`cargo generate-lockfile` or `cargo update`, then commit it)",
        )
    for rel, i in todo.items():
        record[key(rel)] = {"fetch_key": i.fetch_key, "home": home_created}
    atomic_write_bytes(path, json.dumps(record, indent=1, sort_keys=True).encode())
    return sorted(todo)


__all__ = [
    "CARGO_HOME_MOUNT",
    "fetch_dependencies",
    "fetch_network",
    "is_loopback",
    "workspaces_to_fetch",
]
