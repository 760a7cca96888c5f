"""The typed finding: its JSON projection is the report's contract, and stored reports (of this
version or older ones) read back into the same findings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from netscan.analysis.finding import (
    LEVEL_NAMES,
    LEVELS,
    Destination,
    Finding,
    Level,
    findings_from_json,
    level_rank,
    report_findings,
    worst_level,
)
from netscan.report import json_report

BASELINES = Path(__file__).resolve().parents[1] / "baselines"


def _baseline_findings() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for path in sorted(BASELINES.rglob("*.json")):
        out += json.loads(path.read_text("utf-8")).get("findings") or []
    return out


def test_levels_rank_strongest_first() -> None:
    assert LEVELS == (Level.CONFIRMED, Level.LIKELY, Level.POSSIBLE)
    assert LEVEL_NAMES == ("confirmed", "likely", "possible")
    assert [lv.rank for lv in LEVELS] == [3, 2, 1]
    assert level_rank("likely") == 2 and level_rank("LIKELY") == 2
    assert level_rank("severe") == 0 and level_rank(None) == 0
    assert worst_level(["possible", "confirmed", "nonsense"]) is Level.CONFIRMED
    assert worst_level([]) is None
    assert Level.parse(" Possible ") is Level.POSSIBLE and Level.parse(3) is None
    # a level is its JSON word wherever a string is expected
    assert Level.LIKELY == "likely" and f"{Level.LIKELY}" == "likely"
    assert {"likely": 1}[Level.LIKELY] == 1


# the report's finding keys, in the order reports have always written them
KEY_ORDER = [
    "id", "kind", "level", "device", "device_mac", "device_ip", "device_role", "device_label",
    "path", "destination", "bytes_up", "bytes_down", "bursts", "image_bursts", "shape",
    "first_ts", "last_ts", "reason", "reason_parts", "evidence", "faces", "face_images", "flows",
    "cross_border", "provisions", "transport", "plaintext",
]  # fmt: skip
DESTINATION_ORDER = ["ip", "names", "provider", "operator_country", "ip_country", "asn", "org",
                     "category", "ips"]  # fmt: skip


def test_every_baseline_finding_round_trips_exactly() -> None:
    """from_json then to_json gives back the same keys and values for every kind of finding
    the baselines hold (uploads, face clouds, 802.11)."""
    found = _baseline_findings()
    kinds = {f["kind"] for f in found}
    assert {"face-upload", "offsite-upstream", "wlan-camera-upstream"} <= kinds, kinds
    for d in found:
        assert Finding.from_json(d).to_json() == d


def _check_projection(res: Any) -> None:
    assert res.findings
    report = json_report.build(res)
    assert report["findings"] == [f.to_json() for f in res.findings]
    assert report_findings(report) == res.findings
    for d in report["findings"]:
        extra = ["library"] if d["kind"] == "face-library-sync" else []
        assert list(d) == KEY_ORDER + extra
        assert list(d["destination"]) == [
            k for k in DESTINATION_ORDER if k != "ips" or d["kind"] != "wlan-camera-upstream"
        ]


@pytest.mark.parametrize("name", ["multihop_edge", "wlan_camera", "viid_confirmed"])
def test_the_report_is_the_projection_of_the_findings(analyse: Any, name: str) -> None:
    _check_projection(analyse(name))


def test_library_findings_are_projected_too(tmp_path: Path) -> None:
    from netscan.analyze import Analyzer, Options
    from tests.analysis.test_facelib import encrypted, zkteco

    for build in (zkteco, encrypted):
        res = Analyzer(Options(country="CN")).run([str(build(tmp_path))])
        assert any(f.kind == "face-library-sync" for f in res.findings)
        _check_projection(res)


def test_older_and_newer_reports_are_tolerated() -> None:
    old = {
        "id": "F-1",
        "kind": "offsite-upstream",
        "level": "possible",
        "device_mac": "aa:bb:cc:dd:ee:ff",
        "destination": {"ip": "203.0.113.9", "names": ["cloud.example"], "asn": "x"},
        "bytes_up": 1234,
        "bursts": 7,  # a count, as the first reports wrote it
        "first_ts": 1700000000.5,
        "last_ts": None,
        "reason": "a camera sends sustained upstream media",
        "evidence": [{"frame": 3, "file": "a.pcap", "what": "x"}, "not an object"],
        "cross_border": "yes",  # not a boolean: unknown
        "provisions": [],
        "a_key_from_the_future": {"x": 1},
    }
    f = Finding.from_json(old)
    assert f.level is Level.POSSIBLE and f.bursts == 7 and f.first_ts == 1700000000.5
    assert f.device == "" and f.device_label == "aa:bb:cc:dd:ee:ff" and f.device_role == "unknown"
    assert f.destination.asn is None and f.destination.ips is None
    assert f.destination.label == "cloud.example"
    assert f.evidence == [{"frame": 3, "file": "a.pcap", "what": "x"}]
    assert f.cross_border is None and f.reason_parts == [] and f.library is None
    assert f.to_json()["a_key_from_the_future"] == {"x": 1}  # kept, not dropped
    # entries that are not findings are left out of a report's findings
    items = [old, {"id": "F-2", "level": "severe"}, "junk", None, {"level": "likely"}]
    assert [x.level for x in findings_from_json(items)] == [Level.POSSIBLE, Level.LIKELY]
    assert report_findings({"findings": "not a list"}) == []
    with pytest.raises(ValueError):
        Finding.from_json({"id": "F-3"})


def test_destination_label_and_optional_addresses() -> None:
    d = Destination(ip="198.51.100.7", provider="Example Cloud")
    assert d.label == "Example Cloud"
    assert "ips" not in d.to_json()  # 802.11 findings name no address
    d.ips = ["198.51.100.7", "198.51.100.8"]
    assert d.to_json()["ips"] == ["198.51.100.7", "198.51.100.8"]
    assert Destination.from_json(None) == Destination()
