"""A bounded reader of an engine's archive stream: a file object over byte chunks that decompresses
(gzip, bzip2, xz) and refuses past a byte limit, headers included. Every reader of a tar from the
engine goes through it: extract.py (artifacts) and volume.py (init-packs' volume).
"""

from __future__ import annotations

import bz2
import lzma
import zlib
from collections.abc import Iterable, Iterator

__all__ = ["BoundedChunkReader", "StreamRejected"]

_CHUNK = 1 << 20


class StreamRejected(Exception):
    """Raised inside the stream reader; turned into ArtifactRejected where the member is known."""


class BoundedChunkReader:
    """A read-only file object over an iterator of byte chunks, transparently decompressing.

    Counts the (decompressed) bytes it hands out and refuses past ``limit``, so tarfile can never
    read an oversized stream, however the excess is hidden (one huge pax header, a gzip bomb).
    """

    def __init__(self, chunks: Iterable[bytes], *, limit: int) -> None:
        self._chunks: Iterator[bytes] = iter(chunks)
        self._limit = limit
        self._raw_seen = 0
        self._handed_out = 0
        self._buf = bytearray()
        self._decoder: _Decoder | None = None
        self._started = False
        self._eof = False

    def _next_raw(self) -> bytes:
        for chunk in self._chunks:
            if not chunk:
                continue
            self._raw_seen += len(chunk)
            # Compressed input is bounded too: a stream of empty deflate blocks inflates to nothing.
            if self._raw_seen > self._limit:
                raise StreamRejected(f"the archive stream passes {self._limit} bytes")
            return bytes(chunk)
        return b""

    def _start(self) -> None:
        """Sniff the compression from the first bytes and set up a bounded decompressor."""
        self._started = True
        head = b""
        while len(head) < 6:
            more = self._next_raw()
            if not more:
                break
            head += more
        if head.startswith(b"\x1f\x8b"):
            self._decoder = _Decoder(zlib.decompressobj(wbits=16 + zlib.MAX_WBITS))
        elif head.startswith(b"BZh"):
            self._decoder = _Decoder(bz2.BZ2Decompressor())
        elif head.startswith(b"\xfd7zXZ\x00"):
            self._decoder = _Decoder(lzma.LZMADecompressor())
        if self._decoder is not None:
            self._decoder.pending = head
        else:
            self._buf += head
            self._eof = not head

    def _fill(self) -> bool:
        """Append more (decompressed) bytes to the buffer; False at the end of the stream."""
        if self._eof:
            return False
        if self._decoder is None:
            data = self._next_raw()
            if not data:
                self._eof = True
                return False
            self._buf += data
            return True
        while not self._decoder.done:
            wanted = self._decoder.wants_input
            data = self._next_raw() if wanted else b""
            # Stepping with b"" also flushes what a decompressor still holds at the end of input.
            out = self._decoder.step(data)
            if out:
                self._buf += out
                return True
            if wanted and not data and not self._decoder.done:
                raise StreamRejected("the compressed archive ends early")
        # Whatever follows the compressed stream (a second gzip member, junk) is not part of the
        # tar and is never read.
        self._eof = True
        return False

    def read(self, size: int = -1) -> bytes:
        """Read up to ``size`` bytes (all, if negative), refusing past the limit."""
        if not self._started:
            self._start()
        while (size < 0 or len(self._buf) < size) and self._fill():
            if len(self._buf) + self._handed_out > self._limit:
                raise StreamRejected(f"the archive stream passes {self._limit} bytes")
        n = len(self._buf) if size < 0 else min(size, len(self._buf))
        if self._handed_out + n > self._limit:
            raise StreamRejected(f"the archive stream passes {self._limit} bytes")
        out = bytes(self._buf[:n])
        del self._buf[:n]
        self._handed_out += n
        return out

    def close(self) -> None:
        """Close the chunk iterator when it is a generator (docker-py's stream is one)."""
        close = getattr(self._chunks, "close", None)
        if callable(close):
            close()


class _Decoder:
    """One interface over zlib/bz2/lzma decompressors, each producing at most one chunk per step."""

    def __init__(self, d: zlib._Decompress | bz2.BZ2Decompressor | lzma.LZMADecompressor) -> None:
        self._d = d
        self.pending = b""  # raw bytes read while sniffing, not yet decompressed

    @property
    def done(self) -> bool:
        return bool(self._d.eof)

    @property
    def wants_input(self) -> bool:
        if self.pending:
            return False
        if isinstance(self._d, (bz2.BZ2Decompressor, lzma.LZMADecompressor)):
            return bool(self._d.needs_input)
        return not self._d.unconsumed_tail

    def step(self, data: bytes) -> bytes:
        if self.pending:
            data, self.pending = self.pending + data, b""
        try:
            # max_length keeps one small chunk from inflating into gigabytes of memory.
            if isinstance(self._d, (bz2.BZ2Decompressor, lzma.LZMADecompressor)):
                return self._d.decompress(data, _CHUNK)
            return self._d.decompress(self._d.unconsumed_tail + data, _CHUNK)
        except (zlib.error, lzma.LZMAError, OSError, EOFError) as e:
            raise StreamRejected(f"the compressed archive is corrupt ({e})") from e
