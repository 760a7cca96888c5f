"""A false picture start in front of a face picture must not hide the face.

The carving walks a JPEG from its start through its segment lengths. A sender can put a
start whose first segment is a frame header long enough to cover the real picture's own
start: the walk lands on the real picture's segments and carves both as one picture, which
the decoder refuses (two frame headers), so no face was looked for and a face upload was
only a "possible" finding. A picture that does not decode is now searched for pictures
nested in it (``content.nested_pictures``), innermost first, and the first that decodes is
checked in its place (``ImageCheck.decoded_at``). These tests fail without that.
"""

from __future__ import annotations

import struct
from pathlib import Path

import cv2
import numpy as np

from netscan.analysis.content import (
    MAX_NESTED,
    PNG_SIG,
    _Carver,
    _nested,
    carve_images,
    nested_pictures,
)
from netscan.analysis.faces import FaceChecker
from tests.analysis.scenarios import build as sc
from tests.hostile_inputs import run_netscan, write_posts


def _false_jpeg_start(cover: int = 2) -> bytes:
    """A JPEG start and a 1x1 frame header whose length also covers the ``cover`` bytes
    after it (the real picture's start)."""
    sof = bytes([8]) + struct.pack(">HH", 1, 1) + bytes([1, 1, 0x11, 0])
    return b"\xff\xd8\xff\xc0" + struct.pack(">H", 2 + len(sof) + cover) + sof


def _face_png() -> bytes:
    img = cv2.imdecode(np.frombuffer(sc.face_jpeg(), np.uint8), cv2.IMREAD_COLOR)
    ok, buf = cv2.imencode(".png", img)
    assert ok
    return buf.tobytes()


def test_a_false_start_carves_the_face_into_one_picture_that_does_not_decode() -> None:
    face = sc.face_jpeg()
    blob = _false_jpeg_start() + face
    assert [(off, len(img)) for off, img, _ in carve_images(blob)] == [(0, len(blob))]
    assert nested_pictures(blob) == [(len(_false_jpeg_start()), face, "jpeg")]


def test_the_face_behind_a_false_jpeg_start_is_found() -> None:
    face = sc.face_jpeg()
    checker = FaceChecker()
    chk = checker.check(_false_jpeg_start() + face, "jpeg")
    assert chk.size == len(face) + len(_false_jpeg_start())  # the picture as carved
    assert chk.decoded_at == len(_false_jpeg_start())
    assert (chk.width, chk.height) == (176, 176)
    assert chk.faces == 1
    assert chk.as_dict()["decoded_at"] == chk.decoded_at
    # a picture that decodes is checked as itself
    alone = FaceChecker().check(face, "jpeg")
    assert (alone.decoded_at, alone.faces) == (None, 1)


def test_false_starts_one_inside_the_other_are_passed_innermost_first() -> None:
    face = sc.face_jpeg()
    blob = face
    for _ in range(3):  # each false start covers the next one's start
        blob = _false_jpeg_start() + blob
    found = nested_pictures(blob)
    assert [off for off, _, _ in found] == [45, 30, 15]
    assert found[0][1] == face
    chk = FaceChecker().check(blob, "jpeg")
    assert (chk.decoded_at, chk.faces) == (45, 1)


def test_the_face_behind_a_false_png_start_is_found() -> None:
    face = _face_png()
    # a signature and a chunk of 4 bytes: its data and CRC are the real signature, and the
    # walk goes on at the real picture's first chunk
    false = PNG_SIG + struct.pack(">I", len(PNG_SIG) - 4) + b"fAKE"
    blob = false + face
    carved = carve_images(blob)
    assert [(off, len(img), fmt) for off, img, fmt in carved] == [(0, len(blob), "png")]
    chk = FaceChecker().check(blob, "png")
    assert (chk.decoded_at, chk.faces) == (len(false), 1)


def test_nested_pictures_are_bounded() -> None:
    face = sc.face_jpeg()
    blob = face
    for _ in range(3 * MAX_NESTED):
        blob = _false_jpeg_start() + blob
    assert len(nested_pictures(blob)) == MAX_NESTED
    # a run of bare starts before the face: each walk fails at once, and only the face
    # (the one picture in it) is found
    blob = b"\xff\xd8\xff" * 20000 + face
    assert [off for off, _, _ in nested_pictures(blob)] == [60000]
    checker = FaceChecker()
    chk = checker.check(_false_jpeg_start() + b"\xff\xd8\xff" * 20000 + face, "jpeg")
    assert chk.faces == 1
    # the outer picture and the ones nested in it that were decoded count in the budget
    assert checker.decoded <= 1 + MAX_NESTED


def test_every_nested_picture_counts_in_the_decoding_budget() -> None:
    face = sc.face_jpeg()
    blob = face
    for _ in range(3):
        blob = _false_jpeg_start() + blob
    checker = FaceChecker()
    chk = checker.check(blob, "jpeg")
    # the outer picture, then the three nested ones from the innermost: the face first
    assert (chk.faces, checker.decoded) == (1, 2)


def test_an_undecodable_picture_with_nothing_inside_stays_undecodable() -> None:
    face = sc.face_jpeg()
    broken = _false_jpeg_start(cover=0) + face[2:]  # the walk reaches the face's end
    chk = FaceChecker().check(broken, "jpeg")
    assert (chk.width, chk.faces, chk.decoded_at) == (None, None, None)


def test_a_face_upload_behind_a_false_start_is_a_confirmed_finding(tmp_path: Path) -> None:
    pcap = tmp_path / "false-start.pcap"
    write_posts(pcap, [(_false_jpeg_start() + sc.face_jpeg(), "image/jpeg")])
    run = run_netscan([str(pcap)], tmp_path)
    finding = run.finding()
    assert finding["level"] == "confirmed", run.warnings
    (body,) = [e for e in finding["evidence"] if "face(s) detected" in e["what"]]
    assert "the picture nested at byte 15 is 176x176" in body["what"]
    assert "1 face(s) detected" in body["what"]


def _walk(blob: bytes) -> tuple[list[int], _Carver]:
    carver = _Carver(blob, memo=True)
    return [off for off, _, _ in _nested(carver, MAX_NESTED)], carver


def test_a_long_chain_of_false_starts_costs_one_step_each() -> None:
    """A thousand false starts, each leading into the next: the first walk goes along the
    chain to the face's end, and every later start stops at its first place, which that
    walk remembers. Without the memory each start walked the rest of the chain again."""
    face = sc.face_jpeg()
    blob = face
    for _ in range(1000):
        blob = _false_jpeg_start() + blob
    offsets, carver = _walk(blob)
    assert offsets[0] == 15 * 1000  # the face, innermost
    assert len(offsets) == MAX_NESTED
    assert carver.steps < 1000 + 2 * len(face), carver.steps
    assert carver.scanned <= len(face), carver.scanned
    assert FaceChecker().check(blob, "jpeg").decoded_at == 15 * 1000


def test_false_starts_inside_the_face_are_tried_first_and_passed() -> None:
    """False starts hidden in the face's own first segment (an APP segment of any bytes),
    each leading into the face's next segment: innermost, so tried before the face."""
    face = sc.face_jpeg()
    (seglen,) = struct.unpack(">H", face[4:6])
    assert face[2:4] == b"\xff\xe0"  # the face's first segment: JFIF APP0
    inner = bytearray()
    for _ in range(MAX_NESTED - 2):  # each covers the rest of the others and the JFIF data
        inner = bytearray(_false_jpeg_start(cover=0)) + inner
    # fix each false start's length to land on the face's second segment
    rest = len(inner) + seglen - 2  # bytes between each start's header and that segment
    for q in range(0, len(inner), 15):
        left = rest - q - 6  # what this start's frame header must cover after itself
        inner[q + 4 : q + 6] = struct.pack(">H", 2 + 9 + left - 9)
    app0 = (
        b"\xff\xe0" + struct.pack(">H", seglen + len(inner)) + bytes(inner) + face[6 : 4 + seglen]
    )
    doctored = face[:2] + app0 + face[4 + seglen :]
    blob = _false_jpeg_start() + doctored
    offsets, _ = _walk(blob)
    assert offsets[-1] == 15  # the doctored face, outermost of the nested ones
    assert len(offsets) == MAX_NESTED - 1
    chk = FaceChecker().check(blob, "jpeg")
    assert (chk.decoded_at, chk.faces) == (15, 1)


def test_tiny_pictures_inside_cost_in_proportion_to_the_size() -> None:
    """Overlapping pictures too small to keep (restart-marker chains), before the face: each
    walk's places die with it, so later starts stop at once."""
    unit = b"\xff\xd8" + b"\xff\xd0" * 40 + b"\xff\xd9"
    junk = unit * 700
    blob = _false_jpeg_start(cover=len(junk) + 2) + junk + sc.face_jpeg()
    offsets, carver = _walk(blob)
    assert offsets == [15 + len(junk)]
    assert carver.steps < 2 * len(blob), carver.steps
