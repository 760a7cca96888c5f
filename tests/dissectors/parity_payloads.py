"""Test helper: every payload the Python dissectors see, with the events they made.

The pure-Python reference engine (``tests/reference``) runs over a capture with the
registry's parser choices wrapped, so that each datagram parser call and each stream
parser's sequence of ``feed`` calls is recorded together with the events the Python
dissector returned. The Rust dissectors are then replayed on exactly the same inputs (see
test_rust_parity.py and benchmarks/dissect_speed.py).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

from netscan.dissectors import _text, registry
from netscan.dissectors.registry import Datagrams
from netscan.engine.sink import PlainSink
from netscan.events import Ctx, Event
from netscan.flow import Flow
from netscan.sources.pcapfile import CaptureError, CaptureFile
from tests.reference.native import Engine


@dataclass
class Datagram:
    parser: str  # registry name: "dns", "mdns", "nbns", ...
    payload: bytes
    ctx: Ctx
    events: list[Event]


@dataclass
class Stream:
    parser: str  # "tls", "quic", "dns" (over TCP), "http", ...
    ports: tuple[int, int]
    # (op, data, ctx, from_client, events the Python parser returned for this call); op is
    # "feed", "gap" or "close"
    calls: list[tuple[str, bytes, Ctx, bool, list[Event]]] = field(default_factory=list)


@dataclass
class Choice:
    transport: str  # "udp" | "tcp"
    a_port: int
    b_port: int
    first: bytes
    name: str | None  # the Python registry's choice


@dataclass
class Recording:
    datagrams: list[Datagram] = field(default_factory=list)
    streams: list[Stream] = field(default_factory=list)
    choices: list[Choice] = field(default_factory=list)
    # header blocks of the text protocols: (block, versions, SIP compact names in use)
    heads: list[tuple[bytes, tuple[str, ...], bool]] = field(default_factory=list)


class _Tee:
    """Stands in for a stream parser and records what it is fed and what it returns."""

    def __init__(self, inner: Any, record: Stream) -> None:
        self.inner = inner
        self.record = record

    @property
    def done(self) -> bool:
        return bool(self.inner.done)

    def feed(self, data: bytes, ctx: Ctx, from_client: bool) -> list[Event]:
        events = self.inner.feed(data, ctx, from_client)
        self.record.calls.append(("feed", bytes(data), ctx, from_client, list(events)))
        return events

    def close(self, ctx: Ctx) -> list[Event]:
        events = self.inner.close(ctx)
        self.record.calls.append(("close", b"", ctx, False, list(events)))
        return events

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.inner, name)
        if name != "gap":
            return attr

        def gap(ctx: Ctx, from_client: bool) -> list[Event]:
            events = attr(ctx, from_client)
            self.record.calls.append(("gap", b"", ctx, from_client, list(events)))
            return events

        return gap


class _Sink(PlainSink):
    def on_flow(self, flow: Flow) -> None:
        pass

    def on_event(self, event: Event, flow: Flow | None) -> None:
        pass

    def on_frame_l2(self, file: int, frame: int, ts: float, src: bytes, wirelen: int) -> None:
        pass


def record(path: Path) -> Recording:
    rec = Recording()
    orig_udp = registry.udp_parser
    orig_tcp = registry.tcp_parser

    def udp_parser(a_port: int, b_port: int, first: bytes) -> Any:
        hit = orig_udp(a_port, b_port, first)
        rec.choices.append(Choice("udp", a_port, b_port, bytes(first), hit and hit[0]))
        if hit is None:
            return None
        name, parser = hit
        if type(parser) is Datagrams:
            fn = parser.fn

            def recorded(payload: bytes, ctx: Ctx) -> list[Event]:
                events = fn(payload, ctx)
                rec.datagrams.append(Datagram(name, bytes(payload), ctx, list(events)))
                return events

            parser.fn = recorded
            return name, parser
        stream = Stream(name, (a_port, b_port))
        rec.streams.append(stream)
        return name, _Tee(parser, stream)

    def tcp_parser(first: bytes, a_port: int, b_port: int, *args: Any) -> Any:
        hit = orig_tcp(first, a_port, b_port, *args)
        rec.choices.append(Choice("tcp", a_port, b_port, bytes(first), hit and hit[0]))
        if hit is None:
            return None
        name, parser = hit
        stream = Stream(name, (a_port, b_port))
        rec.streams.append(stream)
        return name, _Tee(parser, stream)

    orig_head = _text.parse_head

    def parse_head(block: Any, versions: tuple[str, ...], name_map: Any = None) -> Any:
        if len(rec.heads) < 20_000:
            rec.heads.append((bytes(block), tuple(versions), name_map is not None))
        return orig_head(block, versions, name_map)

    try:
        capture = CaptureFile(path)
    except CaptureError:
        return rec
    with (
        mock.patch.object(registry, "udp_parser", udp_parser),
        mock.patch.object(registry, "tcp_parser", tcp_parser),
        mock.patch.object(_text, "parse_head", parse_head),
    ):
        engine = Engine(_Sink(), response_prefixes=pack_response_prefixes())
        engine.run(capture.records())
        engine.finish()
    capture.close()
    return rec


@functools.cache
def pack_response_prefixes() -> tuple[str, ...]:
    """The polls whose HTTP answers the engines keep, as the bundled pack names them."""
    from netscan.signatures.pack import load_active_pack

    return load_active_pack().response_prefixes


@functools.cache
def recording(path: str) -> Recording:
    return record(Path(path))


# --- crafted HTTP, RTSP and SIP-over-TCP streams ------------------------------------------
#
# Each case is (parser, constructor arguments, calls); a call is ("feed", data, from_client),
# ("gap", b"", from_client) or ("close", b"", True). The stream parsers of both sides are
# driven with the same calls (test_rust_parity_streams.py), whole, cut at every boundary
# and in random pieces.

StreamCall = tuple[str, bytes, bool]
StreamCase = tuple[str, dict[str, int], list[StreamCall]]

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 2
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(200))
WEBP = b"RIFF\x10\x00\x00\x00WEBPVP8 " + bytes(40)


def _chunked(body: bytes, size: int, ext: bytes = b"") -> bytes:
    out = b""
    for i in range(0, len(body), size):
        piece = body[i : i + size]
        out += b"%x" % len(piece) + ext + b"\r\n" + piece + b"\r\n"
    return out + b"0\r\nX-Trailer: 1\r\n\r\n"


def _post(path: bytes, ctype: bytes | None, body: bytes, chunked: int = 0) -> bytes:
    head = b"POST " + path + b" HTTP/1.1\r\nHost: cloud.example\r\nUser-Agent: cam/1\r\n"
    if ctype is not None:
        head += b"Content-Type: " + ctype + b"\r\n"
    if chunked:
        return head + b"Transfer-Encoding: gzip, chunked\r\n\r\n" + _chunked(body, chunked, b";a=b")
    return head + b"Content-Length: %d\r\n\r\n" % len(body) + body


def _response(status: bytes, body: bytes | None, chunked: int = 0, extra: bytes = b"") -> bytes:
    head = b"HTTP/1.1 " + status + b"\r\nServer: web\r\nContent-Type: text/plain\r\n" + extra
    if body is None:
        return head + b"\r\n"
    if chunked:
        return head + b"Transfer-Encoding: chunked\r\n\r\n" + _chunked(body, chunked)
    return head + b"Content-Length: %d\r\n\r\n" % len(body) + body


ZK_COMMANDS = (
    b"C:101:DATA UPDATE USERINFO PIN=1\tName=Ann\tPri=0\n"
    b"C:102:DATA UPDATE BIOPHOTO PIN=1\tType=9\tSize=12\tContent=/9j/4AAQSkZJRg==\n"
)
MULTIPART = (
    b'--xyz\r\nContent-Disposition: form-data; name="meta"\r\n\r\n{"id":1}\r\n'
    b'--xyz\r\nContent-Disposition: form-data; name="pic"; filename="f.jpg"\r\n'
    b"Content-Type: image/jpeg\r\n\r\n" + JPEG + b"\r\n--xyz--\r\n"
)


def _http_cases() -> list[StreamCase]:
    get = b"GET /ISAPI/System/deviceInfo HTTP/1.1\r\nHost: 10.0.0.2\r\nX-Dup: a\r\nx-dup: b\r\n\r\n"
    poll = b"GET /iclock/getrequest?SN=ABC123 HTTP/1.1\r\nHost: adms.example\r\n\r\n"
    upload = _post(b"/upload", b"image/png", PNG)
    reply = _response(b"200 OK", ZK_COMMANDS)
    polls: dict[str, Any] = {"response_prefixes": ("/iclock/getrequest", "/Vendor/Poll")}
    cases: list[StreamCase] = [
        ("http", {}, [("feed", get, True), ("feed", _response(b"200 OK", b"<xml/>"), False)]),
        # uploads: labelled, sniffed, chunked, multipart, JSON, WebP
        ("http", {}, [("feed", _post(b"/upload", b"image/jpeg", JPEG), True)]),
        ("http", {}, [("feed", _post(b"/x", b"text/plain", PNG), True)]),
        ("http", {}, [("feed", _post(b"/x", b"text/plain", b"just some words here"), True)]),
        ("http", {}, [("feed", _post(b"/x", None, WEBP, chunked=7), True)]),
        (
            "http",
            {},
            [("feed", _post(b"/api/face", b"application/json", b'{"a":1}' * 30, 50), True)],
        ),
        (
            "http",
            {},
            [("feed", _post(b"/f", b'multipart/form-data; boundary="xyz"', MULTIPART), True)],
        ),
        # pipelined requests and their responses, a HEAD, a 204 and a 304
        (
            "http",
            {},
            [
                (
                    "feed",
                    get
                    + b"HEAD / HTTP/1.1\r\n\r\n"
                    + _post(b"/a", b"application/xml", b"<a/>")
                    + b"GET /n HTTP/1.1\r\n\r\n"
                    + b"GET /m HTTP/1.1\r\n\r\n",
                    True,
                ),
                (
                    "feed",
                    _response(b"200 OK", b"x" * 40)
                    + _response(b"200 OK", None, extra=b"Content-Length: 99\r\n")
                    + _response(b"100 Continue", None)
                    + _response(b"204 No Content", None)
                    + _response(b"304 Not Modified", None)
                    + _response(b"200 OK", b"abc", chunked=2),
                    False,
                ),
            ],
        ),
        # ZKTeco polls: the commands in the responses are kept (Content-Length, chunked,
        # until close), others are not
        (
            "http",
            polls,
            [
                ("feed", poll, True),
                ("feed", _response(b"200 OK", ZK_COMMANDS), False),
                ("feed", poll.replace(b"getrequest", b"GetRequest"), True),
                ("feed", _response(b"200 OK", ZK_COMMANDS, chunked=16), False),
                ("feed", b"GET /iclock/cdata?SN=1 HTTP/1.1\r\n\r\n", True),
                ("feed", _response(b"200 OK", b"OK"), False),
                ("feed", poll, True),
                ("feed", b"HTTP/1.0 200 OK\r\nServer: adms\r\n\r\n" + ZK_COMMANDS, False),
                ("close", b"", True),
            ],
        ),
        # a poll under another prefix of the pack's kind is kept too; without prefixes no
        # answer is kept
        (
            "http",
            polls,
            [
                ("feed", b"GET /vendor/poll/7 HTTP/1.1\r\n\r\n", True),
                ("feed", _response(b"200 OK", ZK_COMMANDS), False),
            ],
        ),
        ("http", {}, [("feed", poll, True), ("feed", _response(b"200 OK", ZK_COMMANDS), False)]),
        (
            "http",
            {"body_cap": 20, **polls},
            [
                ("feed", poll, True),
                ("feed", _response(b"200 OK", ZK_COMMANDS), False),
                ("feed", _post(b"/upload", b"image/png", PNG), True),
            ],
        ),
        # a kept poll response arrives while the next request's upload is still coming in
        # on the same connection: each body keeps its own bytes
        (
            "http",
            polls,
            [
                ("feed", poll, True),
                ("feed", upload[: len(upload) - len(PNG) + 10], True),
                ("feed", reply[: len(reply) - len(ZK_COMMANDS) + 10], False),
                ("feed", upload[len(upload) - len(PNG) + 10 :], True),
                ("feed", reply[len(reply) - len(ZK_COMMANDS) + 10 :], False),
                ("close", b"", True),
            ],
        ),
        # the same with the flow's client guessed wrong: the requests come from the side
        # taken for the server, and each body still goes with its own head
        (
            "http",
            polls,
            [
                ("feed", poll, False),
                ("feed", upload[: len(upload) - len(PNG) + 10], False),
                ("feed", reply[: len(reply) - len(ZK_COMMANDS) + 10], True),
                ("feed", upload[len(upload) - len(PNG) + 10 :], False),
                ("feed", reply[len(reply) - len(ZK_COMMANDS) + 10 :], True),
                ("close", b"", True),
            ],
        ),
        # a response before any request, a response whose request was not seen
        (
            "http",
            polls,
            [
                ("feed", _response(b"200 OK", b"hello"), False),
                ("feed", _response(b"200 OK", ZK_COMMANDS), False),
            ],
        ),
        # body cut short by the end of the capture, by the body cap, by a gap
        (
            "http",
            {},
            [("feed", _post(b"/upload", b"image/jpeg", JPEG)[:-50], True), ("close", b"", True)],
        ),
        (
            "http",
            {"body_cap": 64},
            [("feed", _post(b"/upload", b"image/jpeg", JPEG, 33), True), ("feed", get, True)],
        ),
        ("http", {"body_cap": 0}, [("feed", _post(b"/upload", b"image/jpeg", JPEG), True)]),
        (
            "http",
            {},
            [
                ("feed", _post(b"/upload", b"image/jpeg", JPEG)[:-60], True),
                ("gap", b"", True),
                (
                    "feed",
                    b"\x00\x17tail of the lost body GET /next HTTP/1.1\r\nHost: h\r\n\r\n",
                    True,
                ),
                ("feed", b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab", False),
                ("gap", b"", False),
                ("feed", b"zz junk HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", False),
                ("gap", b"", True),
                ("feed", b"no start line here at all " * 40, True),
                ("feed", b"POST /snap HTTP/1.1\r\nContent-Length: 4\r\n\r\n\xff\xd8\xff\x00", True),
            ],
        ),
        (
            "http",
            {},
            [
                ("gap", b"", True),
                ("feed", b"x" * 20000 + b" GET /a HTTP/1.1", True),
                ("feed", b"\r\n\r\n", True),
            ],
        ),
        # protocol switches: upgrade, CONNECT tunnel
        (
            "http",
            {},
            [
                ("feed", b"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\n", True),
                ("feed", b"HTTP/1.1 101 Switching Protocols\r\n\r\n\x81\x05hello", False),
                ("feed", b"GET /after HTTP/1.1\r\n\r\n", True),
            ],
        ),
        (
            "http",
            {},
            [
                ("feed", b"CONNECT a:443 HTTP/1.1\r\n\r\n", True),
                ("feed", b"HTTP/1.1 200 Connection established\r\n\r\n\x16\x03\x01", False),
            ],
        ),
        # keep-alive sequences and the message limit
        ("http", {"max_messages": 3}, [("feed", get * 5, True)]),
        (
            "http",
            {"max_messages": 2},
            [
                ("feed", get + _post(b"/upload", b"image/jpeg", JPEG[:40]), True),
                ("feed", JPEG[40:80] + get, True),
            ],
        ),
        # bare LF, folded headers, a sloppy target, conflicting Content-Length
        (
            "http",
            {},
            [
                (
                    "feed",
                    b"POST /a b HTTP/1.0\nHost: x\nX-F: one\n  two\n"
                    b"Content-Length: 3, 3\n\nabcGET / HTTP/1.1\n\n",
                    True,
                )
            ],
        ),
        (
            "http",
            {},
            [
                (
                    "feed",
                    b"POST /upload HTTP/1.1\r\nContent-Length: 3\r\n"
                    b"Content-Length: 4\r\n\r\nabcdGET / HTTP/1.1\r\n\r\n",
                    True,
                )
            ],
        ),
        # hostile: binary, a huge start line, a header block over the cap, many headers,
        # long chunk-size lines, absurd chunk sizes, a body longer than any cap
        (
            "http",
            {},
            [
                ("feed", b"GET / HTTP/1.1\r\n\r\n", True),
                ("feed", b"\x16\x03\x01\x02\x00\x01", True),
            ],
        ),
        ("http", {}, [("feed", b"GET /" + b"a" * 17000 + b" HTTP/1.1\r\n\r\n", True)]),
        (
            "http",
            {},
            [("feed", b"GET / HTTP/1.1\r\n" + b"X-A: " + b"b" * 70000 + b"\r\n\r\n", True)],
        ),
        (
            "http",
            {},
            [
                (
                    "feed",
                    b"GET / HTTP/1.1\r\n"
                    + b"".join(b"H%d: v\r\n" % i for i in range(3000))
                    + b"\r\n",
                    True,
                )
            ],
        ),
        (
            "http",
            {},
            [
                (
                    "feed",
                    b"POST /upload HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                    + b"1" * 2000
                    + b"\r\n",
                    True,
                )
            ],
        ),
        (
            "http",
            {},
            [
                (
                    "feed",
                    b"POST /upload HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                    b"fffffffffffffff\r\n" + PNG,
                    True,
                ),
                ("close", b"", True),
            ],
        ),
        (
            "http",
            {},
            [
                (
                    "feed",
                    b"POST /upload HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n" + PNG,
                    True,
                )
            ],
        ),
        (
            "http",
            {"body_cap": 100},
            [
                (
                    "feed",
                    b"POST /upload HTTP/1.1\r\nContent-Type: image/png\r\n"
                    b"Content-Length: 999999999999\r\n\r\n" + PNG,
                    True,
                ),
                ("feed", PNG * 4, True),
                ("close", b"", True),
            ],
        ),
        (
            "http",
            {},
            [
                ("feed", b"HTTP/1.1 200 OK\r\n\r\n" + PNG * 3, False),
                ("feed", b"GET / HTTP/1.1\r\n\r\n", True),
            ],
        ),
    ]
    return cases


RTSP_SERVER = (
    b"RTSP/1.0 200 OK\r\nCSeq: 4\r\nServer: Hikvision/1.0\r\nContent-Type: application/sdp\r\n"
    b"Content-Length: 16\r\n\r\nv=0\r\ns=Session\r\n"
    b"RTSP/1.0 200 OK\r\nCSeq: 5\r\nSession: 12345\r\n\r\n"
    b"$\x00\x00\x10" + b"\x80" * 16 + b"$\x01\x00\x1cRTSP/1.0 200 OK\r\nCSeq: 99\r\n\r\n"
    b"$\x00\x00\x00"
    b"RTSP/1.0 401 Unauthorized\r\nCSeq: 6\r\n"
    b'WWW-Authenticate: Digest nonce="1", realm="Login to 4H01D66PAJ2FA64"\r\n\r\n'
)
RTSP_CLIENT = (
    b"DESCRIBE rtsp://10.0.0.5:554/Streaming/Channels/101 RTSP/1.0\r\nCSeq: 4\r\n"
    b"User-Agent: LibVLC/3.0\r\n\r\n"
    b"PLAY rtsp://10.0.0.5:554/Streaming/Channels/101 RTSP/1.0\r\nCSeq: 5\r\n\r\n"
    b"$\x01\x00\x04abcd"
    b"ANNOUNCE rtsp://10.0.0.5/ RTSP/1.0\r\nCSeq: 6\r\nContent-Length: 5\r\n\r\nv=0\r\n"
    b"TEARDOWN rtsp://10.0.0.5/ RTSP/1.0\r\nCSeq: 7\r\n\r\n"
)


def _rtsp_cases() -> list[StreamCase]:
    return [
        (
            "rtsp",
            {},
            [
                ("feed", RTSP_CLIENT[:120], True),
                ("feed", RTSP_SERVER, False),
                ("feed", RTSP_CLIENT[120:], True),
            ],
        ),
        ("rtsp", {"max_messages": 3}, [("feed", RTSP_CLIENT, True), ("feed", RTSP_SERVER, False)]),
        # lost bytes: the RTSP parser goes on as if the stream were whole
        (
            "rtsp",
            {},
            [
                ("feed", RTSP_SERVER[:90], False),
                ("gap", b"", False),
                ("feed", RTSP_SERVER[150:], False),
                ("close", b"", True),
            ],
        ),
        (
            "rtsp",
            {},
            [
                ("feed", b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n\x00\x01\x02", True),
                ("feed", b"RTSP/1.0 200 OK\r\nCSeq: 1\r\nPublic: PLAY\r\n\r\n$", False),
                ("feed", b"\x00\xff\xff" + b"\x00" * 70000, False),
            ],
        ),
        ("rtsp", {}, [("feed", b"RTSP/1.0 200 OK\r\n" + b"X: y\r\n" * 4000 + b"\r\n", False)]),
    ]


SIP_REGISTER = (
    b"REGISTER sip:34020000002000000001@3402000000 SIP/2.0\r\n"
    b"v: SIP/2.0/TCP 10.0.0.8:5060;branch=z9hG4bK1\r\n"
    b"f: <sip:34020000001320000001@3402000000>;tag=1\r\n"
    b"t: <sip:34020000001320000001@3402000000>\r\n"
    b"i: 1@10.0.0.8\r\nCSeq: 1 REGISTER\r\nUser-Agent: IP Camera\r\nl: 0\r\n\r\n"
)
SIP_MESSAGE = (
    b"MESSAGE sip:34020000002000000001@3402000000 SIP/2.0\r\nCSeq: 2 MESSAGE\r\n"
    b"c: Application/MANSCDP+xml\r\nl: %d\r\n\r\n"
)
CATALOG = b'<?xml version="1.0"?><Notify><CmdType>Keepalive</CmdType></Notify>'


def _sip_cases() -> list[StreamCase]:
    big = b"<x>" + b"y" * 5000 + b"</x>"
    return [
        (
            "sip",
            {},
            [
                ("feed", SIP_REGISTER + SIP_MESSAGE % len(CATALOG) + CATALOG, True),
                ("feed", b"SIP/2.0 200 OK\r\nCSeq: 1 REGISTER\r\nServer: wvp\r\n\r\n", False),
            ],
        ),
        ("sip", {}, [("feed", SIP_MESSAGE % len(big) + big + SIP_REGISTER, True)]),
        (
            "sip",
            {},
            [
                ("feed", SIP_MESSAGE % 500 + CATALOG, True),
                ("feed", b"SIP/2.0 100 Trying\r\nl: 10\r\n\r\n01234", False),
                ("close", b"", True),
            ],
        ),
        ("sip", {"max_messages": 2}, [("feed", SIP_REGISTER * 4, True)]),
        (
            "sip",
            {},
            [
                ("feed", SIP_REGISTER, True),
                ("gap", b"", True),
                ("feed", b"\x00garbage" + SIP_REGISTER, True),
            ],
        ),
    ]


def crafted_text_streams() -> list[StreamCase]:
    """The crafted HTTP, RTSP and SIP-over-TCP cases."""
    return _http_cases() + _rtsp_cases() + _sip_cases()
