"""dist/pack-binaries/manifest.json: what was built, for which architecture, from what.

Schema: ``{"artifacts": [{"arch", "target", "pack", "binary", "path", "sha256",
"size", "static", "stripped", "source_hash", "builder_image", "toolchain": {"rustc", "cargo",
"cargo_zigbuild", "zig"}}]}`` plus ``input_hash`` (what the up-to-date check compares).
Per artifact also ``sbom`` and ``sbom_sha256`` (its CycloneDX SBOM beside it, null when
``[builder] auditable = false``) and per run ``"provenance": {"path", "sha256"}`` (the in-toto
statement of the last run that built something), null or absent in older manifests.
``pack`` is null for a binary without a pack (its path is ``dist/pack-binaries/<arch>/bin/<name>``);
an entry without ``pack`` reads as null too.
The manifest is untrusted when read back (it may come from another CI job): every field is
type-checked and every path must stay inside the repository.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any

from packbin.errors import UsageError
from packbin.util.atomic import atomic_write_bytes


@dataclass(frozen=True, kw_only=True)
class Toolchain:
    """The compiler versions an artifact was built with."""

    rustc: str = ""
    cargo: str = ""  # absent from manifests written before it was recorded: reads as ""
    cargo_zigbuild: str = ""
    zig: str = ""


_TOOLCHAIN_KEYS = ("rustc", "cargo", "cargo_zigbuild", "zig")


@dataclass(frozen=True, kw_only=True)
class Artifact:
    """One built binary as the manifest records it: where it is, what it is, and what it was built from."""

    arch: str
    target: str
    pack: str | None  # None (JSON null; absent reads as null too): a binary without a pack
    binary: str
    path: str  # POSIX, relative to the repository root: dist/pack-binaries/<arch>/<pack>/<install path> (or <arch>/bin/<name>)
    sha256: str
    size: int
    static: bool
    stripped: bool
    source_hash: str
    builder_image: str
    toolchain: Toolchain = field(default_factory=Toolchain)
    input_hash: str = ""
    sbom: str | None = None  # POSIX, relative to the repository root: ``<path>.cdx.json``
    sbom_sha256: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        """(arch, binary): an artifact's identity in the manifest."""
        return (self.arch, self.binary)

    def to_json(self) -> dict[str, Any]:
        """This artifact as a JSON object (the manifest's schema)."""
        return asdict(self)

    @classmethod
    def from_json(cls, raw: Any, *, where: str) -> Artifact:
        """An Artifact from untrusted JSON, every field type-checked; UsageError naming ``where`` otherwise."""
        if not isinstance(raw, dict):
            raise UsageError(f"{where}: an artifact must be an object")

        def s(key: str, default: str | None = None) -> str:
            v = raw.get(key, default)
            if not isinstance(v, str):
                raise UsageError(f"{where}: {key} must be a string")
            return v

        def b(key: str) -> bool:
            v = raw.get(key)
            if not isinstance(v, bool):
                raise UsageError(f"{where}: {key} must be true or false")
            return v

        pack = raw.get("pack")
        if pack is not None and not isinstance(pack, str):
            raise UsageError(f"{where}: pack must be a string or null")

        size = raw.get("size")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise UsageError(f"{where}: size must be a non-negative integer")
        path = checked_relpath(s("path"), where=where, key="path")
        sha = checked_sha256(s("sha256"), where=where, key="sha256")
        sbom = raw.get("sbom")
        sbom_sha = raw.get("sbom_sha256")
        if (sbom is None) != (sbom_sha is None):
            raise UsageError(f"{where}: sbom and sbom_sha256 must both be set or both be null")
        if sbom is not None:
            sbom = checked_relpath(sbom, where=where, key="sbom")
            sbom_sha = checked_sha256(sbom_sha, where=where, key="sbom_sha256")
        tc = raw.get("toolchain", {})
        if not isinstance(tc, dict):
            raise UsageError(f"{where}: toolchain must be an object")
        for k, v in tc.items():
            if k in _TOOLCHAIN_KEYS and not isinstance(v, str):
                raise UsageError(f"{where}: toolchain.{k} must be a string")
        return cls(
            arch=s("arch"),
            target=s("target"),
            pack=pack,
            binary=s("binary"),
            path=path,
            sha256=sha,
            size=size,
            static=b("static"),
            stripped=b("stripped"),
            source_hash=s("source_hash", ""),
            builder_image=s("builder_image", ""),
            toolchain=Toolchain(**{k: str(tc.get(k, "")) for k in _TOOLCHAIN_KEYS}),
            input_hash=s("input_hash", ""),
            sbom=sbom,
            sbom_sha256=sbom_sha,
        )


def checked_relpath(value: object, *, where: str, key: str) -> str:
    """``value`` if it is a relative POSIX path that stays inside the tree; UsageError otherwise."""
    if not isinstance(value, str):
        raise UsageError(f"{where}: {key} must be a string")
    pp = PurePosixPath(value)
    if pp.is_absolute() or ".." in pp.parts or not pp.parts:
        raise UsageError(f"{where}: {key} {value!r} must be relative and stay inside the tree")
    return value


def checked_sha256(value: object, *, where: str, key: str) -> str:
    """``value`` if it is 64 lowercase hex digits; UsageError otherwise."""
    if not isinstance(value, str) or len(value) != 64 or any(c not in "0123456789abcdef" for c in value):
        raise UsageError(f"{where}: {key} must be 64 lowercase hex digits")
    return value


@dataclass(frozen=True, kw_only=True)
class Provenance:
    """Where the run's in-toto provenance statement is, and its sha256."""

    path: str  # POSIX, relative to the repository root
    sha256: str

    @classmethod
    def from_json(cls, raw: Any, *, where: str) -> Provenance | None:
        """None for null or absent; every field checked otherwise."""
        if raw is None:
            return None
        if not isinstance(raw, dict):
            raise UsageError(f"{where}: provenance must be an object or null")
        return cls(
            path=checked_relpath(raw.get("path"), where=where, key="provenance.path"),
            sha256=checked_sha256(raw.get("sha256"), where=where, key="provenance.sha256"),
        )


@dataclass(frozen=True, kw_only=True)
class Manifest:
    """dist/pack-binaries/manifest.json: every built artifact."""

    artifacts: tuple[Artifact, ...] = ()
    provenance: Provenance | None = None

    def find(self, arch: str, binary: str) -> Artifact | None:
        """The artifact of ``binary`` for ``arch``, or None."""
        for a in self.artifacts:
            if a.arch == arch and a.binary == binary:
                return a
        return None

    def merged(self, new: list[Artifact] | tuple[Artifact, ...]) -> Manifest:
        """This manifest with ``new`` replacing entries of the same (arch, binary)."""
        keys = {a.key for a in new}
        kept = [a for a in self.artifacts if a.key not in keys]
        return replace(self, artifacts=tuple(sorted([*kept, *new], key=lambda a: (a.binary, a.arch))))

    def to_json(self) -> str:
        """The manifest's JSON text (indented, one artifact per object)."""
        doc: dict[str, Any] = {"artifacts": [a.to_json() for a in self.artifacts]}
        doc["provenance"] = None if self.provenance is None else asdict(self.provenance)
        return json.dumps(doc, indent=2, sort_keys=False) + "\n"

    @classmethod
    def load(cls, path: Path, *, missing_ok: bool = True) -> Manifest:
        """Read and check the manifest at ``path`` (an empty one when it is missing and ``missing_ok``)."""
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as e:
            raise UsageError(f"{path}: not UTF-8 text (byte {e.start})") from e
        except FileNotFoundError:
            if missing_ok:
                return cls()
            raise UsageError(
                f"{path}: no manifest here", hint="point at a dist/ tree made by build-pack-binaries"
            ) from None
        except OSError as e:
            raise UsageError(f"{path}: cannot read: {e.strerror}") from e
        try:
            raw = json.loads(text)
        except ValueError as e:
            raise UsageError(f"{path}: not valid JSON: {e}") from e
        except RecursionError as e:
            raise UsageError(f"{path}: JSON nested too deeply") from e
        arts = raw.get("artifacts") if isinstance(raw, dict) else None
        if not isinstance(arts, list):
            raise UsageError(f'{path}: expected an object with an "artifacts" list')
        return cls(
            artifacts=tuple(Artifact.from_json(a, where=f"{path}: artifacts[{i}]") for i, a in enumerate(arts)),
            provenance=Provenance.from_json(raw.get("provenance"), where=str(path)),
        )

    def save(self, path: Path) -> None:
        """Write the manifest atomically to ``path``."""
        atomic_write_bytes(path, self.to_json().encode())
