"""Benchmark: collecting the build inputs of a workspace with a big vendor tree (packbin.workspace).

    python benchmarks/bench_inputs.py [--vendor-from DIR] [--bins N] [--repeat N] [--keep]

Lays out, in a temp directory, a repository with a Cargo workspace: a shared lib crate, N bin
crates using it, and ``vendor/`` copied (symlinks dereferenced) from ``--vendor-from`` (default
Debian's crate registry, /usr/share/cargo/registry: ``apt-get install librust-tokio-dev
librust-serde-json-dev`` fills it), replaced for crates.io by ``.cargo/config.toml``, with a
``Cargo.lock`` naming every vendored crate. Then, each in a fresh process as a build would run:

1. cold: an empty hash cache (every file is read and hashed);
2. no-op: nothing changed (the goal: well under 0.5 s for all bins);
3. one-line change in the shared crate: every bin's digest changes;
4. one-line change in one bin: only that bin's digest changes.

Prints the time ``collect_all`` takes in the process (best of ``--repeat``, wall and CPU) and
the whole process's wall time. Exits non-zero when a digest does not change as it must.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import REPO

from packbin._compat import tomllib

CHILD = """
import json, sys, time
t0 = time.perf_counter()
from pathlib import Path
from packbin.config.model import BuildConfig
from packbin.workspace import collect_all
cfg = BuildConfig.load(Path(sys.argv[1]) / "buildcfg.toml", env={})
t1, c1 = time.perf_counter(), time.process_time()
res = collect_all(cfg, cfg.binaries)
t2, c2 = time.perf_counter(), time.process_time()
print(json.dumps({
    "collect_s": t2 - t1, "collect_cpu_s": c2 - c1, "import_s": t1 - t0,
    "digests": {r.binary_name: r.digest for r in res},
    "files": len(res[0].files), "bytes": res[0].total_bytes, "needs_fetch": res[0].needs_fetch,
}))
"""


def make_workspace(root: Path, vendor_from: Path, bins: int) -> None:
    ws = root / "ws"
    vendor = ws / "vendor"
    vendor.mkdir(parents=True)
    lock = "version = 4\n"
    for crate in sorted(vendor_from.iterdir()):
        manifest = crate / "Cargo.toml"
        if not manifest.is_file():
            continue
        pkg = tomllib.loads(manifest.read_text(encoding="utf-8", errors="replace")).get("package", {})
        name, version = pkg.get("name"), pkg.get("version")
        if not isinstance(name, str) or not isinstance(version, str):
            continue
        shutil.copytree(crate, vendor / crate.name, symlinks=False, ignore_dangling_symlinks=True)
        lock += f'\n[[package]]\nname = "{name}"\nversion = "{version}"\nsource = "registry+https://github.com/rust-lang/crates.io-index"\n'
    (ws / ".cargo").mkdir()
    (ws / ".cargo/config.toml").write_text(
        '[source.crates-io]\nreplace-with = "vendored-sources"\n\n[source.vendored-sources]\ndirectory = "vendor"\n'
    )
    (ws / "Cargo.toml").write_text(
        '[workspace]\nresolver = "2"\nmembers = ["crates/*"]\n\n[workspace.dependencies]\nshared = { path = "crates/shared" }\n'
    )
    (ws / "Cargo.lock").write_text(lock)
    (ws / "crates/shared/src").mkdir(parents=True)
    (ws / "crates/shared/Cargo.toml").write_text('[package]\nname = "shared"\nversion = "0.1.0"\nedition = "2021"\n')
    (ws / "crates/shared/src/lib.rs").write_text("pub fn tick() -> u32 { 1 }\n")
    config = '[architectures.x86_64]\nrust_target = "x86_64-unknown-linux-musl"\ndocker_platform = "linux/amd64"\nelf_machine = "EM_X86_64"\nelf_class = 64\nbyte_order = "little"\n'
    for i in range(bins):
        crate = ws / f"crates/sensor{i}"
        (crate / "src").mkdir(parents=True)
        (crate / "Cargo.toml").write_text(
            f'[package]\nname = "sensor{i}"\nversion = "0.1.0"\nedition = "2021"\n\n[dependencies]\nshared.workspace = true\n'
        )
        (crate / "src/main.rs").write_text('fn main() { println!("{}", shared::tick()); }\n')
        config += f'\n[[binaries]]\nname = "sensor{i}"\npack = "core"\nmanifest = "ws/crates/sensor{i}/Cargo.toml"\n'
    (root / "buildcfg.toml").write_text(config)
    (root / "docs").mkdir()
    (root / "docs/guide.md").write_text("# guide\n")


def run(root: Path, env: dict[str, str]) -> dict[str, object]:
    t = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", CHILD, str(root)], env=env, capture_output=True, text=True, check=True)
    data: dict[str, object] = json.loads(out.stdout)
    data["process_s"] = time.perf_counter() - t
    return data


def best(root: Path, env: dict[str, str], repeat: int) -> dict[str, object]:
    runs = [run(root, env) for _ in range(repeat)]
    return min(runs, key=lambda r: float(r["collect_s"]))  # type: ignore[arg-type]


def edit(path: Path, old: str, new: str) -> None:
    path.write_text(path.read_text().replace(old, new))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vendor-from", type=Path, default=Path("/usr/share/cargo/registry"))
    ap.add_argument("--bins", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--keep", action="store_true", help="keep the temp directory")
    args = ap.parse_args()
    if not args.vendor_from.is_dir():
        print(
            f"{args.vendor_from}: no such directory (apt-get install librust-tokio-dev librust-serde-json-dev)",
            file=sys.stderr,
        )
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="packbin-bench-inputs-"))
    try:
        root = tmp / "repo"
        make_workspace(root, args.vendor_from, args.bins)
        env = dict(os.environ, PACKBIN_CACHE_DIR=str(tmp / "cache"))
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO / "src"), env.get("PYTHONPATH", "")) if p)
        time.sleep(1.1)  # let the copied files age past the racy window, as a checkout's have
        cold = run(root, env)
        noop = best(root, env, args.repeat)
        edit(root / "ws/crates/shared/src/lib.rs", "1 }", "2 }")
        time.sleep(1.1)
        run(root, env)  # re-reads the edited file once (a fresh edit is never cached)
        shared = best(root, env, args.repeat)
        edit(root / "ws/crates/sensor0/src/main.rs", "println", "eprintln")
        time.sleep(1.1)
        run(root, env)
        one = best(root, env, args.repeat)
        d0, d1, d2 = (r["digests"] for r in (noop, shared, one))
        assert isinstance(d0, dict) and isinstance(d1, dict) and isinstance(d2, dict)
        ok = (
            all(d0[b] != d1[b] for b in d0)
            and d2["sensor0"] != d1["sensor0"]
            and all(d2[b] == d1[b] for b in d1 if b != "sensor0")
        )
        ok = ok and cold["digests"] == d0
        print(
            f"workspace: {args.bins} bins, {cold['files']} input files per bin, {int(cold['bytes']) / 1e6:.1f} MB (vendor from {args.vendor_from})"
        )  # type: ignore[call-overload]
        print(f"{'run':<28}{'collect_all wall':>18}{'cpu':>10}{'process wall':>15}")
        for label, r in (
            ("cold (empty hash cache)", cold),
            ("no-op", noop),
            ("shared crate edited", shared),
            ("one bin edited", one),
        ):
            print(
                f"{label:<28}{float(r['collect_s']):>17.3f}s{float(r['collect_cpu_s']):>9.3f}s{float(r['process_s']):>14.3f}s"
            )  # type: ignore[arg-type]
        print(f"digests: {'as expected' if ok else 'WRONG'} (shared edit changes every bin, a bin edit only that bin)")
        return 0 if ok else 1
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
