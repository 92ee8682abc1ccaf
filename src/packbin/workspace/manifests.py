"""The Cargo.toml files of a repository, for discovery: found by a bounded walk, each read once
with a size bound; what cannot be used becomes a problem (with its path), not an error.

The tree is untrusted input: ``vendor/``, ``target/``, hidden directories and build outputs are
not walked, symlinks are never followed (one leading out of the repository is reported).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

from packbin._compat import tomllib
from packbin.errors import ConfigError

#: A Cargo.toml is a few kilobytes; past this it is not one.
MAX_MANIFEST_BYTES = 1 << 20
#: How deep the walk goes below the repository root (a real repository needs a handful of levels).
MAX_DEPTH = 24
#: Directories never walked: dependencies (vendor/), build outputs (target/), package managers'.
SKIP_NAMES = frozenset({"vendor", "target", "node_modules", "__pycache__"})


class Unusable(Exception):
    """A manifest discovery cannot use (becomes a Problem)."""


class ManifestTree:
    """The repository's manifests as discovery reads them: parsed once each, problems by path."""

    def __init__(self, root: Path) -> None:
        if not root.is_dir():
            raise ConfigError(f"{root}: not a directory")
        self.root = root.resolve()
        self.root_str = str(self.root)
        self.problems: dict[str, str] = {}
        self._toml: dict[str, dict[str, Any] | None] = {}

    # -- reading -----------------------------------------------------------------------
    def abs(self, rel: str) -> Path:
        return self.root / rel if rel else self.root

    def problem(self, rel: str, text: str) -> None:
        self.problems.setdefault(rel, text)

    def symlinked(self, rel: str) -> str | None:
        """Why ``rel`` cannot be used when a component of it is a symlink (None: no symlink)."""
        parts = rel.split("/") if rel else []
        for i in range(1, len(parts) + 1):
            sub = "/".join(parts[:i])
            p = self.abs(sub)
            if p.is_symlink():
                real = os.path.realpath(p)
                if not Path(real).is_relative_to(self.root):
                    return f"{sub} is a symlink leading out of the repository (to {real}); ignored"
                return f"{sub} is a symlink; ignored (packbin sends no symlinks to builds)"
        return None

    def manifest(self, rel: str) -> dict[str, Any] | None:
        """The parsed Cargo.toml at ``rel`` (None when it is missing or unusable, with a Problem)."""
        if rel in self._toml:
            return self._toml[rel]
        data: dict[str, Any] | None = None
        why = self.symlinked(rel)
        if why is not None:
            self.problem(rel, why)
        else:
            try:
                data = self._parse(rel)
            except Unusable as e:
                self.problem(rel, str(e))
        self._toml[rel] = data
        return data

    def _parse(self, rel: str) -> dict[str, Any] | None:
        path = self.abs(rel)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOFOLLOW)
        except FileNotFoundError:
            return None
        except OSError as e:
            raise Unusable(f"cannot read: {e.strerror}") from e
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise Unusable("not a regular file")
            raw = b""
            while len(raw) <= MAX_MANIFEST_BYTES:
                chunk = os.read(fd, MAX_MANIFEST_BYTES + 1 - len(raw))
                if not chunk:
                    break
                raw += chunk
        except OSError as e:
            raise Unusable(f"cannot read: {e.strerror}") from e
        finally:
            os.close(fd)
        if len(raw) > MAX_MANIFEST_BYTES:
            raise Unusable(f"larger than {MAX_MANIFEST_BYTES >> 20} MiB, not a Cargo manifest")
        try:
            data: dict[str, Any] = tomllib.loads(raw.decode("utf-8"))
            return data
        except UnicodeDecodeError as e:
            raise Unusable(f"not UTF-8 text (byte {e.start})") from e
        except tomllib.TOMLDecodeError as e:
            raise Unusable(f"invalid TOML: {e}") from e
        except RecursionError:
            raise Unusable("invalid TOML: arrays or tables nested too deeply") from None

    # -- the walk ----------------------------------------------------------------------
    def walk(self) -> list[str]:
        """Repo-relative paths of every Cargo.toml outside vendor/, target/ and hidden directories."""
        found: list[str] = []
        stack: list[tuple[str, int]] = [("", 0)]
        while stack:
            d, depth = stack.pop()
            try:
                it = os.scandir(os.path.join(self.root_str, d) if d else self.root_str)
            except OSError as e:
                self.problem(d or ".", f"cannot read: {e.strerror}; not searched")
                continue
            with it:
                entries = sorted(it, key=lambda x: x.name)
            if any(x.name == "CACHEDIR.TAG" for x in entries) and d:
                continue  # a build output directory (cargo writes CACHEDIR.TAG into every target dir)
            for entry in entries:
                rel = f"{d}/{entry.name}" if d else entry.name
                if entry.is_symlink():
                    if entry.name == "Cargo.toml" or (
                        os.path.isdir(entry.path) and (Path(entry.path) / "Cargo.toml").exists()
                    ):
                        why = self.symlinked(rel)
                        self.problem(rel, why or "a symlink; ignored")
                    continue
                if entry.is_dir(follow_symlinks=False):
                    if entry.name.startswith(".") or entry.name in SKIP_NAMES:
                        continue
                    if depth + 1 > MAX_DEPTH:
                        self.problem(rel, f"deeper than {MAX_DEPTH} levels; not searched")
                        continue
                    stack.append((rel, depth + 1))
                elif entry.name == "Cargo.toml":
                    found.append(rel)
        return sorted(found)


__all__ = ["MAX_DEPTH", "MAX_MANIFEST_BYTES", "SKIP_NAMES", "ManifestTree", "Unusable"]
