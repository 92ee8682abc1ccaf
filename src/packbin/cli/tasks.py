"""The invoke tasks: thin wrappers that parse flags and call one function of the package.

The same Collection backs ``invoke TASK`` (via the repository's tasks.py) and the ``packbin``
console script. User errors end with ``invoke.Exit(message, code)``: no traceback.
"""

from __future__ import annotations

import sys
from typing import Any

from invoke.collection import Collection
from invoke.context import Context

from packbin.cli.support import help_asked, packbin_task, user_errors
from packbin.config.presets import PRESETS
from packbin.errors import UsageError


def _config() -> Any:
    from packbin.config.model import BuildConfig

    return BuildConfig.load()


#: What --arch accepts: the presets (packbin.config.presets) and buildcfg.toml's own names.
_ARCH_CHOICES = (
    "A preset ("
    + ", ".join(a.name for a in PRESETS)
    + "; aliases such as amd64, aarch64, armhf, i386), a name from buildcfg.toml, or all (all_arches in buildcfg.toml; default x86_64, arm64 and every [architectures] table); comma-separated lists work."
)

_BUILD_HELP = {
    "arch": _ARCH_CHOICES
    + " Default: default_arch in buildcfg.toml, overridden by PACK_BINARIES_RUST_TARGET or RUST_TARGET.",
    "binary": "Build only this binary (repeatable: --binary A --binary B). Default: every [[binaries]] entry.",
    "jobs": "How many architectures build in parallel (a whole number). Default 0: all at once.",
    "force": "Ignore the up-to-date check and rebuild.",
    "json": "Print a machine-readable report on stdout (progress goes to stderr).",
    "deploy_arch": "Architecture installed into packs/ itself. Default: deploy_arch in buildcfg.toml, else the engine's native one.",
    "rebuild_image": "Rebuild the builder image even if its recipe is unchanged.",
    "dry_run": "Print what would be built, reinstalled or skipped (the plan) and stop: no container is started, nothing is written.",
    "check_reproducible": "After the build, rebuild every selected binary in fresh cache volumes on its engine and compare the bytes with dist/ (exit 1 when they differ; minutes: std is rebuilt too).",
    "manifest": "Build the bin of this Cargo.toml (or crate directory). With no buildcfg.toml anywhere: with every default, no file written (a crate with several bins needs --binary). With a buildcfg.toml: only its binaries of that crate (exit 2 when it configures none).",
}


def _jobs(value: str) -> int | None:
    # Parsed here rather than by invoke, whose int conversion of a bad value is a traceback.
    try:
        n = int(value)
    except ValueError:
        raise UsageError(f"--jobs takes a whole number, got {value!r}") from None
    if n < 0:
        raise UsageError(f"--jobs must be 0 (all at once) or more, got {n}")
    return n or None


def _build(
    arch: str | None,
    binary: list[str] | None,
    jobs: str,
    force: bool,
    json: bool,
    deploy_arch: str | None,
    rebuild_image: bool,
    dry_run: bool = False,
    check_reproducible: bool = False,
    manifest: str | None = None,
) -> None:
    from packbin.build.pipeline import BuildRequest, build_pack_binaries

    if manifest:
        import os
        from pathlib import Path

        from packbin.cli.init import config_for_manifest

        cfg, names = config_for_manifest(manifest, tuple(binary or ()), cwd=Path.cwd(), env=os.environ)
    else:
        cfg, names = _config(), tuple(binary or ())
    req = BuildRequest(
        arch=arch,
        binaries=names,
        jobs=_jobs(jobs),
        force=force,
        deploy_arch=deploy_arch,
        as_json=json,
        rebuild_image=rebuild_image,
        dry_run=dry_run,
        check_reproducible=check_reproducible,
    )
    build_pack_binaries(cfg, req)


@packbin_task(help=_BUILD_HELP, iterable=["binary"])
@user_errors
def build_pack_binaries(
    c: Context,
    arch: str | None = None,
    binary: list[str] | None = None,
    jobs: str = "0",
    force: bool = False,
    json: bool = False,
    deploy_arch: str | None = None,
    rebuild_image: bool = False,
    dry_run: bool = False,
    check_reproducible: bool = False,
    manifest: str | None = None,
) -> None:
    """Cross-compile the pack binaries as static musl executables, verify and install them.

    Builds run in containers through the Docker Engine API (cargo zigbuild); artifacts land in
    dist/pack-binaries/<arch>/<pack>/... with a manifest.json, and the deploy architecture's
    binaries are also installed into packs/. Up-to-date binaries are skipped without a container.
    Each architecture builds on its own engine when buildcfg.toml or PACKBIN_ENGINE_<NAME> names one.
    """
    _build(arch, binary, jobs, force, json, deploy_arch, rebuild_image, dry_run, check_reproducible, manifest)


_SEED_HELP = {k: v for k, v in _BUILD_HELP.items() if k not in ("arch", "dry_run", "check_reproducible", "manifest")}


def _seed_task(name: str, arch: str | None, doc: str) -> Any:
    """A task under one of the seed Makefile's names: build-pack-binaries with ``arch`` fixed."""

    def seed(
        c: Context,
        binary: list[str] | None = None,
        jobs: str = "0",
        force: bool = False,
        json: bool = False,
        deploy_arch: str | None = None,
        rebuild_image: bool = False,
    ) -> None:
        _build(arch, binary, jobs, force, json, deploy_arch, rebuild_image)

    seed.__name__ = seed.__qualname__ = name
    seed.__doc__ = doc
    return packbin_task(help=_SEED_HELP, iterable=["binary"])(user_errors(seed))


docker_build_pack_binaries = _seed_task(
    "docker_build_pack_binaries", None, "Makefile name: build-pack-binaries for the default architecture."
)
docker_build_pack_binaries_arm64 = _seed_task(
    "docker_build_pack_binaries_arm64",
    "arm64",
    "Makefile name: build-pack-binaries --arch=arm64 (aarch64-unknown-linux-musl).",
)
docker_build_pack_binaries_all = _seed_task(
    "docker_build_pack_binaries_all", "all", "Makefile name: build-pack-binaries --arch=all."
)


@packbin_task(
    help={
        "rebuild": "Build the image again even if its recipe is unchanged.",
        "no_pull": "Never try to pull base images; use local ones or bootstrap.",
    }
)
@user_errors
def builder_image(c: Context, rebuild: bool = False, no_pull: bool = False) -> None:
    """Build the builder image if needed and show it (tag, profile, recipe)."""
    from packbin.build.image import ensure_builder_image
    from packbin.engine import connect

    img = ensure_builder_image(
        connect(), _config(), rebuild=rebuild, pull=not no_pull, echo=lambda line: print(line, file=sys.stderr)
    )
    state = "built" if img.built else "up to date"
    print(f"{img.tag}  profile={img.profile}  id={img.image_id[:19]}  ({state})")


@packbin_task(help={"all": "Also remove packbin's images (builder, base, init, smoke images)."})
@user_errors
def clean(c: Context, all: bool = False) -> None:
    """Remove what packbin created: dist/pack-binaries and dist/logs, its containers and cache volumes (and with --all its images).

    Anything else in dist/ (the wheel and sdist of `python -m build`) is left alone. Local files go
    first; exit 3 when the engine cannot be reached, after saying what was removed.
    """
    from packbin.cli.clean import clean as do_clean

    do_clean(_config(), images=all)


@packbin_task
@user_errors
def doctor(c: Context) -> None:
    """Check the setup: engine endpoint and version, native platform, foreign-arch execution, disk space."""
    from packbin.cli.doctor import run_doctor

    run_doctor()


@packbin_task(
    positional=["path"],
    iterable=["also"],
    help={
        "path": "The file or directory to check. Directories are walked recursively; non-ELF files inside them are skipped, a non-ELF file named directly fails.",
        "also": "Another file or directory to check (repeatable: --also A --also B). Paths after a bare `--` are checked too (names without spaces).",
        "arch": "Require this architecture too: its machine, class, byte order and the e_flags its preset checks ("
        + ", ".join(a.name for a in PRESETS)
        + ", their aliases, or any name in buildcfg.toml). Default: a static executable of any architecture passes.",
        "json": "Print one JSON document on stdout instead of the table.",
    },
)
@user_errors
def verify_static(
    c: Context, path: str, also: list[str] | None = None, arch: str | None = None, json: bool = False
) -> None:
    """Check that ELF files are static executables (of ARCH). Exit 0: all ok; 1: some failed; 2: could not run.

    Several paths: `verify-static dist/ --also /usr/local/bin/tool`, or `verify-static dist/ -- a b c`.
    """
    import shlex

    from packbin.elf.verify import run_verify_static

    if help_asked(path, "verify-static"):
        return

    paths = [path, *(also or []), *shlex.split(c.remainder or "")]
    run_verify_static(paths, _arch_for_verify(arch), as_json=json, out=sys.stdout)


def _arch_for_verify(name: str | None) -> Any:
    """The --arch of verify-static: from buildcfg.toml when there is one, else the built-in table.

    Only a missing buildcfg.toml selects the built-in table; a broken one is an error (exit 2), not
    a silent fallback to other definitions.
    """
    if name is None:
        return None
    from packbin.config.model import BuildConfig, builtin_config, find_config
    from packbin.errors import ConfigError

    try:
        path = find_config()
    except ConfigError:
        return builtin_config().arch(name)  # outside a repository
    return BuildConfig.load(path).arch(name)


@packbin_task(
    help={
        "arch": _ARCH_CHOICES
        + " Default: the deploy architecture (deploy_arch in buildcfg.toml, else the engine's native one).",
    },
)
@user_errors
def smoke_pack_binaries(c: Context, arch: str | None = None) -> None:
    """Run every built binary in an empty (FROM scratch) image: --version, and the timer sensor in bounded mode.

    Reads dist/pack-binaries/manifest.json. Native architectures always run; foreign ones run
    when the engine can execute them (binfmt/qemu), otherwise they are skipped with the reason.
    Exit 0: every run passed (skips allowed); 1: a run failed; 2: nothing built for ARCH.
    """
    from packbin.compose.smoke import run_smoke

    run_smoke(_config(), arch=arch, out=sys.stdout)


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

    if help_asked(dirs, "collect-pack-binaries"):
        return

    run_collect(
        _config(),
        [d for d in dirs.split(",") if d.strip()],
        out=sys.stdout,
        require=(arch,) if arch else None,
        as_json=json,
    )


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

    run_init_images(_config(), arch=arch, out=sys.stdout)


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
    from packbin.compose.init_packs import run_init_packs

    run_init_packs(
        _config(),
        dest=dest,
        volume=volume,
        source=source,
        binaries=binaries,
        arch=arch,
        delete=delete,
        dry_run=dry_run,
        checksum=checksum,
        as_json=json,
        out=sys.stdout,
    )


_CACHE_HELP = {
    "dir": "The cache directory (created on export). One file per volume plus packbin-cache.json.",
    "arch": "Only these architectures' caches (x86_64, arm64, all; comma-separated). Default: every configured one.",
    "with_image": "Also the builder image (about 2 GB; saves its build of a few minutes on a fresh engine).",
    "json": "Print a machine-readable report on stdout (progress goes to stderr).",
}


def _cache_arches(arch: str | None) -> tuple[Any, Any]:
    cfg = _config()
    return cfg, cfg.select_arches(arch or "all")


def _transfer(kind: str, dir: str, arch: str | None, json: bool, **options: bool) -> None:
    from pathlib import Path

    from packbin.ci import cache_transfer

    if not dir:
        raise UsageError(f"cache-{kind} needs --dir DIR")
    cfg, arches = _cache_arches(arch)
    out = sys.stderr if json else sys.stdout
    echo = lambda line: print(line, file=out, flush=True)
    reports = cache_transfer.transfer(kind, cfg, arches, Path(dir), echo=echo, **options)
    print(cache_transfer.render(kind, dir, reports, as_json=json))


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
    _transfer("export", dir, arch, json, with_image=with_image)


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
    _transfer("import", dir, arch, json, with_image=not no_image, replace=replace)


@packbin_task(help={"arch": _CACHE_HELP["arch"]})
@user_errors
def cache_key(c: Context, arch: str | None = None) -> None:
    """Print the cache key: it changes with the Cargo.lock files, the builder recipe and packbin's version.

    Needs no engine. In a workflow: `key: packbin-${{ matrix.arch }}-$(invoke cache-key ...)`.
    """
    from packbin.ci.cache_transfer import cache_key as key

    cfg, arches = _cache_arches(arch)
    print(key(cfg, arches))


@packbin_task(
    iterable=["binary"],
    help={
        "binary": "Write only this bin (repeatable: --binary A --binary B). Default: every bin found.",
        "print": "Write the file to stdout instead of buildcfg.toml (works when one exists, to compare).",
    },
)
@user_errors
def init(c: Context, binary: list[str] | None = None, print: bool = False) -> None:
    """Write a commented buildcfg.toml for the Cargo repository in the working directory (never overwrites).

    Lists every bin cargo would build (workspace members, standalone crates; vendor/ and target/
    skipped) as a [[binaries]] entry with its manifest; `pack` is set only for crates inside
    packs/<pack>/. Exit 2: not a Cargo repository, an unknown --binary, or buildcfg.toml exists.
    """
    from pathlib import Path

    from packbin.cli.init import InitRequest, run_init

    run_init(InitRequest(root=Path.cwd(), binaries=tuple(binary or ()), to_stdout=print))


#: Named "packbin": a repository's own tasks.py adds it with `ns.add_collection(packbin_tasks)`
#: and gets `invoke packbin.build-pack-binaries`; as a root collection (this repository's
#: tasks.py, the `packbin` command) the name is not shown and tasks keep their plain names.
ns = Collection(
    "packbin",
    build_pack_binaries,
    docker_build_pack_binaries,
    docker_build_pack_binaries_arm64,
    docker_build_pack_binaries_all,
    builder_image,
    clean,
    doctor,
    verify_static,
    smoke_pack_binaries,
    collect_pack_binaries,
    build_pack_binaries_init_image,
    init_packs,
    cache_export,
    cache_import,
    cache_key,
    init,
)
