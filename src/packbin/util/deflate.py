"""A zlib stream (RFC 1950 around RFC 1951 deflate) made in pure Python, the same bytes on any host.

The host's zlib is not used to compress: zlib 1.2, 1.3 and zlib-ng choose different matches and
blocks for the same input, and packbin promises identical artifacts from any machine. Every
choice here (the hash chains, how far they are followed, the lazy match, where a block ends,
which of stored, fixed or dynamic Huffman coding it uses, the code lengths) is a function of the
input alone. ``zlib.decompress`` reads the result back; Adler-32 is a checksum with one answer,
so the trailer takes zlib's.

Tuned like zlib's level 6 (a 32 KiB window, chains followed 32 deep, lazy matching below 16
bytes), it is meant for the small documents packbin embeds (a dependency list of a few hundred
crates is tens of KiB of JSON), not for bulk data.
"""

from __future__ import annotations

import heapq
import zlib
from typing import cast

_WINDOW = 32768
_MIN_MATCH, _MAX_MATCH = 3, 258
_MAX_CHAIN = 32  # candidates looked at per position
_NICE = 128  # a match this long ends the search
_MAX_LAZY = 16  # a shorter match is first compared with the one starting a byte later
_BLOCK_TOKENS = 16384  # literals and matches per block: each block gets its own codes
_FLUSH_BITS = 4096

_LBASE = (3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227,
          258)  # fmt: skip
_LEXT = (0,) * 8 + (1,) * 4 + (2,) * 4 + (3,) * 4 + (4,) * 4 + (5,) * 4 + (0,)
_DBASE = (1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073,
          4097, 6145, 8193, 12289, 16385, 24577)  # fmt: skip
_DEXT = (0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13)
#: The order of the code length code lengths in a dynamic block header.
_CL_ORDER = (16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15)

_LEN_CODE = [0] * (_MAX_MATCH + 1)  # match length -> index into _LBASE
for _c in range(28):
    for _v in range(1 << _LEXT[_c]):
        if _LBASE[_c] + _v < _MAX_MATCH:
            _LEN_CODE[_LBASE[_c] + _v] = _c
_LEN_CODE[_MAX_MATCH] = 28
_DIST_CODE = [0]  # distance -> index into _DBASE (index 0 unused)
for _c in range(30):
    _DIST_CODE.extend([_c] * (1 << _DEXT[_c]))

_FIXED_LIT = [8] * 144 + [9] * 112 + [7] * 24 + [8] * 8
_FIXED_DIST = [5] * 30

#: A token is a literal byte (0..255) or a match: length << 16 | distance.
Tokens = list[int]


def zlib_compress(data: bytes) -> bytes:
    """``data`` as a zlib stream whose bytes depend only on ``data``; ``zlib.decompress`` reads it."""
    out = bytearray(b"\x78\x9c")  # deflate, 32 KiB window, "default" level, FCHECK
    tokens = _lz77(data)
    writer = _BitWriter(out)
    start = 0  # the offset in data where the current block begins
    if not tokens:
        _write_block(writer, [], data, 0, 0, final=True)
    for first in range(0, len(tokens), _BLOCK_TOKENS):
        block = tokens[first : first + _BLOCK_TOKENS]
        span = sum([t >> 16 if t > 255 else 1 for t in block])
        _write_block(writer, block, data, start, span, final=first + _BLOCK_TOKENS >= len(tokens))
        start += span
    writer.finish()
    out += zlib.adler32(data).to_bytes(4, "big")
    return bytes(out)


def _lz77(data: bytes) -> Tokens:
    """Greedy matching with one step of lazy evaluation, over 3-byte hash chains."""
    n = len(data)
    head: dict[bytes, int] = {}
    prev = [-1] * n

    def insert(pos: int) -> int:
        key = data[pos : pos + 3]
        cand = head.get(key, -1)
        head[key] = pos
        prev[pos] = cand
        return cand

    def longest(pos: int) -> tuple[int, int]:
        limit = min(_MAX_MATCH, n - pos)
        if limit < _MIN_MATCH:
            return 0, 0
        cand = insert(pos)
        best, dist, chain, floor = _MIN_MATCH - 1, 0, _MAX_CHAIN, pos - _WINDOW
        while cand >= floor and cand >= 0 and chain:
            if data[cand + best] == data[pos + best]:
                length = _MIN_MATCH  # the hash key is the first three bytes themselves
                while (
                    length + 8 <= limit
                    and data[cand + length : cand + length + 8] == data[pos + length : pos + length + 8]
                ):
                    length += 8
                while length < limit and data[cand + length] == data[pos + length]:
                    length += 1
                if length > best:
                    best, dist = length, pos - cand
                    if length >= _NICE or length >= limit:
                        break
            cand = prev[cand]
            chain -= 1
        return (best, dist) if dist else (0, 0)

    tokens: Tokens = []
    i = 0
    pending = longest(0) if n else (0, 0)
    while i < n:
        length, dist = pending
        if length < _MIN_MATCH:
            tokens.append(data[i])
            i += 1
            pending = longest(i) if i < n else (0, 0)
            continue
        inserted = i + 1
        if length < _MAX_LAZY and i + 1 < n:
            nxt = longest(i + 1)
            if nxt[0] > length:
                tokens.append(data[i])
                i += 1
                pending = nxt
                continue
            inserted = i + 2
        for pos in range(inserted, min(i + length, n - 2)):
            insert(pos)
        tokens.append(length << 16 | dist)
        i += length
        pending = longest(i) if i < n else (0, 0)
    return tokens


class _BitWriter:
    """Bits into ``out``, least significant first, as deflate packs them."""

    def __init__(self, out: bytearray) -> None:
        self.out = out
        self.acc = 0
        self.nbits = 0

    def write(self, value: int, nbits: int) -> None:
        self.acc |= value << self.nbits
        self.nbits += nbits
        if self.nbits >= _FLUSH_BITS:
            self.out += (self.acc & ((1 << _FLUSH_BITS) - 1)).to_bytes(_FLUSH_BITS // 8, "little")
            self.acc >>= _FLUSH_BITS
            self.nbits -= _FLUSH_BITS

    def align(self) -> None:
        """Pad to a byte boundary and flush every whole byte."""
        nbytes = (self.nbits + 7) // 8
        self.out += self.acc.to_bytes(nbytes, "little")
        self.acc = self.nbits = 0

    def finish(self) -> None:
        self.align()


def _code_lengths(freqs: list[int], limit: int) -> list[int]:
    """Optimal code lengths of at most ``limit`` bits (package-merge); at least two codes, so the
    code is complete (zlib's inflate refuses an incomplete one)."""
    freqs = list(freqs)
    used = [s for s, f in enumerate(freqs) if f]
    for s in range(len(freqs)):
        if len(used) >= 2:
            break
        if not freqs[s]:
            freqs[s] = 1
            used.append(s)
    leaves = sorted([(freqs[s], s) for s in used])
    # An item is (weight, order, node); a node is a symbol (int) or a pair of items' nodes.
    leaf_items = [(w, k, s) for k, (w, s) in enumerate(leaves)]
    level: list[tuple[int, int, object]] = list(leaf_items)
    for _ in range(limit - 1):
        packages = [
            (level[j][0] + level[j + 1][0], len(leaf_items) + j, (level[j][2], level[j + 1][2]))
            for j in range(0, len(level) - 1, 2)
        ]
        level = list(heapq.merge(leaf_items, packages, key=lambda item: (item[0], item[1])))
    lengths = [0] * len(freqs)
    stack = [item[2] for item in level[: 2 * len(leaves) - 2]]
    while stack:
        node = stack.pop()
        if isinstance(node, int):
            lengths[node] += 1
        else:
            stack.extend(cast("tuple[object, object]", node))
    return lengths


def _codes(lengths: list[int]) -> list[tuple[int, int]]:
    """Canonical codes (RFC 1951 3.2.2), bit-reversed for the LSB-first writer: (code, length)."""
    max_len = max(lengths, default=0)
    count = [0] * (max_len + 1)
    for n in lengths:
        if n:
            count[n] += 1
    next_code = [0] * (max_len + 2)
    code = 0
    for bits in range(1, max_len + 1):
        code = (code + count[bits - 1]) << 1 if bits > 1 else 0
        next_code[bits] = code
    out: list[tuple[int, int]] = []
    for n in lengths:
        if not n:
            out.append((0, 0))
            continue
        c = next_code[n]
        next_code[n] += 1
        out.append((int(format(c, f"0{n}b")[::-1], 2), n))
    return out


def _rle(lengths: list[int]) -> list[tuple[int, int, int]]:
    """The code lengths as code length symbols: (symbol, extra bits, extra value); 16-18 repeat."""
    out: list[tuple[int, int, int]] = []
    i, n = 0, len(lengths)
    while i < n:
        value, run = lengths[i], 1
        while i + run < n and lengths[i + run] == value:
            run += 1
        i += run
        if value == 0:
            while run >= 11:
                take = min(run, 138)
                out.append((18, 7, take - 11))
                run -= take
            if run >= 3:
                out.append((17, 3, run - 3))
                run = 0
            out.extend([(0, 0, 0)] * run)
        else:
            out.append((value, 0, 0))
            run -= 1
            while run >= 3:
                take = min(run, 6)
                out.append((16, 2, take - 3))
                run -= take
            out.extend([(value, 0, 0)] * run)
    return out


def _write_block(w: _BitWriter, block: Tokens, data: bytes, start: int, span: int, *, final: bool) -> None:
    """One block, in whichever of the three codings is the smallest for it."""
    lit_freq = [0] * 286
    dist_freq = [0] * 30
    extra = 0
    for t in block:
        if t < 256:
            lit_freq[t] += 1
        else:
            lc, dc = _LEN_CODE[t >> 16], _DIST_CODE[t & 0xFFFF]
            lit_freq[257 + lc] += 1
            dist_freq[dc] += 1
            extra += _LEXT[lc] + _DEXT[dc]
    lit_freq[256] = 1
    lit_len = _code_lengths(lit_freq, 15)
    dist_len = _code_lengths(dist_freq, 15)
    hlit = max(257, max(s for s, n in enumerate(lit_len) if n) + 1)
    hdist = max(1, max(s for s, n in enumerate(dist_len) if n) + 1)
    symbols = _rle(lit_len[:hlit] + dist_len[:hdist])
    cl_freq = [0] * 19
    for sym, _, _ in symbols:
        cl_freq[sym] += 1
    cl_len = _code_lengths(cl_freq, 7)
    hclen = max(4, max(k for k, s in enumerate(_CL_ORDER) if cl_len[s]) + 1)

    def cost(lit: list[int], dist: list[int]) -> int:
        return sum([f * n for f, n in zip(lit_freq, lit)]) + sum([f * n for f, n in zip(dist_freq, dist)]) + extra

    dynamic = 3 + 14 + 3 * hclen + sum([cl_len[s] + x for s, x, _ in symbols]) + cost(lit_len, dist_len)
    fixed = 3 + cost(_FIXED_LIT, _FIXED_DIST)
    stored = 3 + 7 + 32 + 8 * span if span <= 0xFFFF else None
    if stored is not None and stored <= min(dynamic, fixed):
        w.write(int(final), 3)  # BTYPE 00
        w.align()
        w.out += span.to_bytes(2, "little") + (span ^ 0xFFFF).to_bytes(2, "little") + data[start : start + span]
        return
    if fixed <= dynamic:
        w.write(int(final) | 1 << 1, 3)
        _write_tokens(w, block, _codes(_FIXED_LIT), _codes(_FIXED_DIST))
        return
    w.write(int(final) | 2 << 1, 3)
    w.write(hlit - 257 | (hdist - 1) << 5 | (hclen - 4) << 10, 14)
    for s in _CL_ORDER[:hclen]:
        w.write(cl_len[s], 3)
    cl_codes = _codes(cl_len)
    for sym, nbits, value in symbols:
        code, n = cl_codes[sym]
        w.write(code | value << n, n + nbits)
    _write_tokens(w, block, _codes(lit_len), _codes(dist_len))


def _write_tokens(w: _BitWriter, block: Tokens, lit: list[tuple[int, int]], dist: list[tuple[int, int]]) -> None:
    write = w.write
    for t in block:
        if t < 256:
            write(*lit[t])
            continue
        length, d = t >> 16, t & 0xFFFF
        lc, dc = _LEN_CODE[length], _DIST_CODE[d]
        code, n = lit[257 + lc]
        value, bits = code | (length - _LBASE[lc]) << n, n + _LEXT[lc]
        dcode, dn = dist[dc]
        value |= (dcode | (d - _DBASE[dc]) << dn) << bits
        write(value, bits + dn + _DEXT[dc])
    write(*lit[256])


__all__ = ["zlib_compress"]
