"""Packages and their targets as cargo resolves them: path dependencies, ``[lib]``/``[[bin]]``
and discovered targets, which package owns a bin, and which package directories a bin needs."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from packbin.config.model import PackBinary
from packbin.config.table import suggest
from packbin.errors import ConfigError
from packbin.workspace.model import Member, Target, Workspace
from packbin.workspace.paths import join_rel
from packbin.workspace.repo import Repo, package_table, path_dependencies, subtable

_DEP_TABLES = ("dependencies", "build-dependencies", "build_dependencies")
_DEV_TABLES = ("dev-dependencies", "dev_dependencies")


# -- packages and targets --------------------------------------------------------------------
@dataclass(kw_only=True)
class PackageLoader:
    repo: Repo
    root_rel: str
    ws: Mapping[str, Any]
    _deps: dict[tuple[str, bool], list[str]] = field(default_factory=dict)

    def _data(self, d: str) -> dict[str, Any]:
        rel = join_rel(d, "Cargo.toml")
        self.repo.check(rel, "package manifest")
        return self.repo.toml(rel)

    def deps(self, d: str, *, dev: bool) -> list[str]:
        """Dirs of the path dependencies of the package in ``d`` (with dev-dependencies if ``dev``)."""
        key = (d, dev)
        if key in self._deps:
            return self._deps[key]
        data = self._data(d)
        manifest = join_rel(d, "Cargo.toml")
        names = _DEP_TABLES + (_DEV_TABLES if dev else ())
        out: list[str] = []
        for name, path, through_ws in path_dependencies(data, names, subtable(self.ws, "dependencies")):
            if through_ws:
                rel = self.repo.resolve_rel(self.root_rel, path, f"workspace.dependencies.{name} path")
            else:
                rel = self.repo.resolve_rel(d, path, f"path dependency {name!r} of {manifest}")
            if not self.repo.abs(join_rel(rel, "Cargo.toml")).is_file():
                raise ConfigError(
                    f"{manifest}: path dependency {name!r} ({rel}) has no Cargo.toml",
                    hint="fix the dependency's path",
                )
            if rel not in out:
                out.append(rel)
        self._deps[key] = out
        return out

    def load(self, d: str, *, member: bool) -> Member:
        data = self._data(d)
        manifest = join_rel(d, "Cargo.toml")
        pkg = package_table(data)
        if pkg is None or not isinstance(pkg.get("name"), str):
            raise ConfigError(
                f"{manifest} has no [package] name",
                hint="a workspace member must be a package (a virtual manifest cannot be a member)",
            )
        targets = package_targets(self.repo, d, pkg["name"], data, self._edition(pkg))
        return Member(
            name=pkg["name"],
            dir=d,
            manifest=manifest,
            bins=tuple(t.name for t in targets if t.kind == "bin"),
            path_deps=tuple(self.deps(d, dev=False)),
            targets=tuple(targets),
            workspace_member=member,
        )

    def _edition(self, pkg: Mapping[str, Any]) -> str:
        e = pkg.get("edition", "2015")
        if isinstance(e, dict) and e.get("workspace") is True:
            e = subtable(self.ws, "package").get("edition", "2015")
        return e if isinstance(e, str) else "2015"


def _infer(pkg_abs: Path, sub: str) -> list[tuple[str, str]]:
    """cargo's infer_from_directory: ``sub/<name>.rs`` and ``sub/<name>/main.rs``."""
    out: list[tuple[str, str]] = []
    try:
        entries = sorted(os.scandir(pkg_abs / sub), key=lambda e: e.name)
    except OSError:
        return out
    for e in entries:
        if e.name.startswith("."):
            continue
        if e.name.endswith(".rs") and e.is_file():
            out.append((e.name[:-3], f"{sub}/{e.name}"))
        elif e.is_dir() and (Path(e.path) / "main.rs").is_file():
            out.append((e.name, f"{sub}/{e.name}/main.rs"))
    return out


def package_targets(repo: Repo, d: str, pkg_name: str, data: Mapping[str, Any], edition: str) -> list[Target]:
    """The package's targets as cargo resolves them (paths relative to the repository root)."""
    pkg = package_table(data) or {}
    base = repo.abs(d)
    manifest = join_rel(d, "Cargo.toml")
    out: list[Target] = []

    def add(kind: str, name: str, path: str, explicit: bool) -> None:
        rel = repo.resolve_rel(d, path, f"{kind} target {name!r} of {manifest}")
        out.append(Target(kind=kind, name=name, rel=rel, explicit=explicit))

    lib = data.get("lib")
    has_lib = False
    if isinstance(lib, dict):
        add("lib", str(lib.get("name", pkg_name)), str(lib.get("path", "src/lib.rs")), True)
        has_lib = True
    elif pkg.get("autolib", True) is not False and (base / "src" / "lib.rs").is_file():
        add("lib", pkg_name, "src/lib.rs", False)
        has_lib = True

    inferred_bins = ([(pkg_name, "src/main.rs")] if (base / "src" / "main.rs").is_file() else []) + _infer(
        base, "src/bin"
    )
    _resolve_kind(
        add,
        "bin",
        data.get("bin"),
        inferred_bins,
        pkg.get("autobins"),
        manifest,
        edition,
        legacy=lambda n: [
            p
            for p in ((f"src/{n}.rs",) if not has_lib else ()) + ("src/main.rs", "src/bin/main.rs")
            if (base / p).is_file()
        ],
    )
    for kind, sub in (("example", "examples"), ("test", "tests"), ("bench", "benches")):
        explicit = data.get(kind)
        if isinstance(explicit, list):
            # Only declared ones matter: a discovered one whose file is not sent is simply not discovered.
            _resolve_kind(add, kind, explicit, _infer(base, sub), False, manifest, edition, legacy=lambda n: [])

    build = pkg.get("build")
    if build is None or build is True:
        if build is True or (base / "build.rs").is_file():
            add("build", "build-script-build", "build.rs", build is True)
    elif isinstance(build, str):
        add("build", "build-script-build", build, True)
    elif isinstance(build, list):
        for b in build:
            if isinstance(b, str):
                add("build", PurePosixPath(b).stem, b, True)
    return out


def _resolve_kind(
    add: Callable[[str, str, str, bool], None],
    kind: str,
    declared: Any,
    inferred: list[tuple[str, str]],
    auto: Any,
    manifest: str,
    edition: str,
    *,
    legacy: Callable[[str], list[str]],
) -> None:
    """cargo's toml_targets_and_inferred + target_path for one target kind."""
    if declared is None:
        if auto is not False:
            for name, path in inferred:
                add(kind, name, path, False)
        return
    if not isinstance(declared, list):
        raise ConfigError(f"{manifest}: [[{kind}]] must be an array of tables")
    seen_names: set[str] = set()
    seen_paths: set[str] = set()
    for t in declared:
        if not isinstance(t, dict) or not isinstance(t.get("name"), str):
            raise ConfigError(
                f"{manifest}: a [[{kind}]] target has no name", hint="cargo requires `name` for every declared target"
            )
        name = t["name"]
        seen_names.add(name)
        if isinstance(t.get("path"), str):
            path = os.path.normpath(t["path"])
            seen_paths.add(path)
            add(kind, name, t["path"], True)
            continue
        matches = [p for n, p in inferred if n == name]
        if not matches and edition == "2015":
            matches = legacy(name)
        sub = "src/bin" if kind == "bin" else {"example": "examples", "test": "tests", "bench": "benches"}[kind]
        path = matches[0] if matches else f"{sub}/{name}.rs"
        seen_paths.add(path)
        add(kind, name, path, True)
    # With targets declared, edition 2015 infers no others unless auto* says so.
    if auto is True or (auto is None and edition != "2015"):
        for name, path in inferred:
            if name not in seen_names and path not in seen_paths:
                add(kind, name, path, False)


# -- which bin, which packages -----------------------------------------------------------------
def find_bin(ws: Workspace, binary: PackBinary, manifest_rel: str) -> Member:
    members = list(ws.members)
    if binary.package is not None:
        named = [m for m in members if m.name == binary.package]
        if not named:
            raise ConfigError(
                f"binary {binary.name!r}: package {binary.package!r} is not a member of the workspace at {ws.root_rel or '.'}"
                + suggest(binary.package, [m.name for m in members]),
                hint="members: " + ", ".join(sorted(m.name for m in members)),
            )
        members = named
    else:
        here = [m for m in members if m.manifest == manifest_rel and binary.name in m.bins]
        if here:
            return here[0]
    owners = [m for m in members if binary.name in m.bins]
    if len(owners) == 1:
        return owners[0]
    if len(owners) > 1:
        raise ConfigError(
            f"binary {binary.name!r} is a bin of several packages: {', '.join(sorted(m.name for m in owners))}",
            hint='add `package = "..."` to its [[binaries]] entry',
        )
    known = sorted((b, m.name) for m in members for b in m.bins)
    scope = f"package {binary.package!r}" if binary.package else f"the workspace at {ws.root_rel or '.'}"
    raise ConfigError(
        f"binary {binary.name!r}: no bin target of that name in {scope}" + suggest(binary.name, [b for b, _ in known]),
        hint=("bins: " + ", ".join(f"{b} (package {p})" for b, p in known))
        if known
        else "it has no bin targets (src/main.rs, src/bin/*.rs or [[bin]])",
    )


def needed_dirs(ws: Workspace, owner: Member) -> set[str]:
    """The owner's package plus its path dependencies, transitively (not dev-dependencies), and
    every [patch]/[replace] path package (which ones the bin uses is the resolver's business)."""
    pkgs = {p.dir: p for p in ws.packages}
    out: set[str] = set()
    stack = [owner.dir, *ws.patch_dirs]
    while stack:
        d = stack.pop()
        if d in out:
            continue
        out.add(d)
        stack.extend(pkgs[d].path_deps)
    return out
