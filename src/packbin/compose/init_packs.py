"""init-packs, the task: defaults from buildcfg.toml, a directory or a volume, the report, the exit code.

The rules live in :mod:`packbin.deploy` (directory) and :mod:`packbin.compose.volume` (named volume); this
module only resolves the defaults and prints what happened.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TextIO

from packbin.config.model import BuildConfig
from packbin.deploy import DeployReport, format_report, init_packs_dir
from packbin.dist.layout import PACKLESS_DIR, dist_tree_path
from packbin.engine.deploy_arch import resolve_deploy_arch
from packbin.errors import CheckFailed, UsageError

__all__ = ["run_init_packs"]


def run_init_packs(
    cfg: BuildConfig,
    *,
    dest: str | None,
    volume: str | None,
    source: str | None,
    binaries: str | None,
    arch: str | None,
    delete: bool,
    dry_run: bool,
    checksum: bool,
    as_json: bool,
    out: TextIO = sys.stdout,
    image: str | None = None,
) -> DeployReport:
    """Copy the pack tree into a directory (``dest``) or a named volume (``volume``), by the init-packs rules.

    Defaults: ``source`` = packs_dir, ``binaries`` = <dist_dir>/pack-binaries (skipped when it does
    not exist), ``arch`` = the deploy architecture. For a volume, ``image`` (default: the
    builder's base image, made locally if needed) only hosts the never-started container.
    Raises UsageError unless exactly one of dest/volume is given, CheckFailed (exit 1) when
    something was refused; the report has been printed by then.
    """
    if (dest is None) == (volume is None):
        raise UsageError("give exactly one of --dest DIR and --volume NAME")
    if volume is not None and not volume.strip():
        raise UsageError("--volume needs a volume name")
    target_arch = resolve_deploy_arch(cfg, arch, None)
    src = Path(source) if source else cfg.packs_dir
    if not source and not os.path.isdir(src):
        raise _no_pack_tree(cfg)
    bin_tree: Path | None
    if binaries:
        bin_tree = Path(binaries)
        if not os.path.isdir(bin_tree):  # (Path.is_dir raises for a name longer than NAME_MAX)
            raise UsageError(
                f"--binaries {binaries}: no such directory",
                hint="run build-pack-binaries first, or leave --binaries out",
            )
    else:
        default = dist_tree_path(cfg)
        bin_tree = default if default.is_dir() else None
    if dest is not None:
        report = init_packs_dir(
            source=src,
            dest=Path(dest),
            binaries=bin_tree,
            arch=target_arch,
            delete=delete,
            dry_run=dry_run,
            checksum=checksum,
        )
        where = dest
    else:
        assert volume is not None
        from packbin.build.image import resolve_profile
        from packbin.compose.volume import init_packs_volume
        from packbin.engine import connect

        engine = connect()

        # Nothing runs in the container; any local image hosts the mount. The builder's base is
        # local by construction (pulled or bootstrapped once), so no pull is attempted here.
        def echo(line: str) -> None:
            # Progress never goes into the JSON document.
            (sys.stderr if as_json else out).write(line + "\n")

        ref = image or resolve_profile(engine, cfg, pull=False, echo=echo)[1]
        report = init_packs_volume(
            engine,
            volume=volume,
            image=ref,
            source=src,
            binaries=bin_tree,
            arch=target_arch,
            delete=delete,
            dry_run=dry_run,
            checksum=checksum,
        )
        where = f"volume {volume}"
    packless = _packless(bin_tree, target_arch.name)
    if as_json:
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
    if not report.ok:
        raise CheckFailed(
            f"init-packs refused {len(report.refused)} path(s) (listed above)",
            hint="fix or remove them in the source (or at DEST), then run init-packs again",
        )
    return report


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
