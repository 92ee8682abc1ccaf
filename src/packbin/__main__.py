"""``python -m packbin``: the same command line as the ``packbin`` script."""

from packbin.cli import main

main()
