"""Which engine builds which architecture: ``engine`` under ``[architectures.NAME]`` or
``PACKBIN_ENGINE_<NAME>``, else the default engine.

Every engine a run needs is connected before any build starts, so an unreachable one fails its
architectures with one line naming them and its endpoint, and nothing else has begun.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from packbin.arch import Architecture
from packbin.config.model import BuildConfig
from packbin.engine.client import Engine
from packbin.engine.connect import connect
from packbin.engine.endpoint import Endpoint, resolve_endpoint


@dataclass(frozen=True, kw_only=True)
class Route:
    """One engine and the architectures it builds in this run."""

    engine: Engine
    arches: tuple[Architecture, ...]

    @property
    def label(self) -> str:
        return "+".join(a.name for a in self.arches)


def _spec(cfg: BuildConfig, arch: Architecture) -> tuple[str | None, str]:
    choice = cfg.engine_for(arch)
    return (choice.spec, choice.source) if choice else (None, "")


def endpoint_hosts(
    cfg: BuildConfig, arches: Sequence[Architecture], env: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Architecture name -> endpoint host, resolved without connecting (contexts are read)."""
    env = os.environ if env is None else env
    out: dict[str, str] = {}
    for a in arches:
        spec, source = _spec(cfg, a)
        out[a.name] = resolve_endpoint(env, spec=spec, source=source).host
    return out


def connect_routes(
    cfg: BuildConfig, arches: Sequence[Architecture], env: Mapping[str, str] | None = None
) -> list[Route]:
    """Connect to every engine ``arches`` need, one connection per endpoint, in configuration order.

    Raises EngineError for the first unreachable engine, naming the architectures it was to build.
    """
    env = os.environ if env is None else env
    groups: dict[str, list[Architecture]] = {}
    endpoints: dict[str, tuple[Endpoint, bool]] = {}  # host -> (endpoint, chosen per architecture)
    for a in arches:
        spec, source = _spec(cfg, a)
        endpoint = resolve_endpoint(env, spec=spec, source=source)
        groups.setdefault(endpoint.host, []).append(a)
        endpoints.setdefault(endpoint.host, (endpoint, spec is not None))
    routes: list[Route] = []
    for host, group in groups.items():
        endpoint, own = endpoints[host]
        names = ", ".join(a.name for a in group)
        engine = connect(env, endpoint=endpoint, purpose=f"for {names}" if own or len(groups) > 1 else "")
        routes.append(Route(engine=engine, arches=tuple(group)))
    return routes


__all__ = ["Route", "connect_routes", "endpoint_hosts"]
