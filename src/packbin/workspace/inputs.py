"""A bin's build inputs: what cargo reads to build it, hashed (the entry points of
packbin.workspace), and the payloads of the build and fetch containers."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from packbin.config.model import BuildConfig, PackBinary
from packbin.errors import ConfigError
from packbin.workspace.hashcache import HashCache
from packbin.workspace.layout import read_workspace
from packbin.workspace.model import LIB_STUB, MAIN_STUB, BinaryInputs, InputFile, Stub, Workspace
from packbin.workspace.paths import join_rel
from packbin.workspace.repo import Repo
from packbin.workspace.sources import (
    SourceEndpoint,
    build_rustflags,
    load_source_map,
    lock_endpoints,
    lock_names,
    source_configs,
)
from packbin.workspace.targets import find_bin, needed_dirs

#: Lock packages whose presence means the workspace root's .sqlx/ (offline query data) is read.
SQLX_MACROS = frozenset({"sqlx-macros", "sqlx-macros-core"})


# -- entry points --------------------------------------------------------------------------
class Scan:
    """One look at the repository, shared by the bins of one build: each manifest is parsed,
    each directory walked and each file stat'ed once, however many bins read it (a workspace's
    bins share its vendor tree). A file that changes while the build is being planned is the next
    build's business, as it would be for cargo. Use a new Scan for each build."""

    def __init__(self) -> None:
        self._repos: dict[Path, Repo] = {}
        self._caches: dict[str, HashCache] = {}
        self._walks: dict[tuple[str, str, bool, frozenset[str]], dict[str, InputFile]] = {}

    def _repo(self, cfg: BuildConfig) -> Repo:
        root = cfg.root.resolve()
        repo = self._repos.get(root)
        if repo is None or repo.cfg is not cfg:
            repo = self._repos[root] = Repo(cfg)
        return repo

    def _cache(self, root: Path) -> HashCache:
        c = self._caches.get(str(root))
        if c is None:
            c = self._caches[str(root)] = HashCache.open(root)
        return c

    def _walk(
        self, repo: Repo, rel: str, prune: bool, skip_rels: frozenset[str], cache: HashCache
    ) -> dict[str, InputFile]:
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
    ws = read_workspace(repo, manifest_rel)
    owner = find_bin(ws, binary, manifest_rel)
    configs = source_configs(repo, owner.dir)
    ws = replace(ws, source_configs=tuple(repo.abs(c) for c in configs))
    needed = needed_dirs(ws, owner)

    lock_rel = join_rel(ws.root_rel, "Cargo.lock")
    files: dict[str, Path] = {rel: repo.abs(rel) for rel in (ws.manifest_rel, lock_rel, *configs)}
    endpoints = lock_endpoints(repo, lock_rel, load_source_map(repo, configs))
    vendor_dirs = _vendor_dirs(repo, endpoints, configs)
    stubs: dict[str, bytes] = {}
    walk = _package_walks(repo, ws, needed, files, stubs)
    walk += [(v, False) for v in vendor_dirs]  # a vendored crate's checksum covers every file in it
    sqlx = join_rel(ws.root_rel, ".sqlx")
    if lock_names(repo, lock_rel) & SQLX_MACROS and repo.abs(sqlx).is_dir():
        # sqlx's query macros read the workspace root's .sqlx/ in offline mode (SQLX_OFFLINE=true).
        walk.append((sqlx, True))
    _listed_inputs(cfg, repo, binary, files, walk)

    skip_rels = ({p.dir for p in ws.packages} | set(vendor_dirs)) - {""}
    found = _hash_inputs(scan, repo, files, walk, skip_rels)
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
        build_rustflags=build_rustflags(repo, configs),
    )


def _vendor_dirs(repo: Repo, endpoints: Iterable[SourceEndpoint], configs: Iterable[str]) -> list[str]:
    """The directory sources the lock file's packages come from; each must exist."""
    vendor_dirs = sorted({e.rel for e in endpoints if e.rel is not None})
    for v in vendor_dirs:
        if not repo.abs(v).is_dir():
            raise ConfigError(
                f"vendor directory {v or '.'} (a source replacement in {', '.join(configs)}) does not exist",
                hint="run `cargo vendor` there and commit it, or fix the [source] table",
            )
    return vendor_dirs


def _package_walks(
    repo: Repo, ws: Workspace, needed: set[str], files: dict[str, Path], stubs: dict[str, bytes]
) -> list[tuple[str, bool]]:
    """Every package's manifest into ``files``, a stub for each target of the packages the bin does
    not need; the directories to walk for those it needs: (dir, prune build outputs/VCS/editor dirs)."""
    pkgs = {p.dir: p for p in ws.packages}
    for p in ws.packages:
        files[p.manifest] = repo.abs(p.manifest)
        if p.dir not in needed:
            for t in p.targets:
                stubs[t.rel] = LIB_STUB if t.kind == "lib" else MAIN_STUB
    walk: list[tuple[str, bool]] = []
    for d in sorted(needed):
        p = pkgs[d]
        if d == "" or (d == ws.root_rel and ws.is_workspace):
            # The workspace root (or the repository root) holds everything else too: only what
            # the package itself is made of.
            files[p.manifest] = repo.abs(p.manifest)
            walk.append((join_rel(d, "src"), True))
            for t in p.targets:
                if (t.kind in ("lib", "bin", "build") or t.explicit) and repo.abs(t.rel).is_file():
                    files[t.rel] = repo.abs(t.rel)
        else:
            walk.append((d, True))
    return walk


def _listed_inputs(
    cfg: BuildConfig, repo: Repo, binary: PackBinary, files: dict[str, Path], walk: list[tuple[str, bool]]
) -> None:
    """The bin's ``inputs = [...]``: a file into ``files``, a directory into ``walk``."""
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


def _hash_inputs(
    scan: Scan, repo: Repo, files: dict[str, Path], walk: list[tuple[str, bool]], skip_rels: set[str]
) -> dict[str, InputFile]:
    """Every file and every walked directory's files, hashed (through the repository's hash cache)."""
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
    return found


def load_workspace(cfg: BuildConfig, manifest: Path) -> Workspace:
    """The workspace ``manifest`` (a Cargo.toml under cfg.root) belongs to, as cargo sees it."""
    repo = Repo(cfg)
    return read_workspace(repo, repo.rel_of(manifest, "manifest"))


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


def _digest(files: Iterable[InputFile], stubs: Iterable[Stub]) -> str:
    lines = [f"F{f.rel}\0{'x' if f.executable else '-'}{f.sha256}\n" for f in files]
    lines += [f"S{s.rel}\0{hashlib.sha256(s.data).hexdigest()}\n" for s in stubs]
    return hashlib.sha256("".join(lines).encode("utf-8", "surrogateescape")).hexdigest()


def unsent_inputs(root: Path, inputs: BinaryInputs, rels: Iterable[str]) -> list[str]:
    """The paths of ``rels`` (repository-relative) that exist in the checkout but that packbin did
    not send for ``inputs``' bin: a file not among its files, a directory with none of them in it.
    What a build script that reads outside its package needs in ``inputs = [...]``."""
    sent = {f.rel for f in inputs.files} | {s.rel for s in inputs.stubs}
    out: list[str] = []
    for rel in rels:
        path = root / rel
        if not os.path.lexists(path) or rel in sent:
            continue
        if path.is_dir() and any(s.startswith(rel + "/") for s in sent):
            continue
        out.append(rel)
    return out
