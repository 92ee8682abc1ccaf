"""buildcfg.toml -> frozen dataclasses: :class:`BuildConfig`, read (``BuildConfig.load``) and
checked table by table (``architectures``, ``builder``, ``binaries`` parse their parts).

The one place that knows the file's top-level keys and their defaults. Unknown keys are rejected with a
"did you mean" suggestion; every error names the file and the key (and, for TOML syntax errors,
the line and column).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packbin._compat import tomllib
from packbin.arch import Architecture
from packbin.config.architectures import other_presets, parse_all_arches, parse_architectures
from packbin.config.binaries import PACKLESS_DIR, PackBinary, parse_binaries
from packbin.config.builder import PROFILES, BuilderConfig, ProfileConfig, parse_builder
from packbin.config.c_libraries import C_LIBRARIES, CLibrary, parse_c_libraries
from packbin.config.engines import EngineChoice, engine_choices
from packbin.config.presets import PRESETS, rust_target_problem
from packbin.config.table import Table as _Table
from packbin.config.table import read_config_bytes as _read_config_bytes
from packbin.config.table import suggest as _suggest
from packbin.errors import ConfigError

CONFIG_NAME = "buildcfg.toml"
#: Environment variables that override the default architecture by Rust target triple.
#: The first one set wins: PACK_BINARIES_RUST_TARGET (the Compose-facing name) beats RUST_TARGET.
TARGET_ENV_VARS = ("PACK_BINARIES_RUST_TARGET", "RUST_TARGET")


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
    #: ``[[c_libraries]]``: the C libraries built for each target's sysroot, in the order written.
    c_libraries: tuple[CLibrary, ...] = ()

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
        declared = parse_architectures(arches_table)
        others = other_presets(declared)
        names = {n.lower(): a for a in (*declared, *others) for n in a.names}
        all_arches = parse_all_arches(top, declared, names)
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
        builder = parse_builder(top.table("builder"))
        copy_to_packs = top.get("copy_to_packs", bool, True)  # each [[binaries]] may say otherwise
        binaries = parse_binaries(top, root, copy_to_packs=copy_to_packs)
        c_libraries = parse_c_libraries(top)
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
            c_libraries=c_libraries,
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


def builtin_config(root: Path | None = None) -> BuildConfig:
    """A configuration with every preset configured and no binaries (verify-static outside a repository)."""
    root = (root or Path.cwd()).resolve()
    data = {"all_arches": [a.name for a in PRESETS]}
    return BuildConfig.from_dict(data, source=root / "(built-in)", env={})


__all__ = [
    "CONFIG_NAME",
    "C_LIBRARIES",
    "PACKLESS_DIR",
    "PROFILES",
    "TARGET_ENV_VARS",
    "BuildConfig",
    "BuilderConfig",
    "CLibrary",
    "PackBinary",
    "ProfileConfig",
    "builtin_config",
    "find_config",
]
