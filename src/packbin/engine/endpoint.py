"""Where the engine is: chosen like the docker CLI does, without running it.

``DOCKER_HOST``, else the current context (``DOCKER_CONTEXT`` or ``currentContext`` in
``~/.docker/config.json``: colima, Docker Desktop and rootless sockets live there), else the
well-known sockets. Also the hint shown when an endpoint cannot be reached.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packbin.errors import EngineError

_DEFAULT_UNIX = "unix:///var/run/docker.sock"


@dataclass(frozen=True, kw_only=True)
class Endpoint:
    """Where the engine is expected, and why that one."""

    host: str
    source: str  # "DOCKER_HOST", "context colima", "default socket", ...
    tls: Any = None  # docker.tls.TLSConfig | None
    warnings: tuple[str, ...] = ()  # e.g. a malformed config.json, which the docker CLI warns about too
    #: TLS as DOCKER_TLS_VERIFY / DOCKER_CERT_PATH say, as for DOCKER_HOST (an endpoint named by
    #: DOCKER_HOST itself, or by an architecture's ``engine``).
    env_tls: bool = False


def _docker_config_dir(env: Mapping[str, str]) -> Path:
    return Path(env.get("DOCKER_CONFIG") or Path.home() / ".docker")


def resolve_endpoint(env: Mapping[str, str] | None = None, *, spec: str | None = None, source: str = "") -> Endpoint:
    """Choose the engine endpoint the way the docker CLI does (without running it).

    ``spec``: an architecture's own engine (``engine`` in buildcfg.toml or ``PACKBIN_ENGINE_<NAME>``,
    named by ``source``): an endpoint URL, or a docker context name. Without one, the default engine.
    """
    env = os.environ if env is None else env
    current, warnings = _current_context(_docker_config_dir(env) / "config.json")
    if spec:
        if "://" in spec:
            return Endpoint(host=spec, source=source or spec, warnings=warnings, env_tls=True)
        return _context_endpoint(env, spec, source or "engine", warnings)
    if env.get("DOCKER_HOST"):
        return Endpoint(host=env["DOCKER_HOST"], source="DOCKER_HOST", warnings=warnings, env_tls=True)
    name = env.get("DOCKER_CONTEXT")
    source = "DOCKER_CONTEXT"
    if not name:
        source = "docker context"
        name = current
    if name and name != "default":
        return _context_endpoint(env, name, source, warnings)
    for candidate in _default_sockets(env):
        if Path(candidate).exists():
            return Endpoint(host=f"unix://{candidate}", source="default socket", warnings=warnings)
    return Endpoint(host=_DEFAULT_UNIX, source="default socket", warnings=warnings)


def _context_endpoint(env: Mapping[str, str], name: str, source: str, warnings: tuple[str, ...]) -> Endpoint:
    """The endpoint and TLS material of docker context ``name`` (contexts/meta/<sha256(name)>/meta.json)."""
    meta = _docker_config_dir(env) / "contexts" / "meta" / hashlib.sha256(name.encode()).hexdigest() / "meta.json"
    try:
        data = json.loads(meta.read_text())
        host = data["Endpoints"]["docker"]["Host"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        # OSError's str() repeats the path; say it once.
        why = e.strerror if isinstance(e, OSError) and e.strerror else f"no {e}" if isinstance(e, KeyError) else str(e)
        raise EngineError(
            f"docker context {name!r} (from {source}) cannot be read at {meta}: {why}",
            hint="run `docker context ls` to check it, or set DOCKER_HOST to the engine's socket",
        ) from e
    skip_verify = bool(data["Endpoints"]["docker"].get("SkipTLSVerify", False))
    return Endpoint(
        host=str(host),
        source=f"{source} {name!r}",
        tls=_context_tls(env, name, skip_verify=skip_verify),
        warnings=warnings,
    )


def _current_context(config_json: Path) -> tuple[str | None, tuple[str, ...]]:
    """``currentContext`` of the docker CLI's config.json, and a warning when the file is malformed.

    A missing file is normal (no context set). A malformed one is ignored with a warning, as the
    docker CLI does ("WARNING: Error loading config file").
    """
    try:
        text = config_json.read_text()
    except FileNotFoundError:
        return None, ()
    except OSError as e:
        return None, (f"cannot read {config_json}: {e.strerror}; its currentContext is ignored",)
    try:
        doc = json.loads(text)
    except ValueError as e:
        return None, (f"error loading {config_json}: {e}; its currentContext is ignored",)
    if not isinstance(doc, dict):
        return None, (f"error loading {config_json}: not a JSON object; its currentContext is ignored",)
    name = doc.get("currentContext")
    if name is not None and not isinstance(name, str):
        return None, (f"{config_json}: currentContext is not a string; ignored",)
    return name or None, ()


def _context_tls(env: Mapping[str, str], name: str, *, skip_verify: bool) -> Any:
    """The context's TLS material (contexts/tls/<sha256(name)>/docker/{ca,cert,key}.pem), like the CLI.

    None when the context stores none (a unix socket, or a plain tcp:// endpoint).
    """
    from docker.tls import TLSConfig

    tls_dir = _docker_config_dir(env) / "contexts" / "tls" / hashlib.sha256(name.encode()).hexdigest() / "docker"
    ca, cert, key = (tls_dir / "ca.pem", tls_dir / "cert.pem", tls_dir / "key.pem")
    if not (ca.is_file() or cert.is_file()):
        return None
    return TLSConfig(
        client_cert=(str(cert), str(key)) if cert.is_file() and key.is_file() else None,
        ca_cert=str(ca) if ca.is_file() else None,
        verify=not skip_verify and ca.is_file(),
    )


def _default_sockets(env: Mapping[str, str]) -> list[str]:
    home = Path.home()
    socks = ["/var/run/docker.sock"]
    if env.get("XDG_RUNTIME_DIR"):
        socks.append(f"{env['XDG_RUNTIME_DIR']}/docker.sock")  # rootless
    socks += [
        str(home / ".docker/run/docker.sock"),  # Docker Desktop (macOS)
        str(home / ".colima/default/docker.sock"),
        str(home / ".rd/docker.sock"),  # Rancher Desktop
    ]
    return socks


#: Appended to the unreachable-engine hint; doctor, which is that check, leaves it out.
DOCTOR_HINT = "; `packbin doctor` checks the setup"


def engine_hint(endpoint: Endpoint) -> str:
    """What to try when the engine at ``endpoint`` does not answer (ssh, tcp or a local socket)."""
    if endpoint.host.startswith("ssh://"):
        target, _, port = endpoint.host.removeprefix("ssh://").partition(":")
        args = f"-p {port} {target}" if port else target
        return (
            f"check that `ssh {args} docker system dial-stdio` connects (ssh's message above says why not:"
            " keys come from ssh-agent or ~/.ssh/config, the host must be in known_hosts)" + DOCTOR_HINT
        )
    source = endpoint.source.split(" '")[0]
    if source.startswith("PACKBIN_ENGINE_") or ".engine" in endpoint.source:
        # An architecture's own engine: DOCKER_HOST is not what chose it.
        return f"start that engine, or point {source} at a running one (`default`: the default engine)" + DOCTOR_HINT
    if sys.platform == "darwin":
        return "start Docker Desktop or colima (`colima start`), or point DOCKER_HOST at a running engine" + DOCTOR_HINT
    return (
        "start the engine (`sudo systemctl start docker`, or `dockerd &`), or point DOCKER_HOST at a running engine"
        + DOCTOR_HINT
    )
