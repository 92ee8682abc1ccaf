"""init-packs into a real Docker named volume on a real engine, checked by reading the volume back.

Every test creates its own volume and removes it (and every container) in ``finally``. The
container that hosts the mount is made from the locally bootstrapped Debian base image and never
started; the tests skip when the engine or that image is not there.
"""

from __future__ import annotations

import io
import os
import secrets
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
from packbin.build.image import bootstrap_base_tag
from packbin.compose.volume import MOUNT, _read_tar, init_packs_volume, volume_files
from packbin.config.model import BuilderConfig, builtin_config
from packbin.deploy import DeployReport, Entry
from packbin.engine import OWNER_LABEL, Engine
from packbin.errors import EngineError
from tests.support import deploy_fixtures as fx

pytestmark = pytest.mark.docker

X86 = builtin_config().arch("x86_64")
SENSOR = "core/sensors/attune-core-timer-sensor"
T0 = 1_700_000_000  # a fixed mtime for the source files


@pytest.fixture(scope="module")
def image(engine: Engine, builder_image: object) -> str:
    # builder_image (conftest) bootstraps the Debian base when no debian image can be pulled.
    tag = bootstrap_base_tag(BuilderConfig())
    if engine.image_id(tag) is None:
        pytest.skip(f"the local base image {tag} is not present (run build-pack-binaries once to bootstrap it)")
    return tag


@pytest.fixture
def volume(engine: Engine) -> Iterator[str]:
    name = f"packbin-test-initpacks-{secrets.token_hex(4)}"
    try:
        yield name
    finally:
        for v in engine.client.volumes.list(filters={"name": name}):
            if v.name == name:
                v.remove(force=True)


def put(path: Path, data: bytes | str, mode: int = 0o644, mtime: int = T0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    path.chmod(mode)
    os.utime(path, (mtime, mtime))
    return path


@pytest.fixture
def tree(tmp_path: Path) -> tuple[Path, Path]:
    src = tmp_path / "packs"
    put(src / "core/pack.yaml", "name: core\n")
    put(src / "core/actions/echo.sh", '#!/bin/sh\necho "$@"\n', 0o755)
    put(src / "core/actions/echo.yaml", "entry_point: echo.sh\n")
    put(src / "core/sensors/timer.yaml", "name: timer\n")
    (src / "core/actions/latest").symlink_to("echo.sh")
    return src, tmp_path / "dist" / "pack-binaries"


def deploy(engine: Engine, image: str, volume: str, src: Path, bins: Path | None, **kw: bool) -> DeployReport:
    opts = {"delete": False, "dry_run": False, "checksum": False, **kw}
    return init_packs_volume(engine, volume=volume, image=image, source=src, binaries=bins, arch=X86, **opts)


def read_back(engine: Engine, image: str, volume: str) -> dict[str, tuple[Entry, bytes | None]]:
    with engine.container(image=image, kind="test-readback", volumes={volume: MOUNT}) as c:
        return volume_files(c)


def seed_volume(
    engine: Engine, image: str, volume: str, members: list[tarfile.TarInfo | tuple[str, bytes, int]]
) -> None:
    """Put arbitrary content into the volume (what a previous, careless init left there)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for m in members:
            if isinstance(m, tarfile.TarInfo):
                tar.addfile(m)
                continue
            name, data, mode = m
            ti = tarfile.TarInfo(name)
            ti.size, ti.mode, ti.mtime = len(data), mode, T0
            tar.addfile(ti, io.BytesIO(data))
    with engine.container(image=image, kind="test-seed", volumes={volume: MOUNT}) as c:
        c.put_tar(MOUNT, buf.getvalue())


def test_fills_the_volume_then_a_rerun_changes_nothing(
    engine: Engine, image: str, volume: str, tree: tuple[Path, Path]
) -> None:
    src, bins = tree
    static = fx.static_x86_64()
    put(bins / "x86_64" / SENSOR, static, 0o755)
    put(bins / "arm64" / SENSOR, fx.static_arm64(), 0o755)
    report = deploy(engine, image, volume, src, bins)
    assert report.ok
    assert set(report.copied) == {
        "core/pack.yaml",
        "core/actions/echo.sh",
        "core/actions/echo.yaml",
        "core/sensors/timer.yaml",
        "core/actions/latest",
        SENSOR,
    }
    got = read_back(engine, image, volume)
    assert got["core/pack.yaml"][1] == b"name: core\n"
    assert got["core/actions/echo.sh"][0].mode == 0o755
    assert got["core/pack.yaml"][0].mode == 0o644
    assert got["core/pack.yaml"][0].mtime_ns == T0 * 10**9
    assert got["core/actions/latest"][0].kind == "symlink" and got["core/actions/latest"][0].link == "echo.sh"
    assert got[SENSOR][1] == static and got[SENSOR][0].mode == 0o755
    again = deploy(engine, image, volume, src, bins)
    assert again.copied == () and again.refused == () and len(again.unchanged) == 6


def test_seed_scenario_static_binary_in_the_volume_survives_a_stale_dynamic_one(
    engine: Engine, image: str, volume: str, tree: tuple[Path, Path]
) -> None:
    src, bins = tree
    static = fx.static_x86_64("v1")
    put(bins / "x86_64" / SENSOR, static, 0o755)
    deploy(engine, image, volume, src, bins)  # init-pack-binaries put the fresh static binary there
    put(src / SENSOR, fx.dynamic_x86_64(), 0o755)  # the host's packs/ has a stale dynamic build
    report = deploy(engine, image, volume, src, None)
    assert [p for p, _ in report.preserved] == [SENSOR]
    assert "dynamic" in dict(report.preserved)[SENSOR]
    assert read_back(engine, image, volume)[SENSOR][1] == static
    newer = fx.static_x86_64("v2")
    put(bins / "x86_64" / SENSOR, newer, 0o755, mtime=T0 + 60)  # a later build (same size: same program)
    report = deploy(engine, image, volume, src, bins)
    assert SENSOR in report.copied
    assert read_back(engine, image, volume)[SENSOR][1] == newer


def test_delete_recreates_directories_and_keeps_static_binaries(
    engine: Engine, image: str, volume: str, tree: tuple[Path, Path]
) -> None:
    src, _ = tree
    static = fx.static_x86_64()
    deploy(engine, image, volume, src, None)
    seed_volume(
        engine,
        image,
        volume,
        [
            ("core/actions/old.sh", b"#!/bin/sh\n", 0o755),
            ("core/old-dir/deep/x.txt", b"x", 0o644),
            ("core/sensors/stale-dynamic", fx.dynamic_x86_64(), 0o755),
            (SENSOR, static, 0o755),
            ("retired.txt", b"at the top level\n", 0o644),
        ],
    )
    before = read_back(engine, image, volume)
    report = deploy(engine, image, volume, src, None, delete=True)
    assert set(report.deleted) == {
        "core/actions/old.sh",
        "core/old-dir",
        "core/old-dir/deep",
        "core/old-dir/deep/x.txt",
        "core/sensors/stale-dynamic",
    }
    assert [p for p, _ in report.preserved] == [SENSOR]
    assert "top level" in dict(report.refused)["retired.txt"]
    after = read_back(engine, image, volume)
    assert set(after) == set(before) - set(report.deleted)
    assert after[SENSOR][1] == static and after[SENSOR][0].mode == 0o755
    for rel in ("core/pack.yaml", "core/actions/echo.sh", "core/actions/latest", "core/sensors/timer.yaml"):
        assert after[rel] == before[rel], rel  # kept content re-created exactly: bytes, mode, mtime, link
    assert deploy(engine, image, volume, src, None).copied == ()


def test_hostile_volume_content_is_refused_not_followed(
    engine: Engine, image: str, volume: str, tree: tuple[Path, Path]
) -> None:
    src, _ = tree
    link = tarfile.TarInfo("core")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc"
    seed_volume(engine, image, volume, [link])
    report = deploy(engine, image, volume, src, None, delete=True)
    assert "symlink where the source has a directory" in dict(report.refused)["core"]
    assert report.copied == () and report.deleted == ()
    after = read_back(engine, image, volume)
    assert set(after) == {"core"} and after["core"][0].link == "/etc"

    other = f"{volume}-b"
    try:
        seed_volume(engine, image, other, [("core/actions", b"a file where a directory belongs\n", 0o644)])
        report = deploy(engine, image, other, src, None, delete=True)
        assert "a regular file where the source has a directory" in dict(report.refused)["core/actions"]
        got = read_back(engine, image, other)
        assert got["core/actions"][1] == b"a file where a directory belongs\n"
        assert got["core/pack.yaml"][1] == b"name: core\n"
    finally:
        for v in engine.client.volumes.list(filters={"name": other}):
            if v.name == other:
                v.remove(force=True)


def test_checksum_and_dry_run(engine: Engine, image: str, volume: str, tree: tuple[Path, Path]) -> None:
    src, _ = tree
    dry = deploy(engine, image, volume, src, None, dry_run=True)
    assert "core/pack.yaml" in dry.copied
    assert not [v for v in engine.client.volumes.list(filters={"name": volume}) if v.name == volume]
    deploy(engine, image, volume, src, None)
    seed_volume(engine, image, volume, [("core/pack.yaml", b"name: CORE\n", 0o644)])  # same size and mtime
    assert "core/pack.yaml" in deploy(engine, image, volume, src, None).unchanged
    assert deploy(engine, image, volume, src, None, checksum=True, dry_run=True).copied == ("core/pack.yaml",)
    assert read_back(engine, image, volume)["core/pack.yaml"][1] == b"name: CORE\n"
    assert deploy(engine, image, volume, src, None, checksum=True).copied == ("core/pack.yaml",)
    assert read_back(engine, image, volume)["core/pack.yaml"][1] == b"name: core\n"


@pytest.mark.parametrize("name", ["packbin-dest/../../etc/passwd", "/etc/passwd", "elsewhere/x", "packbin-destX/y"])
def test_archive_members_outside_the_mount_are_rejected(name: str) -> None:
    """The archive stream is parsed, never extracted; a member that does not belong stops the run."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        ti = tarfile.TarInfo(name)
        ti.size = 1
        tar.addfile(ti, io.BytesIO(b"x"))
    with pytest.raises(EngineError, match="unexpected member"):
        list(_read_tar(iter([buf.getvalue()]), "packbin-dest", keep=lambda rel, m, head: None))


def test_no_container_is_left_behind(engine: Engine) -> None:
    leftovers = engine.client.containers.list(
        all=True, filters={"label": [f"{OWNER_LABEL}=packbin", "io.packbin.kind=init-packs"]}
    )
    assert leftovers == []
