"""Behaviour checks for a built ``attune-core-timer-sensor`` binary.

Plain functions, reusable against any build (host cargo, static musl builds from containers,
foreign architectures through a runner such as ``["qemu-aarch64-static"]``). Each takes the
binary's path and an optional ``runner`` prefix list, and raises ``AssertionError`` with a clear
message when the binary misbehaves. ``run_all_checks`` runs every one of them.

Usage::

    from tests.support.sensor_checks import run_all_checks
    run_all_checks("dist/pack-binaries/arm64/core/sensors/attune-core-timer-sensor",
                   expected_target="aarch64-unknown-linux-musl",
                   runner=["qemu-aarch64-static"])
"""

from __future__ import annotations

import json
import os
import re
import selectors
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path

BINARY_NAME = "attune-core-timer-sensor"
DEFAULT_TRIGGER = "core.intervaltimer"
EVENT_KEYS = {"trigger", "seq", "timestamp", "interval_ms"}
TIMESTAMP_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
VERSION_RE = re.compile(r"^attune-core-timer-sensor (\S+) \((\S+)\)$")
# Tolerated difference between an event's timestamp and the host clock.
CLOCK_SKEW_S = 300.0
# How long a process may take to start and print its first event (qemu startup included).
STARTUP_TIMEOUT_S = 10.0

PathLike = str | os.PathLike[str]


def _cmd(binary: PathLike, runner: Sequence[str] | None, args: Sequence[str]) -> list[str]:
    return [*(runner or ()), os.fspath(binary), *args]


def _env(extra: Mapping[str, str] | None) -> dict[str, str]:
    # Start from a clean slate for the sensor's own variables so the caller's shell can't leak in.
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATTUNE_TIMER_")}
    env.update(extra or {})
    return env


def _run(
    binary: PathLike,
    args: Sequence[str],
    runner: Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 20.0,
) -> subprocess.CompletedProcess[str]:
    cmd = _cmd(binary, runner, args)
    try:
        return subprocess.run(
            cmd, check=False, capture_output=True, text=True, timeout=timeout, env=_env(env), stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f"{' '.join(cmd)!r} did not exit within {timeout} s") from e


def _describe(cmd: Sequence[str], rc: int | None, stdout: str, stderr: str) -> str:
    return f"command: {' '.join(cmd)}\nexit status: {rc}\nstdout: {stdout[-2000:]!r}\nstderr: {stderr[-2000:]!r}"


def _assert_no_panic(stderr: str, what: str) -> None:
    assert "panicked" not in stderr and "RUST_BACKTRACE" not in stderr, f"{what}: panic message on stderr: {stderr!r}"


def parse_event(line: str, *, trigger: str | None = None, interval_ms: int | None = None) -> dict[str, object]:
    """Parses and validates one event line; returns the event."""
    try:
        event = json.loads(line)
    except json.JSONDecodeError as e:
        raise AssertionError(f"event line is not valid JSON ({e}): {line!r}") from None
    assert isinstance(event, dict), f"event is not a JSON object: {line!r}"
    assert set(event) == EVENT_KEYS, f"event keys {sorted(event)} != {sorted(EVENT_KEYS)}: {line!r}"
    assert isinstance(event["seq"], int) and event["seq"] >= 1, f"bad seq in {line!r}"
    assert isinstance(event["interval_ms"], int), f"bad interval_ms in {line!r}"
    assert isinstance(event["trigger"], str), f"bad trigger in {line!r}"
    ts = event["timestamp"]
    assert isinstance(ts, str) and TIMESTAMP_RE.match(ts), f"timestamp is not RFC 3339 UTC with ms: {line!r}"
    when = datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
    skew = abs(when.timestamp() - time.time())
    assert skew <= CLOCK_SKEW_S, f"timestamp {ts} is {skew:.0f} s away from the host clock"
    if trigger is not None:
        assert event["trigger"] == trigger, f"trigger {event['trigger']!r} != {trigger!r}"
    if interval_ms is not None:
        assert event["interval_ms"] == interval_ms, f"interval_ms {event['interval_ms']} != {interval_ms}"
    return event


def check_version(
    binary: PathLike,
    expected_target: str | None = None,
    expected_version: str | None = None,
    runner: Sequence[str] | None = None,
) -> tuple[str, str]:
    """``--version`` prints ``attune-core-timer-sensor <version> (<target>)``; returns (version, target)."""
    cmd = _cmd(binary, runner, ["--version"])
    p = _run(binary, ["--version"], runner)
    info = _describe(cmd, p.returncode, p.stdout, p.stderr)
    assert p.returncode == 0, f"--version exited {p.returncode}\n{info}"
    lines = p.stdout.splitlines()
    assert len(lines) == 1, f"--version should print exactly one line\n{info}"
    m = VERSION_RE.match(lines[0])
    assert m, f"--version output is not 'attune-core-timer-sensor <version> (<target>)'\n{info}"
    version, target = m.groups()
    if expected_version is not None:
        assert version == expected_version, f"--version names version {version}, expected {expected_version}"
    if expected_target is not None:
        assert target == expected_target, f"--version names target {target}, expected {expected_target}"
    return version, target


def check_help(binary: PathLike, runner: Sequence[str] | None = None) -> None:
    """``--help`` exits 0 and documents every flag."""
    cmd = _cmd(binary, runner, ["--help"])
    p = _run(binary, ["--help"], runner)
    info = _describe(cmd, p.returncode, p.stdout, p.stderr)
    assert p.returncode == 0, f"--help exited {p.returncode}\n{info}"
    for flag in ("--interval-ms", "--interval", "--trigger", "--count", "--version", "--help"):
        assert flag in p.stdout, f"--help does not mention {flag}\n{info}"


def check_bounded(
    binary: PathLike,
    runner: Sequence[str] | None = None,
    count: int = 3,
    interval_ms: int = 50,
) -> list[dict[str, object]]:
    """``--count N --interval-ms M`` prints exactly N valid events with seq 1..N and exits 0."""
    args = ["--count", str(count), "--interval-ms", str(interval_ms)]
    cmd = _cmd(binary, runner, args)
    p = _run(binary, args, runner)
    info = _describe(cmd, p.returncode, p.stdout, p.stderr)
    assert p.returncode == 0, f"bounded run exited {p.returncode}\n{info}"
    _assert_no_panic(p.stderr, "bounded run")
    assert p.stdout.endswith("\n"), f"output does not end with a newline\n{info}"
    lines = p.stdout.splitlines()
    assert len(lines) == count, f"expected exactly {count} lines, got {len(lines)}\n{info}"
    events = [parse_event(line, trigger=DEFAULT_TRIGGER, interval_ms=interval_ms) for line in lines]
    seqs = [e["seq"] for e in events]
    assert seqs == list(range(1, count + 1)), f"seq values {seqs} != 1..{count}"
    stamps = [str(e["timestamp"]) for e in events]
    assert stamps == sorted(stamps), f"timestamps go backwards: {stamps}"
    return events


def check_env_config(binary: PathLike, runner: Sequence[str] | None = None) -> None:
    """ATTUNE_TIMER_INTERVAL_MS / ATTUNE_TIMER_INTERVAL / ATTUNE_TIMER_TRIGGER configure the run; flags win."""
    cases: list[tuple[dict[str, str], list[str], str, int]] = [
        ({"ATTUNE_TIMER_INTERVAL_MS": "30", "ATTUNE_TIMER_TRIGGER": "core.test_timer"}, [], "core.test_timer", 30),
        ({"ATTUNE_TIMER_INTERVAL": "0.04"}, [], DEFAULT_TRIGGER, 40),
        (
            {"ATTUNE_TIMER_INTERVAL_MS": "999999", "ATTUNE_TIMER_TRIGGER": "x.y"},
            ["--interval", "0.02", "--trigger", "a.b"],
            "a.b",
            20,
        ),
    ]
    for env, flags, trigger, interval_ms in cases:
        args = ["--count", "2", *flags]
        cmd = _cmd(binary, runner, args)
        p = _run(binary, args, runner, env=env)
        info = f"environment: {env}\n" + _describe(cmd, p.returncode, p.stdout, p.stderr)
        assert p.returncode == 0, f"run with environment exited {p.returncode}\n{info}"
        lines = p.stdout.splitlines()
        assert len(lines) == 2, f"expected 2 lines\n{info}"
        for line in lines:
            parse_event(line, trigger=trigger, interval_ms=interval_ms)


def _read_line(proc: subprocess.Popen[bytes], timeout: float) -> bytes:
    """Reads one line from an unbuffered stdout pipe, with a deadline."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    buf = b""
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_READ)
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0 or not sel.select(left):
                raise AssertionError(f"no complete event line within {timeout} s (got {buf!r})")
            chunk = os.read(fd, 4096)
            if not chunk:
                raise AssertionError(f"stdout closed before a complete line (exit {proc.poll()}, got {buf!r})")
            buf += chunk
    return buf.split(b"\n", 1)[0]


def _kill(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def check_signal(
    binary: PathLike,
    runner: Sequence[str] | None = None,
    signum: int = signal.SIGTERM,
    within: float = 1.0,
) -> None:
    """During an unbounded run, SIGTERM (or SIGINT) makes the sensor exit 0 within ``within`` seconds."""
    cmd = _cmd(binary, runner, ["--interval-ms", "50"])
    proc = subprocess.Popen(
        cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0, env=_env(None)
    )
    name = signal.Signals(signum).name
    try:
        # The first event proves the handlers are installed (they are set before the first wait).
        parse_event(_read_line(proc, STARTUP_TIMEOUT_S).decode())
        sent = time.monotonic()
        proc.send_signal(signum)
        try:
            proc.wait(timeout=within + 5)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{name}: sensor still running {within + 5} s after the signal") from None
        took = time.monotonic() - sent
        assert proc.stdout is not None and proc.stderr is not None
        rest = proc.stdout.read().decode()
        stderr = proc.stderr.read().decode()
        info = _describe(cmd, proc.returncode, rest, stderr)
        assert proc.returncode == 0, f"{name}: expected exit 0, got {proc.returncode}\n{info}"
        assert took <= within, f"{name}: exited after {took:.2f} s, expected within {within} s"
        _assert_no_panic(stderr, name)
        assert name in stderr, f"{name}: no exit message naming the signal on stderr\n{info}"
        for line in rest.splitlines():
            parse_event(line)
    finally:
        _kill(proc)


def check_sigterm(binary: PathLike, runner: Sequence[str] | None = None, within: float = 1.0) -> None:
    check_signal(binary, runner, signal.SIGTERM, within)


def check_sigint(binary: PathLike, runner: Sequence[str] | None = None, within: float = 1.0) -> None:
    check_signal(binary, runner, signal.SIGINT, within)


def check_closed_stdout(binary: PathLike, runner: Sequence[str] | None = None, timeout: float = 5.0) -> None:
    """A reader that closes stdout after one line, or a stdout closed from the start: exit 0, quietly."""
    # 1. The reader goes away after the first line.
    cmd = _cmd(binary, runner, ["--interval-ms", "20"])
    proc = subprocess.Popen(
        cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0, env=_env(None)
    )
    try:
        parse_event(_read_line(proc, STARTUP_TIMEOUT_S).decode())
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"closed stdout: sensor still running {timeout} s after the reader closed") from None
        stderr = proc.stderr.read().decode()
        info = _describe(cmd, proc.returncode, "", stderr)
        assert proc.returncode == 0, f"closed stdout: expected exit 0, got {proc.returncode}\n{info}"
        _assert_no_panic(stderr, "closed stdout")
        assert stderr == "", f"closed stdout: expected a quiet exit, stderr was {stderr!r}\n{info}"
    finally:
        _kill(proc)

    # 2. stdout is a pipe whose read end is already closed when the sensor starts.
    r, w = os.pipe()
    os.close(r)
    cmd = _cmd(binary, runner, ["--count", "3", "--interval-ms", "10"])
    try:
        p = subprocess.run(
            cmd,
            check=False,
            stdin=subprocess.DEVNULL,
            stdout=w,
            stderr=subprocess.PIPE,
            timeout=timeout,
            env=_env(None),
        )
    except subprocess.TimeoutExpired:
        raise AssertionError(f"stdout closed at start: sensor did not exit within {timeout} s") from None
    finally:
        os.close(w)
    stderr = p.stderr.decode()
    info = _describe(cmd, p.returncode, "", stderr)
    assert p.returncode == 0, f"stdout closed at start: expected exit 0, got {p.returncode}\n{info}"
    _assert_no_panic(stderr, "stdout closed at start")
    assert stderr == "", f"stdout closed at start: expected a quiet exit, stderr was {stderr!r}\n{info}"


BAD_USAGE: list[list[str]] = [
    ["--bogus"],
    ["unexpected"],
    ["--count"],
    ["--count", "0"],
    ["--count", "three"],
    ["--interval-ms", "0"],
    ["--interval-ms", "abc"],
    ["--interval", "-1"],
    ["--trigger", ""],
]


def check_bad_flags(binary: PathLike, runner: Sequence[str] | None = None) -> None:
    """Bad flags and bad environment values: a message on stderr, nothing on stdout, exit 2."""
    cases: list[tuple[list[str], dict[str, str]]] = [(args, {}) for args in BAD_USAGE]
    cases += [([], {"ATTUNE_TIMER_INTERVAL_MS": "soon"}), ([], {"ATTUNE_TIMER_INTERVAL": "0"})]
    for args, env in cases:
        cmd = _cmd(binary, runner, args)
        p = _run(binary, args, runner, env=env, timeout=10)
        info = (f"environment: {env}\n" if env else "") + _describe(cmd, p.returncode, p.stdout, p.stderr)
        assert p.returncode == 2, f"bad usage {args or env}: expected exit 2, got {p.returncode}\n{info}"
        assert p.stdout == "", f"bad usage {args or env}: printed on stdout\n{info}"
        assert p.stderr.strip(), f"bad usage {args or env}: no message on stderr\n{info}"
        _assert_no_panic(p.stderr, f"bad usage {args or env}")


def run_all_checks(
    binary: PathLike,
    expected_target: str | None = None,
    expected_version: str | None = None,
    runner: Sequence[str] | None = None,
) -> None:
    """Every check above, in order; the first failure raises AssertionError."""
    path = Path(binary)
    assert path.is_file(), f"sensor binary not found: {path}"
    assert os.access(path, os.X_OK), f"sensor binary is not executable: {path}"
    check_version(binary, expected_target, expected_version, runner)
    check_help(binary, runner)
    check_bounded(binary, runner)
    check_env_config(binary, runner)
    check_sigterm(binary, runner)
    check_sigint(binary, runner)
    check_closed_stdout(binary, runner)
    check_bad_flags(binary, runner)
