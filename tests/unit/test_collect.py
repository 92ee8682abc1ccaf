"""collect-pack-binaries: per-architecture trees merge into one re-verified dist/, or nothing is written.

Fixtures are real executables made by real compilers: ``gcc -static`` (x86_64), ``gcc`` (a
dynamic x86_64 one, for the rejection cases) and ``python -m ziglang cc -target
aarch64-linux-musl -static`` (arm64). The manifests are written by hand, the way a hostile or
broken CI job could write them.
"""

from __future__ import annotations

import io
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from packbin.ci.collect import run_collect
from packbin.config.model import BuildConfig
from packbin.dist.manifest import Artifact, Manifest, Toolchain
from packbin.errors import CheckFailed, UsageError
from packbin.util.digest import sha256_file
from tests.support import deploy_fixtures
from tests.support.repo import SMALL_BUILDCFG

BINARY = "attune-core-timer-sensor"
INSTALL = f"core/sensors/{BINARY}"
TARGETS = {"x86_64": "x86_64-unknown-linux-musl", "arm64": "aarch64-unknown-linux-musl"}

CONFIG = 'default_arch = "x86_64"\n' + SMALL_BUILDCFG

# -- real binaries ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def compile_c() -> Callable[..., bytes]:
    """(arch, static, variant) -> the bytes of a real executable: gcc for x86_64, zig for arm64
    (tests.support.deploy_fixtures, cached between runs)."""

    def build(arch: str, static: bool = True, variant: str = "v1") -> bytes:
        return deploy_fixtures.build(arch, static=static, variant=variant).read_bytes()

    return build


# -- a repository and its trees --------------------------------------------------------------


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> BuildConfig:
    root = tmp_path / "repo"
    (root / "crate").mkdir(parents=True)
    (root / "crate" / "Cargo.toml").write_text('[package]\nname = "x"\nversion = "0.1.0"\n')
    (root / "buildcfg.toml").write_text(CONFIG)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    return BuildConfig.load(root / "buildcfg.toml", env={})


def artifact(arch: str, data: bytes, /, **changes: object) -> Artifact:
    import hashlib

    a = Artifact(
        arch=arch,
        target=TARGETS.get(arch, "?"),
        pack="core",
        binary=BINARY,
        path=f"dist/pack-binaries/{arch}/{INSTALL}",
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        static=True,
        stripped=False,
        source_hash="s" * 8,
        builder_image="packbin/builder:test",
        toolchain=Toolchain(rustc="1.96", cargo_zigbuild="0.24.1", zig="0.17.1"),
        input_hash="i" * 8,
    )
    return replace(a, **changes)  # type: ignore[arg-type]


def make_tree(root: Path, arch: str, data: bytes, *, entries: list[Artifact] | None = None, raw: object = None) -> Path:
    """A downloaded artifact: root/manifest.json and root/<arch>/core/sensors/<binary>."""
    f = root / arch / INSTALL
    f.parent.mkdir(parents=True, exist_ok=True)
    f.write_bytes(data)
    f.chmod(0o755)
    if raw is not None:
        (root / "manifest.json").write_text(json.dumps(raw))
    else:
        arts = entries if entries is not None else [artifact(arch, data)]
        (root / "manifest.json").write_text(Manifest(artifacts=tuple(arts)).to_json())
    return root


def two_trees(tmp_path: Path, compile_c: Callable[..., bytes]) -> list[str]:
    x = make_tree(tmp_path / "collected" / "pack-binaries-x86_64", "x86_64", compile_c("x86_64"))
    a = make_tree(tmp_path / "collected" / "pack-binaries-arm64", "arm64", compile_c("arm64"))
    return [str(x), str(a)]


def snapshot(path: Path) -> dict[str, bytes]:
    if not path.exists():
        return {}
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def fails(cfg: BuildConfig, dirs: list[str], *fragments: str, **kw: object) -> str:
    """Collect must raise CheckFailed naming every fragment, and leave dist/ as it was."""
    before = snapshot(cfg.dist_dir)
    with pytest.raises(CheckFailed) as info:
        run_collect(cfg, dirs, out=io.StringIO(), **kw)  # type: ignore[arg-type]
    message = str(info.value)
    assert "nothing was written" in message
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in:\n{message}"
    assert snapshot(cfg.dist_dir) == before, "a failed collect wrote into dist/"
    return message


# -- the good path ---------------------------------------------------------------------------


def test_merges_both_architectures(repo: BuildConfig, tmp_path: Path, compile_c: Callable[..., bytes]) -> None:
    dirs = two_trees(tmp_path, compile_c)
    out = io.StringIO()
    merged = run_collect(repo, dirs, out=out)

    tree = repo.dist_dir / "pack-binaries"
    for arch in ("x86_64", "arm64"):
        f = tree / arch / INSTALL
        assert f.read_bytes() == compile_c(arch)
        assert os.stat(f).st_mode & 0o777 == 0o755
    saved = Manifest.load(tree / "manifest.json", missing_ok=False)
    assert saved == merged
    assert sorted(a.arch for a in saved.artifacts) == ["arm64", "x86_64"]
    for a in saved.artifacts:
        assert sha256_file(repo.root / a.path) == a.sha256
    text = out.getvalue()
    assert "collected 2 binaries (arm64, x86_64) from 2 tree(s)" in text
    assert "dist/pack-binaries/arm64/core/sensors/attune-core-timer-sensor" in text


def test_accepts_dist_layouts_and_a_parent_dir(
    repo: BuildConfig, tmp_path: Path, compile_c: Callable[..., bytes]
) -> None:
    # One artifact uploaded as dist/ (manifest one level down), one as dist/pack-binaries/ nested
    # in download-artifact's per-artifact directory; the user passes only their common parent.
    make_tree(tmp_path / "dl" / "job-x86_64" / "dist" / "pack-binaries", "x86_64", compile_c("x86_64"))
    make_tree(tmp_path / "dl" / "pack-binaries-arm64", "arm64", compile_c("arm64"))
    merged = run_collect(repo, [str(tmp_path / "dl")], out=io.StringIO())
    assert {a.arch for a in merged.artifacts} == {"x86_64", "arm64"}


def test_rerun_and_existing_entries_are_kept(
    repo: BuildConfig, tmp_path: Path, compile_c: Callable[..., bytes]
) -> None:
    dirs = two_trees(tmp_path, compile_c)
    run_collect(repo, dirs, out=io.StringIO())
    # Collecting only x86_64 again (--arch x86_64) keeps the arm64 entry already in dist/.
    merged = run_collect(repo, dirs[:1], out=io.StringIO(), require=("amd64",))
    assert {a.arch for a in merged.artifacts} == {"x86_64", "arm64"}


def test_json_report(repo: BuildConfig, tmp_path: Path, compile_c: Callable[..., bytes]) -> None:
    out, err = io.StringIO(), io.StringIO()
    run_collect(repo, two_trees(tmp_path, compile_c), out=out, as_json=True, err=err)
    doc = json.loads(out.getvalue())
    assert doc["ok"] is True
    assert doc["manifest"] == "dist/pack-binaries/manifest.json"
    assert sorted(a["arch"] for a in doc["artifacts"]) == ["arm64", "x86_64"]
    assert "verified x86_64/attune-core-timer-sensor" in err.getvalue()


def test_identical_duplicates_are_fine(repo: BuildConfig, tmp_path: Path, compile_c: Callable[..., bytes]) -> None:
    dirs = two_trees(tmp_path, compile_c)
    copy = make_tree(tmp_path / "again" / "pack-binaries-x86_64", "x86_64", compile_c("x86_64"))
    out = io.StringIO()
    run_collect(repo, [*dirs, str(copy)], out=out)
    assert "duplicate, identical: x86_64/attune-core-timer-sensor" in out.getvalue()


# -- hostile and broken trees: nothing written -----------------------------------------------


def test_missing_architecture(repo: BuildConfig, tmp_path: Path, compile_c: Callable[..., bytes]) -> None:
    x = make_tree(tmp_path / "pack-binaries-x86_64", "x86_64", compile_c("x86_64"))
    fails(repo, [str(x)], "missing architecture arm64")
    # --arch x86_64 restricts the required set: then it is enough.
    merged = run_collect(repo, [str(x)], out=io.StringIO(), require=("x86_64",))
    assert [a.arch for a in merged.artifacts] == ["x86_64"]


def test_arch_restriction_ignores_other_trees(
    repo: BuildConfig, tmp_path: Path, compile_c: Callable[..., bytes]
) -> None:
    out = io.StringIO()
    merged = run_collect(repo, two_trees(tmp_path, compile_c), out=out, require=("arm64",))
    assert [a.arch for a in merged.artifacts] == ["arm64"]
    assert not (repo.dist_dir / "pack-binaries" / "x86_64").exists()
    assert "ignored (architecture not selected): x86_64/attune-core-timer-sensor" in out.getvalue()


def test_sha256_mismatch(repo: BuildConfig, tmp_path: Path, compile_c: Callable[..., bytes]) -> None:
    dirs = two_trees(tmp_path, compile_c)
    # The file was swapped after the manifest was written (same size: only the hash tells).
    f = Path(dirs[0]) / "x86_64" / INSTALL
    data = bytearray(f.read_bytes())
    data[-1] ^= 0xFF
    f.write_bytes(bytes(data))
    fails(repo, dirs, "sha256 mismatch", "x86_64/attune-core-timer-sensor")


def test_path_escape_with_dotdot(repo: BuildConfig, tmp_path: Path, compile_c: Callable[..., bytes]) -> None:
    dirs = two_trees(tmp_path, compile_c)
    data = compile_c("x86_64")
    evil = artifact("x86_64", data, path="dist/pack-binaries/../../../outside/bin").to_json()
    make_tree(Path(dirs[0]), "x86_64", data, raw={"artifacts": [evil]})
    fails(repo, dirs, "invalid manifest", "must be relative and stay inside the tree")


def test_path_escape_through_a_symlinked_directory(
    repo: BuildConfig, tmp_path: Path, compile_c: Callable[..., bytes]
) -> None:
    dirs = two_trees(tmp_path, compile_c)
    # Outside the tree: a valid static binary whose hash matches the manifest entry exactly.
    outside = tmp_path / "outside"
    (outside / "sensors").mkdir(parents=True)
    (outside / "sensors" / BINARY).write_bytes(compile_c("x86_64"))
    core = Path(dirs[0]) / "x86_64" / "core"
    shutil.rmtree(core)
    core.symlink_to(outside)
    fails(repo, dirs, "is a symlink", "refused")


def test_binary_that_is_a_symlink(repo: BuildConfig, tmp_path: Path, compile_c: Callable[..., bytes]) -> None:
    dirs = two_trees(tmp_path, compile_c)
    target = tmp_path / "elsewhere"
    target.write_bytes(compile_c("x86_64"))
    f = Path(dirs[0]) / "x86_64" / INSTALL
    f.unlink()
    f.symlink_to(target)
    fails(repo, dirs, "is a symlink")


def test_symlinked_manifest_is_refused(repo: BuildConfig, tmp_path: Path, compile_c: Callable[..., bytes]) -> None:
    dirs = two_trees(tmp_path, compile_c)
    m = Path(dirs[1]) / "manifest.json"
    real = tmp_path / "real-manifest.json"
    m.rename(real)
    m.symlink_to(real)
    fails(repo, dirs, "not a regular file")


def test_wrong_architecture(repo: BuildConfig, tmp_path: Path, compile_c: Callable[..., bytes]) -> None:
    # An arm64 binary in the x86_64 tree, recorded (sha and all) as x86_64.
    x = make_tree(tmp_path / "pack-binaries-x86_64", "x86_64", compile_c("arm64"))
    a = make_tree(tmp_path / "pack-binaries-arm64", "arm64", compile_c("arm64"))
    fails(repo, [str(x), str(a)], "fails verification for x86_64")


def test_dynamic_binary(repo: BuildConfig, tmp_path: Path, compile_c: Callable[..., bytes]) -> None:
    x = make_tree(tmp_path / "pack-binaries-x86_64", "x86_64", compile_c("x86_64", static=False))
    a = make_tree(tmp_path / "pack-binaries-arm64", "arm64", compile_c("arm64"))
    message = fails(repo, [str(x), str(a)], "fails verification for x86_64")
    assert "arm64" not in message.split("fails verification for x86_64")[1].split("\n")[0]


def test_conflicting_duplicates(repo: BuildConfig, tmp_path: Path, compile_c: Callable[..., bytes]) -> None:
    dirs = two_trees(tmp_path, compile_c)
    data = compile_c("x86_64", variant="v2")
    other = make_tree(
        tmp_path / "other" / "pack-binaries-x86_64",
        "x86_64",
        data,
        entries=[artifact("x86_64", data, input_hash="j" * 8)],  # other inputs (another commit)
    )
    fails(repo, [*dirs, str(other)], "conflicts with", "two different builds of one binary")


def test_same_inputs_different_bytes_is_flagged_as_not_reproducible(
    repo: BuildConfig, tmp_path: Path, compile_c: Callable[..., bytes]
) -> None:
    # Two CI jobs built one binary from the same inputs (same input_hash) and got other bytes.
    dirs = two_trees(tmp_path, compile_c)
    other = make_tree(tmp_path / "other" / "pack-binaries-x86_64", "x86_64", compile_c("x86_64", variant="v2"))
    message = fails(repo, [*dirs, str(other)], "not reproducible: the same inputs (input_hash iiiiiiii)")
    assert "two different builds" not in message


def test_conflicting_entries_in_one_manifest(
    repo: BuildConfig, tmp_path: Path, compile_c: Callable[..., bytes]
) -> None:
    dirs = two_trees(tmp_path, compile_c)
    data = compile_c("x86_64")
    entries = [artifact("x86_64", data), artifact("x86_64", data, sha256="0" * 64, input_hash="j" * 8)]
    make_tree(Path(dirs[0]), "x86_64", data, entries=entries)
    fails(repo, dirs, "conflicts with")


def test_metadata_must_match_the_config(repo: BuildConfig, tmp_path: Path, compile_c: Callable[..., bytes]) -> None:
    dirs = two_trees(tmp_path, compile_c)
    data = compile_c("x86_64")
    cases = [
        (artifact("x86_64", data, target="aarch64-unknown-linux-musl"), "is not x86_64's x86_64-unknown-linux-musl"),
        (artifact("x86_64", data, binary="rogue"), "binary 'rogue' is not declared"),
        (artifact("x86_64", data, arch="mips"), "architecture 'mips' is not configured"),
        (artifact("x86_64", data, arch="amd64"), "must be written 'x86_64'"),
        (
            artifact("x86_64", data, path="dist/pack-binaries/x86_64/core/bin/other"),
            "is not where build-pack-binaries puts it",
        ),
        (artifact("x86_64", data, size=len(data) + 1), "the manifest says"),
        (artifact("x86_64", data, static=False), "recorded as not static"),
    ]
    for entry, fragment in cases:
        make_tree(Path(dirs[0]), "x86_64", data, entries=[entry])
        fails(repo, dirs, fragment)


def test_garbage_manifest_and_empty_dir(repo: BuildConfig, tmp_path: Path, compile_c: Callable[..., bytes]) -> None:
    dirs = two_trees(tmp_path, compile_c)
    (Path(dirs[0]) / "manifest.json").write_text("{not json")
    fails(repo, dirs, "not valid JSON")
    empty = tmp_path / "empty"
    empty.mkdir()
    fails(repo, [dirs[1], str(empty)], "no manifest.json within 3 levels")
    with pytest.raises(UsageError, match="not a directory"):
        run_collect(repo, [str(tmp_path / "nope")], out=io.StringIO())


def test_failure_keeps_an_existing_dist(repo: BuildConfig, tmp_path: Path, compile_c: Callable[..., bytes]) -> None:
    dirs = two_trees(tmp_path, compile_c)
    run_collect(repo, dirs, out=io.StringIO())
    # A second collect with a conflicting x86_64 build must leave the first result untouched.
    other = make_tree(tmp_path / "other" / "pack-binaries-x86_64", "x86_64", compile_c("x86_64", variant="v2"))
    bad_arm = make_tree(
        tmp_path / "bad" / "pack-binaries-arm64",
        "arm64",
        compile_c("x86_64"),
        entries=[artifact("arm64", compile_c("x86_64"))],
    )
    fails(repo, [str(other), str(bad_arm)], "fails verification for arm64")


# -- GitHub step summary ---------------------------------------------------------------------


def test_step_summary(
    repo: BuildConfig, tmp_path: Path, compile_c: Callable[..., bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    dirs = two_trees(tmp_path, compile_c)
    merged = run_collect(repo, dirs, out=io.StringIO())
    text = summary.read_text()
    assert text.startswith("earlier step\n"), "the summary must be appended to, not replaced"
    assert "### Collected pack binaries" in text
    assert "| arch | path | size | static | sha256 |" in text
    for a in merged.artifacts:
        assert f"| {a.arch} | `{a.path}` | {a.size} | yes | `{a.sha256}` |" in text

    x = make_tree(tmp_path / "only" / "pack-binaries-x86_64", "x86_64", compile_c("x86_64"))
    fails(repo, [str(x)], "missing architecture arm64")
    text = summary.read_text()
    assert "### Collected pack binaries: failed, nothing written" in text
    assert "- missing architecture arm64" in text


def test_no_summary_without_the_variable(repo: BuildConfig, tmp_path: Path, compile_c: Callable[..., bytes]) -> None:
    run_collect(repo, two_trees(tmp_path, compile_c), out=io.StringIO())
    assert not list(tmp_path.glob("*.md"))
