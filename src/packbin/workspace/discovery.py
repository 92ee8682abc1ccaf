"""Every ``[[bin]]`` cargo would build in a repository, found from the Cargo.toml files alone.

Pure Python (tomllib): no cargo on the host. It finds packages the way cargo does:

- workspace roots are the manifests with a ``[workspace]`` table; their members are the
  ``members`` globs minus ``exclude``, the root package, and path dependencies inside the root
  (cargo's ``find_path_deps``);
- a package that is no member finds its root as cargo's ``find_workspace_root`` does (walking up,
  or following ``package.workspace``); a package with no workspace above it (or excluded from the
  one above, with a Cargo.lock or a ``[workspace]`` of its own) is a standalone crate;
- bin targets are inferred with packbin.workspace's copy of cargo's rules (``[[bin]]`` name and
  path, ``src/main.rs`` named after the package, ``src/bin/*.rs``, ``src/bin/*/main.rs``,
  ``autobins = false``, edition 2015's legacy paths, ``edition.workspace = true``).

The tree is untrusted input: ``vendor/``, ``target/``, hidden directories and build outputs are not
walked; symlinks are never followed (one leading out of the repository is reported and ignored);
every manifest is read with a size bound; a malformed Cargo.toml is reported with its path and the
rest of the repository is still discovered.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packbin.config.table import NAME_RE
from packbin.errors import ConfigError
from packbin.workspace.manifests import MAX_MANIFEST_BYTES, ManifestTree, Unusable
from packbin.workspace.paths import is_under, join_rel, parent_rel
from packbin.workspace.paths import norm_rel as _norm
from packbin.workspace.repo import package_table as _package
from packbin.workspace.repo import path_dependencies, subtable

__all__ = ["MAX_MANIFEST_BYTES", "CargoBin", "Discovery", "Problem", "discover"]

_DEP_TABLES = ("dependencies", "build-dependencies", "build_dependencies", "dev-dependencies", "dev_dependencies")


@dataclass(frozen=True, kw_only=True)
class CargoBin:
    """One bin target of one package."""

    name: str  # the bin's name: the executable's file name
    package: str  # the cargo package that owns it
    manifest: str  # the package's Cargo.toml, POSIX, relative to the repository root
    path: str  # the bin's root source file, relative to the repository root
    workspace: str  # the Cargo.toml of its workspace root (the package's own for a standalone crate)

    @property
    def standalone(self) -> bool:
        """The package is its own workspace root (not a member of a larger workspace)."""
        return self.workspace == self.manifest


@dataclass(frozen=True, kw_only=True)
class Problem:
    """A Cargo.toml (or a path) discovery skipped, and why."""

    path: str  # relative to the repository root
    problem: str

    def __str__(self) -> str:
        return f"{self.path}: {self.problem}"


@dataclass(frozen=True, kw_only=True)
class Discovery:
    """What :func:`discover` found in one repository."""

    root: Path  # the repository root (resolved)
    bins: tuple[CargoBin, ...]  # sorted by (manifest, name)
    workspaces: tuple[str, ...]  # root Cargo.toml of every workspace and standalone crate found, sorted
    manifests: int  # how many Cargo.toml files the walk found
    problems: tuple[Problem, ...] = ()

    def named(self, name: str) -> tuple[CargoBin, ...]:
        """The bins called ``name`` (several packages may have one each)."""
        return tuple(b for b in self.bins if b.name == name)

    def ambiguous(self, name: str) -> bool:
        """More than one package has a bin called ``name``: its manifest alone must say which."""
        return len({b.package for b in self.named(name)}) > 1

    def in_manifest(self, manifest: str) -> tuple[CargoBin, ...]:
        """The bins of the package whose Cargo.toml is ``manifest`` (repo-relative)."""
        return tuple(b for b in self.bins if b.manifest == manifest)


def discover(root: Path) -> Discovery:
    """Every bin cargo would build in the repository at ``root``.

    Raises ConfigError (exit 2) only when ``root`` is not a directory; manifests that cannot be
    used are listed in :attr:`Discovery.problems` instead, so one broken fixture does not hide
    the rest of the repository.
    """
    return _Discoverer(root).run()


# -- implementation ----------------------------------------------------------------------------
class _Discoverer(ManifestTree):
    # -- workspaces --------------------------------------------------------------------
    def members(self, root_manifest: str, data: Mapping[str, Any]) -> list[str]:
        """Package dirs of the workspace whose root manifest is ``root_manifest``."""
        from packbin.workspace.layout import is_excluded, member_glob

        root_rel = parent_rel(root_manifest)
        ws = subtable(data, "workspace")
        out: list[str] = []

        def add(d: str) -> None:
            if d in out or is_excluded(ws, root_rel, join_rel(d, "Cargo.toml")):
                return
            man = join_rel(d, "Cargo.toml")
            mdata = self.manifest(man)
            if mdata is None:
                self.problem(man, self.problems.get(man, f"listed by {root_manifest} as a member, but missing"))
                return
            if _package(mdata) is None:
                self.problem(man, f"a member of {root_manifest} without a [package] table; ignored")
                return
            out.append(d)
            for dep in self.path_deps(d, mdata, ws, root_rel):
                if is_under(dep, root_rel):
                    add(dep)

        entries = ws.get("members", [])
        if not isinstance(entries, list) or not all(isinstance(m, str) for m in entries):
            self.problem(root_manifest, "workspace.members must be a list of strings; members ignored")
            entries = []
        for entry in entries:
            if any(c in entry for c in "*?["):
                hits = [h for h in member_glob(self.abs(root_rel), entry) if (self.abs(root_rel) / h).is_dir()]
                dirs = [n for h in hits if (n := _norm(root_rel, h)) is not None]
            else:
                n = _norm(root_rel, entry)
                if n is None:
                    self.problem(root_manifest, f"workspace member {entry!r} is outside the repository; ignored")
                    continue
                dirs = [n]
            for d in dirs:
                if (
                    not self.abs(join_rel(d, "Cargo.toml")).exists()
                    and not self.abs(join_rel(d, "Cargo.toml")).is_symlink()
                ):
                    if not is_excluded(ws, root_rel, join_rel(d, "Cargo.toml")):
                        self.problem(root_manifest, f"workspace member {d or '.'} has no Cargo.toml")
                    continue
                add(d)
        if _package(data) is not None:
            add(root_rel)
        return out

    def path_deps(self, d: str, data: Mapping[str, Any], ws: Mapping[str, Any], root_rel: str) -> list[str]:
        """Dirs of the path dependencies (all kinds, target-specific too) of the package in ``d``."""
        out: list[str] = []
        for _, path, through_ws in path_dependencies(data, _DEP_TABLES, subtable(ws, "dependencies")):
            rel = _norm(root_rel if through_ws else d, path)
            if rel is not None and rel not in out:
                out.append(rel)
        return out

    def find_root(self, manifest_rel: str, data: Mapping[str, Any]) -> tuple[str | None, bool]:
        """cargo's find_workspace_root, bounded by the repository root: (root manifest or None,
        whether a workspace above excluded this package on the way)."""
        from packbin.workspace.layout import is_excluded

        pointer = subtable(data, "package").get("workspace")
        if isinstance(pointer, str):
            d = _norm(parent_rel(manifest_rel), pointer)
            if d is None:
                raise Unusable(f"package.workspace = {pointer!r} leads outside the repository")
            cand = join_rel(d, "Cargo.toml")
            cdata = self.manifest(cand)
            if cdata is None or not isinstance(cdata.get("workspace"), dict):
                raise Unusable(
                    f"package.workspace = {pointer!r} does not name a directory with a [workspace] Cargo.toml"
                )
            return cand, False
        excluded = False
        d = parent_rel(manifest_rel)
        while d:
            d = parent_rel(d)
            cand = join_rel(d, "Cargo.toml")
            if not self.abs(cand).is_file():
                continue
            cdata = self.manifest(cand)
            if cdata is None:
                raise Unusable(f"its workspace would be found in {cand}, which cannot be read")
            cws = cdata.get("workspace")
            if isinstance(cws, dict):
                if not is_excluded(cws, d, manifest_rel):
                    return cand, excluded
                excluded = True
                continue
            cpointer = subtable(cdata, "package").get("workspace")
            if isinstance(cpointer, str):
                return self.find_root(cand, cdata)[0], excluded
        return None, excluded

    # -- targets -----------------------------------------------------------------------
    def bins(self, d: str, data: Mapping[str, Any], ws_data: Mapping[str, Any], ws_manifest: str) -> list[CargoBin]:
        from packbin.config.model import builtin_config
        from packbin.workspace.repo import Repo
        from packbin.workspace.targets import package_targets

        manifest = join_rel(d, "Cargo.toml")
        pkg = _package(data) or {}
        name = pkg.get("name")
        if not isinstance(name, str) or not name:
            raise Unusable("[package] has no name (cargo requires one; it cannot be inherited from the workspace)")
        edition = pkg.get("edition", "2015")
        if isinstance(edition, dict) and edition.get("workspace") is True:
            edition = subtable(subtable(ws_data, "workspace"), "package").get("edition", "2015")
        repo = Repo(builtin_config(self.root))
        try:
            targets = package_targets(repo, d, name, data, edition if isinstance(edition, str) else "2015")
        except ConfigError as e:
            raise Unusable(e.message) from None
        out = []
        for t in targets:
            if t.kind != "bin":
                continue
            why = self.symlinked(t.rel)
            if why is not None:
                self.problem(t.rel, why)
                continue
            out.append(CargoBin(name=t.name, package=name, manifest=manifest, path=t.rel, workspace=ws_manifest))
        return out

    # -- the whole -----------------------------------------------------------------------
    def run(self) -> Discovery:
        found = self.walk()
        roots: dict[str, list[str]] = {}  # root manifest -> member dirs
        for rel in found:
            data = self.manifest(rel)
            if data is not None and isinstance(data.get("workspace"), dict):
                roots[rel] = self.members(rel, data)
        for r, dirs in roots.items():
            # A workspace inside another's members is cargo's error too; each root lists its own.
            for d in [d for d in dirs if join_rel(d, "Cargo.toml") in roots and join_rel(d, "Cargo.toml") != r]:
                self.problem(join_rel(d, "Cargo.toml"), f"a workspace root of its own, also matched by {r}'s members")
                dirs.remove(d)
        member_of = {join_rel(d, "Cargo.toml"): r for r, dirs in roots.items() for d in dirs}
        for rel in found:
            data = self.manifest(rel)
            if data is None or rel in roots or rel in member_of or _package(data) is None:
                continue
            try:
                root, excluded = self.find_root(rel, data)
            except Unusable as e:
                self.problem(rel, str(e))
                continue
            if root is not None:
                self.problem(
                    rel, f"inside the workspace of {root}, which does not list it as a member (cargo refuses it)"
                )
            elif excluded and not self.abs(join_rel(parent_rel(rel), "Cargo.lock")).is_file():
                self.problem(
                    rel,
                    "excluded from the workspace above it and without a Cargo.lock of its own; not a standalone crate"
                    + f" (run `cargo generate-lockfile --manifest-path {rel}` to make it one)",
                )
            else:
                roots[rel] = [parent_rel(rel)]
                member_of[rel] = rel
        bins: list[CargoBin] = []
        for root_manifest, dirs in roots.items():
            ws_data = self.manifest(root_manifest) or {}
            for d in dirs:
                man = join_rel(d, "Cargo.toml")
                try:
                    bins.extend(self.bins(d, self.manifest(man) or {}, ws_data, root_manifest))
                except Unusable as e:
                    self.problem(man, str(e))
        for b in [b for b in bins if not NAME_RE.match(b.name)]:
            # Untrusted: a [[bin]] name becomes a file name under dist/ (buildcfg.toml refuses it too).
            self.problem(
                b.manifest, f"bin {b.name!r} is not a file name packbin builds (letters, digits, '.', '_', '-')"
            )
            bins.remove(b)
        return Discovery(
            root=self.root,
            bins=tuple(sorted(bins, key=lambda b: (b.manifest, b.name))),
            workspaces=tuple(sorted(roots)),
            manifests=len(found),
            problems=tuple(Problem(path=p, problem=t) for p, t in sorted(self.problems.items())),
        )
