"""The ``packbin`` console script: invoke's Program over the same Collection as tasks.py."""

from __future__ import annotations

from invoke import Program

from packbin import __version__
from packbin.tasks import ns

program = Program(namespace=ns, version=__version__, name="packbin", binary="packbin")


def main() -> None:
    program.run()


if __name__ == "__main__":
    main()
