"""Sources into the engine: an incremental upload into a named volume that builds mount read-only.

The host keeps a record, per engine and volume, of what the volume holds (path -> content hash).
A run sends only the files whose content changed and removes the ones that are gone, so an
unchanged rebuild sends nothing and a one-line change sends about that file, whatever the size of
the workspace and its vendor tree. The same mechanism serves a local and a remote engine.

A record is trusted only for the volume it was made for (the volume's creation time), and it is
marked dirty while an upload is under way: after an interrupted or failed upload the next run
empties the volume and sends everything again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tarfile
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from packbin.build.volumes import source_volume_name, sources_record_path
from packbin.config.model import BuildConfig
from packbin.engine import Engine, filesystem_view
from packbin.errors import BuildError
from packbin.util.atomic import atomic_write_bytes
from packbin.util.dirs import read_record
from packbin.util.sizes import human_size
from packbin.util.tarwriter import add_file
from packbin.workspace import InputFile, Stub

log = logging.getLogger(__name__)

#: Where the sources volume is mounted in fetch and build containers.
SRC_MOUNT = "/build/src"
_INBOX = "/tmp/packbin-sync"

# Runs in the builder image, network none: empty the volume for a full upload, remove what is
# gone (NUL-separated list), unpack the delta keeping mtimes (cargo's fingerprints compare them),
# drop directories left empty (cargo would discover an empty src/bin/NAME/ as a target).
_SYNC_SCRIPT = f"""set -eu
cd {SRC_MOUNT}
if [ "$1" = full ]; then find . -mindepth 1 -delete; fi
if [ -s {_INBOX}/remove ]; then xargs -0 rm -f -- < {_INBOX}/remove; fi
tar -xf {_INBOX}/delta.tar --no-same-owner
find . -mindepth 1 -type d -empty -delete
"""


@dataclass(frozen=True, kw_only=True)
class SyncResult:
    """What one upload did (bytes_sent counts the tar bytes that went to the engine)."""

    volume: str
    volume_id: str  # the volume's identity: builds tell one checkout's sources from another's
    bytes_sent: int
    files_sent: int
    files_removed: int
    full: bool


#: Labels of a sources volume: the checkout it holds, and the file system view that path is in.
CHECKOUT_LABEL = "io.packbin.checkout"
VIEW_LABEL = "io.packbin.view"


def remove_gone_checkouts(engine: Engine, *, echo: Callable[[str], None]) -> list[str]:
    """Remove the sources volumes whose checkout directory no longer exists (in this file system
    view); their names. A volume in use, of another view, or without the labels is left alone."""
    view = filesystem_view()
    removed = []
    for name, labels in engine.volumes_of_kind("sources"):
        root = labels.get(CHECKOUT_LABEL, "")
        if labels.get(VIEW_LABEL) != view or not root or os.path.isdir(root):
            continue
        if engine.remove_volume(name) is None:
            sources_record_path(engine, name).unlink(missing_ok=True)
            echo(f"sources: removed volume {name} (its checkout {root} is gone)")
            removed.append(name)
    return removed


def _load_record(path: Path) -> dict[str, Any]:
    data = read_record(path)
    return data if isinstance(data.get("files"), dict) else {}


def _save_record(path: Path, *, volume_id: str, files: dict[str, str], dirty: bool) -> None:
    doc = {"volume_id": volume_id, "dirty": dirty, "files": files}
    atomic_write_bytes(path, json.dumps(doc, sort_keys=True).encode())


def wanted_state(files: Sequence[InputFile], stubs: Sequence[Stub]) -> dict[str, str]:
    """rel -> what the volume must hold there (content hash and exec bit)."""
    state = {s.rel: "stub:" + hashlib.sha256(s.data).hexdigest() for s in stubs}
    state.update({f.rel: f.sha256 + (":x" if f.executable else "") for f in files})
    return state


def write_delta_tar(
    out: IO[bytes], files: Sequence[InputFile], stubs: Sequence[Stub], rels: set[str], *, not_before: float = 0.0
) -> None:
    """Write a tar of the entries in ``rels`` to ``out``: real files keep their mtime (but none
    older than ``not_before``) and exec bit; stubs are dated 1970. Streamed file by file: no size
    limit, no whole tree in memory."""
    real = {f.rel for f in files}
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for s in sorted(stubs, key=lambda s: s.rel):
            if s.rel in rels and s.rel not in real:
                add_file(tf, s.rel, s.data, mtime=1)
        for f in sorted(files, key=lambda f: f.rel):
            if f.rel in rels:
                data = f.path.read_bytes()
                if hashlib.sha256(data).hexdigest() != f.sha256:
                    raise BuildError(f"{f.rel} changed while packbin was sending it", hint="run the build again")
                mode = 0o755 if f.executable else 0o644
                add_file(tf, f.rel, data, mode=mode, mtime=max(f.mtime_ns / 1e9, not_before))


def sync_sources(
    engine: Engine,
    image: str,
    cfg: BuildConfig,
    files: Sequence[InputFile],
    stubs: Sequence[Stub],
    *,
    echo: Callable[[str], None],
) -> SyncResult:
    """Make the sources volume hold exactly ``files`` and ``stubs``; send only the difference.

    The caller holds the volume's lock (two runs must not upload into one volume at once).
    """
    volume = source_volume_name(cfg.root)
    remove_gone_checkouts(engine, echo=echo)
    labels = {CHECKOUT_LABEL: str(cfg.root), VIEW_LABEL: filesystem_view()}
    volume_id = engine.ensure_volume(volume, kind="sources", labels=labels)  # a recreated volume is a new one
    path = sources_record_path(engine, volume)
    record = _load_record(path)
    want = wanted_state(files, stubs)
    trusted = bool(volume_id) and record.get("volume_id") == volume_id and not record.get("dirty")
    try:
        return _upload(
            engine, image, volume, volume_id, path, files, stubs, want, record["files"] if trusted else None, echo
        )
    except BuildError:
        if not trusted:
            raise
        # An incremental upload that failed (e.g. a file turned into a directory): start over.
        log.info("incremental upload into %s failed; sending everything", volume)
        return _upload(engine, image, volume, volume_id, path, files, stubs, want, None, echo)


def _upload(
    engine: Engine,
    image: str,
    volume: str,
    volume_id: str,
    path: Path,
    files: Sequence[InputFile],
    stubs: Sequence[Stub],
    want: dict[str, str],
    held: dict[str, str] | None,
    echo: Callable[[str], None],
) -> SyncResult:
    full = held is None
    if held is None:
        send, remove = set(want), []
    else:
        send = {rel for rel, h in want.items() if held.get(rel) != h}
        remove = sorted(rel for rel in held if rel not in want)
    if not send and not remove:
        return SyncResult(volume=volume, volume_id=volume_id, bytes_sent=0, files_sent=0, files_removed=0, full=False)
    remove_list = b"".join(r.encode() + b"\0" for r in remove)
    # Big trees spill to disk: the delta is written once, then streamed to the engine.
    with tempfile.TemporaryFile() as delta, tempfile.TemporaryFile() as payload:
        # A file whose content changed is dated no earlier than now: cargo decides by mtime, and
        # a changed file with an old date (cp -p, tar, an editor restoring a backup) must rebuild.
        write_delta_tar(delta, files, stubs, send, not_before=0.0 if full else time.time())
        if full or remove:
            # Emptying the volume or removing files needs a process: the sync script.
            with tarfile.open(fileobj=payload, mode="w") as tf:
                add_file(tf, "packbin-sync/remove", remove_list)
                size = delta.tell()
                delta.seek(0)
                add_file(tf, "packbin-sync/delta.tar", delta, size=size)
            upload, target, start = payload, "/tmp", True
        else:
            # Only new or changed files (the common case: an edit): the engine unpacks them
            # straight into the volume of a container that never starts.
            upload, target, start = delta, SRC_MOUNT, False
        size = upload.tell()
        upload.seek(0)
        what = "all sources" if full else f"{len(send)} changed file(s), {len(remove)} removed"
        echo(f"sources: sending {what} ({human_size(size)}) into volume {volume}")
        _save_record(path, volume_id=volume_id, files=held or {}, dirty=True)
        status, lines = 0, list[str]()
        with engine.container(
            image=image,
            command=["/bin/sh", "-c", _SYNC_SCRIPT, "sync", "full" if full else "delta"],
            kind="sync",
            volumes={volume: SRC_MOUNT},
            network_mode="none",
        ) as c:
            c.put_tar(target, upload)
            if start:
                status = c.run_streaming(on_line=lines.append)
    if status != 0:
        raise BuildError(
            f"could not update the sources volume {volume} (exit {status}): " + " / ".join(lines[-5:]),
            hint="run the build again; the next run sends everything",
        )
    _save_record(path, volume_id=volume_id, files=want, dirty=False)
    return SyncResult(
        volume=volume, volume_id=volume_id, bytes_sent=size, files_sent=len(send), files_removed=len(remove), full=full
    )


__all__ = ["SRC_MOUNT", "SyncResult", "sync_sources", "wanted_state", "write_delta_tar"]
