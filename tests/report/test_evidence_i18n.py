"""Evidence lines and role reasons in the reader's language: the inventory and the analysis
keep each line's template and parameters (``what_part`` beside an evidence line's ``what``,
``role_reason_parts`` beside a device's ``role_reasons``); the HTML and Markdown reports, the
case section and the TUI show them translated, the English report is unchanged, a report
without parts (or with parts that do not hold together) shows the English lines, and a
hostile parameter stays bounded plain text."""

from __future__ import annotations

import copy
import html
import io
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from rich.console import Console

from netscan import i18n, reasons
from netscan.analysis.finding import Finding
from netscan.report import case_section, html_report, markdown_report
from netscan.untrusted import NAME_LIMIT
from tests.report.helpers import demo_report, visible_text

ROOT = Path(__file__).resolve().parent.parent.parent
BASELINES = ROOT / "tests" / "baselines"
SCHEMA = ROOT / "netscan" / "report" / "report.schema.json"
HOSTILE = "<img src=x onerror=alert(1)> {0} {n} **b** [l](http://e.example) \u202e\x1b[31m"
LONG = "A" * 5000

# lines of the demo that were English under --lang zh-CN, and what they read now
EVIDENCE_ZH = {
    "device: DHCP vendor class udhcp 1.19.4": "设备：DHCP 厂商类别 udhcp 1.19.4",
    "device: DHCP hostname SpeedFace-V5L": "设备：DHCP 主机名 SpeedFace-V5L",
    "device: sadp discovery answer model DS-7608NI-K2/8P": "设备：sadp 发现应答，型号 DS-7608NI-K2/8P",
    "device: oui_prefix '24:48:45:b1:3c:70' matches device.hikvision-oui":
        "设备：oui_prefix '24:48:45:b1:3c:70' 匹配 device.hikvision-oui",
    "destination: dns_name 'pbdev.ys7.com' matches vendor-cloud.ezviz-ys7":
        "目的地：dns_name 'pbdev.ys7.com' 匹配 vendor-cloud.ezviz-ys7",
    "first packet of tcp/8081 to 121.40.167.52: 49,698 bytes up":
        "发往 121.40.167.52 的 tcp/8081 的第一个数据包：上行 49,698 字节",
    "6 picture-sized upload bursts from 2026-03-02T09:01:37.183550Z to "
    "2026-03-02T09:08:41.951600Z, largest 196,423 bytes":
        "2026-03-02T09:01:37.183550Z 至 2026-03-02T09:08:41.951600Z 期间 6 次图片大小的上传突发，"
        "最大 196,423 字节",
    "feeder 3c:ef:8c:6a:20:9e: streams udp/55366 (250,775 bytes)":
        "数据来源设备 3c:ef:8c:6a:20:9e：传输 udp/55366 媒体流（250,775 字节）",
}  # fmt: skip
ROLE_ZH = {
    "receives media streams from 3 local devices (role.recorder)":
        "接收来自 3 台本地设备的媒体流（role.recorder）",
    "serves RTSP on tcp/554 (role.rtsp-server)": "在 tcp/554 上提供 RTSP 服务（role.rtsp-server）",
    "signature device.hikvision-oui": "特征 device.hikvision-oui",
    "answers ONVIF discovery as a NetworkVideoTransmitter":
        "以 NetworkVideoTransmitter（网络视频发送端）身份应答 ONVIF 发现",
    "hostname RECEPTION-PC (role.pc-hostname)": "主机名 RECEPTION-PC（role.pc-hostname）",
    "dhcp vendor class MSFT 5.0 (role.windows-dhcp-vendor-class)":
        "DHCP 厂商类别 MSFT 5.0（role.windows-dhcp-vendor-class）",
    "receives media streams from 2 local devices and sends 720,360 bytes off-site "
    "(role.edge-box)": "接收来自 2 台本地设备的媒体流，并向场所外发送 720,360 字节（role.edge-box）",
}  # fmt: skip


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    return demo_report()


def md_text(md: str) -> str:
    """The Markdown as a reader sees it (escapes undone)."""
    return html.unescape(md.replace("\\", ""))


def evidence_items(report: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for section in ("devices", "endpoints", "findings"):
        for item in report.get(section) or []:
            out += item.get("evidence") or []
    return out


def device(report: dict[str, Any], mac: str) -> dict[str, Any]:
    return next(d for d in report["devices"] if d["mac"] == mac)


def test_every_line_keeps_its_parts(report: dict[str, Any]) -> None:
    items = evidence_items(report)
    assert len(items) > 50
    for e in items:
        assert reasons.english(e["what_part"]) == e["what"], e
    n = 0
    for d in report["devices"]:
        assert len(d["role_reason_parts"]) == len(d["role_reasons"])
        for why, part in zip(d["role_reasons"], d["role_reason_parts"], strict=True):
            assert reasons.english(part) == why
            n += 1
    assert n > 20
    json.dumps(report)  # plain JSON
    jsonschema.validate(report, json.loads(SCHEMA.read_text("utf-8")))


def test_the_parts_rebuild_every_baselines_lines() -> None:
    """Every evidence line and role reason of every baseline has parts that rebuild its
    English text and that translate."""
    lines = 0
    for path in BASELINES.rglob("*.json"):
        r = json.loads(path.read_text("utf-8"))
        pairs = [(e["what"], e.get("what_part")) for e in evidence_items(r)]
        for d in r.get("devices") or []:
            pairs += list(zip(d["role_reasons"], d["role_reason_parts"], strict=True))
        for text, part in pairs:
            assert part and reasons.english(part) == text, (path.name, text)
            with i18n.use("zh-CN"):
                assert reasons.sentence_text(part, text) != text, (path.name, text)
            lines += 1
    assert lines > 500


def test_chinese_reports_show_the_lines_in_chinese(report: dict[str, Any]) -> None:
    zh_html = visible_text(html_report.render(report, lang="zh-CN"))
    zh_md = md_text(markdown_report.render(report, lang="zh-CN"))
    shown_lines = {e["what"] for f in report["findings"] for e in f["evidence"]}
    assert set(EVIDENCE_ZH) <= shown_lines
    for text in (zh_html, zh_md):
        for en, zh in EVIDENCE_ZH.items():
            assert en not in text and zh in text, en
        for en, zh in ROLE_ZH.items():
            assert en not in text and zh in text, en
        for line in shown_lines:  # no finding's evidence line is left in English
            assert line not in text, line
        for d in report["devices"]:
            for why in d["role_reasons"]:
                assert f"{why};" not in text and f"{why} " not in text, why
        assert "picture-sized" not in text and " matches " not in text
        assert "；特征 device.hikvision-sadp" in text  # joined as the reasons are


def test_english_reports_are_unchanged(report: dict[str, Any]) -> None:
    en_html = html_report.render(report, lang="en")
    en_md = markdown_report.render(report, lang="en")
    for f in report["findings"]:
        for e in f["evidence"]:
            assert f"<td>{html.escape(e['what'], quote=True)}</td>" in en_html
            assert reasons.evidence_text(e) == e["what"]
    for d in report["devices"]:
        reasons_line = "; ".join(d["role_reasons"])
        if reasons_line:
            assert html.escape(reasons_line, quote=True) in en_html
            assert reasons.role_reasons(d) == d["role_reasons"]
    text = md_text(en_md)
    for line in [*EVIDENCE_ZH, *ROLE_ZH]:
        assert line in text, line
    assert "接收" not in text and "设备：" not in text


def test_older_reports_show_the_english_lines(report: dict[str, Any]) -> None:
    old = copy.deepcopy(report)
    for e in evidence_items(old):
        del e["what_part"]
    for d in old["devices"]:
        del d["role_reason_parts"]
    for text in (visible_text(html_report.render(old, lang="zh-CN")),
                 md_text(markdown_report.render(old, lang="zh-CN"))):  # fmt: skip
        for line in [*EVIDENCE_ZH, *ROLE_ZH]:
            assert line in text, line
        assert "设备：DHCP" not in text and "接收来自" not in text
        assert "人脸数据" in text  # the rest of the report is still in Chinese
    # parts that do not hold together: each such line in English, the others translated
    broken = copy.deepcopy(report)
    nvr = device(broken, "24:48:45:b1:3c:70")
    nvr["role_reason_parts"][0]["msg"] = "<b>{what}</b> not ours"
    nvr["role_reason_parts"][2] = {"msg": reasons.ROLE_SIGNATURE, "args": {"signature": [1]}}
    pc = device(broken, "54:bf:64:23:9a:c8")
    pc["role_reason_parts"] = pc["role_reason_parts"][:1]  # not one part per reason
    ev = next(e for f in broken["findings"] for e in f["evidence"]
              if e["what"] == "device: DHCP vendor class udhcp 1.19.4")  # fmt: skip
    ev["what_part"]["args"]["what"]["args"] = {"value": {"term": "x"}, "extra": None}
    ev2 = next(e for f in broken["findings"] for e in f["evidence"]
               if e["what"].startswith("first packet of tcp/8081"))  # fmt: skip
    ev2["what_part"]["args"]["up"] = "many"  # a string where a number was
    text = visible_text(html_report.render(broken, lang="zh-CN"))
    assert "receives media streams from 3 local devices (role.recorder)" in text
    assert "not ours" not in text
    assert "signature device.hikvision-oui" in text
    assert "接收来自 3 台本地设备的媒体流（role.recorder-video-vendor）" in text
    assert "hostname RECEPTION-PC (role.pc-hostname)" in text
    assert "device: DHCP vendor class udhcp 1.19.4" in text
    assert "设备：DHCP 主机名 SpeedFace-V5L" in text
    assert "first packet of tcp/8081 to 121.40.167.52: 49,698 bytes up" in text


def _hostile(report: dict[str, Any]) -> dict[str, Any]:
    """The demo with an attacker's DHCP vendor class and host name: in the parts and in the
    English text, as the analysis would have recorded them."""
    bad = copy.deepcopy(report)
    n = 0
    for e in evidence_items(bad):
        inner = e["what_part"]["args"].get("what")
        if isinstance(inner, dict) and inner.get("msg") == reasons.EV_DHCP_VENDOR_CLASS:
            inner["args"]["value"] = HOSTILE + LONG
            e["what"] = reasons.english(e["what_part"])
            n += 1
    for d in bad["devices"]:
        for i, p in enumerate(d["role_reason_parts"]):
            inner = p["args"].get("what")
            if isinstance(inner, dict) and inner.get("msg") == reasons.ROLE_FIELDS["hostname"]:
                inner["args"]["value"] = HOSTILE + LONG
                d["role_reasons"][i] = reasons.english(p)
                n += 1
    assert n >= 4
    return bad


def test_a_hostile_parameter_stays_bounded_text(report: dict[str, Any]) -> None:
    bad = _hostile(report)
    for lang in ("zh-CN", "zh-CN,en"):
        page = html_report.render(bad, lang=lang)
        assert "<img" not in page and "\u202e" not in page and "\x1b" not in page
        assert "设备：DHCP 厂商类别 &lt;img src=x onerror=alert(1)&gt; {0} {n} **b**" in page
        assert "主机名 &lt;img src=x onerror=alert(1)&gt; {0} {n}" in page
        if lang == "zh-CN":  # (the bilingual page also holds the English text, as it is)
            assert "A" * (NAME_LIMIT + 1) not in page  # the parameter is bounded
        md = markdown_report.render(bad, lang=lang)
        assert "<img" not in md and "[l](http" not in md and "**b**" not in md
        assert "\u202e" not in md and "\x1b" not in md
        assert (
            "设备：DHCP 厂商类别 &lt;img src\\=x onerror\\=alert\\(1\\)&gt; \\{0\\} \\{n\\}" in md
        )
        assert "主机名 &lt;img src\\=x onerror\\=alert\\(1\\)&gt;" in md
        if lang == "zh-CN":
            assert "A" * (NAME_LIMIT + 1) not in md
    with i18n.use("zh-CN"):
        line = reasons.evidence_text(next(
            e for f in bad["findings"] for e in f["evidence"] if "<img" in e["what"]))  # fmt: skip
    assert len(line) < NAME_LIMIT + 20 and "\\u202e\\x1b[31m" in line


def test_tui_finding_evidence_in_chinese(report: dict[str, Any]) -> None:
    from netscan.tui.widgets.findings import finding_detail

    f = next(f for f in report["findings"] if f["device_mac"] == "24:48:45:b1:3c:70")
    bad = _hostile(report)
    fb = next(f for f in bad["findings"] if f["device_mac"] == "48:e6:c6:4a:1b:2c")
    with i18n.use("zh-CN"):
        console = Console(file=io.StringIO(), width=400, color_system=None)
        console.print(finding_detail(Finding.from_json(f), "—"))
        console.print(finding_detail(Finding.from_json(fb), "—"))
        out = console.file.getvalue()  # type: ignore[attr-defined]
    assert "设备：sadp 发现应答，型号 DS-7608NI-K2/8P" in out
    assert "sadp discovery answer" not in out and "picture-sized" not in out
    assert "设备：DHCP 厂商类别 <img src=x onerror=alert(1)> {0} {n}" in out
    assert "\u202e" not in out and "\x1b" not in out and "A" * (NAME_LIMIT + 1) not in out


def test_case_section_evidence_in_chinese(report: dict[str, Any]) -> None:
    ev = next(e for f in report["findings"] for e in f["evidence"]
              if e["what"] == "device: DHCP vendor class udhcp 1.19.4")  # fmt: skip
    ref = {"file": "a.pcapng", "frame": 23, "what": ev["what"], "what_part": ev["what_part"]}
    with i18n.use("zh-CN"):
        assert case_section.evidence_text(ref).endswith(": 设备：DHCP 厂商类别 udhcp 1.19.4")
        del ref["what_part"]  # a store written by an older netscan
        assert case_section.evidence_text(ref).endswith("device: DHCP vendor class udhcp 1.19.4")
