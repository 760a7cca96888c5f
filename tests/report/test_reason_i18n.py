"""Findings' reasons in the reader's language: the analysis keeps each sentence's template
and parameters (``reason_parts``) beside the English ``reason``; the HTML and Markdown
reports, the terminal summary and the TUI show the sentences translated, the English report
is unchanged, a report without parts (or with parts that do not hold together) shows the
English original labelled as such, and a hostile parameter stays text."""

from __future__ import annotations

import copy
import html
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from netscan import i18n, reasons
from netscan.analysis.finding import Finding
from netscan.report import html_report, markdown_report
from tests.report.helpers import demo_report, visible_text

ROOT = Path(__file__).resolve().parent.parent.parent
BASELINES = ROOT / "tests" / "baselines"
HOSTILE = "<img src=x onerror=alert(1)> {0} {n} **b** [l](http://e.example) \u202e\x1b[31m"
LABEL_ZH = "分析说明（netscan 的英文原文）："


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    return demo_report()


def english_sentences(report: dict[str, Any]) -> list[str]:
    out = []
    for f in report["findings"]:
        out += [reasons.english(p) for p in f["reason_parts"]]
    return out


def test_every_finding_keeps_the_parts_of_its_reason(report: dict[str, Any]) -> None:
    assert report["findings"]
    for f in report["findings"]:
        assert f["reason_parts"] and reasons.join(f["reason_parts"]) == f["reason"]
        json.dumps(f["reason_parts"])  # plain JSON


def test_the_parts_rebuild_every_baselines_reason() -> None:
    n = 0
    for path in BASELINES.rglob("*.json"):
        for f in json.loads(path.read_text("utf-8")).get("findings") or []:
            assert reasons.join(f["reason_parts"]) == f["reason"], path.name
            with i18n.use("zh-CN"):
                assert reasons.is_translated(Finding.from_json(f)), (path.name, f["id"])
            n += 1
    assert n >= 10


def test_chinese_reports_show_the_reasons_in_chinese(report: dict[str, Any]) -> None:
    zh_html = visible_text(html_report.render(report, lang="zh-CN"))
    zh_md = markdown_report.render(report, lang="zh-CN").replace("\\", "")  # unescaped
    for text in (zh_html, zh_md):
        for sentence in english_sentences(report):
            assert sentence not in text, sentence
        assert LABEL_ZH not in text
        assert "以明文（iclock）发送至 121.40.167.52" in text
        assert "向人脸识别云 api-cn.faceplusplus.com (Megvii Technology) 进行了 6 次" in text
        assert "网络录像机向厂商云 pbdev.ys7.com" in text and "由场所内 3 台设备提供数据" in text
    with i18n.use("zh-CN"):
        for f in report["findings"]:
            shown = reasons.reason_text(Finding.from_json(f))
            assert shown != f["reason"] and "；" in shown
            assert not re.search(r"\b(sent|bytes|picture|device|upload)\b", shown), shown


def test_english_reports_are_unchanged(report: dict[str, Any]) -> None:
    en_html = html_report.render(report, lang="en")
    en_md = markdown_report.render(report, lang="en")
    for f in report["findings"]:
        assert f"<p>{html.escape(f['reason'], quote=True)}</p>" in en_html
        assert reasons.reason_text(Finding.from_json(f)) == f["reason"]
    assert "an nvr sends sustained upstream media to the vendor cloud pbdev.ys7.com" in en_md


def test_older_reports_show_the_english_reason_labelled(report: dict[str, Any]) -> None:
    old = copy.deepcopy(report)
    for f in old["findings"]:
        del f["reason_parts"]
    broken = copy.deepcopy(report)
    broken["findings"][0]["reason_parts"][0]["msg"] = "{dest} <b>not ours</b>"
    broken["findings"][1]["reason_parts"][-1]["args"]["n"] = "three"  # {n} fits, a string
    broken["findings"][2]["reason_parts"][-1]["args"] = {
        "n": {"msg": "picture uploads", "args": {"x": [1]}}
    }
    broken["findings"][0]["reason_parts"].append({"msg": "{up:,} bytes", "args": {"up": "x"}})
    text = visible_text(html_report.render(old, lang="zh-CN"))
    for f in old["findings"]:
        assert LABEL_ZH + f["reason"] in text
    text = visible_text(html_report.render(broken, lang="zh-CN"))
    assert LABEL_ZH + broken["findings"][0]["reason"] in text
    assert LABEL_ZH + broken["findings"][2]["reason"] in text
    assert "由场所内 three 台设备提供数据" in text  # a string where a number was is still text


def test_a_hostile_parameter_stays_text(report: dict[str, Any]) -> None:
    bad = copy.deepcopy(report)
    for f in bad["findings"]:
        for p in f["reason_parts"]:
            for k in ("dest", "protocols", "peer", "vendor"):
                if k in p["args"]:
                    p["args"][k] = HOSTILE
        f["reason"] = reasons.join(f["reason_parts"])
        for p in f["reason_parts"]:
            if "role" in p["args"]:
                p["args"]["role"] = {"term": "role", "value": HOSTILE}
    assert any(
        isinstance(p["args"].get("role"), dict) for f in bad["findings"] for p in f["reason_parts"]
    )
    for lang in ("zh-CN", "zh-CN,en"):
        page = html_report.render(bad, lang=lang)
        assert "<img" not in page and "\u202e" not in page and "\x1b" not in page
        assert "发送至 &lt;img src=x onerror=alert(1)&gt; {0} {n} **b**" in page
        assert "http://e.example) \\u202e\\x1b[31m向" in page  # a hostile role word too
        md = markdown_report.render(bad, lang=lang)
        assert "<img" not in md and "[l](http" not in md and "**b**" not in md
        assert "发送至 &lt;img src\\=x onerror\\=alert\\(1\\)&gt; \\{0\\} \\{n\\}" in md
    from netscan.tui.widgets.findings import finding_detail

    with i18n.use("zh-CN"):
        console = Console(file=io.StringIO(), width=400, color_system=None)
        console.print(finding_detail(Finding.from_json(bad["findings"][0]), "—"))
        out = console.file.getvalue()  # type: ignore[attr-defined]
    assert "\u202e" not in out and "\x1b" not in out and "\\u202e\\x1b[31m" in out
    assert "发送至 <img src=x onerror=alert(1)> {0} {n}" in out


def test_terminal_summary_and_tui_in_chinese(report: dict[str, Any]) -> None:
    from netscan.tui.widgets.findings import finding_detail

    f = next(f for f in report["findings"] if "vendor cloud" in f["reason"])
    with i18n.use("zh-CN"):
        console = Console(file=io.StringIO(), width=400, color_system=None)
        console.print(finding_detail(Finding.from_json(f), "—"))
        out = console.file.getvalue()  # type: ignore[attr-defined]
    assert "网络录像机向厂商云 pbdev.ys7.com" in out and f["reason"] not in out


def test_walk_test_verdicts_in_chinese(tmp_path: Path) -> None:
    """The walk test's verdict sentence: English in the JSON (``verdict``) with its parts
    (``verdict_parts``), Chinese in the Chinese reports, English reports unchanged."""
    from tests.report.test_walk_report import _marks_file, _run

    marks = _marks_file(tmp_path)
    report, page, md = _run(tmp_path, "follows", marks, "--lang", "zh-CN")
    tests = report["walk_test"]["devices"]
    assert tests
    for t in tests:
        assert len(t["verdict_parts"]) == 1
        assert reasons.english(t["verdict_parts"][0]) == t["verdict"]
        assert t["verdict"] not in page and t["verdict"] not in md.replace("\\", "")
    text = visible_text(page)
    assert "上传紧随标记出现：" in text and "偶然出现的概率 p" in text
    assert "个标记后每个 10 秒窗口平均" in text
    with i18n.use("zh-CN"):
        assert all(reasons.verdict_text(t) in text for t in tests)
        old = {k: v for k, v in tests[0].items() if k != "verdict_parts"}
        assert reasons.verdict_text(old) == tests[0]["verdict"]  # an older report: as it was
    en_dir = tmp_path / "en"
    en_dir.mkdir()
    report_en, page_en, _md = _run(en_dir, "follows", marks)
    assert "Uploads followed the marks: " in page_en
    assert all(
        html.escape(t["verdict"], quote=True) in page_en for t in report_en["walk_test"]["devices"]
    )


def test_walk_verdicts_in_the_tui_follow_the_language() -> None:
    from netscan.analysis.walktest import judge

    marks = [(1, 100.0), (2, 200.0), (3, 300.0)]
    bursts = [(t + 2.0, 60_000.0) for (t,) in ((100.0,), (200.0,), (300.0,))]
    bursts += [(t, 300.0) for t in range(0, 600, 37)]
    v = judge(marks, bursts, 10.0, (0.0, 600.0))
    assert v.sentence.startswith("Uploads followed the marks: ")
    assert v.text() == v.sentence
    with i18n.use("zh-CN"):
        assert (
            v.text().startswith("上传紧随标记出现：") and "3 个标记后每个 10 秒窗口平均" in v.text()
        )
    empty = judge([], [], 10.0, (0.0, 1.0))
    with i18n.use("zh-CN"):
        assert empty.text() == "尚无标记（走测时按 m）。"
