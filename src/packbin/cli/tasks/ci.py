"""CI tasks: collect-pack-binaries (merge per-architecture artifacts) and the build-cache transfer
(cache-export, cache-import, cache-key)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from invoke.context import Context

from packbin.cli.support import help_asked, packbin_task, user_errors
from packbin.cli.tasks.shared import load_config
from packbin.errors import UsageError


@packbin_task(
    positional=["dirs"],
    help={
        "dirs": "Downloaded per-architecture artifact directories, comma-separated (DIR1,DIR2): each a dist/ or dist/pack-binaries/ tree, or a directory holding several (manifest.json files are found up to 3 levels down).",
        "arch": "Collect and require only these architectures (names, aliases, comma lists, or all). Default: every architecture in buildcfg.toml.",
        "json": "Print one JSON document on stdout instead of the table (progress goes to stderr).",
    },
)
@user_errors
def collect_pack_binaries(c: Context, dirs: str, arch: str | None = None, json: bool = False) -> None:
    """Merge per-architecture dist trees (CI artifacts) into dist/pack-binaries/, re-verifying every binary.

    Each binary is checked against its architecture and its recorded sha256; a mismatch, a
    conflicting duplicate, a path outside its tree or a missing architecture fails the run, and
    then nothing is written. Appends a Markdown table to $GITHUB_STEP_SUMMARY when it is set.
    """
    from packbin.ci.collect import run_collect

    if help_asked(dirs, collect_pack_binaries):
        return

    run_collect(
        load_config(),
        [d for d in dirs.split(",") if d.strip()],
        out=sys.stdout,
        require=(arch,) if arch else None,
        as_json=json,
    )


_CACHE_HELP = {
    "dir": "The cache directory (created on export). One file per volume plus packbin-cache.json.",
    "arch": "Only these architectures' caches (x86_64, arm64, all; comma-separated). Default: every configured one.",
    "with_image": "Also the builder image (about 2 GB; saves its build of a few minutes on a fresh engine).",
    "json": "Print a machine-readable report on stdout (progress goes to stderr).",
}


def _cache_arches(arch: str | None) -> tuple[Any, Any]:
    cfg = load_config()
    return cfg, cfg.select_arches(arch or "all")


def _cache_dir(task: str, dir: str, arch: str | None, json: bool) -> tuple[Any, Any, Path, Callable[[str], None]]:
    """(config, architectures, DIR, progress printer) of a cache-export or cache-import run."""
    if not dir:
        raise UsageError(f"{task} needs --dir DIR")
    cfg, arches = _cache_arches(arch)
    out = sys.stderr if json else sys.stdout
    return cfg, arches, Path(dir), lambda line: print(line, file=out, flush=True)


@packbin_task(help={k: _CACHE_HELP[k] for k in ("dir", "arch", "with_image", "json")})
@user_errors
def cache_export(
    c: Context, dir: str = "", arch: str | None = None, with_image: bool = False, json: bool = False
) -> None:
    """Write packbin's build caches (cargo registry, target dirs, zig cache, prebuilt std) into DIR as plain files.

    For a CI cache action: restore DIR, `cache-import`, build, `cache-export`. With several
    engines, each architecture's caches come from its own engine. Files of an earlier export that
    this one did not write are removed, so DIR holds one consistent cache.
    """
    from packbin.ci.cache_transfer import export_all, render

    cfg, arches, path, echo = _cache_dir("cache-export", dir, arch, json)
    report = export_all(cfg, arches, path, with_image=with_image, echo=echo)
    print(render("exported", dir, [report], as_json=json))


@packbin_task(
    help={
        **{k: _CACHE_HELP[k] for k in ("dir", "arch", "json")},
        "no_image": "Do not load the builder image even when DIR has one.",
        "replace": "Restore over volumes that already exist (default: keep them; an older cache never overwrites a warmer one).",
    }
)
@user_errors
def cache_import(
    c: Context,
    dir: str = "",
    arch: str | None = None,
    no_image: bool = False,
    replace: bool = False,
    json: bool = False,
) -> None:
    """Restore caches written by cache-export into the engine(s), so the next build is incremental.

    DIR is checked before the engine sees it: only this configuration's cache volumes, files that
    match packbin-cache.json's sizes and sha256, tar members that stay inside their volume.
    """
    from packbin.ci.cache_transfer import import_all, render

    cfg, arches, path, echo = _cache_dir("cache-import", dir, arch, json)
    reports = import_all(cfg, arches, path, with_image=not no_image, replace=replace, echo=echo)
    print(render("imported", dir, reports, as_json=json))


@packbin_task(help={"arch": _CACHE_HELP["arch"]})
@user_errors
def cache_key(c: Context, arch: str | None = None) -> None:
    """Print the cache key: it changes with the Cargo.lock files, the builder recipe and packbin's version.

    Needs no engine. In a workflow: `key: packbin-${{ matrix.arch }}-$(invoke cache-key ...)`.
    """
    from packbin.ci.cache_transfer import cache_key as key

    cfg, arches = _cache_arches(arch)
    print(key(cfg, arches))
