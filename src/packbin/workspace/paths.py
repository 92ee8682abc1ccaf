"""Repository-relative POSIX paths, as strings: joining, normalising, prefix tests.

The lowest layer of packbin.workspace: no file system access, no imports from its siblings.
"""

from __future__ import annotations

import os


def join_rel(*parts: str) -> str:
    """POSIX join of repository-relative parts, normalised ("" is the root)."""
    p = "/".join(x for x in parts if x)
    n = os.path.normpath(p) if p else ""
    return "" if n == "." else n


def norm_rel(base_rel: str, value: str) -> str | None:
    """``value`` (relative to the repo-relative dir ``base_rel``, or absolute) as a repo-relative
    path; None when it leaves the repository."""
    if os.path.isabs(value):
        return None
    n = os.path.normpath(os.path.join(base_rel or ".", value))
    if n == ".":
        return ""
    if n == ".." or n.startswith("../"):
        return None
    return n


def is_under(path: str, prefix: str) -> bool:
    """Component-wise ``path`` is ``prefix`` or inside it (cargo's Path::starts_with)."""
    return prefix == "" or path == prefix or path.startswith(prefix + "/")


def parent_rel(rel: str) -> str:
    return rel.rsplit("/", 1)[0] if "/" in rel else ""
