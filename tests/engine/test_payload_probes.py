"""Content markers on UDP ports the pack names (issue 12): a probe's payload head reaches
the marker scan on those ports only, and a flood on such a port stays bounded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Raw

from netscan.analyze import Analyzer, Options
from netscan.dissectors import payload
from netscan.engine.core import CoreEngine
from netscan.events import PayloadEvent
from netscan.inventory.inventory import Inventory
from netscan.signatures.matcher import Matcher
from netscan.signatures.pack import load_active_pack
from netscan.sources.pcapfile import CaptureFile
from tests.analysis.scenarios.build import GATEWAY, Capture, Host
from tests.engine.test_engines import Recorder

CAMERA = Host("02:00:5e:10:20:30", "192.168.1.50")  # locally administered: no OUI maker
CLOUD = "116.62.118.23"
SIG = "vendor-cloud.dahua-easy4ip-p2p"
PROBE = b"DHGET /probe/p2psrv HTTP/1.1\r\nCSeq: 1\r\nContent-Length: 0\r\n\r\n"


def _datagram(cap: Capture, t: float, dport: int, data: bytes, sport: int = 50123) -> None:
    cap.add(
        t,
        Ether(src=CAMERA.mac, dst=GATEWAY.mac)
        / IP(src=CAMERA.ip, dst=CLOUD)
        / UDP(sport=sport, dport=dport)
        / Raw(data),
    )


def _capture(path: Path, dport: int, data: bytes = PROBE, count: int = 1) -> Path:
    cap = Capture(seed=3)
    for i in range(count):
        # distinct datagrams, so the core's repeat filter does not hide the flood
        _datagram(cap, 0.01 * i, dport, data + i.to_bytes(4, "big") if count > 1 else data)
    return cap.write(path)


def _matcher() -> Matcher:
    return Matcher(load_active_pack())


def test_the_pack_names_the_probe_ports() -> None:
    ports = _matcher().marker_ports("udp")
    assert 8800 in ports  # the Dahua P2P probe's port, from the pack
    assert _matcher().marker_ports("sctp") == frozenset()


def test_a_probe_on_the_named_port_fires_its_signature(tmp_path: Path) -> None:
    path = _capture(tmp_path / "probe.pcap", 8800)
    inv = Analyzer(Options()).run([str(path)]).inventory
    ep = inv.endpoints[CLOUD]
    assert SIG in ep.matches  # by the marker, not only the (weak) port
    assert any(SIG in e.what and "content_marker" in e.what for e in ep.evidence), [
        e.what for e in ep.evidence
    ]


def test_the_same_bytes_on_another_port_fire_nothing(tmp_path: Path) -> None:
    path = _capture(tmp_path / "other.pcap", 8801)
    inv = Analyzer(Options()).run([str(path)]).inventory
    ep = inv.endpoints.get(CLOUD)
    assert ep is None or SIG not in ep.matches
    assert not any(SIG in e.what for d in inv.devices.values() for e in d.evidence)


def _core_run(path: Path) -> tuple[CoreEngine, Recorder]:
    sink = Recorder()
    engine = CoreEngine(sink, marker_ports=_matcher().marker_ports("udp"))  # type: ignore[arg-type]
    engine.open([str(path)])
    engine.run_files()
    engine.finish()
    return engine, sink


def test_a_flood_on_the_named_port_stays_bounded(tmp_path: Path) -> None:
    n = 400
    big = PROBE + b"x" * 5000  # longer than the head handed over
    path = _capture(tmp_path / "flood.pcap", 8800, big, count=n)
    engine, sink = _core_run(path)
    heads = sink.of(PayloadEvent)
    assert len(heads) == payload.MAX_PROBE_DATAGRAMS
    assert all(len(h.head) == payload.PROBE_HEAD for h in heads)
    assert all(h.port == 8800 and h.direction == "to-port" for h in heads)
    assert engine.repeats["payload_datagrams"] == n - payload.MAX_PROBE_DATAGRAMS
    cut = len(big) + 4 - payload.PROBE_HEAD
    assert engine.repeats["payload_bytes_cut"] == cut * payload.MAX_PROBE_DATAGRAMS


def test_the_report_counts_what_was_held_back(tmp_path: Path) -> None:
    # what the engine set aside reaches the JSON report and, when content went unexamined,
    # a warning; a single probe sets nothing aside
    from netscan.report.json_report import build

    n = 50
    big = PROBE + b"x" * 5000
    result = Analyzer(Options()).run([str(_capture(tmp_path / "f.pcap", 8800, big, count=n))])
    counts = build(result)["summary"]["engine_counts"]
    assert counts["payload_datagrams"] == n - payload.MAX_PROBE_DATAGRAMS
    cut = (len(big) + 4 - payload.PROBE_HEAD) * payload.MAX_PROBE_DATAGRAMS
    assert counts["payload_bytes_cut"] == cut
    said = [w for w in result.warnings if "not examined for markers" in w]
    assert said and f"{n - payload.MAX_PROBE_DATAGRAMS:,} datagrams" in said[0]
    assert f"{cut:,} bytes" in said[0]
    one = Analyzer(Options()).run([str(_capture(tmp_path / "one.pcap", 8800))])
    assert build(one)["summary"]["engine_counts"]["payload_datagrams"] == 0
    assert not any("not examined for markers" in w for w in one.warnings)


def test_without_a_pack_no_payload_is_handed_over(tmp_path: Path) -> None:
    path = _capture(tmp_path / "nopack.pcap", 8800, count=3)
    sink = Recorder()
    engine = CoreEngine(sink)  # type: ignore[arg-type]  # a sink without a matcher
    engine.open([str(path)])
    engine.run_files()
    engine.finish()
    assert not sink.of(PayloadEvent)


def test_reference_engine_hands_over_the_same_heads(tmp_path: Path) -> None:
    from tests.reference.native import Engine

    path = _capture(tmp_path / "ref.pcap", 8800, PROBE + b"y" * 3000, count=20)
    _engine, core_sink = _core_run(path)
    ref_sink = Recorder()
    ref = Engine(ref_sink, marker_ports=_matcher().marker_ports("udp"))  # type: ignore[arg-type]
    capture = CaptureFile(path)
    ref.run(capture.records())
    ref.finish()
    capture.close()
    assert ref_sink.of(PayloadEvent) == core_sink.of(PayloadEvent)
    assert len(core_sink.of(PayloadEvent)) == payload.MAX_PROBE_DATAGRAMS


def test_inventory_sink_drives_the_ports(tmp_path: Path) -> None:
    path = _capture(tmp_path / "inv.pcap", 8800)
    inv = Inventory(matcher=_matcher())
    engine = CoreEngine(inv)
    assert 8800 in engine.marker_ports
    engine.open([str(path)])
    engine.run_files()
    engine.finish()
    assert SIG in inv.endpoints[CLOUD].matches


def test_tshark_engine_hands_over_the_same_heads(tmp_path: Path) -> None:
    """The tshark engine (Wireshark reads the datagrams) fires the probe's signature too and
    hands over a flow's first heads only."""
    from netscan.engine.tshark import TsharkEngine

    path = _capture(tmp_path / "tshark.pcap", 8800, PROBE + b"z" * 3000, count=20)
    sink = Recorder()
    sink.matcher = _matcher()  # type: ignore[attr-defined]
    engine = TsharkEngine(sink)
    engine.run_files([str(path)])
    heads = sink.of(PayloadEvent)
    _engine, core_sink = _core_run(path)
    assert heads == core_sink.of(PayloadEvent)
    inv = Analyzer(Options(engine="tshark")).run([str(_capture(tmp_path / "t1.pcap", 8800))])
    assert SIG in inv.inventory.endpoints[CLOUD].matches


def test_jobs_hand_over_the_heads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With --jobs 2 (the core in a thread of its own), the pack's marker ports reach it."""
    import netscan.engine.core as core_engine
    from netscan.engine.threaded import ThreadedEngine

    monkeypatch.setattr(core_engine, "BATCH", 50)  # the datagram is not in the first batch
    used: list[ThreadedEngine] = []
    real = ThreadedEngine.open

    def spy(self: ThreadedEngine, *a: Any, **k: Any) -> Any:
        used.append(self)
        return real(self, *a, **k)

    monkeypatch.setattr(ThreadedEngine, "open", spy)
    cap = Capture(seed=5)
    for i in range(300):  # filler
        _datagram(cap, 0.01 * i, 9000 + i % 7, bytes([i % 251]) * 900, sport=40000 + i)
    _datagram(cap, 4.0, 8800, PROBE)
    path = cap.write(tmp_path / "jobs.pcap")
    inv = Analyzer(Options(jobs=2)).run([str(path)]).inventory
    assert used and used[0].marker_ports
    assert SIG in inv.endpoints[CLOUD].matches
