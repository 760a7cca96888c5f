"""The premises inferred from the link, at the level of the evidence and the decision."""

from __future__ import annotations

from netscan.events import Ctx, Dhcpv6Event, RouterAdvertEvent
from netscan.flow import Flow
from netscan.inventory.enrich import Premises
from netscan.inventory.linkscope import (
    MAX_ADDRS_PER_MAC,
    MAX_RANGES,
    MIN_V6_PREFIX,
    Inference,
    InferredRange,
    LinkEvidence,
)

GW = "50:c7:bf:3a:91:01"
CAM = "44:19:b6:2e:7c:51"
NVR = "24:48:45:b1:3c:70"
CAM_IP = "2408:8207:1850:a2c0:4619:b6ff:fe2e:7c51"
NVR_IP = "2408:8207:1850:a2c0:2648:45ff:feb1:3c70"
CLOUD = "240e:f7:4f01:c::34"
RESOLVER = "2408:8899::8"


def _flow(a_ip: str, b_ip: str, a_mac: str, b_mac: str) -> Flow:
    return Flow(0, 6, a_ip, b_ip, 50000, 443, a_mac, b_mac, 1.0)


def _see(link: LinkEvidence, prem: Premises, flow: Flow, frame: int = 1) -> None:
    sa, sb = prem.scope(flow.a_ip), prem.scope(flow.b_ip)
    if sa == 2 or sb == 2:
        link.flow(flow, sa, sb, frame)


def _ra(prefixes: list[str], mac: str = GW, frame: int = 1) -> RouterAdvertEvent:
    ctx = Ctx(file=0, frame=frame, ts=0.0, src_mac=mac, src_ip="fe80::1", dst_ip="ff02::1")
    n = len(prefixes)
    return RouterAdvertEvent(ctx=ctx, router_lifetime=1800, prefixes=prefixes,
                             on_link=[True] * n, autonomous=[True] * n, router_mac=mac)  # fmt: skip


def test_one_remote_host_and_one_local_host_say_nothing_without_a_gateway() -> None:
    """Two MACs each carrying one global /64 look alike: nothing is inferred."""
    prem, link = Premises(), LinkEvidence()
    _see(link, prem, _flow(CAM_IP, CLOUD, CAM, GW))
    inf = link.infer(prem)
    assert inf.ranges == [] and inf.gateways == []
    assert link.local_addresses(inf) == []


def test_router_advertisement_names_the_gateway_and_the_prefix() -> None:
    prem, link = Premises(), LinkEvidence()
    link.router_advert(_ra(["2408:8207:1850:a2c0::/64"], frame=4))
    _see(link, prem, _flow(CAM_IP, CLOUD, CAM, GW), frame=9)
    inf = link.infer(prem)
    assert inf.gateways == [GW]
    assert [r.range for r in inf.ranges] == ["2408:8207:1850:a2c0::/64"]
    r = inf.ranges[0]
    assert r.sources == ["router-advertisement", "local-link"]
    assert (0, 4) in r.frames and (0, 9) in r.frames
    assert any("announces 2408:8207:1850:a2c0::/64" in why for why in r.reasons)
    assert any(CAM_IP in why and CAM in why for why in r.reasons)
    # the face platform behind the gateway stays off-site
    assert not inf.covers(CLOUD) and inf.covers(CAM_IP)
    assert link.local_addresses(inf) == [CAM_IP]


def test_gateway_from_several_networks_and_from_a_premises_peer() -> None:
    prem, link = Premises(), LinkEvidence()
    _see(link, prem, _flow(CAM_IP, CLOUD, CAM, GW))
    _see(link, prem, _flow(CAM_IP, RESOLVER, CAM, GW))
    _see(link, prem, _flow(NVR_IP, CLOUD, NVR, GW))
    inf = link.infer(prem)
    assert inf.gateways == [GW]
    assert [r.range for r in inf.ranges] == ["2408:8207:1850:a2c0::/64"]
    assert inf.ranges[0].sources == ["local-link"]
    # dual stack: a MAC carrying a public IPv4 address for a private one is a gateway
    prem, link = Premises(), LinkEvidence()
    _see(link, prem, _flow("192.168.1.64", "203.107.6.88", CAM, GW))
    _see(link, prem, _flow(CAM_IP, CLOUD, CAM, GW))
    inf = link.infer(prem)
    assert inf.gateways == [GW]
    assert [r.range for r in inf.ranges] == ["2408:8207:1850:a2c0::/64"]
    # a public IPv4 address straight from a local MAC: that one address
    _see(link, prem, _flow("59.120.208.212", "203.107.6.89", NVR, GW))
    assert "59.120.208.212/32" in [r.range for r in link.infer(prem).ranges]


def test_dhcpv6_addresses_fold_into_the_wider_range() -> None:
    prem, link = Premises(), LinkEvidence()
    ctx = Ctx(file=0, frame=2, ts=0.0, src_ip="fe80::1", dst_ip="fe80::2")
    link.dhcpv6(Dhcpv6Event(ctx=ctx, msg_type=7, addresses=[CAM_IP],
                            prefixes=["2408:8207:1850:b000::/56"]))  # fmt: skip
    inf = link.infer(prem)
    assert [r.range for r in inf.ranges] == [f"{CAM_IP}/128", "2408:8207:1850:b000::/56"]
    link.router_advert(_ra(["2408:8207:1850:a2c0::/64"]))
    inf = link.infer(prem)
    assert [r.range for r in inf.ranges] == ["2408:8207:1850:a2c0::/64",
                                             "2408:8207:1850:b000::/56"]  # fmt: skip
    assert inf.ranges[0].sources == ["router-advertisement", "dhcpv6"]


def test_hostile_or_useless_prefixes_are_not_taken() -> None:
    """A rogue advertisement of a huge prefix must not make the Internet the premises."""
    prem, link = Premises(), LinkEvidence()
    link.router_advert(_ra(["::/0", "2000::/3", f"2408::/{MIN_V6_PREFIX - 1}", "ff00::/8",
                            "fe80::/64", "fd00:1:2:3::/64"]))  # fmt: skip
    inf = link.infer(prem)
    assert inf.ranges == []
    assert len(inf.notes) == 1
    for p in ("::/0", "2000::/3", f"2408::/{MIN_V6_PREFIX - 1}", "ff00::/8"):
        assert p in inf.notes[0]
    assert "fd00" not in inf.notes[0]  # already on the premises: nothing to say


def test_bounds() -> None:
    prem, link = Premises(), LinkEvidence(max_macs=3)
    for j in range(100):  # addresses past a MAC's bound are not counted as dropped
        _see(link, prem, _flow(f"2001:db8:ffff::{j:x}", CLOUD, "02:00:00:00:01:00", GW))
    assert link.dropped == 0
    for k in range(1, 10):
        mac = f"02:00:00:00:00:{k:02x}"
        for j in range(100):
            _see(link, prem, _flow(f"2001:db8:{k:x}::{j:x}", CLOUD, mac, GW))
    assert len(link.carried) == 3
    assert all(len(a) <= MAX_ADDRS_PER_MAC for a in link.carried.values())
    assert all(len(n) <= 3 for n in link.nets.values())
    assert link.dropped > 0
    inf = link.infer(prem)
    assert any("beyond the bounds" in n for n in inf.notes)


def test_too_many_ranges_are_counted_and_coverage_is_quick() -> None:
    prem, link = Premises(), LinkEvidence()
    link.router_advert(_ra(["2408:8207:1850:a2c0::/64"]))  # names the gateway
    for k in range(MAX_RANGES + 10):  # public IPv4 hosts, one range each
        mac = f"02:00:00:00:{k >> 8:02x}:{k & 255:02x}"
        _see(link, prem, _flow(f"59.1.{k >> 8}.{k & 255}", "203.0.113.9", mac, GW))
    inf = link.infer(prem)
    assert len(inf.ranges) == MAX_RANGES
    assert any("more ranges beyond the limit" in n for n in inf.notes)
    # coverage: a set look-up per distinct prefix length
    inf = Inference(ranges=[InferredRange(f"2001:db8:{k:x}::/64") for k in range(200)]
                    + [InferredRange("59.1.2.3/32")])  # fmt: skip
    ips = ["2001:db8:5::7", "59.1.2.3", "59.1.2.4", "2001:db8:c7::1", "2001:db9::1", "junk"]
    assert inf.covering(ips) == 3
    assert inf.covers("2001:db8:c7::1") and not inf.covers("2001:db8:c8::1")


def test_premises_scope_is_ipaddress_membership() -> None:
    """The scope decision (integer masks over the C parser's reading) gives what
    ipaddress membership gives, for canonical, unusual and invalid address texts."""
    import ipaddress
    import random

    from netscan.inventory.enrich import LOCAL_SCOPE

    def expected(prem: Premises, ip: str) -> int:
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return 1
        if any(addr in ipaddress.ip_network(c, strict=False) for c in prem.cidrs):
            return 0
        return 1 if any(addr in ipaddress.ip_network(c) for c in LOCAL_SCOPE) else 2

    rnd = random.Random(3)
    texts = [
        "10.0.0.1", "10.255.255.255", "11.0.0.0", "::", "::1", "fe80::1%eth0", "fe80::1",
        "ff02::fb", "0.0.0.0", "255.255.255.255", "::ffff:10.0.0.1", "::ffff:1.2.3.4",
        "01.2.3.4", "1.2.3", "", "x", "1.2.3.4 ", " 1.2.3.4", "2001:db8::1", "fc00::5",
        "169.254.3.3", "224.0.0.251", "127.0.0.1", "::127.0.0.1", "1:2:3:4:5:6:7:8",
        "1:2:3:4:5:6:1.2.3.4", "1::2::3", "2001:DB8::1", "300.1.1.1", "1.2.3.4.5",
    ]  # fmt: skip
    texts += [str(ipaddress.IPv4Address(rnd.getrandbits(32))) for _ in range(2000)]
    texts += [str(ipaddress.IPv6Address(rnd.getrandbits(128))) for _ in range(2000)]
    for cidrs in (None, ["10.20.0.0/16", "2001:db8::/32", "8.0.0.0/7", "1.2.3.4/32"]):
        prem = Premises(cidrs)
        for ip in texts:
            assert prem.scope(ip) == expected(prem, ip), ip
