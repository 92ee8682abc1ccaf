"""Checking tasks: verify-static (the ELF verifier on any file) and smoke-pack-binaries (run what was built)."""

from __future__ import annotations

import sys
from typing import Any

from invoke.context import Context

from packbin.cli.support import help_asked, packbin_task, user_errors
from packbin.cli.tasks.shared import ARCH_CHOICES, load_config
from packbin.config.presets import PRESETS


@packbin_task(
    positional=["path"],
    iterable=["also"],
    help={
        "path": "The file or directory to check. Directories are walked recursively; non-ELF files inside them are skipped, a non-ELF file named directly fails.",
        "also": "Another file or directory to check (repeatable: --also A --also B). Paths after a bare `--` are checked too (names without spaces).",
        "arch": "Require this architecture too: its machine, class, byte order and the e_flags its preset checks ("
        + ", ".join(a.name for a in PRESETS)
        + ", their aliases, or any name in buildcfg.toml). Default: a static executable of any architecture passes.",
        "json": "Print one JSON document on stdout instead of the table (it has each file's embedded dependency list, the .dep-v0 section, when there is one).",
        "deps": "List the crates each file says it was built from (its .dep-v0 section, as cargo-auditable writes it) under its row. The verdict does not change.",
    },
)
@user_errors
def verify_static(
    c: Context,
    path: str,
    also: list[str] | None = None,
    arch: str | None = None,
    json: bool = False,
    deps: bool = False,
) -> None:
    """Check that ELF files are static executables (of ARCH). Exit 0: all ok; 1: some failed; 2: could not run.

    Several paths: `verify-static dist/ --also /usr/local/bin/tool`, or `verify-static dist/ -- a b c`.
    """
    import shlex

    from packbin.elf.verify import run_verify_static

    if help_asked(path, verify_static):
        return

    paths = [path, *(also or []), *shlex.split(c.remainder or "")]
    run_verify_static(paths, _arch_for_verify(arch), as_json=json, out=sys.stdout, deps=deps)


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
        "arch": ARCH_CHOICES
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

    run_smoke(load_config(), arch=arch, out=sys.stdout)
