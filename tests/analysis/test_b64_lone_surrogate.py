"""A JSON string escape may name a lone surrogate ("\\ud800"): ``json.loads`` gives it back
as is, and ``decode_b64_image`` then encoded it to UTF-8, raising UnicodeEncodeError. One
26-byte key and 300 letters in one upload ended the whole analysis in a traceback with no
report. Review finding (review4): these tests fail on main at f74ea9a."""

from __future__ import annotations

from pathlib import Path

import pytest

from netscan.analysis.content import decode_b64_image, parse_body
from netscan.events import Ctx, HttpBodyEvent
from tests.hostile_inputs import run_netscan, write_posts

HOSTILE = b'{"faceImage":"\\ud800' + b"A" * 300 + b'"}'


def _body(path: str, body: bytes, ctype: str) -> HttpBodyEvent:
    ctx = Ctx(0, 1, 0.0, src_ip="192.168.1.10", dst_ip="1.2.3.4", transport="tcp")
    return HttpBodyEvent(ctx=ctx, method="POST", path=path, content_type=ctype, body=body)


def test_decode_b64_image_refuses_a_lone_surrogate() -> None:
    assert decode_b64_image("\ud800" + "A" * 300) is None
    assert decode_b64_image("/9j/" + "A" * 300 + "\udc80") is None


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/upload", HOSTILE),
        ("/VIID/Faces", b'{"FaceListObject":{"FaceObject":[{"FaceID":"1","SubImageList":'
         b'{"SubImageInfoObject":[{"Type":"11","Data":"\\udc80' + b"A" * 300 + b'"}]}}]}}'),
    ],
)  # fmt: skip
def test_json_upload_with_a_lone_surrogate_is_no_exception(path: str, body: bytes) -> None:
    assert parse_body(_body(path, body, "application/json")).items == []


def test_json_upload_with_a_lone_surrogate_ends_in_a_report(tmp_path: Path) -> None:
    pcap = tmp_path / "surrogate.pcap"
    write_posts(pcap, [(HOSTILE, "application/json")])
    run = run_netscan([str(pcap)], tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.report is not None
