"""The invoke tasks: thin wrappers that parse flags and call one function of the package.

One module per topic, joined into one Collection here:

- ``build``: build-pack-binaries, its seed Makefile names, builder-image;
- ``check``: verify-static, smoke-pack-binaries;
- ``compose``: build-pack-binaries-init-image, init-packs;
- ``ci``: collect-pack-binaries, cache-export, cache-import, cache-key;
- ``setup``: init, doctor, clean;
- ``shared``: the config loader and the ``--arch`` help they share.

The same Collection backs ``invoke TASK`` (via the repository's tasks.py) and the ``packbin``
console script. User errors end with ``invoke.Exit(message, code)``: no traceback.
"""

from __future__ import annotations

from invoke.collection import Collection

from packbin.cli.tasks.build import (
    build_pack_binaries,
    builder_image,
    docker_build_pack_binaries,
    docker_build_pack_binaries_all,
    docker_build_pack_binaries_arm64,
)
from packbin.cli.tasks.check import smoke_pack_binaries, verify_static
from packbin.cli.tasks.ci import cache_export, cache_import, cache_key, collect_pack_binaries
from packbin.cli.tasks.compose import build_pack_binaries_init_image, init_packs
from packbin.cli.tasks.setup import clean, doctor, init

#: Named "packbin": a repository's own tasks.py adds it with `ns.add_collection(packbin_tasks)`
#: and gets `invoke packbin.build-pack-binaries`; as a root collection (this repository's
#: tasks.py, the `packbin` command) the name is not shown and tasks keep their plain names.
ns = Collection(
    "packbin",
    build_pack_binaries,
    docker_build_pack_binaries,
    docker_build_pack_binaries_arm64,
    docker_build_pack_binaries_all,
    builder_image,
    clean,
    doctor,
    verify_static,
    smoke_pack_binaries,
    collect_pack_binaries,
    build_pack_binaries_init_image,
    init_packs,
    cache_export,
    cache_import,
    cache_key,
    init,
)

__all__ = ["ns"]
