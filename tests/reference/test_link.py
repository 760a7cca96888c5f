"""Link-layer decapsulation for every supported link type."""

from __future__ import annotations

import struct

from scapy.layers.dot11 import Dot11, Dot11QoS, RadioTap
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import LLC, SNAP, Dot1AD, Dot1Q, Ether
from scapy.layers.ppp import PPP, PPPoE

from tests.reference.decode.link import (
    ETH_IPV4,
    ETH_IPV6,
    WLAN_PROTECTED,
    decode_link,
    mac_str,
)

IPV4 = bytes(IP(src="192.168.1.2", dst="1.1.1.1") / UDP(sport=5, dport=53))
IPV6 = bytes(IPv6(src="fe80::1", dst="ff02::fb") / UDP(sport=5353, dport=5353))


def test_ethernet_plain_vlan_qinq() -> None:
    e = bytes(Ether(src="00:11:22:33:44:55", dst="ff:ff:ff:ff:ff:ff") / IP() / UDP())
    link = decode_link(1, e)
    assert link and link.ethertype == ETH_IPV4 and link.offset == 14
    assert mac_str(link.src) == "00:11:22:33:44:55"
    q = bytes(Ether() / Dot1Q(vlan=10) / IP() / UDP())
    link = decode_link(1, q)
    assert link and link.ethertype == ETH_IPV4 and link.offset == 18 and link.vlan == 10
    qq = bytes(Ether() / Dot1AD(vlan=100) / Dot1Q(vlan=20) / IPv6() / UDP())
    link = decode_link(1, qq)
    assert link and link.ethertype == ETH_IPV6 and link.offset == 22 and link.vlan == 100


def test_pppoe_session() -> None:
    f = bytes(Ether() / Dot1Q(vlan=3) / PPPoE(sessionid=7) / PPP(proto=0x0021) / IP() / TCP())
    link = decode_link(1, f)
    assert link and link.ethertype == ETH_IPV4 and f[link.offset] >> 4 == 4


def test_raw_ip_and_null_and_loop() -> None:
    for lt in (101, 228, 12):
        link = decode_link(lt, IPV4)
        assert link and link.ethertype == ETH_IPV4 and link.offset == 0
    assert decode_link(229, IPV6).ethertype == ETH_IPV6  # type: ignore[union-attr]
    assert decode_link(0, struct.pack("<I", 2) + IPV4).ethertype == ETH_IPV4  # type: ignore[union-attr]
    assert decode_link(0, struct.pack("<I", 30) + IPV6).ethertype == ETH_IPV6  # type: ignore[union-attr]
    assert decode_link(108, struct.pack(">I", 2) + IPV4).ethertype == ETH_IPV4  # type: ignore[union-attr]


def test_linux_cooked_v1_v2() -> None:
    sll = struct.pack("!HHH8sH", 0, 1, 6, bytes.fromhex("001122334455") + b"\0\0", 0x0800) + IPV4
    link = decode_link(113, sll)
    assert link and link.ethertype == ETH_IPV4 and link.offset == 16
    assert mac_str(link.src) == "00:11:22:33:44:55"
    sll2 = (
        struct.pack("!HHIHBB8s", 0x86DD, 0, 2, 1, 0, 6, bytes.fromhex("aabbccddeeff") + b"\0\0")
        + IPV6
    )
    link = decode_link(276, sll2)
    assert link and link.ethertype == ETH_IPV6 and link.offset == 20
    assert mac_str(link.src) == "aa:bb:cc:dd:ee:ff"


def test_radiotap_data_frames() -> None:
    sta, ap = "02:00:00:00:00:01", "02:00:00:00:00:02"
    clear = bytes(
        RadioTap()
        / Dot11(type=2, subtype=0, FCfield=0x01, addr1=ap, addr2=sta, addr3="02:00:00:00:00:03")
        / LLC()
        / SNAP(code=0x0800)
        / IP()
        / UDP()
    )
    link = decode_link(127, clear)
    assert link and link.ethertype == ETH_IPV4
    assert mac_str(link.src) == sta and mac_str(link.dst) == "02:00:00:00:00:03"
    prot = bytes(
        RadioTap()
        / Dot11(type=2, subtype=8, FCfield=0x42, addr1=sta, addr2=ap, addr3="02:00:00:00:00:09")
        / Dot11QoS()
        / (b"\x00" * 60)
    )
    link = decode_link(127, prot)
    assert link and link.ethertype == WLAN_PROTECTED
    assert mac_str(link.src) == "02:00:00:00:00:09" and mac_str(link.dst) == sta


def test_nflog() -> None:
    # family AF_INET, version 0, resource id; one prefix TLV, then the payload TLV (type 9)
    tlv_prefix = struct.pack("<HH", 8, 10) + b"abc\0"
    payload = struct.pack("<HH", 4 + len(IPV4), 9) + IPV4
    link = decode_link(239, b"\x02\x00\x00\x01" + tlv_prefix + payload)
    assert link and link.ethertype == ETH_IPV4 and link.offset == 4 + 8 + 4


def test_garbage_never_raises() -> None:
    import random

    rng = random.Random(7)
    for _ in range(3000):
        lt = rng.choice([0, 1, 101, 105, 108, 113, 127, 239, 274, 276, 228, 229, 9, 999])
        data = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 80)))
        decode_link(lt, data)
