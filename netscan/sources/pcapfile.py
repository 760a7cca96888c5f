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
from netscan.sources.pcapng import (
    MAX_BLOCK,
    PACKET_BLOCKS,
    SHB_MAGIC,
    BlockReader,
    Interface,
    PcapngError,
    endian_of,
    read_idb,
)

PCAP_MAGICS = {
    b"\xd4\xc3\xb2\xa1": ("<", 1e-6),
    b"\xa1\xb2\xc3\xd4": (">", 1e-6),
    b"\x4d\x3c\xb2\xa1": ("<", 1e-9),
    b"\xa1\xb2\x3c\x4d": (">", 1e-9),
}
PCAPNG_SHB = SHB_MAGIC
GZIP_MAGIC = b"\x1f\x8b"
RELEASE_EVERY = 32 * 1024 * 1024  # give read pages of a mapped file back this often
# MAX_BLOCK (from pcapng): larger pcapng blocks (and streamed pcap records) are corrupt
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
            if endian_of(bytes(self.buf[8:12])) is None:
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
        # a pcapng file's interface statistics (``InputInfo.statistics``), once read
        self.statistics: dict[str, int] | None = None
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

    def interface_statistics(self) -> dict[str, int] | None:
        """A pcapng file's interface statistics (``InputInfo.statistics``): its blocks read
        for them alone (a gzip stream is read through); None for a pcap file, or when the
        file gives none. Up to damage, as the records are."""
        if self.format != "pcapng":
            return None
        if self.streamed:
            for _ in self.records():
                pass
            return self.statistics
        buf, size, off = self.buf, self.size, 0
        reader = BlockReader(check_trailer=False)
        while off + 12 <= size:
            try:
                btype, blen = reader.header(buf, off)
                if off + blen > size:
                    break
                if btype not in PACKET_BLOCKS:
                    reader.block(buf, off, btype, off + blen)
            except (PcapngError, struct.error):
                break
            off += blen
        self.statistics = reader.statistics()
        return self.statistics

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
        off = 0
        reader = BlockReader(check_trailer=False)
        seg = Segment(0, None, 0, ("<", []))
        while off + 12 <= size:
            try:
                btype, blen = reader.header(buf, off)
            except PcapngError:
                break
            if off + blen > size:
                break
            if btype in PACKET_BLOCKS:
                reader.frame += 1
            elif btype == 1:  # Interface Description Block
                reader.ifaces.append(read_idb(buf, off + 8, off + blen, reader.endian))
            off += blen
            if off - seg.start >= target and len(cuts) < parts - 1 and btype in PACKET_BLOCKS:
                cuts.append(Segment(seg.start, off, seg.frame0, seg.state))
                seg = Segment(off, None, reader.frame, reader.state())
        cuts.append(seg)
        return cuts

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
        reader = BlockReader(endian, ifaces, frame)
        reader.linktypes = self.linktypes
        step = reader.next
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
                        stream,
                        f"truncated block after frame {reader.frame}; analysed up to the cut",
                    )
                    break
                try:
                    end, pkt = step(buf, off, size)
                except PcapngError as exc:
                    self.warn(f"{exc}; analysed up to it")
                    break
                if end < 0:
                    if stream is not None:
                        need = reader.header(buf, off)[1] - (size - off)
                        more = self._refill(stream, buf, off, need)
                        if more is not None:
                            buf, off, size = more, 0, len(more)
                            continue
                    self._cut(
                        stream,
                        f"truncated last block (after frame {reader.frame}); analysed up to the cut",
                    )
                    break
                if pkt is not None:
                    ts = pkt[0]
                    if self.first_ts is None:
                        self.first_ts = ts
                    if stream is None:
                        self.position = end
                    yield (index, reader.frame, ts, pkt[1], buf[pkt[2] : pkt[3]], pkt[4])
                off = end
        finally:
            self._done(reader.frame, reader.last_ts if reader.frame else None, stream)
            if start == 0 and stop is None:
                self.statistics = reader.statistics()
