"""Devices whose identity the public captures' MANIFEST states: no wrong vendor or category.

Each row: the capture, a device (MAC or IP), the registry vendor the MAC must resolve to
(a substring, or None for locally administered MACs), and the roles that are right for it.
Roles outside the allowed set are wrong claims: a smart plug called a camera, a phone
called a camera because it browses for cameras, a camera called a phone.
"""

from __future__ import annotations

import json
from functools import cache

import pytest

from netscan.analyze import Analyzer, Options
from netscan.inventory.model import CAMERA_FAMILY
from netscan.report.json_report import build
from tests.conftest import realworld

CAMERA_LIKE = set(CAMERA_FAMILY)
NOT_CAMERA = {"computer", "phone", "printer", "router", "iot", "unknown"}

CASES = [
    # cameras the MANIFEST names, with enough evidence in the capture to say so
    ("cam_dlink_dcs935l_setup_iotsentinel.pcap", "b0:c5:54:25:5b:0e", "D-Link", {"camera"}),
    ("cam_edimax_setup_iotsentinel.pcap", "74:da:38:80:7a:08", "Edimax", {"camera"}),
    ("cam_dahua_rtsp_digest_2ic80.pcapng", "38:af:29:bb:bc:ab", "Dahua", {"camera"}),
    ("cam_tapo_c200_boot_shncp.pcap", "1c:61:b4:c3:0e:95", "TP-Link", {"camera"}),
    ("cam_xiaomi_chuangmi_boot_shncp.pcap", "78:8b:2a:33:8c:9d", None, {"camera"}),
    ("cam_dlink_dcs8000lh_stream_shncp.pcap", "b0:c5:54:10:88:39", "D-Link", {"camera"}),
    ("cam_yi_pppp_p2p_neu.pcap", "b0:d5:9d:b9:f0:b4", "Zowee", {"camera"}),
    (
        "cam_blink_cloud_headers_tjoconnor.pcap",
        "f4:b8:5e:ff:2b:1b",
        "Texas Instruments",
        {"camera"},
    ),
    # weak evidence (DHCP and OUI only): anything but a wrong non-camera claim
    (
        "cam_ednet_setup_iotsentinel.pcap",
        "3c:49:37:03:17:db",
        "ASSMANN",
        {"camera", "unknown", "iot"},
    ),
    (
        "cam_tapo_smartthings_cloudstream_shncp.pcap",
        "1c:61:b4:c3:0e:95",
        "TP-Link",
        {"camera", "unknown"},
    ),
    # negative controls: not cameras, whatever their vendor also makes
    ("iot_tplink_hs110_plug_setup_iotsentinel.pcap", "50:c7:bf:00:c7:03", "TP-LINK", NOT_CAMERA),
    ("iot_tuya_lp_ndpi.pcap", "38:1f:8d:2f:50:4f", "Tuya", NOT_CAMERA),
    ("cam_dlink_dcs935l_setup_iotsentinel.pcap", "bc:f5:ac:f4:c0:9d", "LG", {"phone", "unknown"}),
    ("cam_dahua_rtsp_digest_2ic80.pcapng", "192.168.1.3", None, NOT_CAMERA),
    ("cam_yi_pppp_p2p_neu.pcap", "192.168.10.248", None, NOT_CAMERA),
    ("cam_yi1080p_phone_mudproject.pcap", "192.168.1.138", None, NOT_CAMERA),
    ("cam_dlink_dcs8000lh_stream_shncp.pcap", "192.168.1.110", None, NOT_CAMERA),
    ("mixed_iphone_discovery_ndpi.pcap", "192.168.2.", None, NOT_CAMERA),
    ("wsd_ssdp_discovery_ndpi.pcap", "", None, NOT_CAMERA),
    ("mixed_alexa_app_android_ndpi.pcapng", "78:f8:82:d3:fb:c2", "LG", {"phone", "unknown"}),
]


@cache
def _report(name: str) -> str:
    return json.dumps(build(Analyzer(Options()).run([str(realworld(name))])))


def _devices(name: str, who: str) -> list[dict]:
    devices = json.loads(_report(name))["devices"]
    if ":" in who and len(who) == 17:
        return [d for d in devices if d["mac"] == who]
    # by address (prefix): every device that held it
    return [d for d in devices if any(ip.startswith(who) for ip in d["ips"])] if who else devices


@pytest.mark.parametrize(
    "name, who, vendor, roles", CASES, ids=lambda v: v if isinstance(v, str) else ""
)
def test_stated_identity(name: str, who: str, vendor: str | None, roles: set[str]) -> None:
    found = _devices(name, who)
    assert found, f"{who or 'devices'} not in the inventory of {name}"
    for dev in found:
        if vendor is not None:
            assert vendor.lower() in (dev["vendor"] or "").lower(), dev["vendor"]
        assert dev["role"] in roles, f"{dev['mac']} {dev['role']} ({dev['role_reasons']})"


def test_no_camera_claims_without_cameras() -> None:
    """Captures with no camera on them get no camera-like device and no finding."""
    for name in ("mixed_iphone_discovery_ndpi.pcap", "iot_tuya_lp_ndpi.pcap", "sip_calls_zeek.pcap",
                 "wsd_ssdp_discovery_ndpi.pcap", "iot_tplink_hs110_plug_setup_iotsentinel.pcap",
                 "mixed_alexa_app_android_ndpi.pcapng", "http_multipart_form_zeek.pcap"):  # fmt: skip
        rep = json.loads(_report(name))
        assert not [d for d in rep["devices"] if d["role"] in CAMERA_LIKE], name
        assert rep["findings"] == [], name
