"""clean: remove what packbin created (its part of dist/, its containers and volumes; with --all its images).

dist/ is shared: ``python -m build`` puts packbin's own wheel and sdist there, so only the
entries packbin makes are removed (the binaries tree, the logs, staging directories of an
interrupted build), and dist/ itself only when that leaves it empty. Local files go first, as
they need no engine; an unreachable engine then ends the run with exit 3, saying what was done.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import TextIO

from packbin.config.model import BuildConfig
from packbin.dist.layout import LOGS_NAME, TREE_NAME
from packbin.engine.routing import connect_routes
from packbin.errors import EngineError

#: What packbin writes directly under dist/ (build/install.py, build/container.py, build/image.py; the
#: staging directories of build/pipeline.py and build/repro.py).
DIST_ENTRIES = (TREE_NAME, LOGS_NAME)
STAGING_PREFIX = ".staging-"


def local_targets(dist: Path) -> list[Path]:
    """The entries of ``dist`` that packbin made, in name order; nothing else in it."""
    if not dist.is_dir():
        return []
    return sorted(p for p in dist.iterdir() if p.name in DIST_ENTRIES or p.name.startswith(STAGING_PREFIX))


def clean(cfg: BuildConfig, *, images: bool, out: TextIO = sys.stdout) -> None:
    """Remove packbin's dist entries, then its containers and volumes (and images with ``images``), saying each."""
    removed: list[str] = []
    for path in local_targets(cfg.dist_dir):
        out.write(f"removing {path}\n")
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
        removed.append(path.name)
    if cfg.dist_dir.is_dir() and not any(cfg.dist_dir.iterdir()):
        cfg.dist_dir.rmdir()
    try:
        # Every engine the configured architectures build on (``engine`` / PACKBIN_ENGINE_<NAME>).
        engines = [r.engine for r in connect_routes(cfg, cfg.architectures)]
    except EngineError as e:
        done = (
            f"removed {', '.join(removed)} from {cfg.dist_dir}"
            if removed
            else f"nothing of packbin's in {cfg.dist_dir}"
        )
        raise EngineError(f"{done}; containers, volumes and images not removed: {e.message}", hint=e.hint) from e
    for engine in engines:
        on = f" on {engine.endpoint.host}" if len(engines) > 1 else ""
        for c in engine.owned_containers():
            out.write(f"removing container {c.name}{on}\n")
            c.remove()
        for name in engine.owned_volumes():
            out.write(f"removing volume {name}{on}\n")
            problem = engine.remove_volume(name)
            if problem:
                out.write(f"  could not remove {name}: {problem}\n")
        if images:
            for image_id, tags in engine.owned_images():
                out.write(f"removing image {', '.join(tags) or image_id[:19]}{on}\n")
                problem = engine.remove_image(image_id, force=True)
                if problem:
                    out.write(f"  could not remove {image_id[:19]}: {problem}\n")
    out.write("clean\n")
