"""``python3 -m packbin.deploy``: the init image's entry point (see :mod:`packbin.deploy.cli`)."""

from __future__ import annotations

import sys

from packbin.deploy.cli import main

if __name__ == "__main__":
    sys.exit(main())
