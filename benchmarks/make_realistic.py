"""The realistic mix: the public captures in ../shared/realworld, the analysis scenario
captures and the demo capture, concatenated into one pcapng.

    python benchmarks/make_realistic.py [-o benchmarks/out/realistic.pcapng] [--repeat 10]

Each capture's packets keep their bytes, lengths and link types (one interface per link
type); their times are shifted so that every capture starts one second after the previous
one ended, and the whole set is repeated ``--repeat`` times (each round later in time), so
the file is large enough to time. Repeated rounds carry the same conversations again, as a
premises network does day after day. Records are read with netscan's Rust reader, so
damaged public captures contribute what a reader can take from them.
"""

from __future__ import annotations

import argparse
import struct
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))


def _block(btype: int, body: bytes) -> bytes:
    body += b"\0" * (-len(body) % 4)
    n = len(body) + 12
    return struct.pack("<II", btype, n) + body + struct.pack("<I", n)


def sources(tmp: Path) -> list[Path]:
    from tests.analysis.scenarios.build import SCENARIOS
    from tests.conftest import PCAPS, realworld_files

    files = list(realworld_files())
    files += [fn(tmp) for fn in SCENARIOS.values()]
    files.append(PCAPS / "demo_sales_office.pcapng")
    return files


def build(out: Path, repeat: int) -> tuple[int, int]:
    from netscan import _core

    with tempfile.TemporaryDirectory() as td:
        files = sources(Path(td))
        # every capture's records once, in memory (the set is small: tens of MB)
        loaded = []
        for f in files:
            recs = [(ts, lt, bytes(data), wire) for _fr, ts, lt, data, wire in _core.Reader(str(f))]
            if recs:
                loaded.append(recs)
    ifaces: dict[int, int] = {}
    packets = 0
    with out.open("wb") as fh:
        fh.write(_block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)))
        clock = 1_767_258_000.0  # 2026-01-01 09:00 UTC
        for _round in range(repeat):
            for recs in loaded:
                base = recs[0][0]
                last = clock
                for ts, lt, data, wire in recs:
                    iid = ifaces.get(lt)
                    if iid is None:
                        iid = ifaces[lt] = len(ifaces)
                        fh.write(_block(1, struct.pack("<HHI", lt, 0, 0)))
                    t = clock + max(0.0, ts - base)
                    last = max(last, t)
                    ticks = round(t * 1e6)
                    body = struct.pack("<IIIII", iid, ticks >> 32, ticks & 0xFFFFFFFF, len(data),
                                       wire) + data  # fmt: skip
                    fh.write(_block(6, body))
                    packets += 1
                clock = last + 1.0
    return packets, out.stat().st_size


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-o", "--output", type=Path, default=HERE / "out" / "realistic.pcapng")
    ap.add_argument("--repeat", type=int, default=10)
    args = ap.parse_args(argv)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    packets, size = build(args.output, max(1, args.repeat))
    print(f"{args.output}: {packets} packets, {size / 1e6:.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
