"""netscan evidence includes the local streams that a finding's path names (cameras feeding
an edge server), flagged as context in each packet's comment."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from netscan.report import json_report
from netscan.report.evidence_cli import extract, feeding_pairs
from netscan.sources.pcapfile import CaptureFile
from tests.analysis.scenarios.build import EDGE, HIK_CAM1, HIK_CAM2
from tests.conftest import requires_tshark


@requires_tshark
def test_feeding_streams_are_context(analyse: Callable[..., Any], scenario: Callable[[str], Path],
                                     tmp_path: Path) -> None:  # fmt: skip
    res = analyse("multihop_edge")
    report = json_report.build(res)
    f = next(f for f in res.findings if f.device == EDGE.mac)
    assert feeding_pairs(f) == {
        frozenset((HIK_CAM1.ip, EDGE.ip)),
        frozenset((HIK_CAM2.ip, EDGE.ip)),
    }
    out = tmp_path / "ev.pcapng"
    count, warnings = extract(report, f.id, [str(scenario("multihop_edge"))], out)
    assert not warnings
    cap = CaptureFile(str(out))
    n = sum(1 for _ in cap)
    cap.close()
    assert n == count
    r = subprocess.run(["tshark", "-r", str(out), "-Y", 'frame.comment contains "context"',
                        "-T", "fields", "-e", "ip.src", "-e", "ip.dst"],
                       capture_output=True, text=True, timeout=120, check=True)  # fmt: skip
    pairs = {frozenset(line.split("\t")) for line in r.stdout.splitlines() if line}
    assert pairs == {frozenset((HIK_CAM1.ip, EDGE.ip)), frozenset((HIK_CAM2.ip, EDGE.ip))}
    # the finding's own upload is there too, not flagged as context
    r = subprocess.run(["tshark", "-r", str(out), "-Y", 'not frame.comment contains "context"'],
                       capture_output=True, text=True, timeout=120, check=True)  # fmt: skip
    assert r.stdout.count("\n") >= 3
