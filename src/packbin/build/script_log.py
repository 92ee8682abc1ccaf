"""Reading ``resources/build.sh``'s output line by line: packbin's ``::packbin-*`` markers, cargo's
lock waits, and what a failure leaves behind.

The build script speaks in marker lines besides cargo's own output:

- ``::packbin-toolchain rustc=V cargo=V cargo_zigbuild=V zig=V``: the toolchain (recorded, not shown);
- ``::packbin-stripped BIN``: BIN was stripped (recorded, not shown);
- ``::packbin-step TEXT``: a step, shown as TEXT;
- ``::packbin-warning TEXT``: a warning, recorded and shown.

Pure: :mod:`packbin.build.container` feeds it the lines as they stream; nothing here talks to an
engine or reads files, so it is tested with real log lines and no Docker.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from packbin.build.log import LOCK_WAIT, FailureClues, lock_wait_line
from packbin.build.sources import SRC_MOUNT
from packbin.dist.manifest import Toolchain

_TOOLCHAIN_RE = re.compile(r"^::packbin-toolchain rustc=(\S*) (?:cargo=(\S*) )?cargo_zigbuild=(\S*) zig=(\S*)")

#: How many shown lines a reader keeps for the failure message.
TAIL_LINES = 60


def _nobody() -> list[str]:
    return []


@dataclass
class BuildLogReader:
    """What one build's output says, gathered line by line.

    ``others_running`` names the other builds on this engine now (who may hold cargo's lock);
    ``clock`` measures how long a lock wait took.
    """

    others_running: Callable[[], list[str]] = _nobody
    clock: Callable[[], float] = time.monotonic
    toolchain: Toolchain = field(default_factory=Toolchain)
    stripped: set[str] = field(default_factory=set)
    warnings: list[str] = field(default_factory=list)
    tail: list[str] = field(default_factory=list)
    clues: FailureClues = field(default_factory=lambda: FailureClues(src_mount=SRC_MOUNT))
    waiting_since: float | None = None  # cargo said it waits for a lock (clock time)

    def feed(self, line: str) -> list[str]:
        """Take one line of the build's output; return the lines to show for it (none for a marker)."""
        shown: list[str] = []
        if self.waiting_since is not None:
            # cargo goes on without saying so: the next line means it has the lock.
            waited = self.clock() - self.waiting_since
            self.waiting_since = None
            if waited >= 1:
                shown.append(f"cargo has the lock after {waited:.1f}s")
        if m := LOCK_WAIT.match(line):
            # Two builds on one engine share the cargo home volume; cargo's bare line reads like a hang.
            self.waiting_since = self.clock()
            return [*shown, lock_wait_line(m["what"], self.others_running())]
        if m := _TOOLCHAIN_RE.match(line):
            self.toolchain = Toolchain(rustc=m[1], cargo=m[2] or "", cargo_zigbuild=m[3], zig=m[4])
            return shown
        if line.startswith("::packbin-stripped "):
            self.stripped.add(line.split(" ", 1)[1].strip())
            return shown
        if line.startswith("::packbin-step "):
            line = line.split(" ", 1)[1]
        if line.startswith("::packbin-warning "):
            self.warnings.append(line.split(" ", 1)[1])
        self.tail.append(line)
        del self.tail[:-TAIL_LINES]
        self.clues.feed(line)
        return [*shown, line]

    def last_lines(self, n: int = 25) -> str:
        """The last ``n`` shown lines, for a failure's message."""
        return "\n".join(self.tail[-n:])
