"""A crate's sources: what goes into the build container, and the hash the up-to-date check uses.

Reads files only; no Docker. Build outputs (``target/``), VCS metadata and editor droppings are
left out, symlinks are refused (a pack tree is untrusted input: a link could smuggle host files
into the build context).
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import tarfile
from dataclasses import dataclass
from pathlib import Path

from packbin.config import BuildConfig, PackBinary
from packbin.errors import ConfigError

_SKIP_DIRS = frozenset({"target", ".git", ".hg", ".svn", "__pycache__", ".idea", ".vscode"})
MAX_SOURCE_BYTES = 64 << 20


@dataclass(frozen=True, kw_only=True)
class SourceFile:
    rel: str  # POSIX path relative to the repository root
    path: Path
    size: int
    mtime_ns: int
    executable: bool


@dataclass(frozen=True, kw_only=True)
class CrateSources:
    """The files of one crate (Cargo.toml, Cargo.lock, src/, build.rs, ...)."""

    binary: PackBinary
    files: tuple[SourceFile, ...]
    digest: str  # sha256 over relative paths, exec bits and contents

    @classmethod
    def collect(cls, cfg: BuildConfig, binary: PackBinary) -> CrateSources:
        crate = binary.crate_dir
        lock = crate / "Cargo.lock"
        if not lock.is_file():
            raise ConfigError(
                f"{lock.relative_to(cfg.root)} is missing for binary {binary.name!r}",
                hint=f"run `cargo generate-lockfile --manifest-path {binary.manifest.relative_to(cfg.root)}` and commit it (builds use --locked)",
            )
        files: list[SourceFile] = []
        total = 0
        for dirpath, dirnames, filenames in os.walk(crate):
            dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS)
            for d in dirnames:
                if (Path(dirpath) / d).is_symlink():
                    rel = (Path(dirpath) / d).relative_to(cfg.root).as_posix()
                    raise ConfigError(f"{rel}: symlinks are not allowed in crate sources", hint="replace the link with the directory it points to")
            for name in sorted(filenames):
                p = Path(dirpath) / name
                st = p.lstat()
                rel = p.relative_to(cfg.root).as_posix()
                if stat.S_ISLNK(st.st_mode):
                    raise ConfigError(f"{rel}: symlinks are not allowed in crate sources", hint="replace the link with the file it points to")
                if not stat.S_ISREG(st.st_mode):
                    continue
                total += st.st_size
                if total > MAX_SOURCE_BYTES:
                    raise ConfigError(f"crate {crate.relative_to(cfg.root)} is larger than {MAX_SOURCE_BYTES >> 20} MiB", hint="remove build outputs or large files from the crate directory")
                files.append(SourceFile(rel=rel, path=p, size=st.st_size, mtime_ns=st.st_mtime_ns, executable=bool(st.st_mode & 0o111)))
        h = hashlib.sha256()
        for f in files:
            h.update(f.rel.encode() + (b"\x01" if f.executable else b"\x00"))
            h.update(hashlib.sha256(f.path.read_bytes()).digest())
        return cls(binary=binary, files=tuple(files), digest=h.hexdigest())


def sources_tar(crates: list[CrateSources] | tuple[CrateSources, ...], *, prefix: str = "src", extra: dict[str, tuple[bytes, int]] | None = None) -> bytes:
    """An uncompressed tar of the crates under ``prefix/``; file mtimes are kept so cargo's
    fingerprints stay valid between containers (an unchanged file is not rebuilt)."""
    buf = io.BytesIO()
    seen: set[str] = set()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, (data, mode) in sorted((extra or {}).items()):
            ti = tarfile.TarInfo(name)
            ti.size, ti.mode = len(data), mode
            tf.addfile(ti, io.BytesIO(data))
        for crate in crates:
            for f in crate.files:
                if f.rel in seen:
                    continue
                seen.add(f.rel)
                ti = tarfile.TarInfo(f"{prefix}/{f.rel}")
                data = f.path.read_bytes()
                ti.size = len(data)
                ti.mode = 0o755 if f.executable else 0o644
                ti.mtime = f.mtime_ns / 1e9
                tf.addfile(ti, io.BytesIO(data))
    return buf.getvalue()
