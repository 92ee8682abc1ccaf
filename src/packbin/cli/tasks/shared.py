"""What several task modules share: the configuration they load and what ``--arch`` accepts."""

from __future__ import annotations

from typing import Any

from packbin.config.presets import PRESETS


def load_config() -> Any:
    """buildcfg.toml of the working directory (or above), loaded when a task runs."""
    from packbin.config.model import BuildConfig

    return BuildConfig.load()


#: What --arch accepts: the presets (packbin.config.presets) and buildcfg.toml's own names.
ARCH_CHOICES = (
    "A preset ("
    + ", ".join(a.name for a in PRESETS)
    + "; aliases such as amd64, aarch64, armhf, i386), a name from buildcfg.toml, or all (all_arches in buildcfg.toml; default x86_64, arm64 and every [architectures] table); comma-separated lists work."
)
