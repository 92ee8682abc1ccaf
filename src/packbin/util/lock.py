"""An exclusive lock between packbin processes on one machine (two terminals, two CI jobs).

``flock(2)`` on a lock file: the kernel drops the lock when its holder exits, however it exits
(Ctrl-C, SIGKILL, a crash), so there is never a stale lock to clean up by hand. The holder writes
its pid into the file, only so that a waiter can say whom it is waiting for.

The lock belongs to an open file description, not to a process: two ``file_lock`` blocks on the
same path exclude each other even inside one process (so nesting them deadlocks until timeout),
and threads can use it too.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from packbin.errors import PackbinError

__all__ = ["file_lock"]

# Polling (rather than a blocking flock) lets us report once that we wait, honour a timeout and
# stay interruptible by Ctrl-C. Start fast for short holds, back off for long ones.
_POLL_FIRST = 0.05
_POLL_MAX = 0.5


@contextmanager
def file_lock(
    path: Path,
    *,
    what: str,
    timeout: float | None = None,
    on_wait: Callable[[str], None] | None = None,
) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created, with its parents, if missing) for the block.

    ``what`` names the guarded thing in messages ("the x86_64 build cache"). If another process
    holds the lock, ``on_wait`` is called once with "waiting for another packbin run holding
    <what> (pid N)" and the call waits; after ``timeout`` seconds (``None``: forever) it raises
    :class:`PackbinError` naming the holder.
    """
    fd = _open_locked(path, what=what, timeout=timeout, on_wait=on_wait)
    try:
        yield
    finally:
        try:
            # Clear the pid first so nobody reads ours after we are gone; the file itself stays,
            # since unlinking a lock file races with a process that has just opened it.
            os.ftruncate(fd, 0)
        except OSError:
            pass
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


def _open_locked(path: Path, *, what: str, timeout: float | None, on_wait: Callable[[str], None] | None) -> int:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise _cannot_open(path, what, e) from e
    deadline = None if timeout is None else time.monotonic() + timeout
    delay = _POLL_FIRST
    told = False
    while True:
        try:
            # O_NOFOLLOW: a symlink planted at the lock path must not make us truncate its target.
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        except OSError as e:
            raise _cannot_open(path, what, e) from e
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                pass
            except OSError as e:
                # ENOLCK and friends: some network filesystems cannot flock at all.
                raise _cannot_open(path, what, e) from e
            else:
                if _is_current(fd, path):
                    os.ftruncate(fd, 0)
                    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
                    return fd
                # The file was removed or replaced (`invoke clean` on the state dir) between our
                # open and our flock: a lock on an orphaned inode guards nothing. Start over.
                os.close(fd)
                continue
            holder = _read_holder(fd)
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)
        now = time.monotonic()
        if deadline is not None and now >= deadline:
            raise PackbinError(
                f"gave up after {timeout:g} s waiting for another packbin run holding {what} ({holder}); "
                f"lock file {path}",
                hint="let the other run finish or stop it; the lock is released as soon as that process exits",
            )
        if not told and on_wait is not None:
            on_wait(f"waiting for another packbin run holding {what} ({holder})")
        told = True
        sleep = delay if deadline is None else min(delay, max(deadline - now, 0.0))
        time.sleep(sleep)
        delay = min(delay * 2, _POLL_MAX)


def _is_current(fd: int, path: Path) -> bool:
    try:
        st = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return False
    own = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (own.st_dev, own.st_ino)


def _read_holder(fd: int) -> str:
    try:
        raw = os.pread(fd, 32, 0)
    except OSError:
        raw = b""
    text = raw.decode("ascii", "replace").strip()
    # Empty while the holder is between taking the lock and writing its pid (or an old packbin).
    return f"pid {text}" if text.isdigit() else "pid unknown"


def _cannot_open(path: Path, what: str, error: OSError) -> PackbinError:
    return PackbinError(
        f"cannot use the lock file {path} guarding {what}: {error.strerror or error}",
        hint="make its directory writable, or point PACKBIN_CACHE_DIR / PACKBIN_STATE_DIR elsewhere",
    )
