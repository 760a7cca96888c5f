"""Deterministic scenario captures for the face-data analysis tests.

Every scenario is a function ``(directory) -> Path`` that writes one small pcap with scapy:
fixed addresses, fixed timestamps, fixed sequence numbers and a seeded random source, so the
same call always writes the same bytes. The face picture is the astronaut portrait that
scikit-image bundles (``skimage.data.astronaut()``), cropped to the face; the non-face picture
is its coffee-cup photograph. Pictures are only ever held in memory and inside the capture.

Run ``python -m tests.analysis.scenarios.build DIR`` to write them all for a look in Wireshark.
"""

from __future__ import annotations

import base64
import json
import random
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from scapy.layers.dhcp6 import (
    DUID_LL,
    DHCP6_Reply,
    DHCP6OptClientId,
    DHCP6OptIA_NA,
    DHCP6OptIAAddress,
    DHCP6OptServerId,
)
from scapy.layers.dns import DNS, DNSQR, DNSRR
from scapy.layers.dot11 import Dot11, RadioTap
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.inet6 import (
    ICMPv6ND_RA,
    ICMPv6NDOptPrefixInfo,
    ICMPv6NDOptSrcLLAddr,
    IPv6,
)
from scapy.layers.l2 import Ether
from scapy.packet import Packet, Raw
from scapy.utils import wrpcap

T0 = 1_767_258_000.0  # 2026-01-01 09:00:00 UTC
MSS = 1400


@dataclass(frozen=True)
class Host:
    mac: str
    ip: str


GATEWAY = Host("50:c7:bf:3a:91:01", "192.168.1.1")
RESOLVER = Host("50:c7:bf:3a:91:01", "192.168.1.1")
HIK_CAM1 = Host("44:19:b6:2e:7c:51", "192.168.1.64")
HIK_CAM2 = Host("c0:56:e3:91:0a:3d", "192.168.1.65")
HIK_NVR = Host("24:48:45:b1:3c:70", "192.168.1.200")
HIK_TERMINAL = Host("44:19:b6:77:10:20", "192.168.1.121")
DAHUA_CAM = Host("3c:ef:8c:6a:20:9e", "192.168.1.108")
ZK_TERMINAL = Host("48:e6:c6:4a:1b:2c", "192.168.1.120")
EDGE = Host("a0:36:9f:52:8d:14", "192.168.1.150")
PC = Host("f8:bc:12:6e:41:0b", "192.168.1.101")

VIID_PLATFORM = "61.155.108.34"
ADMS_SERVER = "121.40.167.52"
ISAPI_PLATFORM = "47.98.12.40"
DAHUA_PLATFORM = "47.98.12.41"
FACE_API_PLAIN = "150.109.20.77"
FACEPP = "47.97.22.180"
VENDOR_CLOUD = "116.62.118.23"
UNKNOWN_HOST = "203.0.113.50"


# -- pictures --------------------------------------------------------------------------------


def _jpeg(pixels_rgb) -> bytes:  # type: ignore[no-untyped-def]
    import cv2

    ok, buf = cv2.imencode(
        ".jpg", cv2.cvtColor(pixels_rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85]
    )
    assert ok
    return bytes(buf)


@lru_cache(maxsize=1)
def face_jpeg() -> bytes:
    import cv2
    from skimage import data

    face = data.astronaut()[8:216, 122:330]
    return _jpeg(cv2.resize(face, (176, 176), interpolation=cv2.INTER_AREA))


@lru_cache(maxsize=1)
def coffee_jpeg() -> bytes:
    from skimage import data

    return _jpeg(data.coffee())


# -- packet helpers ---------------------------------------------------------------------------


class Capture:
    def __init__(self, seed: int = 7) -> None:
        self.packets: list[Packet] = []
        self.rng = random.Random(seed)
        self.ports = 49152

    def add(self, t: float, pkt: Packet) -> None:
        pkt.time = round(T0 + t, 6)
        self.packets.append(pkt)

    def port(self) -> int:
        self.ports += 1
        return self.ports

    def write(self, path: Path) -> Path:
        self.packets.sort(key=lambda p: float(p.time))
        wrpcap(str(path), self.packets)
        return path


def _eth(src_mac: str, dst_mac: str) -> Ether:
    return Ether(src=src_mac, dst=dst_mac)


def _ip(src: str, dst: str) -> Packet:
    """An IPv4 or IPv6 header, by the addresses' family."""
    return IPv6(src=src, dst=dst) if ":" in src else IP(src=src, dst=dst)


def tcp_exchange(
    cap: Capture,
    t: float,
    client: Host,
    server_ip: str,
    dport: int,
    request: bytes,
    response: bytes,
    server_mac: str | None = None,
    gap: float = 0.0005,
) -> float:
    """A whole TCP connection: handshake, request, response, close. Returns the end time."""
    smac = server_mac or GATEWAY.mac
    sport = cap.port()
    cseq, sseq = 1000, 5000

    def c(tt: float, flags: str, payload: bytes = b"") -> None:
        nonlocal cseq
        pkt = (
            _eth(client.mac, smac)
            / _ip(client.ip, server_ip)
            / TCP(sport=sport, dport=dport, flags=flags, seq=cseq, ack=sseq, window=64240)
        )
        cap.add(tt, pkt / Raw(payload) if payload else pkt)
        cseq += len(payload) + (1 if "S" in flags or "F" in flags else 0)

    def s(tt: float, flags: str, payload: bytes = b"") -> None:
        nonlocal sseq
        pkt = (
            _eth(smac, client.mac)
            / _ip(server_ip, client.ip)
            / TCP(sport=dport, dport=sport, flags=flags, seq=sseq, ack=cseq, window=64240)
        )
        cap.add(tt, pkt / Raw(payload) if payload else pkt)
        sseq += len(payload) + (1 if "S" in flags or "F" in flags else 0)

    pkt = (
        _eth(client.mac, smac)
        / _ip(client.ip, server_ip)
        / TCP(sport=sport, dport=dport, flags="S", seq=cseq, window=64240)
    )
    cap.add(t, pkt)
    cseq += 1
    t += 0.02
    s(t, "SA")
    t += 0.02
    c(t, "A")
    for i in range(0, len(request), MSS):
        t += gap
        c(t, "PA", request[i : i + MSS])
        if (i // MSS) % 8 == 7:
            s(t + 0.0001, "A")
    t += 0.03
    for i in range(0, len(response), MSS):
        t += gap
        s(t, "PA", response[i : i + MSS])
    t += 0.001
    c(t, "A")
    t += 0.001
    c(t, "FA")
    t += 0.02
    s(t, "FA")
    t += 0.001
    c(t, "A")
    return t


def http_post(path: str, host: str, body: bytes, ctype: str | None, extra: str = "") -> bytes:
    head = f"POST {path} HTTP/1.1\r\nHost: {host}\r\n"
    if ctype:
        head += f"Content-Type: {ctype}\r\n"
    head += extra + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    return head.encode() + body


def http_ok(body: bytes = b"OK", ctype: str = "text/plain") -> bytes:
    return (
        f"HTTP/1.1 200 OK\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode() + body


def dns_lookup(
    cap: Capture, t: float, client: Host, name: str, ip: str, qid: int, resolver: Host = RESOLVER
) -> None:
    qtype = "AAAA" if ":" in ip else "A"
    q = DNS(id=qid, rd=1, qd=DNSQR(qname=name, qtype=qtype))
    cap.add(
        t,
        _eth(client.mac, resolver.mac)
        / _ip(client.ip, resolver.ip)
        / UDP(sport=40000 + qid, dport=53)
        / q,
    )
    an = DNSRR(rrname=name, type=qtype, rdata=ip, ttl=60)
    r = DNS(id=qid, qr=1, rd=1, ra=1, qd=DNSQR(qname=name, qtype=qtype), an=an)
    cap.add(
        t + 0.01,
        _eth(resolver.mac, client.mac)
        / _ip(resolver.ip, client.ip)
        / UDP(sport=53, dport=40000 + qid)
        / r,
    )


def tls_like_upload(
    cap: Capture,
    t: float,
    client: Host,
    server_ip: str,
    bursts: list[tuple[float, int]],
    down_each: int = 600,
) -> None:
    """One TCP/443 connection carrying opaque TLS application data in upload bursts."""
    sport = cap.port()
    cseq, sseq = 7000, 9000

    def seg(tt: float, up: bool, payload: bytes, flags: str = "PA") -> None:
        nonlocal cseq, sseq
        if up:
            pkt = (
                _eth(client.mac, GATEWAY.mac)
                / IP(src=client.ip, dst=server_ip)
                / TCP(sport=sport, dport=443, flags=flags, seq=cseq, ack=sseq)
            )
            cseq += len(payload) + (1 if "S" in flags else 0)
        else:
            pkt = (
                _eth(GATEWAY.mac, client.mac)
                / IP(src=server_ip, dst=client.ip)
                / TCP(sport=443, dport=sport, flags=flags, seq=sseq, ack=cseq)
            )
            sseq += len(payload) + (1 if "S" in flags else 0)
        cap.add(tt, pkt / Raw(payload) if payload else pkt)

    seg(t, True, b"", "S")
    seg(t + 0.03, False, b"", "SA")
    seg(t + 0.06, True, b"", "A")
    for when, size in bursts:
        data = b"\x17\x03\x03" + cap.rng.randbytes(size - 3)
        for i in range(0, len(data), MSS):
            seg(when + i / MSS * 0.0004, True, data[i : i + MSS])
        seg(when + 0.2, False, b"\x17\x03\x03" + cap.rng.randbytes(down_each))


def rtp_stream(
    cap: Capture, t: float, src: Host, dst: Host, seconds: int, per_second: int = 30
) -> None:
    """A camera's RTP-over-UDP stream to a local receiver (about 1 kB packets)."""
    sport, dport = 50000 + int(src.ip.split(".")[-1]), 60000 + int(src.ip.split(".")[-1])
    for k in range(seconds * per_second):
        payload = b"\x80\x60" + k.to_bytes(2, "big") + cap.rng.randbytes(1000)
        cap.add(
            t + k / per_second,
            _eth(src.mac, dst.mac)
            / IP(src=src.ip, dst=dst.ip)
            / UDP(sport=sport, dport=dport)
            / Raw(payload),
        )


# -- payloads --------------------------------------------------------------------------------


def viid_faces_body(jpeg: bytes, device_id: str = "32010500001320000001") -> bytes:
    doc = {
        "FaceListObject": {
            "FaceObject": [
                {
                    "FaceID": device_id + "02202601010900000000106",
                    "InfoKind": 1,
                    "SourceID": device_id + "022026010109000000001",
                    "DeviceID": device_id,
                    "FaceAppearTime": "20260101170000",
                    "SubImageList": {
                        "SubImageInfoObject": [
                            {
                                "ImageID": device_id + "022026010109000000001",
                                "DeviceID": device_id,
                                "Type": "11",
                                "FileFormat": "Jpeg",
                                "ShotTime": "20260101170000",
                                "Width": 176,
                                "Height": 176,
                                "Data": base64.b64encode(jpeg).decode(),
                            }
                        ]
                    },
                }
            ]
        }
    }
    return json.dumps(doc, separators=(",", ":")).encode()


def viid_post(
    cap: Capture, t: float, client: Host, jpeg: bytes, platform: str = VIID_PLATFORM,
    gateway_mac: str | None = None,
) -> float:  # fmt: skip
    body = viid_faces_body(jpeg)
    host = f"[{platform}]:8088" if ":" in platform else f"{platform}:8088"
    req = http_post(
        "/VIID/Faces",
        host,
        body,
        "application/VIID+JSON;charset=UTF-8",
        "User-Identify: 32010500001320000001\r\n",
    )
    return tcp_exchange(cap, t, client, platform, 8088, req, http_ok(b'{"StatusCode":0}'),
                        server_mac=gateway_mac)  # fmt: skip


# -- scenarios --------------------------------------------------------------------------------


def viid_confirmed(d: Path) -> Path:
    """A Hikvision camera posts a GA/T 1400 face object with a face picture off-site."""
    cap = Capture(1)
    t = 1.0
    for _ in range(2):
        t = viid_post(cap, t, HIK_CAM1, face_jpeg()) + 5.0
    return cap.write(d / "viid_confirmed.pcap")


def isapi_multipart(d: Path) -> Path:
    """A Hikvision face terminal pushes an access-control event with its Picture part."""
    cap = Capture(2)
    event = {
        "ipAddress": HIK_TERMINAL.ip,
        "dateTime": "2026-01-01T17:00:00+08:00",
        "eventType": "AccessControllerEvent",
        "AccessControllerEvent": {
            "deviceName": "Access Controller",
            "majorEventType": 5,
            "subEventType": 75,
            "employeeNoString": "1007",
            "name": "Visitor",
        },
    }
    b = "MIME_boundary"
    body = (
        f'--{b}\r\nContent-Disposition: form-data; name="AccessControllerEvent"\r\n'
        "Content-Type: application/json\r\n\r\n"
    ).encode() + json.dumps(event).encode()
    body += (
        f'\r\n--{b}\r\nContent-Disposition: form-data; name="Picture"; filename="Picture.jpg"'
        "\r\nContent-Type: image/jpeg\r\n\r\n"
    ).encode() + face_jpeg()
    body += f"\r\n--{b}--\r\n".encode()
    req = http_post(
        "/event/notify", f"{ISAPI_PLATFORM}:8080", body, f"multipart/form-data; boundary={b}"
    )
    tcp_exchange(cap, 1.0, HIK_TERMINAL, ISAPI_PLATFORM, 8080, req, http_ok())
    return cap.write(d / "isapi_multipart.pcap")


def dahua_snapshot(d: Path) -> Path:
    """A Dahua camera uploads a face-detection snapshot with its event metadata."""
    cap = Capture(3)
    b = "myboundary"
    meta = (
        "Events[0].Code=FaceDetection\r\nEvents[0].Action=Pulse\r\nEvents[0].Index=0\r\n"
        "Events[0].Data.Faces[0].Sex=Woman\r\n"
    )
    body = (
        (
            f"--{b}\r\nContent-Type: text/plain\r\nContent-Length: {len(meta)}\r\n\r\n{meta}\r\n"
            f"--{b}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(face_jpeg())}\r\n\r\n"
        ).encode()
        + face_jpeg()
        + f"\r\n--{b}--\r\n".encode()
    )
    req = http_post(
        "/upload/snapshot", f"{DAHUA_PLATFORM}:9500", body, f"multipart/mixed; boundary={b}"
    )
    tcp_exchange(cap, 1.0, DAHUA_CAM, DAHUA_PLATFORM, 9500, req, http_ok())
    return cap.write(d / "dahua_snapshot.pcap")


def iclock_attphoto(d: Path) -> Path:
    """A ZKTeco terminal pushes an attendance photo (ADMS ATTPHOTO) to a cloud server."""
    cap = Capture(4)
    sn = "CQUJ224460123"
    head = f"PIN=20260101170000-1007.jpg\nSN={sn}\nsize={len(face_jpeg())}\nCMD=uploadphoto\0"
    body = head.encode() + face_jpeg()
    req = http_post(f"/iclock/cdata?SN={sn}&table=ATTPHOTO&Stamp=9999", f"{ADMS_SERVER}:8081",
                    body, None, "User-Agent: iClock Proxy/1.09\r\n")  # fmt: skip
    tcp_exchange(cap, 1.0, ZK_TERMINAL, ADMS_SERVER, 8081, req, http_ok())
    return cap.write(d / "iclock_attphoto.pcap")


def json_face_api(d: Path) -> Path:
    """Software on an office PC posts a base64 face picture to a face API over plain HTTP."""
    cap = Capture(5)
    body = json.dumps(
        {"app_id": "10001", "image": base64.b64encode(face_jpeg()).decode(), "mode": 0}
    ).encode()
    req = http_post("/youtu/api/detectface", "api.youtu.qq.com", body, "text/json")
    dns_lookup(cap, 0.5, PC, "api.youtu.qq.com", FACE_API_PLAIN, 11)
    tcp_exchange(cap, 1.0, PC, FACE_API_PLAIN, 80, req, http_ok(b'{"errorcode":0}'))
    return cap.write(d / "json_face_api.pcap")


def _edge_streams(cap: Capture, seconds: int = 12) -> None:
    rtp_stream(cap, 0.5, HIK_CAM1, EDGE, seconds)
    rtp_stream(cap, 0.6, HIK_CAM2, EDGE, seconds)


def likely_face_cloud(d: Path) -> Path:
    """An edge server pulling two cameras uploads picture-sized TLS bursts to Face++."""
    cap = Capture(6)
    _edge_streams(cap)
    dns_lookup(cap, 1.0, EDGE, "api-cn.faceplusplus.com", FACEPP, 21)
    tls_like_upload(cap, 1.2, EDGE, FACEPP, [(2.0, 60_000), (5.0, 90_000), (8.0, 45_000)])
    return cap.write(d / "likely_face_cloud.pcap")


def possible_vendor_cloud(d: Path) -> Path:
    """An NVR sends sustained media to its vendor cloud; a camera only keeps alive."""
    cap = Capture(7)
    dns_lookup(cap, 0.5, HIK_NVR, "pbdev.ys7.com", VENDOR_CLOUD, 31)
    bursts = [(1.0 + 2.0 * k, 40_000) for k in range(40)]  # 1.6 MB over 80 s
    tls_like_upload(cap, 0.8, HIK_NVR, VENDOR_CLOUD, bursts, down_each=80)
    dns_lookup(cap, 0.6, HIK_CAM2, "pbdev.ys7.com", VENDOR_CLOUD, 32)
    tls_like_upload(cap, 0.9, HIK_CAM2, VENDOR_CLOUD, [(1.0 + 30.0 * k, 120) for k in range(3)],
                    down_each=80)  # fmt: skip
    return cap.write(d / "possible_vendor_cloud.pcap")


def multihop_edge(d: Path) -> Path:
    """Two cameras stream to an edge server, which posts face objects off-site."""
    cap = Capture(8)
    _edge_streams(cap)
    viid_post(cap, 3.0, EDGE, face_jpeg())
    return cap.write(d / "multihop_edge.pcap")


def benign_local(d: Path) -> Path:
    """Cameras stream to the NVR on the premises; only DNS leaves."""
    cap = Capture(9)
    rtp_stream(cap, 0.5, HIK_CAM1, HIK_NVR, 10)
    rtp_stream(cap, 0.6, HIK_CAM2, HIK_NVR, 10)
    dns_lookup(cap, 1.0, HIK_NVR, "ntp.aliyun.com", "203.107.6.88", 41)
    return cap.write(d / "benign_local.pcap")


def nonface_upload(d: Path) -> Path:
    """A camera uploads a picture without a face (a coffee cup) to an off-site host."""
    cap = Capture(10)
    b = "snapbound"
    body = (
        (
            f'--{b}\r\nContent-Disposition: form-data; name="snapshot"; filename="snap.jpg"\r\n'
            "Content-Type: image/jpeg\r\n\r\n"
        ).encode()
        + coffee_jpeg()
        + f"\r\n--{b}--\r\n".encode()
    )
    req = http_post("/api/upload", f"{UNKNOWN_HOST}:8080", body,
                    f"multipart/form-data; boundary={b}")  # fmt: skip
    tcp_exchange(cap, 1.0, HIK_CAM1, UNKNOWN_HOST, 8080, req, http_ok())
    return cap.write(d / "nonface_upload.pcap")


def wlan_camera(d: Path) -> Path:
    """A Hikvision-OUI station seen only as encrypted 802.11, streaming steadily upstream."""
    cap = Capture(11)
    sta, bssid, gw = HIK_CAM1.mac.replace("2e:7c:51", "2e:7c:99"), "60:e3:27:00:11:22", GATEWAY.mac
    for k in range(60 * 25):  # 60 s, 25 frames/s, ~1.2 kB each
        frame = (
            RadioTap()
            / Dot11(type=2, subtype=0, FCfield=0x41, addr1=bssid, addr2=sta, addr3=gw)
            / Raw(b"\x01\x00\x00\x20" + cap.rng.randbytes(1200))
        )
        cap.add(k / 25, frame)
        if k % 50 == 0:
            ack = (
                RadioTap()
                / Dot11(type=2, subtype=0, FCfield=0x42, addr1=sta, addr2=bssid, addr3=gw)
                / Raw(b"\x01\x00\x00\x20" + cap.rng.randbytes(80))
            )
            cap.add(k / 25 + 0.01, ack)
    return cap.write(d / "wlan_camera.pcap")


# -- global IPv6 premises (SLAAC, DHCPv6): the premises are inferred from the link ----------

V6_PREFIX = "2408:8207:1850:a2c0"  # the premises' /64 (a Chinese ISP's allocation)
V6_ROUTER = Host(GATEWAY.mac, f"{V6_PREFIX}::1")
V6_ROUTER_LL = "fe80::52c7:bfff:fe3a:9101"
V6_CAM = Host(HIK_CAM1.mac, f"{V6_PREFIX}:4619:b6ff:fe2e:7c51")  # SLAAC (EUI-64)
V6_TERMINAL = Host(HIK_TERMINAL.mac, f"{V6_PREFIX}:4619:b6ff:fe77:1020")
V6_NVR = Host(HIK_NVR.mac, f"{V6_PREFIX}:2648:45ff:feb1:3c70")
V6_VIID_PLATFORM = "240e:f7:4f01:c::34"  # the face platform, reached through the gateway
V6_ISAPI_PLATFORM = "240e:f7:4f01:d::40"
V6_RESOLVER = Host(GATEWAY.mac, "2408:8899::8")  # the ISP's resolver, off-site
V6_NTP = "2001:da8:9000::130"


def _router_advert(cap: Capture, t: float, prefix: str = f"{V6_PREFIX}::", plen: int = 64) -> None:
    cap.add(
        t,
        _eth(GATEWAY.mac, "33:33:00:00:00:01")
        / IPv6(src=V6_ROUTER_LL, dst="ff02::1", hlim=255)
        / ICMPv6ND_RA(routerlifetime=1800)
        / ICMPv6NDOptSrcLLAddr(lladdr=GATEWAY.mac)
        / ICMPv6NDOptPrefixInfo(prefix=prefix, prefixlen=plen, L=1, A=1,
                                validlifetime=86400, preferredlifetime=14400),
    )  # fmt: skip


def _isapi_body(terminal: Host) -> tuple[bytes, str]:
    event = {
        "ipAddress": terminal.ip,
        "dateTime": "2026-01-01T17:00:00+08:00",
        "eventType": "AccessControllerEvent",
        "AccessControllerEvent": {"deviceName": "Access Controller", "majorEventType": 5,
                                  "subEventType": 75, "employeeNoString": "1007"},
    }  # fmt: skip
    b = "MIME_boundary"
    body = (
        f'--{b}\r\nContent-Disposition: form-data; name="AccessControllerEvent"\r\n'
        "Content-Type: application/json\r\n\r\n"
    ).encode() + json.dumps(event).encode()
    body += (
        f'\r\n--{b}\r\nContent-Disposition: form-data; name="Picture"; filename="Picture.jpg"'
        "\r\nContent-Type: image/jpeg\r\n\r\n"
    ).encode() + face_jpeg()
    body += f"\r\n--{b}--\r\n".encode()
    return body, f"multipart/form-data; boundary={b}"


def ipv6_slaac(d: Path) -> Path:
    """IPv6 only, global SLAAC addresses from the router's advertised /64: a camera posts
    GA/T 1400 faces and a face terminal an ISAPI event picture to platforms in China."""
    cap = Capture(12)
    _router_advert(cap, 0.1)
    cap.add(0.5, _eth(V6_CAM.mac, V6_NVR.mac) / IPv6(src=V6_CAM.ip, dst=V6_NVR.ip)
            / UDP(sport=50064, dport=60064) / Raw(b"\x80\x60" + bytes(200)))  # fmt: skip
    t = viid_post(cap, 1.0, V6_CAM, face_jpeg(), V6_VIID_PLATFORM)
    body, ctype = _isapi_body(V6_TERMINAL)
    req = http_post("/event/notify", f"[{V6_ISAPI_PLATFORM}]:8080", body, ctype)
    tcp_exchange(cap, t + 1.0, V6_TERMINAL, V6_ISAPI_PLATFORM, 8080, req, http_ok())
    _router_advert(cap, 9.0)  # periodic: the repeat says nothing new
    return cap.write(d / "ipv6_slaac.pcap")


def ipv6_slaac_no_ra(d: Path) -> Path:
    """IPv6 only, no Router Advertisement captured: the gateway is the MAC that carries
    off-site addresses of several networks (resolver, time server, face platform)."""
    cap = Capture(13)
    dns_lookup(cap, 0.5, V6_CAM, "viid.example.cn", V6_VIID_PLATFORM, 51, resolver=V6_RESOLVER)
    cap.add(0.7, _eth(V6_CAM.mac, GATEWAY.mac) / IPv6(src=V6_CAM.ip, dst=V6_NTP)
            / UDP(sport=123, dport=123) / Raw(b"\x23" + bytes(47)))  # fmt: skip
    viid_post(cap, 1.0, V6_CAM, face_jpeg(), V6_VIID_PLATFORM)
    return cap.write(d / "ipv6_slaac_no_ra.pcap")


def dual_stack_dhcpv6(d: Path) -> Path:
    """Dual stack: private IPv4 and global IPv6 from DHCPv6 (IA_NA). The camera resolves
    over IPv4 through the gateway and posts faces over IPv6."""
    cap = Capture(14)
    cam4 = HIK_CAM1
    duid = DUID_LL(lladdr=cam4.mac)
    reply = (
        _eth(GATEWAY.mac, cam4.mac)
        / IPv6(src=V6_ROUTER_LL, dst="fe80::4619:b6ff:fe2e:7c51")
        / UDP(sport=547, dport=546)
        / DHCP6_Reply(trid=0x51A7)
        / DHCP6OptClientId(duid=duid)
        / DHCP6OptServerId(duid=DUID_LL(lladdr=GATEWAY.mac))
        / DHCP6OptIA_NA(iaid=1, T1=3600, T2=5400, ianaopts=[
            DHCP6OptIAAddress(addr=V6_CAM.ip, preflft=7200, validlft=7500)])
    )  # fmt: skip
    cap.add(0.2, reply)
    dns_lookup(cap, 0.5, cam4, "viid.example.cn", V6_VIID_PLATFORM, 61)
    tcp_exchange(cap, 0.6, cam4, "203.107.6.88", 443, b"\x16\x03\x01" + bytes(200), b"")
    viid_post(cap, 1.5, V6_CAM, face_jpeg(), V6_VIID_PLATFORM)
    return cap.write(d / "dual_stack_dhcpv6.pcap")


SCENARIOS: dict[str, Callable[[Path], Path]] = {
    f.__name__: f
    for f in (
        viid_confirmed,
        isapi_multipart,
        dahua_snapshot,
        iclock_attphoto,
        json_face_api,
        likely_face_cloud,
        possible_vendor_cloud,
        multihop_edge,
        benign_local,
        nonface_upload,
        wlan_camera,
        ipv6_slaac,
        ipv6_slaac_no_ra,
        dual_stack_dhcpv6,
    )
}


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else Path("scenarios-out")
    out.mkdir(parents=True, exist_ok=True)
    for name, fn in SCENARIOS.items():
        print(name, fn(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
