"""The C sysroots: each ``[[c_libraries]]`` library built static for each target, once per engine.

A library's sysroot for a target is a named volume (:func:`packbin.build.volumes.c_sysroot_volume`:
per library, version, target and builder recipe) holding ``root/`` with ``lib/*.a``, ``include/``
and ``lib/pkgconfig/*.pc``. It is made by ``resources/c_sysroot.sh`` in two containers of the
builder image: the first downloads Debian's source package (apt verifies it against the suite's
signed index; bridge network), the second compiles it with zig cc for the target (no network).
The script builds into a temporary directory in the volume and renames it to ``root/`` at the end,
so an interrupted build leaves no ``root/``; a volume packbin has seen complete is recorded on
the host, and is not looked into again.

Build containers mount each sysroot read-only at ``/opt/packbin-c/<library>`` and get the
environment of :func:`sysroot_environment`: pkg-config searches the sysroots only, and the -sys
crates are told to link statically.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING

from packbin.build.recipe import CACHE_ROOT, security_mirror
from packbin.build.volumes import WARM, c_sysroot_record_path, c_sysroot_volume, cache_volume
from packbin.config.model import BuildConfig
from packbin.errors import BuildError
from packbin.util.atomic import atomic_write_bytes
from packbin.util.dirs import read_record
from packbin.util.lock import file_lock
from packbin.util.tarwriter import tar_bytes

if TYPE_CHECKING:
    from packbin.build.recipe import BuilderImage
    from packbin.engine import Engine

#: Where build containers (and the sysroot's own build) mount each library's volume.
C_ROOT = "/opt/packbin-c"

SCRIPT = (resources.files("packbin.build.resources") / "c_sysroot.sh").read_bytes()
_SCRIPT_DIR = "/tmp"
_SCRIPT_PATH = f"{_SCRIPT_DIR}/packbin-c-sysroot.sh"

#: Rust's architecture names where zig's differ (the rest of the triple: ``linux-<abi>``).
_ZIG_ARCH = {"armv7": "arm", "arm": "arm", "i686": "x86", "i586": "x86", "riscv64gc": "riscv64"}

#: What each library's -sys crate reads besides pkg-config, given the library's mounted root.
_CRATE_ENV: dict[str, Callable[[str], dict[str, str]]] = {
    "zlib": lambda root: {"LIBZ_SYS_STATIC": "1"},
    "openssl": lambda root: {"OPENSSL_DIR": root, "OPENSSL_STATIC": "1", "OPENSSL_NO_VENDOR": "1"},
}


def zig_target(triple: str) -> str:
    """zig's target for a Rust musl triple: ``aarch64-unknown-linux-musl`` -> ``aarch64-linux-musl``."""
    parts = triple.split("-")
    if len(parts) != 4 or parts[2] != "linux" or not parts[3].startswith("musl"):
        raise BuildError(
            f"no C sysroot for {triple}: packbin builds C libraries for linux musl targets only",
            hint="remove [[c_libraries]] from buildcfg.toml for this architecture's builds",
        )
    return f"{_ZIG_ARCH.get(parts[0], parts[0])}-linux-{parts[3]}"


@dataclass(frozen=True, kw_only=True)
class CSysroot:
    """One library's sysroot for one target: its volume and where builds see it."""

    library: str
    version: str  # the Debian source version asked for, or the suite's name (the newest it has)
    pinned: bool  # version is a Debian version from buildcfg.toml
    triple: str
    volume: str

    @property
    def mount(self) -> str:
        return f"{C_ROOT}/{self.library}"

    @property
    def root(self) -> str:
        """The finished sysroot: ``lib/``, ``include/``, ``lib/pkgconfig/``."""
        return f"{self.mount}/root"


def sysroots_for(cfg: BuildConfig, triple: str, recipe: str) -> tuple[CSysroot, ...]:
    """The sysroots a build of ``triple`` mounts, in ``[[c_libraries]]`` order (pure)."""
    out = []
    for lib in cfg.c_libraries:
        version = lib.version or cfg.builder.debian_suite
        out.append(
            CSysroot(
                library=lib.name,
                version=version,
                pinned=lib.version is not None,
                triple=triple,
                volume=c_sysroot_volume(lib.name, version, triple, recipe),
            )
        )
    return tuple(out)


def sysroot_volumes(sysroots: Iterable[CSysroot]) -> dict[str, str]:
    """volume -> read-only mount point, for a build container."""
    return {s.volume: f"{s.mount}:ro" for s in sysroots}


def sysroot_environment(sysroots: Iterable[CSysroot]) -> dict[str, str]:
    """A build container's environment for its sysroots (empty without any): pkg-config looks in
    the sysroots alone (PKG_CONFIG_LIBDIR replaces its default path, so no host library is found),
    cross-compiling allowed, everything static."""
    sysroots = tuple(sysroots)
    if not sysroots:
        return {}
    env = {
        "PKG_CONFIG_LIBDIR": ":".join(f"{s.root}/lib/pkgconfig" for s in sysroots),
        "PKG_CONFIG_ALLOW_CROSS": "1",
        "PKG_CONFIG_ALL_STATIC": "1",
    }
    for s in sysroots:
        if s.library in _CRATE_ENV:
            env.update(_CRATE_ENV[s.library](s.root))
    return env


def ensure_sysroots(
    engine: Engine, image: BuilderImage, cfg: BuildConfig, triples: Iterable[str], *, echo: Callable[[str], None]
) -> None:
    """Build every ``[[c_libraries]]`` library for every triple whose sysroot is not complete yet."""
    path = c_sysroot_record_path(engine)
    for triple in triples:
        for s in sysroots_for(cfg, triple, image.recipe):
            ident = engine.ensure_volume(s.volume, kind="c-sysroot", labels={"io.packbin.c-library": s.library})
            engine.ensure_volume(cache_volume(triple), kind="cache")
            if ident and read_record(path).get(s.volume) == ident:
                echo(f"{s.library} for {triple}: present in {s.volume}, not built again")
                continue
            # Under the target's lock: the build shares the target's zig cache with cargo's builds.
            with file_lock(WARM.lock_path(engine, triple), what=f"the {triple} build cache", on_wait=echo):
                _make(engine, image, cfg, s, echo=echo)
            record = read_record(path)
            record[s.volume] = ident
            atomic_write_bytes(path, json.dumps(record, indent=1, sort_keys=True).encode())


def _make(engine: Engine, image: BuilderImage, cfg: BuildConfig, s: CSysroot, *, echo: Callable[[str], None]) -> None:
    """Fetch (network) and build (none) one sysroot; each container says ``present`` when it is."""
    t0 = time.monotonic()
    version = s.version if s.pinned else ""
    fetched = _run(engine, image, cfg, s, ["fetch", s.library, version, s.mount], network=None, echo=echo)
    if fetched.startswith("present"):
        echo(f"{s.library} for {s.triple}: present in {s.volume} ({fetched.split()[-1]}), not built again")
        return
    echo(f"{s.library} {fetched.split()[-1]} for {s.triple}: building into {s.volume}")
    target = zig_target(s.triple)
    built = _run(engine, image, cfg, s, ["build", s.library, target, s.mount], network="none", echo=echo)
    echo(f"{s.library} {built.split()[-1]} for {s.triple}: built in {time.monotonic() - t0:.1f}s")


def _run(
    engine: Engine,
    image: BuilderImage,
    cfg: BuildConfig,
    s: CSysroot,
    args: list[str],
    *,
    network: str | None,
    echo: Callable[[str], None],
) -> str:
    """Run the script with ``args``; what its ``::packbin-sysroot`` line says."""
    mirror = cfg.builder.debian_mirror
    env = {
        "MIRROR": mirror,
        "SECURITY_MIRROR": security_mirror(mirror),
        "SUITE": cfg.builder.debian_suite,
        "XDG_CACHE_HOME": CACHE_ROOT,
    }
    said: list[str] = []
    tail: list[str] = []

    def on_line(line: str) -> None:
        if line.startswith("::packbin-sysroot "):
            said.append(line.split(" ", 1)[1])
            return
        tail.append(line)
        del tail[:-30]
        echo(f"  {line}")

    with engine.container(
        image=image.tag,
        command=["/bin/sh", _SCRIPT_PATH, *args],
        kind="c-sysroot",
        environment=env,
        volumes={s.volume: s.mount, cache_volume(s.triple): CACHE_ROOT},
        network_mode=network,
    ) as c:
        c.put_tar(_SCRIPT_DIR, tar_bytes({"packbin-c-sysroot.sh": (SCRIPT, 0o755)}))
        status = c.run_streaming(on_line=on_line)
    if status != 0 or not said:
        raise BuildError(
            f"building the C library {s.library} for {s.triple} failed ({args[0]}, exit {status}):\n"
            + "\n".join(tail[-15:]),
            hint=f"check that {mirror} serves Debian's source packages (deb-src) for {cfg.builder.debian_suite}"
            if args[0] == "fetch"
            else f"the volume {s.volume} holds the unfinished build; it is cleaned up by the next one",
        )
    return said[-1]


__all__ = [
    "C_ROOT",
    "CSysroot",
    "ensure_sysroots",
    "sysroot_environment",
    "sysroot_volumes",
    "sysroots_for",
    "zig_target",
]
