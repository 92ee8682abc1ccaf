"""Every name the benchmarks import from packbin exists.

The benchmarks are not run by the suite (they take minutes and need a quiet machine), and most of
their packbin imports are lazy, inside functions: a module move leaves them pointing at a name that
is gone, found only when someone runs the benchmark (bench_workspace.py's ``std_volume`` after the
package layout change). An import inside ``try: ... except ImportError`` is a deliberate fallback
for older commits and is skipped.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def _guarded(tree: ast.AST) -> set[int]:
    """Line numbers of imports inside a try that catches ImportError, and in its handlers (the fallback)."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Try):
            continue
        caught = {ast.unparse(h.type) for h in node.handlers if h.type is not None}
        if caught & {"ImportError", "ModuleNotFoundError"}:
            stmts = [*node.body, *(s for h in node.handlers for s in h.body)]
            lines |= {n.lineno for stmt in stmts for n in ast.walk(stmt) if isinstance(n, ast.ImportFrom)}
    return lines


def packbin_imports(path: Path) -> list[tuple[int, str, str | None]]:
    """(line, module, name) for each packbin import in ``path``, at any depth; name None for ``import m``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    skip = _guarded(tree)
    found: list[tuple[int, str, str | None]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "packbin":
            if node.lineno not in skip:
                found += [(node.lineno, node.module, a.name) for a in node.names]
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name, None) for a in node.names if a.name.split(".")[0] == "packbin"]
    return found


def _missing(module: str, name: str | None) -> str | None:
    try:
        mod = importlib.import_module(module)
    except ImportError as e:
        return f"{module}: {e}"
    if name is None or hasattr(mod, name):
        return None
    try:
        importlib.import_module(f"{module}.{name}")
    except ImportError:
        return f"{module} has no {name}"
    return None


SCRIPTS = sorted(BENCHMARKS.glob("*.py"))


def test_the_benchmarks_are_found() -> None:
    assert len(SCRIPTS) >= 8
    assert any(packbin_imports(p) for p in SCRIPTS)


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_every_packbin_name_a_benchmark_imports_exists(script: Path) -> None:
    problems = [
        f"{script.name}:{line}: {why}"
        for line, module, name in packbin_imports(script)
        if (why := _missing(module, name)) is not None
    ]
    assert not problems, "\n".join(problems)


def test_a_moved_name_is_reported(tmp_path: Path) -> None:
    script = tmp_path / "bench_x.py"
    script.write_text(
        "def f():\n    from packbin.build.image import std_volume\n"
        "try:\n    from packbin.policy import x\nexcept ImportError:\n    pass\n"
    )
    imports = packbin_imports(script)
    assert imports == [(2, "packbin.build.image", "std_volume")]
    assert _missing("packbin.build.image", "std_volume") == "packbin.build.image has no std_volume"
