"""The dependency list a binary carries: cargo-auditable's ``.dep-v0`` section, read and written.

The section is zlib-compressed JSON in cargo-auditable's schema (cargo-auditable.schema.json;
the checks its auditable-serde makes after parsing are in validation.rs): ``{"packages": [...],
"format": N}``, each package ``name``, ``version``, ``source`` and optionally ``kind`` (omitted
when "runtime"), ``dependencies`` (indices into the list, omitted when empty) and ``root``
(omitted when false).

What a file says is untrusted: the section is refused past 8 MiB, inflated with a bound (a zlib
bomb is refused by its size, not inflated), the text must be UTF-8 JSON, every field is
type-checked as the schema says, and the graph must have exactly one root, indices in range and
no cycle (an iterative walk: no input reaches the recursion limit). Any failure is a
:class:`DepListError` whose message says what is wrong.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

from packbin.elf.record import ElfError
from packbin.elf.sections import NoSectionHeaders, Reader, section_range
from packbin.util.deflate import zlib_compress

DEP_SECTION = ".dep-v0"
#: cargo-auditable's own reader (auditable-info) stops at 8 MiB of audit data; so does packbin,
#: for the compressed section and for the JSON it inflates to.
MAX_DEP_BYTES = 8 << 20
#: Names, versions and sources past this length are refused (crates.io allows 64-byte names).
MAX_TEXT = 1024
#: The format packbin writes: 1, dependencies of proc macros recorded as build dependencies.
FORMAT = 1
KINDS = ("runtime", "build")
_MAX_FORMAT = 2**32 - 1  # u32 in cargo-auditable


class DepListError(ElfError):
    """The file's .dep-v0 section is not a dependency list packbin can trust."""


@dataclass(frozen=True, kw_only=True)
class DepPackage:
    """One package of a dependency list; ``dependencies`` are indices into the list."""

    name: str
    version: str
    source: str  # "crates.io" | "git" | "local" | "registry" | another source cargo-auditable names
    kind: str = "runtime"  # "runtime" | "build"
    dependencies: tuple[int, ...] = ()
    root: bool = False


@dataclass(frozen=True, kw_only=True)
class DepList:
    """A whole dependency list: the packages in the order the section has them, and its format."""

    packages: tuple[DepPackage, ...]
    format: int = FORMAT

    @property
    def root(self) -> DepPackage:
        """The one root package (a DepList that passed the checks has exactly one)."""
        return next(p for p in self.packages if p.root)


def encode_dep_list(dep_list: DepList) -> bytes:
    """The compact JSON cargo-auditable writes for ``dep_list`` (its key order, its omissions).

    Raises :class:`DepListError` when ``dep_list`` itself breaks the rules a reader checks.
    """
    _check_graph(dep_list.packages)
    packages: list[dict[str, object]] = []
    for p in dep_list.packages:
        _check_package_fields(p)
        entry: dict[str, object] = {"name": p.name, "version": p.version, "source": p.source}
        if p.kind != "runtime":
            entry["kind"] = p.kind
        if p.dependencies:
            entry["dependencies"] = list(p.dependencies)
        if p.root:
            entry["root"] = True
        packages.append(entry)
    doc: dict[str, object] = {"packages": packages}
    if dep_list.format:
        doc["format"] = dep_list.format
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()


def dep_section(dep_list: DepList) -> bytes:
    """The .dep-v0 section's bytes for ``dep_list``: its JSON, zlib-compressed the same on any host."""
    return zlib_compress(encode_dep_list(dep_list))


def read_dep_list(image: bytes) -> DepList | None:
    """The dependency list in the ELF ``image``'s .dep-v0 section; None when it has no such section."""

    def read(offset: int, length: int) -> bytes:
        data = image[offset : offset + length]
        if len(data) != length:
            raise DepListError(f"short read at {offset:#x}: wanted {length} bytes, image is {len(image):#x}")
        return data

    return read_dep_list_from(read, len(image))


def read_dep_list_from(
    read: Reader, size: int, *, header: bytes | None = None, table: bytes | None = None
) -> DepList | None:
    """:func:`read_dep_list` through ``read(offset, length)`` on a file of ``size`` bytes: only the
    header, the section table, the name table and the section itself are read (not the first
    two when ``header`` and ``table`` are given, as :func:`~packbin.elf.sections.section_range`
    takes them)."""
    try:
        found = section_range(read, size, DEP_SECTION, header=header, table=table)
    except NoSectionHeaders:
        return None
    except DepListError:
        raise
    except ElfError as e:
        raise DepListError(f"cannot read the section table: {e}") from e
    if found is None:
        return None
    offset, length = found
    if length > MAX_DEP_BYTES:
        raise DepListError(f"{DEP_SECTION} is {length} bytes, more than the {MAX_DEP_BYTES >> 20} MiB packbin reads")
    return parse_dep_section(read(offset, length) if length else b"")


def parse_dep_section(compressed: bytes) -> DepList:
    """A .dep-v0 section's bytes (zlib-compressed JSON) -> the checked :class:`DepList`."""
    if len(compressed) > MAX_DEP_BYTES:
        raise DepListError(
            f"{DEP_SECTION} is {len(compressed)} bytes, more than the {MAX_DEP_BYTES >> 20} MiB packbin reads"
        )
    inflater = zlib.decompressobj()
    try:
        text = inflater.decompress(compressed, MAX_DEP_BYTES + 1)
    except zlib.error as e:
        raise DepListError(f"{DEP_SECTION} is not a zlib stream: {e}") from None
    if len(text) > MAX_DEP_BYTES or inflater.unconsumed_tail:
        raise DepListError(
            f"{DEP_SECTION} inflates to more than {MAX_DEP_BYTES >> 20} MiB: refused without inflating it"
        )
    if not inflater.eof:
        raise DepListError(f"{DEP_SECTION} is a truncated zlib stream ({len(compressed)} bytes)")
    if inflater.unused_data:
        raise DepListError(f"{DEP_SECTION} has {len(inflater.unused_data)} bytes after its zlib stream")
    return decode_dep_list(text)


def _no_duplicates(pairs: list[tuple[str, object]]) -> dict[str, object]:
    doc: dict[str, object] = {}
    for key, value in pairs:
        if key in doc:
            raise DepListError(f"JSON object with the key {_shown(key)} twice")
        doc[key] = value
    return doc


def _no_constant(name: str) -> object:
    raise DepListError(f"JSON with {name}, which is not JSON")


def decode_dep_list(text: bytes) -> DepList:
    """The JSON of a dependency list -> the checked :class:`DepList` (:class:`DepListError` otherwise)."""
    try:
        doc = json.loads(text.decode("utf-8"), object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except UnicodeDecodeError as e:
        raise DepListError(f"the dependency list is not UTF-8: {e.reason} at byte {e.start}") from None
    except RecursionError:
        raise DepListError("the dependency list's JSON is nested too deeply") from None
    except ValueError as e:  # json.JSONDecodeError, and integers too long to convert
        raise DepListError(f"the dependency list is not JSON: {e}") from None
    if not isinstance(doc, dict):
        raise DepListError(f"the dependency list is a JSON {_json_type(doc)}, not an object")
    fmt = doc.get("format", 0)
    if not isinstance(fmt, int) or isinstance(fmt, bool) or not 0 <= fmt <= _MAX_FORMAT:
        raise DepListError(f'"format" is {_shown(fmt)}, not an integer from 0 to {_MAX_FORMAT}')
    raw = doc.get("packages")
    if not isinstance(raw, list):
        raise DepListError('"packages" is missing or not an array')
    packages = tuple(_package(i, p) for i, p in enumerate(raw))
    _check_graph(packages)
    return DepList(packages=packages, format=fmt)


def _json_type(value: object) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", int: "number", float: "number"}.get(
        type(value), "null"
    )


def _shown(value: object) -> str:
    text = json.dumps(value) if not isinstance(value, (dict, list)) else f"an {_json_type(value)}"
    return text if len(text) <= 40 else text[:37] + "..."


def _text(where: str, key: str, value: object) -> str:
    if not isinstance(value, str):
        raise DepListError(f'{where}: "{key}" is {_shown(value)}, not a string')
    if not value or len(value) > MAX_TEXT:
        raise DepListError(f'{where}: "{key}" is {len(value)} characters long (1 to {MAX_TEXT} allowed)')
    return value


def _package(index: int, raw: object) -> DepPackage:
    where = f"package #{index}"
    if not isinstance(raw, dict):
        raise DepListError(f"{where} is a JSON {_json_type(raw)}, not an object")
    for key in ("name", "version", "source"):
        if key not in raw:
            raise DepListError(f'{where}: no "{key}"')
    kind = raw.get("kind", "runtime")
    if kind not in KINDS:
        raise DepListError(f'{where}: "kind" is {_shown(kind)}, not "runtime" or "build"')
    deps = raw.get("dependencies", [])
    if not isinstance(deps, list):
        raise DepListError(f'{where}: "dependencies" is {_shown(deps)}, not an array')
    for d in deps:
        if not isinstance(d, int) or isinstance(d, bool) or d < 0:
            raise DepListError(f'{where}: "dependencies" holds {_shown(d)}, not a package index')
    root = raw.get("root", False)
    if not isinstance(root, bool):
        raise DepListError(f'{where}: "root" is {_shown(root)}, not true or false')
    return DepPackage(
        name=_text(where, "name", raw["name"]),
        version=_text(where, "version", raw["version"]),
        source=_text(where, "source", raw["source"]),
        kind=str(kind),
        dependencies=tuple(deps),
        root=root,
    )


def _check_package_fields(p: DepPackage) -> None:
    where = f"package {p.name!r}"
    for key in ("name", "version", "source"):
        _text(where, key, getattr(p, key))
    if p.kind not in KINDS:
        raise DepListError(f'{where}: kind {p.kind!r} is not "runtime" or "build"')


def cycle_member(dependencies: Sequence[Sequence[int]]) -> int | None:
    """A node on or under a cycle of the graph whose node ``i`` points at ``dependencies[i]``, or None.

    Kahn's algorithm, no recursion; every index must be in range (the caller checks).
    """
    indegree = [0] * len(dependencies)
    for deps in dependencies:
        for d in deps:
            indegree[d] += 1
    ready = [i for i, n in enumerate(indegree) if not n]
    while ready:
        for d in dependencies[ready.pop()]:
            indegree[d] -= 1
            if not indegree[d]:
                ready.append(d)
    return next((i for i, n in enumerate(indegree) if n), None)


def _check_graph(packages: Sequence[DepPackage]) -> None:
    """Exactly one root, every index in range, no cycle (Kahn's algorithm: no recursion)."""
    roots = [i for i, p in enumerate(packages) if p.root]
    if len(roots) != 1:
        listed = ", ".join(f"#{i}" for i in roots[:5])
        raise DepListError(f"{len(roots)} root packages{' (' + listed + ')' if roots else ''}: exactly one is allowed")
    count = len(packages)
    for i, p in enumerate(packages):
        for d in p.dependencies:
            if d >= count:
                raise DepListError(f"package #{i} ({p.name}) depends on #{d}, but there are only {count} packages")
    stuck = cycle_member([p.dependencies for p in packages])
    if stuck is not None:
        raise DepListError(
            f"the dependency graph has a cycle (package #{stuck}, {packages[stuck].name}, is on or under it)"
        )


__all__ = [
    "DEP_SECTION",
    "FORMAT",
    "MAX_DEP_BYTES",
    "MAX_TEXT",
    "DepList",
    "DepListError",
    "DepPackage",
    "cycle_member",
    "decode_dep_list",
    "dep_section",
    "encode_dep_list",
    "parse_dep_section",
    "read_dep_list",
    "read_dep_list_from",
]
