"""The shared pcapng blocks: what the writer makes, the reader (and Wireshark) read back."""

from __future__ import annotations

import io
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from netscan.sources import pcapng
from netscan.sources.pcapfile import CaptureFile

FRAME = bytes.fromhex("ffffffffffff0200000000010800") + bytes(46)


def _written(path: Path) -> None:
    with path.open("wb") as fh:
        w = pcapng.PcapngWriter(fh, "netscan test", comment="a section comment")
        w.write(1_700_000_000.25, 1, FRAME, comment="first")
        w.write(1_700_000_001.5, 101, FRAME[14:], 1500)  # a second link type: a second IDB
        w.write(1_700_000_002.0, 1, FRAME)
        assert w.count == 3 and w.ifaces == {1: 0, 101: 1}


def test_writer_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "w.pcapng"
    _written(path)
    cap = CaptureFile(path)
    recs = list(cap)
    assert [(r.frame, r.ts, r.linktype, r.wirelen) for r in recs] == [
        (1, 1_700_000_000.25, 1, len(FRAME)),
        (2, 1_700_000_001.5, 101, 1500),
        (3, 1_700_000_002.0, 1, len(FRAME)),
    ]
    assert bytes(recs[0].data) == FRAME and cap.warnings == []


def test_wireshark_reads_the_writer(tmp_path: Path) -> None:
    tshark = shutil.which("tshark")
    assert tshark, "tshark is a test dependency"
    path = tmp_path / "w.pcapng"
    _written(path)
    out = subprocess.run([tshark, "-r", str(path), "-T", "fields", "-e", "frame.comment",
                          "-e", "frame.len"], capture_output=True, text=True, check=True)  # fmt: skip
    lines = out.stdout.splitlines()
    assert len(lines) == 3 and lines[0].startswith("first") and lines[1].endswith("1500")


def test_block_reader_big_endian_and_isb() -> None:
    def blk(btype: int, body: bytes) -> bytes:
        body = pcapng.pad4(body)
        return struct.pack(">II", btype, 12 + len(body)) + body + struct.pack(">I", 12 + len(body))

    shb = blk(pcapng.SHB, struct.pack(">IHHq", pcapng.BYTE_ORDER_MAGIC, 1, 0, -1))
    idb = blk(pcapng.IDB, struct.pack(">HHI", 1, 0, 0) + struct.pack(">HH", 9, 1) + b"\x09\0\0\0")
    epb = blk(pcapng.EPB, struct.pack(">IIIII", 0, 0, 1_000_000_000, 4, 60) + b"abcd")
    isb = blk(pcapng.ISB, struct.pack(">III", 0, 0, 0) + struct.pack(">HHQ", 5, 8, 7))
    buf = shb + idb + epb + isb
    reader = pcapng.BlockReader()
    off, packets = 0, []
    while off < len(buf):
        end, pkt = reader.next(buf, off, len(buf))
        assert end > off
        if pkt is not None:
            packets.append((pkt[0], pkt[1], buf[pkt[2] : pkt[3]], pkt[4]))
        off = end
    assert reader.endian == ">" and packets == [(1.0, 1, b"abcd", 60)]
    assert reader.isb == {0: {"ifdrop": 7}}
    assert reader.next(buf, 0, len(shb) - 4) == (-1, None)  # not all there yet


@pytest.mark.parametrize(
    "damage, reason",
    [
        (lambda b: b[:-4] + b"\x01\0\0\0", "length mismatch"),
        (lambda b: b[:4] + b"\x0d\0\0\0" + b[8:], "length 13"),
    ],
)
def test_block_reader_damage(damage, reason: str) -> None:  # type: ignore[no-untyped-def]
    good = pcapng.section_header("x")
    with pytest.raises(pcapng.PcapngError, match=reason):
        pcapng.BlockReader().next(damage(good), 0, len(good))


def test_section_header_is_byte_exact() -> None:
    fh = io.BytesIO()
    pcapng.PcapngWriter(fh, "u")
    shb = fh.getvalue()
    assert shb[:4] == pcapng.SHB_MAGIC and shb[8:12] == pcapng.BOM_LE
    assert (
        struct.unpack_from("<I", shb, 4)[0]
        == len(shb)
        == struct.unpack_from("<I", shb, len(shb) - 4)[0]
    )
