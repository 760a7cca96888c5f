from __future__ import annotations

import random
import struct
import time

import pytest
from scapy.layers.dns import DNS, DNSQR, DNSRR, DNSRROPT, DNSRRSRV, dns_compress

from netscan.dissectors import dns
from netscan.events import Ctx, DnsEvent, DnsRecord
from tests.conftest import realworld
from tests.dissectors._udp_capture import udp_payloads

CTX = Ctx(file=0, frame=7, ts=1.5, src_ip="192.168.1.64", sport=5353, dport=5353, transport="udp")


def _one(payload: bytes, proto: str = "dns") -> DnsEvent:
    events = dns.parse(payload, CTX, proto)
    assert len(events) == 1
    event = events[0]
    assert isinstance(event, DnsEvent)
    assert event.ctx is CTX
    assert event.kind == "dns"
    return event


def _header(flags: int, qd: int = 0, an: int = 0, ns: int = 0, ar: int = 0) -> bytes:
    return struct.pack(">HHHHHH", 0x1234, flags, qd, an, ns, ar)


def _rr(name: bytes, rtype: int, rdata: bytes, ttl: int = 60, rclass: int = 1) -> bytes:
    return name + struct.pack(">HHIH", rtype, rclass, ttl, len(rdata)) + rdata


def _full_response() -> DNS:
    return DNS(
        id=7,
        qr=1,
        aa=1,
        qd=[DNSQR(qname="Cam-01.Local.", qtype="A")],
        an=[
            DNSRR(rrname="Cam-01.local.", type="A", cacheflush=1, ttl=120, rdata="192.168.1.64"),
            DNSRR(rrname="cam-01.local.", type="AAAA", ttl=120, rdata="fe80::1:2"),
            DNSRR(rrname="www.example.com.", type="CNAME", ttl=300, rdata="CDN.example.net."),
            DNSRR(rrname="64.1.168.192.in-addr.arpa.", type="PTR", ttl=10, rdata="cam-01.local."),
            DNSRRSRV(
                rrname="HIK._http._tcp.local.",
                priority=1,
                weight=2,
                port=8000,
                target="cam-01.local.",
                ttl=4500,
            ),
            DNSRR(
                rrname="HIK._http._tcp.local.",
                type="TXT",
                ttl=4500,
                rdata=[b"model=DS-2CD2143", b"sn=ABC;123", b""],
            ),
            DNSRR(rrname="x.local.", type=13, ttl=1, rdata=b"\x03cpu\x02os"),
        ],
        ns=[DNSRR(rrname="auth.local.", type="A", rdata="10.0.0.1")],
        ar=[DNSRR(rrname="extra.local.", type="A", rdata="10.0.0.2", ttl=5)],
    )


EXPECTED_ANSWERS = [
    DnsRecord(name="cam-01.local", rtype="A", value="192.168.1.64", ttl=120),
    DnsRecord(name="cam-01.local", rtype="AAAA", value="fe80::1:2", ttl=120),
    DnsRecord(name="www.example.com", rtype="CNAME", value="cdn.example.net", ttl=300),
    DnsRecord(name="64.1.168.192.in-addr.arpa", rtype="PTR", value="cam-01.local", ttl=10),
    DnsRecord(name="hik._http._tcp.local", rtype="SRV", value="1 2 8000 cam-01.local", ttl=4500),
    DnsRecord(
        name="hik._http._tcp.local",
        rtype="TXT",
        value="model=DS-2CD2143\nsn=ABC;123\n",
        ttl=4500,
    ),
    DnsRecord(name="x.local", rtype="TYPE13", value="03637075026f73", ttl=1),
    DnsRecord(name="extra.local", rtype="A", value="10.0.0.2", ttl=5),
]


# --- built messages -----------------------------------------------------------------


def test_query() -> None:
    msg = DNS(id=1, rd=1, qd=[DNSQR(qname="Example.COM.", qtype="AAAA")])
    event = _one(bytes(msg))
    assert event.proto == "dns"
    assert event.is_response is False
    assert event.rcode == 0
    assert event.queries == [("example.com", "AAAA")]
    assert event.answers == []


def test_query_types_are_named_or_numbered() -> None:
    msg = DNS(
        qd=[
            DNSQR(qname="a.local.", qtype="PTR"),
            DNSQR(qname="b.local.", qtype="SRV"),
            DNSQR(qname="c.local.", qtype="TXT"),
            DNSQR(qname="d.local.", qtype="CNAME"),
            DNSQR(qname="e.local.", qtype=255),
            DNSQR(qname="f.local.", qtype=65),
        ]
    )
    assert _one(bytes(msg)).queries == [
        ("a.local", "PTR"),
        ("b.local", "SRV"),
        ("c.local", "TXT"),
        ("d.local", "CNAME"),
        ("e.local", "TYPE255"),
        ("f.local", "TYPE65"),
    ]


def test_response_every_record_type_authority_skipped() -> None:
    event = _one(bytes(_full_response()))
    assert event.is_response is True
    assert event.queries == [("cam-01.local", "A")]
    assert event.answers == EXPECTED_ANSWERS
    assert all(r.name != "auth.local" for r in event.answers)


def test_compressed_message_gives_same_records() -> None:
    plain = bytes(_full_response())
    packed = bytes(dns_compress(_full_response()))
    assert len(packed) < len(plain)
    assert b"\xc0" in packed
    assert _one(packed).answers == EXPECTED_ANSWERS


def test_rcode_nxdomain() -> None:
    msg = DNS(id=2, qr=1, rcode=3, qd=[DNSQR(qname="nothing.example.", qtype="A")])
    event = _one(bytes(msg))
    assert event.is_response is True
    assert event.rcode == 3
    assert event.answers == []


def test_mdns_wrapper_and_class_top_bits() -> None:
    msg = DNS(
        qr=0,
        qd=[DNSQR(qname="_rtsp._tcp.local.", qtype="PTR", unicastresponse=1)],
        an=[DNSRR(rrname="cam.local.", type="A", cacheflush=1, ttl=120, rdata="10.1.2.3")],
    )
    payload = bytes(msg)
    assert b"\x80\x01" in payload  # the cache-flush / QU bits are really set
    events = dns.parse_mdns(payload, CTX)
    assert len(events) == 1
    event = events[0]
    assert isinstance(event, DnsEvent)
    assert event.proto == "mdns"
    assert event.queries == [("_rtsp._tcp.local", "PTR")]
    assert event.answers == [DnsRecord(name="cam.local", rtype="A", value="10.1.2.3", ttl=120)]


def test_llmnr_wrapper() -> None:
    msg = DNS(id=9, qd=[DNSQR(qname="DESKTOP-1.", qtype="A")])
    events = dns.parse_llmnr(bytes(msg), CTX)
    assert len(events) == 1
    assert isinstance(events[0], DnsEvent)
    assert events[0].proto == "llmnr"
    assert events[0].queries == [("desktop-1", "A")]


def test_names_utf8_lower_case_and_replacement() -> None:
    name = b"\x05Caf\xc3\x89\x03\xffAB\x05LOCAL\x00"
    payload = _header(0x8400, an=1) + _rr(name, 1, bytes([1, 2, 3, 4]))
    event = _one(payload)
    assert event.answers == [
        DnsRecord(name="café.\ufffdab.local", rtype="A", value="1.2.3.4", ttl=60)
    ]


def test_root_name_and_opt_record() -> None:
    msg = DNS(id=3, qd=[DNSQR(qname="example.com.", qtype="A")], ar=[DNSRROPT(rclass=1232, z=0)])
    event = _one(bytes(msg))
    assert event.answers == [DnsRecord(name="", rtype="TYPE41", value="", ttl=0)]


def test_txt_is_case_preserving_and_newline_joined() -> None:
    rdata = b"\x0cModel=X1 Pro\x07SN=a,b;"
    payload = _header(0x8400, an=1) + _rr(b"\x03cam\x00", 16, rdata, ttl=7)
    assert _one(payload).answers == [
        DnsRecord(name="cam", rtype="TXT", value="Model=X1 Pro\nSN=a,b;", ttl=7)
    ]


def test_record_with_bad_rdata_is_dropped_and_parsing_goes_on() -> None:
    payload = (
        _header(0x8400, an=4)
        + _rr(b"\x01a\x00", 1, b"\x01\x02\x03\x04\x05")  # A of 5 bytes
        + _rr(b"\x01b\x00", 16, b"\x09short")  # TXT string past RDLENGTH
        + _rr(b"\x01c\x00", 33, b"\x00\x01\x00")  # SRV too short
        + _rr(b"\x01d\x00", 1, b"\x0a\x00\x00\x01")
    )
    assert _one(payload).answers == [DnsRecord(name="d", rtype="A", value="10.0.0.1", ttl=60)]


def test_ptr_target_pointing_outside_is_dropped() -> None:
    payload = _header(0x8400, an=2) + _rr(b"\x01a\x00", 12, b"\xc0\xff")
    payload += _rr(b"\x01b\x00", 12, b"\x01x\x00")
    assert _one(payload).answers == [DnsRecord(name="b", rtype="PTR", value="x", ttl=60)]


# --- compression loops and limits -----------------------------------------------------


def test_pointer_to_itself() -> None:
    payload = _header(0, qd=1) + b"\xc0\x0c" + b"\x00\x01\x00\x01"
    assert dns.parse(payload, CTX) == []


def test_forward_pointer_is_refused() -> None:
    payload = _header(0, qd=1) + b"\xc0\x12" + b"\x00\x01\x00\x01" + b"\x01a\x00"
    assert dns.parse(payload, CTX) == []


def test_backward_pointer_loop_ends() -> None:
    # label "a" at 12, then a pointer back to 12: a.a.a.a... for ever without a limit
    payload = _header(0, qd=1) + b"\x01a\xc0\x0c" + b"\x00\x01\x00\x01"
    start = time.perf_counter()
    assert dns.parse(payload, CTX) == []
    assert time.perf_counter() - start < 0.5
    with pytest.raises(ValueError):
        dns.read_name(payload, 12)


def test_two_pointers_chasing_each_other() -> None:
    # name at 12: "\x01b" then pointer to 16; at 16: "\x01c" then pointer to 14 (pointer)
    payload = _header(0, qd=1) + b"\x01b\xc0\x10\x01c\xc0\x0e"
    assert dns.parse(payload, CTX) == []


def test_name_longer_than_255_is_malformed() -> None:
    long_name = b"\x3f" + b"x" * 63
    payload = (
        _header(0, qd=2) + b"\x01a\x00\x00\x01\x00\x01" + long_name * 5 + b"\x00\x00\x01\x00\x01"
    )
    event = _one(payload)  # the first query survives
    assert event.queries == [("a", "A")]


def test_read_name_returns_offset_after_first_pointer() -> None:
    buf = _header(0) + b"\x03cam\x05local\x00" + b"\x04Door\xc0\x10"
    assert dns.read_name(buf, 12) == ("cam.local", 23)
    assert dns.read_name(buf, 23) == ("door.local", 30)
    assert dns.read_name(buf, 16) == ("local", 23)


# --- truncation and fuzzing ----------------------------------------------------------


def test_short_and_empty_input() -> None:
    assert dns.parse(b"", CTX) == []
    assert dns.parse(b"\x00" * 11, CTX) == []
    # header only, all counts zero: a (useless but) valid message
    assert _one(_header(0x8180)).queries == []


def test_counts_larger_than_data() -> None:
    assert dns.parse(_header(0x8400, 65535, 65535, 65535, 65535), CTX) == []


def test_every_truncation_of_a_response() -> None:
    payload = bytes(dns_compress(_full_response()))
    for cut in range(len(payload)):
        events = dns.parse(payload[:cut], CTX)
        assert isinstance(events, list)
        for event in events:
            assert isinstance(event, DnsEvent)
            # whatever survives is a prefix of the full result
            assert event.answers == EXPECTED_ANSWERS[: len(event.answers)]


def test_truncated_inside_third_answer_keeps_the_first_two() -> None:
    payload = bytes(_full_response())
    third = payload.index(b"\x03www")
    event = _one(payload[: third + 5])
    assert event.queries == [("cam-01.local", "A")]
    assert event.answers == EXPECTED_ANSWERS[:2]


def test_random_mutations_never_raise() -> None:
    rng = random.Random(1234)
    seeds = [
        bytes(_full_response()),
        bytes(dns_compress(_full_response())),
        bytes(DNS(qd=[DNSQR(qname="_hap._tcp.local.", qtype="PTR")])),
    ]
    for _ in range(3000):
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 6)):
            pos = rng.randrange(len(data))
            if rng.random() < 0.8:
                data[pos] = rng.randrange(256)
            else:
                del data[pos : pos + rng.randint(1, 8)]
        for event in dns.parse(bytes(data), CTX, "mdns"):
            assert isinstance(event, DnsEvent)
    for _ in range(500):
        blob = bytes(rng.randrange(256) for _ in range(rng.randint(0, 80)))
        assert isinstance(dns.parse(blob, CTX), list)


# --- real captures ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def zeek_mdns() -> dict[int, bytes]:
    return udp_payloads(realworld("mdns_zeek.pcap"), {5353})


def test_zeek_mdns_queries(zeek_mdns: dict[int, bytes]) -> None:
    event = _one(zeek_mdns[1], "mdns")
    assert event.is_response is False
    assert event.queries == [("_ipp._tcp.local", "PTR"), ("_ipps._tcp.local", "PTR")]
    assert event.answers == []


def test_zeek_mdns_response(zeek_mdns: dict[int, bytes]) -> None:
    event = _one(zeek_mdns[4], "mdns")
    host = "johanna-qemu-virtual-machine.local"
    rev1 = "4.c.d.4.1.e.e.f.f.f.6.d.c.3.8.8.5.3.2.8.c.3.0.c.e.9.2.4.2.5.d.f.ip6.arpa"
    rev2 = "f.2.8.f.3.6.5.1.6.c.b.5.8.6.9.5.5.3.2.8.c.3.0.c.e.9.2.4.2.5.d.f.ip6.arpa"
    assert event.is_response is True
    assert event.queries == []
    assert event.answers == [
        DnsRecord(name=host, rtype="AAAA", value="fd52:429e:c03c:8235:883c:d6ff:fee1:4dc4"),
        DnsRecord(name=rev1, rtype="PTR", value=host),
        DnsRecord(name=host, rtype="AAAA", value="fd52:429e:c03c:8235:5968:5bc6:1563:f82f"),
        DnsRecord(name=rev2, rtype="PTR", value=host),
        DnsRecord(name=host, rtype="A", value="10.0.2.7"),
        DnsRecord(name="7.2.0.10.in-addr.arpa", rtype="PTR", value=host),
    ]


def test_zeek_mdns_probe_authority_skipped(zeek_mdns: dict[int, bytes]) -> None:
    # frame 11: 3 ANY questions plus 4 proposed records in the authority section
    event = _one(zeek_mdns[11], "mdns")
    assert event.is_response is False
    assert [q[1] for q in event.queries] == ["TYPE255"] * 3
    assert event.queries[1][0] == "johanna-qemu-virtual-machine.local"
    assert event.answers == []


def test_zeek_mdns_every_message_parses(zeek_mdns: dict[int, bytes]) -> None:
    assert len(zeek_mdns) == 18
    for payload in zeek_mdns.values():
        assert len(dns.parse_mdns(payload, CTX)) == 1


def test_dlink_camera_mdns_service() -> None:
    payloads = udp_payloads(realworld("cam_dlink_dcs935l_setup_iotsentinel.pcap"), {5353})
    event = _one(payloads[5], "mdns")
    by_type = {(r.rtype, r.name): r for r in event.answers}
    assert len(event.answers) == 6
    host = "dcs-935l-b0c554255b0e.local"
    service = "d-link hnap service._dhnap._tcp.local"
    assert by_type[("A", host)].value == "192.168.0.20"
    assert by_type[("A", host)].ttl == 120
    assert by_type[("PTR", "20.0.168.192.in-addr.arpa")].value == host
    assert by_type[("SRV", service)].value == f"0 0 80 {host}"
    txt = by_type[("TXT", service)]
    assert txt.ttl == 4500
    assert txt.value.split("\n") == [
        "mac=B0:C5:54:25:5B:0E",
        "wlan0_ssid=DCS-935L-5B0E",
        "model_number=DCS-935L",
        "hardware_ver=A1",
        "dcs=Medeleine",
        "version=0106",
        "mydlink=true",
        "hnf=false",
        "mydlinkr=false",
        "dtype=100;101",
    ]
    assert by_type[("PTR", "_dhnap._tcp.local")].value == service

    probe = _one(payloads[52], "mdns")
    assert probe.queries == [
        ("d-link dcs-935l configuration utility (2)._http._tcp.local", "TYPE255")
    ]
    assert probe.answers == []


def test_dlink_camera_unicast_dns() -> None:
    payloads = udp_payloads(realworld("cam_dlink_dcs935l_setup_iotsentinel.pcap"), {53})
    query = _one(payloads[186])
    assert (query.is_response, query.queries) == (False, [("signal.mydlink.com", "A")])
    event = _one(payloads[187])
    assert event.is_response is True
    assert event.rcode == 0
    # 19 answers + 1 additional; the 4 NS records of the authority section are skipped
    assert len(event.answers) == 20
    assert event.answers[0] == DnsRecord(
        name="signal.mydlink.com", rtype="CNAME", value="signal.auto.mydlink.com", ttl=336
    )
    assert event.answers[1] == DnsRecord(
        name="signal.auto.mydlink.com", rtype="A", value="54.194.162.25", ttl=36
    )
    assert [r.rtype for r in event.answers[1:19]] == ["A"] * 18
    assert event.answers[19] == DnsRecord(
        name="ns-83.awsdns-10.com", rtype="A", value="205.251.192.83", ttl=10235
    )


def test_iphone_mdns_browse_and_big_response() -> None:
    payloads = udp_payloads(realworld("mixed_iphone_discovery_ndpi.pcap"), {5353})
    browse = _one(payloads[7], "mdns")
    assert len(browse.queries) == 17
    assert browse.queries[0] == ("_airport._tcp.local", "PTR")
    assert ("_googlecast._tcp.local", "PTR") in browse.queries
    assert ("8fb207de._sub._apple-mobdev2._tcp.local", "PTR") in browse.queries
    assert _one(payloads[33], "mdns").queries == [("_homekit._tcp.local", "PTR")]

    big = _one(payloads[3], "mdns")
    assert len(big.answers) == 30 + 11
    assert big.answers[0].name == "luca\u2019s imac._odisk._tcp.local"
    assert big.answers[0].rtype == "TXT"
    types = [r.rtype for r in big.answers]
    assert types.count("SRV") == 7
    assert types.count("PTR") == 14
    assert types.count("TYPE47") == 8  # NSEC
    assert types[-1] == "TYPE41"  # OPT
