"""``python -m packbin``: the same command line as the ``packbin`` script."""

from packbin.cli.program import main

main()
