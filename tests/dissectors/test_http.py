from __future__ import annotations

import random
import shutil
import subprocess
from collections import Counter

import pytest

from netscan.dissectors.http import HttpStream, body_worth_capturing, looks_like_image
from netscan.events import Ctx, Event, HttpBodyEvent, HttpRequestEvent, HttpResponseEvent
from tests.conftest import realworld, requires_tshark
from tests.dissectors._textproto_pcap import (
    feed_at_every_boundary,
    feed_split,
    replay,
    tcp_flows,
)

CTX = Ctx(file=0, frame=1, ts=0.0)
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 3


def run(*parts: tuple[bool, bytes], step: int = 0, **kwargs: int) -> list[Event]:
    return feed_split(lambda: HttpStream(**kwargs), list(parts), step)


def requests(events: list[Event]) -> list[HttpRequestEvent]:
    return [e for e in events if isinstance(e, HttpRequestEvent)]


def responses(events: list[Event]) -> list[HttpResponseEvent]:
    return [e for e in events if isinstance(e, HttpResponseEvent)]


def bodies(events: list[Event]) -> list[HttpBodyEvent]:
    return [e for e in events if isinstance(e, HttpBodyEvent)]


def test_simple_get_fields() -> None:
    data = (
        b"GET /ISAPI/System/deviceInfo?x=1 HTTP/1.1\r\n"
        b"Host: 192.168.1.64\r\n"
        b"User-Agent: Mozilla/5.0 test\r\n"
        b"Accept: */*\r\n"
        b"X-Dup: one\r\n"
        b"x-dup: two\r\n"
        b"\r\n"
    )
    events = run((True, data))
    assert len(events) == 1
    req = events[0]
    assert isinstance(req, HttpRequestEvent)
    assert req.kind == "http_request"
    assert (req.method, req.path, req.version) == (
        "GET",
        "/ISAPI/System/deviceInfo?x=1",
        "HTTP/1.1",
    )
    assert req.host == "192.168.1.64"
    assert req.user_agent == "Mozilla/5.0 test"
    assert req.content_type is None and req.content_length is None and req.boundary is None
    assert req.headers == {
        "host": "192.168.1.64",
        "user-agent": "Mozilla/5.0 test",
        "accept": "*/*",
        "x-dup": "one",
    }
    assert req.ctx is CTX or req.ctx.frame == 1


def test_an_upload_from_the_side_taken_for_the_server_is_kept() -> None:
    """The flow's client guessed wrong (a capture begun mid-connection on ports of no
    service): the request and its picture come from the "server" side, and the body still
    goes with its head."""
    jpeg = b"\xff\xd8\xff\xe0picture"
    msg = b"POST /face HTTP/1.1\r\nContent-Type: image/jpeg\r\nContent-Length: 11\r\n\r\n"
    for client in (True, False):
        got = bodies(run((client, msg + jpeg)))
        assert [(b.method, b.body) for b in got] == [("POST", jpeg)], client


def test_request_emitted_when_header_block_completes() -> None:
    parser = HttpStream()
    head = b"POST /upload HTTP/1.1\r\nHost: h\r\nContent-Type: image/jpeg\r\nContent-Length: 10\r\n"
    assert parser.feed(head, CTX, True) == []
    out = parser.feed(b"\r\n", Ctx(file=0, frame=2, ts=0.0), True)
    assert len(out) == 1 and isinstance(out[0], HttpRequestEvent)
    assert out[0].ctx.frame == 2
    assert out[0].content_length == 10
    out = parser.feed(b"\xff\xd8\xff\xe0abcdef", Ctx(file=0, frame=3, ts=0.0), True)
    assert len(out) == 1 and isinstance(out[0], HttpBodyEvent)
    assert out[0].body == b"\xff\xd8\xff\xe0abcdef"
    assert (out[0].first_frame, out[0].last_frame) == (3, 3)


def test_pipelined_requests_and_skipped_bodies() -> None:
    data = (
        b"GET /a HTTP/1.1\r\nHost: one\r\n\r\n"
        b"POST /form HTTP/1.1\r\nHost: two\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        b"Content-Length: 25\r\n\r\n"
        b"GET /not-a-request HTTP/1"  # 25 body bytes that look like a request line
        b"PUT /b HTTP/1.0\r\nHost: three\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nGET /\r\n0\r\n\r\n"
        b"GET /c HTTP/1.1\r\nHost: four\r\n\r\n"
    )
    events = run((True, data))
    got = [(e.method, e.path, e.host) for e in requests(events)]
    assert got == [
        ("GET", "/a", "one"),
        ("POST", "/form", "two"),
        ("PUT", "/b", "three"),
        ("GET", "/c", "four"),
    ]
    assert bodies(events) == []  # form data and an unlabelled text body are not kept


def test_chunked_image_body_is_dechunked() -> None:
    payload = PNG
    chunks = b""
    for i in range(0, len(payload), 100):
        part = payload[i : i + 100]
        chunks += f"{len(part):x};ext=1\r\n".encode() + part + b"\r\n"
    data = (
        b"POST /api/face/add HTTP/1.1\r\nHost: cloud.example\r\n"
        b"Content-Type: image/png\r\nTransfer-Encoding: chunked\r\n\r\n"
        + chunks
        + b"0\r\nX-Trailer: 1\r\n\r\n"
        + b"GET /next HTTP/1.1\r\nHost: cloud.example\r\n\r\n"
    )
    events = run((True, data))
    [body] = bodies(events)
    assert body.body == payload
    assert body.complete
    assert (body.method, body.path, body.host, body.content_type) == (
        "POST",
        "/api/face/add",
        "cloud.example",
        "image/png",
    )
    assert [e.path for e in requests(events)] == ["/api/face/add", "/next"]


MULTIPART_BODY = (
    b"--XyZ\r\n"
    b'Content-Disposition: form-data; name="meta"\r\n\r\n'
    b'{"person":"1"}\r\n'
    b"--XyZ\r\n"
    b'Content-Disposition: form-data; name="face"; filename="f.jpg"\r\n'
    b"Content-Type: image/jpeg\r\n\r\n"
    b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(200) + b"\xff\xd9\r\n"
    b"--XyZ--\r\n"
)
MULTIPART_REQUEST = (
    b"POST /upload HTTP/1.1\r\nHost: 203.0.113.5:8080\r\nUser-Agent: dev/1.0\r\n"
    b'Content-Type: multipart/form-data; boundary="XyZ"\r\n'
    + f"Content-Length: {len(MULTIPART_BODY)}\r\n\r\n".encode()
    + MULTIPART_BODY
)
RESPONSE_STREAM = (
    b"HTTP/1.1 100 Continue\r\n\r\n"
    b"HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: application/json\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n"
    b'4\r\n{"a"\r\n3\r\n:1}\r\n0\r\n\r\n'
    b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found"
)


def test_multipart_body_capture() -> None:
    events = run((True, MULTIPART_REQUEST))
    [req] = requests(events)
    assert req.boundary == "XyZ"
    assert req.content_length == len(MULTIPART_BODY)
    [body] = bodies(events)
    assert body.body == MULTIPART_BODY
    assert body.complete
    assert body.host == "203.0.113.5:8080"


def test_every_split_position_gives_identical_events() -> None:
    request_stream = (
        MULTIPART_REQUEST
        + b"POST /snap HTTP/1.1\nHost: x\nTransfer-Encoding: chunked\n\n3\nabc\n0\n\n"
        + b"GET /last HTTP/1.1\r\nHost: x\r\n\r\n"
    )
    whole = run((True, request_stream))
    assert len(requests(whole)) == 3 and len(bodies(whole)) == 2
    assert bodies(whole)[1].body == b"abc"
    for events in feed_at_every_boundary(HttpStream, request_stream, True):
        assert events == whole
    assert run((True, request_stream), step=1) == whole

    whole_resp = run((False, RESPONSE_STREAM))
    assert [e.status for e in responses(whole_resp)] == [100, 200, 404]
    for events in feed_at_every_boundary(HttpStream, RESPONSE_STREAM, False):
        assert events == whole_resp
    assert run((False, RESPONSE_STREAM), step=1) == whole_resp


def test_responses() -> None:
    events = run((True, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"), (False, RESPONSE_STREAM))
    resp = responses(events)
    assert [(r.status, r.reason) for r in resp] == [
        (100, "Continue"),
        (200, "OK"),
        (404, "Not Found"),
    ]
    assert resp[1].server == "nginx"
    assert resp[1].content_type == "application/json"
    assert resp[1].content_length is None
    assert resp[2].content_length == 9
    assert resp[2].version == "HTTP/1.1"


def test_head_and_204_304_responses_have_no_body() -> None:
    client = b"HEAD /x HTTP/1.1\r\nHost: a\r\n\r\nGET /y HTTP/1.1\r\nHost: a\r\n\r\n"
    client += b"GET /z HTTP/1.1\r\nHost: a\r\n\r\nGET /w HTTP/1.1\r\nHost: a\r\n\r\n"
    server = (
        b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"  # HEAD: no body follows
        b"HTTP/1.1 204 No Content\r\n\r\n"
        b"HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\n"
        b"HTTP/1.0 200 OK\r\nServer: old\r\n\r\nbody until close HTTP/1.1 200 OK\r\n\r\n"
    )
    events = run((True, client), (False, server))
    assert [r.status for r in responses(events)] == [200, 204, 304, 200]
    assert responses(events)[0].content_length == 1000


def test_response_body_until_close_and_upgrade_stop_parsing() -> None:
    parser = HttpStream()
    parser.feed(b"GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n", CTX, True)
    out = parser.feed(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x05", CTX, False
    )
    assert [e.status for e in responses(out)] == [101]
    assert parser.done
    assert parser.feed(b"GET /after HTTP/1.1\r\n\r\n", CTX, True) == []


def test_body_cap_and_incomplete_bodies() -> None:
    data = (
        b"POST /a HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\nContent-Length: 30\r\n\r\n"
        + b"x" * 30
        + b"POST /b HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\nContent-Length: 30\r\n\r\n"
        + b"y" * 12
    )
    events = run((True, data), body_cap=20)
    assert [e.path for e in requests(events)] == ["/a", "/b"]
    first, second = bodies(events)
    assert first.body == b"x" * 20 and not first.complete  # cap hit
    assert second.body == b"y" * 12 and not second.complete  # flow ended first (close)


def test_sniffed_picture_body_is_kept_and_other_bodies_are_not() -> None:
    jpeg = b"\xff\xd8\xff\xdb" + bytes(50)
    data = (
        b"POST / HTTP/1.1\r\nHost: h\r\nContent-Type: text/plain\r\n"
        + f"Content-Length: {len(jpeg)}\r\n\r\n".encode()
        + jpeg
        + b"POST / HTTP/1.1\r\nHost: h\r\nContent-Type: text/plain\r\nContent-Length: 20\r\n\r\n"
        + b"just some plain text"
    )
    for step in (0, 1, 5):
        [body] = bodies(run((True, data), step=step))
        assert body.body == jpeg and body.complete
    assert looks_like_image(PNG) and not looks_like_image(b"hello world!")


def test_sniffing_does_not_disturb_the_next_body() -> None:
    stream = (
        b"POST /a HTTP/1.1\r\nContent-Type: text/plain\r\nContent-Length: 20\r\n\r\n"
        + b"plain text, no image"
        + b"POST /b HTTP/1.1\r\nContent-Type: image/png\r\n"
        + f"Content-Length: {len(PNG)}\r\n\r\n".encode()
        + PNG
        + b"POST /c HTTP/1.1\r\nContent-Length: 20\r\n\r\n"
        + b"plain text, no image"
    )
    whole = run((True, stream))
    [body] = bodies(whole)
    assert body.path == "/b" and body.body == PNG and body.complete
    for events in feed_at_every_boundary(HttpStream, stream, True):
        assert events == whole


def test_body_worth_capturing() -> None:
    assert body_worth_capturing("/", "image/jpeg")
    assert body_worth_capturing("/", "multipart/form-data; boundary=x")
    assert body_worth_capturing("/", "Application/JSON; charset=utf-8")
    assert body_worth_capturing("/", "application/octet-stream.")
    assert body_worth_capturing("/", "text/xml")
    assert body_worth_capturing("/ISAPI/Intelligent/FDLib/FaceDataRecord", None)
    assert not body_worth_capturing("/login", "application/x-www-form-urlencoded")
    assert not body_worth_capturing("/", "text/plain")


def test_done_after_max_messages_unless_bodies_are_worth_it() -> None:
    parser = HttpStream(max_messages=3)
    for _ in range(3):
        assert not parser.done
        parser.feed(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", CTX, True)
    assert parser.done

    parser = HttpStream(max_messages=3)
    upload = (
        b"POST /up HTTP/1.1\r\nHost: a\r\nContent-Type: image/jpeg\r\nContent-Length: 4\r\n\r\n"
    )
    for _ in range(5):
        assert not parser.done
        out = parser.feed(upload + b"\xff\xd8\xff\xd9", CTX, True)
        assert len(bodies(out)) == 1
    assert not parser.done
    parser.feed(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", CTX, True)
    assert parser.done


def test_bare_lf_and_folded_headers() -> None:
    data = b"GET /x HTTP/1.0\nHost: a\nUser-Agent: Foo\n\t Bar/1.0\n  baz\nAccept: */*\n\n"
    [req] = requests(run((True, data)))
    assert req.user_agent == "Foo Bar/1.0 baz"
    assert req.headers["accept"] == "*/*"
    assert req.version == "HTTP/1.0"


def test_sloppy_request_target_with_spaces() -> None:
    [req] = requests(run((True, b"GET /cgi-bin/snap shot.cgi HTTP/1.1\r\nHost: a\r\n\r\n")))
    assert req.path == "/cgi-bin/snap shot.cgi"


def test_header_dict_capped_at_64() -> None:
    lines = b"".join(f"X-H{i}: {i}\r\n".encode() for i in range(100))
    [req] = requests(run((True, b"GET / HTTP/1.1\r\n" + lines + b"Host: late\r\n\r\n")))
    assert len(req.headers) == 64
    assert req.host == "late"  # well-known fields are still found


def test_oversized_header_block_gives_up() -> None:
    parser = HttpStream()
    huge = b"GET / HTTP/1.1\r\n" + b"X-Pad: " + b"a" * 70000 + b"\r\n\r\n"
    assert parser.feed(huge, CTX, True) == []
    assert parser.feed(b"GET /later HTTP/1.1\r\nHost: a\r\n\r\n", CTX, True) == []
    parser.feed(b"\x16\x03\x01\x02\x00\x01", CTX, False)  # not HTTP at all
    assert parser.done


def test_garbage_never_raises() -> None:
    rng = random.Random(1234)
    samples = [
        b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + bytes(100),
        b"GET\r\n\r\n",
        b"HTTP/1.1 abc\r\n\r\n",
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"POST / HTTP/1.1\r\nContent-Type: image/png\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
        b"POST / HTTP/1.1\r\nContent-Length: -5\r\n\r\nGET / HTTP/1.1\r\n\r\n",
        b"POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n",
        b"GET / HTTP/1.1\r\n" + b"\xff" * 300 + b"\r\n\r\n",
    ]
    samples += [rng.randbytes(rng.randint(1, 400)) for _ in range(200)]
    base = MULTIPART_REQUEST + RESPONSE_STREAM
    for _ in range(200):
        mutated = bytearray(base)
        for _ in range(rng.randint(1, 10)):
            mutated[rng.randrange(len(mutated))] = rng.randrange(256)
        samples.append(bytes(mutated))
    for sample in samples:
        for from_client in (True, False):
            parser = HttpStream()
            for i in range(0, len(sample), 37):
                out = parser.feed(sample[i : i + 37], CTX, from_client)
                assert all(isinstance(e, Event) for e in out)
            parser.close(CTX)
    assert requests(run((True, b"\x00\x01\x02 garbage"))) == []


# --- real captures ---------------------------------------------------------------------


def test_png_post_capture_offsite() -> None:
    [flow] = tcp_flows(realworld("http_png_post_offsite_zeek.pcap"))
    assert flow.client == ("127.0.0.1", 1080)
    events = replay(flow, HttpStream())
    [req] = requests(events)
    assert (req.method, req.path, req.host) == ("POST", "/", "localhost:8000")
    assert req.user_agent == "curl/7.81.0"
    assert req.content_length == 5816
    [body] = bodies(events)
    assert len(body.body) == 5816
    assert body.body.startswith(b"\x89PNG\r\n\x1a\n")
    assert body.body.endswith(b"IEND\xaeB`\x82")
    assert body.complete
    assert (body.first_frame, body.last_frame) == (3, 7)
    [resp] = responses(events)
    assert resp.status == 200
    assert resp.server == "BaseHTTP/0.6 Python/3.10.12"
    assert resp.content_type == "application/json"
    assert resp.ctx.frame == 13


def test_multipart_form_capture() -> None:
    [flow] = tcp_flows(realworld("http_multipart_form_zeek.pcap"))
    events = replay(flow, HttpStream())
    [req] = requests(events)
    assert req.boundary == "----WebKitFormBoundaryBtaeRs4vBuzQzpSa"
    assert req.content_length == 767
    assert req.user_agent is not None and req.user_agent.startswith("Mozilla/5.0 (X11; Linux")
    [body] = bodies(events)
    assert len(body.body) == 767 and body.complete
    assert body.body.startswith(b"------WebKitFormBoundaryBtaeRs4vBuzQzpSa\r\n")
    assert body.body.rstrip().endswith(b"------WebKitFormBoundaryBtaeRs4vBuzQzpSa--")
    assert b'filename="test.txt"' in body.body
    assert (body.first_frame, body.last_frame) == (6, 6)


# Found with: tshark -r big_mixed_1kxun_ndpi.pcap -Y 'http.request and tcp' -T fields -e http.host
BIG_MIXED_HOSTS = {
    "183.131.48.144": 1,
    "183.131.48.145": 1,
    "218.244.135.170:9099": 1,
    "42.120.51.152:8080": 2,
    "adexp.liftoff.io": 1,
    "adx-tk.rayjump.com": 4,
    "analytics.rayjump.com": 2,
    "android.yingshi.tcclick.1kxun.com": 2,
    "api.magicansoft.com": 2,
    "cdn.liftoff.io": 2,
    "cgi.connect.qq.com": 1,
    "click.liftoff.io": 2,
    "de01.rayjump.com": 3,
    "dl-obs.official.line.naver.jp": 2,
    "google.open-js.com": 1,
    "hkbn.content.1kxun.com": 14,
    "hybird.rayjump.com": 4,
    "impression-east.liftoff.io": 1,
    "jp.kankan.1kxun.mobi": 3,
    "kankan.1kxun.com": 4,
    "kankan.1kxun.mobi": 1,
    "m.vpon.com": 1,
    "mangaweb.1kxun.mobi": 31,
    "messages.1kxun.mobi": 1,
    "net.rayjump.com": 3,
    "pagead2.googlesyndication.com": 1,
    "pic.1kxun.com": 23,
    "pingma.qq.com:80": 1,
    "play.google.com": 1,
    "qzonestyle.gtimg.cn": 1,
    "release.bigdata.1kxun.com": 1,
    "setting.rayjump.com": 4,
    "tcad.wedolook.com": 1,
    "tknet-cdn.rayjump.com": 1,
    "tw.api.vpon.com": 2,
    "vv.video.qq.com": 2,
    "ws.1kxun.mobi:1234": 3,
    "www.google-analytics.com": 1,
    "www.googletagservices.com": 1,
}


@pytest.fixture(scope="module")
def big_mixed_events() -> list[Event]:
    events: list[Event] = []
    for flow in tcp_flows(realworld("big_mixed_1kxun_ndpi.pcap")):
        events.extend(replay(flow, HttpStream()))
    return events


def test_big_mixed_hosts_match_tshark(big_mixed_events: list[Event]) -> None:
    hosts = Counter(e.host for e in requests(big_mixed_events))
    assert hosts == Counter(BIG_MIXED_HOSTS)
    statuses = Counter(e.status for e in responses(big_mixed_events))
    # tshark counts the same, less one 200 and one 206 whose bodies the capture cuts off
    # (it only shows responses it could reassemble completely)
    assert statuses == Counter(
        {100: 4, 101: 3, 200: 97, 204: 5, 206: 1, 301: 2, 302: 3, 404: 1, 500: 2, 502: 2}
    )
    uploads = bodies(big_mixed_events)
    assert [(b.host, b.path, len(b.body)) for b in uploads] == [
        ("android.yingshi.tcclick.1kxun.com", "/api/upload.php", 265),
        ("android.yingshi.tcclick.1kxun.com", "/api/upload.php", 264),
    ]


@requires_tshark
def test_big_mixed_requests_match_tshark_live(big_mixed_events: list[Event]) -> None:
    path = realworld("big_mixed_1kxun_ndpi.pcap")
    tshark = shutil.which("tshark")
    assert tshark is not None
    out = subprocess.run(
        [tshark, "-r", str(path), "-Y", "http.request and tcp", "-T", "fields"]
        + ["-e", "http.host", "-e", "http.request.method", "-e", "http.request.uri"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    expected = Counter(tuple(line.split("\t")) for line in out.splitlines() if line)
    ours = Counter((e.host or "", e.method, e.path) for e in requests(big_mixed_events))
    assert ours == expected
