"""pcapng blocks, read and written in one place.

Reading: ``BlockReader`` holds what a section's blocks leave behind (byte order, interfaces,
frames numbered as Wireshark numbers them, the last timestamp) and decodes one complete block
at a time; the capture file reader (``pcapfile``) and the live ring follower (``live``) walk
their buffers with it, each with its own way of getting bytes. A damaged block raises
``PcapngError`` with a one-line reason.

Writing: ``section_header``, ``interface_description``, ``enhanced_packet`` and
``interface_statistics`` build the blocks (little-endian), ``PcapngWriter`` writes a file of
them (one interface per link type), as the live ring's scapy writer and ``netscan evidence`` do.
"""

from __future__ import annotations

import mmap
import struct
from collections.abc import Iterable, Iterator
from typing import BinaryIO, NamedTuple

SHB_MAGIC = b"\x0a\x0d\x0d\x0a"  # a Section Header Block's type, as bytes in either order
BOM_LE = b"\x4d\x3c\x2b\x1a"  # the byte-order magic 0x1A2B3C4D written little-endian
BOM_BE = b"\x1a\x2b\x3c\x4d"
BYTE_ORDER_MAGIC = 0x1A2B3C4D
SHB = 0x0A0D0D0A
IDB = 1  # Interface Description Block
PB = 2  # obsolete Packet Block
SPB = 3  # Simple Packet Block
ISB = 5  # Interface Statistics Block
EPB = 6  # Enhanced Packet Block
PACKET_BLOCKS = (PB, SPB, EPB)  # the blocks Wireshark numbers as frames
MAX_BLOCK = 64 * 1024 * 1024  # larger blocks are corrupt
SNAPLEN = 262144

OPT_END = 0
OPT_COMMENT = 1
SHB_USERAPPL = 4
IF_NAME = 2
IF_TSRESOL = 9
IF_TSOFFSET = 14
ISB_NAMES = {4: "ifrecv", 5: "ifdrop", 6: "filteraccept", 7: "osdrop", 8: "usrdeliv"}

Buffer = bytes | bytearray | memoryview | mmap.mmap


class PcapngError(ValueError):
    """A block that cannot be right; the message is one line without a full stop."""


class Interface(NamedTuple):
    linktype: int
    snaplen: int
    tsres: float  # seconds per timestamp unit
    tsoffset: int  # seconds


# A packet block's contents, where its bytes are in the buffer (not a copy):
# (timestamp, link type, start offset, stop offset, length on the wire)
Packet = tuple[float, int, int, int, int]


# -- reading -----------------------------------------------------------------------------------


def endian_of(bom: bytes) -> str | None:
    """The struct byte order a Section Header's byte-order magic says, or None."""
    if bom == BOM_LE:
        return "<"
    if bom == BOM_BE:
        return ">"
    return None


def options(buf: Buffer, opt: int, end: int, endian: str) -> Iterator[tuple[int, int, int]]:
    """``(code, value offset, value length)`` of each option from ``opt`` up to ``end``."""
    while opt + 4 <= end:
        code, olen = struct.unpack_from(endian + "HH", buf, opt)
        if code == OPT_END:
            return
        yield code, opt + 4, olen
        opt += 4 + ((olen + 3) & ~3)


def read_idb(buf: Buffer, body: int, end: int, endian: str) -> Interface:
    """An Interface Description Block whose body starts at ``body`` and block ends at ``end``."""
    linktype, _reserved, snaplen = struct.unpack_from(endian + "HHI", buf, body)
    tsres, tsoffset = 1e-6, 0
    for code, val, olen in options(buf, body + 8, end - 4, endian):
        if code == IF_TSRESOL and olen >= 1:
            r = buf[val]
            tsres = 2.0 ** -(r & 0x7F) if r & 0x80 else 10.0**-r
        elif code == IF_TSOFFSET and olen >= 8:
            (tsoffset,) = struct.unpack_from(endian + "q", buf, val)
    return Interface(linktype, snaplen, tsres, tsoffset)


class BlockReader:
    """The state of a pcapng walk and the decoding of one block at a time.

    ``next(buf, off, size)`` decodes the block at ``off`` when it is complete in
    ``buf[:size]``: ``(end, packet)``, with a ``Packet`` for a packet block (``frame``
    counted) and None for any other block (interfaces and statistics kept); ``(-1, None)``
    while the block is not all there yet. ``header`` and ``block`` are its two halves."""

    def __init__(self, endian: str = "<", ifaces: list[Interface] | None = None,
                 frame: int = 0, check_trailer: bool = True) -> None:  # fmt: skip
        self.endian = endian
        self.ifaces: list[Interface] = list(ifaces or [])
        self.frame = frame  # packet blocks read so far
        self.last_ts = 0.0
        self.first_ts: float | None = None
        self.linktypes: set[int] = set()
        # interface id -> statistics counters (the section's; each counter from the last
        # block that gave it), and the sums of the sections before
        self.isb: dict[int, dict[str, int]] = {}
        self.isb_before: dict[str, int] = {}
        self.check_trailer = check_trailer

    def state(self) -> tuple[str, list[Interface]]:
        return self.endian, list(self.ifaces)

    def header(self, buf: Buffer, off: int) -> tuple[int, int]:
        """``(block type, block length)`` of the block at ``off`` (12 bytes must be there)."""
        if buf[off : off + 4] == SHB_MAGIC:
            endian = endian_of(bytes(buf[off + 8 : off + 12]))
            if endian is None:
                raise PcapngError(f"corrupt section header after frame {self.frame}")
            self.endian = endian
            self.ifaces = []
            _add_counts(self.isb_before, self.isb.values())  # interfaces count from 0 again
            self.isb = {}
        btype, blen = struct.unpack_from(self.endian + "II", buf, off)
        if blen < 12 or blen % 4 or blen > MAX_BLOCK:
            raise PcapngError(f"corrupt block after frame {self.frame} (length {blen})")
        return btype, blen

    def next(self, buf: Buffer, off: int, size: int) -> tuple[int, Packet | None]:
        """The block at ``off`` (12 bytes must be there): see the class."""
        btype, blen = self.header(buf, off)
        end = off + blen
        if end > size:
            return -1, None
        return end, self.block(buf, off, btype, end)

    def block(self, buf: Buffer, off: int, btype: int, end: int) -> Packet | None:
        """Decode the complete block ``buf[off:end]`` of type ``btype``."""
        e = self.endian
        if self.check_trailer and struct.unpack_from(e + "I", buf, end - 4)[0] != end - off:
            raise PcapngError(f"corrupt block after frame {self.frame} (length mismatch)")
        body = off + 8
        if btype in (EPB, PB):
            if btype == EPB:
                iid, hi, lo, cap, orig = struct.unpack_from(e + "IIIII", buf, body)
            else:
                iid, _drops, hi, lo, cap, orig = struct.unpack_from(e + "HHIIII", buf, body)
            if iid >= len(self.ifaces) or body + 20 + cap > end - 4:
                raise PcapngError(f"corrupt packet block at frame {self.frame + 1}")
            itf = self.ifaces[iid]
            self.frame += 1
            ts = ((hi << 32) | lo) * itf.tsres + itf.tsoffset
            self.last_ts = ts
            if self.first_ts is None:
                self.first_ts = ts
            return ts, itf.linktype, body + 20, body + 20 + cap, orig
        if btype == SPB:
            if not self.ifaces:
                raise PcapngError("simple packet block before any interface")
            (orig,) = struct.unpack_from(e + "I", buf, body)
            itf = self.ifaces[0]
            cap = min(orig, end - 4 - (body + 4))
            if itf.snaplen:
                cap = min(cap, itf.snaplen)
            self.frame += 1
            return self.last_ts, itf.linktype, body + 4, body + 4 + cap, orig
        if btype == IDB:
            itf = read_idb(buf, body, end, e)
            self.ifaces.append(itf)
            self.linktypes.add(itf.linktype)
        elif btype == ISB:
            iid = struct.unpack_from(e + "I", buf, body)[0]
            if iid < len(self.ifaces):
                stats = self.isb.setdefault(iid, {})
                for code, val, olen in options(buf, body + 12, end - 4, e):
                    if code in ISB_NAMES and olen >= 8 and val + 8 <= end - 4:
                        stats[ISB_NAMES[code]] = struct.unpack_from(e + "Q", buf, val)[0]
        return None

    def statistics(self) -> dict[str, int] | None:
        """The interface statistics read so far, summed over the interfaces and sections
        (``InputInfo.statistics``); None when no block gave a counter."""
        out = dict(self.isb_before)
        _add_counts(out, self.isb.values())
        return out or None


_U64 = (1 << 64) - 1


def _add_counts(into: dict[str, int], counts: Iterable[dict[str, int]]) -> None:
    for c in counts:
        for k, v in c.items():
            into[k] = min(into.get(k, 0) + v, _U64)  # as the core: saturating


# -- writing (little-endian) -------------------------------------------------------------------


def pad4(b: bytes) -> bytes:
    return b + b"\0" * (-len(b) % 4)


def option(code: int, value: bytes) -> bytes:
    return struct.pack("<HH", code, len(value)) + pad4(value)


def end_of_options() -> bytes:
    return option(OPT_END, b"")


def block(btype: int, body: bytes) -> bytes:
    body = pad4(body)
    total = 12 + len(body)
    return struct.pack("<II", btype, total) + body + struct.pack("<I", total)


def ticks(ts: float, per_second: int) -> tuple[int, int]:
    """A timestamp in units of 1/``per_second`` s, as the (high, low) 32-bit halves."""
    n = round(ts * per_second)
    return (n >> 32) & 0xFFFFFFFF, n & 0xFFFFFFFF


def section_header(userappl: str, comment: str | None = None) -> bytes:
    opts = option(OPT_COMMENT, comment.encode()) if comment else b""
    opts += option(SHB_USERAPPL, userappl.encode())
    body = struct.pack("<IHHq", BYTE_ORDER_MAGIC, 1, 0, -1) + opts + end_of_options()
    return block(SHB, body)


def interface_description(linktype: int, snaplen: int = SNAPLEN, tsresol: int = 6,
                          name: str | None = None) -> bytes:  # fmt: skip
    """An IDB; ``tsresol`` is the power of ten of the timestamp unit (6: µs, 9: ns)."""
    opts = option(IF_NAME, name.encode()) if name else b""
    opts += option(IF_TSRESOL, bytes([tsresol]))
    return block(IDB, struct.pack("<HHI", linktype, 0, snaplen) + opts + end_of_options())


def enhanced_packet(iid: int, ts: float, data: bytes, wirelen: int, tsresol: int = 6,
                    comment: str | None = None) -> bytes:  # fmt: skip
    hi, lo = ticks(ts, 10**tsresol)
    body = struct.pack("<IIIII", iid, hi, lo, len(data), wirelen) + pad4(data)
    if comment:
        body += option(OPT_COMMENT, comment.encode()) + end_of_options()
    return block(EPB, body)


def interface_statistics(iid: int, ts: float, counters: dict[int, int],
                         tsresol: int = 6) -> bytes:  # fmt: skip
    """An ISB with 64-bit ``counters`` by option code (4 ifrecv, 5 ifdrop, 7 osdrop, ...)."""
    hi, lo = ticks(ts, 10**tsresol)
    opts = b"".join(option(code, struct.pack("<Q", n)) for code, n in counters.items())
    return block(ISB, struct.pack("<III", iid, hi, lo) + opts + end_of_options())


class PcapngWriter:
    """Writes a pcapng file: one section, one interface per link type (µs timestamps)."""

    def __init__(self, fh: BinaryIO, userappl: str, comment: str | None = None,
                 snaplen: int = SNAPLEN) -> None:  # fmt: skip
        self.fh = fh
        self.snaplen = snaplen
        self.ifaces: dict[int, int] = {}  # linktype -> interface id
        self.count = 0
        fh.write(section_header(userappl, comment))

    def _iface(self, linktype: int) -> int:
        iid = self.ifaces.get(linktype)
        if iid is None:
            iid = self.ifaces[linktype] = len(self.ifaces)
            self.fh.write(interface_description(linktype, self.snaplen))
        return iid

    def write(self, ts: float, linktype: int, data: bytes, wirelen: int | None = None,
              comment: str | None = None) -> None:  # fmt: skip
        iid = self._iface(linktype)
        self.fh.write(enhanced_packet(iid, ts, data, len(data) if wirelen is None else wirelen,
                                      comment=comment))  # fmt: skip
        self.count += 1
