"""What the capture missed of the TCP connections: segments a mirror port dropped are
counted in bytes and gaps by both engines and said in a warning; reordered segments and
a snap length are not losses."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether
from scapy.utils import PcapReader, PcapWriter

from netscan import cli
from netscan.analyze import Analyzer, Options
from netscan.engine import loss
from tests.baselines import COUNTRY, capture_path
from tests.conftest import realworld, requires_tshark
from tests.sources.test_live import NetnsPair, netns  # noqa: F401  (the fixture)

# a camera streaming to its cloud over TCP (both directions captured, 432 kB of payload)
STREAM = "cam_tapo_smartthings_cloudstream_shncp.pcap"
ENGINES = ["core", pytest.param("tshark", marks=requires_tshark), "jobs2"]


def _run(path: Path, tmp: Path, engine: str, *extra: str) -> dict[str, Any]:
    out = tmp / f"{path.stem}-{len(list(tmp.iterdir()))}.json"
    how = ["--jobs", "2"] if engine == "jobs2" else ["--engine", engine, "--jobs", "1"]
    args = ["analyze", str(path), "--country", COUNTRY, "--json", str(out), "-q", *how, *extra]
    assert cli.main(args) == 0
    return json.loads(out.read_text())


def _said(rep: dict[str, Any]) -> list[str]:
    return [w for w in rep["warnings"] if w.startswith("the capture missed ")]


def _segments(path: Path) -> list[tuple[int, tuple[Any, ...], int, int]]:
    """(index, direction, sequence number, payload length) of every TCP segment with
    payload, in capture order."""
    out = []
    with PcapReader(str(path)) as rd:
        for i, p in enumerate(rd):
            if TCP in p and IP in p:
                n = len(bytes(p[TCP].payload))
                ip, tcp = p[IP], p[TCP]
                n = min(n, ip.len - 4 * ip.ihl - 4 * tcp.dataofs)
                if n > 0:
                    key = (ip.src, tcp.sport, ip.dst, tcp.dport)
                    out.append((i, key, tcp.seq, n))
    return out


def _without(src: Path, dst: Path, drop: set[int]) -> None:
    with PcapReader(str(src)) as rd, PcapWriter(str(dst), linktype=rd.linktype) as wr:
        for i, p in enumerate(rd):
            if i not in drop:
                wr.write(p)


def _missed_per_conversation(rep: dict[str, Any]) -> dict[tuple[str, str, int], list[int]]:
    """(device address, peer address, port) -> [missed up, missed down] of the report's
    conversations that missed bytes."""
    ips = {d["key"]: d["ips"] for d in rep["devices"]}
    out: dict[tuple[str, str, int], list[int]] = {}
    for f in rep["flows"]:
        if f["missed_bytes_up"] or f["missed_bytes_down"]:
            for ip in ips[f["device"]]:
                out[(ip, f["ip"], f["port"])] = [f["missed_bytes_up"], f["missed_bytes_down"]]
    return out


def _lost_segments(src: Path, every: int) -> tuple[set[int], int, int]:
    """Every ``every``-th data segment of the capture, away from its direction's first and
    last ten and sent once (no retransmission of it in the capture): the segments a mirror
    port drops, their payload bytes and the connections they are in."""
    segs = _segments(src)
    by_dir: dict[tuple[Any, ...], list[tuple[int, int, int]]] = {}
    for i, key, seq, n in segs:
        by_dir.setdefault(key, []).append((i, seq, n))
    sent = {}
    for key, rows in by_dir.items():
        for i, seq, _n in rows:
            sent.setdefault((key, seq), []).append(i)
    middle = set()
    for key, rows in by_dir.items():
        for i, seq, _n in rows[10:-10]:
            if len(sent[(key, seq)]) == 1:
                middle.add(i)
    chosen = sorted(middle)[::every]
    drop = set()
    for i in chosen:  # never two next to each other in their direction: one hole each
        if i - 1 not in drop and i + 1 not in drop:
            drop.add(i)
    size = {i: n for i, _key, _seq, n in segs}
    conns = {frozenset([k[:2], k[2:]]) for i, k, _seq, _n in segs if i in drop}
    return drop, sum(size[i] for i in drop), len(conns)


@pytest.fixture(scope="module")
def dropped(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int, int, int]:
    src = realworld(STREAM)
    drop, nbytes, conns = _lost_segments(src, 40)
    assert len(drop) >= 5
    dst = tmp_path_factory.mktemp("loss") / "dropped.pcap"
    _without(src, dst, drop)
    return dst, len(drop), nbytes, conns


@pytest.mark.parametrize("engine", ENGINES)
def test_segments_a_mirror_port_dropped_are_counted(
    dropped: tuple[Path, int, int, int], tmp_path: Path, engine: str
) -> None:
    path, holes, nbytes, conns = dropped
    intact = _run(realworld(STREAM), tmp_path, engine)
    before = intact["summary"]["capture_loss"]
    # the public capture itself misses one number of sequence space (a FIN not captured,
    # which tshark flags too: "ACKed segment that wasn't captured"), in a connection of
    # its own
    assert (before["tcp_missed_bytes"], before["tcp_gaps"], before["tcp_connections"]) == (
        1, 1, 1,
    )  # fmt: skip
    rep = _run(path, tmp_path, engine)
    assert rep["summary"]["capture_loss"] == {
        "tcp_missed_bytes": 1 + nbytes,
        "tcp_gaps": 1 + holes,
        "tcp_connections": 1 + conns,
        "tcp_payload_bytes": before["tcp_payload_bytes"] - nbytes,
    }
    said = _said(rep)
    assert len(said) == 1 and said[0].startswith(f"the capture missed {1 + nbytes:,} bytes")
    assert f"in {1 + holes:,} gaps of {1 + conns} connections" in said[0]
    assert "lower bounds" in said[0]
    # each conversation says what it missed, each direction on its own: the payload dropped
    # from the device up, from its peer down (the public capture's own FIN kept as it was)
    want = _missed_per_conversation(intact)
    devices = {ip for d in intact["devices"] for ip in d["ips"]}
    segs = {i: (key, n) for i, key, _seq, n in _segments(realworld(STREAM))}
    for i in _lost_segments(realworld(STREAM), 40)[0]:
        (src, sport, dst, dport), n = segs[i]
        if src in devices:
            want.setdefault((src, dst, dport), [0, 0])[0] += n
        else:
            want.setdefault((dst, src, sport), [0, 0])[1] += n
    assert _missed_per_conversation(rep) == want
    assert sum(map(sum, want.values())) == 1 + nbytes


@pytest.mark.parametrize("engine", ENGINES)
def test_a_dropped_segment_of_a_face_upload_is_said(tmp_path: Path, engine: str) -> None:
    """The auditor's case: a segment of a camera's face upload lost at the mirror port.
    The report says how much of the connection's bytes were never seen."""
    plain = capture_path("scenarios", "json_face_api", tmp_path)
    segs = _segments(plain)
    upload = [s for s in segs if s[1][3] == 80]
    assert len(upload) >= 4
    i, key, _seq, n = upload[len(upload) // 2]
    cut = tmp_path / "cut.pcap"
    _without(plain, cut, {i})
    want = _run(plain, tmp_path, engine)
    assert want["summary"]["capture_loss"]["tcp_missed_bytes"] == 0 and not _said(want)
    got = _run(cut, tmp_path, engine)
    assert got["summary"]["capture_loss"]["tcp_missed_bytes"] == n
    assert got["summary"]["capture_loss"]["tcp_gaps"] == 1
    assert got["summary"]["capture_loss"]["tcp_connections"] == 1
    assert _said(got)[0].startswith(f"the capture missed {n:,} bytes of TCP (")
    # the upload's conversation, and the finding on it, say the bytes it lost up
    assert _missed_per_conversation(want) == {}
    assert all("capture_missed" not in f for f in want["findings"])
    assert _missed_per_conversation(got) == {(key[0], key[2], 80): [n, 0]}
    # (tshark never completes the HTTP request across the gap: its engine has no finding)
    if engine != "tshark":
        assert [f["capture_missed"] for f in got["findings"]] == [{"bytes_up": n, "bytes_down": 0}]


@pytest.mark.parametrize("engine", ENGINES)
def test_reordered_segments_and_a_snap_length_are_no_loss(tmp_path: Path, engine: str) -> None:
    src = realworld(STREAM)
    # every pair of data segments of the camera's stream swapped (reordered on the way)
    segs = [s for s in _segments(src) if s[3] > 0]
    swaps = {a[0]: b[0] for a, b in zip(segs[20:200:7], segs[21:201:7], strict=True)}
    swaps.update({b: a for a, b in list(swaps.items())})
    with PcapReader(str(src)) as rd:
        pkts = list(rd)
    order = [swaps.get(i, i) for i in range(len(pkts))]
    reordered = tmp_path / "reordered.pcap"
    with PcapWriter(str(reordered), linktype=1) as wr:
        for i in order:
            wr.write(pkts[i])
    base = _run(src, tmp_path, engine)["summary"]["capture_loss"]
    assert _run(reordered, tmp_path, engine)["summary"]["capture_loss"] == base
    # headers only (a snap length of 96 bytes): the payload was sent, not missed
    snapped = tmp_path / "snapped.pcap"
    subprocess.run(["editcap", "-s", "96", str(src), str(snapped)], check=True)
    assert _run(snapped, tmp_path, engine)["summary"]["capture_loss"] == base


@pytest.mark.live
def test_a_live_capture_says_what_it_misses(
    netns: NetnsPair,  # noqa: F811
    dropped: tuple[Path, int, int, int],
    tmp_path: Path,
) -> None:
    """``netscan capture`` on a link that carries the stream with its segments dropped (as
    a mirror port that drops them would): while capturing it says the capture is missing
    TCP segments, and its report counts them as the analysis of the file does."""
    path, holes, nbytes, _conns = dropped
    want = _run(path, tmp_path, "core")["summary"]["capture_loss"]
    out = tmp_path / "live.json"
    _, err = netns.capture_cli(["--evidence", str(tmp_path / "evidence"), "--json", str(out),
                                "--country", COUNTRY, "-q"], path, 20, 2.5)  # fmt: skip
    rep = json.loads(out.read_text())
    assert rep["summary"]["capture_loss"] == want
    assert want["tcp_missed_bytes"] == 1 + nbytes and want["tcp_gaps"] == 1 + holes
    live = [line for line in err.splitlines() if "the capture is missing TCP segments" in line]
    assert live and live[0].startswith("netscan: the capture is missing TCP segments: ")
    assert f"netscan: warning: the capture missed {1 + nbytes:,} bytes of TCP" in err


@pytest.mark.parametrize("engine", ENGINES)
def test_a_sender_skipping_its_own_numbers_is_one_connection(tmp_path: Path, engine: str) -> None:
    """Sequence numbers are the sender's: a device that skips 8 MiB of its own numbers
    after each of 20 segments adds 20 holes in its one connection (said as such), and a
    device that jumps further than 16 MiB adds none (a new start)."""

    def conn(path: Path, jump: int) -> None:
        eth = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
        ip = IP(src="192.168.1.20", dst="203.0.113.9")
        pkts = [eth / ip / TCP(sport=40000, dport=443, flags="S", seq=1000)]
        seq = 1001
        for _ in range(21):
            pkts.append(eth / ip / TCP(sport=40000, dport=443, flags="PA", seq=seq) / (b"x" * 10))
            seq = (seq + 10 + jump) % 2**32
        for i, p in enumerate(pkts):
            p.time = 1_700_000_000 + i * 0.05
        with PcapWriter(str(path), linktype=1) as wr:
            for p in pkts:
                wr.write(p)

    skipping = tmp_path / "skipping.pcap"
    conn(skipping, 8 << 20)
    got = _run(skipping, tmp_path, engine)
    assert got["summary"]["capture_loss"] == {
        "tcp_missed_bytes": 20 * (8 << 20),
        "tcp_gaps": 20,
        "tcp_connections": 1,
        "tcp_payload_bytes": 210,
    }
    assert "in 20 gaps of 1 connection:" in _said(got)[0]
    jumping = tmp_path / "jumping.pcap"
    conn(jumping, (16 << 20) + 1)
    got = _run(jumping, tmp_path, engine)
    assert got["summary"]["capture_loss"]["tcp_missed_bytes"] == 0 and not _said(got)


def test_the_rule_in_python_is_the_cores() -> None:
    """The tshark engine's copy of the rule (``loss.SeqTrack``), on the core's unit cases."""
    t, m = loss.SeqTrack(), loss.Missed()
    t.segment(True, 0x10, 0, 0, 100, m)
    t.segment(True, 0x10, 200, 0, 100, m)  # [100, 200) not seen yet
    t.segment(True, 0x10, 100, 0, 50, m)  # half of it, late
    t.segment(True, 0x10, 150, 0, 50, m)
    t.segment(False, 0x10, 0, 300, 0, m)
    t.settle(m)
    assert (m.bytes, m.gaps) == (0, 0)
    t, m = loss.SeqTrack(), loss.Missed()
    t.segment(True, 0x10, 0, 0, 100, m)
    t.segment(True, 0x10, 400, 0, 100, m)
    t.segment(True, 0x10, 200, 0, 100, m)  # into the middle: two holes
    t.segment(False, 0x10, 0, 600, 0, m)  # and 100 more acknowledged than seen
    assert (m.bytes, m.gaps) == (0, 0)  # (they may still come)
    t.settle(m)
    assert (m.bytes, m.gaps) == (300, 3)
    # an ACK the mirror port delivered before the data it acknowledges
    t, m = loss.SeqTrack(), loss.Missed()
    t.segment(True, 0x10, 0, 0, 100, m)
    t.segment(False, 0x10, 0, 200, 0, m)
    t.segment(True, 0x10, 100, 0, 100, m)
    t.settle(m)
    assert (m.bytes, m.gaps) == (0, 0)
    # more holes than kept: counted as they are pushed out
    t, m = loss.SeqTrack(), loss.Missed()
    for i in range(20):
        t.segment(True, 0x18, i * 20, 0, 10, m)
    assert m.gaps == 19 - loss.HOLES
    t.settle(m)
    assert (m.bytes, m.gaps) == (190, 19)
    # across the wrap of sequence space; a crafted jump is a new start
    t, m = loss.SeqTrack(), loss.Missed()
    t.segment(True, 0x10, 2**32 - 100, 0, 100, m)
    t.segment(True, 0x10, 100, 0, 100, m)
    t.segment(False, 0x10, 0, 200, 0, m)
    t.segment(True, 0x10, 0x7000_0000, 0, 100, m)  # counts the hole open, not the jump
    assert (m.bytes, m.gaps) == (100, 1)
    t.settle(m)
    assert (m.bytes, m.gaps) == (100, 1)


def test_each_side_keeps_what_it_missed_in_python_as_in_the_core() -> None:
    """``SeqTrack.lost``, on the core's unit case (``each_side_keeps_what_it_missed``)."""
    t, m = loss.SeqTrack(), loss.Missed()
    t.segment(True, 0x10, 0, 0, 100, m)
    t.segment(False, 0x10, 4990, 100, 10, m)
    t.segment(True, 0x10, 200, 5040, 100, m)
    assert t.lost() == (0, 0)
    for i in range(5):
        t.segment(True, 0x10, 400 + i * 20, 5040, 10, m)
    assert t.lost() == (200, 0)
    t.settle(m)
    assert t.lost() == (240, 40)
    assert (m.bytes, m.gaps, m.conns) == (280, 7, 1)


def test_the_tuis_steps_end_with_what_was_missed(tmp_path: Path) -> None:
    """The holes a connection still had at the end of the input are counted then: the
    last of the steps the TUI shows (``run_incremental``, the flows brought up to date
    rather than sealed) has them, as one run has."""
    plain = capture_path("scenarios", "json_face_api", tmp_path)
    i, key, _seq, n = next(s for s in _segments(plain)[3:] if s[1][3] == 80)
    cut = tmp_path / "cut.pcap"
    _without(plain, cut, {i})
    analyzer = Analyzer(Options(country=COUNTRY))
    *_, last = analyzer.run_incremental([str(cut)], batch=5)
    assert last.final
    steps, whole = last.result(), analyzer.run([str(cut)])
    for r in (steps, whole):
        assert [(c.peer_ip, c.missed_up, c.missed_down) for c in r.conversations
                if c.missed_up or c.missed_down] == [(key[2], n, 0)]  # fmt: skip
        assert [f.capture_missed for f in r.findings] == [{"bytes_up": n, "bytes_down": 0}]
