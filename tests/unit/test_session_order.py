"""The clean test runs after every other test because it is marked so, not because of its name."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field

from tests.support.ordering import RUNS_LAST, move_runs_last_to_end
from tests.support.repo import REPO


@dataclass
class _Item:
    name: str
    markers: set[str] = field(default_factory=set)

    def get_closest_marker(self, name: str) -> object | None:
        return name if name in self.markers else None


def test_the_runs_last_items_move_to_the_end_and_each_group_keeps_its_order() -> None:
    items = [
        _Item("clean", {RUNS_LAST}),
        _Item("a"),
        _Item("after-clean", {RUNS_LAST, "docker"}),
        _Item("b", {"docker"}),
        _Item("c"),
    ]
    same_list = items
    move_runs_last_to_end(items)
    assert items is same_list  # pytest reads back the list it passed
    assert [item.name for item in items] == ["a", "b", "c", "clean", "after-clean"]


def test_nothing_marked_leaves_the_order_alone() -> None:
    items = [_Item("b"), _Item("a")]
    move_runs_last_to_end(items)
    assert [item.name for item in items] == ["b", "a"]


def test_the_clean_test_is_collected_last_even_when_named_first() -> None:
    # The real hook in tests/conftest.py, the real marker (--strict-markers: registered in
    # pyproject.toml); collecting needs no engine.
    clean = "tests/integration/test_clean_docker.py"
    res = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "--strict-markers"]
        + [clean, "tests/unit/test_repo_files.py"],
        check=False,
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        timeout=120,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    ids = [line for line in res.stdout.splitlines() if "::" in line]
    assert len(ids) > 1 and ids[-1].startswith(clean + "::"), ids
    assert all(not line.startswith(clean) for line in ids[:-1]), ids
