"""Many distinct flows: one UDP datagram per 5-tuple, for the flow table's memory bound.

    python benchmarks/gen_flows.py [--flows 500000] [-o benchmarks/out/flows-500000.pcap]

Every packet goes from a premises address (10.x.y.z) and port to an off-site address on
port 9999 (no parser), so each opens a flow and none is ever seen again: the worst case
for a flow table. Deterministic; written with ``struct`` only.
"""

from __future__ import annotations

import argparse
import struct
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


PCAP_HEADER = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)  # microseconds, Ethernet
T0 = 1_767_258_000  # the captures' first second


def record(us: int, frame: bytes) -> bytes:
    """A pcap record of ``frame`` at ``us`` microseconds after ``T0``."""
    head = struct.pack("<IIII", T0 + us // 1_000_000, us % 1_000_000, len(frame), len(frame))
    return head + frame


def write(path: Path, flows: int) -> None:
    payload = bytes(16)
    with path.open("wb") as fh:
        fh.write(PCAP_HEADER)
        for i in range(flows):
            src = bytes([10, (i >> 16) & 0xFF, (i >> 8) & 0xFF, i & 0xFF])
            dst = bytes([203, 0, 113, i % 200 + 1])
            sport = 1024 + (i * 7919) % 60000
            udp = struct.pack("!HHHH", sport, 9999, 8 + len(payload), 0) + payload
            ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), i & 0xFFFF, 0, 64, 17, 0,
                             src, dst)  # fmt: skip
            frame = bytes.fromhex("50c7bf3a91014419b6000001") + b"\x08\x00" + ip + udp
            fh.write(record(i * 100, frame))


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--flows", type=int, default=500_000)
    ap.add_argument("-o", "--output", type=Path)
    args = ap.parse_args(argv)
    out = args.output or HERE / "out" / f"flows-{args.flows}.pcap"
    out.parent.mkdir(parents=True, exist_ok=True)
    write(out, args.flows)
    print(f"{out}: {args.flows} packets and flows, {out.stat().st_size / 1e6:.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
