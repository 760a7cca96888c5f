"""Role accuracy on the scenario captures and the demo: every device whose identity the
scenario states gets that role; devices whose capture says nothing that could tell their
role (listed with the reason) may stay unknown but never get a wrong role."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from netscan.analyze import Analyzer, Options, Result
from tests.analysis.scenarios import build as sc
from tests.analysis.scenarios.build import SCENARIOS

ROOT = Path(__file__).resolve().parents[2]
EXPECTED = {
    sc.GATEWAY.mac: "router",
    sc.HIK_CAM1.mac: "camera",
    sc.HIK_CAM2.mac: "camera",
    sc.HIK_NVR.mac: "nvr",
    sc.HIK_TERMINAL.mac: "face-terminal",
    sc.DAHUA_CAM.mac: "camera",
    sc.ZK_TERMINAL.mac: "face-terminal",
    sc.EDGE.mac: "edge-server",
    sc.PC.mac: "computer",
    sc.HIK_CAM1.mac.replace("2e:7c:51", "2e:7c:99"): "camera",  # the 802.11 station
}
# (scenario, device): roles allowed because nothing in that capture tells the stated role
UNTELLABLE = {
    ("benign_local", sc.GATEWAY.mac): {"unknown"},  # only answers DNS; nothing leaves
    ("wlan_camera", sc.GATEWAY.mac): {"unknown"},  # an 802.11 address, no traffic of its own
    ("json_face_api", sc.PC.mac): {"unknown"},  # one JSON post, no name, agent or DHCP
    ("possible_vendor_cloud", sc.HIK_NVR.mac): {"camera"},  # a Hikvision box uploading video
    ("ipv6_slaac", sc.HIK_NVR.mac): {"camera"},  # receives one datagram; only its OUI speaks
}
# pcaps/README.md: the demo's stated roles
DEMO = {
    "50:c7:bf:3a:91:01": "router", "44:19:b6:2e:7c:51": "camera", "c0:56:e3:91:0a:3d": "camera",
    "bc:ad:28:5f:e2:17": "camera", "3c:ef:8c:6a:20:9e": "camera", "24:48:45:b1:3c:70": "nvr",
    "48:e6:c6:4a:1b:2c": "face-terminal", "a0:36:9f:52:8d:14": "edge-server",
    "f8:bc:12:6e:41:0b": "computer", "54:bf:64:23:9a:c8": "computer",
    "f0:18:98:4c:2d:e6": "phone", "8c:f5:a3:71:b5:09": "phone", "3c:d9:2b:0d:77:3a": "printer",
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_scenario_roles(name: str, analyse: Callable[..., Result]) -> None:
    inv = analyse(name).inventory
    assert inv.devices
    for key, dev in inv.devices.items():
        allowed = UNTELLABLE.get((name, key), {EXPECTED[key]})
        assert dev.role in allowed, (name, key, dev.role, dev.role_reasons)


def test_demo_roles() -> None:
    res = Analyzer(Options(country="CN")).run([str(ROOT / "pcaps" / "demo_sales_office.pcapng")])
    got = {k: d.role for k, d in res.inventory.devices.items()}
    assert got == DEMO
