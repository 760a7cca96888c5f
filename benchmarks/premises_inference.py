"""What inferring the premises from the link costs: analysis time with and without it.

    python benchmarks/premises_inference.py [--repeat 3] [FILE ...]

Default files: the public captures whose hosts use global addresses (../shared/realworld:
tls_sni_many_sites_22if_ndpi.pcapng, big_mixed_1kxun_ndpi.pcap) and the demo (private
addresses only). When the inferred ranges cover addresses a first pass called off-site,
the analysis runs again with them, so such captures take about twice as long; the others
pay only for collecting the link evidence (one call per new flow with an off-site side).
Prints the best time of each mode and the ranges inferred.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

DEFAULT = [
    ROOT.parent / "shared" / "realworld" / "tls_sni_many_sites_22if_ndpi.pcapng",
    ROOT.parent / "shared" / "realworld" / "big_mixed_1kxun_ndpi.pcap",
    ROOT / "pcaps" / "demo_sales_office.pcapng",
]


def main(argv: list[str]) -> int:
    from netscan.analyze import Analyzer, Options

    ap = argparse.ArgumentParser(prog="premises_inference.py")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("files", nargs="*", type=Path)
    args = ap.parse_args(argv)
    print(f"{'capture':40} {'inferred':>10} {'not':>10}  ranges")
    for path in args.files or DEFAULT:
        best: dict[bool, float] = {}
        ranges: list[str] = []
        for infer in (True, False):
            for _ in range(args.repeat):
                analyzer = Analyzer(Options(infer_premises=infer))
                t = time.perf_counter()
                result = analyzer.run([str(path)])
                took = time.perf_counter() - t
                best[infer] = min(best.get(infer, took), took)
                inf = result.inventory.premises.inference
                if infer and inf is not None and inf.applied:
                    ranges = inf.cidrs
        print(f"{path.name[:40]:40} {best[True]:9.3f}s {best[False]:9.3f}s  {', '.join(ranges)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
