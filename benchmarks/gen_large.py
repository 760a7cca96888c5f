#!/usr/bin/env python3
"""Generate a large, deterministic, realistic premises capture for benchmarks.

The output is a classic pcap (Ethernet, microsecond timestamps) of a busy site: many IP
cameras streaming RTSP/RTP to NVRs (the bulk of the packets), DNS for a few hundred names,
TLS sessions with real ClientHellos, plaintext HTTP uploads, and SSDP / WS-Discovery / mDNS /
LLMNR / NTP chatter.  About 17 % of the packet count is the number of distinct flows
(~170,000 at the default 1,000,000 packets).

Speed comes from building every distinct payload once ("templates") and then emitting pcap
records with ``struct``: MAC/IP addresses, ports, TCP sequence numbers, DNS ids and RTP
headers are patched in place, and the IPv4, TCP and UDP checksums are updated incrementally
(RFC 1624 style), so every checksum in the file is correct.

Usage:  python benchmarks/gen_large.py [--packets N] [-o PATH] [--seed S]
"""

from __future__ import annotations

import argparse
import base64
import heapq
import ipaddress
import json
import random
import struct
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from scapy.layers.dns import DNS, DNSQR, DNSRR

START = 1772442000  # 2026-03-02 09:00:00 UTC
DEFAULT_PACKETS = 1_000_000
DEFAULT_OUTPUT = Path("benchmarks/large.pcap")
MSS = 1460
# average packets per flow of each kind (measured), used to size the video share
PKTS_TLS = 26.0
PKTS_HTTP = 25.0
PKTS_CHAT = 1.7

Event = tuple[float, bytes]
FlowGen = Iterator[Event]

# --------------------------------------------------------------------------------------------
# checksum arithmetic
# --------------------------------------------------------------------------------------------


def words_sum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    return sum(struct.unpack(f"!{len(data) // 2}H", data))


def fold(s: int) -> int:
    s = (s & 0xFFFF) + (s >> 16)
    s = (s & 0xFFFF) + (s >> 16)
    return s


# --------------------------------------------------------------------------------------------
# templates: frames with zeroed addresses, ports, sequence numbers and checksums
# --------------------------------------------------------------------------------------------

PROTO_TCP = 6
PROTO_UDP = 17
SYN_OPTIONS = bytes.fromhex("020405b4010303080101 0402".replace(" ", ""))
ETH_IP = b"\0" * 12 + b"\x08\x00"


class Template:
    """A frame skeleton; `ip_sum`/`l4_sum` are partial one's-complement sums of its fixed part."""

    __slots__ = ("data", "ip_sum", "l4_sum", "proto", "plen")

    def __init__(self, proto: int, l4: bytes, ttl: int, payload_len: int) -> None:
        total = 20 + len(l4)
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, 0, 0x4000, ttl, proto, 0, b"", b"")
        self.data = ETH_IP + ip + l4
        self.ip_sum = words_sum(ip)
        self.l4_sum = words_sum(l4) + proto + len(l4)
        self.proto = proto
        self.plen = payload_len


def tcp_template(flags: int, window: int, payload: bytes = b"", ttl: int = 64) -> Template:
    opts = SYN_OPTIONS if flags & 0x02 else b""
    hdr_len = 20 + len(opts)
    l4 = struct.pack("!HHIIBBHHH", 0, 0, 0, 0, (hdr_len // 4) << 4, flags, window, 0, 0)
    return Template(PROTO_TCP, l4 + opts + payload, ttl, len(payload))


def udp_template(payload: bytes, ttl: int = 64) -> Template:
    l4 = struct.pack("!HHHH", 0, 0, 8 + len(payload), 0) + payload
    return Template(PROTO_UDP, l4, ttl, len(payload))


FIN, SYN, PSH, ACK = 0x01, 0x02, 0x08, 0x10


class Endpoint:
    """One direction of a flow: the pieces patched into every frame sent that way."""

    __slots__ = ("head", "addr", "ports", "ipsum", "sum")

    def __init__(self, smac: bytes, dmac: bytes, sip: bytes, dip: bytes, sp: int, dp: int):
        self.head = dmac + smac
        self.addr = sip + dip
        self.ports = struct.pack("!HH", sp, dp)
        self.ipsum = words_sum(sip + dip)
        self.sum = self.ipsum + sp + dp  # pseudo-header addresses + ports


def build(t: Template, ep: Endpoint, seq: int = 0, ack: int = 0, patch: bytes = b"") -> bytes:
    """Patch addresses/ports (+ TCP seq/ack, or bytes after the UDP header) and checksums."""
    b = bytearray(t.data)
    b[0:12] = ep.head
    b[26:34] = ep.addr
    b[34:38] = ep.ports
    struct.pack_into("!H", b, 24, 0xFFFF - fold(t.ip_sum + ep.ipsum))
    if t.proto == PROTO_TCP:
        struct.pack_into("!II", b, 38, seq, ack)
        s = t.l4_sum + ep.sum + (seq >> 16) + (seq & 0xFFFF) + (ack >> 16)
        s += ack & 0xFFFF
        struct.pack_into("!H", b, 50, 0xFFFF - fold(s))
    else:
        s = t.l4_sum + ep.sum
        if patch:
            # `patch` replaces the first bytes of the UDP payload (DNS id, RTP header)
            old = bytes(b[42 : 42 + len(patch)])
            b[42 : 42 + len(patch)] = patch
            s += words_sum(patch) - words_sum(old)
            s %= 0xFFFF  # keep it positive; the one's-complement sum is modulo 0xFFFF
        c = 0xFFFF - fold(s)
        struct.pack_into("!H", b, 40, c or 0xFFFF)
    return bytes(b)


# --------------------------------------------------------------------------------------------
# payload builders (TLS, DNS, HTTP, discovery)
# --------------------------------------------------------------------------------------------


def _u8(b: bytes) -> bytes:
    return bytes([len(b)]) + b


def _u16(b: bytes) -> bytes:
    return struct.pack("!H", len(b)) + b


def _ext(kind: int, body: bytes) -> bytes:
    return struct.pack("!H", kind) + _u16(body)


def tls_record(ctype: int, body: bytes, version: int = 0x0303) -> bytes:
    return struct.pack("!BHH", ctype, version, len(body)) + body


def client_hello(rng: random.Random, sni: str, alpn: list[str], variant: int) -> bytes:
    suites = [0x1301, 0x1302, 0x1303, 0xC02B, 0xC02F, 0xC02C, 0xC030, 0xCCA9, 0xCCA8, 0xC013]
    suites += [0xC014, 0x009C, 0x009D, 0x002F, 0x0035]
    if variant % 3 == 1:  # a client without ChaCha20 and legacy CBC suites
        suites = [0x1301, 0x1302, 0xC02B, 0xC02F, 0xC02C, 0xC030]
    groups = [0x001D, 0x0017, 0x0018] if variant % 2 else [0x001D, 0x0017, 0x0018, 0x0019]
    exts = [
        _ext(0x0000, _u16(b"\x00" + _u16(sni.encode()))),
        _ext(0x0017, b""),
        _ext(0xFF01, b"\x00"),
        _ext(0x000A, _u16(b"".join(struct.pack("!H", g) for g in groups))),
        _ext(0x000B, _u8(b"\x00")),
        _ext(0x0023, b""),
        _ext(0x0010, _u16(b"".join(_u8(p.encode()) for p in alpn))),
        _ext(0x0005, b"\x01\x00\x00\x00\x00"),
        _ext(
            0x000D,
            _u16(
                struct.pack("!8H", 0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601)
            ),
        ),
        _ext(0x0033, _u16(struct.pack("!HH", 0x001D, 32) + rng.randbytes(32))),
        _ext(0x002D, _u8(b"\x01")),
        _ext(0x002B, _u8(struct.pack("!HH", 0x0304, 0x0303))),
    ]
    if variant % 3 == 0:
        exts.insert(9, _ext(0x0012, b""))
        exts.append(_ext(0x001B, _u8(b"\x00\x02")))
    blob = b"".join(exts)
    body = b"\x03\x03" + rng.randbytes(32) + _u8(rng.randbytes(32))
    body += _u16(b"".join(struct.pack("!H", s) for s in suites)) + b"\x01\x00"
    pad = 508 - (len(body) + 2 + len(blob)) - 4
    if pad >= 0:
        blob += _ext(0x0015, b"\0" * pad)
    body += _u16(blob)
    return tls_record(0x16, b"\x01" + struct.pack("!I", len(body))[1:] + body, 0x0301)


def server_flight(rng: random.Random, cert_len: int) -> bytes:
    exts = _ext(0x002B, b"\x03\x04") + _ext(
        0x0033, struct.pack("!HH", 0x1D, 32) + rng.randbytes(32)
    )
    body = b"\x03\x03" + rng.randbytes(32) + _u8(rng.randbytes(32)) + b"\x13\x01\x00" + _u16(exts)
    hello = tls_record(0x16, b"\x02" + struct.pack("!I", len(body))[1:] + body)
    return hello + tls_record(0x14, b"\x01") + tls_record(0x17, rng.randbytes(cert_len))


def app_records(rng: random.Random, total: int) -> bytes:
    out = []
    while total > 0:
        n = min(total, 16401)
        out.append(tls_record(0x17, rng.randbytes(n)))
        total -= n
    return b"".join(out)


def segments(data: bytes) -> list[bytes]:
    return [data[i : i + MSS] for i in range(0, len(data), MSS)]


BASES = [
    "microsoft.com",
    "windowsupdate.com",
    "office365.com",
    "live.com",
    "bing.com",
    "apple.com",
    "icloud.com",
    "google.com",
    "gstatic.com",
    "googleapis.com",
    "baidu.com",
    "qq.com",
    "weixin.qq.com",
    "taobao.com",
    "tmall.com",
    "jd.com",
    "aliyun.com",
    "alipay.com",
    "163.com",
    "sina.com.cn",
    "douyin.com",
    "bilibili.com",
    "meituan.com",
    "dingtalk.com",
    "feishu.cn",
    "amap.com",
    "ctrip.com",
    "xiaohongshu.com",
    "zhihu.com",
    "akamaized.net",
    "cloudfront.net",
    "fastly.net",
    "digicert.com",
    "letsencrypt.org",
    "github.com",
]
SUBS = ["www", "api", "cdn", "img", "static", "log", "push", "update", "mail", "login", "m"]
# camera/face clouds from the signature knowledge base, seen now and then
SPECIAL = [
    "api-cn.faceplusplus.com",
    "aip.baidubce.com",
    "iai.tencentcloudapi.com",
    "pbdev.ys7.com",
    "open.ys7.com",
    "api.hik-connect.com",
    "www.easy4ipcloud.com",
    "p2p.reolink.com",
    "rekognition.us-east-1.amazonaws.com",
    "vision.googleapis.com",
]
FIRST_OCTETS = [
    36,
    39,
    42,
    47,
    52,
    58,
    59,
    61,
    101,
    103,
    106,
    110,
    111,
    112,
    113,
    114,
    115,
    116,
    117,
    118,
    119,
    120,
    121,
    122,
    123,
    124,
    125,
    140,
    142,
    157,
    180,
    182,
    183,
    202,
    203,
    210,
    211,
    218,
    219,
    220,
    221,
    222,
    223,
]


def public_ip(rng: random.Random) -> bytes:
    while True:
        raw = bytes(
            [
                rng.choice(FIRST_OCTETS),
                rng.randrange(1, 255),
                rng.randrange(0, 256),
                rng.randrange(1, 255),
            ]
        )
        if ipaddress.IPv4Address(raw).is_global:
            return raw


def mac(rng: random.Random, oui: str) -> bytes:
    return bytes.fromhex(oui.replace(":", "")) + rng.randbytes(3)


# --------------------------------------------------------------------------------------------
# the site
# --------------------------------------------------------------------------------------------

CAM_OUIS = ["44:19:b6", "c0:56:e3", "bc:ad:28", "3c:ef:8c", "e0:50:8b", "48:ea:63", "ac:cc:8e"]
NVR_OUIS = ["24:48:45", "98:f9:cc"]
CLIENT_OUIS = [
    "f8:bc:12",
    "54:bf:64",
    "f0:18:98",
    "8c:f5:a3",
    "a0:36:9f",
    "3c:d9:2b",
    "dc:a6:32",
    "00:e0:4c",
]
ROUTER_MAC = bytes.fromhex("50c7bf3a9101")
ROUTER_IP = bytes([10, 20, 0, 1])


class Site:
    def __init__(self, packets: int, seed: int) -> None:
        self.n = packets
        self.rng = rng = random.Random(seed)
        self.duration = max(60.0, packets / 2500.0)
        scale = packets / DEFAULT_PACKETS
        self.n_cams = max(4, round(62 * scale))
        self.n_nvrs = max(1, self.n_cams // 16 + 1)
        self.n_clients = max(8, min(600, round(400 * scale) + 8))
        self.cams = [
            (bytes([10, 20, 10 + i // 240, 10 + i % 240]), mac(rng, CAM_OUIS[i % 7]))
            for i in range(self.n_cams)
        ]
        self.nvrs = [
            (bytes([10, 20, 1, 10 + i]), mac(rng, NVR_OUIS[i % 2])) for i in range(self.n_nvrs)
        ]
        self.clients = [
            (bytes([10, 20, 100 + i // 240, 10 + i % 240]), mac(rng, CLIENT_OUIS[i % 8]))
            for i in range(self.n_clients)
        ]
        self.names = sorted({f"{s}.{b}" for b in BASES for s in rng.sample(SUBS, 5)}) + SPECIAL
        self.addr = {name: public_ip(rng) for name in self.names}
        self._templates()

    # ------------------------------------------------------------ templates
    def _templates(self) -> None:
        rng = self.rng
        self.t_syn = tcp_template(SYN, 64240)
        self.t_synack = tcp_template(SYN | ACK, 65160, ttl=52)
        self.t_ack_c = tcp_template(ACK, 1026)
        self.t_ack_s = tcp_template(ACK, 2052, ttl=52)
        self.t_fin_c = tcp_template(FIN | ACK, 1026)
        self.t_fin_s = tcp_template(FIN | ACK, 2052, ttl=52)
        self.t_synack_lan = tcp_template(SYN | ACK, 65160)
        self.t_ack_lan = tcp_template(ACK, 2052)
        self.t_fin_lan = tcp_template(FIN | ACK, 2052)

        # DNS query/answer pairs for every name
        self.dns: dict[str, tuple[Template, Template]] = {}
        for name in self.names:
            q = DNS(id=0, rd=1, qd=DNSQR(qname=name))
            ip = str(ipaddress.IPv4Address(self.addr[name]))
            a = DNS(
                id=0,
                qr=1,
                rd=1,
                ra=1,
                qd=DNSQR(qname=name),
                an=[DNSRR(rrname=name, ttl=rng.choice([60, 120, 300, 600]), rdata=ip)],
            )
            self.dns[name] = (udp_template(bytes(q)), udp_template(bytes(a)))

        # TLS: one ClientHello per name (3 client styles), a few server flights and bodies
        self.tls_names = [n for n in self.names if not n.startswith("m.")]
        self.hello: dict[str, Template] = {}
        for i, name in enumerate(self.tls_names):
            alpn = ["h2", "http/1.1"] if i % 4 else ["http/1.1"]
            self.hello[name] = tcp_template(PSH | ACK, 1026, client_hello(rng, name, alpn, i))
        self.flights = [
            self._stream(server_flight(rng, 2400 + 700 * k), 2052, 52) for k in range(6)
        ]
        self.finished = tcp_template(
            PSH | ACK, 1026, tls_record(0x14, b"\x01") + tls_record(0x17, rng.randbytes(53))
        )
        self.requests = [
            tcp_template(PSH | ACK, 1026, app_records(rng, n))
            for n in (90, 240, 410, 560, 730, 900, 1180)
        ]
        self.responses = [
            self._stream(app_records(rng, n), 2052, 52)
            for n in (120, 600, 1900, 4200, 9000, 15500, 26000, 48000)
        ]
        self.bulk_up = [self._stream(app_records(rng, n), 1026, 64) for n in (30000, 64000, 120000)]

        # plaintext HTTP uploads (POST with bodies) and their replies
        self.uploads: list[tuple[list[Template], bytes | None, int]] = []
        for k in range(16):
            request, server, port = self._http_post(k)
            self.uploads.append((self._stream(request, 1026, 64), server, port))
        ok = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 27\r\n"
        ok += b"Connection: close\r\n\r\n" + b'{"code":0,"message":"ok"}\r\n'
        self.http_ok = tcp_template(PSH | ACK, 2052, ok, ttl=52)

        # RTP: H.264 FU-A pieces and single-NAL P frames of realistic sizes; RTCP SR
        self.rtp_idr = [
            udp_template(
                b"\0" * 12
                + bytes([0x7C, 0x85 | (0x80 if k == 0 else 0) | (0x40 if k == 7 else 0)])
                + rng.randbytes(1388 - (k * 37) % 90)
            )
            for k in range(8)
        ]
        self.rtp_p = [
            udp_template(b"\0" * 12 + b"\x41\x9a" + rng.randbytes(n))
            for n in (1180, 1240, 1296, 1350, 1386, 920, 610, 380)
        ]
        self.rtcp = udp_template(
            b"\0" * 28 + b"\x81\xca\x00\x04" + b"\0" * 4 + b"\x01\x09cam-media\x00\x00\x00\x00"
        )

        # discovery chatter
        ssdp = []
        for st in (
            "ssdp:all",
            "upnp:rootdevice",
            "urn:dial-multiscreen-org:service:dial:1",
            "urn:schemas-upnp-org:device:MediaRenderer:1",
        ):
            ssdp.append(
                udp_template(
                    (
                        'M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: "ssdp:discover"\r\n'
                        f"MX: {rng.choice([1, 2, 3])}\r\nST: {st}\r\n\r\n"
                    ).encode(),
                    ttl=4,
                )
            )
        self.ssdp = ssdp
        self.wsd = [udp_template(self._wsd_probe(rng), ttl=1) for _ in range(4)]
        self.mdns = [
            udp_template(bytes(DNS(id=0, qd=DNSQR(qname=s, qtype="PTR"))), ttl=255)
            for s in (
                "_airplay._tcp.local",
                "_googlecast._tcp.local",
                "_ipp._tcp.local",
                "_companion-link._tcp.local",
                "_hap._tcp.local",
                "_raop._tcp.local",
            )
        ]
        self.llmnr = [
            udp_template(bytes(DNS(id=0, qd=DNSQR(qname=n))), ttl=1)
            for n in ("wpad", "nas", "printer", "fileserver")
        ]
        ntp_req = bytes([0x23, 0, 6, 0xEC]) + b"\0" * 44
        ntp_resp = bytes([0x24, 2, 6, 0xE9]) + rng.randbytes(44)
        self.ntp = (udp_template(ntp_req), udp_template(ntp_resp, ttl=52))

    def _stream(self, data: bytes, window: int, ttl: int) -> list[Template]:
        segs = segments(data)
        return [
            tcp_template(PSH | ACK if i == len(segs) - 1 else ACK, window, s, ttl)
            for i, s in enumerate(segs)
        ]

    def _http_post(self, k: int) -> tuple[bytes, bytes | None, int]:
        """One POST request; returns it with its fixed server address (or None) and port."""
        rng = self.rng
        img = base64.b64encode(rng.randbytes(rng.randrange(3000, 30000))).decode()
        if k % 4 == 0:
            host, path = "61.155.108.34:8088", "/VIID/Faces"
            body = json.dumps(
                {
                    "FaceListObject": {
                        "FaceObject": [
                            {
                                "FaceID": f"{k:048d}",
                                "SubImageList": {
                                    "SubImageInfoObject": [
                                        {"Type": "11", "FileFormat": "Jpeg", "Data": img}
                                    ]
                                },
                            }
                        ]
                    }
                }
            )
            ctype = "application/VIID+JSON;charset=UTF-8"
        elif k % 4 == 1:
            host, path = "121.40.167.52:8081", f"/iclock/cdata?SN=CQUJ2244601{k:02d}&table=ATTLOG"
            body = "".join(
                f"10{i:02d}\t2026-03-02 09:{i:02d}:00\t0\t15\t\t0\t0\n"
                for i in range(rng.randrange(5, 60))
            )
            ctype = "text/plain"
        elif k % 4 == 2:
            host, path = f"upload.{BASES[k]}", "/api/v1/telemetry"
            body = json.dumps({"device": f"dev-{k}", "events": [rng.random() for _ in range(400)]})
            ctype = "application/json"
        else:
            host, path = f"img.{BASES[k]}", "/upload"
            body = "image=" + img[: len(img) // 2]
            ctype = "application/x-www-form-urlencoded"
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: uploader/2.{k}\r\n"
            f"Content-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n"
        )
        server, port = None, 80
        if ":" in host:
            ip_txt, port_txt = host.split(":")
            server, port = ipaddress.IPv4Address(ip_txt).packed, int(port_txt)
        return head.encode() + body.encode(), server, port

    @staticmethod
    def _wsd_probe(rng: random.Random) -> bytes:
        msg_id = "".join(rng.choice("0123456789abcdef") for _ in range(32))
        return (
            '<?xml version="1.0" encoding="UTF-8"?><e:Envelope '
            'xmlns:e="http://www.w3.org/2003/05/soap-envelope" '
            'xmlns:w="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
            'xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery" '
            'xmlns:dn="http://www.onvif.org/ver10/network/wsdl"><e:Header>'
            f"<w:MessageID>uuid:{msg_id[:8]}-{msg_id[8:12]}-{msg_id[12:16]}-{msg_id[16:20]}-"
            f"{msg_id[20:]}</w:MessageID>"
            "<w:To>urn:schemas-xmlsoap-org:ws:2005:04:discovery</w:To>"
            "<w:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe</w:Action>"
            "</e:Header><e:Body><d:Probe><d:Types>dn:NetworkVideoTransmitter</d:Types>"
            "</d:Probe></e:Body></e:Envelope>"
        ).encode()

    # ------------------------------------------------------------ flow generators
    def client(self) -> tuple[bytes, bytes]:
        return self.rng.choice(self.clients)

    def tcp_flow(
        self,
        t: float,
        c: tuple[bytes, bytes],
        s_ip: bytes,
        s_mac: bytes,
        dport: int,
        rtt: float,
        body: Callable[[TcpState], Iterator[Event]],
        lan: bool = False,
        close: bool = True,
    ) -> FlowGen:
        rng = self.rng
        sport = rng.randrange(49152, 65535)
        st = TcpState(
            Endpoint(c[1], s_mac, c[0], s_ip, sport, dport),
            Endpoint(s_mac, c[1], s_ip, c[0], dport, sport),
            rng.getrandbits(32),
            rng.getrandbits(32),
            rtt,
        )
        synack = self.t_synack_lan if lan else self.t_synack
        yield t, build(self.t_syn, st.c, st.cseq, 0)
        st.cseq += 1
        t += rtt
        yield t, build(synack, st.s, st.sseq, st.cseq)
        st.sseq += 1
        t += 0.0002
        yield t, build(self.t_ack_c, st.c, st.cseq, st.sseq)
        st.t = t + 0.0003
        yield from body(st)
        if not close:
            return
        t = st.t + 0.05
        fin_s = self.t_fin_lan if lan else self.t_fin_s
        yield t, build(self.t_fin_c, st.c, st.cseq, st.sseq)
        st.cseq += 1
        t += rtt
        yield t, build(fin_s, st.s, st.sseq, st.cseq)
        st.sseq += 1
        t += 0.0002
        yield t, build(self.t_ack_c, st.c, st.cseq, st.sseq)

    def send(
        self, st: TcpState, from_client: bool, segs: list[Template], ack_tmpl: Template
    ) -> Iterator[Event]:
        """Data segments one way; the peer ACKs every second segment and the last one."""
        t = st.t
        last = t
        out: list[Event] = []
        for i, tmpl in enumerate(segs):
            if from_client:
                out.append((t, build(tmpl, st.c, st.cseq, st.sseq)))
                st.cseq = (st.cseq + tmpl.plen) & 0xFFFFFFFF
            else:
                out.append((t, build(tmpl, st.s, st.sseq, st.cseq)))
                st.sseq = (st.sseq + tmpl.plen) & 0xFFFFFFFF
            if i % 2 == 1 or i == len(segs) - 1:
                last = t + (st.rtt if from_client else 0.0002)
                if from_client:
                    out.append((last, build(ack_tmpl, st.s, st.sseq, st.cseq)))
                else:
                    out.append((last, build(ack_tmpl, st.c, st.cseq, st.sseq)))
            t += 0.00025
        out.sort(key=lambda e: e[0])  # stable: a segment precedes an ACK at the same time
        yield from out
        st.t = last + 0.0005

    def tls_flow(self, t: float) -> FlowGen:
        rng = self.rng
        c = self.client()
        name = rng.choice(self.tls_names)
        yield from self.dns_pair(t, c, name)
        n_ex = rng.choice([1, 1, 1, 2, 2, 3])
        bulk = name in SPECIAL and rng.random() < 0.5

        def body(st: TcpState) -> Iterator[Event]:
            yield from self.send(st, True, [self.hello[name]], self.t_ack_s)
            yield from self.send(st, False, rng.choice(self.flights), self.t_ack_c)
            yield from self.send(st, True, [self.finished], self.t_ack_s)
            for _ in range(n_ex):
                st.t += rng.uniform(0.001, 0.4)
                if bulk:
                    yield from self.send(st, True, rng.choice(self.bulk_up), self.t_ack_s)
                else:
                    yield from self.send(st, True, [rng.choice(self.requests)], self.t_ack_s)
                st.t += st.rtt
                yield from self.send(st, False, rng.choice(self.responses[:5]), self.t_ack_c)

        yield from self.tcp_flow(
            t + 0.02, c, self.addr[name], ROUTER_MAC, 443, rng.uniform(0.005, 0.18), body
        )

    def http_flow(self, t: float) -> FlowGen:
        rng = self.rng
        c = self.client()
        up, server, port = rng.choice(self.uploads)
        dst = server or public_ip(rng)

        def body(st: TcpState) -> Iterator[Event]:
            yield from self.send(st, True, up, self.t_ack_s)
            st.t += st.rtt
            yield from self.send(st, False, [self.http_ok], self.t_ack_c)

        yield from self.tcp_flow(t, c, dst, ROUTER_MAC, port, rng.uniform(0.01, 0.08), body)

    def dns_pair(self, t: float, c: tuple[bytes, bytes], name: str) -> FlowGen:
        rng = self.rng
        sport = rng.randrange(49152, 65535)
        q, a = self.dns[name]
        txid = struct.pack("!H", rng.getrandbits(16))
        yield t, build(q, Endpoint(c[1], ROUTER_MAC, c[0], ROUTER_IP, sport, 53), patch=txid)
        yield (
            t + rng.uniform(0.0005, 0.015),
            build(a, Endpoint(ROUTER_MAC, c[1], ROUTER_IP, c[0], 53, sport), patch=txid),
        )

    def dns_flow(self, t: float) -> FlowGen:
        yield from self.dns_pair(t, self.client(), self.rng.choice(self.names))

    def chatter_flow(self, t: float) -> FlowGen:
        rng = self.rng
        c = self.client()
        kind = rng.random()
        sport = rng.randrange(49152, 65535)
        if kind < 0.45:
            ep = Endpoint(
                c[1], bytes.fromhex("01005e7ffffa"), c[0], bytes([239, 255, 255, 250]), sport, 1900
            )
            tmpl = rng.choice(self.ssdp)
            for k in range(rng.choice([1, 2, 3])):
                yield t + k * 0.3, build(tmpl, ep)
        elif kind < 0.6:
            ep = Endpoint(
                c[1], bytes.fromhex("01005e7ffffa"), c[0], bytes([239, 255, 255, 250]), sport, 3702
            )
            yield t, build(rng.choice(self.wsd), ep)
        elif kind < 0.72:
            ep = Endpoint(
                c[1], bytes.fromhex("01005e0000fc"), c[0], bytes([224, 0, 0, 252]), sport, 5355
            )
            tmpl = rng.choice(self.llmnr)
            txid = struct.pack("!H", rng.getrandbits(16))
            yield t, build(tmpl, ep, patch=txid)
        elif kind < 0.78:
            ep = Endpoint(
                c[1], bytes.fromhex("01005e0000fb"), c[0], bytes([224, 0, 0, 251]), 5353, 5353
            )
            txid = struct.pack("!H", rng.getrandbits(16))
            yield t, build(rng.choice(self.mdns), ep, patch=txid)
        else:
            srv = public_ip(rng)
            q, a = self.ntp
            yield t, build(q, Endpoint(c[1], ROUTER_MAC, c[0], srv, sport, 123))
            yield (
                t + rng.uniform(0.01, 0.2),
                build(a, Endpoint(ROUTER_MAC, c[1], srv, c[0], 123, sport)),
            )

    def camera_flows(self, idx: int, until: float) -> list[tuple[float, FlowGen]]:
        """RTSP control (TCP 554) from the NVR, RTP video and RTCP reports from the camera."""
        rng = self.rng
        cam_ip, cam_mac = self.cams[idx]
        nvr_ip, nvr_mac = self.nvrs[idx % len(self.nvrs)]
        t0 = rng.uniform(0.0, 2.0)
        cport = 40000 + 2 * idx
        sport = 8200 + 2 * rng.randrange(0, 400)
        ssrc = rng.getrandbits(32)
        ip_txt = ".".join(map(str, cam_ip))
        url = f"rtsp://{ip_txt}:554/Streaming/Channels/101"
        msgs = [
            (
                f"OPTIONS {url} RTSP/1.0\r\nCSeq: 2\r\nUser-Agent: NVR\r\n\r\n",
                "RTSP/1.0 200 OK\r\nCSeq: 2\r\nPublic: OPTIONS, DESCRIBE, PLAY, PAUSE, SETUP, "
                "TEARDOWN, SET_PARAMETER, GET_PARAMETER\r\n\r\n",
            ),
            (
                f"DESCRIBE {url} RTSP/1.0\r\nCSeq: 3\r\nAccept: application/sdp\r\n"
                "User-Agent: NVR\r\n\r\n",
                self._sdp_reply(ip_txt, url),
            ),
            (
                f"SETUP {url}/trackID=1 RTSP/1.0\r\nCSeq: 4\r\nTransport: RTP/AVP;unicast;"
                f"client_port={cport}-{cport + 1}\r\nUser-Agent: NVR\r\n\r\n",
                f"RTSP/1.0 200 OK\r\nCSeq: 4\r\nSession: {ssrc & 0xFFFFFFF};timeout=60\r\n"
                f"Transport: RTP/AVP;unicast;client_port={cport}-{cport + 1};server_port={sport}-"
                f'{sport + 1};ssrc={ssrc:08x};mode="play"\r\n\r\n',
            ),
            (
                f"PLAY {url}/ RTSP/1.0\r\nCSeq: 5\r\nSession: {ssrc & 0xFFFFFFF}\r\n"
                "Range: npt=0.000-\r\nUser-Agent: NVR\r\n\r\n",
                f"RTSP/1.0 200 OK\r\nCSeq: 5\r\nSession: {ssrc & 0xFFFFFFF}\r\n"
                f"RTP-Info: url={url}/trackID=1;seq=1;rtptime=0\r\n\r\n",
            ),
        ]

        def body(st: TcpState) -> Iterator[Event]:
            for req, resp in msgs:
                yield from self.send(
                    st, True, [tcp_template(PSH | ACK, 1026, req.encode())], self.t_ack_lan
                )
                yield from self.send(
                    st, False, [tcp_template(PSH | ACK, 2052, resp.encode())], self.t_ack_c
                )

        ctrl = self.tcp_flow(
            t0, (nvr_ip, nvr_mac), cam_ip, cam_mac, 554, 0.0004, body, lan=True, close=False
        )
        rtp_ep = Endpoint(cam_mac, nvr_mac, cam_ip, nvr_ip, sport, cport)
        rtcp_ep = Endpoint(cam_mac, nvr_mac, cam_ip, nvr_ip, sport + 1, cport + 1)
        return [
            (t0, ctrl),
            (t0 + 0.05, self.rtp(t0 + 0.05, rtp_ep, ssrc, until)),
            (t0 + 5.0, self.rtcp_reports(t0 + 5.0, rtcp_ep, ssrc, until)),
        ]

    @staticmethod
    def _sdp_reply(ip_txt: str, url: str) -> str:
        sdp = (
            "v=0\r\no=- 1 1 IN IP4 " + ip_txt + "\r\ns=Media Presentation\r\nt=0 0\r\n"
            "m=video 0 RTP/AVP 96\r\nc=IN IP4 0.0.0.0\r\na=recvonly\r\n"
            f"a=control:{url}/trackID=1\r\na=rtpmap:96 H264/90000\r\n"
            "a=fmtp:96 profile-level-id=420029; packetization-mode=1\r\n"
        )
        return (
            f"RTSP/1.0 200 OK\r\nCSeq: 3\r\nContent-Base: {url}/\r\n"
            f"Content-Type: application/sdp\r\nContent-Length: {len(sdp)}\r\n\r\n{sdp}"
        )

    def rtp(self, t: float, ep: Endpoint, ssrc: int, until: float) -> FlowGen:
        rng = self.rng
        fps = self.fps
        seq = rng.getrandbits(16)
        ts = rng.getrandbits(32)
        frame = 0
        gop = int(fps * 2)
        step = 90000 // int(fps)
        tail = struct.pack("!I", ssrc)
        while t < until:
            pieces = self.rtp_idr if frame % gop == 0 else [rng.choice(self.rtp_p)]
            last = len(pieces) - 1
            for k, tmpl in enumerate(pieces):
                hdr = (
                    struct.pack(
                        "!BBHI",
                        0x80,
                        96 | (0x80 if k == last else 0),
                        seq & 0xFFFF,
                        ts & 0xFFFFFFFF,
                    )
                    + tail
                )
                yield t + k * 0.0003, build(tmpl, ep, patch=hdr)
                seq += 1
            frame += 1
            ts += step
            t += 1.0 / fps + rng.uniform(-0.002, 0.002)

    def rtcp_reports(self, t: float, ep: Endpoint, ssrc: int, until: float) -> FlowGen:
        n = 0
        while t < until:
            n += 1
            sec = int(START + t + 2208988800)
            sr = struct.pack(
                "!BBHIIIIII", 0x80, 200, 6, ssrc, sec, 0, n * 450000, n * 250, n * 300000
            )
            yield t, build(self.rtcp, ep, patch=sr)
            t += 5.0

    # ------------------------------------------------------------ schedule
    def flows(self) -> list[tuple[float, int, Callable[[float], FlowGen]]]:
        n = self.n
        rng = self.rng
        # per-kind flow counts scale with N; camera video takes whatever is left
        kinds: list[tuple[int, Callable[[float], FlowGen]]] = [
            (round(0.095 * n), self.dns_flow),
            (round(0.006 * n), self.tls_flow),  # + its DNS pair: 2 flows each
            (round(0.001 * n), self.http_flow),
            (round(0.071 * n), self.chatter_flow),
        ]
        out: list[tuple[float, int, Callable[[float], FlowGen]]] = []
        for count, fn in kinds:
            for _ in range(count):
                out.append((rng.uniform(0.0, self.duration), len(out), fn))
        out.sort()
        return out

    def packets(self) -> Iterator[Event]:
        # estimated packets outside video: dns 2, tls ~24, http ~20, chatter ~1.7
        others = (0.095 * 2 + 0.006 * PKTS_TLS + 0.001 * PKTS_HTTP + 0.071 * PKTS_CHAT) * self.n
        video = max(self.n - others, self.n * 0.3)
        # RTP packets per camera-second: fps frames, plus 7 extra every 2 s (8-packet IDR)
        per_sec = video / (self.n_cams * self.duration)
        self.fps = max(2.0, min(25.0, per_sec - 3.5))
        heap: list[tuple[float, int, bytes, FlowGen]] = []
        counter = 0
        for i in range(self.n_cams):
            for _t0, gen in self.camera_flows(i, self.duration * 3 + 60.0):
                first = next(gen, None)
                if first is not None:
                    heap.append((first[0], counter, first[1], gen))
                    counter += 1
        heapq.heapify(heap)
        pending = self.flows()
        j = 0
        while heap or j < len(pending):
            if j < len(pending) and (not heap or pending[j][0] <= heap[0][0]):
                t0, _, fn = pending[j]
                j += 1
                gen = fn(t0)
                first = next(gen, None)
                if first is not None:
                    heapq.heappush(heap, (first[0], counter, first[1], gen))
                    counter += 1
                continue
            t, _, frame, gen = heapq.heappop(heap)
            yield t, frame
            nxt = next(gen, None)
            if nxt is not None:
                heapq.heappush(heap, (nxt[0], counter, nxt[1], gen))
                counter += 1


class TcpState:
    __slots__ = ("c", "s", "cseq", "sseq", "rtt", "t")

    def __init__(self, c: Endpoint, s: Endpoint, cseq: int, sseq: int, rtt: float) -> None:
        self.c, self.s, self.cseq, self.sseq, self.rtt = c, s, cseq, sseq, rtt
        self.t = 0.0


def write_pcap(path: Path, events: Iterator[Event], limit: int) -> int:
    header = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1)
    pack = struct.Struct("<IIII").pack
    written = 0
    last_us = 0
    with path.open("wb") as f:
        f.write(header)
        buf: list[bytes] = []
        for t, frame in events:
            us = max(int(t * 1_000_000), last_us)
            last_us = us
            sec, usec = divmod(us, 1_000_000)
            n = len(frame)
            buf.append(pack(START + sec, usec, n, n))
            buf.append(frame)
            written += 1
            if written >= limit:
                break
            if len(buf) >= 16384:
                f.write(b"".join(buf))
                buf.clear()
        f.write(b"".join(buf))
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate a large premises capture (pcap).")
    parser.add_argument("--packets", type=int, default=DEFAULT_PACKETS)
    parser.add_argument("-o", "--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--seed", type=int, default=1400)
    args = parser.parse_args(argv)
    if args.packets < 1000:
        parser.error("--packets must be at least 1000")
    began = time.perf_counter()
    site = Site(args.packets, args.seed)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    n = write_pcap(args.output, site.packets(), args.packets)
    took = time.perf_counter() - began
    print(
        f"wrote {args.output}: {n} packets, {args.output.stat().st_size} bytes, {took:.1f} s",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
