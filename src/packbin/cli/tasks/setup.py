"""Setup tasks: init (write buildcfg.toml), doctor (check the engine and host), clean."""

from __future__ import annotations

from invoke.context import Context

from packbin.cli.support import packbin_task, user_errors
from packbin.cli.tasks.shared import load_config


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


@packbin_task(help={"all": "Also remove packbin's images (builder, base, init, smoke images)."})
@user_errors
def clean(c: Context, all: bool = False) -> None:
    """Remove what packbin created: dist/pack-binaries and dist/logs, its containers and cache volumes (and with --all its images).

    Anything else in dist/ (the wheel and sdist of `python -m build`) is left alone. Local files go
    first; exit 3 when the engine cannot be reached, after saying what was removed.
    """
    from packbin.cli.clean import clean as do_clean

    do_clean(load_config(), images=all)


@packbin_task
@user_errors
def doctor(c: Context) -> None:
    """Check the setup: engine endpoint and version, native platform, foreign-arch execution, disk space."""
    from packbin.cli.doctor import run_doctor

    run_doctor()
