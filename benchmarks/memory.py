"""Peak memory of a full analysis against the number of distinct flows, and on the stress mix.

    python benchmarks/memory.py                          # 250k, 500k and 1M distinct flows
    python benchmarks/memory.py --flows 500000 --large   # also the 1M-packet stress mix
    python benchmarks/memory.py --max-flows 100000       # with a smaller live-flow bound

Each run is ``netscan analyze -q --json`` in a child process; its peak RSS comes from the
child's own rusage (``ru_maxrss``), its time from the wall clock. The flow captures come
from ``gen_flows.py`` (one UDP datagram per 5-tuple, premises to off-site, no parser), the
stress mix from ``gen_large.py``; both are built once under ``benchmarks/out/``. Past the
live-flow bound the peak should stay flat: the idlest flows are evicted and folded into
their conversations, and everything the inventory keeps per flow is bounded.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"


def build_flows(n: int) -> Path:
    path = OUT / f"flows-{n}.pcap"
    if not path.exists():
        subprocess.run([sys.executable, str(HERE / "gen_flows.py"), "--flows", str(n),
                        "-o", str(path)], check=True)  # fmt: skip
    return path


def build_large(packets: int) -> Path:
    path = OUT / f"large-{packets}.pcap"
    if not path.exists():
        subprocess.run([sys.executable, str(HERE / "gen_large.py"), "--packets", str(packets),
                        "-o", str(path)], check=True)  # fmt: skip
    return path


def measure(path: Path, extra: list[str]) -> tuple[float, float, int, int]:
    """(seconds, peak MB, exit code, JSON bytes) of one analysis in a child process."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "report.json"
        cmd = [sys.executable, "-m", "netscan", "analyze", "-q", "--json", str(out),
               *extra, str(path)]  # fmt: skip
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        secs = time.perf_counter() - t0
        size = out.stat().st_size if out.exists() else 0
    return secs, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status), size


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--flows", type=int, action="append",
                    help="distinct flows (repeatable; default 250000, 500000, 1000000)")  # fmt: skip
    ap.add_argument("--large", action="store_true", help="also the stress mix")
    ap.add_argument("--packets", type=int, default=1_000_000, help="stress mix packets")
    ap.add_argument("--max-flows", type=int, help="passed on to netscan analyze")
    args = ap.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    extra = ["--max-flows", str(args.max_flows)] if args.max_flows else []
    cases = [(f"{n:,} distinct UDP flows", build_flows(n))
             for n in (args.flows or [250_000, 500_000, 1_000_000])]  # fmt: skip
    if args.large:
        cases.append((f"stress mix, {args.packets:,} packets", build_large(args.packets)))
    print("| input | seconds | peak MB | JSON MB |")
    print("|---|---|---|---|")
    for label, path in cases:
        secs, peak, code, size = measure(path, extra)
        note = "" if code == 0 else f" (exit {code})"
        print(f"| {label} | {secs:.2f} | {peak:.0f} | {size / 1e6:.1f}{note} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
