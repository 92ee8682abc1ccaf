"""Binaries without a pack: config, plan, manifest, collect, init-packs and the init image context.

A binary without ``pack`` installs as ``dist/pack-binaries/<arch>/bin/<name>``, is never copied
into packs/, and init-packs / the init image leave it out (reported, not an error). The
executables are real (gcc -static / zig cc, via tests.support.deploy_fixtures).
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import pytest

from packbin.build.plan import BuildPlan, make_plan
from packbin.ci.collect import run_collect
from packbin.compose.init_packs import InitPacksRequest, run_init_packs
from packbin.config.model import BuildConfig
from packbin.dist.manifest import Artifact, Manifest, Toolchain
from packbin.errors import ConfigError, UsageError
from tests.support import deploy_fixtures
from tests.support.repo import SMALL_BUILDCFG, copy_repo, packbin

TOOL = "packless-tool"
SENSOR = "attune-core-timer-sensor"
ARCHES = SMALL_BUILDCFG.split("[[binaries]]")[0]
PACKLESS = f'\n[[binaries]]\nname = "{TOOL}"\nmanifest = "tool/Cargo.toml"\n'
SENSOR_BINARY = "[[binaries]]" + SMALL_BUILDCFG.split("[[binaries]]")[1]


def load(tmp_path: Path, body: str) -> BuildConfig:
    root = tmp_path / "repo"
    for crate in ("crate", "tool"):
        (root / crate).mkdir(parents=True, exist_ok=True)
        (root / crate / "Cargo.toml").write_text(f'[package]\nname = "{crate}"\nversion = "0.1.0"\n')
    (root / "buildcfg.toml").write_text('default_arch = "x86_64"\n' + body)
    return BuildConfig.load(root / "buildcfg.toml", env={})


def config_error(tmp_path: Path, body: str) -> str:
    with pytest.raises(ConfigError) as e:
        load(tmp_path, body)
    assert e.value.exit_code == 2
    return e.value.message


# -- config -------------------------------------------------------------------------------------


def test_pack_is_optional(tmp_path: Path) -> None:
    cfg = load(tmp_path, ARCHES + PACKLESS)
    (b,) = cfg.binaries
    assert b.name == TOOL and b.pack is None and b.install_path == TOOL


def test_install_path_without_a_pack_is_refused(tmp_path: Path) -> None:
    msg = config_error(tmp_path, ARCHES + PACKLESS + 'install_path = "bin/x"\n')
    assert "binaries[0].install_path" in msg
    assert f"dist/pack-binaries/<arch>/bin/{TOOL}" in msg and "remove install_path, or add pack" in msg


@pytest.mark.parametrize("pack", ["bin", "Bin"])
def test_a_pack_called_bin_is_refused(tmp_path: Path, pack: str) -> None:
    msg = config_error(tmp_path, ARCHES + SENSOR_BINARY.replace('pack = "core"', f'pack = "{pack}"'))
    assert "binaries[0].pack" in msg and "reserved" in msg and "dist/pack-binaries/<arch>/bin/" in msg


def test_packless_and_pack_binaries_may_share_a_file_name(tmp_path: Path) -> None:
    """``bin/<name>`` and ``<pack>/<install path>`` never meet, so no clash is reported."""
    body = ARCHES + SENSOR_BINARY.replace(
        'install_path = "sensors/attune-core-timer-sensor"', f'install_path = "{TOOL}"'
    )
    cfg = load(tmp_path, body + PACKLESS.replace(f'name = "{TOOL}"', 'name = "other"'))
    assert [b.pack for b in cfg.binaries] == ["core", None]


# -- plan ---------------------------------------------------------------------------------------


def test_plan_puts_a_packless_binary_under_bin_and_never_into_packs(tmp_path: Path) -> None:
    cfg = load(tmp_path, ARCHES + SENSOR_BINARY + PACKLESS)
    plan = make_plan(
        cfg,
        cfg.select_arches("all"),
        cfg.binaries,
        source_hashes={SENSOR: "a" * 64, TOOL: "b" * 64},
        manifest=Manifest(),
        deploy_arch="x86_64",
        file_sha256=lambda rel: None,
    )
    targets = {(t.arch.name, t.binary.name): t for t in plan.all_targets}
    assert targets[("x86_64", TOOL)].dist_path == f"dist/pack-binaries/x86_64/bin/{TOOL}"
    assert targets[("arm64", TOOL)].dist_path == f"dist/pack-binaries/arm64/bin/{TOOL}"
    assert targets[("x86_64", TOOL)].pack_path is None  # the deploy arch, still nothing in packs/
    assert targets[("x86_64", SENSOR)].pack_path == f"packs/core/sensors/{SENSOR}"


# -- manifest -----------------------------------------------------------------------------------


def artifact(data: bytes, arch: str = "x86_64", **kw: object) -> Artifact:
    fields: dict[str, object] = {
        "arch": arch,
        "target": {"x86_64": "x86_64-unknown-linux-musl", "arm64": "aarch64-unknown-linux-musl"}[arch],
        "pack": None,
        "binary": TOOL,
        "path": f"dist/pack-binaries/{arch}/bin/{TOOL}",
        "sha256": hashlib.sha256(data).hexdigest(),
        "size": len(data),
        "static": True,
        "stripped": False,
        "source_hash": "s" * 8,
        "builder_image": "packbin/builder:test",
        "toolchain": Toolchain(rustc="1.96", cargo_zigbuild="0.24.1", zig="0.17.1"),
        "input_hash": "i" * 8,
    }
    fields.update(kw)
    return Artifact(**fields)  # type: ignore[arg-type]


def test_manifest_records_a_missing_pack_as_null_and_reads_it_back(tmp_path: Path) -> None:
    a = artifact(b"x")
    path = tmp_path / "manifest.json"
    Manifest(artifacts=(a,)).save(path)
    assert json.loads(path.read_text())["artifacts"][0]["pack"] is None
    assert Manifest.load(path).artifacts == (a,)


def test_manifest_entry_without_a_pack_key_reads_as_no_pack(tmp_path: Path) -> None:
    raw = artifact(b"x").to_json()
    del raw["pack"]
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps({"artifacts": [raw]}))
    assert Manifest.load(path).artifacts[0].pack is None


def test_manifest_pack_of_the_wrong_type_is_refused(tmp_path: Path) -> None:
    raw = artifact(b"x").to_json() | {"pack": 3}
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps({"artifacts": [raw]}))
    with pytest.raises(UsageError, match="pack must be a string or null"):
        Manifest.load(path)


# -- collect ------------------------------------------------------------------------------------


def packless_tree(root: Path, arch: str, data: bytes, entry: Artifact) -> Path:
    f = root / arch / "bin" / TOOL
    f.parent.mkdir(parents=True, exist_ok=True)
    f.write_bytes(data)
    f.chmod(0o755)
    (root / "manifest.json").write_text(Manifest(artifacts=(entry,)).to_json())
    return root


def test_collect_takes_a_packless_binary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    cfg = load(tmp_path, ARCHES + PACKLESS)
    data = deploy_fixtures.static_x86_64()
    tree = packless_tree(tmp_path / "in", "x86_64", data, artifact(data))
    merged = run_collect(cfg, [str(tree)], out=io.StringIO(), require=("x86_64",))
    (a,) = merged.artifacts
    assert a.pack is None
    assert (cfg.root / f"dist/pack-binaries/x86_64/bin/{TOOL}").read_bytes() == data
    assert not (cfg.root / "packs").exists()


def test_collect_refuses_a_packless_entry_for_a_pack_binary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The config says the binary has a pack: an entry saying it has none is not what a build wrote."""
    from packbin.errors import CheckFailed

    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    cfg = load(
        tmp_path,
        ARCHES + PACKLESS.replace('manifest = "tool/Cargo.toml"', 'manifest = "tool/Cargo.toml"\npack = "core"'),
    )
    data = deploy_fixtures.static_x86_64()
    tree = packless_tree(tmp_path / "in", "x86_64", data, artifact(data))
    with pytest.raises(CheckFailed) as e:
        run_collect(cfg, [str(tree)], out=io.StringIO(), require=("x86_64",))
    assert "(no pack) is not where build-pack-binaries puts it" in e.value.message
    assert f"'dist/pack-binaries/x86_64/core/sensors/{TOOL}' (pack 'core' in buildcfg.toml)" in e.value.message


# -- init-packs and the init image ---------------------------------------------------------------


def built_dist(cfg: BuildConfig, data: bytes) -> None:
    """dist/ as build-pack-binaries leaves it: the sensor in its pack, the tool under bin/."""
    tree = cfg.root / "dist/pack-binaries/x86_64"
    for rel in (f"core/sensors/{SENSOR}", f"bin/{TOOL}"):
        (tree / rel).parent.mkdir(parents=True, exist_ok=True)
        (tree / rel).write_bytes(data)
        (tree / rel).chmod(0o755)
    sensor = artifact(data, pack="core", binary=SENSOR, path=f"dist/pack-binaries/x86_64/core/sensors/{SENSOR}")
    Manifest(artifacts=(sensor, artifact(data))).save(cfg.root / "dist/pack-binaries/manifest.json")


def test_init_packs_leaves_a_packless_binary_out_and_says_so(tmp_path: Path) -> None:
    cfg = load(tmp_path, 'deploy_arch = "x86_64"\n' + ARCHES + SENSOR_BINARY + PACKLESS)
    (cfg.root / "packs/core/sensors").mkdir(parents=True)
    (cfg.root / "packs/core/pack.yaml").write_text("name: core\n")
    built_dist(cfg, deploy_fixtures.static_x86_64())
    dest = tmp_path / "dest"
    out = io.StringIO()
    report = run_init_packs(
        cfg, InitPacksRequest(dest=str(dest), volume=None, source=None, binaries=None, arch=None,
        delete=False, dry_run=False, checksum=False, as_json=False), out=out,
    )  # fmt: skip
    assert report.ok and f"core/sensors/{SENSOR}" in report.copied
    assert not (dest / "bin").exists() and not any(TOOL in p for p in report.copied)
    assert f"  skipped    {cfg.root}/dist/pack-binaries/x86_64/bin/{TOOL}: no pack, not deployed" in out.getvalue()
    out = io.StringIO()
    run_init_packs(
        cfg, InitPacksRequest(dest=str(dest), volume=None, source=None, binaries=None, arch=None,
        delete=False, dry_run=True, checksum=False, as_json=True), out=out,
    )  # fmt: skip
    assert json.loads(out.getvalue())["packless"] == [f"{cfg.root}/dist/pack-binaries/x86_64/bin/{TOOL}"]


def test_init_image_context_holds_pack_binaries_only(tmp_path: Path) -> None:
    import tarfile

    from packbin.compose.init_image import _init_context, packless_binaries, verified_binaries

    cfg = load(tmp_path, ARCHES + SENSOR_BINARY + PACKLESS)
    (cfg.root / "packs/core").mkdir(parents=True)
    (cfg.root / "packs/core/pack.yaml").write_text("name: core\n")
    built_dist(cfg, deploy_fixtures.static_x86_64())
    arch = cfg.arch("x86_64")
    bins = verified_binaries(cfg, arch)
    assert [rel for rel, _ in bins] == [f"core/sensors/{SENSOR}"]
    assert packless_binaries(cfg, arch) == [f"dist/pack-binaries/x86_64/bin/{TOOL}"]
    with tarfile.open(fileobj=io.BytesIO(_init_context(cfg, arch, "debian:bookworm-slim", bins))) as tf:
        names = tf.getnames()
    assert f"pack-binaries/x86_64/core/sensors/{SENSOR}" in names
    assert not any(TOOL in n for n in names)


# -- copy_to_packs --------------------------------------------------------------------------------

TWO_PACK_BINARIES = (
    ARCHES
    + SENSOR_BINARY
    + PACKLESS.replace('manifest = "tool/Cargo.toml"', 'manifest = "tool/Cargo.toml"\npack = "extra"')
)


def test_copy_to_packs_false_at_top_level_covers_every_binary(tmp_path: Path) -> None:
    cfg = load(tmp_path, "copy_to_packs = false\n" + TWO_PACK_BINARIES)
    assert [(b.name, b.copy_to_packs) for b in cfg.binaries] == [(SENSOR, False), (TOOL, False)]


def test_copy_to_packs_per_binary_overrides_the_top_level(tmp_path: Path) -> None:
    body = "copy_to_packs = false\n" + TWO_PACK_BINARIES.replace(
        'pack = "extra"', 'pack = "extra"\ncopy_to_packs = true'
    )
    cfg = load(tmp_path, body)
    assert [(b.name, b.copy_to_packs) for b in cfg.binaries] == [(SENSOR, False), (TOOL, True)]
    cfg = load(tmp_path, TWO_PACK_BINARIES.replace('pack = "extra"', 'pack = "extra"\ncopy_to_packs = false'))
    assert [(b.name, b.copy_to_packs) for b in cfg.binaries] == [(SENSOR, True), (TOOL, False)]


def test_copy_to_packs_true_without_a_pack_is_refused(tmp_path: Path) -> None:
    msg = config_error(tmp_path, ARCHES + PACKLESS + "copy_to_packs = true\n")
    assert "binaries[0].copy_to_packs" in msg and "has no pack" in msg
    # Top level true (the default) is fine: it means "the binaries that have a pack".
    assert load(tmp_path, "copy_to_packs = true\n" + ARCHES + PACKLESS).binaries[0].copy_to_packs is False


def test_copy_to_packs_must_be_a_boolean(tmp_path: Path) -> None:
    assert "copy_to_packs" in config_error(tmp_path, 'copy_to_packs = "no"\n' + TWO_PACK_BINARIES)


def plan_of(cfg: BuildConfig, files: dict[str, str] | None = None, manifest: Manifest | None = None) -> BuildPlan:
    return make_plan(
        cfg,
        cfg.select_arches("all"),
        cfg.binaries,
        source_hashes={b.name: "a" * 64 for b in cfg.binaries},
        manifest=manifest or Manifest(),
        deploy_arch="x86_64",
        file_sha256=lambda rel: (files or {}).get(rel),
    )


def test_plan_says_which_binaries_go_to_packs_and_why_not(tmp_path: Path) -> None:
    cfg = load(
        tmp_path,
        TWO_PACK_BINARIES.replace('pack = "extra"', 'pack = "extra"\ncopy_to_packs = false')
        + PACKLESS.replace(TOOL, "loose"),
    )
    skip = {(t.arch.name, t.binary.name): (t.pack_path, t.packs_skip) for t in plan_of(cfg).all_targets}
    assert skip[("x86_64", SENSOR)] == (f"packs/core/sensors/{SENSOR}", None)
    assert skip[("x86_64", TOOL)] == (None, "copy_to_packs = false")
    assert skip[("x86_64", "loose")] == (None, "no pack")
    assert skip[("arm64", SENSOR)] == (None, "not the deploy arch")


def test_a_no_copy_binary_is_up_to_date_without_a_packs_copy(tmp_path: Path) -> None:
    """With copy_to_packs = false a missing packs/ file is not a reason to reinstall."""
    cfg = load(tmp_path, "copy_to_packs = false\n" + ARCHES + SENSOR_BINARY)
    first = plan_of(cfg)
    (t,) = [t for t in first.all_targets if t.arch.name == "x86_64"]
    digest = "c" * 64
    recorded = artifact(b"", pack="core", binary=SENSOR, path=t.dist_path, sha256=digest, input_hash=t.input_hash)
    again = plan_of(cfg, files={t.dist_path: digest}, manifest=Manifest(artifacts=(recorded,)))
    assert [u.key for u in again.up_to_date] == [("x86_64", SENSOR)] and again.reinstall == ()


def test_dry_run_rows_and_json_name_the_packs_copy(tmp_path: Path) -> None:
    from packbin.build.report import write_plan

    cfg = load(tmp_path, TWO_PACK_BINARIES.replace('pack = "extra"', 'pack = "extra"\ncopy_to_packs = false'))
    plan = plan_of(cfg)
    out = io.StringIO()
    write_plan(plan, out=out, as_json=False)
    text = out.getvalue()
    assert f"dist/pack-binaries/x86_64/core/sensors/{SENSOR} (+ packs/core/sensors/{SENSOR})" in text
    assert f"dist/pack-binaries/x86_64/extra/sensors/{TOOL} (not into packs/: copy_to_packs = false)" in text
    assert "arm64" in text and "not into packs/: not the deploy arch" not in text  # noise only for the deploy arch
    out = io.StringIO()
    write_plan(plan, out=out, as_json=True)
    rows = {(r["arch"], r["binary"]): r for r in json.loads(out.getvalue())["targets"]}
    assert (
        rows[("x86_64", TOOL)]["pack_path"] is None and rows[("x86_64", TOOL)]["packs_skip"] == "copy_to_packs = false"
    )
    assert rows[("x86_64", SENSOR)]["packs_skip"] is None


def test_build_report_lists_the_packs_copies(tmp_path: Path) -> None:
    from packbin.build.report import BuildReport, write_report

    cfg = load(tmp_path, ARCHES + SENSOR_BINARY + PACKLESS)
    plan = plan_of(cfg)
    manifest = Manifest(
        artifacts=tuple(
            artifact(b"", t.arch.name, pack=t.binary.pack, binary=t.binary.name, path=t.dist_path)
            for t in plan.all_targets
        )
    )
    report = BuildReport.make(
        cfg=cfg, plan=plan, manifest=manifest, written=[], warnings=[], builder_image=None, seconds=1.0
    )
    packs = {r["binary"]: r for r in report.to_json()["packs"]}
    assert packs[SENSOR] == {
        "arch": "x86_64",
        "binary": SENSOR,
        "pack_path": f"packs/core/sensors/{SENSOR}",
        "packs_skip": None,
    }
    assert packs[TOOL]["pack_path"] is None and packs[TOOL]["packs_skip"] == "no pack"
    out = io.StringIO()
    write_report(report, out=out, as_json=False)
    assert f"not copied into packs/: {TOOL} (no pack)" in out.getvalue()


# -- a directory install_path is refused at plan time ---------------------------------------------


def test_install_path_that_is_a_directory_is_refused_before_any_build(tmp_path: Path) -> None:
    from packbin.build.install import check_install_paths

    cfg = load(tmp_path, ARCHES + SENSOR_BINARY.replace("sensors/attune-core-timer-sensor", "sensors/timer-sensor"))
    (cfg.root / "packs/core/sensors/timer-sensor/src").mkdir(parents=True)
    with pytest.raises(ConfigError) as e:
        check_install_paths(cfg, plan_of(cfg).all_targets)
    assert e.value.exit_code == 2
    assert (
        "installs to packs/core/sensors/timer-sensor, but packs/core/sensors/timer-sensor is a directory"
        in e.value.message
    )
    assert "set install_path of binary" in (e.value.hint or "")


def test_a_file_where_a_directory_of_the_install_path_goes_is_refused(tmp_path: Path) -> None:
    from packbin.build.install import check_install_paths

    cfg = load(tmp_path, ARCHES + SENSOR_BINARY)
    (cfg.root / "packs/core").mkdir(parents=True)
    (cfg.root / "packs/core/sensors").write_text("a file, not a directory\n")
    with pytest.raises(ConfigError, match="packs/core/sensors is a file, not a directory"):
        check_install_paths(cfg, plan_of(cfg).all_targets)
    (cfg.root / "packs/core/sensors").unlink()
    (cfg.root / "dist/pack-binaries/arm64/core/sensors").mkdir(parents=True)
    (cfg.root / f"dist/pack-binaries/arm64/core/sensors/{SENSOR}").mkdir()
    with pytest.raises(ConfigError, match=f"arm64.*dist/pack-binaries/arm64/core/sensors/{SENSOR} is a directory"):
        check_install_paths(cfg, plan_of(cfg).all_targets)


def test_dry_run_refuses_a_directory_install_path_in_one_line(tmp_path: Path) -> None:
    """The real command line: exit 2, one error line and a hint, before any engine is asked."""
    repo = copy_repo(tmp_path / "repo")
    text = (repo / "buildcfg.toml").read_text()
    (repo / "buildcfg.toml").write_text(
        text.replace(f'install_path = "sensors/{SENSOR}"', 'install_path = "sensors/timer-sensor"')
    )
    assert (repo / "packs/core/sensors/timer-sensor").is_dir()  # the crate's own source directory
    env = {"DOCKER_HOST": "unix:///nonexistent/docker.sock"}  # an engine asked would fail differently
    res = packbin("build-pack-binaries", "--dry-run", "--deploy-arch=x86_64", cwd=repo, env=env)
    assert res.returncode == 2, res.stdout + res.stderr
    assert res.stderr.startswith(
        "packbin: error: binary 'attune-core-timer-sensor' (x86_64) installs to packs/core/sensors/timer-sensor, but"
    )
    assert "is a directory" in res.stderr and "Traceback" not in res.stderr


# -- init-packs without a packs tree --------------------------------------------------------------


def test_init_packs_without_a_packs_tree_says_what_it_needs(tmp_path: Path) -> None:
    cfg = load(tmp_path, ARCHES + SENSOR_BINARY)
    res = packbin("init-packs", "--dest", str(tmp_path / "dest"), "--arch=x86_64", cwd=cfg.root)
    assert res.returncode == 2, res.stdout + res.stderr
    assert res.stderr.startswith(
        "packbin: error: init-packs needs a pack tree, and packs/ (packs_dir in buildcfg.toml) does not exist"
    )
    assert "packs_dir" in res.stderr and "--source DIR" in res.stderr and "Traceback" not in res.stderr
    assert "has a pack" not in res.stderr
    assert not (tmp_path / "dest").exists()


def test_init_packs_without_a_packs_tree_says_when_no_binary_has_a_pack(tmp_path: Path) -> None:
    cfg = load(tmp_path, ARCHES + PACKLESS)
    res = packbin("init-packs", "--dest", str(tmp_path / "dest"), "--arch=x86_64", cwd=cfg.root)
    assert res.returncode == 2, res.stdout + res.stderr
    assert "no binary in buildcfg.toml has a pack" in res.stderr and "dist/pack-binaries/<arch>/bin/" in res.stderr


def test_init_packs_with_source_does_not_need_packs_dir(tmp_path: Path) -> None:
    cfg = load(tmp_path, ARCHES + SENSOR_BINARY)
    elsewhere = tmp_path / "elsewhere/core"
    elsewhere.mkdir(parents=True)
    (elsewhere / "pack.yaml").write_text("name: core\n")
    report = run_init_packs(
        cfg, InitPacksRequest(dest=str(tmp_path / "dest"), volume=None, source=str(elsewhere.parent), binaries=None, arch="x86_64",
        delete=False, dry_run=False, checksum=False, as_json=False), out=io.StringIO(),
    )  # fmt: skip
    assert "core/pack.yaml" in report.copied and (tmp_path / "dest/core/pack.yaml").is_file()


# -- init-packs --dry-run speaks in the conditional -----------------------------------------------


def test_init_packs_dry_run_rows_say_would(tmp_path: Path) -> None:
    cfg = load(tmp_path, ARCHES + SENSOR_BINARY)
    (cfg.root / "packs/core").mkdir(parents=True)
    (cfg.root / "packs/core/pack.yaml").write_text("name: core\n")
    (cfg.root / "packs/core/new.yaml").write_text("new\n")
    dest = tmp_path / "dest"
    (dest / "core").mkdir(parents=True)
    (dest / "core/pack.yaml").write_text("name: old core\n")
    (dest / "core/gone.yaml").write_text("gone\n")

    def run(*, dry_run: bool, as_json: bool) -> str:
        out = io.StringIO()
        run_init_packs(
            cfg, InitPacksRequest(dest=str(dest), volume=None, source=None, binaries=None, arch="x86_64",
            delete=True, dry_run=dry_run, checksum=False, as_json=as_json), out=out,
        )  # fmt: skip
        return out.getvalue()

    text = run(dry_run=True, as_json=False)
    rows = [line for line in text.splitlines() if line.startswith("  ")]
    assert rows == ["  would copy    core/new.yaml", "  would replace core/pack.yaml", "  would delete  core/gone.yaml"]
    doc = json.loads(run(dry_run=True, as_json=True))
    assert doc["dry_run"] is True and {"core/pack.yaml", "core/new.yaml"} <= set(doc["copied"])
    assert (dest / "core/pack.yaml").read_text() == "name: old core\n" and (dest / "core/gone.yaml").exists()
    doc = json.loads(run(dry_run=False, as_json=True))
    assert doc["dry_run"] is False and doc["deleted"] == ["core/gone.yaml"]
    text = run(dry_run=True, as_json=False)
    assert [line for line in text.splitlines() if line.startswith("  ")] == []  # nothing left to do
    assert "0 would be copied, 2 unchanged" in text


def test_init_image_context_without_a_packs_tree_still_has_the_packs_directory(tmp_path: Path) -> None:
    """Pack binaries whose packs live elsewhere (no packs_dir here): the Dockerfile's COPY packs/ needs it."""
    import tarfile

    from packbin.compose.init_image import _init_context, verified_binaries

    cfg = load(tmp_path, "copy_to_packs = false\n" + ARCHES + SENSOR_BINARY)
    built_dist(cfg, deploy_fixtures.static_x86_64())
    arch = cfg.arch("x86_64")
    with tarfile.open(
        fileobj=io.BytesIO(_init_context(cfg, arch, "debian:bookworm-slim", verified_binaries(cfg, arch)))
    ) as tf:
        packs = tf.getmember("packs")
    assert packs.isdir()


def test_collect_of_a_no_copy_binary_writes_dist_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    cfg = load(tmp_path, "copy_to_packs = false\n" + ARCHES + SENSOR_BINARY)
    data = deploy_fixtures.static_x86_64()
    tree = tmp_path / "in"
    f = tree / f"x86_64/core/sensors/{SENSOR}"
    f.parent.mkdir(parents=True)
    f.write_bytes(data)
    entry = artifact(data, pack="core", binary=SENSOR, path=f"dist/pack-binaries/x86_64/core/sensors/{SENSOR}")
    (tree / "manifest.json").write_text(Manifest(artifacts=(entry,)).to_json())
    (merged,) = run_collect(cfg, [str(tree)], out=io.StringIO(), require=("x86_64",)).artifacts
    assert merged.pack == "core" and (cfg.root / merged.path).read_bytes() == data
    assert not (cfg.root / "packs").exists()
