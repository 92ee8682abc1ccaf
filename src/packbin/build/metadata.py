"""`cargo metadata --format-version 1` output as frozen records, read as untrusted input.

The JSON comes out of a build container (a build script or a patched cargo could write anything
there), so it is read with a size bound and every field packbin uses is type-checked; what is
wrong becomes a :class:`MetadataError` naming the field (``packages[3].targets[0].kind``), which
:mod:`packbin.build.deps` turns into a BuildError naming the binary. Fields packbin does not use
are not read.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

#: The most metadata JSON read (a workspace of a thousand crates writes about 10 MiB).
MAX_METADATA_BYTES = 64 * 1024 * 1024


class MetadataError(ValueError):
    """The metadata is not what `cargo metadata --format-version 1` writes (``where``: the field)."""

    def __init__(self, where: str, what: str) -> None:
        super().__init__(f"{where}: {what}" if where else what)
        self.where = where
        self.what = what


@dataclass(frozen=True, kw_only=True)
class MetaPackage:
    """One ``packages[]`` entry: the fields a dependency list needs."""

    id: str
    name: str
    version: str
    source: str | None  # None: a path package
    license: str | None
    manifest_path: str
    proc_macro: bool  # one of its targets is a proc-macro (its lib)


@dataclass(frozen=True, kw_only=True)
class MetaEdge:
    """One ``resolve.nodes[].deps[]`` entry: the package depended on and how (``dep_kinds``)."""

    pkg: str
    kinds: tuple[str | None, ...]  # each None (normal), "build" or "dev"; empty from cargo < 1.41


@dataclass(frozen=True, kw_only=True)
class Metadata:
    """The packages and the resolved graph (``resolve.nodes``) of one `cargo metadata` run."""

    packages: Mapping[str, MetaPackage]  # by id
    nodes: Mapping[str, tuple[MetaEdge, ...]]  # package id -> its edges
    resolve_root: str | None  # null in a virtual workspace


def parse_metadata(data: bytes) -> Metadata:
    """Read `cargo metadata --format-version 1` output; MetadataError for anything else."""
    if len(data) > MAX_METADATA_BYTES:
        raise MetadataError("", f"{len(data)} bytes, more than the {MAX_METADATA_BYTES // (1024 * 1024)} MiB read")
    try:
        doc = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise MetadataError("", f"not JSON ({e})") from e
    top = _object(doc, "")
    if _int(top, "version", "") != 1:
        raise MetadataError("version", f"format version {top['version']!r}, not 1 (--format-version 1)")
    packages: dict[str, MetaPackage] = {}
    for i, raw in enumerate(_list(top, "packages", "")):
        pkg = _package(raw, f"packages[{i}]")
        if pkg.id in packages:
            raise MetadataError(f"packages[{i}].id", f"{pkg.id!r} appears twice")
        packages[pkg.id] = pkg
    resolve = top.get("resolve")
    if resolve is None:
        raise MetadataError("resolve", "missing or null (cargo metadata ran with --no-deps)")
    resolve = _object(resolve, "resolve")
    root = _opt_str(resolve, "root", "resolve")
    nodes: dict[str, tuple[MetaEdge, ...]] = {}
    for i, raw in enumerate(_list(resolve, "nodes", "resolve")):
        where = f"resolve.nodes[{i}]"
        node = _object(raw, where)
        node_id = _str(node, "id", where)
        if node_id in nodes:
            raise MetadataError(f"{where}.id", f"{node_id!r} appears twice")
        if node_id not in packages:
            raise MetadataError(f"{where}.id", f"{node_id!r} is not in packages")
        nodes[node_id] = tuple(_edge(e, f"{where}.deps[{j}]") for j, e in enumerate(_list(node, "deps", where)))
    for node_id, edges in nodes.items():
        for edge in edges:
            if edge.pkg not in nodes:
                raise MetadataError("resolve.nodes", f"{node_id!r} depends on {edge.pkg!r}, which has no node")
    if root is not None and root not in nodes:
        raise MetadataError("resolve.root", f"{root!r} has no node")
    return Metadata(packages=packages, nodes=nodes, resolve_root=root)


def _package(raw: object, where: str) -> MetaPackage:
    obj = _object(raw, where)
    targets = _list(obj, "targets", where)
    proc_macro = False
    for i, target in enumerate(targets):
        kinds = _list(_object(target, f"{where}.targets[{i}]"), "kind", f"{where}.targets[{i}]")
        for j, kind in enumerate(kinds):
            if not isinstance(kind, str):
                raise MetadataError(f"{where}.targets[{i}].kind[{j}]", f"{_type(kind)}, not a string")
            proc_macro = proc_macro or kind == "proc-macro"
    return MetaPackage(
        id=_str(obj, "id", where),
        name=_str(obj, "name", where),
        version=_str(obj, "version", where),
        source=_opt_str(obj, "source", where),
        license=_opt_str(obj, "license", where),
        manifest_path=_str(obj, "manifest_path", where),
        proc_macro=proc_macro,
    )


def _edge(raw: object, where: str) -> MetaEdge:
    obj = _object(raw, where)
    kinds: list[str | None] = []
    for i, info in enumerate(_list(obj, "dep_kinds", where, optional=True)):
        kind = _opt_str(_object(info, f"{where}.dep_kinds[{i}]"), "kind", f"{where}.dep_kinds[{i}]")
        if kind not in (None, "build", "dev"):
            raise MetadataError(f"{where}.dep_kinds[{i}].kind", f"{kind!r}, not null, 'build' or 'dev'")
        kinds.append(kind)
    return MetaEdge(pkg=_str(obj, "pkg", where), kinds=tuple(kinds))


def _type(value: object) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")


def _object(value: object, where: str) -> dict[str, object]:
    if not isinstance(value, dict):
        raise MetadataError(where, f"{_type(value)}, not an object")
    return value


def _get(obj: Mapping[str, object], key: str, where: str, *, optional: bool) -> object:
    if key not in obj and not optional:
        raise MetadataError(f"{where}.{key}" if where else key, "missing")
    return obj.get(key)


def _mistyped(key: str, where: str, value: object, wanted: str) -> MetadataError:
    return MetadataError(f"{where}.{key}" if where else key, f"{_type(value)}, not {wanted}")


def _int(obj: Mapping[str, object], key: str, where: str) -> int:
    value = _get(obj, key, where, optional=False)
    if not isinstance(value, int) or isinstance(value, bool):  # bool is an int to isinstance
        raise _mistyped(key, where, value, "a number")
    return value


def _list(obj: Mapping[str, object], key: str, where: str, *, optional: bool = False) -> list[object]:
    value = _get(obj, key, where, optional=optional)
    if value is None and optional:
        return []
    if not isinstance(value, list):
        raise _mistyped(key, where, value, "an array")
    return value


def _opt_str(obj: Mapping[str, object], key: str, where: str) -> str | None:
    value = _get(obj, key, where, optional=True)
    if value is not None and not isinstance(value, str):
        raise _mistyped(key, where, value, "a string or null")
    return value


def _str(obj: Mapping[str, object], key: str, where: str) -> str:
    value = _get(obj, key, where, optional=False)
    if not isinstance(value, str):
        raise _mistyped(key, where, value, "a string")
    if not value:
        raise MetadataError(f"{where}.{key}" if where else key, "empty")
    return value
