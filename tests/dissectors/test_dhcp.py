from __future__ import annotations

import random
from typing import Any

import pytest
from scapy.layers.dhcp import BOOTP, DHCP

from netscan.dissectors import dhcp
from netscan.events import Ctx, DhcpEvent
from tests.conftest import realworld
from tests.dissectors._udp_capture import udp_payloads

CTX = Ctx(file=0, frame=15, ts=3.0, src_ip="0.0.0.0", sport=68, dport=67, transport="udp")
MAC = bytes.fromhex("b0c554255b0e")


def _one(payload: bytes) -> DhcpEvent:
    events = dhcp.parse(payload, CTX)
    assert len(events) == 1
    event = events[0]
    assert isinstance(event, DhcpEvent)
    assert event.ctx is CTX
    assert event.kind == "dhcp"
    return event


def _msg(options: list[Any], **bootp: Any) -> bytes:
    fields: dict[str, Any] = {"op": 1, "chaddr": MAC, "xid": 0x1234}
    fields.update(bootp)
    return bytes(BOOTP(**fields) / DHCP(options=[*options, "end"]))


def _request() -> bytes:
    return _msg(
        [
            ("message-type", "request"),
            ("client_id", b"\x01" + MAC),
            ("hostname", b"DCS-935L"),
            ("requested_addr", "10.10.10.37"),
            ("param_req_list", [1, 3, 6, 12, 15, 28, 42]),
            ("vendor_class_id", b"udhcp 1.22.1"),
            ("client_FQDN", b"\x05\x00\x00\x03cam\x07Example\x00"),
        ]
    )


# --- built messages -------------------------------------------------------------------


def test_request_every_field() -> None:
    event = _one(_request())
    assert event.msg_type == 3
    assert event.client_mac == "b0:c5:54:25:5b:0e"
    assert event.your_ip is None
    assert event.hostname == "DCS-935L"
    assert event.requested_ip == "10.10.10.37"
    assert event.param_request_list == [1, 3, 6, 12, 15, 28, 42]
    assert event.vendor_class == "udhcp 1.22.1"
    assert event.client_id == "01b0c554255b0e"
    assert event.fqdn == "cam.Example"


def test_offer_your_ip_and_absent_options() -> None:
    event = _one(_msg([("message-type", "offer")], op=2, yiaddr="192.168.0.10"))
    assert event.msg_type == 2
    assert event.your_ip == "192.168.0.10"
    assert event.client_mac == "b0:c5:54:25:5b:0e"
    assert event.hostname is None
    assert event.requested_ip is None
    assert event.param_request_list == []
    assert event.vendor_class is None
    assert event.client_id is None
    assert event.fqdn is None


def test_no_message_type_option() -> None:
    assert _one(_msg([("hostname", b"x")])).msg_type == 0


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (b"\x00\xff\xffLaptop-7.corp.local.", "Laptop-7.corp.local"),  # ASCII, E clear
        (b"\x01\x00\x00cam-01", "cam-01"),
        (b"\x04\x00\x00\x06cam-01\x04corp\x00", "cam-01.corp"),  # wire, E set
        (b"\x04\x00\x00\x06cam-01\x04corp", "cam-01.corp"),  # partial wire name
        (b"\x04\x00\x00plain.name", "plain.name"),  # E set, but ASCII
        (b"\x00\x00\x00\x06cam-01\x04corp\x00", "cam-01.corp"),  # E clear, but wire
        (b"\x00\x00\x00name\x00", "name"),
        (b"\x04\x00\x00\x00", None),  # root name
        (b"\x00\x00\x00", None),
        (b"\x00\x00", None),
    ],
)
def test_client_fqdn_encodings(value: bytes, expected: str | None) -> None:
    assert _one(_msg([("message-type", "request"), ("client_FQDN", value)])).fqdn == expected


def test_split_option_is_concatenated() -> None:
    event = _one(_msg([("hostname", b"front-"), ("message-type", "inform"), ("hostname", b"door")]))
    assert event.hostname == "front-door"
    assert event.msg_type == 8


def test_option_overload_file_and_sname() -> None:
    file_opts = b"\x0c\x05cam-7\x3c\x04hikv\xff"
    sname_opts = b"\x32\x04\xc0\xa8\x00\x07\xff"
    payload = _msg(
        [("message-type", "discover"), ("dhcp-option-overload", 3)],
        file=file_opts,
        sname=sname_opts,
    )
    event = _one(payload)
    assert (event.hostname, event.vendor_class, event.requested_ip) == (
        "cam-7",
        "hikv",
        "192.168.0.7",
    )
    # without option 52 these fields are not options
    plain = _one(_msg([("message-type", "discover")], file=file_opts, sname=sname_opts))
    assert (plain.hostname, plain.vendor_class, plain.requested_ip) == (None, None, None)


def test_text_options_nul_and_empty() -> None:
    event = _one(_msg([("hostname", b"cam\x00"), ("vendor_class_id", b"")]))
    assert event.hostname == "cam"
    assert event.vendor_class is None


def test_utf8_hostname_with_replacement() -> None:
    event = _one(_msg([("hostname", "Küche".encode() + b"\xff")]))
    assert event.hostname == "Küche\ufffd"


def test_requested_ip_of_wrong_size_is_ignored() -> None:
    assert _one(_msg([(50, b"\x0a\x00\x00")])).requested_ip is None


def test_hardware_address_length() -> None:
    assert _one(_msg([], hlen=0)).client_mac == "b0:c5:54:25:5b:0e"
    eight = _one(_msg([], hlen=8, chaddr=bytes(range(1, 9))))
    assert eight.client_mac == "01:02:03:04:05:06:07:08"
    assert _one(_msg([], hlen=200)).client_mac == "b0:c5:54:25:5b:0e"


def test_pad_options_and_data_after_end() -> None:
    payload = _msg([("message-type", "discover")])
    payload += b"\x00\x00\x0c\x03bad"  # after the end option
    payload = payload[:240] + b"\x00\x00" + payload[240:]
    event = _one(payload)
    assert event.msg_type == 1
    assert event.hostname is None


def test_not_dhcp() -> None:
    good = _request()
    assert dhcp.parse(b"", CTX) == []
    assert dhcp.parse(good[:239], CTX) == []
    no_cookie = good[:236] + b"\x00\x00\x00\x00" + good[240:]
    assert dhcp.parse(no_cookie, CTX) == []


# --- truncation and fuzzing -------------------------------------------------------------


def test_every_truncation() -> None:
    full = _one(_request())
    payload = _request()
    for cut in range(len(payload)):
        events = dhcp.parse(payload[:cut], CTX)
        if cut < 240:
            assert events == []
            continue
        assert len(events) == 1
        event = events[0]
        assert isinstance(event, DhcpEvent)
        # an option is either complete or absent, never cut short
        assert event.client_mac == full.client_mac
        assert event.hostname in (None, full.hostname)
        assert event.vendor_class in (None, full.vendor_class)
        assert event.client_id in (None, full.client_id)
        assert event.fqdn in (None, full.fqdn)
        assert event.param_request_list in ([], full.param_request_list)


def test_random_mutations_never_raise() -> None:
    rng = random.Random(7)
    fuzz = udp_payloads(realworld("bad_dhcp_fuzz_ndpi.pcapng"), {67, 68})[1]
    seeds = [_request(), fuzz]
    for _ in range(2000):
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 8)):
            pos = rng.randrange(236, len(data))
            if rng.random() < 0.8:
                data[pos] = rng.randrange(256)
            else:
                del data[pos : pos + rng.randint(1, 6)]
        for event in dhcp.parse(bytes(data), CTX):
            assert isinstance(event, DhcpEvent)


# --- real captures ------------------------------------------------------------------------


def test_wireshark_exchange() -> None:
    payloads = udp_payloads(realworld("dhcp_wireshark_arkime.pcap"), {67, 68})
    events = {frame: _one(p) for frame, p in payloads.items()}
    assert [events[f].msg_type for f in (1, 2, 3, 4)] == [1, 2, 3, 5]
    assert {e.client_mac for e in events.values()} == {"00:0b:82:01:fc:42"}
    assert events[1].requested_ip == "0.0.0.0"
    assert events[1].client_id == "01000b8201fc42"
    assert events[1].param_request_list == [1, 3, 6, 42]
    assert events[1].your_ip is None
    assert events[2].your_ip == "192.168.0.10"
    assert events[3].requested_ip == "192.168.0.10"
    assert events[4].your_ip == "192.168.0.10"
    assert events[4].client_id is None


def test_dlink_camera_hostname() -> None:
    payloads = udp_payloads(realworld("cam_dlink_dcs935l_setup_iotsentinel.pcap"), {67, 68})
    discover = _one(payloads[15])
    assert discover.msg_type == 1
    assert discover.hostname == "DCS-935L"
    assert discover.client_mac == "b0:c5:54:25:5b:0e"
    assert discover.vendor_class == "udhcp 1.22.1"
    assert discover.param_request_list == [1, 3, 6, 12, 15, 28, 42]
    request = _one(payloads[17])
    assert (request.msg_type, request.requested_ip) == (3, "10.10.10.37")


def test_iphone_join() -> None:
    payloads = udp_payloads(realworld("mixed_iphone_discovery_ndpi.pcap"), {67, 68})
    imac = _one(payloads[2])
    assert (imac.msg_type, imac.hostname, imac.client_mac) == (1, "Lucas-iMac", "d8:30:62:56:00:1c")
    assert imac.param_request_list == [1, 121, 3, 6, 15, 119, 252, 95, 44, 46]
    assert imac.client_id == "01d8306256001c"
    request = _one(payloads[35])
    assert (request.msg_type, request.hostname, request.requested_ip) == (
        3,
        "Lucas-iPhone",
        "192.168.2.17",
    )
    ack = _one(payloads[36])
    assert (ack.msg_type, ack.your_ip, ack.client_mac) == (5, "192.168.2.17", "c4:61:8b:35:82:a9")


def test_fuzzed_capture() -> None:
    payload = udp_payloads(realworld("bad_dhcp_fuzz_ndpi.pcapng"), {67, 68})[1]
    event = _one(payload)
    assert event.msg_type == 106
    assert event.client_mac == "00:1f:29:da:2d:79"
    assert event.client_id == "01001f29da2d79"
    assert event.hostname == "MK03862"
    assert event.vendor_class is None  # option 60 claims 49 bytes, runs past the end
    assert event.param_request_list == []
    for cut in range(len(payload)):
        assert isinstance(dhcp.parse(payload[:cut], CTX), list)
