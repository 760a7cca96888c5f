from __future__ import annotations

from scapy.layers.inet6 import (
    ICMPv6EchoRequest,
    ICMPv6ND_RA,
    ICMPv6NDOptMTU,
    ICMPv6NDOptPrefixInfo,
    ICMPv6NDOptSrcLLAddr,
)

from netscan.dissectors import icmpv6
from netscan.events import Ctx, RouterAdvertEvent

CTX = Ctx(file=0, frame=3, ts=1.0, src_mac="50:c7:bf:3a:91:01", src_ip="fe80::1", dst_ip="ff02::1")


def _one(payload: bytes) -> RouterAdvertEvent:
    events = icmpv6.parse(payload, CTX)
    assert len(events) == 1
    ev = events[0]
    assert isinstance(ev, RouterAdvertEvent)
    assert ev.kind == "icmpv6_ra" and ev.ctx is CTX
    return ev


def test_router_advertisement_every_field() -> None:
    msg = bytes(
        ICMPv6ND_RA(routerlifetime=1800, M=1)
        / ICMPv6NDOptSrcLLAddr(lladdr="50:c7:bf:3a:91:01")
        / ICMPv6NDOptMTU(mtu=1492)
        / ICMPv6NDOptPrefixInfo(prefix="2408:8207:1850:a2c0::", prefixlen=64, L=1, A=1)
        / ICMPv6NDOptPrefixInfo(prefix="2001:db8:7:ff::1", prefixlen=56, L=0, A=0)
    )
    ev = _one(msg)
    assert ev.router_lifetime == 1800 and ev.managed
    assert ev.router_mac == "50:c7:bf:3a:91:01"
    # bits past the prefix length are cleared
    assert ev.prefixes == ["2408:8207:1850:a2c0::/64", "2001:db8:7::/56"]
    assert ev.on_link == [True, False] and ev.autonomous == [True, False]


def test_other_messages_and_runts_give_nothing() -> None:
    assert icmpv6.parse(bytes(ICMPv6EchoRequest()), CTX) == []
    assert icmpv6.parse(bytes(ICMPv6ND_RA())[:15], CTX) == []
    assert icmpv6.parse(b"", CTX) == []
    bad_code = bytearray(bytes(ICMPv6ND_RA()))
    bad_code[1] = 1
    assert icmpv6.parse(bytes(bad_code), CTX) == []


def test_broken_options_stop_the_walk_keeping_what_came_before() -> None:
    good = bytes(ICMPv6ND_RA() / ICMPv6NDOptPrefixInfo(prefix="2001:db8:1::", prefixlen=64))
    # an option of length 0 (would loop forever) and one running past the end
    for tail in (b"\x01\x00" + bytes(6), b"\x03\x04" + bytes(10)):
        ev = _one(good + tail)
        assert ev.prefixes == ["2001:db8:1::/64"]
    # a prefix length past 128 is no prefix
    bad = bytearray(good)
    bad[16 + 2] = 200
    assert _one(bytes(bad)).prefixes == []


def test_prefixes_are_bounded() -> None:
    msg = bytes(ICMPv6ND_RA())
    for k in range(40):
        msg += bytes(ICMPv6NDOptPrefixInfo(prefix=f"2001:db8:{k:x}::", prefixlen=64))
    ev = _one(msg)
    assert len(ev.prefixes) == icmpv6.MAX_PREFIXES
    assert len(ev.on_link) == len(ev.autonomous) == icmpv6.MAX_PREFIXES
