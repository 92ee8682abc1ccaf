"""Architecture presets: the table, buildcfg.toml without (or with partial) [architectures] tables,
the config-time checks, and the e_flags part of the static policy on real files.

The ELF files are real: zig cc builds them (tests/support/elf_fixtures.py, cached), readelf
cross-checks what the parser reads. Bytes are patched only for what zig cannot make: an ELFv1
ppc64le header and an ARM file of no EABI version (both corrupt for their preset).
"""

from __future__ import annotations

import os
import re
import struct
import subprocess
from pathlib import Path

import pytest

from packbin.config.model import BuildConfig, builtin_config
from packbin.config.presets import (
    ARM_HARD_FLOAT,
    PRESETS,
    QEMU_USER,
    RUST_MUSL_TARGETS,
    preset_for_target,
    preset_named,
)
from packbin.elf.parser import parse_elf
from packbin.elf.policy import static_problems
from packbin.errors import ConfigError
from tests.support.elf_fixtures import abi_variant, elf_fixture
from tests.support.repo import copy_repo, packbin, without_architecture_tables

REPO = Path(__file__).resolve().parents[2]
PRESET_NAMES = [a.name for a in PRESETS]
#: preset -> the fixture arch whose zig files are that preset's (tests/support/elf_fixtures.py).
FIXTURE_ARCH = {
    "x86_64": "x86_64",
    "arm64": "arm64",
    "armv7": "arm",
    "riscv64": "riscv64",
    "i686": "i386",
    "ppc64le": "ppc64le",
    "s390x": "s390x",
}
BINARY = """
[[binaries]]
name = "attune-core-timer-sensor"
pack = "core"
manifest = "crate/Cargo.toml"
"""


def load(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> BuildConfig:
    """buildcfg.toml ``text`` in a throwaway repository with one crate at crate/."""
    (tmp_path / "crate").mkdir(exist_ok=True)
    (tmp_path / "crate" / "Cargo.toml").write_text('[package]\nname = "s"\nversion = "0.1.0"\n')
    (tmp_path / "buildcfg.toml").write_text(text)
    return BuildConfig.load(tmp_path / "buildcfg.toml", env=env or {})


def refused(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, text, env)
    assert info.value.exit_code == 2
    return str(info.value)


# -- the table ---------------------------------------------------------------------------


def test_preset_names_and_aliases_are_the_agreed_ones() -> None:
    assert {a.name: a.aliases for a in PRESETS} == {
        "x86_64": ("amd64", "x86-64", "x64"),
        "arm64": ("aarch64", "arm64v8"),
        "armv7": ("arm", "armhf", "arm32v7"),
        "riscv64": (),
        "i686": ("i386", "x86", "386"),
        "ppc64le": ("powerpc64le",),
        "s390x": (),
    }
    assert {a.name: a.rust_target for a in PRESETS} == {
        "x86_64": "x86_64-unknown-linux-musl",
        "arm64": "aarch64-unknown-linux-musl",
        "armv7": "armv7-unknown-linux-musleabihf",
        "riscv64": "riscv64gc-unknown-linux-musl",
        "i686": "i686-unknown-linux-musl",
        "ppc64le": "powerpc64le-unknown-linux-musl",
        "s390x": "s390x-unknown-linux-musl",
    }
    names = [n.lower() for a in PRESETS for n in a.names]
    assert len(names) == len(set(names))
    assert set(QEMU_USER) == set(PRESET_NAMES)


def test_every_preset_triple_is_a_rust_musl_target() -> None:
    rustc = subprocess.run(["rustc", "--print", "target-list"], capture_output=True, text=True, check=False)
    listed = set(rustc.stdout.split()) if rustc.returncode == 0 else RUST_MUSL_TARGETS
    for a in PRESETS:
        assert a.rust_target in RUST_MUSL_TARGETS and a.rust_target in listed
        assert preset_for_target(a.rust_target) is a
        for n in a.names:
            assert preset_named(n.upper()) is a


def test_the_repository_config_tables_equal_the_presets() -> None:
    cfg = BuildConfig.load(REPO / "buildcfg.toml", env={})
    for arch in cfg.architectures:
        assert arch == preset_named(arch.name)


def test_builtin_config_is_the_presets(tmp_path: Path) -> None:
    assert builtin_config(tmp_path).architectures == PRESETS


# -- buildcfg.toml without, or with partial, [architectures] tables -------------------------


def test_no_table_knows_every_preset_and_all_builds_x86_64_and_arm64(tmp_path: Path) -> None:
    cfg = load(tmp_path, BINARY)
    assert [a.name for a in cfg.select_arches("all")] == ["x86_64", "arm64"]
    assert cfg.arch("amd64").name == "x86_64"
    assert cfg.select_arches("amd64,aarch64,armhf,riscv64,386,ppc64le,s390x") == tuple(
        preset_named(n) for n in ("x86_64", "arm64", "armv7", "riscv64", "i686", "ppc64le", "s390x")
    )
    assert cfg.default_arch == "x86_64"


def test_unknown_arch_suggests_configured_names_first(tmp_path: Path) -> None:
    cfg = load(tmp_path, BINARY)
    with pytest.raises(ConfigError) as info:
        cfg.arch("amd46")
    assert "(did you mean 'amd64'?)" in info.value.message
    with pytest.raises(ConfigError) as info:
        cfg.arch("riscv46")
    assert "(did you mean 'riscv64'?)" in info.value.message
    assert info.value.hint is not None and "other presets: armv7, riscv64, i686, ppc64le, s390x" in info.value.hint


def test_a_table_joins_all_and_overrides_only_what_it_names(tmp_path: Path) -> None:
    cfg = load(tmp_path, '[architectures.armv7]\nengine = "tcp://arm-box:2375"\naliases = ["pi"]\n' + BINARY)
    assert [a.name for a in cfg.select_arches("all")] == ["x86_64", "arm64", "armv7"]
    armv7 = cfg.arch("pi")
    preset = preset_named("armv7")
    assert preset is not None
    assert armv7.aliases == ("pi", "arm", "armhf", "arm32v7")
    assert (armv7.rust_target, armv7.elf_machine, armv7.e_flags) == (
        preset.rust_target,
        preset.elf_machine,
        preset.e_flags,
    )
    assert [(e.arch, e.spec) for e in cfg.engines] == [("armv7", "tcp://arm-box:2375")]
    # Without a table, an engine still reaches a preset through its variable.
    env = {"PACKBIN_ENGINE_RISCV64": "tcp://rv-box:2375"}
    assert [(e.arch, e.spec) for e in load(tmp_path, BINARY, env).engines] == [("riscv64", "tcp://rv-box:2375")]


def test_a_new_name_takes_everything_from_its_triple(tmp_path: Path) -> None:
    cfg = load(tmp_path, '[architectures.pi]\nrust_target = "armv7-unknown-linux-musleabihf"\n' + BINARY)
    pi = cfg.arch("armv7")
    assert pi.name == "pi" and pi.aliases == ("armv7", "arm", "armhf", "arm32v7")
    assert cfg.arch("armhf") is pi
    assert "armv7" not in [a.name for a in cfg.other_presets]
    assert cfg.default_arch == "pi"  # the first table, as before presets


def test_all_arches_names_what_all_builds(tmp_path: Path) -> None:
    cfg = load(tmp_path, 'all_arches = ["amd64", "riscv64", "ppc64le"]\n[architectures.s390x]\n' + BINARY)
    assert [a.name for a in cfg.select_arches("all")] == ["x86_64", "riscv64", "ppc64le"]
    assert [a.name for a in cfg.architectures] == ["x86_64", "riscv64", "ppc64le", "s390x"]
    assert "all_arches: 'riscv46' is not a configured architecture or a preset (did you mean 'riscv64'?)" in refused(
        tmp_path, 'all_arches = ["riscv46"]\n' + BINARY
    )
    assert "all_arches: 'x64' names 'x86_64', which is already listed" in refused(
        tmp_path, 'all_arches = ["x86_64", "x64"]\n' + BINARY
    )


def test_default_deploy_and_rust_target_resolve_against_presets(tmp_path: Path) -> None:
    cfg = load(tmp_path, 'default_arch = "armhf"\ndeploy_arch = "s390x"\n' + BINARY)
    assert (cfg.default_arch, cfg.deploy_arch) == ("armv7", "s390x")
    for var in ("RUST_TARGET", "PACK_BINARIES_RUST_TARGET"):
        cfg = load(tmp_path, BINARY, env={var: "riscv64gc-unknown-linux-musl"})
        assert [a.name for a in cfg.select_arches(None)] == ["riscv64"]
    err = refused(tmp_path, BINARY, env={"RUST_TARGET": "armv7-unknown-linux-gnueabihf"})
    assert "links glibc dynamically: not static; use 'armv7-unknown-linux-musleabihf'" in err


# -- config-time checks ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("triple", "message"),
    [
        (
            "aarch64-unknown-linux-gnu",
            "'aarch64-unknown-linux-gnu' links glibc dynamically: not static; use 'aarch64-unknown-linux-musl'",
        ),
        (
            "armv7-unknown-linux-gnueabihf",
            "'armv7-unknown-linux-gnueabihf' links glibc dynamically: not static; use 'armv7-unknown-linux-musleabihf'",
        ),
        (
            "aarch64-unknwn-linux-musl",
            "unknown Rust target 'aarch64-unknwn-linux-musl' (did you mean 'aarch64-unknown-linux-musl'?)",
        ),
        ("aarch64-apple-darwin", "'aarch64-apple-darwin' is not a Linux musl target"),
    ],
)
def test_bad_triples_are_refused_with_the_preset_to_use(tmp_path: Path, triple: str, message: str) -> None:
    err = refused(tmp_path, f'[architectures.arm64]\nrust_target = "{triple}"\n' + BINARY)
    assert f"architectures.arm64.rust_target: {message}" in err


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        (
            "elf_machine",
            '"EM_X86_64"',
            "'EM_X86_64' contradicts rust_target 'aarch64-unknown-linux-musl', whose executables are 'EM_AARCH64'",
        ),
        (
            "elf_machine",
            "62",
            "'EM_X86_64' contradicts rust_target 'aarch64-unknown-linux-musl', whose executables are 'EM_AARCH64'",
        ),
        ("elf_class", "32", "32 contradicts rust_target 'aarch64-unknown-linux-musl', whose executables are 64"),
        (
            "byte_order",
            '"big"',
            "'big' contradicts rust_target 'aarch64-unknown-linux-musl', whose executables are 'little'",
        ),
    ],
)
def test_elf_fields_contradicting_the_triple_are_refused(tmp_path: Path, key: str, value: str, message: str) -> None:
    text = f'[architectures.arm64]\nrust_target = "aarch64-unknown-linux-musl"\n{key} = {value}\n' + BINARY
    assert f"architectures.arm64.{key}: {message} (leave {key} out: the arm64 preset knows it)" in refused(
        tmp_path, text
    )


def test_em_arm64_suggests_em_aarch64_not_em_arm(tmp_path: Path) -> None:
    err = refused(tmp_path, '[architectures.arm64]\nelf_machine = "EM_ARM64"\n' + BINARY)
    assert "architectures.arm64.elf_machine: unknown machine 'EM_ARM64' (did you mean 'EM_AARCH64'?)" in err


def test_a_new_name_needs_a_triple_and_a_target_without_preset_needs_every_key(tmp_path: Path) -> None:
    err = refused(tmp_path, "[architectures.armv6]\n" + BINARY)
    assert "architectures.armv6.rust_target: missing: 'armv6' is not a preset (did you mean 'armv7'?)" in err
    # A Rust musl target without a preset: allowed, given in full.
    partial = '[architectures.loong]\nrust_target = "loongarch64-unknown-linux-musl"\n'
    assert "architectures.loong.elf_machine: missing (required)" in refused(tmp_path, partial + BINARY)
    full = (
        partial
        + 'docker_platform = "linux/loong64"\nelf_machine = "EM_LOONGARCH"\nelf_class = 64\nbyte_order = "little"\n'
    )
    loong = load(tmp_path, full + BINARY).arch("loong")
    assert (loong.elf_machine, loong.aliases, loong.e_flags) == (258, (), ())


def test_a_users_name_wins_over_a_presets_alias(tmp_path: Path) -> None:
    text = (
        '[architectures.arm]\nrust_target = "arm-unknown-linux-musleabihf"\ndocker_platform = "linux/arm/v6"\n'
        'elf_machine = "EM_ARM"\nelf_class = 32\nbyte_order = "little"\n' + BINARY
    )
    cfg = load(tmp_path, text)
    assert cfg.arch("arm").rust_target == "arm-unknown-linux-musleabihf"
    armv7 = cfg.arch("armhf")
    assert armv7.name == "armv7" and armv7.aliases == ("armhf", "arm32v7")


def test_config_errors_end_the_command_line_with_one_line_and_exit_2(tmp_path: Path) -> None:
    (tmp_path / "crate").mkdir()
    (tmp_path / "crate" / "Cargo.toml").write_text('[package]\nname = "s"\nversion = "0.1.0"\n')
    (tmp_path / "buildcfg.toml").write_text(
        '[architectures.arm64]\nrust_target = "aarch64-unknown-linux-gnu"\n' + BINARY
    )
    res = packbin("build-pack-binaries", "--dry-run", cwd=tmp_path)
    assert res.returncode == 2, res.stderr
    assert "Traceback" not in res.stderr
    first = res.stderr.splitlines()[0]
    assert first.startswith("packbin: error: ") and "links glibc dynamically: not static" in first


def test_dry_run_plans_presets_without_tables(tmp_path: Path) -> None:
    repo = copy_repo(tmp_path / "repo")
    text = without_architecture_tables((repo / "buildcfg.toml").read_text())
    assert "[architectures" not in text
    (repo / "buildcfg.toml").write_text(text)
    res = packbin("build-pack-binaries", "--dry-run", "--arch=armhf,riscv64", "--deploy-arch=x86_64", cwd=repo)
    assert res.returncode == 0, res.stderr
    assert "dist/pack-binaries/armv7/core/sensors/attune-core-timer-sensor" in res.stdout
    assert "dist/pack-binaries/riscv64/core/sensors/attune-core-timer-sensor" in res.stdout
    assert "would build 2," in res.stdout


# -- e_flags: the verifier on real files of every preset ------------------------------------


def _readelf_header(path: Path) -> dict[str, str]:
    text = subprocess.run(
        ["readelf", "-h", str(path)], capture_output=True, text=True, check=True, env={**os.environ, "LC_ALL": "C"}
    ).stdout
    return dict(re.findall(r"^\s*([A-Za-z ]+):\s*(.*?)\s*$", text, re.MULTILINE))


@pytest.mark.compiler
@pytest.mark.parametrize("preset", PRESET_NAMES)
def test_static_files_pass_for_their_preset_only(preset: str) -> None:
    arch = preset_named(preset)
    assert arch is not None
    for kind in ("static", "static-pie"):
        path = elf_fixture(f"{FIXTURE_ARCH[preset]}-{kind}").path
        info = parse_elf(path)
        assert static_problems(info, arch) == (), (preset, kind)
        for other in PRESETS:
            if other is not arch:
                problems = static_problems(info, other)
                assert len(problems) == 1 and problems[0].startswith("wrong architecture: "), (other.name, problems)
        # binutils reads the same class, machine and e_flags.
        header = _readelf_header(path)
        assert header["Class"] == f"ELF{arch.elf_class}"
        assert int(header["Flags"].split(",")[0], 16) == info.e_flags
        for rule in arch.e_flags:
            assert info.e_flags & rule.mask == rule.value


@pytest.mark.compiler
def test_readelf_names_the_float_abis_the_rules_check() -> None:
    flags = {
        name: _readelf_header(path)["Flags"]
        for name, path in (
            ("armhf", elf_fixture("arm-static").path),
            ("armel", abi_variant("arm-softfloat-static")),
            ("rv-d", elf_fixture("riscv64-static").path),
            ("rv-soft", abi_variant("riscv64-lp64-static")),
            ("ppc64le", elf_fixture("ppc64le-static").path),
        )
    }
    assert "Version5 EABI" in flags["armhf"] and "hard-float ABI" in flags["armhf"]
    assert "Version5 EABI" in flags["armel"] and "soft-float ABI" in flags["armel"]
    assert "double-float ABI" in flags["rv-d"] and "soft-float ABI" in flags["rv-soft"]
    assert "abiv2" in flags["ppc64le"]


@pytest.mark.compiler
def test_soft_float_arm_fails_armv7() -> None:
    info = parse_elf(abi_variant("arm-softfloat-static"))
    armv7 = preset_named("armv7")
    assert static_problems(info, None) == ()  # a static executable, just not an armv7 one
    assert static_problems(info, armv7) == (
        (
            "wrong architecture: armv7 expects the hard-float ABI (EF_ARM_ABI_FLOAT_HARD), "
            "this file is soft-float (EF_ARM_ABI_FLOAT_SOFT)"
        ),
    )
    assert ARM_HARD_FLOAT.problem("armv7", info.e_flags) is not None


@pytest.mark.compiler
def test_soft_float_riscv_fails_riscv64() -> None:
    info = parse_elf(abi_variant("riscv64-lp64-static"))
    assert static_problems(info, preset_named("riscv64")) == (
        (
            "wrong architecture: riscv64 expects the double-float ABI lp64d (EF_RISCV_FLOAT_ABI_DOUBLE), "
            "this file is soft-float lp64 (EF_RISCV_FLOAT_ABI_SOFT)"
        ),
    )


def _with_e_flags(src: Path, dest: Path, e_flags: int, elf_class: int, order: str) -> Path:
    """A copy of ``src`` with e_flags replaced (corrupt for its preset; zig cannot make these)."""
    data = bytearray(src.read_bytes())
    struct.pack_into(("<" if order == "little" else ">") + "I", data, 48 if elf_class == 64 else 36, e_flags)
    dest.write_bytes(bytes(data))
    return dest


@pytest.mark.compiler
def test_ppc64le_must_be_elfv2(tmp_path: Path) -> None:
    ppc = preset_named("ppc64le")
    src = elf_fixture("ppc64le-static").path
    v1 = parse_elf(_with_e_flags(src, tmp_path / "v1", 1, 64, "little"))
    assert static_problems(v1, ppc) == (
        (
            "wrong architecture: ppc64le expects the ELFv2 ABI (e_flags & 3 == 2), "
            "this file is ELFv1 (e_entry is a function descriptor; musl has no ELFv1 port)"
        ),
    )
    unset = parse_elf(_with_e_flags(src, tmp_path / "v0", 0, 64, "little"))
    assert "of no stated ABI" in static_problems(unset, ppc)[0]


@pytest.mark.compiler
def test_arm_without_eabi_version_fails_armv7(tmp_path: Path) -> None:
    info = parse_elf(_with_e_flags(elf_fixture("arm-static").path, tmp_path / "eabi0", 0x400, 32, "little"))
    assert static_problems(info, preset_named("armv7")) == (
        (
            "wrong architecture: armv7 expects ARM EABI version 5 (EF_ARM_EABI_VER5), "
            "this file is of no EABI version (legacy ABI: arm64's 32-bit loader refuses it)"
        ),
    )


@pytest.mark.compiler
def test_verify_static_names_the_float_abi_and_exits_1(tmp_path: Path) -> None:
    res = packbin("verify-static", str(abi_variant("arm-softfloat-static")), "--arch=armhf", cwd=tmp_path)
    assert res.returncode == 1, res.stdout + res.stderr
    assert (
        "armv7 expects the hard-float ABI (EF_ARM_ABI_FLOAT_HARD), this file is soft-float" in res.stdout + res.stderr
    )
    ok = packbin("verify-static", str(elf_fixture("arm-static").path), "--arch=armv7", cwd=tmp_path)
    assert ok.returncode == 0, ok.stdout + ok.stderr
