"""The build's engines at work: one lane (a thread) per engine, each running its builder image,
sources volume, fetch and build containers; the run's shared state is one frozen context.

The first failure anywhere cancels every lane; Ctrl-C removes every engine's live containers.
"""

from __future__ import annotations

import concurrent.futures as cf
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from packbin.build.plan import BuildStep
from packbin.build.request import BuildRequest
from packbin.build.volumes import WARM, CacheSet
from packbin.config.model import BuildConfig
from packbin.errors import Interrupted
from packbin.util.lock import file_lock
from packbin.workspace import BinaryInputs, merge_payload

if TYPE_CHECKING:
    from packbin.build.container import BuildOutcome
    from packbin.build.image import BuilderImage
    from packbin.build.sources import SyncResult
    from packbin.engine import Engine
    from packbin.engine.routing import Route


@dataclass(frozen=True, kw_only=True)
class RunContext:
    """What every lane and build step of one run shares: the configuration, the inputs, where
    artifacts are staged, where progress goes, which caches, and the run's cancel flag and slots."""

    cfg: BuildConfig
    inputs: dict[str, BinaryInputs]
    staging_root: Path
    console: Callable[[str], None]
    rebuild_image: bool
    caches: CacheSet
    cancelled: threading.Event
    slots: threading.Semaphore  # --jobs: how many build containers run at once, over all engines

    @classmethod
    def start(
        cls,
        *,
        cfg: BuildConfig,
        req: BuildRequest,
        inputs: dict[str, BinaryInputs],
        steps: tuple[BuildStep, ...],
        staging_root: Path,
        console: Callable[[str], None],
        caches: CacheSet = WARM,
    ) -> RunContext:
        """The context of a run of ``steps``; fresh caches never rebuild the builder image."""
        total = len(steps)
        return cls(
            cfg=cfg,
            inputs=inputs,
            staging_root=staging_root,
            console=console,
            rebuild_image=req.rebuild_image and not caches.is_fresh,
            caches=caches,
            cancelled=threading.Event(),
            slots=threading.Semaphore(total if req.jobs is None else min(req.jobs, total)),
        )


@dataclass(frozen=True, kw_only=True)
class BuildJob:
    """The engine side of one build-pack-binaries run: what every engine run of it (the build,
    then the --check-reproducible rebuild) shares."""

    cfg: BuildConfig
    req: BuildRequest
    routes: list[Route]  # every engine of the run, reached before anything started
    inputs: dict[str, BinaryInputs]
    console: Callable[[str], None]

    def run(self, steps: tuple[BuildStep, ...], staging_root: Path, *, caches: CacheSet = WARM) -> list[LaneResult]:
        """Run ``steps`` on their engines, staging artifacts under ``staging_root``; one result per lane."""
        run = RunContext.start(
            cfg=self.cfg,
            req=self.req,
            inputs=self.inputs,
            steps=steps,
            staging_root=staging_root,
            console=self.console,
            caches=caches,
        )
        return run_on_engines(self.routes, steps, run)


@dataclass(frozen=True, kw_only=True)
class Lane:
    """One engine's share of the run: its builder image, sources volume, fetch and build steps."""

    route: Route
    steps: tuple[BuildStep, ...]
    several: bool  # more than one engine in this run: prefix the engine's own lines

    def prefix(self) -> str:
        return f"[{self.route.label}] " if self.several else ""


@dataclass(frozen=True, kw_only=True)
class LaneResult:
    lane: Lane
    image: BuilderImage
    outcomes: tuple[BuildOutcome, ...]
    bytes_sent: int


def make_lanes(routes: list[Route], steps: tuple[BuildStep, ...]) -> list[Lane]:
    """One lane per engine that has steps to run."""
    shares = [(r, tuple(s for s in steps if s.arch in r.arches)) for r in routes]
    shares = [(r, mine) for r, mine in shares if mine]
    return [Lane(route=r, steps=mine, several=len(shares) > 1) for r, mine in shares]


def run_on_engines(routes: list[Route], steps: tuple[BuildStep, ...], run: RunContext) -> list[LaneResult]:
    """Run every engine's lane at once; the first failure cancels the others.

    Lanes run in daemon threads and the main thread only waits, so Ctrl-C (or SIGTERM) lands
    here: every engine's live containers are removed and nothing is installed. A builder image
    build still streaming in a lane is cancelled by the engine when the process exits.
    """
    lanes = make_lanes(routes, steps)
    results: dict[int, LaneResult] = {}
    errors: list[BaseException] = []
    errors_lock = threading.Lock()

    def stop_all() -> int:
        run.cancelled.set()
        return sum(lane.route.engine.remove_live_containers() for lane in lanes)

    def main(i: int) -> None:
        try:
            results[i] = _run_lane(lanes[i], run)
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


def _run_lane(lane: Lane, run: RunContext) -> LaneResult:
    from packbin.build.fetch import fetch_dependencies
    from packbin.build.image import ensure_builder_image
    from packbin.build.sources import sync_sources
    from packbin.build.volumes import source_volume_name, sources_lock_path

    engine = lane.route.engine
    prefix = lane.prefix()
    cfg = run.cfg

    def echo(line: str) -> None:
        run.console(prefix + line)

    image = ensure_builder_image(engine, cfg, rebuild=run.rebuild_image, echo=echo)
    needed = [run.inputs[t.binary.name] for step in lane.steps for t in step.targets]
    files, stubs = merge_payload(needed)
    volume = source_volume_name(cfg.root)
    # One run at a time per engine and sources volume: its content must not change under a build.
    with file_lock(sources_lock_path(engine, volume), what="the sources volume", on_wait=echo):
        if run.cancelled.is_set():
            raise Interrupted("cancelled")
        sync = sync_sources(engine, image.tag, cfg, files, stubs, echo=echo)
        fetch_dependencies(
            engine, image.tag, cfg, needed, source_volume=volume, on_line=lambda line: echo(f"[fetch] {line}")
        )
        if cfg.c_libraries:
            from packbin.build.c_sysroot import ensure_sysroots

            triples = [step.arch.rust_target for step in lane.steps]
            ensure_sysroots(engine, image, cfg, triples, echo=lambda line: echo(f"[c-sysroot] {line}"))
        outcomes = _run_steps(engine, image, lane.steps, sync, run)
    return LaneResult(
        lane=lane,
        image=image,
        outcomes=tuple(outcomes),
        bytes_sent=sync.bytes_sent + sum(o.bytes_sent for o in outcomes),
    )


def _run_steps(
    engine: Engine, image: BuilderImage, steps: tuple[BuildStep, ...], sync: SyncResult, run: RunContext
) -> list[BuildOutcome]:
    """One engine's build steps, in parallel up to the run's free slots (``--jobs``)."""
    from packbin.build.container import run_build

    width = max(len(s.arch.name) for s in steps)

    def one(step: BuildStep) -> BuildOutcome:
        with run.slots:
            if run.cancelled.is_set():
                raise Interrupted("cancelled")
            # The container says "building BIN for TARGET" as it starts each binary.
            prefix = f"[{step.arch.name:<{width}}{' fresh' if run.caches.is_fresh else ''}] "
            staging = run.staging_root / step.arch.name
            staging.mkdir()
            t0 = time.monotonic()
            outcome = run_build(
                engine,
                image,
                run.cfg,
                step,
                run.inputs,
                source_volume=sync.volume,
                sources_id=sync.volume_id,
                staging=staging,
                on_line=lambda line: run.console(prefix + line),
                cancelled=run.cancelled,
                caches=run.caches,
            )
            run.console(f"{prefix}done in {time.monotonic() - t0:.1f}s")
            return outcome

    with cf.ThreadPoolExecutor(max_workers=len(steps), thread_name_prefix="packbin-build") as pool:
        futures = [pool.submit(one, s) for s in steps]
        cf.wait(futures, return_when=cf.FIRST_EXCEPTION)
        failed = [f for f in futures if f.done() and f.exception() is not None]
        if failed:
            run.cancelled.set()
            engine.remove_live_containers()
            for f in futures:
                f.cancel()
            exc = failed[0].exception()
            assert exc is not None
            raise exc
    return [f.result() for f in futures]
