"""The builder image: a Dockerfile rendered from buildcfg.toml, built through the Engine API.

The image is tagged by a hash of its recipe (the rendered Dockerfile plus every file in its
context), so a changed recipe builds a new image and an unchanged one is reused. Two profiles:

* ``rustup``: ``rust:<version>-slim-bookworm`` plus ``rustup target add`` of the musl targets.
* ``debian``: the offline recipe (Debian's rustc-web, cargo-web, rust-web-src, ``-Zbuild-std``
  with the std library's vendored dependencies, ``link-self-contained=no``; zig supplies musl).

``auto`` picks ``rustup`` when its base image is present or pullable, else ``debian``. The
debian profile's base is ``debian:bookworm-slim`` when present or pullable, else an image
packbin bootstraps itself from a Debian mirror (debootstrap, imported through the API).
Both profiles install ziglang and cargo-zigbuild at pinned versions from PyPI and, unless
switched off, trust the host's locally added CA certificates (TLS-intercepting proxies).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform as host_platform
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from packbin import __version__
from packbin.arch import Architecture
from packbin.atomic import atomic_write_bytes
from packbin.cache import cache_dir
from packbin.config import BuildConfig, BuilderConfig
from packbin.dist import logs_dir
from packbin.engine import KIND_LABEL, OWNER_LABEL, Engine
from packbin.errors import BuildError, EngineError
from packbin.tarwriter import tar_bytes

log = logging.getLogger(__name__)

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


def std_volume(triple: str) -> str:
    return f"packbin-std-{triple}"


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


def render_dockerfile(
    builder: BuilderConfig, profile: str, base_image: str, arches: tuple[Architecture, ...], *, has_ca: bool
) -> str:
    """The builder Dockerfile (classic-builder compatible: no ``RUN --mount``)."""
    suite = builder.debian_suite
    security = builder.debian_mirror.rstrip("/")
    security = (
        security[: -len("/debian")] + "/debian-security" if security.endswith("/debian") else security + "-security"
    )
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
    return head + body + tail


BUILD_SCRIPT = r"""#!/bin/sh
# packbin-build TARGET STRIP BIN:PACKAGE:MANIFEST...  (generated by packbin; runs inside the builder,
# with no network). Builds each bin for TARGET with cargo zigbuild --offline --locked into
# /build/out/TARGET/, then strips it. In the debian profile, first makes sure the musl std for
# TARGET is built in /sysroot (a volume: once per engine, toolchain and target).
set -eu
target="$1"; strip="$2"; shift 2
zig_version=$(python3 -m ziglang version)  # a Python start-up: once per build
echo "::packbin-toolchain rustc=$(rustc --version | cut -d' ' -f2) cargo_zigbuild=$(cargo-zigbuild --version | cut -d' ' -f2) zig=$zig_version"
profile="${PACKBIN_CARGO_PROFILE:-release}"

std_sysroot() {
  stamp="std-v2 $(rustc -vV | tr '\n' ' ') zig=$zig_version"
  if [ -f /sysroot/.packbin-std ] && [ "$(cat /sysroot/.packbin-std)" = "$stamp" ]; then return 0; fi
  echo "::packbin-step building the musl std for $target (once per engine and toolchain; kept in a volume)"
  rm -rf /sysroot/lib /sysroot/.packbin-std
  w=/tmp/packbin-std; rm -rf "$w"; mkdir -p "$w"
  # A library crate: cargo compiles std for it and links nothing.
  printf '[package]\nname = "packbin-std"\nversion = "0.0.0"\nedition = "2021"\n[lib]\npath = "lib.rs"\n' > "$w/Cargo.toml"
  : > "$w/lib.rs"
  # std's own dependencies come vendored with rust-web-src.
  printf '[source.crates-io]\nreplace-with = "rust-std-vendor"\n[source.rust-std-vendor]\ndirectory = "/usr/lib/rustlib/src/rust/library/vendor"\n' > "$w/config.toml"
  # As rustc's own bootstrap does: std unwinds, panic_abort is compiled with panic=abort (so
  # crates with either panic strategy link against this one std), and every crate carries
  # bitcode as well as object code (so crates with and without LTO can use it).
  printf '#!/bin/sh\nr="$1"; shift\ncase " $* " in\n  *" --crate-name panic_abort "*) exec "$r" "$@" -C panic=abort -C embed-bitcode=yes ;;\n  *" --crate-name "*) exec "$r" "$@" -C embed-bitcode=yes ;;\nesac\nexec "$r" "$@"\n' > "$w/wrap"
  chmod +x "$w/wrap"
  (cd "$w" && env -u RUSTFLAGS -u CARGO_ENCODED_RUSTFLAGS RUSTC_WRAPPER="$w/wrap" CARGO_TARGET_DIR="$w/target" \
     cargo zigbuild --offline --config "$w/config.toml" -Zbuild-std=std,panic_abort --release --target "$target")
  mkdir -p "/sysroot/lib/rustlib/$target/lib"
  for f in "$w/target/$target/release/deps/"*.rlib; do
    case "$(basename "$f")" in libpackbin_std-*) ;; *) cp "$f" "/sysroot/lib/rustlib/$target/lib/" ;; esac
  done
  rm -rf "$w"
  printf '%s' "$stamp" > /sysroot/.packbin-std
}
# Other targets (a glibc triple, say) use the toolchain's own std, as without packbin.
case "${PACKBIN_OFFLINE_STD:-0}:$target" in 1:*-musl*) std_sysroot ;; esac

# The target directory is shared by every checkout on this engine, and cargo judges path
# packages by mtime: when the sources come from another checkout than the last build here,
# the local packages are recompiled (dependencies are judged by version, and stay).
dir="$profile"; [ "$profile" = "dev" ] && dir="debug"
marker="/build/target/.packbin-sources-$target-$dir"
if [ "$(cat "$marker" 2>/dev/null || true)" != "${PACKBIN_SOURCES_ID:-}" ]; then
  for spec in "$@"; do
    rest="${spec#*:}"; manifest="${rest#*:}"
    for p in ${PACKBIN_LOCAL_PACKAGES:-}; do
      (cd "$(dirname "$manifest")" && cargo clean --offline --quiet --manifest-path "$manifest" --target "$target" --profile "$profile" --package "$p" 2>/dev/null) || true
    done
  done
  printf '%s' "${PACKBIN_SOURCES_ID:-}" > "$marker"
fi

mkdir -p "/build/out/$target"
for spec in "$@"; do
  bin="${spec%%:*}"; rest="${spec#*:}"; package="${rest%%:*}"; manifest="${rest#*:}"
  echo "::packbin-step building $bin for $target"
  # From the package's directory, so its own .cargo/config.toml applies, as it does for cargo users.
  (cd "$(dirname "$manifest")" && cargo zigbuild --offline --locked --profile "$profile" --target "$target" --manifest-path "$manifest" --package "$package" --bin "$bin")
  cp "/build/target/$target/$dir/$bin" "/build/out/$target/$bin"
  if [ "$strip" = "1" ]; then
    if strip "/build/out/$target/$bin" 2>/tmp/strip.err; then
      echo "::packbin-stripped $bin"
    else
      echo "::packbin-warning strip failed for $bin, keeping the unstripped binary: $(cat /tmp/strip.err)"
    fi
  fi
done
"""


def make_recipe(cfg: BuildConfig, profile: str, base_image: str) -> BuilderRecipe:
    """The builder image recipe for ``cfg`` with ``profile`` on ``base_image`` (host CAs included when trusted)."""
    ca = host_ca_files(cfg.builder.trust_host_ca)
    dockerfile = render_dockerfile(cfg.builder, profile, base_image, cfg.architectures, has_ca=bool(ca))
    context = tuple(ca)
    return BuilderRecipe(profile=profile, base_image=base_image, dockerfile=dockerfile, context_files=context)


# -- base images -------------------------------------------------------------------------


#: After a failed pull, the same image is not asked for again for this long (an offline or
#: proxied registry can take many seconds to say no, on every build).
PULL_RETRY_SECONDS = 3600.0


def _pull_failures_path() -> Path:
    return cache_dir() / "pull-failures.json"


def _present_or_pullable(engine: Engine, ref: str, *, pull: bool, retry_failed: bool = False) -> bool:
    if engine.image_id(ref) is not None:
        return True
    if not pull:
        return False
    path = _pull_failures_path()
    key = f"{engine.endpoint.host} {ref}"
    try:
        failures = json.loads(path.read_text())
        if not isinstance(failures, dict):
            failures = {}
    except (OSError, ValueError):
        failures = {}
    last = failures.get(key)
    if not retry_failed and isinstance(last, (int, float)) and time.time() - last < PULL_RETRY_SECONDS:
        log.info("not pulling %s: it failed %.0f s ago", ref, time.time() - last)
        return False
    ok = engine.try_pull(ref)
    if ok:
        failures.pop(key, None)
    else:
        failures[key] = time.time()
    try:
        atomic_write_bytes(path, json.dumps(failures, indent=1).encode())
    except OSError as e:  # a read-only cache only costs the next build another pull attempt
        log.info("cannot record the pull result in %s: %s", path, e)
    return ok


def resolve_profile(
    engine: Engine,
    cfg: BuildConfig,
    *,
    pull: bool = True,
    retry_failed_pulls: bool = False,
    echo: Callable[[str], None] = print,
) -> tuple[str, str]:
    """(profile, base image ref) for this engine, bootstrapping a Debian base when needed.

    A base image whose pull failed within PULL_RETRY_SECONDS is not pulled again unless
    ``retry_failed_pulls`` (``builder-image --rebuild``).
    """
    b = cfg.builder
    if b.profile in ("auto", "rustup"):
        if _present_or_pullable(engine, b.rustup.base_image, pull=pull, retry_failed=retry_failed_pulls):
            return "rustup", b.rustup.base_image
        if b.profile == "rustup":
            raise BuildError(
                f"builder profile 'rustup' needs {b.rustup.base_image}, which is neither present nor pullable",
                hint='set [builder] profile = "auto" or "debian" in buildcfg.toml (works offline), or make the image available',
            )
        echo(f"builder: {b.rustup.base_image} not available; using the offline debian profile")
    if _present_or_pullable(engine, b.debian.base_image, pull=pull, retry_failed=retry_failed_pulls):
        return "debian", b.debian.base_image
    # A builder image made from the bootstrapped base may be there without the base (loaded by
    # cache-import, or the base removed): the base is only needed to build it again.
    arch = _DEBIAN_ARCH.get(engine.native_platform)
    if arch is not None and not retry_failed_pulls:
        base = bootstrap_base_tag(b, arch)
        if engine.image_id(make_recipe(cfg, "debian", base).tag) is not None:
            return "debian", base
    return "debian", bootstrap_debian_base(engine, b, echo=echo)


def resolve_existing_recipe(engine: Engine, cfg: BuildConfig) -> str | None:
    """The builder image tag ``cfg`` would use on ``engine`` if it is present; nothing is pulled,
    bootstrapped or built."""
    b = cfg.builder
    bases: list[tuple[str, str]] = []
    if b.profile in ("auto", "rustup"):
        bases.append(("rustup", b.rustup.base_image))
    if b.profile != "rustup":
        bases.append(("debian", b.debian.base_image))
        arch = _DEBIAN_ARCH.get(engine.native_platform)
        if arch is not None:
            bases.append(("debian", bootstrap_base_tag(b, arch)))
    for profile, base in bases:
        tag = make_recipe(cfg, profile, base).tag
        if engine.image_id(tag) is not None:
            return tag
    return None


#: Docker platform -> Debian architecture, for the bootstrapped base image.
_DEBIAN_ARCH = {"linux/amd64": "amd64", "linux/arm64": "arm64"}


def bootstrap_base_tag(builder: BuilderConfig, debian_arch: str = "amd64") -> str:
    """The bootstrapped base image's tag. amd64 keeps the tag it had before bases were made per
    engine platform, so builder images made then stay valid."""
    salt = "" if debian_arch == "amd64" else f"\0{debian_arch}"
    key = hashlib.sha256(f"{builder.debian_mirror}\0{builder.debian_suite}\0minbase{salt}".encode()).hexdigest()[:12]
    return f"{BASE_REPO}:{builder.debian_suite}-{key}"


def bootstrap_debian_base(engine: Engine, builder: BuilderConfig, *, echo: Callable[[str], None] = print) -> str:
    """Make a Debian base image for the engine's native platform with debootstrap and import it
    through the API (once per engine)."""
    platform = engine.native_platform
    arch = _DEBIAN_ARCH.get(platform)
    if arch is None:
        raise BuildError(
            f"no Debian base image for the engine at {engine.endpoint.host}: its platform {platform!r} is not amd64 or arm64",
            hint=f"make {builder.debian.base_image} available to that engine (docker pull / load)",
        )
    tag = bootstrap_base_tag(builder, arch)
    if engine.image_id(tag) is not None:
        return tag
    host = {"x86_64": "amd64", "aarch64": "arm64"}.get(host_platform.machine(), host_platform.machine())
    if (
        arch != host
        and not Path(f"/proc/sys/fs/binfmt_misc/qemu-{'aarch64' if arch == 'arm64' else 'x86_64'}").exists()
    ):
        # debootstrap runs the foreign packages' scripts in its chroot: that needs qemu-user via binfmt.
        raise BuildError(
            f"no Debian base image for the {arch} engine at {engine.endpoint.host}, and this {host} host cannot run {arch} programs to bootstrap one",
            hint=f"make {builder.debian.base_image} available to that engine, or register qemu-user-static's binfmt handlers (see README)",
        )
    if not host_platform.system() == "Linux":
        raise BuildError(
            f"no Debian base image: {builder.debian.base_image} is not available and debootstrap needs a Linux host",
            hint=f"make {builder.debian.base_image} available to the engine (docker pull / load), or run on Linux",
        )
    debootstrap = shutil.which("debootstrap")
    if debootstrap is None:
        raise BuildError(
            f"no Debian base image: {builder.debian.base_image} is not available and debootstrap is not installed",
            hint="install debootstrap (`apt-get install debootstrap`), or make the base image available to the engine",
        )
    if os.geteuid() != 0:
        raise BuildError(
            "debootstrap needs root to make the Debian base image",
            hint="run once as root (sudo), or make the base image available",
        )
    with tempfile.TemporaryDirectory(prefix="packbin-rootfs-") as tmp:
        rootfs = Path(tmp) / "rootfs"
        cmd = [
            debootstrap,
            "--variant=minbase",
            f"--arch={arch}",
            builder.debian_suite,
            str(rootfs),
            builder.debian_mirror,
        ]
        echo("builder: bootstrapping a Debian base image: " + " ".join(cmd))
        returncode, output = _run_with_heartbeat(cmd, echo=echo, prefix="builder:   debootstrap: ")
        if returncode != 0:
            raise BuildError(
                f"debootstrap failed (exit {returncode}): {output[-2000:]}",
                hint=f"check that {builder.debian_mirror} is reachable, or set [builder.debian] mirror in buildcfg.toml",
            )
        tarball = Path(tmp) / "rootfs.tar"
        echo(f"builder: importing {tag}")
        subprocess.run(["tar", "-C", str(rootfs), "-cf", str(tarball), "--numeric-owner", "."], check=True)
        engine.import_rootfs(
            tarball,
            repository=tag.split(":")[0],
            tag=tag.split(":")[1],
            changes=[f'LABEL {OWNER_LABEL}="packbin" {KIND_LABEL}="base"', 'CMD ["/bin/bash"]'],
        )
    return tag


def _run_with_heartbeat(
    cmd: list[str], *, echo: Callable[[str], None], prefix: str, every: float = 5.0
) -> tuple[int, str]:
    """Run ``cmd``, echoing its latest output line every few seconds; (exit status, last output)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    tail: list[str] = []
    last = time.monotonic()
    for line in proc.stdout:
        tail.append(line.rstrip())
        del tail[:-40]
        if time.monotonic() - last > every:
            last = time.monotonic()
            echo(prefix + line.strip()[:150])
    return proc.wait(), "\n".join(tail)


# -- the builder image -------------------------------------------------------------------


def ensure_builder_image(
    engine: Engine,
    cfg: BuildConfig,
    *,
    rebuild: bool = False,
    pull: bool = True,
    echo: Callable[[str], None] = print,
) -> BuilderImage:
    """Build the builder image if its recipe's tag is absent (or ``rebuild``); reuse it otherwise."""
    profile, base = resolve_profile(engine, cfg, pull=pull, retry_failed_pulls=rebuild, echo=echo)
    recipe = make_recipe(cfg, profile, base)
    existing = engine.image_id(recipe.tag)
    if existing is not None and not rebuild:
        return BuilderImage(tag=recipe.tag, image_id=existing, profile=profile, built=False)
    echo(f"builder: building {recipe.tag} (profile {profile}, base {base}); this takes a few minutes the first time")
    log_path = builder_log_path(cfg)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    last_echo = [time.monotonic()]

    def on_line(line: str) -> None:
        lf.write(line + "\n")
        lf.flush()
        now = time.monotonic()
        # Step headers always; otherwise a heartbeat every few seconds, so a long apt or pip
        # step shows it is moving without flooding the terminal.
        if line.startswith("Step ") or now - last_echo[0] > 5:
            last_echo[0] = now
            echo(f"builder: {line[:160]}" if line.startswith("Step ") else f"builder:   {line.strip()[:150]}")

    with open(log_path, "w", encoding="utf-8") as lf:
        try:
            image_id, _ = engine.build_image(
                context=recipe.context_tar(),
                tag=recipe.tag,
                labels={OWNER_LABEL: "packbin", KIND_LABEL: "builder", RECIPE_LABEL: recipe.digest},
                on_line=on_line,
            )
        except BuildError as e:
            tail = _tail(log_path, 40)
            raise BuildError(
                f"{e.message}\n--- last lines of {log_path} ---\n{tail}", hint=f"the full log is {log_path}"
            ) from e
    echo(f"builder: built {recipe.tag} (log: {log_path})")
    _remove_stale_builders(engine, keep=recipe.tag, profile=profile, echo=echo)
    return BuilderImage(tag=recipe.tag, image_id=image_id, profile=profile, built=True)


def _remove_stale_builders(engine: Engine, *, keep: str, profile: str, echo: Callable[[str], None]) -> None:
    """Untag builder images of older recipes of this profile (2 GB each): no force, so one that a
    running build still uses is left alone."""
    for tag in engine.image_tags(IMAGE_REPO):
        if tag != keep and tag.startswith(f"{IMAGE_REPO}:{profile}-") and engine.remove_image(tag) is None:
            echo(f"builder: removed the outdated {tag}")


def builder_log_path(cfg: BuildConfig) -> Path:
    return logs_dir(cfg) / "builder-image.log"


def _tail(path: Path, n: int) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-n:])
    except OSError:
        return "(no log)"


__all__ = [
    "BuilderImage",
    "BuilderRecipe",
    "EngineError",
    "ensure_builder_image",
    "make_recipe",
    "render_dockerfile",
    "resolve_profile",
]
