"""TEMPORARY minimal shim (standalone crates only) until the workspace model lands; replaced wholesale."""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from packbin.config import BuildConfig, PackBinary
from packbin.errors import ConfigError

_SKIP = frozenset({"target", ".git"})


@dataclass(frozen=True, kw_only=True)
class InputFile:
    rel: str
    path: Path
    size: int
    mtime_ns: int
    executable: bool
    sha256: str


@dataclass(frozen=True, kw_only=True)
class Stub:
    rel: str
    data: bytes


@dataclass(frozen=True, kw_only=True)
class Workspace:
    root: Path
    root_rel: str
    lock: Path


@dataclass(frozen=True, kw_only=True)
class BinaryInputs:
    binary_name: str
    package: str
    manifest_rel: str
    workspace: Workspace
    files: tuple[InputFile, ...]
    stubs: tuple[Stub, ...]
    digest: str
    fetch_key: str
    needs_fetch: bool
    registry_hosts: tuple[str, ...]
    total_bytes: int


def collect_inputs(cfg: BuildConfig, binary: PackBinary) -> BinaryInputs:
    crate = binary.manifest.parent
    lock = crate / "Cargo.lock"
    if not lock.is_file():
        raise ConfigError(f"{lock} missing")
    files = []
    for dirpath, dirnames, filenames in os.walk(crate):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP)
        for name in sorted(filenames):
            p = Path(dirpath) / name
            st = p.lstat()
            if not stat.S_ISREG(st.st_mode):
                continue
            files.append(InputFile(rel=p.relative_to(cfg.root).as_posix(), path=p, size=st.st_size, mtime_ns=st.st_mtime_ns,
                                   executable=bool(st.st_mode & 0o111), sha256=hashlib.sha256(p.read_bytes()).hexdigest()))
    h = hashlib.sha256()
    for f in files:
        h.update(f"{f.rel}\0{f.executable}\0{f.sha256}\n".encode())
    rel = crate.relative_to(cfg.root).as_posix()
    return BinaryInputs(binary_name=binary.name, package=binary.name, manifest_rel=binary.manifest.relative_to(cfg.root).as_posix(),
                        workspace=Workspace(root=crate, root_rel=rel, lock=lock), files=tuple(files), stubs=(), digest=h.hexdigest(),
                        fetch_key=hashlib.sha256(lock.read_bytes()).hexdigest(), needs_fetch=False, registry_hosts=(), total_bytes=sum(f.size for f in files))


def merge_payload(inputs: Iterable[BinaryInputs]) -> tuple[tuple[InputFile, ...], tuple[Stub, ...]]:
    files: dict[str, InputFile] = {}
    stubs: dict[str, Stub] = {}
    for i in inputs:
        files.update({f.rel: f for f in i.files})
        stubs.update({s.rel: s for s in i.stubs})
    return tuple(files[k] for k in sorted(files)), tuple(stubs[k] for k in sorted(stubs) if k not in files)
