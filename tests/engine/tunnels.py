"""Captures of a premises seen through a remote mirror: every frame of a capture wrapped, as
a switch's remote SPAN, a bridge or a cloud's traffic mirror wraps it, in ERSPAN (types I,
II and III), GRE transparent Ethernet bridging, VXLAN or GENEVE, between a switch and a
collector. The frames inside are the capture's, byte for byte, with their numbers; a frame
the capture cut short (a snap length) stays cut, its outer headers counting it whole."""

from __future__ import annotations

import struct
from pathlib import Path

from netscan.sources.pcapfile import CaptureFile

SWITCH_MAC = bytes.fromhex("020000aa0001")
COLLECTOR_MAC = bytes.fromhex("020000aa0002")
SWITCH_IP = bytes([10, 255, 0, 1])
COLLECTOR_IP = bytes([10, 255, 0, 2])
KINDS = ("erspan1", "erspan2", "erspan3", "gre_ethernet", "vxlan", "geneve")
# the report's name of each kind
REPORTED = {"erspan1": "erspan", "erspan2": "erspan", "erspan3": "erspan",
            "gre_ethernet": "gre_ethernet", "vxlan": "vxlan", "geneve": "geneve"}  # fmt: skip


def _ipv4(proto: int, payload: bytes, ident: int, missing: int) -> bytes:
    head = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(payload) + missing, ident & 0xFFFF,
                       0x4000, 64, proto, 0, SWITCH_IP, COLLECTOR_IP)  # fmt: skip
    return head + payload


def _udp(dport: int, payload: bytes, missing: int) -> bytes:
    return struct.pack(">HHHH", 49152, dport, 8 + len(payload) + missing, 0) + payload


def encapsulate(kind: str, frame: bytes, seq: int, missing: int = 0) -> bytes:
    """``frame`` (an Ethernet frame, ``missing`` bytes of it not captured) inside the outer
    Ethernet and IPv4 packet of ``kind``."""
    if kind == "erspan1":  # GRE without a sequence number, the frame right after it
        ip = _ipv4(47, struct.pack(">HH", 0, 0x88BE) + frame, seq, missing)
    elif kind == "erspan2":  # GRE with a sequence number; version 1, session 5
        head = struct.pack(">HHI", 0x1000, 0x88BE, seq) + struct.pack(">HHI", 0x1005, 0, 0)
        ip = _ipv4(47, head + frame, seq, missing)
    elif kind == "erspan3":  # version 2, session 5; with the platform subheader (O set)
        head = struct.pack(">HHI", 0x1000, 0x22EB, seq) + struct.pack(">HHIHH", 0x2005, 0,
                                                                        seq, 0, 0x0001)  # fmt: skip
        ip = _ipv4(47, head + bytes(8) + frame, seq, missing)
    elif kind == "gre_ethernet":  # with a key
        ip = _ipv4(47, struct.pack(">HHI", 0x2000, 0x6558, 42) + frame, seq, missing)
    elif kind == "vxlan":
        ip = _ipv4(17, _udp(4789, struct.pack(">II", 0x08000000, 42 << 8) + frame, missing), seq,
                   missing)  # fmt: skip
    elif kind == "geneve":  # one 8-byte option
        head = struct.pack(">BBHI", 2, 0, 0x6558, 42 << 8) + struct.pack(
            ">HBBI", 0x0103, 0x80, 1, 7
        )
        ip = _ipv4(17, _udp(6081, head + frame, missing), seq, missing)
    else:
        raise ValueError(kind)
    return COLLECTOR_MAC + SWITCH_MAC + b"\x08\x00" + ip


def mirrored(src: Path, dst: Path, kinds: tuple[str, ...] = KINDS) -> dict[str, int]:
    """``src`` (Ethernet frames) as a remote mirror delivers it, frame ``i`` in
    ``kinds[i % len(kinds)]``, written as a classic pcap to ``dst``: the frames wrapped, by
    the report's name of their kind."""
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1)]
    counts: dict[str, int] = {}
    for i, rec in enumerate(CaptureFile(src)):
        assert rec.linktype == 1, "Ethernet frames"
        kind = kinds[i % len(kinds)]
        missing = rec.wirelen - len(rec.data)
        data = encapsulate(kind, bytes(rec.data), i, missing)
        us = round(rec.ts * 1e6)
        out.append(struct.pack("<IIII", us // 1_000_000, us % 1_000_000, len(data),
                               len(data) + missing))  # fmt: skip
        out.append(data)
        counts[REPORTED[kind]] = counts.get(REPORTED[kind], 0) + 1
    dst.write_bytes(b"".join(out))
    return counts
