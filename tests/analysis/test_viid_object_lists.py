"""A GA/T 1400 upload's object list is the device's to shape: ``{"FaceListObject":
{"FaceObject": 1}}`` made ``_parse_viid`` take ``len()`` of a number (TypeError) and ended
the analysis in a traceback. Review finding (review4): these tests fail on main at
f74ea9a."""

from __future__ import annotations

import pytest

from netscan.analysis.content import parse_body
from netscan.events import Ctx, HttpBodyEvent


@pytest.mark.parametrize("objects", [b"1", b"1.5", b"true", b"Infinity"])
def test_viid_object_list_that_is_a_number(objects: bytes) -> None:
    body = b'{"FaceListObject":{"FaceObject":' + objects + b"}}"
    ctx = Ctx(0, 1, 0.0, src_ip="192.168.1.10", dst_ip="1.2.3.4", transport="tcp")
    ev = HttpBodyEvent(ctx=ctx, method="POST", path="/VIID/Faces",
                       content_type="application/VIID+JSON", body=body)  # fmt: skip
    parsed = parse_body(ev)
    assert parsed.protocol == "viid" and parsed.items == []
