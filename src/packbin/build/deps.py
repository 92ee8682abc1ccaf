"""A binary's dependency list, from cargo's own resolution (`cargo metadata`), as cargo-auditable
computes it (format 1).

The input is ``cargo metadata --format-version 1 --offline --locked --filter-platform TRIPLE``
run with the bin's package manifest; the algorithm is cargo-auditable's ``encode_audit_data``:

- a breadth-first walk from the root package; an edge's kind is the strongest of its
  ``dep_kinds`` (normal > build > dev), weakened to its parent's kind (a normal dependency of a
  build dependency is a build dependency), and to build when it leads to a proc macro;
  a package reached again with a stronger kind is walked again;
- packages not reached, or reached through dev dependencies only, are dropped;
- the rest sorted by name, then package id; each package's dependencies are the sorted indices
  of its non-dev edges.

Two things differ from cargo-auditable, both documented in docs/sbom.md: the root is the package
id the caller names (``resolve.root`` is null when the manifest is a virtual workspace's), and a
package is a proc macro when any of its targets is one (cargo-auditable asks for exactly one
target, so a proc macro with a build script, such as serde_derive 1.0.152, counts as runtime
there). Each crate also carries what the SBOM needs: its license, its Cargo.lock checksum and,
for a path package, its directory relative to the repository.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

from packbin._compat import tomllib
from packbin.build.metadata import Metadata, MetadataError, MetaPackage, parse_metadata
from packbin.elf.depinfo import MAX_DEP_BYTES, DepList, DepListError, DepPackage, cycle_member, encode_dep_list
from packbin.errors import BuildError

#: cargo's source id for crates.io, which it keeps when a directory or mirror replaces crates.io.
CRATES_IO_SOURCE = "registry+https://github.com/rust-lang/crates.io-index"
#: The format cargo-auditable writes when its data comes from `cargo metadata` (proc macros as build).
DEP_LIST_FORMAT = 1

_DEV, _BUILD, _RUNTIME = 0, 1, 2  # weakest to strongest, as cargo-auditable orders them
_KIND_RANK = {None: _RUNTIME, "build": _BUILD, "dev": _DEV}
_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True, kw_only=True)
class Crate:
    """One package of a binary's dependency list."""

    name: str
    version: str
    source: str  # "crates.io", "registry", "git" or "local"
    kind: str  # "runtime" or "build"
    dependencies: tuple[int, ...]  # indices into DependencyList.packages, sorted
    root: bool
    license: str | None  # Cargo.toml's `license` (an SPDX expression), None when absent
    checksum: str | None  # Cargo.lock's sha256 of the .crate file (registry crates)
    local_path: str | None  # a path package's directory, repository-relative ("." for the root)


@dataclass(frozen=True, kw_only=True)
class DependencyList:
    """Every package a binary is built from, in cargo-auditable's order (exactly one root)."""

    packages: tuple[Crate, ...]

    @property
    def root(self) -> Crate:
        return next(p for p in self.packages if p.root)

    def dep_list(self) -> DepList:
        """The list as the `.dep-v0` section holds it (cargo-auditable's schema, format 1)."""
        return DepList(
            packages=tuple(
                DepPackage(
                    name=p.name,
                    version=p.version,
                    source=p.source,
                    kind=p.kind,
                    dependencies=p.dependencies,
                    root=p.root,
                )
                for p in self.packages
            ),
            format=DEP_LIST_FORMAT,
        )


def dependency_list(
    metadata: bytes,
    *,
    package_id: str | None = None,
    package: str,
    manifest_path: str,
    lock_text: str | None,
    repo_root: str,
    binary: str | None = None,
) -> DependencyList:
    """The dependency list of ``package`` (whose Cargo.toml is ``manifest_path``) from `cargo metadata`.

    ``package_id`` names the root outright; without it the root is the package called ``package``
    whose manifest is ``manifest_path``. Paths are as cargo saw them (in the build container:
    ``repo_root`` is where the repository is there). ``lock_text`` is the Cargo.lock cargo used,
    for the checksums. BuildError, naming ``binary`` (else the package), when the metadata is not
    cargo's or does not hold the package.
    """
    what = f"the dependency list of {binary or package}"
    hint = "this JSON comes from `cargo metadata` in the build container: rebuild; if it persists, report it"
    try:
        meta = parse_metadata(metadata)
        root = _root(meta, package_id=package_id, package=package, manifest_path=manifest_path)
        checksums = _lock_checksums(lock_text)
        deps = _walk(meta, root, checksums=checksums, repo_root=repo_root)
        # What the section's readers refuse (a name past 1 KiB, a list past 8 MiB) is refused here,
        # where the message can name the binary, and not at the embed step.
        encoded = len(encode_dep_list(deps.dep_list()))
        if encoded > MAX_DEP_BYTES:
            raise MetadataError(
                "",
                f"{len(deps.packages)} packages make {encoded} bytes of list, over the readers' {MAX_DEP_BYTES} bytes",
            )
        return deps
    except (MetadataError, DepListError) as e:
        raise BuildError(f"{what}: cargo metadata's output is unusable: {e}", hint=hint) from e
    except _LockError as e:
        raise BuildError(f"{what}: Cargo.lock is unusable: {e}", hint="run `cargo metadata --locked` on it") from e


class _LockError(ValueError):
    pass


def _root(meta: Metadata, *, package_id: str | None, package: str, manifest_path: str) -> str:
    if package_id is not None:
        if package_id not in meta.nodes:
            raise MetadataError("resolve.nodes", f"no node for the root package id {package_id!r}")
        return package_id
    wanted = posixpath.normpath(manifest_path)
    found = [
        p.id
        for p in meta.packages.values()
        if p.name == package and posixpath.normpath(p.manifest_path) == wanted and p.id in meta.nodes
    ]
    if len(found) != 1:
        count = "no" if not found else f"{len(found)}"
        raise MetadataError("packages", f"{count} package {package!r} with manifest {manifest_path} in the graph")
    return found[0]


def _lock_checksums(lock_text: str | None) -> dict[tuple[str, str, str], str]:
    """(name, version, source) -> sha256, from Cargo.lock's ``[[package]]`` tables."""
    if lock_text is None:
        return {}
    try:
        lock = tomllib.loads(lock_text)
    except tomllib.TOMLDecodeError as e:
        raise _LockError(f"not TOML ({e})") from e
    entries = lock.get("package", [])
    if not isinstance(entries, list):
        raise _LockError("`package` is not an array of tables")
    found: dict[tuple[str, str, str], str] = {}
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise _LockError(f"package[{i}] is not a table")
        fields = [entry.get(k) for k in ("name", "version", "source", "checksum")]
        if any(f is not None and not isinstance(f, str) for f in fields):
            raise _LockError(f"package[{i}]: name, version, source and checksum must be strings")
        name, version, source, checksum = fields
        # Debian's crate sources say "Could not get crate checksum" there, and cargo takes it:
        # such a crate has no checksum, as a path package has none.
        if name is None or version is None or source is None or checksum is None or not _SHA256.fullmatch(checksum):
            continue
        found[(name, version, source)] = checksum
    return found


def _kinds(meta: Metadata, root: str) -> dict[str, int]:
    """Package id -> its kind, for every package the root reaches (cargo-auditable's walk)."""
    kind = {root: _RUNTIME}
    queue = [root]
    while queue:
        following: list[str] = []
        for parent in queue:
            for edge in meta.nodes[parent]:
                child = max((_KIND_RANK[k] for k in edge.kinds), default=_RUNTIME)
                child = min(child, kind[parent])
                if meta.packages[edge.pkg].proc_macro:
                    child = min(child, _BUILD)
                if edge.pkg not in kind or child > kind[edge.pkg]:
                    kind[edge.pkg] = child
                    following.append(edge.pkg)
        queue = following
    return kind


def _walk(meta: Metadata, root: str, *, checksums: dict[tuple[str, str, str], str], repo_root: str) -> DependencyList:
    kinds = _kinds(meta, root)
    kept = sorted((i for i, k in kinds.items() if k != _DEV), key=lambda i: (meta.packages[i].name, i))
    index = {pkg_id: n for n, pkg_id in enumerate(kept)}
    crates = []
    for pkg_id in kept:
        pkg = meta.packages[pkg_id]
        deps = {
            index[e.pkg] for e in meta.nodes[pkg_id] if max((_KIND_RANK[k] for k in e.kinds), default=_RUNTIME) != _DEV
        }
        crates.append(
            Crate(
                name=pkg.name,
                version=pkg.version,
                source=_source(pkg),
                kind="runtime" if kinds[pkg_id] == _RUNTIME else "build",
                dependencies=tuple(sorted(deps)),
                root=pkg_id == root,
                license=pkg.license,
                checksum=checksums.get((pkg.name, pkg.version, pkg.source)) if pkg.source else None,
                local_path=_local_path(pkg, repo_root) if pkg.source is None else None,
            )
        )
    _check_acyclic(crates)
    return DependencyList(packages=tuple(crates))


def _source(pkg: MetaPackage) -> str:
    """cargo-auditable's source names: crates.io, registry (any other index), git, local."""
    source = pkg.source
    if source is None:
        return "local"
    if source == CRATES_IO_SOURCE:
        return "crates.io"
    if source.startswith(("registry+", "sparse+")):
        return "registry"
    if source.startswith("git+"):
        return "git"
    raise MetadataError(f"packages[{pkg.id!r}].source", f"{source!r} is no source cargo writes")


def _local_path(pkg: MetaPackage, repo_root: str) -> str:
    """The directory of a path package, relative to the repository ("." for its root)."""
    directory = posixpath.dirname(posixpath.normpath(pkg.manifest_path))
    root = posixpath.normpath(repo_root)
    if not posixpath.isabs(directory) or not posixpath.isabs(root):
        raise MetadataError(
            f"packages[{pkg.id!r}].manifest_path", f"{pkg.manifest_path!r} or {repo_root!r} is relative"
        )
    rel = posixpath.relpath(directory, root)
    if rel == ".." or rel.startswith("../"):
        raise MetadataError(
            f"packages[{pkg.id!r}].manifest_path", f"{pkg.name} is at {directory}, outside the repository ({root})"
        )
    return rel


def _check_acyclic(crates: list[Crate]) -> None:
    """cargo resolves no cycle of non-dev edges; metadata that has one is not cargo's."""
    if cycle_member([c.dependencies for c in crates]) is not None:
        raise MetadataError("resolve.nodes", "the dependency graph has a cycle")
