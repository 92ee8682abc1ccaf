"""build/provenance.py: an in-toto Statement v1 with a SLSA provenance v1 predicate.

Checked two ways: by the in-toto-attestation package (the Statement v1 and Provenance v1
protobuf messages, parsed strictly from the JSON, and its Statement.validate()), and by the
field requirements of https://slsa.dev/spec/v1.0/provenance and the in-toto Statement v1 spec,
written out below. The digests are of real files (this repository's timer sensor crate).
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from google.protobuf import json_format
from in_toto_attestation.predicates.provenance.v1 import provenance_pb2
from in_toto_attestation.v1 import statement_pb2
from in_toto_attestation.v1.statement import Statement

from packbin.build.provenance import BUILD_TYPE, PREDICATE_TYPE, STATEMENT_TYPE, RunProvenance, make_provenance

REPO = Path(__file__).resolve().parents[2]
CRATE = REPO / "packs/core/sensors/timer-sensor"

# RFC 3339 date-time (section 5.6), as SLSA's Timestamp asks.
RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _run(**changes: Any) -> RunProvenance:
    started = 1_796_650_312.25
    run = RunProvenance(
        subjects=(
            ("dist/pack-binaries/x86_64/core/sensors/attune-core-timer-sensor", _sha(CRATE / "src/main.rs")),
            ("dist/pack-binaries/arm64/core/sensors/attune-core-timer-sensor", _sha(CRATE / "build.rs")),
        ),
        command=("packbin", "build-pack-binaries", "--arch", "all"),
        arches=("x86_64", "arm64"),
        binaries=("attune-core-timer-sensor",),
        config_path="buildcfg.toml",
        config_sha256=_sha(REPO / "buildcfg.toml"),
        builder_images=(("sha256:" + _sha(CRATE / "Cargo.lock"), "packbin-builder:0123abcd", "0123abcd" * 8),),
        toolchain={"zig": "0.17.1", "rustc": "1.96.0", "cargo": "1.96.0", "cargo_zigbuild": "0.24.1"},
        engines=("unix:///var/run/docker.sock",),
        inputs=(
            ("attune-core-timer-sensor", "arm64", _sha(CRATE / "Cargo.toml")),
            ("attune-core-timer-sensor", "x86_64", _sha(CRATE / "Cargo.toml")),
        ),
        packbin_version="0.1.0",
        started=started,
        finished=started + 42.5,
    )
    return replace(run, **changes)


def _doc(run: RunProvenance) -> dict[str, Any]:
    return json.loads(make_provenance(run))  # type: ignore[no-any-return]


def test_in_toto_attestation_reads_it() -> None:
    data = make_provenance(_run())
    # Strict: a field the messages do not define, or a value of the wrong type, fails to parse.
    pb = json_format.Parse(data.decode(), statement_pb2.Statement())
    Statement.copy_from_pb(pb).validate()
    predicate = json_format.ParseDict(json.loads(data)["predicate"], provenance_pb2.Provenance())
    assert predicate.build_definition.build_type == BUILD_TYPE
    assert predicate.run_details.builder.id and predicate.run_details.builder.version["packbin"] == "0.1.0"
    meta = predicate.run_details.metadata
    assert meta.finished_on.ToMilliseconds() - meta.started_on.ToMilliseconds() == 42_500
    assert len(predicate.build_definition.resolved_dependencies) == 3


def test_the_strict_parse_is_not_a_formality() -> None:
    doc = _doc(_run())
    doc["predicate"]["buildDefinitions"] = doc["predicate"].pop("buildDefinition")
    with pytest.raises(json_format.ParseError):
        json_format.ParseDict(doc["predicate"], provenance_pb2.Provenance())
    doc = _doc(_run())
    doc["predicate"]["runDetails"]["metadata"]["startedOn"] = "yesterday"
    with pytest.raises(json_format.ParseError):
        json_format.ParseDict(doc["predicate"], provenance_pb2.Provenance())


def _is_uri(value: object) -> bool:
    return isinstance(value, str) and bool(urlparse(value).scheme)


def test_slsa_v1_field_requirements() -> None:
    run = _run()
    doc = _doc(run)
    # in-toto Statement v1: _type, subject (each a ResourceDescriptor with a digest), predicateType.
    assert doc["_type"] == STATEMENT_TYPE == "https://in-toto.io/Statement/v1"
    assert doc["predicateType"] == PREDICATE_TYPE == "https://slsa.dev/provenance/v1"
    assert [(s["name"], s["digest"]) for s in doc["subject"]] == [(p, {"sha256": h}) for p, h in run.subjects]
    predicate = doc["predicate"]
    assert set(predicate) == {"buildDefinition", "runDetails"}
    # buildDefinition: buildType (a TypeURI, required), externalParameters (an object, required),
    # internalParameters (an object), resolvedDependencies (ResourceDescriptors: uri, digest).
    definition = predicate["buildDefinition"]
    assert _is_uri(definition["buildType"])
    external = definition["externalParameters"]
    assert external == {
        "command": list(run.command),
        "arches": list(run.arches),
        "binaries": list(run.binaries),
        "config": {"path": "buildcfg.toml", "digest": {"sha256": run.config_sha256}},
    }
    internal = definition["internalParameters"]
    assert internal["builderImages"] == [{"id": i, "tag": t, "recipe": r} for i, t, r in run.builder_images]
    assert internal["toolchain"] == dict(run.toolchain) and list(internal["toolchain"]) == sorted(run.toolchain)
    assert internal["engines"] == list(run.engines)
    for dep in definition["resolvedDependencies"]:
        assert _is_uri(dep["uri"])
        assert all(re.fullmatch(r"[0-9a-f]{64}", v) for v in dep["digest"].values()) and dep["digest"]
    digests = {d["digest"]["sha256"] for d in definition["resolvedDependencies"]}
    assert {h for _, _, h in run.inputs} | {i.split(":")[1] for i, _, _ in run.builder_images} == digests
    # runDetails: builder.id (a TypeURI, required); metadata: invocationId, startedOn, finishedOn.
    details = predicate["runDetails"]
    assert _is_uri(details["builder"]["id"])
    meta = details["metadata"]
    assert isinstance(meta["invocationId"], str) and meta["invocationId"]
    for key in ("startedOn", "finishedOn"):
        assert RFC3339.fullmatch(meta[key]), meta[key]
    started = datetime.fromisoformat(meta["startedOn"].replace("Z", "+00:00"))
    finished = datetime.fromisoformat(meta["finishedOn"].replace("Z", "+00:00"))
    assert started.timestamp() == run.started and finished.timestamp() == run.finished


def test_deterministic_and_invocation_id() -> None:
    assert make_provenance(_run()) == make_provenance(_run())
    first = _doc(_run())["predicate"]["runDetails"]["metadata"]["invocationId"]
    later = _doc(_run(started=time.time(), finished=time.time() + 1))["predicate"]["runDetails"]["metadata"]
    assert first.startswith("urn:uuid:") and later["invocationId"] != first
    given = _doc(_run(invocation_id="https://ci.example/runs/7"))["predicate"]["runDetails"]["metadata"]
    assert given["invocationId"] == "https://ci.example/runs/7"


def test_without_a_config_file() -> None:
    doc = _doc(_run(config_sha256=None))
    assert doc["predicate"]["buildDefinition"]["externalParameters"]["config"] == {"path": "buildcfg.toml"}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"subjects": ()}, "at least one subject"),
        ({"subjects": (("a", "XYZ"),)}, "not a sha256"),
        ({"config_sha256": "abc"}, "not a sha256"),
        ({"inputs": (("b", "x86_64", "0" * 63),)}, "not a sha256"),
        ({"builder_images": (("abc", "t", "r"),)}, "not an image id"),
        ({"finished": 0.0}, "finished .* before it started"),
    ],
)
def test_bad_values_are_refused(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make_provenance(_run(**changes))
