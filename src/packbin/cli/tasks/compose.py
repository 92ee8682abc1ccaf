"""Compose tasks: the init and runtime images, and init-packs (the pack tree into a directory or volume)."""

from __future__ import annotations

import sys

from invoke.context import Context

from packbin.cli.support import packbin_task, user_errors
from packbin.cli.tasks.shared import load_config


@packbin_task(
    help={
        "arch": "Architectures to make images for (x86_64, arm64, all; aliases). Default: the deploy architecture.",
    },
)
@user_errors
def build_pack_binaries_init_image(c: Context, arch: str | None = None) -> None:
    """Build the Compose images: packbin/pack-binaries-init:<target> and packbin/pack-runtime:<target>.

    The init image holds the pack tree and the verified static binaries and fills the packs_data
    volume with the init-packs rules; the runtime image is FROM scratch. The deploy architecture's
    images are also tagged :native, which docker-compose.yaml uses unless PACK_BINARIES_RUST_TARGET is set.
    """
    from packbin.compose.init_image import run_init_images

    run_init_images(load_config(), arch=arch, out=sys.stdout)


_INIT_PACKS_HELP = {
    "dest": "Directory to fill (created if missing; its parent must exist). A symlink at DEST or inside it is never followed. Give exactly one of --dest and --volume.",
    "volume": "Docker named volume to fill instead, through the Engine API (created if missing). Give exactly one of --dest and --volume.",
    "source": "The pack tree to copy (one directory per pack). Default: packs_dir of buildcfg.toml (packs/); without one, init-packs stops (exit 2).",
    "binaries": "The built binaries tree, laid out <dir>/<arch>/<pack>/<path>. Default: dist/pack-binaries (skipped when absent). <dir>/<arch>/bin/ (binaries without a pack) is left out.",
    "arch": "Architecture whose static binaries are installed and protected (x86_64, arm64 or an alias). Default: the deploy architecture (deploy_arch in buildcfg.toml, else the engine's native one).",
    "delete": "Also remove what the source no longer has (static binaries of ARCH are kept, reported as preserved).",
    "dry_run": "Report what would change; write nothing.",
    "checksum": "Compare file contents instead of size, mode and mtime.",
    "json": "Print the report as one JSON document on stdout.",
}


@packbin_task(help=_INIT_PACKS_HELP)
@user_errors
def init_packs(
    c: Context,
    dest: str | None = None,
    volume: str | None = None,
    source: str | None = None,
    binaries: str | None = None,
    arch: str | None = None,
    delete: bool = False,
    dry_run: bool = False,
    checksum: bool = False,
    json: bool = False,
) -> None:
    """Copy the pack tree into a directory or a Docker volume, never replacing a static binary by one that is not.

    The verified static binaries of ARCH from the binaries tree are overlaid on the pack tree. A file
    at DEST that the ELF verifier passes as a static ARCH executable is only replaced by another such
    file; anything else is kept and reported as preserved. Unchanged files are skipped; each file is
    written atomically with its mode and mtime. Exit 0: done; 1: something was refused; 2: bad arguments.
    """
    from packbin.compose.init_packs import InitPacksRequest, run_init_packs

    run_init_packs(
        load_config(),
        InitPacksRequest(
            dest=dest,
            volume=volume,
            source=source,
            binaries=binaries,
            arch=arch,
            delete=delete,
            dry_run=dry_run,
            checksum=checksum,
            as_json=json,
        ),
        out=sys.stdout,
    )
