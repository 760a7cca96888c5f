"""The inventory's per-flow work: scopes decided once (by the Rust core when it runs), live
flows held by object and let go when they end, counters of ended flows never lost, upload
bursts held compactly and bounded across all conversations."""

from __future__ import annotations

import pickle
import struct
import sys
from pathlib import Path

import pytest

from netscan.engine import core as core_engine
from netscan.engine.core import CoreEngine
from netscan.flow import WELL_KNOWN, BurstList, Flow
from netscan.inventory import inventory as inventory_mod
from netscan.inventory.enrich import Premises
from netscan.inventory.inventory import Inventory
from netscan.limits import Limits

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
import gen_flows  # noqa: E402

CAM = "44:19:b6:2e:7c:51"
GW = "50:c7:bf:3a:91:01"


class StrictPremises(Premises):
    """A premises policy that fails the test when asked about an address."""

    def scope(self, ip: str) -> int:
        raise AssertionError(f"scope({ip!r}) asked although the flow carries it")


def _flow(i: int, peer: str = "203.0.113.9", up: int = 100, bursts: int = 0) -> Flow:
    f = Flow(0, 17, "192.168.1.64", peer, 40000 + i, 9999, CAM, GW, float(i))
    if bursts:
        f.track_bursts()
    for k in range(max(1, bursts)):
        f.count(True, up, up - 42, float(i) + 2.0 * k, i * 10 + k + 1)
    f.count(False, 60, 18, float(i) + 0.5, i * 10 + 9)
    return f


def test_scopes_given_by_the_engine_are_not_decided_again() -> None:
    inv = Inventory(StrictPremises())
    f = _flow(1)
    f.a_scope, f.b_scope = 0, 2
    inv.on_flow(f)
    inv.on_flow_end(f)
    (conv,) = inv.conversations()
    assert (conv.device, conv.peer_ip, conv.bytes_up, conv.bytes_down) == (
        CAM, "203.0.113.9", 100, 60,
    )  # fmt: skip
    assert "203.0.113.9" in inv.endpoints  # off-site by the engine's word


def test_scopes_decided_once_and_kept_on_the_flow() -> None:
    calls: list[str] = []

    class Counting(Premises):
        def scope(self, ip: str) -> int:
            calls.append(ip)
            return super().scope(ip)

    inv = Inventory(Counting())
    f = _flow(1)
    assert (f.a_scope, f.b_scope) == (-1, -1)  # engines without a core leave them open
    inv.on_flow(f)
    assert (f.a_scope, f.b_scope) == (0, 2)
    asked = len(calls)
    inv.on_flow_end(f)  # the conversation is found without asking again
    assert len(calls) == asked == 2


def test_the_engine_scope_decides_the_device_side() -> None:
    # the peer is called a premises address by the engine (say a --premises range):
    # the flow then runs between two premises devices, the second one the peer device
    inv = Inventory(StrictPremises())
    f = Flow(0, 6, "192.168.1.64", "100.64.0.7", 50000, 554, CAM, GW, 1.0)
    f.count(True, 300, 200, 1.0, 1)
    f.a_scope, f.b_scope = 0, 0
    inv.on_flow(f)
    (conv,) = inv.conversations()
    assert conv.peer_device == GW and conv.device == CAM
    assert "100.64.0.7" not in inv.endpoints


def test_ended_flows_are_let_go_and_their_counts_kept() -> None:
    inv = Inventory(Premises())
    flows = [_flow(i) for i in range(5)]
    for f in flows:
        inv.on_flow(f)
    assert inv.flows == flows  # in order of appearance
    for f in flows[:3]:
        inv.on_flow_end(f)
    assert inv.flows == flows[3:] and inv.flows_ended == 3
    never_seen = [_flow(9)]
    # held by the test's list only, like a flow the inventory never saw
    assert sys.getrefcount(flows[0]) == sys.getrefcount(never_seen[0])
    assert sys.getrefcount(flows[4]) > sys.getrefcount(never_seen[0])
    (conv,) = inv.conversations()
    assert (conv.flows, conv.packets_up, conv.packets_down) == (5, 5, 5)
    assert (conv.bytes_up, conv.bytes_down) == (500, 300)
    # the live flows are added to a copy: the held conversation has the ended ones only
    (held,) = inv._retired.values()
    assert held.flows == 3 and held is not conv


def test_burst_list_is_compact_and_reads_back_as_lists() -> None:
    rows = [[1.5, 2.5, 30000.0, 3.0], [10.0, 10.0, 60.0, 1.0]]
    b = BurstList(rows)
    assert len(b) == 2 and b and not BurstList()
    assert list(b) == rows and b == rows and b[1] == rows[1] and b[-1] == rows[1]
    assert b[:1] == [rows[0]] and b[5:] == []
    with pytest.raises(IndexError):
        b[2]
    packed = b"".join(struct.pack("=4d", *r) for r in rows)
    assert BurstList.from_bytes(packed) == b
    assert BurstList.from_bytes(packed + b"\x00" * 7) == b  # a cut tail is not a burst
    c = b.copy()
    c.extend([[20.0, 21.0, 5.0, 2.0]])
    c.extend(b)
    assert len(c) == 5 and len(b) == 2
    assert pickle.loads(pickle.dumps(c)) == c
    assert sys.getsizeof(b._a) < 2 * sys.getsizeof([]) + 2 * 32  # no per-burst objects


def test_bursts_bounded_across_conversations(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(inventory_mod, "MAX_HELD_BURSTS", 10)
    inv = Inventory(Premises(), limits=Limits(conversations=4))
    for i in range(8):  # eight conversations (peers), three bursts each
        f = _flow(i, peer=f"203.0.113.{i + 1}", bursts=3)
        inv.on_flow(f)
        inv.on_flow_end(f)
    held = sum(len(c.bursts) for c in inv._retired.values())
    assert inv._bursts_held == held <= 10
    assert inv.bursts_dropped > 0
    # every packet is still counted (folded rows included)
    pkts = sum(c.packets_up for c in inv._retired.values())
    pkts += sum(t.packets_up for t in inv.folded.values())
    assert pkts == 24
    assert any(
        w.startswith(f"{inv.bursts_dropped:,} upload bursts beyond the limit of 10 held")
        for w in inv.limit_warnings()
    )


def test_bursts_within_the_budget_are_all_kept() -> None:
    inv = Inventory(Premises())
    for i in range(4):
        f = _flow(i, bursts=2)
        inv.on_flow(f)
        inv.on_flow_end(f)
    (conv,) = inv.conversations()
    assert len(conv.bursts) == 8 and inv.bursts_dropped == 0
    assert not any("upload bursts" in w for w in inv.limit_warnings())


def _run_core(pcap: Path, max_flows: int) -> tuple[Inventory, CoreEngine]:
    inv = Inventory(Premises())
    eng = CoreEngine(inv, inv.premises, max_flows=max_flows)
    eng.open([str(pcap)])
    eng.run_files()
    live = list(eng.flows.values())
    assert live and all((f.a_scope, f.b_scope) == (0, 2) for f in live)
    eng.finish()
    eng.release()
    inv.seal()
    return inv, eng


def test_core_flows_counted_in_pieces_and_evicted_ones_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pcap = tmp_path / "flows.pcap"
    gen_flows.write(pcap, 3000)
    # small pieces: the same totals as one piece
    monkeypatch.setattr(core_engine, "COUNTERS_CHUNK", 7)
    monkeypatch.setattr(core_engine, "BATCH", 500)
    inv, eng = _run_core(pcap, max_flows=400)
    assert eng.flows_retired == 2600 and not eng.flows
    convs = inv.conversations()
    assert sum(c.flows for c in convs) == 3000
    assert sum(c.packets_up for c in convs) == 3000
    assert sum(c.bytes_up for c in convs) == 3000 * 58
    # one upload burst per watched flow (premises client to off-site server), all kept; a
    # flow from a well-known source port has the off-site side as its client: not watched
    watched = sum(1 for i in range(3000) if 1024 + (i * 7919) % 60000 not in WELL_KNOWN)
    assert 2990 < watched < 3000
    assert sum(len(c.bursts) for c in convs) == watched
    assert all(isinstance(c.bursts, BurstList) for c in convs)
    # the engine let go of its flows; the inventory keeps the last 400 live ones (few
    # conversations: not sealed), with their final counters
    assert len(inv.flows) == 400 and all(f.pkts_ab == 1 for f in inv.flows)
    # flows at the same address share the core's one string of it
    for side in ("a_ip", "b_ip", "a_mac", "b_mac"):
        values = [getattr(f, side) for f in inv.flows]
        assert len({id(v) for v in values}) == len(set(values)), side


class LateSeal(Inventory):
    """The inventory as an engine without ``seal_flow`` sees it: every flow's counters are
    brought up to date first, the flows folded by ``seal()`` afterwards."""

    seal_flow = None  # type: ignore[assignment]

    def seal(self) -> None:
        if self.sealing():
            for flow in list(self._live):
                Inventory.seal_flow(self, flow)


def _conv_rows(inv: Inventory) -> list[tuple[object, ...]]:
    rows = [
        (c.device, c.peer_ip, c.transport, c.port, c.flows, c.bytes_up, c.bytes_down,
         c.packets_up, c.packets_down, c.first_ts, c.last_ts, c.first_frame, tuple(c.frames),
         tuple(map(tuple, c.bursts)))
        for c in inv.conversations()
    ]  # fmt: skip
    folded = [
        (k, t.conversations, t.flows, t.bytes_up, t.packets_up) for k, t in inv.folded.items()
    ]
    return [*rows, *folded, ("ended", inv.flows_ended, inv.conversations_folded)]


def test_flows_sealed_at_the_end_one_by_one_as_seal_would(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pcap = tmp_path / "flows.pcap"
    gen_flows.write(pcap, 2000)
    monkeypatch.setattr(core_engine, "COUNTERS_CHUNK", 64)
    results = []
    for cls in (Inventory, LateSeal):
        inv = cls(Premises(), limits=Limits(conversations=100))
        eng = CoreEngine(inv, inv.premises, max_flows=700)
        eng.open([str(pcap)])
        eng.run_files()
        assert inv.sealing() and len(inv.flows) == 700
        eng.finish()
        # the streamed seal let every flow go already; the late one still holds them
        streamed = cls is Inventory
        assert len(inv.flows) == len(eng.flows) == (0 if streamed else 700)
        eng.release()
        inv.seal()
        assert not inv.flows and inv.flows_ended == 1300
        results.append(_conv_rows(inv))
    assert results[0] == results[1]
    assert (
        sum(r[4] for r in results[0] if len(r) > 10) + sum(r[2] for r in results[0] if len(r) == 5)
        == 2000
    )
