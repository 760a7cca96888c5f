"""A premises seen through a remote mirror (ERSPAN I/II/III, GRE bridging, VXLAN, GENEVE):
each engine gives the report of the frames carried, as if captured on the premises' own
port, counts the frames it opened, and says so in every report; a routed tunnel stays a
conversation of its own."""

from __future__ import annotations

import io
import json
import struct
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from rich.console import Console

from netscan import cli
from netscan.analyze import Analyzer, Options
from netscan.engine import ek, tunnels
from netscan.output.summary import print_summary
from netscan.report import html_report, markdown_report
from netscan.report.completeness import mirror_note
from netscan.report.evidence_cli import decode_link
from netscan.report.json_report import schema
from netscan.sources.pcapfile import CaptureFile
from tests.conftest import PCAPS
from tests.engine.tunnels import (
    COLLECTOR_IP,
    COLLECTOR_MAC,
    KINDS,
    SWITCH_IP,
    SWITCH_MAC,
    encapsulate,
    mirrored,
)
from tests.report.helpers import visible_text

DEMO = PCAPS / "demo_sales_office.pcapng"
ENGINES = {"core": ["--jobs", "1"], "core-jobs2": ["--jobs", "2"], "tshark": ["--engine", "tshark"]}


@pytest.fixture(scope="module")
def mirror(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    path = tmp_path_factory.mktemp("tunnels") / "demo_mirrored.pcap"
    return path, mirrored(DEMO, path)


def _report(path: Path, out: Path, engine: str) -> dict[str, Any]:
    args = ["analyze", str(path), "--country", "CN", "--json", str(out), "-q"]
    assert cli.main(args + ENGINES[engine]) == 0
    return json.loads(out.read_text())


def _without_inputs(rep: dict[str, Any]) -> str:
    """The report but for what tells the files apart (their paths, hashes and sizes, the
    time of the run) and the count of frames opened."""
    rep = dict(rep, summary=dict(rep["summary"]))
    paths = [i["path"] for i in rep.pop("inputs")]
    del rep["generated_at"], rep["summary"]["tunnels"], rep["summary"]["mirror_sessions"]
    text = json.dumps(rep, sort_keys=True)
    for p in paths:
        text = text.replace(json.dumps(p)[1:-1], "INPUT")
    return text


@pytest.mark.parametrize("engine", ENGINES)
def test_a_remote_mirror_gives_the_report_of_what_it_carries(
    engine: str, mirror: tuple[Path, dict[str, int]], tmp_path: Path
) -> None:
    path, counts = mirror
    assert set(counts) == {"erspan", "gre_ethernet", "vxlan", "geneve"}
    plain = _report(DEMO, tmp_path / "plain.json", engine)
    seen = _report(path, tmp_path / "mirrored.json", engine)
    jsonschema.Draft202012Validator(schema()).validate(seen)
    assert (plain["summary"]["tunnels"], plain["summary"]["mirror_sessions"]) == ({}, [])
    assert seen["summary"]["tunnels"] == counts
    # one session per kind between the switch and the collector, the busiest first
    switch, collector = (".".join(map(str, ip)) for ip in (SWITCH_IP, COLLECTOR_IP))
    assert seen["summary"]["mirror_sessions"] == [
        {"source": switch, "destination": collector, "kind": kind, "frames": counts[kind]}
        for kind in ("erspan", "gre_ethernet", "vxlan", "geneve")
    ]
    assert "mirror_frames_unlisted" not in seen["summary"]
    assert len(seen["findings"]) == 4
    # devices (the switch and the collector are none), conversations with their byte
    # counts, findings with their ids and frame numbers: all as on the premises' own port
    assert _without_inputs(seen) == _without_inputs(plain)
    macs = {d["mac"] for d in seen["devices"]}
    assert SWITCH_MAC.hex(":") not in macs and COLLECTOR_MAC.hex(":") not in macs


def test_every_report_says_the_frames_came_through_a_mirror(
    mirror: tuple[Path, dict[str, int]], tmp_path: Path
) -> None:
    path, counts = mirror
    total = sum(counts.values())
    said = (
        f"{total:,} frames came through a remote mirror (ERSPAN {counts['erspan']:,}, GRE "
        f"bridging {counts['gre_ethernet']:,}, VXLAN {counts['vxlan']:,}, GENEVE "
        f"{counts['geneve']:,}) and were analysed as the frames they carry"
    )
    sessions = (
        f"Mirror sessions: 10.255.0.1 → 10.255.0.2 (ERSPAN, {counts['erspan']:,} frames); "
        f"10.255.0.1 → 10.255.0.2 (GRE bridging, {counts['gre_ethernet']:,} frames);"
    )
    buf = io.StringIO()
    print_summary(Analyzer(Options(country="CN")).run([str(path)]),
                  Console(file=buf, width=400, color_system=None))  # fmt: skip
    assert said in buf.getvalue() and sessions in buf.getvalue()
    rep = _report(path, tmp_path / "r.json", "core")
    page = html_report.render(rep, lang="en")
    start = page.index('<section class="verdict')
    assert said in visible_text(page[start : page.index("</section>", start)])
    assert said in markdown_report.render(rep, lang="en")
    assert sessions in markdown_report.render(rep, lang="en")
    zh = visible_text(html_report.render(rep, lang="zh-CN"))
    assert "镜像会话：10.255.0.1 → 10.255.0.2 (ERSPAN, 4,222 个帧)" in zh
    assert f"{total:,} 个帧经由远程镜像（ERSPAN {counts['erspan']:,}" in zh
    # none: nothing said; a damaged count is none
    plain = _report(DEMO, tmp_path / "p.json", "core")
    assert "remote mirror" not in markdown_report.render(plain, lang="en")
    assert mirror_note({"vxlan": "7", "geneve": -1, "erspan": True}) is None
    assert mirror_note(["vxlan"]) is None  # type: ignore[arg-type]
    assert mirror_note({"vxlan": 1}) == (
        "1 frame came through a remote mirror (VXLAN 1) and were analysed as the frames they "
        "carry: the devices, conversations and volumes are those inside."
    )
    # sessions read back: only addresses are written, a few of them, the rest counted
    hostile = [{"source": "<b>x</b>", "destination": "10.0.0.2", "kind": "vxlan", "frames": 1},
               {"source": "10.0.0.1", "destination": "10.0.0.2", "kind": "*x*", "frames": 1},
               {"source": "10.0.0.1", "destination": "10.0.0.2", "kind": "vxlan", "frames": "1"},
               "x", None]  # fmt: skip
    assert mirror_note({"vxlan": 1}, hostile) == mirror_note({"vxlan": 1})
    many = [{"source": f"10.0.0.{i}", "destination": "fd00::1", "kind": "vxlan", "frames": i}
            for i in range(1, 8)]  # fmt: skip
    said = mirror_note({"vxlan": 28}, many)
    assert said is not None and said.endswith(
        "Mirror sessions: 10.0.0.1 → fd00::1 (VXLAN, 1 frame); 10.0.0.2 → fd00::1 (VXLAN, 2 "
        "frames); 10.0.0.3 → fd00::1 (VXLAN, 3 frames); 10.0.0.4 → fd00::1 (VXLAN, 4 frames); "
        "3 more."
    )


def test_mirror_sessions_are_bounded() -> None:
    sessions = tunnels.Sessions()
    for i in range(tunnels.MAX_SESSIONS + 3):
        for _ in range(i + 1):
            sessions.add(f"10.0.0.{i}", "10.0.0.250", "erspan")
    rows = sessions.report()
    assert len(rows) == tunnels.MAX_SESSIONS and sessions.unlisted == sum(range(17, 20))
    assert rows[0] == {"source": "10.0.0.15", "destination": "10.0.0.250", "kind": "erspan",
                       "frames": 16}  # fmt: skip


def test_the_evidence_of_a_finding_is_found_inside_the_mirror(
    mirror: tuple[Path, dict[str, int]], tmp_path: Path
) -> None:
    """``netscan evidence`` picks a finding's frames by what they carry: the same frame
    numbers as from the premises' own capture."""
    path, _counts = mirror
    rep = _report(path, tmp_path / "r.json", "core")
    finding = rep["findings"][0]["id"]
    frames = {}
    for src, name in ((DEMO, "plain"), (path, "mirrored")):
        out = tmp_path / f"{name}.pcapng"
        assert cli.main(["evidence", str(src), "--finding", finding, "-o", str(out),
                         "--country", "CN"]) == 0  # fmt: skip
        frames[name] = [bytes(r.data) for r in CaptureFile(out)]
    # the frames written are the mirror's, each with the premises' frame at its end
    assert frames["mirrored"] and len(frames["mirrored"]) == len(frames["plain"])
    assert all(m.endswith(p) and len(m) > len(p)
               for m, p in zip(frames["mirrored"], frames["plain"], strict=True))  # fmt: skip
    # the core's link layer of a wrapped frame is the frame's inside it
    inner = bytes(next(iter(CaptureFile(DEMO))).data)
    for i, kind in enumerate(KINDS):
        link = decode_link(1, encapsulate(kind, inner, i), mirrors=True)
        assert link is not None and link.src == inner[6:12], kind


@pytest.mark.parametrize("engine", ["core", "tshark"])
def test_a_routed_tunnel_stays_a_conversation(engine: str, tmp_path: Path) -> None:
    """IP in GRE (a site-to-site tunnel) is the premises' conversation with the far end of
    the tunnel, as a VXLAN-shaped datagram to another port is a datagram: neither opened."""
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1)]
    for i, rec in enumerate(CaptureFile(DEMO)):
        if i >= 200:
            break
        frame = bytes(rec.data)
        if i % 2:  # the IP packet inside GRE (an ARP frame: as it is)
            if frame[12:14] != b"\x08\x00":
                continue
            data = encapsulate("gre_ethernet", frame, i)
            gre = 14 + 20
            data = data[:gre] + struct.pack(">HHI", 0x2000, 0x0800, 42) + frame[14:]
            data = data[:16] + struct.pack(">H", len(data) - 14) + data[18:]
        else:  # VXLAN's header, to UDP port 4800
            data = encapsulate("vxlan", frame, i)
            data = data[:36] + struct.pack(">H", 4800) + data[38:]
        us = round(rec.ts * 1e6)
        out.append(struct.pack("<IIII", us // 1_000_000, us % 1_000_000, len(data), len(data)))
        out.append(data)
    path = tmp_path / "routed.pcap"
    path.write_bytes(b"".join(out))
    rep = _report(path, tmp_path / "r.json", engine)
    assert rep["summary"]["tunnels"] == {}
    pair = {".".join(map(str, SWITCH_IP)), ".".join(map(str, COLLECTOR_IP))}
    assert rep["flows"] and all({f["ip"]} <= pair for f in rep["flows"])
    assert {(f["transport"], f["port"]) for f in rep["flows"]} >= {("udp", 4800)}
    assert rep["findings"] == []


@pytest.mark.parametrize("engine", ["core", "tshark"])
def test_an_encapsulation_off_the_premises_is_a_conversation(
    engine: str, mirror: tuple[Path, dict[str, int]], tmp_path: Path
) -> None:
    """A device that wraps frames in ERSPAN, GRE or VXLAN to an address off the premises
    (its uploads, say, to a server abroad) is not a mirror: its conversation stays in the
    report, as sent, rather than the frames it chose to wrap."""
    path, _counts = mirror
    abroad = bytes([203, 0, 113, 9])
    out = [path.read_bytes()[:24]]
    for rec in CaptureFile(path):
        data = bytes(rec.data)
        assert data[30:34] == COLLECTOR_IP
        data = data[:30] + abroad + data[34:]
        us = round(rec.ts * 1e6)
        out.append(struct.pack("<IIII", us // 1_000_000, us % 1_000_000, len(data),
                               rec.wirelen))  # fmt: skip
        out.append(data)
    sent = tmp_path / "abroad.pcap"
    sent.write_bytes(b"".join(out))
    rep = _report(sent, tmp_path / "r.json", engine)
    assert (rep["summary"]["tunnels"], rep["summary"]["mirror_sessions"]) == ({}, [])
    # the sender and its gateway (the next hop of an address abroad); none of the premises'
    devices = {d["mac"]: d for d in rep["devices"]}
    assert devices.keys() == {SWITCH_MAC.hex(":"), COLLECTOR_MAC.hex(":")}
    assert devices[SWITCH_MAC.hex(":")]["ips"] == [".".join(map(str, SWITCH_IP))]
    flows = {(f["transport"], f["port"]) for f in rep["flows"] if f["ip"] == "203.0.113.9"}
    assert flows == {("47", 0), ("udp", 4789), ("udp", 6081)}
    total = sum(f["bytes_up"] + f["bytes_down"] for f in rep["flows"])
    assert total == sum(r.wirelen for r in CaptureFile(sent))  # the frames as sent, whole


def test_the_tshark_rule_holds_on_fields_that_do_not_hold_together() -> None:
    """What tshark hands over for a damaged frame may lack fields or hold odd values: the
    frame is then left as it is, never an exception."""
    protos = ["eth", "ethertype", "ip", "udp", "vxlan", "eth", "ethertype", "ip", "udp", "dns"]
    whole = {"ip_len": ["150", "100"], "ip_hdr_len": ["20", "20"], "udp_dstport": ["4789", "53"],
             "udp_payload": ["0800000000002a00", "abcd"], "ip_src": ["10.0.0.1", "10.0.0.9"],
             "ip_dst": ["10.0.0.2", "10.0.0.8"], "eth_src": ["02:00:00:00:00:01", "00:11:22:33:44:55"]}  # fmt: skip
    layers = {k: list(v) for k, v in whole.items()}
    inner, name, length = tunnels.open_tunnels(layers, protos, lambda a, b: True)
    assert (inner[0], name, length) == ("eth", "vxlan", 150 - 20 - 16)
    assert layers["ip_src"] == ["10.0.0.9"] and layers["eth_src"] == ["00:11:22:33:44:55"]
    for broken in ({"udp_payload": ["zz" * 8]}, {"udp_payload": ["08"]}, {"ip_len": ["x"]},
                   {"udp_dstport": []}, {"ip_flags_mf": ["1"]}):  # fmt: skip
        layers = {k: list(v) for k, v in whole.items()} | broken
        assert tunnels.open_tunnels(layers, protos, lambda a, b: True)[1:] == (None, -1), broken
    # an outer address the caller refuses
    layers = {k: list(v) for k, v in whole.items()}
    assert tunnels.open_tunnels(layers, protos, lambda a, b: b != "10.0.0.2")[1] is None
    assert layers == whole
    # a number tshark writes as something else is none, never an exception
    assert (ek.to_int("inf", -1), ek.to_int("nan", -1), ek.to_int("0x1e"), ek.to_int("2.5")) == (
        -1, -1, 30, 2)  # fmt: skip
    # layers that end at the encapsulation
    assert tunnels.open_tunnels({}, ["eth", "ip", "gre"], lambda a, b: True) == (
        ["eth", "ip", "gre"], None, -1)  # fmt: skip


def test_a_run_step_by_step_counts_the_mirror_as_it_reads(
    mirror: tuple[Path, dict[str, int]],
) -> None:
    """The TUI and a live capture show the frames opened so far, not only at the end."""
    path, counts = mirror
    seen = []
    for step in Analyzer(Options()).run_incremental([str(path)], batch=3000):
        result = step.result()  # built while the run is suspended at this step
        seen.append((step.packets, sum(result.tunnels.values()),
                     sum(n for *_addrs, n in result.mirrors.listed), dict(result.tunnels)))  # fmt: skip
    assert [s[:3] for s in seen[:3]] == [(3000, 3000, 3000), (6000, 6000, 6000),
                                         (8443, 8443, 8443)]  # fmt: skip
    assert seen[-1][3] == counts
