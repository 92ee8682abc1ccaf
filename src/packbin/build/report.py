"""The build report (build-pack-binaries; init-packs has :mod:`packbin.deploy.report`): the human
table, the --json document, the dry run's plan, and the GitHub step summary."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from packbin.build.plan import BuildPlan, Target
from packbin.config.model import BuildConfig
from packbin.dist.layout import manifest_relpath
from packbin.dist.manifest import Artifact, Manifest
from packbin.util.sizes import human_size

if TYPE_CHECKING:
    from packbin.workspace.c_deps import CDependencies

SUMMARY_ENV = "GITHUB_STEP_SUMMARY"


@dataclass(frozen=True, kw_only=True)
class ReproCheck:
    """One binary rebuilt in fresh volumes: are the bytes those of the installed artifact?"""

    arch: str
    binary: str
    sha256: str  # the artifact in dist/ (its manifest entry)
    fresh_sha256: str  # the rebuild's
    engine: str

    @property
    def identical(self) -> bool:
        return self.sha256 == self.fresh_sha256


@dataclass(frozen=True, kw_only=True)
class BuildReport:
    """What a build did: artifacts built or up to date, files written, warnings, where the manifest is."""

    built: tuple[Artifact, ...]
    up_to_date: tuple[Artifact, ...]
    reinstalled: tuple[str, ...]
    written: tuple[str, ...]
    warnings: tuple[str, ...]
    deploy_arch: str
    builder_image: str | None
    manifest: str
    seconds: float
    bytes_sent: int = 0  # sources and scripts sent to the engine by this run
    reproducible: tuple[ReproCheck, ...] = ()  # --check-reproducible's verdicts
    packs: tuple[
        tuple[str, str, str | None, str | None], ...
    ] = ()  # (arch, binary, pack_path, packs_skip), deploy arch

    @classmethod
    def make(
        cls,
        *,
        cfg: BuildConfig,
        plan: BuildPlan,
        manifest: Manifest,
        written: Sequence[str],
        warnings: Sequence[str],
        builder_image: str | None,
        seconds: float,
        bytes_sent: int = 0,
        reproducible: Sequence[ReproCheck] = (),
    ) -> BuildReport:
        """The report of a finished build, from its plan and the manifest written."""

        def art(arch: str, binary: str) -> Artifact:
            a = manifest.find(arch, binary)
            assert a is not None, (arch, binary)
            return a

        built = tuple(art(t.arch.name, t.binary.name) for s in plan.steps for t in s.targets)
        fresh = tuple(art(t.arch.name, t.binary.name) for t in (*plan.up_to_date, *plan.reinstall))
        return cls(
            built=built,
            up_to_date=fresh,
            reinstalled=tuple(t.pack_path for t in plan.reinstall if t.pack_path),
            written=tuple(written),
            warnings=tuple(warnings),
            deploy_arch=plan.deploy_arch,
            builder_image=builder_image,
            manifest=manifest_relpath(cfg),
            seconds=seconds,
            bytes_sent=bytes_sent,
            reproducible=tuple(reproducible),
            packs=tuple(
                (t.arch.name, t.binary.name, t.pack_path, t.packs_skip)
                for t in plan.all_targets
                if t.arch.name == plan.deploy_arch
            ),
        )

    def to_json(self) -> dict[str, Any]:
        """The ``--json`` document."""
        return {
            "built": [a.to_json() for a in self.built],
            "up_to_date": [a.to_json() for a in self.up_to_date],
            "installed": list(self.written),
            "warnings": list(self.warnings),
            "deploy_arch": self.deploy_arch,
            "builder_image": self.builder_image,
            "manifest": self.manifest,
            "seconds": round(self.seconds, 3),
            "bytes_sent": self.bytes_sent,
            **({"reproducible": [asdict(r) for r in self.reproducible]} if self.reproducible else {}),
            "packs": [{"arch": a, "binary": b, "pack_path": p, "packs_skip": w} for a, b, p, w in self.packs],
        }


def artifact_rows(artifacts: Sequence[Artifact], status: dict[tuple[str, str], str] | None = None) -> list[list[str]]:
    """Table rows (arch, path, size, linkage, sha256 prefix[, status]) for ``artifacts``."""
    rows = []
    for a in artifacts:
        row = [a.arch, a.path, human_size(a.size), "static" if a.static else "DYNAMIC", a.sha256[:16]]
        if status is not None:
            row.append(status.get(a.key, ""))
        rows.append(row)
    return rows


def table(header: list[str], rows: list[list[str]]) -> str:
    """``rows`` under ``header`` in left-aligned columns."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip() for r in [header, *rows]]
    return "\n".join(lines)


def write_report(report: BuildReport, *, out: TextIO, as_json: bool) -> None:
    """Write ``report`` to ``out``: a table and the warnings, or the JSON document."""
    if as_json:
        out.write(json.dumps(report.to_json(), indent=2) + "\n")
    else:
        status = {a.key: "built" for a in report.built} | {a.key: "up to date" for a in report.up_to_date}
        arts = [*report.built, *report.up_to_date]
        if arts:
            out.write(
                table(["arch", "path", "size", "linkage", "sha256", "status"], artifact_rows(arts, status)) + "\n"
            )
        out.writelines(f"reinstalled {p} from dist/\n" for p in report.reinstalled)
        skipped = [f"{b} ({why})" for _, b, _, why in report.packs if why]
        if skipped:
            out.write(f"not copied into packs/: {', '.join(skipped)}\n")
        for r in report.reproducible:
            verdict = "identical" if r.identical else f"DIFFERENT: fresh build {r.fresh_sha256[:16]}"
            out.write(
                f"reproducible? {r.arch}/{r.binary} sha256 {r.sha256[:16]}: {verdict} (fresh volumes on {r.engine})\n"
            )
        verb = f"built {len(report.built)}" if report.built else "nothing to build"
        out.write(
            f"{verb}, {len(report.up_to_date)} up to date; deploy arch {report.deploy_arch}; manifest {report.manifest} ({report.seconds:.1f}s)\n"
        )
    append_step_summary("Pack binaries", [*report.built, *report.up_to_date])


def append_step_summary(title: str, artifacts: Sequence[Artifact], env: dict[str, str] | None = None) -> bool:
    """Append a Markdown table to $GITHUB_STEP_SUMMARY when set; True when written."""
    env = dict(os.environ) if env is None else env
    target = env.get(SUMMARY_ENV)
    if not target or not artifacts:
        return False
    lines = [f"### {title}", "", "| arch | path | size | static | sha256 |", "| --- | --- | ---: | --- | --- |"]
    for a in artifacts:
        lines.append(f"| {a.arch} | `{a.path}` | {a.size} | {'yes' if a.static else '**no**'} | `{a.sha256}` |")
    with open(Path(target), "a", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n\n")
    return True


def write_plan(plan: BuildPlan, *, out: TextIO, as_json: bool, c_deps: Sequence[CDependencies] = ()) -> None:
    """build-pack-binaries --dry-run: what a run would build, reinstall or skip (no engine used),
    and the C libraries and host tools the binaries' crates need (``c_deps``)."""
    warnings = [f"{d.binary}: {n.describe()}" for d in c_deps for n in d.unmet]
    rows = [("build", t) for s in plan.steps for t in s.targets]
    rows += [("reinstall", t) for t in plan.reinstall] + [("up to date", t) for t in plan.up_to_date]
    if as_json:
        doc = {
            "dry_run": True,
            "deploy_arch": plan.deploy_arch,
            "targets": [
                {
                    "action": action,
                    "arch": t.arch.name,
                    "binary": t.binary.name,
                    "path": t.dist_path,
                    "pack_path": t.pack_path,
                    "packs_skip": t.packs_skip,
                }
                for action, t in rows
            ],
            "c_dependencies": [{"binary": d.binary, **n.to_json()} for d in c_deps for n in d.needs],
            "warnings": warnings,
        }
        out.write(json.dumps(doc, indent=2) + "\n")
        return
    out.write(
        table(
            ["would", "arch", "binary", "path"],
            [[a, t.arch.name, t.binary.name, t.dist_path + _packs_words(t, plan.deploy_arch)] for a, t in rows],
        )
        + "\n"
    )
    out.writelines(f"{d.binary}: {n.describe()}\n" for d in c_deps for n in d.needs if n.provided)
    out.writelines(f"warning: {w}\n" for w in warnings)
    n = sum(len(s.targets) for s in plan.steps)
    containers = (
        f"{len(plan.steps)} build container{'s' if len(plan.steps) != 1 else ''}" if plan.steps else "no container"
    )
    out.write(
        f"dry run: would build {n}, reinstall {len(plan.reinstall)}, skip {len(plan.up_to_date)} up to date ({containers}); deploy arch {plan.deploy_arch}; nothing was done\n"
    )


def _packs_words(t: Target, deploy_arch: str) -> str:
    """The dry-run path column's note on packs/: the copy, or (for the deploy arch) why there is none."""
    if t.pack_path:
        return f" (+ {t.pack_path})"
    if t.arch.name == deploy_arch and t.packs_skip:
        return f" (not into packs/: {t.packs_skip})"
    return ""
