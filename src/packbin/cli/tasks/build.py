"""Build tasks: build-pack-binaries, its seed Makefile names, and the builder image."""

from __future__ import annotations

import sys
from typing import Any

from invoke.context import Context

from packbin.cli.support import packbin_task, user_errors
from packbin.cli.tasks.shared import ARCH_CHOICES, load_config

_BUILD_HELP = {
    "arch": ARCH_CHOICES
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
    from packbin.build.pipeline import build_pack_binaries
    from packbin.build.request import BuildRequest

    if manifest:
        import os
        from pathlib import Path

        from packbin.cli.init import config_for_manifest

        cfg, names = config_for_manifest(manifest, tuple(binary or ()), cwd=Path.cwd(), env=os.environ)
    else:
        cfg, names = load_config(), tuple(binary or ())
    req = BuildRequest(
        arch=arch,
        binaries=names,
        jobs=BuildRequest.jobs_from_flag(jobs),
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
        connect(), load_config(), rebuild=rebuild, pull=not no_pull, echo=lambda line: print(line, file=sys.stderr)
    )
    state = "built" if img.built else "up to date"
    print(f"{img.tag}  profile={img.profile}  id={img.image_id[:19]}  ({state})")
