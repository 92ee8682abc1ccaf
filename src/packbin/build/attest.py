"""What install writes beside the binaries: each binary's CycloneDX SBOM (``<binary>.cdx.json``,
in dist/ only) and the run's in-toto provenance statement (``dist/pack-binaries/provenance.intoto.json``).

Both are made by the pure modules (:mod:`packbin.build.sbom`, :mod:`packbin.build.provenance`)
and written atomically, before the manifest that records them. The SBOM is deterministic (the
same binary gives the same bytes); the provenance names the run (its command line and times) and
is written only by a run that built something: the no-op path writes nothing.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import asdict, dataclass

from packbin import __version__
from packbin.build.deps import DependencyList
from packbin.build.plan import Target
from packbin.build.provenance import RunProvenance, make_provenance
from packbin.build.sbom import make_sbom
from packbin.config.model import BuildConfig
from packbin.dist.layout import provenance_relpath, sbom_relpath
from packbin.dist.manifest import Manifest, Provenance, Toolchain
from packbin.util.atomic import atomic_write_bytes
from packbin.util.digest import sha256_file


@dataclass(frozen=True, kw_only=True)
class RunRecord:
    """What the provenance says about the run besides its artifacts."""

    command: tuple[str, ...]  # the command line, as the process got it
    arches: tuple[str, ...]  # the architectures built
    images: tuple[tuple[str, str, str], ...]  # (image id, tag, recipe digest) of each builder image used
    engines: tuple[str, ...]  # each engine's endpoint
    toolchain: Toolchain
    started: float  # time.time() when the run started


def write_sbom(cfg: BuildConfig, deps: DependencyList, t: Target, *, sha256: str) -> tuple[str, str]:
    """``<binary>.cdx.json`` beside ``t``'s binary in dist/: its path (repository-relative) and sha256."""
    data = make_sbom(
        deps,
        binary=t.binary.name,
        arch=t.arch.name,
        target=t.arch.rust_target,
        sha256=sha256,
        packbin_version=__version__,
    )
    rel = sbom_relpath(t.dist_path)
    atomic_write_bytes(cfg.root / rel, data)
    return rel, hashlib.sha256(data).hexdigest()


def write_provenance(cfg: BuildConfig, manifest: Manifest, run: RunRecord) -> Provenance:
    """The run's provenance statement, its subjects every artifact of ``manifest``."""
    config = cfg.source
    record = RunProvenance(
        subjects=tuple((a.path, a.sha256) for a in manifest.artifacts),
        command=run.command,
        arches=run.arches,
        binaries=tuple(dict.fromkeys(a.binary for a in manifest.artifacts)),
        config_path=config.name,
        config_sha256=sha256_file(config) if config.is_file() else None,
        builder_images=run.images,
        toolchain={k: v for k, v in asdict(run.toolchain).items() if v},
        engines=run.engines,
        inputs=tuple(sorted({(a.binary, a.arch, a.input_hash) for a in manifest.artifacts})),
        packbin_version=__version__,
        started=run.started,
        finished=time.time(),
    )
    data = make_provenance(record)
    rel = provenance_relpath(cfg)
    atomic_write_bytes(cfg.root / rel, data)
    return Provenance(path=rel, sha256=hashlib.sha256(data).hexdigest())


__all__ = ["RunRecord", "write_provenance", "write_sbom"]
