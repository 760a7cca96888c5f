"""Link-layer decapsulation: from a frame of any supported link type to the network layer.

``decode_link(linktype, data)`` returns a ``Link``: source and destination MAC (6-byte
values or None), the EtherType of what follows (0x0800 IPv4, 0x86DD IPv6, 0x0806 ARP, ...)
and the offset where it starts. 802.11 data frames that are encrypted return EtherType
``WLAN_PROTECTED`` so their sizes and direction can still be counted.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

ETH_IPV4 = 0x0800
ETH_IPV6 = 0x86DD
ETH_ARP = 0x0806
ETH_VLAN = (0x8100, 0x88A8, 0x9100, 0x9200)
ETH_PPPOE_SESSION = 0x8864
WLAN_PROTECTED = -1  # pseudo EtherType: an encrypted 802.11 data frame
WLAN_MGMT = -2  # pseudo EtherType: 802.11 management/control frame (not analysed further)

# link types (see the tcpdump LINKTYPE_ registry)
LT_NULL = 0
LT_ETHERNET = 1
LT_RAW = 101
LT_RAW_ALT = (12, 14)  # DLT_RAW values used by some BSDs
LT_IEEE802_11 = 105
LT_LINUX_SLL = 113
LT_LOOP = 108
LT_RADIOTAP = 127
LT_NFLOG = 239
LT_IPV4 = 228
LT_IPV6 = 229
LT_LINUX_SLL2 = 276
LT_ETHERNET_MPACKET = 274
LT_PPP = 9
LT_PPP_HDLC = 50
# link types decode_link understands (None for one of these means a short or odd frame)
SUPPORTED_LINKTYPES = frozenset({
    LT_NULL, LT_ETHERNET, LT_RAW, *LT_RAW_ALT, LT_IEEE802_11, LT_LINUX_SLL, LT_LOOP,
    LT_RADIOTAP, LT_NFLOG, LT_IPV4, LT_IPV6, LT_LINUX_SLL2, LT_ETHERNET_MPACKET, LT_PPP,
    LT_PPP_HDLC,
})  # fmt: skip

SUPPORTED = {
    LT_NULL: "BSD loopback",
    LT_ETHERNET: "Ethernet",
    LT_RAW: "raw IP",
    12: "raw IP",
    14: "raw IP",
    LT_IEEE802_11: "802.11",
    LT_LINUX_SLL: "Linux cooked (SLL)",
    LT_LOOP: "OpenBSD loopback",
    LT_RADIOTAP: "802.11 radiotap",
    LT_NFLOG: "Linux NFLOG",
    LT_IPV4: "raw IPv4",
    LT_IPV6: "raw IPv6",
    LT_LINUX_SLL2: "Linux cooked v2 (SLL2)",
    LT_ETHERNET_MPACKET: "802.3br mPacket",
    LT_PPP: "PPP",
    LT_PPP_HDLC: "PPP in HDLC framing",
}


class Link(NamedTuple):
    src: bytes | None
    dst: bytes | None
    ethertype: int
    offset: int
    vlan: int = 0  # outermost VLAN id, 0 if none


_u16 = struct.Struct("!H").unpack_from


def mac_str(b: bytes | None) -> str | None:
    if b is None:
        return None
    return b.hex(":")


def _ethernet(data: bytes, off: int = 0) -> Link | None:
    if len(data) < off + 14:
        return None
    dst = data[off : off + 6]
    src = data[off + 6 : off + 12]
    et = (data[off + 12] << 8) | data[off + 13]
    p = off + 14
    vlan = 0
    while et in ETH_VLAN and len(data) >= p + 4:
        if not vlan:
            vlan = ((data[p] << 8) | data[p + 1]) & 0x0FFF
        et = (data[p + 2] << 8) | data[p + 3]
        p += 4
    if et < 0x0600 and len(data) >= p + 8 and data[p : p + 3] == b"\xaa\xaa\x03":
        # 802.3 length field + LLC/SNAP
        et = (data[p + 6] << 8) | data[p + 7]
        p += 8
    if et == ETH_PPPOE_SESSION and len(data) >= p + 8:
        ppp = (data[p + 6] << 8) | data[p + 7]
        p += 8
        et = _ppp_proto(ppp)
    return Link(src, dst, et, p, vlan)


def _ppp_proto(proto: int) -> int:
    if proto == 0x0021:
        return ETH_IPV4
    if proto == 0x0057:
        return ETH_IPV6
    return 0


def _ip_version(data: bytes, off: int) -> int:
    if len(data) <= off:
        return 0
    v = data[off] >> 4
    if v == 4:
        return ETH_IPV4
    if v == 6:
        return ETH_IPV6
    return 0


def _sll(data: bytes) -> Link | None:
    if len(data) < 16:
        return None
    halen = _u16(data, 4)[0]
    addr = data[6 : 6 + min(halen, 8)] if halen == 6 else None
    et = _u16(data, 14)[0]
    # the address is always the sender's, whatever the packet type
    return Link(addr, None, _sll_proto(et, data, 16), 16)


def _sll_proto(et: int, data: bytes, off: int) -> int:
    if et in (ETH_IPV4, ETH_IPV6, ETH_ARP):
        return et
    return _ip_version(data, off) if et in (0x0000, 0x0004) else et


def _sll2(data: bytes) -> Link | None:
    if len(data) < 20:
        return None
    et = _u16(data, 0)[0]
    halen = data[11]
    addr = data[12:18] if halen == 6 else None
    return Link(addr, None, _sll_proto(et, data, 20), 20)


def _null(data: bytes, big: bool) -> Link | None:
    if len(data) < 4:
        return None
    fam = int.from_bytes(data[:4], "big" if big else "little")
    if fam > 0xFFFF:  # written in the other byte order
        fam = int.from_bytes(data[:4], "little" if big else "big")
    if fam == 2:
        return Link(None, None, ETH_IPV4, 4)
    if fam in (10, 24, 28, 30):
        return Link(None, None, ETH_IPV6, 4)
    return Link(None, None, _ip_version(data, 4), 4)


def _nflog(data: bytes) -> Link | None:
    # nfgenmsg: family(1) version(1) res_id(2), then TLVs (length and type little-endian)
    if len(data) < 4:
        return None
    fam = data[0]
    p = 4
    n = len(data)
    while p + 4 <= n:
        tlen = data[p] | (data[p + 1] << 8)
        ttype = (data[p + 2] | (data[p + 3] << 8)) & 0x7FFF
        if tlen < 4:
            return None
        if ttype == 9:  # NFULA_PAYLOAD
            et = ETH_IPV4 if fam == 2 else ETH_IPV6 if fam == 10 else _ip_version(data, p + 4)
            return Link(None, None, et, p + 4)
        p += (tlen + 3) & ~3
    return None


def _radiotap(data: bytes) -> Link | None:
    if len(data) < 8 or data[0] != 0:
        return None
    rlen = data[2] | (data[3] << 8)
    if rlen > len(data):
        return None
    # flags field (bit 1): tells whether an FCS is appended
    present = int.from_bytes(data[4:8], "little")
    p = 8
    word = present
    while word & 0x80000000 and p + 4 <= rlen:
        word = int.from_bytes(data[p : p + 4], "little")
        p += 4
    has_fcs = False
    if present & 0x2:
        q = p
        if present & 0x1:  # TSFT, 8 bytes aligned to 8
            q = (q + 7) & ~7
            q += 8
        if q < rlen:
            has_fcs = bool(data[q] & 0x10)
    frame = data[rlen:]
    if has_fcs and len(frame) >= 4:
        frame = frame[:-4]
    link = _wlan(frame)
    if link is None:
        return None
    return Link(link.src, link.dst, link.ethertype, link.offset + rlen, link.vlan)


def _wlan(data: bytes) -> Link | None:
    if len(data) < 10:
        return None
    fc0 = data[0]
    flags = data[1]
    ftype = (fc0 >> 2) & 3
    subtype = (fc0 >> 4) & 0xF
    if ftype != 2:
        src = data[10:16] if len(data) >= 16 else None
        return Link(src, data[4:10], WLAN_MGMT, len(data))
    if len(data) < 24:
        return None
    a1, a2, a3 = data[4:10], data[10:16], data[16:22]
    to_ds, from_ds = flags & 1, flags & 2
    hdr = 24
    if to_ds and from_ds:
        if len(data) < 30:
            return None
        src, dst = data[24:30], a3
        hdr = 30
    elif to_ds:
        src, dst = a2, a3
    elif from_ds:
        src, dst = a3, a1
    else:
        src, dst = a2, a1
    if subtype & 0x8:  # QoS data
        hdr += 2
        if flags & 0x80:  # +HTC
            hdr += 4
    if subtype & 0x4:  # null function frames: no payload
        return Link(src, dst, WLAN_MGMT, len(data))
    if flags & 0x40:  # protected
        return Link(src, dst, WLAN_PROTECTED, hdr)
    if len(data) >= hdr + 8 and data[hdr : hdr + 3] == b"\xaa\xaa\x03":
        et = (data[hdr + 6] << 8) | data[hdr + 7]
        return Link(src, dst, et, hdr + 8)
    return Link(src, dst, 0, hdr)


def wlan_bssid(data: bytes) -> bytes | None:
    """BSSID of an 802.11 data frame (without radiotap), or None."""
    if len(data) < 24 or ((data[0] >> 2) & 3) != 2:
        return None
    flags = data[1]
    to_ds, from_ds = flags & 1, flags & 2
    if to_ds and not from_ds:
        return data[4:10]
    if from_ds and not to_ds:
        return data[10:16]
    if not to_ds and not from_ds:
        return data[16:22]
    return None


def decode_link(linktype: int, data: bytes) -> Link | None:
    """Decapsulate ``data`` of ``linktype``; None when the frame is too short or unsupported."""
    if linktype == LT_ETHERNET:
        return _ethernet(data)
    if linktype in (LT_RAW, LT_IPV4, LT_IPV6) or linktype in LT_RAW_ALT:
        return Link(None, None, _ip_version(data, 0), 0)
    if linktype == LT_LINUX_SLL:
        return _sll(data)
    if linktype == LT_LINUX_SLL2:
        return _sll2(data)
    if linktype == LT_NULL:
        return _null(data, big=False)
    if linktype == LT_LOOP:
        return _null(data, big=True)
    if linktype == LT_RADIOTAP:
        return _radiotap(data)
    if linktype == LT_IEEE802_11:
        return _wlan(data)
    if linktype == LT_NFLOG:
        return _nflog(data)
    if linktype == LT_ETHERNET_MPACKET:
        # 802.3br: 7 preamble bytes + SMD, then an Ethernet frame and an mCRC
        if len(data) >= 8 and data[:7] == b"\x55" * 7:
            link = _ethernet(data, 8)
            return link
        return None
    if linktype in (LT_PPP, LT_PPP_HDLC):
        p = 2 if data[:2] == b"\xff\x03" else 0
        if len(data) < p + 2:
            return None
        return Link(None, None, _ppp_proto(_u16(data, p)[0]), p + 2)
    return None
