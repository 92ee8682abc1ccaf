"""The builder image recipe, rendered without Docker: Dockerfile text, context files, digest, tag.

Shell fragments of the Dockerfile and the build script are run through a real ``sh`` (syntax
check, and the version check with a stub ``dpkg-query``), since a typo there only shows up
minutes into an image build otherwise.
"""

from __future__ import annotations

import dataclasses
import io
import os
import re
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

import packbin.build.recipe as bi
from packbin._compat import tomllib
from packbin.arch import Architecture
from packbin.build.image import (
    BUILD_SCRIPT,
    SELF_CONTAINED_OFF,
    host_ca_files,
    make_recipe,
    render_dockerfile,
    target_cargo_config,
    target_rustflags_env,
)
from packbin.config.model import BuildConfig, BuilderConfig
from tests.support.repo import skeleton_config

REPO = Path(__file__).resolve().parents[2]
SH = shutil.which("sh")
needs_sh = pytest.mark.skipif(SH is None, reason="no sh on PATH")


@pytest.fixture
def cfg(tmp_path: Path) -> BuildConfig:
    return skeleton_config(tmp_path / "repo")


@pytest.fixture
def ca_dir(tmp_path: Path) -> Path:
    d = tmp_path / "ca-certificates"
    (d / "corp").mkdir(parents=True)
    (d / "proxy.crt").write_bytes(b"-----BEGIN CERTIFICATE-----\nproxy\n-----END CERTIFICATE-----\n")
    (d / "corp" / "root.crt").write_bytes(b"-----BEGIN CERTIFICATE-----\ncorp\n-----END CERTIFICATE-----\n")
    (d / "README").write_text("not a certificate")
    return d


@pytest.fixture
def with_host_ca(monkeypatch: pytest.MonkeyPatch, ca_dir: Path) -> Path:
    """make_recipe reads the host's CA dir: point it at ca_dir instead of /usr/local/share."""
    real = bi.host_ca_files
    monkeypatch.setattr(bi, "host_ca_files", lambda enabled: real(enabled, ca_dir))
    return ca_dir


@pytest.fixture
def without_host_ca(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    real = bi.host_ca_files
    monkeypatch.setattr(bi, "host_ca_files", lambda enabled: real(enabled, tmp_path / "no-such-dir"))


def debian(cfg: BuildConfig, *, has_ca: bool = False, builder: BuilderConfig | None = None) -> str:
    return render_dockerfile(builder or cfg.builder, "debian", "debian:bookworm-slim", cfg.architectures, has_ca=has_ca)


def rustup(cfg: BuildConfig, *, has_ca: bool = False, arches: tuple[Architecture, ...] | None = None) -> str:
    return render_dockerfile(
        cfg.builder, "rustup", "rust:1.85-slim-bookworm", arches or cfg.architectures, has_ca=has_ca
    )


def run_commands(dockerfile: str) -> list[str]:
    """The shell command of every RUN instruction, continuation lines joined."""
    joined = re.sub(r"\\\n", " ", dockerfile)
    return [line[len("RUN ") :] for line in joined.splitlines() if line.startswith("RUN ")]


# -- the debian profile ------------------------------------------------------------------


def test_debian_dockerfile_installs_the_web_toolchain(cfg: BuildConfig) -> None:
    df = debian(cfg)
    assert df.splitlines()[1] == "FROM debian:bookworm-slim"
    for pkg in ("rustc-web", "cargo-web", "rust-web-src"):
        assert re.search(rf"apt-get install [^\n]*(\\\n[^\n]*)*\b{pkg}\b", df), pkg
    assert "ENV RUSTC_BOOTSTRAP=1 PACKBIN_OFFLINE_STD=1" in df
    assert "rustup" not in df


def test_debian_dockerfile_adds_updates_and_security_suites(cfg: BuildConfig) -> None:
    [apt_run, *_] = run_commands(debian(cfg))
    # Evaluate the printf that writes sources.list with a real shell.
    printf = apt_run.split(" > /etc/apt/sources.list")[0]
    sources = subprocess.run([SH or "sh", "-c", printf], capture_output=True, text=True, check=True).stdout
    assert sources.splitlines() == [
        "deb http://deb.debian.org/debian bookworm main",
        "deb http://deb.debian.org/debian bookworm-updates main",
        "deb http://deb.debian.org/debian-security bookworm-security main",
    ]


def test_debian_dockerfile_follows_the_configured_mirror(cfg: BuildConfig) -> None:
    b = dataclasses.replace(cfg.builder, mirror="https://mirror.example.org/debian/", debian_suite="trixie")
    [apt_run, *_] = run_commands(debian(cfg, builder=b))
    sources = subprocess.run(
        [SH or "sh", "-c", apt_run.split(" > ")[0]], capture_output=True, text=True, check=True
    ).stdout
    assert sources.splitlines() == [
        "deb https://mirror.example.org/debian/ trixie main",
        "deb https://mirror.example.org/debian/ trixie-updates main",
        "deb https://mirror.example.org/debian-security trixie-security main",
    ]


def test_tool_versions_are_pinned_from_config(cfg: BuildConfig) -> None:
    b = dataclasses.replace(cfg.builder, ziglang_version="0.99.1", cargo_zigbuild_version="7.8.9")
    for df in (debian(cfg, builder=b), render_dockerfile(b, "rustup", "rust:x", cfg.architectures, has_ca=False)):
        assert "ziglang==0.99.1 cargo-zigbuild==7.8.9" in df
    assert "ziglang==0.17.1 cargo-zigbuild==0.24.1" in debian(cfg)


@pytest.mark.parametrize("profile", ["debian", "rustup"])
def test_dockerfile_is_classic_builder_compatible(cfg: BuildConfig, profile: str) -> None:
    df = render_dockerfile(cfg.builder, profile, "base:1", cfg.architectures, has_ca=True)
    assert "--mount" not in df
    assert "# syntax=" not in df
    assert "<<" not in df  # heredocs need BuildKit too
    instructions = {
        line.split()[0] for line in re.sub(r"\\\n", " ", df).splitlines() if line and not line.startswith("#")
    }
    assert instructions <= {"FROM", "ENV", "RUN", "COPY", "WORKDIR"}


@needs_sh
@pytest.mark.parametrize("profile", ["debian", "rustup"])
def test_every_run_command_is_valid_shell(cfg: BuildConfig, profile: str) -> None:
    commands = run_commands(render_dockerfile(cfg.builder, profile, "base:1", cfg.architectures, has_ca=True))
    assert len(commands) >= 3
    for cmd in commands:
        proc = subprocess.run([SH or "sh", "-n", "-c", cmd], check=False, capture_output=True, text=True)
        assert proc.returncode == 0, (cmd, proc.stderr)


# -- the version-equality check ----------------------------------------------------------


def _version_check(cfg: BuildConfig) -> str:
    [apt_run, *_] = run_commands(debian(cfg))
    m = re.search(r"v1=\$\(dpkg-query.*?; fi", apt_run)
    assert m, apt_run
    return m.group(0)


def _run_check(check: str, tmp_path: Path, versions: dict[str, str]) -> subprocess.CompletedProcess[str]:
    stub = tmp_path / "bin"
    stub.mkdir(exist_ok=True)
    # dpkg-query -W -f='${Version}' PKG: prints the version of the last argument's package.
    (stub / "dpkg-query").write_text(
        '#!/bin/sh\nfor a; do pkg="$a"; done\n'
        + "".join(f'[ "$pkg" = "{k}" ] && printf %s "{v}"\n' for k, v in versions.items())
        + "exit 0\n"
    )
    (stub / "dpkg-query").chmod(0o755)
    env = {"PATH": f"{stub}:{os.environ.get('PATH', '/usr/bin:/bin')}"}
    return subprocess.run([SH or "sh", "-c", check], check=False, capture_output=True, text=True, env=env)


SAME = "1.85.0+dfsg1-1~deb12u3"


@needs_sh
def test_version_check_passes_when_versions_match(cfg: BuildConfig, tmp_path: Path) -> None:
    proc = _run_check(_version_check(cfg), tmp_path, {"rustc-web": SAME, "cargo-web": SAME, "rust-web-src": SAME})
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""


@needs_sh
def test_version_check_fails_when_rust_src_differs(cfg: BuildConfig, tmp_path: Path) -> None:
    proc = _run_check(
        _version_check(cfg), tmp_path, {"rustc-web": SAME, "cargo-web": SAME, "rust-web-src": "1.84.1+dfsg1-1~deb12u1"}
    )
    assert proc.returncode == 1
    assert f"rustc-web {SAME}" in proc.stderr
    assert "rust-web-src 1.84.1+dfsg1-1~deb12u1 differ" in proc.stderr


@needs_sh
def test_version_check_fails_when_cargo_differs(cfg: BuildConfig, tmp_path: Path) -> None:
    proc = _run_check(
        _version_check(cfg), tmp_path, {"rustc-web": SAME, "cargo-web": "1.70.0+dfsg0-1", "rust-web-src": SAME}
    )
    assert proc.returncode == 1


# -- host CA certificates ----------------------------------------------------------------


def test_host_ca_files_reads_crt_files_recursively(ca_dir: Path) -> None:
    files = host_ca_files(True, ca_dir)
    assert files == (
        ("ca/corp_root.crt", b"-----BEGIN CERTIFICATE-----\ncorp\n-----END CERTIFICATE-----\n"),
        ("ca/proxy.crt", b"-----BEGIN CERTIFICATE-----\nproxy\n-----END CERTIFICATE-----\n"),
    )


def test_host_ca_files_off_or_absent(ca_dir: Path, tmp_path: Path) -> None:
    assert host_ca_files(False, ca_dir) == ()
    assert host_ca_files(True, tmp_path / "missing") == ()
    empty = tmp_path / "empty"
    empty.mkdir()
    assert host_ca_files(True, empty) == ()


def test_ca_copy_only_when_host_has_ca_files(cfg: BuildConfig, with_host_ca: Path) -> None:
    recipe = make_recipe(cfg, "debian", "debian:bookworm-slim")
    assert "COPY ca/ /usr/local/share/ca-certificates/packbin/\n" in recipe.dockerfile
    # The certificates are installed before apt/pip need them.
    assert recipe.dockerfile.index("COPY ca/") < recipe.dockerfile.index("update-ca-certificates")
    assert [name for name, _ in recipe.context_files] == ["ca/corp_root.crt", "ca/proxy.crt"]
    with tarfile.open(fileobj=io.BytesIO(recipe.context_tar())) as tf:
        assert sorted(tf.getnames()) == ["Dockerfile", "ca/corp_root.crt", "ca/proxy.crt"]
        dockerfile = tf.extractfile("Dockerfile")
        assert dockerfile is not None and dockerfile.read().decode() == recipe.dockerfile


def test_no_ca_copy_without_host_ca_files(cfg: BuildConfig, without_host_ca: None) -> None:
    for profile in ("debian", "rustup"):
        recipe = make_recipe(cfg, profile, "base:1")
        assert "COPY ca/" not in recipe.dockerfile
        assert "PIP_CERT" not in recipe.dockerfile
        assert [name for name, _ in recipe.context_files] == []


def test_trust_host_ca_off_ignores_host_files(cfg: BuildConfig, with_host_ca: Path) -> None:
    off = dataclasses.replace(cfg, builder=dataclasses.replace(cfg.builder, trust_host_ca=False))
    recipe = make_recipe(off, "debian", "debian:bookworm-slim")
    assert "COPY ca/" not in recipe.dockerfile
    assert [name for name, _ in recipe.context_files] == []


@needs_sh
def test_pip_install_sees_the_ca_bundle(cfg: BuildConfig, tmp_path: Path) -> None:
    [pip_run] = [c for c in run_commands(debian(cfg, has_ca=True)) if "pip install" in c]
    venv = tmp_path / "venv"
    stub = tmp_path / "stub"
    stub.mkdir()
    # A python3 whose "-m venv DIR" makes DIR/bin/pip print the CA variables it was started with.
    (stub / "python3").write_text(
        '#!/bin/sh\nmkdir -p "$3/bin"\n'
        'printf \'#!/bin/sh\\necho "PIP_CERT=$PIP_CERT"\\n\' > "$3/bin/pip"\nchmod +x "$3/bin/pip"\n'
    )
    (stub / "python3").chmod(0o755)
    env = {"PATH": f"{stub}:/usr/bin:/bin"}
    out = subprocess.run(
        [SH or "sh", "-c", pip_run.replace("/opt/zigbuild", str(venv))],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert out.stdout.strip() == "PIP_CERT=/etc/ssl/certs/ca-certificates.crt"


# -- digest and tag ----------------------------------------------------------------------


def test_recipe_digest_is_stable(cfg: BuildConfig, with_host_ca: Path) -> None:
    a = make_recipe(cfg, "debian", "debian:bookworm-slim")
    b = make_recipe(cfg, "debian", "debian:bookworm-slim")
    assert a.digest == b.digest
    assert len(a.digest) == 64
    assert a.tag == f"packbin/builder:debian-{a.digest[:16]}"
    assert a.context_tar() == b.context_tar()


@pytest.mark.parametrize(
    "change",
    [
        {"ziglang_version": "0.17.2"},
        {"cargo_zigbuild_version": "0.24.2"},
        {"mirror": "http://other.example/debian"},
    ],
    ids=lambda c: next(iter(c)),
)
def test_recipe_tag_changes_with_a_tool_version(
    cfg: BuildConfig, without_host_ca: None, change: dict[str, str]
) -> None:
    before = make_recipe(cfg, "debian", "debian:bookworm-slim")
    changed = dataclasses.replace(cfg, builder=dataclasses.replace(cfg.builder, **change))  # type: ignore[arg-type]
    after = make_recipe(changed, "debian", "debian:bookworm-slim")
    assert after.digest != before.digest
    assert after.tag != before.tag


def test_recipe_tag_changes_with_base_image_and_profile(cfg: BuildConfig, without_host_ca: None) -> None:
    tags = {
        make_recipe(cfg, "debian", "debian:bookworm-slim").tag,
        make_recipe(cfg, "debian", "packbin/debian-base:bookworm-0123").tag,
        make_recipe(cfg, "rustup", "rust:1.85-slim-bookworm").tag,
    }
    assert len(tags) == 3


def test_recipe_tag_changes_when_a_ca_certificate_changes(cfg: BuildConfig, with_host_ca: Path) -> None:
    before = make_recipe(cfg, "debian", "debian:bookworm-slim").tag
    (with_host_ca / "proxy.crt").write_bytes(b"-----BEGIN CERTIFICATE-----\nrotated\n-----END CERTIFICATE-----\n")
    assert make_recipe(cfg, "debian", "debian:bookworm-slim").tag != before


def _with(cfg: BuildConfig, *, packages: tuple[str, ...] = (), c_libraries: tuple[str, ...] = ()) -> BuildConfig:
    from packbin.config.c_libraries import CLibrary

    return dataclasses.replace(
        cfg,
        builder=dataclasses.replace(cfg.builder, packages=packages),
        c_libraries=tuple(CLibrary(name=n) for n in c_libraries),
    )


def _installed_packages(dockerfile: str) -> list[list[str]]:
    """The package lists of every ``apt-get install`` after the toolchain's (the extra layers)."""
    runs = re.findall(r"apt-get install -y --no-install-recommends ([a-z0-9+. -]+?) \\", dockerfile)
    return [r.split() for r in runs[1:]]


@pytest.mark.parametrize("profile", ["debian", "rustup"])
def test_builder_packages_change_the_tag_and_keep_their_order(
    cfg: BuildConfig, without_host_ca: None, profile: str
) -> None:
    base = "debian:bookworm-slim" if profile == "debian" else "rust:1.85-slim-bookworm"
    plain = make_recipe(cfg, profile, base)
    one = make_recipe(_with(cfg, packages=("protobuf-compiler", "cmake")), profile, base)
    other = make_recipe(_with(cfg, packages=("cmake", "protobuf-compiler")), profile, base)
    assert len({plain.tag, one.tag, other.tag}) == 3
    assert _installed_packages(plain.dockerfile) == []
    assert _installed_packages(one.dockerfile) == [["protobuf-compiler", "cmake"]]
    assert _installed_packages(other.dockerfile) == [["cmake", "protobuf-compiler"]]
    # The toolchain's layers come first and are the same: only the last layer is new.
    assert one.dockerfile.startswith(plain.dockerfile)


def test_c_libraries_add_pkg_config_and_make_to_the_image_once(cfg: BuildConfig, without_host_ca: None) -> None:
    zlib = make_recipe(_with(cfg, c_libraries=("zlib",)), "debian", "debian:bookworm-slim")
    assert _installed_packages(zlib.dockerfile) == [["pkg-config", "make"]]
    both = make_recipe(_with(cfg, packages=("cmake", "pkg-config"), c_libraries=("zlib",)), "debian", "x")
    assert _installed_packages(both.dockerfile) == [["cmake", "pkg-config", "make"]]
    assert zlib.tag != make_recipe(cfg, "debian", "debian:bookworm-slim").tag
    ssl = make_recipe(_with(cfg, c_libraries=("zlib", "openssl")), "debian", "x")
    assert _installed_packages(ssl.dockerfile) == [["pkg-config", "make", "perl"]]


@needs_sh
def test_packages_layer_is_valid_shell(cfg: BuildConfig, tmp_path: Path) -> None:
    dockerfile = make_recipe(_with(cfg, packages=("libclang-dev", "g++")), "debian", "x").dockerfile
    last = dockerfile.split("\nRUN ")[-1].replace("\\\n", " ")
    script = tmp_path / "layer.sh"
    script.write_text(last)
    subprocess.run([SH or "sh", "-n", str(script)], check=True)
    assert "apt-get install -y --no-install-recommends libclang-dev g++ " in last


def test_unrelated_config_does_not_change_the_recipe(cfg: BuildConfig, without_host_ca: None) -> None:
    base = make_recipe(cfg, "debian", "debian:bookworm-slim").digest
    other = dataclasses.replace(
        cfg,
        default_arch="arm64",
        builder=dataclasses.replace(cfg.builder, strip=False, env=(("X", "1"),), cargo_profile="dev"),
    )
    assert make_recipe(other, "debian", "debian:bookworm-slim").digest == base


def test_adding_an_architecture_keeps_the_debian_image(cfg: BuildConfig, without_host_ca: None) -> None:
    riscv = Architecture(
        name="riscv64",
        aliases=(),
        rust_target="riscv64gc-unknown-linux-musl",
        docker_platform="linux/riscv64",
        elf_machine=243,
        elf_class=64,
        byte_order="little",
    )
    more = dataclasses.replace(cfg, architectures=(*cfg.architectures, riscv))
    assert (
        make_recipe(more, "debian", "debian:bookworm-slim").digest
        == make_recipe(cfg, "debian", "debian:bookworm-slim").digest
    )
    # The rustup profile installs one std per target, so there it must change.
    assert (
        make_recipe(more, "rustup", "rust:1.85-slim-bookworm").digest
        != make_recipe(cfg, "rustup", "rust:1.85-slim-bookworm").digest
    )


# -- the rustup profile ------------------------------------------------------------------


def test_rustup_profile_adds_the_configured_musl_targets(cfg: BuildConfig) -> None:
    df = rustup(cfg)
    assert df.splitlines()[1] == "FROM rust:1.85-slim-bookworm"
    assert "RUN rustup target add x86_64-unknown-linux-musl aarch64-unknown-linux-musl\n" in df
    assert "rustc-web" not in df
    assert "RUSTC_BOOTSTRAP" not in df
    assert "ENV PACKBIN_OFFLINE_STD=0" in df


def test_rustup_profile_follows_the_architectures(cfg: BuildConfig) -> None:
    df = rustup(cfg, arches=(cfg.arch("arm64"),))
    assert "RUN rustup target add aarch64-unknown-linux-musl\n" in df


# -- cargo config and rustflags ----------------------------------------------------------


def test_image_ships_no_cargo_config_so_crates_keep_their_own_source_replacement(
    cfg: BuildConfig, without_host_ca: None
) -> None:
    # The musl std is prebuilt into a sysroot volume; nothing in the image replaces crates-io or
    # asks for -Zbuild-std, which collided with a crate's own vendored sources.
    for profile, base in (("debian", "debian:bookworm-slim"), ("rustup", "rust:1.85-slim-bookworm")):
        recipe = make_recipe(cfg, profile, base)
        assert dict(recipe.context_files) == {}
        assert ".cargo/config.toml" not in recipe.dockerfile
        assert "build-std" not in recipe.dockerfile


@pytest.mark.parametrize(
    ("triple", "profile", "env", "expected"),
    [
        # No user flags: the per-build config file carries the flag, the environment stays as is.
        ("x86_64-unknown-linux-musl", "debian", {}, {}),
        ("aarch64-unknown-linux-musl", "debian", {"SQLX_OFFLINE": "true"}, {}),
        (
            "x86_64-unknown-linux-musl",
            "debian",
            {"CARGO_ENCODED_RUSTFLAGS": "-Copt-level=s"},
            {"CARGO_ENCODED_RUSTFLAGS": "-Copt-level=s\x1f--sysroot\x1f/sysroot\x1f-C\x1flink-self-contained=no"},
        ),
        (
            "x86_64-unknown-linux-musl",
            "debian",
            {"RUSTFLAGS": "-C opt-level=s"},
            {"RUSTFLAGS": "-C opt-level=s --sysroot /sysroot -C link-self-contained=no"},
        ),
        (
            "x86_64-unknown-linux-musl",
            "debian",
            {"CARGO_TARGET_X86_64_UNKNOWN_LINUX_MUSL_RUSTFLAGS": "-C lto"},
            {"CARGO_TARGET_X86_64_UNKNOWN_LINUX_MUSL_RUSTFLAGS": "-C lto --sysroot /sysroot -C link-self-contained=no"},
        ),
        ("x86_64-unknown-linux-musl", "rustup", {}, {}),
        ("x86_64-unknown-linux-musl", "rustup", {"RUSTFLAGS": "-C opt-level=s"}, {}),
        ("x86_64-unknown-linux-gnu", "debian", {}, {}),
    ],
)
def test_target_rustflags_env(triple: str, profile: str, env: dict[str, str], expected: dict[str, str]) -> None:
    assert target_rustflags_env(triple, profile=profile, env=env) == expected


def test_self_contained_off_flag_text() -> None:
    assert SELF_CONTAINED_OFF == "-C link-self-contained=no"


# -- the build script --------------------------------------------------------------------


@needs_sh
def test_build_script_is_valid_sh(tmp_path: Path) -> None:
    script = tmp_path / "packbin-build"
    script.write_text(BUILD_SCRIPT)
    proc = subprocess.run([SH or "sh", "-n", str(script)], check=False, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert BUILD_SCRIPT.startswith("#!/bin/sh\n")
    assert "set -eu" in BUILD_SCRIPT


def test_build_script_is_a_resource_file_the_wheel_carries() -> None:
    # It runs in the container as it is: a file in the package, listed as package data.
    resource = Path(bi.__file__).parent / "resources" / "build.sh"
    assert resource.read_bytes() == BUILD_SCRIPT.encode()
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert "build.sh" in pyproject["tool"]["setuptools"]["package-data"]["packbin.build.resources"]


@needs_sh
def test_sh_n_catches_a_broken_script(tmp_path: Path) -> None:
    # The syntax check above can fail: a script with an unclosed `if` is refused.
    broken = tmp_path / "broken"
    broken.write_text(BUILD_SCRIPT.replace("  fi\ndone", "done"))
    assert subprocess.run([SH or "sh", "-n", str(broken)], check=False, capture_output=True).returncode != 0


def test_build_script_builds_offline_locked_and_for_the_target() -> None:
    assert re.search(
        r'cargo zigbuild --offline --locked \$\{flags:\+--config "\$flags"\} --profile "\$profile" --target "\$target" '
        r'--manifest-path "\$manifest" --package "\$package" --bin "\$bin"',
        BUILD_SCRIPT,
    )


def test_build_script_builds_std_once_with_panic_abort_compiled_for_abort() -> None:
    assert "-Zbuild-std=std,panic_abort" in BUILD_SCRIPT
    assert "--crate-name panic_abort" in BUILD_SCRIPT and "-C panic=abort" in BUILD_SCRIPT
    # Built only when the stamp (toolchain) differs, into the sysroot volume.
    assert (
        'if [ -f /sysroot/.packbin-std ] && [ "$(cat /sysroot/.packbin-std)" = "$stamp" ]; then return 0; fi'
        in BUILD_SCRIPT
    )


def test_target_cargo_config_gives_musl_targets_the_flag_in_the_debian_profile() -> None:
    text = target_cargo_config(["x86_64-unknown-linux-musl", "x86_64-unknown-linux-gnu"], profile="debian")
    data = tomllib.loads(text)
    assert data["target"]["x86_64-unknown-linux-musl"]["rustflags"] == [
        "--sysroot",
        "/sysroot",
        "-C",
        "link-self-contained=no",
    ]
    assert "x86_64-unknown-linux-gnu" not in data.get("target", {})
    assert tomllib.loads(target_cargo_config(["x86_64-unknown-linux-musl"], profile="rustup")) == {}
