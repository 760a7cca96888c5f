from __future__ import annotations

import random

from netscan.dissectors.rtsp import RtspStream, auth_realm
from netscan.events import Ctx, Event, RtspEvent
from tests.conftest import realworld
from tests.dissectors._textproto_pcap import (
    feed_at_every_boundary,
    feed_split,
    replay,
    tcp_flows,
)

CTX = Ctx(file=0, frame=1, ts=0.0)
UA = "LibVLC/3.0.17.4 (LIVE555 Streaming Media v2022.04.26)"
REALM = "Login to 4H01D66PAJ2FA64"


def rtp_frame(channel: int, size: int, fill: int = 0x80) -> bytes:
    return b"$" + bytes([channel]) + size.to_bytes(2, "big") + bytes([fill]) * size


# Server side of a TCP-interleaved session: PLAY reply, then RTP/RTCP frames whose payload
# contains text that must not be taken for RTSP, then the TEARDOWN reply.
SERVER = (
    b"RTSP/1.0 200 OK\r\nCSeq: 4\r\nServer: Hikvision/1.0\r\nContent-Type: application/sdp\r\n"
    b"Content-Length: 16\r\n\r\nv=0\r\ns=Session\r\n"
    b"RTSP/1.0 200 OK\r\nCSeq: 5\r\nSession: 12345\r\n"
    b"RTP-Info: url=rtsp://cam/trackID=1;seq=1\r\n\r\n"
    + rtp_frame(0, 1200)
    + b"$\x00\x00\x1cRTSP/1.0 200 OK\r\nCSeq: 99\r\n\r\n"  # RTP payload that looks like RTSP
    + rtp_frame(1, 28, 0x81)
    + rtp_frame(0, 0)
    + rtp_frame(0, 65535)
    + b"RTSP/1.0 200 OK\r\nCSeq: 6\r\nSession: 12345\r\n\r\n"
)
CLIENT = (
    b"DESCRIBE rtsp://192.168.1.64:554/Streaming/Channels/101 RTSP/1.0\r\nCSeq: 4\r\n"
    b"User-Agent: test-client\r\nAccept: application/sdp\r\n\r\n"
    b"PLAY rtsp://192.168.1.64:554/Streaming/Channels/101 RTSP/1.0\r\nCSeq: 5\r\n"
    b"Session: 12345\r\n\r\n"
    + rtp_frame(1, 52, 0x81)  # receiver reports from the client
    + b"TEARDOWN rtsp://192.168.1.64:554/Streaming/Channels/101 RTSP/1.0\r\nCSeq: 6\r\n"
    b"Session: 12345\r\n\r\n"
)


def rtsp(events: list[Event]) -> list[RtspEvent]:
    assert all(isinstance(e, RtspEvent) for e in events)
    return [e for e in events if isinstance(e, RtspEvent)]


def test_interleaved_rtp_is_skipped() -> None:
    events = rtsp(feed_split(RtspStream, [(True, CLIENT), (False, SERVER)], 0))
    requests = [(e.method, e.url, e.headers.get("cseq")) for e in events if not e.is_response]
    assert requests == [
        ("DESCRIBE", "rtsp://192.168.1.64:554/Streaming/Channels/101", "4"),
        ("PLAY", "rtsp://192.168.1.64:554/Streaming/Channels/101", "5"),
        ("TEARDOWN", "rtsp://192.168.1.64:554/Streaming/Channels/101", "6"),
    ]
    replies = [(e.status, e.method, e.headers.get("cseq")) for e in events if e.is_response]
    assert replies == [(200, "DESCRIBE", "4"), (200, "PLAY", "5"), (200, "TEARDOWN", "6")]
    assert events[0].user_agent == "test-client"
    assert events[3].server == "Hikvision/1.0"


def test_every_split_position_gives_identical_events() -> None:
    for data, from_client in ((CLIENT, True), (SERVER[:1500], False)):
        whole = feed_split(RtspStream, [(from_client, data)], 0)
        assert whole
        for events in feed_at_every_boundary(RtspStream, data, from_client):
            assert events == whole
        assert feed_split(RtspStream, [(from_client, data)], 1) == whole
    whole = feed_split(RtspStream, [(False, SERVER)], 0)
    for step in (1, 3, 700, 1400):
        assert feed_split(RtspStream, [(False, SERVER)], step) == whole


def test_auth_realm() -> None:
    assert auth_realm(['Digest realm="Login to X1", nonce="abc"']) == "Login to X1"
    assert auth_realm(['Basic realm="IP Camera(C1234)"']) == "IP Camera(C1234)"
    assert auth_realm(["Digest nonce=1, realm=plain, qop=auth"]) == "plain"
    assert auth_realm(['Digest xrealm="no", nonce="1"']) is None
    assert auth_realm(["Basic", 'Digest realm="second"']) == "second"
    assert auth_realm([]) is None


def test_done_after_max_messages() -> None:
    parser = RtspStream(max_messages=2)
    parser.feed(b"OPTIONS rtsp://a RTSP/1.0\r\nCSeq: 1\r\n\r\n", CTX, True)
    assert not parser.done
    parser.feed(b"RTSP/1.0 200 OK\r\nCSeq: 1\r\n\r\n", CTX, False)
    assert parser.done


def test_garbage_never_raises() -> None:
    rng = random.Random(554)
    samples = [rng.randbytes(rng.randint(1, 300)) for _ in range(200)]
    for _ in range(200):
        mutated = bytearray(SERVER[:600])
        for _ in range(rng.randint(1, 8)):
            mutated[rng.randrange(len(mutated))] = rng.randrange(256)
        samples.append(bytes(mutated))
    samples.append(b"HTTP/1.1 200 OK\r\n\r\n")  # not RTSP
    for sample in samples:
        for from_client in (True, False):
            parser = RtspStream()
            for i in range(0, len(sample), 29):
                parser.feed(sample[i : i + 29], CTX, from_client)
            parser.close(CTX)
    parser = RtspStream()
    assert parser.feed(b"\x16\x03\x01garbage", CTX, True) == []
    assert parser.feed(b"\x00\x00garbage", CTX, False) == []
    assert parser.done


def test_dahua_digest_session() -> None:
    flows = [
        f for f in tcp_flows(realworld("cam_dahua_rtsp_digest_2ic80.pcapng")) if f.server[1] == 554
    ]
    [flow] = flows
    assert flow.server == ("192.168.1.108", 554)
    events = rtsp(replay(flow, RtspStream()))
    requests = [e for e in events if not e.is_response]
    replies = [e for e in events if e.is_response]
    assert [e.method for e in requests] == [
        "OPTIONS",
        "OPTIONS",
        "DESCRIBE",
        "OPTIONS",
        "OPTIONS",
        "DESCRIBE",
        "SETUP",
        "PLAY",
        "TEARDOWN",
    ]
    assert [e.headers["cseq"] for e in requests] == [str(n) for n in range(2, 11)]
    assert all(e.user_agent == UA for e in requests)
    assert requests[6].url == "rtsp://192.168.1.108:554/trackID=0"
    assert [e.status for e in replies] == [401, 401, 401, 401, 200, 200, 200, 200, 200]
    assert [e.realm for e in replies[:4]] == [REALM] * 4
    assert all(e.realm is None for e in replies[4:])
    assert replies[4].server == "Rtsp Server/3.0"
    assert [e.method for e in replies] == [e.method for e in requests]
    assert requests[-1].ctx.frame == 1688 and replies[-1].ctx.frame == 1691
    assert replies[5].headers["content-length"] == "429"  # the SDP body was skipped
