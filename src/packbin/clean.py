"""clean: remove what packbin created (dist/, its containers and volumes; with --all its images)."""

from __future__ import annotations

import shutil
import sys
from typing import TextIO

from packbin.config import BuildConfig
from packbin.engine import connect
from packbin.errors import EngineError


def clean(cfg: BuildConfig, *, images: bool, out: TextIO = sys.stdout) -> None:
    tree = cfg.dist_dir
    if tree.exists():
        out.write(f"removing {tree}\n")
        shutil.rmtree(tree)
    try:
        engine = connect()
    except EngineError as e:
        out.write(f"skipping containers, volumes and images: {e.message}\n")
        return
    for c in engine.owned_containers():
        out.write(f"removing container {c.name}\n")
        engine.remove(c)
    for name in engine.owned_volumes():
        out.write(f"removing volume {name}\n")
        problem = engine.remove_volume(name)
        if problem:
            out.write(f"  could not remove {name}: {problem}\n")
    if images:
        for image_id, tags in engine.owned_images():
            out.write(f"removing image {', '.join(tags) or image_id[:19]}\n")
            problem = engine.remove_image(image_id, force=True)
            if problem:
                out.write(f"  could not remove {image_id[:19]}: {problem}\n")
    out.write("clean\n")
