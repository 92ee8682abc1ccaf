"""init-packs, the task: its request (the flags), defaults from buildcfg.toml, a directory or a volume,
the report, the exit code.

The rules live in :mod:`packbin.deploy` (directory) and :mod:`packbin.compose.volume` (named volume); this
module only resolves the defaults and prints what happened.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from packbin.arch import Architecture
from packbin.build.deploy_arch import resolve_deploy_arch
from packbin.config.model import BuildConfig
from packbin.deploy import DeployReport, format_report, init_packs_dir
from packbin.dist.layout import PACKLESS_DIR, dist_tree_path
from packbin.errors import CheckFailed, UsageError

__all__ = ["InitPacksRequest", "run_init_packs"]


@dataclass(frozen=True, kw_only=True)
class InitPacksRequest:
    """What init-packs was asked for (the task's flags, already parsed): where to (exactly one of
    ``dest`` and ``volume``), from where, for which architecture, and how."""

    dest: str | None = None  # a directory
    volume: str | None = None  # a Docker named volume
    source: str | None = None  # None: packs_dir of buildcfg.toml
    binaries: str | None = None  # None: <dist_dir>/pack-binaries, skipped when it does not exist
    arch: str | None = None  # None: the deploy architecture
    delete: bool = False
    dry_run: bool = False
    checksum: bool = False
    as_json: bool = False
    image: str | None = None  # a volume's never-started container; None: the builder's base image

    def __post_init__(self) -> None:
        if (self.dest is None) == (self.volume is None):
            raise UsageError("give exactly one of --dest DIR and --volume NAME")
        if self.volume is not None and not self.volume.strip():
            raise UsageError("--volume needs a volume name")


def run_init_packs(cfg: BuildConfig, req: InitPacksRequest, *, out: TextIO = sys.stdout) -> DeployReport:
    """Copy the pack tree into a directory (``req.dest``) or a named volume (``req.volume``), by
    the init-packs rules.

    Raises CheckFailed (exit 1) when something was refused; the report has been printed by then.
    """
    target_arch = resolve_deploy_arch(cfg, req.arch, None)
    src = Path(req.source) if req.source else cfg.packs_dir
    if not req.source and not os.path.isdir(src):
        raise _no_pack_tree(cfg)
    bin_tree = _binaries_tree(cfg, req.binaries)
    if req.dest is not None:
        report = init_packs_dir(
            source=src,
            dest=Path(req.dest),
            binaries=bin_tree,
            arch=target_arch,
            delete=req.delete,
            dry_run=req.dry_run,
            checksum=req.checksum,
        )
        where = req.dest
    else:
        report = _into_volume(cfg, req, src, bin_tree, target_arch, out)
        where = f"volume {req.volume}"
    _write(cfg, req, report, bin_tree, target_arch, where=where, out=out)
    if not report.ok:
        raise CheckFailed(
            f"init-packs refused {len(report.refused)} path(s) (listed above)",
            hint="fix or remove them in the source (or at DEST), then run init-packs again",
        )
    return report


def _binaries_tree(cfg: BuildConfig, binaries: str | None) -> Path | None:
    """The built binaries to overlay: ``--binaries`` (which must exist), else dist's tree when there is one."""
    if binaries:
        bin_tree = Path(binaries)
        if not os.path.isdir(bin_tree):  # (Path.is_dir raises for a name longer than NAME_MAX)
            raise UsageError(
                f"--binaries {binaries}: no such directory",
                hint="run build-pack-binaries first, or leave --binaries out",
            )
        return bin_tree
    default = dist_tree_path(cfg)
    return default if default.is_dir() else None


def _into_volume(
    cfg: BuildConfig, req: InitPacksRequest, src: Path, bin_tree: Path | None, target_arch: Architecture, out: TextIO
) -> DeployReport:
    """init-packs into ``req.volume`` through the Engine API."""
    assert req.volume is not None
    from packbin.build.image import resolve_profile
    from packbin.compose.volume import init_packs_volume
    from packbin.engine import connect

    engine = connect()

    # Nothing runs in the container; any local image hosts the mount. The builder's base is
    # local by construction (pulled or bootstrapped once), so no pull is attempted here.
    def echo(line: str) -> None:
        # Progress never goes into the JSON document.
        (sys.stderr if req.as_json else out).write(line + "\n")

    ref = req.image or resolve_profile(engine, cfg, pull=False, echo=echo)[1]
    return init_packs_volume(
        engine,
        volume=req.volume,
        image=ref,
        source=src,
        binaries=bin_tree,
        arch=target_arch,
        delete=req.delete,
        dry_run=req.dry_run,
        checksum=req.checksum,
    )


def _write(
    cfg: BuildConfig,
    req: InitPacksRequest,
    report: DeployReport,
    bin_tree: Path | None,
    target_arch: Architecture,
    *,
    where: str,
    out: TextIO,
) -> None:
    """The report: the ``--json`` document, or the rows and what was left out."""
    dry_run = req.dry_run
    packless = _packless(bin_tree, target_arch.name)
    if req.as_json:
        out.write(json.dumps({**report.to_json(dry_run=dry_run), "packless": packless}, indent=2) + "\n")
    else:
        if bin_tree is None:
            out.write(f"init-packs: no {dist_tree_path(cfg)}; deploying the pack tree without built binaries\n")
        elif not (bin_tree / target_arch.name).is_dir():
            out.write(
                f"init-packs: {bin_tree} has no {target_arch.name} binaries; deploying the pack tree without them\n"
            )
        out.write(format_report(report, dest=f"{where} ({target_arch.name})", dry_run=dry_run))
        label, width = ("would skip", 14) if dry_run else ("skipped", 11)
        out.writelines(
            f"  {label:<{width}}{p}: no pack, not deployed (init-packs deploys pack binaries only)\n" for p in packless
        )
    out.flush()


def _packless(bin_tree: Path | None, arch: str) -> list[str]:
    """The files of ``<binaries>/<arch>/bin/`` (binaries without a pack), which init-packs leaves out."""
    if bin_tree is None:
        return []
    base = bin_tree / arch / PACKLESS_DIR
    try:
        with os.scandir(base) as it:
            names = sorted(e.name for e in it)
    except OSError:  # none built (or not a directory): nothing left out
        return []
    return [str(base / n) for n in names]


def _no_pack_tree(cfg: BuildConfig) -> UsageError:
    """No packs_dir: say what init-packs copies, where it looks, and whether any binary has a pack at all."""
    rel = cfg.packs_dir.relative_to(cfg.root).as_posix()
    what = "does not exist" if not os.path.lexists(cfg.packs_dir) else "is not a directory"
    message = f"init-packs needs a pack tree, and {rel}/ (packs_dir in {cfg.source.name}) {what}"
    with_pack = [b for b in cfg.binaries if b.pack is not None]
    if cfg.binaries and not with_pack:
        message += (
            f"; also, no binary in {cfg.source.name} has a pack (they install under "
            f"{dist_tree_path(cfg).relative_to(cfg.root).as_posix()}/<arch>/{PACKLESS_DIR}/, which init-packs does not deploy)"
        )
    return UsageError(
        message,
        hint=(
            "init-packs copies a directory with one directory per pack (<packs_dir>/<pack>/...) and overlays the "
            f'built binaries of those packs: create {rel}/<pack>/, set packs_dir = "DIR" in {cfg.source.name}, '
            "or pass --source DIR"
            + ('; give a [[binaries]] table pack = "NAME" to deploy it' if cfg.binaries and not with_pack else "")
        ),
    )
