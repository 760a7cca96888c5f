"""The terminal summary when stdout is not a terminal (piped, redirected): addresses and
MACs are never wrapped across lines, and every finding names its ID and first evidence
frames (enough to run netscan evidence without opening the JSON)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import PCAPS


def test_piped_summary_keeps_addresses_whole_and_names_evidence(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    env = dict(os.environ, COLUMNS="40")  # a narrow terminal setting must not matter
    r = subprocess.run([sys.executable, "-m", "netscan", "analyze",
                        str(PCAPS / "demo_sales_office.pcapng"), "--json", str(out)],
                       capture_output=True, text=True, env=env, timeout=600)  # fmt: skip
    assert r.returncode == 0, r.stderr
    report = json.loads(out.read_text())
    lines = r.stdout.splitlines()
    for d in report["devices"]:
        if d["mac"]:
            assert any(d["mac"] in ln for ln in lines), d["mac"]
        for ip in d["ips"][:1]:
            assert any(ip in ln for ln in lines), ip
    for f in report["findings"]:
        ref = next(ln for ln in lines if f"id {f['id']}, evidence:" in ln)
        first = sorted({e["frame"] for e in f["evidence"]})[:3]
        assert "demo_sales_office.pcapng frame(s) " + ", ".join(map(str, first)) in ref
