from __future__ import annotations

import random
from collections import Counter

from netscan.dissectors import ssdp
from netscan.events import Ctx, Event, SsdpEvent
from tests.conftest import realworld
from tests.dissectors._textproto_pcap import udp_datagrams

CTX = Ctx(file=0, frame=1, ts=0.0, transport="udp", dport=1900)


def one(payload: bytes) -> SsdpEvent:
    events = ssdp.parse(payload, CTX)
    assert len(events) == 1
    event = events[0]
    assert isinstance(event, SsdpEvent)
    return event


def test_notify() -> None:
    event = one(
        b"NOTIFY * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nCACHE-CONTROL: max-age=1800\r\n"
        b"LOCATION: http://192.168.1.64:49152/rootDesc.xml\r\nNT: upnp:rootdevice\r\n"
        b"NTS: ssdp:alive\r\nSERVER: Linux/3.0, UPnP/1.0, Hikvision DS-2CD2143G0-I/V5.5\r\n"
        b"USN: uuid:54859ae4-1dd2-11b2-8000-bcad28a1b2c3::upnp:rootdevice\r\n\r\n"
    )
    assert event.kind == "ssdp"
    assert event.method == "NOTIFY"
    assert event.nt == "upnp:rootdevice"
    assert event.nts == "ssdp:alive"
    assert event.location == "http://192.168.1.64:49152/rootDesc.xml"
    assert event.server == "Linux/3.0, UPnP/1.0, Hikvision DS-2CD2143G0-I/V5.5"
    assert event.usn == "uuid:54859ae4-1dd2-11b2-8000-bcad28a1b2c3::upnp:rootdevice"
    assert event.user_agent is None


def test_msearch_uses_st() -> None:
    event = one(
        b'M-SEARCH * HTTP/1.1\nHost: 239.255.255.250:1900\nMan: "ssdp:discover"\nMX: 3\n'
        b"ST: urn:schemas-upnp-org:device:MediaRenderer:1\n"
        b"USER-AGENT: Android/13 UPnP/1.1 App/2\n\n"
    )
    assert event.method == "M-SEARCH"
    assert event.nt == "urn:schemas-upnp-org:device:MediaRenderer:1"
    assert event.user_agent == "Android/13 UPnP/1.1 App/2"
    assert event.nts is None and event.server is None


def test_response() -> None:
    event = one(
        b"HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=120\r\nST: upnp:rootdevice\r\n"
        b"USN: uuid:abc::upnp:rootdevice\r\nEXT:\r\nSERVER: DahuaNVR/1.0 UPnP/1.0\r\n"
        b"LOCATION: http://10.0.0.5:49152/description.xml\r\n\r\n"
    )
    assert event.method == "RESPONSE"
    assert event.nt == "upnp:rootdevice"
    assert event.server == "DahuaNVR/1.0 UPnP/1.0"
    assert event.location == "http://10.0.0.5:49152/description.xml"


def test_missing_final_empty_line_is_tolerated() -> None:
    event = one(b"NOTIFY * HTTP/1.1\r\nNT: upnp:rootdevice\r\nNTS: ssdp:byebye")
    assert event.nts == "ssdp:byebye"


def test_not_ssdp() -> None:
    for payload in (
        b"",
        b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
        b"HTTP/1.1 404 Not Found\r\n\r\n",
        b"\x00\x01\x02\x03",
        b"NOTIFY\r\n\r\n",
    ):
        assert ssdp.parse(payload, CTX) == []


def test_garbage_never_raises() -> None:
    rng = random.Random(1900)
    base = b"NOTIFY * HTTP/1.1\r\nNT: a\r\nNTS: b\r\nSERVER: c\r\nUSN: d\r\n\r\n"
    for _ in range(500):
        mutated = bytearray(base)
        for _ in range(rng.randint(1, 6)):
            mutated[rng.randrange(len(mutated))] = rng.randrange(256)
        out: list[Event] = ssdp.parse(bytes(mutated), CTX)
        assert all(isinstance(e, SsdpEvent) for e in out)
        ssdp.parse(rng.randbytes(rng.randint(0, 200)), CTX)


def test_dlink_camera_notify() -> None:
    events: list[SsdpEvent] = []
    for payload, ctx in udp_datagrams(realworld("cam_dlink_dcs935l_setup_iotsentinel.pcap"), 1900):
        events.extend(e for e in ssdp.parse(payload, ctx) if isinstance(e, SsdpEvent))
    methods = Counter(e.method for e in events)
    assert methods == Counter({"NOTIFY": 100, "M-SEARCH": 16})
    servers = {e.server for e in events if e.server}
    # the capture pads it as "Linux,    UPnP/1.0 DCS-935L/1.0"; white space is collapsed
    assert servers == {"Linux, UPnP/1.0 DCS-935L/1.0"}
    alive = [e for e in events if e.nts == "ssdp:alive"]
    assert {e.location for e in alive} == {
        "http://10.10.10.37:55430/",
        "https://10.10.10.37/HNAP1/",
    }
    assert all(e.ctx.src_ip == "10.10.10.37" for e in events if e.method == "NOTIFY")
    assert "urn:schemas-upnp-org:device:DCS-935L:1" in {e.nt for e in alive}
    assert len([e for e in events if e.nts == "ssdp:byebye"]) == 20


def test_mixed_capture_counts() -> None:
    events = []
    for payload, ctx in udp_datagrams(realworld("big_mixed_1kxun_ndpi.pcap"), 1900):
        events.extend(ssdp.parse(payload, ctx))
    # tshark -Y ssdp finds 143 messages: 111 M-SEARCH and 32 NOTIFY
    assert Counter(e.method for e in events if isinstance(e, SsdpEvent)) == Counter(
        {"M-SEARCH": 111, "NOTIFY": 32}
    )
