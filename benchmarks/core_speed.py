"""Time of the Rust packet core alone (``Core.run``: read, decode, flows, dissectors and the
ops made Python objects), without the Python side that replays them.

    python benchmarks/core_speed.py [--repeat 3] [--no-hash] FILE [FILE ...]

The core is set up as ``netscan analyze`` sets it up (the UDP parser table of the default
signature pack's marker ports, the default premises) and runs every record of each file in
the analysis' batches; the ops are dropped unread. Prints, per file, the best of
``--repeat`` runs of the whole ``Core.run`` loop, the records and ops it handed over, and
the records per second. Use it to compare two builds back to back (take the minimum).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from netscan import _core  # noqa: E402
from netscan.analyze import load_signatures, relaxed_gc  # noqa: E402
from netscan.engine.core import BATCH, DEDUP_FACTS, MAX_FLOWS, _nets, _udp_table  # noqa: E402
from netscan.inventory.enrich import DEFAULT_PREMISES, LOCAL_SCOPE  # noqa: E402
from netscan.limits import resolve as resolve_limits  # noqa: E402


def run_once(
    path: Path, ports: list[tuple[int, str, bool]], hash_file: bool
) -> tuple[float, float, float, int, int]:
    """One pass of the core over ``path``: (wall seconds, CPU seconds of this thread, CPU
    seconds of the process, records, ops). On a busy machine the CPU times are the steadier
    measure; the calling thread's excludes the file's hashing, which runs on a thread of
    its own."""
    lim = resolve_limits(None)
    core = _core.Core(ports, _nets(list(DEFAULT_PREMISES)), _nets(LOCAL_SCOPE),
                      max_flows=MAX_FLOWS, dissect=True, dedup_facts=DEDUP_FACTS)  # fmt: skip
    start = time.perf_counter()
    thread0, process0 = time.thread_time(), time.process_time()
    core.open(str(path), lim.gunzip, lim.gunzip_ratio, hash_file)
    records = ops = 0
    while True:
        batch, n = core.run(BATCH)
        ops += len(batch)
        records += n
        del batch
        if n < BATCH:
            break
    ops += len(core.finish())
    core.file_info(0)  # the hash is done
    return (
        time.perf_counter() - start,
        time.thread_time() - thread0,
        time.process_time() - process0,
        records,
        ops,
    )


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="+", type=Path)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-hash", action="store_true", help="do not hash the files as read")
    args = ap.parse_args(argv)
    matcher, _ = load_signatures(None)
    ports, _keys = _udp_table(matcher.marker_ports("udp"))
    for path in args.files:
        wall = thread = process = float("inf")
        records = ops = 0
        for _ in range(args.repeat):
            with relaxed_gc():  # as the analysis runs
                w, t, p, records, ops = run_once(path, ports, not args.no_hash)
            wall, thread, process = min(wall, w), min(thread, t), min(process, p)
        print(
            f"{path.name}: core {wall:.3f} s wall, {thread:.3f} s CPU in the caller's thread, "
            f"{process:.3f} s CPU in all (best of {args.repeat}); {records} records, "
            f"{ops} ops, {records / wall / 1e6:.2f} M records/s"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
