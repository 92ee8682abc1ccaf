"""``packbin init``: a commented buildcfg.toml for the Cargo repository in the working directory.

Discovery (:mod:`packbin.workspace.discovery`) finds every bin cargo would build; this module picks
the ones asked for, renders the file and writes it atomically, never over an existing one.
Each bin becomes a ``[[binaries]]`` entry with ``name``, ``manifest`` (relative), ``package`` when
the bin name alone is ambiguous, and ``pack`` only when it can be known: the crate lives inside
``packs/<pack>/``. Otherwise the entry says, in a comment, what ``pack`` would do (and which pack
mentions the binary, when one does).

:func:`config_for_manifest` is the other way to start: ``build-pack-binaries --manifest PATH``
builds one crate's bin with the defaults, from the same discovery, without writing a file.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from packbin.config.model import CONFIG_NAME, BuildConfig, find_config
from packbin.config.table import NAME_RE, suggest
from packbin.dist.layout import PACKLESS_DIR
from packbin.errors import ConfigError, UsageError
from packbin.util.atomic import atomic_write_bytes
from packbin.workspace.discovery import CargoBin, Discovery, discover

__all__ = ["DOCS_URL", "InitRequest", "config_for_manifest", "render", "run_init"]

#: Where the keys are documented (the page a newcomer reads next).
DOCS_URL = "https://github.com/attune-io/packbin/tree/main/docs"
#: The pack tree's directory name (buildcfg.toml's packs_dir default).
PACKS_DIR = "packs"
#: Pack files scanned for a binary's name (a pack's yaml/json metadata is small).
_MENTION_SUFFIXES = (".yaml", ".yml", ".json", ".toml")
_MENTION_MAX_BYTES = 64 << 10
_MENTION_MAX_FILES = 2000


@dataclass(frozen=True, kw_only=True)
class InitRequest:
    """What ``packbin init`` was asked for."""

    root: Path  # the repository root: the working directory
    binaries: tuple[str, ...] = ()  # --binary NAME (empty: every bin found)
    to_stdout: bool = False  # --print


def run_init(req: InitRequest, *, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> Path | None:
    """Write (or with ``to_stdout`` print) the buildcfg.toml for ``req.root``; the path written, or None.

    UsageError (exit 2): not a Cargo repository, an unknown ``--binary``, no bins, or a
    buildcfg.toml already there.
    """
    dest = req.root / CONFIG_NAME
    if not req.to_stdout and (dest.exists() or dest.is_symlink()):
        raise UsageError(
            f"{dest} already exists; packbin init never overwrites it",
            hint="`packbin init --print` shows what it would write (compare, then edit the file by hand)",
        )
    _refuse_inside_a_workspace(req.root)
    found = discover(req.root)
    err.writelines(f"packbin init: skipped {p}\n" for p in found.problems)
    if found.manifests == 0:
        raise UsageError(
            f"{found.root} is not a Cargo repository: no Cargo.toml in it or below it",
            hint="run `packbin init` at the root of the repository holding your crates, or `cargo new` one first",
        )
    if not found.bins:
        raise UsageError(
            f"no bin targets in the Cargo packages of {found.root}"
            + (f" ({len(found.problems)} manifest(s) skipped, listed above)" if found.problems else ""),
            hint="packbin builds executables: a package needs src/main.rs, src/bin/*.rs or a [[bin]] table",
        )
    chosen = _select(found, req.binaries)
    text = render(found, chosen, repo_name=req.root.resolve().name)
    if req.to_stdout:
        out.write(text)
        out.flush()
        return None
    atomic_write_bytes(dest, text.encode("utf-8"))
    active = _active(chosen)
    out.write(f"packbin init: wrote {dest} with {len(active)} binar{'y' if len(active) == 1 else 'ies'}\n")
    for b in active:
        where = f"pack {_pack_of(b)}" if _pack_of(b) else f"dist/pack-binaries/<arch>/bin/{b.name}"
        out.write(f"  {b.name:<28} {b.manifest}  -> {where}\n")
    out.write("next: `packbin build-pack-binaries --dry-run --arch=all` shows the plan; without --dry-run it builds\n")
    out.flush()
    return dest


def _refuse_inside_a_workspace(root: Path) -> None:
    """A crate directory below a workspace root is not where the file goes: cargo (and so
    packbin's builds) see that crate as part of the workspace above."""
    here = root.resolve()
    for d in here.parents:
        cand = d / "Cargo.toml"
        if cand.is_file() and not cand.is_symlink():
            raise UsageError(
                f"{here} is inside the Cargo repository at {d} (it has {cand})",
                hint=f"run `packbin init` in {d}, the repository root",
            )


def config_for_manifest(
    path: str, binaries: tuple[str, ...], *, cwd: Path, env: Mapping[str, str]
) -> tuple[BuildConfig, tuple[str, ...]]:
    """``build-pack-binaries --manifest PATH``: the configuration and the binaries to build.

    With a buildcfg.toml: that file, and its binaries whose manifest is PATH (UsageError when
    none is). Without one: PATH's bin (or the ``--binary`` ones) with every default, nothing
    written; UsageError naming the bins when the crate has several and none was picked.
    """
    m = Path(path)
    if m.name != "Cargo.toml":
        m = m / "Cargo.toml"
    if not (cwd / m).is_file():
        raise UsageError(f"--manifest {path}: no such file {m}", hint="give the path of a crate's Cargo.toml")
    want = (cwd / m).resolve()
    try:
        cfg_path: Path | None = find_config(cwd, env=env)
    except ConfigError:
        cfg_path = None
    if cfg_path is not None:
        cfg = BuildConfig.load(cfg_path, env=env)
        names = [b.name for b in cfg.binaries if b.manifest.resolve() == want]
        if not names:
            listed = sorted({b.manifest.relative_to(cfg.root).as_posix() for b in cfg.binaries})
            raise UsageError(
                f"--manifest {path}: {cfg_path} configures no binary of that crate",
                hint="its binaries' manifests: "
                + (", ".join(listed) or "none")
                + "; leave --manifest out to build what it lists, or add an entry (`packbin init --print` shows one)",
            )
        for name in binaries:
            if name not in names:
                raise UsageError(
                    f"--binary {name!r}: not a configured binary of {path}{suggest(name, names)}",
                    hint="its configured binaries: " + ", ".join(names),
                )
        return cfg, binaries or tuple(names)
    root = cwd.resolve()
    if not want.is_relative_to(root):
        raise UsageError(
            f"--manifest {path} is outside the working directory {root}",
            hint="run packbin from the repository root that holds the crate (dist/ is written there)",
        )
    _refuse_inside_a_workspace(root)
    rel = want.relative_to(root).as_posix()
    found = discover(root)
    bins = found.in_manifest(rel)
    if not bins:
        why = next((p.problem for p in found.problems if p.path == rel), None)
        raise UsageError(
            f"--manifest {path}: " + (why or "no bin targets in that package"),
            hint="packbin builds executables: src/main.rs, src/bin/*.rs or a [[bin]] table",
        )
    names = sorted({b.name for b in bins})
    for name in binaries:
        if name not in names:
            raise UsageError(
                f"--binary {name!r}: no bin of that name in {rel}{suggest(name, names)}",
                hint="its bins: " + ", ".join(names),
            )
    if not binaries and len(names) > 1:
        raise UsageError(
            f"{rel} has {len(names)} bins: {', '.join(names)}",
            hint="pick them with --binary NAME (repeatable), or run `packbin init` to write a buildcfg.toml listing them",
        )
    chosen = binaries or tuple(names)
    cfg = BuildConfig.for_crate(
        root=root,
        manifest=rel,
        binaries=tuple(
            (n, next(b.package for b in bins if b.name == n) if found.ambiguous(n) else None) for n in chosen
        ),
        env=env,
    )
    return cfg, chosen


def _select(found: Discovery, names: tuple[str, ...]) -> tuple[CargoBin, ...]:
    if not names:
        return found.bins
    known = sorted({b.name for b in found.bins})
    out: list[CargoBin] = []
    for name in names:
        matches = found.named(name)
        if not matches:
            raise UsageError(
                f"--binary {name!r}: no bin of that name in this repository{suggest(name, known)}",
                hint="bins found: " + ", ".join(known),
            )
        out.extend(b for b in matches if b not in out)
    return tuple(sorted(out, key=lambda b: (b.manifest, b.name)))


def _active(bins: tuple[CargoBin, ...]) -> list[CargoBin]:
    """The bins written as entries: buildcfg.toml names each binary once (the first one found wins)."""
    seen: set[str] = set()
    out: list[CargoBin] = []
    for b in bins:
        if b.name not in seen:
            seen.add(b.name)
            out.append(b)
    return out


def _pack_of(b: CargoBin) -> str | None:
    """The pack a crate inside ``packs/<pack>/`` belongs to; None anywhere else."""
    parts = b.manifest.split("/")
    if len(parts) >= 3 and parts[0] == PACKS_DIR and NAME_RE.match(parts[1]) and parts[1].lower() != PACKLESS_DIR:
        return parts[1]
    return None


def _mentions(root: Path, names: set[str]) -> dict[str, str]:
    """bin name -> the first pack file (``packs/<pack>/...``, yaml/json/toml) whose text names it."""
    packs = root / PACKS_DIR
    found: dict[str, str] = {}
    if not names or packs.is_symlink() or not packs.is_dir():
        return found
    seen = 0
    for dirpath, dirnames, filenames in os.walk(packs):  # never follows symlinks
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d not in ("target", "vendor"))
        for fn in sorted(filenames):
            if not fn.endswith(_MENTION_SUFFIXES):
                continue
            seen += 1
            if seen > _MENTION_MAX_FILES:
                return found
            path = Path(dirpath) / fn
            try:
                st = path.lstat()
                if not stat.S_ISREG(st.st_mode) or st.st_size > _MENTION_MAX_BYTES:
                    continue
                text = path.read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            for name in names - found.keys():
                if _names(text, name):
                    found[name] = path.relative_to(root).as_posix()
    return found


def _names(text: str, name: str) -> bool:
    """``name`` occurs in ``text`` as a whole word (not inside a longer name)."""
    start = 0
    word = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")
    while (i := text.find(name, start)) >= 0:
        before = text[i - 1] if i else " "
        after = text[i + len(name)] if i + len(name) < len(text) else " "
        if before not in word and after not in word:
            return True
        start = i + 1
    return False


def _q(value: str) -> str:
    """A TOML basic string."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


_HEADER = """\
# packbin build configuration for {repo}, written by `packbin init`.
# What is built (the [[binaries]] below), for which architectures, and how. Every key and its
# default: {docs}/configuration.md; this file explained: {docs}/your-repository.md
#
#   packbin build-pack-binaries --dry-run --arch=all   # the plan, nothing built
#   packbin build-pack-binaries --arch=all             # static musl binaries for all_arches
#   packbin verify-static dist/pack-binaries           # check them again, any time
#
# Commented-out keys show their defaults.

# Architecture built when --arch is not given. Overridden by the Rust target triple in
# PACK_BINARIES_RUST_TARGET, else RUST_TARGET.
# default_arch = "x86_64"

# What --arch=all builds. Default: x86_64 and arm64, plus every architecture that has its own
# [architectures.NAME] table. --arch may name any built-in architecture (armv7, riscv64, i686,
# ppc64le, s390x; aliases amd64, aarch64 ...), listed here or not.
# all_arches = ["x86_64", "arm64"]

# Architecture installed into packs/ and into Compose volumes: "native" (the Docker engine's own
# platform) or an architecture name.
# deploy_arch = "native"

# Where the pack tree is, and where built binaries land (dist/pack-binaries/<arch>/...).
# packs_dir = "packs"
# dist_dir = "dist"

# false: binaries that have a `pack` stay in dist/ and are not copied into packs/ (for every
# binary here; a [[binaries]] entry may set it too).
# copy_to_packs = true

# Architectures are built in (x86_64, arm64, armv7, riscv64, i686, ppc64le, s390x): a table
# here only says what differs from packbin's, e.g. the engine one architecture builds on:
# [architectures.arm64]
# engine = "ssh://builder@arm64-host"

# How the builder image is made and what builds see (the defaults need no change).
# [builder]
# profile = "auto"            # auto: rustup's image when pullable, else Debian's packages (offline)
# strip = true                # strip the binaries
# cargo_profile = "release"
# [builder.env]               # environment of every build, e.g. for sqlx's offline mode:
# SQLX_OFFLINE = "true"

# One [[binaries]] entry per executable: `name` is the cargo bin (and the file name), `manifest`
# the Cargo.toml of the package that has it (builds use its Cargo.lock: --locked). Delete the
# entries you do not ship. Optional keys:
#   pack = "NAME"          ship it in packs/NAME/<install_path> (without it: dist/pack-binaries/<arch>/bin/<name>)
#   install_path = "..."   where inside the pack (default "sensors/<name>")
#   package = "..."        the cargo package, when several have a bin of that name
#   inputs = [".sqlx"]     files outside the crate that its build reads (relative to this file)
"""


def render(found: Discovery, bins: tuple[CargoBin, ...], *, repo_name: str) -> str:
    """The buildcfg.toml text for ``bins`` (each name once; later duplicates as comments)."""
    lines = [_HEADER.format(repo=repo_name, docs=DOCS_URL)]
    mentions = _mentions(found.root, {b.name for b in bins if _pack_of(b) is None})
    written: dict[str, CargoBin] = {}
    for b in bins:
        lines.append("")
        first = written.get(b.name)
        if first is not None:
            lines.append(
                f"# {b.manifest} (package {b.package}) has a bin {b.name!r} too; buildcfg.toml names each binary"
                " once, so it is left out:"
            )
            lines.extend("# " + line for line in _entry(found, b, mentions))
            continue
        written[b.name] = b
        lines.extend(_entry(found, b, mentions))
    return "\n".join(lines) + "\n"


def _entry(found: Discovery, b: CargoBin, mentions: dict[str, str]) -> list[str]:
    where = "standalone crate" if b.standalone else f"member of the workspace {b.workspace}"
    out = [f"# {b.path} ({where})", "[[binaries]]", f"name = {_q(b.name)}", f"manifest = {_q(b.manifest)}"]
    if found.ambiguous(b.name):
        out.append(f"package = {_q(b.package)}")
    pack = _pack_of(b)
    if pack is not None:
        out.append(f"pack = {_q(pack)}  # the crate is inside {PACKS_DIR}/{pack}/")
        out.append(f"# install_path = {_q('sensors/' + b.name)}")
    else:
        mention = mentions.get(b.name)
        out.append(f"# Without `pack` it lands in dist/pack-binaries/<arch>/bin/{b.name}, outside {PACKS_DIR}/.")
        if mention is not None:
            mpack = mention.split("/")[1]
            out.append(f"# {mention} names this binary; to ship it in that pack:")
            out.append(f"# pack = {_q(mpack)}")
            out.append(f"# install_path = {_q('sensors/' + b.name)}")
        else:
            out.append(f"# pack = {_q('NAME')}  # to ship it in {PACKS_DIR}/NAME/sensors/{b.name}")
    return out
