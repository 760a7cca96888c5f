"""Each scenario capture gives exactly the expected findings."""

from __future__ import annotations

import json
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from netscan.analyze import Result
from netscan.report import json_report
from tests.analysis.scenarios import build as sc

# scenario -> [(level, kind, device MAC, destination IP, content protocols)]
EXPECTED: dict[str, list[tuple[str, str, str, str | None, set[str]]]] = {
    "viid_confirmed": [("confirmed", "face-upload", sc.HIK_CAM1.mac, sc.VIID_PLATFORM, {"viid"})],
    "isapi_multipart": [
        ("confirmed", "face-upload", sc.HIK_TERMINAL.mac, sc.ISAPI_PLATFORM, {"isapi"})
    ],
    "dahua_snapshot": [
        ("confirmed", "face-upload", sc.DAHUA_CAM.mac, sc.DAHUA_PLATFORM, {"dahua"})
    ],
    "iclock_attphoto": [
        ("confirmed", "face-upload", sc.ZK_TERMINAL.mac, sc.ADMS_SERVER, {"iclock"})
    ],
    "json_face_api": [("confirmed", "face-upload", sc.PC.mac, sc.FACE_API_PLAIN, {"json"})],
    "likely_face_cloud": [("likely", "face-cloud-upload", sc.EDGE.mac, sc.FACEPP, set())],
    "possible_vendor_cloud": [
        ("possible", "offsite-upstream", sc.HIK_NVR.mac, sc.VENDOR_CLOUD, set())
    ],
    "multihop_edge": [("confirmed", "face-upload", sc.EDGE.mac, sc.VIID_PLATFORM, {"viid"})],
    "benign_local": [],
    "nonface_upload": [
        ("possible", "offsite-upstream", sc.HIK_CAM1.mac, sc.UNKNOWN_HOST, {"multipart"})
    ],
    "wlan_camera": [("possible", "wlan-camera-upstream", "44:19:b6:2e:7c:99", None, set())],
    # global IPv6 premises: found because the premises are inferred from the link
    "ipv6_slaac": [
        ("confirmed", "face-upload", sc.V6_CAM.mac, sc.V6_VIID_PLATFORM, {"viid"}),
        ("confirmed", "face-upload", sc.V6_TERMINAL.mac, sc.V6_ISAPI_PLATFORM, {"isapi"}),
    ],
    "ipv6_slaac_no_ra": [
        ("confirmed", "face-upload", sc.V6_CAM.mac, sc.V6_VIID_PLATFORM, {"viid"})
    ],
    "dual_stack_dhcpv6": [
        ("confirmed", "face-upload", sc.V6_CAM.mac, sc.V6_VIID_PLATFORM, {"viid"})
    ],
}


def _summary(res: Result) -> list[tuple[str, str, str, str | None, set[str]]]:
    return [
        (
            f.level,
            f.kind,
            f.device_mac,
            f.destination.ip,
            {x["protocol"] for x in f.faces},
        )
        for f in res.findings
    ]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_scenario_findings(name: str, analyse: Callable[..., Result]) -> None:
    assert _summary(analyse(name)) == EXPECTED[name]


def test_every_scenario_has_an_expectation() -> None:
    assert set(EXPECTED) == set(sc.SCENARIOS)


def test_confirmed_face_evidence(analyse: Callable[..., Result]) -> None:
    (f,) = analyse("viid_confirmed").findings
    face = f.faces[0]
    assert face["faces"] >= 1 and face["width"] == 176 and face["height"] == 176
    assert face["sha256"] == __import__("hashlib").sha256(sc.face_jpeg()).hexdigest()
    assert face["kept_as"] is None
    assert f.face_images == 1
    assert f.evidence[0]["what"].startswith("POST /VIID/Faces")
    assert f.evidence[0]["frame"] > 0


def test_nonface_picture_is_not_confirmed(analyse: Callable[..., Result]) -> None:
    (f,) = analyse("nonface_upload").findings
    assert f.level == "possible"
    assert [x["faces"] for x in f.faces] == [0]
    assert "none holds a face" in f.reason


def test_multihop_path_and_no_feeder_findings(analyse: Callable[..., Result]) -> None:
    res = analyse("multihop_edge")
    (f,) = res.findings
    stages = [(n["stage"], n["key"]) for n in f.path]
    assert stages == [
        (0, sc.HIK_CAM1.mac),
        (0, sc.HIK_CAM2.mac),
        (1, sc.EDGE.mac),
        (2, sc.VIID_PLATFORM),
    ]
    assert res.inventory.devices[sc.EDGE.mac].role == "edge-server"
    assert {res.inventory.devices[m].role for m in (sc.HIK_CAM1.mac, sc.HIK_CAM2.mac)} == {"camera"}


def test_benign_cameras_are_still_inventoried(analyse: Callable[..., Result]) -> None:
    res = analyse("benign_local")
    assert res.findings == []
    assert res.inventory.devices[sc.HIK_NVR.mac].role == "nvr"


def test_cross_border_and_provisions(analyse: Callable[..., Result]) -> None:
    (cn,) = analyse("likely_face_cloud", "CN").findings
    assert cn.cross_border is False
    assert cn.destination.operator_country == "CN"
    assert {p["id"] for p in cn.provisions} >= {"CN-FRT-2025", "CN-PIPL-28"}
    assert "CN-PIPL-38" not in {p["id"] for p in cn.provisions}
    (de,) = analyse("likely_face_cloud", "DE").findings
    assert de.cross_border is True
    assert [p["id"] for p in de.provisions] == ["EU-GDPR-9"]
    (none,) = analyse("likely_face_cloud", None).findings
    assert none.cross_border is None and none.provisions == []


def test_wlan_finding_is_at_most_possible(analyse: Callable[..., Result]) -> None:
    (f,) = analyse("wlan_camera").findings
    assert f.level == "possible"
    assert f.cross_border is None
    assert f.flows[0]["transport"] == "wlan"


def _stable(report: dict[str, Any]) -> str:
    report = dict(report)
    report.pop("generated_at")
    return json.dumps(report, sort_keys=True)


def test_deterministic_report(scenario: Callable[[str], Path]) -> None:
    from netscan.analyze import Analyzer, Options

    path = str(scenario("multihop_edge"))
    a = json_report.build(Analyzer(Options(country="CN")).run([path]))
    b = json_report.build(Analyzer(Options(country="CN")).run([path]))
    assert _stable(a) == _stable(b)
    assert a["findings"][0]["id"] == b["findings"][0]["id"]


def test_report_validates_against_schema(analyse: Callable[..., Result]) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    report = json_report.build(analyse("multihop_edge"))
    jsonschema.validate(report, json_report.schema())


def test_keep_evidence_writes_private_files(analyse: Callable[..., Result], tmp_path: Path) -> None:
    keep = tmp_path / "evidence"
    res = analyse("viid_confirmed", keep_evidence=str(keep))
    kept = res.findings[0].faces[0]["kept_as"]
    assert kept is not None and Path(kept).parent == keep
    assert stat.S_IMODE(keep.stat().st_mode) == 0o700
    assert stat.S_IMODE(Path(kept).stat().st_mode) == 0o600
    assert Path(kept).read_bytes() == sc.face_jpeg()
