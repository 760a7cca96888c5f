"""``netscan analyze --lang zh-CN``: the terminal summary and the Markdown report in Chinese,
the language taken from ``--lang`` or the premises settings (``lang``), the JSON report the
same in every language; a language netscan does not speak is one line and exit 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import PCAPS, ROOT

DEMO = PCAPS / "demo_sales_office.pcapng"


def run(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith(("NETSCAN_", "XDG_"))}
    e.update({"PYTHONPATH": str(ROOT), "HOME": str(tmp_path), **env})
    return subprocess.run([sys.executable, "-m", "netscan", *args], capture_output=True,
                          text=True, cwd=tmp_path, env=e, timeout=600)  # fmt: skip


def neutral(path: Path) -> dict:
    report = json.loads(path.read_text("utf-8"))
    report.pop("generated_at")
    return report


def test_summary_and_markdown_in_chinese(tmp_path: Path) -> None:
    r = run(tmp_path, "analyze", str(DEMO), "--country", "CN", "--lang", "zh-CN",
            "--markdown", "zh.md", "--json", "zh.json")  # fmt: skip
    assert r.returncode == 0, r.stderr
    out = r.stdout
    for words in ("已分析 1 个文件，8,443 个数据包", "离开场所的人脸数据", "场所内的设备",
                  "各设备的场所外目的地", "人脸识别终端", "网络录像机", "已确认", "很可能",
                  "编号 F-", "证据：demo_sales_office.pcapng 帧", "路径：2 个摄像机 →"):  # fmt: skip
        assert words in out, words
    assert "Face data leaving the premises" not in out and "Devices on the premises" not in out
    # tables still keep addresses and MACs whole when piped (CJK cells are two columns wide)
    assert "48:e6:c6:4a:1b:2c" in out and "192.168.1.120" in out
    md = (tmp_path / "zh.md").read_text("utf-8")
    assert md.startswith("# 场所网络中的人脸数据\n")
    for words in ("## 结论", "**人脸数据离开了场所（已确认）。**", "## 设备清单",
                  "## 证据保管链", "- 跨境：否", "> **原文（中文）**"):  # fmt: skip
        assert words in md, words
    # the JSON report is language-neutral: the same as an English run
    r = run(tmp_path, "analyze", str(DEMO), "--country", "CN", "--json", "en.json", "-q")
    assert r.returncode == 0, r.stderr
    assert neutral(tmp_path / "zh.json") == neutral(tmp_path / "en.json")


def test_lang_from_the_settings_and_the_command_line_wins(tmp_path: Path) -> None:
    (tmp_path / "netscan.toml").write_text('lang = "zh-CN"\ncountry = "CN"\n')
    r = run(tmp_path, "analyze", str(DEMO))
    assert r.returncode == 0, r.stderr
    assert "离开场所的人脸数据" in r.stdout and "（133 条）" in r.stdout
    r = run(tmp_path, "analyze", str(DEMO), "--lang", "en")
    assert r.returncode == 0, r.stderr
    assert "Face data leaving the premises" in r.stdout and "离开" not in r.stdout


def test_unknown_language_is_one_line_and_exit_2(tmp_path: Path) -> None:
    r = run(tmp_path, "analyze", str(DEMO), "--lang", "fr", "--json", "r.json")
    assert r.returncode == 2 and not (tmp_path / "r.json").exists()
    assert len(r.stderr.strip().splitlines()) == 1 and "unknown language 'fr'" in r.stderr
    (tmp_path / "netscan.toml").write_text('lang = "klingon"\n')
    r = run(tmp_path, "analyze", str(DEMO))
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.strip().splitlines() == [
        "netscan: error: netscan.toml: lang: unknown language 'klingon' (known: en, zh-CN)"
    ]


def test_case_report_in_chinese(tmp_path: Path) -> None:
    store = str(tmp_path / "cases.sqlite")
    r = run(tmp_path, "analyze", str(DEMO), "--case", "审计", "--site", "售楼处", "--store",
            store, "-q")  # fmt: skip
    assert r.returncode == 0, r.stderr
    r = run(tmp_path, "case", "report", "售楼处", "--store", store, "--lang", "zh-CN,en",
            "--report", "v.html", "--markdown", "v.md")  # fmt: skip
    assert r.returncode == 0, r.stderr
    md = (tmp_path / "v.md").read_text("utf-8")
    assert "## 自上次走访以来" in md and "案件 审计，场所 售楼处，第 1 次走访。" in md
    page = (tmp_path / "v.html").read_text("utf-8")
    assert "id='lang-en'" in page and "Since the previous visit" in page
