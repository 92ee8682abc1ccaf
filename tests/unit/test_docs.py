"""The documentation: the Sphinx site in docs/ builds strict, and the README stays a short newcomer page.

The build is the one .ci/run runs (``sphinx -W --keep-going -n``: a warning, a broken cross-reference or a
page outside the toctree fails it), run for real into a temporary directory; a copy of docs/ with one
broken link shows that the build does fail then.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.repo import REPO

DOCS = REPO / "docs"
README = REPO / "README.md"
README_MAX_BYTES = 12_000

# Our own tracker's numbers mean nothing to a user ("issue 9", "#12"); neither does the word the
# original Makefile's targets and variables were once called by (`PACKBIN_ORACLE_SEED`, a variable
# name, has no word boundary before it and passes).
FORBIDDEN_WORD = re.compile(r"\bseed", re.IGNORECASE)
ISSUE_NUMBER = re.compile(r"\bissues?\s*#?\d+|(?:^|[\s(])#\d+\b", re.IGNORECASE | re.MULTILINE)


def sphinx_build(src: Path, out: Path) -> subprocess.CompletedProcess[str]:
    missing = [m for m in ("sphinx", "myst_parser") if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not importable: pip install -e '.[docs]' to build the docs")
    return subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-n", "-q", "-b", "html", str(src), str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def prose(text: str) -> str:
    """Markdown without fenced code blocks and inline code (a program header's ``PT_LOAD #3`` is no issue)."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.MULTILINE | re.DOTALL)
    return re.sub(r"`[^`\n]*`", "", text)


def pages() -> list[Path]:
    return sorted(DOCS.glob("*.md"))


def test_the_docs_build_strict(tmp_path: Path) -> None:
    res = sphinx_build(DOCS, tmp_path / "html")
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert (tmp_path / "html" / "index.html").is_file()
    assert {p.stem for p in pages()} <= {p.stem for p in (tmp_path / "html").glob("*.html")}


def test_a_broken_link_fails_the_build(tmp_path: Path) -> None:
    src = tmp_path / "docs"
    shutil.copytree(DOCS, src, ignore=shutil.ignore_patterns("_build"))
    with (src / "troubleshooting.md").open("a") as f:
        f.write("\nSee [a page that does not exist](missing.md).\n")
    res = sphinx_build(src, tmp_path / "html")
    assert res.returncode != 0
    assert "missing.md" in res.stderr, res.stderr[-3000:]


def test_readme_is_short() -> None:
    size = len(README.read_bytes())
    assert size <= README_MAX_BYTES, f"README.md is {size} bytes; move detail into docs/ (at most {README_MAX_BYTES})"


@pytest.mark.parametrize("path", [README, *pages()], ids=lambda p: p.name)
def test_no_internal_words(path: Path) -> None:
    text = path.read_text()
    assert not FORBIDDEN_WORD.findall(text), f"{path.name}: say 'the original Makefile' or name the variable"
    found = ISSUE_NUMBER.findall(prose(text))
    assert not found, f"{path.name}: internal issue numbers {found}"


def test_readme_links_lead_to_files() -> None:
    text = README.read_text()
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
    local = [t for t in targets if "://" not in t]
    assert any(t.startswith("docs/") for t in local)
    missing = [t for t in local if not (REPO / t).exists()]
    assert not missing, f"README.md links to missing files: {missing}"
