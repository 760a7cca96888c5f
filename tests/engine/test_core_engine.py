"""The core engine's flow table bound: idle flows evicted, their counts never lost, a
warning that says how many; and records pushed from Python (live capture) analysed like
the same records read from a file."""

from __future__ import annotations

import struct
from pathlib import Path

from netscan.analyze import Analyzer, Options
from netscan.engine.core import CoreEngine
from netscan.sources.pcapfile import CaptureFile
from tests.conftest import PCAPS
from tests.engine.test_engines import Recorder


def udp_frame(client: int, sport: int, reply: bool, size: int) -> bytes:
    cam_mac = bytes([0x44, 0x19, 0xB6, 0, client >> 8, client & 0xFF])
    gw_mac = bytes.fromhex("50c7bf3a9101")
    cam_ip = bytes([192, 168, client >> 8, client & 0xFF or 1])
    far_ip = bytes([203, 0, 113, 50])
    src, dst = (far_ip, cam_ip) if reply else (cam_ip, far_ip)
    ports = (8000, sport) if reply else (sport, 8000)
    payload = bytes(size)
    udp = struct.pack("!HHHH", ports[0], ports[1], 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0, src, dst)
    eth = (gw_mac + cam_mac) if not reply else (cam_mac + gw_mac)
    return eth + b"\x08\x00" + ip + udp


def many_flows(path: Path, flows: int) -> tuple[int, int]:
    """`flows` conversations; each sends, then (after all others have) gets a reply and
    sends again: with a small table every conversation is evicted in between."""
    records = []
    t = 1_767_258_000.0
    for phase in range(3):
        for i in range(flows):
            frame = udp_frame(1 + i % 200, 20000 + i, phase == 1, 40 + i % 50)
            records.append((t, frame))
            t += 0.001
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    for ts, data in records:
        sec = int(ts)
        out.append(struct.pack("<IIII", sec, round((ts - sec) * 1e6), len(data), len(data)))
        out.append(data)
    path.write_bytes(b"".join(out))
    return len(records), sum(len(d) for _, d in records)


def totals(result: object) -> dict[tuple[str, str, int], tuple[int, int, int, int]]:
    out = {}
    for c in result.conversations:  # type: ignore[attr-defined]
        out[(c.device, c.peer_ip, c.port)] = (c.bytes_up, c.bytes_down, c.packets_up,
                                             c.packets_down)  # fmt: skip
    return out


def test_evicted_flows_keep_their_counts(tmp_path: Path) -> None:
    path = tmp_path / "many.pcap"
    packets, wire = many_flows(path, 3000)
    full = Analyzer(Options()).run([str(path)])
    bounded = Analyzer(Options(max_flows=100)).run([str(path)])
    assert not any("retired" in w for w in full.warnings)
    evicted = [w for w in bounded.warnings if "retired" in w]
    assert len(evicted) == 1 and "table of 100 live flows" in evicted[0], bounded.warnings
    # every conversation was evicted at least once
    assert int(evicted[0].split()[0].replace(",", "")) >= 3000
    # nothing counted is lost: per conversation, every byte and packet is still there
    assert totals(bounded) == totals(full)
    up = sum(v[0] + v[1] for v in totals(bounded).values())
    pk = sum(v[2] + v[3] for v in totals(bounded).values())
    assert (up, pk) == (wire, packets)
    assert sum(c.flows for c in bounded.conversations) > sum(c.flows for c in full.conversations)
    # the bursts of evicted flows reach the report too
    assert sum(len(c.bursts) for c in bounded.conversations) >= sum(
        len(c.bursts) for c in full.conversations
    )


def test_pushed_records_equal_file_reading() -> None:
    """Live capture hands records to the core one by one: same flows and events."""
    demo = PCAPS / "demo_sales_office.pcapng"
    a, b = Recorder(), Recorder()
    from_file = CoreEngine(a)
    from_file.open([str(demo)])
    from_file.run_files()
    from_file.finish()
    pushed = CoreEngine(b)
    cap = CaptureFile(demo)
    pushed.run(cap.records())
    pushed.finish()
    cap.close()
    assert from_file.packets == pushed.packets == 8443
    assert [e for e, _ in a.events] == [e for e, _ in b.events]
    assert [(f.a_ip, f.b_ip, f.a_port, f.b_port, f.bytes_ab, f.bytes_ba, f.first_frames)
            for f in a.flows] == [
        (f.a_ip, f.b_ip, f.a_port, f.b_port, f.bytes_ab, f.bytes_ba, f.first_frames)
        for f in b.flows
    ]  # fmt: skip
    assert a.l2 == b.l2


def test_cli_max_flows_option(tmp_path: Path) -> None:
    import json
    import subprocess
    import sys

    path = tmp_path / "many.pcap"
    many_flows(path, 500)
    report = tmp_path / "r.json"
    proc = subprocess.run(
        [sys.executable, "-m", "netscan", "analyze", "-q", str(path), "--max-flows", "50",
         "--json", str(report)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    warnings = json.loads(report.read_text())["warnings"]
    assert any("retired from the engine's table of 50 live flows" in w for w in warnings), warnings
    bad = subprocess.run(
        [sys.executable, "-m", "netscan", "analyze", str(path), "--max-flows", "0"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert bad.returncode == 2 and "positive" in bad.stderr


def test_flush_between_records_loses_nothing() -> None:
    """A live consumer's tick flushes the engine from inside the record iterator."""
    demo = PCAPS / "demo_sales_office.pcapng"
    a, b = Recorder(), Recorder()
    plain = CoreEngine(a)
    cap = CaptureFile(demo)
    plain.run(cap.records())
    plain.finish()
    ticking = CoreEngine(b)

    def records():  # type: ignore[no-untyped-def]
        for i, rec in enumerate(CaptureFile(demo).records()):
            if i % 777 == 0:
                ticking.flush()  # what LiveAnalysis's tick does
            yield rec

    ticking.run(records())
    ticking.finish()
    assert ticking.packets == plain.packets == 8443
    assert [e for e, _ in a.events] == [e for e, _ in b.events]
    assert [(f.bytes_ab, f.bytes_ba) for f in a.flows] == [
        (f.bytes_ab, f.bytes_ba) for f in b.flows
    ]


def test_two_cores_in_threads_equal_one_after_the_other() -> None:
    """The core releases the GIL while it reads and decodes: two engines in two threads
    give what each gives alone."""
    import threading

    from tests.conftest import realworld

    paths = [PCAPS / "demo_sales_office.pcapng", realworld("big_mixed_1kxun_ndpi.pcap")]

    def run(path: Path) -> tuple[int, list[object], list[tuple[int, int]]]:
        sink = Recorder()
        engine = CoreEngine(sink)
        engine.open([str(path)])
        engine.run_files()
        engine.finish()
        return (
            engine.packets,
            [e for e, _ in sink.events],
            [(f.bytes_ab, f.bytes_ba) for f in sink.flows],
        )

    alone = [run(p) for p in paths]
    together: list[object] = [None, None]

    def work(i: int) -> None:
        together[i] = run(paths[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert together == alone


def test_core_writes_addresses_as_python_does() -> None:
    """The core builds the contexts of its events itself: its address text must be the
    text the flows carry (Python's inet_ntoa/inet_ntop), for every shape of IPv6 address."""
    import random
    import socket

    from netscan import _core

    rng = random.Random(11)
    samples = [bytes(16), bytes(15) + b"\x01", bytes(10) + b"\xff\xff\x0a\x00\x00\x01",
               bytes(12) + b"\x0a\x00\x00\x01", bytes(8) + b"\x00\x01" + bytes(6),
               b"\xfe\x80" + bytes(6) + b"\x02\x11\x22\xff\xfe\x33\x44\x55",
               b"\x20\x01\x0d\xb8\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x01"]  # fmt: skip
    for _ in range(3000):  # random zero runs of every length and place
        words = [rng.choice((0, 0, 0, 1, 0xFFFF, rng.randrange(65536))) for _ in range(8)]
        samples.append(b"".join(w.to_bytes(2, "big") for w in words))
    for raw in samples:
        assert _core.ip_string(raw) == socket.inet_ntop(socket.AF_INET6, raw), raw.hex()
    for _ in range(200):
        raw = rng.randbytes(4)
        assert _core.ip_string(raw) == socket.inet_ntoa(raw)


def test_core_dissects_and_counts_repeats() -> None:
    """DNS, TLS and the other built-in dissectors run in the core (no payloads come back for
    them), and the repeats it dropped are counted."""
    demo = PCAPS / "demo_sales_office.pcapng"
    rec = Recorder()
    eng = CoreEngine(rec)
    eng.open([str(demo)])
    seen: list[int] = []
    original = eng._feed

    def feed(flow, parser, data, ctx, from_a, fid):  # type: ignore[no-untyped-def]
        seen.append(ctx.dport if from_a else ctx.sport)
        return original(flow, parser, data, ctx, from_a, fid)

    eng._feed = feed  # type: ignore[method-assign]
    eng.run_files()
    eng.finish()
    kinds = {e.kind for e, _ in rec.events}
    assert {"dns", "tls_client_hello"} <= kinds
    assert 53 not in seen and 443 not in seen  # parsed in the core, not handed over
    assert eng.repeats["datagrams"] + eng.repeats["facts"] > 0
