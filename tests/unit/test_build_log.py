"""packbin.build.log: the paths a failed build's log names as missing, and cargo's lock waits in
packbin's words (the lines are cargo's and rustc's own, copied from real builder logs)."""

from __future__ import annotations

from packbin.build.log import LOCK_WAIT, FailureClues, lock_wait_line, to_checkout

BUILD_SCRIPT_FAILURE = """building probe for x86_64-unknown-linux-musl
   Compiling probe v0.1.0 (/build/src/crates/probe)
error: failed to run custom build command for `probe v0.1.0 (/build/src/crates/probe)`
  process didn't exit successfully: `/build/target/release/build/probe-e0d1/build-script-build` (exit status: 101)
  thread 'main' (64) panicked at build.rs:4:62:
  failed to read ../../proto/api.proto: No such file or directory (os error 2)"""

INCLUDE_STR_FAILURE = """building probe for x86_64-unknown-linux-musl
error: couldn't read `/build/src/crates/probe/src/../../../VERSION`: No such file or directory (os error 2)
 --> src/main.rs:1:20"""


def _clues(text: str) -> FailureClues:
    clues = FailureClues(src_mount="/build/src")
    for line in text.splitlines():
        clues.feed(line)
    return clues


def test_a_build_scripts_relative_path_is_read_from_its_package() -> None:
    clues = _clues(BUILD_SCRIPT_FAILURE)
    assert clues.binary == "probe"
    assert clues.script_dirs == ["crates/probe"]
    assert clues.paths("elsewhere") == ["proto/api.proto"]


def test_an_absolute_container_path_maps_to_the_checkout() -> None:
    assert _clues(INCLUDE_STR_FAILURE).paths("crates/probe") == ["VERSION"]


def test_paths_outside_the_sources_or_the_repository_are_dropped() -> None:
    assert to_checkout("/build/target/release/x", src_mount="/build/src", bases=()) == []
    assert to_checkout("../../x", src_mount="/build/src", bases=["crate"]) == []
    assert to_checkout("/build/src/../etc/passwd", src_mount="/build/src", bases=()) == []
    clues = _clues(
        "error: failed to run custom build command for `root v0.1.0 (/build/src)`\n  failed to read data/x.bin: No such file or directory (os error 2)"
    )
    assert clues.script_dirs == [""] and clues.paths("") == ["data/x.bin"]


def test_lines_without_a_missing_file_give_no_paths() -> None:
    assert _clues("error[E0425]: cannot find value `x` in this scope\n --> src/main.rs:2:5").paths("crate") == []


def test_cargos_lock_wait_in_packbins_words() -> None:
    m = LOCK_WAIT.match("    Blocking waiting for file lock on package cache")
    assert m is not None and m["what"] == "package cache"
    assert lock_wait_line("package cache", ["arm64"]) == (
        "waiting for arm64's cargo to release the shared package cache (cargo's lock on the cargo home volume)"
    )
    assert lock_wait_line("package cache", []).startswith("waiting for another packbin run's cargo on this engine")
    assert (
        lock_wait_line("build directory", [])
        == "waiting for another cargo to release the build directory (cargo's lock)"
    )
