"""Which engine builds an architecture, as configured: ``engine`` under ``[architectures.NAME]``
in buildcfg.toml, overridden by ``PACKBIN_ENGINE_<NAME>``. Resolving it to an endpoint and
connecting is engine/routing.py's work; this is only the checked configuration."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from packbin.arch import Architecture
from packbin.config.table import NAME_RE as _NAME_RE
from packbin.config.table import Table as _Table
from packbin.config.table import suggest as _suggest
from packbin.errors import ConfigError

ENGINE_ENV_PREFIX = "PACKBIN_ENGINE_"


def engine_env_var(arch_name: str) -> str:
    """``PACKBIN_ENGINE_ARM64`` for ``arm64``: upper case, '.' and '-' as '_'."""
    return ENGINE_ENV_PREFIX + re.sub(r"[^A-Za-z0-9]", "_", arch_name).upper()


@dataclass(frozen=True, kw_only=True)
class EngineChoice:
    """``engine`` of ``[architectures.NAME]`` or its ``PACKBIN_ENGINE_<NAME>`` override.

    ``spec`` is a docker context name or an endpoint (``unix://``, ``tcp://``, ``ssh://``);
    ``source`` says where it was set, for messages.
    """

    arch: str
    spec: str
    source: str


def engine_spec_ok(spec: str) -> bool:
    if "://" in spec:
        return spec.split("://", 1)[0] in ("unix", "tcp", "ssh", "npipe") and len(spec.split("://", 1)[1]) > 0
    return bool(_NAME_RE.match(spec))


def engine_choices(
    t: _Table, arches: tuple[Architecture, ...], env: Mapping[str, str], source: Path
) -> tuple[EngineChoice, ...]:
    """Each architecture's engine: ``PACKBIN_ENGINE_<NAME>`` over ``engine`` in buildcfg.toml.

    An empty variable is unset (CI matrices template it); ``default`` means the default engine.
    A ``PACKBIN_ENGINE_*`` naming no architecture is an error, not silently ignored.
    """
    by_var = {engine_env_var(a.name): a for a in arches}
    for var in env:
        if var.startswith(ENGINE_ENV_PREFIX) and var not in by_var and env[var].strip():
            raise ConfigError(
                f"{var} names no configured architecture{_suggest(var, by_var)}",
                hint="set PACKBIN_ENGINE_<NAME> for one of: "
                + ", ".join(by_var)
                + f" (see [architectures] in {source.name})",
            )
    choices: list[EngineChoice] = []
    for a in arches:
        var = engine_env_var(a.name)
        spec, where = env.get(var, "").strip(), var
        if spec and not engine_spec_ok(spec):
            raise ConfigError(
                f"{var}={spec!r} is not a docker context name or a unix://, tcp:// or ssh:// endpoint",
                hint="e.g. PACKBIN_ENGINE_ARM64=ssh://builder@arm-box or the name of a `docker context`",
            )
        if not spec:
            spec = str(t.table(a.name).data.get("engine", "") or "")
            where = f"{source.name} architectures.{a.name}.engine"
        if spec and spec != "default":
            choices.append(EngineChoice(arch=a.name, spec=spec, source=where))
    return tuple(choices)
