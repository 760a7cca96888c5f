"""What one lost TCP segment does to the findings: each scenario capture, each data segment.

    python benchmarks/loss.py [--per 40] [--seed 1]

A mirror port under load drops packets, and a face upload is a handful of segments. For
each scenario capture of the test suite with a finding (``tests/analysis/scenarios``),
every TCP segment that carries data (at most ``--per`` of them, chosen by ``--seed``) is
removed in turn and the capture analysed again. Each run is compared with the intact
capture's findings (device and level): the same, a level lower, a level higher, gone,
or a finding that was not there. The table gives the counts per scenario and in all; a
finding that vanishes for one lost segment is what an auditor would miss. The last
columns say whether the analysis noticed the loss: its ``summary.capture_loss`` counts
exactly the lost payload more than the intact capture's ("counted"), or not at all (the
segment was its direction's last, with nothing after it to show it was sent). The
summary line also says how many of the findings still there after a lost segment say the
capture missed bytes of their own conversations (``capture_missed``), and whether each
says exactly the payload lost.
"""

from __future__ import annotations

import argparse
import random
import struct
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

RANK = {"possible": 1, "likely": 2, "confirmed": 3}
OUTCOMES = ("same", "lower", "higher", "gone", "new")


def records(path: Path) -> tuple[bytes, list[bytes], str]:
    """The header, the records (header and data) of a classic pcap, and its byte order."""
    raw = path.read_bytes()
    order = "<" if raw[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    out, pos = [], 24
    while pos + 16 <= len(raw):
        incl = struct.unpack_from(order + "I", raw, pos + 8)[0]
        out.append(raw[pos : pos + 16 + incl])
        pos += 16 + incl
    return raw[:24], out, order


def tcp_data(rec: bytes) -> int:
    """The TCP payload bytes an Ethernet/IPv4-or-IPv6 record carries (0: none)."""
    frame = rec[16:]
    if len(frame) < 14:
        return 0
    etype, off = struct.unpack_from(">H", frame, 12)[0], 14
    if etype == 0x8100 and len(frame) >= 18:
        etype, off = struct.unpack_from(">H", frame, 16)[0], 18
    if etype == 0x0800 and len(frame) >= off + 20:
        ihl, total = (frame[off] & 15) * 4, struct.unpack_from(">H", frame, off + 2)[0]
        if frame[off + 9] != 6:
            return 0
        tcp = off + ihl
        if len(frame) < tcp + 13:
            return 0
        return max(total - ihl - (frame[tcp + 12] >> 4) * 4, 0)
    if etype == 0x86DD and len(frame) >= off + 40:
        if frame[off + 6] != 6:
            return 0
        tcp = off + 40
        plen = struct.unpack_from(">H", frame, off + 4)[0]
        if len(frame) < tcp + 13:
            return 0
        return max(plen - (frame[tcp + 12] >> 4) * 4, 0)
    return 0


def findings(path: Path) -> tuple[dict[str, str], int, dict[str, int]]:
    """The findings (device -> level), the TCP bytes the analysis counts as missed, and
    the bytes each finding says the capture missed of it (device -> bytes, when some)."""
    from netscan.analyze import Analyzer, Options

    result = Analyzer(Options()).run([str(path)])
    missed = result.capture_loss.get("tcp_missed_bytes", 0)
    levels = {f.device: str(getattr(f.level, "value", f.level)) for f in result.findings}
    gaps: Counter[str] = Counter()
    for f in result.findings:
        if f.capture_missed:
            gaps[f.device] += f.capture_missed["bytes_up"] + f.capture_missed["bytes_down"]
    return levels, missed, dict(gaps)


def compare(base: dict[str, str], got: dict[str, str]) -> Counter[str]:
    out: Counter[str] = Counter()
    for dev, level in base.items():
        if dev not in got:
            out["gone"] += 1
        elif RANK[got[dev]] < RANK[level]:
            out["lower"] += 1
        elif RANK[got[dev]] > RANK[level]:
            out["higher"] += 1
        else:
            out["same"] += 1
    out["new"] += sum(1 for dev in got if dev not in base)
    return out


def main(argv: list[str]) -> int:
    from tests.analysis.scenarios.build import SCENARIOS

    ap = argparse.ArgumentParser(prog="loss.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("--per", type=int, default=40, help="segments dropped per scenario")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    rng = random.Random(args.seed)
    total: Counter[str] = Counter()
    said: Counter[str] = Counter()  # the loss counted exactly, not at all, otherwise
    gone_said = 0  # findings gone whose run counted the loss
    told = exact = 0  # findings saying the capture missed bytes of them; of the lost payload
    started = time.perf_counter()
    print(f"{'scenario':24} {'findings':>8} {'drops':>6}  " + " ".join(f"{o:>6}" for o in OUTCOMES)
          + "  counted  unseen")  # fmt: skip
    with tempfile.TemporaryDirectory() as td:
        tmp = Path(td)
        for name, build in SCENARIOS.items():
            path = build(tmp)
            base, base_missed, base_gaps = findings(path)
            if not base:
                continue
            head, recs, _ = records(path)
            data = [i for i, r in enumerate(recs) if tcp_data(r)]
            if len(data) > args.per:
                data = sorted(rng.sample(data, args.per))
            row: Counter[str] = Counter()
            row_said: Counter[str] = Counter()
            for i in data:
                cut = tmp / f"{name}-{i}.pcap"
                cut.write_bytes(head + b"".join(r for j, r in enumerate(recs) if j != i))
                got, missed, gaps = findings(cut)
                outcome = compare(base, got)
                row += outcome
                grew = missed - base_missed
                how = "counted" if grew == tcp_data(recs[i]) else "unseen" if grew == 0 else "other"
                row_said[how] += 1
                if outcome["gone"] and grew:
                    gone_said += outcome["gone"]
                for dev, n in gaps.items():
                    if n > base_gaps.get(dev, 0):
                        told += 1
                        exact += n - base_gaps.get(dev, 0) == tcp_data(recs[i])
                cut.unlink()
            total += row
            said += row_said
            print(f"{name:24} {len(base):>8} {len(data):>6}  "
                  + " ".join(f"{row[o]:>6}" for o in OUTCOMES)
                  + f"  {row_said['counted']:>7} {row_said['unseen']:>7}")  # fmt: skip
    runs = sum(total.values()) - total["new"]
    print(f"{'all':24} {'':>8} {'':>6}  " + " ".join(f"{total[o]:>6}" for o in OUTCOMES)
          + f"  {said['counted']:>7} {said['unseen']:>7}")  # fmt: skip
    kept = total["same"] + total["higher"]
    print(f"findings kept at their level after one lost segment: {kept}/{runs} "
          f"({100 * kept / max(runs, 1):.0f} %); gone: {total['gone']} (the loss counted in "
          f"the run of {gone_said}); the lost payload counted exactly in "
          f"{said['counted']}/{sum(said.values())} runs, not at all in {said['unseen']}, "
          f"otherwise in {said['other']}; findings that say the capture missed bytes of "
          f"them: {told} (exactly the payload lost: {exact}); "
          f"{time.perf_counter() - started:.0f} s")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
