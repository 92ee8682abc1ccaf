"""buildcfg.toml -> frozen dataclasses.

The one place that knows the file's keys and their defaults. Unknown keys are rejected with a
"did you mean" suggestion; every error names the file and the key (and, for TOML syntax errors,
the line and column).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packbin._compat import tomllib
from packbin.arch import Architecture, ElfMachine
from packbin.config_engines import EngineChoice, engine_choices, engine_spec_ok
from packbin.errors import ConfigError
from packbin.toml_table import NAME_RE as _NAME_RE
from packbin.toml_table import Table as _Table
from packbin.toml_table import read_config_bytes as _read_config_bytes
from packbin.toml_table import suggest as _suggest

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
    """``[[binaries]]``: one executable a pack ships."""

    name: str  # the cargo bin name, also the file name
    pack: str
    manifest: Path  # absolute path of the crate's Cargo.toml
    install_path: str  # POSIX path inside the pack, e.g. sensors/attune-core-timer-sensor
    package: str | None = None  # the cargo package owning the bin, when the bin name alone is ambiguous
    inputs: tuple[str, ...] = ()  # extra files/dirs (POSIX, relative to the repository root) the build reads

    @property
    def crate_dir(self) -> Path:
        """The directory of the binary's Cargo.toml."""
        return self.manifest.parent


@dataclass(frozen=True, kw_only=True)
class BuildConfig:
    """The whole of buildcfg.toml, resolved against the repository root."""

    source: Path
    root: Path
    architectures: tuple[Architecture, ...]
    default_arch: str
    deploy_arch: str | None  # None: the engine's native architecture
    builder: BuilderConfig
    binaries: tuple[PackBinary, ...]
    packs_dir: Path
    dist_dir: Path
    default_arch_source: str = field(default="buildcfg.toml")
    engines: tuple[EngineChoice, ...] = ()  # architectures not listed build on the default engine

    def engine_for(self, arch: Architecture) -> EngineChoice | None:
        """Where ``arch`` builds: its ``engine`` (or ``PACKBIN_ENGINE_<NAME>``); None for the default engine."""
        return next((e for e in self.engines if e.arch == arch.name), None)

    # -- lookups -------------------------------------------------------------------------
    def arch(self, name: str) -> Architecture:
        """Resolve an architecture by name or alias (case-insensitive); ConfigError otherwise."""
        wanted = name.strip().lower()
        for arch in self.architectures:
            if wanted in (n.lower() for n in arch.names):
                return arch
        known = [n for a in self.architectures for n in a.names]
        raise ConfigError(
            f"{self.source.name}: unknown architecture {name!r}{_suggest(wanted, known)}",
            hint="choose one of: " + ", ".join(known) + " (or 'all')",
        )

    def arch_for_target(self, triple: str) -> Architecture:
        """The architecture whose Rust target is ``triple``; ConfigError naming the known ones otherwise."""
        for arch in self.architectures:
            if arch.rust_target == triple:
                return arch
        known = [a.rust_target for a in self.architectures]
        raise ConfigError(
            f"{self.source.name}: unknown Rust target {triple!r}{_suggest(triple, known)}",
            hint="configured targets: " + ", ".join(known),
        )

    def arch_for_platform(self, platform: str) -> Architecture | None:
        """The architecture whose Docker platform is ``platform``, or None."""
        for arch in self.architectures:
            if arch.docker_platform == platform:
                return arch
        return None

    def select_arches(self, spec: str | None) -> tuple[Architecture, ...]:
        """``--arch`` value -> architectures. None: the default; "all": every one; commas allowed."""
        if spec is None or spec == "":
            return (self.arch(self.default_arch),)
        if spec.strip().lower() == "all":
            return self.architectures
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
        arches = _parse_architectures(arches_table)
        engines = engine_choices(arches_table, arches, env, source)
        names = {n.lower(): a for a in arches for n in a.names}

        default_name = top.get("default_arch", str, arches[0].name)
        if default_name.lower() not in names:
            raise top.fail(
                "default_arch", f"{default_name!r} is not a configured architecture" + _suggest(default_name, names)
            )
        default_arch = names[default_name.lower()].name
        default_source = f"{source.name} default_arch" if "default_arch" in data else "the built-in default"
        for var in TARGET_ENV_VARS:
            triple = env.get(var, "").strip()
            if triple:
                match = [a for a in arches if a.rust_target == triple]
                if not match:
                    known = [a.rust_target for a in arches]
                    raise ConfigError(
                        f"{var}={triple!r} is not a configured Rust target{_suggest(triple, known)}",
                        hint="configured targets: " + ", ".join(known) + f" (see [architectures] in {source.name})",
                    )
                default_arch = match[0].name
                default_source = var
                break

        deploy = top.get("deploy_arch", str, "native")
        deploy_arch: str | None = None
        if deploy.lower() != "native":
            if deploy.lower() not in names:
                raise top.fail(
                    "deploy_arch", f"{deploy!r} is not 'native' or a configured architecture" + _suggest(deploy, names)
                )
            deploy_arch = names[deploy.lower()].name

        packs_dir = _rel_dir(top, "packs_dir", "packs", root)
        dist_dir = _rel_dir(top, "dist_dir", "dist", root)
        builder = _parse_builder(top.table("builder"))
        binaries = _parse_binaries(top, root, packs_dir)
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
        )


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
        hint=f"run packbin from the repository root, or set PACKBIN_CONFIG=/path/to/{CONFIG_NAME}",
    )


def _rel_dir(table: _Table, name: str, default: str, root: Path) -> Path:
    value = table.get(name, str, default)
    p = Path(value)
    if not value.strip() or p.is_absolute() or ".." in p.parts or p == Path("."):
        raise table.fail(name, f"must be a relative path inside the repository, got {value!r}")
    return root / p


def _parse_machine(t: _Table) -> int:
    value = t.get("elf_machine", (str, int), required=True)
    if isinstance(value, int):
        if not 0 <= value <= 0xFFFF:
            raise t.fail("elf_machine", f"{value} is not a 16-bit e_machine value")
        return value
    try:
        return int(ElfMachine[value.upper()])
    except KeyError:
        raise t.fail(
            "elf_machine",
            f"unknown machine {value!r}" + _suggest(value, ElfMachine.__members__) + " (or give e_machine as a number)",
        ) from None


def _parse_architectures(t: _Table) -> tuple[Architecture, ...]:
    if not t.data:
        raise ConfigError(f"{t.source}: [architectures] must declare at least one architecture")
    arches: list[Architecture] = []
    seen_names: dict[str, str] = {}
    for name in t.data:
        at = t.table(name)
        if not _NAME_RE.match(name) or name.lower() == "all":
            raise t.fail(name, "an architecture name must be letters, digits, '.', '_' or '-', and not 'all'")
        elf_class = at.get("elf_class", int, required=True)
        if elf_class not in (32, 64):
            raise at.fail("elf_class", f"must be 32 or 64, got {elf_class}")
        order = at.get("byte_order", str, required=True)
        if order not in ("little", "big"):
            raise at.fail(
                "byte_order", f"must be 'little' or 'big', got {order!r}" + _suggest(order, ("little", "big"))
            )
        engine = at.get("engine", str, "")
        if engine and not engine_spec_ok(engine):
            raise at.fail("engine", f"{engine!r} is not a docker context name or a unix://, tcp:// or ssh:// endpoint")
        arch = Architecture(
            name=name,
            aliases=at.str_list("aliases"),
            rust_target=at.get("rust_target", str, required=True),
            docker_platform=at.get("docker_platform", str, required=True),
            elf_machine=_parse_machine(at),
            elf_class=elf_class,
            byte_order=order,
        )
        at.reject_unknown()
        for alias in arch.aliases:
            if not _NAME_RE.match(alias) or alias.lower() == "all":
                raise at.fail(
                    "aliases",
                    f"{alias!r} is not a valid alias (letters, digits, '.', '_' or '-'; not 'all', which means every architecture)",
                )
        for n in arch.names:
            if n.lower() in seen_names:
                raise at.fail(
                    "aliases" if n != name else name, f"{n!r} already names architecture {seen_names[n.lower()]!r}"
                )
            seen_names[n.lower()] = name
        # The Rust target selects an architecture (RUST_TARGET, collect, the init images): one each.
        twin = next((a for a in arches if a.rust_target == arch.rust_target), None)
        if twin is not None:
            raise at.fail("rust_target", f"{arch.rust_target!r} is already the target of architecture {twin.name!r}")
        arches.append(arch)
    return tuple(arches)


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
        from packbin.apt_sources import host_debian_mirror

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


def _parse_binaries(top: _Table, root: Path, packs_dir: Path) -> tuple[PackBinary, ...]:
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
        pack = bt.get("pack", str, required=True)
        if not _NAME_RE.match(pack):
            raise bt.fail("pack", f"not a valid pack name: {pack!r}")
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
        install_path = bt.get("install_path", str, f"sensors/{name}")
        ip = Path(install_path)
        if ip.is_absolute() or ".." in ip.parts or install_path.endswith("/") or not ip.parts:
            raise bt.fail("install_path", f"must be a relative file path inside the pack, got {install_path!r}")
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
        clash = next((b for b in out if b.pack == pack and b.install_path == ip.as_posix()), None)
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
            )
        )
    return tuple(out)


#: Architectures known without a buildcfg.toml (verify-static outside a repository).
BUILTIN_ARCHITECTURES = """
[architectures.x86_64]
aliases = ["amd64", "x86-64", "x64"]
rust_target = "x86_64-unknown-linux-musl"
docker_platform = "linux/amd64"
elf_machine = "EM_X86_64"
elf_class = 64
byte_order = "little"
[architectures.arm64]
aliases = ["aarch64", "arm64v8"]
rust_target = "aarch64-unknown-linux-musl"
docker_platform = "linux/arm64"
elf_machine = "EM_AARCH64"
elf_class = 64
byte_order = "little"
[architectures.i386]
aliases = ["x86", "i686", "386"]
rust_target = "i686-unknown-linux-musl"
docker_platform = "linux/386"
elf_machine = "EM_386"
elf_class = 32
byte_order = "little"
[architectures.arm]
aliases = ["armv7", "armhf", "arm32v7"]
rust_target = "armv7-unknown-linux-musleabihf"
docker_platform = "linux/arm/v7"
elf_machine = "EM_ARM"
elf_class = 32
byte_order = "little"
[architectures.riscv64]
aliases = []
rust_target = "riscv64gc-unknown-linux-musl"
docker_platform = "linux/riscv64"
elf_machine = "EM_RISCV"
elf_class = 64
byte_order = "little"
[architectures.ppc64le]
aliases = ["powerpc64le"]
rust_target = "powerpc64le-unknown-linux-musl"
docker_platform = "linux/ppc64le"
elf_machine = "EM_PPC64"
elf_class = 64
byte_order = "little"
[architectures.s390x]
aliases = []
rust_target = "s390x-unknown-linux-musl"
docker_platform = "linux/s390x"
elf_machine = "EM_S390"
elf_class = 64
byte_order = "big"
"""


def builtin_config(root: Path | None = None) -> BuildConfig:
    """A configuration with the built-in architectures and no binaries."""
    root = (root or Path.cwd()).resolve()
    data = tomllib.loads(BUILTIN_ARCHITECTURES)
    return BuildConfig.from_dict(data, source=root / "(built-in)", env={})
