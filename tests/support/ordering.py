"""The order the session runs its tests in: a test marked ``runs_last`` runs after every other.

The clean test (tests/integration/test_clean_docker.py) removes packbin's containers and cache
volumes, which the other integration tests build with; run anywhere else in a session, it would
make the builds after it cold. tests/conftest.py calls this from ``pytest_collection_modifyitems``.
"""

from __future__ import annotations

from collections.abc import MutableSequence
from typing import Protocol

RUNS_LAST = "runs_last"


class _Marked(Protocol):
    def get_closest_marker(self, name: str) -> object | None: ...


def move_runs_last_to_end(items: MutableSequence[_Marked]) -> None:
    """Reorder ``items`` in place (pytest reads the list it passed): the ``runs_last`` ones at the
    end; each group keeps its collection order."""
    items[:] = sorted(items, key=lambda item: item.get_closest_marker(RUNS_LAST) is not None)
