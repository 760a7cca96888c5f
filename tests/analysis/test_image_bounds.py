"""Pictures are sized from their headers before anything is decoded; the per-picture pixel
limit and the per-run decoding budget are enforced and counted in the warnings."""

from __future__ import annotations

import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from netscan.analysis.faces import FaceChecker, image_size
from netscan.limits import Limits
from tests.hostile_inputs import count_in, jpeg_with_size, png_bomb, run_netscan, write_posts


@pytest.fixture(scope="module")
def bomb_png() -> bytes:
    return png_bomb(30000, 30000)


def _picture(seed: int, w: int = 120, h: int = 90, ext: str = ".png", **params: int) -> bytes:
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 255, size=(h, w), dtype=np.uint8)
    flags = [x for kv in params.items() for x in (getattr(cv2, kv[0]), kv[1])]
    ok, buf = cv2.imencode(ext, img, flags)
    assert ok
    return buf.tobytes()


def test_png_size_from_ihdr(bomb_png: bytes) -> None:
    assert len(bomb_png) < 120_000  # 109 kB that would decode to 900 MB of grey
    assert image_size(bomb_png) == (30000, 30000)
    assert image_size(_picture(1, 321, 123)) == (321, 123)


def test_jpeg_size_from_sof() -> None:
    assert image_size(_picture(2, 200, 150, ".jpg")) == (200, 150)
    progressive = _picture(3, 640, 480, ".jpg", IMWRITE_JPEG_PROGRESSIVE=1)
    assert image_size(progressive) == (640, 480)
    assert image_size(jpeg_with_size(30000, 30000)) == (30000, 30000)


def test_jpeg_size_skips_app_segments_and_stray_bytes() -> None:
    jpg = _picture(4, 64, 48, ".jpg")
    # an APP1 segment (as EXIF would be) holding a fake SOF, and stray bytes before a marker
    fake = b"\xff\xc0\x00\x11\x08\x7f\xff\x7f\xff" + b"\0" * 8
    app1 = b"\xff\xe1" + (len(fake) + 2).to_bytes(2, "big") + fake
    assert image_size(jpg[:2] + app1 + b"\x00\x00" + jpg[2:]) == (64, 48)


def test_no_size_means_not_decoded() -> None:
    assert image_size(b"\x89PNG\r\n\x1a\n" + b"\0" * 40) is None
    assert image_size(b"\xff\xd8\xff\xda\x00\x08" + b"\0" * 40) is None  # scan before frame
    assert image_size(b"GIF89a" + b"\0" * 40) is None


def test_picture_above_the_pixel_limit_is_not_decoded(bomb_png: bytes) -> None:
    checker = FaceChecker()
    chk = checker.check(bomb_png, "png")
    assert (chk.width, chk.height, chk.faces) == (30000, 30000, None)
    assert chk.not_decoded == "30000x30000 is above the limit of 40,000,000 pixels"
    assert checker.decoded == 0 and checker.too_large == 1
    checker.check(jpeg_with_size(20000, 20000), "jpeg")
    assert checker.limit_warnings() == [
        "2 picture(s) above the limit of 40,000,000 pixels (largest 30000x30000) were not "
        "decoded for faces (--limit image-pixels=N)"
    ]


def test_decoding_budget_counts_what_it_skipped() -> None:
    checker = FaceChecker(limits=Limits(images=3, image_budget=10**9))
    pictures = [_picture(10 + i) for i in range(5)]
    checks = [checker.check(p, "png") for p in pictures]
    assert [c.not_decoded for c in checks] == [None] * 3 + [
        "the run's picture decoding budget was spent"
    ] * 2
    assert all(c.faces is not None for c in checks[:3])  # decoded and looked at
    assert checker.check(pictures[0], "png") is checks[0]  # a repeat costs nothing
    assert checker.limit_warnings() == [
        "2 picture(s) were not decoded for faces: the run's budget of 3 pictures / "
        "1,000,000,000 pixels was spent (--limit images=N, --limit image-budget=N)"
    ]
    by_pixels = FaceChecker(limits=Limits(image_budget=120 * 90 * 2))
    assert [by_pixels.check(p, "png").not_decoded is None for p in pictures] == [
        True, True, False, False, False,
    ]  # fmt: skip


def test_picture_bombs_posted_to_a_face_cloud(tmp_path: Path, bomb_png: bytes) -> None:
    """Three 30000x30000 PNGs and a JPEG claiming the same, posted to a face API: each would
    take 900 MB and seconds to decode; they are refused from their headers, the upload is
    still reported, and the warning counts them."""
    pcap = tmp_path / "bombs.pcap"
    bodies = []
    for i in range(3):  # three distinct PNG bombs: a tEXt chunk after IHDR makes each differ
        text = b"tEXt" + f"Comment\0bomb {i}".encode()
        chunk = len(text[4:]).to_bytes(4, "big") + text + zlib.crc32(text).to_bytes(4, "big")
        bodies.append((bomb_png[:33] + chunk + bomb_png[33:], "image/png"))
    bodies.append((jpeg_with_size(30000, 30000), "image/jpeg"))
    write_posts(pcap, bodies)
    run = run_netscan([str(pcap)], tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.maxrss_mb < 500, run.maxrss_mb  # one decode alone would take 900 MB
    assert count_in(r"^(\d+) picture\(s\) above the limit", run.warnings) == 4
    assert run.report is not None
    (finding,) = run.report["findings"]
    assert finding["level"] in ("likely", "confirmed")
    refused = [e["what"] for e in finding["evidence"] if "not decoded:" in e["what"]]
    assert len(refused) == 4 and all("30000x30000" in w for w in refused)


def test_upload_of_picture_signatures_still_gives_its_face(tmp_path: Path) -> None:
    """A face picture followed by 2.5 MB of JPEG signatures whose segments all overlap
    (their walks once cost time in the square of the size), posted to a face API: the run
    ends, the face makes a confirmed finding, and no body is reported as left unsearched."""
    from tests.analysis.scenarios import build as sc

    pcap = tmp_path / "signatures.pcap"
    write_posts(pcap, [(sc.face_jpeg() + b"\xff\xd8\xff\xe0" * 640_000, "image/jpeg")])
    run = run_netscan([str(pcap)], tmp_path)
    assert run.returncode == 0, run.stderr
    assert not [w for w in run.warnings if "not searched to their end" in w]
    assert run.report is not None
    (finding,) = run.report["findings"]
    assert finding["level"] == "confirmed"


def test_json_upload_nested_past_the_decoder(tmp_path: Path) -> None:
    """10 kB of brackets and a face picture nested 5,000 deep, posted to a face API: the
    run ends in its report (the first crashed it with RecursionError) and the picture still
    makes the finding."""
    import base64

    from tests.analysis.scenarios import build as sc

    pic = base64.b64encode(sc.face_jpeg())
    pcap = tmp_path / "deep.pcap"
    write_posts(pcap, [(b"[" * 5000 + b"]" * 5000, "application/json"),
                       (b'{"a":' * 5000 + b'{"faceImage":"' + pic + b'"}' + b"}" * 5000,
                        "application/json")])  # fmt: skip
    run = run_netscan([str(pcap)], tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.report is not None
    (finding,) = run.report["findings"]
    assert finding["level"] == "confirmed"


def test_carving_safety_net_reaches_the_run_warnings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The carving's safety net (never reached by real walks: each place is walked once)
    made tiny: the buffer it stops is counted in the run's warnings, in one line."""
    from netscan.analysis import content
    from netscan.analyze import Analyzer, Options
    from tests.analysis.scenarios import build as sc

    made = content._Carver.__init__

    def small(self: content._Carver, data: bytes, **kw: bool) -> None:
        made(self, data, **kw)
        self.limit_steps = 3

    monkeypatch.setattr(content._Carver, "__init__", small)
    pcap = tmp_path / "post.pcap"
    write_posts(pcap, [(sc.face_jpeg() + b"\xff\xd8\xff\xe0" * 100, "image/jpeg")])
    result = Analyzer(Options()).run([str(pcap)])
    lines = [w for w in result.warnings if "not searched to their end" in w]
    assert len(lines) == 1 and "safety net" in lines[0]
    assert count_in(r"for pictures: ([\d,]+) ", lines) >= 1
