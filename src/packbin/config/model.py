"""buildcfg.toml -> frozen dataclasses.

The one place that knows the file's keys and their defaults. Unknown keys are rejected with a
"did you mean" suggestion; every error names the file and the key (and, for TOML syntax errors,
the line and column).
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packbin._compat import tomllib
from packbin.arch import Architecture, ElfMachine, machine_label
from packbin.config.engines import EngineChoice, engine_choices, engine_spec_ok
from packbin.config.presets import (
    DEFAULT_ALL,
    ELF_MACHINE_ALIASES,
    PRESETS,
    preset_for_target,
    preset_named,
    preset_names,
    rust_target_problem,
)
from packbin.config.table import NAME_RE as _NAME_RE
from packbin.config.table import Table as _Table
from packbin.config.table import read_config_bytes as _read_config_bytes
from packbin.config.table import suggest as _suggest
from packbin.dist.layout import PACKLESS_DIR
from packbin.errors import ConfigError

CONFIG_NAME = "buildcfg.toml"
#: Environment variables that override the default architecture by Rust target triple.
#: The first one set wins: PACK_BINARIES_RUST_TARGET (the Compose-facing name) beats RUST_TARGET.
TARGET_ENV_VARS = ("PACK_BINARIES_RUST_TARGET", "RUST_TARGET")

PROFILES = ("auto", "rustup", "debian")

_PACKAGE_RE = re.compile(r"^[A-Za-z0-9_-]+$")
_ENV_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True, kw_only=True)
class ProfileConfig:
    """Per-profile builder settings."""

    base_image: str


@dataclass(frozen=True, kw_only=True)
class BuilderConfig:
    """``[builder]``: how the builder image is made and what builds see."""

    profile: str = "auto"
    rustup: ProfileConfig = ProfileConfig(base_image="rust:1.85-slim-bookworm")
    debian: ProfileConfig = ProfileConfig(base_image="debian:bookworm-slim")
    debian_mirror: str = "http://deb.debian.org/debian"
    debian_suite: str = "bookworm"
    ziglang_version: str = "0.17.1"
    cargo_zigbuild_version: str = "0.24.1"
    trust_host_ca: bool = True
    strip: bool = True
    env: tuple[tuple[str, str], ...] = ()
    cargo_profile: str = "release"

    @property
    def env_dict(self) -> dict[str, str]:
        """``[builder.env]`` as a dict, for a container's environment."""
        return dict(self.env)


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


@dataclass(frozen=True, kw_only=True)
class BuildConfig:
    """The whole of buildcfg.toml, resolved against the repository root."""

    source: Path
    root: Path
    #: The configured architectures: ``all_arches`` and every ``[architectures.NAME]`` table.
    architectures: tuple[Architecture, ...]
    default_arch: str
    deploy_arch: str | None  # None: the engine's native architecture
    builder: BuilderConfig
    binaries: tuple[PackBinary, ...]
    packs_dir: Path
    dist_dir: Path
    default_arch_source: str = field(default="buildcfg.toml")
    engines: tuple[EngineChoice, ...] = ()  # architectures not listed build on the default engine
    #: The names ``--arch=all`` builds, resolved by :meth:`arch` (empty: every configured architecture).
    all_arches: tuple[str, ...] = ()
    #: The presets not configured: ``--arch`` may still name them.
    other_presets: tuple[Architecture, ...] = ()

    @property
    def known_architectures(self) -> tuple[Architecture, ...]:
        """The configured architectures, then every other preset."""
        return self.architectures + self.other_presets

    def engine_for(self, arch: Architecture) -> EngineChoice | None:
        """Where ``arch`` builds: its ``engine`` (or ``PACKBIN_ENGINE_<NAME>``); None for the default engine."""
        return next((e for e in self.engines if e.arch == arch.name), None)

    # -- lookups -------------------------------------------------------------------------
    def arch(self, name: str) -> Architecture:
        """Resolve an architecture by name or alias (case-insensitive); ConfigError otherwise."""
        wanted = name.strip().lower()
        for arch in self.known_architectures:
            if wanted in (n.lower() for n in arch.names):
                return arch
        # Suggestions and the hint come from what is configured first, then the other presets.
        configured = [n for a in self.architectures for n in a.names]
        presets = [a.name for a in self.other_presets]
        near = _suggest(wanted, configured) or _suggest(wanted, [n for a in self.other_presets for n in a.names])
        hint = "choose one of: " + ", ".join(configured) + " (or 'all')"
        if presets:
            hint += "; other presets: " + ", ".join(presets)
        raise ConfigError(f"{self.source.name}: unknown architecture {name!r}{near}", hint=hint)

    def arch_for_target(self, triple: str) -> Architecture:
        """The architecture whose Rust target is ``triple``; ConfigError naming the known ones otherwise."""
        for arch in self.known_architectures:
            if arch.rust_target == triple:
                return arch
        known = [a.rust_target for a in self.known_architectures]
        problem = rust_target_problem(triple)
        raise ConfigError(
            f"{self.source.name}: " + (problem or f"Rust target {triple!r} is not configured{_suggest(triple, known)}"),
            hint="known targets: " + ", ".join(known),
        )

    def arch_for_platform(self, platform: str) -> Architecture | None:
        """The architecture whose Docker platform is ``platform`` (configured first, then presets), or None."""
        for arch in self.known_architectures:
            if arch.docker_platform == platform:
                return arch
        return None

    def select_arches(self, spec: str | None) -> tuple[Architecture, ...]:
        """``--arch`` value -> architectures. None: the default; "all": ``all_arches``; commas allowed."""
        if spec is None or spec == "":
            return (self.arch(self.default_arch),)
        if spec.strip().lower() == "all":
            return tuple(self.arch(n) for n in self.all_arches) or self.architectures
        out: list[Architecture] = []
        for part in spec.split(","):
            arch = self.arch(part)
            if arch not in out:
                out.append(arch)
        return tuple(out)

    def select_binaries(self, names: list[str] | tuple[str, ...] | None) -> tuple[PackBinary, ...]:
        """The binaries named (all when none are); ConfigError with a suggestion for an unknown name."""
        if not names:
            return self.binaries
        out: list[PackBinary] = []
        known = [b.name for b in self.binaries]
        for name in names:
            matches = [b for b in self.binaries if b.name == name]
            if not matches:
                raise ConfigError(
                    f"{self.source.name}: unknown binary {name!r}{_suggest(name, known)}",
                    hint="configured: " + ", ".join(known),
                )
            out.extend(m for m in matches if m not in out)
        return tuple(out)

    # -- construction --------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | os.PathLike[str] | None = None, *, env: Mapping[str, str] | None = None) -> BuildConfig:
        """Load ``path`` (default: found by :func:`find_config`) and apply environment overrides."""
        env = os.environ if env is None else env
        source = Path(path) if path is not None else find_config(env=env)
        raw = _read_config_bytes(source)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise ConfigError(f"{source}: not UTF-8 text (byte {e.start})") from e
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"{source}: invalid TOML: {e}") from e
        except RecursionError:
            # tomllib parses nested arrays and inline tables recursively.
            raise ConfigError(f"{source}: invalid TOML: arrays or tables nested too deeply") from None
        return cls.from_dict(data, source=source.resolve(), env=env)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: Path, env: Mapping[str, str]) -> BuildConfig:
        """Check a parsed buildcfg.toml table by table (unknown keys refused) and build the config."""
        root = source.parent
        top = _Table(source, "", data)
        arches_table = top.table("architectures")
        declared = _parse_architectures(arches_table)
        others = _other_presets(declared)
        names = {n.lower(): a for a in (*declared, *others) for n in a.names}
        all_arches = _parse_all_arches(top, declared, names)
        arches = tuple(dict.fromkeys((*all_arches, *declared)))
        others = tuple(a for a in others if a not in arches)
        engines = engine_choices(arches_table, arches + others, env, source)

        default_name = top.get("default_arch", str, (declared or all_arches)[0].name)
        if default_name.lower() not in names:
            raise top.fail(
                "default_arch",
                f"{default_name!r} is not a configured architecture or a preset" + _suggest(default_name, names),
            )
        default_arch = names[default_name.lower()].name
        default_source = f"{source.name} default_arch" if "default_arch" in data else "the built-in default"
        for var in TARGET_ENV_VARS:
            triple = env.get(var, "").strip()
            if triple:
                match = [a for a in (*arches, *others) if a.rust_target == triple]
                if not match:
                    known = [a.rust_target for a in (*arches, *others)]
                    problem = rust_target_problem(triple)
                    raise ConfigError(
                        f"{var}={triple!r}: " + (problem or f"not a configured Rust target{_suggest(triple, known)}"),
                        hint="known targets: " + ", ".join(known) + f" (see [architectures] in {source.name})",
                    )
                default_arch = match[0].name
                default_source = var
                break

        deploy = top.get("deploy_arch", str, "native")
        deploy_arch: str | None = None
        if deploy.lower() != "native":
            if deploy.lower() not in names:
                raise top.fail(
                    "deploy_arch",
                    f"{deploy!r} is not 'native', a configured architecture or a preset" + _suggest(deploy, names),
                )
            deploy_arch = names[deploy.lower()].name

        packs_dir = _rel_dir(top, "packs_dir", "packs", root)
        dist_dir = _rel_dir(top, "dist_dir", "dist", root)
        builder = _parse_builder(top.table("builder"))
        copy_to_packs = top.get("copy_to_packs", bool, True)  # each [[binaries]] may say otherwise
        binaries = _parse_binaries(top, root, packs_dir, copy_to_packs=copy_to_packs)
        top.reject_unknown()
        return cls(
            source=source,
            root=root,
            architectures=arches,
            default_arch=default_arch,
            deploy_arch=deploy_arch,
            builder=builder,
            binaries=binaries,
            packs_dir=packs_dir,
            dist_dir=dist_dir,
            default_arch_source=default_source,
            engines=engines,
            all_arches=tuple(a.name for a in all_arches),
            other_presets=others,
        )

    @classmethod
    def for_crate(
        cls,
        *,
        root: Path,
        manifest: str,
        binaries: tuple[tuple[str, str | None], ...],
        env: Mapping[str, str] | None = None,
    ) -> BuildConfig:
        """A build without buildcfg.toml: these (bin, package) of the crate at ``manifest``
        (relative to ``root``) with every default: x86_64 and arm64, no pack, so each binary
        lands in dist/pack-binaries/<arch>/bin/<name>. Checked as a written file would be."""
        data: dict[str, Any] = {  # architectures: the built-in presets
            "binaries": [
                {"name": name, "manifest": manifest, **({"package": package} if package else {})}
                for name, package in binaries
            ],
        }
        return cls.from_dict(data, source=root.resolve() / CONFIG_NAME, env=os.environ if env is None else env)


def find_config(start: Path | None = None, *, env: Mapping[str, str] | None = None) -> Path:
    """$PACKBIN_CONFIG, else the nearest buildcfg.toml in the working directory or above."""
    env = os.environ if env is None else env
    if env.get("PACKBIN_CONFIG"):
        return Path(env["PACKBIN_CONFIG"])
    here = (start or Path.cwd()).resolve()
    for d in (here, *here.parents):
        candidate = d / CONFIG_NAME
        if candidate.is_file():
            return candidate
    raise ConfigError(
        f"no {CONFIG_NAME} in {here} or any parent directory",
        hint=f"run `packbin init` to write one (or `build-pack-binaries --manifest PATH/Cargo.toml` to build one crate"
        f" without it); run packbin from the repository root, or set PACKBIN_CONFIG=/path/to/{CONFIG_NAME}",
    )


def _rel_dir(table: _Table, name: str, default: str, root: Path) -> Path:
    value = table.get(name, str, default)
    p = Path(value)
    if not value.strip() or p.is_absolute() or ".." in p.parts or p == Path("."):
        raise table.fail(name, f"must be a relative path inside the repository, got {value!r}")
    return root / p


def _parse_machine(t: _Table, default: int | None) -> int:
    value = t.get("elf_machine", (str, int), default, required=default is None)
    if isinstance(value, int):
        if not 0 <= value <= 0xFFFF:
            raise t.fail("elf_machine", f"{value} is not a 16-bit e_machine value")
        return value
    try:
        return int(ElfMachine[value.upper()])
    except KeyError:
        meant = ELF_MACHINE_ALIASES.get(value.upper())
        near = f" (did you mean {meant!r}?)" if meant else _suggest(value, ElfMachine.__members__)
        raise t.fail("elf_machine", f"unknown machine {value!r}" + near + " (or give e_machine as a number)") from None


def _parse_architectures(t: _Table) -> tuple[Architecture, ...]:
    """The ``[architectures.NAME]`` tables, each completed from the preset of its Rust target.

    A table named after a preset (or one of its aliases) needs no key; any other name needs
    ``rust_target``, and a target without a preset needs every key. What a preset knows about
    the ELF files may be left out but not contradicted. The table's name is the architecture's
    name; the preset's names become aliases where no other table uses them.
    """
    arches: list[Architecture] = []
    seen_names: dict[str, str] = {}
    for name in t.data:
        at = t.table(name)
        if not _NAME_RE.match(name) or name.lower() == "all":
            raise t.fail(name, "an architecture name must be letters, digits, '.', '_' or '-', and not 'all'")
        triple = at.get("rust_target", str, None)
        if triple is None:
            preset = preset_named(name)
            if preset is None:
                raise at.fail(
                    "rust_target",
                    f"missing: {name!r} is not a preset{_suggest(name, preset_names())}, so it needs its Rust target triple",
                )
            triple = preset.rust_target
        else:
            problem = rust_target_problem(triple)
            if problem:
                raise at.fail("rust_target", problem)
            preset = preset_for_target(triple)
        # The Rust target selects an architecture (RUST_TARGET, collect, the init images): one each.
        twin = next((a for a in arches if a.rust_target == triple), None)
        if twin is not None:
            raise at.fail("rust_target", f"{triple!r} is already the target of architecture {twin.name!r}")
        elf_machine = _parse_machine(at, preset.elf_machine if preset else None)
        elf_class = at.get("elf_class", int, preset.elf_class if preset else None, required=preset is None)
        if elf_class not in (32, 64):
            raise at.fail("elf_class", f"must be 32 or 64, got {elf_class}")
        order = at.get("byte_order", str, preset.byte_order if preset else None, required=preset is None)
        if order not in ("little", "big"):
            raise at.fail(
                "byte_order", f"must be 'little' or 'big', got {order!r}" + _suggest(order, ("little", "big"))
            )
        if preset is not None:
            for key, given, want in (
                ("elf_machine", machine_label(elf_machine), machine_label(preset.elf_machine)),
                ("elf_class", elf_class, preset.elf_class),
                ("byte_order", order, preset.byte_order),
            ):
                if given != want:
                    raise at.fail(
                        key,
                        f"{given!r} contradicts rust_target {triple!r}, whose executables are {want!r} "
                        f"(leave {key} out: the {preset.name} preset knows it)",
                    )
        docker_platform = at.get(
            "docker_platform", str, preset.docker_platform if preset else None, required=preset is None
        )
        engine = at.get("engine", str, "")
        if engine and not engine_spec_ok(engine):
            raise at.fail("engine", f"{engine!r} is not a docker context name or a unix://, tcp:// or ssh:// endpoint")
        aliases = at.str_list("aliases")
        at.reject_unknown()
        for alias in aliases:
            if not _NAME_RE.match(alias) or alias.lower() == "all":
                raise at.fail(
                    "aliases",
                    f"{alias!r} is not a valid alias (letters, digits, '.', '_' or '-'; not 'all', which means every architecture)",
                )
        for n in (name, *aliases):
            if n.lower() in seen_names:
                raise at.fail(
                    "aliases" if n != name else name, f"{n!r} already names architecture {seen_names[n.lower()]!r}"
                )
            seen_names[n.lower()] = name
        arches.append(
            Architecture(
                name=name,
                aliases=aliases,
                rust_target=triple,
                docker_platform=docker_platform,
                elf_machine=elf_machine,
                elf_class=elf_class,
                byte_order=order,
                e_flags=preset.e_flags if preset else (),
            )
        )
    # A preset's own names become aliases of the table that configures it, unless a table uses
    # them (a user's name always wins over a preset's).
    taken = set(seen_names)
    out: list[Architecture] = []
    for arch in arches:
        preset = preset_for_target(arch.rust_target)
        extra = [n for n in (preset.names if preset else ()) if n.lower() not in taken]
        taken.update(n.lower() for n in extra)
        out.append(dataclasses.replace(arch, aliases=(*arch.aliases, *extra)) if extra else arch)
    return tuple(out)


def _other_presets(declared: tuple[Architecture, ...]) -> tuple[Architecture, ...]:
    """The presets no table configures: their triple unused and their name free (aliases a
    table took are dropped from them)."""
    taken = {n.lower() for a in declared for n in a.names}
    triples = {a.rust_target for a in declared}
    out: list[Architecture] = []
    for preset in PRESETS:
        if preset.rust_target in triples or preset.name.lower() in taken:
            continue
        aliases = tuple(n for n in preset.aliases if n.lower() not in taken)
        out.append(dataclasses.replace(preset, aliases=aliases) if aliases != preset.aliases else preset)
    return tuple(out)


def _parse_all_arches(
    top: _Table, declared: tuple[Architecture, ...], names: Mapping[str, Architecture]
) -> tuple[Architecture, ...]:
    """``all_arches``: what ``--arch=all`` builds. Default: x86_64 and arm64, then every table."""
    default = [a for a in (names[n] for n in DEFAULT_ALL if n in names)]
    if "all_arches" not in top.data:
        return tuple(dict.fromkeys((*default, *declared)))
    listed = top.str_list("all_arches")
    if not listed:
        raise top.fail("all_arches", "must name at least one architecture")
    out: list[Architecture] = []
    for entry in listed:
        arch = names.get(entry.strip().lower())
        if arch is None:
            raise top.fail(
                "all_arches", f"{entry!r} is not a configured architecture or a preset" + _suggest(entry, names)
            )
        if arch in out:
            raise top.fail("all_arches", f"{entry!r} names {arch.name!r}, which is already listed")
        out.append(arch)
    return tuple(out)


def _parse_builder(t: _Table) -> BuilderConfig:
    d = BuilderConfig()
    profile = t.get("profile", str, d.profile)
    if profile not in PROFILES:
        raise t.fail("profile", f"must be one of {', '.join(PROFILES)}, got {profile!r}" + _suggest(profile, PROFILES))
    rt = t.table("rustup")
    rustup = ProfileConfig(base_image=rt.get("base_image", str, d.rustup.base_image))
    rt.reject_unknown()
    dt = t.table("debian")
    debian = ProfileConfig(base_image=dt.get("base_image", str, d.debian.base_image))
    mirror = dt.get("mirror", str, "auto")
    suite = dt.get("suite", str, d.debian_suite)
    dt.reject_unknown()
    if mirror == "auto":  # the host apt's Debian mirror (an internal one where there is one)
        from packbin.config.apt_sources import host_debian_mirror

        mirror = host_debian_mirror()
    if not re.match(r"^https?://", mirror):
        raise dt.fail("mirror", f"must be an http:// or https:// URL, got {mirror!r}")
    env_table = t.table("env")
    env: list[tuple[str, str]] = []
    for key in env_table.data:
        value = env_table.get(key, (str, int, bool))
        if not _ENV_RE.match(key):
            raise env_table.fail(key, "not a valid environment variable name")
        env.append((key, str(value).lower() if isinstance(value, bool) else str(value)))
    cargo_profile = t.get("cargo_profile", str, d.cargo_profile)
    if not _NAME_RE.match(cargo_profile):
        raise t.fail("cargo_profile", f"not a valid cargo profile name: {cargo_profile!r}")
    cfg = BuilderConfig(
        profile=profile,
        rustup=rustup,
        debian=debian,
        debian_mirror=mirror,
        debian_suite=suite,
        ziglang_version=t.get("ziglang_version", str, d.ziglang_version),
        cargo_zigbuild_version=t.get("cargo_zigbuild_version", str, d.cargo_zigbuild_version),
        trust_host_ca=t.get("trust_host_ca", bool, d.trust_host_ca),
        strip=t.get("strip", bool, d.strip),
        env=tuple(sorted(env)),
        cargo_profile=cargo_profile,
    )
    t.reject_unknown()
    return cfg


def _parse_binaries(top: _Table, root: Path, packs_dir: Path, *, copy_to_packs: bool = True) -> tuple[PackBinary, ...]:
    top.seen.add("binaries")
    raw = top.data.get("binaries", [])
    if not isinstance(raw, list):
        raise top.fail("binaries", "must be an array of tables ([[binaries]])")
    out: list[PackBinary] = []
    for i, item in enumerate(raw):
        bt = _Table(top.source, f"binaries[{i}]", item)
        name = bt.get("name", str, required=True)
        if not _NAME_RE.match(name):
            raise bt.fail("name", f"not a valid binary name: {name!r}")
        pack = bt.get("pack", str, None)
        if pack is not None and not _NAME_RE.match(pack):
            raise bt.fail("pack", f"not a valid pack name: {pack!r}")
        if pack is not None and pack.lower() == PACKLESS_DIR:
            # dist/pack-binaries/<arch>/bin/ holds the binaries without a pack: a pack of that name would mix with them.
            raise bt.fail(
                "pack",
                f"{pack!r} is reserved: dist/pack-binaries/<arch>/{PACKLESS_DIR}/ holds the binaries without a pack; "
                "choose another pack name (or leave pack out to install the binary there)",
            )
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
        if any(b.name == name for b in out):
            raise bt.fail("name", f"binary {name!r} is declared twice")
        clash = next((b for b in out if pack is not None and b.pack == pack and b.install_path == ip.as_posix()), None)
        if clash is not None:
            raise bt.fail("install_path", f"{pack}/{ip.as_posix()} is already where binary {clash.name!r} goes")
        out.append(
            PackBinary(
                name=name,
                pack=pack,
                manifest=manifest,
                install_path=ip.as_posix(),
                package=package,
                inputs=tuple(inputs),
                copy_to_packs=copy,
            )
        )
    return tuple(out)


def builtin_config(root: Path | None = None) -> BuildConfig:
    """A configuration with every preset configured and no binaries (verify-static outside a repository)."""
    root = (root or Path.cwd()).resolve()
    data = {"all_arches": [a.name for a in PRESETS]}
    return BuildConfig.from_dict(data, source=root / "(built-in)", env={})
