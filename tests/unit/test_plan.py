"""Planning is pure: (config, arches, binaries, source digests, manifest, file hashes) -> steps.

The one I/O the plan needs, the sha256 of an installed file, is injected as a dict lookup, so
these tests run without a file system beyond the throwaway config they load.
"""

from __future__ import annotations

import dataclasses
import hashlib
import shutil
from pathlib import Path

import pytest

from packbin.build.plan import BuildPlan, Target, builder_key, make_plan
from packbin.config.model import BuildConfig
from packbin.dist.layout import manifest_relpath
from packbin.dist.manifest import Artifact, Manifest

REPO = Path(__file__).resolve().parents[2]
REAL_TEXT = (REPO / "buildcfg.toml").read_text(encoding="utf-8")
SENSOR = "attune-core-timer-sensor"
OTHER = "attune-core-echo"

SECOND_BINARY = f"""
[[binaries]]
name = "{OTHER}"
pack = "core"
manifest = "packs/core/actions/echo/Cargo.toml"
install_path = "actions/{OTHER}"
"""


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture
def cfg(tmp_path: Path) -> BuildConfig:
    """The real buildcfg.toml plus a second binary, in a throwaway repository."""
    root = tmp_path / "repo"
    for crate in ("packs/core/sensors/timer-sensor", "packs/core/actions/echo"):
        (root / crate).mkdir(parents=True)
        (root / crate / "Cargo.toml").write_text("[package]\n")
    (root / "buildcfg.toml").write_text(REAL_TEXT + SECOND_BINARY)
    return BuildConfig.load(root / "buildcfg.toml", env={})


SOURCES = {SENSOR: sha("sensor sources v1"), OTHER: sha("echo sources v1")}


class Files:
    """A fake of the installed files: relative path -> sha256. Records what the plan asked."""

    def __init__(self, files: dict[str, str] | None = None) -> None:
        self.files = dict(files or {})
        self.asked: list[str] = []

    def __call__(self, rel: str) -> str | None:
        self.asked.append(rel)
        return self.files.get(rel)


def plan(
    cfg: BuildConfig,
    *,
    manifest: Manifest | None = None,
    files: Files | None = None,
    deploy: str = "x86_64",
    sources: dict[str, str] | None = None,
    force: bool = False,
    arch: str = "all",
) -> BuildPlan:
    return make_plan(
        cfg,
        cfg.select_arches(arch),
        cfg.binaries,
        source_hashes=sources or SOURCES,
        manifest=manifest or Manifest(),
        deploy_arch=deploy,
        file_sha256=files or Files(),
        force=force,
    )


def artifact_for(t: Target, content: str) -> Artifact:
    return Artifact(
        arch=t.arch.name,
        target=t.arch.rust_target,
        pack=t.binary.pack,
        binary=t.binary.name,
        path=t.dist_path,
        sha256=sha(content),
        size=len(content),
        static=True,
        stripped=True,
        source_hash=t.source_hash,
        builder_image="packbin/builder:rustup-0123456789abcdef",
        input_hash=t.input_hash,
    )


def after_build(p: BuildPlan) -> tuple[Manifest, Files]:
    """The manifest and installed files a successful run of plan ``p`` leaves behind."""
    arts, files = [], {}
    for t in p.all_targets:
        a = artifact_for(t, f"binary {t.arch.name} {t.binary.name}")
        arts.append(a)
        files[t.dist_path] = a.sha256
        if t.pack_path is not None:
            files[t.pack_path] = a.sha256
    return Manifest().merged(arts), Files(files)


def keys(targets: tuple[Target, ...]) -> set[tuple[str, str]]:
    return {t.key for t in targets}


def step_keys(p: BuildPlan) -> set[tuple[str, str]]:
    return {t.key for s in p.steps for t in s.targets}


ALL = {("x86_64", SENSOR), ("x86_64", OTHER), ("arm64", SENSOR), ("arm64", OTHER)}


# -- first run and no-op -----------------------------------------------------------------


def test_first_run_builds_everything_one_step_per_arch(cfg: BuildConfig) -> None:
    files = Files()
    p = plan(cfg, files=files)
    assert [s.arch.name for s in p.steps] == ["x86_64", "arm64"]
    for step in p.steps:
        assert [t.binary.name for t in step.targets] == [SENSOR, OTHER]
        assert all(t.arch == step.arch for t in step.targets)
    assert p.up_to_date == () and p.reinstall == ()
    assert p.needs_engine
    assert p.deploy_arch == "x86_64"
    # Nothing recorded: no reason to hash any file.
    assert files.asked == []


def test_single_arch_plan_has_one_step(cfg: BuildConfig) -> None:
    p = plan(cfg, arch="aarch64")
    assert [(s.arch.name, len(s.targets)) for s in p.steps] == [("arm64", 2)]


def test_paths_and_deploy_arch(cfg: BuildConfig) -> None:
    p = plan(cfg, deploy="arm64")
    by_key = {t.key: t for t in p.all_targets}
    assert by_key[("arm64", SENSOR)].dist_path == f"dist/pack-binaries/arm64/core/sensors/{SENSOR}"
    assert by_key[("arm64", SENSOR)].pack_path == f"packs/core/sensors/{SENSOR}"
    assert by_key[("arm64", OTHER)].pack_path == f"packs/core/actions/{OTHER}"
    assert by_key[("x86_64", SENSOR)].dist_path == f"dist/pack-binaries/x86_64/core/sensors/{SENSOR}"
    assert by_key[("x86_64", SENSOR)].pack_path is None
    assert by_key[("x86_64", OTHER)].pack_path is None
    assert manifest_relpath(cfg) == "dist/pack-binaries/manifest.json"


def test_matching_manifest_and_files_is_up_to_date(cfg: BuildConfig) -> None:
    manifest, files = after_build(plan(cfg))
    p = plan(cfg, manifest=manifest, files=files)
    assert p.steps == ()
    assert p.reinstall == ()
    assert keys(p.up_to_date) == ALL
    assert not p.needs_engine
    # Every dist file and the deploy arch's pack copies were checked, and only relative paths asked.
    assert set(files.asked) == set(files.files)
    assert all(not rel.startswith("/") for rel in files.asked)


def test_plan_needs_no_files(cfg: BuildConfig, tmp_path: Path) -> None:
    manifest, files = after_build(plan(cfg))
    shutil.rmtree(tmp_path / "repo")  # the plan must not look at the disk
    assert plan(cfg, manifest=manifest, files=files).steps == ()


def test_input_hashes_are_distinct_per_arch_and_binary(cfg: BuildConfig) -> None:
    hashes = [t.input_hash for t in plan(cfg).all_targets]
    assert len(set(hashes)) == 4
    assert all(len(h) == 64 for h in hashes)


def test_plan_is_deterministic(cfg: BuildConfig) -> None:
    assert plan(cfg) == plan(cfg)


# -- what triggers a rebuild -------------------------------------------------------------


def test_changed_source_rebuilds_that_binary_only(cfg: BuildConfig) -> None:
    manifest, files = after_build(plan(cfg))
    p = plan(cfg, manifest=manifest, files=files, sources={**SOURCES, OTHER: sha("echo sources v2")})
    assert step_keys(p) == {("x86_64", OTHER), ("arm64", OTHER)}
    assert keys(p.up_to_date) == {("x86_64", SENSOR), ("arm64", SENSOR)}
    assert [s.arch.name for s in p.steps] == ["x86_64", "arm64"]


def test_stale_record_for_one_arch_rebuilds_only_that_pair(cfg: BuildConfig) -> None:
    manifest, files = after_build(plan(cfg))
    stale = manifest.find("arm64", SENSOR)
    assert stale is not None
    manifest = manifest.merged([dataclasses.replace(stale, input_hash=sha("an older build"))])
    p = plan(cfg, manifest=manifest, files=files)
    assert [(s.arch.name, [t.binary.name for t in s.targets]) for s in p.steps] == [("arm64", [SENSOR])]
    assert keys(p.up_to_date) == ALL - {("arm64", SENSOR)}


@pytest.mark.parametrize(
    "change",
    [
        {"strip": False},
        {"env": (("SQLX_OFFLINE", "false"),)},
        {"env": ()},
        {"ziglang_version": "0.18.0"},
        {"cargo_zigbuild_version": "0.25.0"},
        {"cargo_profile": "dev"},
        {"profile": "debian"},
        {"mirror": "http://mirror.example/debian"},
    ],
    ids=lambda c: next(iter(c)),
)
def test_changed_builder_setting_rebuilds_everything(cfg: BuildConfig, change: dict[str, object]) -> None:
    manifest, files = after_build(plan(cfg))
    changed = dataclasses.replace(cfg, builder=dataclasses.replace(cfg.builder, **change))  # type: ignore[arg-type]
    assert builder_key(changed) != builder_key(cfg)
    p = plan(changed, manifest=manifest, files=files)
    assert step_keys(p) == ALL
    assert p.up_to_date == ()


def test_changed_base_image_rebuilds(cfg: BuildConfig) -> None:
    manifest, files = after_build(plan(cfg))
    rustup = dataclasses.replace(cfg.builder.rustup, base_image="rust:1.90-slim-bookworm")
    changed = dataclasses.replace(cfg, builder=dataclasses.replace(cfg.builder, rustup=rustup))
    assert step_keys(plan(changed, manifest=manifest, files=files)) == ALL


def test_changed_rust_target_rebuilds_that_arch(cfg: BuildConfig) -> None:
    manifest, files = after_build(plan(cfg))
    arm = dataclasses.replace(cfg.arch("arm64"), rust_target="aarch64-unknown-linux-gnu")
    changed = dataclasses.replace(cfg, architectures=(cfg.arch("x86_64"), arm))
    p = plan(changed, manifest=manifest, files=files)
    assert step_keys(p) == {("arm64", SENSOR), ("arm64", OTHER)}


def test_modified_dist_file_rebuilds(cfg: BuildConfig) -> None:
    manifest, files = after_build(plan(cfg))
    files.files[f"dist/pack-binaries/x86_64/core/actions/{OTHER}"] = sha("tampered")
    p = plan(cfg, manifest=manifest, files=files)
    assert step_keys(p) == {("x86_64", OTHER)}
    assert p.reinstall == ()


def test_missing_dist_file_rebuilds(cfg: BuildConfig) -> None:
    manifest, files = after_build(plan(cfg))
    del files.files[f"dist/pack-binaries/arm64/core/sensors/{SENSOR}"]
    assert step_keys(plan(cfg, manifest=manifest, files=files)) == {("arm64", SENSOR)}


def test_recorded_path_elsewhere_rebuilds(cfg: BuildConfig) -> None:
    manifest, files = after_build(plan(cfg))
    moved = manifest.find("x86_64", SENSOR)
    assert moved is not None
    manifest = manifest.merged([dataclasses.replace(moved, path="dist/old-layout/attune-core-timer-sensor")])
    files.files["dist/old-layout/attune-core-timer-sensor"] = moved.sha256
    assert step_keys(plan(cfg, manifest=manifest, files=files)) == {("x86_64", SENSOR)}


def test_force_builds_everything(cfg: BuildConfig) -> None:
    manifest, files = after_build(plan(cfg))
    p = plan(cfg, manifest=manifest, files=files, force=True)
    assert step_keys(p) == ALL
    assert p.up_to_date == () and p.reinstall == ()
    assert [s.arch.name for s in p.steps] == ["x86_64", "arm64"]


# -- reinstall only ----------------------------------------------------------------------


def test_missing_pack_copy_for_deploy_arch_is_reinstalled_not_rebuilt(cfg: BuildConfig) -> None:
    manifest, files = after_build(plan(cfg))
    del files.files[f"packs/core/sensors/{SENSOR}"]
    p = plan(cfg, manifest=manifest, files=files)
    assert p.steps == ()
    assert not p.needs_engine
    assert [(t.key, t.pack_path) for t in p.reinstall] == [(("x86_64", SENSOR), f"packs/core/sensors/{SENSOR}")]
    assert keys(p.up_to_date) == ALL - {("x86_64", SENSOR)}


def test_modified_pack_copy_is_reinstalled(cfg: BuildConfig) -> None:
    manifest, files = after_build(plan(cfg))
    files.files[f"packs/core/actions/{OTHER}"] = sha("edited by hand")
    p = plan(cfg, manifest=manifest, files=files)
    assert p.steps == ()
    assert keys(p.reinstall) == {("x86_64", OTHER)}


def test_switching_deploy_arch_reinstalls_without_building(cfg: BuildConfig) -> None:
    manifest, files = after_build(plan(cfg, deploy="x86_64"))
    p = plan(cfg, manifest=manifest, files=files, deploy="arm64")
    assert p.steps == ()
    assert keys(p.reinstall) == {("arm64", SENSOR), ("arm64", OTHER)}
    assert {t.pack_path for t in p.reinstall} == {f"packs/core/sensors/{SENSOR}", f"packs/core/actions/{OTHER}"}
    assert p.deploy_arch == "arm64"


def test_pack_copies_of_other_arches_are_not_checked(cfg: BuildConfig) -> None:
    manifest, files = after_build(plan(cfg))
    plan(cfg, manifest=manifest, files=files)
    assert files.asked.count(f"packs/core/sensors/{SENSOR}") == 1  # once, for x86_64 only


def test_all_targets_covers_every_pair_once(cfg: BuildConfig) -> None:
    manifest, files = after_build(plan(cfg))
    del files.files[f"packs/core/sensors/{SENSOR}"]
    p = plan(cfg, manifest=manifest, files=files, sources={**SOURCES, OTHER: sha("v2")})
    assert sorted(t.key for t in p.all_targets) == sorted(ALL)


def test_rebuild_steps_are_every_target_as_force_plans_them(cfg: BuildConfig) -> None:
    # --check-reproducible rebuilds from the run's one plan: the steps a forced plan would have.
    manifest, files = after_build(plan(cfg))
    del files.files[f"packs/core/sensors/{SENSOR}"]
    p = plan(cfg, manifest=manifest, files=files, sources={**SOURCES, OTHER: sha("v2")})
    assert p.up_to_date and p.reinstall  # a mixed plan
    assert (
        p.rebuild_steps()
        == plan(cfg, manifest=manifest, files=files, sources={**SOURCES, OTHER: sha("v2")}, force=True).steps
    )
