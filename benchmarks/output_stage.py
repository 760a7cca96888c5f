"""The output stage of ``netscan analyze``, timed on one capture: the JSON report's build and
write and the terminal summary (piped, and on a 250-column colour terminal).

python benchmarks/output_stage.py /work/bench/stress.pcap [--repeat 3]

The capture is analysed once; each stage then runs ``--repeat`` times and the fastest run
is shown (the stages read the analysis, they never change it). The first build of a process
also pays for the collector's view of the analysis (see json_report.build), so the first
run is shown as well.
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from pathlib import Path

from netscan.analyze import Analyzer, Options
from netscan.output.summary import _Console, print_summary
from netscan.report import json_report


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python benchmarks/output_stage.py")
    ap.add_argument("capture")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    started = time.perf_counter()
    result = Analyzer(Options()).run([args.capture])
    print(f"analysis: {time.perf_counter() - started:.2f} s, "
          f"{len(result.conversations):,} conversations, {len(result.findings)} findings")  # fmt: skip
    runs: dict[str, list[float]] = {}

    def timed(name: str, fn: object) -> object:
        t = time.perf_counter()
        out = fn()  # type: ignore[operator]
        runs.setdefault(name, []).append(time.perf_counter() - t)
        return out

    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeat):
            report = timed("json build", lambda: json_report.build(result))
            timed("json write", lambda r=report: json_report.write(r, Path(tmp) / "r.json"))
            piped = _Console(file=io.StringIO(), width=220)
            timed("summary, piped", lambda c=piped: print_summary(result, c))
            term = _Console(file=io.StringIO(), width=250, force_terminal=True,
                            color_system="truecolor")  # fmt: skip
            timed("summary, terminal", lambda c=term: print_summary(result, c))
    print(f"{'stage':<20} {'first':>9} {'fastest':>9}")
    for name, times in runs.items():
        print(f"{name:<20} {times[0] * 1000:7.0f} ms {min(times) * 1000:7.0f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
