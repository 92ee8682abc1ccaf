"""packbin's invoke collection, for a repository's own tasks.py.

    from invoke import Collection
    from packbin.tasks import ns as packbin_tasks

    ns = Collection(my_task)
    ns.add_collection(packbin_tasks)  # invoke packbin.build-pack-binaries ...

The tasks themselves are in :mod:`packbin.cli.tasks`; this name stays put for the tasks.py files
that import it.
"""

from __future__ import annotations

from packbin.cli.tasks import ns

__all__ = ["ns"]
