"""Benchmark: real pack crates (issue 7's figures), measured side by side in one run.

Everything runs in throwaway repositories under $TMPDIR against the real engine and the real
builder image (built first if missing; not timed). Each packbin figure is the wall time of a
whole ``python -m packbin build-pack-binaries ...`` process.

1. Cold build of the timer sensor, per architecture, with the builder image and the prebuilt musl
   std present: packbin's target and zig-cache volumes for the triple are removed, then
   ``--arch=<arch> --force``. Against it: a plain ``cargo zigbuild --offline --locked --release
   --target <triple>`` of the same crate in the same image, with the same prebuilt std
   (``--sysroot``) and an empty target dir and zig cache, timed around the container run.
   Goal: packbin within 1.5x of plain.
2. One-line change in the workspace's shared lib crate, ``--arch=all`` (both targets), median of
   ``--runs``. Against it: cargo itself in a warm container of the same image on a bind-mounted
   copy of the same workspace (one ``cargo zigbuild`` call for both targets, the same one-line
   change), i.e. the same toolchain with nothing of packbin around it. Runs interleave (packbin
   run i, then cargo run i) so load drift hits both alike. Goal: packbin within 1.5x.
3. Bytes sent (``bytes_sent`` in ``--json``) for the workspace with a vendor tree of 50+ MB: the
   first build (everything), an unchanged ``--force`` rebuild, and a one-line change.

    python benchmarks/bench_workspace.py [--runs 3] [--skip-cold]

Exit status 0 when every measured goal is met, 1 when one is missed, 2 when it could not run.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import statistics
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import CHECKOUT_PATHS, build_volumes, exit_from, packbin_timed, say, write_bytecode

sys.path[:0] = CHECKOUT_PATHS

from tests.support.cargo_workspace import COMMON_MARKER, make_benchmark_workspace, make_workspace, vendor_size
from tests.support.repo import WORKSPACE_BUILDCFG as WS_CONFIG
from tests.support.repo import copy_repo as timer_repo  # buildcfg.toml and packs/, the timer sensor's

TRIPLES = {"x86_64": "x86_64-unknown-linux-musl", "arm64": "aarch64-unknown-linux-musl"}


def packbin(*args: str, cwd: Path) -> tuple[float, dict[str, Any]]:
    """Wall seconds and the ``--json`` report of a whole ``python -m packbin build-pack-binaries``."""
    seconds, proc = packbin_timed("build-pack-binaries", "--json", *args, cwd=cwd)
    return seconds, json.loads(proc.stdout)


def workspace_repo(dest: Path, *, big: bool = False) -> Path:
    (make_benchmark_workspace if big else make_workspace)(dest)
    (dest / "buildcfg.toml").write_text(WS_CONFIG)
    (dest / "packs/core/sensors").mkdir(parents=True)
    return dest


def tar_dir(root: Path) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        tf.add(root, arcname=".", filter=lambda ti: None if "/target" in ti.name else ti)
    return buf.getvalue()


def plain_cold(engine: Any, image: str, crate: Path, triple: str) -> float:
    """A plain cargo zigbuild of ``crate`` in the builder image with the prebuilt std; seconds."""
    from packbin.build.image import SYSROOT, target_cargo_config
    from packbin.build.volumes import std_volume

    script = (
        "set -eu; mkdir -p /build/.cargo; printf '%s' \"$CFG\" > /build/.cargo/config.toml; cd /build/src; "
        f"cargo zigbuild --offline --locked --release --target {triple} >/dev/null 2>&1"
    )
    with engine.container(
        image=image,
        command=["/bin/sh", "-c", script],
        kind="bench",
        environment={
            "CFG": target_cargo_config([triple], profile="debian"),
            "XDG_CACHE_HOME": "/tmp/zigcache",
            "CARGO_TARGET_DIR": "/tmp/target",
        },
        volumes={std_volume(triple): SYSROOT},
        network_mode="none",
    ) as c:
        c.put_tar("/build/src", tar_dir(crate))
        t0 = time.monotonic()
        status = c.run_streaming(on_line=lambda _line: None)
        dt = time.monotonic() - t0
    if status != 0:
        raise SystemExit(f"plain cargo zigbuild for {triple} failed ({status})")
    return dt


def remove_volumes(engine: Any, triple: str) -> None:
    for name in build_volumes(triple):
        problem = engine.remove_volume(name)
        if problem:
            raise SystemExit(f"cannot remove {name}: {problem}")


def set_marker(repo: Path, value: str) -> None:
    lib = repo / "crates/common/src/lib.rs"
    text = lib.read_text()
    start = text.index('MARKER: &str = "') + len('MARKER: &str = "')
    end = text.index('"', start)
    lib.write_text(text[:start] + value + text[end:])


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3, help="one-line-change runs per side (default 3)")
    ap.add_argument("--skip-cold", action="store_true", help="skip the cold timer-sensor builds")
    args = ap.parse_args()
    write_bytecode()  # time packbin, not Python compiling it (see _common)

    from packbin.build.image import ensure_builder_image
    from packbin.config.model import BuildConfig
    from packbin.engine import connect

    engine = connect()
    tmp = Path(tempfile.mkdtemp(prefix="packbin-bench-ws-"))
    rows: list[tuple[str, str, str, str]] = []
    ok = True
    try:
        timer = timer_repo(tmp / "timer")
        image = ensure_builder_image(engine, BuildConfig.load(timer / "buildcfg.toml", env={}), echo=say)
        say("warm-up: one build of both architectures (the prebuilt std is made here if missing)")
        packbin("--arch=all", cwd=timer)

        if not args.skip_cold:
            for arch, triple in TRIPLES.items():
                remove_volumes(engine, triple)
                say(f"cold packbin build, {arch}")
                pb, _ = packbin(f"--arch={arch}", "--force", cwd=timer)
                say(f"cold plain cargo zigbuild, {arch}")
                plain = plain_cold(engine, image.tag, timer / "packs/core/sensors/timer-sensor", triple)
                ratio = pb / plain
                ok &= ratio <= 1.5
                rows.append(
                    (
                        f"timer sensor cold, {arch}",
                        f"{pb:.1f} s",
                        f"{plain:.1f} s (plain cargo zigbuild)",
                        f"{ratio:.2f}x (goal 1.5x)",
                    )
                )
                say(" | ".join(rows[-1]))

        ws = workspace_repo(tmp / "ws")
        say("workspace: first build of both architectures")
        packbin("--arch=all", cwd=ws)
        native_ws = tmp / "ws-native"
        shutil.copytree(ws, native_ws, ignore=shutil.ignore_patterns("dist", "target"))
        pb_times: list[float] = []
        cargo_times: list[float] = []
        from packbin.build.image import target_cargo_config
        from packbin.build.volumes import std_volume

        cfg_text = target_cargo_config(list(TRIPLES.values()), profile="debian")
        script = (
            "set -eu; mkdir -p /build/.cargo /sysroot/lib/rustlib; printf '%s' \"$CFG\" > /build/.cargo/config.toml; "
            # Each target's prebuilt std lives in its own volume; one sysroot directory shows both.
            + "".join(f"ln -s /std-{a}/lib/rustlib/{t} /sysroot/lib/rustlib/{t}; " for a, t in TRIPLES.items())
            + "cd /ws/crates/sensor; "
            "while read -r _; do s=$(date +%s.%N); "
            "SQLX_OFFLINE=true cargo zigbuild --config /build/.cargo/config.toml --offline --locked --release "
            + " ".join(f"--target {t}" for t in TRIPLES.values())
            + " --bin attune-core-timer-sensor >/tmp/log 2>&1 || { tail -20 /tmp/log; exit 1; }; "
            'e=$(date +%s.%N); echo "took $s $e"; done'
        )
        client = engine.client
        native = client.containers.run(
            image.tag,
            ["/bin/sh", "-c", script],
            detach=True,
            stdin_open=True,
            network_mode="none",
            environment={"CFG": cfg_text, "XDG_CACHE_HOME": "/tmp/zigcache", "CARGO_TARGET_DIR": "/tmp/target"},
            volumes={
                str(native_ws): {"bind": "/ws", "mode": "rw"},
                **{std_volume(t): {"bind": f"/std-{a}", "mode": "ro"} for a, t in TRIPLES.items()},
            },
            labels={"io.packbin.owner": "packbin-bench"},
        )
        try:
            sock = native.attach_socket(params={"stdin": 1, "stream": 1})

            def native_round() -> float:
                before = native.logs().decode().count("took ")
                sock._sock.sendall(b"go\n")  # type: ignore[attr-defined]
                while True:
                    logs = native.logs().decode()
                    if logs.count("took ") > before:
                        s, e = logs.strip().splitlines()[-1].split()[1:3]
                        return float(e) - float(s)
                    native.reload()
                    if native.status != "running":
                        raise SystemExit("native cargo container stopped:\n" + logs[-3000:])
                    time.sleep(0.2)

            say("native: warm-up build of both targets in the container")
            native_round()
            for i in range(args.runs):
                value = f"bench-{i}-{time.time_ns()}"
                set_marker(ws, value)
                dt, report = packbin("--arch=all", cwd=ws)
                assert {a["arch"] for a in report["built"]} == set(TRIPLES), report
                pb_times.append(dt)
                set_marker(native_ws, value)
                cargo_times.append(native_round())
                say(f"run {i}: packbin {dt:.2f} s, cargo {cargo_times[-1]:.2f} s")
        finally:
            native.remove(force=True)
        pbm, cm = statistics.median(pb_times), statistics.median(cargo_times)
        ok &= pbm / cm <= 1.5
        rows.append(
            (
                "workspace one-line change, --arch=all",
                f"{pbm:.2f} s",
                f"{cm:.2f} s (cargo zigbuild, same image)",
                f"{pbm / cm:.2f}x (goal 1.5x)",
            )
        )
        say(" | ".join(rows[-1]))

        big = workspace_repo(tmp / "big", big=True)
        vendored = vendor_size(big)
        say(f"bytes sent: workspace with {vendored / 1e6:.1f} MB vendored")
        _, first = packbin("--arch=x86_64", cwd=big)
        _, unchanged = packbin("--arch=x86_64", "--force", cwd=big)
        set_marker(big, COMMON_MARKER + "-changed")
        _, changed = packbin("--arch=x86_64", cwd=big)
        rows.append(
            (
                f"bytes sent, {vendored / 1e6:.0f} MB vendored: first build",
                f"{first['bytes_sent'] / 1e6:.1f} MB",
                "",
                "",
            )
        )
        rows.append(
            (
                "bytes sent: unchanged --force rebuild",
                f"{unchanged['bytes_sent'] / 1e3:.1f} kB",
                "",
                "build script + per-build config only",
            )
        )
        rows.append(("bytes sent: one-line change", f"{changed['bytes_sent'] / 1e3:.1f} kB", "", ""))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"load average at the end: {os.getloadavg()[0]:.2f} (2 cores)")
    width = max(len(r[0]) for r in rows)
    for r in rows:
        print(f"{r[0]:<{width}}  {r[1]:>10}  {r[2]:<40}  {r[3]}")
    return 0 if ok else 1


if __name__ == "__main__":
    exit_from(main)
