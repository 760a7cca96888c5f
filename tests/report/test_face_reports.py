"""HTML and Markdown reports and the evidence extractor, on scenario captures."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

pytest.importorskip("cv2", reason="opencv-python-headless is needed for face detection")
pytest.importorskip("skimage", reason="scikit-image supplies the test face picture")

from netscan.analyze import Analyzer, Options  # noqa: E402
from netscan.cli import main  # noqa: E402
from netscan.report import html_report, json_report, markdown_report  # noqa: E402
from netscan.sources.pcapfile import CaptureFile  # noqa: E402
from tests.analysis.scenarios import build as sc  # noqa: E402

CHROMIUM = next(
    (shutil.which(n) for n in ("chromium", "chromium-browser") if shutil.which(n)), None
)


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return sc.multihop_edge(tmp_path_factory.mktemp("reports"))


@pytest.fixture(scope="module")
def report(capture: Path) -> dict:
    return json_report.build(Analyzer(Options(country="CN")).run([str(capture)]))


def test_html_is_self_contained(report: dict) -> None:
    page = html_report.render(report, analyst="Analyst One")
    assert page.startswith("<!DOCTYPE html>")
    assert "<script" not in page
    assert not re.search(r"""(src|href)=["'](?!https://|#)""", page.replace('href="#', ""))
    assert not re.search(r"""<(img|link|iframe)\b""", page)
    assert "Face data leaves the premises (confirmed)." in page
    assert "<svg" in page and report["findings"][0]["id"] in page
    assert "Analyst One" in page and report["inputs"][0]["sha256"] in page


def test_markdown(report: dict) -> None:
    text = markdown_report.render(report, analyst="Analyst One")
    assert "**Face data leaves the premises (confirmed).**" in text
    assert report["findings"][0]["id"] in text
    assert "## Chain of custody" in text


def test_evidence_from_report(capture: Path, report: dict, tmp_path: Path) -> None:
    rpath = tmp_path / "r.json"
    rpath.write_text(json.dumps(report))
    out = tmp_path / "ev.pcapng"
    fid = report["findings"][0]["id"]
    rc = main(["evidence", str(capture), "--finding", fid, "--report", str(rpath), "-o", str(out)])
    assert rc == 0
    cap = CaptureFile(out)
    recs = list(cap)
    assert cap.warnings == [] and recs
    # the edge server's conversation with the platform, and only a bounded sample of the
    # camera streams feeding it (as context)
    data = b"".join(bytes(r.data) for r in recs)
    assert b"/VIID/Faces" in data
    whole = list(CaptureFile(capture))
    assert len(recs) < len(whole) // 10
    # analysing the extract again gives the same confirmed finding
    again = Analyzer(Options(country="CN")).run([str(out)])
    assert [f.level for f in again.findings] == ["confirmed"]


def test_evidence_unknown_finding(capture: Path, tmp_path: Path) -> None:
    rc = main(["evidence", str(capture), "--finding", "F-000000000000", "-o",
               str(tmp_path / "x.pcapng")])  # fmt: skip
    assert rc == 2


def test_cli_writes_reports(capture: Path, tmp_path: Path) -> None:
    html, md = tmp_path / "r.html", tmp_path / "r.md"
    rc = main(["analyze", str(capture), "--country", "CN", "-q", "--report", str(html),
               "--markdown", str(md), "--analyst", "Analyst One", "--fail-on", "likely"])  # fmt: skip
    assert rc == 1
    assert html.stat().st_size > 5000 and md.stat().st_size > 1000


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
def test_html_renders_in_chromium(report: dict, tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    html_report.write(report, page, analyst="Analyst One")
    shot = tmp_path / "shot.png"
    proc = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr",
         "--v=0", f"--screenshot={shot}", "--window-size=1280,2400", page.as_uri()],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert shot.exists() and shot.stat().st_size > 10_000, proc.stderr[-2000:]
    console = [ln for ln in proc.stderr.splitlines() if "CONSOLE" in ln or "Failed to load" in ln]
    assert console == []


def test_a_picture_cut_short_says_so_in_the_reports_tables() -> None:
    from netscan import i18n
    from netscan.report.html_report import picture_dims

    cut = {"width": 176, "height": 176, "cut": True}
    assert picture_dims(cut) == "176×176, cut short"
    assert picture_dims({"width": 176, "height": 176}) == "176×176"
    assert picture_dims({"width": None, "cut": True}) == "—"
    with i18n.use("zh-CN"):
        assert picture_dims(cut) == "176×176，图片不完整"
