"""cache-export / cache-import: packbin's build caches as plain files a CI cache action can keep.

A fresh CI runner has an empty engine, so every run would be a cold build. ``cache-export``
writes, per configured architecture, the volumes a build warms (the shared cargo home, and per
Rust target the target directory, zig's cache and the prebuilt musl std) as one tar file each,
through the Engine API, plus ``packbin-cache.json``: the key and what each file holds. With
``--with-image``, the builder image too (``docker save`` through the API). ``cache-import`` on
a fresh engine restores them, so the next build is incremental.

The directory is untrusted input on import (a CI cache can be written by another job, or
tampered with): the index must name only this configuration's cache volumes and files directly
in the directory, and every tar is checked member by member before the engine sees it (relative
paths inside the volume only, no device files, no link leaving the volume). A volume that
already exists is left alone (an older cache never overwrites a warmer one) unless ``replace``.

The key (``cache_key``) is derived from the Cargo.lock files of the configured binaries'
workspaces, the builder recipe's inputs (the ``[builder]`` table and the build script) and
packbin's version, so it can be computed before anything is restored (``invoke cache-key``).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass
from dataclasses import replace as with_fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packbin import __version__
from packbin.arch import Architecture
from packbin.build.image import BUILD_SCRIPT, ZIG_CACHE_SCRIPT
from packbin.build.volumes import tool_volumes
from packbin.ci.cache_index import FORMAT, INDEX_NAME, CacheFile, CheckedFile, read_index, write_index
from packbin.ci.cache_tar import check_cache_tar
from packbin.config.model import BuildConfig
from packbin.errors import EngineError

if TYPE_CHECKING:
    from packbin.engine import Engine

#: Where a volume is mounted in the carrier container; tar members are ``v/...``.
_MOUNT = "/v"
#: A carrier image: one empty layer, imported through the API (works on a fresh engine with no
#: registry), so volumes can be read and written by a container that is created and never started.
CARRIER_IMAGE = "packbin/carrier:empty"


def cache_key(cfg: BuildConfig, arches: Sequence[Architecture]) -> str:
    """A key that changes when the caches stop matching: lock files, builder inputs, packbin version."""
    from packbin.workspace import collect_all

    h = hashlib.sha256()
    h.update(f"packbin {__version__}\0format {FORMAT}\0".encode())
    # auditable only decides what packbin adds to a binary after the build: the caches are the same.
    h.update(repr(with_fields(cfg.builder, auditable=True)).encode())
    h.update(BUILD_SCRIPT.encode())
    h.update(ZIG_CACHE_SCRIPT)
    for a in arches:
        h.update(f"\0arch {a.name} {a.rust_target}".encode())
    # Each workspace's fetch key: its Cargo.lock and source configs (what fills the cargo home).
    for fetch_key in sorted({i.fetch_key for i in collect_all(cfg, cfg.binaries)}):
        h.update(f"\0lock {fetch_key}".encode())
    return h.hexdigest()[:24]


@dataclass(frozen=True, kw_only=True)
class TransferReport:
    key: str
    files: tuple[CacheFile, ...]
    image: str | None  # the builder image tag(s) saved or loaded
    skipped: tuple[str, ...]  # volumes not exported (absent) or not imported (exist)
    seconds: float

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "total_bytes": self.total_bytes}


def _carrier(engine: Engine) -> str:
    if engine.image_id(CARRIER_IMAGE) is None:
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tf:
            ti = tarfile.TarInfo("v")
            ti.type = tarfile.DIRTYPE
            ti.mode = 0o755
            tf.addfile(ti)
        with tempfile.NamedTemporaryFile(suffix=".tar") as f:
            f.write(buf.getvalue())
            f.flush()
            repo, tag = CARRIER_IMAGE.split(":")
            engine.import_rootfs(
                Path(f.name),
                repository=repo,
                tag=tag,
                changes=['LABEL io.packbin.owner="packbin" io.packbin.kind="carrier"'],
            )
    return CARRIER_IMAGE


# -- export --------------------------------------------------------------------------------


def export_caches(
    routes: Sequence[tuple[Engine, Sequence[Architecture]]],
    cfg: BuildConfig,
    dest: Path,
    *,
    with_image: bool = False,
    echo: Callable[[str], None] = print,
) -> TransferReport:
    """Write the caches of each (engine, architectures) into ``dest``, replacing an earlier export.

    The shared cargo home (downloaded sources, the same on every engine) is taken from the first
    engine; per-target volumes from the engine that builds that target; with ``with_image``, one
    builder image per engine platform.
    """
    t0 = time.monotonic()
    dest.mkdir(parents=True, exist_ok=True)
    all_arches = [a for _, arches in routes for a in arches]
    key = cache_key(cfg, all_arches)
    files: list[CacheFile] = []
    skipped: list[str] = []
    images: list[str] = []
    done: set[str] = set()
    for engine, arches in routes:
        carrier = ""
        for volume in tool_volumes(arches):
            if volume in done:
                continue
            done.add(volume)
            if not engine.volume_exists(volume):
                skipped.append(volume)
                echo(f"cache-export: {volume}: not on the engine (nothing built yet); skipped")
                continue
            carrier = carrier or _carrier(engine)
            name = f"{volume}.tar"
            echo(f"cache-export: {volume} -> {dest / name}")
            with engine.container(
                image=carrier, command=["/none"], kind="cache", volumes={volume: f"{_MOUNT}:ro"}
            ) as c:
                stream = c.get_tar(_MOUNT)
                size, digest = _write_stream(dest / name, stream, echo=echo, what=volume)
            files.append(CacheFile(volume=volume, file=name, size=size, sha256=digest))
        name = image_file(engine.native_platform)
        if with_image and name not in {f.file for f in files}:
            tag = builder_image_tag(engine, cfg)
            if tag is None:
                echo(f"cache-export: no builder image of this configuration on {engine.endpoint.host}; not saved")
                continue
            echo(f"cache-export: builder image {tag} -> {dest / name}")
            size, digest = _write_stream(dest / name, engine.save_image(tag), echo=echo, what="the image")
            files.append(CacheFile(volume="", file=name, size=size, sha256=digest))
            images.append(tag)
    write_index(dest, key=key, arches=all_arches, files=files)
    return TransferReport(
        key=key,
        files=tuple(files),
        image=", ".join(images) or None,
        skipped=tuple(skipped),
        seconds=time.monotonic() - t0,
    )


def image_file(platform: str) -> str:
    """``builder-image-linux-amd64.tar``: an engine loads the image of its own platform."""
    return "builder-image-" + re.sub(r"[^A-Za-z0-9]+", "-", platform).strip("-") + ".tar"


def builder_image_tag(engine: Engine, cfg: BuildConfig) -> str | None:
    """The tag of the builder image ``cfg`` builds with on ``engine``, when it is there (nothing is
    pulled or built to find out)."""
    from packbin.build.image import resolve_existing_recipe

    return resolve_existing_recipe(engine, cfg)


def _write_stream(path: Path, chunks: Iterable[bytes], *, echo: Callable[[str], None], what: str) -> tuple[int, str]:
    """Stream into a temp file beside ``path`` and rename it there; (size, sha256). Progress every 5 s."""
    h = hashlib.sha256()
    size = 0
    last = time.monotonic()
    fd, tmp = tempfile.mkstemp(prefix=".partial-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            for chunk in chunks:
                f.write(chunk)
                h.update(chunk)
                size += len(chunk)
                if time.monotonic() - last > 5:
                    last = time.monotonic()
                    echo(f"cache-export:   {what}: {size / 1e6:.0f} MB")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return size, h.hexdigest()


# -- import --------------------------------------------------------------------------------


def import_caches(
    engine: Engine,
    cfg: BuildConfig,
    arches: Sequence[Architecture],
    src: Path,
    *,
    with_image: bool = True,
    replace: bool = False,
    echo: Callable[[str], None] = print,
) -> TransferReport:
    """Restore the caches of ``arches`` from ``src`` into ``engine``'s volumes (and its builder image)."""
    t0 = time.monotonic()
    key, files, image_files = read_index(src, cfg)
    want = set(tool_volumes(arches))
    current = cache_key(cfg, arches)
    if key != current:
        echo(
            f"cache-import: the cache's key {key or '?'} differs from this checkout's {current}: "
            "restoring it anyway (cargo rebuilds what changed)"
        )
    skipped: list[str] = []
    image = None
    mine = next((f for f in image_files if f.file == image_file(engine.native_platform)), None)
    if with_image and mine is not None:
        path = src / mine.file
        echo(f"cache-import: loading the builder image from {path} ({mine.size / 1e6:.0f} MB)")
        with CheckedFile(path, mine) as f:
            image = ", ".join(engine.load_images(f)) or None
    carrier = _carrier(engine) if any(f.volume in want for f in files) else ""
    todo: list[CacheFile] = []
    for entry in files:
        if entry.volume not in want:
            continue
        if engine.volume_exists(entry.volume):
            if not replace:
                skipped.append(entry.volume)
                echo(f"cache-import: {entry.volume} exists on the engine; kept (--replace restores over it)")
                continue
            why = engine.remove_volume(entry.volume)
            if why is not None:
                raise EngineError(f"cannot replace volume {entry.volume}: {why}", hint="is a build running?")
        todo.append(entry)

    def restore(entry: CacheFile) -> CacheFile:
        path = src / entry.file
        echo(f"cache-import: {path} -> {entry.volume} ({entry.size / 1e6:.1f} MB)")
        with CheckedFile(path, entry) as f:
            check_cache_tar(f, where=str(path))
            f.seek(0)
            engine.ensure_volume(entry.volume, kind="cache")
            try:
                with engine.container(
                    image=carrier, command=["/none"], kind="cache", volumes={entry.volume: _MOUNT}
                ) as c:
                    c.put_tar("/", f)
            except BaseException:
                # Half a target directory is worse than none: the next build would trust it.
                engine.remove_volume(entry.volume)
                raise
        return entry

    # Side by side: the engine unpacks one volume while this process checks the next (measured:
    # 1.0-1.6 s for the three volumes of a target, against 2.2-2.4 s one after the other). Each
    # volume is whole or removed; the first error is raised once all have ended.
    with ThreadPoolExecutor(max_workers=max(1, min(4, len(todo)))) as pool:
        futures = [pool.submit(restore, entry) for entry in todo]
        try:
            wait(futures)
        except KeyboardInterrupt:
            # Stop the uploads: each worker then removes its half volume.
            engine.remove_live_containers()
            wait(futures)
            raise
    errors = [e for e in (f.exception() for f in futures) if e is not None]
    if errors:
        raise errors[0]
    done = [f.result() for f in futures]
    return TransferReport(
        key=key, files=tuple(done), image=image, skipped=tuple(skipped), seconds=time.monotonic() - t0
    )


# -- the tasks' entry points ----------------------------------------------------------------


def export_all(
    cfg: BuildConfig,
    arches: Sequence[Architecture],
    directory: Path,
    *,
    with_image: bool = False,
    echo: Callable[[str], None] = print,
) -> TransferReport:
    """``cache-export`` of ``arches``, each from the engine that builds it (every engine is reached
    before anything moves)."""
    from packbin.engine.routing import connect_routes

    routes = connect_routes(cfg, arches)
    return export_caches([(r.engine, r.arches) for r in routes], cfg, directory, with_image=with_image, echo=echo)


def import_all(
    cfg: BuildConfig,
    arches: Sequence[Architecture],
    directory: Path,
    *,
    with_image: bool = True,
    replace: bool = False,
    echo: Callable[[str], None] = print,
) -> list[TransferReport]:
    """``cache-import`` of ``arches``, each into the engine that builds it (every engine is reached
    before anything moves): one report per engine."""
    from packbin.engine.routing import connect_routes

    routes = connect_routes(cfg, arches)
    return [
        import_caches(r.engine, cfg, r.arches, directory, with_image=with_image, replace=replace, echo=echo)
        for r in routes
    ]


def render(verb: str, directory: str, reports: Sequence[TransferReport], *, as_json: bool) -> str:
    """The closing output: one summary line (``verb``: "exported", "imported"), or the ``--json`` document."""
    if as_json:
        return json.dumps({"dir": directory, "reports": [r.to_json() for r in reports]}, indent=2)
    files = sum(len(r.files) for r in reports)
    total = sum(r.total_bytes for r in reports)
    secs = sum(r.seconds for r in reports)
    return f"{verb} {files} file(s), {total / 1e6:.1f} MB, in {secs:.1f}s; key {reports[0].key if reports else '-'}"


__all__ = [
    "CARRIER_IMAGE",
    "INDEX_NAME",
    "CacheFile",
    "TransferReport",
    "cache_key",
    "check_cache_tar",
    "export_all",
    "export_caches",
    "import_all",
    "import_caches",
    "read_index",
    "render",
]
