"""The HTML and Markdown reports in Chinese and English, and the bilingual HTML report:
rendered in headless Chromium (screenshots, and a PDF whose embedded fonts show the CJK
font was used), every character covered by an installed font (no tofu), legal provisions
quoted in their original language with the translation beside, network strings escaped."""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from netscan import i18n
from netscan.report import html_report, markdown_report
from tests.report.helpers import demo_report, visible_text

ROOT = Path(__file__).resolve().parent.parent.parent
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PIPL_26 = "在公共场所安装图像采集、个人身份识别设备，应当为维护公共安全所必需"
PIPL_26_EN = "Installing image-capture or personal-identification equipment in public places"
GDPR_9 = "Processing of personal data revealing racial or ethnic origin"
GDPR_9_ZH = "处理揭示种族或民族出身"
HOSTILE = "<img src=x onerror=alert(1)> {0} {n} **b** [l](http://e.example) \u202e\x1b[31m"


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    return demo_report()


@pytest.fixture(scope="module")
def pages(report: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("i18n-html")
    out = {}
    for name, lang in (("zh", "zh-CN"), ("en", "en"), ("bi", "zh-CN,en")):
        out[name] = d / f"{name}.html"
        html_report.write(report, out[name], analyst="审计员 A. Auditor", lang=lang)
    return out


def chromium(args: list[str], profile: Path) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM, "chromium is part of the test set-up (scripts/test.sh)"
    base = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
            "--enable-logging=stderr", "--v=0", f"--user-data-dir={profile}"]  # fmt: skip
    return subprocess.run(base + args, capture_output=True, text=True, timeout=180)


def test_chinese_report_text(pages: dict[str, Path]) -> None:
    zh = pages["zh"].read_text("utf-8")
    assert zh.startswith('<!DOCTYPE html>\n<html lang="zh-CN">')
    text = visible_text(zh)
    for words in ("场所网络中的人脸数据", "人脸数据离开了场所（已确认）。", "设备清单",
                  "按国家或地区列出的目的地", "证据保管链", "人脸识别终端", "网络录像机",
                  "可能涉及的法律规定", "《中华人民共和国个人信息保护法》第二十六条"):  # fmt: skip
        assert words in text, words
    # locale dates and numbers: the demo's 8,443 packets, its capture day in Chinese
    assert "8,443 个数据包" in text and "2026年3月2日" in text
    en = visible_text(pages["en"].read_text("utf-8"))
    assert "Face data leaves the premises (confirmed)." in en and "Device inventory" in en
    assert "Mar 2, 2026" in en and "设备清单" not in en


def test_provisions_quoted_in_the_original_with_the_translation_beside(
    report: dict[str, Any], pages: dict[str, Path]
) -> None:
    en = visible_text(pages["en"].read_text("utf-8"))
    # the Chinese law in Chinese, and an (unofficial) English translation next to it
    assert PIPL_26 in en and PIPL_26_EN in en and "Translation (unofficial)" in en
    assert "Original text (中文)" in en
    zh = visible_text(pages["zh"].read_text("utf-8"))
    assert PIPL_26 in zh and PIPL_26_EN not in zh and "原文（中文）" in zh
    # a law whose original is English: quoted in English, the Chinese translation beside it
    de = copy.deepcopy(report)
    from netscan.analysis.findings import provisions_for

    for f in de["findings"]:
        f["provisions"] = provisions_for("DE", f["level"], True)
    md_zh = markdown_report.render(de, lang="zh-CN")
    assert GDPR_9 in md_zh and GDPR_9_ZH in md_zh and "原文（English）" in md_zh
    assert "欧盟《通用数据保护条例》（2016/679）" in md_zh
    md_en = markdown_report.render(de, lang="en")
    assert GDPR_9 in md_en and GDPR_9_ZH not in md_en


def test_bilingual_report_is_one_self_contained_page(pages: dict[str, Path]) -> None:
    page = pages["bi"].read_text("utf-8")
    assert "<script" not in page and not re.search(r"<(img|link|iframe|object)\b", page)
    assert "@import" not in page and "url(" not in page
    assert not re.search(r"""\bsrc=""", page)
    # every href is an in-page anchor or a provision's https source
    assert all(h.startswith(("#", "https://")) for h in re.findall(r"href=['\"]([^'\"]*)", page))
    assert page.count("<main class='lang' id='lang-zh-CN' lang='zh-CN'>") == 1
    assert page.count("<main class='lang' id='lang-en' lang='en'>") == 1
    assert "<a href='#lang-en' lang='en'>English</a>" in page
    # ids stay unique: the first language keeps the finding ids other pages link to
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids)) and any(i.startswith("F-") for i in ids)
    assert any(i.endswith("-en") for i in ids)
    text = visible_text(page)
    assert "场所网络中的人脸数据" in text and "Face data on the premises network" in text


def test_network_strings_stay_text_in_every_language(report: dict[str, Any]) -> None:
    bad = copy.deepcopy(report)
    for d in bad["devices"]:
        d["hostnames"] = [HOSTILE]
        d["vendor"] = HOSTILE
    for f in bad["findings"]:
        f["device_label"] = HOSTILE
        f["destination"]["provider"] = HOSTILE
        f["destination"]["names"] = [HOSTILE]
    for lang in ("zh-CN", "en", "zh-CN,en"):
        page = html_report.render(bad, analyst=HOSTILE, lang=lang)
        assert "<img" not in page and "onerror=alert(1)>" not in page
        assert "\u202e" not in page and "\x1b" not in page
        assert "&lt;img src=x onerror=alert(1)&gt; {0} {n}" in page  # braces stay as sent
        md = markdown_report.render(bad, analyst=HOSTILE, lang=lang)
        assert "<img" not in md and "[l](http" not in md and "**b**" not in md
        assert "\\{0\\} \\{n\\}" in md
    assert i18n.current() == "en"


def test_chinese_and_english_reports_in_chromium(pages: dict[str, Path], tmp_path: Path) -> None:
    """Screenshots of each language (kept under the test's directory to look at), and a PDF
    print whose embedded fonts show the CJK font drew the Chinese text."""
    shots = {}
    for name, url in (("zh", pages["zh"].as_uri()), ("en", pages["en"].as_uri()),
                      ("bi", pages["bi"].as_uri()), ("bi-en", pages["bi"].as_uri() + "#lang-en")):  # fmt: skip
        shot = tmp_path / f"{name}.png"
        r = chromium([f"--screenshot={shot}", "--window-size=1280,1600", url], tmp_path / "p")
        assert shot.exists() and shot.stat().st_size > 30_000, r.stderr[-2000:]
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        bad = [ln for ln in r.stderr.splitlines() if "CONSOLE" in ln or "Failed to load" in ln]
        assert bad == []
        shots[name] = shot.read_bytes()
    assert shots["zh"] != shots["en"]
    assert shots["bi"] != shots["bi-en"]  # the address chose the other language
    for name in ("zh", "en"):
        pdf = tmp_path / f"{name}.pdf"
        r = chromium([f"--print-to-pdf={pdf}", "--no-pdf-header-footer", pages[name].as_uri()],
                     tmp_path / "p")  # fmt: skip
        assert pdf.exists(), r.stderr[-2000:]
        fonts = set(re.findall(rb"/FontName\s*/[A-Z]{6}\+([A-Za-z0-9_-]+)", pdf.read_bytes()))
        # both reports hold Chinese (the English one quotes the Chinese law)
        assert any(f.startswith(b"NotoSansCJK") for f in fonts), fonts


def test_every_character_has_a_glyph(pages: dict[str, Path]) -> None:
    """No tofu: the CJK font the set-up installs is the one fontconfig picks for Chinese,
    and one installed font holds every character the Chinese and English reports show."""
    fc_match = shutil.which("fc-match")
    assert fc_match, "fontconfig is part of the test set-up"
    picked = subprocess.run([fc_match, "-f", "%{family}", "sans-serif:lang=zh-cn"],
                            capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert "CJK" in picked, f"no CJK font installed (apt-get install fonts-noto-cjk): {picked}"
    for name in ("zh", "en", "bi"):
        text = visible_text(pages[name].read_text("utf-8"))
        chars = sorted({c for c in text if ord(c) > 0x7E and not c.isspace()})
        assert chars
        charset = " ".join(f"{ord(c):x}" for c in chars)
        covering = subprocess.run(["fc-list", f":charset={charset}", "family"],
                                  capture_output=True, text=True, check=True).stdout  # fmt: skip
        assert "Noto Sans CJK SC" in covering, (name, "".join(chars))


def test_walk_test_section_in_chinese(tmp_path: Path) -> None:
    """The walk-test section (marks judged against the device's base rate) in Chinese: the
    headings, labels and the timeline's legend and axis; the verdict is the analysis' own."""
    from tests.report.test_walk_report import _marks_file, _run

    marks = _marks_file(tmp_path, note="<b>门口</b>")
    report, page, md = _run(tmp_path, "follows", marks, "--lang", "zh-CN")
    assert report["walk_test"]["devices"]  # the JSON is the same in every language
    text = visible_text(page)
    for words in ("走测", "标记之后", "无标记", "偶然出现的概率", "标记之后的窗口（带编号的竖线：标记）",
                  "自抓包第一个数据包起的时间"):  # fmt: skip
        assert words in text, words
    assert "<b>门口</b>" not in page and "&lt;b&gt;门口&lt;/b&gt;" in page
    assert "## 走测" in md and "- 标记之后：" in md and "- 偶然出现的概率：字节数" in md
