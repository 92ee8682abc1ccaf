"""The public records of packbin.workspace: what a workspace is made of and what a bin needs.

Frozen dataclasses only (and the stub contents sent for targets cargo need only the manifest of);
the modules that fill them in import this one, never the other way round.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from packbin.workspace.paths import join_rel

MAIN_STUB = b"fn main() {}\n"
LIB_STUB = b""


# -- public records ------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class InputFile:
    """One file cargo reads for a binary, with its stat facts and sha256."""

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
    """A generated file the build needs in place of a real one (a target of a package cargo only loads)."""

    rel: str  # relative to the repository root
    data: bytes  # generated content (a target file of a package cargo needs only the manifest of)


@dataclass(frozen=True, kw_only=True)
class Target:
    """One cargo target of a package (lib, bin, build script ...)."""

    kind: str  # lib, bin, example, test, bench, build (a build script)
    name: str
    rel: str  # the target's root source file, relative to the repository root
    explicit: bool  # declared in the manifest (vs. discovered from the file layout)


@dataclass(frozen=True, kw_only=True)
class Member:
    """One package of the workspace: its name, directory, manifest and targets."""

    name: str  # package name
    dir: str  # package directory, relative to the repository root ("" for the root itself)
    manifest: str  # its Cargo.toml, relative to the repository root
    bins: tuple[str, ...]  # bin target names
    path_deps: tuple[str, ...]  # dirs of path dependencies (normal, build, target-specific; not dev)
    targets: tuple[Target, ...] = ()
    workspace_member: bool = True  # False: a path dependency (or patch) outside the workspace


@dataclass(frozen=True, kw_only=True)
class Workspace:
    """The Cargo workspace (or standalone crate) a binary belongs to."""

    root: Path  # dir of the root Cargo.toml (workspace root, or the standalone crate)
    root_rel: str  # that dir relative to cfg.root ("" for the repo root itself)
    lock: Path  # root/Cargo.lock (must exist)
    members: tuple[Member, ...]  # every workspace member
    source_configs: tuple[
        Path, ...
    ]  # config files cargo reads from the package dir up to cfg.root, highest precedence first
    packages: tuple[
        Member, ...
    ] = ()  # members plus path dependencies/patches outside the workspace: every manifest cargo loads
    is_workspace: bool = False  # the root manifest has a [workspace] table
    patch_dirs: tuple[str, ...] = ()  # [patch]/[replace] path packages of the root manifest (rel)

    @property
    def manifest_rel(self) -> str:
        """The root Cargo.toml, relative to the repository root."""
        return join_rel(self.root_rel, "Cargo.toml")


@dataclass(frozen=True, kw_only=True)
class BinaryInputs:
    """Everything cargo reads to build one binary, hashed: what decides whether it must be rebuilt."""

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
    #: The ``[build] rustflags`` of those configs, which the builder passes as target rustflags
    #: (cargo would drop them beside the builder's own ``[target.<triple>] rustflags``).
    build_rustflags: tuple[str, ...] = ()
