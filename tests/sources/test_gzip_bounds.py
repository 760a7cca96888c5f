"""gzip captures are streamed: bounded memory, a cap on what they expand to, and integrity
errors (CRC, length, cut, corrupt data) reported without losing what was read before.

Every reader test runs twice: with the Python reader (``CaptureFile``, kept for the
evidence command) and with the Rust core's reader, which the analysis uses; both must say
the same thing in the same words."""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import pytest

from netscan import _core
from netscan.sources.pcapfile import CaptureError, CaptureFile
from tests.hostile_inputs import count_in, gzip_members, run_netscan, udp_capture, write_gzip_bomb

PACKETS = 3000
CAPTURE = udp_capture(PACKETS)  # 3000 different datagrams, 24 + 3000 * 258 bytes


@pytest.fixture(params=["python", "core"])
def reader(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _frames(path: Path, reader: str = "python", **kw: int) -> tuple[int, list[str]]:
    if reader == "core":
        try:
            r = _core.Reader(str(path), gzip_cap=kw.get("gunzip", 4 << 30), gzip_ratio=100)
        except ValueError as exc:
            raise CaptureError(str(exc)) from None
        n = sum(1 for _ in r)
        return n, list(r.info()["warnings"])
    cap = CaptureFile(path, **kw)
    try:
        n = sum(1 for _ in cap)
    finally:
        cap.close()
    return n, cap.warnings


def _complete_records(data: bytes) -> int:
    """How many whole pcap records a decompressed prefix holds."""
    off, n = 24, 0
    while off + 16 <= len(data):
        incl = struct.unpack_from("<I", data, off + 8)[0]
        if off + 16 + incl > len(data):
            break
        off += 16 + incl
        n += 1
    return n


def test_plain_gzip_has_no_warnings(tmp_path: Path, reader: str) -> None:
    p = tmp_path / "ok.pcap.gz"
    p.write_bytes(gzip.compress(CAPTURE))
    assert _frames(p, reader) == (PACKETS, [])


def test_multi_member_gzip_reads_every_member(tmp_path: Path, reader: str) -> None:
    p = tmp_path / "members.pcap.gz"
    p.write_bytes(gzip_members(CAPTURE, 4))
    assert _frames(p, reader) == (PACKETS, [])


def test_zero_padding_after_the_last_member_is_accepted(tmp_path: Path, reader: str) -> None:
    p = tmp_path / "padded.pcap.gz"
    p.write_bytes(gzip.compress(CAPTURE) + b"\0" * 4096)
    assert _frames(p, reader) == (PACKETS, [])


def test_trailing_garbage_is_reported_not_fatal(tmp_path: Path, reader: str) -> None:
    p = tmp_path / "junk.pcap.gz"
    p.write_bytes(gzip.compress(CAPTURE) + b"this is not gzip")
    n, warnings = _frames(p, reader)
    assert n == PACKETS
    assert len(warnings) == 1 and "is not gzip; ignored" in warnings[0]


def test_bad_crc_is_an_integrity_error_and_nothing_is_lost(tmp_path: Path, reader: str) -> None:
    data = bytearray(gzip.compress(CAPTURE))
    data[-8] ^= 0xFF  # the member's CRC-32
    p = tmp_path / "crc.pcap.gz"
    p.write_bytes(bytes(data))
    n, warnings = _frames(p, reader)
    assert n == PACKETS  # every packet, the last megabyte included
    assert len(warnings) == 1, warnings
    assert warnings[0].startswith("gzip integrity error: member 1 CRC-32")
    assert "truncated" not in warnings[0]


def test_bad_length_is_an_integrity_error(tmp_path: Path, reader: str) -> None:
    data = bytearray(gzip.compress(CAPTURE))
    data[-1] ^= 0x01  # ISIZE
    p = tmp_path / "len.pcap.gz"
    p.write_bytes(bytes(data))
    n, warnings = _frames(p, reader)
    assert n == PACKETS
    assert len(warnings) == 1 and "length field says" in warnings[0]


def test_bad_crc_in_one_member_of_several(tmp_path: Path, reader: str) -> None:
    first, second = gzip.compress(CAPTURE[:300_000]), bytearray(gzip.compress(CAPTURE[300_000:]))
    second[-6] ^= 0x10
    p = tmp_path / "members-crc.pcap.gz"
    p.write_bytes(first + bytes(second))
    n, warnings = _frames(p, reader)
    assert n == PACKETS
    assert [w.split(":")[1].strip().split(" CRC")[0] for w in warnings] == ["member 2"]


def test_cut_gzip_analyses_every_whole_record_before_the_cut(tmp_path: Path, reader: str) -> None:
    full = gzip.compress(CAPTURE)
    cut = full[: len(full) // 2]
    p = tmp_path / "cut.pcap.gz"
    p.write_bytes(cut)
    d = zlib.decompressobj(31)
    prefix = d.decompress(cut)
    n, warnings = _frames(p, reader)
    assert n == _complete_records(prefix) > PACKETS // 3
    assert any(w.startswith("gzip stream cut short in member 1") for w in warnings), warnings


def test_missing_trailer_is_an_integrity_error(tmp_path: Path, reader: str) -> None:
    p = tmp_path / "notrailer.pcap.gz"
    p.write_bytes(gzip.compress(CAPTURE)[:-5])
    n, warnings = _frames(p, reader)
    assert n == PACKETS
    assert warnings == [
        f"gzip integrity error: member 1 ends without its CRC-32 and length trailer (cut after "
        f"{len(CAPTURE):,} decompressed bytes); analysed as read"
    ]


def test_corrupt_deflate_data_keeps_the_output_before_the_damage(
    tmp_path: Path, reader: str
) -> None:
    # stored (level 0) deflate blocks: corrupting the second block's length check makes
    # zlib fail there, after the whole first block was decompressed
    data = bytearray(gzip.compress(CAPTURE, compresslevel=0, mtime=0))
    first_len = struct.unpack_from("<H", data, 11)[0]
    second = 10 + 5 + first_len
    assert data[second] & 0x06 == 0  # another stored block
    data[second + 3] ^= 0xFF  # its NLEN no longer complements LEN
    p = tmp_path / "corrupt.pcap.gz"
    p.write_bytes(bytes(data))
    n, warnings = _frames(p, reader)
    assert n == _complete_records(CAPTURE[:first_len]) > 0
    assert any(
        w.startswith("gzip integrity error: corrupt compressed data in member 1 after "
                     f"{first_len:,} decompressed bytes")
        for w in warnings
    ), warnings  # fmt: skip


def test_gzip_without_a_capture_is_refused(tmp_path: Path, reader: str) -> None:
    p = tmp_path / "tiny.pcap.gz"
    p.write_bytes(gzip.compress(CAPTURE)[:6])
    with pytest.raises(CaptureError, match="header cut short"):
        _frames(p, reader)


def test_decompressed_cap_stops_reading_and_says_how_much(tmp_path: Path, reader: str) -> None:
    p = tmp_path / "big.pcap.gz"
    p.write_bytes(gzip.compress(CAPTURE))
    n, warnings = _frames(p, reader, gunzip=100_000)
    assert n == _complete_records(CAPTURE[:100_000])
    assert warnings == [
        "decompressed data reached the gunzip limit of 100000 (100,000 bytes read); the rest "
        "was not analysed (raise it with --limit gunzip=SIZE)"
    ]  # and no misleading "truncated last record"


def test_gzip_bomb_costs_bounded_memory(tmp_path: Path) -> None:
    """1 GiB of repeated datagrams in a few MB: the old reader held it all (and twice over
    while joining); now the expansion-ratio guard stops it after 256 MiB, streamed."""
    bomb = tmp_path / "bomb.pcap.gz"
    size = write_gzip_bomb(bomb, 1 << 30)
    assert size < 4 << 20
    run = run_netscan([str(bomb)], tmp_path)
    assert run.returncode == 0, run.stderr
    # the interpreter and its libraries take about 200 MB; the decompressed GiB could not fit
    # (peaks of 420-470 MB were seen, depending on when the collector ran)
    assert run.maxrss_mb < 640, run.maxrss_mb
    grown = [w for w in run.warnings if "gzip bomb?" in w]
    assert len(grown) == 1 and "limit gunzip-ratio=100" in grown[0], run.warnings
    read = count_in(r"after ([\d,]+) bytes \(gzip bomb", run.warnings)
    assert 256 << 20 < read < 300 << 20
    # the records read before the guard were analysed
    assert run.report is not None
    assert run.report["inputs"][0]["packets"] == read // 1016 or (
        abs(run.report["inputs"][0]["packets"] - read // 1016) <= 1
    )


def test_gzip_cap_from_the_command_line(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.pcap.gz"
    write_gzip_bomb(bomb, 64 << 20)
    run = run_netscan([str(bomb), "--limit", "gunzip=8M"], tmp_path)
    assert run.returncode == 0, run.stderr
    assert count_in(r"gunzip limit of 8M \(([\d,]+) bytes read\)", run.warnings) == 8 << 20
    assert run.report is not None
    assert run.report["inputs"][0]["packets"] == ((8 << 20) - 24) // 1016


def test_bad_limit_is_a_usage_error(tmp_path: Path) -> None:
    p = tmp_path / "ok.pcap.gz"
    p.write_bytes(gzip.compress(CAPTURE))
    run = run_netscan([str(p), "--limit", "gunzip=lots"], tmp_path)
    assert run.returncode == 2
    assert run.stderr.strip().splitlines() == [
        "netscan: error: limit gunzip: not a size or count: 'lots'"
    ]
