"""``[[binaries]]``: the executables a repository builds, each in a pack or on its own."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from packbin.config.table import NAME_RE, Table

#: The directory of a dist arch tree holding the binaries without a pack (so no pack may be called that).
PACKLESS_DIR = "bin"

_PACKAGE_RE = re.compile(r"^[A-Za-z0-9_-]+$")


@dataclass(frozen=True, kw_only=True)
class PackBinary:
    """``[[binaries]]``: one executable, shipped in a pack or (without ``pack``) on its own."""

    name: str  # the cargo bin name, also the file name
    pack: str | None  # None: no pack; installs as dist/pack-binaries/<arch>/bin/<name>, never into packs/
    manifest: Path  # absolute path of the crate's Cargo.toml
    install_path: str  # POSIX path inside the pack, e.g. sensors/attune-core-timer-sensor (the name without a pack)
    package: str | None = None  # the cargo package owning the bin, when the bin name alone is ambiguous
    inputs: tuple[str, ...] = ()  # extra files/dirs (POSIX, relative to the repository root) the build reads
    copy_to_packs: bool = True  # the deploy arch's build also goes to packs/<pack>/<install_path>

    @property
    def crate_dir(self) -> Path:
        """The directory of the binary's Cargo.toml."""
        return self.manifest.parent


def parse_binaries(top: Table, root: Path, *, copy_to_packs: bool = True) -> tuple[PackBinary, ...]:
    """The ``[[binaries]]`` array: each entry checked, no name twice, no two in one pack path."""
    top.seen.add("binaries")
    raw = top.data.get("binaries", [])
    if not isinstance(raw, list):
        raise top.fail("binaries", "must be an array of tables ([[binaries]])")
    out: list[PackBinary] = []
    for i, item in enumerate(raw):
        bt = Table(top.source, f"binaries[{i}]", item)
        binary = _parse_binary(bt, root, copy_to_packs=copy_to_packs)
        if any(b.name == binary.name for b in out):
            raise bt.fail("name", f"binary {binary.name!r} is declared twice")
        where = (binary.pack, binary.install_path)
        clash = next((b for b in out if binary.pack is not None and (b.pack, b.install_path) == where), None)
        if clash is not None:
            raise bt.fail(
                "install_path", f"{binary.pack}/{binary.install_path} is already where binary {clash.name!r} goes"
            )
        out.append(binary)
    return tuple(out)


def _parse_binary(bt: Table, root: Path, *, copy_to_packs: bool) -> PackBinary:
    """One ``[[binaries]]`` entry, on its own (the checks against the others are the caller's)."""
    name = bt.get("name", str, required=True)
    if not NAME_RE.match(name):
        raise bt.fail("name", f"not a valid binary name: {name!r}")
    pack = bt.get("pack", str, None)
    if pack is not None and not NAME_RE.match(pack):
        raise bt.fail("pack", f"not a valid pack name: {pack!r}")
    if pack is not None and pack.lower() == PACKLESS_DIR:
        # dist/pack-binaries/<arch>/bin/ holds the binaries without a pack: a pack of that name would mix with them.
        raise bt.fail(
            "pack",
            f"{pack!r} is reserved: dist/pack-binaries/<arch>/{PACKLESS_DIR}/ holds the binaries without a pack; "
            "choose another pack name (or leave pack out to install the binary there)",
        )
    manifest = _crate_manifest(bt, root)
    if pack is None and "install_path" in bt.data:
        raise bt.fail(
            "install_path",
            f"is a path inside a pack, and binary {name!r} has no pack: without one it installs as "
            f'dist/pack-binaries/<arch>/{PACKLESS_DIR}/{name}; remove install_path, or add pack = "..."',
        )
    install_path = bt.get("install_path", str, f"sensors/{name}" if pack is not None else name)
    ip = Path(install_path)
    if ip.is_absolute() or ".." in ip.parts or install_path.endswith("/") or not ip.parts:
        raise bt.fail("install_path", f"must be a relative file path inside the pack, got {install_path!r}")
    copy = bt.get("copy_to_packs", bool, copy_to_packs if pack is not None else False)
    if copy and pack is None:
        raise bt.fail(
            "copy_to_packs",
            f'binary {name!r} has no pack, so there is no packs/ copy to turn on; add pack = "..." or remove copy_to_packs',
        )
    package = bt.get("package", str, None)
    if package is not None and not _PACKAGE_RE.match(package):
        raise bt.fail("package", f"not a valid cargo package name: {package!r}")
    inputs: list[str] = []
    for entry in bt.str_list("inputs"):
        ep = Path(entry)
        if not entry.strip() or ep.is_absolute() or ".." in ep.parts or ep == Path(".") or "\\" in entry:
            raise bt.fail("inputs", f"must be a relative path inside the repository, got {entry!r}")
        inputs.append(ep.as_posix())
    bt.reject_unknown()
    return PackBinary(
        name=name,
        pack=pack,
        manifest=manifest,
        install_path=ip.as_posix(),
        package=package,
        inputs=tuple(inputs),
        copy_to_packs=copy,
    )


def _crate_manifest(bt: Table, root: Path) -> Path:
    """``manifest``: the crate's Cargo.toml (a directory means its Cargo.toml), inside the repository."""
    manifest_rel = bt.get("manifest", str, required=True)
    mp = Path(manifest_rel)
    if mp.is_absolute() or ".." in mp.parts:
        raise bt.fail("manifest", f"must be a relative path inside the repository, got {manifest_rel!r}")
    manifest = root / mp
    if manifest.name != "Cargo.toml":
        manifest = manifest / "Cargo.toml"
    if not manifest.is_file():
        raise bt.fail(
            "manifest",
            f"crate manifest not found: {manifest}",
        )
    # A symlink inside the repository must not smuggle in a crate from elsewhere.
    real_root = root.resolve()
    if not manifest.resolve().is_relative_to(real_root):
        raise bt.fail(
            "manifest", f"{manifest_rel!r} leads outside the repository (to {manifest.resolve()}) through a symlink"
        )
    return manifest


__all__ = ["PACKLESS_DIR", "PackBinary", "parse_binaries"]
