"""mirror = "auto": the host apt's Debian mirror, from sample sources files in both formats."""

from __future__ import annotations

from pathlib import Path

import pytest

from packbin.build.plan import builder_key
from packbin.config.apt_sources import DEFAULT_MIRROR, debian_mirror_from_sources, host_debian_mirror
from packbin.config.model import BuildConfig
from tests.support.repo import REPO, copy_repo

# This very host's /etc/apt/sources.list.d/debian.sources at the time of writing.
DEB822_HOST = """\
Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
# http://snapshot.debian.org/archive/debian-security/20250520T000000Z
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
"""

DEB822_INTERNAL = """\
# the security archive first: it must not be taken for the main one
Types: deb
URIs: http://apt.corp.example/debian-security
Suites: bookworm-security
Components: main

Types: deb-src
URIs: http://src.corp.example/debian
Suites: bookworm
Components: main

Types: deb
URIs: http://disabled.example/debian
Suites: bookworm
Components: main
Enabled: no

Types: deb deb-src
URIs:
 https://apt.corp.example/debian/
Suites: bookworm bookworm-updates
Components: main contrib non-free-firmware
"""

NODESOURCE = """\
Types: deb
URIs: https://deb.nodesource.com/node_20.x
Suites: nodistro
Components: main
"""

ONE_LINE = """\
# deb http://commented.example/debian bookworm main
deb [arch=amd64 signed-by=/usr/share/keyrings/x.gpg] https://packages.cloud.google.com/apt cloud-sdk-bookworm main
deb-src http://src.example/debian bookworm main
deb http://security.debian.org/debian-security bookworm-security main
deb [trusted=yes] http://mirror.proxy.example:3142/debian/ bookworm main contrib
deb http://later.example/debian bookworm main
"""


def test_this_hosts_deb822_sources() -> None:
    assert debian_mirror_from_sources([("debian.sources", DEB822_HOST)]) == "http://deb.debian.org/debian"


def test_deb822_skips_security_source_and_disabled_entries_and_reads_continuations() -> None:
    assert debian_mirror_from_sources([("internal.sources", DEB822_INTERNAL)]) == "https://apt.corp.example/debian"


def test_one_line_format_skips_comments_third_party_and_security() -> None:
    assert debian_mirror_from_sources([("sources.list", ONE_LINE)]) == "http://mirror.proxy.example:3142/debian"


def test_third_party_main_components_are_not_a_debian_mirror() -> None:
    assert (
        debian_mirror_from_sources([("nodesource.sources", NODESOURCE), ("gcloud.list", ONE_LINE.splitlines()[1])])
        is None
    )


def test_host_files_in_apt_order_and_the_public_default(tmp_path: Path) -> None:
    etc = tmp_path / "apt"
    assert host_debian_mirror(etc) == DEFAULT_MIRROR  # no apt at all
    (etc / "sources.list.d").mkdir(parents=True)
    (etc / "sources.list.d" / "a-nodesource.sources").write_text(NODESOURCE)
    (etc / "sources.list.d" / "b-internal.sources").write_text(DEB822_INTERNAL)
    (etc / "sources.list.d" / "c-disabled.list.disabled-by-admin").write_text(
        "deb http://ignored.example/debian bookworm main\n"
    )
    assert host_debian_mirror(etc) == "https://apt.corp.example/debian"
    (etc / "sources.list").write_text("deb http://first.example/debian bookworm main\n")  # apt reads it first
    assert host_debian_mirror(etc) == "http://first.example/debian"


def _cfg(tmp_path: Path, mirror_line: str) -> BuildConfig:
    repo = tmp_path / "repo"
    if not repo.exists():
        copy_repo(repo)
    path = repo / "buildcfg.toml"
    text = (REPO / "buildcfg.toml").read_text()
    assert 'mirror = "auto"' in text
    path.write_text(text.replace('mirror = "auto"', mirror_line))
    return BuildConfig.load(path, env={})


def test_auto_resolves_to_the_host_mirror_and_an_explicit_url_overrides(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import packbin.config.apt_sources

    etc = tmp_path / "apt"
    (etc / "sources.list.d").mkdir(parents=True)
    (etc / "sources.list.d" / "internal.sources").write_text(DEB822_INTERNAL)
    real = packbin.config.apt_sources.host_debian_mirror
    # The host's /etc/apt is not this test's to change: point the resolver at a sample tree.
    monkeypatch.setattr(packbin.config.apt_sources, "host_debian_mirror", lambda etc_apt=etc: real(etc_apt))
    auto = _cfg(tmp_path, 'mirror = "auto"')
    assert auto.builder.debian_mirror == "https://apt.corp.example/debian"
    explicit = _cfg(tmp_path, 'mirror = "http://explicit.example/debian"')
    assert explicit.builder.debian_mirror == "http://explicit.example/debian"
    # The builder key (and so every input hash) follows the resolved mirror.
    assert builder_key(auto) != builder_key(explicit)
    same = _cfg(tmp_path, 'mirror = "https://apt.corp.example/debian"')
    assert builder_key(auto) == builder_key(same)


def test_loading_reads_nothing_of_the_host_auto_is_resolved_when_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import packbin.config.apt_sources

    def no_host_read(etc_apt: Path = Path("/etc/apt")) -> str:
        raise AssertionError("the host's apt sources were read while loading buildcfg.toml")

    monkeypatch.setattr(packbin.config.apt_sources, "host_debian_mirror", no_host_read)
    cfg = _cfg(tmp_path, 'mirror = "auto"')
    assert cfg.builder.mirror == "auto"
    monkeypatch.setattr(packbin.config.apt_sources, "host_debian_mirror", lambda: "https://apt.corp.example/debian")
    assert cfg.builder.debian_mirror == "https://apt.corp.example/debian"
