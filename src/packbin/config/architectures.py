"""``[architectures.NAME]`` and ``all_arches``: buildcfg.toml's tables -> :class:`Architecture` values.

A table named after a preset needs no key; any other needs its Rust target; a target without a
preset needs every key. The presets no table configures stay nameable (``other_presets``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from packbin.arch import Architecture, ElfMachine, machine_label
from packbin.config.engines import engine_spec_ok
from packbin.config.presets import (
    DEFAULT_ALL,
    ELF_MACHINE_ALIASES,
    PRESETS,
    preset_for_target,
    preset_named,
    preset_names,
    rust_target_problem,
)
from packbin.config.table import NAME_RE, Table, suggest


def parse_architectures(t: Table) -> tuple[Architecture, ...]:
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
        if not NAME_RE.match(name) or name.lower() == "all":
            raise t.fail(name, "an architecture name must be letters, digits, '.', '_' or '-', and not 'all'")
        triple, preset = _target_and_preset(at, name)
        # The Rust target selects an architecture (RUST_TARGET, collect, the init images): one each.
        twin = next((a for a in arches if a.rust_target == triple), None)
        if twin is not None:
            raise at.fail("rust_target", f"{triple!r} is already the target of architecture {twin.name!r}")
        elf_machine, elf_class, order = _elf_identity(at, triple, preset)
        docker_platform = at.get(
            "docker_platform", str, preset.docker_platform if preset else None, required=preset is None
        )
        engine = at.get("engine", str, "")
        if engine and not engine_spec_ok(engine):
            raise at.fail("engine", f"{engine!r} is not a docker context name or a unix://, tcp:// or ssh:// endpoint")
        aliases = at.str_list("aliases")
        at.reject_unknown()
        _claim_names(at, name, aliases, seen_names)
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
    return _with_preset_names(arches, set(seen_names))


def _target_and_preset(at: Table, name: str) -> tuple[str, Architecture | None]:
    """The table's Rust target (its preset's when left out) and the preset of that target."""
    triple = at.get("rust_target", str, None)
    if triple is None:
        preset = preset_named(name)
        if preset is None:
            raise at.fail(
                "rust_target",
                f"missing: {name!r} is not a preset{suggest(name, preset_names())}, so it needs its Rust target triple",
            )
        return preset.rust_target, preset
    problem = rust_target_problem(triple)
    if problem:
        raise at.fail("rust_target", problem)
    return triple, preset_for_target(triple)


def _elf_identity(at: Table, triple: str, preset: Architecture | None) -> tuple[int, int, str]:
    """(e_machine, ELF class, byte order): given or the preset's, never contradicting the preset."""
    elf_machine = _parse_machine(at, preset.elf_machine if preset else None)
    elf_class = at.get("elf_class", int, preset.elf_class if preset else None, required=preset is None)
    if elf_class not in (32, 64):
        raise at.fail("elf_class", f"must be 32 or 64, got {elf_class}")
    order = at.get("byte_order", str, preset.byte_order if preset else None, required=preset is None)
    if order not in ("little", "big"):
        raise at.fail("byte_order", f"must be 'little' or 'big', got {order!r}" + suggest(order, ("little", "big")))
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
    return elf_machine, elf_class, order


def _claim_names(at: Table, name: str, aliases: tuple[str, ...], seen_names: dict[str, str]) -> None:
    """Check the aliases and record the table's names in ``seen_names``: each names one architecture."""
    for alias in aliases:
        if not NAME_RE.match(alias) or alias.lower() == "all":
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


def _with_preset_names(arches: list[Architecture], taken: set[str]) -> tuple[Architecture, ...]:
    """A preset's own names become aliases of the table that configures it, unless a table uses
    them (a user's name always wins over a preset's)."""
    out: list[Architecture] = []
    for arch in arches:
        preset = preset_for_target(arch.rust_target)
        extra = [n for n in (preset.names if preset else ()) if n.lower() not in taken]
        taken.update(n.lower() for n in extra)
        out.append(dataclasses.replace(arch, aliases=(*arch.aliases, *extra)) if extra else arch)
    return tuple(out)


def _parse_machine(t: Table, default: int | None) -> int:
    value = t.get("elf_machine", (str, int), default, required=default is None)
    if isinstance(value, int):
        if not 0 <= value <= 0xFFFF:
            raise t.fail("elf_machine", f"{value} is not a 16-bit e_machine value")
        return value
    try:
        return int(ElfMachine[value.upper()])
    except KeyError:
        meant = ELF_MACHINE_ALIASES.get(value.upper())
        near = f" (did you mean {meant!r}?)" if meant else suggest(value, ElfMachine.__members__)
        raise t.fail("elf_machine", f"unknown machine {value!r}" + near + " (or give e_machine as a number)") from None


def other_presets(declared: tuple[Architecture, ...]) -> tuple[Architecture, ...]:
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


def parse_all_arches(
    top: Table, declared: tuple[Architecture, ...], names: Mapping[str, Architecture]
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
                "all_arches", f"{entry!r} is not a configured architecture or a preset" + suggest(entry, names)
            )
        if arch in out:
            raise top.fail("all_arches", f"{entry!r} names {arch.name!r}, which is already listed")
        out.append(arch)
    return tuple(out)


__all__ = ["other_presets", "parse_all_arches", "parse_architectures"]
