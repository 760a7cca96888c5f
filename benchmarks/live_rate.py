#!/usr/bin/env python3
"""Where does live analysis fall behind? Replays a mixed premises capture at rising rates
through a veth link between two network namespaces and captures it with ``LiveCapture``
(dumpcap in the capture namespace) feeding ``LiveAnalysis``, as ``netscan capture`` does.

Per rate it reports what was sent, captured, dropped (by the kernel/dumpcap) and analysed,
how far the analysis fell behind (most packets/bytes pending on disk), how long it took to
catch up after the replay ended, and the analysis rate. Needs root, iproute2 and tcpreplay;
traffic stays inside the two namespaces it creates (and removes).

Usage:  sudo python benchmarks/live_rate.py [--packets N] [--rates 50,100,200,400] [--pcap F]
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from netscan.analyze import Options  # noqa: E402
from netscan.live_analysis import LiveAnalysis  # noqa: E402
from netscan.sources.live import LiveCapture  # noqa: E402
from netscan.sources.pcapfile import CaptureFile  # noqa: E402


def run(*cmd: str) -> str:
    return subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=600).stdout


class Namespaces:
    def __init__(self) -> None:
        tag = secrets.token_hex(3)
        self.ns_a, self.ns_b = f"ns-a-{tag}", f"ns-b-{tag}"
        self.if_a, self.if_b = f"vra{tag}", f"vrb{tag}"
        self.made: list[str] = []

    def __enter__(self) -> Namespaces:
        for ns in (self.ns_a, self.ns_b):
            run("ip", "netns", "add", ns)
            self.made.append(ns)
            for key in ("all", "default"):
                run("ip", "netns", "exec", ns, "sysctl", "-qw",
                    f"net.ipv6.conf.{key}.disable_ipv6=1")  # fmt: skip
        run("ip", "-n", self.ns_a, "link", "add", self.if_a, "mtu", "9000", "type", "veth",
            "peer", "name", self.if_b, "netns", self.ns_b)  # fmt: skip
        run("ip", "-n", self.ns_b, "link", "set", self.if_b, "mtu", "9000")
        for ns, ifname, addr in ((self.ns_a, self.if_a, "198.51.100.1/30"),
                                 (self.ns_b, self.if_b, "198.51.100.2/30")):  # fmt: skip
            run("ip", "-n", ns, "addr", "add", addr, "dev", ifname)
            run("ip", "-n", ns, "link", "set", ifname, "up")
        return self

    def __exit__(self, *exc: object) -> None:
        for ns in self.made:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def make_capture(packets: int, out: Path) -> Path:
    gen = ROOT / "benchmarks" / "gen_large.py"
    if gen.exists():
        subprocess.run([sys.executable, str(gen), "--packets", str(packets), "-o", str(out)],
                       check=True, cwd=ROOT, capture_output=True)  # fmt: skip
        return out
    return ROOT / "pcaps" / "demo_sales_office.pcapng"


def one_rate(ns: Namespaces, pcap: Path, mbps: int, sent: int, work: Path) -> dict[str, float]:
    evidence = work / f"ev-{mbps}"
    cap = LiveCapture(ns.if_b, evidence_dir=evidence, netns=ns.ns_b, ring_size_mb=100)
    live = LiveAnalysis(Options(), cap)
    peak = {"packets": 0, "estimate": 0, "bytes": 0}
    marks: dict[str, float] = {}

    def tick() -> None:
        st = cap.status()
        peak["packets"] = max(peak["packets"], st.pending_packets or 0)
        peak["estimate"] = max(peak["estimate"], st.pending_packets_est or 0)
        peak["bytes"] = max(peak["bytes"], st.pending_bytes)

    def sender() -> None:
        time.sleep(0.3)
        marks["start"] = time.monotonic()
        run("ip", "netns", "exec", ns.ns_a, "tcpreplay", "-q", "-i", ns.if_a, f"--mbps={mbps}",
            str(pcap))  # fmt: skip
        marks["sent"] = time.monotonic()
        tick()
        time.sleep(1.0)  # dumpcap writes what is still buffered
        cap.stop()

    cap.start()
    t = threading.Thread(target=sender)
    t.start()
    live.run(tick=tick, tick_interval=0.2)
    done = time.monotonic()
    t.join()
    st = cap.status()
    replay_s = marks["sent"] - marks["start"]
    shutil.rmtree(evidence, ignore_errors=True)
    return {
        "mbps": mbps,
        "sent": sent,
        "captured": st.packets_captured or 0,
        "dropped": st.drops.total,
        "analysed": st.packets_read,
        "replay_s": replay_s,
        "peak_pending_pkts": peak["packets"],
        "peak_pending_est": peak["estimate"],
        "peak_pending_mb": peak["bytes"] / 1e6,
        "catch_up_s": max(0.0, done - marks["sent"] - 1.0),
        "analysis_pps": st.packets_read / max(1e-9, done - marks["start"] - 1.0),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--packets", type=int, default=100_000)
    ap.add_argument("--rates", default="50,100,200,400", help="Mbit/s, comma-separated")
    ap.add_argument("--pcap", type=Path, help="replay this capture instead of generating one")
    args = ap.parse_args()
    if os.geteuid() != 0 or not shutil.which("ip") or not shutil.which("tcpreplay"):
        print("needs root, iproute2 and tcpreplay", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="netscan-live-rate-") as tmp:
        work = Path(tmp)
        pcap = args.pcap or make_capture(args.packets, work / "mixed.pcap")
        sent = sum(1 for _ in CaptureFile(pcap))
        size = pcap.stat().st_size
        print(f"capture: {pcap.name}, {sent} packets, {size / 1e6:.1f} MB")
        cols = ("mbps", "sent", "captured", "dropped", "analysed", "replay_s",
                "peak_pending_pkts", "peak_pending_est", "peak_pending_mb", "catch_up_s", "analysis_pps")  # fmt: skip
        print("| " + " | ".join(cols) + " |")
        print("|" + "---|" * len(cols))
        with Namespaces() as ns:
            for rate in (int(r) for r in args.rates.split(",")):
                row = one_rate(ns, pcap, rate, sent, work)
                print("| " + " | ".join(
                    f"{row[c]:.1f}" if isinstance(row[c], float) else str(row[c]) for c in cols
                ) + " |", flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
