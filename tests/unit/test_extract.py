"""Artifact extraction: good archives come out intact, hostile ones are refused and leave nothing.

The hostile archives are built in memory with tarfile (hand-built bytes only where tarfile itself
will not write the corrupt thing).
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import re
import tarfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

import packbin.build.extract
from packbin.build.extract import ExtractedFile, extract_archive
from packbin.errors import ArtifactRejected, InstallError

# (name, data or None for a directory, mode), or a ready TarInfo without data (links, devices)
Entry = tuple[str, bytes | None, int] | tarfile.TarInfo


def make_tar(entries: Sequence[Entry], *, fmt: int = tarfile.PAX_FORMAT) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tar:
        for entry in entries:
            if isinstance(entry, tarfile.TarInfo):
                tar.addfile(entry)
                continue
            name, data, mode = entry
            info = tarfile.TarInfo(name)
            info.mode = mode
            if data is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def special(kind: bytes, name: str = "out/thing", linkname: str = "") -> tarfile.TarInfo:
    """A data-less member of another type: link, device, FIFO."""
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    return info


def chunked(data: bytes, size: int) -> Iterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


GOOD = [
    ("out/", None, 0o755),
    ("out/bin/", None, 0o700),
    ("out/bin/tool", b"\x7fELF" + bytes(range(256)) * 40, 0o4775),  # setuid + group write: dropped
    ("out/share/doc/readme.txt", b"hello\n", 0o666),
    ("out/empty", b"", 0o600),
]


def assert_good_result(staging: Path, files: tuple[ExtractedFile, ...]) -> None:
    by_name = {f.name: f for f in files}
    assert set(by_name) == {"out/bin/tool", "out/share/doc/readme.txt", "out/empty"}
    tool = by_name["out/bin/tool"]
    assert tool.path == staging / "out" / "bin" / "tool"
    assert tool.path.read_bytes() == GOOD[2][1]
    assert tool.size == len(GOOD[2][1] or b"")
    assert tool.mode == 0o755
    assert (tool.path.stat().st_mode & 0o7777) == 0o755
    readme = by_name["out/share/doc/readme.txt"]
    assert readme.path.read_bytes() == b"hello\n"
    assert readme.mode == 0o644
    assert (readme.path.stat().st_mode & 0o7777) == 0o644
    # Directories, explicit or implied, are plain 0o755.
    for d in ("out", "out/bin", "out/share", "out/share/doc"):
        assert ((staging / d).stat().st_mode & 0o7777) == 0o755


def assert_empty(staging: Path) -> None:
    assert list(staging.iterdir()) == []


@pytest.fixture
def staging(tmp_path: Path) -> Path:
    d = tmp_path / "staging"
    d.mkdir()
    return d


def test_good_archive_with_nested_dirs(staging: Path) -> None:
    files = extract_archive([make_tar(GOOD)], staging)
    assert_good_result(staging, files)
    assert [f.name for f in files] == ["out/bin/tool", "out/share/doc/readme.txt", "out/empty"]


@pytest.mark.parametrize("chunk_size", [1, 7, 511, 513, 4099, 1 << 20])
def test_odd_chunk_sizes(staging: Path, chunk_size: int) -> None:
    files = extract_archive(chunked(make_tar(GOOD), chunk_size), staging)
    assert_good_result(staging, files)


@pytest.mark.parametrize(
    "compress",
    [gzip.compress, bz2.compress, lzma.compress],
    ids=["gzip", "bzip2", "xz"],
)
def test_compressed_stream(staging: Path, compress: Callable[[bytes], bytes]) -> None:
    files = extract_archive(chunked(compress(make_tar(GOOD)), 333), staging)
    assert_good_result(staging, files)


def test_gnu_format_and_dot_prefix(staging: Path) -> None:
    # GNU tar and `tar -C dir .` write "./" first and prefix every name with "./".
    data = make_tar([("./", None, 0o755), ("./bin/", None, 0o755), ("./bin/x", b"x", 0o755)], fmt=tarfile.GNU_FORMAT)
    files = extract_archive([data], staging)
    assert [(f.name, f.mode) for f in files] == [("bin/x", 0o755)]
    assert (staging / "bin" / "x").read_bytes() == b"x"


def test_long_names(staging: Path) -> None:
    name = "out/" + "d" * 150 + "/" + "f" * 200
    files = extract_archive([make_tar([(name, b"long", 0o644)])], staging)
    assert files[0].name == name
    assert files[0].path.read_bytes() == b"long"


# --- refusals: each names the member and leaves staging empty --------------------------------

REFUSALS: list[tuple[str, bytes, str, str]] = [
    ("absolute", make_tar([("out/ok", b"1", 0o644), ("/etc/passwd", b"x", 0o644)]), "/etc/passwd", "absolute path"),
    ("dotdot", make_tar([("out/ok", b"1", 0o644), ("out/../../evil", b"x", 0o644)]), "out/../../evil", "'..'"),
    ("dotdot-only", make_tar([("..", None, 0o755)]), "..", "'..'"),
    ("symlink", make_tar([special(tarfile.SYMTYPE, linkname="/etc/shadow")]), "out/thing", "symbolic link"),
    ("relative-symlink", make_tar([special(tarfile.SYMTYPE, linkname="sibling")]), "out/thing", "symbolic link"),
    (
        "hardlink",
        make_tar([("out/a", b"1", 0o644), special(tarfile.LNKTYPE, linkname="out/a")]),
        "out/thing",
        "hard link",
    ),
    ("chardev", make_tar([special(tarfile.CHRTYPE)]), "out/thing", "device"),
    ("blockdev", make_tar([special(tarfile.BLKTYPE)]), "out/thing", "device"),
    ("fifo", make_tar([special(tarfile.FIFOTYPE)]), "out/thing", "FIFO"),
    ("sparse", make_tar([special(tarfile.GNUTYPE_SPARSE)]), "out/thing", "sparse"),
    ("duplicate", make_tar([("out/a", b"1", 0o644), ("out/a", b"2", 0o644)]), "out/a", "twice"),
    ("duplicate-normalized", make_tar([("out/a", b"1", 0o644), ("./out//a", b"2", 0o644)]), "./out//a", "twice"),
    ("file-then-dir", make_tar([("out", b"1", 0o644), ("out/a", b"2", 0o644)]), "out/a", "both a file"),
    ("dir-then-file", make_tar([("out/a", b"1", 0o644), ("out", b"2", 0o644)]), "out", "both a file"),
]


@pytest.mark.parametrize(("data", "member", "reason"), [r[1:] for r in REFUSALS], ids=[r[0] for r in REFUSALS])
def test_refusals(staging: Path, data: bytes, member: str, reason: str) -> None:
    with pytest.raises(ArtifactRejected) as exc:
        extract_archive(chunked(data, 100), staging)
    message = str(exc.value)
    assert repr(member) in message
    assert reason in message
    assert "nothing was extracted" in message
    assert exc.value.exit_code == 5
    assert_empty(staging)


def _pax_name_tar(name: str) -> bytes:
    """A tar whose pax header carries ``name`` (NUL or non-UTF-8 bytes can only come that way)."""
    buf = io.BytesIO()
    with tarfile.open(
        fileobj=buf, mode="w", format=tarfile.PAX_FORMAT, encoding="utf-8", errors="surrogateescape"
    ) as tar:
        tar.addfile(_file_info("out/ok", 1), io.BytesIO(b"1"))
        info = _file_info("placeholder", 1)
        info.pax_headers = {"path": name}
        tar.addfile(info, io.BytesIO(b"x"))
    return buf.getvalue()


def _file_info(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = 0o644
    return info


def _ustar_raw_name(raw: bytes) -> bytes:
    """A one-member ustar tar whose header name field holds raw bytes, checksum fixed up."""
    header = bytearray(make_tar([("X" * len(raw), b"y", 0o644)], fmt=tarfile.USTAR_FORMAT)[:512])
    header[: len(raw)] = raw
    header[148:156] = b" " * 8
    chksum = sum(header)
    header[148:156] = b"%06o\x00 " % chksum
    body = b"y" + b"\x00" * 511
    return bytes(header) + body + b"\x00" * 1024


def test_refuses_non_utf8_name(staging: Path) -> None:
    with pytest.raises(ArtifactRejected, match="not valid UTF-8") as exc:
        extract_archive([_ustar_raw_name(b"out/caf\xe9")], staging)
    assert "out/caf" in str(exc.value)
    assert_empty(staging)


def test_refuses_non_utf8_pax_name(staging: Path) -> None:
    with pytest.raises(ArtifactRejected, match="not valid UTF-8"):
        extract_archive([_pax_name_tar("out/bad\udcff")], staging)
    assert_empty(staging)


def test_refuses_nul_in_name(staging: Path) -> None:
    with pytest.raises(ArtifactRejected, match="NUL") as exc:
        extract_archive([_pax_name_tar("out/a\x00b")], staging)
    assert "out/a\\x00b" in str(exc.value)
    assert_empty(staging)


def test_refuses_too_many_members(staging: Path) -> None:
    entries: list[Entry] = [(f"out/f{i}", b"x", 0o644) for i in range(11)]
    with pytest.raises(ArtifactRejected, match="more than 10 entries") as exc:
        extract_archive([make_tar(entries)], staging, max_members=10)
    assert "'out/f10'" in str(exc.value)
    assert_empty(staging)
    # Exactly at the limit is fine.
    assert len(extract_archive([make_tar(entries[:10])], staging, max_members=10)) == 10


def test_refuses_member_past_size_cap(staging: Path) -> None:
    data = make_tar([("out/a", b"a" * 600, 0o644), ("out/b", b"b" * 500, 0o644)])
    with pytest.raises(ArtifactRejected, match="past the cap of 1000 bytes") as exc:
        extract_archive([data], staging, max_bytes=1000)
    assert "'out/b'" in str(exc.value)
    assert_empty(staging)


def test_size_cap_refuses_early_without_reading_the_stream(staging: Path) -> None:
    """A huge member is refused from its header; the rest of the stream is never pulled."""
    cap = 1 << 20
    info = tarfile.TarInfo("out/huge")
    info.size = 10 << 30  # 10 GiB announced
    info.mode = 0o644
    header = info.tobuf(tarfile.PAX_FORMAT)
    pulled = 0
    closed = False

    def endless() -> Iterator[bytes]:
        nonlocal pulled, closed
        try:
            yield header
            while True:
                pulled += 1
                yield b"\x00" * 65536
        finally:
            closed = True

    with pytest.raises(ArtifactRejected, match="past the cap"):
        extract_archive(endless(), staging, max_bytes=cap)
    assert pulled * 65536 < cap
    assert closed, "the stream generator is closed, not drained"
    assert_empty(staging)


def test_gzip_bomb_is_refused_by_the_stream_cap(staging: Path) -> None:
    # A pax header claiming a 64 MiB record: tarfile would read it whole into memory.
    record_len = 64 << 20
    pax = tarfile.TarInfo("././@PaxHeader")
    pax.type = tarfile.XHDTYPE
    pax.size = record_len
    bomb = gzip.compress(pax.tobuf(tarfile.USTAR_FORMAT) + b"9" * record_len, compresslevel=9)
    assert len(bomb) < 200_000
    with pytest.raises(ArtifactRejected, match="stream passes"):
        extract_archive(chunked(bomb, 4096), staging, max_bytes=1 << 20, max_members=10)
    assert_empty(staging)


def test_refusal_after_files_were_written_cleans_them(staging: Path) -> None:
    entries: list[Entry] = [
        ("out/", None, 0o755),
        ("out/a/b/c.txt", b"c", 0o644),
        ("out/d.bin", b"d" * 5000, 0o755),
        special(tarfile.SYMTYPE, "out/link", linkname="../../x"),
    ]
    data = make_tar(entries)
    with pytest.raises(ArtifactRejected, match="symbolic link"):
        extract_archive(chunked(data, 999), staging)
    assert_empty(staging)


def test_truncated_stream_is_refused_and_cleaned(staging: Path) -> None:
    data = make_tar([("out/a", b"a" * 10_000, 0o644)])
    with pytest.raises(ArtifactRejected, match="corrupt or truncated"):
        extract_archive([data[:3000]], staging)
    assert_empty(staging)


def test_corrupt_gzip_is_refused(staging: Path) -> None:
    gz = bytearray(gzip.compress(make_tar(GOOD)))
    gz[40:60] = b"\xff" * 20
    with pytest.raises(ArtifactRejected):
        extract_archive([bytes(gz)], staging)
    assert_empty(staging)


def test_garbage_and_empty_streams_are_refused(staging: Path) -> None:
    with pytest.raises(ArtifactRejected, match="corrupt"):
        extract_archive([b"this is not a tar archive" * 40], staging)
    with pytest.raises(ArtifactRejected, match="corrupt"):
        extract_archive([], staging)
    assert_empty(staging)


@pytest.mark.parametrize("with_data_filter", [True, False], ids=["data-filter", "own-checks-only"])
def test_never_follows_a_symlink_planted_in_staging(
    staging: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, with_data_filter: bool
) -> None:
    """A link that appears in staging (not from the archive) is neither followed nor replaced.

    Without the data filter (Pythons before 3.10.12/3.11.4) the O_NOFOLLOW walk alone must hold.
    """
    if not with_data_filter:
        monkeypatch.setattr(packbin.build.extract, "_DATA_FILTER", None)
    outside = tmp_path / "outside"
    outside.mkdir()

    def planting() -> Iterator[bytes]:
        data = make_tar([("out/first", b"1", 0o644), ("evil/file", b"2", 0o644)])
        yield data[:1024]  # header and data of out/first
        os.symlink(outside, staging / "evil")  # someone else races us
        yield data[1024:]

    expected = "outside the destination" if with_data_filter else "not an entry packbin made"
    with pytest.raises(ArtifactRejected, match=expected):
        extract_archive(planting(), staging)
    assert list(outside.iterdir()) == []
    # Our own files are gone; the planted link is not ours to remove.
    assert [p.name for p in staging.iterdir()] == ["evil"]


def test_staging_must_exist_and_be_empty(tmp_path: Path) -> None:
    with pytest.raises(InstallError, match="does not exist"):
        extract_archive([make_tar(GOOD)], tmp_path / "missing")
    (tmp_path / "x").write_text("x")
    with pytest.raises(InstallError, match="not empty"):
        extract_archive([make_tar(GOOD)], tmp_path)


def test_engine_stream_errors_propagate_unchanged(staging: Path) -> None:
    """An error from the engine's stream (requests' errors are OSErrors) is not a disk error."""
    data = make_tar([("out/a", b"a" * 100_000, 0o644)])

    def failing() -> Iterator[bytes]:
        yield data[:2048]
        raise ConnectionResetError("engine went away")

    with pytest.raises(ConnectionResetError):
        extract_archive(failing(), staging)
    assert_empty(staging)


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("out/" + "n" * 300, "longer than NAME_MAX (255)"),  # issue 8: was an InstallError (exit 6) halfway
        ("out/" + "/".join(["d" * 100] * 50), "longer than 1024"),  # issue 8: a 5,000-character path was accepted
    ],
)
def test_over_long_member_names_are_a_rejected_artifact(staging: Path, name: str, words: str) -> None:
    data = make_tar([("out/ok", b"fine", 0o644), (name, b"x", 0o644)])
    with pytest.raises(ArtifactRejected, match=re.escape(words)) as info:
        extract_archive([data], staging)
    assert info.value.exit_code == 5
    assert_empty(staging)


def test_volume_reads_through_the_bounded_reader(monkeypatch: pytest.MonkeyPatch) -> None:
    """volume.py's archive reader stops at its cap, as extraction does (a real tar, a small cap)."""
    from packbin.compose import volume
    from packbin.errors import EngineError

    data = make_tar([("packbin-dest/big", b"x" * 200_000, 0o644)])
    monkeypatch.setattr(volume, "MAX_VOLUME_STREAM", 64 << 10)
    with pytest.raises(EngineError, match="too large"):
        list(volume._read_tar(iter([data]), "packbin-dest", keep=lambda rel, m, head: "all"))
    monkeypatch.setattr(volume, "MAX_VOLUME_STREAM", 1 << 20)
    [(rel, _, got, _)] = list(volume._read_tar(iter([data]), "packbin-dest", keep=lambda rel, m, head: "all"))
    assert rel == "big" and got == b"x" * 200_000
