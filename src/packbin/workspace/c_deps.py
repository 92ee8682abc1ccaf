"""Which C a binary needs from outside its crates, told before the build: from its Cargo.lock
(and, where a crate's bundled or vendored build depends on a feature, the features cargo turns
on, read from the vendored crates' manifests), the -sys crates that look for a system C library
and the build tools that need a host tool (bindgen: libclang).

Pure and offline: reads the lock and manifests in the repository, runs neither cargo nor Docker.
The lock is untrusted input (:mod:`packbin.workspace.lockfile`). :data:`SYS_CRATES` is the one
table of the crates packbin knows; a crate not in it is not reported.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packbin._compat import tomllib
from packbin.config.c_libraries import C_LIBRARIES, NOT_YET_BUILT
from packbin.config.model import BuildConfig
from packbin.errors import ConfigError
from packbin.workspace.features import resolve_features
from packbin.workspace.lockfile import LockGraph, LockPackage, read_lock
from packbin.workspace.model import BinaryInputs
from packbin.workspace.paths import join_rel

#: A crate manifest larger than this is refused (real ones are a few KiB).
MANIFEST_MAX_BYTES = 1024 * 1024


@dataclass(frozen=True, kw_only=True)
class SysCrate:
    """One crate that may need C from outside the crate graph, and how it avoids that.

    The crate builds its own C (and needs nothing) when:

    - ``marker_dep`` is among its locked dependencies (an optional dependency its bundled feature
      pulls in: openssl-sys's ``vendored`` adds ``openssl-src``);
    - its ``source_dir`` (the bundled C sources, relative to the crate) is present and either its
      build script falls back to it by itself (``falls_back``) or ``bundled_feature`` is on;
    - and, with ``system_feature``, that feature (which asks for the system library) is off.

    Debian's crate sources drop the bundled C (and the features), as many vendor trees do: a crate
    from such a tree always needs the library. A crate from a network registry is taken to be the
    published one, whose bundled sources are present.
    """

    crate: str
    library: str  # a C_LIBRARIES name; for a host tool, the Debian package that provides it
    host_tool: bool = False  # True: needed on the build host ([builder] packages), not for the target
    bundled_feature: str | None = None  # the crate's feature that builds its bundled C
    marker_dep: str | None = None
    source_dir: str | None = None
    falls_back: bool = False
    system_feature: str | None = None
    #: Where the bundled feature is usually turned on (the crate most users depend on).
    via: str = ""


#: Every crate packbin reports, in the order reports list them.
SYS_CRATES = (
    SysCrate(
        crate="openssl-sys",
        library="openssl",
        bundled_feature="vendored",
        marker_dep="openssl-src",
        via='openssl\'s "vendored"',
    ),
    SysCrate(crate="libz-sys", library="zlib", bundled_feature="static", source_dir="src/zlib"),
    SysCrate(
        crate="libgit2-sys",
        library="libgit2",
        bundled_feature="vendored",
        source_dir="libgit2",
        falls_back=True,
        via='git2\'s "vendored-libgit2"',
    ),
    SysCrate(
        crate="curl-sys",
        library="curl",
        bundled_feature="static-curl",
        source_dir="curl",
        falls_back=True,
        via='curl\'s "static-curl"',
    ),
    SysCrate(crate="libssh2-sys", library="libssh2", source_dir="libssh2", falls_back=True),
    SysCrate(
        crate="libsqlite3-sys",
        library="sqlite3",
        bundled_feature="bundled",
        marker_dep="cc",
        source_dir="sqlite3",
        via='rusqlite\'s "bundled"',
    ),
    SysCrate(
        crate="pq-sys", library="libpq", bundled_feature="bundled", marker_dep="pq-src", via='pq-sys 0.6\'s "bundled"'
    ),
    SysCrate(crate="zstd-sys", library="zstd", source_dir="zstd/lib", falls_back=True, system_feature="pkg-config"),
    SysCrate(crate="bindgen", library="libclang-dev", host_tool=True),
)

#: Debian packages that give bindgen a libclang (clang-sys loads libclang.so or libclang-N.so).
_LIBCLANG_RE = re.compile(r"^(?:libclang(?:-[0-9.]+)?-dev|libclang1(?:-[0-9.]+)?|clang(?:-[0-9.]+)?)$")


@dataclass(frozen=True, kw_only=True)
class CNeed:
    """One crate of a binary that needs a C library (or a host tool) the crates do not bring."""

    crate: str
    version: str
    library: str  # a C_LIBRARIES or NOT_YET_BUILT name, "libpq" (which packbin cannot build), or a host tool's Debian package
    host_tool: bool
    provided: bool  # buildcfg.toml's [[c_libraries]] (or [builder] packages) names it
    bundled_feature: str | None  # the crate's own way out, when it has one
    #: False: this copy of the crate lacks that feature or its bundled sources (Debian's crate
    #: sources drop them); the published crate has them.
    bundled_here: bool = True
    via: str = ""

    @property
    def ways_out(self) -> tuple[str, ...]:
        """What the user can do, each a sentence."""
        if self.host_tool:
            ways = [f'add "{self.library}" to [builder] packages in buildcfg.toml']
        elif self.library in C_LIBRARIES:
            ways = [f'add [[c_libraries]] name = "{self.library}" to buildcfg.toml']
        elif self.library in NOT_YET_BUILT:
            ways = [f"packbin does not build {self.library} yet ([[c_libraries]] builds {', '.join(C_LIBRARIES)})"]
        else:
            ways = [f"packbin cannot build {self.library} ([[c_libraries]] builds {', '.join(C_LIBRARIES)})"]
        if self.bundled_feature:
            way = f'turn on {self.crate}\'s "{self.bundled_feature}" feature'
            way += (f" ({self.via})" if self.via else "") + ", which builds its bundled C"
            if not self.bundled_here:
                way += f" (this copy of {self.crate} lacks it or its C sources: use the published crate)"
            ways.append(way)
        return tuple(ways)

    def describe(self) -> str:
        """One line for the report."""
        what = f"{self.crate} {self.version} needs "
        what += f"{self.library} on the build host (libclang)" if self.host_tool else f"the C library {self.library}"
        if self.provided:
            return what + (", in [builder] packages" if self.host_tool else ", provided by [[c_libraries]]")
        return what + ": " + "; or ".join(self.ways_out)

    def to_json(self) -> dict[str, Any]:
        return {
            "crate": self.crate,
            "version": self.version,
            "library": self.library,
            "host_tool": self.host_tool,
            "provided": self.provided,
            "bundled_feature": self.bundled_feature,
            "bundled_here": self.bundled_here,
            "ways_out": list(self.ways_out),
        }


@dataclass(frozen=True, kw_only=True)
class CDependencies:
    """What one binary's crates need from outside them."""

    binary: str
    needs: tuple[CNeed, ...]

    @property
    def unmet(self) -> tuple[CNeed, ...]:
        return tuple(n for n in self.needs if not n.provided)


class _Crates:
    """The binary's locked packages and their manifests, read on demand, each once."""

    def __init__(self, cfg: BuildConfig, inputs: BinaryInputs, graph: LockGraph) -> None:
        self.root = cfg.root
        self.graph = graph
        self.vendor_dirs = inputs.vendor_dirs
        self.members = {m.name: m.manifest for m in inputs.workspace.packages}
        self._dirs: dict[tuple[str, str], str | None] = {}
        self._manifests: dict[str, dict[str, Any]] = {}

    def crate_dir(self, pkg: LockPackage) -> str | None:
        """The package's directory in the repository (None: not here, fetched from the network)."""
        if pkg.key not in self._dirs:
            self._dirs[pkg.key] = self._find_dir(pkg)
        return self._dirs[pkg.key]

    def _find_dir(self, pkg: LockPackage) -> str | None:
        if pkg.source is None:
            manifest = self.members.get(pkg.name)
            return manifest.rpartition("/")[0] if manifest is not None else None
        for v in self.vendor_dirs:
            for name in (f"{pkg.name}-{pkg.version}", pkg.name):
                d = join_rel(v, name)
                if (self.root / d / "Cargo.toml").is_file():
                    m = self.manifest_at(d)
                    package = m.get("package")
                    if isinstance(package, dict) and package.get("version") == pkg.version:
                        return d
        return None

    def manifest_at(self, d: str) -> dict[str, Any]:
        rel = join_rel(d, "Cargo.toml")
        if rel not in self._manifests:
            self._manifests[rel] = _read_manifest(self.root / rel, rel)
        return self._manifests[rel]

    def manifest(self, pkg: LockPackage) -> Mapping[str, Any] | None:
        d = self.crate_dir(pkg)
        return self.manifest_at(d) if d is not None else None

    def has(self, pkg: LockPackage, sub: str) -> bool:
        """Whether the package holds the directory ``sub`` (a package not here: the published crate, which does)."""
        d = self.crate_dir(pkg)
        return d is None or (self.root / d / sub).is_dir()


def _bundled_here(entry: SysCrate, crates: _Crates, pkg: LockPackage) -> bool:
    """Whether this copy of the crate has ``entry``'s bundled feature (and its C sources)."""
    manifest = crates.manifest(pkg)
    if entry.bundled_feature is None or manifest is None:
        return True
    table = manifest.get("features")
    if not isinstance(table, dict) or entry.bundled_feature not in table:
        return False
    return entry.source_dir is None or crates.has(pkg, entry.source_dir)


def warning_lines(deps: Iterable[CDependencies]) -> list[str]:
    """One line per unmet need, naming the binary, the library and the ways out."""
    return [f"{d.binary}: {n.describe()}" for d in deps for n in d.unmet]


def _read_manifest(path: Path, rel: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as f:
            data = f.read(MANIFEST_MAX_BYTES + 1)
        if len(data) > MANIFEST_MAX_BYTES:
            raise ConfigError(f"{rel} is larger than {MANIFEST_MAX_BYTES // 1024} KiB: not a crate manifest")
        doc: dict[str, Any] = tomllib.loads(data.decode("utf-8"))
        return doc
    except OSError as e:
        raise ConfigError(f"{rel}: cannot read: {e.strerror}") from e
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"{rel}: invalid TOML: {e}", hint="restore the vendored crate (cargo vendor)") from e


def find_c_needs(cfg: BuildConfig, inputs: BinaryInputs) -> CDependencies:
    """The C libraries and host tools ``inputs``' binary needs beyond its crates, each marked
    provided when buildcfg.toml names it. ConfigError for a malformed lock or manifest."""
    ws = inputs.workspace
    graph = read_lock(ws.lock, join_rel(ws.root_rel, "Cargo.lock"))
    roots = [p for p in graph.find(inputs.package) if p.source is None]
    if not roots:
        raise ConfigError(
            f"{graph.path} does not list the package {inputs.package!r}",
            hint="the lock is out of date: run `cargo generate-lockfile` (or `cargo update -p` for it)",
        )
    crates = _Crates(cfg, inputs, graph)
    if not any(graph.find(entry.crate) for entry in SYS_CRATES):
        return CDependencies(binary=inputs.binary_name, needs=())  # the common case: no manifest read
    # What building the bin involves, with features: an optional dependency no feature turns on
    # and a dev-dependency are locked too, but not built.
    built = resolve_features(graph, roots[0], crates.manifest)
    c_libraries = {lib.name for lib in cfg.c_libraries}
    needs: list[CNeed] = []
    for entry in SYS_CRATES:
        for pkg in (p for p in graph.find(entry.crate) if p.key in built):
            marker = graph.dependency(pkg, entry.marker_dep) if entry.marker_dep else None
            if marker is not None and marker.key in built:
                continue
            on = built[pkg.key]
            if (
                entry.source_dir
                and crates.has(pkg, entry.source_dir)
                and not (entry.system_feature and entry.system_feature in on)
                and (entry.falls_back or entry.bundled_feature in on)
            ):
                continue
            provided = (
                any(_LIBCLANG_RE.match(p) for p in cfg.builder.packages)
                if entry.host_tool
                else entry.library in c_libraries
            )
            needs.append(
                CNeed(
                    crate=pkg.name,
                    version=pkg.version,
                    library=entry.library,
                    host_tool=entry.host_tool,
                    provided=provided,
                    bundled_feature=entry.bundled_feature,
                    bundled_here=_bundled_here(entry, crates, pkg),
                    via=entry.via,
                )
            )
    return CDependencies(binary=inputs.binary_name, needs=tuple(needs))


__all__ = ["MANIFEST_MAX_BYTES", "SYS_CRATES", "CDependencies", "CNeed", "SysCrate", "find_c_needs", "warning_lines"]
