"""A binary's build inputs in a Cargo workspace (packbin.workspace): no Docker.

The fixture is a small repository with tiny std-only crates laid out as real projects are: a
virtual workspace (members glob + exclude, `workspace = true` path deps, package.workspace, a path
dependency outside the workspace, a dev-only test crate), a workspace whose root is a package, and
a standalone crate. Where cargo is installed, its own `cargo metadata` cross-checks the members
and bin targets found.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

from packbin import workspace as wsmod
from packbin.config.model import BuildConfig, PackBinary
from packbin.errors import ConfigError
from packbin.workspace import (
    BinaryInputs,
    Scan,
    collect_all,
    collect_inputs,
    load_workspace,
    merge_payload,
)

HEADER = """
[architectures.x86_64]
rust_target = "x86_64-unknown-linux-musl"
docker_platform = "linux/amd64"
elf_machine = "EM_X86_64"
elf_class = 64
byte_order = "little"
"""

#: (bin name, manifest, extra keys) for buildcfg.toml
BINARIES = [
    ("sensor-bin", "ws/crates/sensor/Cargo.toml", ""),
    ("other-tool", "ws/crates/other/Cargo.toml", ""),
    ("multi", "ws/crates/other", ""),
    ("gen", "ws/tools/gen/Cargo.toml", ""),
    ("rootpkg", "rootws/Cargo.toml", ""),
    ("solo", "standalone/Cargo.toml", ""),
]

OLD_NS = 1_600_000_000_000_000_000


def write(root: Path, rel: str, text: str) -> Path:
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(textwrap.dedent(text).lstrip())
    return p


def lock(*packages: tuple[str, str | None]) -> str:
    out = "version = 4\n"
    for name, source in packages:
        out += f'\n[[package]]\nname = "{name}"\nversion = "1.0.0"\n'
        if source:
            out += f'source = "{source}"\n'
    return out


def make_repo(root: Path) -> None:
    write(root, "docs/guide.md", "# guide\n")
    write(root, "web/index.html", "<p>hi</p>\n")
    # The virtual workspace.
    write(
        root,
        "ws/Cargo.toml",
        """
        [workspace]
        resolver = "2"
        members = ["crates/*", "tools/gen"]
        exclude = ["crates/experimental"]

        [workspace.package]
        edition = "2021"
        version = "0.1.0"

        [workspace.dependencies]
        shared = { path = "crates/shared" }
    """,
    )
    write(root, "ws/Cargo.lock", lock(("attune-sensor", None), ("shared", None)))
    write(root, "ws/docs/notes.md", "notes\n")
    write(
        root,
        "ws/crates/shared/Cargo.toml",
        """
        [package]
        name = "shared"
        version.workspace = true
        edition.workspace = true

        [dependencies]
        extlib = { path = "../../../ext/extlib" }
    """,
    )
    write(root, "ws/crates/shared/src/lib.rs", "pub fn tick() -> u32 { extlib::one() }\n")
    write(root, "ws/crates/shared/src/util.rs", "pub fn u() {}\n")
    write(
        root,
        "ws/crates/sensor/Cargo.toml",
        """
        [package]
        name = "attune-sensor"
        version.workspace = true
        edition.workspace = true

        [[bin]]
        name = "sensor-bin"
        path = "src/main.rs"

        [dependencies]
        shared.workspace = true

        [dev-dependencies]
        testutil = { path = "../testutil" }
    """,
    )
    write(root, "ws/crates/sensor/src/main.rs", 'fn main() { println!("{}", shared::tick()); }\n')
    write(root, "ws/crates/sensor/queries/q.sql", "select 1;\n")
    write(
        root,
        "ws/crates/testutil/Cargo.toml",
        """
        [package]
        name = "testutil"
        version = "0.1.0"
        edition = "2021"
    """,
    )
    write(root, "ws/crates/testutil/src/lib.rs", "pub fn helper() {}\n")
    write(
        root,
        "ws/crates/other/Cargo.toml",
        """
        [package]
        name = "other"
        version = "0.1.0"
        edition = "2021"
    """,
    )
    write(root, "ws/crates/other/build.rs", "fn main() {}\n")
    write(root, "ws/crates/other/src/bin/other-tool.rs", "fn main() {}\n")
    write(root, "ws/crates/other/src/bin/multi/main.rs", "mod part;\nfn main() { part::f() }\n")
    write(root, "ws/crates/other/src/bin/multi/part.rs", "pub fn f() {}\n")
    write(root, "ws/crates/experimental/Cargo.toml", '[package]\nname = "experimental"\nversion = "0.1.0"\n')
    write(root, "ws/crates/experimental/src/main.rs", "fn main() {}\n")
    write(
        root,
        "ws/tools/gen/Cargo.toml",
        """
        [package]
        name = "gen"
        version = "0.1.0"
        edition = "2021"
        workspace = "../.."
    """,
    )
    write(root, "ws/tools/gen/src/main.rs", "fn main() {}\n")
    # A path dependency outside the workspace but inside the repository.
    write(root, "ext/extlib/Cargo.toml", '[package]\nname = "extlib"\nversion = "0.1.0"\nedition = "2021"\n')
    write(root, "ext/extlib/src/lib.rs", "pub fn one() -> u32 { 1 }\n")
    # A workspace whose root is a package.
    write(
        root,
        "rootws/Cargo.toml",
        """
        [package]
        name = "rootpkg"
        version = "0.1.0"
        edition = "2021"

        [workspace]
        members = ["sub"]

        [dependencies]
        sub = { path = "sub" }
    """,
    )
    write(root, "rootws/Cargo.lock", lock(("rootpkg", None), ("sub", None)))
    write(root, "rootws/build.rs", "fn main() {}\n")
    write(root, "rootws/src/main.rs", "fn main() { sub::s() }\n")
    write(root, "rootws/notes.txt", "not an input\n")
    write(root, "rootws/sub/Cargo.toml", '[package]\nname = "sub"\nversion = "0.1.0"\nedition = "2021"\n')
    write(root, "rootws/sub/src/lib.rs", "pub fn s() {}\n")
    # A standalone crate.
    write(root, "standalone/Cargo.toml", '[package]\nname = "solo"\nversion = "0.1.0"\nedition = "2021"\n')
    write(root, "standalone/Cargo.lock", lock(("solo", None)))
    write(root, "standalone/src/main.rs", "fn main() {}\n")
    write_config(root)


def write_config(root: Path, binaries: list[tuple[str, str, str]] = BINARIES) -> None:
    text = HEADER
    for name, manifest, extra in binaries:
        text += f'\n[[binaries]]\nname = "{name}"\npack = "core"\nmanifest = "{manifest}"\n{extra}\n'
    (root / "buildcfg.toml").write_text(text)


@pytest.fixture(autouse=True)
def cache_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "cache"
    monkeypatch.setenv("PACKBIN_CACHE_DIR", str(path))
    return path


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    make_repo(root)
    return root


def load(root: Path) -> BuildConfig:
    return BuildConfig.load(root / "buildcfg.toml", env={})


def binary(cfg: BuildConfig, name: str) -> PackBinary:
    return next(b for b in cfg.binaries if b.name == name)


def inputs(root: Path, name: str) -> BinaryInputs:
    cfg = load(root)
    return collect_inputs(cfg, binary(cfg, name))


def rels(bi: BinaryInputs) -> set[str]:
    return {f.rel for f in bi.files}


def config_error(root: Path, name: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        inputs(root, name)
    assert info.value.exit_code == 2
    return info.value


# -- members and bins -------------------------------------------------------------------------
def test_virtual_workspace_members_glob_exclude_and_pointer(repo: Path) -> None:
    ws = load_workspace(load(repo), repo / "ws/crates/sensor/Cargo.toml")
    assert ws.root_rel == "ws"
    assert ws.lock == (repo / "ws/Cargo.lock").resolve()
    assert ws.is_workspace
    members = {m.name: m for m in ws.members}
    # crates/experimental is excluded; tools/gen is listed and points back with package.workspace
    assert sorted(members) == ["attune-sensor", "gen", "other", "shared", "testutil"]
    assert members["attune-sensor"].bins == ("sensor-bin",)
    assert members["attune-sensor"].path_deps == ("ws/crates/shared",)  # not the dev-dependency
    assert members["shared"].path_deps == ("ext/extlib",)
    assert sorted(members["other"].bins) == ["multi", "other-tool"]
    # the path dependency outside the workspace is loaded too, but is no member
    outside = [p for p in ws.packages if not p.workspace_member]
    assert [(p.name, p.dir) for p in outside] == [("extlib", "ext/extlib")]


def test_package_workspace_pointer_finds_the_root(repo: Path) -> None:
    # gen's own directory has no [workspace] above it but ws/: the pointer is followed directly.
    write(repo, "ws/tools/Cargo.toml", "[workspace]\nmembers = []\n")  # a nearer root the pointer skips
    ws = load_workspace(load(repo), repo / "ws/tools/gen/Cargo.toml")
    assert ws.root_rel == "ws"


def test_excluded_member_is_its_own_workspace_root(repo: Path) -> None:
    write(repo, "ws/crates/experimental/Cargo.lock", lock(("experimental", None)))
    ws = load_workspace(load(repo), repo / "ws/crates/experimental/Cargo.toml")
    assert ws.root_rel == "ws/crates/experimental"
    assert not ws.is_workspace
    assert [m.name for m in ws.members] == ["experimental"]


@pytest.mark.compiler  # runs cargo
def test_a_package_the_workspace_does_not_list_is_refused(repo: Path) -> None:
    write(repo, "ws/stray/Cargo.toml", '[package]\nname = "stray"\nversion = "0.1.0"\n')
    write(repo, "ws/stray/src/main.rs", "fn main() {}\n")
    write_config(repo, [("stray", "ws/stray/Cargo.toml", "")])
    err = config_error(repo, "stray")
    assert "ws/stray/Cargo.toml believes it is in the workspace at ws/Cargo.toml" in err.message
    assert err.hint is not None and "workspace.members" in err.hint


def cargo_metadata(manifest: Path) -> dict[str, object]:
    cargo = shutil.which("cargo")
    if cargo is None:
        pytest.skip("cargo is not installed on this host: cannot cross-check against cargo metadata")
    env = dict(os.environ, CARGO_NET_OFFLINE="true")
    out = subprocess.run(
        [cargo, "metadata", "--offline", "--no-deps", "--format-version", "1", "--manifest-path", str(manifest)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        timeout=120,
    )
    data: dict[str, object] = json.loads(out.stdout)
    return data


@pytest.mark.parametrize("manifest", ["ws/crates/sensor/Cargo.toml", "rootws/Cargo.toml", "standalone/Cargo.toml"])
def test_members_and_targets_agree_with_cargo_metadata(repo: Path, manifest: str) -> None:
    meta = cargo_metadata(repo / manifest)
    ws = load_workspace(load(repo), repo / manifest)
    packages = meta["packages"]
    assert isinstance(packages, list)
    member_ids = set(meta["workspace_members"])  # type: ignore[arg-type]
    cargo_members = {p["name"]: p for p in packages if p["id"] in member_ids}
    assert sorted(cargo_members) == sorted(m.name for m in ws.members)
    assert Path(str(meta["workspace_root"])).resolve() == ws.root.resolve()
    for m in ws.members:
        p = cargo_members[m.name]
        assert Path(p["manifest_path"]).resolve() == (repo / m.manifest).resolve()
        cargo_targets = sorted(
            (t["kind"][0].replace("custom-build", "build"), str(Path(t["src_path"]).resolve()))
            for t in p["targets"]
            if t["kind"][0] in ("lib", "bin", "custom-build", "example", "test", "bench")
        )
        ours = sorted((t.kind, str((repo / t.rel).resolve())) for t in m.targets if t.kind in ("lib", "bin", "build"))
        assert [t for t in cargo_targets if t[0] in ("lib", "bin", "build")] == ours
        assert sorted(t["name"] for t in p["targets"] if t["kind"] == ["bin"]) == sorted(m.bins)


def test_bin_name_differs_from_package_name(repo: Path) -> None:
    bi = inputs(repo, "sensor-bin")
    assert bi.package == "attune-sensor"
    assert bi.manifest_rel == "ws/crates/sensor/Cargo.toml"
    assert bi.package_dir == "ws/crates/sensor"
    assert bi.workspace.root_rel == "ws"


@pytest.mark.parametrize(
    ("name", "main"), [("other-tool", "src/bin/other-tool.rs"), ("multi", "src/bin/multi/main.rs")]
)
def test_src_bin_discovery(repo: Path, name: str, main: str) -> None:
    bi = inputs(repo, name)
    assert bi.package == "other"
    assert f"ws/crates/other/{main}" in rels(bi)
    assert "ws/crates/other/src/bin/multi/part.rs" in rels(bi)  # the whole package dir


def test_manifest_may_name_the_workspace_root(repo: Path) -> None:
    write_config(repo, [("sensor-bin", "ws/Cargo.toml", "")])
    assert inputs(repo, "sensor-bin").package == "attune-sensor"


def test_autobins_false_hides_src_bin(repo: Path) -> None:
    p = repo / "ws/crates/other/Cargo.toml"
    p.write_text(
        p.read_text().replace('edition = "2021"', 'edition = "2021"\nautobins = false\n[[bin]]\nname = "other-tool"')
    )
    assert inputs(repo, "other-tool").package == "other"
    err = config_error(repo, "multi")
    assert err.message.startswith("binary 'multi': no bin target of that name in the workspace at ws")


def test_edition_2015_with_declared_bins_infers_no_others(repo: Path) -> None:
    # cargo: an explicit [[bin]] turns off bin inference in edition 2015 (autobins unset).
    write(
        repo,
        "standalone/Cargo.toml",
        '[package]\nname = "solo"\nversion = "0.1.0"\n\n[[bin]]\nname = "solo"\npath = "src/main.rs"\n',
    )
    write(repo, "standalone/src/bin/extra.rs", "fn main() {}\n")
    ws = load_workspace(load(repo), repo / "standalone/Cargo.toml")
    assert ws.members[0].bins == ("solo",)
    meta = cargo_metadata(repo / "standalone/Cargo.toml")
    packages = meta["packages"]
    assert isinstance(packages, list)
    assert sorted(t["name"] for t in packages[0]["targets"] if t["kind"] == ["bin"]) == ["solo"]


def test_unknown_bin_lists_the_bins_that_exist(repo: Path) -> None:
    write_config(repo, [("sensor-bim", "ws/crates/sensor/Cargo.toml", "")])
    err = config_error(repo, "sensor-bim")
    assert (
        err.message
        == "binary 'sensor-bim': no bin target of that name in the workspace at ws (did you mean 'sensor-bin'?)"
    )
    assert (
        err.hint
        == "bins: gen (package gen), multi (package other), other-tool (package other), sensor-bin (package attune-sensor)"
    )


def test_same_bin_name_in_two_packages_needs_the_package_key(repo: Path) -> None:
    write(repo, "ws/crates/testutil/src/bin/gen.rs", "fn main() {}\n")
    write_config(repo, [("gen", "ws/Cargo.toml", "")])
    err = config_error(repo, "gen")
    assert err.message == "binary 'gen' is a bin of several packages: gen, testutil"
    assert err.hint is not None and 'package = "..."' in err.hint
    write_config(repo, [("gen", "ws/Cargo.toml", 'package = "testutil"')])
    bi = inputs(repo, "gen")
    assert bi.package == "testutil"
    assert bi.manifest_rel == "ws/crates/testutil/Cargo.toml"
    write_config(repo, [("gen", "ws/Cargo.toml", 'package = "testutill"')])
    assert "(did you mean 'testutil'?)" in config_error(repo, "gen").message


def test_missing_lock_names_the_workspace_root(repo: Path) -> None:
    (repo / "ws/Cargo.lock").unlink()
    err = config_error(repo, "sensor-bin")
    assert err.message == "ws/Cargo.lock is missing (the lock file of the workspace at ws)"
    assert err.hint == "run `cargo generate-lockfile --manifest-path ws/Cargo.toml` and commit it (builds use --locked)"


# -- what goes in -------------------------------------------------------------------------------
def test_inputs_of_a_member_bin(repo: Path) -> None:
    bi = inputs(repo, "sensor-bin")
    got = rels(bi)
    assert {"ws/Cargo.toml", "ws/Cargo.lock"} <= got
    # the bin's package (whole dir) and its path deps, transitively, in and outside the workspace
    assert {
        "ws/crates/sensor/src/main.rs",
        "ws/crates/sensor/queries/q.sql",
        "ws/crates/shared/src/util.rs",
        "ext/extlib/src/lib.rs",
    } <= got
    # every manifest cargo loads, but not the sources of packages the bin does not need
    assert {"ws/crates/other/Cargo.toml", "ws/crates/testutil/Cargo.toml", "ws/tools/gen/Cargo.toml"} <= got
    assert not any(
        r.startswith(("ws/crates/other/src", "ws/crates/testutil/src", "ws/tools/gen/src", "ws/docs", "docs/", "web/"))
        for r in got
    )
    assert not any("experimental" in r for r in got)
    stubs = {s.rel: s.data for s in bi.stubs}
    assert stubs == {
        "ws/crates/other/build.rs": b"fn main() {}\n",
        "ws/crates/other/src/bin/multi/main.rs": b"fn main() {}\n",
        "ws/crates/other/src/bin/other-tool.rs": b"fn main() {}\n",
        "ws/crates/testutil/src/lib.rs": b"",
        "ws/tools/gen/src/main.rs": b"fn main() {}\n",
    }
    assert [f.rel for f in bi.files] == sorted(got)
    assert bi.total_bytes == sum(f.size for f in bi.files) + sum(len(s.data) for s in bi.stubs)
    assert not bi.needs_fetch
    assert bi.registry_hosts == ()
    f = next(f for f in bi.files if f.rel == "ws/crates/sensor/src/main.rs")
    assert f.path == (repo / f.rel).resolve()
    assert f.size == f.path.stat().st_size and len(f.sha256) == 64


def test_root_package_sends_only_its_own_files(repo: Path) -> None:
    bi = inputs(repo, "rootpkg")
    assert bi.package == "rootpkg"
    assert rels(bi) == {
        "rootws/Cargo.toml",
        "rootws/Cargo.lock",
        "rootws/build.rs",
        "rootws/src/main.rs",
        "rootws/sub/Cargo.toml",
        "rootws/sub/src/lib.rs",
    }
    assert bi.stubs == ()


def test_standalone_crate_sends_its_directory(repo: Path) -> None:
    write(repo, "standalone/assets/data.txt", "x\n")
    bi = inputs(repo, "solo")
    assert bi.workspace.root_rel == "standalone"
    assert rels(bi) == {
        "standalone/Cargo.toml",
        "standalone/Cargo.lock",
        "standalone/src/main.rs",
        "standalone/assets/data.txt",
    }


def test_merge_payload_real_files_win_over_stubs(repo: Path) -> None:
    sensor, tool = inputs(repo, "sensor-bin"), inputs(repo, "other-tool")
    assert "ws/crates/other/src/bin/other-tool.rs" in {s.rel for s in sensor.stubs}
    files, stubs = merge_payload([sensor, tool])
    file_rels = [f.rel for f in files]
    assert file_rels == sorted(set(file_rels))
    assert "ws/crates/other/src/bin/other-tool.rs" in file_rels
    assert "ws/crates/sensor/src/main.rs" in file_rels
    stub_rels = {s.rel for s in stubs}
    assert not stub_rels & set(file_rels)
    assert stub_rels == {"ws/crates/testutil/src/lib.rs", "ws/tools/gen/src/main.rs"}
    # bins of different workspaces share a container too
    files, stubs = merge_payload([sensor, inputs(repo, "rootpkg"), inputs(repo, "solo")])
    file_rels = [f.rel for f in files]
    assert {
        "rootws/src/main.rs",
        "standalone/src/main.rs",
        "ws/crates/sensor/src/main.rs",
        "rootws/Cargo.lock",
        "ws/Cargo.lock",
    } <= set(file_rels)
    assert len(file_rels) == len(set(file_rels))


def test_digests_change_only_with_what_the_bin_reads(repo: Path) -> None:
    def digests() -> dict[str, str]:
        return {n: inputs(repo, n).digest for n in ("sensor-bin", "other-tool", "rootpkg")}

    before = digests()
    assert digests() == before
    (repo / "docs/guide.md").write_text("# guide, edited\n")
    (repo / "ws/docs/notes.md").write_text("edited\n")
    (repo / "rootws/notes.txt").write_text("edited\n")
    (repo / "ws/crates/sensor/target/release").mkdir(parents=True)
    (repo / "ws/crates/sensor/target/release/sensor-bin").write_bytes(b"\x7fELF")
    write(repo, "ws/crates/shared/tests/fixture/target/CACHEDIR.TAG", "Signature: 8a477f597d28d172789f06886806bc55\n")
    write(repo, "ws/crates/shared/tests/fixture/target/debug/out.rlib", "rlib\n")
    write(repo, "ws/crates/shared/.git/HEAD", "ref: refs/heads/main\n")
    write(repo, "ws/crates/shared/.idea/workspace.xml", "<x/>\n")
    assert digests() == before
    (repo / "ws/crates/shared/src/util.rs").write_text("pub fn u() { let _ = 1; }\n")
    after = digests()
    assert after["sensor-bin"] != before["sensor-bin"]
    assert after["other-tool"] == before["other-tool"]
    (repo / "ext/extlib/src/lib.rs").write_text("pub fn one() -> u32 { 2 }\n")
    assert digests()["sensor-bin"] != after["sensor-bin"]
    # a change in a package the bin does not need (only its manifest is read) leaves it alone
    (repo / "ws/crates/other/src/bin/other-tool.rs").write_text("fn main() { println!(); }\n")
    again = digests()
    assert again["sensor-bin"] == digests()["sensor-bin"]
    assert again["other-tool"] != after["other-tool"]
    # but its manifest is read by every bin of the workspace
    sensor = again["sensor-bin"]
    (repo / "ws/crates/other/Cargo.toml").write_text((repo / "ws/crates/other/Cargo.toml").read_text() + "\n# edited\n")
    assert inputs(repo, "sensor-bin").digest != sensor


def test_a_module_directory_named_target_is_sent(repo: Path) -> None:
    # Only a package's top-level target/ (or a dir with cargo's CACHEDIR.TAG) is a build output.
    write(repo, "ws/crates/shared/src/target/mod.rs", "pub fn t() {}\n")
    assert "ws/crates/shared/src/target/mod.rs" in rels(inputs(repo, "sensor-bin"))


def test_exec_bit_is_part_of_the_digest(repo: Path) -> None:
    before = inputs(repo, "solo").digest
    (repo / "standalone/src/main.rs").chmod(0o755)
    bi = inputs(repo, "solo")
    assert bi.digest != before
    assert next(f for f in bi.files if f.rel == "standalone/src/main.rs").executable


def test_inputs_key_adds_files_and_directories(repo: Path) -> None:
    write(repo, "ws/.sqlx/query-1.json", "{}\n")
    write(repo, "ws/schema.sql", "create table t();\n")
    write_config(repo, [("sensor-bin", "ws/crates/sensor/Cargo.toml", 'inputs = ["ws/.sqlx", "ws/schema.sql"]')])
    bi = inputs(repo, "sensor-bin")
    assert {"ws/.sqlx/query-1.json", "ws/schema.sql"} <= rels(bi)
    before = bi.digest
    (repo / "ws/.sqlx/query-1.json").write_text('{"a": 1}\n')
    assert inputs(repo, "sensor-bin").digest != before
    write_config(repo, [("sensor-bin", "ws/crates/sensor/Cargo.toml", 'inputs = ["ws/.sqlx2"]')])
    err = config_error(repo, "sensor-bin")
    assert err.message == "buildcfg.toml: binary 'sensor-bin': inputs entry 'ws/.sqlx2' does not exist"


def test_sqlx_query_data_at_the_root_is_an_input_when_the_lock_has_sqlx(repo: Path) -> None:
    write(repo, "ws/.sqlx/query-1.json", "{}\n")
    assert "ws/.sqlx/query-1.json" not in rels(inputs(repo, "sensor-bin"))
    set_lock(repo, "registry+https://github.com/rust-lang/crates.io-index")
    lock_text = (repo / "ws/Cargo.lock").read_text().replace('name = "dep0"', 'name = "sqlx-macros"')
    (repo / "ws/Cargo.lock").write_text(lock_text)
    assert "ws/.sqlx/query-1.json" in rels(inputs(repo, "sensor-bin"))


@pytest.mark.compiler  # runs cargo
def test_payload_builds_with_cargo_offline_and_locked(repo: Path, tmp_path: Path) -> None:
    """The real check that the inputs are enough and the stubs pass cargo's manifest checks:
    build the bin with cargo from nothing but the payload (tiny std-only crates, seconds)."""
    cargo = shutil.which("cargo")
    if cargo is None:
        pytest.skip("cargo is not installed on this host")
    env = dict(
        os.environ,
        CARGO_HOME=str(tmp_path / "cargo-home"),
        CARGO_NET_OFFLINE="true",
        CARGO_TARGET_DIR=str(tmp_path / "target"),
    )
    env.setdefault("RUSTUP_HOME", str(Path.home() / ".rustup"))
    subprocess.run(
        [cargo, "generate-lockfile", "--offline"],
        cwd=repo / "ws",
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    files, stubs = merge_payload([inputs(repo, "sensor-bin"), inputs(repo, "multi")])
    assert stubs  # testutil's lib and gen's main are stubs
    out = tmp_path / "payload"
    materialize(out, files, stubs)
    for name, package_dir in (("sensor-bin", "ws/crates/sensor"), ("multi", "ws/crates/other")):
        proc = subprocess.run(
            [cargo, "build", "--offline", "--locked", "--bin", name],
            cwd=out / package_dir,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
    run = subprocess.run(
        [str(tmp_path / "target/debug/sensor-bin")], capture_output=True, text=True, check=True, timeout=30
    )
    assert run.stdout == "1\n"


def materialize(out: Path, files: tuple[wsmod.InputFile, ...], stubs: tuple[wsmod.Stub, ...]) -> None:
    for f in files:
        (out / f.rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(f.path, out / f.rel)
    for s in stubs:
        (out / s.rel).parent.mkdir(parents=True, exist_ok=True)
        (out / s.rel).write_bytes(s.data)


# -- refusals ---------------------------------------------------------------------------------
def test_symlink_in_a_needed_package_is_refused(repo: Path, tmp_path: Path) -> None:
    secret = tmp_path / "host-secret"
    secret.write_text("id_rsa")
    (repo / "ws/crates/shared/src/key.rs").symlink_to(secret)
    err = config_error(repo, "sensor-bin")
    assert err.message == "ws/crates/shared/src/key.rs: symlinks are not allowed in build inputs"
    # a bin that does not need the shared crate does not read it
    assert inputs(repo, "other-tool").package == "other"


def test_symlinked_directory_to_a_manifest_outside_is_refused(repo: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    shutil.copytree(repo / "standalone", outside)
    (repo / "linked").symlink_to(outside, target_is_directory=True)
    write_config(repo, [("solo", "linked/Cargo.toml", "")])
    # Refused when buildcfg.toml is read (config.py), before the workspace is looked at.
    with pytest.raises(ConfigError, match=r"binaries\[0\]\.manifest: 'linked/Cargo.toml'.* through a symlink"):
        write_config(repo, [("solo", "linked/Cargo.toml", "")])
        BuildConfig.load(repo / "buildcfg.toml", env={})


def test_path_dependency_leaving_the_repository_is_refused(repo: Path, tmp_path: Path) -> None:
    write(tmp_path, "outside/Cargo.toml", '[package]\nname = "outside"\nversion = "0.1.0"\n')
    write(tmp_path, "outside/src/lib.rs", "\n")
    p = repo / "ext/extlib/Cargo.toml"
    p.write_text(p.read_text() + '\n[dependencies]\noutside = { path = "../../../outside" }\n')
    err = config_error(repo, "sensor-bin")
    assert err.message.startswith(
        "path dependency 'outside' of ext/extlib/Cargo.toml '../../../outside' (from ext/extlib) is outside the repository"
    )


def test_workspace_pointer_leaving_the_repository_is_refused(repo: Path) -> None:
    p = repo / "ws/tools/gen/Cargo.toml"
    p.write_text(p.read_text().replace('workspace = "../.."', 'workspace = "../../../.."'))
    err = config_error(repo, "gen")
    assert err.message.startswith(
        "package.workspace of ws/tools/gen/Cargo.toml '../../../..' (from ws/tools/gen) is outside the repository"
    )


def test_vendor_dir_outside_the_repository_is_refused(repo: Path) -> None:
    write(
        repo,
        "ws/.cargo/config.toml",
        """
        [source.crates-io]
        replace-with = "v"
        [source.v]
        directory = "../../vendor"
    """,
    )
    (repo / "ws/Cargo.lock").write_text(
        lock(("attune-sensor", None), ("serde", "registry+https://github.com/rust-lang/crates.io-index"))
    )
    err = config_error(repo, "sensor-bin")
    assert "[source.v] directory '../../vendor'" in err.message and "outside the repository" in err.message


# -- sources: vendoring, registries, git -------------------------------------------------------
CRATES_IO = "registry+https://github.com/rust-lang/crates.io-index"
VENDOR_CONFIG = """
    [source.crates-io]
    replace-with = "vendored-sources"

    [source."git+https://git.example.com/team/gitdep?branch=main"]
    git = "https://git.example.com/team/gitdep"
    branch = "main"
    replace-with = "vendored-sources"

    [source.vendored-sources]
    directory = "vendor"
"""


def vendored(repo: Path) -> None:
    write(repo, "ws/.cargo/config.toml", VENDOR_CONFIG)
    write(repo, "ws/vendor/serde/Cargo.toml", '[package]\nname = "serde"\nversion = "1.0.0"\n')
    write(repo, "ws/vendor/serde/src/lib.rs", "\n")
    write(repo, "ws/vendor/serde/.cargo-checksum.json", '{"files":{},"package":null}\n')
    write(repo, "ws/vendor/serde/target/keep.rs", "// a vendored crate may ship anything: its checksum covers it\n")


def set_lock(repo: Path, *sources: str) -> None:
    pkgs: list[tuple[str, str | None]] = [("attune-sensor", None), ("shared", None)]
    pkgs += [(f"dep{i}", s) for i, s in enumerate(sources)]
    (repo / "ws/Cargo.lock").write_text(lock(*pkgs))


def test_vendor_dir_from_cargo_config_is_an_input(repo: Path) -> None:
    vendored(repo)
    set_lock(repo, CRATES_IO, "git+https://git.example.com/team/gitdep?branch=main#0123456789abcdef")
    bi = inputs(repo, "sensor-bin")
    assert {
        "ws/.cargo/config.toml",
        "ws/vendor/serde/Cargo.toml",
        "ws/vendor/serde/.cargo-checksum.json",
        "ws/vendor/serde/target/keep.rs",
    } <= rels(bi)
    assert bi.vendor_dirs == ("ws/vendor",)
    assert bi.workspace.source_configs == ((repo / "ws/.cargo/config.toml").resolve(),)
    assert not bi.needs_fetch
    assert bi.registry_hosts == ()
    # the vendor dir is no member's source: a vendored crate change changes the digest
    before, key = bi.digest, bi.fetch_key
    (repo / "ws/vendor/serde/src/lib.rs").write_text("// patched\n")
    bi2 = inputs(repo, "sensor-bin")
    assert bi2.digest != before
    assert bi2.fetch_key == key  # the fetch step depends on the lock and configs only
    (repo / "ws/.cargo/config.toml").write_text((repo / "ws/.cargo/config.toml").read_text() + "\n[net]\nretry = 3\n")
    assert inputs(repo, "sensor-bin").fetch_key != key


def test_missing_vendor_dir_is_a_config_error(repo: Path) -> None:
    write(repo, "ws/.cargo/config.toml", VENDOR_CONFIG)
    set_lock(repo, CRATES_IO)
    err = config_error(repo, "sensor-bin")
    assert err.message == "vendor directory ws/vendor (a source replacement in ws/.cargo/config.toml) does not exist"
    assert err.hint is not None and "cargo vendor" in err.hint


@pytest.mark.parametrize(
    ("config", "sources", "needs_fetch", "hosts"),
    [
        pytest.param("", [], False, (), id="no-external-packages"),
        pytest.param("", [CRATES_IO], True, ("index.crates.io", "static.crates.io"), id="crates-io"),
        pytest.param(
            "",
            ["sparse+https://index.crates.io/"],
            True,
            ("index.crates.io", "static.crates.io"),
            id="crates-io-sparse",
        ),
        pytest.param(VENDOR_CONFIG, [CRATES_IO], False, (), id="vendored"),
        pytest.param(
            VENDOR_CONFIG,
            [CRATES_IO, "git+https://git.example.com/team/gitdep?branch=main#abc"],
            False,
            (),
            id="vendored-git",
        ),
        pytest.param(
            VENDOR_CONFIG,
            ["git+https://git.example.com/team/gitdep?branch=dev#abc"],
            True,
            ("git.example.com",),
            id="git-other-branch-not-vendored",
        ),
        pytest.param("", ["git+https://git.example.com/team/gitdep#abc"], True, ("git.example.com",), id="git"),
        pytest.param(
            '[registries.internal]\nindex = "sparse+http://127.0.0.1:8080/index/"\n',
            ["sparse+http://127.0.0.1:8080/index/"],
            True,
            ("127.0.0.1",),
            id="private-sparse-registry",
        ),
        pytest.param(
            '[source.crates-io]\nreplace-with = "mirror"\n[source.mirror]\nregistry = "sparse+http://10.1.2.3:3000/index/"\n',
            [CRATES_IO],
            True,
            ("10.1.2.3",),
            id="crates-io-mirror",
        ),
        pytest.param(
            '[source.crates-io]\nreplace-with = "internal"\n[registries.internal]\nindex = "https://git.corp.example/index"\n',
            [CRATES_IO],
            True,
            ("git.corp.example",),
            id="replaced-by-a-registry",
        ),
        pytest.param(
            '[source.internal]\nregistry = "sparse+http://127.0.0.1:8080/index/"\nreplace-with = "vendored-sources"\n'
            '[source.vendored-sources]\ndirectory = "vendor"\n',
            ["sparse+http://127.0.0.1:8080/index/"],
            False,
            (),
            id="private-registry-vendored",
        ),
        pytest.param(
            '[source.crates-io]\nreplace-with = "local"\n[source.local]\nlocal-registry = "vendor"\n',
            [CRATES_IO],
            False,
            (),
            id="local-registry",
        ),
    ],
)
def test_needs_fetch(repo: Path, config: str, sources: list[str], needs_fetch: bool, hosts: tuple[str, ...]) -> None:
    if config:
        write(repo, "ws/.cargo/config.toml", config)
        (repo / "ws/vendor").mkdir()
    set_lock(repo, *sources)
    bi = inputs(repo, "sensor-bin")
    assert bi.needs_fetch is needs_fetch
    assert bi.registry_hosts == hosts


def test_replace_with_cycle_and_unknown_source_are_config_errors(repo: Path) -> None:
    set_lock(repo, CRATES_IO)
    write(
        repo,
        "ws/.cargo/config.toml",
        '[source.crates-io]\nreplace-with = "a"\n[source.a]\nreplace-with = "crates-io"\n',
    )
    assert "a cycle of replace-with sources: crates-io -> a -> crates-io" in config_error(repo, "sensor-bin").message
    write(repo, "ws/.cargo/config.toml", '[source.crates-io]\nreplace-with = "nowhere"\n')
    assert "names 'nowhere', which no [source.nowhere]" in config_error(repo, "sensor-bin").message


def test_config_hierarchy_deeper_wins_and_legacy_name_wins(repo: Path) -> None:
    # repo-level config says vendor; the package-level one points crates-io elsewhere: deeper wins
    write(repo, ".cargo/config.toml", '[source.crates-io]\nreplace-with = "v"\n[source.v]\ndirectory = "vendor"\n')
    (repo / "vendor").mkdir()
    write(repo, "ws/crates/sensor/.cargo/config.toml", '[source.v]\ndirectory = "crates/vendor-near"\n')
    write(repo, "ws/crates/sensor/.cargo/config", '[source.v]\ndirectory = "../../vendor-legacy"\n')
    (repo / "ws/vendor-legacy").mkdir()
    set_lock(repo, CRATES_IO)
    bi = inputs(repo, "sensor-bin")
    # per directory the extension-less legacy file is the one cargo reads
    assert [p.relative_to(repo.resolve()).as_posix() for p in bi.workspace.source_configs] == [
        "ws/crates/sensor/.cargo/config",
        ".cargo/config.toml",
    ]
    # a directory path is relative to the directory holding .cargo/
    assert bi.vendor_dirs == ("ws/vendor-legacy",)
    assert not bi.needs_fetch


def test_collect_all_shares_one_scan_and_agrees_with_single_calls(repo: Path) -> None:
    vendored(repo)
    set_lock(repo, CRATES_IO)
    cfg = load(repo)
    together = collect_all(cfg, cfg.binaries)
    alone = [collect_inputs(cfg, b) for b in cfg.binaries]
    assert [(b.binary_name, b.digest, b.files, b.stubs) for b in together] == [
        (b.binary_name, b.digest, b.files, b.stubs) for b in alone
    ]
    # One scan is one look: a file changed after it saw it is the next scan's business.
    scan = Scan()
    first = collect_inputs(cfg, binary(cfg, "sensor-bin"), scan=scan)
    (repo / "ws/vendor/serde/src/lib.rs").write_text("// changed\n")
    assert collect_inputs(cfg, binary(cfg, "sensor-bin"), scan=scan).digest == first.digest
    assert collect_inputs(cfg, binary(cfg, "sensor-bin")).digest != first.digest


# -- the stat cache ---------------------------------------------------------------------------
def cache_file(cache_env: Path) -> Path:
    files = list((cache_env / "input-hashes").glob("*.json"))
    assert len(files) == 1
    return files[0]


def test_stat_cache_is_used_and_notices_same_size_changes(
    repo: Path, cache_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    main = repo / "standalone/src/main.rs"
    os.utime(main, ns=(OLD_NS, OLD_NS))
    monkeypatch.setattr("packbin.workspace.hashcache.RACY_NS", 0)  # the files were just written: let them be cached now
    first = inputs(repo, "solo")
    real = next(f.sha256 for f in first.files if f.rel == "standalone/src/main.rs")
    # Prove an unchanged file is not read again: a planted hash is believed.
    path = cache_file(cache_env)
    data = json.loads(path.read_text())
    data["entries"]["standalone/src/main.rs"][4] = "0" * 64
    path.write_text(json.dumps(data))
    assert next(f.sha256 for f in inputs(repo, "solo").files if f.rel == "standalone/src/main.rs") == "0" * 64
    # Same size, mtime put back: the ctime still moves, so the change is seen.
    main.write_text(main.read_text().replace("main", "mian"))
    os.utime(main, ns=(OLD_NS, OLD_NS))
    changed = next(f.sha256 for f in inputs(repo, "solo").files if f.rel == "standalone/src/main.rs")
    assert changed not in ("0" * 64, real)


def test_corrupt_stat_cache_is_ignored(repo: Path, cache_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("packbin.workspace.hashcache.RACY_NS", 0)
    good = inputs(repo, "sensor-bin").digest
    cache_file(cache_env).write_bytes(b"\x00{not json")
    assert inputs(repo, "sensor-bin").digest == good
    json.loads(cache_file(cache_env).read_text())  # rewritten whole
    cache_file(cache_env).write_text('{"version": 1, "root": "x", "entries": {"a": [1]}}')
    assert inputs(repo, "sensor-bin").digest == good


def test_freshly_written_files_are_not_cached(repo: Path, cache_env: Path) -> None:
    # A file changed within the racy window could change again in the same timestamp tick.
    os.utime(repo / "standalone/Cargo.toml", ns=(OLD_NS, OLD_NS))
    inputs(repo, "solo")
    entries = (
        json.loads(cache_file(cache_env).read_text())["entries"]
        if list((cache_env / "input-hashes").glob("*.json"))
        else {}
    )
    assert "standalone/src/main.rs" not in entries


# -- the repository's own binary --------------------------------------------------------------
def test_the_real_timer_sensor_is_a_standalone_crate() -> None:
    root = Path(__file__).resolve().parents[2]
    cfg = BuildConfig.load(root / "buildcfg.toml", env={})
    b = cfg.binaries[0]
    bi = collect_inputs(cfg, b)
    crate = b.manifest.parent.relative_to(root).as_posix()
    assert bi.workspace.root_rel == crate
    assert bi.manifest_rel == f"{crate}/Cargo.toml"
    assert {f"{crate}/Cargo.toml", f"{crate}/Cargo.lock", f"{crate}/src/main.rs", f"{crate}/build.rs"} <= rels(bi)
    assert not bi.needs_fetch


# -- [build] rustflags ------------------------------------------------------------------------
def test_build_rustflags_join_across_configs_lower_precedence_first(repo: Path) -> None:
    write(repo, "ws/.cargo/config.toml", '[build]\nrustflags = ["--cfg", "tokio_unstable"]\n')
    write(repo, "ws/crates/sensor/.cargo/config.toml", '[build]\nrustflags = "-C debuginfo=1"\n')
    assert inputs(repo, "sensor-bin").build_rustflags == ("--cfg", "tokio_unstable", "-C", "debuginfo=1")
    assert inputs(repo, "other-tool").build_rustflags == ("--cfg", "tokio_unstable")  # not under sensor/


def test_build_rustflags_are_none_where_target_rustflags_apply(repo: Path) -> None:
    """cargo ignores [build] rustflags when any [target.*] rustflags are set; so does packbin."""
    write(repo, "ws/.cargo/config.toml", '[build]\nrustflags = ["--cfg", "a"]\n')
    write(repo, "ws/crates/sensor/.cargo/config.toml", '[target.\'cfg(unix)\']\nrustflags = ["--cfg", "b"]\n')
    assert inputs(repo, "sensor-bin").build_rustflags == ()
    assert inputs(repo, "other-tool").build_rustflags == ("--cfg", "a")


def test_build_rustflags_of_another_type_are_a_config_error(repo: Path) -> None:
    write(repo, "ws/.cargo/config.toml", "[build]\nrustflags = 3\n")
    assert config_error(repo, "sensor-bin").message == (
        "ws/.cargo/config.toml: build.rustflags must be a string or an array of strings"
    )
