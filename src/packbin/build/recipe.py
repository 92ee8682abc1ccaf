"""The builder image's recipe: the Dockerfile rendered from buildcfg.toml, the build script that
runs in every build container, the target rustflags, and the recipe's tag (a hash of all of it).

Pure text: nothing here talks to an engine (:mod:`packbin.build.image` builds and finds the image).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from packbin import __version__
from packbin.arch import Architecture
from packbin.config.model import BuildConfig, BuilderConfig
from packbin.util.tarwriter import tar_bytes

IMAGE_REPO = "packbin/builder"
BASE_REPO = "packbin/debian-base"
HOST_CA_DIR = Path("/usr/local/share/ca-certificates")
#: Where sources, outputs and the cargo config live inside the builder.
BUILD_ROOT = "/build"
CACHE_ROOT = "/cache"  # XDG_CACHE_HOME: zig's and cargo-zigbuild's caches (a volume per target)
CARGO_HOME = "/usr/local/cargo"
RECIPE_LABEL = "io.packbin.recipe"


@dataclass(frozen=True, kw_only=True)
class BuilderRecipe:
    """Everything that determines the builder image: its Dockerfile and context files."""

    profile: str  # "rustup" | "debian"
    base_image: str
    dockerfile: str
    context_files: tuple[tuple[str, bytes], ...]

    @property
    def digest(self) -> str:
        """sha256 over the Dockerfile and every context file: the recipe's identity."""
        h = hashlib.sha256()
        h.update(self.dockerfile.encode())
        for name, data in self.context_files:
            h.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
        return h.hexdigest()

    @property
    def tag(self) -> str:
        """``packbin/builder:<profile>-<digest prefix>``: a changed recipe is a new tag."""
        return f"{IMAGE_REPO}:{self.profile}-{self.digest[:16]}"

    def context_tar(self) -> bytes:
        """The build context: the Dockerfile plus the context files, as a deterministic tar."""
        files: dict[str, bytes | tuple[bytes, int]] = {"Dockerfile": self.dockerfile.encode()}
        files.update(dict(self.context_files))
        return tar_bytes(files)


@dataclass(frozen=True, kw_only=True)
class BuilderImage:
    """A built (or reused) builder image."""

    tag: str
    image_id: str
    profile: str
    built: bool  # False: reused
    recipe: str = ""  # the recipe's digest (BuilderRecipe.digest): what the tag abbreviates


def host_ca_files(enabled: bool, ca_dir: Path = HOST_CA_DIR) -> tuple[tuple[str, bytes], ...]:
    """The host's locally added CA certificates, as context files (empty when off or none)."""
    if not enabled or not ca_dir.is_dir():
        return ()
    out: list[tuple[str, bytes]] = []
    for p in sorted(ca_dir.rglob("*.crt")):
        if p.is_file():
            rel = p.relative_to(ca_dir).as_posix().replace("/", "_")
            out.append((f"ca/{rel}", p.read_bytes()))
    return tuple(out)


#: In the debian profile, where the musl std is built (once per engine, toolchain and target) and
#: linked from: a volume per target mounted here, used as ``--sysroot`` for target crates only.
SYSROOT = "/sysroot"


#: Debian ships no musl self-contained crt objects (``failed to open object rcrt1.o``);
#: zig supplies musl's crt and libc instead.
SELF_CONTAINED_OFF = "-C link-self-contained=no"


def target_rustflags(triple: str, *, profile: str) -> list[str]:
    """The flags every target crate gets: in the debian profile, the prebuilt std's sysroot (so
    crates build without -Zbuild-std and their own source replacement never meets std's) and
    zig's crt instead of the missing self-contained one."""
    if profile == "debian" and "musl" in triple:
        return ["--sysroot", SYSROOT, *SELF_CONTAINED_OFF.split()]
    return []


def target_cargo_config(triples: list[str] | tuple[str, ...], *, profile: str) -> str:
    """Per-build cargo config, shipped with each build as /build/.cargo/config.toml.

    A config file, not a CARGO_TARGET_<T>_RUSTFLAGS variable: cargo joins the rustflags arrays
    of all config files, so a crate's own ``.cargo/config.toml`` still applies (an environment
    variable would silently override it). With ``--target`` given, target rustflags reach
    target crates only: build scripts and proc macros keep the host's std.
    """
    lines = ["# packbin: per-target flags for this build"]
    for triple in triples:
        flags = target_rustflags(triple, profile=profile)
        if flags:
            lines += [f"[target.{triple}]", "rustflags = [" + ", ".join(f'"{f}"' for f in flags) + "]"]
    return "\n".join(lines) + "\n"


def target_rustflags_env(triple: str, *, profile: str, env: dict[str, str]) -> dict[str, str]:
    """Environment changes needed when the user's [builder.env] sets flags that beat config files.

    RUSTFLAGS, CARGO_ENCODED_RUSTFLAGS and CARGO_TARGET_<T>_RUSTFLAGS replace the config
    files' rustflags, so the profile's flags are appended to them; otherwise nothing.
    """
    flags = target_rustflags(triple, profile=profile)
    if not flags:
        return {}
    if "CARGO_ENCODED_RUSTFLAGS" in env:  # overrides every other source of flags; \x1f-separated
        return {"CARGO_ENCODED_RUSTFLAGS": "\x1f".join(x for x in (env["CARGO_ENCODED_RUSTFLAGS"], *flags) if x)}
    if "RUSTFLAGS" in env:
        return {"RUSTFLAGS": " ".join(x for x in (env["RUSTFLAGS"], *flags) if x)}
    var = "CARGO_TARGET_" + triple.upper().replace("-", "_").replace(".", "_") + "_RUSTFLAGS"
    return {var: " ".join(x for x in (env[var], *flags) if x)} if var in env else {}


_PIP = (
    "python3 -m venv /opt/zigbuild && "
    "/opt/zigbuild/bin/pip install --no-cache-dir --disable-pip-version-check "
    "ziglang=={zig} cargo-zigbuild=={czb}"
)

_COMMON_TAIL = """\
ENV PATH=/opt/zigbuild/bin:{cargo_home}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \\
    CARGO_HOME={cargo_home} \\
    XDG_CACHE_HOME={cache_root} \\
    CARGO_TERM_COLOR=never
RUN mkdir -p {build_root}/src {build_root}/out {cache_root} \\
 && rustc --version && cargo --version && cargo-zigbuild --version && python3 -m ziglang version
WORKDIR {build_root}
"""


def security_mirror(mirror: str) -> str:
    """Where a Debian mirror's security suites are: ``.../debian`` -> ``.../debian-security``."""
    base = mirror.rstrip("/")
    return base[: -len("/debian")] + "/debian-security" if base.endswith("/debian") else base + "-security"


def render_dockerfile(
    builder: BuilderConfig,
    profile: str,
    base_image: str,
    arches: tuple[Architecture, ...],
    *,
    has_ca: bool,
    packages: tuple[str, ...] = (),
) -> str:
    """The builder Dockerfile (classic-builder compatible: no ``RUN --mount``), with ``packages``
    (see :func:`image_packages`) installed last."""
    suite = builder.debian_suite
    security = security_mirror(builder.debian_mirror)
    ca = ""
    pip_env = ""
    if has_ca:
        ca = "COPY ca/ /usr/local/share/ca-certificates/packbin/\n"
        pip_env = "export PIP_CERT=/etc/ssl/certs/ca-certificates.crt REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt && "
    pip = pip_env + _PIP.format(zig=builder.ziglang_version, czb=builder.cargo_zigbuild_version)
    head = f"# packbin builder image, profile {profile} (generated by packbin {__version__}; do not edit)\nFROM {base_image}\nENV DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8\n"
    if profile == "debian":
        body = (
            ca
            + "RUN printf 'deb %s %s main\\ndeb %s %s-updates main\\ndeb %s %s-security main\\n' "
            + f"'{builder.debian_mirror}' '{suite}' '{builder.debian_mirror}' '{suite}' '{security}' '{suite}' > /etc/apt/sources.list \\\n"
            + " && rm -f /etc/apt/sources.list.d/debian.sources \\\n"
            + " && apt-get update \\\n"
            + " && apt-get install -y --no-install-recommends ca-certificates python3 python3-venv binutils-multiarch \\\n"
            + "      rustc-web cargo-web rust-web-src \\\n"
            + " && update-ca-certificates \\\n"
            # rust-web-src does not depend on rustc-web: a mismatch breaks -Zbuild-std, so check it.
            + " && v1=$(dpkg-query -W -f='${Version}' rustc-web) && v2=$(dpkg-query -W -f='${Version}' cargo-web) \\\n"
            + " && v3=$(dpkg-query -W -f='${Version}' rust-web-src) \\\n"
            + ' && if [ "$v1" != "$v2" ] || [ "$v1" != "$v3" ] || [ -z "$v1" ]; then echo "rustc-web $v1, cargo-web $v2, rust-web-src $v3 differ" >&2; exit 1; fi \\\n'
            + " && rm -rf /var/lib/apt/lists/*\n"
            + f"RUN {pip}\n"
            + "ENV RUSTC_BOOTSTRAP=1 PACKBIN_OFFLINE_STD=1\n"
        )
    else:
        targets = " ".join(a.rust_target for a in arches)
        body = (
            ca
            + "RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates python3 python3-venv binutils-multiarch \\\n"
            + " && update-ca-certificates && rm -rf /var/lib/apt/lists/*\n"
            + f"RUN rustup target add {targets}\n"
            + f"RUN {pip}\n"
            + "ENV PACKBIN_OFFLINE_STD=0\n"
        )
    tail = _COMMON_TAIL.format(cargo_home=CARGO_HOME, cache_root=CACHE_ROOT, build_root=BUILD_ROOT)
    return head + body + tail + packages_layer(packages)


#: What a build needs in the builder image when buildcfg.toml names ``[[c_libraries]]``: the
#: -sys crates' build scripts ask pkg-config for the library (Debian's libz-sys asks nothing
#: else), and the libraries' own builds run make. About 1.5 MB on a 2 GB image, so the default
#: image could carry them; it does not, so a build that needs no C library keeps its image tag.
C_LIBRARY_PACKAGES = ("pkg-config", "make")

#: What one library's own build needs on top (OpenSSL's Configure is perl, with modules perl-base lacks).
LIBRARY_BUILD_PACKAGES: dict[str, tuple[str, ...]] = {"openssl": ("perl",)}


def image_packages(cfg: BuildConfig) -> tuple[str, ...]:
    """The Debian packages installed on top of the builder's own: ``[builder] packages`` in the
    order written, then what ``[[c_libraries]]`` needs (:data:`C_LIBRARY_PACKAGES`, then each
    library's :data:`LIBRARY_BUILD_PACKAGES`) that the list lacks. The default image (neither
    key) has none, so it stays as small as it was."""
    packages = cfg.builder.packages
    if cfg.c_libraries:
        wanted = [
            *C_LIBRARY_PACKAGES,
            *(p for lib in cfg.c_libraries for p in LIBRARY_BUILD_PACKAGES.get(lib.name, ())),
        ]
        packages += tuple(dict.fromkeys(p for p in wanted if p not in packages))
    return packages


def packages_layer(packages: tuple[str, ...]) -> str:
    """The Dockerfile layer that installs ``packages`` (empty for none). A layer of its own, last:
    the toolchain layers above stay cached when only the list changes. The names were checked
    against Debian's grammar when buildcfg.toml was read, so they need no quoting."""
    if not packages:
        return ""
    return (
        "RUN apt-get update \\\n"
        + " && apt-get install -y --no-install-recommends "
        + " ".join(packages)
        # apt's package caches (/var/cache/apt/*.bin) are 80 MB of a layer that adds 1 MB of tools.
        + " \\\n && apt-get clean && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin\n"
    )


#: The build script every build container runs (``resources/build.sh``): it prints the
#: ``::packbin-*`` lines that :mod:`packbin.build.log` reads.
BUILD_SCRIPT = (resources.files("packbin.build.resources") / "build.sh").read_text(encoding="utf-8")


#: ``resources/zig_cache.py``, sent into every build container beside the build script.
ZIG_CACHE_SCRIPT = (resources.files("packbin.build.resources") / "zig_cache.py").read_bytes()


def make_recipe(cfg: BuildConfig, profile: str, base_image: str) -> BuilderRecipe:
    """The builder image recipe for ``cfg`` with ``profile`` on ``base_image`` (host CAs included when trusted)."""
    ca = host_ca_files(cfg.builder.trust_host_ca)
    dockerfile = render_dockerfile(
        cfg.builder, profile, base_image, cfg.architectures, has_ca=bool(ca), packages=image_packages(cfg)
    )
    context = tuple(ca)
    return BuilderRecipe(profile=profile, base_image=base_image, dockerfile=dockerfile, context_files=context)
