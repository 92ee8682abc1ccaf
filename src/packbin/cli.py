"""The ``packbin`` console script: invoke's Program over the same Collection as tasks.py."""

from __future__ import annotations

from invoke.exceptions import ParseError
from invoke.program import Program

from packbin import __version__
from packbin.tasks import ns

#: Exit code for bad arguments ("could not run"), as for packbin's own UsageError.
USAGE_EXIT = 2


class PackbinProgram(Program):
    """invoke's Program, except that a command-line parse error exits 2, not 1.

    packbin keeps 1 for "ran, and some check failed" (verify-static, init-packs).
    """

    _parse_failed = False

    def parse_tasks(self) -> None:
        try:
            super().parse_tasks()
        except ParseError:
            self._parse_failed = True
            raise

    def parse_core(self, argv: list[str] | None) -> None:
        try:
            super().parse_core(argv)
        except ParseError:
            self._parse_failed = True
            raise

    def run(self, argv: list[str] | None = None, exit: bool = True) -> None:
        try:
            super().run(argv, exit)
        except SystemExit as e:
            if self._parse_failed and e.code == 1:
                raise SystemExit(USAGE_EXIT) from None
            raise


program = PackbinProgram(namespace=ns, version=__version__, name="packbin", binary="packbin")


def main() -> None:
    program.run()


if __name__ == "__main__":
    main()
