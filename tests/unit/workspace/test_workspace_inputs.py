"""What goes into a bin's build, its digests and payloads (packbin.workspace.inputs).

The fixture repository is tests/support/workspace_repo.py's (see its docstring); the
``repo`` and ``cache_env`` fixtures are this directory's conftest.py.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from packbin.config.model import BuildConfig
from packbin.workspace import (
    Scan,
    collect_all,
    collect_inputs,
    merge_payload,
)
from tests.support.repo import REPO
from tests.support.workspace_repo import (
    CRATES_IO,
    binary,
    config_error,
    inputs,
    load,
    materialize,
    rels,
    set_lock,
    vendored,
    write,
    write_config,
)


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


def test_the_real_timer_sensor_is_a_standalone_crate() -> None:
    root = REPO
    cfg = BuildConfig.load(root / "buildcfg.toml", env={})
    b = cfg.binaries[0]
    bi = collect_inputs(cfg, b)
    crate = b.manifest.parent.relative_to(root).as_posix()
    assert bi.workspace.root_rel == crate
    assert bi.manifest_rel == f"{crate}/Cargo.toml"
    assert {f"{crate}/Cargo.toml", f"{crate}/Cargo.lock", f"{crate}/src/main.rs", f"{crate}/build.rs"} <= rels(bi)
    assert not bi.needs_fetch
