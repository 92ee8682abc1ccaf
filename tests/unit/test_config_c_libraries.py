"""``[[c_libraries]]`` and ``[builder] packages``: variants of the real buildcfg.toml in tmp_path.

Every mistake is a ConfigError (exit code 2) naming the file and the key's dotted path.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from packbin.config.c_libraries import C_LIBRARIES, NOT_YET_BUILT, CLibrary
from packbin.config.model import BuildConfig
from packbin.errors import ConfigError
from tests.unit.test_config import REAL_TEXT, write_repo

#: Where the variants add their text: the first [[binaries]] of the real file.
_ANCHOR = "[[binaries]]"


def load(tmp_path: Path, before_binaries: str = "", *, builder_line: str = "", head: str = "") -> BuildConfig:
    """The real config with ``head`` first (top-level keys), ``before_binaries`` inserted before
    [[binaries]] and ``builder_line`` in [builder]."""
    assert _ANCHOR in REAL_TEXT and "[builder]\n" in REAL_TEXT, "buildcfg.toml changed shape: update the test"
    text = head + REAL_TEXT.replace(_ANCHOR, before_binaries + "\n" + _ANCHOR, 1)
    text = text.replace("[builder]\n", "[builder]\n" + builder_line + "\n", 1)
    return BuildConfig.load(write_repo(tmp_path, text), env={})


def error(tmp_path: Path, before_binaries: str = "", *, builder_line: str = "", head: str = "") -> tuple[str, Path]:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, before_binaries, builder_line=builder_line, head=head)
    assert info.value.exit_code == 2
    return str(info.value), (tmp_path / "repo" / "buildcfg.toml").resolve()


# -- [[c_libraries]] --------------------------------------------------------------------------


def test_no_c_libraries_by_default(tmp_path: Path) -> None:
    assert load(tmp_path).c_libraries == ()


def test_c_libraries_in_order_with_optional_version(tmp_path: Path) -> None:
    cfg = load(
        tmp_path, '[[c_libraries]]\nname = "openssl"\n\n[[c_libraries]]\nname = "zlib"\nversion = "1:1.2.13.dfsg-1"\n'
    )
    assert cfg.c_libraries == (
        CLibrary(name="openssl", version=None),
        CLibrary(name="zlib", version="1:1.2.13.dfsg-1"),
    )


def test_every_supported_library_is_accepted(tmp_path: Path) -> None:
    text = "".join(f'[[c_libraries]]\nname = "{name}"\n\n' for name in C_LIBRARIES)
    assert tuple(lib.name for lib in load(tmp_path, text).c_libraries) == C_LIBRARIES == ("zlib", "openssl")
    assert set(NOT_YET_BUILT) == {"libgit2", "curl", "libssh2", "sqlite3", "zstd"}


@pytest.mark.parametrize("name", NOT_YET_BUILT)
def test_a_library_not_built_yet_is_refused_with_the_way_out(tmp_path: Path, name: str) -> None:
    # Accepted, it would clear the dry run's warning and then fail in the sysroot build.
    msg, cfg = error(tmp_path, f'[[c_libraries]]\nname = "{name}"\n')
    assert msg.startswith(f"{cfg}: c_libraries[0].name: packbin does not build {name} yet (it builds zlib, openssl)")
    assert "bundled or vendored feature" in msg and "remove this entry" in msg


@pytest.mark.parametrize(
    ("name", "suggestion"),
    [("zlb", "zlib"), ("OpenSSL", "openssl"), ("opensl", "openssl")],
)
def test_unknown_library_gets_did_you_mean_and_the_list(tmp_path: Path, name: str, suggestion: str) -> None:
    msg, cfg = error(tmp_path, f'[[c_libraries]]\nname = "{name}"\n')
    assert msg.startswith(
        f"{cfg}: c_libraries[0].name: {name!r} is not a C library packbin builds (did you mean {suggestion!r}?)"
    )
    assert msg.endswith("hint: supported: " + ", ".join(C_LIBRARIES))


def test_unknown_library_without_a_close_match_lists_the_supported(tmp_path: Path) -> None:
    msg, cfg = error(tmp_path, '[[c_libraries]]\nname = "qt6"\n')
    assert (
        msg
        == f"{cfg}: c_libraries[0].name: 'qt6' is not a C library packbin builds\n  hint: supported: "
        + ", ".join(C_LIBRARIES)
    )


def test_unknown_key_is_rejected_with_suggestion(tmp_path: Path) -> None:
    msg, cfg = error(tmp_path, '[[c_libraries]]\nname = "zlib"\nverison = "1.2"\n')
    assert msg == f"{cfg}: c_libraries[0].verison: unknown key (did you mean 'version'?)"


def test_name_is_required(tmp_path: Path) -> None:
    msg, cfg = error(tmp_path, '[[c_libraries]]\nversion = "1.2"\n')
    assert msg == f"{cfg}: c_libraries[0].name: missing (required)"


def test_library_listed_twice(tmp_path: Path) -> None:
    msg, cfg = error(tmp_path, '[[c_libraries]]\nname = "zlib"\n\n[[c_libraries]]\nname = "zlib"\n')
    assert msg == f"{cfg}: c_libraries[1].name: 'zlib' is listed twice"


@pytest.mark.parametrize("version", ["latest", "", "1.2 3", "v1.2"])
def test_version_must_be_a_debian_version(tmp_path: Path, version: str) -> None:
    msg, cfg = error(tmp_path, f'[[c_libraries]]\nname = "zlib"\nversion = "{version}"\n')
    assert msg == f"{cfg}: c_libraries[0].version: not a Debian version (like 1:1.2.13.dfsg-1): {version!r}"


def test_c_libraries_must_be_an_array_of_tables(tmp_path: Path) -> None:
    msg, cfg = error(tmp_path, head='c_libraries = "zlib"\n')
    assert msg.startswith(f"{cfg}: c_libraries: must be an array of tables")


def test_c_library_entry_must_be_a_table(tmp_path: Path) -> None:
    msg, _ = error(tmp_path, head='c_libraries = ["zlib"]\n')
    assert "c_libraries[0] must be a table, got str" in msg


# -- [builder] packages -----------------------------------------------------------------------


def test_builder_packages_default_empty(tmp_path: Path) -> None:
    assert load(tmp_path).builder.packages == ()


def test_builder_packages_in_order(tmp_path: Path) -> None:
    cfg = load(tmp_path, builder_line='packages = ["protobuf-compiler", "cmake", "libclang-dev", "g++", "libc6.1-dev"]')
    assert cfg.builder.packages == ("protobuf-compiler", "cmake", "libclang-dev", "g++", "libc6.1-dev")


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ('["pkg config"]', "'pkg config' is not a Debian package name"),
        ('["x"]', "'x' is not a Debian package name"),
        ('["-cmake"]', "'-cmake' is not a Debian package name"),
        ('["cmake=3.25"]', "'cmake=3.25' is not a Debian package name"),
        ('["libclang-dev:arm64"]', "'libclang-dev:arm64' is not a Debian package name"),
    ],
)
def test_builder_package_names_follow_debian_grammar(tmp_path: Path, value: str, problem: str) -> None:
    msg, cfg = error(tmp_path, builder_line=f"packages = {value}")
    assert msg.startswith(f"{cfg}: builder.packages: {problem}")


def test_upper_case_package_name_suggests_lower_case(tmp_path: Path) -> None:
    msg, cfg = error(tmp_path, builder_line='packages = ["CMake"]')
    assert msg.startswith(f"{cfg}: builder.packages: 'CMake' is not a Debian package name")
    assert msg.endswith("(did you mean 'cmake'?)")


def test_builder_package_listed_twice(tmp_path: Path) -> None:
    msg, cfg = error(tmp_path, builder_line='packages = ["cmake", "pkg-config", "cmake"]')
    assert msg == f"{cfg}: builder.packages: 'cmake' is listed twice"


def test_builder_packages_must_be_strings(tmp_path: Path) -> None:
    msg, cfg = error(tmp_path, builder_line="packages = [1]")
    assert msg == f"{cfg}: builder.packages: expected a list of strings, found 1"


def test_builder_packages_misspelt_key_is_suggested(tmp_path: Path) -> None:
    msg, cfg = error(tmp_path, builder_line='pakages = ["cmake"]')
    assert msg == f"{cfg}: builder.pakages: unknown key (did you mean 'packages'?)"
