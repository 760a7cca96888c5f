"""gzip, streamed and checked: bounded memory and a cap on what a small file may expand to.

``GzipStream`` reads a gzip file (RFC 1952) member after member and hands out the
decompressed bytes in pieces. Each member's CRC-32 and length trailer is checked; a
mismatch, a cut stream or corrupt deflate data is recorded in ``problems`` (one line
each) and everything decompressed before the damage has already been handed out, so
nothing readable is lost. Decompression stops at ``limit`` bytes (a gzip bomb expands a
thousandfold), and once past ``RATIO_FLOOR`` bytes, as soon as the data has grown to
``ratio`` times the compressed bytes read (real captures compress a few times, a bomb a
thousand); ``capped`` then says so.
"""

from __future__ import annotations

import zlib
from typing import BinaryIO

from netscan.limits import human

READ = 64 * 1024  # compressed bytes read at a time
MAX_HEADER = 1 << 20  # a member header (name, comment, extra field) longer than this is corrupt
RATIO_FLOOR = 256 << 20  # the expansion ratio is only judged past this many bytes
REPLAY_STEP = 1  # compressed bytes per step when recovering the output before damage

_FTEXT, _FHCRC, _FEXTRA, _FNAME, _FCOMMENT = 1, 2, 4, 8, 16


class GzipStream:
    def __init__(self, fh: BinaryIO, limit: int, ratio: int = 0) -> None:
        self.fh = fh
        self.limit = limit
        self.ratio = ratio  # 0: no ratio check
        self.out = 0  # decompressed bytes handed out
        self.members = 0  # members started
        self.problems: list[str] = []
        self.capped = False
        self.damaged = False  # an integrity problem (CRC, length, cut, corrupt data)
        self._pending = b""  # compressed bytes read, not yet given to a decompressor
        self._eof = False  # the file has no more bytes
        self._d: zlib._Decompress | None = None  # current member's decompressor
        self._crc = 0
        self._len = 0
        self._done = False

    @property
    def consumed(self) -> int:
        """Compressed bytes read from the file so far (for progress)."""
        try:
            return self.fh.tell()
        except (OSError, ValueError):
            return 0

    # -- raw input ----------------------------------------------------------------------

    def _fill(self, n: int) -> bool:
        """Have at least ``n`` compressed bytes pending, if the file has them."""
        while len(self._pending) < n and not self._eof:
            chunk = self.fh.read(max(READ, n - len(self._pending)))
            if not chunk:
                self._eof = True
                break
            self._pending += chunk
        return len(self._pending) >= n

    def _problem(self, msg: str, damage: bool = True) -> None:
        self.problems.append(msg)
        self.damaged = self.damaged or damage
        self._done = True

    # -- members ------------------------------------------------------------------------

    def _header(self) -> bool:
        """Start the next member; False at the end of the file (or on a problem)."""
        self._fill(10)
        data = self._pending
        if not data:
            return False
        if not data.startswith(b"\x1f\x8b"):
            if self.members and not data.strip(b"\0") and self._only_zeros():
                return False  # zero padding after the last member (tape and block tools)
            if self.members:
                self._problem(
                    f"data after gzip member {self.members} is not gzip; ignored "
                    f"(after {self.out:,} decompressed bytes)",
                    damage=False,
                )
            else:
                self._problem("not gzip data")
            return False
        if len(data) < 10:
            self._problem(f"gzip member {self.members + 1} header cut short")
            return False
        if data[2] != 8:
            self._problem(f"gzip member {self.members + 1} uses unknown compression {data[2]}")
            return False
        flags = data[3]
        pos = 10
        if flags & _FEXTRA:
            if not self._fill(pos + 2):
                self._problem(f"gzip member {self.members + 1} header cut short")
                return False
            pos += 2 + int.from_bytes(self._pending[pos : pos + 2], "little")
        for flag in (_FNAME, _FCOMMENT):
            if flags & flag:
                while True:
                    end = self._pending.find(b"\0", pos)
                    if end >= 0:
                        pos = end + 1
                        break
                    if len(self._pending) > MAX_HEADER or not self._fill(len(self._pending) + 1):
                        self._problem(f"gzip member {self.members + 1} header is corrupt")
                        return False
        if flags & _FHCRC:
            pos += 2
        if not self._fill(pos):
            self._problem(f"gzip member {self.members + 1} header cut short")
            return False
        self._pending = self._pending[pos:]
        self.members += 1
        self._d = zlib.decompressobj(-zlib.MAX_WBITS)
        self._crc = 0
        self._len = 0
        return True

    def _only_zeros(self) -> bool:
        while not self._eof:
            chunk = self.fh.read(READ)
            if not chunk:
                self._eof = True
            elif chunk.strip(b"\0"):
                self._pending += chunk
                return False
        return True

    def _trailer(self) -> None:
        assert self._d is not None
        self._pending = self._d.unused_data + self._pending
        self._d = None
        if not self._fill(8):
            self._problem(
                f"gzip integrity error: member {self.members} ends without its CRC-32 and "
                f"length trailer (cut after {self.out:,} decompressed bytes); analysed as read"
            )
            return
        crc = int.from_bytes(self._pending[:4], "little")
        size = int.from_bytes(self._pending[4:8], "little")
        self._pending = self._pending[8:]
        if crc != self._crc:
            self.problems.append(
                f"gzip integrity error: member {self.members} CRC-32 is {crc:08x} but its data "
                f"gives {self._crc:08x}: the capture is damaged somewhere in its "
                f"{self._len:,} bytes; analysed as read"
            )
            self.damaged = True
        if size != self._len & 0xFFFFFFFF:
            self.problems.append(
                f"gzip integrity error: member {self.members} length field says "
                f"{size:,} bytes (mod 2^32) but it holds {self._len:,}; analysed as read"
            )
            self.damaged = True

    # -- output -------------------------------------------------------------------------

    def read(self, n: int) -> bytes:
        """Up to ``n`` decompressed bytes (fewer near member ends); b"" at the end."""
        while not self._done:
            room = self.limit - self.out
            if self.ratio and self.out > RATIO_FLOOR and self.out > self.ratio * self.consumed:
                self.capped = True
                self._problem(
                    f"decompressed data grew to {self.out // max(1, self.consumed):,} times its "
                    f"compressed size after {self.out:,} bytes (gzip bomb?); the rest was not "
                    f"analysed (limit gunzip-ratio={self.ratio}; raise it with "
                    "--limit gunzip-ratio=N)",
                    damage=False,
                )
                break
            if room <= 0:
                self.capped = True
                self._problem(
                    f"decompressed data reached the gunzip limit of {human(self.limit)} "
                    f"({self.out:,} bytes read); the rest was not analysed "
                    "(raise it with --limit gunzip=SIZE)",
                    damage=False,
                )
                break
            if self._d is None:
                if not self._header():
                    self._done = True
                    break
            d = self._d
            assert d is not None
            want = min(n, room)
            if d.unconsumed_tail:
                data = d.unconsumed_tail
            else:
                if not self._pending and not self._fill(1):
                    self._problem(
                        f"gzip stream cut short in member {self.members} after "
                        f"{self.out:,} decompressed bytes; analysed up to the cut"
                    )
                    break
                data, self._pending = self._pending, b""
            saved = d.copy()
            try:
                out = d.decompress(data, want)
            except zlib.error as exc:
                out = self._recover(saved, data, want, exc)
            if d is self._d and d.eof:
                self._account(out)
                self._trailer()
                if out:
                    return out
                continue
            if out:
                self._account(out)
                return out
        return b""

    def _account(self, out: bytes) -> None:
        self._crc = zlib.crc32(out, self._crc)
        self._len += len(out)
        self.out += len(out)

    def _recover(self, d: zlib._Decompress, data: bytes, want: int, exc: zlib.error) -> bytes:
        """Corrupt deflate data: replay the input in small steps from the state before the
        failing call, so the output up to the damage is still handed out."""
        got: list[bytes] = []
        total = 0
        pos = 0
        try:
            while pos < len(data) and total < want:
                piece = d.unconsumed_tail or data[pos : pos + REPLAY_STEP]
                if not d.unconsumed_tail:
                    pos += REPLAY_STEP
                chunk = d.decompress(piece, want - total)
                got.append(chunk)
                total += len(chunk)
                if d.eof:
                    break
        except zlib.error:
            pass
        self._d = None
        out = b"".join(got)
        self._problem(
            f"gzip integrity error: corrupt compressed data in member {self.members} after "
            f"{self.out + len(out):,} decompressed bytes ({exc}); analysed up to the damage"
        )
        return out
