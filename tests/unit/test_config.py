"""buildcfg.toml loading: the real file, and variants of it written to tmp_path.

Every error must be a ConfigError (exit code 2) whose message names the file and the key, so a
user can go straight to the line that is wrong.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from packbin.config.apt_sources import host_debian_mirror
from packbin.config.model import BuildConfig, builtin_config, find_config
from packbin.errors import ConfigError, UsageError

REPO = Path(__file__).resolve().parents[2]
REAL_CONFIG = REPO / "buildcfg.toml"
REAL_TEXT = REAL_CONFIG.read_text(encoding="utf-8")
CRATE_REL = "packs/core/sensors/timer-sensor"
X86_TRIPLE = "x86_64-unknown-linux-musl"
ARM_TRIPLE = "aarch64-unknown-linux-musl"


def write_repo(tmp_path: Path, text: str = REAL_TEXT) -> Path:
    """A throwaway repository: buildcfg.toml plus the crate manifest it names. Returns the config path."""
    root = tmp_path / "repo"
    crate = root / CRATE_REL
    crate.mkdir(parents=True)
    (crate / "Cargo.toml").write_text('[package]\nname = "timer-sensor"\nversion = "0.1.0"\n')
    cfg = root / "buildcfg.toml"
    cfg.write_text(text, encoding="utf-8")
    return cfg


def edited(old: str, new: str, text: str = REAL_TEXT) -> str:
    """The real config with one edit; fails loudly when the real file no longer has ``old``."""
    assert old in text, f"buildcfg.toml no longer contains {old!r}: update the test"
    return text.replace(old, new, 1)


def load_variant(tmp_path: Path, old: str, new: str, env: dict[str, str] | None = None) -> BuildConfig:
    return BuildConfig.load(write_repo(tmp_path, edited(old, new)), env=env or {})


def config_error(tmp_path: Path, old: str, new: str, env: dict[str, str] | None = None) -> tuple[ConfigError, Path]:
    cfg = write_repo(tmp_path, edited(old, new))
    with pytest.raises(ConfigError) as info:
        BuildConfig.load(cfg, env=env or {})
    return info.value, cfg.resolve()


# -- the real file -------------------------------------------------------------------------


def test_real_config_loads_with_documented_values() -> None:
    cfg = BuildConfig.load(REAL_CONFIG, env={})
    assert cfg.source == REAL_CONFIG.resolve()
    assert cfg.root == REPO
    assert [a.name for a in cfg.architectures] == ["x86_64", "arm64"]
    x86, arm = cfg.architectures
    assert x86.aliases == ("amd64", "x86-64", "x64")
    assert (x86.rust_target, x86.docker_platform, x86.elf_machine, x86.elf_class, x86.byte_order) == (
        X86_TRIPLE,
        "linux/amd64",
        62,
        64,
        "little",
    )
    assert (arm.rust_target, arm.docker_platform, arm.elf_machine) == (ARM_TRIPLE, "linux/arm64", 183)
    assert cfg.default_arch == "x86_64"
    assert cfg.default_arch_source == "buildcfg.toml default_arch"
    assert cfg.deploy_arch is None
    assert cfg.packs_dir == REPO / "packs"
    assert cfg.dist_dir == REPO / "dist"
    b = cfg.builder
    assert (b.profile, b.ziglang_version, b.cargo_zigbuild_version, b.strip, b.trust_host_ca, b.cargo_profile) == (
        "auto",
        "0.17.1",
        "0.24.1",
        True,
        True,
        "release",
    )
    assert b.rustup.base_image == "rust:1.85-slim-bookworm"
    assert (b.debian.base_image, b.debian_mirror, b.debian_suite) == (
        "debian:bookworm-slim",
        host_debian_mirror(),
        "bookworm",
    )
    assert b.env_dict == {"SQLX_OFFLINE": "true"}
    [binary] = cfg.binaries
    assert binary.name == "attune-core-timer-sensor"
    assert binary.pack == "core"
    assert binary.manifest == REPO / CRATE_REL / "Cargo.toml"
    assert binary.crate_dir == REPO / CRATE_REL
    assert binary.install_path == "sensors/attune-core-timer-sensor"


def test_config_values_are_frozen() -> None:
    cfg = BuildConfig.load(REAL_CONFIG, env={})
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.default_arch = "arm64"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.builder.strip = False  # type: ignore[misc]


def test_tmp_copy_resolves_paths_against_its_own_root(tmp_path: Path) -> None:
    cfg = BuildConfig.load(write_repo(tmp_path), env={})
    root = (tmp_path / "repo").resolve()
    assert cfg.root == root
    assert cfg.binaries[0].manifest == root / CRATE_REL / "Cargo.toml"
    assert cfg.packs_dir == root / "packs"


def test_config_error_is_a_usage_error_with_exit_code_2(tmp_path: Path) -> None:
    err, _ = config_error(tmp_path, "strip = true", "strip = 1")
    assert isinstance(err, UsageError)
    assert err.exit_code == 2


# -- syntax and unknown keys -------------------------------------------------------------


def test_toml_syntax_error_names_file_line_and_column(tmp_path: Path) -> None:
    cfg = write_repo(tmp_path, 'default_arch = "x86_64"\nstrip = = true\n')
    with pytest.raises(ConfigError) as info:
        BuildConfig.load(cfg, env={})
    msg = str(info.value)
    assert str(cfg) in msg
    assert "invalid TOML" in msg
    assert "line 2" in msg
    assert "column 9" in msg


def test_missing_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "buildcfg.toml"
    with pytest.raises(ConfigError) as info:
        BuildConfig.load(missing, env={})
    assert str(missing) in str(info.value)
    assert "no such file" in str(info.value)


def test_non_utf8_file_is_refused(tmp_path: Path) -> None:
    cfg = write_repo(tmp_path)
    cfg.write_bytes(b'default_arch = "x86_64"\n# \xff\xfe\n')
    with pytest.raises(ConfigError) as info:
        BuildConfig.load(cfg, env={})
    assert str(cfg) in str(info.value)
    assert "UTF-8" in str(info.value)


@pytest.mark.parametrize(
    ("old", "new", "key", "suggestion"),
    [
        ('default_arch = "x86_64"', 'defualt_arch = "x86_64"', "defualt_arch", "default_arch"),
        ("strip = true", "stirp = true", "builder.stirp", "strip"),
        ('ziglang_version = "0.17.1"', 'ziglang_versoin = "0.17.1"', "builder.ziglang_versoin", "ziglang_version"),
        (
            'base_image = "rust:1.85-slim-bookworm"',
            'base_imge = "rust:1.85-slim-bookworm"',
            "builder.rustup.base_imge",
            "base_image",
        ),
        ('mirror = "auto"', 'mirorr = "auto"', "builder.debian.mirorr", "mirror"),
        (
            'byte_order = "little"\n\n[architectures.arm64]',
            'byte_order = "little"\ndocker_platfrom = "x"\n\n[architectures.arm64]',
            "architectures.x86_64.docker_platfrom",
            "docker_platform",
        ),
        ('install_path = "sensors/', 'instal_path = "sensors/', "binaries[0].instal_path", "install_path"),
        ('install_path = "sensors/', 'input = ["x"]\ninstall_path = "sensors/', "binaries[0].input", "inputs"),
        ('install_path = "sensors/', 'packge = "x"\ninstall_path = "sensors/', "binaries[0].packge", "package"),
    ],
)
def test_unknown_key_is_named_with_suggestion(tmp_path: Path, old: str, new: str, key: str, suggestion: str) -> None:
    err, cfg = config_error(tmp_path, old, new)
    msg = str(err)
    assert msg.startswith(f"{cfg}: {key}: unknown key")
    assert f"(did you mean {suggestion!r}?)" in msg


def test_unknown_key_without_a_close_match_has_no_suggestion(tmp_path: Path) -> None:
    err, cfg = config_error(tmp_path, "strip = true", "strip = true\nqqqqqqqq = 1")
    assert str(err) == f"{cfg}: builder.qqqqqqqq: unknown key"


def test_misspelt_required_key_gets_a_suggestion(tmp_path: Path) -> None:
    err, _ = config_error(tmp_path, f'rust_target = "{X86_TRIPLE}"', f'rust_traget = "{X86_TRIPLE}"')
    assert "architectures.x86_64.rust_traget" in str(err)
    assert "did you mean 'rust_target'" in str(err)


# -- types and values ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "key", "problem"),
    [
        ("strip = true", "strip = 1", "builder.strip", "expected true or false, got int 1"),
        (
            "trust_host_ca = true",
            'trust_host_ca = "yes"',
            "builder.trust_host_ca",
            "expected true or false, got str 'yes'",
        ),
        ("elf_class = 64", "elf_class = true", "architectures.x86_64.elf_class", "expected an integer, got a boolean"),
        ("elf_class = 64", 'elf_class = "64"', "architectures.x86_64.elf_class", "expected an integer, got str '64'"),
        ('default_arch = "x86_64"', "default_arch = 64", "default_arch", "expected a string, got int 64"),
        (
            'ziglang_version = "0.17.1"',
            "ziglang_version = 0.17",
            "builder.ziglang_version",
            "expected a string, got float 0.17",
        ),
        (
            'aliases = ["amd64", "x86-64", "x64"]',
            'aliases = "amd64"',
            "architectures.x86_64.aliases",
            "expected a list, got str",
        ),
        (
            'aliases = ["amd64", "x86-64", "x64"]',
            'aliases = ["amd64", 1]',
            "architectures.x86_64.aliases",
            "expected a list of strings, found 1",
        ),
        ('elf_machine = "EM_X86_64"', "elf_machine = true", "architectures.x86_64.elf_machine", "got a boolean"),
        ('name = "attune-core-timer-sensor"', "name = 5", "binaries[0].name", "expected a string, got int 5"),
        ('packs_dir = "packs"', "packs_dir = false", "packs_dir", "got a boolean"),
        ('SQLX_OFFLINE = "true"', "SQLX_OFFLINE = 1.5", "builder.env.SQLX_OFFLINE", "got float 1.5"),
        ('SQLX_OFFLINE = "true"', 'SQLX_OFFLINE = ["a"]', "builder.env.SQLX_OFFLINE", "got list"),
        ("elf_class = 64", "elf_class = 48", "architectures.x86_64.elf_class", "must be 32 or 64, got 48"),
        (
            'byte_order = "little"',
            'byte_order = "littel"',
            "architectures.x86_64.byte_order",
            "(did you mean 'little'?)",
        ),
        ('profile = "auto"', 'profile = "rustpu"', "builder.profile", "(did you mean 'rustup'?)"),
        (
            'mirror = "auto"',
            'mirror = "ftp://ftp.example/debian"',
            "builder.debian.mirror",
            "must be an http:// or https:// URL",
        ),
        (
            'cargo_profile = "release"',
            'cargo_profile = "rel ease"',
            "builder.cargo_profile",
            "not a valid cargo profile name",
        ),
        ('SQLX_OFFLINE = "true"', '"1BAD" = "x"', "builder.env.1BAD", "not a valid environment variable name"),
        ('pack = "core"', 'pack = "co/re"', "binaries[0].pack", "not a valid pack name"),
    ],
)
def test_wrong_type_or_value_names_file_and_key(tmp_path: Path, old: str, new: str, key: str, problem: str) -> None:
    err, cfg = config_error(tmp_path, old, new)
    msg = str(err)
    assert msg.startswith(f"{cfg}: {key}: ")
    assert problem in msg


def test_binaries_must_be_an_array_of_tables(tmp_path: Path) -> None:
    text = 'binaries = "attune-core-timer-sensor"\n' + REAL_TEXT.split("[[binaries]]")[0]
    with pytest.raises(ConfigError) as info:
        BuildConfig.load(write_repo(tmp_path, text), env={})
    assert "binaries: must be an array of tables" in str(info.value)


def test_binary_declared_twice(tmp_path: Path) -> None:
    block = "[[binaries]]" + REAL_TEXT.split("[[binaries]]")[1]
    err_cfg = write_repo(tmp_path, REAL_TEXT + "\n" + block)
    with pytest.raises(ConfigError) as info:
        BuildConfig.load(err_cfg, env={})
    assert (
        str(info.value) == f"{err_cfg.resolve()}: binaries[1].name: binary 'attune-core-timer-sensor' is declared twice"
    )


def test_no_architectures_table_means_the_presets(tmp_path: Path) -> None:
    cfg = BuildConfig.load(write_repo(tmp_path, 'packs_dir = "packs"\n'), env={})
    assert [a.name for a in cfg.architectures] == ["x86_64", "arm64"]
    assert [a.name for a in cfg.select_arches("all")] == ["x86_64", "arm64"]
    assert cfg.default_arch == "x86_64"
    assert [a.name for a in cfg.other_presets] == ["armv7", "riscv64", "i686", "ppc64le", "s390x"]


# -- architectures: names, aliases, machines ----------------------------------------------


@pytest.mark.parametrize(
    ("spec", "names"),
    [
        (None, ("x86_64",)),
        ("", ("x86_64",)),
        ("x86_64", ("x86_64",)),
        ("amd64", ("x86_64",)),
        ("AMD64", ("x86_64",)),
        ("aarch64", ("arm64",)),
        ("ARM64V8", ("arm64",)),
        (" Arm64 ", ("arm64",)),
        ("all", ("x86_64", "arm64")),
        ("ALL", ("x86_64", "arm64")),
        ("aarch64,amd64", ("arm64", "x86_64")),
        ("arm64, aarch64 ,x64", ("arm64", "x86_64")),
    ],
)
def test_select_arches_resolves_aliases_case_insensitively(spec: str | None, names: tuple[str, ...]) -> None:
    cfg = BuildConfig.load(REAL_CONFIG, env={})
    assert tuple(a.name for a in cfg.select_arches(spec)) == names


def test_unknown_architecture_suggests_and_lists_choices() -> None:
    cfg = BuildConfig.load(REAL_CONFIG, env={})
    with pytest.raises(ConfigError) as info:
        cfg.select_arches("x86_64,arm46")
    err = info.value
    assert "unknown architecture 'arm46' (did you mean 'arm64'?)" in err.message
    assert err.hint == (
        "choose one of: x86_64, amd64, x86-64, x64, arm64, aarch64, arm64v8 (or 'all'); "
        "other presets: armv7, riscv64, i686, ppc64le, s390x"
    )
    assert err.exit_code == 2


def test_unknown_architecture_names_the_config_file() -> None:
    cfg = BuildConfig.load(REAL_CONFIG, env={})
    with pytest.raises(ConfigError) as info:
        cfg.arch("arm46")
    assert "buildcfg.toml" in str(info.value)


def test_default_arch_may_be_an_alias(tmp_path: Path) -> None:
    cfg = load_variant(tmp_path, 'default_arch = "x86_64"', 'default_arch = "AArch64"')
    assert cfg.default_arch == "arm64"
    assert [a.name for a in cfg.select_arches(None)] == ["arm64"]


def test_unknown_default_arch_is_named_with_suggestion(tmp_path: Path) -> None:
    err, cfg = config_error(tmp_path, 'default_arch = "x86_64"', 'default_arch = "arm46"')
    assert (
        str(err) == f"{cfg}: default_arch: 'arm46' is not a configured architecture or a preset (did you mean 'arm64'?)"
    )


@pytest.mark.parametrize("dup", ["amd64", "AMD64", "x86_64"])
def test_alias_naming_another_architecture_is_refused(tmp_path: Path, dup: str) -> None:
    err, cfg = config_error(tmp_path, 'aliases = ["aarch64", "arm64v8"]', f'aliases = ["aarch64", "{dup}"]')
    assert str(err) == f"{cfg}: architectures.arm64.aliases: {dup!r} already names architecture 'x86_64'"


def test_architecture_named_all_is_refused(tmp_path: Path) -> None:
    err, cfg = config_error(tmp_path, "[architectures.arm64]", "[architectures.all]")
    assert str(err).startswith(f"{cfg}: architectures.all: ")
    assert "not 'all'" in str(err)


def test_alias_all_is_refused(tmp_path: Path) -> None:
    err, cfg = config_error(tmp_path, 'aliases = ["aarch64", "arm64v8"]', 'aliases = ["aarch64", "all"]')
    assert f"{cfg}: architectures.arm64.aliases" in str(err)


@pytest.mark.parametrize(("value", "number"), [('"EM_AARCH64"', 183), ("183", 183), ('"em_aarch64"', 183)])
def test_elf_machine_by_name_or_number(tmp_path: Path, value: str, number: int) -> None:
    cfg = load_variant(tmp_path, 'elf_machine = "EM_AARCH64"', f"elf_machine = {value}")
    assert cfg.arch("arm64").elf_machine == number


@pytest.mark.parametrize(("value", "number"), [('"EM_RISCV"', 243), ("4660", 4660)])
def test_elf_machine_of_a_target_without_preset_by_name_or_number(tmp_path: Path, value: str, number: int) -> None:
    table = (
        '[architectures.mipsel]\nrust_target = "mipsel-unknown-linux-musl"\ndocker_platform = "linux/mipsle"\n'
        f'elf_machine = {value}\nelf_class = 32\nbyte_order = "little"\n\n[builder]'
    )
    cfg = load_variant(tmp_path, "[builder]", table)
    assert cfg.arch("mipsel").elf_machine == number


def test_unknown_elf_machine_name_gets_a_suggestion(tmp_path: Path) -> None:
    err, cfg = config_error(tmp_path, 'elf_machine = "EM_AARCH64"', 'elf_machine = "EM_AARCH"')
    assert str(err) == (
        f"{cfg}: architectures.arm64.elf_machine: unknown machine 'EM_AARCH' (did you mean 'EM_AARCH64'?) "
        "(or give e_machine as a number)"
    )


def test_lowercase_elf_machine_name_is_accepted_or_suggested(tmp_path: Path) -> None:
    try:
        cfg = load_variant(tmp_path, 'elf_machine = "EM_AARCH64"', 'elf_machine = "em_aarch64"')
    except ConfigError as e:
        assert "did you mean 'EM_AARCH64'" in str(e)
    else:
        assert cfg.arch("arm64").elf_machine == 183


@pytest.mark.parametrize("value", ["-1", "65536"])
def test_elf_machine_number_out_of_range(tmp_path: Path, value: str) -> None:
    err, cfg = config_error(tmp_path, 'elf_machine = "EM_AARCH64"', f"elf_machine = {value}")
    assert str(err) == f"{cfg}: architectures.arm64.elf_machine: {value} is not a 16-bit e_machine value"


# -- paths -------------------------------------------------------------------------------


def test_missing_crate_manifest_is_named(tmp_path: Path) -> None:
    err, cfg = config_error(
        tmp_path, f'manifest = "{CRATE_REL}/Cargo.toml"', 'manifest = "packs/core/sensors/gone/Cargo.toml"'
    )
    expected = cfg.parent / "packs/core/sensors/gone/Cargo.toml"
    assert str(err) == f"{cfg}: binaries[0].manifest: crate manifest not found: {expected}"


def test_manifest_may_name_the_crate_directory(tmp_path: Path) -> None:
    cfg = load_variant(tmp_path, f'manifest = "{CRATE_REL}/Cargo.toml"', f'manifest = "{CRATE_REL}"')
    assert cfg.binaries[0].manifest == (tmp_path / "repo").resolve() / CRATE_REL / "Cargo.toml"


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        (f'manifest = "{CRATE_REL}/Cargo.toml"', 'manifest = "../outside/Cargo.toml"', "binaries[0].manifest"),
        (f'manifest = "{CRATE_REL}/Cargo.toml"', 'manifest = "packs/../../outside/Cargo.toml"', "binaries[0].manifest"),
        (f'manifest = "{CRATE_REL}/Cargo.toml"', "manifest = '{ABS}/outside/Cargo.toml'", "binaries[0].manifest"),
        ('install_path = "sensors/attune-core-timer-sensor"', 'install_path = "../escape"', "binaries[0].install_path"),
        (
            'install_path = "sensors/attune-core-timer-sensor"',
            'install_path = "sensors/../../x"',
            "binaries[0].install_path",
        ),
        (
            'install_path = "sensors/attune-core-timer-sensor"',
            'install_path = "/usr/bin/x"',
            "binaries[0].install_path",
        ),
        ('install_path = "sensors/attune-core-timer-sensor"', 'install_path = "sensors/"', "binaries[0].install_path"),
        ('install_path = "sensors/', 'inputs = ["../outside"]\ninstall_path = "sensors/', "binaries[0].inputs"),
        (
            'install_path = "sensors/',
            'inputs = ["ok", "a/../../outside"]\ninstall_path = "sensors/',
            "binaries[0].inputs",
        ),
        ('install_path = "sensors/', "inputs = ['{ABS}/outside']\ninstall_path = \"sensors/", "binaries[0].inputs"),
        ('packs_dir = "packs"', 'packs_dir = "../packs"', "packs_dir"),
        ('packs_dir = "packs"', "packs_dir = '{ABS}/packs'", "packs_dir"),
        ('dist_dir = "dist"', 'dist_dir = "out/../../dist"', "dist_dir"),
        ('dist_dir = "dist"', "dist_dir = '/tmp/dist'", "dist_dir"),
    ],
)
def test_paths_escaping_the_repository_are_refused(tmp_path: Path, old: str, new: str, key: str) -> None:
    # The escaped-to files exist, so the refusal is about the path, not a missing file.
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "Cargo.toml").write_text('[package]\nname = "evil"\n')
    err, cfg = config_error(tmp_path, old, new.replace("{ABS}", str(tmp_path)))
    msg = str(err)
    assert msg.startswith(f"{cfg}: {key}: must be a relative ")
    assert "inside the" in msg


# -- environment overrides ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "arch", "source"),
    [
        ({}, "x86_64", "buildcfg.toml default_arch"),
        ({"RUST_TARGET": ARM_TRIPLE}, "arm64", "RUST_TARGET"),
        ({"PACK_BINARIES_RUST_TARGET": ARM_TRIPLE}, "arm64", "PACK_BINARIES_RUST_TARGET"),
        ({"PACK_BINARIES_RUST_TARGET": ARM_TRIPLE, "RUST_TARGET": X86_TRIPLE}, "arm64", "PACK_BINARIES_RUST_TARGET"),
        ({"PACK_BINARIES_RUST_TARGET": X86_TRIPLE, "RUST_TARGET": ARM_TRIPLE}, "x86_64", "PACK_BINARIES_RUST_TARGET"),
        ({"PACK_BINARIES_RUST_TARGET": "  ", "RUST_TARGET": ARM_TRIPLE}, "arm64", "RUST_TARGET"),
        ({"RUST_TARGET": f" {ARM_TRIPLE}\n"}, "arm64", "RUST_TARGET"),
        ({"RUST_TARGET": ""}, "x86_64", "buildcfg.toml default_arch"),
    ],
)
def test_rust_target_env_overrides_default_arch(tmp_path: Path, env: dict[str, str], arch: str, source: str) -> None:
    cfg = BuildConfig.load(write_repo(tmp_path), env=env)
    assert cfg.default_arch == arch
    assert cfg.default_arch_source == source
    assert [a.name for a in cfg.select_arches(None)] == [arch]
    # An explicit --arch still wins over the environment.
    assert [a.name for a in cfg.select_arches("amd64")] == ["x86_64"]


@pytest.mark.parametrize("var", ["RUST_TARGET", "PACK_BINARIES_RUST_TARGET"])
def test_unknown_rust_target_env_is_a_config_error_with_suggestion(tmp_path: Path, var: str) -> None:
    with pytest.raises(ConfigError) as info:
        BuildConfig.load(write_repo(tmp_path), env={var: "x86_64-unknown-linux-gnu"})
    err = info.value
    assert err.message == (
        f"{var}='x86_64-unknown-linux-gnu': 'x86_64-unknown-linux-gnu' links glibc dynamically: not static; "
        f"use '{X86_TRIPLE}'"
    )
    assert err.hint is not None and err.hint.startswith(f"known targets: {X86_TRIPLE}, {ARM_TRIPLE}, ")
    assert err.hint.endswith(" (see [architectures] in buildcfg.toml)")
    assert err.exit_code == 2


def test_arch_for_target() -> None:
    cfg = BuildConfig.load(REAL_CONFIG, env={})
    assert cfg.arch_for_target(ARM_TRIPLE).name == "arm64"
    # Presets resolve without a table; a glibc triple is refused with its musl twin.
    assert cfg.arch_for_target("riscv64gc-unknown-linux-musl").name == "riscv64"
    with pytest.raises(ConfigError) as info:
        cfg.arch_for_target("aarch64-unknown-linux-gnu")
    assert f"links glibc dynamically: not static; use '{ARM_TRIPLE}'" in str(info.value)
    with pytest.raises(ConfigError) as info:
        cfg.arch_for_target("aarch64-unknwn-linux-musl")
    assert f"unknown Rust target 'aarch64-unknwn-linux-musl' (did you mean '{ARM_TRIPLE}'?)" in str(info.value)


def test_arch_for_platform() -> None:
    cfg = BuildConfig.load(REAL_CONFIG, env={})
    assert cfg.arch_for_platform("linux/arm64").name == "arm64"  # type: ignore[union-attr]
    assert cfg.arch_for_platform("linux/s390x").name == "s390x"  # type: ignore[union-attr]
    assert cfg.arch_for_platform("linux/mips64le") is None


# -- deploy_arch, builder env, binaries --------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"), [("native", None), ("arm64", "arm64"), ("aarch64", "arm64"), ("AMD64", "x86_64")]
)
def test_deploy_arch_native_or_named(tmp_path: Path, value: str, expected: str | None) -> None:
    cfg = load_variant(tmp_path, 'deploy_arch = "native"', f'deploy_arch = "{value}"')
    assert cfg.deploy_arch == expected


def test_deploy_arch_defaults_to_native(tmp_path: Path) -> None:
    cfg = load_variant(tmp_path, 'deploy_arch = "native"', "")
    assert cfg.deploy_arch is None


def test_unknown_deploy_arch_is_named_with_suggestion(tmp_path: Path) -> None:
    err, cfg = config_error(tmp_path, 'deploy_arch = "native"', 'deploy_arch = "arm46"')
    assert (
        str(err)
        == f"{cfg}: deploy_arch: 'arm46' is not 'native', a configured architecture or a preset (did you mean 'arm64'?)"
    )


def test_builder_env_values_become_strings(tmp_path: Path) -> None:
    cfg = load_variant(tmp_path, 'SQLX_OFFLINE = "true"', 'SQLX_OFFLINE = true\nZED = false\nJOBS = 3\nA_NAME = "x y"')
    assert cfg.builder.env == (("A_NAME", "x y"), ("JOBS", "3"), ("SQLX_OFFLINE", "true"), ("ZED", "false"))
    assert cfg.builder.env_dict["SQLX_OFFLINE"] == "true"


def test_builder_defaults_when_table_absent(tmp_path: Path) -> None:
    text = REAL_TEXT.split("[builder]")[0] + "[[binaries]]" + REAL_TEXT.split("[[binaries]]")[1]
    cfg = BuildConfig.load(write_repo(tmp_path, text), env={})
    b = cfg.builder
    assert (b.profile, b.strip, b.trust_host_ca, b.env, b.ziglang_version) == ("auto", True, True, (), "0.17.1")


def test_package_and_inputs_keys(tmp_path: Path) -> None:
    cfg = load_variant(
        tmp_path,
        'install_path = "sensors/',
        'package = "timer-sensor"\ninputs = [".sqlx", "./ws//schema.sql"]\ninstall_path = "sensors/',
    )
    b = cfg.binaries[0]
    assert (b.package, b.inputs) == ("timer-sensor", (".sqlx", "ws/schema.sql"))
    plain = load_variant(tmp_path / "plain", 'install_path = "sensors/', 'install_path = "sensors/')
    assert (plain.binaries[0].package, plain.binaries[0].inputs) == (None, ())


@pytest.mark.parametrize(
    ("new", "problem"),
    [
        ("package = 3", "binaries[0].package: expected a string, got int 3"),
        ('package = "a b"', "binaries[0].package: not a valid cargo package name: 'a b'"),
        ('inputs = ".sqlx"', "binaries[0].inputs: expected a list, got str '.sqlx'"),
        ("inputs = [1]", "binaries[0].inputs: expected a list of strings, found 1"),
        ('inputs = [""]', "binaries[0].inputs: must be a relative path inside the repository, got ''"),
    ],
)
def test_package_and_inputs_are_validated(tmp_path: Path, new: str, problem: str) -> None:
    err, cfg = config_error(tmp_path, 'install_path = "sensors/', new + '\ninstall_path = "sensors/')
    assert str(err) == f"{cfg}: {problem}"


def test_install_path_defaults_under_sensors(tmp_path: Path) -> None:
    cfg = load_variant(tmp_path, 'install_path = "sensors/attune-core-timer-sensor"\n', "")
    assert cfg.binaries[0].install_path == "sensors/attune-core-timer-sensor"


def test_install_path_is_normalised_to_posix(tmp_path: Path) -> None:
    cfg = load_variant(tmp_path, 'install_path = "sensors/attune-core-timer-sensor"', 'install_path = "./bin//timer"')
    assert cfg.binaries[0].install_path == "bin/timer"


def test_select_binaries() -> None:
    cfg = BuildConfig.load(REAL_CONFIG, env={})
    assert cfg.select_binaries(None) == cfg.binaries
    assert cfg.select_binaries([]) == cfg.binaries
    assert [b.name for b in cfg.select_binaries(["attune-core-timer-sensor"] * 2)] == ["attune-core-timer-sensor"]


def test_select_binaries_unknown_name_suggests() -> None:
    cfg = BuildConfig.load(REAL_CONFIG, env={})
    with pytest.raises(ConfigError) as info:
        cfg.select_binaries(["attune-core-timer-sensr"])
    err = info.value
    assert "unknown binary 'attune-core-timer-sensr' (did you mean 'attune-core-timer-sensor'?)" in err.message
    assert err.hint == "configured: attune-core-timer-sensor"


# -- find_config, builtin_config ---------------------------------------------------------


def test_find_config_prefers_packbin_config(tmp_path: Path) -> None:
    assert find_config(tmp_path, env={"PACKBIN_CONFIG": "/some/where/cfg.toml"}) == Path("/some/where/cfg.toml")


def test_find_config_walks_up_from_a_subdirectory(tmp_path: Path) -> None:
    cfg = write_repo(tmp_path)
    deep = cfg.parent / "packs" / "core" / "sensors"
    assert find_config(deep, env={}) == cfg.resolve()


def test_find_config_without_a_file_says_what_to_do(tmp_path: Path) -> None:
    start = tmp_path / "empty"
    start.mkdir()
    if any((d / "buildcfg.toml").is_file() for d in start.resolve().parents):
        pytest.skip("a buildcfg.toml exists above the pytest tmp dir")
    with pytest.raises(ConfigError) as info:
        find_config(start, env={})
    assert str(start.resolve()) in info.value.message
    assert info.value.hint is not None and "PACKBIN_CONFIG" in info.value.hint


def test_load_uses_packbin_config_from_env(tmp_path: Path) -> None:
    cfg_path = write_repo(tmp_path, edited('default_arch = "x86_64"', 'default_arch = "arm64"'))
    cfg = BuildConfig.load(env={"PACKBIN_CONFIG": str(cfg_path)})
    assert cfg.source == cfg_path.resolve()
    assert cfg.default_arch == "arm64"


def test_builtin_config_knows_seven_architectures(tmp_path: Path) -> None:
    cfg = builtin_config(tmp_path)
    assert [a.name for a in cfg.architectures] == ["x86_64", "arm64", "armv7", "riscv64", "i686", "ppc64le", "s390x"]
    assert cfg.binaries == ()
    assert cfg.root == tmp_path.resolve()
    assert cfg.default_arch == "x86_64"
    s390x = cfg.arch("s390x")
    assert (s390x.elf_machine, s390x.elf_class, s390x.byte_order) == (22, 64, "big")
    arm = cfg.arch("armhf")
    assert (arm.name, arm.elf_machine, arm.elf_class, arm.rust_target) == (
        "armv7",
        40,
        32,
        "armv7-unknown-linux-musleabihf",
    )
    assert cfg.arch("i686").elf_class == 32
    assert cfg.arch("riscv64").elf_machine == 243
    assert cfg.arch("powerpc64le").elf_machine == 21
