#!/usr/bin/env python3
"""Mutation fuzzing of netscan's analysis with damaged captures, deterministic by seed.

Seed captures (a generated one with DNS, mDNS, DHCP, TLS, HTTP, SSDP and RTSP payloads, the
same through a remote mirror's encapsulations, a window of the demo capture and the public captures in ../shared/realworld) are mutated at
the packet level: bit flips, truncations, inserted bytes, and length fields that lie in the
IP/UDP/TCP headers and in DNS, DHCP, TLS, HTTP and SSDP payloads; now and then the capture
container itself (record lengths, block lengths, a cut file). Each mutant goes through
netscan, in this process (``--mode analyzer``) or through the real command line
(``--mode cli``), and must end in a report (exit 0) or one clear line (exit 2): any other
exception, exit status, traceback, hang or missing report is a crash.

Every crash is kept as a reproducer: ``OUT/crash-<seed>-<n>.<ext>`` (the mutated capture)
and ``.txt`` beside it (what was mutated, the error, the command that replays it).
``--seed S --only N`` rebuilds and runs exactly mutant N of seed S.

``--compare-jobs N`` analyses each mutant a second time with ``--jobs N`` (the core run
ahead in its own thread) and fails the mutant when the two JSON reports differ in anything
but the time each was made; ``--batch`` makes the core's batches small, so that even the
small seed captures cross many batches and the stops handed back between them.

Nothing here depends on which engine runs: ``--engine NAME`` passes the engine through, so
the same mutants exercise every engine netscan has.

    python scripts/fuzz.py --iterations 2000 --seed 7                 # in-process, fast
    python scripts/fuzz.py --mode cli --iterations 200 --jobs 2       # the real CLI
    python scripts/fuzz.py --seed 7 --only 1234 --keep                # replay one mutant
    python scripts/fuzz.py --compare-jobs 2 --batch 7 -n 2000         # --jobs 2 = one job

Exit status: 0 no crash, 1 crashes found (reproducers written), 2 bad usage.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import resource
import signal
import struct
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REALWORLD = Path(os.environ.get("NETSCAN_REALWORLD", ROOT.parent / "shared" / "realworld"))
DEMO = ROOT / "pcaps" / "demo_sales_office.pcapng"

# small public captures that carry the protocols the mutators know
PUBLIC_SEEDS = (
    "dhcp_wireshark_arkime.pcap",
    "mdns_zeek.pcap",
    "http_png_post_offsite_zeek.pcap",
    "http_multipart_form_zeek.pcap",
    "wsd_ssdp_discovery_ndpi.pcap",
    "cam_edimax_setup_iotsentinel.pcap",
    "cam_dlink_dcs935l_setup_iotsentinel.pcap",
    "tls_sni_many_sites_22if_ndpi.pcapng",
    "link_pppoe_qinq_zeek.pcap",
    "wifi_radiotap_http_arkime.pcap",
    "nbns_netbios_vlan_ndpi.pcap",
    "sip_calls_zeek.pcap",
    "bad_dhcp_fuzz_ndpi.pcapng",
    "link_perpacket_126if_zeek.pcapng",
    "link_rawip_mqtt_arkime.pcap",
)
MAX_RECORDS = 300  # a mutant holds at most this many packets: small, fast, still stateful
SNAPLEN = 262144

Rec = tuple[float, int, bytes]  # (timestamp, link type, frame bytes)


# -- seeds ------------------------------------------------------------------------------------


@dataclass
class Seed:
    name: str
    records: list[Rec]
    interesting: list[int] = field(default_factory=list)  # indices carrying known payloads


def read_capture(path: Path) -> list[Rec]:
    """The records of a capture, read with netscan's own reader (the seeds are sound)."""
    from netscan.sources.pcapfile import CaptureError, CaptureFile

    try:
        cap = CaptureFile(path)
    except CaptureError:
        return []
    try:
        return [(r.ts, r.linktype, bytes(r.data)) for r in cap]
    finally:
        cap.close()


def _ip4(src: str) -> bytes:
    return bytes(int(x) for x in src.split("."))


def _csum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def _eth_ip(smac: str, dmac: str, src: str, dst: str, proto: int, l4: bytes) -> bytes:
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), 1, 0, 64, proto, 0,
                     _ip4(src), _ip4(dst))  # fmt: skip
    ip = ip[:10] + struct.pack("!H", _csum(ip)) + ip[12:]
    return bytes.fromhex(dmac.replace(":", "")) + bytes.fromhex(smac.replace(":", "")) + \
        b"\x08\x00" + ip + l4  # fmt: skip


def _udp(sport: int, dport: int, payload: bytes) -> bytes:
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


def _tcp(sport: int, dport: int, seq: int, ack: int, flags: int, payload: bytes) -> bytes:
    return struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 65535, 0, 0) + payload


def _dns_name(name: str) -> bytes:
    return b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"


def _dns(qid: int, name: str, answer: str | None) -> bytes:
    out = struct.pack("!HHHHHH", qid, 0x8180 if answer else 0x0100, 1, 1 if answer else 0, 0, 0)
    out += _dns_name(name) + struct.pack("!HH", 1, 1)
    if answer:
        out += b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 300, 4) + _ip4(answer)
    return out


def _dhcp(mac: str, hostname: str, vendor: str) -> bytes:
    chaddr = bytes.fromhex(mac.replace(":", "")) + b"\0" * 10
    out = struct.pack("!BBBBIHH4s4s4s4s", 1, 1, 6, 0, 0x1234, 0, 0x8000, b"\0" * 4, b"\0" * 4,
                      b"\0" * 4, b"\0" * 4) + chaddr + b"\0" * 192 + b"\x63\x82\x53\x63"  # fmt: skip
    opts = [(53, b"\x03"), (12, hostname.encode()), (60, vendor.encode()),
            (55, bytes([1, 3, 6, 15, 119, 252])), (50, _ip4("192.168.8.40"))]  # fmt: skip
    for code, val in opts:
        out += bytes([code, len(val)]) + val
    return out + b"\xff"


def _client_hello(sni: str) -> bytes:
    name = sni.encode()
    sni_ext = struct.pack("!HHHBH", 0, len(name) + 5, len(name) + 3, 0, len(name)) + name
    alpn = b"\x00\x10\x00\x0b\x00\x09\x08http/1.1"
    exts = sni_ext + alpn
    body = b"\x03\x03" + bytes(range(32)) + b"\x00" + b"\x00\x04\x13\x01\xc0\x2f" + b"\x01\x00"
    body += struct.pack("!H", len(exts)) + exts
    hs = b"\x01" + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x01" + struct.pack("!H", len(hs)) + hs


CAM, GW, CAM_IP, CLOUD = "c0:56:e3:11:22:33", "00:11:22:33:44:55", "192.168.8.40", "47.88.1.2"


def upload_session(t: float, path: str, ctype: str, body: bytes, port: int = 42000) -> list[Rec]:
    """The camera posting ``body`` to the cloud over HTTP: handshake, the request in
    1400-byte segments, the answer; one record every 10 ms from ``t``."""
    head = (f"POST {path} HTTP/1.1\r\nHost: {CLOUD}\r\nContent-Type: {ctype}\r\n"
            f"User-Agent: IPCam/2.0\r\nContent-Length: {len(body)}\r\n\r\n").encode()  # fmt: skip
    frames = [_eth_ip(CAM, GW, CAM_IP, CLOUD, 6, _tcp(port, 80, 1, 0, 0x02, b"")),
              _eth_ip(GW, CAM, CLOUD, CAM_IP, 6, _tcp(80, port, 9, 2, 0x12, b""))]  # fmt: skip
    data, seq = head + body, 2
    for i in range(0, len(data), 1400):
        chunk = data[i : i + 1400]
        frames.append(_eth_ip(CAM, GW, CAM_IP, CLOUD, 6, _tcp(port, 80, seq, 10, 0x18, chunk)))
        seq += len(chunk)
    resp = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: application/json\r\n\r\n{}"
    frames.append(_eth_ip(GW, CAM, CLOUD, CAM_IP, 6, _tcp(80, port, 10, seq, 0x18, resp)))
    return [(t + 0.01 * (i + 1), 1, f) for i, f in enumerate(frames)]


def generated_seed() -> Seed:
    """A small capture made here: a camera that resolves, leases, announces itself and
    uploads a picture over HTTP, plus TLS to a face cloud and an RTSP viewer."""
    cam, gw, nvr = CAM, GW, "4c:bd:8f:aa:bb:cc"
    cam_ip, gw_ip, nvr_ip, cloud = CAM_IP, "192.168.8.1", "192.168.8.50", CLOUD
    t = 1_770_000_000.0
    recs: list[Rec] = []

    def add(frame: bytes) -> None:
        nonlocal t
        t += 0.01
        recs.append((t, 1, frame))

    add(_eth_ip(cam, "ff:ff:ff:ff:ff:ff", "0.0.0.0", "255.255.255.255", 17,
                _udp(68, 67, _dhcp(cam, "IPC-cam-01", "udhcp 1.19.4"))))  # fmt: skip
    add(
        _eth_ip(
            cam, gw, cam_ip, gw_ip, 17, _udp(40000, 53, _dns(7, "api.face-cloud.example.cn", None))
        )
    )
    add(
        _eth_ip(
            gw, cam, gw_ip, cam_ip, 17, _udp(53, 40000, _dns(7, "api.face-cloud.example.cn", cloud))
        )
    )
    mdns = _dns(0, "_rtsp._tcp.local", "192.168.8.40")
    add(_eth_ip(cam, "01:00:5e:00:00:fb", cam_ip, "224.0.0.251", 17, _udp(5353, 5353, mdns)))
    ssdp = (b"NOTIFY * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nCACHE-CONTROL: max-age=1800\r\n"
            b"LOCATION: http://192.168.8.40:80/desc.xml\r\nNT: upnp:rootdevice\r\nNTS: ssdp:alive\r\n"
            b"SERVER: Linux/3.10 UPnP/1.0 IPCamera/1.0\r\nUSN: uuid:abcd::upnp:rootdevice\r\n\r\n")  # fmt: skip
    add(_eth_ip(cam, "01:00:5e:7f:ff:fa", cam_ip, "239.255.255.250", 17, _udp(1900, 1900, ssdp)))
    # TLS to the face cloud
    add(_eth_ip(cam, gw, cam_ip, cloud, 6, _tcp(41000, 443, 1000, 0, 0x02, b"")))
    add(_eth_ip(gw, cam, cloud, cam_ip, 6, _tcp(443, 41000, 5000, 1001, 0x12, b"")))
    hello = _client_hello("api.face-cloud.example.cn")
    add(_eth_ip(cam, gw, cam_ip, cloud, 6, _tcp(41000, 443, 1001, 5001, 0x18, hello)))
    # an HTTP upload of a picture (JPEG markers, not a real face)
    body = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 24 + b"\xff\xd9"
    for _ts, _lt, frame in upload_session(t, "/api/v1/face/upload", "image/jpeg", body):
        add(frame)
    # an NVR pulling RTSP from the camera
    rtsp = b"DESCRIBE rtsp://192.168.8.40:554/Streaming/Channels/101 RTSP/1.0\r\nCSeq: 2\r\n\r\n"
    add(_eth_ip(nvr, cam, nvr_ip, cam_ip, 6, _tcp(43000, 554, 1, 1, 0x18, rtsp)))
    rtsp_ok = b"RTSP/1.0 200 OK\r\nCSeq: 2\r\nServer: Hikvision-Webs\r\nContent-Length: 0\r\n\r\n"
    add(_eth_ip(cam, nvr, cam_ip, nvr_ip, 6, _tcp(554, 43000, 1, 1 + len(rtsp), 0x18, rtsp_ok)))
    return Seed("generated", recs)


def load_seeds(names: list[str] | None = None) -> list[Seed]:
    """The generated seed (also as a remote mirror delivers it: each frame in ERSPAN, GRE
    bridging, VXLAN or GENEVE), the demo capture (when present) and the public captures."""
    from tests.engine.tunnels import KINDS, encapsulate

    seeds = [generated_seed()]
    mirrored = [(ts, 1, encapsulate(KINDS[i % len(KINDS)], d, i))
                for i, (ts, lt, d) in enumerate(seeds[0].records) if lt == 1]  # fmt: skip
    seeds.append(Seed("generated_mirrored", mirrored))
    if DEMO.exists():
        seeds.append(Seed("demo_sales_office.pcapng", read_capture(DEMO)))
    for name in PUBLIC_SEEDS:
        path = REALWORLD / name
        if path.exists():
            recs = read_capture(path)
            if recs:
                seeds.append(Seed(name, recs))
    if names:
        seeds = [s for s in seeds if s.name in names]
    for s in seeds:
        s.interesting = [
            i for i, (_, lt, d) in enumerate(s.records) if _kind(locate(lt, d), d) in BY_KIND
        ]
    return seeds


# -- packet anatomy ---------------------------------------------------------------------------


@dataclass
class Layers:
    l3: int  # offset of the IP header
    version: int
    proto: int = -1
    l4: int = -1  # offset of the UDP/TCP header
    payload: int = -1  # offset of the application payload
    sport: int = 0
    dport: int = 0


def locate(linktype: int, d: bytes) -> Layers | None:
    """Where the IP, transport and payload start in a frame (None if not IP)."""
    if linktype == 1:
        off, et = 14, d[12:14] if len(d) >= 14 else b""
        while et in (b"\x81\x00", b"\x88\xa8") and len(d) >= off + 4:
            et, off = d[off + 2 : off + 4], off + 4
        if et == b"\x88\x64" and len(d) >= off + 8:  # PPPoE session: PPP protocol follows
            et = {b"\x00\x21": b"\x08\x00", b"\x00\x57": b"\x86\xdd"}.get(d[off + 6 : off + 8], b"")
            off += 8
    elif linktype == 113 and len(d) >= 16:
        off, et = 16, d[14:16]
    elif linktype == 276 and len(d) >= 20:
        off, et = 20, d[0:2]
    elif linktype in (101, 12, 14, 228, 229):
        off = 0
        et = b"\x08\x00" if d[:1] and d[0] >> 4 == 4 else b"\x86\xdd"
    elif linktype == 0 and len(d) >= 4:
        off, et = 4, b"\x08\x00" if d[4:5] and d[4] >> 4 == 4 else b"\x86\xdd"
    else:
        return None
    if et == b"\x08\x00" and len(d) >= off + 20:
        lay = Layers(off, 4, d[off + 9])
        lay.l4 = off + (d[off] & 0x0F) * 4
    elif et == b"\x86\xdd" and len(d) >= off + 40:
        lay = Layers(off, 6, d[off + 6])
        lay.l4 = off + 40
    else:
        return None
    if lay.proto == 17 and len(d) >= lay.l4 + 8:
        lay.payload = lay.l4 + 8
    elif lay.proto == 6 and len(d) >= lay.l4 + 20:
        lay.payload = lay.l4 + (d[lay.l4 + 12] >> 4) * 4
    else:
        return lay
    lay.sport, lay.dport = struct.unpack_from("!HH", d, lay.l4)
    return lay


TEXT_STARTS = (b"GET ", b"POST ", b"PUT ", b"HEAD ", b"NOTIFY ", b"M-SEARCH ", b"HTTP/",
               b"RTSP/", b"DESCRIBE ", b"SETUP ", b"OPTIONS ", b"INVITE ", b"SIP/")  # fmt: skip


def _kind(lay: Layers | None, d: bytes | None = None) -> str:
    if lay is None or lay.payload < 0:
        return ""
    ports = {lay.sport, lay.dport}
    if lay.proto == 17 and ports & {53, 5353, 5355, 137}:
        return "dns"
    if lay.proto == 17 and ports & {67, 68}:
        return "dhcp"
    if d is not None:
        p = d[lay.payload : lay.payload + 8]
        if len(p) >= 6 and p[0] in (0x16, 0x17, 0x15) and p[1] == 3:
            return "tls"
        if p.startswith(TEXT_STARTS):
            return "text"
    if lay.proto == 17 and ports & {1900, 3702}:
        return "text"
    if lay.proto == 6 and ports & {443, 8443}:
        return "tls"
    if lay.proto == 6 and ports & {80, 8080, 554, 5060}:
        return "text"
    return "transport"


# -- mutators: each edits the frame in place and says what it did (None: not applicable) ---

Mutator = Callable[[random.Random, bytearray, Layers | None], str | None]
HUGE = (0, 1, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF)


def _set16(d: bytearray, off: int, v: int) -> None:
    if off + 2 <= len(d):
        struct.pack_into("!H", d, off, v & 0xFFFF)


def m_bitflip(rng: random.Random, d: bytearray, lay: Layers | None) -> str | None:
    if not d:
        return None
    start = lay.payload if lay and 0 <= lay.payload < len(d) and rng.random() < 0.7 else 0
    flips = [(rng.randrange(start, len(d)), rng.randrange(8)) for _ in range(rng.randint(1, 8))]
    for off, bit in flips:
        d[off] ^= 1 << bit
    return f"bitflip {flips}"


def m_truncate(rng: random.Random, d: bytearray, lay: Layers | None) -> str | None:
    if len(d) < 2:
        return None
    cut = rng.randrange(1, len(d))
    del d[cut:]
    return f"truncate at {cut}"


def m_insert(rng: random.Random, d: bytearray, lay: Layers | None) -> str | None:
    start = lay.payload if lay and 0 <= lay.payload <= len(d) else 0
    off = rng.randint(start, len(d))
    blob = bytes(
        rng.choice((0x00, 0xFF, 0x41, rng.randrange(256))) for _ in range(rng.randint(1, 64))
    )
    d[off:off] = blob
    return f"insert {len(blob)} bytes at {off}"


def m_special_byte(rng: random.Random, d: bytearray, lay: Layers | None) -> str | None:
    if not d:
        return None
    off = rng.randrange(len(d))
    d[off] = rng.choice((0x00, 0x7F, 0x80, 0xFF, 0x0A, 0x0D, 0x1B, 0x5B))
    return f"byte {off} = {d[off]:#x}"


def m_ip_lie(rng: random.Random, d: bytearray, lay: Layers | None) -> str | None:
    if lay is None:
        return None
    if lay.version == 4:
        what = rng.choice(("total_length", "ihl", "fragment"))
        if what == "total_length":
            _set16(d, lay.l3 + 2, rng.choice(HUGE + (len(d) - lay.l3 + 100,)))
        elif what == "ihl":
            d[lay.l3] = 0x40 | rng.choice((0, 1, 4, 6, 15))
        else:
            _set16(d, lay.l3 + 6, rng.choice((0x2000, 0x1FFF, 0x3FFF, 0x0001, 0x2001)))
        return f"ipv4 {what} lie"
    _set16(d, lay.l3 + 4, rng.choice(HUGE))
    return "ipv6 payload length lie"


def m_l4_lie(rng: random.Random, d: bytearray, lay: Layers | None) -> str | None:
    if lay is None or lay.l4 < 0 or lay.l4 + 14 > len(d):
        return None
    if lay.proto == 17:
        _set16(d, lay.l4 + 4, rng.choice(HUGE + (7, 9)))
        return "udp length lie"
    if lay.proto == 6:
        d[lay.l4 + 12] = rng.choice((0, 1, 4, 15)) << 4
        return "tcp data offset lie"
    return None


def m_dns(rng: random.Random, d: bytearray, lay: Layers | None) -> str | None:
    if lay is None or lay.payload < 0 or len(d) < lay.payload + 12:
        return None
    p = lay.payload
    what = rng.choice(("counts", "label", "pointer", "rdlength"))
    if what == "counts":
        for i in range(4):
            if rng.random() < 0.5:
                _set16(d, p + 4 + 2 * i, rng.choice(HUGE))
    elif what in ("label", "pointer"):
        labels, off = [], p + 12
        while off < len(d) and d[off] and len(labels) < 32:
            labels.append(off)
            off += 1 + (d[off] & 0x3F)
        if not labels:
            return None
        at = rng.choice(labels)
        if what == "label":
            d[at] = rng.choice((0x3F, 0x40, 0x7F, len(d))) & 0xFF
        elif at + 1 < len(d):
            target = rng.choice((at - p, 12, 0x3FFF, len(d) - p))  # itself, a loop, far away
            struct.pack_into("!H", d, at, 0xC000 | (target & 0x3FFF))
    else:
        off = rng.randrange(p + 12, len(d) - 1) if len(d) > p + 13 else p + 10
        _set16(d, off, 0xFFFF)
    return f"dns {what} lie"


def m_dhcp(rng: random.Random, d: bytearray, lay: Layers | None) -> str | None:
    if lay is None or lay.payload < 0:
        return None
    off = lay.payload + 240
    opts = []
    while off + 1 < len(d) and d[off] != 0xFF and len(opts) < 64:
        if d[off] == 0:
            off += 1
            continue
        opts.append(off)
        off += 2 + d[off + 1]
    what = rng.choice(("length", "no-end", "hostile-hostname", "cookie"))
    if what == "length" and opts:
        d[rng.choice(opts) + 1] = rng.choice((0, 1, 0xFF, 0x80))
    elif what == "no-end" and off < len(d):
        del d[off:]
    elif what == "hostile-hostname":
        name = rng.choice((b"cam[/oops]", b"\x1b]0;owned\x07", b"a\r\nForged: line", b"\xff\xfe\x00",
                           b"[@click=app.quit]x", b"\xe2\x80\xaeevil", b"x" * 255))  # fmt: skip
        at = min(max(lay.payload + 240, 0), len(d))
        d[at:at] = bytes([12, len(name)]) + name
    elif what == "cookie" and len(d) >= lay.payload + 240:
        d[lay.payload + 236 : lay.payload + 240] = bytes(rng.randrange(256) for _ in range(4))
    else:
        return None
    return f"dhcp {what}"


def m_tls(rng: random.Random, d: bytearray, lay: Layers | None) -> str | None:
    if lay is None or lay.payload < 0 or len(d) < lay.payload + 9:
        return None
    p = lay.payload
    what = rng.choice(("record", "handshake", "extension", "sni"))
    if what == "record":
        _set16(d, p + 3, rng.choice(HUGE))
    elif what == "handshake":
        d[p + 6 : p + 9] = rng.choice((b"\xff\xff\xff", b"\x00\x00\x00", b"\x00\x40\x00"))
    else:
        # any two-byte field past the fixed ClientHello part: extension and SNI lengths
        lo = p + 9 + 38
        if len(d) <= lo + 2:
            return None
        idx = d.find(b"\x00\x00", lo) if what == "sni" else -1
        off = idx + 2 if idx > 0 and idx + 4 <= len(d) else rng.randrange(lo, len(d) - 1)
        _set16(d, off, rng.choice(HUGE))
    return f"tls {what} length lie"


HOSTILE = (b"[/oops]", b"[link=file:///etc/passwd]x[/link]", b"\x1b[2J\x1b]0;t\x07", b"\r\nX: y",
           b"<script>alert(1)</script>", b"\xe2\x80\xae", b"\xff\xfe", b"%s%n", b"\x00")  # fmt: skip

# request bodies of shapes that cost a careless parser time in the square of their size or
# its stack: nested brackets, runs of picture signatures, an ISAPI alert's tag on blanks
HOSTILE_BODIES = (
    b"[" * 5000,
    b'{"a":' * 3000 + b'"x"',
    b"\x89PNG\r\n\x1a\n" * 4000,
    b"\xff\xd8\xff\xe0" * 8000,
    b"\xff\xd8\xff\xda\x00\x02" + b"\x00" * 30000,
    b"--x\r\nContent-Type: application/xml\r\n\r\n<EventNotificationAlert><eventType>"
    + b" " * 20000,
    b"Code=" * 4000,
    b'{"img":"' + b"/9j/" * 20000,
)

UPLOAD_ROUTES = (
    ("/api/v1/face/upload", "application/json"),
    ("/api/v1/face/upload", "multipart/form-data; boundary=x"),
    ("/ISAPI/Event/notification/alertStream", "multipart/form-data; boundary=x"),
    ("/VIID/Faces", "application/json"),
    ("/iclock/cdata?table=BIODATA&SN=1", "text/plain"),
    ("/cgi-bin/snap/upload", "image/jpeg"),
)


def m_text(rng: random.Random, d: bytearray, lay: Layers | None) -> str | None:
    if lay is None or lay.payload < 0 or lay.payload >= len(d):
        return None
    p = lay.payload
    text = bytes(d[p:])
    what = rng.choice(("content-length", "chunked", "no-colon", "long-header", "no-crlf",
                       "hostile-value", "encoding", "hostile-body"))  # fmt: skip
    head_end = text.find(b"\r\n\r\n")
    head_end = len(text) if head_end < 0 else head_end
    line_end = text.find(b"\r\n")
    at = p + (line_end if line_end > 0 else head_end)
    if what == "content-length":
        value = rng.choice((b"99999999999999999999", b"-1", b"0x10", b"1e9", b"", b"4294967296"))
        i = text.lower().find(b"content-length:")
        if i >= 0:
            j = text.find(b"\r\n", i)
            j = len(text) if j < 0 else j
            d[p + i : p + j] = b"Content-Length: " + value
        else:
            d[at:at] = b"\r\nContent-Length: " + value
    elif what == "chunked":
        d[at:at] = b"\r\nTransfer-Encoding: chunked"
        d.extend(rng.choice((b"\r\nffffffffffff\r\n", b"\r\nzz\r\n", b"\r\n-5\r\n")))
    elif what == "no-colon":
        d[at:at] = b"\r\nNo colon at all"
    elif what == "long-header":
        d[at:at] = b"\r\nX-Long: " + b"A" * rng.choice((1000, 8000, 60000))
    elif what == "no-crlf":
        d[p:] = text.replace(b"\r\n", b"")
    elif what == "hostile-body":
        body = rng.choice(HOSTILE_BODIES)
        i = text.lower().find(b"content-length:")
        if i >= 0 and i < head_end:  # the head says how long the new body is
            j = text.find(b"\r\n", i)
            j = head_end if j < 0 else j
            d[p + head_end :] = b"\r\n\r\n" + body
            d[p + i : p + j] = b"Content-Length: " + str(len(body)).encode()
        else:
            d[p + head_end :] = b"\r\n\r\n" + body
        return f"text hostile-body {body[:12]!r}x{len(body)}"
    elif what == "hostile-value":
        i = text.find(b": ")
        if i < 0:
            return None
        d[p + i + 2 : p + i + 2] = rng.choice(HOSTILE)
    else:
        d[at:at] = rng.choice(
            (b"\r\nContent-Encoding: gzip", b"\r\nContent-Encoding: deflate, br, x")
        )
    return f"text {what}"


GENERIC: tuple[Mutator, ...] = (m_bitflip, m_truncate, m_insert, m_special_byte, m_ip_lie,
                                m_l4_lie)  # fmt: skip
BY_KIND: dict[str, tuple[Mutator, ...]] = {
    "dns": (m_dns,),
    "dhcp": (m_dhcp,),
    "tls": (m_tls,),
    "text": (m_text,),
}


# -- capture writing, with container-level lies ----------------------------------------------


def write_pcap(recs: list[Rec], rng: random.Random, notes: list[str]) -> bytes:
    """Classic pcap (one link type); sometimes a record header lies or the file is cut."""
    linktype = recs[0][1] if recs else 1
    out = bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, SNAPLEN, linktype))
    lie_at = rng.randrange(len(recs)) if recs and rng.random() < 0.1 else -1
    for i, (ts, lt, data) in enumerate(recs):
        if lt != linktype:
            continue
        sec = int(ts)
        usec = int(round((ts - sec) * 1e6)) % 1_000_000
        caplen = wirelen = len(data)
        if i == lie_at:
            what = rng.choice(("caplen", "wirelen", "usec", "time"))
            if what == "caplen":
                caplen = rng.choice((len(data) + 1, 0xFFFFFFFF, SNAPLEN + 1, 0))
                data = data if caplen >= len(data) else data[:caplen]
            elif what == "wirelen":
                wirelen = rng.choice((0, 1, 0xFFFFFFFF))
            elif what == "usec":
                usec = 0xFFFFFFFF
            else:
                sec = rng.choice((0, 0x7FFFFFFF, 0xFFFFFFFF))
            notes.append(f"pcap record {i + 1}: {what} lie")
        out += struct.pack(
            "<IIII", sec & 0xFFFFFFFF, usec, caplen & 0xFFFFFFFF, wirelen & 0xFFFFFFFF
        )
        out += data
    if rng.random() < 0.05 and len(out) > 40:
        cut = rng.randrange(24, len(out))
        notes.append(f"file cut at byte {cut}")
        del out[cut:]
    return bytes(out)


def _block(btype: int, body: bytes, lie: int | None = None) -> bytes:
    body += b"\0" * (-len(body) % 4)
    total = 12 + len(body)
    return (
        struct.pack("<II", btype, total if lie is None else lie) + body + struct.pack("<I", total)
    )


def write_pcapng(recs: list[Rec], rng: random.Random, notes: list[str]) -> bytes:
    """pcapng with one interface per link type; sometimes a block or option length lies."""
    out = bytearray(_block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)))
    ifaces: dict[int, int] = {}
    lie_at = rng.randrange(len(recs)) if recs and rng.random() < 0.1 else -1
    for i, (ts, lt, data) in enumerate(recs):
        if lt not in ifaces:
            ifaces[lt] = len(ifaces)
            opts = b""
            if rng.random() < 0.2:  # if_tsresol: odd resolutions
                opts = (
                    struct.pack("<HH", 9, 1)
                    + bytes([rng.choice((0, 3, 6, 9, 0x7F, 0x8A))])
                    + b"\0" * 3
                )
                notes.append("interface with odd if_tsresol")
            out += _block(1, struct.pack("<HHI", lt, 0, SNAPLEN) + opts + b"\0\0\0\0")
        t = int(ts * 1_000_000)
        body = (
            struct.pack("<IIIII", ifaces[lt], t >> 32, t & 0xFFFFFFFF, len(data), len(data)) + data
        )
        lie = None
        if i == lie_at:
            what = rng.choice(("block", "caplen", "interface"))
            if what == "block":
                lie = rng.choice((0, 8, 13, 0xFFFFFFFC, 12 + len(body) + 4096))
            elif what == "caplen":
                body = (
                    body[:12]
                    + struct.pack("<I", rng.choice((len(data) + 8, 0xFFFFFFFF)))
                    + body[16:]
                )
            else:
                body = struct.pack("<I", rng.choice((7, 0xFFFFFFFF))) + body[4:]
            notes.append(f"pcapng block {i + 1}: {what} lie")
        out += _block(6, body, lie)
    return bytes(out)


# -- one mutant -------------------------------------------------------------------------------


@dataclass
class Mutant:
    seed: int
    index: int
    source: str
    data: bytes
    ext: str
    notes: list[str]


def make_mutant(seeds: list[Seed], seed: int, index: int) -> Mutant:
    """Mutant ``index`` of ``seed``: the same pair always gives the same bytes."""
    rng = random.Random(f"netscan-fuzz:{seed}:{index}")
    src = rng.choice(seeds)
    recs = src.records
    if len(recs) > MAX_RECORDS:  # a window, around a packet the mutators understand
        centre = rng.choice(src.interesting) if src.interesting else rng.randrange(len(recs))
        start = max(0, min(len(recs) - MAX_RECORDS, centre - rng.randrange(MAX_RECORDS)))
        recs = recs[start : start + MAX_RECORDS]
    recs = list(recs)
    notes: list[str] = []
    targets = [i for i, (_, lt, d) in enumerate(recs) if _kind(locate(lt, d), d) in BY_KIND]
    targets = targets or list(range(len(recs)))
    for _ in range(rng.randint(1, 6) if recs else 0):
        i = rng.choice(targets) if rng.random() < 0.8 else rng.randrange(len(recs))
        ts, lt, data = recs[i]
        frame = bytearray(data)
        lay = locate(lt, data)
        kind = _kind(lay, data)
        pool = BY_KIND.get(kind, ())
        mutator = rng.choice(pool) if pool and rng.random() < 0.6 else rng.choice(GENERIC)
        did = mutator(rng, frame, lay)
        if did is None:
            did = m_bitflip(rng, frame, lay)
        if did is not None:
            notes.append(f"packet {i + 1} ({kind or 'other'}): {did}")
        recs[i] = (ts, lt, bytes(frame[:SNAPLEN]))
    if rng.random() < 0.08:  # an upload session of a hostile body, whole and in order
        path, ctype = rng.choice(UPLOAD_ROUTES)
        body = rng.choice(HOSTILE_BODIES)
        t0 = max((ts for ts, _, _ in recs), default=1_770_000_000.0)
        recs.extend(upload_session(t0, path, ctype, body, 42100 + index % 1000))
        notes.append(f"hostile upload {body[:12]!r}x{len(body)} to {path} as {ctype}")
    if recs and rng.random() < 0.1:  # order and repetition
        i = rng.randrange(len(recs))
        if rng.random() < 0.5:
            recs.insert(i, recs[rng.randrange(len(recs))])
            notes.append(f"packet repeated at {i + 1}")
        else:
            ts, lt, d = recs[i]
            recs[i] = (ts - rng.choice((1.0, 3600.0, 1e6)), lt, d)
            notes.append(f"packet {i + 1} goes back in time")
    if rng.random() < 0.3 or len({lt for _, lt, _ in recs}) > 1:
        data, ext = write_pcapng(recs, rng, notes), "pcapng"
    else:
        data, ext = write_pcap(recs, rng, notes), "pcap"
    if rng.random() < 0.04:  # not a capture any more: must be refused in one line
        what = rng.choice(("magic", "header cut", "empty"))
        if what == "magic":
            data = bytes(rng.randrange(256) for _ in range(4)) + data[4:]
        elif what == "header cut":
            data = data[: rng.randrange(1, 24)]
        else:
            data = b""
        notes.append(f"file header: {what}")
    return Mutant(seed, index, src.name, data, ext, notes)


# -- running ----------------------------------------------------------------------------------


@dataclass
class Outcome:
    ok: bool
    what: str  # "report", "refused: ...", or the failure
    detail: str = ""
    command: str = ""


class _Timeout(Exception):
    pass


@contextlib.contextmanager
def _alarm(seconds: float) -> Iterator[None]:
    def fire(_sig: int, _frame: object) -> None:
        raise _Timeout()

    old = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def run_analyzer(
    path: Path,
    engine: str,
    timeout: float,
    analyzer: object | None = None,
    twin: object | None = None,
) -> Outcome:
    """In this process: a Result and its three reports, or a CaptureError. With ``twin``
    (an Analyzer with ``--jobs`` above one) the capture is analysed again by it, and its
    JSON report must be the same as the first one's (the time it was made aside)."""
    from netscan.analyze import Analyzer, Options
    from netscan.report import html_report, json_report, markdown_report
    from netscan.sources.pcapfile import CaptureError

    try:
        with _alarm(timeout):
            a = analyzer or Analyzer(Options(engine=engine))
            result = a.run([str(path)])  # type: ignore[attr-defined]
            report = json_report.build(result)
            text = json.dumps(report)
            html_report.render(report)
            markdown_report.render(report)
            if twin is not None:
                other = json_report.build(twin.run([str(path)]))  # type: ignore[attr-defined]
                differs = _differ(report, other)
                if differs is not None:
                    return Outcome(False, f"--jobs report differs from one job's at {differs}")
    except CaptureError as exc:
        line = str(exc)
        if "\n" in line or not line:
            return Outcome(False, "CaptureError message is not one line", repr(line))
        return Outcome(True, f"refused: {line}")
    except _Timeout:
        return Outcome(False, f"no result within {timeout:g} s (hang)")
    except Exception:  # the point of fuzzing: anything else is a crash
        return Outcome(False, "exception", traceback.format_exc())
    problem = _check_report(json.loads(text))
    return Outcome(problem is None, problem or "report", "")


def _differ(a: object, b: object, where: str = "") -> str | None:
    """Where two JSON reports first differ (None when they are the same but for the time
    each was generated)."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in dict.fromkeys([*a, *b]):
            if where == "" and k == "generated_at":
                continue
            if k not in a or k not in b:
                return f"{where}/{k}"
            found = _differ(a[k], b[k], f"{where}/{k}")
            if found is not None:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return f"{where} ({len(a)} against {len(b)} items)"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            found = _differ(x, y, f"{where}[{i}]")
            if found is not None:
                return found
        return None
    return None if a == b and type(a) is type(b) else where or "/"


def _check_report(report: dict) -> str | None:
    import jsonschema

    from netscan.report.json_report import schema

    try:
        jsonschema.Draft202012Validator(schema()).validate(report)
    except jsonschema.ValidationError as exc:
        return f"JSON report does not match its schema: {exc.message[:300]}"
    return None


def run_cli(path: Path, engine: str, timeout: float, memory_mb: int, workdir: Path,
            summary: bool = False) -> Outcome:  # fmt: skip
    """Through ``python -m netscan analyze``: exit 0 with the reports, or exit 2 in one line."""
    out = workdir / f"{path.stem}.out"
    out.mkdir(exist_ok=True)
    cmd = [sys.executable, "-m", "netscan", "analyze", str(path), "--engine", engine,
           "--json", str(out / "r.json"), "--report", str(out / "r.html"),
           "--markdown", str(out / "r.md")]  # fmt: skip
    if not summary:
        cmd.append("-q")

    def limits() -> None:
        if memory_mb:
            lim = memory_mb * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_AS, (lim, lim))

    env = {k: v for k, v in os.environ.items() if not k.startswith(("NETSCAN_SETTINGS",))}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["HOME"] = str(workdir)  # no settings file, no user pack
    shown = " ".join(cmd)
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env,
                              cwd=workdir, preexec_fn=limits, errors="replace")  # fmt: skip
    except subprocess.TimeoutExpired:
        return Outcome(False, f"no result within {timeout:g} s (hang)", "", shown)
    err = proc.stderr
    if "Traceback" in err:
        return Outcome(False, f"traceback (exit {proc.returncode})", err[-6000:], shown)
    if proc.returncode == 2:
        lines = [ln for ln in err.splitlines() if ln.strip()]
        errors = [ln for ln in lines if ln.startswith("netscan: error:")]
        if len(errors) != 1:
            return Outcome(False, "exit 2 without exactly one error line", err[-6000:], shown)
        if any((out / n).exists() for n in ("r.json", "r.html", "r.md")):
            return Outcome(False, "exit 2 but reports were written", err[-2000:], shown)
        return Outcome(True, f"refused: {errors[0]}", "", shown)
    if proc.returncode != 0:
        return Outcome(False, f"exit {proc.returncode}", err[-6000:], shown)
    missing = [n for n in ("r.json", "r.html", "r.md") if not (out / n).is_file()]
    if missing:
        return Outcome(False, f"exit 0 but {', '.join(missing)} not written", err[-2000:], shown)
    try:
        problem = _check_report(json.loads((out / "r.json").read_text("utf-8")))
    except ValueError as exc:
        problem = f"JSON report does not parse: {exc}"
    return Outcome(problem is None, problem or "report", err[-2000:] if problem else "", shown)


def save_reproducer(outdir: Path, m: Mutant, o: Outcome, engine: str, flags: str = "") -> Path:
    outdir.mkdir(parents=True, exist_ok=True)
    stem = f"crash-{m.seed}-{m.index}"
    cap = outdir / f"{stem}.{m.ext}"
    cap.write_bytes(m.data)
    here = Path(__file__).resolve()
    (outdir / f"{stem}.txt").write_text(
        f"netscan fuzz crash: seed {m.seed}, mutant {m.index}, from {m.source}\n"
        f"what: {o.what}\n"
        "mutations:\n"
        + "".join(f"  - {n}\n" for n in m.notes)
        + f"replay: python -m netscan analyze {cap} --engine {engine}\n"
        f"rebuild: python {here} --seed {m.seed} --only {m.index} --engine {engine}{flags}\n"
        + (f"command: {o.command}\n" if o.command else "")
        + "\n"
        + o.detail
        + "\n",
        encoding="utf-8",
    )
    return cap


@dataclass
class Summary:
    runs: int = 0
    reports: int = 0
    refused: int = 0
    crashes: list[tuple[Mutant, Outcome, Path]] = field(default_factory=list)


def fuzz(
    iterations: int,
    seed: int,
    mode: str = "analyzer",
    engine: str = "core",
    jobs: int = 1,
    timeout: float = 60.0,
    memory_mb: int = 3072,
    outdir: Path | None = None,
    only: int | None = None,
    seeds: list[Seed] | None = None,
    summary_output: bool = False,
    log: Callable[[str], None] | None = None,
    compare_jobs: int = 1,
) -> Summary:
    """Run ``iterations`` mutants of ``seed`` (or just mutant ``only``); with
    ``compare_jobs`` above one (analyzer mode) each is analysed with that many jobs too,
    and the two JSON reports must be the same."""
    seeds = seeds if seeds is not None else load_seeds()
    if not seeds:
        raise SystemExit("fuzz: no seed captures")
    indices = [only] if only is not None else list(range(iterations))
    outdir = outdir or Path("fuzz-crashes")
    summ = Summary()
    analyzer = twin = None
    if mode == "analyzer":
        from netscan.analyze import Analyzer, Options

        analyzer = Analyzer(Options(engine=engine))
        if compare_jobs > 1:
            twin = Analyzer(Options(engine=engine, jobs=compare_jobs))
    elif compare_jobs > 1:
        raise SystemExit("fuzz: --compare-jobs needs --mode analyzer")
    flags = ""
    if twin is not None:
        from netscan.engine import core as core_engine

        flags = f" --compare-jobs {compare_jobs} --batch {core_engine.BATCH}"
    with tempfile.TemporaryDirectory(prefix="netscan-fuzz-") as tmp:
        work = Path(tmp)

        def one(i: int) -> tuple[Mutant, Outcome]:
            m = make_mutant(seeds, seed, i)
            path = work / f"m{i}.{m.ext}"
            path.write_bytes(m.data)
            try:
                if mode == "cli":
                    o = run_cli(path, engine, timeout, memory_mb, work, summary_output)
                else:
                    o = run_analyzer(path, engine, timeout, analyzer, twin)
            finally:
                path.unlink(missing_ok=True)
            return m, o

        pool = ThreadPoolExecutor(jobs) if mode == "cli" and jobs > 1 else None
        results: Iterator[tuple[Mutant, Outcome]] = (
            pool.map(one, indices) if pool is not None else map(one, indices)
        )
        started = time.monotonic()
        try:
            for m, o in results:  # in order, each as soon as it is known
                summ.runs += 1
                if not o.ok:
                    cap = save_reproducer(outdir, m, o, engine, flags)
                    summ.crashes.append((m, o, cap))
                    if log:
                        log(f"CRASH mutant {m.index} ({m.source}): {o.what} -> {cap}")
                elif o.what.startswith("refused"):
                    summ.refused += 1
                else:
                    summ.reports += 1
                if log and summ.runs % 100 == 0:
                    log(f"fuzz: {summ.runs}/{len(indices)} mutants, {len(summ.crashes)} "
                        f"crashes, {time.monotonic() - started:.0f} s")  # fmt: skip
        finally:
            if pool is not None:
                pool.shutdown(cancel_futures=True)
    return summ


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--iterations", "-n", type=int, default=500, help="mutants to run (500)")
    ap.add_argument("--seed", "-s", type=int, default=1, help="random seed (1)")
    ap.add_argument("--only", type=int, metavar="N", help="run only mutant N of the seed")
    ap.add_argument("--mode", choices=("analyzer", "cli"), default="analyzer",
                    help="in this process (fast) or through 'python -m netscan analyze'")  # fmt: skip
    ap.add_argument("--engine", default="core", help="netscan engine to fuzz (core or tshark)")
    ap.add_argument("--jobs", "-j", type=int, default=1, help="parallel CLI runs (cli mode)")
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds per mutant (60)")
    ap.add_argument("--memory-mb", type=int, default=3072,
                    help="address-space limit per CLI run in MB, 0 for none (3072)")  # fmt: skip
    ap.add_argument("--out", type=Path, default=Path("fuzz-crashes"),
                    help="where reproducers go (fuzz-crashes/)")  # fmt: skip
    ap.add_argument("--seeds", nargs="*", metavar="NAME",
                    help="only these seed captures (generated, demo_sales_office.pcapng, ...)")  # fmt: skip
    ap.add_argument("--summary", action="store_true",
                    help="cli mode: also print the terminal summary (not -q)")  # fmt: skip
    ap.add_argument("--keep", action="store_true", help="also write the mutant of --only to --out")
    ap.add_argument("--compare-jobs", type=int, default=1, metavar="N",
                    help="analyzer mode: also analyse each mutant with --jobs N; the JSON "
                    "reports must be the same")  # fmt: skip
    ap.add_argument(
        "--batch",
        type=int,
        metavar="RECORDS",
        help="records per core batch (smaller ones exercise the --jobs hand-over)",
    )
    args = ap.parse_args(argv)
    if args.iterations < 1 or args.jobs < 1 or args.timeout <= 0:
        ap.error("--iterations, --jobs and --timeout must be positive")
    if args.batch is not None:
        if args.batch < 1:
            ap.error("--batch must be positive")
        from netscan.engine import core as core_engine

        core_engine.BATCH = args.batch
    seeds = load_seeds(args.seeds)
    if not seeds:
        ap.error("no seed captures found")
    print(f"fuzz: {len(seeds)} seeds ({', '.join(s.name for s in seeds)}), seed {args.seed}, "
          f"mode {args.mode}, engine {args.engine}", file=sys.stderr)  # fmt: skip
    started = time.monotonic()
    summ = fuzz(args.iterations, args.seed, args.mode, args.engine, args.jobs, args.timeout,
                args.memory_mb, args.out, args.only, seeds, args.summary,
                log=lambda s: print(s, file=sys.stderr, flush=True),
                compare_jobs=args.compare_jobs)  # fmt: skip
    if args.keep and args.only is not None:
        m = make_mutant(seeds, args.seed, args.only)
        args.out.mkdir(parents=True, exist_ok=True)
        kept = args.out / f"mutant-{args.seed}-{args.only}.{m.ext}"
        kept.write_bytes(m.data)
        print(f"fuzz: mutant written to {kept}; mutations: {'; '.join(m.notes)}", file=sys.stderr)
    took = time.monotonic() - started
    print(f"fuzz: {summ.runs} mutants in {took:.1f} s: {summ.reports} reports, "
          f"{summ.refused} refused in one line, {len(summ.crashes)} crashes", file=sys.stderr)  # fmt: skip
    return 1 if summ.crashes else 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    raise SystemExit(main())
