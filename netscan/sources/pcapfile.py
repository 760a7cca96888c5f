"""Capture file reader: pcap (µs/ns, both byte orders), pcapng (SHB/IDB/EPB/SPB/PB), gzip.

Yields one ``Record`` tuple per packet: ``(frame, ts, linktype, data, wirelen)``. ``frame``
counts packets exactly as Wireshark numbers them (every packet block, in file order). A
truncated last record or a corrupt block ends the file early: the records before it are
yielded, and ``warnings`` says what happened. A file that is not a capture raises
``CaptureError`` before any record is yielded.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

from netscan import limits
from netscan.sources.gzstream import GzipStream

PCAP_MAGICS = {
    b"\xd4\xc3\xb2\xa1": ("<", 1e-6),
    b"\xa1\xb2\xc3\xd4": (">", 1e-6),
    b"\x4d\x3c\xb2\xa1": ("<", 1e-9),
    b"\xa1\xb2\x3c\x4d": (">", 1e-9),
}
PCAPNG_SHB = b"\x0a\x0d\x0d\x0a"
GZIP_MAGIC = b"\x1f\x8b"
RELEASE_EVERY = 32 * 1024 * 1024  # give read pages of a mapped file back this often
MAX_BLOCK = 64 * 1024 * 1024  # larger pcapng blocks (and streamed pcap records) are corrupt
STREAM_WINDOW = 1 << 20  # decompressed bytes added to a streamed file's window at a time


class CaptureError(Exception):
    """The input cannot be read as a capture at all."""


class Record(NamedTuple):
    frame: int
    ts: float
    linktype: int
    data: bytes
    wirelen: int


RawRecord = tuple[int, int, float, int, bytes, int]


class Segment(NamedTuple):
    """A byte range of a capture file that starts at a record boundary."""

    start: int
    stop: int | None
    frame0: int  # frames before the segment
    state: tuple[str, list[Interface]] | None  # pcapng: byte order and interfaces so far


class Interface(NamedTuple):
    linktype: int
    snaplen: int
    tsres: float  # seconds per timestamp unit
    tsoffset: int  # seconds


def _open_bytes(path: Path, gunzip: int, ratio: int) -> bytes | mmap.mmap | GzipStream:
    """The file mapped, or (gzip) a stream over its decompressed bytes."""
    try:
        size = path.stat().st_size
        if path.is_dir():
            raise CaptureError(f"{path}: is a directory, not a capture file")
        fh = path.open("rb")
        streamed = False
        try:
            if fh.read(2) == GZIP_MAGIC:
                fh.seek(0)
                streamed = True
                return GzipStream(fh, gunzip, ratio)
            if size == 0:
                return b""
            return mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        finally:
            if not streamed:
                fh.close()
    except FileNotFoundError:
        raise CaptureError(f"{path}: no such file") from None
    except PermissionError:
        raise CaptureError(f"{path}: permission denied") from None
    except IsADirectoryError:
        raise CaptureError(f"{path}: is a directory, not a capture file") from None
    except OSError as exc:
        raise CaptureError(f"{path}: cannot read ({exc.strerror or exc})") from None


class CaptureFile:
    """One capture file. Iterate it for records; read ``warnings`` afterwards."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        index: int = 0,
        gunzip: int | None = None,
        gunzip_ratio: int | None = None,
    ) -> None:
        self.path = Path(path)
        self.index = index  # this file's position in the run's inputs
        self.warnings: list[str] = []
        lim = limits.resolve(None)
        self.gunzip = lim.gunzip if gunzip is None else gunzip
        self.gunzip_ratio = lim.gunzip_ratio if gunzip_ratio is None else gunzip_ratio
        opened = _open_bytes(self.path, self.gunzip, self.gunzip_ratio)
        self.streamed = isinstance(opened, GzipStream)
        self._stream: GzipStream | None = None
        if isinstance(opened, GzipStream):
            # gzip: read as a stream, a window at a time; ``size`` is the file's size on
            # disk and ``position`` the compressed bytes read (for progress)
            self._stream = opened
            self.buf: bytes | mmap.mmap = opened.read(STREAM_WINDOW)
            self._first_window: bytes | None = bytes(self.buf)
            if len(self.buf) < STREAM_WINDOW:
                # everything, or a problem already: say which before judging the content
                if len(self.buf) < 24 and opened.problems:
                    opened.fh.close()
                    raise CaptureError(f"{self.path}: {opened.problems[0]}")
            self.size = self.path.stat().st_size
        else:
            self.buf = opened
            self._first_window = None
            self.size = len(self.buf)
        head = bytes(self.buf[:4])
        if len(self.buf) == 0:
            self.close()
            raise CaptureError(f"{self.path}: empty file, not a capture")
        if head in PCAP_MAGICS:
            self.format = "pcap"
            if len(self.buf) < 24:
                self.close()
                raise CaptureError(f"{self.path}: pcap header cut short")
        elif head == PCAPNG_SHB:
            self.format = "pcapng"
            if len(self.buf) < 12:
                self.close()
                raise CaptureError(f"{self.path}: pcapng header cut short")
            bom = bytes(self.buf[8:12])
            if bom not in (b"\x4d\x3c\x2b\x1a", b"\x1a\x2b\x3c\x4d"):
                self.close()
                raise CaptureError(f"{self.path}: pcapng byte-order magic is wrong")
        else:
            self.close()
            raise CaptureError(
                f"{self.path}: not a pcap or pcapng capture (unknown magic {head.hex()})"
            )
        self._head = bytes(self.buf[:24])
        self.position = 0  # bytes consumed so far, for progress
        self.linktypes: set[int] = set()
        self.frames = 0  # records read so far (set when iteration ends)
        self._released = 0  # mapped bytes handed back to the kernel
        self.first_ts: float | None = None
        self.last_ts: float | None = None

    def warn(self, msg: str) -> None:
        if msg not in self.warnings:
            self.warnings.append(msg)

    def __iter__(self) -> Iterator[Record]:
        for _i, frame, ts, linktype, data, wirelen in self.records():
            yield Record(frame, ts, linktype, data, wirelen)

    def records(self, segment: Segment | None = None) -> Iterator[RawRecord]:
        """The fast path: plain ``(file_index, frame, ts, linktype, data, wirelen)`` tuples,
        of the whole file or of one ``Segment`` of it."""
        if segment is None:
            return self._iter_pcap() if self.format == "pcap" else self._iter_pcapng()
        if self.format == "pcap":
            return self._iter_pcap(segment.start, segment.stop, segment.frame0)
        return self._iter_pcapng(segment.start, segment.stop, segment.frame0, segment.state)

    def split(self, parts: int) -> list[Segment]:
        """Cut the file into about ``parts`` segments of similar size at record boundaries,
        each knowing the frame number before it (so numbering stays Wireshark's)."""
        if self.streamed:  # a stream is read in one piece
            if self.format == "pcap":
                return [Segment(24, None, 0, None)]
            return [Segment(0, None, 0, ("<", []))]
        size = self.size
        target = max(1, size // max(1, parts))
        cuts: list[Segment] = []
        buf = self.buf
        if self.format == "pcap":
            endian = self._pcap_header()[0]
            unpack = struct.Struct(endian + "IIII").unpack_from
            off, frame, seg_start, seg_frame = 24, 0, 24, 0
            while off + 16 <= size:
                incl = unpack(buf, off)[2]
                nxt = off + 16 + incl
                if nxt > size:
                    break
                frame += 1
                off = nxt
                if off - seg_start >= target and len(cuts) < parts - 1:
                    cuts.append(Segment(seg_start, off, seg_frame, None))
                    seg_start, seg_frame = off, frame
            cuts.append(Segment(seg_start, None, seg_frame, None))
            return cuts
        off, frame, endian = 0, 0, "<"
        ifaces: list[Interface] = []
        seg = Segment(0, None, 0, ("<", []))
        while off + 12 <= size:
            if bytes(buf[off : off + 4]) == PCAPNG_SHB:
                endian = "<" if bytes(buf[off + 8 : off + 12]) == b"\x4d\x3c\x2b\x1a" else ">"
                ifaces = []
            btype, blen = struct.unpack_from(endian + "II", buf, off)
            if blen < 12 or off + blen > size:
                break
            if btype in (2, 3, 6):
                frame += 1
            elif btype == 1:
                ifaces.append(self._idb(buf, off + 8, off + blen, endian))
            off += blen
            if off - seg.start >= target and len(cuts) < parts - 1 and btype in (2, 3, 6):
                cuts.append(Segment(seg.start, off, seg.frame0, seg.state))
                seg = Segment(off, None, frame, (endian, list(ifaces)))
        cuts.append(seg)
        return cuts

    @staticmethod
    def _idb(buf: bytes | mmap.mmap, body: int, end: int, endian: str) -> Interface:
        linktype, _res, snaplen = struct.unpack_from(endian + "HHI", buf, body)
        tsres, tsoffset = 1e-6, 0
        opt = body + 8
        while opt + 4 <= end - 4:
            code, olen = struct.unpack_from(endian + "HH", buf, opt)
            if code == 0:
                break
            val = opt + 4
            if code == 9 and olen >= 1:
                r = buf[val]
                tsres = 2.0 ** -(r & 0x7F) if r & 0x80 else 10.0**-r
            elif code == 14 and olen >= 8:
                (tsoffset,) = struct.unpack_from(endian + "q", buf, val)
            opt = val + ((olen + 3) & ~3)
        return Interface(linktype, snaplen, tsres, tsoffset)

    def _release(self, upto: int) -> int:
        """Let the kernel drop the mapped pages already read: memory stays flat however
        large the file (they remain in the page cache, just not in this process)."""
        buf = self.buf
        if isinstance(buf, mmap.mmap) and hasattr(mmap, "MADV_DONTNEED"):
            start = self._released
            stop = (upto // mmap.PAGESIZE) * mmap.PAGESIZE
            if stop > start:
                with contextlib.suppress(OSError, ValueError):
                    buf.madvise(mmap.MADV_DONTNEED, start, stop - start)
                self._released = stop
        return upto + RELEASE_EVERY

    def _done(self, frame: int, last_ts: float | None, stream: GzipStream | None) -> None:
        self.frames = frame
        self.last_ts = last_ts
        if stream is not None:
            self.position = stream.consumed
            for problem in stream.problems:
                self.warn(problem)
            stream.fh.close()

    def _window(self) -> tuple[bytes | mmap.mmap, GzipStream | None]:
        """Where an iteration starts: the mapped file, or a gzip stream's first window."""
        if not self.streamed:
            return self.buf, None
        if self._first_window is not None and self._stream is not None:
            buf, stream = self._first_window, self._stream
            self._first_window = None
            return buf, stream
        try:
            stream = GzipStream(self.path.open("rb"), self.gunzip, self.gunzip_ratio)
        except OSError as exc:
            raise CaptureError(f"{self.path}: cannot read ({exc.strerror or exc})") from None
        self._stream = stream
        return stream.read(STREAM_WINDOW), stream

    def _refill(
        self, stream: GzipStream, buf: bytes | mmap.mmap, off: int, need: int
    ) -> bytes | None:
        """The streamed window moved on: the bytes from ``off`` and at least ``need`` more
        if the stream has them; None when it has nothing more."""
        parts = [bytes(buf[off:])]
        have = 0
        while have < need:
            chunk = stream.read(max(STREAM_WINDOW, need - have))
            if not chunk:
                break
            parts.append(chunk)
            have += len(chunk)
        self.position = stream.consumed
        return b"".join(parts) if have else None

    def _cut(self, stream: GzipStream | None, msg: str) -> None:
        """A record cut short: say so, unless the gunzip cap cut it (that has its warning)."""
        if stream is None or not stream.capped:
            self.warn(msg)

    def close(self) -> None:
        if isinstance(self.buf, mmap.mmap):
            self.buf.close()
        if self._stream is not None:
            self._stream.fh.close()

    # -- pcap -------------------------------------------------------------------------

    def _pcap_header(self) -> tuple[str, float, int, int]:
        endian, res = PCAP_MAGICS[self._head[:4]]
        _vmaj, _vmin, _tz, _sig, snaplen, network = struct.unpack_from(
            endian + "HHiIII", self._head, 4
        )
        return endian, res, snaplen, network & 0xFFFF  # upper bits may carry FCS information

    def _iter_pcap(
        self, start: int = 24, stop: int | None = None, frame: int = 0
    ) -> Iterator[RawRecord]:
        buf, stream = self._window()
        endian, res, snaplen, linktype = self._pcap_header()
        self.linktypes.add(linktype)
        unpack = struct.Struct(endian + "IIII").unpack_from
        size = len(buf)
        chunk_end = size if stop is None else stop
        if stream is not None:
            chunk_end = 1 << 62  # the window moves; the stream's end ends the loop
        index = self.index
        off = start
        ts = None
        limit = max(snaplen, 1 << 20)
        if stream is not None:
            limit = min(limit, MAX_BLOCK)  # a streamed record is held whole in memory
        release_at = off + RELEASE_EVERY
        try:
            while off < chunk_end:
                if off + 16 > size:
                    if stream is not None:
                        more = self._refill(stream, buf, off, off + 16 - size)
                        if more is not None:
                            buf, off, size = more, 0, len(more)
                            continue
                        if off == size:
                            break
                    self._cut(
                        stream,
                        f"truncated record header after frame {frame}; analysed up to the cut",
                    )
                    break
                sec, frac, incl, orig = unpack(buf, off)
                if incl > limit:
                    self.warn(
                        f"corrupt record after frame {frame} (length {incl}); analysed up to it"
                    )
                    break
                end = off + 16 + incl
                if end > size:
                    if stream is not None:
                        more = self._refill(stream, buf, off, end - size)
                        if more is not None:
                            buf, off, size = more, 0, len(more)
                            continue
                    self._cut(
                        stream, f"truncated last record (frame {frame + 1}); analysed up to the cut"
                    )
                    break
                frame += 1
                if stream is None:
                    self.position = end
                if end >= release_at:
                    release_at = self._release(end)
                ts = sec + frac * res
                if self.first_ts is None:
                    self.first_ts = ts
                yield (index, frame, ts, linktype, buf[off + 16 : end], orig)
                off = end
        finally:
            self._done(frame, ts, stream)

    # -- pcapng -----------------------------------------------------------------------

    def _iter_pcapng(
        self,
        start: int = 0,
        stop: int | None = None,
        frame: int = 0,
        state: tuple[str, list[Interface]] | None = None,
    ) -> Iterator[RawRecord]:
        buf, stream = self._window()
        size = len(buf)
        chunk_end = size if stop is None else stop
        if stream is not None:
            chunk_end = 1 << 62  # the window moves; the stream's end ends the loop
        off = start
        endian, ifaces = state if state is not None else ("<", [])
        ifaces = list(ifaces)
        last_ts = 0.0
        index = self.index
        release_at = off + RELEASE_EVERY
        try:
            while off < chunk_end:
                if off >= release_at:
                    release_at = self._release(off)
                if off + 12 > size:
                    if stream is not None:
                        more = self._refill(stream, buf, off, off + 12 - size)
                        if more is not None:
                            buf, off, size = more, 0, len(more)
                            continue
                        if off == size:
                            break
                    self._cut(
                        stream, f"truncated block after frame {frame}; analysed up to the cut"
                    )
                    break
                raw_type = bytes(buf[off : off + 4])
                if raw_type == PCAPNG_SHB:
                    bom = bytes(buf[off + 8 : off + 12])
                    if bom == b"\x4d\x3c\x2b\x1a":
                        endian = "<"
                    elif bom == b"\x1a\x2b\x3c\x4d":
                        endian = ">"
                    else:
                        self.warn(f"corrupt section header after frame {frame}; analysed up to it")
                        break
                    ifaces = []
                btype, blen = struct.unpack_from(endian + "II", buf, off)
                if blen < 12 or blen % 4 or blen > MAX_BLOCK:
                    self.warn(
                        f"corrupt block after frame {frame} (length {blen}); analysed up to it"
                    )
                    break
                end = off + blen
                if end > size:
                    if stream is not None:
                        more = self._refill(stream, buf, off, end - size)
                        if more is not None:
                            buf, off, size = more, 0, len(more)
                            continue
                    self._cut(
                        stream,
                        f"truncated last block (after frame {frame}); analysed up to the cut",
                    )
                    break
                (trailer,) = struct.unpack_from(endian + "I", buf, end - 4)
                if trailer != blen:
                    self.warn(
                        f"corrupt block after frame {frame} (length mismatch); analysed up to it"
                    )
                    break
                body = off + 8
                if btype == 6 or btype == 2:  # Enhanced Packet Block, obsolete Packet Block
                    if btype == 6:
                        iid, hi, lo, cap, orig = struct.unpack_from(endian + "IIIII", buf, body)
                    else:
                        iid, _drops, hi, lo, cap, orig = struct.unpack_from(
                            endian + "HHIIII", buf, body
                        )
                    if iid >= len(ifaces) or body + 20 + cap > end - 4:
                        self.warn(f"corrupt packet block at frame {frame + 1}; analysed up to it")
                        break
                    itf = ifaces[iid]
                    frame += 1
                    last_ts = ((hi << 32) | lo) * itf.tsres + itf.tsoffset
                    if self.first_ts is None:
                        self.first_ts = last_ts
                    if stream is None:
                        self.position = end
                    data = buf[body + 20 : body + 20 + cap]
                    yield (index, frame, last_ts, itf.linktype, data, orig)
                elif btype == 3:  # Simple Packet Block
                    if not ifaces:
                        self.warn("simple packet block before any interface; analysed up to it")
                        break
                    (orig,) = struct.unpack_from(endian + "I", buf, body)
                    itf = ifaces[0]
                    avail = end - 4 - (body + 4)
                    cap = min(orig, avail)
                    if itf.snaplen:
                        cap = min(cap, itf.snaplen)
                    frame += 1
                    if stream is None:
                        self.position = end
                    data = buf[body + 4 : body + 4 + cap]
                    yield (index, frame, last_ts, itf.linktype, data, orig)
                elif btype == 1:  # Interface Description Block
                    itf = self._idb(buf, body, end, endian)
                    ifaces.append(itf)
                    self.linktypes.add(itf.linktype)
                off = end
        finally:
            self._done(frame, last_ts if frame else None, stream)
