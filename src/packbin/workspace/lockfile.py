"""Cargo.lock as untrusted input: read with a size bound, every field used type-checked, into a
graph of packages (name, version, source, dependencies) that :mod:`packbin.workspace.c_deps`
walks. A malformed lock is a ConfigError naming the file and the field, never a traceback."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from packbin._compat import tomllib
from packbin.errors import ConfigError

#: Cargo.lock files far larger than any real one (cargo's own, ~400 packages, is ~60 KiB) are refused.
LOCK_MAX_BYTES = 16 * 1024 * 1024
#: As many packages as a lock may list before it is refused (a bound on the walks over it).
LOCK_MAX_PACKAGES = 50_000

#: A lock dependency entry: "name", "name version" or "name version (source)".
_DEP_RE = re.compile(r"^(?P<name>[A-Za-z0-9_.+-]+)(?: (?P<version>[^ ()]+))?(?: \((?P<source>[^()]+)\))?$")
_HINT = "regenerate it with `cargo generate-lockfile` (or restore it from version control)"


@dataclass(frozen=True, kw_only=True)
class LockPackage:
    """One ``[[package]]`` of Cargo.lock."""

    name: str
    version: str
    source: str | None  # None: a path package (a workspace member or path dependency)
    dependencies: tuple[str, ...]  # as written: "name", "name version" or "name version (source)"

    @property
    def key(self) -> tuple[str, str]:
        return (self.name, self.version)


@dataclass(frozen=True, kw_only=True)
class LockGraph:
    """A Cargo.lock's packages, by (name, version)."""

    path: str  # the lock as shown in messages (repo-relative where known)
    packages: tuple[LockPackage, ...]
    by_name: Mapping[str, tuple[LockPackage, ...]]  # the same packages, by name

    @classmethod
    def make(cls, path: str, packages: Iterable[LockPackage]) -> LockGraph:
        listed = tuple(packages)
        by_name: dict[str, tuple[LockPackage, ...]] = {}
        for p in listed:
            by_name[p.name] = (*by_name.get(p.name, ()), p)
        return cls(path=path, packages=listed, by_name=by_name)

    def find(self, name: str) -> tuple[LockPackage, ...]:
        """Every package of this name (several versions can be locked at once)."""
        return self.by_name.get(name, ())

    def get(self, key: tuple[str, str]) -> LockPackage | None:
        return next((p for p in self.find(key[0]) if p.version == key[1]), None)

    def dependency(self, of: LockPackage, name: str) -> LockPackage | None:
        """The locked package ``of`` depends on under the package name ``name`` (None: not a dependency)."""
        for entry in of.dependencies:
            m = _DEP_RE.match(entry)
            if m is None or m["name"] != name:
                continue
            candidates = [p for p in self.find(name) if m["version"] in (None, p.version)]
            if len(candidates) == 1 or (candidates and m["version"] is not None):
                return candidates[0]
        return None

    def dependencies(self, of: LockPackage) -> Iterable[LockPackage]:
        for entry in of.dependencies:
            m = _DEP_RE.match(entry)
            if m is not None:
                dep = self.dependency(of, m["name"])
                if dep is not None:
                    yield dep


def read_lock(path: Path, shown: str) -> LockGraph:
    """Cargo.lock at ``path`` (``shown`` in messages), bounded and checked; ConfigError when it is
    missing, too big, not TOML or not shaped as cargo writes it."""
    try:
        with open(path, "rb") as f:
            data = f.read(LOCK_MAX_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(f"{shown} is missing", hint="run `cargo generate-lockfile` and commit Cargo.lock") from None
    except OSError as e:
        raise ConfigError(f"{shown}: cannot read: {e.strerror}") from e
    if len(data) > LOCK_MAX_BYTES:
        raise ConfigError(f"{shown} is larger than {LOCK_MAX_BYTES // (1024 * 1024)} MiB: not a Cargo.lock", hint=_HINT)
    try:
        doc = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"{shown}: not a valid Cargo.lock: {e}", hint=_HINT) from e
    raw = doc.get("package", [])
    if not isinstance(raw, list):
        raise ConfigError(f"{shown}: `package` must be an array of tables ([[package]])", hint=_HINT)
    if len(raw) > LOCK_MAX_PACKAGES:
        raise ConfigError(f"{shown}: more than {LOCK_MAX_PACKAGES} packages: not a Cargo.lock", hint=_HINT)
    return LockGraph.make(shown, (_package(shown, i, p) for i, p in enumerate(raw)))


def _package(shown: str, i: int, p: object) -> LockPackage:
    where = f"{shown}: package[{i}]"
    if not isinstance(p, dict):
        raise ConfigError(f"{where} is not a table", hint=_HINT)
    name, version, source = p.get("name"), p.get("version"), p.get("source")
    if not isinstance(name, str) or not isinstance(version, str):
        raise ConfigError(f"{where}: `name` and `version` must be strings", hint=_HINT)
    if source is not None and not isinstance(source, str):
        raise ConfigError(f"{where} ({name}): `source` must be a string", hint=_HINT)
    deps = p.get("dependencies", [])
    if not isinstance(deps, list) or not all(isinstance(d, str) and _DEP_RE.match(d) for d in deps):
        raise ConfigError(f'{where} ({name}): `dependencies` must be strings like "name" or "name version"', hint=_HINT)
    return LockPackage(name=name, version=version, source=source, dependencies=tuple(deps))


__all__ = ["LOCK_MAX_BYTES", "LOCK_MAX_PACKAGES", "LockGraph", "LockPackage", "read_lock"]
