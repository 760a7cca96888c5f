"""A capture as a remote mirror delivers it: every Ethernet frame of FILE wrapped, in turn,
in the encapsulations named (ERSPAN type II and VXLAN by default), between a switch and a
collector of the premises, as ``tests/engine/tunnels.py`` wraps them.

    python benchmarks/make_mirrored.py FILE -o OUT.pcap [--kinds erspan2 vxlan ...]

Timing netscan on OUT against FILE measures what opening the encapsulations costs; the
two reports are the same but for the inputs and ``summary.tunnels``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    from tests.engine.tunnels import KINDS, mirrored

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("file", type=Path, help="a capture of Ethernet frames")
    ap.add_argument("-o", "--out", type=Path, required=True, help="the mirrored pcap")
    ap.add_argument("--kinds", nargs="+", choices=KINDS, default=["erspan2", "vxlan"])
    args = ap.parse_args()
    counts = mirrored(args.file, args.out, tuple(args.kinds))
    print(f"wrote {args.out}: " + ", ".join(f"{k} {n:,}" for k, n in counts.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
