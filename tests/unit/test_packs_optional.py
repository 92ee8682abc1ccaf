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

from packbin.collect import run_collect
from packbin.config import BuildConfig
from packbin.errors import ConfigError, UsageError
from packbin.initpacks import run_init_packs
from packbin.manifest import Artifact, Manifest, Toolchain
from packbin.plan import make_plan
from tests.support import deploy_fixtures
from tests.support.repo import SMALL_BUILDCFG

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
        cfg, dest=str(dest), volume=None, source=None, binaries=None, arch=None,
        delete=False, dry_run=False, checksum=False, as_json=False, out=out,
    )  # fmt: skip
    assert report.ok and f"core/sensors/{SENSOR}" in report.copied
    assert not (dest / "bin").exists() and not any(TOOL in p for p in report.copied)
    assert f"no pack    {cfg.root}/dist/pack-binaries/x86_64/bin/{TOOL}: not deployed" in out.getvalue()
    out = io.StringIO()
    run_init_packs(
        cfg, dest=str(dest), volume=None, source=None, binaries=None, arch=None,
        delete=False, dry_run=True, checksum=False, as_json=True, out=out,
    )  # fmt: skip
    assert json.loads(out.getvalue())["packless"] == [f"{cfg.root}/dist/pack-binaries/x86_64/bin/{TOOL}"]


def test_init_image_context_holds_pack_binaries_only(tmp_path: Path) -> None:
    import tarfile

    from packbin.init_image import _init_context, packless_binaries, verified_binaries

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
