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

from packbin.arch import Architecture
from packbin.build.install import VerifiedArtifact, check_destinations, check_install_paths, install
from packbin.build.plan import BuildStep, make_plan
from packbin.build.report import BuildReport, ReproCheck, write_report
from packbin.config.model import BuildConfig, PackBinary
from packbin.dist.layout import manifest_relpath
from packbin.dist.manifest import Manifest
from packbin.elf.verify import verify_file
from packbin.engine.deploy_arch import resolve_deploy_arch
from packbin.errors import ArtifactRejected, BuildError, CheckFailed, Interrupted, PackbinError, UsageError
from packbin.util.digest import sha256_file
from packbin.util.dirs import cache_dir
from packbin.util.lock import file_lock
from packbin.workspace import BinaryInputs, collect_all, merge_payload

if TYPE_CHECKING:
    from packbin.build.container import BuildOutcome
    from packbin.build.image import BuilderImage
    from packbin.build.sources import SyncResult
    from packbin.engine import Engine
    from packbin.engine.routing import Route

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
    check_reproducible: bool = False  # then rebuild every selected binary in fresh volumes and compare


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
    # A directory (or a file below which one is expected) at a destination: refused now, not after the builds.
    check_install_paths(cfg, plan.all_targets)
    if req.dry_run:
        from packbin.build.report import write_plan

        write_plan(plan, out=out, as_json=req.as_json)
        return None
    # Refuse a planted symlink in packs/ or dist/ before spending minutes on a build.
    check_destinations(cfg.root, (*(t for step in plan.steps for t in step.targets), *plan.reinstall))
    images: list[str] = []
    warnings: list[str] = []
    written: list[str] = []
    bytes_sent = 0
    routes: list[Route] = []
    if plan.steps or req.check_reproducible:
        from packbin.engine.routing import connect_routes

        # Every engine is reached before anything starts: an unreachable one fails in seconds.
        # --check-reproducible rebuilds every selected architecture, so it needs all their engines.
        wanted = arches if req.check_reproducible else tuple(dict.fromkeys(step.arch for step in plan.steps))
        routes = connect_routes(cfg, wanted)
    if plan.steps:
        cfg.dist_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=".staging-", dir=cfg.dist_dir) as staging_root:
            lanes = _lanes(routes, plan.steps)
            results = _run_lanes(lanes, cfg, req, inputs, Path(staging_root), console)
            outcomes = [o for r in results for o in r.outcomes]
            bytes_sent = sum(r.bytes_sent for r in results)
            images = list(dict.fromkeys(r.image.tag for r in results))
            verified = _verify(outcomes, {o.step.arch.name: r.image for r in results for o in r.outcomes}, console)
            for o in outcomes:
                warnings.extend(f"{o.step.arch.name}: {w}" for w in o.warnings)
            manifest, written = install(cfg, verified, plan.reinstall, manifest)
    elif plan.reinstall:
        manifest, written = install(cfg, [], plan.reinstall, manifest)
    repro: tuple[ReproCheck, ...] = ()
    if req.check_reproducible:
        repro = _check_reproducible(cfg, req, routes, arches, binaries, inputs, manifest, deploy.name, console)
    report = BuildReport.make(
        cfg=cfg,
        plan=plan,
        manifest=manifest,
        written=written,
        warnings=warnings,
        builder_image=", ".join(images) or None,
        seconds=time.monotonic() - started,
        bytes_sent=bytes_sent,
        reproducible=repro,
    )
    for w in warnings:
        console(f"warning: {w}")
    write_report(report, out=out, as_json=req.as_json)
    different = [r for r in repro if not r.identical]
    if different:
        raise CheckFailed(
            "not reproducible: "
            + "; ".join(
                f"{r.arch}/{r.binary} is {r.sha256[:16]} in dist/, {r.fresh_sha256[:16]} from fresh volumes"
                for r in different
            ),
            hint=f"compare the two build logs in {cfg.dist_dir / 'logs'} (build-<arch>.log and build-<arch>-fresh.log); the installed binaries are unchanged",
        )
    return report


def _check_reproducible(
    cfg: BuildConfig,
    req: BuildRequest,
    routes: list[Route],
    arches: tuple[Architecture, ...],
    binaries: tuple[PackBinary, ...],
    inputs: dict[str, BinaryInputs],
    manifest: Manifest,
    deploy_arch: str,
    console: Callable[[str], None],
) -> tuple[ReproCheck, ...]:
    """Rebuild every selected binary in fresh target, zig-cache and std volumes on its engine and
    compare the bytes with the artifact in dist/. The fresh volumes are removed afterwards."""
    import uuid

    from packbin.build.container import fresh_volumes

    everything = make_plan(
        cfg,
        arches,
        binaries,
        source_hashes={n: i.digest for n, i in inputs.items()},
        manifest=manifest,
        deploy_arch=deploy_arch,
        file_sha256=lambda rel: None,
        force=True,
    )
    token = uuid.uuid4().hex[:10]
    console(
        f"check-reproducible: rebuilding {len(everything.steps)} architecture(s) in fresh volumes (packbin-repro-{token}-*)"
    )
    try:
        with tempfile.TemporaryDirectory(prefix=".staging-repro-", dir=cfg.dist_dir) as staging_root:
            lanes = _lanes(routes, everything.steps)
            results = _run_lanes(lanes, cfg, req, inputs, Path(staging_root), console, fresh=token)
            checks: list[ReproCheck] = []
            for lane, result in zip(lanes, results):
                for o in result.outcomes:
                    for t in o.step.targets:
                        art = manifest.find(t.arch.name, t.binary.name)
                        assert art is not None, (t.arch.name, t.binary.name)
                        checks.append(
                            ReproCheck(
                                arch=t.arch.name,
                                binary=t.binary.name,
                                sha256=art.sha256,
                                fresh_sha256=sha256_file(o.files[t.binary.name].path),
                                engine=lane.route.engine.endpoint.host,
                            )
                        )
    finally:
        for r in routes:
            for a in r.arches:
                for volume in fresh_volumes(a.rust_target, token).values():
                    r.engine.remove_volume(volume)
    return tuple(checks)


@dataclass(frozen=True, kw_only=True)
class _Lane:
    """One engine's share of the run: its builder image, sources volume, fetch and build steps."""

    route: Route
    steps: tuple[BuildStep, ...]
    several: bool  # more than one engine in this run: prefix the engine's own lines

    def prefix(self) -> str:
        return f"[{self.route.label}] " if self.several else ""


def _lanes(routes: list[Route], steps: tuple[BuildStep, ...]) -> list[_Lane]:
    """One lane per engine that has steps to run."""
    shares = [(r, tuple(s for s in steps if s.arch in r.arches)) for r in routes]
    shares = [(r, mine) for r, mine in shares if mine]
    return [_Lane(route=r, steps=mine, several=len(shares) > 1) for r, mine in shares]


@dataclass(frozen=True, kw_only=True)
class _LaneResult:
    image: BuilderImage
    outcomes: tuple[BuildOutcome, ...]
    bytes_sent: int


def _run_lanes(
    lanes: list[_Lane],
    cfg: BuildConfig,
    req: BuildRequest,
    inputs: dict[str, BinaryInputs],
    staging_root: Path,
    console: Callable[[str], None],
    *,
    fresh: str = "",
) -> list[_LaneResult]:
    """Run every engine's lane at once; the first failure cancels the others.

    Lanes run in daemon threads and the main thread only waits, so Ctrl-C (or SIGTERM) lands
    here: every engine's live containers are removed and nothing is installed. A builder image
    build still streaming in a lane is cancelled by the engine when the process exits.
    """
    cancelled = threading.Event()
    total = sum(len(lane.steps) for lane in lanes)
    slots = threading.Semaphore(total if req.jobs is None else min(req.jobs, total))
    results: dict[int, _LaneResult] = {}
    errors: list[BaseException] = []
    errors_lock = threading.Lock()

    def stop_all() -> int:
        cancelled.set()
        return sum(lane.route.engine.remove_live_containers() for lane in lanes)

    def main(i: int) -> None:
        try:
            results[i] = _run_lane(lanes[i], cfg, req, inputs, staging_root, console, cancelled, slots, fresh)
        except BaseException as e:  # noqa: BLE001 - handed to the main thread, which raises it
            # The first error is the cause; lanes failing after stop_all() only report its effect.
            with errors_lock:
                errors.append(e)
            stop_all()

    threads = [
        threading.Thread(target=main, args=(i,), daemon=True, name=f"packbin-lane-{lane.route.label}")
        for i, lane in enumerate(lanes)
    ]
    for th in threads:
        th.start()
    try:
        for th in threads:
            while th.is_alive():
                th.join(0.2)  # a timeout keeps the main thread interruptible
    except KeyboardInterrupt:
        n = stop_all()
        raise Interrupted(f"interrupted: removed {n} build container(s); nothing was installed") from None
    if errors:
        raise errors[0]
    return [results[i] for i in range(len(lanes))]


def _run_lane(
    lane: _Lane,
    cfg: BuildConfig,
    req: BuildRequest,
    inputs: dict[str, BinaryInputs],
    staging_root: Path,
    console: Callable[[str], None],
    cancelled: threading.Event,
    slots: threading.Semaphore,
    fresh: str,
) -> _LaneResult:
    from packbin.build.fetch import fetch_dependencies
    from packbin.build.image import ensure_builder_image
    from packbin.build.sources import endpoint_key, source_volume_name, sync_sources

    engine = lane.route.engine
    prefix = lane.prefix()

    def echo(line: str) -> None:
        console(prefix + line)

    image = ensure_builder_image(engine, cfg, rebuild=req.rebuild_image and not fresh, echo=echo)
    needed = [inputs[t.binary.name] for step in lane.steps for t in step.targets]
    files, stubs = merge_payload(needed)
    volume = source_volume_name(cfg)
    # One run at a time per engine and sources volume: its content must not change under a build.
    with file_lock(
        cache_dir() / "locks" / f"{endpoint_key(engine)}-{volume}.lock", what="the sources volume", on_wait=echo
    ):
        if cancelled.is_set():
            raise Interrupted("cancelled")
        sync = sync_sources(engine, image.tag, cfg, files, stubs, echo=echo)
        fetch_dependencies(
            engine, image.tag, cfg, needed, source_volume=volume, on_line=lambda line: echo(f"[fetch] {line}")
        )
        outcomes = _run_steps(
            engine, image, cfg, lane.steps, inputs, sync, staging_root, console, cancelled, slots, fresh
        )
    return _LaneResult(
        image=image, outcomes=tuple(outcomes), bytes_sent=sync.bytes_sent + sum(o.bytes_sent for o in outcomes)
    )


def _run_steps(
    engine: Engine,
    image: BuilderImage,
    cfg: BuildConfig,
    steps: tuple[BuildStep, ...],
    inputs: dict[str, BinaryInputs],
    sync: SyncResult,
    staging_root: Path,
    console: Callable[[str], None],
    cancelled: threading.Event,
    slots: threading.Semaphore,
    fresh: str,
) -> list[BuildOutcome]:
    """One engine's build steps, in parallel up to the run's free slots (``--jobs``)."""
    from packbin.build.container import run_build

    width = max(len(s.arch.name) for s in steps)

    def one(step: BuildStep) -> BuildOutcome:
        with slots:
            if cancelled.is_set():
                raise Interrupted("cancelled")
            # The container says "building BIN for TARGET" as it starts each binary.
            prefix = f"[{step.arch.name:<{width}}{' fresh' if fresh else ''}] "
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
                fresh=fresh,
            )
            console(f"{prefix}done in {time.monotonic() - t0:.1f}s")
            return outcome

    with cf.ThreadPoolExecutor(max_workers=len(steps), thread_name_prefix="packbin-build") as pool:
        futures = [pool.submit(one, s) for s in steps]
        cf.wait(futures, return_when=cf.FIRST_EXCEPTION)
        failed = [f for f in futures if f.done() and f.exception() is not None]
        if failed:
            cancelled.set()
            engine.remove_live_containers()
            for f in futures:
                f.cancel()
            exc = failed[0].exception()
            assert exc is not None
            raise exc
    return [f.result() for f in futures]


def _verify(
    outcomes: list[BuildOutcome], images: dict[str, BuilderImage], console: Callable[[str], None]
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
                    builder_image=images[t.arch.name].tag,
                )
            )
    if problems:
        raise ArtifactRejected(
            "artifact rejected, nothing installed:\n  " + "\n  ".join(problems),
            hint="pack binaries must be static musl executables: check the crate's build script and linker flags (cargo zigbuild cannot link glibc statically)",
        )
    return verified


__all__ = ["BuildRequest", "PackbinError", "build_pack_binaries", "resolve_deploy_arch"]
