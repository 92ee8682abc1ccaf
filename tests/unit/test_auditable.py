"""``[builder] auditable`` and what it wires (issue 18): the key, which identities it changes
(the up-to-date key) and which it must not (the builder image, the build caches), the build
container's environment, the toolchain's cargo version, and the manifest's new fields read
back as untrusted input."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from packbin.build.job import build_environment
from packbin.build.plan import builder_key, make_plan
from packbin.build.recipe import make_recipe
from packbin.build.script_log import BuildLogReader
from packbin.ci.cache_transfer import cache_key
from packbin.config.model import BuildConfig
from packbin.dist.manifest import Manifest, Provenance, Toolchain
from packbin.errors import ConfigError, UsageError
from packbin.workspace import collect_all
from tests.unit.test_config import REAL_CONFIG, config_error, load_variant

SHA = "ab" * 32


@pytest.fixture
def cfg() -> BuildConfig:
    return BuildConfig.load(REAL_CONFIG, env={})


# -- the key ---------------------------------------------------------------------------------


def test_auditable_is_on_by_default(cfg: BuildConfig) -> None:
    assert cfg.builder.auditable is True


def test_auditable_false_is_read(tmp_path: Path) -> None:
    loaded = load_variant(tmp_path, "strip = true", "strip = true\nauditable = false")
    assert loaded.builder.auditable is False


def test_auditable_must_be_a_boolean(tmp_path: Path) -> None:
    err, path = config_error(tmp_path, "strip = true", 'strip = true\nauditable = "yes"')
    assert str(path) in str(err)
    assert "builder.auditable" in str(err)


def test_a_misspelt_auditable_is_named_with_a_suggestion(tmp_path: Path) -> None:
    err, _ = config_error(tmp_path, "strip = true", "strip = true\nauditible = false")
    assert "builder.auditible" in str(err)
    assert "auditable" in str(err).replace("builder.auditible", "")


# -- what it changes and what it must not ----------------------------------------------------


def test_auditable_keeps_the_builder_image_and_the_cache_key(cfg: BuildConfig) -> None:
    off = dataclasses.replace(cfg, builder=dataclasses.replace(cfg.builder, auditable=False))
    for profile, base in (("debian", "debian:bookworm-slim"), ("rustup", "rust:1.85-slim-bookworm")):
        assert make_recipe(off, profile, base).tag == make_recipe(cfg, profile, base).tag
    assert cache_key(off, off.architectures) == cache_key(cfg, cfg.architectures)


def test_turning_auditable_off_rebuilds_the_binaries(cfg: BuildConfig) -> None:
    """The section is part of the artifact: the up-to-date key changes, so dist/ never keeps a
    binary with a section after auditable = false (or without one after it is turned on)."""
    off = dataclasses.replace(cfg, builder=dataclasses.replace(cfg.builder, auditable=False))
    assert builder_key(off) != builder_key(cfg)
    inputs = {i.binary_name: i for i in collect_all(cfg, cfg.binaries)}
    hashes = {n: i.digest for n, i in inputs.items()}
    first = make_plan(
        cfg,
        cfg.architectures,
        cfg.binaries,
        source_hashes=hashes,
        manifest=Manifest(),
        deploy_arch="x86_64",
        file_sha256=lambda rel: None,
    )
    again = make_plan(
        off,
        off.architectures,
        off.binaries,
        source_hashes=hashes,
        manifest=Manifest(),
        deploy_arch="x86_64",
        file_sha256=lambda rel: None,
    )
    assert {t.input_hash for t in first.targets}.isdisjoint({t.input_hash for t in again.targets})


@pytest.mark.parametrize(("auditable", "value"), [(True, "1"), (False, "0")])
def test_the_build_container_is_told(cfg: BuildConfig, auditable: bool, value: str) -> None:
    cfg = dataclasses.replace(cfg, builder=dataclasses.replace(cfg.builder, auditable=auditable))
    inputs = {i.binary_name: i for i in collect_all(cfg, cfg.binaries)}
    plan = make_plan(
        cfg,
        cfg.architectures,
        cfg.binaries,
        source_hashes={n: i.digest for n, i in inputs.items()},
        manifest=Manifest(),
        deploy_arch="x86_64",
        file_sha256=lambda rel: None,
    )
    env = build_environment(cfg, plan.steps[0], inputs, profile="debian", sources_id="s")
    assert env["PACKBIN_AUDITABLE"] == value


# -- the toolchain's cargo -------------------------------------------------------------------


def test_the_toolchain_line_names_cargo() -> None:
    reader = BuildLogReader()
    assert reader.feed("::packbin-toolchain rustc=1.96.0 cargo=1.96.0 cargo_zigbuild=0.24.1 zig=0.17.1") == []
    assert reader.toolchain == Toolchain(rustc="1.96.0", cargo="1.96.0", cargo_zigbuild="0.24.1", zig="0.17.1")


def test_a_toolchain_line_without_cargo_still_reads() -> None:
    """The line an older build script printed (a build container of another packbin on the engine)."""
    reader = BuildLogReader()
    reader.feed("::packbin-toolchain rustc=1.96.0 cargo_zigbuild=0.24.1 zig=0.17.1")
    assert reader.toolchain == Toolchain(rustc="1.96.0", cargo="", cargo_zigbuild="0.24.1", zig="0.17.1")


# -- the manifest's new fields, untrusted when read back -------------------------------------


def _entry(**changes: object) -> dict[str, object]:
    entry: dict[str, object] = {
        "arch": "x86_64",
        "target": "x86_64-unknown-linux-musl",
        "pack": "core",
        "binary": "b",
        "path": "dist/pack-binaries/x86_64/core/sensors/b",
        "sha256": SHA,
        "size": 1,
        "static": True,
        "stripped": True,
        "source_hash": "",
        "builder_image": "",
        "toolchain": {"rustc": "1.96.0", "cargo_zigbuild": "0.24.1", "zig": "0.17.1"},
    }
    entry.update(changes)
    return entry


def _load(tmp_path: Path, doc: object) -> Manifest:
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(doc))
    return Manifest.load(path)


def test_a_manifest_written_before_issue_18_still_reads(tmp_path: Path) -> None:
    m = _load(tmp_path, {"artifacts": [_entry()]})
    a = m.artifacts[0]
    assert (a.toolchain.cargo, a.sbom, a.sbom_sha256, m.provenance) == ("", None, None, None)


def test_sbom_and_provenance_round_trip(tmp_path: Path) -> None:
    m = _load(
        tmp_path,
        {
            "artifacts": [_entry(sbom="dist/pack-binaries/x86_64/core/sensors/b.cdx.json", sbom_sha256=SHA)],
            "provenance": {"path": "dist/pack-binaries/provenance.intoto.json", "sha256": SHA},
        },
    )
    assert m.provenance == Provenance(path="dist/pack-binaries/provenance.intoto.json", sha256=SHA)
    assert _load(tmp_path, json.loads(m.to_json())) == m


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"sbom": "../../etc/passwd", "sbom_sha256": SHA}, "sbom '../../etc/passwd' must be relative"),
        ({"sbom": "/etc/passwd", "sbom_sha256": SHA}, "must be relative"),
        ({"sbom": 7, "sbom_sha256": SHA}, "sbom must be a string"),
        ({"sbom": "x.cdx.json"}, "sbom and sbom_sha256 must both be set"),
        ({"sbom": "x.cdx.json", "sbom_sha256": "AB" * 32}, "sbom_sha256 must be 64 lowercase hex"),
        ({"toolchain": {"cargo": 1}}, "toolchain.cargo must be a string"),
    ],
)
def test_bad_sbom_fields_are_refused(tmp_path: Path, changes: dict[str, object], message: str) -> None:
    with pytest.raises(UsageError) as info:
        _load(tmp_path, {"artifacts": [_entry(**changes)]})
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("provenance", "message"),
    [
        ("p.json", "provenance must be an object or null"),
        ({"path": "../p.json", "sha256": SHA}, "must be relative"),
        ({"path": "p.json"}, "provenance.sha256 must be 64 lowercase hex"),
    ],
)
def test_bad_provenance_is_refused(tmp_path: Path, provenance: object, message: str) -> None:
    with pytest.raises(UsageError) as info:
        _load(tmp_path, {"artifacts": [], "provenance": provenance})
    assert message in str(info.value)
    assert not isinstance(info.value, ConfigError)
