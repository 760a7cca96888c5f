"""The JSON walk spells out, for each base64 picture, the path of keys down to it, whole,
in the item's text and fields. The keys are the sender's: 950 levels of 400-letter keys
over 64 small pictures (a 0.4 MB upload) made 64 paths of 0.38 MB each (24 MB of evidence
text, into every report; 1.5 MB gives 97 MB and 190 MB of peak memory), each built by
repeated concatenation (time in the square of the depth). Review finding (review4): this
test fails on main at f74ea9a."""

from __future__ import annotations

import base64

from netscan.analysis.content import MAX_ITEMS, parse_body
from netscan.events import Ctx, HttpBodyEvent


def test_json_paths_are_bounded_by_the_body() -> None:
    pic = base64.b64encode(b"\xff\xd8\xff" + bytes(210)).decode()
    text = "{" + ",".join(f'"p{i}":"{pic}"' for i in range(MAX_ITEMS)) + "}"
    for i in range(950):
        text = '{"' + chr(97 + i % 26) * 400 + '":' + text + "}"
    body = text.encode()
    ctx = Ctx(0, 1, 0.0, src_ip="192.168.1.10", dst_ip="1.2.3.4", transport="tcp")
    ev = HttpBodyEvent(ctx=ctx, method="POST", path="/api/upload",
                       content_type="application/json", body=body)  # fmt: skip
    items = parse_body(ev).items
    assert len(items) == MAX_ITEMS
    text_kept = sum(len(i.what) + sum(len(str(v)) for v in i.fields.values()) for i in items)
    assert text_kept <= len(body), (text_kept, len(body))
