"""A binary's build inputs in a Cargo workspace: exactly the files cargo reads to build it.

Pure: reads files and TOML, runs neither Docker nor cargo. It mirrors cargo's own rules:

- the workspace root is found as cargo's ``find_workspace_root`` does (walk up from the
  manifest's directory to the first ``[workspace]`` whose ``exclude`` does not cover it, or follow
  ``package.workspace``), never above the repository root; members come from ``members`` globs
  minus ``exclude``, plus the root package and path dependencies inside the root;
- targets are discovered as cargo does (``[lib]``/``[[bin]]`` paths, ``src/main.rs``,
  ``src/bin/<name>.rs``, ``src/bin/<name>/main.rs``, ``autobins``/``autolib``, build scripts);
- ``.cargo/config.toml`` files are those cargo reads from the package's directory up to the
  repository root (cargo reads config from its working directory: the build runs cargo there);
- source replacement follows ``[source.*] replace-with`` chains to a directory, local registry,
  registry or git endpoint, as cargo's ``SourceConfigMap`` does.

What a bin needs: the root manifest and lock, the source configs, every package's manifest (cargo
loads them all to resolve), the whole directory of the bin's package and of its path dependencies
(transitively, not dev-dependencies), the vendor directories the lock's packages are replaced by,
and the ``inputs`` the config lists. Packages it does not need get stubs for their target files
(cargo validates every manifest's targets), so a change there does not change the bin's digest.

Symlinks and paths that leave the repository are refused: the tree is untrusted input. File
hashes are cached by (path, size, mtime, inode, ctime) so an unchanged no-op build reads nothing.
"""

from __future__ import annotations

import difflib
import fnmatch
import hashlib
import json
import os
import stat
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlsplit

from packbin._compat import tomllib
from packbin.atomic import atomic_write_bytes
from packbin.cache import cache_dir
from packbin.config import BuildConfig, PackBinary
from packbin.errors import ConfigError, PackbinError

__all__ = [
    "BinaryInputs",
    "InputFile",
    "Member",
    "Scan",
    "Stub",
    "Target",
    "Workspace",
    "collect_all",
    "collect_inputs",
    "fetch_payload",
    "load_workspace",
    "merge_payload",
]

#: Directories never sent from a package directory: VCS metadata, editor state, and build
#: outputs: ``target/`` at the package's top, or any directory holding a CACHEDIR.TAG (cargo
#: writes one into every target dir), so a module directory ``src/target/`` is still sent.
SKIP_DIRS = frozenset({".git", ".hg", ".svn", ".jj", ".pijul", "_darcs", ".idea", ".vscode", "__pycache__"})
MAIN_STUB = b"fn main() {}\n"
LIB_STUB = b""
CRATES_IO = "crates-io"
CRATES_IO_INDEX = "https://github.com/rust-lang/crates.io-index"
CRATES_IO_SPARSE = "https://index.crates.io/"
#: Hosts a fetch from crates.io contacts (index and downloads).
CRATES_IO_HOSTS = ("index.crates.io", "static.crates.io")
#: A file changed this recently is hashed but not cached: a second write in the same timestamp
#: tick with the same size would otherwise go unnoticed (git's "racy clean" problem).
RACY_NS = 1_000_000_000
#: Lock packages whose presence means the workspace root's .sqlx/ (offline query data) is read.
SQLX_MACROS = frozenset({"sqlx-macros", "sqlx-macros-core"})
_DEP_TABLES = ("dependencies", "build-dependencies", "build_dependencies")
_DEV_TABLES = ("dev-dependencies", "dev_dependencies")
_SYMLINK_HINT = "replace the link with the file or directory it points to (packbin sends no symlinks to builds)"


# -- public records ------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class InputFile:
    rel: str  # POSIX path relative to the repository root (cfg.root) = path under /build/src/ in the container
    root: Path  # the repository root (resolved); ``path`` is root / rel
    size: int
    mtime_ns: int
    executable: bool
    sha256: str  # hex of the contents

    @property
    def path(self) -> Path:
        """The host path. Made on use: building thousands of Paths per scan costs more than the scan."""
        return self.root / self.rel


@dataclass(frozen=True, kw_only=True)
class Stub:
    rel: str  # relative to the repository root
    data: bytes  # generated content (a target file of a package cargo needs only the manifest of)


@dataclass(frozen=True, kw_only=True)
class Target:
    kind: str  # lib, bin, example, test, bench, build (a build script)
    name: str
    rel: str  # the target's root source file, relative to the repository root
    explicit: bool  # declared in the manifest (vs. discovered from the file layout)


@dataclass(frozen=True, kw_only=True)
class Member:
    name: str  # package name
    dir: str  # package directory, relative to the repository root ("" for the root itself)
    manifest: str  # its Cargo.toml, relative to the repository root
    bins: tuple[str, ...]  # bin target names
    path_deps: tuple[str, ...]  # dirs of path dependencies (normal, build, target-specific; not dev)
    targets: tuple[Target, ...] = ()
    workspace_member: bool = True  # False: a path dependency (or patch) outside the workspace


@dataclass(frozen=True, kw_only=True)
class Workspace:
    root: Path  # dir of the root Cargo.toml (workspace root, or the standalone crate)
    root_rel: str  # that dir relative to cfg.root ("" for the repo root itself)
    lock: Path  # root/Cargo.lock (must exist)
    members: tuple[Member, ...]  # every workspace member
    source_configs: tuple[Path, ...]  # config files cargo reads from the package dir up to cfg.root, highest precedence first
    packages: tuple[Member, ...] = ()  # members plus path dependencies/patches outside the workspace: every manifest cargo loads
    is_workspace: bool = False  # the root manifest has a [workspace] table
    patch_dirs: tuple[str, ...] = ()  # [patch]/[replace] path packages of the root manifest (rel)

    @property
    def manifest_rel(self) -> str:
        return _join(self.root_rel, "Cargo.toml")


@dataclass(frozen=True, kw_only=True)
class BinaryInputs:
    binary_name: str
    package: str  # the cargo package that owns the bin
    manifest_rel: str  # the package's Cargo.toml, rel to cfg.root (cargo runs with --manifest-path this)
    workspace: Workspace
    files: tuple[InputFile, ...]  # exactly what cargo reads for this bin, sorted by rel
    stubs: tuple[Stub, ...]
    digest: str  # sha256 over (rel, exec bit, sha256) of files and (rel, data) of stubs
    fetch_key: str  # sha256 over Cargo.lock + every source config file's bytes: the fetch step's key
    needs_fetch: bool  # Cargo.lock has registry/git packages not served by a directory/local-registry replacement
    registry_hosts: tuple[str, ...]  # hosts of the network sources the fetch step contacts
    total_bytes: int
    vendor_dirs: tuple[str, ...] = ()  # directory/local-registry sources the lock's packages come from (rel)
    package_dir: str = ""  # the owning package's directory (rel): where cargo runs, so it reads the same configs


# -- entry points --------------------------------------------------------------------------
class Scan:
    """One look at the repository, shared by the bins of one build: each manifest is parsed,
    each directory walked and each file stat'ed once, however many bins read it (a workspace's
    bins share its vendor tree). A file that changes while the build is being planned is the next
    build's business, as it would be for cargo. Use a new Scan for each build."""

    def __init__(self) -> None:
        self._repos: dict[Path, _Repo] = {}
        self._caches: dict[str, _HashCache] = {}
        self._walks: dict[tuple[str, str, bool, frozenset[str]], dict[str, InputFile]] = {}

    def _repo(self, cfg: BuildConfig) -> _Repo:
        root = cfg.root.resolve()
        repo = self._repos.get(root)
        if repo is None or repo.cfg is not cfg:
            repo = self._repos[root] = _Repo(cfg)
        return repo

    def _cache(self, root: Path) -> _HashCache:
        c = self._caches.get(str(root))
        if c is None:
            c = self._caches[str(root)] = _HashCache.open(root)
        return c

    def _walk(self, repo: _Repo, rel: str, prune: bool, skip_rels: frozenset[str], cache: _HashCache) -> dict[str, InputFile]:
        key = (str(repo.root), rel, prune, skip_rels)
        found = self._walks.get(key)
        if found is None:
            found = {}
            repo.walk(rel, prune, skip_rels, found, cache)
            self._walks[key] = found
        return found


def collect_all(cfg: BuildConfig, binaries: Iterable[PackBinary]) -> tuple[BinaryInputs, ...]:
    """:func:`collect_inputs` for several bins, sharing one :class:`Scan`."""
    scan = Scan()
    return tuple(collect_inputs(cfg, b, scan=scan) for b in binaries)


def collect_inputs(cfg: BuildConfig, binary: PackBinary, *, scan: Scan | None = None) -> BinaryInputs:
    """What cargo reads to build ``binary``, hashed; raises ConfigError for anything cargo (or
    packbin's safety rules) would refuse. Pass one ``scan`` to the calls of one build (or use
    :func:`collect_all`) so shared trees are walked once."""
    scan = scan or Scan()
    repo = scan._repo(cfg)
    manifest_rel = repo.rel_of(binary.manifest, f"manifest of binary {binary.name!r}")
    ws = repo.load_workspace(manifest_rel)
    owner = _find_bin(ws, binary, manifest_rel)
    configs = repo.source_configs(owner.dir)
    ws = replace(ws, source_configs=tuple(repo.abs(c) for c in configs))
    pkgs = {p.dir: p for p in ws.packages}
    needed = _needed_dirs(ws, owner)

    files: dict[str, Path] = {}
    stubs: dict[str, bytes] = {}
    lock_rel = _join(ws.root_rel, "Cargo.lock")
    files[ws.manifest_rel] = repo.abs(ws.manifest_rel)
    files[lock_rel] = repo.abs(lock_rel)
    for c in configs:
        files[c] = repo.abs(c)
    source_map = repo.source_map(configs)
    endpoints = _lock_endpoints(repo, lock_rel, source_map)
    vendor_dirs = sorted({e.rel for e in endpoints if e.rel is not None})
    for v in vendor_dirs:
        if not repo.abs(v).is_dir():
            raise ConfigError(
                f"vendor directory {v or '.'} (a source replacement in {', '.join(configs)}) does not exist",
                hint="run `cargo vendor` there and commit it, or fix the [source] table",
            )

    pkg_dirs = {p.dir for p in ws.packages}
    skip_rels = (pkg_dirs | set(vendor_dirs)) - {""}
    for p in ws.packages:
        files[p.manifest] = repo.abs(p.manifest)
        if p.dir not in needed:
            for t in p.targets:
                stubs[t.rel] = LIB_STUB if t.kind == "lib" else MAIN_STUB
    walk: list[tuple[str, bool]] = []  # (dir, prune build outputs/VCS/editor dirs)
    for d in sorted(needed):
        p = pkgs[d]
        if d == "" or (d == ws.root_rel and ws.is_workspace):
            # The workspace root (or the repository root) holds everything else too: only what
            # the package itself is made of.
            files[p.manifest] = repo.abs(p.manifest)
            walk.append((_join(d, "src"), True))
            for t in p.targets:
                if (t.kind in ("lib", "bin", "build") or t.explicit) and repo.abs(t.rel).is_file():
                    files[t.rel] = repo.abs(t.rel)
        else:
            walk.append((d, True))
    for v in vendor_dirs:
        walk.append((v, False))  # a vendored crate's checksum covers every file in it
    sqlx = _join(ws.root_rel, ".sqlx")
    if _lock_names(repo, lock_rel) & SQLX_MACROS and repo.abs(sqlx).is_dir():
        # sqlx's query macros read the workspace root's .sqlx/ in offline mode (SQLX_OFFLINE=true).
        walk.append((sqlx, True))
    for entry in binary.inputs:
        rel = repo.rel_of(cfg.root / entry, f"inputs entry {entry!r} of binary {binary.name!r}")
        target = repo.abs(rel)
        if target.is_dir():
            walk.append((rel, True))
        elif target.is_file():
            files[rel] = target
        else:
            raise ConfigError(
                f"{cfg.source.name}: binary {binary.name!r}: inputs entry {entry!r} does not exist",
                hint="inputs are files or directories relative to the repository root",
            )

    cache = scan._cache(repo.root)
    try:
        found: dict[str, InputFile] = {}
        for rel, path in files.items():
            found[rel] = repo.input_file(rel, path, cache)
        for d, prune in walk:
            for rel, f in scan._walk(repo, d, prune, frozenset(skip_rels - {d}), cache).items():
                found.setdefault(rel, f)
    finally:
        cache.save()
    for rel in found:
        stubs.pop(rel, None)
    out_files = tuple(found[k] for k in sorted(found))
    out_stubs = tuple(Stub(rel=k, data=stubs[k]) for k in sorted(stubs))
    fetch = hashlib.sha256()
    for rel in (lock_rel, *configs):
        fetch.update(rel.encode() + b"\0" + found[rel].sha256.encode() + b"\n")
    network = [e for e in endpoints if e.rel is None]
    return BinaryInputs(
        binary_name=binary.name,
        package=owner.name,
        manifest_rel=owner.manifest,
        workspace=ws,
        files=out_files,
        stubs=out_stubs,
        digest=_digest(out_files, out_stubs),
        fetch_key=fetch.hexdigest(),
        needs_fetch=bool(network),
        registry_hosts=tuple(sorted({h for e in network for h in e.hosts})),
        total_bytes=sum(f.size for f in out_files) + sum(len(s.data) for s in out_stubs),
        vendor_dirs=tuple(vendor_dirs),
        package_dir=owner.dir,
    )


def load_workspace(cfg: BuildConfig, manifest: Path) -> Workspace:
    """The workspace ``manifest`` (a Cargo.toml under cfg.root) belongs to, as cargo sees it."""
    repo = _Repo(cfg)
    return repo.load_workspace(repo.rel_of(manifest, "manifest"))


def merge_payload(inputs: Iterable[BinaryInputs]) -> tuple[tuple[InputFile, ...], tuple[Stub, ...]]:
    """Union for one container (several bins of one or more workspaces): dedup by rel; a real file wins over a stub."""
    files: dict[str, InputFile] = {}
    stubs: dict[str, Stub] = {}
    for bi in inputs:
        for f in bi.files:
            files.setdefault(f.rel, f)
        for s in bi.stubs:
            stubs.setdefault(s.rel, s)
    return (
        tuple(files[k] for k in sorted(files)),
        tuple(stubs[k] for k in sorted(stubs) if k not in files),
    )


def fetch_payload(inputs: Iterable[BinaryInputs]) -> tuple[tuple[InputFile, ...], tuple[Stub, ...]]:
    """What ``cargo fetch --locked`` needs for these bins: the manifests, lock files, source
    configs and vendor trees, with a stub for every target of every package. No package's
    sources: the fetch step compiles nothing, so it gets no code that could run."""
    files: dict[str, InputFile] = {}
    stubs: dict[str, Stub] = {}
    for bi in inputs:
        ws = bi.workspace
        keep = {ws.manifest_rel, _join(ws.root_rel, "Cargo.lock"), *(p.manifest for p in ws.packages)}
        repo_root = bi.files[0].root  # every InputFile carries the (resolved) repository root
        keep.update(c.relative_to(repo_root).as_posix() for c in ws.source_configs)
        for f in bi.files:
            if f.rel in keep or any(_under(f.rel, v) for v in bi.vendor_dirs):
                files.setdefault(f.rel, f)
        for p in ws.packages:
            for t in p.targets:
                stubs.setdefault(t.rel, Stub(rel=t.rel, data=LIB_STUB if t.kind == "lib" else MAIN_STUB))
    return (
        tuple(files[k] for k in sorted(files)),
        tuple(stubs[k] for k in sorted(stubs) if k not in files),
    )


def _digest(files: Iterable[InputFile], stubs: Iterable[Stub]) -> str:
    lines = [f"F{f.rel}\0{'x' if f.executable else '-'}{f.sha256}\n" for f in files]
    lines += [f"S{s.rel}\0{hashlib.sha256(s.data).hexdigest()}\n" for s in stubs]
    return hashlib.sha256("".join(lines).encode("utf-8", "surrogateescape")).hexdigest()


# -- paths ---------------------------------------------------------------------------------
def _join(*parts: str) -> str:
    """POSIX join of repository-relative parts, normalised ("" is the root)."""
    p = "/".join(x for x in parts if x)
    n = os.path.normpath(p) if p else ""
    return "" if n == "." else n


def _norm_rel(base_rel: str, value: str) -> str | None:
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


def _under(path: str, prefix: str) -> bool:
    """Component-wise ``path`` is ``prefix`` or inside it (cargo's Path::starts_with)."""
    return prefix == "" or path == prefix or path.startswith(prefix + "/")


class _Repo:
    """The repository being read: path checks, manifests, configs, hashing."""

    def __init__(self, cfg: BuildConfig) -> None:
        self.cfg = cfg
        self.root = cfg.root.resolve()
        self.root_str = str(self.root)
        self._checked: dict[str, bool] = {"": False}
        self._toml: dict[str, dict[str, Any]] = {}

    def abs(self, rel: str) -> Path:
        return self.root / rel if rel else self.root

    def rel_of(self, path: Path, what: str) -> str:
        """``path`` (absolute or relative to cfg.root) as a checked repo-relative path."""
        p = path if path.is_absolute() else self.cfg.root / path
        for base in (self.cfg.root, self.root):
            try:
                rel = os.path.normpath(p.relative_to(base).as_posix())
                break
            except ValueError:
                continue
        else:
            raise self.outside(what, str(path))
        rel = "" if rel == "." else rel
        if rel == ".." or rel.startswith("../"):
            raise self.outside(what, str(path))
        self.check(rel, what)
        return rel

    def outside(self, what: str, shown: str) -> ConfigError:
        return ConfigError(
            f"{what} {shown} is outside the repository ({self.root})",
            hint="builds see only the repository: move it inside, or vendor it",
        )

    def check(self, rel: str, what: str) -> None:
        """Refuse ``rel`` when any component (up to the repository root) is a symlink."""
        parts = rel.split("/") if rel else []
        for i in range(1, len(parts) + 1):
            sub = "/".join(parts[:i])
            link = self._checked.get(sub)
            if link is None:
                link = self.abs(sub).is_symlink()
                self._checked[sub] = link
            if link:
                raise ConfigError(f"{sub}: symlinks are not allowed in build inputs ({what})", hint=_SYMLINK_HINT)

    def resolve_rel(self, base_rel: str, value: str, what: str) -> str:
        rel = _norm_rel(base_rel, value)
        if rel is None:
            raise self.outside(what, repr(value) + (f" (from {base_rel})" if base_rel else ""))
        self.check(rel, what)
        return rel

    def toml(self, rel: str) -> dict[str, Any]:
        data = self._toml.get(rel)
        if data is None:
            path = self.abs(rel)
            try:
                data = tomllib.loads(path.read_text(encoding="utf-8"))
            except FileNotFoundError:
                raise ConfigError(f"{rel} is missing", hint="check the path in buildcfg.toml or the workspace manifest") from None
            except (OSError, UnicodeDecodeError) as e:
                raise ConfigError(f"{rel}: cannot read: {e}") from e
            except tomllib.TOMLDecodeError as e:
                raise ConfigError(f"{rel}: invalid TOML: {e}", hint="run `cargo metadata` there to see cargo's view") from e
            self._toml[rel] = data
        return data

    # -- workspace ---------------------------------------------------------------------
    def load_workspace(self, manifest_rel: str) -> Workspace:
        if not self.abs(manifest_rel).is_file():
            raise ConfigError(f"{manifest_rel} is missing", hint="point [[binaries]] manifest at a crate's Cargo.toml")
        root_manifest = self._find_root(manifest_rel)
        root_rel = _parent(root_manifest)
        data = self.toml(root_manifest)
        ws_table = data.get("workspace")
        is_ws = isinstance(ws_table, dict)
        ws: Mapping[str, Any] = ws_table if isinstance(ws_table, dict) else {}
        lock_rel = _join(root_rel, "Cargo.lock")
        if not self.abs(lock_rel).is_file():
            raise ConfigError(
                f"{lock_rel} is missing (the lock file of the {'workspace' if is_ws else 'crate'} at {root_rel or '.'})",
                hint=f"run `cargo generate-lockfile --manifest-path {root_manifest}` and commit it (builds use --locked)",
            )
        self.check(lock_rel, "Cargo.lock")
        loader = _PackageLoader(repo=self, root_rel=root_rel, ws=ws)
        member_dirs = self._members(root_rel, root_manifest, ws, data, loader) if is_ws else [root_rel]
        members = [loader.load(d, member=True) for d in member_dirs]
        # Every manifest cargo loads: path dependencies outside the workspace (a member's
        # dev-dependencies are resolved too, a non-member's are not) and [patch]/[replace] paths.
        queue = [d for m in members for d in loader.deps(m.dir, dev=True)]
        patch_dirs = _patch_dirs(self, root_rel, data)
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
        if manifest_rel != root_manifest and _parent(manifest_rel) not in member_dirs:
            raise ConfigError(
                f"{manifest_rel} believes it is in the workspace at {root_manifest}, which does not list it",
                hint=f"add {_parent(manifest_rel)!r} to workspace.members in {root_manifest}, or to workspace.exclude to keep it out (cargo refuses this too)",
            )
        return Workspace(
            root=self.abs(root_rel),
            root_rel=root_rel,
            lock=self.abs(lock_rel),
            members=tuple(members),
            source_configs=tuple(self.abs(c) for c in self.source_configs(_parent(manifest_rel))),
            packages=tuple(members + outside),
            is_workspace=is_ws,
            patch_dirs=tuple(patch_dirs),
        )

    def _find_root(self, manifest_rel: str) -> str:
        """cargo's find_workspace_root, bounded by the repository root."""
        data = self.toml(manifest_rel)
        if isinstance(data.get("workspace"), dict):
            return manifest_rel
        pointer = _workspace_pointer(data)
        if pointer is not None:
            return self._follow_pointer(manifest_rel, pointer)
        d = _parent(manifest_rel)
        while d:
            d = _parent(d)
            cand = _join(d, "Cargo.toml")
            if not self.abs(cand).is_file():
                continue
            self.check(cand, "workspace manifest")
            cdata = self.toml(cand)
            ws = cdata.get("workspace")
            if isinstance(ws, dict):
                if not _is_excluded(ws, d, manifest_rel):
                    return cand
                continue
            pointer = _workspace_pointer(cdata)
            if pointer is not None:
                return self._follow_pointer(cand, pointer)
        return manifest_rel

    def _follow_pointer(self, manifest_rel: str, pointer: str) -> str:
        root_dir = self.resolve_rel(_parent(manifest_rel), pointer, f"package.workspace of {manifest_rel}")
        cand = _join(root_dir, "Cargo.toml")
        if not self.abs(cand).is_file() or not isinstance(self.toml(cand).get("workspace"), dict):
            raise ConfigError(
                f"{manifest_rel}: package.workspace = {pointer!r} does not name a directory with a [workspace] Cargo.toml",
                hint="point it at the workspace root's directory",
            )
        return cand

    def _members(self, root_rel: str, root_manifest: str, ws: Mapping[str, Any], data: Mapping[str, Any], loader: _PackageLoader) -> list[str]:
        out: list[str] = []

        def add(d: str) -> None:
            # cargo's find_path_deps: excluded paths are skipped; path dependencies inside the
            # root are members too.
            if d in out or _is_excluded(ws, root_rel, _join(d, "Cargo.toml")):
                return
            out.append(d)
            for dep in loader.deps(d, dev=True):
                if _under(dep, root_rel):
                    add(dep)

        members = ws.get("members", [])
        if not isinstance(members, list) or not all(isinstance(m, str) for m in members):
            raise ConfigError(f"{root_manifest}: workspace.members must be a list of strings")
        for entry in members:
            for d in self._expand(root_rel, entry, root_manifest):
                if not self.abs(_join(d, "Cargo.toml")).is_file():
                    if _is_excluded(ws, root_rel, _join(d, "Cargo.toml")):
                        continue
                    raise ConfigError(
                        f"{root_manifest}: workspace member {d or '.'} has no Cargo.toml",
                        hint="fix workspace.members (or add the directory to workspace.exclude)",
                    )
                self.check(_join(d, "Cargo.toml"), f"workspace member of {root_manifest}")
                add(d)
        if isinstance(data.get("package"), dict) or isinstance(data.get("project"), dict):
            add(root_rel)
        return out

    def _expand(self, root_rel: str, entry: str, root_manifest: str) -> list[str]:
        what = f"workspace member {entry!r} in {root_manifest}"
        if not any(c in entry for c in "*?["):
            return [self.resolve_rel(root_rel, entry, what)]
        base = self.abs(root_rel)
        hits = _glob(base, entry)
        dirs = [h for h in hits if (base / h).is_dir()]
        if not hits:
            # cargo keeps an unmatched pattern as a literal path (and then fails to load it).
            return [self.resolve_rel(root_rel, entry, what)]
        return [self.resolve_rel(root_rel, h, what) for h in dirs]

    # -- cargo config ------------------------------------------------------------------
    def source_configs(self, start_rel: str) -> list[str]:
        """Config files cargo reads running in ``start_rel``, up to the repository root, highest
        precedence first; per directory the legacy ``config`` wins over ``config.toml``."""
        out: list[str] = []
        d: str | None = start_rel
        while d is not None:
            for name in ("config", "config.toml"):
                rel = _join(d, ".cargo", name)
                p = self.abs(rel)
                if p.is_file() or p.is_symlink():
                    self.check(rel, "cargo config")
                    out.append(rel)
                    break
            d = _parent(d) if d else None
        return out

    def source_map(self, configs: list[str]) -> _SourceMap:
        sources: dict[str, dict[str, tuple[Any, str]]] = {}
        registries: dict[str, str] = {}
        for rel in reversed(configs):  # lowest precedence first; later ones override per key
            base = _parent(_parent(rel))  # paths are relative to the directory holding .cargo/
            data = self.toml(rel)
            for name, table in _table(data, "source").items():
                if isinstance(table, dict):
                    merged = sources.setdefault(name, {})
                    for k, v in table.items():
                        merged[k] = (v, base)
            for name, table in _table(data, "registries").items():
                if isinstance(table, dict) and isinstance(table.get("index"), str):
                    registries[name] = table["index"]
        return _SourceMap(repo=self, sources=sources, registries=registries, configs=configs)

    # -- files -------------------------------------------------------------------------
    def input_file(self, rel: str, path: Path, cache: _HashCache) -> InputFile:
        self.check(rel, "build input")
        try:
            st = path.lstat()
        except FileNotFoundError:
            raise ConfigError(f"{rel} is missing", hint="check the workspace's paths") from None
        if not stat.S_ISREG(st.st_mode):
            raise ConfigError(f"{rel} is not a regular file", hint=_SYMLINK_HINT)
        return cache.file(rel, st)

    def walk(self, rel: str, prune: bool, skip_rels: frozenset[str], out: dict[str, InputFile], cache: _HashCache) -> None:
        """Add every regular file under ``rel`` to ``out`` (without SKIP_DIRS and build outputs
        when ``prune``) and without the dirs ``skip_rels``; refuse symlinks."""
        skip_names = SKIP_DIRS if prune else frozenset()
        self.check(rel, "build input")
        stack = [rel]
        while stack:
            d = stack.pop()
            try:
                it = os.scandir(os.path.join(self.root_str, d) if d else self.root_str)
            except FileNotFoundError:
                continue
            except OSError as e:
                raise ConfigError(f"{d}: cannot read: {e.strerror}") from e
            with it:
                for entry in it:
                    erel = f"{d}/{entry.name}" if d else entry.name
                    if entry.is_symlink():
                        raise ConfigError(f"{erel}: symlinks are not allowed in build inputs", hint=_SYMLINK_HINT)
                    if entry.is_dir(follow_symlinks=False):
                        if entry.name in skip_names or erel in skip_rels:
                            continue
                        if prune and entry.name == "target" and (d == rel or os.path.exists(os.path.join(entry.path, "CACHEDIR.TAG"))):
                            continue
                        stack.append(erel)
                    elif erel not in out:
                        try:
                            st = entry.stat(follow_symlinks=False)
                        except FileNotFoundError:
                            continue  # removed while we looked: not an input any more
                        if stat.S_ISREG(st.st_mode):
                            out[erel] = cache.file(erel, st)


def _glob(base: Path, pattern: str) -> list[str]:
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


def _parent(rel: str) -> str:
    return rel.rsplit("/", 1)[0] if "/" in rel else ""


def _table(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    v = data.get(key)
    return v if isinstance(v, dict) else {}


def _package_table(data: Mapping[str, Any]) -> Mapping[str, Any] | None:
    for key in ("package", "project"):  # [project] is the pre-1.0 spelling cargo still reads
        v = data.get(key)
        if isinstance(v, dict):
            return v
    return None


def _workspace_pointer(data: Mapping[str, Any]) -> str | None:
    pkg = _package_table(data)
    v = pkg.get("workspace") if pkg else None
    return v if isinstance(v, str) else None


def _is_excluded(ws: Mapping[str, Any], root_rel: str, manifest_rel: str) -> bool:
    """cargo's WorkspaceRootConfig::is_excluded: under an exclude entry and under no literal members entry."""
    def listed(key: str) -> bool:
        entries = ws.get(key, [])
        return isinstance(entries, list) and any(
            isinstance(x, str) and (n := _norm_rel(root_rel, x)) is not None and _under(manifest_rel, n) for x in entries
        )
    return listed("exclude") and not listed("members")


def _patch_dirs(repo: _Repo, root_rel: str, data: Mapping[str, Any]) -> list[str]:
    out: list[str] = []
    tables = [t for t in _table(data, "patch").values() if isinstance(t, dict)] + [_table(data, "replace")]
    for t in tables:
        for name, spec in t.items():
            if isinstance(spec, dict) and isinstance(spec.get("path"), str):
                out.append(repo.resolve_rel(root_rel, spec["path"], f"[patch] path of {name!r} in {_join(root_rel, 'Cargo.toml')}"))
    return out


# -- packages and targets --------------------------------------------------------------------
@dataclass(kw_only=True)
class _PackageLoader:
    repo: _Repo
    root_rel: str
    ws: Mapping[str, Any]
    _deps: dict[tuple[str, bool], list[str]] = field(default_factory=dict)

    def _data(self, d: str) -> dict[str, Any]:
        rel = _join(d, "Cargo.toml")
        self.repo.check(rel, "package manifest")
        return self.repo.toml(rel)

    def deps(self, d: str, *, dev: bool) -> list[str]:
        """Dirs of the path dependencies of the package in ``d`` (with dev-dependencies if ``dev``)."""
        key = (d, dev)
        if key in self._deps:
            return self._deps[key]
        data = self._data(d)
        manifest = _join(d, "Cargo.toml")
        names = _DEP_TABLES + (_DEV_TABLES if dev else ())
        tables = [_table(data, n) for n in names]
        for t in _table(data, "target").values():
            if isinstance(t, dict):
                tables.extend(_table(t, n) for n in names)
        ws_deps = _table(self.ws, "dependencies")
        out: list[str] = []
        for table in tables:
            for name, spec in table.items():
                if not isinstance(spec, dict):
                    continue
                if isinstance(spec.get("path"), str):
                    rel = self.repo.resolve_rel(d, spec["path"], f"path dependency {name!r} of {manifest}")
                elif spec.get("workspace") is True:
                    wspec = ws_deps.get(name)
                    if not isinstance(wspec, dict) or not isinstance(wspec.get("path"), str):
                        continue
                    rel = self.repo.resolve_rel(self.root_rel, wspec["path"], f"workspace.dependencies.{name} path")
                else:
                    continue
                if not self.repo.abs(_join(rel, "Cargo.toml")).is_file():
                    raise ConfigError(f"{manifest}: path dependency {name!r} ({rel}) has no Cargo.toml", hint="fix the dependency's path")
                if rel not in out:
                    out.append(rel)
        self._deps[key] = out
        return out

    def load(self, d: str, *, member: bool) -> Member:
        data = self._data(d)
        manifest = _join(d, "Cargo.toml")
        pkg = _package_table(data)
        if pkg is None or not isinstance(pkg.get("name"), str):
            raise ConfigError(f"{manifest} has no [package] name", hint="a workspace member must be a package (a virtual manifest cannot be a member)")
        targets = _targets(self.repo, d, pkg["name"], data, self._edition(pkg))
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
            e = _table(self.ws, "package").get("edition", "2015")
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


def _targets(repo: _Repo, d: str, pkg_name: str, data: Mapping[str, Any], edition: str) -> list[Target]:
    """The package's targets as cargo resolves them (paths relative to the repository root)."""
    pkg = _package_table(data) or {}
    base = repo.abs(d)
    manifest = _join(d, "Cargo.toml")
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

    inferred_bins = ([(pkg_name, "src/main.rs")] if (base / "src" / "main.rs").is_file() else []) + _infer(base, "src/bin")
    _resolve_kind(add, "bin", data.get("bin"), inferred_bins, pkg.get("autobins"), manifest, edition,
                  legacy=lambda n: [p for p in ((f"src/{n}.rs",) if not has_lib else ()) + ("src/main.rs", "src/bin/main.rs") if (base / p).is_file()])
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
            raise ConfigError(f"{manifest}: a [[{kind}]] target has no name", hint="cargo requires `name` for every declared target")
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
def _find_bin(ws: Workspace, binary: PackBinary, manifest_rel: str) -> Member:
    members = list(ws.members)
    if binary.package is not None:
        named = [m for m in members if m.name == binary.package]
        if not named:
            raise ConfigError(
                f"binary {binary.name!r}: package {binary.package!r} is not a member of the workspace at {ws.root_rel or '.'}"
                + _did_you_mean(binary.package, [m.name for m in members]),
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
            hint="add `package = \"...\"` to its [[binaries]] entry",
        )
    known = sorted((b, m.name) for m in members for b in m.bins)
    scope = f"package {binary.package!r}" if binary.package else f"the workspace at {ws.root_rel or '.'}"
    raise ConfigError(
        f"binary {binary.name!r}: no bin target of that name in {scope}" + _did_you_mean(binary.name, [b for b, _ in known]),
        hint=("bins: " + ", ".join(f"{b} (package {p})" for b, p in known)) if known else "it has no bin targets (src/main.rs, src/bin/*.rs or [[bin]])",
    )


def _did_you_mean(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _needed_dirs(ws: Workspace, owner: Member) -> set[str]:
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


# -- sources: Cargo.lock and source replacement -------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class _Endpoint:
    rel: str | None  # a directory / local-registry source (repo-relative); None: network
    hosts: tuple[str, ...] = ()


def _canon(url: str) -> str:
    """cargo's CanonicalUrl, near enough: no trailing slash or .git, GitHub case-insensitive."""
    u = url.rstrip("/").removesuffix(".git")
    parts = urlsplit(u)
    if (parts.hostname or "") == "github.com":
        u = u.lower()
    return u


def _source_id(kind: str, url: str, ref: tuple[str, str] | None = None) -> tuple[str, str, tuple[str, str] | None]:
    return (kind, _canon(url), ref)


def _lock_id(source: str) -> tuple[str, str, tuple[str, str] | None]:
    kind, _, rest = source.partition("+")
    if kind == "git":
        url, _, _precise = rest.partition("#")
        parts = urlsplit(url)
        ref: tuple[str, str] | None = None
        for k, v in parse_qsl(parts.query):
            if k in ("branch", "tag", "rev"):
                ref = (k, v)
        base = url.split("?", 1)[0]
        return _source_id("git", base, ref)
    if kind == "sparse":
        return _source_id("sparse", rest)
    return _source_id(kind, rest)


def _hosts(url: str) -> tuple[str, ...]:
    u = url.split("+", 1)[1] if url.startswith(("sparse+", "registry+", "git+")) else url
    if _canon(u) in (_canon(CRATES_IO_INDEX), _canon(CRATES_IO_SPARSE)):
        return CRATES_IO_HOSTS
    host = urlsplit(u).hostname
    return (host,) if host else ()


@dataclass(kw_only=True)
class _SourceMap:
    repo: _Repo
    sources: dict[str, dict[str, tuple[Any, str]]]  # name -> key -> (value, dir the path is relative to)
    registries: dict[str, str]  # [registries.NAME] index
    configs: list[str]

    def _where(self) -> str:
        return ", ".join(self.configs) or "cargo config"

    def _id_of(self, name: str) -> tuple[str, str, tuple[str, str] | None] | None:
        if name == CRATES_IO:
            return _source_id("registry", CRATES_IO_INDEX)
        s = self.sources.get(name, {})
        if "registry" in s and isinstance(s["registry"][0], str):
            url = s["registry"][0]
            return _source_id("sparse", url[len("sparse+"):]) if url.startswith("sparse+") else _source_id("registry", url)
        if "git" in s and isinstance(s["git"][0], str):
            ref = next(((k, str(s[k][0])) for k in ("branch", "tag", "rev") if k in s), None)
            return _source_id("git", s["git"][0], ref)
        return None

    def endpoint(self, lock_source: str) -> _Endpoint:
        lid = _lock_id(lock_source)
        if lid == _source_id("sparse", CRATES_IO_SPARSE):
            lid = _source_id("registry", CRATES_IO_INDEX)
        name = next((n for n in [CRATES_IO, *self.sources] if self._id_of(n) == lid), None)
        if name is None:
            return _Endpoint(rel=None, hosts=_hosts(lock_source))
        seen = [name]
        while True:
            s = self.sources.get(name)
            if s is None:
                if name == CRATES_IO:
                    return _Endpoint(rel=None, hosts=CRATES_IO_HOSTS)
                if name in self.registries:
                    return _Endpoint(rel=None, hosts=_hosts(self.registries[name]))
                raise ConfigError(
                    f"source replacement names {name!r}, which no [source.{name}] (or [registries.{name}]) defines ({self._where()})",
                    hint="fix `replace-with` (cargo vendor prints the tables to add)",
                )
            rw = s.get("replace-with")
            if rw is not None and isinstance(rw[0], str):
                name = rw[0]
                if name in seen:
                    raise ConfigError(f"a cycle of replace-with sources: {' -> '.join([*seen, name])} ({self._where()})", hint="end the chain at a source that defines directory, registry or git")
                seen.append(name)
                continue
            for key in ("directory", "local-registry"):
                if key in s and isinstance(s[key][0], str):
                    value, base = s[key]
                    rel = self.repo.resolve_rel(base, value, f"[source.{name}] {key}")
                    return _Endpoint(rel=rel)
            if name == CRATES_IO:
                return _Endpoint(rel=None, hosts=CRATES_IO_HOSTS)
            for key in ("registry", "git"):
                if key in s and isinstance(s[key][0], str):
                    return _Endpoint(rel=None, hosts=_hosts(s[key][0]))
            raise ConfigError(f"[source.{name}] defines no directory, local-registry, registry or git ({self._where()})", hint="see the cargo book, Source Replacement")


def _lock_names(repo: _Repo, lock_rel: str) -> set[str]:
    packages = repo.toml(lock_rel).get("package", [])
    return {p["name"] for p in packages if isinstance(p, dict) and isinstance(p.get("name"), str)} if isinstance(packages, list) else set()


def _lock_endpoints(repo: _Repo, lock_rel: str, sources: _SourceMap) -> list[_Endpoint]:
    data = repo.toml(lock_rel)
    packages = data.get("package", [])
    out: dict[str, _Endpoint] = {}
    if isinstance(packages, list):
        for p in packages:
            src = p.get("source") if isinstance(p, dict) else None
            if isinstance(src, str) and src not in out:
                out[src] = sources.endpoint(src)
    return list(out.values())


# -- the stat cache ----------------------------------------------------------------------------
_StatKey = tuple[int, int, int, int, int]  # size, mtime_ns, inode, ctime_ns, mode


class _HashCache:
    """(rel, size, mtime_ns, inode, ctime_ns) -> sha256, one JSON file per repository root.

    Kept in memory for the life of the process too (with the InputFile records built from it), so
    collecting several bins of one workspace costs one stat per file and no reads or parsing.
    """

    VERSION = 1
    _open: ClassVar[dict[str, _HashCache]] = {}

    def __init__(self, root: Path, path: Path | None) -> None:
        self.root = str(root)
        self.root_path = root
        self.path = path
        self.entries: dict[str, list[Any]] = {}
        self.memo: dict[str, tuple[_StatKey, InputFile]] = {}
        self.disk: tuple[int, int, int] | None = None  # the JSON file as last read or written
        self.dirty = False
        self.now_ns = time.time_ns()

    @classmethod
    def open(cls, root: Path) -> _HashCache:
        try:
            path: Path | None = cache_dir() / "input-hashes" / (hashlib.sha256(str(root).encode()).hexdigest()[:32] + ".json")
        except PackbinError:
            path = None  # an unusable cache dir costs speed, not correctness
        key = str(path or root)
        c = cls._open.get(key)
        disk = _file_sig(path)
        if c is None or (path is not None and c.disk != disk):
            c = cls(root, path)
            c._load(disk)
            cls._open[key] = c
        c.now_ns = time.time_ns()
        return c

    def _load(self, disk: tuple[int, int, int] | None) -> None:
        self.disk = disk
        if self.path is None or disk is None:
            return
        try:
            raw = json.loads(self.path.read_bytes())
        except (OSError, ValueError):
            self.dirty = True  # corrupt: rewrite it whole on save
            return
        if not (isinstance(raw, dict) and raw.get("version") == self.VERSION and raw.get("root") == self.root and isinstance(raw.get("entries"), dict)):
            self.dirty = True
            return
        self.entries = raw["entries"]  # each entry is checked where it is used

    def file(self, rel: str, st: os.stat_result) -> InputFile:
        """The InputFile for ``rel`` as stat'ed now, reading the file only when its stat changed."""
        key: _StatKey = (st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns, st.st_mode)
        m = self.memo.get(rel)
        if m is not None and m[0] == key:
            return m[1]
        racy = self.now_ns - max(st.st_mtime_ns, st.st_ctime_ns) <= RACY_NS
        e = self.entries.get(rel)
        if (
            not racy and type(e) is list and len(e) == 5 and e[0] == st.st_size and e[1] == st.st_mtime_ns
            and e[2] == st.st_ino and e[3] == st.st_ctime_ns and type(e[4]) is str and len(e[4]) == 64
        ):
            digest: str = e[4]
        else:
            digest = _sha256_file(rel, self.root_path / rel)
            if not racy:
                self.entries[rel] = [st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns, digest]
                self.dirty = True
            elif e is not None:
                del self.entries[rel]
                self.dirty = True
        f = InputFile(rel=rel, root=self.root_path, size=st.st_size, mtime_ns=st.st_mtime_ns, executable=bool(st.st_mode & 0o111), sha256=digest)
        if not racy:
            self.memo[rel] = (key, f)
        return f

    def save(self) -> None:
        if not self.dirty or self.path is None:
            return
        base = Path(self.root)
        self.entries = {k: v for k, v in self.entries.items() if os.path.lexists(base / k)}
        data = json.dumps({"version": self.VERSION, "root": self.root, "entries": self.entries}, separators=(",", ":")).encode()
        try:
            atomic_write_bytes(self.path, data)
        except OSError:
            return  # a read-only cache only costs speed
        self.disk = _file_sig(self.path)
        self.dirty = False


def _file_sig(path: Path | None) -> tuple[int, int, int] | None:
    if path is None:
        return None
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns, st.st_ino)


def _sha256_file(rel: str, path: Path) -> str:
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
    except OSError as err:
        raise ConfigError(f"{rel}: cannot read: {err.strerror}") from err
    return h.hexdigest()
