"""Lost segments: HTTP parsing goes on past a capture gap inside a body whose length frames
it, and picks up again at the next message otherwise."""

from __future__ import annotations

from netscan.engine.core import CoreEngine
from netscan.engine.sink import PlainSink
from netscan.events import Event, HttpBodyEvent, HttpRequestEvent
from netscan.flow import Flow


class Sink(PlainSink):
    def __init__(self) -> None:
        self.events: list[Event] = []

    def on_flow(self, flow: Flow) -> None:
        pass

    def on_event(self, event: Event, flow: Flow | None) -> None:
        self.events.append(event)

    def on_frame_l2(self, file: int, frame: int, ts: float, src: bytes, wirelen: int) -> None:
        pass


def _frame(seq: int, payload: bytes, flags: int = 0x18) -> bytes:
    from scapy.layers.inet import IP, TCP
    from scapy.layers.l2 import Ether

    pkt = (
        Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
        / IP(src="192.168.1.50", dst="203.0.113.9")
        / TCP(sport=40000, dport=80, seq=seq, flags=flags)
        / payload
    )
    return bytes(pkt)


def _run(stream: bytes, lost: tuple[int, int]) -> list[Event]:
    """Send ``stream`` in 1000-byte segments, dropping stream[lost[0]:lost[1]]."""
    records = [(0, 1, 1.0, 1, _frame(999, b"", 0x02), 54)]
    frame = 1
    for off in range(0, len(stream), 1000):
        if lost[0] <= off < lost[1]:
            continue
        frame += 1
        data = _frame(1000 + off, stream[off : off + 1000])
        records.append((0, frame, 1.0 + frame / 100, 1, data, len(data)))
    sink = Sink()
    engine = CoreEngine(sink)
    engine.run(records)
    engine.finish()
    return sink.events


def test_next_request_is_found_after_a_lost_body_segment() -> None:
    body = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 40  # a 10 kB picture-like body
    first = (
        b"POST /upload HTTP/1.1\r\nHost: cloud.example\r\nContent-Type: image/jpeg\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )
    second = b"GET /second HTTP/1.1\r\nHost: cloud.example\r\n\r\n"
    stream = first + second
    events = _run(stream, (4000, 5000))
    requests = [e for e in events if isinstance(e, HttpRequestEvent)]
    assert [r.path for r in requests] == ["/upload", "/second"]
    bodies = [e for e in events if isinstance(e, HttpBodyEvent)]
    # the body before the hole and its rest after it (the length frames it past the bytes
    # lost), neither pretended complete
    assert [(len(b.body), b.complete) for b in bodies] == [(4000 - first.index(body), False),
                                                          (len(first) - 5000, False)]  # fmt: skip
    assert bodies[1].body == first[5000:]


def test_a_hole_past_the_body_looks_for_the_next_request() -> None:
    """The bytes lost run past the body's end (into the next request's head): the body is
    reported up to the hole, and parsing picks up at the request after; the bytes between
    are kept as a body whose head was lost."""
    body = bytes(range(256)) * 8  # 2 kB
    first = (
        b"POST /upload HTTP/1.1\r\nHost: cloud.example\r\nContent-Type: image/jpeg\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )
    lost = b"GET /lost HTTP/1.1\r\nHost: cloud.example\r\n\r\n".ljust(1000, b"x")
    third = b"GET /third HTTP/1.1\r\nHost: cloud.example\r\n\r\n"
    stream = first + lost + third
    start = (len(first) // 1000) * 1000  # the hole: the body's last bytes, then most of /lost
    events = _run(stream, (start, start + 1000))
    assert [e.path for e in events if isinstance(e, HttpRequestEvent)] == ["/upload", "/third"]
    bodies = [e for e in events if isinstance(e, HttpBodyEvent)]
    # the body up to the hole, then what came between the hole and the next request: kept
    # as the rest of a request whose head was lost (no method, no path)
    after = len(first) + len(lost) - (start + 1000)
    assert [(b.method, len(b.body), b.complete) for b in bodies] == [
        ("POST", start - first.index(body), False),
        ("", after, False),
    ]


def test_without_loss_nothing_changes() -> None:
    stream = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n"
    events = _run(stream, (-1, -1))
    assert [e.path for e in events if isinstance(e, HttpRequestEvent)] == ["/a", "/b"]
