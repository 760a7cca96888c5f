"""An ISAPI access-control event's numbers come from a JSON part the device wrote:
``json.loads`` reads ``Infinity`` as a float, and ``int(inf)`` raises OverflowError, which
``_isapi_event_is_face`` did not catch: one multipart upload ended the analysis in a
traceback. Review finding (review4): these tests fail on main at f74ea9a."""

from __future__ import annotations

import pytest

from netscan.analysis.content import parse_body
from netscan.events import Ctx, HttpBodyEvent


@pytest.mark.parametrize("value", [b"Infinity", b"-Infinity", b"NaN", b"1e999"])
def test_isapi_event_number_that_is_no_integer(value: bytes) -> None:
    doc = (b'{"eventType":"AccessControllerEvent","AccessControllerEvent":{"majorEventType":'
           + value + b',"subEventType":75}}')  # fmt: skip
    body = (b'--b\r\nContent-Disposition: form-data; name="event_log"\r\n'
            b"Content-Type: application/json\r\n\r\n" + doc + b"\r\n--b--\r\n")  # fmt: skip
    ctx = Ctx(0, 1, 0.0, src_ip="192.168.1.10", dst_ip="1.2.3.4", transport="tcp")
    ev = HttpBodyEvent(ctx=ctx, method="POST", path="/ISAPI/Event/notification/alertStream",
                       content_type="multipart/form-data; boundary=b", body=body)  # fmt: skip
    parsed = parse_body(ev)
    assert parsed.protocol == "isapi" and parsed.items == []
