"""The repository being read: repo-relative paths checked against symlinks and escapes, cached
TOML parsing, and the walk that turns directories into hashed InputFiles (through the stat
cache). Knows nothing of cargo's workspace rules; layout, targets and sources build on it."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from packbin._compat import tomllib
from packbin.config.model import BuildConfig
from packbin.errors import ConfigError
from packbin.workspace.hashcache import HashCache
from packbin.workspace.model import InputFile
from packbin.workspace.paths import norm_rel

#: Directories never sent from a package directory: VCS metadata, editor state, and build
#: outputs: ``target/`` at the package's top, or any directory holding a CACHEDIR.TAG (cargo
#: writes one into every target dir), so a module directory ``src/target/`` is still sent.
SKIP_DIRS = frozenset({".git", ".hg", ".svn", ".jj", ".pijul", "_darcs", ".idea", ".vscode", "__pycache__"})
_SYMLINK_HINT = "replace the link with the file or directory it points to (packbin sends no symlinks to builds)"


class Repo:
    """The repository being read: path checks, parsed TOML, hashed files (cargo's rules are in
    layout, targets and sources)."""

    def __init__(self, cfg: BuildConfig) -> None:
        self.cfg = cfg
        self.root = cfg.root.resolve()
        self.root_str = str(self.root)
        self._checked: dict[str, bool] = {"": False}
        self._toml: dict[str, dict[str, Any]] = {}

    def abs(self, rel: str) -> Path:
        return self.root / rel if rel else self.root

    def rel_of(self, path: Path, what: str) -> str:
        """``path`` (absolute or relative to cfg.root) as a checked repo-relative path."""
        p = path if path.is_absolute() else self.cfg.root / path
        for base in (self.cfg.root, self.root):
            try:
                rel = os.path.normpath(p.relative_to(base).as_posix())
                break
            except ValueError:
                continue
        else:
            raise self.outside(what, str(path))
        rel = "" if rel == "." else rel
        if rel == ".." or rel.startswith("../"):
            raise self.outside(what, str(path))
        self.check(rel, what)
        return rel

    def outside(self, what: str, shown: str) -> ConfigError:
        return ConfigError(
            f"{what} {shown} is outside the repository ({self.root})",
            hint="builds see only the repository: move it inside, or vendor it",
        )

    def check(self, rel: str, what: str) -> None:
        """Refuse ``rel`` when any component (up to the repository root) is a symlink."""
        parts = rel.split("/") if rel else []
        for i in range(1, len(parts) + 1):
            sub = "/".join(parts[:i])
            link = self._checked.get(sub)
            if link is None:
                link = self.abs(sub).is_symlink()
                self._checked[sub] = link
            if link:
                raise ConfigError(f"{sub}: symlinks are not allowed in build inputs ({what})", hint=_SYMLINK_HINT)

    def resolve_rel(self, base_rel: str, value: str, what: str) -> str:
        rel = norm_rel(base_rel, value)
        if rel is None:
            raise self.outside(what, repr(value) + (f" (from {base_rel})" if base_rel else ""))
        self.check(rel, what)
        return rel

    def toml(self, rel: str) -> dict[str, Any]:
        data = self._toml.get(rel)
        if data is None:
            path = self.abs(rel)
            try:
                data = tomllib.loads(path.read_text(encoding="utf-8"))
            except FileNotFoundError:
                raise ConfigError(
                    f"{rel} is missing", hint="check the path in buildcfg.toml or the workspace manifest"
                ) from None
            except (OSError, UnicodeDecodeError) as e:
                raise ConfigError(f"{rel}: cannot read: {e}") from e
            except tomllib.TOMLDecodeError as e:
                raise ConfigError(
                    f"{rel}: invalid TOML: {e}", hint="run `cargo metadata` there to see cargo's view"
                ) from e
            self._toml[rel] = data
        return data

    # -- files -------------------------------------------------------------------------
    def input_file(self, rel: str, path: Path, cache: HashCache) -> InputFile:
        self.check(rel, "build input")
        try:
            st = path.lstat()
        except FileNotFoundError:
            raise ConfigError(f"{rel} is missing", hint="check the workspace's paths") from None
        if not stat.S_ISREG(st.st_mode):
            raise ConfigError(f"{rel} is not a regular file", hint=_SYMLINK_HINT)
        return cache.file(rel, st)

    def walk(
        self, rel: str, prune: bool, skip_rels: frozenset[str], out: dict[str, InputFile], cache: HashCache
    ) -> None:
        """Add every regular file under ``rel`` to ``out`` (without SKIP_DIRS and build outputs
        when ``prune``) and without the dirs ``skip_rels``; refuse symlinks."""
        skip_names = SKIP_DIRS if prune else frozenset()
        self.check(rel, "build input")
        stack = [rel]
        while stack:
            d = stack.pop()
            try:
                it = os.scandir(os.path.join(self.root_str, d) if d else self.root_str)
            except FileNotFoundError:
                continue
            except OSError as e:
                raise ConfigError(f"{d}: cannot read: {e.strerror}") from e
            with it:
                for entry in it:
                    erel = f"{d}/{entry.name}" if d else entry.name
                    if entry.is_symlink():
                        raise ConfigError(f"{erel}: symlinks are not allowed in build inputs", hint=_SYMLINK_HINT)
                    if entry.is_dir(follow_symlinks=False):
                        if entry.name in skip_names or erel in skip_rels:
                            continue
                        if (
                            prune
                            and entry.name == "target"
                            and (d == rel or os.path.exists(os.path.join(entry.path, "CACHEDIR.TAG")))
                        ):
                            continue
                        stack.append(erel)
                    elif erel not in out:
                        try:
                            st = entry.stat(follow_symlinks=False)
                        except FileNotFoundError:
                            continue  # removed while we looked: not an input any more
                        if stat.S_ISREG(st.st_mode):
                            out[erel] = cache.file(erel, st)


def subtable(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    v = data.get(key)
    return v if isinstance(v, dict) else {}


def dependency_tables(data: Mapping[str, Any], names: tuple[str, ...]) -> list[Mapping[str, Any]]:
    """A manifest's dependency tables ``names``, top-level and under every ``[target.<cfg>]``."""
    tables = [subtable(data, n) for n in names]
    for t in subtable(data, "target").values():
        if isinstance(t, dict):
            tables.extend(subtable(t, n) for n in names)
    return tables


def path_dependencies(
    data: Mapping[str, Any], names: tuple[str, ...], ws_deps: Mapping[str, Any]
) -> Iterator[tuple[str, str, bool]]:
    """(name, path, through the workspace) of every path dependency in a manifest's tables
    ``names`` (top-level and per target): its own ``path``, or, for ``workspace = true``, the path
    of ``[workspace.dependencies]``' entry (``ws_deps``), which is relative to the workspace root."""
    for table in dependency_tables(data, names):
        for name, spec in table.items():
            if not isinstance(spec, dict):
                continue
            if isinstance(spec.get("path"), str):
                yield name, spec["path"], False
            elif spec.get("workspace") is True:
                wspec = ws_deps.get(name)
                if isinstance(wspec, dict) and isinstance(wspec.get("path"), str):
                    yield name, wspec["path"], True


def package_table(data: Mapping[str, Any]) -> Mapping[str, Any] | None:
    for key in ("package", "project"):  # [project] is the pre-1.0 spelling cargo still reads
        v = data.get(key)
        if isinstance(v, dict):
            return v
    return None
