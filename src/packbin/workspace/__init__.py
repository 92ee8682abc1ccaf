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

The package, lowest layer first (a module imports only those above it in this list):

- ``paths``: repository-relative POSIX path strings (join, normalise, prefix tests);
- ``manifests``: discovery's bounded walk for Cargo.toml files and its size-bounded reads;
- ``model``: the frozen public records (InputFile, Stub, Target, Member, Workspace, BinaryInputs);
- ``hashcache``: the stat-keyed cache of file hashes;
- ``repo``: the repository being read (symlink/escape refusal, TOML, walking into InputFiles);
- ``targets``: packages, path dependencies, target inference, which package owns a bin;
- ``sources``: cargo configs, source replacement, which lock sources need the network;
- ``layout``: the workspace root and members, and every manifest cargo loads;
- ``inputs``: the entry points: a bin's inputs, digests, the build and fetch payloads;
- ``discovery``: every bin cargo would build in a repository (what ``packbin init`` offers);
- ``lockfile``: Cargo.lock as untrusted input (bounded, checked) into a graph of packages;
- ``features``: the features cargo turns on, from the manifests at hand;
- ``c_deps``: the C libraries and host tools a bin's crates need from outside them (read only
  for a dry run or a build, and imported there).
"""

from __future__ import annotations

from packbin.workspace.inputs import Scan, collect_all, collect_inputs, load_workspace, merge_payload
from packbin.workspace.model import BinaryInputs, InputFile, Member, Stub, Target, Workspace

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
    "load_workspace",
    "merge_payload",
]
