"""Hostile inputs, generated: gzip bombs, picture bombs, flow floods (tests and benchmarks).

Everything is written with plain ``struct`` (no scapy) so the full-size cases of the
benchmark (half a million flows, thousands of posts) are made in seconds. Packets are
Ethernet/IPv4 with correct lengths; checksums are left zero (netscan does not check them).
"""

from __future__ import annotations

import gzip
import json
import os
import random
import re
import resource
import struct
import subprocess
import sys
import tempfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

T0 = 1_767_258_000  # 2026-01-01 09:00:00 UTC
CAMERA_MAC = bytes.fromhex("4419b62e7c51")  # a Hikvision OUI
GATEWAY_MAC = bytes.fromhex("50c7bf3a9101")
CAMERA_IP = bytes([192, 168, 1, 64])
FACE_API_IP = bytes([150, 109, 20, 77])
FACE_API_HOST = "api.youtu.qq.com"  # a face-recognition API in the signature pack
PCAP_HEADER = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1)


def record(ts: float, frame: bytes) -> bytes:
    sec = int(ts)
    usec = int(round((ts - sec) * 1e6))
    return struct.pack("<IIII", sec, usec, len(frame), len(frame)) + frame


def _ipv4(src: bytes, dst: bytes, proto: int, payload: bytes, ident: int = 0) -> bytes:
    return (
        struct.pack("!BBHHHBBH", 0x45, 0, 20 + len(payload), ident & 0xFFFF, 0x4000, 64, proto, 0)
        + src
        + dst
        + payload
    )


def udp_frame(
    smac: bytes, dmac: bytes, src: bytes, dst: bytes, sport: int, dport: int, data: bytes
) -> bytes:
    udp = struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data
    return dmac + smac + b"\x08\x00" + _ipv4(src, dst, 17, udp)


def tcp_frame(
    smac: bytes, dmac: bytes, src: bytes, dst: bytes, sport: int, dport: int,
    seq: int, ack: int, flags: int, data: bytes = b"",
) -> bytes:  # fmt: skip
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                      5 << 4, flags, 64240, 0, 0) + data  # fmt: skip
    return dmac + smac + b"\x08\x00" + _ipv4(src, dst, 6, tcp)


# -- flow flood -------------------------------------------------------------------------


def flood_frames(n: int, seed: int = 1, distinct_peers: bool = True) -> Iterator[bytes]:
    """``n`` UDP datagrams from one premises camera, each a new 5-tuple: random source and
    destination ports and (``distinct_peers``) random off-site destinations."""
    rng = random.Random(seed)
    seen: set[tuple[int, int, int]] = set()
    while len(seen) < n:
        peer = (rng.randrange(1, 223) << 24 | rng.getrandbits(24)) if distinct_peers else 1
        key = (peer, rng.randrange(1024, 65536), rng.randrange(20000, 65536))
        if key in seen or key[0] >> 24 in (10, 127, 100, 169, 172, 192):
            continue
        seen.add(key)
        dst = key[0].to_bytes(4, "big") if distinct_peers else FACE_API_IP
        yield udp_frame(CAMERA_MAC, GATEWAY_MAC, CAMERA_IP, dst, key[1], key[2], b"x" * 8)


def write_flood(path: Path, n: int, seed: int = 1, distinct_peers: bool = True) -> int:
    """A pcap of ``n`` one-packet UDP flows; returns the bytes on the wire in all."""
    total = 0
    with path.open("wb") as fh:
        fh.write(PCAP_HEADER)
        for i, frame in enumerate(flood_frames(n, seed, distinct_peers)):
            fh.write(record(T0 + i * 1e-5, frame))
            total += len(frame)
    return total


# -- gzip -------------------------------------------------------------------------------


def udp_capture(packets: int, seed: int = 3) -> bytes:
    """An ordinary pcap of ``packets`` UDP datagrams between two premises hosts, each
    datagram different (so it does not compress away)."""
    rng = random.Random(seed)
    out = [PCAP_HEADER]
    for i in range(packets):
        data = rng.randbytes(200)
        frame = udp_frame(CAMERA_MAC, GATEWAY_MAC, CAMERA_IP, bytes([192, 168, 1, 1]),
                          40000 + i % 50, 9999, data)  # fmt: skip
        out.append(record(T0 + i * 0.001, frame))
    return b"".join(out)


def write_gzip_bomb(path: Path, decompressed: int, frame_size: int = 1000) -> int:
    """A pcap that is one UDP datagram of ``frame_size`` bytes recorded over and over (or,
    with ``frame_size`` 0, a header and zeros: empty records) up to ``decompressed`` bytes,
    gzip-compressed: about a thousandfold. Returns the compressed size."""
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)
    if frame_size:
        frame = udp_frame(CAMERA_MAC, GATEWAY_MAC, CAMERA_IP, FACE_API_IP, 40000, 9999,
                          b"\0" * (frame_size - 42))  # fmt: skip
        unit = record(T0, frame)
    else:
        unit = b"\0" * 16
    block = unit * max(1, (1 << 20) // len(unit))
    with path.open("wb") as fh:
        fh.write(comp.compress(PCAP_HEADER))
        left = decompressed
        while left > 0:
            fh.write(
                comp.compress(
                    block if left >= len(block) else block[: left - left % len(unit)] or unit
                )
            )
            left -= len(block)
        fh.write(comp.flush())
    return path.stat().st_size


def gzip_members(data: bytes, parts: int) -> bytes:
    """``data`` gzip-compressed as ``parts`` concatenated members."""
    step = -(-len(data) // parts)
    return b"".join(gzip.compress(data[i : i + step]) for i in range(0, len(data), step))


# -- picture bombs ----------------------------------------------------------------------


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(width: int = 30000, height: int = 30000) -> bytes:
    """A complete, valid 1-bit greyscale PNG of ``width`` x ``height`` white... all zero:
    about 109 kB for 30000x30000, 900 MB once decoded to 8-bit grey."""
    row = b"\0" * (1 + (width + 7) // 8)
    comp = zlib.compressobj(9)
    parts = [comp.compress(row) for _ in range(height)]
    parts.append(comp.flush())
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", ihdr)
        + _chunk(b"IDAT", b"".join(parts))
        + _chunk(b"IEND", b"")
    )


def jpeg_with_size(width: int, height: int) -> bytes:
    """A real small JPEG (64x64 grey, made by OpenCV) whose frame header claims
    ``width`` x ``height``: a decoder would allocate for the claim."""
    import cv2
    import numpy as np

    img = (np.arange(64 * 64, dtype=np.uint32) * 7 % 251).astype(np.uint8).reshape(64, 64)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    data = bytearray(buf.tobytes())
    i = 2
    while i < len(data):
        marker, seglen = data[i + 1], int.from_bytes(data[i + 2 : i + 4], "big")
        if marker in (0xC0, 0xC1, 0xC2):
            data[i + 5 : i + 7] = height.to_bytes(2, "big")
            data[i + 7 : i + 9] = width.to_bytes(2, "big")
            return bytes(data)
        i += 2 + seglen
    raise AssertionError("no SOF in OpenCV's JPEG")


# -- HTTP uploads -----------------------------------------------------------------------


def http_post(path: str, host: str, body: bytes, ctype: str) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: {ctype}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode() + body


def tcp_session(
    t: float, sport: int, request: bytes, dst: bytes = FACE_API_IP, dport: int = 80
) -> tuple[list[tuple[float, bytes]], float]:
    """One TCP connection from the camera: handshake, the request, a 200 reply, close."""
    out: list[tuple[float, bytes]] = []
    c, s = 1000, 5000

    def up(flags: int, data: bytes = b"") -> None:
        nonlocal c, t
        t += 0.0002
        out.append((t, tcp_frame(CAMERA_MAC, GATEWAY_MAC, CAMERA_IP, dst, sport, dport,
                                 c, s, flags, data)))  # fmt: skip
        c += len(data) + (1 if flags & 0x03 else 0)

    def down(flags: int, data: bytes = b"") -> None:
        nonlocal s, t
        t += 0.0002
        out.append((t, tcp_frame(GATEWAY_MAC, CAMERA_MAC, dst, CAMERA_IP, dport, sport,
                                 s, c, flags, data)))  # fmt: skip
        s += len(data) + (1 if flags & 0x03 else 0)

    up(0x02)
    down(0x12)
    up(0x10)
    for i in range(0, len(request), 1460):
        up(0x18, request[i : i + 1460])
    down(0x18, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nOK")
    up(0x11)
    down(0x11)
    up(0x10)
    return out, t


def write_frames(path: Path, frames: list[tuple[float, bytes]], lost: int = -1) -> None:
    """A pcap of ``frames`` (as ``tcp_session`` gives them) but the one at index ``lost``:
    a segment the capture never saw."""
    with path.open("wb") as fh:
        fh.write(PCAP_HEADER)
        for k, (ts, frame) in enumerate(frames):
            if k != lost:
                fh.write(record(ts, frame))


def write_posts(
    path: Path, bodies: list[tuple[bytes, str]], url: str = "/youtu/api/detectface"
) -> None:
    """A pcap of the camera posting each (body, content type) to the face API."""
    t = float(T0)
    with path.open("wb") as fh:
        fh.write(PCAP_HEADER)
        for i, (body, ctype) in enumerate(bodies):
            frames, t = tcp_session(
                t + 0.01, 40000 + i % 20000, http_post(url, FACE_API_HOST, body, ctype)
            )
            for ts, frame in frames:
                fh.write(record(ts, frame))


# -- running netscan with resource accounting -------------------------------------------


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    maxrss_mb: float  # the child's peak resident memory
    report: dict[str, Any] | None

    @property
    def warnings(self) -> list[str]:
        return list(self.report["warnings"]) if self.report else []

    def finding(self) -> dict[str, Any]:
        """The run's one finding (the run must have ended well, with exactly one)."""
        assert self.returncode == 0, self.stderr
        assert self.report is not None
        (found,) = self.report["findings"]
        return dict(found)

    def evidence(self) -> list[str]:
        """The lines of evidence of the run's one finding."""
        return [e["what"] for e in self.finding()["evidence"]]


def run_netscan(
    args: list[str], tmp: Path, limits: str | None = None, as_limit_mb: int | None = None
) -> Run:
    """``netscan analyze ARGS --json`` in a child process; its peak RSS from ``os.wait4``
    (the child's own rusage, not the largest child's so far). ``as_limit_mb`` also caps
    its address space (RLIMIT_AS) so a runaway allocation fails instead of swapping."""
    out = tmp / f"report-{len(list(tmp.glob('report-*.json')))}.json"
    env = dict(os.environ)
    env.pop("NETSCAN_LIMITS", None)
    if limits:
        env["NETSCAN_LIMITS"] = limits

    def cap() -> None:
        if as_limit_mb is not None:
            lim = as_limit_mb << 20
            resource.setrlimit(resource.RLIMIT_AS, (lim, lim))

    cmd = [sys.executable, "-m", "netscan.cli", "analyze", *args, "--json", str(out), "-q"]
    with (
        tempfile.TemporaryFile() as so,
        tempfile.TemporaryFile() as se,
    ):
        proc = subprocess.Popen(cmd, stdout=so, stderr=se, env=env, preexec_fn=cap)
        _pid, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        so.seek(0)
        se.seek(0)
        stdout, stderr = so.read().decode(), se.read().decode()
    report = json.loads(out.read_text()) if out.exists() else None
    return Run(proc.returncode, stdout, stderr, usage.ru_maxrss / 1024, report)


def count_in(pattern: str, lines: list[str]) -> int:
    """The first number in the one line matching ``pattern`` (a regex with one group)."""
    hits = [m for m in (re.search(pattern, w) for w in lines) if m]
    assert len(hits) == 1, (pattern, lines)
    return int(hits[0].group(1).replace(",", ""))
