"""The invoke tasks: thin wrappers that parse flags and call one function of the package.

The same Collection backs ``invoke TASK`` (via the repository's tasks.py) and the ``packbin``
console script. User errors end with ``invoke.Exit(message, code)``: no traceback.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

from invoke import Collection, Context, Exit, task

from packbin.errors import PackbinError

F = TypeVar("F", bound=Callable[..., Any])


def _user_errors(fn: F) -> F:
    """Turn PackbinError (and Ctrl-C) into invoke.Exit with the error's message and code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        logging.basicConfig(
            level=logging.DEBUG if os.environ.get("PACKBIN_DEBUG") else logging.WARNING,
            format="%(levelname)s %(name)s: %(message)s",
        )
        try:
            return fn(*args, **kwargs)
        except PackbinError as e:
            if os.environ.get("PACKBIN_DEBUG"):
                raise
            raise Exit(f"packbin: error: {e}", code=e.exit_code) from None
        except KeyboardInterrupt:
            raise Exit("packbin: interrupted", code=130) from None

    return wrapper  # type: ignore[return-value]


def _config() -> Any:
    from packbin.config import BuildConfig

    return BuildConfig.load()


_BUILD_HELP = {
    "arch": "x86_64, arm64 or all (aliases amd64, aarch64; comma-separated lists work). Default: default_arch in buildcfg.toml, overridden by PACK_BINARIES_RUST_TARGET or RUST_TARGET.",
    "binary": "Build only this binary (repeatable: --binary A --binary B). Default: every [[binaries]] entry.",
    "jobs": "Architectures built in parallel. Default: all at once.",
    "force": "Ignore the up-to-date check and rebuild.",
    "json": "Print a machine-readable report on stdout (progress goes to stderr).",
    "deploy_arch": "Architecture installed into packs/ itself. Default: deploy_arch in buildcfg.toml, else the engine's native one.",
    "rebuild_image": "Rebuild the builder image even if its recipe is unchanged.",
}


def _build(arch: str | None, binary: list[str] | None, jobs: int | None, force: bool, json: bool, deploy_arch: str | None, rebuild_image: bool) -> None:
    from packbin.build import BuildRequest, build_pack_binaries

    req = BuildRequest(
        arch=arch, binaries=tuple(binary or ()), jobs=jobs, force=force,
        deploy_arch=deploy_arch, as_json=json, rebuild_image=rebuild_image,
    )
    build_pack_binaries(_config(), req)


@task(help=_BUILD_HELP, iterable=["binary"])
@_user_errors
def build_pack_binaries(
    c: Context, arch: str | None = None, binary: list[str] | None = None, jobs: int | None = None,
    force: bool = False, json: bool = False, deploy_arch: str | None = None, rebuild_image: bool = False,
) -> None:
    """Cross-compile the pack binaries as static musl executables, verify and install them.

    Builds run in containers through the Docker Engine API (cargo zigbuild); artifacts land in
    dist/pack-binaries/<arch>/<pack>/... with a manifest.json, and the deploy architecture's
    binaries are also installed into packs/. Up-to-date binaries are skipped without a container.
    """
    _build(arch, binary, jobs, force, json, deploy_arch, rebuild_image)


_SEED_HELP = {k: v for k, v in _BUILD_HELP.items() if k != "arch"}


@task(help=_SEED_HELP, iterable=["binary"])
@_user_errors
def docker_build_pack_binaries(
    c: Context, binary: list[str] | None = None, jobs: int | None = None, force: bool = False,
    json: bool = False, deploy_arch: str | None = None, rebuild_image: bool = False,
) -> None:
    """Makefile name: build-pack-binaries for the default architecture."""
    _build(None, binary, jobs, force, json, deploy_arch, rebuild_image)


@task(help=_SEED_HELP, iterable=["binary"])
@_user_errors
def docker_build_pack_binaries_arm64(
    c: Context, binary: list[str] | None = None, jobs: int | None = None, force: bool = False,
    json: bool = False, deploy_arch: str | None = None, rebuild_image: bool = False,
) -> None:
    """Makefile name: build-pack-binaries --arch=arm64 (aarch64-unknown-linux-musl)."""
    _build("arm64", binary, jobs, force, json, deploy_arch, rebuild_image)


@task(help=_SEED_HELP, iterable=["binary"])
@_user_errors
def docker_build_pack_binaries_all(
    c: Context, binary: list[str] | None = None, jobs: int | None = None, force: bool = False,
    json: bool = False, deploy_arch: str | None = None, rebuild_image: bool = False,
) -> None:
    """Makefile name: build-pack-binaries --arch=all."""
    _build("all", binary, jobs, force, json, deploy_arch, rebuild_image)


@task(help={"rebuild": "Build the image again even if its recipe is unchanged.", "no_pull": "Never try to pull base images; use local ones or bootstrap."})
@_user_errors
def builder_image(c: Context, rebuild: bool = False, no_pull: bool = False) -> None:
    """Build the builder image if needed and show it (tag, profile, recipe)."""
    from packbin.builder_image import ensure_builder_image
    from packbin.engine import connect

    img = ensure_builder_image(connect(), _config(), rebuild=rebuild, pull=not no_pull)
    state = "built" if img.built else "up to date"
    print(f"{img.tag}  profile={img.profile}  id={img.image_id[:19]}  ({state})")


@task(help={"all": "Also remove packbin's images (builder, base, init, smoke images)."})
@_user_errors
def clean(c: Context, all: bool = False) -> None:
    """Remove what packbin created: dist/, its containers and cache volumes (and with --all its images)."""
    from packbin.clean import clean as do_clean

    do_clean(_config(), images=all)


@task
@_user_errors
def doctor(c: Context) -> None:
    """Check the setup: engine endpoint and version, native platform, foreign-arch execution, disk space."""
    from packbin.doctor import run_doctor

    run_doctor()


@task(
    positional=["path"],
    iterable=["also"],
    help={
        "path": "The file or directory to check. Directories are walked recursively; non-ELF files inside them are skipped, a non-ELF file named directly fails.",
        "also": "Another file or directory to check (repeatable: --also A --also B). Paths after a bare `--` are checked too (names without spaces).",
        "arch": "Require this architecture too (x86_64, arm64, aliases; or any name in buildcfg.toml). Default: a static executable of any architecture passes.",
        "json": "Print one JSON document on stdout instead of the table.",
    },
)
@_user_errors
def verify_static(c: Context, path: str, also: list[str] | None = None, arch: str | None = None, json: bool = False) -> None:
    """Check that ELF files are static executables (of ARCH). Exit 0: all ok; 1: some failed; 2: could not run.

    Several paths: `verify-static dist/ --also /usr/local/bin/tool`, or `verify-static dist/ -- a b c`.
    """
    import shlex

    from packbin.verify import run_verify_static

    paths = [path, *(also or []), *shlex.split(c.remainder or "")]
    run_verify_static(paths, _arch_for_verify(arch), as_json=json, out=sys.stdout)


def _arch_for_verify(name: str | None) -> Any:
    if name is None:
        return None
    from packbin.config import BuildConfig, ConfigError

    try:
        cfg = BuildConfig.load()
    except ConfigError:
        from packbin.config import builtin_config

        cfg = builtin_config()
    return cfg.arch(name)


ns = Collection(
    build_pack_binaries,
    docker_build_pack_binaries,
    docker_build_pack_binaries_arm64,
    docker_build_pack_binaries_all,
    builder_image,
    clean,
    doctor,
    verify_static,
)
