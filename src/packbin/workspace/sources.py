"""Cargo's configs and source replacement: the ``.cargo/config(.toml)`` files cargo reads, the
``[source.*] replace-with`` chains they define, and for each Cargo.lock source whether it is
served from a directory in the repository or from the network (and which hosts)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from packbin.errors import ConfigError
from packbin.workspace.paths import join_rel, parent_rel
from packbin.workspace.repo import Repo, subtable

CRATES_IO = "crates-io"
CRATES_IO_INDEX = "https://github.com/rust-lang/crates.io-index"
CRATES_IO_SPARSE = "https://index.crates.io/"
#: Hosts a fetch from crates.io contacts (index and downloads).
CRATES_IO_HOSTS = ("index.crates.io", "static.crates.io")


# -- cargo config ------------------------------------------------------------------
def source_configs(repo: Repo, start_rel: str) -> list[str]:
    """Config files cargo reads running in ``start_rel``, up to the repository root, highest
    precedence first; per directory the legacy ``config`` wins over ``config.toml``."""
    out: list[str] = []
    d: str | None = start_rel
    while d is not None:
        for name in ("config", "config.toml"):
            rel = join_rel(d, ".cargo", name)
            p = repo.abs(rel)
            if p.is_file() or p.is_symlink():
                repo.check(rel, "cargo config")
                out.append(rel)
                break
        d = parent_rel(d) if d else None
    return out


def load_source_map(repo: Repo, configs: list[str]) -> SourceMap:
    """The ``[source]`` replacements and ``[registries]`` of cargo's config files ``configs``, highest precedence first."""
    sources: dict[str, dict[str, tuple[Any, str]]] = {}
    registries: dict[str, str] = {}
    for rel in reversed(configs):  # lowest precedence first; later ones override per key
        base = parent_rel(parent_rel(rel))  # paths are relative to the directory holding .cargo/
        data = repo.toml(rel)
        for name, table in subtable(data, "source").items():
            if isinstance(table, dict):
                merged = sources.setdefault(name, {})
                for k, v in table.items():
                    merged[k] = (v, base)
        for name, table in subtable(data, "registries").items():
            if isinstance(table, dict) and isinstance(table.get("index"), str):
                registries[name] = table["index"]
    return SourceMap(repo=repo, sources=sources, registries=registries, configs=configs)


def build_rustflags(repo: Repo, configs: list[str]) -> tuple[str, ...]:
    """The ``[build] rustflags`` of cargo's config files ``configs`` (highest precedence first)
    as cargo would pass them, or () when any of them sets ``[target.*] rustflags``: cargo then
    ignores ``[build] rustflags`` anyway. Arrays join, lower precedence first; a string is split
    on spaces."""
    flags: list[str] = []
    for rel in reversed(configs):
        data = repo.toml(rel)
        if any(isinstance(t, dict) and "rustflags" in t for t in subtable(data, "target").values()):
            return ()
        value = subtable(data, "build").get("rustflags")
        if value is None:
            continue
        if isinstance(value, str):
            flags += value.split()
        elif isinstance(value, list) and all(isinstance(x, str) for x in value):
            flags += value
        else:
            raise ConfigError(f"{rel}: build.rustflags must be a string or an array of strings")
    return tuple(flags)


# -- sources: Cargo.lock and source replacement -------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class SourceEndpoint:
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
class SourceMap:
    repo: Repo
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
            return (
                _source_id("sparse", url[len("sparse+") :])
                if url.startswith("sparse+")
                else _source_id("registry", url)
            )
        if "git" in s and isinstance(s["git"][0], str):
            ref = next(((k, str(s[k][0])) for k in ("branch", "tag", "rev") if k in s), None)
            return _source_id("git", s["git"][0], ref)
        return None

    def endpoint(self, lock_source: str) -> SourceEndpoint:
        lid = _lock_id(lock_source)
        if lid == _source_id("sparse", CRATES_IO_SPARSE):
            lid = _source_id("registry", CRATES_IO_INDEX)
        name = next((n for n in [CRATES_IO, *self.sources] if self._id_of(n) == lid), None)
        if name is None:
            return SourceEndpoint(rel=None, hosts=_hosts(lock_source))
        seen = [name]
        while True:
            s = self.sources.get(name)
            if s is None:
                if name == CRATES_IO:
                    return SourceEndpoint(rel=None, hosts=CRATES_IO_HOSTS)
                if name in self.registries:
                    return SourceEndpoint(rel=None, hosts=_hosts(self.registries[name]))
                raise ConfigError(
                    f"source replacement names {name!r}, which no [source.{name}] (or [registries.{name}]) defines ({self._where()})",
                    hint="fix `replace-with` (cargo vendor prints the tables to add)",
                )
            rw = s.get("replace-with")
            if rw is not None and isinstance(rw[0], str):
                name = rw[0]
                if name in seen:
                    raise ConfigError(
                        f"a cycle of replace-with sources: {' -> '.join([*seen, name])} ({self._where()})",
                        hint="end the chain at a source that defines directory, registry or git",
                    )
                seen.append(name)
                continue
            for key in ("directory", "local-registry"):
                if key in s and isinstance(s[key][0], str):
                    value, base = s[key]
                    rel = self.repo.resolve_rel(base, value, f"[source.{name}] {key}")
                    return SourceEndpoint(rel=rel)
            if name == CRATES_IO:
                return SourceEndpoint(rel=None, hosts=CRATES_IO_HOSTS)
            for key in ("registry", "git"):
                if key in s and isinstance(s[key][0], str):
                    return SourceEndpoint(rel=None, hosts=_hosts(s[key][0]))
            raise ConfigError(
                f"[source.{name}] defines no directory, local-registry, registry or git ({self._where()})",
                hint="see the cargo book, Source Replacement",
            )


def lock_names(repo: Repo, lock_rel: str) -> set[str]:
    packages = repo.toml(lock_rel).get("package", [])
    return (
        {p["name"] for p in packages if isinstance(p, dict) and isinstance(p.get("name"), str)}
        if isinstance(packages, list)
        else set()
    )


def lock_endpoints(repo: Repo, lock_rel: str, sources: SourceMap) -> list[SourceEndpoint]:
    data = repo.toml(lock_rel)
    packages = data.get("package", [])
    out: dict[str, SourceEndpoint] = {}
    if isinstance(packages, list):
        for p in packages:
            src = p.get("source") if isinstance(p, dict) else None
            if isinstance(src, str) and src not in out:
                out[src] = sources.endpoint(src)
    return list(out.values())
