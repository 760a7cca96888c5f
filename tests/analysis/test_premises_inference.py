"""Premises inferred from the link: global SLAAC / DHCPv6 premises, end to end.

The scenario captures (tests/analysis/scenarios/build.py: ipv6_slaac, ipv6_slaac_no_ra,
dual_stack_dhcpv6) are premises whose devices use global IPv6 addresses; with the private
ranges alone they report no finding at all."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from netscan.analyze import Result
from netscan.report import html_report, json_report, markdown_report
from tests.analysis.scenarios.build import (
    V6_CAM,
    V6_ISAPI_PLATFORM,
    V6_PREFIX,
    V6_TERMINAL,
    V6_VIID_PLATFORM,
)

PREFIX = f"{V6_PREFIX}::/64"


def _findings(res: Result) -> list[tuple[str, str, str | None]]:
    return sorted((f.level.value, f.kind, f.destination.ip) for f in res.findings)


def _validate(report: dict[str, Any]) -> None:
    jsonschema.Draft202012Validator(json_report.schema()).validate(report)


@pytest.mark.parametrize("engine", ["core", "tshark"])
def test_slaac_premises_inferred_from_router_advertisement(
    analyse: Callable[..., Result], engine: str
) -> None:
    res = analyse("ipv6_slaac", engine=engine)
    assert [(lv, ip) for lv, _k, ip in _findings(res)] == [
        ("confirmed", V6_VIID_PLATFORM),
        ("confirmed", V6_ISAPI_PLATFORM),
    ]
    inv = res.inventory
    assert PREFIX in inv.premises.cidrs
    inf = inv.premises.inference
    assert inf.applied and inf.origin == "default+inferred"
    assert inf.gateways == ["50:c7:bf:3a:91:01"]
    (rng,) = inf.ranges
    assert rng.range == PREFIX and rng.sources == ["router-advertisement", "local-link"]
    # the camera and the terminal are devices at their global addresses; the platforms
    # behind the gateway stay off-site endpoints
    assert V6_CAM.ip in inv.devices[V6_CAM.mac].ips
    assert V6_TERMINAL.ip in inv.devices[V6_TERMINAL.mac].ips
    assert {V6_VIID_PLATFORM, V6_ISAPI_PLATFORM} <= set(inv.endpoints)
    assert not any(ip.startswith(V6_PREFIX) for ip in inv.endpoints)
    assert any("premises inferred from the link" in w for w in res.warnings)
    report = json_report.build(res)
    _validate(report)
    pi = report["premises_inference"]
    assert pi["applied"] and pi["ranges"][0]["range"] == PREFIX
    assert pi["ranges"][0]["frames"][0] == {"file": res.inputs[0].path, "frame": 1}


def test_without_inference_there_is_no_finding(analyse: Callable[..., Result]) -> None:
    """What the default run reported before: the inference is what finds the uploads."""
    res = analyse("ipv6_slaac", infer_premises=False)
    assert res.findings == []
    inf = res.inventory.premises.inference
    assert not inf.applied and inf.cidrs == [PREFIX]
    assert PREFIX not in res.inventory.premises.cidrs
    report = json_report.build(res)
    _validate(report)
    assert report["premises_inference"]["applied"] is False


def test_given_premises_override(analyse: Callable[..., Result]) -> None:
    # the auditor's ranges cover the devices: nothing is added
    res = analyse("ipv6_slaac", premises=[PREFIX])
    assert len(res.findings) == 2
    inf = res.inventory.premises.inference
    assert inf.origin == "given" and not inf.applied
    assert res.inventory.premises.cidrs == [PREFIX]
    # ranges that miss the devices: the auditor's word stands, and a warning names the
    # addresses outside them whose frames are local
    res = analyse("ipv6_slaac", premises=["10.20.0.0/16"])
    assert res.findings == []
    inf = res.inventory.premises.inference
    assert inf.origin == "given" and not inf.applied
    assert inf.local_outside == [PREFIX]
    assert [r.sources for r in inf.ranges] == [["router-advertisement", "local-link"]]
    assert res.inventory.premises.cidrs == ["10.20.0.0/16"]
    assert any("come straight from MACs on the local link: " + PREFIX in w
               for w in res.warnings)  # fmt: skip
    report = json_report.build(res)
    _validate(report)
    assert report["premises_inference"]["local_outside"] == [PREFIX]


def test_no_router_advertisement_gateway_from_its_networks(
    analyse: Callable[..., Result],
) -> None:
    res = analyse("ipv6_slaac_no_ra")
    assert [(lv, ip) for lv, _k, ip in _findings(res)] == [("confirmed", V6_VIID_PLATFORM)]
    (rng,) = res.inventory.premises.inference.ranges
    assert rng.range == PREFIX and rng.sources == ["local-link"]
    assert "2408:8899::8" in res.inventory.endpoints  # the ISP resolver stays off-site


def test_dual_stack_dhcpv6(analyse: Callable[..., Result]) -> None:
    res = analyse("dual_stack_dhcpv6")
    assert [(lv, ip) for lv, _k, ip in _findings(res)] == [("confirmed", V6_VIID_PLATFORM)]
    inf = res.inventory.premises.inference
    (rng,) = inf.ranges
    assert rng.range == PREFIX and set(rng.sources) == {"dhcpv6", "local-link"}
    assert any("assigns " + V6_CAM.ip in why for why in rng.reasons)
    # the camera is one device with both addresses
    assert {"192.168.1.64", V6_CAM.ip} <= set(res.inventory.devices[V6_CAM.mac].ips)


def test_reports_say_what_was_inferred(analyse: Callable[..., Result]) -> None:
    report = json_report.build(analyse("ipv6_slaac"))
    md = markdown_report.render(report)
    assert "## Premises inferred from the link" in md and PREFIX in md
    assert "Router Advertisement from 50:c7:bf:3a:91:01" in md
    html = html_report.render(report)
    assert "Premises inferred from the link" in html and PREFIX in html


def test_cli_summary_and_json(scenario: Callable[[str], Path], tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    cmd = [sys.executable, "-m", "netscan", "analyze", str(scenario("ipv6_slaac")),
           "--country", "CN", "--json", str(out)]  # fmt: skip
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert "premises inferred from the link: " + PREFIX in r.stdout
    report = json.loads(out.read_text())
    assert report["summary"]["by_level"] == {"confirmed": 2}
    r = subprocess.run([*cmd, "--no-premises-inference"], capture_output=True, text=True,
                       timeout=600)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert json.loads(out.read_text())["summary"]["findings"] == 0


def test_premises_section_in_chinese(analyse: Callable[..., Result]) -> None:
    """Under zh-CN the section (heading, origin, reasons, sources, notes) is Chinese, made from
    the parts beside the English sentences; the parameters stay as captured, escaped."""
    import copy

    from netscan import i18n

    report = json_report.build(analyse("ipv6_slaac"))
    inferred = report["premises_inference"]
    (rng,) = [r for r in inferred["ranges"] if r["range"] == PREFIX]
    assert len(rng["reason_parts"]) == len(rng["reasons"])
    assert rng["reason_parts"][0]["msg"].startswith("Router Advertisement from {sender}")
    md = markdown_report.render(report, lang="zh-CN")
    assert "## 从链路推断的场所网络范围" in md and "来自 50:c7:bf:3a:91:01 的路由器通告" in md
    assert "Router Advertisement from" not in md and "Origin " not in md and "路由器通告" in md
    html = html_report.render(report, lang="zh-CN")
    assert "从链路推断的场所网络范围" in html and "Router Advertisement from" not in html
    with i18n.use("en"):  # English: the sentences exactly as the JSON keeps them
        assert "Router Advertisement from 50:c7:bf:3a:91:01" in markdown_report.render(report)
    # a hostile parameter is text, never markup; a report without parts shows the English
    hostile = copy.deepcopy(report)
    part = hostile["premises_inference"]["ranges"][0]["reason_parts"][0]
    part["args"]["sender"] = "<script>alert(1)</script>"
    html = html_report.render(hostile, lang="zh-CN")
    assert "<script>alert" not in html and "&lt;script&gt;" in html
    old = copy.deepcopy(report)
    for r in old["premises_inference"]["ranges"]:
        del r["reason_parts"]
    assert "Router Advertisement from 50:c7:bf:3a:91:01" in markdown_report.render(
        old, lang="zh-CN"
    )


def test_premises_notes_are_translated() -> None:
    from netscan import i18n, reasons
    from netscan.inventory.linkscope import Inference

    inf = Inference(origin="default+inferred", applied=True)
    inf.note(reasons.part(reasons.NOTE_DROPPED, n=12345))
    assert inf.notes == ["12,345 link sightings beyond the bounds were not kept"]
    section_json = inf.as_json()
    with i18n.use("zh-CN"):
        section = reasons.premises_inference(section_json)
    assert section["notes"] == ["备注：超出上限的 12,345 条链路观察未保留"]
    assert "默认加推断" in section["summary"] and "已用于本次分析" in section["summary"]
