"""Long external commands (debootstrap) show progress and keep their output's tail for errors."""

from __future__ import annotations

from packbin.build.image import _run_with_heartbeat


def test_heartbeat_echoes_progress_and_returns_tail() -> None:
    seen: list[str] = []
    code, tail = _run_with_heartbeat(
        ["sh", "-c", "for i in 1 2 3 4; do echo step $i; sleep 0.15; done; echo fail >&2; exit 3"],
        echo=seen.append,
        prefix="> ",
        every=0.1,
    )
    assert code == 3
    assert tail.splitlines()[-1] == "fail"
    assert seen and all(s.startswith("> step") or s == "> fail" for s in seen)
