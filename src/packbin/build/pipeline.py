"""build-pack-binaries: config -> inputs -> plan -> builder image -> sources volume -> fetch -> build containers
-> extract -> verify -> install -> report.

This module only sequences the steps; each lives in its own module. Nothing is installed until
every artifact of the run has been extracted and verified; Ctrl-C removes the run's containers
and leaves dist/ and packs/ as they were (or with whole new files, never half files).
"""

from __future__ import annotations

import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from packbin.arch import Architecture
from packbin.build.deploy_arch import resolve_deploy_arch
from packbin.build.install import VerifiedArtifact, check_destinations, check_install_paths, install
from packbin.build.plan import BuildPlan, make_plan
from packbin.build.report import BuildReport, ReproCheck, write_report
from packbin.build.request import BuildRequest
from packbin.config.model import BuildConfig
from packbin.dist.layout import manifest_relpath
from packbin.dist.manifest import Manifest, Toolchain
from packbin.errors import ArtifactRejected, BuildError, PackbinError
from packbin.util.digest import sha256_file
from packbin.workspace import collect_all

if TYPE_CHECKING:
    from packbin.build.attest import RunRecord
    from packbin.build.container import BuildOutcome
    from packbin.build.deps import DependencyList
    from packbin.build.image import BuilderImage
    from packbin.build.lanes import BuildJob, LaneResult
    from packbin.engine.routing import Route
    from packbin.workspace import BinaryInputs
    from packbin.workspace.c_deps import CDependencies

# The Docker SDK (and requests) are imported only when a container is needed, and what only a
# build needs (lanes, the dependency-list step, the verifier, the SBOM and provenance writers)
# only when something is built: the up-to-date path must answer well under half a second
# (tests/unit/test_lazy_imports.py).


@dataclass
class _Console:
    """Human progress: stderr when stdout carries JSON. Serialised across build threads."""

    stream: TextIO
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, line: str) -> None:
        with self.lock:
            self.stream.write(line + "\n")
            self.stream.flush()


@dataclass(frozen=True, kw_only=True)
class _Installed:
    """What the build-and-install part of a run leaves for the report."""

    manifest: Manifest
    written: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    images: tuple[str, ...] = ()
    bytes_sent: int = 0


def build_pack_binaries(
    cfg: BuildConfig, req: BuildRequest, *, out: TextIO = sys.stdout, err: TextIO = sys.stderr
) -> BuildReport | None:
    """Run the whole job; raises a PackbinError subclass on failure (nothing installed then).

    None for a dry run, which only prints the plan.
    """
    started = time.monotonic()
    started_at = time.time()  # the provenance's start time
    console = _Console(err if req.as_json else out)
    arches = cfg.select_arches(req.arch)
    binaries = cfg.select_binaries(req.binaries)
    if not binaries:
        raise BuildError(f"{cfg.source.name} declares no [[binaries]]", hint="add a [[binaries]] table (see README)")
    inputs = {i.binary_name: i for i in collect_all(cfg, binaries)}
    deploy = resolve_deploy_arch(cfg, req.deploy_arch, None)
    manifest = Manifest.load(cfg.root / manifest_relpath(cfg))

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

        write_plan(plan, out=out, as_json=req.as_json, c_deps=_c_dependencies(cfg, inputs, [b.name for b in binaries]))
        return None
    # Before any container: the C libraries and host tools the crates want and buildcfg.toml
    # does not provide. A warning, not a failure: a build script may still find them its own way.
    c_warnings = _c_warnings(cfg, inputs, plan)
    for w in c_warnings:
        console(f"warning: {w}")
    # Refuse a planted symlink in packs/ or dist/ before spending minutes on a build.
    check_destinations(cfg.root, (*(t for step in plan.steps for t in step.targets), *plan.reinstall))
    from packbin.build.lanes import BuildJob

    job = BuildJob(cfg=cfg, req=req, routes=_connect(cfg, req, plan, arches), inputs=inputs, console=console)
    done = _build_and_install(job, plan, manifest, started_at=started_at)
    repro: tuple[ReproCheck, ...] = ()
    if req.check_reproducible:
        from packbin.build.repro import check_reproducible

        repro = check_reproducible(job, plan, done.manifest)
    report = BuildReport.make(
        cfg=cfg,
        plan=plan,
        manifest=done.manifest,
        written=list(done.written),
        warnings=[*c_warnings, *done.warnings],
        builder_image=", ".join(done.images) or None,
        seconds=time.monotonic() - started,
        bytes_sent=done.bytes_sent,
        reproducible=repro,
    )
    for w in done.warnings:
        console(f"warning: {w}")
    write_report(report, out=out, as_json=req.as_json)
    if repro:
        from packbin.build.repro import raise_if_different

        raise_if_different(cfg, repro)
    return report


def _c_dependencies(cfg: BuildConfig, inputs: dict[str, BinaryInputs], names: list[str]) -> tuple[CDependencies, ...]:
    """What the binaries ``names`` need in C from outside their crates (their locks read now)."""
    from packbin.workspace.c_deps import find_c_needs

    return tuple(find_c_needs(cfg, inputs[n]) for n in names)


def _c_warnings(cfg: BuildConfig, inputs: dict[str, BinaryInputs], plan: BuildPlan) -> list[str]:
    """The unmet C needs of the binaries the plan builds (none, and no lock read, when it builds none)."""
    names = list(dict.fromkeys(t.binary.name for step in plan.steps for t in step.targets))
    if not names:
        return []
    from packbin.workspace.c_deps import warning_lines

    return warning_lines(_c_dependencies(cfg, inputs, names))


def _connect(cfg: BuildConfig, req: BuildRequest, plan: BuildPlan, arches: tuple[Architecture, ...]) -> list[Route]:
    """The engines of the run, every one reached before anything starts: an unreachable one fails
    in seconds. None when nothing is built (the up-to-date path needs no engine)."""
    if not (plan.steps or req.check_reproducible):
        return []
    from packbin.engine.routing import connect_routes

    # --check-reproducible rebuilds every selected architecture, so it needs all their engines.
    wanted = arches if req.check_reproducible else tuple(dict.fromkeys(step.arch for step in plan.steps))
    return connect_routes(cfg, wanted)


def _build_and_install(job: BuildJob, plan: BuildPlan, manifest: Manifest, *, started_at: float) -> _Installed:
    """Build the plan's steps on their engines, verify every artifact, then install them all
    (and the plan's reinstalls)."""
    cfg = job.cfg
    if not plan.steps:
        if not plan.reinstall:
            return _Installed(manifest=manifest)
        manifest, written = install(cfg, [], plan.reinstall, manifest)
        return _Installed(manifest=manifest, written=tuple(written))
    from packbin.build.embed import embed_dependency_lists

    cfg.dist_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".staging-", dir=cfg.dist_dir) as staging_root:
        results = job.run(plan.steps, Path(staging_root))
        embedded = embed_dependency_lists(cfg, [o for r in results for o in r.outcomes], job.inputs)
        outcomes = list(embedded.outcomes)
        images = {o.step.arch.name: r.image for r in results for o in r.outcomes}
        verified = _verify(outcomes, images, embedded.deps, job.console)
        run = _run_record(plan, results, started_at=started_at)
        manifest, written = install(cfg, verified, plan.reinstall, manifest, run=run)
    return _Installed(
        manifest=manifest,
        written=tuple(written),
        warnings=tuple(f"{o.step.arch.name}: {w}" for o in outcomes for w in o.warnings) + embedded.warnings,
        images=tuple(dict.fromkeys(r.image.tag for r in results)),
        bytes_sent=sum(r.bytes_sent for r in results),
    )


def _run_record(plan: BuildPlan, results: list[LaneResult], *, started_at: float) -> RunRecord:
    """What the provenance statement says about this run."""
    from packbin.build.attest import RunRecord

    outcomes = [o for r in results for o in r.outcomes]
    return RunRecord(
        command=tuple(sys.argv),
        arches=tuple(dict.fromkeys(s.arch.name for s in plan.steps)),
        images=tuple(dict.fromkeys((r.image.image_id, r.image.tag, r.image.recipe) for r in results)),
        engines=tuple(dict.fromkeys(r.lane.route.engine.endpoint.host for r in results)),
        toolchain=outcomes[0].toolchain if outcomes else Toolchain(),
        started=started_at,
    )


def _verify(
    outcomes: list[BuildOutcome],
    images: dict[str, BuilderImage],
    deps: Mapping[tuple[str, str], DependencyList],
    console: Callable[[str], None],
) -> list[VerifiedArtifact]:
    """Verify every artifact of the run before any is installed."""
    from packbin.elf.verify import verify_file

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
                    deps=deps.get(t.key),
                )
            )
    if problems:
        raise ArtifactRejected(
            "artifact rejected, nothing installed:\n  " + "\n  ".join(problems),
            hint="pack binaries must be static musl executables: check the crate's build script and linker flags (cargo zigbuild cannot link glibc statically)",
        )
    return verified


__all__ = ["BuildRequest", "PackbinError", "build_pack_binaries", "resolve_deploy_arch"]
