"""A container whose packbin died (SIGKILL, a crashed runner) is found and removed: a build
container by the next build of its target, any other by the next connection to the engine.

Real engine, real containers (created, never started) from an image packbin already has, on a
throwaway volume so that no real cache is touched.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import docker.errors
import pytest

from packbin.engine import HOST_LABEL, KIND_LABEL, OWNER_LABEL, PID_LABEL, process_host


def dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


@pytest.fixture
def volume(engine: Any) -> Iterator[str]:
    name = f"packbin-test-stale-{uuid.uuid4().hex[:8]}"
    engine.client.volumes.create(name=name, labels={OWNER_LABEL: "packbin-test"})
    yield name
    engine.client.volumes.get(name).remove(force=True)


def test_stale_build_container_is_removed_and_live_ones_are_not(engine: Any, volume: str) -> None:
    made: list[Any] = []

    def make(host: str, pid: int) -> Any:
        return _make(engine, made, volume, kind="build", host=host, pid=pid)

    try:
        stale = make(process_host(), dead_pid())
        live = make(process_host(), 1)  # pid 1 lives (in this PID namespace)
        elsewhere = make("another-host pid:[1]", dead_pid())
        removed = engine.remove_stale_containers(kind="build", volume=volume)
        assert removed == [stale.name]
        names = {c.name for c in engine.client.containers.list(all=True, filters={"volume": volume})}
        assert names == {live.name, elsewhere.name}
    finally:
        for c in made:
            with contextlib.suppress(docker.errors.NotFound):  # the code under test removed it
                c.remove(force=True)


def _make(engine: Any, made: list[Any], volume: str, *, kind: str, host: str, pid: int) -> Any:
    images = [t for img in engine.client.images.list() for t in img.tags if t.startswith("packbin/")]
    if not images:
        pytest.skip("no packbin image on the engine to create a container from")
    c = engine.client.containers.create(
        images[0],
        command=["true"],
        volumes={volume: {"bind": "/cache", "mode": "rw"}},
        labels={OWNER_LABEL: "packbin", KIND_LABEL: kind, HOST_LABEL: host, PID_LABEL: str(pid)},
    )
    made.append(c)
    return c


def test_connecting_removes_the_orphans_of_every_kind_and_only_them(
    engine: Any, volume: str, caplog: pytest.LogCaptureFixture
) -> None:
    from packbin.engine.connect import connect

    made: list[Any] = []
    try:
        orphans = [_make(engine, made, volume, kind=k, host=process_host(), pid=dead_pid()) for k in ("cache", "fetch")]
        live = _make(engine, made, volume, kind="sync", host=process_host(), pid=1)
        elsewhere = _make(engine, made, volume, kind="cache", host="another-host pid:[1]", pid=dead_pid())
        with caplog.at_level("WARNING", logger="packbin"):
            connect()
        names = {c.name for c in engine.client.containers.list(all=True, filters={"volume": volume})}
        assert names == {live.name, elsewhere.name}
        for c in orphans:
            assert f"removed container {c.name}: the packbin process that made it is gone" in caplog.text
    finally:
        for c in made:
            with contextlib.suppress(docker.errors.NotFound):  # the code under test removed it
                c.remove(force=True)


def test_a_container_removed_while_listing_is_left_out_not_an_error(
    engine: Any, volume: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another packbin's container that finishes between the engine's list and its inspect (two
    builds at once; it failed a CI run as "cannot list containers: No such container"). The
    removal is real; only its moment is forced: right after the real list returns."""
    from docker.models.containers import ContainerCollection

    made: list[Any] = []
    try:
        gone = _make(engine, made, volume, kind="sync", host=process_host(), pid=1)
        kept = _make(engine, made, volume, kind="sync", host=process_host(), pid=1)
        real_list = ContainerCollection.list

        def list_then_remove(self: ContainerCollection, *args: Any, **kwargs: Any) -> Any:
            found = real_list(self, *args, **kwargs)
            with contextlib.suppress(docker.errors.NotFound):
                gone.remove(force=True)
            return found

        monkeypatch.setattr(ContainerCollection, "list", list_then_remove)
        names = {c.name for c in engine.owned_containers()}
        assert kept.name in names and gone.name not in names
    finally:
        for c in made:
            with contextlib.suppress(docker.errors.NotFound):
                c.remove(force=True)
