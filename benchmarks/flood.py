#!/usr/bin/env python3
"""Hostile inputs at full size: peak memory and time of ``netscan analyze`` on each.

The cases of the hostile-input issue, generated on demand into ``benchmarks/out/hostile``:

- ``flood``: 500,000 distinct UDP 5-tuples (one premises camera to random off-site
  addresses and ports), a 33 MB pcap;
- ``gzip-bomb``: a pcap header and 4 GiB of zeros, gzip-compressed to 4 MB (the classic
  bomb: every 16 zero bytes read as an empty record);
- ``gzip-datagrams``: one real 1000-byte datagram recorded over and over, 4 GiB, gzip;
- ``png-posts``: a camera posting 200 different 30000x30000 PNGs (109 kB each, 900 MB
  each once decoded) to a face-recognition API over plain HTTP.

Each is analysed in a child process (``--json``, ``-q``, default limits unless ``--limit``
is given) and its peak RSS is taken from the child's own rusage (``os.wait4``). Prints a
table: input size, seconds, peak RSS, JSON size, and the limit warnings. Nothing here is
asserted: the tests check bounds at small scale; this is the full-scale measure.

Usage:  python benchmarks/flood.py [--only flood,png-posts] [--flows N] [--posts N]
                                   [--limit NAME=VALUE ...] [--keep]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.hostile_inputs import png_bomb, write_flood, write_gzip_bomb, write_posts  # noqa: E402

OUT = ROOT / "benchmarks" / "out" / "hostile"


def make(case: str, args: argparse.Namespace) -> Path:
    OUT.mkdir(parents=True, exist_ok=True)
    if case == "flood":
        path = OUT / f"flood-{args.flows}.pcap"
        if not path.exists():
            write_flood(path, args.flows)
    elif case == "gzip-bomb":
        path = OUT / "bomb-zeros.pcap.gz"
        if not path.exists():
            write_gzip_bomb(path, 4 << 30, frame_size=0)
    elif case == "gzip-datagrams":
        path = OUT / "bomb-datagrams.pcap.gz"
        if not path.exists():
            write_gzip_bomb(path, 4 << 30, frame_size=1000)
    elif case == "png-posts":
        path = OUT / f"png-posts-{args.posts}.pcap"
        if not path.exists():
            bomb = png_bomb(30000, 30000)
            bodies = []
            for i in range(args.posts):  # each different (a tEXt chunk), so none is a repeat
                text = b"tEXt" + f"Comment\0post {i}".encode()
                chunk = (
                    len(text[4:]).to_bytes(4, "big") + text + zlib.crc32(text).to_bytes(4, "big")
                )
                bodies.append((bomb[:33] + chunk + bomb[33:], "image/png"))
            write_posts(path, bodies)
    else:
        raise SystemExit(f"unknown case {case}")
    return path


def measure(path: Path, limits: list[str]) -> tuple[float, float, int, list[str], int]:
    """(seconds, peak RSS in MB, JSON bytes, warnings, exit code) of one analysis."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "report.json"
        cmd = [sys.executable, "-m", "netscan.cli", "analyze", str(path), "--json", str(out), "-q"]
        for lim in limits:
            cmd += ["--limit", lim]
        t0 = time.perf_counter()
        with tempfile.TemporaryFile() as err:
            proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
            _pid, status, usage = os.wait4(proc.pid, 0)
            seconds = time.perf_counter() - t0
            err.seek(0)
            warnings = [
                line.removeprefix("netscan: warning: ")
                for line in err.read().decode().splitlines()
                if line.strip()
            ]
        size = out.stat().st_size if out.exists() else 0
    return seconds, usage.ru_maxrss / 1024, size, warnings, os.waitstatus_to_exitcode(status)


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--only", default="flood,gzip-bomb,gzip-datagrams,png-posts")
    ap.add_argument("--flows", type=int, default=500_000)
    ap.add_argument("--posts", type=int, default=200)
    ap.add_argument("--limit", action="append", default=[], metavar="NAME=VALUE")
    ap.add_argument("--keep", action="store_true", help="keep the generated inputs")
    args = ap.parse_args()
    rows = []
    for case in args.only.split(","):
        t0 = time.perf_counter()
        path = make(case, args)
        made = time.perf_counter() - t0
        print(
            f"{case}: {path.name} {path.stat().st_size / 1e6:.1f} MB (made in {made:.1f} s)",
            flush=True,
        )
        seconds, rss, js, warnings, code = measure(path, args.limit)
        rows.append((case, path.stat().st_size, seconds, rss, js, code))
        for w in warnings:
            print(f"    {w}")
        if not args.keep:
            path.unlink()
    print()
    print(
        f"{'case':<16}{'input MB':>10}{'seconds':>10}{'peak RSS MB':>13}{'JSON MB':>10}{'exit':>6}"
    )
    for case, size, seconds, rss, js, code in rows:
        print(
            f"{case:<16}{size / 1e6:>10.1f}{seconds:>10.1f}{rss:>13.0f}{js / 1e6:>10.1f}{code:>6}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
