"""One long media stream: the kind of capture the packet core itself is slowest at.

    python benchmarks/gen_stream.py [--packets 600000] [-o benchmarks/out/stream-600000.pcap]

A camera on the premises (192.168.1.64) sends RTP-shaped UDP datagrams of about 1 kB to a
recorder (192.168.1.200), one a millisecond: a single flow, no parser, so nearly all the
work is reading, decoding and counting, with almost nothing for the Python side. The
opposite of the stress mix, where the Python replay is the longer part; `--jobs 2` must
not be slower than one job on either. Deterministic; written with ``struct`` only (the
records as ``gen_flows`` writes them).
"""

from __future__ import annotations

import argparse
import struct
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from gen_flows import PCAP_HEADER, record  # noqa: E402


def write(path: Path, packets: int) -> None:
    media = bytes(range(256)) * 4
    camera, recorder = bytes([192, 168, 1, 64]), bytes([192, 168, 1, 200])
    ether = bytes.fromhex("0011223344554419b62e7c51") + b"\x08\x00"
    with path.open("wb") as fh:
        fh.write(PCAP_HEADER)
        for i in range(packets):
            rtp = struct.pack("!BBHII", 0x80, 96, i & 0xFFFF, (i * 90) & 0xFFFFFFFF, 0x1234)
            rtp += media[:1000]
            udp = struct.pack("!HHHH", 5000, 6000, 8 + len(rtp), 0) + rtp
            ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), i & 0xFFFF, 0, 64, 17, 0,
                             camera, recorder)  # fmt: skip
            fh.write(record(i * 1000, ether + ip + udp))


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--packets", type=int, default=600_000)
    ap.add_argument("-o", "--output", type=Path)
    args = ap.parse_args(argv)
    out = args.output or HERE / "out" / f"stream-{args.packets}.pcap"
    out.parent.mkdir(parents=True, exist_ok=True)
    write(out, args.packets)
    print(f"{out}: {args.packets} packets of one stream, {out.stat().st_size / 1e6:.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
