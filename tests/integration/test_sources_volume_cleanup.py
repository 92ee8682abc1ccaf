"""Sources volumes of checkouts that are gone are removed by the next sync, and no other.

Real engine, real volumes (labelled as sync_sources labels them), real directories.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from packbin.build.sources import CHECKOUT_LABEL, VIEW_LABEL, remove_gone_checkouts
from packbin.ci.cache_transfer import _carrier
from packbin.engine import filesystem_view

pytestmark = pytest.mark.docker


def test_a_sources_volume_whose_checkout_is_gone_is_removed_and_no_other(engine: Any, tmp_path: Path) -> None:
    here = tmp_path / "here"
    here.mkdir()
    gone = tmp_path / "gone"  # never made: a checkout deleted since its last build
    view = filesystem_view()
    tag = uuid.uuid4().hex[:8]
    labels = {
        "gone": {CHECKOUT_LABEL: str(gone), VIEW_LABEL: view},
        "gone-in-use": {CHECKOUT_LABEL: str(gone), VIEW_LABEL: view},
        "here": {CHECKOUT_LABEL: str(here), VIEW_LABEL: view},
        "other-view": {CHECKOUT_LABEL: str(gone), VIEW_LABEL: "another-host mnt:[1]"},
        "unlabelled": {},
    }
    names = {key: f"packbin-src-test-{tag}-{key}" for key in labels}
    for key, lab in labels.items():
        engine.ensure_volume(names[key], kind="sources", labels=lab)
    user = engine.client.containers.create(
        _carrier(engine), ["/none"], volumes={names["gone-in-use"]: {"bind": "/v", "mode": "ro"}}
    )
    lines: list[str] = []
    try:
        removed = remove_gone_checkouts(engine, echo=lines.append)
        mine = set(names.values())
        assert [n for n in removed if n in mine] == [names["gone"]]
        assert f"sources: removed volume {names['gone']} (its checkout {gone} is gone)" in lines
        left = {str(v.name) for v in engine.client.volumes.list()} & mine
        assert left == mine - {names["gone"]}
    finally:
        user.remove(force=True)
        for name in names.values():
            engine.remove_volume(name)
