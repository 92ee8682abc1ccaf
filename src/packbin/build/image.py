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
from pathlib import Path

from packbin.build.recipe import (  # the recipe's names, re-exported beside the image's
    BASE_REPO,
    BUILD_ROOT,
    BUILD_SCRIPT,
    CACHE_ROOT,
    CARGO_HOME,
    HOST_CA_DIR,
    IMAGE_REPO,
    RECIPE_LABEL,
    SELF_CONTAINED_OFF,
    SYSROOT,
    ZIG_CACHE_SCRIPT,
    BuilderImage,
    BuilderRecipe,
    host_ca_files,
    make_recipe,
    render_dockerfile,
    target_cargo_config,
    target_rustflags,
    target_rustflags_env,
)
from packbin.build.volumes import pull_failures_path
from packbin.config.model import BuildConfig, BuilderConfig
from packbin.dist.layout import logs_dir
from packbin.engine import KIND_LABEL, OWNER_LABEL, Engine
from packbin.errors import BuildError
from packbin.util.atomic import atomic_write_bytes

log = logging.getLogger(__name__)


# -- base images -------------------------------------------------------------------------


#: After a failed pull, the same image is not asked for again for this long (an offline or
#: proxied registry can take many seconds to say no, on every build).
PULL_RETRY_SECONDS = 3600.0


def _present_or_pullable(engine: Engine, ref: str, *, pull: bool, retry_failed: bool = False) -> bool:
    if engine.image_id(ref) is not None:
        return True
    if not pull:
        return False
    path = pull_failures_path()
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
        return BuilderImage(tag=recipe.tag, image_id=existing, profile=profile, built=False, recipe=recipe.digest)
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
    return BuilderImage(tag=recipe.tag, image_id=image_id, profile=profile, built=True, recipe=recipe.digest)


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
    "BASE_REPO",
    "BUILD_ROOT",
    "BUILD_SCRIPT",
    "CACHE_ROOT",
    "CARGO_HOME",
    "HOST_CA_DIR",
    "IMAGE_REPO",
    "PULL_RETRY_SECONDS",
    "RECIPE_LABEL",
    "SELF_CONTAINED_OFF",
    "SYSROOT",
    "ZIG_CACHE_SCRIPT",
    "BuilderImage",
    "BuilderRecipe",
    "bootstrap_base_tag",
    "bootstrap_debian_base",
    "builder_log_path",
    "ensure_builder_image",
    "host_ca_files",
    "make_recipe",
    "render_dockerfile",
    "resolve_existing_recipe",
    "resolve_profile",
    "target_cargo_config",
    "target_rustflags",
    "target_rustflags_env",
]
