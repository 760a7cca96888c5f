"""The end-of-input fold from the core's sums per conversation (``Core.conv_keys``,
``Inventory.seal_groups``) leaves the inventory exactly as folding the flows one at a time
in order of appearance (``seal_rows``) does: on every public capture and scenario capture,
with the inventory as the sink and through the analysis' pass-through ``SinkLog``, with the
conversation limit just under the flow count (the grouped fold runs) and tiny (conversations
fold on the way: the per-flow fold runs)."""

from __future__ import annotations

import struct
import sys
from pathlib import Path
from typing import Any

import pytest

from netscan.analyze import SinkLog
from netscan.engine.core import CoreEngine
from netscan.flow import BurstList
from netscan.inventory import inventory as inventory_mod
from netscan.inventory.enrich import Premises
from netscan.inventory.inventory import Inventory
from netscan.limits import Limits
from tests.conftest import REALWORLD, realworld_files

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
import gen_flows  # noqa: E402

FILES = [p.name for p in realworld_files()]


def _state(inv: Inventory) -> list[Any]:
    """Everything the fold decides, in the inventory's order."""
    convs = [
        (key, c.device, c.peer_ip, c.transport, c.port, c.peer_device, c.peer_mac, c.bytes_up,
         c.bytes_down, c.packets_up, c.packets_down, c.first_ts, c.last_ts, c.first_frame,
         list(c.frames), sorted(c.protocols), c.flows, c.device_is_client, list(c.bursts),
         c.missed_up, c.missed_down)
        for key, c in inv._retired.items()
    ]  # fmt: skip
    folded = [
        (k, t.conversations, t.flows, t.bytes_up, t.bytes_down, t.packets_up, t.packets_down,
         t.missed_up, t.missed_down)
        for k, t in inv.folded.items()
    ]  # fmt: skip
    return [convs, folded, inv.conversations_folded, inv._bursts_held, inv.bursts_dropped,
            inv.flows_ended, len(inv.flows)]  # fmt: skip


def _run(
    path: Path, limit: int, via_log: bool, grouped: bool, max_flows: int | None = None
) -> tuple[list[Any], bool, int, int]:
    """The inventory's state after one core run of ``path``; whether the grouped fold ran;
    the live flows at the end of the input; the conversations."""
    inv = Inventory(Premises(), limits=Limits(conversations=limit))
    sink: Any = SinkLog(inv, record=False) if via_log else inv
    used: list[bool] = []
    real = Inventory.seal_groups

    def spy(self: Inventory, *args: Any, **kwargs: Any) -> bool:
        if not grouped:
            used.append(False)
            return False
        done = real(self, *args, **kwargs)
        used.append(done)
        return done

    # (the pass-through log calls the inventory's, without the off-site senders' bursts)
    inv.seal_groups = spy.__get__(inv)  # type: ignore[method-assign]
    eng = CoreEngine(sink, inv.premises, max_flows=max_flows)
    try:
        eng.open([str(path)])
    except Exception:  # noqa: BLE001 - the unreadable captures of the set
        return [], False, 0, 0
    eng.run_files()
    live = len(eng.flows)
    eng.finish()
    eng.release()
    inv.seal()
    return _state(inv), bool(used and used[0]), live, len(inv.conversations())


def _check(path: Path) -> bool:
    """Grouped and per-flow folds agree on ``path``; whether the grouped one could run."""
    _, _, live, convs = _run(path, 10**9, False, True)
    ran = False
    # just room for every conversation (sealed when there are more flows), and too little
    for limit in sorted({max(1, convs), 2}):
        for via_log in (False, True):
            fast, used, _, _ = _run(path, limit, via_log, True)
            slow, _, _, _ = _run(path, limit, via_log, False)
            assert fast == slow, (path.name, limit, via_log)
            ran |= used
    return ran


@pytest.mark.skipif(not FILES, reason=f"no public captures at {REALWORLD}")
def test_grouped_fold_equals_per_flow_fold_on_every_public_capture() -> None:
    ran = [name for name in FILES if _check(REALWORLD / name)]
    # the grouped fold ran where flows outnumber conversations
    assert len(ran) >= 15, ran


def test_grouped_fold_equals_per_flow_fold_on_the_scenarios(tmp_path: Path) -> None:
    pytest.importorskip("skimage", reason="scikit-image supplies the scenario face picture")
    from tests.analysis.scenarios.build import SCENARIOS
    from tests.baselines import capture_path

    ran = 0
    for name in SCENARIOS:
        ran += _check(capture_path("scenarios", name, tmp_path))
    assert ran >= 1


def test_grouped_fold_after_evictions_and_with_many_flows_per_conversation(
    tmp_path: Path,
) -> None:
    """Flows retired on the way fold into the conversations first; the live ones join
    them; the conversations stay within the limit, so the grouped fold runs."""
    pcap = tmp_path / "flows.pcap"
    gen_flows.write(pcap, 3000)
    fast, used, live, _ = _run(pcap, 2500, True, True, max_flows=2800)
    slow, _, _, _ = _run(pcap, 2500, True, False, max_flows=2800)
    assert used and live == 2800
    assert fast == slow
    assert fast[5] == 200  # retired before the end, folded one at a time


def _pcap(packets: list[bytes]) -> bytes:
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    for i, p in enumerate(packets):
        out.append(struct.pack("<IIII", 1000 + i, 0, len(p), len(p)) + p)
    return b"".join(out)


def _udp(src_mac: bytes, dst_mac: bytes, src: bytes, dst: bytes, sport: int, dport: int,
         payload: bytes) -> bytes:  # fmt: skip
    total = 28 + len(payload)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, 1, 0, 64, 17, 0, src, dst)
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0)
    return dst_mac + src_mac + b"\x08\x00" + ip + udp + payload


def _burst_capture(tmp_path: Path) -> Path:
    """A camera's 40 one-datagram uploads to four off-site peers (one burst each)."""
    cam = bytes.fromhex("4419b62e7c51")
    gw = bytes.fromhex("50c7bf3a9101")
    packets = []
    for i in range(40):
        peer = bytes([203, 0, 113, 1 + i % 4])
        packets.append(_udp(cam, gw, bytes([192, 168, 1, 64]), peer, 40000 + i, 9999, b"x" * i))
    pcap = tmp_path / "bursts.pcap"
    pcap.write_bytes(_pcap(packets))
    return pcap


def test_bursts_beyond_the_held_room_fold_one_flow_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Upload bursts beyond the room all conversations share: the per-flow fold decides
    which flows' bursts are kept (in order of appearance), the same as ever."""
    pcap = _burst_capture(tmp_path)
    fast, used, _, _ = _run(pcap, 30, False, True)
    assert used and fast[3] == 40 and fast[4] == 0
    monkeypatch.setattr(inventory_mod, "MAX_HELD_BURSTS", 25)
    fast, used, _, _ = _run(pcap, 30, False, True)
    slow, _, _, _ = _run(pcap, 30, False, False)
    assert not used and fast == slow and fast[3] == 25 and fast[4] == 15
    # within the room again: the conversations' bursts are the flows' in order
    monkeypatch.setattr(inventory_mod, "MAX_HELD_BURSTS", 40)
    fast, used, _, _ = _run(pcap, 30, False, True)
    assert used and [len(c[18]) for c in fast[0]] == [10, 10, 10, 10]
    assert all(isinstance(b, list) for c in fast[0] for b in c[18])
    assert BurstList(fast[0][0][18])[0][2] == 42.0  # the first flow's one 42-byte packet


def test_a_conversations_bursts_bound_counts_per_flow(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A conversation takes each flow's bursts while it holds fewer than its bound."""
    pcap = _burst_capture(tmp_path)
    monkeypatch.setattr(inventory_mod, "MAX_CONV_BURSTS", 5)
    for max_flows in (None, 30):  # all live at the end; ten retired before it
        fast, used, _, _ = _run(pcap, 30, False, True, max_flows=max_flows)
        slow, _, _, _ = _run(pcap, 30, False, False, max_flows=max_flows)
        assert used and fast == slow
        assert [len(c[18]) for c in fast[0]] == [5, 5, 5, 5]


def test_sinks_declare_their_optional_capabilities() -> None:
    """The engines call the optional capabilities of ``engine.sink.Sink`` when they are set,
    never by probing for a name: the inventory has them all; the log in front of it seals
    flow by flow while it records, and hands the fold over whole once it passes through;
    a plain sink has none."""
    from netscan.engine.sink import PlainSink

    caps = ("on_flow_end", "seal_flow", "seal_rows", "seal_groups")
    inv = Inventory()
    assert all(callable(getattr(inv, c)) for c in caps)
    assert all(getattr(PlainSink(), c) is None for c in caps) and not PlainSink().sealing()
    recording = SinkLog(inv, record=True)
    assert recording.on_flow_end is not None and recording.seal_flow is not None
    assert recording.seal_rows is None and recording.seal_groups is None
    passing = SinkLog(Inventory(), record=False)
    assert passing.seal_rows is not None and passing.seal_groups is not None
