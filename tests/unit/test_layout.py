"""The layout holds its shape: measured with ``ast`` over src/packbin, no Docker, no imports of it.

- no import circle among packbin's modules (imports inside functions and ``TYPE_CHECKING`` blocks
  count: a lazy import still ties the two modules together; importing ``packbin.a.b`` counts as
  importing ``packbin.a`` too, as it runs that ``__init__`` first; a package's ``__init__``
  importing its own submodules does not count, that is what an ``__init__`` is for);
- no module over 400 lines;
- no function over 80 lines, except the allowlist below: only the ELF parser's hot path
  (``packbin.elf.parser._parse``), kept in one piece on purpose;
- no leading-underscore name taken from another packbin module (``from packbin.x import _name``,
  or ``x._name`` on an imported packbin module): package-internal API is named without one.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"
ROOT = SRC / "packbin"

MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 80
#: ``path::qualified name`` (path relative to src/) of the functions allowed over the limit.
#: The ELF parser's documented hot path: splitting these costs calls per file verified (measured
#: with callgrind, benchmarks/verify_passes.py: splitting read_dynamic cost +0.46%).
LONG_FUNCTIONS_ALLOWED = frozenset({"packbin/elf/parser.py::_parse", "packbin/elf/contents.py::read_dynamic"})


@dataclass
class Module:
    name: str  # dotted: packbin.build.plan; a package is its __init__: packbin.build
    path: Path
    src: Path  # the directory holding the top package: paths are shown relative to it
    is_package: bool
    tree: ast.Module
    lines: int
    #: (imported module, line) for every packbin module this one imports.
    imports: list[tuple[str, int]] = field(default_factory=list)

    @property
    def rel(self) -> str:
        return self.path.relative_to(self.src).as_posix()


def _module_name(path: Path, src: Path) -> tuple[str, bool]:
    parts = list(path.relative_to(src).with_suffix("").parts)
    if parts[-1] == "__init__":
        return ".".join(parts[:-1]), True
    return ".".join(parts), False


@functools.lru_cache(maxsize=1)
def modules() -> dict[str, Module]:
    """Every module under src/packbin, parsed, with the packbin modules each imports."""
    return scan(ROOT)


def scan(root: Path) -> dict[str, Module]:
    """Every module of the package at ``root``, parsed, with the modules of it each imports."""
    found: dict[str, Module] = {}
    for path in sorted(root.rglob("*.py")):
        name, is_package = _module_name(path, root.parent)
        text = path.read_text(encoding="utf-8")
        found[name] = Module(name, path, root.parent, is_package, ast.parse(text, str(path)), len(text.splitlines()))
    for mod in found.values():
        mod.imports = list(_imports(mod, found))
    return found


def _resolve(mod: Module, node: ast.ImportFrom) -> str:
    """The absolute module an ``ImportFrom`` names (relative imports resolved against ``mod``)."""
    if not node.level:
        return node.module or ""
    base = mod.name.split(".")
    if not mod.is_package:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _known(name: str, found: dict[str, Module]) -> str | None:
    """The packbin module ``name`` lands in: itself, or its longest known prefix."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in found:
            return candidate
        parts.pop()
    return None


def _imports(mod: Module, found: dict[str, Module]) -> Iterator[tuple[str, int]]:
    for node in ast.walk(mod.tree):  # every import, at any depth (functions, TYPE_CHECKING, try)
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = _known(alias.name, found)
                if target:
                    yield target, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(mod, node)
            for alias in node.names:
                # `from packbin.build import plan` imports the submodule; `from packbin.elf import
                # parse` a name of the package's __init__.
                target = _known(f"{base}.{alias.name}", found) or _known(base, found)
                if target:
                    yield target, node.lineno


def _inside(package: str, name: str) -> bool:
    return name.startswith(package + ".")


def _with_parents(name: str, found: dict[str, Module]) -> Iterator[str]:
    """``name`` and the packages above it: importing packbin.a.b runs packbin/a/__init__.py first."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        if ".".join(parts[:end]) in found:
            yield ".".join(parts[:end])


def import_graph(found: dict[str, Module]) -> dict[str, set[str]]:
    """Module -> the modules importing it runs, without a package's arrows into its own modules."""
    graph: dict[str, set[str]] = {}
    for mod in found.values():
        graph[mod.name] = {
            target
            for imported, _ in mod.imports
            for target in _with_parents(imported, found)
            if target != mod.name and not (mod.is_package and _inside(mod.name, target))
        }
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def _one_cycle(component: list[str], graph: dict[str, set[str]]) -> list[str]:
    """One concrete circle through the component's first module (for the failure message)."""
    members = set(component)
    start = component[0]
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for nxt in sorted(graph[node] & members):
            if nxt == start:
                return paths[node] + [start]
            if nxt not in paths:
                paths[nxt] = paths[node] + [nxt]
                queue.append(nxt)
    return component  # unreachable for a strongly connected component


def _functions(tree: ast.AST, prefix: str = "") -> Iterator[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield prefix + node.name, node
            yield from _functions(node, f"{prefix}{node.name}.")
        elif isinstance(node, ast.ClassDef):
            yield from _functions(node, f"{prefix}{node.name}.")
        else:
            yield from _functions(node, prefix)


def _length(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    return (node.end_lineno or node.lineno) - node.lineno + 1  # from `def` (decorators aside) to the end


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def private_imports(found: dict[str, Module]) -> list[str]:
    """``path:line: what`` for every underscore name one module takes from another."""
    offenders: list[tuple[str, int, str]] = []
    for mod in found.values():
        module_aliases: dict[str, str] = {}  # local name -> the packbin module it is bound to
        for node in ast.walk(mod.tree):
            if isinstance(node, ast.ImportFrom):
                base = _resolve(mod, node)
                if _known(base, found) is None:
                    continue
                names = []
                for alias in node.names:
                    submodule = f"{base}.{alias.name}"
                    if submodule in found:  # a module (`from packbin import _compat` is fine)
                        module_aliases[alias.asname or alias.name] = submodule
                    elif _private(alias.name):
                        names.append(alias.name)
                if names:
                    offenders.append((mod.rel, node.lineno, f"from {base} import {', '.join(names)}"))
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name in found:
                        # `import packbin.x.y` binds `packbin`; `import packbin.x.y as m` binds m.
                        local = alias.asname or alias.name.split(".")[0]
                        module_aliases[local] = alias.name if alias.asname else alias.name.split(".")[0]
        for node in ast.walk(mod.tree):
            chain = _attribute_chain(node)
            if chain is None or chain[0] not in module_aliases:
                continue
            target = module_aliases[chain[0]]
            for depth, attr in enumerate(chain[1:], 2):  # down packbin.build.plan ... to the first non-module
                if f"{target}.{attr}" in found:
                    target = f"{target}.{attr}"
                    continue
                if _private(attr) and target != mod.name:  # named as far as the offence (a.b._c.d: a.b._c)
                    offenders.append((mod.rel, node.lineno, f"{'.'.join(chain[:depth])} ({attr} of {target})"))
                break
    return [f"{rel}:{line}: {what}" for rel, line, what in sorted(set(offenders))]


def _attribute_chain(node: ast.AST) -> list[str] | None:
    """``a.b.c`` -> ["a", "b", "c"] for the outermost Attribute of a plain dotted name, else None."""
    if not isinstance(node, ast.Attribute):
        return None
    names: list[str] = []
    current: ast.AST = node
    while isinstance(current, ast.Attribute):
        names.append(current.attr)
        current = current.value
    if not isinstance(current, ast.Name):
        return None
    return [current.id, *reversed(names)]


def test_the_scan_sees_the_package() -> None:
    found = modules()
    assert "packbin.elf.parser" in found and "packbin.errors" in found, sorted(found)
    assert any(mod.imports for mod in found.values())


def test_no_import_circle() -> None:
    graph = import_graph(modules())
    found = circles(graph)
    assert not found, "import circles among packbin modules (each: the modules, then one circle):\n" + "\n".join(
        f"  {', '.join(c)}\n    {' -> '.join(_one_cycle(c, graph))}" for c in found
    )


def test_no_module_over_the_line_limit() -> None:
    long = sorted((mod.lines, mod.rel) for mod in modules().values() if mod.lines > MAX_MODULE_LINES)
    assert not long, f"modules over {MAX_MODULE_LINES} lines:\n" + "\n".join(f"  {r}: {n}" for n, r in long)


def test_no_function_over_the_line_limit() -> None:
    long: list[str] = []
    seen: set[str] = set()
    for mod in modules().values():
        for qualname, node in _functions(mod.tree):
            key = f"{mod.rel}::{qualname}"
            seen.add(key)
            if _length(node) > MAX_FUNCTION_LINES and key not in LONG_FUNCTIONS_ALLOWED:
                long.append(f"  {key} (line {node.lineno}): {_length(node)} lines")
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines:\n" + "\n".join(sorted(long))
    stale = sorted(LONG_FUNCTIONS_ALLOWED - seen)
    assert not stale, f"allowlisted functions that no longer exist (remove them from the list): {stale}"


def test_no_private_name_taken_from_another_module() -> None:
    found = private_imports(modules())
    assert not found, "leading-underscore names taken from another packbin module:\n" + "\n".join(
        f"  {line}" for line in found
    )


# The scanner itself, on small made-up graphs and sources.


def test_circles_finds_each_component_once() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a", "e"}, "e": {"d"}, "f": set()}
    assert circles(graph) == [["a", "b", "c"], ["d", "e"]]
    assert _one_cycle(["a", "b", "c"], graph) == ["a", "b", "c", "a"]
    assert circles({"a": {"b"}, "b": set()}) == []


def test_functions_are_named_by_where_they_sit() -> None:
    tree = ast.parse("def f():\n    def g():\n        pass\nclass C:\n    async def m(self):\n        pass\n")
    assert [name for name, _ in _functions(tree)] == ["f", "f.g", "C.m"]
    assert [_length(node) for _, node in _functions(tree)] == [3, 2, 2]


def test_private_means_one_leading_underscore_not_a_dunder() -> None:
    assert _private("_name") and _private("__mangled")
    assert not _private("name") and not _private("__all__")


def _tree(root: Path, files: dict[str, str]) -> dict[str, Module]:
    for rel, text in files.items():
        path = root / "pkg" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return scan(root / "pkg")


def test_imports_at_any_depth_relative_ones_too_but_not_an_init_into_its_own_package(tmp_path: Path) -> None:
    found = _tree(
        tmp_path,
        {
            "__init__.py": "",
            "a/__init__.py": "from pkg.a.x import f\n",  # an __init__ gathering its modules: no arrow
            "a/x.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..b import y\n",
            "b/__init__.py": "",
            "b/y.py": "def g():\n    import pkg.a.x\n    from . import z\n",
            "b/z.py": "from pkg.a import f\n",  # a name of pkg.a's __init__
        },
    )
    graph = import_graph(found)
    # Each import runs the packages above the module too (pkg.b, pkg); pkg.a's own are no arrow.
    assert graph["pkg.a"] == {"pkg"}
    assert graph["pkg.a.x"] == {"pkg.b.y", "pkg.b", "pkg"}
    assert graph["pkg.b.y"] == {"pkg.a.x", "pkg.a", "pkg.b.z", "pkg.b", "pkg"}
    assert graph["pkg.b.z"] == {"pkg.a", "pkg"}
    assert circles(graph) == [["pkg.a.x", "pkg.b.y"]]


def test_a_package_init_importing_outward_closes_a_circle_through_its_own_modules(tmp_path: Path) -> None:
    # pkg.b.y imports pkg.a.x, which runs pkg/a/__init__.py first; that imports pkg.b.y back.
    found = _tree(
        tmp_path,
        {
            "__init__.py": "",
            "a/__init__.py": "import pkg.b.y\n",
            "a/x.py": "",
            "b/__init__.py": "",
            "b/y.py": "from pkg.a.x import f\n",
        },
    )
    assert circles(import_graph(found)) == [["pkg.a", "pkg.b.y"]]


def test_private_names_are_found_imported_or_reached_through_a_module(tmp_path: Path) -> None:
    found = _tree(
        tmp_path,
        {
            "__init__.py": "",
            "_compat.py": "_X = 1\nY = _X\n",  # its own underscore names: fine
            "m.py": "_hidden = 1\n__all__ = []\n",
            "n.py": (
                "from pkg import _compat, m\n"  # an underscore module: fine
                "from pkg.m import _hidden, __all__\n"
                "import pkg.m as mm\n"
                "import pkg.m\n"
                "def f():\n"
                "    return m._hidden.real, mm._hidden, pkg.m._hidden, _compat.Y, m.__all__\n"
            ),
        },
    )
    assert private_imports(found) == [
        "pkg/n.py:2: from pkg.m import _hidden",
        "pkg/n.py:6: m._hidden (_hidden of pkg.m)",
        "pkg/n.py:6: mm._hidden (_hidden of pkg.m)",
        "pkg/n.py:6: pkg.m._hidden (_hidden of pkg.m)",
    ]
