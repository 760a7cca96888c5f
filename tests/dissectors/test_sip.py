from __future__ import annotations

import random
import shutil
import subprocess
from collections import Counter

from netscan.dissectors import sip
from netscan.dissectors.sip import SipStream, address_uri
from netscan.events import Ctx, Event, SipEvent
from tests.conftest import realworld, requires_tshark
from tests.dissectors._textproto_pcap import (
    feed_at_every_boundary,
    feed_split,
    udp_datagrams,
)

CTX = Ctx(file=0, frame=1, ts=0.0, transport="udp", sport=5060, dport=5060)

MANSCDP = (
    b'<?xml version="1.0" encoding="GB2312"?>\r\n<Notify>\r\n<CmdType>Keepalive</CmdType>\r\n'
    b"<SN>43</SN>\r\n<DeviceID>34020000001320000001</DeviceID>\r\n<Status>OK</Status>\r\n"
    b"</Notify>\r\n"
)
COMPACT_MESSAGE = (
    b"MESSAGE sip:34020000002000000001@3402000000 SIP/2.0\r\n"
    b"v: SIP/2.0/TCP 192.168.1.64:5060;branch=z9hG4bK1\r\n"
    b'f: "cam" <sip:34020000001320000001@3402000000>;tag=1\r\n'
    b"t: sip:34020000002000000001@3402000000;tag=x\r\n"
    b"i: 1@192.168.1.64\r\n"
    b"CSeq: 20 MESSAGE\r\n"
    b"c: Application/MANSCDP+xml\r\n"
    b"User-Agent: IP Camera\r\n" + f"l: {len(MANSCDP)}\r\n\r\n".encode() + MANSCDP
)
RESPONSE = (
    b"SIP/2.0 200 OK\r\nVia: SIP/2.0/TCP 192.168.1.64:5060\r\n"
    b"From: <sip:34020000001320000001@3402000000>;tag=1\r\n"
    b"To: <sip:34020000002000000001@3402000000>;tag=2\r\nCSeq: 20 MESSAGE\r\n"
    b"Server: Platform/1.0\r\nContent-Length: 0\r\n\r\n"
)


def sip_events(events: list[Event]) -> list[SipEvent]:
    assert all(isinstance(e, SipEvent) for e in events)
    return [e for e in events if isinstance(e, SipEvent)]


def test_compact_headers_over_udp() -> None:
    [event] = sip_events(sip.parse(COMPACT_MESSAGE, CTX))
    assert event.kind == "sip"
    assert not event.is_response
    assert event.method == "MESSAGE"
    assert event.request_uri == "sip:34020000002000000001@3402000000"
    assert event.from_uri == "sip:34020000001320000001@3402000000"
    assert event.to_uri == "sip:34020000002000000001@3402000000"
    assert event.user_agent == "IP Camera"
    assert event.content_type == "Application/MANSCDP+xml"
    assert event.body == MANSCDP.decode()


def test_response_over_udp() -> None:
    [event] = sip_events(sip.parse(RESPONSE, CTX))
    assert event.is_response
    assert (event.status, event.method, event.server) == (200, "MESSAGE", "Platform/1.0")
    assert event.request_uri == "" and event.body == ""


def test_body_is_cut_at_4k_and_at_content_length() -> None:
    big = b"INFO sip:a@b SIP/2.0\r\nContent-Type: text/plain\r\n\r\n" + b"x" * 10000
    [event] = sip_events(sip.parse(big, CTX))
    assert event.body == "x" * 4096
    short = b"INFO sip:a@b SIP/2.0\r\nContent-Length: 3\r\n\r\nabcdef"
    assert sip_events(sip.parse(short, CTX))[0].body == "abc"


def test_address_uri() -> None:
    assert address_uri('"Bob Smith" <sip:bob@example.com;transport=tcp>;tag=88') == (
        "sip:bob@example.com;transport=tcp"
    )
    assert address_uri("sip:alice@example.com;tag=1234") == "sip:alice@example.com"
    assert address_uri("Anonymous <sip:anonymous@anonymous.invalid>") == (
        "sip:anonymous@anonymous.invalid"
    )
    assert address_uri("<tel:+15551234") == "tel:+15551234"
    assert address_uri(None) == ""


def test_tcp_stream_and_every_split_position() -> None:
    stream = (
        b"\r\n\r\n"
        + COMPACT_MESSAGE
        + b"\r\n"
        + COMPACT_MESSAGE.replace(b"20 MESSAGE", b"21 MESSAGE")
    )
    whole = sip_events(feed_split(SipStream, [(True, stream), (False, RESPONSE)], 0))
    assert [(e.method, e.status, e.body == MANSCDP.decode()) for e in whole] == [
        ("MESSAGE", 0, True),
        ("MESSAGE", 0, True),
        ("MESSAGE", 200, False),
    ]
    client_only = feed_split(SipStream, [(True, stream)], 0)
    for events in feed_at_every_boundary(SipStream, stream, True):
        assert events == client_only
    assert feed_split(SipStream, [(True, stream)], 1) == client_only


def test_tcp_incomplete_body_flushed_on_close() -> None:
    parser = SipStream()
    assert parser.feed(COMPACT_MESSAGE[:-10], CTX, True) == []
    [event] = sip_events(parser.close(CTX))
    assert event.body == MANSCDP[:-10].decode()


def test_garbage_never_raises() -> None:
    rng = random.Random(5060)
    samples = [rng.randbytes(rng.randint(0, 300)) for _ in range(300)]
    for _ in range(300):
        mutated = bytearray(COMPACT_MESSAGE)
        for _ in range(rng.randint(1, 8)):
            mutated[rng.randrange(len(mutated))] = rng.randrange(256)
        samples.append(bytes(mutated))
    samples += [b"", b"\r\n\r\n", b"SIP/2.0\r\n", b"INVITE sip:x SIP/2.0\r\nContent-Length: x\r\n"]
    for sample in samples:
        sip.parse(sample, CTX)
        parser = SipStream()
        for i in range(0, len(sample), 17):
            parser.feed(sample[i : i + 17], CTX, True)
        parser.close(CTX)
    assert sip.parse(b"\r\n\r\n", CTX) == []  # keep-alive
    assert sip.parse(b"GET / HTTP/1.1\r\n\r\n", CTX) == []


def test_real_calls() -> None:
    events: list[SipEvent] = []
    for payload, ctx in udp_datagrams(realworld("sip_calls_zeek.pcap")):
        events.extend(sip_events(sip.parse(payload, ctx)))
    # expected values from tshark (sip.Method, sip.Status-Code, sip.CSeq.method, ...)
    assert len(events) == 81
    by_frame = {e.ctx.frame: e for e in events}
    first = by_frame[1]
    assert (first.method, first.request_uri) == ("REGISTER", "sip:sip.cybercity.dk")
    assert first.from_uri == first.to_uri == "sip:voi18063@sip.cybercity.dk"
    assert first.user_agent == "Nero SIPPS IP Phone Version 2.0.51.16"
    invite = by_frame[19]
    assert (invite.method, invite.request_uri) == ("INVITE", "sip:97239287044@voip.brujula.net")
    assert invite.from_uri == "sip:816666@voip.brurjula.net"
    assert invite.to_uri == "sip:97239287044@voip.brujula.net"
    assert invite.content_type == "application/sdp"
    assert invite.body.startswith("v=0\r\no=SIPPS ") and len(invite.body) == 272
    trying = by_frame[22]
    assert (trying.is_response, trying.status, trying.method) == (True, 100, "INVITE")
    assert trying.server == "Sip EXpress router (0.8.12 (i386/linux))"
    assert by_frame[40].server == "Cirpack/v4.38e (gw_sip)"
    assert (by_frame[40].status, by_frame[36].method) == (407, "CANCEL")
    requests = Counter(e.method for e in events if not e.is_response)
    assert requests == Counter({"REGISTER": 18, "INVITE": 11, "CANCEL": 11, "ACK": 7})
    statuses = Counter(e.status for e in events if e.is_response)
    assert statuses == Counter({401: 14, 100: 7, 403: 3, 200: 3, 408: 2, 407: 3, 183: 1, 480: 1})


@requires_tshark
def test_real_calls_match_tshark_live() -> None:
    path = realworld("sip_calls_zeek.pcap")
    fields = ["frame.number", "sip.Method", "sip.Status-Code", "sip.r-uri", "sip.from.addr"]
    fields += ["sip.to.addr", "sip.User-Agent", "sip.Server", "sip.CSeq.method"]
    tshark = shutil.which("tshark")
    assert tshark is not None
    cmd = [tshark, "-r", str(path), "-Y", "sip", "-T", "fields"]
    for name in fields:
        cmd += ["-e", name]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    expected = {int(row[0]): row[1:] for row in (line.split("\t") for line in out.splitlines())}
    ours = {}
    for payload, ctx in udp_datagrams(path):
        for e in sip_events(sip.parse(payload, ctx)):
            ours[ctx.frame] = [
                "" if e.is_response else e.method,
                str(e.status) if e.is_response else "",
                e.request_uri,
                e.from_uri,
                e.to_uri,
                e.user_agent or "",
                e.server or "",
                e.method,
            ]
    assert ours == expected
