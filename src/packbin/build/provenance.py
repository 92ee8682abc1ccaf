"""A build run's provenance: an in-toto Statement v1 with a SLSA provenance v1 predicate.

- ``subject``: every artifact of the run, by path and sha256;
- ``predicate.buildDefinition``: ``buildType`` (:data:`BUILD_TYPE`), ``externalParameters`` (what
  the user chose: the command line, the architectures, the binaries, buildcfg.toml's path and
  sha256), ``internalParameters`` (what packbin chose: the builder images with their recipe
  hashes, the toolchain versions, the engines), ``resolvedDependencies`` (the hashed build inputs
  of each binary on each architecture, and the builder images by id);
- ``predicate.runDetails``: the builder (:data:`BUILDER_ID`, packbin's version) and the run's
  invocation id and start and finish times (RFC 3339, UTC).

Pure: the caller gathers one :class:`RunProvenance` value; the bytes depend on it alone.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://slsa.dev/provenance/v1"
#: What a build-pack-binaries run is, as SLSA's buildType: the document that says how to read
#: externalParameters and internalParameters (docs/sbom.md).
BUILD_TYPE = "https://github.com/attune-io/packbin/blob/main/docs/sbom.md#provenance"
#: The builder: packbin driving a Docker engine on the machine that ran it.
BUILDER_ID = "https://github.com/attune-io/packbin"

_SHA256 = re.compile(r"[0-9a-f]{64}")
_IMAGE_ID = re.compile(r"sha256:([0-9a-f]{64})")


@dataclass(frozen=True, kw_only=True)
class RunProvenance:
    """Everything a run's provenance statement says, gathered by the caller."""

    subjects: tuple[tuple[str, str], ...]  # (path relative to the repository, sha256) per artifact
    command: tuple[str, ...]  # the command line, as the process got it
    arches: tuple[str, ...]  # the architectures built
    binaries: tuple[str, ...]  # the binaries built
    config_path: str  # buildcfg.toml, as given
    config_sha256: str | None  # None: no file (defaults only)
    builder_images: tuple[tuple[str, str, str], ...]  # (image id "sha256:...", tag, recipe hash) per image
    toolchain: Mapping[str, str]  # rustc, cargo, cargo_zigbuild, zig -> version
    engines: tuple[str, ...]  # each engine's endpoint
    inputs: tuple[tuple[str, str, str], ...]  # (binary, arch, sha256 of its build inputs)
    packbin_version: str
    started: float  # time.time() at the start of the run
    finished: float  # and at its end
    invocation_id: str | None = None  # None: a UUID v5 of the rest (e.g. a CI run's id otherwise)


def rfc3339(timestamp: float) -> str:
    """``2026-12-07T17:31:52.123Z``: a POSIX time as RFC 3339 in UTC, to the millisecond."""
    moment = datetime.fromtimestamp(timestamp, tz=timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _check(run: RunProvenance) -> None:
    if not run.subjects:
        raise ValueError("a provenance statement needs at least one subject (in-toto Statement v1)")
    digests = [s for _, s in run.subjects] + [h for _, _, h in run.inputs]
    if run.config_sha256 is not None:
        digests.append(run.config_sha256)
    bad = [d for d in digests if not _SHA256.fullmatch(d)]
    if bad:
        raise ValueError(f"not a sha256 (64 lowercase hex digits): {bad[0]!r}")
    images = [i for i, _, _ in run.builder_images if not _IMAGE_ID.fullmatch(i)]
    if images:
        raise ValueError(f"not an image id (sha256:<hex>): {images[0]!r}")
    if run.finished < run.started:
        raise ValueError(f"the run finished ({run.finished}) before it started ({run.started})")


def _invocation_id(run: RunProvenance, body: dict[str, object]) -> str:
    if run.invocation_id is not None:
        return run.invocation_id
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, BUILDER_ID + '/run/' + digest)}"


def _build_definition(run: RunProvenance) -> dict[str, object]:
    config: dict[str, object] = {"path": run.config_path}
    if run.config_sha256 is not None:
        config["digest"] = {"sha256": run.config_sha256}
    resolved: list[dict[str, object]] = [
        {"name": f"{binary} ({arch})", "uri": f"packbin:build-inputs/{arch}/{binary}", "digest": {"sha256": sha}}
        for binary, arch, sha in run.inputs
    ]
    for image_id, tag, _ in run.builder_images:
        resolved.append({"name": tag, "uri": f"docker-image:{tag}", "digest": {"sha256": image_id.split(":", 1)[1]}})
    return {
        "buildType": BUILD_TYPE,
        "externalParameters": {
            "command": list(run.command),
            "arches": list(run.arches),
            "binaries": list(run.binaries),
            "config": config,
        },
        "internalParameters": {
            "builderImages": [{"id": i, "tag": t, "recipe": r} for i, t, r in run.builder_images],
            "toolchain": dict(sorted(run.toolchain.items())),
            "engines": list(run.engines),
        },
        "resolvedDependencies": resolved,
    }


def make_provenance(run: RunProvenance) -> bytes:
    """The run's in-toto statement (JSON): its subjects, and SLSA v1 provenance as its predicate."""
    _check(run)
    subjects = [{"name": path, "digest": {"sha256": sha}} for path, sha in run.subjects]
    definition = _build_definition(run)
    times = {"startedOn": rfc3339(run.started), "finishedOn": rfc3339(run.finished)}
    invocation = _invocation_id(run, {"subject": subjects, "buildDefinition": definition, **times})
    statement = {
        "_type": STATEMENT_TYPE,
        "subject": subjects,
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "buildDefinition": definition,
            "runDetails": {
                "builder": {"id": BUILDER_ID, "version": {"packbin": run.packbin_version}},
                "metadata": {"invocationId": invocation, **times},
            },
        },
    }
    return (json.dumps(statement, indent=2, ensure_ascii=False) + "\n").encode()
