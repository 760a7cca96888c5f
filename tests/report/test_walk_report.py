"""The walk test in the reports, on the generated walk-test captures (uploads that follow the
marks, uploads at a constant rate): ``netscan analyze --marks`` judges each uploading device
against its base rate and the JSON, HTML (timeline picture, rendered in headless Chromium) and
Markdown reports carry the same verdict."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import cv2
import jsonschema
import numpy as np
import pytest

from netscan import untrusted
from netscan.cli import main
from netscan.report import walk_section
from netscan.report.json_report import schema
from tests.analysis.scenarios.build import HIK_TERMINAL, T0
from tests.analysis.test_walktest import MARKS, build

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser") if shutil.which(n)),
                None)  # fmt: skip


def _marks_file(d: Path, note: str = "walked past the door") -> Path:
    """The marks as the TUI writes them beside its report."""
    doc = {"window_seconds": 10.0,
           "marks": [{"number": n, "wall": 1.0e9 + t, "capture_ts": T0 + t, "note": note,
                      "uploads": []} for n, t in MARKS]}  # fmt: skip
    p = d / "walk.marks.json"
    p.write_text(json.dumps(doc))
    return p


def _run(d: Path, kind: str, marks: Path, *extra: str) -> tuple[dict[str, Any], str, str]:
    cap = build(d, kind)
    out = d / kind
    rc = main(["analyze", str(cap), "--country", "CN", "--quiet", "--marks", str(marks),
               "--json", f"{out}.json", "--report", f"{out}.html", "--markdown", f"{out}.md",
               *extra])  # fmt: skip
    assert rc == 0
    report = json.loads(Path(f"{out}.json").read_text())
    return report, Path(f"{out}.html").read_text(), Path(f"{out}.md").read_text()


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[dict[str, Any], str, str]]:
    d = tmp_path_factory.mktemp("walkreport")
    marks = _marks_file(d, note="<b>door</b>\x1b[31m")
    return {kind: _run(d, kind, marks) for kind in ("follows", "constant")}


def _terminal(report: dict[str, Any]) -> dict[str, Any]:
    (t,) = [t for t in report["walk_test"]["devices"] if t["device"] == HIK_TERMINAL.mac]
    return t


def test_json_verdicts(runs: dict[str, tuple[dict[str, Any], str, str]]) -> None:
    follows, constant = runs["follows"][0], runs["constant"][0]
    for r in (follows, constant):
        jsonschema.validate(r, schema())
        sec = r["walk_test"]
        assert sec["window_seconds"] == 10.0 and [m["number"] for m in sec["marks"]] == [1, 2, 3]
        assert sec["span"][0] <= T0 + MARKS[0][1] <= sec["span"][1]
    t = _terminal(follows)
    assert t["significant"] is True and t["verdict"].startswith("Uploads followed the marks")
    assert len(t["mark_windows"]) == 3 and all(w["pictures"] == 1 for w in t["mark_windows"])
    assert len(t["control_windows"]) >= 20
    assert sum(t["timeline"]["pictures"]) == 3 and len(t["timeline"]["bytes"]) == walk_section.BINS
    c = _terminal(constant)
    # the report judges every burst of the conversation (not the finding's first 100): all
    # three marks are judged, and none is distinguishable from the constant uploads
    assert c["significant"] is False and len(c["mark_windows"]) == 3
    assert "not distinguishable from its normal traffic" in c["verdict"]
    assert c["p_bytes"] is not None and c["p_bytes"] > 0.2


def _svg(page: str) -> str:
    m = re.search(r'<svg xmlns="http://www.w3.org/2000/svg" class="walk".*?</svg>', page, re.S)
    assert m, "no walk-test timeline in the HTML report"
    return m.group(0)


def test_html_timeline(runs: dict[str, tuple[dict[str, Any], str, str]]) -> None:
    report, page, _md = runs["follows"]
    t = _terminal(report)
    assert "<h2>Walk test</h2>" in page
    svg = _svg(page)
    assert svg.count('class="mark-window"') == 3 and svg.count('class="mark"') == 3
    assert svg.count('class="control"') == len(t["control_windows"])
    assert 'fill="#b3261e"' in svg  # the picture-sized bursts after the marks, in red
    assert f"<title>{untrusted.html(t['verdict'])}</title>" in svg
    assert "Uploads followed the marks" in page
    # self-contained: nothing loaded from anywhere
    assert "<script" not in page and not re.search(r"<(img|link|iframe)\b", page)
    assert not re.search(r"""(src|href)=["']""", svg)
    # the analyst's note is text, never markup or a terminal escape
    assert "<b>door</b>" not in page and "&lt;b&gt;door&lt;/b&gt;" in page
    assert "\x1b" not in page
    constant = runs["constant"][1]
    assert "not distinguishable from its normal traffic" in constant
    assert "walk-no" in constant and "walk-yes" in page


def test_markdown_as_text(runs: dict[str, tuple[dict[str, Any], str, str]]) -> None:
    report, _page, md = runs["follows"]
    assert "## Walk test" in md and "**Uploads followed the marks" in md
    line = next(ln for ln in md.splitlines() if ln.startswith(("[", ".", "-", "*")) and "[1" in ln)
    assert "[1*]" in line and "[2*]" in line and "[3*]" in line
    # windows without marks: heartbeats only, never a picture-sized burst
    assert "*" not in re.sub(r"\[\d[.*-]\]", "", line)
    assert "\x1b" not in md and "<b>door</b>" not in md
    _r, _p, constant_md = runs["constant"]
    assert "not distinguishable from its normal traffic" in constant_md


def test_no_marks_no_section(tmp_path: Path) -> None:
    cap = build(tmp_path, "follows")
    out = tmp_path / "r.json"
    assert main(["analyze", str(cap), "--quiet", "--json", str(out)]) == 0
    assert "walk_test" not in json.loads(out.read_text())


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "not a JSON marks file"),
        ('{"marks": "x"}', "no list of marks"),
        ('{"marks": [{"capture_ts": "soon"}]}', "capture_ts is not a number"),
        ('{"window_seconds": -1, "marks": []}', "window_seconds must be positive"),
        ("[" + ",".join(["1"] * (walk_section.MAX_MARKS + 1)) + "]", "more than"),
    ],
)
def test_bad_marks_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    marks = tmp_path / "m.json"
    marks.write_text(content)
    cap = build(tmp_path, "follows")
    assert main(["analyze", str(cap), "--quiet", "--marks", str(marks)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err and "Traceback" not in err


def test_plain_list_of_times_and_window_option(tmp_path: Path) -> None:
    marks = tmp_path / "m.json"
    marks.write_text(json.dumps([T0 + t for _n, t in MARKS]))
    report, _page, _md = _run(tmp_path, "follows", marks, "--mark-window", "10")
    t = _terminal(report)
    assert report["walk_test"]["window_seconds"] == 10.0 and t["significant"]


def test_timeline_in_headless_chromium(
    runs: dict[str, tuple[dict[str, Any], str, str]], tmp_path: Path
) -> None:
    assert CHROMIUM is not None, "chromium is needed to look at the reports"
    report, page, _md = runs["follows"]
    # the walk-test section alone, at the top of a page, so the screenshot shows it
    start = page.index("<h2>Walk test</h2>")
    end = page.index("<h2>Premises picture</h2>")
    head = page[: page.index("<main>") + len("<main>")]
    html = tmp_path / "walk.html"
    html.write_text(head + page[start:end] + "</main></body></html>\n")
    shot = tmp_path / "walk.png"
    proc = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", f"--screenshot={shot}",
         "--window-size=1200,900", "--hide-scrollbars", html.as_uri()],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert shot.exists(), proc.stderr[-2000:]
    img = cv2.imread(str(shot))
    assert img is not None and img.shape[1] == 1200
    b, g, r = (img[..., i].astype(int) for i in range(3))
    # the picture-sized bursts (#b3261e) and the mark lines (#c25e00) are drawn
    red = (abs(r - 0xB3) < 30) & (abs(g - 0x26) < 30) & (abs(b - 0x1E) < 30)
    orange = (abs(r - 0xC2) < 25) & (abs(g - 0x5E) < 25) & (abs(b - 0x00) < 25)
    blue = (abs(r - 0x1F) < 25) & (abs(g - 0x4E) < 25) & (abs(b - 0x79) < 25)  # heartbeats
    assert int(np.count_nonzero(red)) > 50 and int(np.count_nonzero(orange)) > 100
    assert int(np.count_nonzero(blue)) > 50
