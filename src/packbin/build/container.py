"""One build container per (architecture, build): no network, sources read-only, logs out live, artifacts out.

The sources come from the sources volume (source_volume.py), mounted read-only; dependencies
from the cargo home volume that the fetch step filled (fetch.py) or from the workspace's vendor
tree; the compile itself runs ``--offline --locked`` with no network at all. Caches live in named
volumes owned by packbin: the cargo home (shared), and per target triple a target directory, a
zig cache and (debian profile) the prebuilt musl std. Concurrent packbin runs on one engine take a
lock per target triple (cargo locks its own directories, but zig's global cache races on EEXIST
when two builds of one target share it).
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from packbin.build.extract import ExtractedFile, extract_archive
from packbin.build.fetch import CARGO_HOME_MOUNT
from packbin.build.image import (
    BUILD_ROOT,
    BUILD_SCRIPT,
    CACHE_ROOT,
    SYSROOT,
    ZIG_CACHE_SCRIPT,
    BuilderImage,
    target_cargo_config,
    target_rustflags,
    target_rustflags_env,
)
from packbin.build.log import LOCK_WAIT, FailureClues, lock_wait_line
from packbin.build.plan import BuildStep
from packbin.build.sources import SRC_MOUNT
from packbin.build.volumes import CARGO_HOME_VOLUME, WARM, CacheSet, endpoint_key
from packbin.config.model import BuildConfig
from packbin.dist.layout import logs_dir as dist_logs_dir
from packbin.dist.manifest import Toolchain
from packbin.engine import Engine
from packbin.errors import BuildError
from packbin.util.lock import file_lock
from packbin.util.tarwriter import tar_bytes
from packbin.workspace import BinaryInputs
from packbin.workspace.inputs import unsent_inputs

log = logging.getLogger(__name__)

_TOOLCHAIN_RE = re.compile(r"^::packbin-toolchain rustc=(\S*) cargo_zigbuild=(\S*) zig=(\S*)")

#: The architectures whose build container runs now, per engine: the builds that share the cargo
#: home volume (and its package cache lock) with a build that waits for it.
_running: dict[str, set[str]] = {}
_running_lock = threading.Lock()


def _others_running(key: str, arch: str) -> list[str]:
    with _running_lock:
        return sorted(_running.get(key, set()) - {arch})


def _set_running(key: str, arch: str, running: bool) -> None:
    with _running_lock:
        names = _running.setdefault(key, set())
        if running:
            names.add(arch)
        else:
            names.discard(arch)


@dataclass(frozen=True, kw_only=True)
class BuildOutcome:
    """What one container produced (not yet verified)."""

    step: BuildStep
    files: dict[str, ExtractedFile]  # binary name -> extracted file in the staging dir
    toolchain: Toolchain
    stripped: frozenset[str]
    warnings: tuple[str, ...]
    log_path: Path
    bytes_sent: int


@dataclass
class _LogState:
    toolchain: Toolchain = field(default_factory=Toolchain)
    stripped: set[str] = field(default_factory=set)
    warnings: list[str] = field(default_factory=list)
    tail: list[str] = field(default_factory=list)
    clues: FailureClues = field(default_factory=lambda: FailureClues(src_mount=SRC_MOUNT))
    waiting_since: float | None = None  # cargo said it waits for a lock (monotonic time)


def run_build(
    engine: Engine,
    image: BuilderImage,
    cfg: BuildConfig,
    step: BuildStep,
    inputs: dict[str, BinaryInputs],
    *,
    source_volume: str,
    sources_id: str,
    staging: Path,
    on_line: Callable[[str], None],
    cancelled: threading.Event | None = None,
    caches: CacheSet = WARM,
) -> BuildOutcome:
    """Build every target of ``step`` in one container and extract the binaries into ``staging``.

    ``caches``: the warm caches, or a reproducibility check's empty set (``--check-reproducible``;
    the caller removes those).
    """
    arch = step.arch
    triple = arch.rust_target
    logs_dir = dist_logs_dir(cfg)
    logs_dir.mkdir(parents=True, exist_ok=True)
    log_path = logs_dir / (f"build-{arch.name}-fresh.log" if caches.is_fresh else f"build-{arch.name}.log")
    state = _LogState()
    names = caches.for_target(triple)
    volumes = {
        CARGO_HOME_VOLUME: CARGO_HOME_MOUNT,
        names.target: f"{BUILD_ROOT}/target",
        names.zigcache: CACHE_ROOT,
        source_volume: f"{SRC_MOUNT}:ro",
    }
    if target_rustflags(triple, profile=image.profile):  # the prebuilt std's sysroot
        volumes[names.std] = SYSROOT
    for vol in volumes:
        if vol != source_volume:
            engine.ensure_volume(vol, kind="cache")
    specs = [
        f"{t.binary.name}:{inputs[t.binary.name].package}:{SRC_MOUNT}/{inputs[t.binary.name].manifest_rel}"
        for t in step.targets
    ]
    env = dict(cfg.builder.env)
    env.update(
        {
            "CARGO_HOME": CARGO_HOME_MOUNT,
            "CARGO_TARGET_DIR": f"{BUILD_ROOT}/target",
            "PACKBIN_CARGO_PROFILE": cfg.builder.cargo_profile,
            "XDG_CACHE_HOME": CACHE_ROOT,
            "PACKBIN_SOURCES_ID": sources_id,
            "PACKBIN_LOCAL_PACKAGES": " ".join(
                sorted({p.name for t in step.targets for p in inputs[t.binary.name].workspace.packages})
            ),
        }
    )
    env.update(target_rustflags_env(triple, profile=image.profile, env=env))
    # /build/.cargo/config.toml: an ancestor of every crate, below the crates' own configs.
    payload_files: dict[str, bytes | tuple[bytes, int]] = {
        "packbin-build.sh": (BUILD_SCRIPT.encode(), 0o755),
        "packbin-zig-cache.py": (ZIG_CACHE_SCRIPT, 0o644),
        ".cargo/config.toml": (target_cargo_config([triple], profile=image.profile).encode(), 0o644),
    }
    if target_rustflags(triple, profile=image.profile):
        # The builder's [target.<triple>] rustflags make cargo drop a crate's [build] rustflags:
        # each bin that has some gets them back as target rustflags (`cargo --config FILE`).
        for t in step.targets:
            if flags := inputs[t.binary.name].build_rustflags:
                toml = f"[target.{triple}]\nrustflags = [{', '.join(json.dumps(f) for f in flags)}]\n"
                payload_files[f"packbin-flags/{t.binary.name}.toml"] = (toml.encode(), 0o644)
    payload = tar_bytes(payload_files)
    key = endpoint_key(engine)
    lock_path = caches.lock_path(engine, triple)

    def emit(line: str) -> None:
        lf.write(line + "\n")
        if state.waiting_since is not None:
            # cargo goes on without saying so: the next line means it has the lock.
            waited = time.monotonic() - state.waiting_since
            state.waiting_since = None
            if waited >= 1:
                on_line(f"cargo has the lock after {waited:.1f}s")
        if m := LOCK_WAIT.match(line):
            # Two builds on one engine share the cargo home volume; cargo's bare line reads like a hang.
            state.waiting_since = time.monotonic()
            on_line(lock_wait_line(m["what"], _others_running(key, arch.name)))
            return
        m = _TOOLCHAIN_RE.match(line)
        if m:
            state.toolchain = Toolchain(rustc=m[1], cargo_zigbuild=m[2], zig=m[3])
            return
        if line.startswith("::packbin-stripped "):
            state.stripped.add(line.split(" ", 1)[1].strip())
            return
        if line.startswith("::packbin-step "):
            line = line.split(" ", 1)[1]
        if line.startswith("::packbin-warning "):
            state.warnings.append(line.split(" ", 1)[1])
        state.tail.append(line)
        del state.tail[:-60]
        state.clues.feed(line)
        on_line(line)

    with (
        open(log_path, "w", encoding="utf-8") as lf,
        file_lock(lock_path, what=f"the {triple} build cache", on_wait=on_line),
    ):
        if cancelled is not None and cancelled.is_set():
            raise KeyboardInterrupt
        # Holding the lock, no live packbin of this host builds this target: a container still
        # mounting its cache is an orphan (its packbin was killed) that would hold cargo's lock.
        for name in engine.remove_stale_containers(kind="build", volume=names.target):
            on_line(f"removed stale build container {name} (its packbin process is gone)")
        with engine.container(
            image=image.tag,
            command=["/bin/sh", f"{BUILD_ROOT}/packbin-build.sh", triple, "1" if cfg.builder.strip else "0", *specs],
            kind="build",
            environment=env,
            volumes=volumes,
            working_dir=BUILD_ROOT,
            # Build scripts and proc macros are code from the internet: no network while they run.
            network_mode="none",
        ) as c:
            engine.put_tar(c, BUILD_ROOT, payload)
            _set_running(key, arch.name, True)
            try:
                status = engine.run_streaming(c, on_line=emit)
            finally:
                _set_running(key, arch.name, False)
            if status != 0:
                tail = "\n".join(state.tail[-25:])
                raise BuildError(
                    f"build for {arch.name} ({triple}) failed with exit status {status}:\n{tail}",
                    hint=_failure_hint(cfg, step, inputs, state.clues, log_path),
                )
            chunks, _ = engine.get_tar(c, f"{BUILD_ROOT}/out/{triple}")
            extracted = extract_archive(chunks, staging)
    files: dict[str, ExtractedFile] = {}
    for t in step.targets:
        match = [f for f in extracted if Path(f.name).name == t.binary.name]
        if not match:
            raise BuildError(f"build for {arch.name} produced no {t.binary.name}", hint=f"see {log_path}")
        files[t.binary.name] = match[0]
    return BuildOutcome(
        step=step,
        files=files,
        toolchain=state.toolchain,
        stripped=frozenset(state.stripped),
        warnings=tuple(state.warnings),
        log_path=log_path,
        bytes_sent=len(payload),
    )


def _failure_hint(
    cfg: BuildConfig, step: BuildStep, inputs: dict[str, BinaryInputs], clues: FailureClues, log_path: Path
) -> str:
    """Where to look after a failed build; first, a path the log says is missing that the checkout
    has but packbin did not send (a build script reading outside its package)."""
    where = f"the full log is {log_path}; nothing was installed"
    names = [t.binary.name for t in step.targets]
    # The bin being built when it failed first, then the step's others.
    for name in sorted(names, key=lambda n: n != clues.binary):
        bi = inputs[name]
        missing = unsent_inputs(cfg.root, bi, clues.paths(bi.package_dir))
        if missing:
            return (
                f"{missing[0]} exists in the checkout but is not among the inputs packbin sends; "
                f"add it to inputs = [...] of binary {name} in {cfg.source.name} ({where})"
            )
    return where
