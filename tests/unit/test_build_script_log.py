"""packbin.build.script_log: what build.sh's output says, read line by line as the container
streams it (the lines are copied from real build logs; no Docker)."""

from __future__ import annotations

from packbin.build.script_log import TAIL_LINES, BuildLogReader
from packbin.dist.manifest import Toolchain

#: The start of a debian-profile build: the toolchain, the std once per engine, one bin, stripped.
REAL_LOG = """\
::packbin-toolchain rustc=1.96.0 cargo_zigbuild=0.24.1 zig=0.17.1
::packbin-step building the musl std for x86_64-unknown-linux-musl (once per engine and toolchain; kept in a volume)
   Compiling compiler_builtins v0.1.160 (/usr/lib/rustlib/src/rust/library/compiler-builtins/compiler-builtins)
    Finished `release` profile [optimized] target(s) in 5m 13s
::packbin-step building attune-core-timer-sensor for x86_64-unknown-linux-musl
   Compiling attune-core-timer-sensor v1.0.0 (/build/src/packs/core/sensors/timer-sensor)
    Finished `release` profile [optimized] target(s) in 5m 44s
::packbin-stripped attune-core-timer-sensor"""


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def feed_all(reader: BuildLogReader, text: str) -> list[str]:
    return [shown for line in text.splitlines() for shown in reader.feed(line)]


def test_markers_are_recorded_and_steps_shown_in_plain_words() -> None:
    reader = BuildLogReader()
    shown = feed_all(reader, REAL_LOG)
    assert reader.toolchain == Toolchain(rustc="1.96.0", cargo_zigbuild="0.24.1", zig="0.17.1")
    assert reader.stripped == {"attune-core-timer-sensor"}
    assert reader.warnings == []
    assert (
        shown[0]
        == "building the musl std for x86_64-unknown-linux-musl (once per engine and toolchain; kept in a volume)"
    )
    assert "building attune-core-timer-sensor for x86_64-unknown-linux-musl" in shown
    assert not [s for s in shown if s.startswith(("::packbin-toolchain", "::packbin-stripped"))]
    assert reader.clues.binary == "attune-core-timer-sensor"


def test_a_warning_is_recorded_and_shown() -> None:
    reader = BuildLogReader()
    line = "::packbin-warning strip failed for probe, keeping the unstripped binary: strip: probe: file format not recognized"
    assert reader.feed(line) == [line]
    assert reader.warnings == [
        "strip failed for probe, keeping the unstripped binary: strip: probe: file format not recognized"
    ]


def test_cargos_lock_wait_names_the_other_builds_and_its_end_is_said() -> None:
    clock = Clock()
    reader = BuildLogReader(others_running=lambda: ["arm64"], clock=clock)
    assert reader.feed("    Blocking waiting for file lock on package cache") == [
        "waiting for arm64's cargo to release the shared package cache (cargo's lock on the cargo home volume)"
    ]
    clock.now += 4.25
    compiling = "   Compiling attune-core-timer-sensor v1.0.0 (/build/src/packs/core/sensors/timer-sensor)"
    assert reader.feed(compiling) == ["cargo has the lock after 4.2s", compiling]
    assert reader.feed(compiling) == [compiling]  # said once


def test_a_short_lock_wait_is_not_mentioned_again() -> None:
    clock = Clock()
    reader = BuildLogReader(clock=clock)
    assert reader.feed("    Blocking waiting for file lock on build directory") == [
        "waiting for another cargo to release the build directory (cargo's lock)"
    ]
    clock.now += 0.5
    assert reader.feed("::packbin-stripped probe") == []
    assert reader.stripped == {"probe"} and reader.waiting_since is None


def test_the_failure_tail_keeps_the_last_shown_lines() -> None:
    reader = BuildLogReader()
    feed_all(reader, "\n".join(f"line {i}" for i in range(TAIL_LINES + 40)))
    assert len(reader.tail) == TAIL_LINES
    assert reader.last_lines(2) == f"line {TAIL_LINES + 38}\nline {TAIL_LINES + 39}"


def test_a_failed_build_scripts_missing_file_reaches_the_clues() -> None:
    reader = BuildLogReader()
    feed_all(
        reader,
        "::packbin-step building probe for x86_64-unknown-linux-musl\n"
        "error: failed to run custom build command for `probe v0.1.0 (/build/src/crates/probe)`\n"
        "  failed to read ../../proto/api.proto: No such file or directory (os error 2)",
    )
    assert reader.clues.binary == "probe"
    assert reader.clues.paths("elsewhere") == ["proto/api.proto"]
