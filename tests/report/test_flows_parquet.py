"""--flows writes every flow of the run as Parquet, with the same totals as the JSON report."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pyarrow.parquet as pq

from netscan.cli import main
from tests.conftest import realworld

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "pcaps" / "demo_sales_office.pcapng"
ZEEK = ROOT.parent / "shared" / "zeek"


def test_flows_from_a_capture(tmp_path: Path) -> None:
    out, rep = tmp_path / "flows.parquet", tmp_path / "r.json"
    assert main(["analyze", str(DEMO), "-q", "--flows", str(out), "--json", str(rep)]) in (0, 1)
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    t = pq.read_table(out)
    report = json.loads(rep.read_text())
    assert t.num_rows >= report["summary"]["flows"] > 0
    cols = set(t.column_names)
    assert {"client_ip", "server_ip", "bytes_up", "bytes_down", "first_seen", "last_seen",
            "applications", "server_names", "client_mac", "bursts"} <= cols  # fmt: skip
    rows = t.to_pylist()
    # every conversation of the report is the sum of its flows
    for conv in report["flows"]:
        if conv["transport"] == "wlan" or not conv["device_is_client"] or conv["mac"] is None:
            continue
        mine = [r for r in rows if r["client_mac"] == conv["mac"] and r["server_ip"] == conv["ip"]
                and r["server_port"] == conv["port"] and r["transport"] == conv["transport"]]  # fmt: skip
        assert sum(r["bytes_up"] for r in mine) == conv["bytes_up"]
        assert sum(r["packets_down"] for r in mine) == conv["packets_down"]
    # the face-cloud uploads of the demo carry their names and burst summaries
    named = [r for r in rows if r["server_names"] and r["bursts"]]
    assert named and all(r["burst_bytes_max"] > 0 for r in named)


def test_flows_from_zeek_logs_carry_uids(tmp_path: Path) -> None:
    out = tmp_path / "flows.parquet"
    d = ZEEK / "scripts.base.protocols.ssl.basic"
    assert main(["analyze", "--zeek", str(d), "-q", "--flows", str(out)]) == 0
    [row] = pq.read_table(out).to_pylist()
    assert row["uid"] == "CHhAvVGS1DHFjwGM9" and row["server_names"] == ["ssl.gstatic.com"]
    assert row["source"].endswith("ssl.log")
    assert row["missed_up"] is None and row["missed_down"] is None  # the logs cannot tell


def test_flows_say_what_the_capture_missed(tmp_path: Path) -> None:
    """A public camera capture that missed segments both ways of one connection: its
    flows carry the bytes missed, as the report's conversation sums them."""
    out, rep = tmp_path / "flows.parquet", tmp_path / "r.json"
    src = realworld("cam_xiaomi_chuangmi_boot_shncp.pcap")
    assert main(["analyze", str(src), "-q", "--flows", str(out), "--json", str(rep)]) == 0
    report = json.loads(rep.read_text())
    [conv] = [c for c in report["flows"] if c["missed_bytes_up"] or c["missed_bytes_down"]]
    assert (conv["missed_bytes_up"], conv["missed_bytes_down"]) == (155, 88)
    rows = [r for r in pq.read_table(out).to_pylist() if r["missed_up"] or r["missed_down"]]
    assert [(r["client_mac"], r["server_ip"], r["server_port"]) for r in rows] == [
        (conv["mac"], conv["ip"], conv["port"])
    ]
    assert (rows[0]["missed_up"], rows[0]["missed_down"]) == (155, 88)
    assert sum(r["missed_up"] for r in pq.read_table(out).to_pylist()) == 155


def test_zeek_usage_errors(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["analyze"]) == 2
    assert main(["analyze", "--zeek", str(tmp_path / "missing")]) == 2
    assert main(["analyze", "--zeek", str(tmp_path)]) == 2  # no logs in it
    assert main(["analyze", str(DEMO), "--zeek", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("netscan: error:") == 4
