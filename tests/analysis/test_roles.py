"""Every role rule of the pack, end to end: a generated capture (tests/analysis/role_captures.py)
in which one device does what the rule weighs; the analysis must name the rule among the
device's role reasons and give the device the rule's role."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from netscan.analyze import Analyzer, Options
from netscan.report.json_report import build
from netscan.signatures.pack import RULE_CATEGORY, load_active_pack
from tests.analysis import role_captures as rc

RULES = {s.id: s for s in load_active_pack().signatures if s.category == RULE_CATEGORY}
CASES = [(rule, b) for rule, builders in rc.RULE_CAPTURES.items() for b in builders]


def _device(path: Path, mac: str) -> dict[str, Any]:
    rep = json.loads(json.dumps(build(Analyzer(Options()).run([str(path)]))))
    (dev,) = [d for d in rep["devices"] if d["mac"] == mac]
    return dev


def test_every_rule_has_a_capture() -> None:
    assert set(RULES) == set(rc.RULE_CAPTURES), "a role rule without a generated capture"


@pytest.mark.parametrize(("rule", "builder"), CASES, ids=[f"{r}-{b.__name__}" for r, b in CASES])
def test_rule_fires_on_generated_capture(rule: str, builder: rc.Builder, tmp_path: Path) -> None:
    path, mac = builder(tmp_path)
    dev = _device(path, mac)
    assert any(reason.endswith(f"({rule})") for reason in dev["role_reasons"]), dev["role_reasons"]
    assert dev["role"] == RULES[rule].role, (dev["role"], dev["role_reasons"])


def test_generated_captures_are_deterministic(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    for builder in (rc.windows_ncsi, rc.recorder, rc.wlan_camera):
        assert builder(a)[0].read_bytes() == builder(b)[0].read_bytes()


def test_manufacturer_from_discovery_beside_registrant(tmp_path: Path) -> None:
    """An XM-board camera whose MAC block is registered to another company announces itself
    in a Xiongmai discovery answer: the report keeps both."""
    path, mac = rc.xiongmai_discovery(tmp_path)
    dev = _device(path, mac)
    assert "xiongmai" not in (dev["vendor"] or "").lower()
    assert "Xiongmai" in (dev["manufacturer"] or "")
    assert dev["manufacturer_source"] == "signature device.xiongmai-discovery (vendor_discovery)"


def test_manufacturer_absent_when_device_says_nothing(tmp_path: Path) -> None:
    path, mac = rc.recorder(tmp_path)
    dev = _device(path, mac)
    assert dev["vendor"] and dev["manufacturer"] is None and dev["manufacturer_source"] is None


def test_recorder_is_not_a_camera(tmp_path: Path) -> None:
    """A Hikvision NVR that pulls two cameras and serves RTSP to a viewer stays an NVR."""
    path, mac = rc.recorder_video_vendor(tmp_path)
    dev = _device(path, mac)
    assert dev["role"] == "nvr"
    for cam in (rc.CAM_A.mac, rc.CAM_B.mac):
        assert _device(path, cam)["role"] == "camera"
