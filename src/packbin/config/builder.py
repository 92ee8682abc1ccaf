"""``[builder]``: how the builder image is made and what builds see."""

from __future__ import annotations

import re
from dataclasses import dataclass

from packbin.config.table import NAME_RE, Table, suggest

PROFILES = ("auto", "rustup", "debian")

_ENV_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

#: Debian Policy 5.6.1: a package name is lower case letters, digits, + - and ., at least two
#: characters, starting with a letter or digit.
DEBIAN_PACKAGE_RE = re.compile(r"^[a-z0-9][a-z0-9+.-]+$")


@dataclass(frozen=True, kw_only=True)
class ProfileConfig:
    """Per-profile builder settings."""

    base_image: str


@dataclass(frozen=True, kw_only=True)
class BuilderConfig:
    """``[builder]``: how the builder image is made and what builds see."""

    profile: str = "auto"
    rustup: ProfileConfig = ProfileConfig(base_image="rust:1.85-slim-bookworm")
    debian: ProfileConfig = ProfileConfig(base_image="debian:bookworm-slim")
    #: ``[builder.debian] mirror`` as written: an http(s) URL, or "auto" for the mirror this host's
    #: apt uses, looked up when :attr:`debian_mirror` is read (loading the config reads nothing of
    #: the host). buildcfg.toml's default is "auto"; this one is Debian's public mirror.
    mirror: str = "http://deb.debian.org/debian"
    debian_suite: str = "bookworm"
    ziglang_version: str = "0.17.1"
    cargo_zigbuild_version: str = "0.24.1"
    trust_host_ca: bool = True
    strip: bool = True
    env: tuple[tuple[str, str], ...] = ()
    cargo_profile: str = "release"
    #: ``[builder] auditable``: embed the dependency list (cargo-auditable's ``.dep-v0`` section)
    #: and write an SBOM beside each binary. packbin adds the section on the host after the build,
    #: so this changes neither the builder image nor any build cache.
    auditable: bool = True
    #: ``[builder] packages``: Debian packages (host tools: pkg-config, cmake, protobuf-compiler, ...)
    #: installed in the builder image on top of what it always has, in the order written.
    packages: tuple[str, ...] = ()

    @property
    def debian_mirror(self) -> str:
        """The Debian mirror the builder uses (debootstrap, the image's apt, the builder key):
        :attr:`mirror`, or for "auto" the host apt's, read now (the builder recipe and the base
        image are made from it)."""
        if self.mirror != "auto":
            return self.mirror
        from packbin.config import apt_sources

        return apt_sources.host_debian_mirror()

    @property
    def env_dict(self) -> dict[str, str]:
        """``[builder.env]`` as a dict, for a container's environment."""
        return dict(self.env)


def parse_builder(t: Table) -> BuilderConfig:
    """The ``[builder]`` table (with ``[builder.rustup]``, ``[builder.debian]``, ``[builder.env]``)."""
    d = BuilderConfig()
    profile = t.get("profile", str, d.profile)
    if profile not in PROFILES:
        raise t.fail("profile", f"must be one of {', '.join(PROFILES)}, got {profile!r}" + suggest(profile, PROFILES))
    rt = t.table("rustup")
    rustup = ProfileConfig(base_image=rt.get("base_image", str, d.rustup.base_image))
    rt.reject_unknown()
    dt = t.table("debian")
    debian = ProfileConfig(base_image=dt.get("base_image", str, d.debian.base_image))
    mirror = dt.get("mirror", str, "auto")
    suite = dt.get("suite", str, d.debian_suite)
    dt.reject_unknown()
    # "auto" (the host apt's Debian mirror, an internal one where there is one) stays as written:
    # BuilderConfig.debian_mirror looks it up when the builder is made.
    if mirror != "auto" and not re.match(r"^https?://", mirror):
        raise dt.fail("mirror", f"must be an http:// or https:// URL, got {mirror!r}")
    env_table = t.table("env")
    env: list[tuple[str, str]] = []
    for key in env_table.data:
        value = env_table.get(key, (str, int, bool))
        if not _ENV_RE.match(key):
            raise env_table.fail(key, "not a valid environment variable name")
        env.append((key, str(value).lower() if isinstance(value, bool) else str(value)))
    cargo_profile = t.get("cargo_profile", str, d.cargo_profile)
    if not NAME_RE.match(cargo_profile):
        raise t.fail("cargo_profile", f"not a valid cargo profile name: {cargo_profile!r}")
    packages = parse_packages(t)
    cfg = BuilderConfig(
        profile=profile,
        rustup=rustup,
        debian=debian,
        mirror=mirror,
        debian_suite=suite,
        ziglang_version=t.get("ziglang_version", str, d.ziglang_version),
        cargo_zigbuild_version=t.get("cargo_zigbuild_version", str, d.cargo_zigbuild_version),
        trust_host_ca=t.get("trust_host_ca", bool, d.trust_host_ca),
        strip=t.get("strip", bool, d.strip),
        env=tuple(sorted(env)),
        cargo_profile=cargo_profile,
        auditable=t.get("auditable", bool, d.auditable),
        packages=packages,
    )
    t.reject_unknown()
    return cfg


def parse_packages(t: Table) -> tuple[str, ...]:
    """``[builder] packages``: Debian package names, each checked against Debian's grammar, none twice."""
    packages = t.str_list("packages")
    for i, name in enumerate(packages):
        if not DEBIAN_PACKAGE_RE.match(name):
            problem = f"{name!r} is not a Debian package name (lower case letters, digits, + - and ., 2 or more)"
            if name.lower() != name and DEBIAN_PACKAGE_RE.match(name.lower()):
                problem += f" (did you mean {name.lower()!r}?)"
            raise t.fail("packages", problem)
        if name in packages[:i]:
            raise t.fail("packages", f"{name!r} is listed twice")
    return packages


__all__ = ["DEBIAN_PACKAGE_RE", "PROFILES", "BuilderConfig", "ProfileConfig", "parse_builder", "parse_packages"]
