"""doctor: is this machine ready to build and run pack binaries? Says what to do about each problem."""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from packbin.build.deploy_arch import host_platform
from packbin.config.model import BuildConfig
from packbin.engine.binfmt import foreign_exec
from packbin.errors import CheckFailed, ConfigError, EngineError

LOW_DISK = 10 << 30  # the builder image alone is about 2.4 GB


@dataclass(frozen=True, kw_only=True)
class Finding:
    """One line of the doctor's report: its level, what was checked, the detail and a hint."""

    level: str  # "ok" | "warn" | "FAIL"
    what: str
    detail: str
    hint: str = ""


def _disk(path: Path, what: str) -> Finding:
    try:
        free = shutil.disk_usage(path).free
    except OSError as e:
        return Finding(level="warn", what=what, detail=f"cannot check {path}: {e.strerror}")
    level = "ok" if free >= LOW_DISK else "warn"
    return Finding(
        level=level,
        what=what,
        detail=f"{free / (1 << 30):.1f} GiB free at {path}",
        hint="" if level == "ok" else "free some space: the builder image needs about 2.4 GB, caches more",
    )


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else plural or word + 's'}"


def findings() -> list[Finding]:
    """Every check, in order. An unreachable engine is one FAIL; the checks that need no engine
    (foreign-arch execution on this host, disk space) still run."""
    from packbin.engine import DOCTOR_HINT, Engine, connect, resolve_endpoint

    cfg, config_finding = _config()
    out: list[Finding] = [config_finding]
    engine: Engine | None = None
    try:
        for warning in resolve_endpoint().warnings:
            out.append(
                Finding(
                    level="warn",
                    what="docker config",
                    detail=warning,
                    hint="fix or remove the file (the docker CLI warns about it too)",
                )
            )
        engine = connect(warn=False)
    except EngineError as e:
        out.append(
            Finding(level="FAIL", what="engine", detail=e.message, hint=(e.hint or "").removesuffix(DOCTOR_HINT))
        )
    if engine is not None:
        info = engine.info()
        out.append(
            Finding(
                level="ok",
                what="engine",
                detail=f"{info.endpoint} (from {info.source}), Docker {info.server_version}, API {info.api_version}, {info.ncpu} CPUs",
            )
        )
        out.append(Finding(level="ok", what="native platform", detail=info.platform))
        platform = info.platform
        local = info.endpoint.startswith("unix://") or info.endpoint.startswith("npipe://")
    else:
        # Without an engine, say what this host could run once a local engine is up.
        platform = host_platform()
        local = True
    if cfg is not None:
        out.extend(_foreign_exec(cfg, platform, local=local, on_host=engine is None))
        if engine is not None:
            from packbin.build.image import BASE_REPO, IMAGE_REPO

            images = engine.image_tags(IMAGE_REPO)
            out.append(
                Finding(
                    level="ok",
                    what="builder image",
                    detail=", ".join(images) if images else "not built yet (the first build makes it: a few minutes)",
                )
            )
            if (
                cfg.builder.profile != "rustup"
                and shutil.which("debootstrap") is None
                and not engine.image_tags(BASE_REPO)
            ):
                out.append(
                    Finding(
                        level="warn",
                        what="debootstrap",
                        detail="not installed; needed only when no Debian base image can be pulled",
                        hint="apt-get install debootstrap",
                    )
                )
        out.extend(_arch_engines(cfg))
        out.append(_disk(cfg.root, "disk (repository)"))
    if engine is not None:
        info = engine.info()
        if local and info.root_dir and Path(info.root_dir).exists():
            out.append(_disk(Path(info.root_dir), "disk (engine)"))
    return out


def _config() -> tuple[BuildConfig | None, Finding]:
    """buildcfg.toml loaded (None when it cannot be) and what doctor says about it."""
    try:
        cfg = BuildConfig.load()
    except ConfigError as e:
        return None, Finding(level="FAIL", what="config", detail=e.message, hint=e.hint or "")
    return cfg, Finding(
        level="ok",
        what="config",
        detail=f"{cfg.source} ({_plural(len(cfg.architectures), 'architecture')}, {_plural(len(cfg.binaries), 'binary', 'binaries')}, default {cfg.default_arch} from {cfg.default_arch_source})",
    )


def _foreign_exec(cfg: BuildConfig, platform: str, *, local: bool, on_host: bool) -> list[Finding]:
    """Whether each architecture's binaries can run where the smoke runs go (``on_host``: no engine
    was reached, so this host)."""
    native = cfg.arch_for_platform(platform)
    out: list[Finding] = []
    for arch in cfg.architectures:
        fe = foreign_exec(arch, native=native.name if native else "", local_engine=local)
        level = "ok" if fe.runnable else "warn"
        what = f"run {arch.name} binaries" + (" (on this host)" if on_host else "")
        detail = (
            fe.reason
            if fe.runnable is not False
            else f"no: {fe.reason} (builds still work; smoke runs of {arch.name} are skipped)"
        )
        out.append(Finding(level=level, what=what, detail=detail, hint=fe.hint))
    return out


def _arch_engines(cfg: BuildConfig) -> list[Finding]:
    """One finding per architecture-specific engine (``engine`` / ``PACKBIN_ENGINE_<NAME>``)."""
    from packbin.build.image import IMAGE_REPO
    from packbin.engine import connect
    from packbin.engine.endpoint import DOCTOR_HINT

    out: list[Finding] = []
    for choice in cfg.engines:
        what = f"engine for {choice.arch}"
        try:
            engine = connect(spec=choice.spec, source=choice.source, purpose=f"for {choice.arch}", warn=False)
            info = engine.info()
            images = engine.image_tags(IMAGE_REPO)
        except EngineError as e:
            out.append(
                Finding(level="FAIL", what=what, detail=e.message, hint=(e.hint or "").removesuffix(DOCTOR_HINT))
            )
            continue
        arch = cfg.arch(choice.arch)
        how = "native" if info.platform == arch.docker_platform else f"cross-compiled on {info.platform}"
        out.append(
            Finding(
                level="ok",
                what=what,
                detail=f"{info.endpoint} (from {choice.source}), Docker {info.server_version}, {info.ncpu} CPUs, "
                f"{how}; builder image: {', '.join(images) if images else 'not built yet'}",
            )
        )
    return out


def run_doctor(out: TextIO = sys.stdout) -> None:
    """Print the findings; exit 3 when the engine is unreachable, 1 for any other FAIL."""
    found = findings()
    for f in found:
        out.write(f"{f.level:<4}  {f.what}: {f.detail}\n")
        if f.hint:
            out.write(f"      -> {f.hint}\n")
    failed = [f for f in found if f.level == "FAIL"]
    if failed:
        message = f"{_plural(len(failed), 'problem')} {'needs' if len(failed) == 1 else 'need'} fixing: " + ", ".join(
            f.what for f in failed
        )
        if any(f.what == "engine" or f.what.startswith("engine for ") for f in failed):
            raise EngineError(message)
        raise CheckFailed(message)
