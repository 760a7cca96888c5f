"""Benchmark: netscan against tshark and ndpiReader on the same captures.

    python benchmarks/run.py [--mix stress|realistic|both] [--packets 1000000] [--file F]
                             [--repeat 1]

The stress mix is generated with ``gen_large.py``, the realistic mix (public captures,
scenario captures and the demo, concatenated) with ``make_realistic.py``; both are cached
under ``benchmarks/out/``. Each tool is timed on each file and a table printed: seconds,
packets/s, ratio to tshark, and peak memory (max RSS of the child process). netscan runs
with the Rust core on one core (``--jobs 1``; the default is ``auto``) and with
``--jobs 2``, and on one core with an empty signature pack (the difference is the matcher's
cost).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "out"

TSHARK_FIELDS = [
    "ip.src",
    "ip.dst",
    "dns.qry.name",
    "tls.handshake.extensions_server_name",
    "http.host",
]


# Runs a command and reports its own peak memory (each command gets a fresh parent, so
# RUSAGE_CHILDREN holds that command's max RSS only).
_WRAP = (
    "import resource, subprocess, sys\n"
    "rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode\n"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, rc, file=sys.stderr)\n"
)


def timed(cmd: list[str]) -> tuple[float, float, int]:
    """Wall seconds, peak RSS in MB and exit code of one command."""
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", _WRAP, *cmd], stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)  # fmt: skip
    wall = time.perf_counter() - t0
    last = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "0 1"
    rss_kb, rc = (int(x) for x in last.split()[:2])
    if rc != 0:
        print(
            f"warning: {' '.join(cmd[:3])} exited {rc}: {proc.stderr.strip()[:200]}",
            file=sys.stderr,
        )
    return wall, rss_kb / 1024, rc


def count_packets(path: Path) -> int:
    sys.path.insert(0, str(ROOT))
    from netscan import _core

    return sum(1 for _ in _core.Reader(str(path)))


def empty_pack(tmp: Path) -> Path:
    sys.path.insert(0, str(ROOT))
    src = ROOT / "signatures"
    dst = tmp / "empty-pack"
    dst.mkdir()
    for f in src.iterdir():
        if f.is_file():
            shutil.copy(f, dst / f.name)
    return dst


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--packets", type=int, default=1_000_000)
    ap.add_argument("--file", type=Path)
    ap.add_argument("--mix", choices=("stress", "realistic", "both"), default="both")
    ap.add_argument("--repeat", type=int, default=1, help="runs per tool; the best is kept")
    args = ap.parse_args()
    warm_up()
    if args.file is not None:
        return bench(args.file, args)
    if args.mix in ("realistic", "both"):
        path = OUT / "realistic.pcapng"
        if not path.exists():
            OUT.mkdir(exist_ok=True)
            print(f"building {path} ...", file=sys.stderr)
            subprocess.run([sys.executable, str(HERE / "make_realistic.py"), "-o", str(path)],
                           check=True)  # fmt: skip
        bench(path, args)
    if args.mix in ("stress", "both"):
        bench(stress_file(args.packets), args)
    return 0


def warm_up() -> None:
    """Steady state before timing: the package's bytecode compiled (an environment with
    PYTHONDONTWRITEBYTECODE=1 would otherwise compile every module on every run) and one
    small analysis, which builds the compact registry indexes and records the signature
    pack's schema check in the cache directory (what a first run after installing does)."""
    import netscan

    pkg = Path(netscan.__file__).parent
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(pkg)], check=False,
                   stdout=subprocess.DEVNULL)  # fmt: skip
    demo = HERE.parent / "pcaps" / "demo_sales_office.pcapng"
    with tempfile.TemporaryDirectory() as td:
        subprocess.run([sys.executable, "-m", "netscan", "analyze", "-q", str(demo), "--json",
                        str(Path(td) / "w.json")], check=False)  # fmt: skip


def stress_file(packets: int) -> Path:
    path = OUT / f"premises-{packets}.pcap"
    OUT.mkdir(exist_ok=True)
    if not path.exists():
        print(f"generating {path} ...", file=sys.stderr)
        subprocess.run(
            [sys.executable, str(HERE / "gen_large.py"), "--packets", str(packets), "-o",
             str(path)],
            check=True,
        )  # fmt: skip
    return path


def bench(path: Path, args: argparse.Namespace) -> int:
    packets = count_packets(path)
    py = sys.executable
    with tempfile.TemporaryDirectory() as td:
        tmp = Path(td)

        def netscan(report: str, *options: str) -> list[str]:
            return [py, "-m", "netscan", "analyze", "-q", *options, str(path), "--json",
                    str(tmp / report)]  # fmt: skip

        runs: list[tuple[str, list[str]]] = [
            ("netscan (1 core)", netscan("a.json", "--jobs", "1")),
            ("netscan --jobs 2", netscan("b.json", "--jobs", "2")),
            ("netscan, empty pack",
             netscan("c.json", "--jobs", "1", "--signatures", str(empty_pack(tmp)))),
        ]  # fmt: skip
        tshark = shutil.which("tshark")
        if tshark:
            fields = [x for f in TSHARK_FIELDS for x in ("-e", f)]
            runs.append(
                ("tshark -T fields", [tshark, "-r", str(path), "-n", "-T", "fields", *fields])
            )
        ndpi = shutil.which("ndpiReader")
        if ndpi:
            runs.append(("ndpiReader", [ndpi, "-i", str(path), "-q"]))
        results: list[tuple[str, float, float]] = []
        # round by round (every tool once a round), so that a drift of the machine's speed
        # over the minutes weighs on every tool alike; the best of the rounds is kept
        best = {name: (float("inf"), float("nan")) for name, _ in runs}
        for _ in range(args.repeat):
            for name, cmd in runs:
                wall, rss, _rc = timed(cmd)
                if wall < best[name][0]:
                    best[name] = (wall, rss)
        results.extend((name, *best[name]) for name, _ in runs)
    base = next((w for n, w, _ in results if n.startswith("tshark")), None)
    print(f"\ncapture: {path} ({packets} packets, {path.stat().st_size / 1e6:.0f} MB)\n")
    print(
        f"| {'tool':<22} | {'seconds':>8} | {'packets/s':>10} | {'x tshark':>8} | {'peak MB':>8} |"
    )
    print(f"|{'-' * 24}|{'-' * 10}|{'-' * 12}|{'-' * 10}|{'-' * 10}|")
    for name, wall, rss in results:
        ratio = f"{base / wall:.2f}" if base else "-"
        print(f"| {name:<22} | {wall:8.2f} | {packets / wall:10.0f} | {ratio:>8} | {rss:8.0f} |")
    full = next(w for n, w, _ in results if n == "netscan (1 core)")
    empty = next(w for n, w, _ in results if n == "netscan, empty pack")
    print(
        f"\nsignature matching cost: full pack {full:.2f}s vs empty pack {empty:.2f}s ({(full / empty - 1) * 100:+.1f}%)"
    )
    jobs2 = next(w for n, w, _ in results if n == "netscan --jobs 2")
    print(f"netscan --jobs 2 vs one job: {full / jobs2:.2f}x")
    ndpi = next((w for n, w, _ in results if n == "ndpiReader"), None)
    if ndpi:
        print(f"netscan (1 core) vs ndpiReader: {ndpi / full:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
