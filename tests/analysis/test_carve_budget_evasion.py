"""A few kilobytes of picture signatures in front of a face picture must not hide it.

The carving budget (``content._Budget``) stops a buffer once its walks have cost a constant
(1 MiB of scanned bytes, 4,096 segment steps) plus a few times its size. The work of
overlapping signatures grows with the square of their length, so that constant is reached by
a prefix of a few kilobytes: the face picture behind it is then never carved (only a run
warning says a body was not searched to its end), though the code before the budget carved
it in a few milliseconds. Review finding (review4): these tests fail on main at f74ea9a.
"""

from __future__ import annotations

import struct
from pathlib import Path

from netscan.analysis.content import PNG_SIG, carve_images, carving_stopped
from tests.analysis.scenarios import build as sc
from tests.hostile_inputs import run_netscan, write_posts


def _jpeg_scans(headers: int, zeros: int) -> bytes:
    """``headers`` JPEG starts, each one's start-of-scan segment ending in the same run of
    ``zeros`` (no marker in it): every start scans the whole run again."""
    span = 6 * headers
    out = bytearray()
    for k in range(headers):
        out += b"\xff\xd8\xff\xda" + struct.pack(">H", span - (6 * k + 4) + 1)
    return bytes(out) + bytes(zeros)


def _png_chunks(sigs: int, tail: int) -> bytes:
    """``sigs`` PNG signatures, each one's first chunk jumping to the same ``tail`` of empty
    chunks: every signature walks the whole tail again."""
    out = bytearray()
    for k in range(sigs):
        out += PNG_SIG + struct.pack(">I", (sigs - k - 1) * 20) + b"abcd" + b"\0\0\0\0"
    return bytes(out) + (b"\0\0\0\0abcd\0\0\0\0" * (tail // 12 + 1))[:tail]


def test_face_after_a_few_kilobytes_of_jpeg_scans_is_carved() -> None:
    face = sc.face_jpeg()
    prefix = _jpeg_scans(600, 2000)  # 5.6 kB
    assert len(prefix) < 6000
    with carving_stopped() as stopped:
        found = carve_images(prefix + face)
    assert [(off, img) for off, img, _ in found] == [(len(prefix), face)], stopped


def test_face_after_a_few_kilobytes_of_png_chunks_is_carved() -> None:
    face = sc.face_jpeg()
    prefix = _png_chunks(60, 1500)  # 2.7 kB
    assert len(prefix) < 3000
    with carving_stopped() as stopped:
        found = carve_images(prefix + face)
    assert [(off, img) for off, img, _ in found] == [(len(prefix), face)], stopped


def test_face_upload_behind_a_signature_prefix_makes_a_finding(tmp_path: Path) -> None:
    """The whole run: a camera posts one face picture, 5.6 kB of JPEG starts before it, to a
    face API. Without the prefix the same post is a confirmed finding (a face detected in
    the picture); with it, only a "possible" one and a run warning."""
    pcap = tmp_path / "prefixed.pcap"
    write_posts(pcap, [(_jpeg_scans(600, 2000) + sc.face_jpeg(), "image/jpeg")])
    run = run_netscan([str(pcap)], tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.report is not None
    (finding,) = run.report["findings"]
    assert finding["level"] == "confirmed", run.warnings
    assert any("1 face(s) detected" in e["what"] for e in finding["evidence"])
