"""A binary's CycloneDX 1.6 SBOM, from its dependency list (:mod:`packbin.build.deps`).

The document is a function of its inputs alone, so a rebuild that gives the same binary gives the
same SBOM bytes: no timestamp, and the serial number is a UUID v5 of the binary's sha256.

- ``metadata.component``: the binary (type application, its SHA-256, the architecture and target
  triple as properties), ``metadata.tools``: packbin;
- ``components``: every crate of the list: name, version, scope (``required`` when it is in the
  binary, ``excluded`` for build-only crates, which also carry cargo-auditable's
  ``cdx:rustc:dependency_kind = build``), its Cargo.lock checksum as a SHA-256 hash, its license
  as an SPDX expression, a ``pkg:cargo`` purl for crates.io crates; path crates carry their
  repository-relative directory as the ``packbin:local-path`` property and no purl;
- ``dependencies``: the binary depends on the root crate, each crate on its dependencies.
"""

from __future__ import annotations

import json
import re
import uuid
from urllib.parse import quote

from packbin.build.deps import Crate, DependencyList

SPEC_VERSION = "1.6"
#: The namespace of the serial numbers' UUID v5 (a uuid5 of packbin's URL in the URL namespace).
SERIAL_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/attune-io/packbin/sbom")
#: The most SBOM JSON sbom_names_binary reads.
MAX_SBOM_BYTES = 64 * 1024 * 1024

_SHA256 = re.compile(r"[0-9a-f]{64}")


def serial_number(sha256: str) -> str:
    """``urn:uuid:...`` for the binary whose sha256 is ``sha256`` (the same binary, the same number)."""
    return f"urn:uuid:{uuid.uuid5(SERIAL_NAMESPACE, sha256.lower())}"


def make_sbom(deps: DependencyList, *, binary: str, arch: str, target: str, sha256: str, packbin_version: str) -> bytes:
    """The CycloneDX 1.6 JSON document for ``binary`` (sha256 ``sha256``), built from ``deps``."""
    if not _SHA256.fullmatch(sha256):
        raise ValueError(f"sha256 {sha256!r} is not 64 lowercase hex digits")
    refs = _bom_refs(deps.packages)
    binary_ref = f"binary:{binary}"
    root = deps.root
    doc = {
        "$schema": "http://cyclonedx.org/schema/bom-1.6.schema.json",
        "bomFormat": "CycloneDX",
        "specVersion": SPEC_VERSION,
        "serialNumber": serial_number(sha256),
        "version": 1,
        "metadata": {
            "tools": {"components": [{"type": "application", "name": "packbin", "version": packbin_version}]},
            "component": {
                "type": "application",
                "bom-ref": binary_ref,
                "name": binary,
                "version": root.version,
                "hashes": [{"alg": "SHA-256", "content": sha256}],
                **_licenses(root),
                "properties": [
                    {"name": "packbin:arch", "value": arch},
                    {"name": "packbin:target", "value": target},
                    {"name": "packbin:root-crate", "value": refs[deps.packages.index(root)]},
                ],
            },
        },
        "components": [_component(crate, ref) for crate, ref in zip(deps.packages, refs)],
        "dependencies": [
            {"ref": binary_ref, "dependsOn": [refs[deps.packages.index(root)]]},
            *(
                {"ref": ref, "dependsOn": [refs[d] for d in crate.dependencies]}
                for crate, ref in zip(deps.packages, refs)
            ),
        ],
    }
    return (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode()


def sbom_names_binary(sbom: bytes, *, sha256: str) -> bool:
    """Is ``sbom`` a CycloneDX document packbin wrote for the binary whose sha256 is ``sha256``?

    For collect-pack-binaries, which reads SBOMs from CI artifacts: untrusted bytes, so anything
    malformed is False, never an exception.
    """
    if len(sbom) > MAX_SBOM_BYTES or not _SHA256.fullmatch(sha256):
        return False
    try:
        doc = json.loads(sbom)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return False
    if not isinstance(doc, dict) or doc.get("bomFormat") != "CycloneDX" or doc.get("specVersion") != SPEC_VERSION:
        return False
    if doc.get("serialNumber") != serial_number(sha256):
        return False
    metadata = doc.get("metadata")
    component = metadata.get("component") if isinstance(metadata, dict) else None
    hashes = component.get("hashes") if isinstance(component, dict) else None
    if not isinstance(hashes, list):
        return False
    return any(isinstance(h, dict) and h.get("alg") == "SHA-256" and h.get("content") == sha256 for h in hashes)


def _bom_refs(crates: tuple[Crate, ...]) -> list[str]:
    """A unique, stable bom-ref per crate: ``name@version``, with the source when not crates.io
    (``#local:DIR`` for path crates), and the list index when that still repeats."""
    refs = []
    for crate in crates:
        ref = f"{crate.name}@{crate.version}"
        if crate.source == "local":
            ref += f"#local:{crate.local_path}"
        elif crate.source != "crates.io":
            ref += f"#{crate.source}"
        refs.append(ref)
    repeated = {r for r in refs if refs.count(r) > 1}
    return [f"{r}#{n}" if r in repeated else r for n, r in enumerate(refs)]


def purl(crate: Crate) -> str | None:
    """``pkg:cargo/NAME@VERSION`` for a crates.io crate (the purl type's default repository);
    None for others, whose registry or repository the dependency list does not name."""
    if crate.source != "crates.io":
        return None
    return f"pkg:cargo/{quote(crate.name, safe='')}@{quote(crate.version, safe='')}"


def spdx_expression(license: str) -> str:
    """Cargo.toml's ``license`` as an SPDX expression: the deprecated ``MIT/Apache-2.0`` is ``OR``."""
    if "/" in license:
        return " OR ".join(part.strip() for part in license.split("/"))
    return license


def _licenses(crate: Crate) -> dict[str, object]:
    return {"licenses": [{"expression": spdx_expression(crate.license)}]} if crate.license else {}


def _component(crate: Crate, ref: str) -> dict[str, object]:
    component: dict[str, object] = {
        "type": "application" if crate.root else "library",
        "bom-ref": ref,
        "name": crate.name,
        "version": crate.version,
        "scope": "required" if crate.kind == "runtime" else "excluded",
    }
    if crate.checksum:
        component["hashes"] = [{"alg": "SHA-256", "content": crate.checksum}]
    component.update(_licenses(crate))
    if (p := purl(crate)) is not None:
        component["purl"] = p
    properties = [{"name": "packbin:source", "value": crate.source}]
    if crate.kind == "build":
        properties.append({"name": "cdx:rustc:dependency_kind", "value": "build"})
    if crate.local_path is not None:
        properties.append({"name": "packbin:local-path", "value": crate.local_path})
    component["properties"] = properties
    return component
