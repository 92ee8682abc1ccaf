"""What a binary's crates need in C from outside them (packbin.workspace.c_deps), before any build.

The crates are real: the three C fixtures of tests/support/c_fixtures.py (locks and vendor trees
made by the host cargo, offline, from Debian's crate sources), the attune workspace, and small
path-crate workspaces whose locks the host cargo writes. No Docker, no network.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from packbin.config.model import BuildConfig
from packbin.errors import ConfigError
from packbin.workspace import collect_all
from packbin.workspace.c_deps import SYS_CRATES, CDependencies, find_c_needs, warning_lines
from packbin.workspace.lockfile import LOCK_MAX_BYTES, read_lock
from tests.support.c_fixtures import FIXTURES, make_c_repo
from tests.support.cargo_workspace import (
    OTHER_BIN,
    SENSOR_BIN,
    FixtureUnavailable,
    host_cargo,
    make_workspace_or_skip,
    offline_cargo_env,
)

SRC = Path(__file__).resolve().parents[2] / "src"
#: What each fixture's crates need: (crate, library, host tool). The bindgen fixture builds its
#: own C with cc but needs libclang on the build host; the others link a system library.
WANTED = {"bindgen": ("bindgen", "libclang-dev", True), "zlib": ("libz-sys", "zlib", False)}
WANTED["openssl"] = ("openssl-sys", "openssl", False)


def _repo(key: str, dest: Path, **kw: tuple[str, ...]) -> Path:
    try:
        return make_c_repo(key, dest, **kw)
    except FixtureUnavailable as e:
        pytest.skip(str(e))


def _needs(root: Path) -> list[CDependencies]:
    cfg = BuildConfig.load(root / "buildcfg.toml", env={})
    return [find_c_needs(cfg, i) for i in collect_all(cfg, cfg.binaries)]


def _provides(key: str) -> dict[str, tuple[str, ...]]:
    _, library, host_tool = WANTED[key]
    return {"packages": (library,)} if host_tool else {"c_libraries": (library,)}


@pytest.mark.parametrize("key", sorted(FIXTURES))
def test_each_fixture_need_is_found(key: str, tmp_path: Path) -> None:
    root = _repo(key, tmp_path / "repo")
    (deps,) = _needs(root)
    crate, library, host_tool = WANTED[key]
    assert deps.binary == FIXTURES[key].package
    assert [(n.crate, n.library, n.host_tool, n.provided) for n in deps.needs] == [(crate, library, host_tool, False)]
    # The version is the locked one: the vendored crate's own manifest says the same.
    vendored = (root / "vendor" / crate / "Cargo.toml").read_text()
    assert f'version = "{deps.needs[0].version}"' in vendored
    (line,) = warning_lines([deps])
    assert library in line and crate in line
    if host_tool:
        assert f'"{library}" to [builder] packages' in line
    else:
        assert f'[[c_libraries]] name = "{library}"' in line
        # Debian's copies dropped the bundled C: the feature is named, and that this copy lacks it.
        assert deps.needs[0].bundled_feature in line and not deps.needs[0].bundled_here


@pytest.mark.parametrize("key", sorted(FIXTURES))
def test_named_in_buildcfg_is_provided(key: str, tmp_path: Path) -> None:
    root = _repo(key, tmp_path / "repo", **_provides(key))
    (deps,) = _needs(root)
    assert [n.provided for n in deps.needs] == [True]
    assert deps.unmet == () and warning_lines([deps]) == []


def test_other_library_does_not_provide(tmp_path: Path) -> None:
    root = _repo("zlib", tmp_path / "repo", c_libraries=("openssl",), packages=("libclang-dev",))
    (deps,) = _needs(root)
    assert [(n.library, n.provided) for n in deps.needs] == [("zlib", False)]


def test_attune_workspace_needs_nothing(tmp_path: Path) -> None:
    ws = make_workspace_or_skip(tmp_path / "ws")
    lock = (ws / "Cargo.lock").read_text()
    assert 'name = "ring"' in lock  # ring builds its own C (and asm) with cc: nothing to report
    (ws / "buildcfg.toml").write_text(
        f'[[binaries]]\nname = "{SENSOR_BIN}"\nmanifest = "crates/sensor/Cargo.toml"\n\n'
        f'[[binaries]]\nname = "{OTHER_BIN}"\nmanifest = "crates/other-tool/Cargo.toml"\n'
    )
    found = _needs(ws)
    assert [d.binary for d in found] == [SENSOR_BIN, OTHER_BIN]
    assert all(d.needs == () for d in found)


# -- features and bundled sources, on locks the host cargo writes --------------------------
def _cargo_lock(root: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="packbin-cargo-home-") as home:
        proc = subprocess.run(
            [host_cargo(), "generate-lockfile", "--offline"],
            cwd=root,
            env=offline_cargo_env(Path(home)),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    assert proc.returncode == 0, proc.stderr


def _path_workspace(root: Path, sys_manifest: str, app_deps: str, *, app_features: str = "") -> Path:
    """An app crate with a path dependency (a -sys crate's manifest as given), locked by cargo."""
    try:
        host_cargo()
    except FixtureUnavailable as e:
        pytest.skip(str(e))
    files = {
        "Cargo.toml": '[package]\nname = "app"\nversion = "0.1.0"\nedition = "2021"\n\n'
        f"[dependencies]\n{app_deps}\n{app_features}",
        "src/main.rs": "fn main() {}\n",
        "sys/Cargo.toml": sys_manifest,
        "sys/src/lib.rs": "",
        "sys/build.rs": "fn main() {}\n",
        "buildcfg.toml": '[[binaries]]\nname = "app"\nmanifest = "Cargo.toml"\n',
    }
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    _cargo_lock(root)
    return root


_LIBZ = '[package]\nname = "libz-sys"\nversion = "1.1.8"\nlinks = "z"\n\n[features]\ndefault = []\nstatic = []\n'


@pytest.mark.parametrize(
    ("app_deps", "app_features", "with_sources", "needs_zlib"),
    [
        ('libz-sys = { path = "sys", features = ["static"] }', "", True, False),
        ('libz-sys = { path = "sys" }', "", True, True),  # no static: libz-sys asks pkg-config
        ('libz-sys = { path = "sys", features = ["static"] }', "", False, True),  # static, but no C
        # through the app's own features: default -> z -> libz-sys/static
        ('libz-sys = { path = "sys" }', '\n[features]\ndefault = ["z"]\nz = ["libz-sys/static"]\n', True, False),
        # the same feature, not on by default
        ('libz-sys = { path = "sys" }', '\n[features]\nz = ["libz-sys/static"]\n', True, True),
        # an optional dependency turned on by a weak feature is not turned on by it
        ('libz-sys = { path = "sys", optional = true }', '\n[features]\ndefault = ["libz-sys?/static"]\n', True, False),
    ],
)
def test_libz_static_feature_and_sources(
    tmp_path: Path, app_deps: str, app_features: str, with_sources: bool, needs_zlib: bool
) -> None:
    root = _path_workspace(tmp_path, _LIBZ, app_deps, app_features=app_features)
    if with_sources:
        (root / "sys/src/zlib").mkdir()
        (root / "sys/src/zlib/zlib.h").write_text("/* zlib's sources, as the published crate has them */\n")
    (deps,) = _needs(root)
    assert [n.library for n in deps.needs] == (["zlib"] if needs_zlib else [])
    if needs_zlib:
        assert deps.needs[0].bundled_here == with_sources


def test_openssl_vendored_by_its_openssl_src(tmp_path: Path) -> None:
    manifest = (
        '[package]\nname = "openssl-sys"\nversion = "0.9.80"\nlinks = "openssl"\n\n'
        '[build-dependencies]\nopenssl-src = { path = "../src-crate", optional = true }\n\n'
        '[features]\nvendored = ["openssl-src"]\n'
    )
    (tmp_path / "src-crate/src").mkdir(parents=True)
    (tmp_path / "src-crate/Cargo.toml").write_text('[package]\nname = "openssl-src"\nversion = "300.0.0"\n')
    (tmp_path / "src-crate/src/lib.rs").write_text("")
    root = _path_workspace(tmp_path, manifest, 'openssl-sys = { path = "sys", features = ["vendored"] }')
    assert 'name = "openssl-src"' in (root / "Cargo.lock").read_text()
    assert _needs(root)[0].needs == ()
    # Without the feature cargo locks no openssl-src, and openssl is needed.
    (root / "Cargo.toml").write_text((root / "Cargo.toml").read_text().replace(', features = ["vendored"]', ""))
    _cargo_lock(root)
    assert 'name = "openssl-src"' not in (root / "Cargo.lock").read_text()
    assert [(n.crate, n.library, n.bundled_here) for n in _needs(root)[0].needs] == [("openssl-sys", "openssl", True)]


def test_only_the_binarys_own_dependencies(tmp_path: Path) -> None:
    """A dev-dependency of the bin's package is locked but not built into it."""
    root = _path_workspace(tmp_path, _LIBZ, "")
    (root / "Cargo.toml").write_text(
        (root / "Cargo.toml").read_text() + '\n[dev-dependencies]\nlibz-sys = { path = "sys" }\n'
    )
    _cargo_lock(root)
    assert 'name = "libz-sys"' in (root / "Cargo.lock").read_text()
    assert _needs(root)[0].needs == ()


def test_table_is_documented() -> None:
    docs = (SRC.parent / "docs/c-dependencies.md").read_text()
    for entry in SYS_CRATES:
        assert f"`{entry.crate}`" in docs, entry.crate


# -- hostile and malformed locks ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("[[package]\n", "not a valid Cargo.lock"),
        ("package = 3\n", "must be an array of tables"),
        ("package = [1]\n", "package[0] is not a table"),
        ('[[package]]\nname = "a"\n', "`name` and `version` must be strings"),
        ('[[package]]\nname = "a"\nversion = "1"\nsource = 1\n', "`source` must be a string"),
        ('[[package]]\nname = "a"\nversion = "1"\ndependencies = [1]\n', "`dependencies` must be strings"),
        ('[[package]]\nname = "a"\nversion = "1"\ndependencies = ["b (c"]\n', "`dependencies` must be strings"),
        (b"\xff\xfe".decode("latin-1"), "not a valid Cargo.lock"),
    ],
)
def test_malformed_lock_is_a_clear_error(tmp_path: Path, text: str, words: str) -> None:
    lock = tmp_path / "Cargo.lock"
    lock.write_bytes(text.encode("latin-1"))
    with pytest.raises(ConfigError, match="Cargo.lock") as e:
        read_lock(lock, "Cargo.lock")
    assert words in str(e.value)
    assert e.value.hint


def test_lock_size_is_bounded(tmp_path: Path) -> None:
    lock = tmp_path / "Cargo.lock"
    with open(lock, "wb") as f:
        f.truncate(LOCK_MAX_BYTES + 1)  # sparse: no disk spent
    with pytest.raises(ConfigError, match="larger than 16 MiB"):
        read_lock(lock, "Cargo.lock")


def test_lock_without_the_package(tmp_path: Path) -> None:
    root = _repo("zlib", tmp_path / "repo")
    cfg = BuildConfig.load(root / "buildcfg.toml", env={})
    (inputs,) = collect_all(cfg, cfg.binaries)
    lock = root / "Cargo.lock"
    lock.write_text(lock.read_text().replace('name = "c-zlib-demo"', 'name = "someone-else"'))
    with pytest.raises(ConfigError, match="does not list the package 'c-zlib-demo'"):
        find_c_needs(cfg, inputs)


def test_hostile_lock_through_the_cli(tmp_path: Path) -> None:
    root = _repo("zlib", tmp_path / "repo")
    lock = root / "Cargo.lock"
    lock.write_text(lock.read_text().replace('"libz-sys",\n]', '"libz-sys",\n 7,\n]', 1))
    proc = _packbin(root, "--dry-run")
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr and "Cargo.lock" in proc.stderr + proc.stdout


# -- the command line ---------------------------------------------------------------------------
def _packbin(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    cmd = [sys.executable, "-m", "packbin", "build-pack-binaries", *args]
    return subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize("key", sorted(FIXTURES))
def test_dry_run_names_the_library(key: str, tmp_path: Path) -> None:
    root = _repo(key, tmp_path / "repo")
    crate, library, host_tool = WANTED[key]
    proc = _packbin(root, "--dry-run")
    assert proc.returncode == 0, proc.stderr
    (line,) = [x for x in proc.stdout.splitlines() if x.startswith("warning: ")]
    assert f"{FIXTURES[key].package}: {crate} " in line and library in line
    assert ("[builder] packages" if host_tool else "[[c_libraries]]") in line
    proc = _packbin(root, "--dry-run", "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    (need,) = doc["c_dependencies"]
    assert (need["binary"], need["crate"], need["library"], need["provided"]) == (
        FIXTURES[key].package,
        crate,
        library,
        False,
    )
    assert doc["warnings"] == [line.removeprefix("warning: ")]


@pytest.mark.parametrize("key", sorted(FIXTURES))
def test_dry_run_once_provided(key: str, tmp_path: Path) -> None:
    root = _repo(key, tmp_path / "repo", **_provides(key))
    proc = _packbin(root, "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert "warning:" not in proc.stdout
    said = "in [builder] packages" if WANTED[key][2] else "provided by [[c_libraries]]"
    (line,) = [x for x in proc.stdout.splitlines() if x.startswith(f"{FIXTURES[key].package}: ")]
    assert line.startswith(f"{FIXTURES[key].package}: {WANTED[key][0]} ") and WANTED[key][1] in line
    assert line.endswith(said)
    doc = json.loads(_packbin(root, "--dry-run", "--json").stdout)
    assert [n["provided"] for n in doc["c_dependencies"]] == [True] and doc["warnings"] == []


@pytest.mark.parametrize("key", sorted(FIXTURES))
def test_build_names_the_library_before_the_engine(key: str, tmp_path: Path) -> None:
    # A real build, not a dry run, against an engine that is really not there (a unix socket
    # path with nothing behind it): the warning is printed before packbin needs the engine, and
    # the run then stops on the engine (exit 3) with nothing built.
    root = _repo(key, tmp_path / "repo")
    crate, library, host_tool = WANTED[key]
    env = {**os.environ, "PYTHONPATH": str(SRC), "DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock"}
    env.pop("DOCKER_CONTEXT", None)
    env["PYTHONUNBUFFERED"] = "1"  # one pipe for both streams, in the order written
    cmd = [sys.executable, "-m", "packbin", "build-pack-binaries", "--arch=x86_64"]
    proc = subprocess.run(
        cmd, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120, check=False
    )
    assert proc.returncode == 3, proc.stdout
    lines = proc.stdout.splitlines()
    warning = next(i for i, x in enumerate(lines) if x.startswith("warning: "))
    engine = next(i for i, x in enumerate(lines) if "cannot reach the Docker engine" in x)
    assert warning < engine, lines
    assert f"{FIXTURES[key].package}: {crate} " in lines[warning] and library in lines[warning]
    assert ("[builder] packages" if host_tool else "[[c_libraries]]") in lines[warning]
    assert not (root / "dist").exists()
