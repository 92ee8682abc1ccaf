"""The init image's command line, ``python3 -m packbin.deploy`` (standard library + packbin.config.model only)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from packbin.arch import Architecture
from packbin.deploy.directory import init_packs_dir
from packbin.deploy.report import format_report
from packbin.errors import PackbinError, UsageError


def _arch_from_args(ns: argparse.Namespace) -> Architecture:
    explicit = (ns.elf_machine, ns.elf_class, ns.byte_order)
    if ns.arch and any(v is not None for v in explicit):
        raise UsageError("give either --arch NAME or --arch-name/--elf-machine/--elf-class/--byte-order, not both")
    if ns.arch:
        from packbin.config.model import builtin_config  # stdlib + tomllib only: no docker in the init image

        arch: Architecture = builtin_config().arch(ns.arch)
        return arch
    if any(v is None for v in explicit) or not ns.arch_name:
        raise UsageError(
            "no architecture",
            hint="pass --arch NAME (x86_64, arm64, ...) or all of --arch-name, --elf-machine, --elf-class, --byte-order",
        )
    from packbin.arch import ElfMachine

    raw = str(ns.elf_machine)
    try:
        machine = int(raw, 0) if raw[:1].isdigit() else int(ElfMachine[raw.upper()])
    except (ValueError, KeyError):
        raise UsageError(f"--elf-machine {raw!r}: give a number or a name like EM_X86_64") from None
    return Architecture(
        name=ns.arch_name,
        aliases=(),
        rust_target="",
        docker_platform="",
        elf_machine=machine,
        elf_class=ns.elf_class,
        byte_order=ns.byte_order,
    )


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python3 -m packbin.deploy",
        description="Copy a pack tree into DEST, overlaying verified static binaries of ARCH; never replaces a static binary of ARCH at DEST by one that is not.",
        epilog="Exit status: 0 done, 1 something was refused, 2 bad arguments.",
    )
    p.add_argument("--source", required=True, type=Path, help="the pack tree (packs/)")
    p.add_argument(
        "--dest",
        required=True,
        type=Path,
        help="the destination directory (created if missing; never followed if a symlink)",
    )
    p.add_argument(
        "--binaries",
        type=Path,
        help="the binaries tree, <binaries>/<arch>/<pack>/<path> (dist/pack-binaries); <arch>/bin/ (no pack) is left out",
    )
    p.add_argument(
        "--arch", help="architecture name or alias from the built-in table (x86_64, amd64, arm64, aarch64, ...)"
    )
    p.add_argument(
        "--arch-name", help="with the --elf-* options: an architecture not in the table (names <binaries>/<arch-name>)"
    )
    p.add_argument("--elf-machine", help="e_machine, as a number or a name (EM_X86_64)")
    p.add_argument("--elf-class", type=int, choices=(32, 64))
    p.add_argument("--byte-order", choices=("little", "big"))
    p.add_argument(
        "--delete", action="store_true", help="remove what the source no longer has (static binaries of ARCH are kept)"
    )
    p.add_argument("--dry-run", action="store_true", help="report what would change; write nothing")
    p.add_argument("--checksum", action="store_true", help="compare contents instead of size and mtime")
    p.add_argument("--json", action="store_true", help="print the report as one JSON document")
    return p


def main(argv: list[str] | None = None) -> int:
    """``python3 -m packbin.deploy``: run :func:`init_packs_dir`; 0 ok, 1 something refused, 2 usage."""
    ns = _parser().parse_args(argv)
    try:
        arch = _arch_from_args(ns)
        report = init_packs_dir(
            source=ns.source,
            dest=ns.dest,
            binaries=ns.binaries,
            arch=arch,
            delete=ns.delete,
            dry_run=ns.dry_run,
            checksum=ns.checksum,
        )
    except PackbinError as e:
        sys.stderr.write(f"init-packs: error: {e}\n")
        return e.exit_code
    if ns.json:
        sys.stdout.write(json.dumps(report.to_json(dry_run=ns.dry_run), indent=2) + "\n")
    else:
        sys.stdout.write(format_report(report, dest=str(ns.dest), dry_run=ns.dry_run))
    return 0 if report.ok else 1
