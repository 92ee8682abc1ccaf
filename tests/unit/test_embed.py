"""build/embed.py: the dependency list into a staged binary, before verification.

Real parts: binaries made by real compilers (gcc -static, zig cc for arm64: tests.support.
deploy_fixtures), a dependency list made from real `cargo metadata` of a path-only workspace
(tests.support.dep_graphs), and the section read back by objcopy and by packbin's own reader.
"""

from __future__ import annotations

import shutil
import zlib
from pathlib import Path

import pytest

from packbin.arch import Architecture
from packbin.build.deps import DependencyList, dependency_list
from packbin.build.embed import embed_file
from packbin.config.model import BuildConfig
from packbin.elf.depinfo import DEP_SECTION, encode_dep_list, read_dep_list
from packbin.elf.verify import verify_file
from packbin.errors import ArtifactRejected
from tests.support import deploy_fixtures
from tests.support.dep_graphs import metadata, path_workspace
from tests.support.objcopy import dump_section

TRIPLES = {"x86_64": "x86_64-unknown-linux-musl", "arm64": "aarch64-unknown-linux-musl"}
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def deps(tmp_path_factory: pytest.TempPathFactory) -> DependencyList:
    ws = path_workspace(tmp_path_factory.mktemp("paths") / "ws")
    manifest = ws / "crates/app-0.1.0/Cargo.toml"
    return dependency_list(
        metadata(manifest, TRIPLES["x86_64"]),
        package="app",
        manifest_path=str(manifest),
        lock_text=(ws / "Cargo.lock").read_text(),
        repo_root=str(ws),
    )


def _arch(name: str) -> Architecture:
    return BuildConfig.load(REPO / "buildcfg.toml", env={}).arch(name)


def _staged(tmp_path: Path, arch: str) -> Path:
    staged = tmp_path / arch / "bin"
    staged.parent.mkdir(parents=True)
    shutil.copy(deploy_fixtures.build(arch, static=True), staged)
    staged.chmod(0o755)
    return staged


@pytest.mark.parametrize("arch", TRIPLES)
def test_the_section_is_added_and_the_binary_still_verifies(tmp_path: Path, deps: DependencyList, arch: str) -> None:
    staged = _staged(tmp_path, arch)
    before = staged.read_bytes()
    size, kept = embed_file(staged, deps, where=f"{arch}/bin")
    after = staged.read_bytes()
    assert not kept and size == len(after) > len(before)
    assert staged.stat().st_mode & 0o777 == 0o755
    assert read_dep_list(after) == deps.dep_list()
    # binutils reads the same bytes out, and Python's zlib the same JSON.
    assert zlib.decompress(dump_section(staged, DEP_SECTION, tmp_path)) == encode_dep_list(deps.dep_list())
    assert verify_file(staged, _arch(arch)).ok


def test_the_same_list_gives_the_same_bytes(tmp_path: Path, deps: DependencyList) -> None:
    a, b = _staged(tmp_path / "a", "x86_64"), _staged(tmp_path / "b", "x86_64")
    embed_file(a, deps, where="a")
    embed_file(b, deps, where="b")
    assert a.read_bytes() == b.read_bytes()


def test_a_section_already_there_is_kept(tmp_path: Path, deps: DependencyList) -> None:
    """A crate that runs cargo-auditable itself: its own list stays, byte for byte."""
    staged = _staged(tmp_path, "x86_64")
    embed_file(staged, deps, where="x86_64/bin")
    first = staged.read_bytes()
    size, kept = embed_file(staged, deps, where="x86_64/bin")
    assert kept and size == len(first) and staged.read_bytes() == first


def test_a_binary_packbin_cannot_edit_is_rejected(tmp_path: Path, deps: DependencyList) -> None:
    staged = _staged(tmp_path, "x86_64")
    image = bytearray(staged.read_bytes())
    # Hand-made corruption (no compiler writes it): no section header table (e_shoff, e_shnum 0).
    image[0x28:0x30] = bytes(8)
    image[0x3C:0x3E] = bytes(2)
    staged.write_bytes(bytes(image))
    with pytest.raises(ArtifactRejected) as info:
        embed_file(staged, deps, where="x86_64/bin")
    assert "x86_64/bin: cannot add the dependency list" in str(info.value)
    assert "auditable = false" in (info.value.hint or "")
    assert staged.read_bytes() == bytes(image)
