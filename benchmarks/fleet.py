"""Fleet throughput on the local Dask cluster: sites per minute with 1 and 2 workers, and each
worker's peak memory.

    python benchmarks/fleet.py                    # 100 generated sites, 1 then 2 workers
    python benchmarks/fleet.py --sites 40 --workers 1 2 4

The sites are folders holding the small deterministic scenario captures of the analysis tests
(tests/analysis/scenarios/build.py: face uploads, face-cloud bursts, vendor-cloud media, a
benign premises), cycled. Every run starts a fresh local cluster (worker processes, one
thread each) and a fresh output directory, so nothing is skipped as unchanged; the time
includes cluster start, every site's reports and flows partition, and the fleet report. Peak
memory is each worker process's max RSS, read on the workers before the cluster closes.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _maxrss_kb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def make_sites(root: Path, n: int) -> None:
    from tests.fleet.conftest import make_sites as make

    make(root, n)


def run(sites_dir: Path, workers: int) -> dict[str, float]:
    import dask
    from distributed import Client, LocalCluster

    from netscan.fleet import report as fleet_report
    from netscan.fleet.runner import FleetRun, Progress, run_fleet
    from netscan.fleet.sites import load_sites

    out = Path(tempfile.mkdtemp(prefix="netscan-fleet-bench-"))
    sites = load_sites(sites_dir, {"country": "CN"})
    t0 = time.monotonic()
    dask.config.set({"distributed.scheduler.worker-saturation": 1.0})
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                           dashboard_address=None, silence_logs=50)  # fmt: skip
    try:
        fr = FleetRun(out=out, scheduler=cluster.scheduler_address, workers=workers)
        progress = Progress(len(sites), open("/dev/null", "w"))  # noqa: SIM115
        run_fleet(sites, fr, progress)
        fleet = fleet_report.build(out, sites, fr.states, {"seconds": fr.seconds})
        fleet_report.write(out, fleet)
        elapsed = time.monotonic() - t0
        with Client(cluster) as c:
            rss = c.run(_maxrss_kb)
    finally:
        cluster.close()
        shutil.rmtree(out, ignore_errors=True)
    done = sum(1 for s in fr.states.values() if s.get("status") == "done")
    return {
        "workers": workers,
        "sites": len(sites),
        "done": done,
        "seconds": elapsed,
        "sites_per_minute": 60.0 * done / elapsed,
        "packets": fr.packets,
        "peak_rss_mb_max": max(rss.values()) / 1024,
        "peak_rss_mb_mean": sum(rss.values()) / len(rss) / 1024,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sites", type=int, default=100)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="netscan-fleet-sites-") as d:
        sites_dir = Path(d) / "sites"
        make_sites(sites_dir, args.sites)
        print(f"{'workers':>7} {'sites':>5} {'seconds':>8} {'sites/min':>9} {'packets':>8} "
              f"{'peak RSS/worker (max, mean)':>28}")  # fmt: skip
        for w in args.workers:
            r = run(sites_dir, w)
            print(f"{r['workers']:>7} {r['done']:>5} {r['seconds']:>8.1f} "
                  f"{r['sites_per_minute']:>9.1f} {r['packets']:>8,} "
                  f"{r['peak_rss_mb_max']:>14.0f} MB, {r['peak_rss_mb_mean']:.0f} MB", flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
