"""dist/pack-binaries/manifest.json: round trip, merging, and hostile input.

A manifest is untrusted when read back (another CI job may have written it): anything that is not
exactly the documented schema must end in a UsageError (exit code 2), never a traceback.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from packbin.dist.manifest import Artifact, Manifest, Toolchain
from packbin.errors import UsageError
from packbin.util.digest import sha256_file

SHA_A = "a" * 64
SHA_B = "0123456789abcdef" * 4


def artifact(arch: str = "x86_64", binary: str = "attune-core-timer-sensor", sha: str = SHA_A, **kw: Any) -> Artifact:
    fields: dict[str, Any] = {
        "arch": arch,
        "target": f"{'x86_64' if arch == 'x86_64' else 'aarch64'}-unknown-linux-musl",
        "pack": "core",
        "binary": binary,
        "path": f"dist/pack-binaries/{arch}/core/sensors/{binary}",
        "sha256": sha,
        "size": 391_224,
        "static": True,
        "stripped": True,
        "source_hash": "5" * 64,
        "builder_image": "packbin/builder:rustup-0123456789abcdef",
        "toolchain": Toolchain(rustc="1.85.0", cargo_zigbuild="0.24.1", zig="0.17.1"),
        "input_hash": "6" * 64,
    }
    fields.update(kw)
    return Artifact(**fields)


def raw_artifact(**overrides: Any) -> dict[str, Any]:
    raw = artifact().to_json()
    for k, v in overrides.items():
        if v is ...:
            del raw[k]
        else:
            raw[k] = v
    return raw


def write_manifest(tmp_path: Path, doc: Any) -> Path:
    p = tmp_path / "manifest.json"
    p.write_text(doc if isinstance(doc, str) else json.dumps(doc), encoding="utf-8")
    return p


# -- round trip ----------------------------------------------------------------------------


def test_round_trip(tmp_path: Path) -> None:
    m = Manifest(artifacts=(artifact("arm64", sha=SHA_B), artifact("x86_64")))
    path = tmp_path / "dist" / "pack-binaries" / "manifest.json"
    m.save(path)
    assert Manifest.load(path) == m
    assert not [p for p in path.parent.iterdir() if p.name != "manifest.json"]  # no temp files left


def test_saved_document_has_the_documented_schema(tmp_path: Path) -> None:
    path = tmp_path / "manifest.json"
    Manifest(artifacts=(artifact(),)).save(path)
    doc = json.loads(path.read_text())
    assert list(doc) == ["artifacts", "provenance"]
    assert doc["provenance"] is None  # no run's statement recorded
    [a] = doc["artifacts"]
    assert {
        "arch",
        "target",
        "pack",
        "binary",
        "path",
        "sha256",
        "size",
        "static",
        "stripped",
        "source_hash",
        "builder_image",
        "toolchain",
        "sbom",
        "sbom_sha256",
    } <= set(a)
    assert a["sbom"] is None and a["sbom_sha256"] is None
    assert a["toolchain"] == {"rustc": "1.85.0", "cargo": "", "cargo_zigbuild": "0.24.1", "zig": "0.17.1"}
    assert a["path"] == "dist/pack-binaries/x86_64/core/sensors/attune-core-timer-sensor"
    assert a["size"] == 391_224 and a["static"] is True
    assert path.read_text().endswith("}\n")


def test_optional_fields_default(tmp_path: Path) -> None:
    raw = raw_artifact(source_hash=..., builder_image=..., toolchain=..., input_hash=...)
    [a] = Manifest.load(write_manifest(tmp_path, {"artifacts": [raw]})).artifacts
    assert (a.source_hash, a.builder_image, a.input_hash) == ("", "", "")
    assert a.toolchain == Toolchain()


def test_missing_file(tmp_path: Path) -> None:
    assert Manifest.load(tmp_path / "none.json") == Manifest()
    with pytest.raises(UsageError) as info:
        Manifest.load(tmp_path / "none.json", missing_ok=False)
    assert str(tmp_path / "none.json") in info.value.message


def test_find() -> None:
    m = Manifest(artifacts=(artifact("x86_64"), artifact("arm64", sha=SHA_B)))
    found = m.find("arm64", "attune-core-timer-sensor")
    assert found is not None and found.sha256 == SHA_B
    assert m.find("riscv64", "attune-core-timer-sensor") is None
    assert m.find("arm64", "other") is None


# -- merged --------------------------------------------------------------------------------


def test_merged_replaces_same_arch_and_binary() -> None:
    old = Manifest(artifacts=(artifact("x86_64"), artifact("arm64")))
    new = artifact("arm64", sha=SHA_B, size=1)
    m = old.merged([new])
    assert len(m.artifacts) == 2
    assert m.find("arm64", "attune-core-timer-sensor") == new
    assert m.find("x86_64", "attune-core-timer-sensor") == artifact("x86_64")
    assert old.find("arm64", "attune-core-timer-sensor") == artifact("arm64")  # the original is unchanged


def test_merged_adds_new_keys_and_sorts() -> None:
    m = Manifest(artifacts=(artifact("x86_64", binary="zeta"),)).merged(
        (artifact("x86_64", binary="alpha"), artifact("arm64", binary="zeta"))
    )
    assert [a.key for a in m.artifacts] == [("x86_64", "alpha"), ("arm64", "zeta"), ("x86_64", "zeta")]


def test_merged_with_nothing_keeps_everything() -> None:
    m = Manifest(artifacts=(artifact("x86_64"), artifact("arm64")))
    assert {a.key for a in m.merged([]).artifacts} == {a.key for a in m.artifacts}


# -- hostile manifests ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"path": "dist/pack-binaries/../../../etc/passwd"}, "must be relative and stay inside the tree"),
        ({"path": "../outside"}, "must be relative and stay inside the tree"),
        ({"path": "/etc/passwd"}, "must be relative and stay inside the tree"),
        ({"path": ""}, "must be relative and stay inside the tree"),
        ({"path": "."}, "must be relative and stay inside the tree"),
        ({"path": 5}, "path must be a string"),
        ({"path": ...}, "path must be a string"),
        ({"sha256": "A" * 64}, "sha256 must be 64 lowercase hex digits"),
        ({"sha256": "a" * 63}, "sha256 must be 64 lowercase hex digits"),
        ({"sha256": "g" * 64}, "sha256 must be 64 lowercase hex digits"),
        ({"sha256": "a" * 65}, "sha256 must be 64 lowercase hex digits"),
        ({"sha256": None}, "sha256 must be a string"),
        ({"size": -1}, "size must be a non-negative integer"),
        ({"size": True}, "size must be a non-negative integer"),
        ({"size": "391224"}, "size must be a non-negative integer"),
        ({"size": 1.5}, "size must be a non-negative integer"),
        ({"size": ...}, "size must be a non-negative integer"),
        ({"static": "yes"}, "static must be true or false"),
        ({"static": 1}, "static must be true or false"),
        ({"stripped": ...}, "stripped must be true or false"),
        ({"arch": ["x86_64"]}, "arch must be a string"),
        ({"binary": ...}, "binary must be a string"),
        ({"pack": 7}, "pack must be a string"),
        ({"target": None}, "target must be a string"),
        ({"source_hash": 1}, "source_hash must be a string"),
        ({"builder_image": False}, "builder_image must be a string"),
        ({"input_hash": {}}, "input_hash must be a string"),
        ({"toolchain": "rustc 1.85"}, "toolchain must be an object"),
    ],
)
def test_hostile_artifact_is_a_usage_error(tmp_path: Path, overrides: dict[str, Any], problem: str) -> None:
    good = raw_artifact()
    path = write_manifest(tmp_path, {"artifacts": [good, raw_artifact(**overrides)]})
    with pytest.raises(UsageError) as info:
        Manifest.load(path)
    assert info.value.exit_code == 2
    assert info.value.message.startswith(f"{path}: artifacts[1]: ")
    assert problem in info.value.message


@pytest.mark.parametrize(
    ("doc", "problem"),
    [
        ("{not json", "not valid JSON"),
        ("", "not valid JSON"),
        ("[]", 'expected an object with an "artifacts" list'),
        ("null", 'expected an object with an "artifacts" list'),
        ('{"artifacts": {}}', 'expected an object with an "artifacts" list'),
        ('{"arts": []}', 'expected an object with an "artifacts" list'),
        ('{"artifacts": ["x"]}', "artifacts[0]: an artifact must be an object"),
        ('{"artifacts": [null]}', "artifacts[0]: an artifact must be an object"),
    ],
)
def test_hostile_document_is_a_usage_error(tmp_path: Path, doc: str, problem: str) -> None:
    path = write_manifest(tmp_path, doc)
    with pytest.raises(UsageError) as info:
        Manifest.load(path)
    assert str(path) in info.value.message
    assert problem in info.value.message


def test_non_utf8_manifest_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "manifest.json"
    path.write_bytes(b'{"artifacts": []}\xff')
    with pytest.raises(UsageError):
        Manifest.load(path)


def test_deeply_nested_manifest_is_a_usage_error(tmp_path: Path) -> None:
    path = write_manifest(tmp_path, "[" * 200_000)
    with pytest.raises(UsageError):
        Manifest.load(path)


def test_toolchain_values_must_be_strings(tmp_path: Path) -> None:
    path = write_manifest(tmp_path, {"artifacts": [raw_artifact(toolchain={"rustc": ["1.85"], "zig": 5})]})
    with pytest.raises(UsageError):
        Manifest.load(path)


def test_sha256_file(tmp_path: Path) -> None:
    p = tmp_path / "f"
    p.write_bytes(b"abc")
    assert sha256_file(p) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    big = tmp_path / "big"
    big.write_bytes(b"\0" * ((1 << 20) + 3))  # spans the 1 MiB read chunk
    assert sha256_file(big) == hashlib.sha256(b"\0" * ((1 << 20) + 3)).hexdigest()
