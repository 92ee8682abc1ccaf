"""The workspace a manifest belongs to, as cargo finds it: the root (walking up, or following
``package.workspace``), the members (``members`` globs minus ``exclude``, the root package, path
dependencies inside the root), and every other manifest cargo loads ([patch] and outside paths)."""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from packbin.errors import ConfigError
from packbin.workspace.model import Member, Workspace
from packbin.workspace.paths import is_under, join_rel, norm_rel, parent_rel
from packbin.workspace.repo import Repo, package_table, subtable
from packbin.workspace.sources import source_configs
from packbin.workspace.targets import PackageLoader


# -- workspace ---------------------------------------------------------------------
def read_workspace(repo: Repo, manifest_rel: str) -> Workspace:
    """The Cargo workspace (or standalone crate) that owns the package at ``manifest_rel``."""
    if not repo.abs(manifest_rel).is_file():
        raise ConfigError(f"{manifest_rel} is missing", hint="point [[binaries]] manifest at a crate's Cargo.toml")
    root_manifest = _find_root(repo, manifest_rel)
    root_rel = parent_rel(root_manifest)
    data = repo.toml(root_manifest)
    ws_table = data.get("workspace")
    is_ws = isinstance(ws_table, dict)
    ws: Mapping[str, Any] = ws_table if isinstance(ws_table, dict) else {}
    lock_rel = join_rel(root_rel, "Cargo.lock")
    if not repo.abs(lock_rel).is_file():
        raise ConfigError(
            f"{lock_rel} is missing (the lock file of the {'workspace' if is_ws else 'crate'} at {root_rel or '.'})",
            hint=f"run `cargo generate-lockfile --manifest-path {root_manifest}` and commit it (builds use --locked)",
        )
    repo.check(lock_rel, "Cargo.lock")
    loader = PackageLoader(repo=repo, root_rel=root_rel, ws=ws)
    member_dirs = _members(repo, root_rel, root_manifest, ws, data, loader) if is_ws else [root_rel]
    members = [loader.load(d, member=True) for d in member_dirs]
    # Every manifest cargo loads: path dependencies outside the workspace (a member's
    # dev-dependencies are resolved too, a non-member's are not) and [patch]/[replace] paths.
    queue = [d for m in members for d in loader.deps(m.dir, dev=True)]
    patch_dirs = _patch_dirs(repo, root_rel, data)
    queue += patch_dirs
    seen = set(member_dirs)
    outside: list[Member] = []
    while queue:
        d = queue.pop(0)
        if d in seen:
            continue
        seen.add(d)
        pkg = loader.load(d, member=False)
        outside.append(pkg)
        queue += pkg.path_deps
    if manifest_rel != root_manifest and parent_rel(manifest_rel) not in member_dirs:
        raise ConfigError(
            f"{manifest_rel} believes it is in the workspace at {root_manifest}, which does not list it",
            hint=f"add {parent_rel(manifest_rel)!r} to workspace.members in {root_manifest}, or to workspace.exclude to keep it out (cargo refuses this too)",
        )
    return Workspace(
        root=repo.abs(root_rel),
        root_rel=root_rel,
        lock=repo.abs(lock_rel),
        members=tuple(members),
        source_configs=tuple(repo.abs(c) for c in source_configs(repo, parent_rel(manifest_rel))),
        packages=tuple(members + outside),
        is_workspace=is_ws,
        patch_dirs=tuple(patch_dirs),
    )


def _find_root(repo: Repo, manifest_rel: str) -> str:
    """cargo's find_workspace_root, bounded by the repository root."""
    data = repo.toml(manifest_rel)
    if isinstance(data.get("workspace"), dict):
        return manifest_rel
    pointer = _workspace_pointer(data)
    if pointer is not None:
        return _follow_pointer(repo, manifest_rel, pointer)
    d = parent_rel(manifest_rel)
    while d:
        d = parent_rel(d)
        cand = join_rel(d, "Cargo.toml")
        if not repo.abs(cand).is_file():
            continue
        repo.check(cand, "workspace manifest")
        cdata = repo.toml(cand)
        ws = cdata.get("workspace")
        if isinstance(ws, dict):
            if not is_excluded(ws, d, manifest_rel):
                return cand
            continue
        pointer = _workspace_pointer(cdata)
        if pointer is not None:
            return _follow_pointer(repo, cand, pointer)
    return manifest_rel


def _follow_pointer(repo: Repo, manifest_rel: str, pointer: str) -> str:
    root_dir = repo.resolve_rel(parent_rel(manifest_rel), pointer, f"package.workspace of {manifest_rel}")
    cand = join_rel(root_dir, "Cargo.toml")
    if not repo.abs(cand).is_file() or not isinstance(repo.toml(cand).get("workspace"), dict):
        raise ConfigError(
            f"{manifest_rel}: package.workspace = {pointer!r} does not name a directory with a [workspace] Cargo.toml",
            hint="point it at the workspace root's directory",
        )
    return cand


def _members(
    repo: Repo,
    root_rel: str,
    root_manifest: str,
    ws: Mapping[str, Any],
    data: Mapping[str, Any],
    loader: PackageLoader,
) -> list[str]:
    out: list[str] = []

    def add(d: str) -> None:
        # cargo's find_path_deps: excluded paths are skipped; path dependencies inside the
        # root are members too.
        if d in out or is_excluded(ws, root_rel, join_rel(d, "Cargo.toml")):
            return
        out.append(d)
        for dep in loader.deps(d, dev=True):
            if is_under(dep, root_rel):
                add(dep)

    members = ws.get("members", [])
    if not isinstance(members, list) or not all(isinstance(m, str) for m in members):
        raise ConfigError(f"{root_manifest}: workspace.members must be a list of strings")
    for entry in members:
        for d in _expand(repo, root_rel, entry, root_manifest):
            if not repo.abs(join_rel(d, "Cargo.toml")).is_file():
                if is_excluded(ws, root_rel, join_rel(d, "Cargo.toml")):
                    continue
                raise ConfigError(
                    f"{root_manifest}: workspace member {d or '.'} has no Cargo.toml",
                    hint="fix workspace.members (or add the directory to workspace.exclude)",
                )
            repo.check(join_rel(d, "Cargo.toml"), f"workspace member of {root_manifest}")
            add(d)
    if isinstance(data.get("package"), dict) or isinstance(data.get("project"), dict):
        add(root_rel)
    return out


def _expand(repo: Repo, root_rel: str, entry: str, root_manifest: str) -> list[str]:
    what = f"workspace member {entry!r} in {root_manifest}"
    if not any(c in entry for c in "*?["):
        return [repo.resolve_rel(root_rel, entry, what)]
    base = repo.abs(root_rel)
    hits = member_glob(base, entry)
    dirs = [h for h in hits if (base / h).is_dir()]
    if not hits:
        # cargo keeps an unmatched pattern as a literal path (and then fails to load it).
        return [repo.resolve_rel(root_rel, entry, what)]
    return [repo.resolve_rel(root_rel, h, what) for h in dirs]


def member_glob(base: Path, pattern: str) -> list[str]:
    """The glob crate as cargo uses it for workspace.members: per path component, ``*``/``?``/
    ``[...]`` match within the component (hidden names too), ``**`` matches any depth."""
    parts = [p for p in PurePosixPath(pattern).parts if p != "."]
    found = [""]
    for part in parts:
        nxt: list[str] = []
        for cur in found:
            d = base / cur if cur else base
            if part == "**":
                nxt.append(cur)
                for dirpath, dirnames, _ in os.walk(d):
                    dirnames.sort()
                    rel = Path(dirpath).relative_to(base).as_posix()
                    nxt.extend(f"{rel}/{n}" if rel != "." else n for n in dirnames)
            elif any(c in part for c in "*?["):
                try:
                    names = sorted(os.listdir(d))
                except OSError:
                    continue
                nxt.extend(f"{cur}/{n}" if cur else n for n in names if fnmatch.fnmatchcase(n, part))
            elif (d / part).exists():
                nxt.append(f"{cur}/{part}" if cur else part)
        found = list(dict.fromkeys(nxt))
    return sorted(f for f in found if f)


def _workspace_pointer(data: Mapping[str, Any]) -> str | None:
    pkg = package_table(data)
    v = pkg.get("workspace") if pkg else None
    return v if isinstance(v, str) else None


def is_excluded(ws: Mapping[str, Any], root_rel: str, manifest_rel: str) -> bool:
    """cargo's WorkspaceRootConfig::is_excluded: under an exclude entry and under no literal members entry."""

    def listed(key: str) -> bool:
        entries = ws.get(key, [])
        return isinstance(entries, list) and any(
            isinstance(x, str) and (n := norm_rel(root_rel, x)) is not None and is_under(manifest_rel, n)
            for x in entries
        )

    return listed("exclude") and not listed("members")


def _patch_dirs(repo: Repo, root_rel: str, data: Mapping[str, Any]) -> list[str]:
    out: list[str] = []
    tables = [t for t in subtable(data, "patch").values() if isinstance(t, dict)] + [subtable(data, "replace")]
    for t in tables:
        for name, spec in t.items():
            if isinstance(spec, dict) and isinstance(spec.get("path"), str):
                out.append(
                    repo.resolve_rel(
                        root_rel, spec["path"], f"[patch] path of {name!r} in {join_rel(root_rel, 'Cargo.toml')}"
                    )
                )
    return out
