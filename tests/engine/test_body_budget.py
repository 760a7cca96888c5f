"""The bodies all HTTP streams are reassembling at once share one budget in the core.

Each stream keeps at most 8 MiB of a body, but nothing bounded them together: a device
opening many uploads and sending each one's bytes slowly made the core hold all of them.
Past the budget, the stream whose body grew is cut short (what it had is reported,
incomplete, and analysed), the rest of that body is framed but not kept, and the run
says how many were cut."""

from __future__ import annotations

from pathlib import Path

from netscan.engine.core import CoreEngine
from netscan.events import HttpBodyEvent
from tests.engine.test_gaps import Sink
from tests.hostile_inputs import PCAP_HEADER, record, run_netscan


def _frame(sport: int, seq: int, payload: bytes, flags: int = 0x18) -> bytes:
    from scapy.layers.inet import IP, TCP
    from scapy.layers.l2 import Ether

    pkt = (
        Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
        / IP(src="192.168.1.50", dst="203.0.113.9")
        / TCP(sport=sport, dport=80, seq=seq, flags=flags)
        / payload
    )
    return bytes(pkt)


def _records() -> list[tuple[int, int, float, int, bytes, int]]:
    """Two uploads of 12 kB at once: the first 10 kB in, the second 6 kB, then the rest."""
    head = (b"POST /upload HTTP/1.1\r\nHost: cloud.example\r\nContent-Type: image/jpeg\r\n"
            b"Content-Length: 12000\r\n\r\n")  # fmt: skip
    seqs = {40001: 1000, 40002: 1000}
    records = []
    frame = 0

    def send(sport: int, data: bytes, flags: int = 0x18) -> None:
        nonlocal frame
        frame += 1
        raw = _frame(sport, seqs[sport], data, flags)
        records.append((0, frame, 1.0 + frame / 100, 1, raw, len(raw)))
        seqs[sport] += len(data) + (1 if flags & 0x02 else 0)

    for sport in seqs:
        seqs[sport] -= 1
        send(sport, b"", 0x02)
    # the first upload 10 kB in, the second 6 kB: together past a 15 kB budget, which the
    # second crosses (at its sixth kilobyte); then both send the rest
    send(40001, head)
    for _ in range(10):
        send(40001, b"a" * 1000)
    send(40002, head)
    for _ in range(6):
        send(40002, b"b" * 1000)
    for _ in range(2):
        send(40001, b"a" * 1000)
    for _ in range(6):
        send(40002, b"b" * 1000)
    return records


def test_uploads_past_the_shared_budget_are_cut_short() -> None:
    records = _records()
    sink = Sink()
    engine = CoreEngine(sink, body_budget=15000)
    engine.run(records)
    engine.finish()
    bodies = [(e.body[:1], len(e.body), e.complete) for e in sink.events
              if isinstance(e, HttpBodyEvent)]  # fmt: skip
    assert bodies == [(b"b", 6000, False), (b"a", 12000, True)]
    assert any("1 HTTP request bodies were cut short" in w for w in engine.warnings)
    # without the budget reached, nothing is cut
    sink = Sink()
    engine = CoreEngine(sink)
    engine.run(records)
    engine.finish()
    assert not any("cut short" in w for w in engine.warnings)
    assert [len(e.body) for e in sink.events if isinstance(e, HttpBodyEvent)] == [12000, 12000]


def test_the_budget_is_a_work_limit(tmp_path: Path) -> None:
    """``--limit body-reassembly=N`` (here through NETSCAN_LIMITS) sets it for a run, and
    the run's warnings name it."""
    pcap = tmp_path / "two-uploads.pcap"
    with pcap.open("wb") as fh:
        fh.write(PCAP_HEADER)
        for _file, _frame_no, ts, _lt, data, _wire in _records():
            fh.write(record(ts, data))
    run = run_netscan([str(pcap)], tmp_path, limits="body-reassembly=15K")
    assert run.returncode == 0, run.stderr
    (line,) = [w for w in run.warnings if "cut short" in w]
    assert "1 HTTP request bodies" in line and "15K (--limit body-reassembly=N)" in line
    run = run_netscan([str(pcap)], tmp_path)
    assert not [w for w in run.warnings if "cut short" in w]
