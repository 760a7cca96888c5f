from __future__ import annotations

import random
import struct

from scapy.layers.dhcp6 import (
    DUID_LL,
    DUID_LLT,
    VENDOR_CLASS_DATA,
    DHCP6_Advertise,
    DHCP6_InfoRequest,
    DHCP6_RelayForward,
    DHCP6_Solicit,
    DHCP6OptClientFQDN,
    DHCP6OptClientId,
    DHCP6OptElapsedTime,
    DHCP6OptRelayMsg,
    DHCP6OptServerId,
    DHCP6OptVendorClass,
)

from netscan.dissectors import dhcpv6
from netscan.events import Ctx, Dhcpv6Event
from tests.conftest import realworld
from tests.dissectors._udp_capture import udp_payloads

CTX = Ctx(file=2, frame=4, ts=0.5, src_ip="fe80::1", sport=546, dport=547, transport="udp")


def _one(payload: bytes) -> Dhcpv6Event:
    events = dhcpv6.parse(payload, CTX)
    assert len(events) == 1
    event = events[0]
    assert isinstance(event, Dhcpv6Event)
    assert event.ctx is CTX
    assert event.kind == "dhcpv6"
    return event


def _solicit() -> bytes:
    msg = (
        DHCP6_Solicit(trid=0xABCDE)
        / DHCP6OptClientId(duid=DUID_LL(lladdr="00:11:22:33:44:55"))
        / DHCP6OptElapsedTime()
        / DHCP6OptVendorClass(enterprisenum=311, vcdata=[VENDOR_CLASS_DATA(data=b"MSFT 5.0")])
        / DHCP6OptClientFQDN(flags=1, fqdn=b"Cam01.example.com.")
    )
    return bytes(msg)


def test_solicit_every_field() -> None:
    event = _one(_solicit())
    assert event.msg_type == 1
    assert event.duid == "00030001001122334455"
    assert event.enterprise == 311
    assert event.vendor_class == "311:MSFT 5.0"
    assert event.fqdn == "Cam01.example.com"


def test_duid_llt_and_server_id_ignored() -> None:
    msg = (
        DHCP6_Advertise(trid=1)
        / DHCP6OptServerId(duid=DUID_LLT(lladdr="aa:bb:cc:dd:ee:ff", timeval=1))
        / DHCP6OptClientId(duid=DUID_LLT(lladdr="00:0c:29:aa:bb:cc", timeval=0x1DB8E6FB))
    )
    event = _one(bytes(msg))
    assert event.msg_type == 2
    assert event.duid == "000100011db8e6fb000c29aabbcc"
    assert event.vendor_class is None
    assert event.enterprise is None
    assert event.fqdn is None


def test_vendor_class_with_several_strings() -> None:
    msg = DHCP6_InfoRequest() / DHCP6OptVendorClass(
        enterprisenum=39567,
        vcdata=[VENDOR_CLASS_DATA(data=b"hikvision"), VENDOR_CLASS_DATA(data=b"ipc\xff")],
    )
    event = _one(bytes(msg))
    assert event.msg_type == 11
    assert event.enterprise == 39567
    assert event.vendor_class == "39567:hikvision,ipc\ufffd"


def test_vendor_class_string_running_past_option() -> None:
    value = struct.pack(">I", 4491) + b"\x00\x03abc" + b"\x00\x09xy"
    payload = b"\x01\x00\x00\x01" + struct.pack(">HH", 16, len(value)) + value
    event = _one(payload)
    assert (event.enterprise, event.vendor_class) == (4491, "4491:abc")


def test_vendor_class_too_short() -> None:
    payload = b"\x01\x00\x00\x01" + struct.pack(">HH", 16, 3) + b"\x00\x00\x01"
    event = _one(payload)
    assert (event.enterprise, event.vendor_class) == (None, None)


def test_fqdn_partial_and_empty() -> None:
    partial = b"\x00\x06cam-01"  # flags, then a name without its root label
    payload = b"\x01\x00\x00\x01" + struct.pack(">HH", 39, len(partial)) + partial
    assert _one(payload).fqdn == "cam-01"
    empty = b"\x01\x00\x00\x01" + struct.pack(">HH", 39, 1) + b"\x01"
    assert _one(empty).fqdn is None
    broken = b"\x00\x09ab"  # label longer than the option
    payload = b"\x01\x00\x00\x01" + struct.pack(">HH", 39, len(broken)) + broken
    assert _one(payload).fqdn is None


def test_relay_messages_are_skipped() -> None:
    relay = DHCP6_RelayForward(linkaddr="2001:db8::1", peeraddr="fe80::2") / DHCP6OptRelayMsg(
        message=DHCP6_Solicit() / DHCP6OptClientId(duid=DUID_LL(lladdr="00:11:22:33:44:55"))
    )
    payload = bytes(relay)
    assert payload[0] == 12
    assert dhcpv6.parse(payload, CTX) == []
    assert dhcpv6.parse(b"\x0d" + payload[1:], CTX) == []


def test_not_dhcpv6() -> None:
    assert dhcpv6.parse(b"", CTX) == []
    assert dhcpv6.parse(b"\x01\x00\x00", CTX) == []
    assert dhcpv6.parse(b"\x00\x00\x00\x00", CTX) == []
    header_only = _one(b"\x0b\x12\x34\x56")
    assert (header_only.msg_type, header_only.duid) == (11, None)


def test_option_past_the_end_keeps_earlier_options() -> None:
    payload = _solicit()
    fqdn_at = payload.index(b"\x00\x27")
    event = _one(payload[: fqdn_at + 6])
    assert event.duid == "00030001001122334455"
    assert event.vendor_class == "311:MSFT 5.0"
    assert event.fqdn is None


def test_every_truncation_and_random_mutations() -> None:
    payload = _solicit()
    full = _one(payload)
    for cut in range(len(payload)):
        for event in dhcpv6.parse(payload[:cut], CTX):
            assert isinstance(event, Dhcpv6Event)
            assert event.duid in (None, full.duid)
            assert event.vendor_class in (None, full.vendor_class)
            assert event.fqdn in (None, full.fqdn)
    rng = random.Random(5)
    for _ in range(2000):
        data = bytearray(payload)
        for _ in range(rng.randint(1, 6)):
            pos = rng.randrange(len(data))
            if rng.random() < 0.8:
                data[pos] = rng.randrange(256)
            else:
                del data[pos : pos + rng.randint(1, 6)]
        for event in dhcpv6.parse(bytes(data), CTX):
            assert isinstance(event, Dhcpv6Event)


def test_real_information_requests() -> None:
    payloads = udp_payloads(realworld("big_mixed_1kxun_ndpi.pcap"), {546, 547})
    assert sorted(payloads) == [12, 31, 396, 600, 652, 752, 776, 813, 911, 949]
    duids = {frame: _one(p).duid for frame, p in payloads.items()}
    assert duids[12] == "000100011db8e6fb703eacf0f007"
    assert duids[752] == "000100011ae7386b2697719169a3"
    assert duids[949] == "000100011ea37b92f45c8989e607"
    assert {_one(p).msg_type for p in payloads.values()} == {11}
    assert all(_one(p).vendor_class is None for p in payloads.values())


def test_assigned_addresses_and_delegated_prefixes() -> None:
    from scapy.layers.dhcp6 import (
        DHCP6_Reply,
        DHCP6OptIA_NA,
        DHCP6OptIA_PD,
        DHCP6OptIA_TA,
        DHCP6OptIAAddress,
        DHCP6OptIAPrefix,
    )

    msg = (
        DHCP6_Reply(trid=7)
        / DHCP6OptClientId(duid=DUID_LL(lladdr="00:11:22:33:44:55"))
        / DHCP6OptIA_NA(iaid=1, ianaopts=[DHCP6OptIAAddress(addr="2001:db8:1::9"),
                                          DHCP6OptIAAddress(addr="2001:db8:1::a")])
        / DHCP6OptIA_TA(iaid=2, iataopts=[DHCP6OptIAAddress(addr="2001:db8:1::b")])
        / DHCP6OptIA_PD(iaid=3, iapdopt=[DHCP6OptIAPrefix(prefix="2001:db8:2:ff::", plen=56)])
    )  # fmt: skip
    event = _one(bytes(msg))
    assert event.msg_type == 7
    assert event.addresses == ["2001:db8:1::9", "2001:db8:1::a", "2001:db8:1::b"]
    assert event.prefixes == ["2001:db8:2::/56"]  # bits past the length cleared


def test_ia_options_broken_or_many() -> None:
    # an IA_NA whose inner option runs past it: nothing from that IA, the rest still read
    ia = struct.pack(">III", 1, 0, 0) + struct.pack(">HH", 5, 40) + bytes(10)
    payload = b"\x07\x00\x00\x01" + struct.pack(">HH", 3, len(ia)) + ia
    fqdn = b"\x00\x03cam\x00"
    payload += struct.pack(">HH", 39, len(fqdn)) + fqdn
    event = _one(payload)
    assert event.addresses == [] and event.fqdn == "cam"
    # at most 16 addresses per message
    inner = b"".join(
        struct.pack(">HH", 5, 24) + bytes.fromhex("20010db8000100000000000000000000")[:15]
        + bytes([k]) + bytes(8) for k in range(30)
    )  # fmt: skip
    ia = struct.pack(">III", 1, 0, 0) + inner
    payload = b"\x07\x00\x00\x01" + struct.pack(">HH", 3, len(ia)) + ia
    assert len(_one(payload).addresses) == 16
