"""build-pack-binaries: config -> inputs -> plan -> builder image -> sources volume -> fetch -> build containers
-> extract -> verify -> install -> report.

This module only sequences the steps; each lives in its own module. Nothing is installed until
every artifact of the run has been extracted and verified; Ctrl-C removes the run's containers
and leaves dist/ and packs/ as they were (or with whole new files, never half files).
"""

from __future__ import annotations

import concurrent.futures as cf
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from packbin.arch_defaults import resolve_deploy_arch
from packbin.cache import cache_dir
from packbin.config import BuildConfig
from packbin.digest import sha256_file
from packbin.dist import manifest_relpath
from packbin.errors import ArtifactRejected, BuildError, Interrupted, PackbinError, UsageError
from packbin.install import VerifiedArtifact, check_destinations, install
from packbin.lock import file_lock
from packbin.manifest import Manifest
from packbin.plan import BuildPlan, make_plan
from packbin.report import BuildReport, write_report
from packbin.verify import verify_file
from packbin.workspace import BinaryInputs, collect_all, merge_payload

if TYPE_CHECKING:
    from packbin.build_container import BuildOutcome
    from packbin.builder_image import BuilderImage
    from packbin.engine import Engine
    from packbin.source_volume import SyncResult

# The Docker SDK (and requests) are imported only when a container is needed: the up-to-date
# path must answer well under half a second.


@dataclass(frozen=True, kw_only=True)
class BuildRequest:
    """What the user asked for (the task's flags, already parsed)."""

    arch: str | None = None  # None: the configured default; "all"; or names/aliases, comma-separated
    binaries: tuple[str, ...] = ()
    jobs: int | None = None  # None: every architecture at once
    force: bool = False
    deploy_arch: str | None = None
    as_json: bool = False
    rebuild_image: bool = False
    dry_run: bool = False  # print the plan; no engine, no container, nothing written


@dataclass
class _Console:
    """Human progress: stderr when stdout carries JSON. Serialised across build threads."""

    stream: TextIO
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, line: str) -> None:
        with self.lock:
            self.stream.write(line + "\n")
            self.stream.flush()


def build_pack_binaries(
    cfg: BuildConfig, req: BuildRequest, *, out: TextIO = sys.stdout, err: TextIO = sys.stderr
) -> BuildReport | None:
    """Run the whole job; raises a PackbinError subclass on failure (nothing installed then).

    None for a dry run, which only prints the plan.
    """
    started = time.monotonic()
    console = _Console(err if req.as_json else out)
    arches = cfg.select_arches(req.arch)
    binaries = cfg.select_binaries(req.binaries)
    if not binaries:
        raise BuildError(f"{cfg.source.name} declares no [[binaries]]", hint="add a [[binaries]] table (see README)")
    if req.jobs is not None and req.jobs < 1:
        raise UsageError(f"--jobs must be at least 1, got {req.jobs}")
    inputs = {i.binary_name: i for i in collect_all(cfg, binaries)}
    deploy = resolve_deploy_arch(cfg, req.deploy_arch, None)
    manifest_path = cfg.root / manifest_relpath(cfg)
    manifest = Manifest.load(manifest_path)

    def file_sha(rel: str) -> str | None:
        p = cfg.root / rel
        return sha256_file(p) if p.is_file() else None

    plan = make_plan(
        cfg,
        arches,
        binaries,
        source_hashes={n: i.digest for n, i in inputs.items()},
        manifest=manifest,
        deploy_arch=deploy.name,
        file_sha256=file_sha,
        force=req.force,
    )
    if req.dry_run:
        from packbin.report import write_plan

        write_plan(plan, out=out, as_json=req.as_json)
        return None
    # Refuse a planted symlink in packs/ or dist/ before spending minutes on a build.
    check_destinations(cfg.root, (*(t for step in plan.steps for t in step.targets), *plan.reinstall))
    image: BuilderImage | None = None
    outcomes: list[BuildOutcome] = []
    warnings: list[str] = []
    written: list[str] = []
    bytes_sent = 0
    if plan.steps:
        from packbin.builder_image import ensure_builder_image
        from packbin.engine import connect
        from packbin.fetch import fetch_dependencies
        from packbin.source_volume import endpoint_key, source_volume_name, sync_sources

        engine = connect()
        image = ensure_builder_image(engine, cfg, rebuild=req.rebuild_image, echo=console)
        cfg.dist_dir.mkdir(parents=True, exist_ok=True)
        needed = [inputs[t.binary.name] for step in plan.steps for t in step.targets]
        files, stubs = merge_payload(needed)
        volume = source_volume_name(cfg)
        # One run at a time per sources volume: its content must not change under a build.
        with (
            file_lock(
                cache_dir() / "locks" / f"{endpoint_key(engine)}-{volume}.lock",
                what="the sources volume",
                on_wait=console,
            ),
            tempfile.TemporaryDirectory(prefix=".staging-", dir=cfg.dist_dir) as staging_root,
        ):
            sync = sync_sources(engine, image.tag, cfg, files, stubs, echo=console)
            bytes_sent += sync.bytes_sent
            fetch_dependencies(
                engine, image.tag, cfg, needed, source_volume=volume, on_line=lambda line: console(f"[fetch] {line}")
            )
            outcomes = _run_steps(engine, image, cfg, plan, inputs, sync, Path(staging_root), req.jobs, console)
            bytes_sent += sum(o.bytes_sent for o in outcomes)
            verified = _verify(outcomes, image, console)
            for o in outcomes:
                warnings.extend(f"{o.step.arch.name}: {w}" for w in o.warnings)
            manifest, written = install(cfg, verified, plan.reinstall, manifest)
    elif plan.reinstall:
        manifest, written = install(cfg, [], plan.reinstall, manifest)
    report = BuildReport.make(
        cfg=cfg,
        plan=plan,
        manifest=manifest,
        written=written,
        warnings=warnings,
        builder_image=image.tag if image else None,
        seconds=time.monotonic() - started,
        bytes_sent=bytes_sent,
    )
    for w in warnings:
        console(f"warning: {w}")
    write_report(report, out=out, as_json=req.as_json)
    return report


def _run_steps(
    engine: Engine,
    image: BuilderImage,
    cfg: BuildConfig,
    plan: BuildPlan,
    inputs: dict[str, BinaryInputs],
    sync: SyncResult,
    staging_root: Path,
    jobs: int | None,
    console: Callable[[str], None],
) -> list[BuildOutcome]:
    from packbin.build_container import run_build

    cancelled = threading.Event()
    width = max(len(s.arch.name) for s in plan.steps)

    def one(step_index: int) -> BuildOutcome:
        step = plan.steps[step_index]
        prefix = f"[{step.arch.name:<{width}}] "
        names = ", ".join(t.binary.name for t in step.targets)
        console(f"{prefix}building {names} for {step.arch.rust_target}")
        staging = staging_root / step.arch.name
        staging.mkdir()
        t0 = time.monotonic()
        outcome = run_build(
            engine,
            image,
            cfg,
            step,
            inputs,
            source_volume=sync.volume,
            sources_id=sync.volume_id,
            staging=staging,
            on_line=lambda line: console(prefix + line),
            cancelled=cancelled,
        )
        console(f"{prefix}done in {time.monotonic() - t0:.1f}s")
        return outcome

    workers = len(plan.steps) if jobs is None else min(jobs, len(plan.steps))
    pool = cf.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="packbin-build")
    futures = [pool.submit(one, i) for i in range(len(plan.steps))]
    try:
        # wait() with a timeout keeps the main thread interruptible by Ctrl-C.
        pending = set(futures)
        while pending:
            done, pending = cf.wait(pending, timeout=0.2, return_when=cf.FIRST_EXCEPTION)
            failed = [f for f in done if f.exception() is not None]
            if failed:
                cancelled.set()
                engine.remove_live_containers()
                for f in pending:
                    f.cancel()
                cf.wait(pending)
                pool.shutdown(wait=True)
                exc = failed[0].exception()
                assert exc is not None
                raise exc
    except KeyboardInterrupt:
        cancelled.set()
        for f in futures:
            f.cancel()
        n = engine.remove_live_containers()
        pool.shutdown(wait=True, cancel_futures=True)
        raise Interrupted(f"interrupted: removed {n} build container(s); nothing was installed") from None
    pool.shutdown(wait=True)
    return [f.result() for f in futures]


def _verify(
    outcomes: list[BuildOutcome], image: BuilderImage, console: Callable[[str], None]
) -> list[VerifiedArtifact]:
    """Verify every artifact of the run before any is installed."""
    verified: list[VerifiedArtifact] = []
    problems: list[str] = []
    for o in outcomes:
        for t in o.step.targets:
            f = o.files[t.binary.name]
            result = verify_file(f.path, t.arch)
            if not result.ok:
                problems.append(f"{t.arch.name}/{t.binary.name}: " + "; ".join(result.problems))
                continue
            console(f"verified {t.arch.name}/{t.binary.name}: static {t.arch.name} executable, {f.size} bytes")
            verified.append(
                VerifiedArtifact(
                    target=t,
                    staged=f.path,
                    stripped=bool(result.info and result.info.stripped),
                    toolchain=o.toolchain,
                    builder_image=image.tag,
                )
            )
    if problems:
        raise ArtifactRejected(
            "artifact rejected, nothing installed:\n  " + "\n  ".join(problems),
            hint="pack binaries must be static musl executables: check the crate's build script and linker flags (cargo zigbuild cannot link glibc statically)",
        )
    return verified


__all__ = ["BuildRequest", "PackbinError", "build_pack_binaries", "resolve_deploy_arch"]
