#!/usr/bin/env python3
"""Build pcaps/demo_sales_office.pcapng: ten minutes of a property sales office LAN.

The capture is synthetic and fully deterministic: a fixed random seed, fixed timestamps
(starting 2026-03-02 09:00:00 UTC) and a hand-written pcapng writer, so every run produces the
same bytes.  See pcaps/README.md for the device table and the findings it is built to trigger.

Only scapy is needed.  The face picture is read from pcaps/assets/face_astronaut.jpg, which
pcaps/make_face_jpeg.py creates from scikit-image's bundled astronaut portrait.

Usage:  python pcaps/make_demo.py [-o OUTPUT]
"""

from __future__ import annotations

import argparse
import base64
import calendar
import json
import random
import struct
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from scapy.layers.dhcp import BOOTP, DHCP
from scapy.layers.dns import DNS, DNSQR, DNSRR, DNSRRSRV
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import ARP, Ether
from scapy.layers.llmnr import LLMNRQuery
from scapy.packet import Packet, Raw

HERE = Path(__file__).resolve().parent
DEFAULT_OUTPUT = HERE / "demo_sales_office.pcapng"
FACE_JPEG = HERE / "assets" / "face_astronaut.jpg"

SEED = 20260302
START = calendar.timegm((2026, 3, 2, 9, 0, 0))  # 2026-03-02 09:00:00 UTC
DURATION = 600.0
CST = 8 * 3600  # the devices log local time (UTC+8)

# Bulk encrypted segments (cloud video relay, face-API uploads) are stored with a short
# capture length; their original length is kept in the pcapng record and in the IP header.
BULK_SNAPLEN = 128

LAN_RTT = 0.00025


# --------------------------------------------------------------------------------------------
# pcapng output
# --------------------------------------------------------------------------------------------


def _pad4(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 4)


def _option(code: int, value: bytes) -> bytes:
    return struct.pack("<HH", code, len(value)) + _pad4(value)


def _block(block_type: int, body: bytes) -> bytes:
    length = 12 + len(body)
    return struct.pack("<II", block_type, length) + body + struct.pack("<I", length)


@dataclass(order=True)
class Record:
    ts_us: int
    order: int
    frame: bytes = field(compare=False)
    caplen: int = field(compare=False)


class Capture:
    """Collects frames with timestamps and writes them, sorted, as pcapng."""

    def __init__(self) -> None:
        self.records: list[Record] = []

    def add(self, t: float, frame: bytes, snap: int | None = None) -> None:
        if len(frame) < 60:  # Ethernet minimum frame size, FCS not captured
            frame += b"\0" * (60 - len(frame))
        caplen = len(frame) if snap is None else min(snap, len(frame))
        self.records.append(Record(round(t * 1_000_000), len(self.records), frame, caplen))

    def write(self, path: Path) -> int:
        shb = struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)
        shb += _option(4, b"netscan pcaps/make_demo.py") + _option(0, b"")
        idb = struct.pack("<HHI", 1, 0, 262144)
        idb += _option(2, b"mirror0") + _option(3, b"switch mirror port") + _option(0, b"")
        out = [_block(0x0A0D0D0A, shb), _block(0x00000001, idb)]
        base_us = START * 1_000_000
        for rec in sorted(self.records):
            ts = base_us + rec.ts_us
            body = struct.pack("<IIIII", 0, ts >> 32, ts & 0xFFFFFFFF, rec.caplen, len(rec.frame))
            out.append(_block(0x00000006, body + _pad4(rec.frame[: rec.caplen])))
        path.write_bytes(b"".join(out))
        return len(self.records)


# --------------------------------------------------------------------------------------------
# hosts and low-level packet helpers
# --------------------------------------------------------------------------------------------


@dataclass
class Host:
    name: str
    mac: str
    ip: str
    ttl: int = 64
    local: bool = True
    ipid: int = 0
    next_port: int = 49152

    def new_id(self) -> int:
        self.ipid = (self.ipid + 1) & 0xFFFF
        return self.ipid

    def ephemeral(self) -> int:
        self.next_port += 1
        return self.next_port


ROUTER = Host("router", "50:c7:bf:3a:91:01", "192.168.1.1")
BROADCAST = Host("broadcast", "ff:ff:ff:ff:ff:ff", "255.255.255.255")
SUBNET_BCAST = Host("subnet-broadcast", "ff:ff:ff:ff:ff:ff", "192.168.1.255")
MCAST_SSDP = Host("ssdp", "01:00:5e:7f:ff:fa", "239.255.255.250")
MCAST_DHIP = Host("dhip", "01:00:5e:7f:ff:fb", "239.255.255.251")
MCAST_MDNS = Host("mdns", "01:00:5e:00:00:fb", "224.0.0.251")
MCAST_LLMNR = Host("llmnr", "01:00:5e:00:00:fc", "224.0.0.252")


def remote(name: str, ip: str, ttl: int = 50) -> Host:
    return Host(name, ROUTER.mac, ip, ttl=ttl, local=False)


class Net:
    """Frame construction on top of a Capture."""

    def __init__(self, cap: Capture, rng: random.Random) -> None:
        self.cap = cap
        self.rng = rng

    @staticmethod
    def _macs(src: Host, dst: Host) -> tuple[str, str]:
        return (src.mac if src.local else ROUTER.mac, dst.mac if dst.local else ROUTER.mac)

    def ip(self, src: Host, dst: Host, l4: Packet, df: bool = True) -> Packet:
        smac, dmac = self._macs(src, dst)
        ttl = 1 if dst in (MCAST_SSDP, MCAST_MDNS, MCAST_LLMNR, MCAST_DHIP) else src.ttl
        if dst is MCAST_MDNS:
            ttl = 255
        return (
            Ether(src=smac, dst=dmac)
            / IP(src=src.ip, dst=dst.ip, id=src.new_id(), ttl=ttl, flags="DF" if df else 0)
            / l4
        )

    def udp(
        self, t: float, src: Host, dst: Host, sport: int, dport: int, payload: bytes | Packet
    ) -> None:
        body = payload if isinstance(payload, Packet) else Raw(load=payload)
        self.cap.add(t, bytes(self.ip(src, dst, UDP(sport=sport, dport=dport) / body, df=False)))

    def arp(self, t: float, asker: Host, target: Host) -> float:
        req = Ether(src=asker.mac, dst="ff:ff:ff:ff:ff:ff") / ARP(
            op=1, hwsrc=asker.mac, psrc=asker.ip, hwdst="00:00:00:00:00:00", pdst=target.ip
        )
        rep = Ether(src=target.mac, dst=asker.mac) / ARP(
            op=2, hwsrc=target.mac, psrc=target.ip, hwdst=asker.mac, pdst=asker.ip
        )
        self.cap.add(t, bytes(req))
        self.cap.add(t + 0.0004, bytes(rep))
        return t + 0.0004


# --------------------------------------------------------------------------------------------
# TCP
# --------------------------------------------------------------------------------------------

SYN_OPTS = [("MSS", 1460), ("NOP", None), ("WScale", 8), ("NOP", None), ("NOP", None)]
SYN_OPTS.append(("SAckOK", b""))
SYNACK_OPTS = [("MSS", 1460), ("NOP", None), ("NOP", None), ("SAckOK", b"")]
SYNACK_OPTS += [("NOP", None), ("WScale", 7)]
MSS = 1460


class TcpFlow:
    """One TCP connection with correct sequence/acknowledgement bookkeeping."""

    def __init__(
        self,
        net: Net,
        client: Host,
        server: Host,
        sport: int,
        dport: int,
        rtt: float = LAN_RTT,
    ) -> None:
        self.net = net
        self.client = client
        self.server = server
        self.port = {id(client): sport, id(server): dport}
        self.nxt = {id(client): net.rng.getrandbits(32), id(server): net.rng.getrandbits(32)}
        self.win = {id(client): 1026, id(server): 2052}  # scaled by 256 / 128
        self.rtt = rtt

    def other(self, host: Host) -> Host:
        return self.server if host is self.client else self.client

    def delay(self, responder: Host) -> float:
        """Time from a packet towards `responder` to its answer, as seen at the mirror port."""
        return self.rtt if not responder.local else LAN_RTT

    def _emit(
        self,
        t: float,
        src: Host,
        flags: str,
        data: bytes = b"",
        ack: int | None = None,
        opts: list | None = None,
        window: int | None = None,
        snap: int | None = None,
    ) -> None:
        dst = self.other(src)
        seq = self.nxt[id(src)] & 0xFFFFFFFF
        if ack is None:
            ack = self.nxt[id(dst)] if "A" in flags else 0
        tcp = TCP(
            sport=self.port[id(src)],
            dport=self.port[id(dst)],
            seq=seq,
            ack=ack & 0xFFFFFFFF,
            flags=flags,
            window=self.win[id(src)] if window is None else window,
            options=opts or [],
        )
        pkt = self.net.ip(src, dst, tcp / Raw(load=data) if data else tcp)
        self.net.cap.add(t, bytes(pkt), snap)
        self.nxt[id(src)] += len(data) + (1 if ("S" in flags or "F" in flags) else 0)

    def open(self, t: float) -> float:
        self._emit(t, self.client, "S", opts=SYN_OPTS, window=64240)
        t += self.delay(self.server)
        self._emit(t, self.server, "SA", opts=SYNACK_OPTS, window=64240)
        t += self.delay(self.client)
        self._emit(t, self.client, "A")
        return t

    def send(
        self,
        t: float,
        src: Host,
        data: bytes,
        chunks: Iterable[int] | None = None,
        gap: float = 0.00015,
        snap: int | None = None,
    ) -> float:
        """Send `data` from `src`; the peer ACKs every second segment and the last one.

        Returns the time of the final ACK.
        """
        dst = self.other(src)
        sizes = list(chunks) if chunks is not None else []
        if sum(sizes) < len(data):
            rest = len(data) - sum(sizes)
            sizes += [MSS] * (rest // MSS) + ([rest % MSS] if rest % MSS else [])
        assert all(0 < s <= MSS for s in sizes)
        offset = 0
        last_ack = t
        for i, size in enumerate(sizes):
            seg = data[offset : offset + size]
            offset += size
            final = i == len(sizes) - 1
            self._emit(t, src, "PA" if final else "A", seg, snap=snap)
            if final or i % 2 == 1:
                last_ack = t + self.delay(dst)
                self._emit(last_ack, dst, "A", ack=self.nxt[id(src)])
            if not final:
                t += gap
        return last_ack

    def exchange(
        self, t: float, request: bytes, response: bytes, think: float = 0.002, **kw: object
    ) -> float:
        t = self.send(t, self.client, request, **kw)  # type: ignore[arg-type]
        return self.send(t + think, self.server, response)

    def close(self, t: float, initiator: Host | None = None) -> float:
        a = initiator or self.client
        b = self.other(a)
        self._emit(t, a, "FA")
        t += self.delay(b)
        self._emit(t, b, "FA")
        t += self.delay(a)
        self._emit(t, a, "A")
        return t


# --------------------------------------------------------------------------------------------
# TLS record builders
# --------------------------------------------------------------------------------------------


def _u8(b: bytes) -> bytes:
    return struct.pack("!B", len(b)) + b


def _u16(b: bytes) -> bytes:
    return struct.pack("!H", len(b)) + b


def _ext(ext_type: int, body: bytes) -> bytes:
    return struct.pack("!H", ext_type) + _u16(body)


def _record(ctype: int, body: bytes) -> bytes:
    return struct.pack("!BHH", ctype, 0x0303 if ctype != 0x16 else 0x0301, len(body)) + body


def client_hello(rng: random.Random, sni: str, alpn: tuple[str, ...] = ("h2", "http/1.1")) -> bytes:
    """A TLS 1.3-capable ClientHello record (TLS 1.2 fallback offered)."""
    suites = [0x1301, 0x1302, 0x1303, 0xC02B, 0xC02F, 0xC02C, 0xC030, 0xCCA9, 0xCCA8]
    suites += [0xC013, 0xC014, 0x009C, 0x009D, 0x002F, 0x0035]
    host = sni.encode()
    exts = [
        _ext(0x0000, _u16(b"\x00" + _u16(host))),  # server_name
        _ext(0x0017, b""),  # extended_master_secret
        _ext(0xFF01, b"\x00"),  # renegotiation_info
        _ext(0x000A, _u16(struct.pack("!HHHH", 0x001D, 0x0017, 0x0018, 0x0019))),
        _ext(0x000B, _u8(b"\x00")),  # ec_point_formats: uncompressed
        _ext(0x0023, b""),  # session_ticket
        _ext(0x0010, _u16(b"".join(_u8(p.encode()) for p in alpn))),
        _ext(0x0005, b"\x01\x00\x00\x00\x00"),  # status_request (OCSP)
        _ext(
            0x000D,
            _u16(
                struct.pack("!8H", 0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601)
            ),
        ),
        _ext(0x0012, b""),  # signed_certificate_timestamp
        _ext(0x0033, _u16(struct.pack("!HH", 0x001D, 32) + rng.randbytes(32))),  # key_share
        _ext(0x002D, _u8(b"\x01")),  # psk_key_exchange_modes: psk_dhe_ke
        _ext(0x002B, _u8(struct.pack("!HH", 0x0304, 0x0303))),  # supported_versions
        _ext(0x001B, _u8(b"\x00\x02")),  # compress_certificate: brotli
    ]
    ext_blob = b"".join(exts)
    body = struct.pack("!H", 0x0303) + rng.randbytes(32) + _u8(rng.randbytes(32))
    body += _u16(b"".join(struct.pack("!H", s) for s in suites)) + _u8(b"\x00")
    # pad the ClientHello to 512 bytes like common browsers do (padding extension, RFC 7685)
    pad = 508 - (len(body) + 2 + len(ext_blob)) - 4
    if pad >= 0:
        ext_blob += _ext(0x0015, b"\x00" * pad)
    body += _u16(ext_blob)
    hs = b"\x01" + struct.pack("!I", len(body))[1:] + body
    return _record(0x16, hs)


def server_flight(rng: random.Random, session_id: bytes, encrypted: int = 3200) -> bytes:
    """ServerHello (TLS 1.3) + ChangeCipherSpec + the encrypted rest of the server flight."""
    exts = _ext(0x002B, struct.pack("!H", 0x0304))
    exts += _ext(0x0033, struct.pack("!HH", 0x001D, 32) + rng.randbytes(32))
    body = struct.pack("!H", 0x0303) + rng.randbytes(32) + _u8(session_id)
    body += struct.pack("!HB", 0x1301, 0) + _u16(exts)
    hs = b"\x02" + struct.pack("!I", len(body))[1:] + body
    hello = struct.pack("!BHH", 0x16, 0x0303, len(hs)) + hs
    return hello + _record(0x14, b"\x01") + app_data(rng, [encrypted])


def app_data(rng: random.Random, sizes: Iterable[int]) -> bytes:
    return b"".join(_record(0x17, rng.randbytes(n)) for n in sizes)


def app_stream(rng: random.Random, total: int, max_record: int = 16401) -> bytes:
    """`total` payload bytes cut into application-data records of at most `max_record`."""
    out = []
    while total > 0:
        n = min(total, max_record)
        out.append(_record(0x17, rng.randbytes(n)))
        total -= n
    return b"".join(out)


class TlsSession:
    def __init__(self, net: Net, flow: TcpFlow, sni: str, alpn: tuple[str, ...]) -> None:
        self.net = net
        self.flow = flow
        self.sni = sni
        self.alpn = alpn

    def handshake(self, t: float) -> float:
        rng = self.net.rng
        t = self.flow.open(t)
        ch = client_hello(rng, self.sni, self.alpn)
        session_id = ch[44:76]
        t = self.flow.send(t + 0.0003, self.flow.client, ch)
        t = self.flow.send(t + 0.001, self.flow.server, server_flight(rng, session_id))
        fin = _record(0x14, b"\x01") + app_data(rng, [53])
        return self.flow.send(t + 0.002, self.flow.client, fin)

    def up(self, t: float, sizes: Iterable[int], snap: int | None = None, gap: float = 0.0002):
        return self.flow.send(
            t, self.flow.client, app_data(self.net.rng, sizes), gap=gap, snap=snap
        )

    def down(self, t: float, sizes: Iterable[int], snap: int | None = None) -> float:
        return self.flow.send(t, self.flow.server, app_data(self.net.rng, sizes), snap=snap)

    def close(self, t: float) -> float:
        alert = app_data(self.net.rng, [19])  # encrypted close_notify
        t = self.flow.send(t, self.flow.client, alert)
        return self.flow.close(t + 0.0005)


# --------------------------------------------------------------------------------------------
# the office
# --------------------------------------------------------------------------------------------

CAM1 = Host("cam-lobby", "44:19:b6:2e:7c:51", "192.168.1.64")
CAM2 = Host("cam-entrance", "c0:56:e3:91:0a:3d", "192.168.1.65")
CAM3 = Host("cam-sandtable", "bc:ad:28:5f:e2:17", "192.168.1.66")
DAHUA = Host("cam-reception", "3c:ef:8c:6a:20:9e", "192.168.1.108")
NVR = Host("nvr", "24:48:45:b1:3c:70", "192.168.1.200")
ZK = Host("face-terminal", "48:e6:c6:4a:1b:2c", "192.168.1.120")
EDGE = Host("edge-server", "a0:36:9f:52:8d:14", "192.168.1.150")
PC1 = Host("sales-pc01", "f8:bc:12:6e:41:0b", "192.168.1.101", ttl=128)
PC2 = Host("reception-pc", "54:bf:64:23:9a:c8", "192.168.1.102", ttl=128)
IPHONE = Host("iphone", "f0:18:98:4c:2d:e6", "192.168.1.131")
ANDROID = Host("android", "8c:f5:a3:71:b5:09", "192.168.1.132")
PRINTER = Host("printer", "3c:d9:2b:0d:77:3a", "192.168.1.30")

# Public addresses are placeholders chosen for the demo, not the services' real addresses.
DNS_NAMES: dict[str, tuple[str, ...]] = {
    "pbdev.ys7.com": ("116.62.118.23",),
    "api-cn.faceplusplus.com": ("47.97.22.180",),
    "ntp.aliyun.com": ("203.107.6.88",),
    "www.microsoft.com": ("23.52.172.41",),
    "login.microsoftonline.com": ("20.190.163.18",),
    "www.bing.com": ("13.107.21.200",),
    "outlook.office365.com": ("52.98.36.2",),
    "www.baidu.com": ("110.242.68.66",),
    "time.windows.com": ("168.61.215.74",),
    "gateway.icloud.com": ("17.248.137.12",),
    "www.apple.com": ("23.61.241.55",),
    "connectivitycheck.gstatic.com": ("142.250.66.99",),
    "www.google.com": ("142.250.66.100",),
}
ADMS_SERVER = remote("adms-server", "121.40.167.52")
ADMS_PORT = 8081
VIID_SERVER = remote("viid-platform", "61.155.108.34")
VIID_PORT = 8088

HIK_CAMS = [
    # host, model, serial, firmware, hostname
    (CAM1, "DS-2CD2143G0-I", "DS-2CD2143G0-I20210611AACHE97351242", "HIKVISION-5124"),
    (CAM2, "DS-2CD2347G2-LU", "DS-2CD2347G2-LU20220308AACHK21873306", "DS-2CD2347G2-LU"),
    (CAM3, "DS-2CD2T46G2-4I", "DS-2CD2T46G2-4I20220915AACHK48816690", "HIKVISION-8669"),
]
HIK_FIRMWARE = "V5.7.3build 220112"
NVR_MODEL = "DS-7608NI-K2/8P"
NVR_SERIAL = "DS-7608NI-K2/8P0820220401CCRRG63027418WCVU"
DAHUA_MODEL = "IPC-HFW2431S-S-S2"
DAHUA_SERIAL = "6J0A1B2PAZ3C9F1"
ZK_SN = "CQUJ224460123"
VIID_DEVICE_ID = "32010500001190000001"


def clock(t: float, fmt: str = "%Y-%m-%d %H:%M:%S", local: bool = True) -> str:
    import time

    return time.strftime(fmt, time.gmtime(START + int(t) + (CST if local else 0)))


def http_date(t: float) -> str:
    return clock(t, "%a, %d %b %Y %H:%M:%S GMT", local=False)


def nbns_query(trn_id: int, name: str, suffix: int = 0x00) -> bytes:
    """NetBIOS name query (broadcast, recursion desired) for `name`<suffix>."""
    raw = name.upper().ljust(15).encode()[:15] + bytes([suffix])
    encoded = bytes(ch for b in raw for ch in (0x41 + (b >> 4), 0x41 + (b & 0x0F)))
    return (
        struct.pack("!HHHHHH", trn_id, 0x0110, 1, 0, 0, 0)
        + b"\x20"
        + encoded
        + b"\x00"
        + (struct.pack("!HH", 0x0020, 0x0001))
    )


def crlf(*lines: str) -> bytes:
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


class Office:
    def __init__(self) -> None:
        self.rng = random.Random(SEED)
        self.cap = Capture()
        self.net = Net(self.cap, self.rng)
        self.face = FACE_JPEG.read_bytes()
        self.dns_id = 0x1A00
        self.resolved: dict[str, Host] = {}

    # ---------------------------------------------------------------- helpers
    def uuid(self) -> str:
        h = self.rng.getrandbits(128)
        s = f"{h:032x}"
        return f"{s[:8]}-{s[8:12]}-4{s[13:16]}-a{s[17:20]}-{s[20:]}"

    def dns(self, t: float, client: Host, name: str, aaaa: bool = False) -> Host:
        """Query the router; it answers ~15 ms later (forwarded upstream)."""
        addrs = DNS_NAMES[name]
        sport = client.ephemeral()
        self.dns_id = (self.dns_id + 0x1F3) & 0xFFFF
        q = DNS(id=self.dns_id, rd=1, qd=DNSQR(qname=name, qtype="A"))
        self.net.udp(t, client, ROUTER, sport, 53, q)
        answers = [DNSRR(rrname=name, type="A", ttl=300, rdata=a) for a in addrs]
        r = DNS(id=self.dns_id, qr=1, rd=1, ra=1, qd=DNSQR(qname=name, qtype="A"), an=answers)
        self.net.udp(t + 0.0153, ROUTER, client, 53, sport, r)
        if aaaa:
            sport2 = client.ephemeral()
            self.dns_id = (self.dns_id + 0x1F3) & 0xFFFF
            q6 = DNS(id=self.dns_id, rd=1, qd=DNSQR(qname=name, qtype="AAAA"))
            self.net.udp(t + 0.0002, client, ROUTER, sport2, 53, q6)
            r6 = DNS(id=self.dns_id, qr=1, rd=1, ra=1, qd=DNSQR(qname=name, qtype="AAAA"))
            self.net.udp(t + 0.0171, ROUTER, client, 53, sport2, r6)
        host = self.resolved.get(name)
        if host is None:
            host = self.resolved[name] = remote(name, addrs[0])
        return host

    def tls_visit(
        self,
        t: float,
        client: Host,
        name: str,
        exchanges: list[tuple[int, int]],
        rtt: float = 0.035,
        aaaa: bool = False,
    ) -> float:
        server = self.dns(t, client, name, aaaa=aaaa)
        flow = TcpFlow(self.net, client, server, client.ephemeral(), 443, rtt=rtt)
        tls = TlsSession(self.net, flow, name, ("h2", "http/1.1"))
        t = tls.handshake(t + 0.02)
        for up, down in exchanges:
            t = tls.up(t + 0.001, [up])
            t = tls.down(t + 0.02, [down] if down <= 16401 else [16401] * (down // 16401))
        return tls.close(t + 1.5)

    def dhcp(
        self,
        t: float,
        host: Host,
        hostname: str,
        prl: list[int],
        vendor: str | None = None,
        full: bool = False,
        client_id: bool = True,
    ) -> float:
        xid = self.rng.getrandbits(32)
        chaddr = bytes.fromhex(host.mac.replace(":", ""))
        base: list = []
        if client_id:
            base.append(("client_id", b"\x01" + chaddr))
        tail: list = [("hostname", hostname.encode())]
        if vendor:
            tail.append(("vendor_class_id", vendor.encode()))
        tail += [("param_req_list", prl), "end"]
        srv_opts: list = [
            ("server_id", ROUTER.ip),
            ("lease_time", 86400),
            ("renewal_time", 43200),
            ("rebinding_time", 75600),
            ("subnet_mask", "255.255.255.0"),
            ("router", ROUTER.ip),
            ("name_server", ROUTER.ip),
            ("domain", b"lan"),
            "end",
        ]
        cli = Host(host.name, host.mac, "0.0.0.0")

        def client_msg(when: float, kind: str, extra: list) -> None:
            opts = [("message-type", kind)] + base + extra + tail
            pkt = BOOTP(op=1, xid=xid, chaddr=chaddr, flags=0, secs=0) / DHCP(options=opts)
            self.net.udp(when, cli, BROADCAST, 68, 67, pkt)

        def server_msg(when: float, kind: str) -> None:
            pkt = BOOTP(op=2, xid=xid, yiaddr=host.ip, siaddr="0.0.0.0", chaddr=chaddr) / DHCP(
                options=[("message-type", kind)] + srv_opts
            )
            self.net.udp(when, ROUTER, host, 67, 68, pkt)

        if full:
            client_msg(t, "discover", [])
            server_msg(t + 0.0021, "offer")
            t += 0.35
        client_msg(
            t,
            "request",
            [("requested_addr", host.ip)] + ([("server_id", ROUTER.ip)] if full else []),
        )
        server_msg(t + 0.0019, "ack")
        return t + 0.002

    def ntp(self, t: float, client: Host, server: Host, rtt: float) -> None:
        def ts(x: float) -> bytes:
            v = START + x + 2208988800
            sec = int(v)
            return struct.pack("!II", sec, int((v - sec) * 2**32))

        sport = 123 if client in (NVR,) else client.ephemeral()
        req = struct.pack("!BBbb", 0x23, 0, 6, -20) + b"\0" * 36 + ts(t)
        self.net.udp(t, client, server, sport, 123, req)
        resp = struct.pack("!BBbb", 0x24, 2, 6, -23) + struct.pack("!II", 0x1E, 0x2A0)
        resp += bytes([100, 107, 25, 114]) + ts(t - 37.2) + ts(t) + ts(t + rtt / 2) * 2
        self.net.udp(t + rtt, server, client, 123, sport, resp)

    # ---------------------------------------------------------------- discovery payloads
    def sadp_match(self, host: Host, model: str, serial: str, ver: str, channels: str) -> bytes:
        dashed = host.mac.replace(":", "-")
        boot = clock(-86400 * 3 - 5231)
        fields = [
            ("Uuid", self.uuid().upper()),
            ("Types", "inquiry"),
            ("DeviceType", "138371" if channels == "0" else "8465"),
            ("DeviceDescription", model),
            ("DeviceSN", serial),
            ("CommandPort", "8000"),
            ("HttpPort", "80"),
            ("MAC", dashed),
            ("IPv4Address", host.ip),
            ("IPv4SubnetMask", "255.255.255.0"),
            ("IPv4Gateway", ROUTER.ip),
            ("IPv6Address", "::"),
            ("IPv6Gateway", "::"),
            ("IPv6MaskLen", "64"),
            ("DHCP", "true" if host is not NVR else "false"),
            ("AnalogChannelNum", "0"),
            ("DigitalChannelNum", channels if channels != "0" else "1"),
            ("SoftwareVersion", ver),
            ("DSPVersion", "V7.3 build 220112"),
            ("BootTime", boot),
            ("Encrypt", "true"),
            ("ResetAbility", "false"),
            ("DiskNumber", "1" if host is NVR else "0"),
            ("Activated", "true"),
            ("PasswordResetAbility", "true"),
            ("PasswordResetModeSecond", "true"),
            ("SupportSecurityQuestion", "true"),
            ("SupportHCPlatform", "true"),
            ("HCPlatformEnable", "true" if host is NVR else "false"),
            ("IsModifyVerificationCode", "true"),
            ("Salt", f"{self.rng.getrandbits(256):064x}"),
            ("DeviceLock", "true"),
            ("SDKServerStatus", "true"),
            ("SDKOverTLSServerStatus", "true"),
        ]
        xml = "".join(f"<{k}>{v}</{k}>" for k, v in fields)
        return f'<?xml version="1.0" encoding="UTF-8"?><ProbeMatch>{xml}</ProbeMatch>'.encode()

    def onvif_scopes(self, model: str, host: Host) -> str:
        return " ".join(
            [
                "onvif://www.onvif.org/type/video_encoder",
                "onvif://www.onvif.org/Profile/Streaming",
                "onvif://www.onvif.org/Profile/G",
                "onvif://www.onvif.org/Profile/T",
                "onvif://www.onvif.org/type/Network_Video_Transmitter",
                f"onvif://www.onvif.org/hardware/{model}",
                "onvif://www.onvif.org/name/HIKVISION%20" + model,
                "onvif://www.onvif.org/location/city/hangzhou",
            ]
        )

    def ws_envelope(self, action: str, relates: str | None, body: str, to: str) -> bytes:
        hdr = (
            f"<wsadis:MessageID>urn:uuid:{self.uuid()}</wsadis:MessageID>"
            + (f"<wsadis:RelatesTo>{relates}</wsadis:RelatesTo>" if relates else "")
            + f"<wsadis:To>{to}</wsadis:To>"
            + f"<wsadis:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/{action}"
            + "</wsadis:Action>"
        )
        env = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" '
            'xmlns:wsadis="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
            'xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery" '
            'xmlns:dn="http://www.onvif.org/ver10/network/wsdl" '
            'xmlns:tds="http://www.onvif.org/ver10/device/wsdl">'
            f"<env:Header>{hdr}</env:Header><env:Body>{body}</env:Body></env:Envelope>"
        )
        return env.encode()

    def onvif_device_body(self, tag: str, host: Host, model: str, dev_uuid: str) -> str:
        return (
            f"<d:{tag}><wsadis:EndpointReference><wsadis:Address>urn:uuid:{dev_uuid}"
            "</wsadis:Address></wsadis:EndpointReference>"
            "<d:Types>dn:NetworkVideoTransmitter tds:Device</d:Types>"
            f"<d:Scopes>{self.onvif_scopes(model, host)}</d:Scopes>"
            f"<d:XAddrs>http://{host.ip}/onvif/device_service</d:XAddrs>"
            f"<d:MetadataVersion>10</d:MetadataVersion></d:{tag}>"
        )

    def dhip(self, body: dict) -> bytes:
        payload = json.dumps(body, separators=(",", ":")).encode() + b"\n"
        n = len(payload)
        return struct.pack("<I4sIIIIII", 0x20, b"DHIP", 0, 0, n, 0, n, 0) + payload

    # ---------------------------------------------------------------- scenario parts
    def boot_and_dhcp(self) -> None:
        net = self.net
        hik_prl = [1, 3, 6, 12, 15, 28, 42]
        for i, (cam, _model, _serial, hostname) in enumerate(HIK_CAMS):
            t = 1.0 + 0.7 * i
            self.dhcp(t, cam, hostname, hik_prl)
            net.arp(t + 0.05, cam, ROUTER)
        self.dhcp(3.1, DAHUA, "IPC-HFW2431S", [1, 3, 6, 12, 15, 28, 42, 66, 67])
        net.arp(3.15, DAHUA, ROUTER)
        self.dhcp(4.0, ZK, "SpeedFace-V5L", [1, 3, 6, 12, 15, 28, 42], vendor="udhcp 1.19.4")
        net.arp(4.05, ZK, ROUTER)
        self.dhcp(6.0, PRINTER, "HP-LaserJet-M404dn", [1, 3, 6, 15, 44, 46, 47, 81, 119, 252, 12])
        win_prl = [1, 3, 6, 15, 31, 33, 43, 44, 46, 47, 119, 121, 249, 252]
        self.dhcp(8.0, PC1, "SALES-PC01", win_prl, vendor="MSFT 5.0")
        self.dhcp(9.2, PC2, "RECEPTION-PC", win_prl, vendor="MSFT 5.0")
        net.arp(8.1, PC1, ROUTER)
        net.arp(9.3, PC2, ROUTER)
        ios_prl = [1, 121, 3, 6, 15, 108, 114, 119, 252, 95, 44, 46]
        self.dhcp(47.0, IPHONE, "iPhone", ios_prl, full=True)
        net.arp(47.4, IPHONE, ROUTER)
        android_prl = [1, 3, 6, 15, 26, 28, 51, 58, 59, 43, 114, 108]
        self.dhcp(312.0, ANDROID, "Galaxy-A54", android_prl, vendor="android-dhcp-13", full=True)
        net.arp(312.4, ANDROID, ROUTER)
        for t in (150.0, 420.0):
            net.arp(t, ROUTER, NVR)
            net.arp(t + 3.1, ROUTER, EDGE)
        net.arp(0.0, NVR, ROUTER)
        net.arp(0.6, EDGE, ROUTER)

    def onvif_hello(self) -> None:
        for i, (cam, model, _serial, _hn) in enumerate(HIK_CAMS):
            t = 3.0 + 0.7 * i
            dev_uuid = self.cam_uuid[cam.ip]
            body = self.onvif_device_body("Hello", cam, model, dev_uuid)
            msg = self.ws_envelope(
                "Hello", None, body, "urn:schemas-xmlsoap-org:ws:2005:04:discovery"
            )
            self.net.udp(t, cam, MCAST_SSDP, 3702, 3702, msg)

    def onvif_probe(self, t: float) -> None:
        sport = EDGE.ephemeral()
        probe_id = f"uuid:{self.uuid()}"
        probe = (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope" '
            'xmlns:w="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
            'xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery" '
            'xmlns:dn="http://www.onvif.org/ver10/network/wsdl">'
            f"<e:Header><w:MessageID>{probe_id}</w:MessageID>"
            '<w:To e:mustUnderstand="true">urn:schemas-xmlsoap-org:ws:2005:04:discovery</w:To>'
            '<w:Action e:mustUnderstand="true">'
            "http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe</w:Action></e:Header>"
            "<e:Body><d:Probe><d:Types>dn:NetworkVideoTransmitter</d:Types></d:Probe></e:Body>"
            "</e:Envelope>"
        ).encode()
        self.net.udp(t, EDGE, MCAST_SSDP, sport, 3702, probe)
        for i, (cam, model, _serial, _hn) in enumerate(HIK_CAMS):
            body = (
                "<d:ProbeMatches>"
                + self.onvif_device_body("ProbeMatch", cam, model, self.cam_uuid[cam.ip])
                + "</d:ProbeMatches>"
            )
            msg = self.ws_envelope(
                "ProbeMatches",
                probe_id,
                body,
                "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous",
            )
            self.net.udp(t + 0.031 + 0.017 * i, cam, EDGE, 3702, sport, msg)

    def sadp_round(self, t: float) -> None:
        inquiry = (
            '<?xml version="1.0" encoding="utf-8"?><Probe>'
            f"<Uuid>{self.uuid().upper()}</Uuid><Types>inquiry</Types></Probe>"
        ).encode()
        self.net.udp(t, NVR, MCAST_SSDP, 37020, 37020, inquiry)
        for i, (cam, model, serial, _hn) in enumerate(HIK_CAMS):
            msg = self.sadp_match(cam, model, serial, HIK_FIRMWARE, "0")
            self.net.udp(t + 0.012 + 0.009 * i, cam, MCAST_SSDP, 37020, 37020, msg)
        msg = self.sadp_match(NVR, NVR_MODEL, NVR_SERIAL, "V4.62.210build 220531", "8")
        self.net.udp(t + 0.004, NVR, MCAST_SSDP, 37020, 37020, msg)

    def dhip_round(self, t: float) -> None:
        sport = EDGE.ephemeral()
        search = self.dhip({"method": "DHDiscover.search", "params": {"mac": "", "uni": 1}})
        self.net.udp(t, EDGE, MCAST_DHIP, sport, 37810, search)
        info = {
            "mac": DAHUA.mac,
            "method": "client.notifyDevInfo",
            "params": {
                "deviceInfo": {
                    "AlarmInputChannels": 1,
                    "AlarmOutputChannels": 1,
                    "DeviceClass": "IPC",
                    "DeviceType": DAHUA_MODEL,
                    "HttpPort": 80,
                    "IPv4Address": {
                        "DefaultGateway": ROUTER.ip,
                        "DhcpEnable": True,
                        "IPAddress": DAHUA.ip,
                        "SubnetMask": "255.255.255.0",
                    },
                    "IPv6Address": {"DhcpEnable": False, "IPAddress": "::/64"},
                    "MachineName": DAHUA_SERIAL,
                    "Manufacturer": "Dahua",
                    "Port": 37777,
                    "RemoteVideoInputChannels": 0,
                    "SerialNo": DAHUA_SERIAL,
                    "Vendor": "Dahua",
                    "Version": "2.800.0000000.25.R",
                    "VideoInputChannels": 1,
                    "VideoOutputChannels": 0,
                    "Init": 1,
                }
            },
        }
        self.net.udp(t + 0.021, DAHUA, EDGE, 37810, sport, self.dhip(info))

    def isapi_device_info(self, t: float, cam: Host, model: str, serial: str) -> float:
        flow = TcpFlow(self.net, NVR, cam, NVR.ephemeral(), 80)
        t = flow.open(t)
        req = crlf(
            "GET /ISAPI/System/deviceInfo HTTP/1.1",
            f"Host: {cam.ip}",
            "Accept: */*",
            "Connection: keep-alive",
        )
        nonce = f"{self.rng.getrandbits(128):032x}"
        body401 = (
            b'<?xml version="1.0" encoding="UTF-8" ?>\n<userCheck>\n'
            b"<statusValue>401</statusValue>\n<statusString>Unauthorized</statusString>\n"
            b"</userCheck>\n"
        )
        resp401 = (
            crlf(
                "HTTP/1.1 401 Unauthorized",
                f"Date: {http_date(t)}",
                "Server: App-webs/",
                f"Content-Length: {len(body401)}",
                "Content-Type: application/xml",
                "Connection: keep-alive",
                "Keep-Alive: timeout=10, max=99",
                f'WWW-Authenticate: Digest qop="auth", realm="IP Camera({serial[-5:]})", '
                f'nonce="{nonce}", stale="FALSE"',
            )
            + body401
        )
        t = flow.exchange(t + 0.0005, req, resp401)
        cnonce = f"{self.rng.getrandbits(64):016x}"
        resp_hash = f"{self.rng.getrandbits(128):032x}"
        req2 = crlf(
            "GET /ISAPI/System/deviceInfo HTTP/1.1",
            f"Host: {cam.ip}",
            "Accept: */*",
            "Connection: keep-alive",
            f'Authorization: Digest username="admin", realm="IP Camera({serial[-5:]})", '
            f'nonce="{nonce}", uri="/ISAPI/System/deviceInfo", response="{resp_hash}", '
            f'qop=auth, nc=00000001, cnonce="{cnonce}"',
        )
        info = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<DeviceInfo version="2.0" xmlns="http://www.hikvision.com/ver20/XMLSchema">\n'
            f"<deviceName>{cam.name.upper()}</deviceName>\n"
            f"<deviceID>{self.cam_uuid[cam.ip]}</deviceID>\n"
            "<model>" + model + "</model>\n"
            f"<serialNumber>{serial}</serialNumber>\n"
            f"<macAddress>{cam.mac}</macAddress>\n"
            f"<firmwareVersion>{HIK_FIRMWARE.split('build')[0]}</firmwareVersion>\n"
            f"<firmwareReleasedDate>build {HIK_FIRMWARE.split('build ')[1]}</firmwareReleasedDate>\n"
            "<encoderVersion>V7.3</encoderVersion>\n"
            "<deviceType>IPCamera</deviceType>\n"
            "</DeviceInfo>\n"
        ).encode()
        resp = (
            crlf(
                "HTTP/1.1 200 OK",
                f"Date: {http_date(t)}",
                "Server: App-webs/",
                "Connection: close",
                f"Content-Length: {len(info)}",
                "Content-Type: application/xml",
            )
            + info
        )
        t = flow.exchange(t + 0.001, req2, resp, chunks=[200])  # header split mid-line
        return flow.close(t + 0.001, cam)

    # ---------------------------------------------------------------- RTSP / RTP
    def rtsp_session(
        self,
        t: float,
        client: Host,
        cam: Host,
        path: str,
        realm: str,
        server_name: str,
        ua: str,
        rtp_until: float,
        frame_interval: float,
        keepalive: float = 60.0,
    ) -> None:
        net = self.net
        flow = TcpFlow(net, client, cam, client.ephemeral(), 554)
        t = flow.open(t)
        url = f"rtsp://{cam.ip}:554{path}"
        cseq = 1
        date = f"Date: {http_date(t)}"

        def req(method: str, uri: str, *extra: str) -> bytes:
            nonlocal cseq
            cseq += 1
            return crlf(f"{method} {uri} RTSP/1.0", f"CSeq: {cseq}", *extra, f"User-Agent: {ua}")

        def ok(*extra: str, body: bytes = b"", status: str = "200 OK") -> bytes:
            lines = [f"RTSP/1.0 {status}", f"CSeq: {cseq}", *extra]
            if server_name:
                lines.append(f"Server: {server_name}")
            lines.append(date)
            if body:
                lines.append(f"Content-Length: {len(body)}")
            return crlf(*lines) + body

        t = flow.exchange(
            t + 0.001,
            req("OPTIONS", url),
            ok(
                "Public: OPTIONS, DESCRIBE, PLAY, PAUSE, SETUP, TEARDOWN, SET_PARAMETER, GET_PARAMETER"
            ),
        )
        nonce = f"{self.rng.getrandbits(128):032x}"
        t = flow.exchange(
            t + 0.001,
            req("DESCRIBE", url, "Accept: application/sdp"),
            ok(
                f'WWW-Authenticate: Digest realm="{realm}", nonce="{nonce}", stale="FALSE"',
                status="401 Unauthorized",
            ),
        )

        def auth(method_uri: str) -> str:
            return (
                f'Authorization: Digest username="admin", realm="{realm}", nonce="{nonce}", '
                f'uri="{method_uri}", response="{self.rng.getrandbits(128):032x}"'
            )

        sess_id = self.rng.getrandbits(31)
        o_line = f"o=- {self.rng.getrandbits(48)} {self.rng.getrandbits(48)} IN IP4 {cam.ip}"
        if cam is DAHUA:
            control = f"{url}trackID=0"
            sdp_lines = [
                "v=0",
                o_line,
                "s=Media Server",
                "c=IN IP4 0.0.0.0",
                "t=0 0",
                "a=control:*",
                "a=packetization-supported:DH",
                "a=rtppayload-supported:DH",
                "a=range:npt=now-",
                "m=video 0 RTP/AVP 96",
                "a=control:trackID=0",
                "a=framerate:25.000000",
                "a=rtpmap:96 H264/90000",
                "a=fmtp:96 packetization-mode=1;profile-level-id=64001F",
                "a=recvonly",
            ]
        else:
            control = f"{url}/trackID=1"
            sdp_lines = [
                "v=0",
                o_line,
                "s=Media Presentation",
                "e=NONE",
                "b=AS:5050",
                "t=0 0",
                f"a=control:{url}/",
                "m=video 0 RTP/AVP 96",
                "c=IN IP4 0.0.0.0",
                "b=AS:5000",
                "a=recvonly",
                "a=x-dimensions:2560,1440",
                f"a=control:{control}",
                "a=rtpmap:96 H264/90000",
                "a=fmtp:96 profile-level-id=420029; packetization-mode=1",
                "a=Media_header:MEDIAINFO=494D4B48010300000400000100000000000000000000000000000000000000000000000000000000;",
                "a=appversion:1.0",
            ]
        sdp = ("\r\n".join(sdp_lines) + "\r\n").encode()
        t = flow.exchange(
            t + 0.001,
            req("DESCRIBE", url, "Accept: application/sdp", auth(url)),
            ok(
                f"Content-Base: {url}/",
                "Content-Type: application/sdp",
                body=sdp,
            ),
        )
        cport = 50000 + 2 * self.rng.randrange(0, 4000)
        sport = 8200 + 2 * self.rng.randrange(0, 200)
        ssrc = self.rng.getrandbits(32)
        t = flow.exchange(
            t + 0.001,
            req(
                "SETUP",
                control,
                f"Transport: RTP/AVP;unicast;client_port={cport}-{cport + 1}",
                auth(control),
            ),
            ok(
                f"Session: {sess_id};timeout=60",
                f"Transport: RTP/AVP;unicast;client_port={cport}-{cport + 1};"
                f'server_port={sport}-{sport + 1};ssrc={ssrc:08x};mode="play"',
            ),
        )
        t = flow.exchange(
            t + 0.001,
            req("PLAY", url + "/", f"Session: {sess_id}", "Range: npt=0.000-", auth(url + "/")),
            ok(f"Session: {sess_id}", "RTP-Info: url=" + control + ";seq=1;rtptime=0"),
        )
        self.rtp_stream(t + 0.004, cam, client, sport, cport, ssrc, rtp_until, frame_interval)
        # keep-alive
        ka = t + keepalive - 5.0
        while ka < DURATION - 1:
            method = "GET_PARAMETER"
            ka = flow.exchange(
                ka,
                req(method, url + "/", f"Session: {sess_id}", auth(url + "/")),
                ok(f"Session: {sess_id}"),
            )
            ka += keepalive

    def rtp_stream(
        self,
        t: float,
        cam: Host,
        dst: Host,
        sport: int,
        dport: int,
        ssrc: int,
        until: float,
        frame_interval: float,
    ) -> None:
        """Low frame rate H.264 over RTP: one IDR (several FU-A packets) every 60 s,
        otherwise one single-packet P frame per interval, plus an RTCP SR every 20 s."""
        rng = self.rng
        seq = rng.getrandbits(16)
        rtp_ts = rng.getrandbits(32)
        frame = 0
        sent_pkts = 0
        sent_octets = 0
        next_sr = t + 5.0
        start = t
        while t < until:
            idr = frame % int(round(60.0 / frame_interval)) == 0
            if idr:
                payloads = [
                    b"\x67\x64\x00\x1f" + rng.randbytes(11),  # SPS-sized single NAL
                    b"\x68\xee\x3c\xb0",  # PPS
                ]
                total = 5 * 1380
                fu_n = 5
                for k in range(fu_n):
                    fu_h = 0x85 | (0x80 if k == 0 else 0) | (0x40 if k == fu_n - 1 else 0)
                    fu_h &= 0xC0 | 0x05
                    if k == 0:
                        body = b"\x88\x84" + rng.randbytes(total // fu_n - 4)
                    else:
                        body = rng.randbytes(total // fu_n - 2 - rng.randrange(0, 120))
                    payloads.append(bytes([0x7C, fu_h]) + body)
            else:
                payloads = [b"\x41\x9a" + rng.randbytes(1180 + rng.randrange(0, 200))]
            for k, pl in enumerate(payloads):
                marker = 0x80 if k == len(payloads) - 1 else 0
                hdr = struct.pack(
                    "!BBHII", 0x80, marker | 96, seq & 0xFFFF, rtp_ts & 0xFFFFFFFF, ssrc
                )
                self.net.udp(t + k * 0.0004, cam, dst, sport, dport, hdr + pl)
                seq += 1
                sent_pkts += 1
                sent_octets += len(pl)
            if t >= next_sr:
                ntp = START + t + 2208988800
                sec = int(ntp)
                sr = struct.pack(
                    "!BBHIIIIII",
                    0x80,
                    200,
                    6,
                    ssrc,
                    sec,
                    int((ntp - sec) * 2**32),
                    (rtp_ts + 900) & 0xFFFFFFFF,
                    sent_pkts,
                    sent_octets,
                )
                cname = f"{cam.ip}".encode()
                sdes_items = bytes([1, len(cname)]) + cname + b"\x00"
                sdes_items += b"\x00" * (-(4 + len(sdes_items)) % 4)
                sdes = struct.pack("!BBHI", 0x81, 202, (4 + len(sdes_items)) // 4, ssrc)
                self.net.udp(t + 0.003, cam, dst, sport + 1, dport + 1, sr + sdes + sdes_items)
                next_sr += 20.0
            frame += 1
            t = start + frame * frame_interval
            rtp_ts += int(90000 * frame_interval)

    # ---------------------------------------------------------------- NVR cloud
    def nvr_cloud(self) -> None:
        server = self.dns(25.0, NVR, "pbdev.ys7.com")
        flow = TcpFlow(self.net, NVR, server, NVR.ephemeral(), 443, rtt=0.031)
        tls = TlsSession(self.net, flow, "pbdev.ys7.com", ("http/1.1",))
        t = tls.handshake(25.05)
        t = tls.up(t + 0.01, [412])
        t = tls.down(t + 0.03, [236])
        events: list[tuple[float, str]] = []
        ka = 55.0
        while ka < DURATION - 5:
            events.append((ka, "ka"))
            ka += 30.0
        bulk_t = 140.0
        while bulk_t < 470.0:
            events.append((bulk_t, "bulk"))
            bulk_t += 2.0
        events.sort()
        chunk_no = 0
        for when, kind in events:
            when = max(when, t + 0.05)
            if kind == "ka":
                t = tls.up(when, [96])
                t = tls.down(t + 0.012, [64])
            else:
                size = 24000 + self.rng.randrange(0, 8000)
                t = tls.flow.send(
                    when, NVR, app_stream(self.rng, size, 16401), gap=0.0012, snap=BULK_SNAPLEN
                )
                chunk_no += 1
                if chunk_no % 10 == 0:
                    t = tls.down(t + 0.01, [48])

    # ---------------------------------------------------------------- ZKTeco ADMS
    def adms(self) -> None:
        host = f"{ADMS_SERVER.ip}:{ADMS_PORT}"
        ua = "User-Agent: iClock Proxy/1.09"
        # handshake: fetch the push options
        flow = TcpFlow(self.net, ZK, ADMS_SERVER, ZK.ephemeral(), ADMS_PORT, rtt=0.028)
        t = flow.open(35.0)
        req = crlf(
            f"GET /iclock/cdata?SN={ZK_SN}&options=all&pushver=2.4.1&language=83 HTTP/1.1",
            f"Host: {host}",
            ua,
            "Connection: close",
            "Accept: */*",
        )
        opts = (
            f"GET OPTION FROM: {ZK_SN}\nATTLOGStamp=None\nOPERLOGStamp=9999\n"
            "ATTPHOTOStamp=None\nErrorDelay=30\nDelay=10\nTransTimes=00:00;14:05\n"
            "TransInterval=1\nTransFlag=TransData AttLog\tOpLog\tAttPhoto\tEnrollUser\t"
            "ChgUser\tFACE\tUserPic\nTimeZone=8\nRealtime=1\nEncrypt=None\n"
        ).encode()
        resp = (
            crlf(
                "HTTP/1.1 200 OK",
                "Server: nginx",
                f"Date: {http_date(t)}",
                "Content-Type: text/plain",
                f"Content-Length: {len(opts)}",
                "Connection: close",
            )
            + opts
        )
        t = flow.exchange(t + 0.0003, req, resp, think=0.004, chunks=[61])
        flow.close(t + 0.001, ADMS_SERVER)

        # getrequest polls on one keep-alive connection
        poll = TcpFlow(self.net, ZK, ADMS_SERVER, ZK.ephemeral(), ADMS_PORT, rtt=0.028)
        t = poll.open(40.0)
        when = 40.05
        while when < DURATION - 2:
            req = crlf(
                f"GET /iclock/getrequest?SN={ZK_SN} HTTP/1.1",
                f"Host: {host}",
                ua,
                "Connection: keep-alive",
                "Accept: */*",
            )
            resp = (
                crlf(
                    "HTTP/1.1 200 OK",
                    "Server: nginx",
                    f"Date: {http_date(when)}",
                    "Content-Type: text/plain",
                    "Content-Length: 2",
                    "Connection: keep-alive",
                )
                + b"OK"
            )
            t = poll.exchange(when, req, resp, think=0.003)
            when = max(t + 0.5, when + 6.0 + self.rng.uniform(-0.6, 0.6))

        # visitors recognised at the door: attendance record + attendance photo
        for n, (visit, pin) in enumerate([(95.2, "1007"), (265.7, "1012"), (430.4, "1003")]):
            stamp = clock(visit)
            log = f"{pin}\t{stamp}\t0\t15\t\t0\t0\t\t\t{n + 41}\n".encode()
            self.adms_post(visit, "ATTLOG", log, chunks=None)
            fname = clock(visit, "%Y%m%d%H%M%S") + f"-{pin}.jpg"
            head = f"PIN={fname}\nSN={ZK_SN}\nsize={len(self.face)}\nCMD=uploadphoto\0".encode()
            self.adms_post(visit + 0.9, "ATTPHOTO", head + self.face, chunks=[97])

    def adms_post(self, t: float, table: str, body: bytes, chunks: list[int] | None) -> None:
        flow = TcpFlow(self.net, ZK, ADMS_SERVER, ZK.ephemeral(), ADMS_PORT, rtt=0.028)
        t = flow.open(t)
        head = crlf(
            f"POST /iclock/cdata?SN={ZK_SN}&table={table}&Stamp=9999 HTTP/1.1",
            f"Host: {ADMS_SERVER.ip}:{ADMS_PORT}",
            "User-Agent: iClock Proxy/1.09",
            "Connection: close",
            "Accept: */*",
            f"Content-Length: {len(body)}",
        )
        reply = b"OK: 1" if table == "ATTLOG" else b"OK"
        resp = (
            crlf(
                "HTTP/1.1 200 OK",
                "Server: nginx",
                f"Date: {http_date(t)}",
                "Content-Type: text/plain",
                f"Content-Length: {len(reply)}",
                "Connection: close",
            )
            + reply
        )
        t = flow.exchange(t + 0.0003, head + body, resp, think=0.02, chunks=chunks)
        flow.close(t + 0.001, ADMS_SERVER)

    # ---------------------------------------------------------------- edge server: VIID
    def viid_headers(self, method_path: str, length: int, extra: tuple[str, ...] = ()) -> bytes:
        return crlf(
            method_path + " HTTP/1.1",
            f"Host: {VIID_SERVER.ip}:{VIID_PORT}",
            f"User-Identify: {VIID_DEVICE_ID}",
            "Content-Type: application/VIID+JSON;charset=UTF-8",
            *extra,
            "Connection: keep-alive",
            f"Content-Length: {length}",
        )

    def viid_reply(
        self, t: float, url: str, status: int = 200, extra: tuple[str, ...] = ()
    ) -> bytes:
        if status == 401:
            return crlf(
                "HTTP/1.1 401 Unauthorized",
                f"Date: {http_date(t)}",
                *extra,
                "Content-Length: 0",
                "Connection: keep-alive",
            )
        body = json.dumps(
            {
                "ResponseStatusObject": {
                    "RequestURL": url,
                    "StatusCode": 0,
                    "StatusString": "OK",
                    "Id": VIID_DEVICE_ID,
                    "LocalTime": clock(t, "%Y%m%d%H%M%S"),
                }
            },
            separators=(",", ":"),
        ).encode()
        return (
            crlf(
                "HTTP/1.1 200 OK",
                f"Date: {http_date(t)}",
                "Content-Type: application/VIID+JSON;charset=UTF-8",
                f"Content-Length: {len(body)}",
                "Connection: keep-alive",
            )
            + body
        )

    def viid(self) -> None:
        flow = TcpFlow(self.net, EDGE, VIID_SERVER, EDGE.ephemeral(), VIID_PORT, rtt=0.024)
        t = flow.open(40.0)
        reg = json.dumps(
            {"RegisterObject": {"DeviceID": VIID_DEVICE_ID}}, separators=(",", ":")
        ).encode()
        nonce = f"{self.rng.getrandbits(128):032x}"
        t = flow.exchange(
            t + 0.0004,
            self.viid_headers("POST /VIID/System/Register", len(reg)) + reg,
            self.viid_reply(
                t,
                "/VIID/System/Register",
                401,
                (f'WWW-Authenticate: Digest realm="viid", qop="auth", nonce="{nonce}"',),
            ),
        )
        auth = (
            f'Authorization: Digest username="{VIID_DEVICE_ID}", realm="viid", nonce="{nonce}", '
            f'uri="/VIID/System/Register", response="{self.rng.getrandbits(128):032x}", '
            f'qop=auth, nc=00000001, cnonce="{self.rng.getrandbits(64):016x}"'
        )
        t = flow.exchange(
            t + 0.002,
            self.viid_headers("POST /VIID/System/Register", len(reg), (auth,)) + reg,
            self.viid_reply(t, "/VIID/System/Register"),
        )
        events: list[tuple[float, str]] = [(k * 60.0 + 40.5, "ka") for k in range(1, 10)]
        events += [(96.6, "face"), (181.3, "face"), (266.9, "face"), (431.5, "face")]
        events.sort()
        face_b64 = base64.b64encode(self.face).decode()
        for n, (when, kind) in enumerate(events):
            when = max(when, t + 0.05)
            if kind == "ka":
                body = json.dumps(
                    {"KeepaliveObject": {"DeviceID": VIID_DEVICE_ID}}, separators=(",", ":")
                ).encode()
                req = self.viid_headers("POST /VIID/System/Keepalive", len(body)) + body
                t = flow.exchange(when, req, self.viid_reply(when, "/VIID/System/Keepalive"))
                continue
            shot = clock(when, "%Y%m%d%H%M%S")
            src = DAHUA if n % 2 else CAM3
            cam_id = "320105000013200000" + ("02" if src is DAHUA else "01")
            face_id = f"{cam_id}0220{shot}{n + 1:05d}06{n + 1:05d}"
            image_id = f"{cam_id}0220{shot}{n + 1:05d}"
            faces = {
                "FaceListObject": {
                    "FaceObject": [
                        {
                            "FaceID": face_id,
                            "InfoKind": 1,
                            "SourceID": image_id,
                            "DeviceID": cam_id,
                            "LeftTopX": 1130,
                            "LeftTopY": 402,
                            "RightBtmX": 1306,
                            "RightBtmY": 578,
                            "LocationMarkTime": shot,
                            "FaceAppearTime": clock(when - 3, "%Y%m%d%H%M%S"),
                            "FaceDisAppearTime": shot,
                            "GenderCode": "2",
                            "AgeUpLimit": 45,
                            "AgeLowerLimit": 35,
                            "SubImageList": {
                                "SubImageInfoObject": [
                                    {
                                        "ImageID": image_id,
                                        "EventSort": 10,
                                        "DeviceID": cam_id,
                                        "StoragePath": "",
                                        "Type": "11",
                                        "FileFormat": "Jpeg",
                                        "ShotTime": shot,
                                        "Width": 176,
                                        "Height": 176,
                                        "Data": face_b64,
                                    }
                                ]
                            },
                        }
                    ]
                }
            }
            body = json.dumps(faces, separators=(",", ":")).encode()
            req = self.viid_headers("POST /VIID/Faces", len(body)) + body
            # the first segment ends in the middle of the Content-Type header line
            split = req.index(b"application/VIID") + 11
            reply = json.dumps(
                {
                    "ResponseStatusListObject": {
                        "ResponseStatusObject": [
                            {
                                "RequestURL": "/VIID/Faces",
                                "StatusCode": 0,
                                "StatusString": "OK",
                                "Id": face_id,
                                "LocalTime": shot,
                            }
                        ]
                    }
                },
                separators=(",", ":"),
            ).encode()
            resp = (
                crlf(
                    "HTTP/1.1 200 OK",
                    f"Date: {http_date(when)}",
                    "Content-Type: application/VIID+JSON;charset=UTF-8",
                    f"Content-Length: {len(reply)}",
                    "Connection: keep-alive",
                )
                + reply
            )
            t = flow.exchange(when, req, resp, think=0.015, chunks=[split])
        flow.close(max(t + 1.0, 590.0))

    # ---------------------------------------------------------------- edge server: Face++
    def faceplusplus(self) -> None:
        bursts = [97.4, 182.0, 267.6, 332.8, 432.2, 521.9]
        sessions = [bursts[:3], bursts[3:]]
        for k, times in enumerate(sessions):
            server = self.dns(times[0] - 0.3, EDGE, "api-cn.faceplusplus.com")
            flow = TcpFlow(self.net, EDGE, server, EDGE.ephemeral(), 443, rtt=0.033)
            tls = TlsSession(self.net, flow, "api-cn.faceplusplus.com", ("http/1.1",))
            t = tls.handshake(times[0] - 0.25)
            for when in times:
                size = self.rng.randrange(30_000, 200_000)
                t = tls.flow.send(
                    max(when, t + 0.01),
                    EDGE,
                    app_stream(self.rng, size, 16401),
                    gap=0.0004,
                    snap=BULK_SNAPLEN,
                )
                t = tls.down(t + 0.35, [self.rng.randrange(600, 2600)])
            if k == 0:
                tls.close(t + 60.0)
            else:
                tls.close(t + 30.0)

    # ---------------------------------------------------------------- office PCs and phones
    def windows_pc(self, pc: Host, offset: float) -> None:
        net = self.net
        name = pc.name.upper()
        for k, q in enumerate(["WPAD", "SALES-NAS", name]):
            t = offset + 1.0 + k * 0.8
            nb = nbns_query(0x8000 + k + int(offset) * 16, q)
            net.udp(t, pc, SUBNET_BCAST, 137, 137, nb)
        for k, q in enumerate(["wpad", "sales-nas"]):
            t = offset + 1.1 + k * 0.8
            ll = LLMNRQuery(id=0x4000 + k + int(offset), qd=DNSQR(qname=q, qtype="A"))
            net.udp(t, pc, MCAST_LLMNR, pc.ephemeral(), 5355, ll)
        sport = pc.ephemeral()
        for k in range(3):
            msearch = crlf(
                "M-SEARCH * HTTP/1.1",
                "HOST: 239.255.255.250:1900",
                'MAN: "ssdp:discover"',
                "MX: 1",
                "ST: urn:dial-multiscreen-org:service:dial:1",
                "USER-AGENT: Microsoft Edge/122.0.2365.66 Windows",
            )
            net.udp(offset + 4.0 + k, pc, MCAST_SSDP, sport, 1900, msearch)
        self.ntp(offset + 10.0, pc, self.dns(offset + 9.9, pc, "time.windows.com"), 0.06)

    def office_browsing(self) -> None:
        self.tls_visit(50.0, PC1, "www.microsoft.com", [(620, 48000), (540, 9000)], aaaa=True)
        self.tls_visit(52.3, PC1, "login.microsoftonline.com", [(1900, 7400)], aaaa=True)
        self.tls_visit(121.0, PC1, "www.bing.com", [(700, 36000), (520, 4100)], aaaa=True)
        self.tls_visit(150.5, PC2, "www.baidu.com", [(680, 52000)], rtt=0.012)
        self.tls_visit(201.7, PC2, "outlook.office365.com", [(1300, 22000)], aaaa=True)
        self.tls_visit(388.4, PC1, "www.microsoft.com", [(610, 31000)], aaaa=True)
        self.tls_visit(455.0, PC2, "login.microsoftonline.com", [(1850, 7300)], aaaa=True)

    def iphone(self) -> None:
        net = self.net
        services = ["_airplay._tcp.local", "_companion-link._tcp.local", "_raop._tcp.local"]
        # one query with all three questions; the first asks for a unicast reply (QU bit)
        questions = [
            DNSQR(qname=svc, qtype="PTR", unicastresponse=int(k == 0))
            for k, svc in enumerate(services)
        ]
        net.udp(48.5, IPHONE, MCAST_MDNS, 5353, 5353, DNS(id=0, qr=0, qd=questions))
        self.tls_visit(50.4, IPHONE, "gateway.icloud.com", [(900, 3200), (640, 1100)])
        self.tls_visit(233.3, IPHONE, "www.apple.com", [(540, 41000)])

    def android(self) -> None:
        server = self.dns(313.0, ANDROID, "connectivitycheck.gstatic.com")
        flow = TcpFlow(self.net, ANDROID, server, ANDROID.ephemeral(), 80, rtt=0.04)
        t = flow.open(313.02)
        req = crlf(
            "GET /generate_204 HTTP/1.1",
            "User-Agent: Dalvik/2.1.0 (Linux; U; Android 13; SM-A546E Build/TP1A.220624.014)",
            "Host: connectivitycheck.gstatic.com",
            "Connection: Keep-Alive",
            "Accept-Encoding: gzip",
        )
        resp = crlf(
            "HTTP/1.1 204 No Content",
            "Content-Length: 0",
            f"Date: {http_date(t)}",
        )
        t = flow.exchange(t + 0.0003, req, resp, think=0.001)
        flow.close(t + 0.2)
        self.tls_visit(314.0, ANDROID, "www.google.com", [(780, 24000), (610, 3800)])

    def printer_mdns(self, t: float) -> None:
        name = "HP LaserJet M404dn (0D773A)"
        host = "HP3CD92B0D773A.local"
        records: list = []
        for svc, port in [
            ("_ipp._tcp.local", 631),
            ("_printer._tcp.local", 515),
            ("_pdl-datastream._tcp.local", 9100),
        ]:
            inst = f"{name}.{svc}"
            records.append(DNSRR(rrname=svc, type="PTR", ttl=4500, rdata=inst))
            records.append(
                DNSRRSRV(
                    rrname=inst,
                    cacheflush=1,
                    ttl=120,
                    priority=0,
                    weight=0,
                    port=port,
                    target=host,
                )
            )
            txt = [
                b"txtvers=1",
                b"ty=HP LaserJet M404dn",
                b"product=(HP LaserJet M404dn)",
                b"pdl=application/pdf,image/urf,application/PCLm",
                b"note=Sales Office",
            ]
            records.append(DNSRR(rrname=inst, type="TXT", cacheflush=1, ttl=4500, rdata=txt))
        records.append(DNSRR(rrname=host, type="A", cacheflush=1, ttl=120, rdata=PRINTER.ip))
        resp = DNS(id=0, qr=1, aa=1, qd=[], an=records)
        self.net.udp(t, PRINTER, MCAST_MDNS, 5353, 5353, resp)

    # ---------------------------------------------------------------- build
    def build(self) -> Capture:
        self.cam_uuid = {cam.ip: self.uuid() for cam, *_ in HIK_CAMS}
        self.boot_and_dhcp()
        self.onvif_hello()
        for t in (10.0, 190.0, 370.0, 550.0):
            self.sadp_round(t)
        self.onvif_probe(12.0)
        self.onvif_probe(312.5)
        self.dhip_round(12.6)
        self.dhip_round(313.1)
        for i, (cam, model, serial, _hn) in enumerate(HIK_CAMS):
            self.isapi_device_info(14.0 + i * 0.9, cam, model, serial)
        nvr_ua = "HikvisionNVR/1.0"
        for i, (cam, _model, serial, _hn) in enumerate(HIK_CAMS):
            self.rtsp_session(
                18.0 + i * 0.8,
                NVR,
                cam,
                "/Streaming/Channels/101",
                f"IP Camera({serial[-5:]})",
                "",
                nvr_ua,
                DURATION - 0.5,
                4.0,
            )
        edge_ua = "Lavf59.27.100"
        self.rtsp_session(
            22.0,
            EDGE,
            CAM3,
            "/Streaming/Channels/101",
            f"IP Camera({HIK_CAMS[2][2][-5:]})",
            "",
            edge_ua,
            DURATION - 0.5,
            4.0,
        )
        self.rtsp_session(
            23.1,
            EDGE,
            DAHUA,
            "/cam/realmonitor?channel=1&subtype=0",
            f"Login to {DAHUA_SERIAL}",
            "Rtsp Server/3.0",
            edge_ua,
            DURATION - 0.5,
            4.0,
        )
        ntp_srv = self.dns(29.9, NVR, "ntp.aliyun.com")
        for t in (30.0, 330.0):
            self.ntp(t, NVR, ntp_srv, 0.029)
        self.nvr_cloud()
        self.adms()
        self.viid()
        self.faceplusplus()
        self.windows_pc(PC1, 8.0)
        self.windows_pc(PC2, 9.2)
        self.office_browsing()
        self.iphone()
        self.android()
        for t in (6.5, 7.5, 306.5):
            self.printer_mdns(t)
        return self.cap


def main() -> None:
    parser = argparse.ArgumentParser(description="Write the sales-office demo capture.")
    parser.add_argument("-o", "--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args()
    cap = Office().build()
    n = cap.write(args.output)
    print(f"wrote {args.output}: {n} packets, {args.output.stat().st_size} bytes")


if __name__ == "__main__":
    main()
