"""The case sections in the HTML, Markdown and terminal reports: changes since the previous
visit with evidence on both sides, overrides beside what the traffic said, notes in the
chain of custody; analyst-entered text is rendered as text."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("skimage", reason="scikit-image supplies the test face picture")

from netscan.case.casework import record  # noqa: E402
from netscan.case.store import CaseStore  # noqa: E402
from netscan.report import html_report, markdown_report  # noqa: E402
from netscan.report.case_section import terminal_lines  # noqa: E402
from tests.case.site_build import HIK_NVR, ZK_TERMINAL  # noqa: E402
from tests.case.test_store import captures, reports  # noqa: E402,F401

HOSTILE = "<script>alert(1)</script> **bold** [x](http://e.example) \x1b[31m"


@pytest.fixture
def second(tmp_path: Path, reports: dict[str, dict[str, Any]]) -> dict[str, Any]:  # noqa: F811
    url = str(tmp_path / "c" / "cases.sqlite")
    with CaseStore(url) as s:
        record(s, "Acme", "Office", copy.deepcopy(reports["v1"]))
        s.add_override("Acme", "Office", "device", HIK_NVR.mac, "role", "camera", "A. Auditor",
                       HOSTILE)  # fmt: skip
        s.add_note("Acme", "Office", "note " + HOSTILE, "B. Inspector", "device", ZK_TERMINAL.mac)
        r2 = copy.deepcopy(reports["v2"])
        record(s, "Acme", "Office", r2)
    return r2


def test_html_sections(second: dict[str, Any]) -> None:
    page = html_report.render(second, analyst="A. Auditor")
    assert "<h2>Since the previous visit</h2>" in page
    assert page.index("Since the previous visit") < page.index("<h2>Findings")
    assert "Devices no longer seen" in page and "Countries that appeared" in page
    assert "not seen in visit 2" in page and "site_visit1.pcap frame" in page
    assert "traffic moved" in page
    assert "Analyst overrides (1)" in page and "What the traffic said" in page
    nvr = next(d for d in second["devices"] if d["key"] == HIK_NVR.mac)
    assert nvr["role"] != "camera"  # the traffic's role stays
    assert "analyst role: <b>camera</b>" in page
    assert "<script>" not in page and "&lt;script&gt;" in page and "\x1b" not in page


def test_markdown_sections(second: dict[str, Any]) -> None:
    md = markdown_report.render(second)
    assert "## Since the previous visit" in md and "### Analyst overrides (1)" in md
    assert "### Analyst notes (1)" in md
    assert "<script>" not in md and "](http" not in md and "\x1b" not in md


def test_terminal_lines(second: dict[str, Any]) -> None:
    lines = terminal_lines(second)
    assert lines[0].startswith("Case Acme, site Office: visit 2")
    assert any("traffic moved" in ln for ln in lines)
    assert all("\x1b" not in ln and "\n" not in ln for ln in lines)


def test_cli_summary_shows_changes(tmp_path: Path, captures: dict[str, list[Path]]) -> None:  # noqa: F811
    st = ["--store", str(tmp_path / "s" / "c.sqlite")]
    for k in ("v1", "v2"):
        r = subprocess.run([sys.executable, "-m", "netscan", "analyze", *map(str, captures[k]),
                            "--case", "Acme", "--site", "Office", *st, "--country", "CN",
                            "--report", str(tmp_path / f"{k}.html")],
                           capture_output=True, text=True, timeout=600)  # fmt: skip
        assert r.returncode == 0, r.stderr
    assert "since visit 1:" in r.stdout and "device no longer seen" in r.stdout
    assert "Since the previous visit" in (tmp_path / "v2.html").read_text()
