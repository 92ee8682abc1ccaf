"""Issue 18 for real: the dependency list, the SBOM and the provenance of real builds.

Two repositories are built once per module, for x86_64 and arm64: this repository's packs/ (the
std-only timer sensor) and the attune-shaped workspace of tests/support/cargo_workspace.py
(tokio, serde, ring, anyhow; a build script; vendored from Debian's crate sources). Each binary's
``.dep-v0`` section is read by parsers packbin did not write (lief; objcopy --dump-section with
Python's zlib) and compared with cargo's own resolution (``cargo tree`` on the host, over the same
vendored sources), never with a list written here. The other tests work on copies.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import zlib
from pathlib import Path
from typing import Any

import lief
import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from tests.support import sensor_checks
from tests.support.cargo_workspace import COMMON_MARKER, SENSOR_BIN, SENSOR_PACKAGE
from tests.support.dep_graphs import tree_packages
from tests.support.objcopy import dump_section
from tests.support.repo import REPO, clone_built, copy_repo, packbin

pytestmark = [pytest.mark.docker, pytest.mark.slow]

ARCHES = {"x86_64": "x86_64-unknown-linux-musl", "arm64": "aarch64-unknown-linux-musl"}
DIST = {arch: f"dist/pack-binaries/{arch}/core/sensors/{SENSOR_BIN}" for arch in ARCHES}
#: Where `cargo tree` runs (host cargo, the same vendored sources) for each repository, and for which package.
CRATES = {"sensor": ("packs/core/sensors/timer-sensor", SENSOR_BIN), "workspace": (".", SENSOR_PACKAGE)}


def _build(repo: Path, *args: str) -> dict[str, Any]:
    res = packbin("build-pack-binaries", "--json", *args, cwd=repo)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-6000:]
    report: dict[str, Any] = json.loads(res.stdout)
    return report


@pytest.fixture(scope="module")
def sensor(tmp_path_factory: pytest.TempPathFactory, builder_image: object) -> Path:
    repo = copy_repo(tmp_path_factory.mktemp("deps-sensor") / "repo")
    _build(repo, "--arch=all", "--deploy-arch=x86_64")
    return repo


@pytest.fixture
def workspace(built_workspace: tuple[Path, dict[str, Any]]) -> Path:
    """The workspace built once per run (tests/conftest.py, shared with test_workspace_build)."""
    return built_workspace[0]


@pytest.fixture(params=["sensor", "workspace"])
def built(request: pytest.FixtureRequest) -> tuple[str, Path]:
    return request.param, request.getfixturevalue(request.param)


def _manifest(repo: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((repo / "dist/pack-binaries/manifest.json").read_text())
    return doc


@pytest.mark.parametrize("arch", ARCHES)
def test_the_section_is_cargos_resolution(built: tuple[str, Path], arch: str, tmp_path: Path) -> None:
    which, repo = built
    binary = repo / DIST[arch]
    elf = lief.ELF.parse(str(binary))
    assert elf is not None
    section = elf.get_section(".dep-v0")
    assert section is not None, f"{binary} has no .dep-v0"
    # cargo-auditable's own section: not loaded, no flags, zlib-compressed JSON.
    assert section.flags == 0 and section.type == lief.ELF.Section.TYPE.PROGBITS
    raw = bytes(section.content)
    assert raw == dump_section(binary, ".dep-v0", tmp_path)
    doc = json.loads(zlib.decompress(raw))
    assert doc.get("format") == 1
    packages = doc["packages"]
    assert sum(1 for p in packages if p.get("root")) == 1
    where, package = CRATES[which]
    assert {(p["name"], p["version"]) for p in packages} == tree_packages(
        repo / where, package, ARCHES[arch], "normal,build"
    )
    for p in packages:
        assert all(0 <= i < len(packages) for i in p.get("dependencies", []))


@pytest.mark.parametrize("arch", ARCHES)
def test_the_binary_still_verifies_and_runs(built: tuple[str, Path], arch: str) -> None:
    which, repo = built
    res = packbin("verify-static", "--json", f"--arch={arch}", DIST[arch], cwd=repo)
    assert res.returncode == 0, res.stdout + res.stderr
    runner: list[str] = []
    if arch == "arm64":
        if not Path("/usr/bin/qemu-aarch64-static").exists():
            pytest.skip("qemu-aarch64-static is not installed")
        runner = ["qemu-aarch64-static"]
    if which == "sensor":
        sensor_checks.run_all_checks(repo / DIST[arch], expected_target=ARCHES[arch], runner=runner)
    else:
        out = subprocess.run([*runner, str(repo / DIST[arch])], capture_output=True, text=True, timeout=60, check=True)
        assert f"common: {COMMON_MARKER}" in out.stdout
        assert f"build-target: {ARCHES[arch]}" in out.stdout


def test_each_sbom_is_cyclonedx_1_6_and_names_its_binary(built: tuple[str, Path]) -> None:
    _, repo = built
    validator = JsonStrictValidator(SchemaVersion.V1_6)
    arts = _manifest(repo)["artifacts"]
    assert {a["arch"] for a in arts} == set(ARCHES)
    for a in arts:
        assert a["sbom"] == a["path"] + ".cdx.json"
        text = (repo / a["sbom"]).read_text()
        assert validator.validate_str(text) is None
        assert hashlib.sha256(text.encode()).hexdigest() == a["sbom_sha256"]
        doc = json.loads(text)
        hashes = {h["alg"]: h["content"] for h in doc["metadata"]["component"]["hashes"]}
        assert hashes["SHA-256"] == a["sha256"]
    # A pack tree gets the binary only.
    assert not list((repo / "packs").rglob("*.cdx.json"))


def test_the_provenance_names_every_artifact(built: tuple[str, Path]) -> None:
    _, repo = built
    manifest = _manifest(repo)
    path = repo / manifest["provenance"]["path"]
    statement = json.loads(path.read_text())
    assert statement["_type"] == "https://in-toto.io/Statement/v1"
    assert statement["predicateType"] == "https://slsa.dev/provenance/v1"
    subjects = {s["digest"]["sha256"] for s in statement["subject"]}
    assert subjects == {a["sha256"] for a in manifest["artifacts"]}


def test_a_no_op_run_rewrites_nothing(sensor: Path, tmp_path: Path) -> None:
    repo = clone_built(sensor, tmp_path)

    def stamps() -> dict[str, int]:
        return {
            str(p.relative_to(repo)): p.stat().st_mtime_ns
            for top in ("dist", "packs")
            for p in (repo / top).rglob("*")
            if p.is_file()
        }

    before = stamps()
    report = _build(repo, "--arch=all", "--deploy-arch=x86_64")
    assert report["built"] == []
    assert stamps() == before


def test_auditable_false_gives_the_bytes_of_before(sensor: Path, tmp_path: Path) -> None:
    """With the key off, no section, no SBOM, and the very bytes packbin without issue 18 builds
    (packbin's source at the commit before the wiring, the same tree): nothing of the feature is left in the binary."""
    repo = clone_built(sensor, tmp_path / "off")
    cfg = repo / "buildcfg.toml"
    cfg.write_text(cfg.read_text().replace("strip = true\n", "strip = true\nauditable = false\n", 1))
    _build(repo, "--arch=x86_64", "--deploy-arch=x86_64")
    binary = repo / DIST["x86_64"]
    elf = lief.ELF.parse(str(binary))
    assert elf is not None and elf.get_section(".dep-v0") is None
    art = next(a for a in _manifest(repo)["artifacts"] if a["arch"] == "x86_64")
    assert art["sbom"] is None and not (repo / (DIST["x86_64"] + ".cdx.json")).exists()
    main_src = _packbin_before(tmp_path / "packbin-before")
    before = copy_repo(tmp_path / "before" / "repo")
    res = packbin(
        "build-pack-binaries", "--arch=x86_64", "--deploy-arch=x86_64", cwd=before, env={"PYTHONPATH": str(main_src)}
    )
    assert res.returncode == 0, res.stderr[-4000:]
    assert (before / DIST["x86_64"]).read_bytes() == binary.read_bytes()


#: main just before the dependency list was wired into builds: its packbin has no ``.dep-v0``,
#: SBOM or provenance step at all.
BEFORE_WIRING = "a5900de439d7d2f6c145d67cb29b166ed622024f"


def _packbin_before(dest: Path) -> Path:
    """packbin's src/ at :data:`BEFORE_WIRING` (git archive; skipped in a clone without that history)."""
    have = subprocess.run(
        ["git", "cat-file", "-e", f"{BEFORE_WIRING}^{{commit}}"], cwd=REPO, capture_output=True, check=False
    )
    if have.returncode != 0:
        pytest.skip(f"this clone lacks commit {BEFORE_WIRING[:12]} (shallow?) to compare with")
    dest.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", BEFORE_WIRING, "src"], cwd=REPO, capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)
    return dest / "src"


#: The std-only timer sensor under another name, beside the workspace's sensor in one repository.
STD_SENSOR = "std-timer-sensor"


def _add_std_sensor(repo: Path) -> None:
    """This repository's timer sensor (std only), renamed and its own workspace root, as a second binary."""
    crate = repo / "standalone/timer"
    shutil.copytree(REPO / "packs/core/sensors/timer-sensor", crate, ignore=shutil.ignore_patterns("target"))
    for name in ("Cargo.toml", "Cargo.lock"):
        text = (crate / name).read_text().replace(f'name = "{SENSOR_BIN}"', f'name = "{STD_SENSOR}"')
        (crate / name).write_text(text + ("\n[workspace]\n" if name == "Cargo.toml" else ""))
    with open(repo / "buildcfg.toml", "a") as f:
        f.write(
            f'\n[[binaries]]\nname = "{STD_SENSOR}"\npack = "core"\nmanifest = "standalone/timer/Cargo.toml"\n'
            f'install_path = "sensors/{STD_SENSOR}"\n'
        )


def test_check_reproducible_passes_on_both_arches_with_the_section(workspace: Path, tmp_path: Path) -> None:
    # The workspace (tokio, serde, ring, a build script) and the std-only sensor, each rebuilt for
    # x86_64 and arm64 in fresh volumes (std included, once per arch for both): the bytes, with
    # their .dep-v0 sections, are those installed. (The sensor under its own name, x86_64, is
    # checked again in test_engines.py.)
    repo = clone_built(workspace, tmp_path)
    _add_std_sensor(repo)
    first = _build(repo, "--arch=all")
    assert {(a["arch"], a["binary"]) for a in first["built"]} == {(a, STD_SENSOR) for a in ARCHES}
    report = _build(repo, "--arch=all", "--check-reproducible")
    checks = {(c["arch"], c["binary"]): c for c in report["reproducible"]}
    assert set(checks) == {(a, b) for a in ARCHES for b in (SENSOR_BIN, STD_SENSOR)}, checks
    assert all(c["sha256"] == c["fresh_sha256"] for c in checks.values()), checks
    for art in _manifest(repo)["artifacts"]:
        elf = lief.ELF.parse(str(repo / art["path"]))
        assert elf is not None and elf.get_section(".dep-v0") is not None, art["path"]
        assert checks[(art["arch"], art["binary"])]["sha256"] == art["sha256"]
