"""Which architecture, when the user names none: the host's platform and the deploy architecture.

The deploy architecture (the one whose binaries go into packs/ and the init image) is, in order:
an explicit ``--deploy-arch``/``--arch``, buildcfg.toml's ``deploy_arch``, else the engine's
native platform. Every command that needs it (build, init-packs, smoke, the init image) asks here.
"""

from __future__ import annotations

import os
import platform
from typing import TYPE_CHECKING

from packbin.arch import MACHINE_TO_PLATFORM, Architecture
from packbin.errors import BuildError

if TYPE_CHECKING:
    from packbin.config.model import BuildConfig
    from packbin.engine import Engine


def host_platform() -> str:
    """This machine's Docker platform (``linux/amd64``), "" for a machine packbin has no name for."""
    return MACHINE_TO_PLATFORM.get(platform.machine(), "")


def resolve_deploy_arch(cfg: BuildConfig, requested: str | None, engine: Engine | None) -> Architecture:
    """--deploy-arch, else buildcfg.toml deploy_arch, else the engine's native platform.

    Without a connection yet (the up-to-date path must not need one), a local engine's native
    platform is the host's; a remote engine (tcp://, ssh://) is asked.
    """
    if requested:
        return cfg.arch(requested)
    if cfg.deploy_arch:
        return cfg.arch(cfg.deploy_arch)
    if engine is None:
        host = os.environ.get("DOCKER_HOST", "")
        if host and not host.startswith("unix://"):
            from packbin.engine import connect

            engine = connect()
    native = engine.native_platform if engine is not None else host_platform()
    arch = cfg.arch_for_platform(native)
    if arch is None:
        raise BuildError(
            f"the engine's native platform {native or platform.machine()!r} is not a configured architecture",
            hint="pass --deploy-arch, or set deploy_arch in buildcfg.toml",
        )
    return arch


__all__ = ["host_platform", "resolve_deploy_arch"]
