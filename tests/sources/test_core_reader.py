"""The Rust core's capture reader against the Python reader and Wireshark: the same records
(frame numbers, timestamps, link types, bytes, wire lengths), the same warnings on damaged
and cut files, the same errors for files that are not captures."""

from __future__ import annotations

import gzip
import hashlib
import random
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from netscan import _core
from netscan.sources.pcapfile import CaptureError, CaptureFile
from tests.conftest import PCAPS, realworld_files, requires_tshark
from tests.sources.test_pcapfile import PKT, pcap_bytes, pcapng_bytes


def rust(path: Path) -> tuple[list[tuple[Any, ...]], dict[str, Any]]:
    reader = _core.Reader(str(path))
    records = list(reader)
    info = reader.info()
    # read to its end, the reader knows the file's SHA-256: hashlib's, of the whole file as
    # stored (compressed bytes for gzip), however much of it the damage left readable
    assert info["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    return records, info


def python(path: Path) -> tuple[list[tuple[Any, ...]], CaptureFile]:
    cap = CaptureFile(path)
    try:
        records = [(f, ts, lt, bytes(d), w) for _i, f, ts, lt, d, w in cap.records()]
    finally:
        cap.close()
    return records, cap


def same(path: Path) -> None:
    """Both readers give the same records and facts for `path`, or both refuse it."""
    try:
        py_records, cap = python(path)
    except CaptureError as exc:
        with pytest.raises(ValueError) as err:
            rust(path)
        assert str(err.value) == str(exc)
        return
    records, info = rust(path)
    assert records == py_records
    assert info["warnings"] == cap.warnings
    assert info["frames"] == cap.frames
    assert (info["first_ts"], info["last_ts"]) == (cap.first_ts, cap.last_ts)
    assert set(info["linktypes"]) == cap.linktypes
    assert info["format"] == cap.format


def test_pcap_micro_nano_both_byte_orders(tmp_path: Path) -> None:
    for endian in "<>":
        for nano in (False, True):
            p = tmp_path / f"t{endian == '<'}{nano}.pcap"
            p.write_bytes(pcap_bytes([(1.5, PKT), (2.25, PKT)], endian, nano))
            records, info = rust(p)
            assert [r[0] for r in records] == [1, 2]
            assert records[0][1] == pytest.approx(1.5) and records[1][1] == pytest.approx(2.25)
            assert records[0][3] == PKT and records[0][4] == len(PKT) + 4
            assert info["warnings"] == []
            same(p)


def test_pcapng_sections_interfaces_resolutions(tmp_path: Path) -> None:
    for endian in "<>":
        p = tmp_path / f"t{endian == '<'}.pcapng"
        p.write_bytes(pcapng_bytes(endian))
        records, info = rust(p)
        assert [r[0] for r in records] == [1, 2, 3, 4]
        assert [r[2] for r in records] == [1, 101, 1, 1]
        assert records[1][1] == pytest.approx(1_700_000_001.0)  # if_tsresol 9 on interface 1
        assert records[2][3] == PKT  # the simple packet block
        same(p)
    # two sections, one of each byte order, back to back: interfaces restart per section
    both = tmp_path / "two-sections.pcapng"
    both.write_bytes(pcapng_bytes("<") + pcapng_bytes(">"))
    records, info = rust(both)
    assert [r[0] for r in records] == list(range(1, 9))
    same(both)


def test_gzip_streamed_and_capped(tmp_path: Path) -> None:
    p = tmp_path / "t.pcap.gz"
    plain = pcap_bytes([(1.0, PKT)] * 50)
    p.write_bytes(gzip.compress(plain))
    records, info = rust(p)
    assert len(records) == 50 and info["gzip"] and info["warnings"] == []
    same(p)
    # several gzip members in one file are one stream
    multi = tmp_path / "multi.pcap.gz"
    multi.write_bytes(gzip.compress(plain[:1000]) + gzip.compress(plain[1000:]))
    assert len(rust(multi)[0]) == 50
    # the decompression cap: read up to it, say so
    reader = _core.Reader(str(p), gzip_cap=24 + 3 * (16 + len(PKT)) + 10)
    assert len(list(reader)) == 3
    warnings = reader.info()["warnings"]
    assert warnings == [
        "decompressed data reached the gunzip limit of 268 (268 bytes read); the rest was not "
        "analysed (raise it with --limit gunzip=SIZE)"
    ]  # the Python reader's words, and no "truncated last record" besides
    # a cut gzip stream: what was decompressed is analysed, with a warning naming the offset
    cut = tmp_path / "cut.pcap.gz"
    rng = random.Random(1)
    data = gzip.compress(pcap_bytes([(1.0, rng.randbytes(900)) for _ in range(40)]))
    cut.write_bytes(data[: len(data) // 2])
    records, info = rust(cut)
    assert 0 < len(records) < 40
    assert any("byte" in w for w in info["warnings"]), info["warnings"]


def test_cut_and_corrupt_files_match_the_python_reader(tmp_path: Path) -> None:
    data = pcap_bytes([(1.0, PKT), (2.0, PKT), (3.0, PKT)])
    for n in (len(data) - 10, len(data) - len(PKT) - 20, 30):
        p = tmp_path / f"cut{n}.pcap"
        p.write_bytes(data[:n])
        same(p)
    ng = bytearray(pcapng_bytes())
    ng[-4:] = b"\x01\x00\x00\x00"
    p = tmp_path / "bad.pcapng"
    p.write_bytes(bytes(ng))
    records, info = rust(p)
    assert len(records) == 3 and "corrupt" in info["warnings"][0]
    same(p)


@pytest.mark.parametrize(
    "content", [b"", b"hello world, not a capture", b"\xd4\xc3\xb2\xa1\x02\x00", b"\x0a\x0d\x0d"]
)
def test_not_a_capture(tmp_path: Path, content: bytes) -> None:
    p = tmp_path / "x.pcap"
    p.write_bytes(content)
    same(p)


def test_sha256_only_once_read_to_the_end(tmp_path: Path) -> None:
    p = tmp_path / "t.pcap.gz"
    plain = pcap_bytes([(1.0, PKT)] * 50)
    p.write_bytes(gzip.compress(plain) + b"trailing bytes that are not gzip" * 1000)
    reader = _core.Reader(str(p))
    assert reader.info()["sha256"] is None
    next(reader)
    assert reader.info()["sha256"] is None
    assert len(list(reader)) == 49
    assert reader.info()["sha256"] == hashlib.sha256(p.read_bytes()).hexdigest()
    # stopped by the gunzip cap after three records: the rest of the file is hashed too
    capped = _core.Reader(str(p), gzip_cap=24 + 3 * (16 + len(PKT)) + 10)
    assert len(list(capped)) == 3
    assert capped.info()["sha256"] == hashlib.sha256(p.read_bytes()).hexdigest()
    # damaged in its first record, with a megabyte after the damage
    bad = tmp_path / "bad.pcap"
    data = bytearray(pcap_bytes([(1.0, PKT)] * 3))
    data[24 + 8 : 24 + 12] = (0x7FFFFFFF).to_bytes(4, "little")
    bad.write_bytes(bytes(data) + bytes(1 << 20))
    records, info = rust(bad)
    assert records == [] and "corrupt" in info["warnings"][0]


def test_missing_and_directory(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no such file"):
        _core.Reader(str(tmp_path / "nope.pcap"))
    with pytest.raises(ValueError, match="directory"):
        _core.Reader(str(tmp_path))


CAPTURES = [*realworld_files(), PCAPS / "demo_sales_office.pcapng"]


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.name)
def test_public_captures_match_the_python_reader(path: Path) -> None:
    same(path)


@pytest.mark.parametrize("seed", range(4))
def test_damaged_captures_match_the_python_reader(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    small = [p for p in realworld_files() if p.stat().st_size < 200_000]
    assert small
    for i in range(10):
        data = bytearray(rng.choice(small).read_bytes())
        for _ in range(rng.randrange(1, 30)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        if rng.random() < 0.4:
            data = data[: rng.randrange(len(data))]
        p = tmp_path / f"damaged{i}.pcap"
        p.write_bytes(bytes(data))
        try:
            python(p)
        except CaptureError:
            pass
        except Exception:
            # the Python reader trips over some damage the Rust reader reads up to: it
            # must still end with records and no exception
            rust(p)
            continue
        same(p)


KNOWN_COUNT_DIFFERENCE = {"bad_fuzz_read_error_suricata.pcap"}  # see test_pcapfile.py


@requires_tshark
@pytest.mark.parametrize("path", realworld_files(), ids=lambda p: p.name)
def test_frame_numbers_equal_wiresharks(path: Path) -> None:
    records, info = rust(path)
    frames = [r[0] for r in records]
    assert frames == list(range(1, len(frames) + 1))
    out = subprocess.run(
        [shutil.which("tshark") or "tshark", "-r", str(path), "-T", "fields", "-e",
         "frame.number", "-e", "frame.time_epoch", "-e", "frame.len"],
        capture_output=True, text=True,
    ).stdout.splitlines()  # fmt: skip
    if path.name in KNOWN_COUNT_DIFFERENCE:
        assert info["warnings"]
        return
    assert len(frames) == len(out)
    for rec, line in zip(records, out, strict=True):
        number, epoch, length = line.split("\t")
        assert (rec[0], rec[4]) == (int(number), int(length))
        assert rec[1] == pytest.approx(float(epoch), abs=1e-5)
