"""The features cargo turns on, as far as the manifests at hand tell: from one root package with
its default features, through every dependency declaration (``features``, ``default-features``,
``optional``, ``package`` renames) and every ``[features]`` entry (``dep:x``, ``x/f``, ``x?/f``,
implicit features of optional dependencies), to a fixed point.

A union over dependency kinds and targets (cargo's resolver 1): a feature on here may be off in
one particular build (a build dependency under resolver 2, a ``cfg`` target not built), never the
other way round for what the manifests say. A package whose manifest is not at hand (a crate
fetched from the network) adds nothing of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from packbin.workspace.lockfile import LockGraph, LockPackage
from packbin.workspace.repo import dependency_tables

Manifest = Mapping[str, Any]


@dataclass(frozen=True, kw_only=True)
class DepDecl:
    """One dependency as a manifest declares it (merged over its tables)."""

    package: str  # the package name (``package = ...`` when renamed)
    optional: bool
    default_features: bool
    features: frozenset[str]


def declarations(manifest: Manifest, *, dev: bool = False) -> dict[str, DepDecl]:
    """The manifest's dependencies by the name the manifest uses, over normal and build dependency
    tables (and dev ones with ``dev``), top-level and per target; a name declared twice is
    optional only when every declaration is."""
    kinds: tuple[str, ...] = ("dependencies", "build-dependencies", "build_dependencies")
    kinds += ("dev-dependencies", "dev_dependencies") if dev else ()
    out: dict[str, DepDecl] = {}
    for table in dependency_tables(manifest, kinds):
        for key, spec in table.items():
            d = spec if isinstance(spec, dict) else {}
            package = d.get("package", key)
            features = d.get("features", [])
            decl = DepDecl(
                package=package if isinstance(package, str) else key,
                optional=d.get("optional") is True,
                default_features=d.get("default-features", d.get("default_features", True)) is not False,
                features=frozenset(f for f in features if isinstance(f, str))
                if isinstance(features, list)
                else frozenset(),
            )
            old = out.get(key)
            if old is not None:
                decl = DepDecl(
                    package=decl.package,
                    optional=old.optional and decl.optional,
                    default_features=old.default_features or decl.default_features,
                    features=old.features | decl.features,
                )
            out[key] = decl
    return out


def _closure(
    manifest: Manifest, wanted: set[str], decls: Mapping[str, DepDecl]
) -> tuple[set[str], set[str], list[tuple[str, str, bool]]]:
    """A package's features with what they imply: (features, optional deps on, (dep, feature, weak) asks)."""
    table = manifest.get("features")
    table = table if isinstance(table, dict) else {}
    active: set[str] = set()
    optional_on: set[str] = set()
    asks: list[tuple[str, str, bool]] = []
    stack = list(wanted)
    while stack:
        f = stack.pop()
        if f in active:
            continue
        active.add(f)
        items = table.get(f)
        if not isinstance(items, list):
            if f in decls and decls[f].optional:
                optional_on.add(f)  # the implicit feature of an optional dependency
            continue
        for item in items:
            if not isinstance(item, str):
                continue
            if item.startswith("dep:"):
                optional_on.add(item[4:])
            elif "/" in item:
                dep, _, feature = item.partition("/")
                weak = dep.endswith("?")
                dep = dep.rstrip("?")
                asks.append((dep, feature, weak))
                if not weak:
                    optional_on.add(dep)
            else:
                stack.append(item)
    return active, optional_on, asks


def resolve_features(
    graph: LockGraph,
    root: LockPackage,
    manifest_of: Callable[[LockPackage], Manifest | None],
    *,
    root_features: frozenset[str] = frozenset({"default"}),
) -> dict[tuple[str, str], frozenset[str]]:
    """The packages building ``root`` with ``root_features`` involves, each with its features, by
    (name, version): what is not in it is not built (an optional dependency no feature turns on,
    a dev-dependency). Monotone, so it ends: each round only adds packages and features."""
    wanted: dict[tuple[str, str], set[str]] = {root.key: set(root_features)}
    result: dict[tuple[str, str], frozenset[str]] = {}
    manifests: dict[tuple[str, str], Manifest | None] = {}
    changed = True
    while changed:
        changed = False
        for key in list(wanted):
            pkg = graph.get(key)
            if pkg is None:
                continue
            if key not in manifests:
                manifests[key] = manifest_of(pkg)
            manifest = manifests[key]
            if manifest is None:  # not at hand: every locked dependency counts, with no feature asked
                result[key] = frozenset(wanted[key])
                for locked in graph.dependencies(pkg):
                    if locked.key not in wanted:
                        wanted[locked.key] = set()
                        changed = True
                continue
            decls = declarations(manifest)
            active, optional_on, asks = _closure(manifest, wanted[key], decls)
            result[key] = frozenset(active)
            for name, decl in decls.items():
                if decl.optional and name not in optional_on:
                    continue
                dep = graph.dependency(pkg, decl.package)
                if dep is None:
                    continue
                want = set(decl.features) | ({"default"} if decl.default_features else set())
                want |= {f for d, f, _ in asks if d == name}
                have = wanted.setdefault(dep.key, set())
                if not want <= have:
                    have |= want
                    changed = True
    return result


__all__ = ["DepDecl", "declarations", "resolve_features"]
