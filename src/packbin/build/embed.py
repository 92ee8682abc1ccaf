"""Add the dependency list to each extracted artifact, before verification.

With ``[builder] auditable`` (the default) build.sh leaves ``BIN.metadata.json`` beside each
binary: ``cargo metadata --filter-platform TARGET`` as the build container saw it (untrusted).
Here, on the host, it becomes a :class:`~packbin.build.deps.DependencyList` (with the checkout's
Cargo.lock, for the checksums), whose cargo-auditable form (format 1 JSON, zlib-compressed by
packbin's own deflate so any machine writes the same bytes) goes into the staged binary as a
non-alloc ``.dep-v0`` section. The binary is rewritten atomically in staging; verification then
judges the bytes that will be installed. A crate that runs cargo-auditable itself already has a
section: that one is kept, with a warning.

The same step runs on the rebuilds of ``--check-reproducible``, so they compare like with like.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from packbin.build.deps import DependencyList, dependency_list
from packbin.build.sources import SRC_MOUNT
from packbin.config.model import BuildConfig
from packbin.elf.depinfo import DEP_SECTION, dep_section
from packbin.elf.record import ElfError
from packbin.elf.sections import add_section, find_section
from packbin.errors import ArtifactRejected, BuildError
from packbin.util.atomic import atomic_write_bytes
from packbin.workspace import BinaryInputs

if TYPE_CHECKING:
    from packbin.build.container import BuildOutcome

#: The most of a metadata file read (cargo metadata of a large workspace is a few MiB).
MAX_METADATA_BYTES = 64 << 20


@dataclass(frozen=True, kw_only=True)
class Embedded:
    """What the step leaves for verification and install."""

    outcomes: tuple[BuildOutcome, ...]  # the same outcomes, each file's size as it now is
    deps: Mapping[tuple[str, str], DependencyList]  # (arch, binary) -> its dependency list
    warnings: tuple[str, ...]


def embed_dependency_lists(
    cfg: BuildConfig, outcomes: Sequence[BuildOutcome], inputs: Mapping[str, BinaryInputs]
) -> Embedded:
    """Put the dependency list into every staged binary of ``outcomes`` (nothing when not auditable)."""
    if not cfg.builder.auditable:
        return Embedded(outcomes=tuple(outcomes), deps={}, warnings=())
    locks: dict[Path, str | None] = {}
    deps: dict[tuple[str, str], DependencyList] = {}
    warnings: list[str] = []
    done: list[BuildOutcome] = []
    for o in outcomes:
        files = dict(o.files)
        for t in o.step.targets:
            name = t.binary.name
            where = f"{t.arch.name}/{name}"
            bi = inputs[name]
            lock = bi.workspace.lock
            if lock not in locks:
                locks[lock] = lock.read_text(encoding="utf-8") if lock.is_file() else None
            metadata = o.metadata.get(name)
            if metadata is None:
                raise BuildError(f"{where}: the build left no cargo metadata", hint=f"see {o.log_path}")
            dl = dependency_list(
                _read_bounded(metadata.path, where=where),
                package=bi.package,
                manifest_path=f"{SRC_MOUNT}/{bi.manifest_rel}",
                lock_text=locks[lock],
                repo_root=SRC_MOUNT,
                binary=name,
            )
            deps[t.key] = dl
            f = files[name]
            size, kept = embed_file(f.path, dl, where=where)
            if kept:
                warnings.append(
                    f"{name} already carries a {DEP_SECTION} section (the crate runs cargo-auditable itself): "
                    "kept it as it is; the SBOM is packbin's own resolution"
                )
            files[name] = dataclasses.replace(f, size=size)
        done.append(dataclasses.replace(o, files=files))
    return Embedded(outcomes=tuple(done), deps=deps, warnings=tuple(warnings))


def embed_file(path: Path, deps: DependencyList, *, where: str) -> tuple[int, bool]:
    """Add ``deps`` as ``.dep-v0`` to the binary at ``path`` (atomically); its new size, and
    whether a section already there was kept instead."""
    image = path.read_bytes()
    try:
        if find_section(image, DEP_SECTION) is not None:
            return len(image), True
        new = add_section(image, DEP_SECTION, dep_section(deps.dep_list()))
    except ElfError as e:
        raise ArtifactRejected(
            f"{where}: cannot add the dependency list: {e}",
            hint="set [builder] auditable = false to install binaries without it",
        ) from e
    atomic_write_bytes(path, new, mode=path.stat().st_mode & 0o7777)
    return len(new), False


def _read_bounded(path: Path, *, where: str) -> bytes:
    with open(path, "rb") as f:
        data = f.read(MAX_METADATA_BYTES + 1)
    if len(data) > MAX_METADATA_BYTES:
        raise BuildError(
            f"{where}: cargo metadata is larger than {MAX_METADATA_BYTES >> 20} MiB",
            hint="set [builder] auditable = false to build without the dependency list",
        )
    return data


__all__ = ["MAX_METADATA_BYTES", "Embedded", "embed_dependency_lists", "embed_file"]
