"""--check-reproducible: every selected binary rebuilt in fresh cache volumes on its engine, its
bytes compared with the artifact in dist/. The fresh volumes are removed afterwards."""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from packbin.build.embed import embed_dependency_lists
from packbin.build.lanes import BuildJob, LaneResult
from packbin.build.plan import BuildPlan
from packbin.build.report import ReproCheck
from packbin.build.volumes import CacheSet
from packbin.config.model import BuildConfig
from packbin.dist.manifest import Manifest
from packbin.errors import CheckFailed
from packbin.util.digest import sha256_file

if TYPE_CHECKING:
    from packbin.build.container import BuildOutcome


def check_reproducible(job: BuildJob, plan: BuildPlan, manifest: Manifest) -> tuple[ReproCheck, ...]:
    """Rebuild every target of ``plan`` in fresh target, zig-cache and std volumes and compare
    the bytes with ``manifest`` (the one just installed)."""
    steps = plan.rebuild_steps()
    token = uuid.uuid4().hex[:10]
    caches = CacheSet.fresh(token)
    job.console(
        f"check-reproducible: rebuilding {len(steps)} architecture(s) in fresh volumes (packbin-repro-{token}-*)"
    )
    try:
        with tempfile.TemporaryDirectory(prefix=".staging-repro-", dir=job.cfg.dist_dir) as staging_root:
            results = job.run(steps, Path(staging_root), caches=caches)
            # The rebuilds get their dependency lists as the build did: like is compared with like.
            embedded = embed_dependency_lists(job.cfg, [o for r in results for o in r.outcomes], job.inputs)
            return _compare(results, embedded.outcomes, manifest)
    finally:
        for r in job.routes:
            for a in r.arches:
                for volume in caches.for_target(a.rust_target).names():
                    r.engine.remove_volume(volume)


def _compare(
    results: list[LaneResult], outcomes: tuple[BuildOutcome, ...], manifest: Manifest
) -> tuple[ReproCheck, ...]:
    """Each rebuilt binary (``outcomes``, in ``results``' order) beside its artifact in dist/."""
    checks: list[ReproCheck] = []
    rest = iter(outcomes)
    for result in results:
        for _ in result.outcomes:
            o = next(rest)
            for t in o.step.targets:
                art = manifest.find(t.arch.name, t.binary.name)
                assert art is not None, (t.arch.name, t.binary.name)
                checks.append(
                    ReproCheck(
                        arch=t.arch.name,
                        binary=t.binary.name,
                        sha256=art.sha256,
                        fresh_sha256=sha256_file(o.files[t.binary.name].path),
                        engine=result.lane.route.engine.endpoint.host,
                    )
                )
    return tuple(checks)


def raise_if_different(cfg: BuildConfig, checks: tuple[ReproCheck, ...]) -> None:
    """CheckFailed (exit 1) naming every binary whose fresh build has other bytes."""
    different = [r for r in checks if not r.identical]
    if different:
        raise CheckFailed(
            "not reproducible: "
            + "; ".join(
                f"{r.arch}/{r.binary} is {r.sha256[:16]} in dist/, {r.fresh_sha256[:16]} from fresh volumes"
                for r in different
            ),
            hint=f"compare the two build logs in {cfg.dist_dir / 'logs'} (build-<arch>.log and build-<arch>-fresh.log); the installed binaries are unchanged",
        )
