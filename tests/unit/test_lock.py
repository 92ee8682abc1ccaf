"""The process lock, contended by real processes (multiprocessing, spawn: nothing shared by fork)."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from multiprocessing.context import SpawnContext
from multiprocessing.synchronize import Event
from pathlib import Path

import pytest

from packbin.errors import PackbinError
from packbin.util.lock import file_lock

WHAT = "the x86_64 build cache"


@pytest.fixture(scope="module")
def ctx() -> SpawnContext:
    return multiprocessing.get_context("spawn")


def hold(path: str, acquired: Event, release: Event) -> None:
    """Child: take the lock, say so, keep it until told to let go."""
    with file_lock(Path(path), what=WHAT):
        acquired.set()
        release.wait(30)


def increment(path: str, counter: str, rounds: int) -> None:
    """Child: a read-modify-write that loses updates unless the lock excludes the others."""
    for _ in range(rounds):
        with file_lock(Path(path), what="the counter"):
            value = int(Path(counter).read_text())
            time.sleep(0.002)  # widen the race window
            Path(counter).write_text(str(value + 1))


def test_second_run_waits_reports_once_and_times_out(tmp_path: Path, ctx: SpawnContext) -> None:
    lock = tmp_path / "locks" / "build.lock"
    acquired, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=hold, args=(str(lock), acquired, release))
    holder.start()
    try:
        assert acquired.wait(30), "the holder never got the lock"
        assert lock.read_text().strip() == str(holder.pid)
        messages: list[str] = []
        start = time.monotonic()
        with pytest.raises(PackbinError) as exc, file_lock(lock, what=WHAT, timeout=0.6, on_wait=messages.append):
            pytest.fail("got a lock that another process holds")
        elapsed = time.monotonic() - start
        assert 0.6 <= elapsed < 3
        assert messages == [f"waiting for another packbin run holding {WHAT} (pid {holder.pid})"]
        message = str(exc.value)
        assert f"pid {holder.pid}" in message and WHAT in message and str(lock) in message
        assert exc.value.hint
    finally:
        release.set()
        holder.join(30)
    assert holder.exitcode == 0


def test_waiter_gets_the_lock_when_the_holder_lets_go(tmp_path: Path, ctx: SpawnContext) -> None:
    lock = tmp_path / "build.lock"
    acquired, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=hold, args=(str(lock), acquired, release))
    holder.start()
    try:
        assert acquired.wait(30)
        messages: list[str] = []

        def on_wait(line: str) -> None:
            messages.append(line)
            release.set()  # the holder finishes while we wait

        with file_lock(lock, what=WHAT, on_wait=on_wait):
            assert lock.read_text().strip() == str(os.getpid())
        assert len(messages) == 1
    finally:
        release.set()
        holder.join(30)
    # Released: the pid is cleared and the next run gets it at once.
    assert lock.read_text() == ""
    with file_lock(lock, what=WHAT, timeout=0, on_wait=lambda m: pytest.fail(m)):
        pass


def test_killed_holder_releases_the_lock(tmp_path: Path, ctx: SpawnContext) -> None:
    lock = tmp_path / "build.lock"
    acquired, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=hold, args=(str(lock), acquired, release))
    holder.start()
    assert acquired.wait(30)
    assert holder.pid is not None
    os.kill(holder.pid, signal.SIGKILL)
    holder.join(30)
    assert holder.exitcode == -signal.SIGKILL
    # No stale lock: the kernel dropped it with the process (its pid is still written there).
    with file_lock(lock, what=WHAT, timeout=2):
        assert lock.read_text().strip() == str(os.getpid())


def test_concurrent_processes_are_mutually_exclusive(tmp_path: Path, ctx: SpawnContext) -> None:
    lock = tmp_path / "counter.lock"
    counter = tmp_path / "counter"
    counter.write_text("0")
    workers, rounds = 4, 25
    procs = [ctx.Process(target=increment, args=(str(lock), str(counter), rounds)) for _ in range(workers)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0] * workers
    assert int(counter.read_text()) == workers * rounds


def test_two_blocks_in_one_process_exclude_each_other(tmp_path: Path) -> None:
    """flock belongs to the open file, so a nested lock on the same path is refused, not shared."""
    lock = tmp_path / "a.lock"
    with (
        file_lock(lock, what=WHAT),
        pytest.raises(PackbinError, match=f"pid {os.getpid()}"),
        file_lock(lock, what=WHAT, timeout=0.1),
    ):
        pass
    with file_lock(lock, what=WHAT, timeout=0):
        pass


def test_zero_timeout_fails_without_announcing_a_wait(tmp_path: Path) -> None:
    lock = tmp_path / "a.lock"
    with (
        file_lock(lock, what=WHAT),
        pytest.raises(PackbinError, match="gave up after 0 s"),
        file_lock(lock, what=WHAT, timeout=0, on_wait=lambda m: pytest.fail(m)),
    ):
        pass


def test_lock_path_replaced_while_waiting(tmp_path: Path) -> None:
    """If the lock file is removed under a holder, a newcomer locks the new file, not the orphan."""
    lock = tmp_path / "a.lock"
    with file_lock(lock, what=WHAT):
        lock.unlink()
        with file_lock(lock, what=WHAT, timeout=0):
            assert lock.read_text().strip() == str(os.getpid())


def test_symlinked_lock_path_is_refused(tmp_path: Path) -> None:
    victim = tmp_path / "precious"
    victim.write_text("keep me")
    lock = tmp_path / "a.lock"
    lock.symlink_to(victim)
    with pytest.raises(PackbinError, match="cannot use the lock file"), file_lock(lock, what=WHAT):
        pass
    assert victim.read_text() == "keep me"


def test_unusable_lock_dir_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with (
        pytest.raises(PackbinError, match="cannot use the lock file") as exc,
        file_lock(tmp_path / "file" / "a.lock", what=WHAT),
    ):
        pass
    assert exc.value.hint
