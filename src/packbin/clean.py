"""clean: remove what packbin created (dist/, its containers and volumes; with --all its images)."""

from __future__ import annotations

import shutil
import sys
from typing import TextIO

import docker.errors

from packbin.config import BuildConfig
from packbin.engine import OWNER_LABEL, connect
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
    client = engine.client
    for c in engine.owned_containers():
        out.write(f"removing container {c.name}\n")
        c.remove(force=True)
    for v in client.volumes.list(filters={"label": f"{OWNER_LABEL}=packbin"}):
        out.write(f"removing volume {v.name}\n")
        try:
            v.remove(force=True)
        except docker.errors.APIError as e:
            out.write(f"  could not remove {v.name}: {e.explanation}\n")
    if images:
        for img in client.images.list(filters={"label": f"{OWNER_LABEL}=packbin"}):
            out.write(f"removing image {', '.join(img.tags) or img.short_id}\n")
            try:
                client.images.remove(str(img.id), force=True)
            except docker.errors.APIError as e:
                out.write(f"  could not remove {img.short_id}: {e.explanation}\n")
    out.write("clean\n")
