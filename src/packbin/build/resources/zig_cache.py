"""zig's cache, re-pointed at this engine's files when they are new copies (runs in the builder).

zig records each input of a cached compilation in a manifest (``<cache>/zig/h/<digest>``): its
size, inode, mtime, content digest and path. When the size, inode or mtime of an input differs,
the zig the builder pins counts it as a miss and compiles again, even when the bytes are the
same. The inodes all differ when a cache volume meets new copies of the same files:

- after ``cache-import`` into another engine (or into this one after ``clean``), the volume's
  files are new, and so are the image's (``docker load`` writes new layer files);
- after the builder image is made again with the same recipe.

zig then compiles musl again, object by object: 34 s of a build that takes 5 s warm (README,
Benchmarks). This module rewrites each entry whose file has the recorded size and mtime (to the
nanosecond, or to the second when an archive dropped the fraction) with the file's inode and
mtime now. An entry whose file differs is left as it is, and zig checks it as before; a manifest
that does not parse as this layout is left whole.

It runs inside the build container before cargo (``python3 packbin-zig-cache.py CACHE_ROOT``),
so it uses the standard library only. It is quick when nothing moved: a canary file in the
volume records the inodes it last saw (its own, and one of zig's lib dir); only when they differ
are the manifests read.

Manifest layout (of the zig the builder pins, 0.17.1; older zigs wrote text manifests, which do
not parse here and are left alone). A file is a run of entries, then one zero byte::

    u64 size | u64 inode | i64 mtime_ns | 16-byte digest | u8 flags | path | 0

``flags``: bit 0 directory, bit 1 metadata only, bits 2-7 the prefix (0: the working directory,
for absolute paths; 1: zig's lib dir; 2: the local and 3: the global cache dir).
"""

from __future__ import annotations

import functools
import os
import re
import struct
import subprocess
import sys
import tempfile
from collections.abc import Callable

_HEAD = struct.Struct("<QQq16sB")
_MAX_MANIFEST = 1 << 24  # zig's own limit is u32; a real one is a few kB
_CANARY = ".packbin-zig-inodes"
_NS = 1_000_000_000


def parse(data: bytes) -> list[tuple[int, int, int, int, int, bytes]] | None:
    """The entries of a manifest: (offset, size, mtime_ns, flags, prefix, path); None when ``data``
    is not a whole manifest of this layout."""
    entries: list[tuple[int, int, int, int, int, bytes]] = []
    off = 0
    while off + 1 < len(data):
        if off + _HEAD.size >= len(data):
            return None
        size, _inode, mtime, _digest, flags = _HEAD.unpack_from(data, off)
        end = data.find(b"\0", off + _HEAD.size)
        if end < 0 or end == off + _HEAD.size:
            return None
        entries.append((off, size, mtime, flags, flags >> 2, data[off + _HEAD.size : end]))
        off = end + 1
    if off + 1 != len(data) or data[off] != 0:
        return None
    return entries


def _stat(prefixes: dict[int, str], prefix: int, raw_path: bytes) -> os.stat_result | None:
    """The stat of the file an entry names, or None when it names none this script may take."""
    path = os.fsdecode(raw_path)
    if prefix == 0:
        if not os.path.isabs(path):
            return None  # relative to a working directory long gone
    elif prefix in prefixes and not os.path.isabs(path):
        path = os.path.join(prefixes[prefix], path)
    else:
        return None
    try:
        return os.stat(path)
    except OSError:
        return None


def rebase_manifest(
    data: bytes,
    prefixes: dict[int, str],
    stat: Callable[[int, bytes], os.stat_result | None] | None = None,
) -> tuple[bytes, int] | None:
    """``data`` with the inode and mtime of each entry whose file has its size and mtime set to the
    file's own; (new bytes, entries changed). None when it does not parse. ``stat(prefix, path)``:
    ``rebase`` passes a memo, as the manifests name the same headers over and over."""
    entries = parse(data)
    if entries is None:
        return None
    if stat is None:
        stat = functools.partial(_stat, prefixes)
    out = bytearray(data)
    changed = 0
    for off, size, mtime, flags, prefix, raw_path in entries:
        if flags & 0b11:  # directories and metadata-only entries: zig hashes those differently
            continue
        st = stat(prefix, raw_path)
        if st is None or st.st_size != size or st.st_mode & 0o170000 != 0o100000:
            continue
        now = st.st_mtime_ns
        if not (now == mtime or (now % _NS == 0 and now == mtime - mtime % _NS)):
            continue
        if now == mtime and st.st_ino == struct.unpack_from("<Q", data, off + 8)[0]:
            continue
        struct.pack_into("<Qq", out, off + 8, st.st_ino, now)
        changed += 1
    return bytes(out), changed


def rebase(zig_cache: str, prefixes: dict[int, str]) -> tuple[int, int]:
    """Rebase every manifest under ``zig_cache``/h in place (each replaced whole, by rename);
    (manifests rewritten, entries changed)."""
    hdir = os.path.join(zig_cache, "h")
    files = entries = 0
    if os.path.islink(zig_cache) or os.path.islink(hdir):  # an imported volume may hold anything
        return 0, 0
    try:
        names = sorted(os.listdir(hdir))
    except OSError:
        return 0, 0
    stat = functools.lru_cache(maxsize=None)(functools.partial(_stat, prefixes))
    for name in names:
        if name.startswith(".packbin-"):  # a rewrite cut short
            os.unlink(os.path.join(hdir, name))
        if not re.fullmatch(r"[0-9a-f]{32}", name):
            continue
        path = os.path.join(hdir, name)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            continue
        with os.fdopen(fd, "rb") as f:
            if not os.path.isfile(path) or os.fstat(f.fileno()).st_size > _MAX_MANIFEST:
                continue
            data = f.read(_MAX_MANIFEST + 1)
        result = rebase_manifest(data, prefixes, stat)
        if result is None or result[1] == 0:
            continue
        tmp_fd, tmp = tempfile.mkstemp(prefix=".packbin-", dir=hdir)
        try:
            with os.fdopen(tmp_fd, "wb") as f:
                f.write(result[0])
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
        files += 1
        entries += result[1]
    return files, entries


def zig_dirs(env: str) -> tuple[str, str]:
    """(zig's lib dir, its global cache dir) from the output of ``zig env`` (ZON, as this zig
    prints it, or JSON, as older ones did)."""

    def field(name: str) -> str:
        m = re.search(rf'^\s*(?:\.{name}\s*=|"{name}"\s*:)\s*"([^"]*)"', env, re.MULTILINE)
        if m is None:
            raise RuntimeError(f"`zig env` names no {name}")
        return m[1]

    return field("lib_dir"), field("global_cache_dir")


def main(argv: list[str]) -> int:
    """``packbin-zig-cache.py CACHE_ROOT``: rebase when the canary's inodes moved; a line on what it did."""
    (cache_root,) = argv
    env = subprocess.run([sys.executable, "-m", "ziglang", "env"], capture_output=True, text=True, check=True)
    lib_dir, global_cache = zig_dirs(env.stdout)
    canary = os.path.join(cache_root, _CANARY)
    if os.path.islink(canary) or os.path.isdir(canary):  # not one this script wrote
        return 0
    if not os.path.exists(canary):
        open(canary, "a").close()
    probe = os.path.join(lib_dir, "std", "std.zig")
    now = f"{os.stat(canary).st_ino} {os.stat(probe).st_ino if os.path.exists(probe) else 0}"
    with open(canary) as f:
        seen = f.read()
    if seen == now:
        return 0
    if seen:  # an empty canary: a new volume, with nothing to rebase
        files, entries = rebase(global_cache, {1: lib_dir, 2: global_cache, 3: global_cache})
        if files:
            print(
                f"::packbin-step zig's cache holds copies of its inputs (a cache import or a new image): "
                f"re-pointed {entries} entries in {files} manifests at them"
            )
    with open(canary, "w") as f:  # in place: the canary keeps its inode
        f.write(now)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
