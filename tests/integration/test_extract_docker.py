"""extract_archive against a real engine's archive API: what goes into an image comes back out byte for byte.

No pull: the image is ``FROM scratch`` plus files COPY'd from an in-memory build context. The
container is created, never started (get_archive works on a stopped container's filesystem).
"""

from __future__ import annotations

import io
import os
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from packbin.build.extract import extract_archive

pytestmark = pytest.mark.docker

docker = pytest.importorskip("docker")

TOOL = bytes(range(256)) * 300 + b"\x7fELF-not-really"  # 76 KiB: more than one stream chunk
FILES: dict[str, tuple[bytes, int]] = {
    "out/bin/tool": (TOOL, 0o755),
    "out/share/doc/readme.txt": (b"hello from scratch\n", 0o644),
    "out/share/empty": (b"", 0o644),
}
DOCKERFILE = b"FROM scratch\nCOPY out/ /out/\nCOPY single.bin /single.bin\n"
SINGLE = os.urandom(5000)


def _context_tar() -> io.BytesIO:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        entries = [("Dockerfile", DOCKERFILE, 0o644), ("single.bin", SINGLE, 0o644)]
        entries += [(name, data, mode) for name, (data, mode) in FILES.items()]
        for name, data, mode in entries:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = mode
            tar.addfile(info, io.BytesIO(data))
    buf.seek(0)
    return buf


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    try:
        c = docker.from_env()
        c.ping()
    except (docker.errors.DockerException, OSError) as e:  # requests' connection errors are OSErrors
        reason = f"no Docker engine answers ({e.__class__.__name__}: {e})"
        print(reason)
        pytest.skip(reason)
    try:
        yield c
    finally:
        c.close()


@pytest.fixture(scope="module")
def container(client: Any) -> Iterator[Any]:
    tag = f"packbin-test-extract:{uuid.uuid4().hex[:12]}"
    image = None
    created = None
    try:
        image, _log = client.images.build(
            fileobj=_context_tar(), custom_context=True, tag=tag, rm=True, forcerm=True, pull=False
        )
        # scratch has no CMD; the command is never run, the container is never started.
        created = client.containers.create(image.id, command=["/nonexistent"], labels={"packbin.test": "extract"})
        yield created
    finally:
        if created is not None:
            created.remove(force=True)
        if image is not None:
            client.images.remove(image.id, force=True, noprune=False)


def test_extract_a_directory_from_a_container(container: Any, tmp_path: Path) -> None:
    chunks, stat = container.get_archive("/out")
    assert stat["name"] == "out"
    files = extract_archive(chunks, tmp_path)
    by_name = {f.name: f for f in files}
    assert set(by_name) == set(FILES)
    for name, (data, mode) in FILES.items():
        f = by_name[name]
        assert f.path == tmp_path / name
        assert f.path.read_bytes() == data
        assert f.size == len(data)
        assert f.mode == mode
        assert (f.path.stat().st_mode & 0o7777) == mode


def test_extract_a_single_file_with_small_chunks(container: Any, tmp_path: Path) -> None:
    chunks, stat = container.get_archive("/single.bin", chunk_size=1000)
    assert stat["size"] == len(SINGLE)
    files = extract_archive(chunks, tmp_path)
    assert [(f.name, f.size) for f in files] == [("single.bin", len(SINGLE))]
    assert (tmp_path / "single.bin").read_bytes() == SINGLE


def test_size_cap_applies_to_a_real_stream(container: Any, tmp_path: Path) -> None:
    from packbin.errors import ArtifactRejected

    chunks, _ = container.get_archive("/out")
    with pytest.raises(ArtifactRejected, match="out/bin/tool"):
        extract_archive(chunks, tmp_path, max_bytes=10_000)
    assert list(tmp_path.iterdir()) == []
