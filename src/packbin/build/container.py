"""One build container per (architecture, build): no network, sources read-only, logs out live, artifacts out.

The sources come from the sources volume (:mod:`packbin.build.sources`), mounted read-only;
dependencies from the cargo home volume that the fetch step filled (:mod:`packbin.build.fetch`)
or from the workspace's vendor tree; the compile itself runs ``--offline --locked`` with no
network at all. Caches live in named volumes owned by packbin (:mod:`packbin.build.volumes`): the
cargo home (shared), and per target triple a target directory, a zig cache and (debian profile)
the prebuilt musl std. Concurrent packbin runs on one engine take a lock per target triple (cargo
locks its own directories, but zig's global cache races on EEXIST when two builds of one target
share it).

A build, in the order it happens: the job (:mod:`packbin.build.job`: volumes, environment,
payload), the run (lock, stale-container cleanup, the container, its log read line by line by
:mod:`packbin.build.script_log`, its exit status), then the built files picked out of the
extracted tree.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from packbin.arch import Architecture
from packbin.build.extract import ExtractedFile, extract_archive
from packbin.build.job import BuildJob
from packbin.build.log import FailureClues
from packbin.build.plan import BuildStep
from packbin.build.recipe import BUILD_ROOT, BuilderImage
from packbin.build.script_log import BuildLogReader
from packbin.build.volumes import WARM, CacheSet, endpoint_key
from packbin.config.model import BuildConfig
from packbin.dist.layout import logs_dir as dist_logs_dir
from packbin.dist.manifest import Toolchain
from packbin.engine import Engine
from packbin.errors import BuildError
from packbin.util.lock import file_lock
from packbin.workspace import BinaryInputs
from packbin.workspace.inputs import unsent_inputs

log = logging.getLogger(__name__)

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
    #: binary name -> its ``BIN.metadata.json`` (cargo metadata, untrusted) in the staging dir;
    #: empty when ``[builder] auditable = false``
    metadata: dict[str, ExtractedFile]
    toolchain: Toolchain
    stripped: frozenset[str]
    warnings: tuple[str, ...]
    log_path: Path
    bytes_sent: int


def build_log_path(cfg: BuildConfig, arch: Architecture, caches: CacheSet) -> Path:
    """Where one build's full log is written (a reproducibility check's has its own)."""
    return dist_logs_dir(cfg) / (f"build-{arch.name}-fresh.log" if caches.is_fresh else f"build-{arch.name}.log")


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
    job = BuildJob.for_step(image, cfg, step, inputs, source_volume=source_volume, sources_id=sources_id, caches=caches)
    log_path = build_log_path(cfg, step.arch, caches)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    key = endpoint_key(engine)
    reader = BuildLogReader(others_running=lambda: _others_running(key, step.arch.name))
    for vol in job.cache_volumes:
        engine.ensure_volume(vol, kind="cache")
    lock = file_lock(caches.lock_path(engine, job.triple), what=f"the {job.triple} build cache", on_wait=on_line)
    with open(log_path, "w", encoding="utf-8") as lf, lock:
        if cancelled is not None and cancelled.is_set():
            raise KeyboardInterrupt

        def emit(line: str) -> None:
            lf.write(line + "\n")
            for shown in reader.feed(line):
                on_line(shown)

        status, extracted = _run_job(engine, job, step.arch, staging=staging, emit=emit, on_line=on_line)
        if status != 0:
            raise BuildError(
                f"build for {step.arch.name} ({job.triple}) failed with exit status {status}:\n{reader.last_lines()}",
                hint=_failure_hint(cfg, step, inputs, reader.clues, log_path),
            )
    return BuildOutcome(
        step=step,
        files=pick_files(step, extracted, log_path),
        metadata=pick_files(step, extracted, log_path, suffix=METADATA_SUFFIX) if cfg.builder.auditable else {},
        toolchain=reader.toolchain,
        stripped=frozenset(reader.stripped),
        warnings=tuple(reader.warnings),
        log_path=log_path,
        bytes_sent=len(job.payload),
    )


def _run_job(
    engine: Engine,
    job: BuildJob,
    arch: Architecture,
    *,
    staging: Path,
    emit: Callable[[str], None],
    on_line: Callable[[str], None],
) -> tuple[int, tuple[ExtractedFile, ...]]:
    """Run ``job`` (the caller holds the target's lock): its exit status and, when it is 0, the
    files of its output directory extracted into ``staging``."""
    # Holding the lock, no live packbin of this host builds this target: a container still
    # mounting its cache is an orphan (its packbin was killed) that would hold cargo's lock.
    for name in engine.remove_stale_containers(kind="build", volume=job.target_volume):
        on_line(f"removed stale build container {name} (its packbin process is gone)")
    key = endpoint_key(engine)
    with engine.container(
        image=job.image,
        command=list(job.command),
        kind="build",
        environment=job.environment,
        volumes=job.volumes,
        working_dir=BUILD_ROOT,
        # Build scripts and proc macros are code from the internet: no network while they run.
        network_mode="none",
    ) as c:
        c.put_tar(BUILD_ROOT, job.payload)
        _set_running(key, arch.name, True)
        try:
            status = c.run_streaming(on_line=emit)
        finally:
            _set_running(key, arch.name, False)
        if status != 0:
            return status, ()
        return 0, extract_archive(c.get_tar(job.out_dir), staging)


#: What build.sh writes beside each binary when auditable: ``BIN`` + this, cargo metadata's JSON.
METADATA_SUFFIX = ".metadata.json"


def pick_files(
    step: BuildStep, extracted: Sequence[ExtractedFile], log_path: Path, *, suffix: str = ""
) -> dict[str, ExtractedFile]:
    """binary name -> its file (``BIN`` + ``suffix``) among the extracted ones; BuildError when one is missing."""
    files: dict[str, ExtractedFile] = {}
    for t in step.targets:
        want = t.binary.name + suffix
        match = [f for f in extracted if Path(f.name).name == want]
        if not match:
            raise BuildError(f"build for {step.arch.name} produced no {want}", hint=f"see {log_path}")
        files[t.binary.name] = match[0]
    return files


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
