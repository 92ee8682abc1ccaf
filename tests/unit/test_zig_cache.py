"""zig_cache.py: zig's cache manifests re-pointed at new copies of the same files.

The first tests build manifests of zig's layout by hand, to reach every case of an entry. The
last runs the real zig (the ziglang wheel of the test extra): it shows that this zig compiles a
C file again when only the inodes of its inputs changed, and that it does not after the rebase.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from packbin.build.resources import zig_cache
from packbin.build.resources.zig_cache import parse, rebase, rebase_manifest, zig_dirs

NS = 1_000_000_000


def entry(path: str, *, size: int, inode: int, mtime: int, prefix: int = 0, flags: int = 0) -> bytes:
    return struct.pack("<QQq16sB", size, inode, mtime, b"d" * 16, flags | prefix << 2) + path.encode() + b"\0"


def manifest(*entries: bytes) -> bytes:
    return b"".join(entries) + b"\0"


def fields(data: bytes) -> list[tuple[int, int]]:
    """(inode, mtime) of each entry."""
    return [struct.unpack_from("<Qq", data, off + 8) for off, *_ in parse(data) or []]  # type: ignore[misc]


def a_file(path: Path, text: str, mtime_ns: int) -> os.stat_result:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    os.utime(path, ns=(mtime_ns, mtime_ns))
    return path.stat()


def test_parse_reads_entries_and_refuses_what_is_not_a_whole_manifest() -> None:
    data = manifest(entry("/a/b.h", size=3, inode=7, mtime=9), entry("libc/x.c", size=1, inode=2, mtime=3, prefix=1))
    assert [(e[1], e[2], e[4], e[5]) for e in parse(data) or []] == [(3, 9, 0, b"/a/b.h"), (1, 3, 1, b"libc/x.c")]
    assert parse(b"\0") == []  # a manifest with no files
    assert parse(data[:-1]) is None  # no final zero byte
    assert parse(data[:30]) is None  # cut inside an entry
    assert parse(data + b"junk") is None
    assert parse(manifest(entry("", size=1, inode=1, mtime=1))) is None  # an empty path
    assert parse(b"0\n123 456 789 abcd 1 libc/x.c\n") is None  # the text layout of older zig


def test_an_entry_whose_file_has_its_size_and_mtime_takes_the_files_inode(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    st = a_file(lib / "libc/x.c", "int x;", 1_700_000_000 * NS + 123)
    src = a_file(tmp_path / "src/a.h", "#x", 1_700_000_001 * NS)
    data = manifest(
        entry("libc/x.c", size=st.st_size, inode=st.st_ino + 1, mtime=st.st_mtime_ns, prefix=1),
        entry(str(tmp_path / "src/a.h"), size=src.st_size, inode=src.st_ino + 5, mtime=src.st_mtime_ns),
    )
    out, changed = rebase_manifest(data, {1: str(lib)}) or (b"", 0)
    assert changed == 2
    assert fields(out) == [(st.st_ino, st.st_mtime_ns), (src.st_ino, src.st_mtime_ns)]
    # Only inode and mtime move: the size, digest, flags and paths stay.
    assert out[:8] == data[:8] and out[24:][:17] == data[24:][:17] and len(out) == len(data)
    # Rebased already: nothing to change.
    assert rebase_manifest(out, {1: str(lib)}) == (out, 0)


def test_a_whole_second_mtime_matches_the_recorded_one_with_its_fraction(tmp_path: Path) -> None:
    """The engine's volume archives keep mtimes to the second."""
    st = a_file(tmp_path / "b/builtin.zig", "pub const x = 1;", 1_700_000_000 * NS)
    recorded = 1_700_000_000 * NS + 987_654_321
    out, changed = rebase_manifest(
        manifest(entry("b/builtin.zig", size=st.st_size, inode=1, mtime=recorded, prefix=3)), {3: str(tmp_path)}
    ) or (b"", 0)
    assert changed == 1 and fields(out) == [(st.st_ino, 1_700_000_000 * NS)]


@pytest.mark.parametrize(
    "case",
    [
        "size differs",
        "mtime a second later",
        "mtime with another fraction",
        "file gone",
        "a directory",
        "directory flag",
        "metadata-only flag",
        "unknown prefix",
        "relative path under prefix 0",
        "absolute path under a prefix",
    ],
)
def test_an_entry_that_may_be_another_file_is_left_for_zig_to_check(tmp_path: Path, case: str) -> None:
    mtime = 1_700_000_000 * NS + 5
    st = a_file(tmp_path / "lib/f.h", "abc", mtime)
    (tmp_path / "lib/d").mkdir()
    path, prefix, size, recorded, flags = "f.h", 1, st.st_size, mtime, 0
    if case == "size differs":
        size += 1
    elif case == "mtime a second later":
        recorded += NS
    elif case == "mtime with another fraction":
        recorded += 1
    elif case == "file gone":
        path = "gone.h"
    elif case == "a directory":
        path = "d"
    elif case == "directory flag":
        flags = 1
    elif case == "metadata-only flag":
        flags = 2
    elif case == "unknown prefix":
        prefix = 4
    elif case == "relative path under prefix 0":
        prefix = 0
    elif case == "absolute path under a prefix":
        path = str(tmp_path / "lib/f.h")
    data = manifest(entry(path, size=size, inode=st.st_ino + 9, mtime=recorded, prefix=prefix, flags=flags))
    assert rebase_manifest(data, {1: str(tmp_path / "lib")}) == (data, 0)


def test_rebase_rewrites_manifests_whole_and_leaves_everything_else(tmp_path: Path) -> None:
    cache = tmp_path / "zig"
    (cache / "h").mkdir(parents=True)
    st = a_file(tmp_path / "lib/x.c", "int x;", 1_700_000_000 * NS)
    good = manifest(entry("x.c", size=st.st_size, inode=st.st_ino + 1, mtime=st.st_mtime_ns, prefix=1))
    (cache / "h" / ("a" * 32)).write_bytes(good)
    broken = good[:-1]
    (cache / "h" / ("b" * 32)).write_bytes(broken)
    (cache / "h" / "timestamp").write_bytes(good)  # not a manifest name
    (cache / "h" / ".packbin-leftover").write_bytes(b"half")  # a rewrite cut short
    outside = tmp_path / "outside"
    outside.write_bytes(good)
    (cache / "h" / ("c" * 32)).symlink_to(outside)  # never written through
    assert rebase(str(cache), {1: str(tmp_path / "lib")}) == (1, 1)
    assert fields((cache / "h" / ("a" * 32)).read_bytes()) == [(st.st_ino, st.st_mtime_ns)]
    assert (cache / "h" / ("b" * 32)).read_bytes() == broken
    assert (cache / "h" / "timestamp").read_bytes() == good
    assert outside.read_bytes() == good
    assert not (cache / "h" / ".packbin-leftover").exists()
    assert rebase(str(tmp_path / "no-cache"), {}) == (0, 0)


def test_a_symlinked_cache_or_manifest_dir_is_not_written_through(tmp_path: Path) -> None:
    """An imported volume may hold anything: its h/ may point at another volume of the container."""
    st = a_file(tmp_path / "lib/x.c", "int x;", 1_700_000_000 * NS)
    good = manifest(entry("x.c", size=st.st_size, inode=st.st_ino + 1, mtime=st.st_mtime_ns, prefix=1))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / ("a" * 32)).write_bytes(good)
    (tmp_path / "zig").mkdir()
    (tmp_path / "zig/h").symlink_to(elsewhere)
    (tmp_path / "zig2").symlink_to(tmp_path / "zig")
    for cache in ("zig", "zig2"):
        assert rebase(str(tmp_path / cache), {1: str(tmp_path / "lib")}) == (0, 0)
    assert (elsewhere / ("a" * 32)).read_bytes() == good


@pytest.mark.compiler
def test_a_canary_that_is_a_symlink_is_neither_followed_nor_acted_on(tmp_path: Path) -> None:
    target = tmp_path / "target-file"
    target.write_text("1 2")
    root = tmp_path / "cache"
    root.mkdir()
    (root / ".packbin-zig-inodes").symlink_to(target)
    env = dict(os.environ, ZIG_GLOBAL_CACHE_DIR=str(root / "zig"))
    res = subprocess.run(
        [sys.executable, zig_cache.__file__, str(root)], env=env, capture_output=True, text=True, check=True
    )
    assert res.stdout == "" and target.read_text() == "1 2"


def test_zig_dirs_reads_both_zig_env_layouts() -> None:
    zon = '.{\n    .zig_exe = "/z/zig",\n    .lib_dir = "/z/lib",\n    .global_cache_dir = "/cache/zig",\n}\n'
    json_ = '{\n "zig_exe": "/z/zig",\n "lib_dir": "/z/lib",\n "global_cache_dir": "/cache/zig"\n}\n'
    assert zig_dirs(zon) == zig_dirs(json_) == ("/z/lib", "/cache/zig")
    with pytest.raises(RuntimeError, match="lib_dir"):
        zig_dirs("{}")


# -- the real zig ----------------------------------------------------------------------------


def _copy_anew(d: Path, *, whole_seconds: bool = False) -> None:
    """Replace ``d`` by a copy of itself: the same bytes and mtimes, new inodes (as an import or a
    `docker load` leaves them); ``whole_seconds`` drops the mtimes' fractions, as an archive does."""
    old = d.with_name(d.name + ".old")
    d.rename(old)
    shutil.copytree(old, d, symlinks=True)
    if whole_seconds:
        for p in [d, *d.rglob("*")]:
            if not p.is_symlink():
                ns = p.stat().st_mtime_ns
                os.utime(p, ns=(ns - ns % NS, ns - ns % NS))
    shutil.rmtree(old)


@pytest.mark.compiler
def test_the_real_zig_compiles_again_on_new_inodes_and_not_after_the_rebase(tmp_path: Path) -> None:
    env_out = subprocess.run(
        [sys.executable, "-m", "ziglang", "env"], capture_output=True, text=True, check=True
    ).stdout
    real_lib, _ = zig_dirs(env_out)
    lib = tmp_path / "lib"
    shutil.copytree(real_lib, lib, symlinks=True)
    root = tmp_path / "cache"
    root.mkdir()
    src = tmp_path / "src"
    src.mkdir()
    (src / "foo.h").write_text("int g(void);\n")
    (src / "foo.c").write_text('#include <stdio.h>\n#include "foo.h"\nint g(void){return puts("x");}\n')
    env = dict(os.environ, ZIG_LIB_DIR=str(lib), ZIG_GLOBAL_CACHE_DIR=str(root / "zig"))
    env["ZIG_LOCAL_CACHE_DIR"] = env["ZIG_GLOBAL_CACHE_DIR"]
    script = [sys.executable, zig_cache.__file__, str(root)]

    def compile_() -> int:
        """zig compiles foo.c; the mtime of the object in its cache (changed only when compiled)."""
        cmd = [sys.executable, "-m", "ziglang", "cc", "-target", "x86_64-linux-musl", "-c", str(src / "foo.c")]
        subprocess.run([*cmd, "-o", str(tmp_path / "foo.o")], env=env, check=True, capture_output=True)
        (obj,) = (root / "zig/o").glob("*/foo.o")
        return obj.stat().st_mtime_ns

    assert subprocess.run(script, env=env, capture_output=True, text=True, check=True).stdout == ""  # a new volume
    first = compile_()
    assert compile_() == first  # a hit

    # New copies of the same inputs: this zig compiles again (why zig_cache exists).
    _copy_anew(lib)
    _copy_anew(src)
    assert compile_() != first
    compiled = compile_()

    # New copies again, the cache too (as after an import), then the rebase: a hit.
    _copy_anew(lib)
    _copy_anew(src, whole_seconds=True)
    _copy_anew(root, whole_seconds=True)
    compiled -= compiled % NS
    res = subprocess.run(script, env=env, capture_output=True, text=True, check=True)
    assert "re-pointed" in res.stdout, res.stdout + res.stderr
    assert compile_() == compiled
    # The canary now holds this volume's inodes: the next run reads no manifest.
    assert subprocess.run(script, env=env, capture_output=True, text=True, check=True).stdout == ""
