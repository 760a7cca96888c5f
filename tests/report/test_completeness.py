"""The verdict of a capture that missed part of the TCP traffic says so, in the reader's
language, in the HTML and Markdown reports and on the terminal; a capture that missed
(almost) nothing says nothing."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from netscan import cli
from netscan.analyze import Analyzer, Options
from netscan.output.summary import print_summary
from netscan.report import html_report, markdown_report
from netscan.report.completeness import NOTABLE_SHARE, capture_note
from tests.baselines import COUNTRY
from tests.conftest import realworld
from tests.engine.test_loss import STREAM, _lost_segments, _without
from tests.report.helpers import visible_text

EN = "The capture missed {share} of the TCP bytes"
ZH = "本次抓包漏掉了"


@pytest.fixture(scope="module")
def dropped(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = realworld(STREAM)
    drop, _nbytes, _conns = _lost_segments(src, 40)
    dst = tmp_path_factory.mktemp("completeness") / "dropped.pcap"
    _without(src, dst, drop)
    return dst


def _report(path: Path, tmp: Path) -> dict[str, Any]:
    out = tmp / "r.json"
    assert cli.main(["analyze", str(path), "--country", COUNTRY, "--json", str(out), "-q"]) == 0
    return json.loads(out.read_text())


def _verdict(page: str) -> str:
    start = page.index('<section class="verdict')
    return visible_text(page[start : page.index("</section>", start)])


def test_the_verdict_says_what_the_capture_missed(dropped: Path, tmp_path: Path) -> None:
    rep = _report(dropped, tmp_path)
    loss = rep["summary"]["capture_loss"]
    share = loss["tcp_missed_bytes"] / (loss["tcp_missed_bytes"] + loss["tcp_payload_bytes"])
    assert share >= NOTABLE_SHARE
    said = f"{share * 100:.2f} %"
    note = (
        f"The capture missed {said} of the TCP bytes ({loss['tcp_missed_bytes']:,} bytes in "
        f"{loss['tcp_gaps']} gaps of {loss['tcp_connections']} connections)"
    )
    assert note in " ".join(_verdict(html_report.render(rep, lang="en")).split())
    assert note in markdown_report.render(rep, lang="en").split("## ")[1]  # the verdict
    zh = _verdict(html_report.render(rep, lang="zh-CN"))
    assert ZH in zh and said in zh and EN.split("{")[0] not in zh
    assert ZH in markdown_report.render(rep, lang="zh-CN")
    # on the terminal, under the verdict
    result = Analyzer(Options(country=COUNTRY)).run([str(dropped)])
    buf = io.StringIO()
    print_summary(result, Console(file=buf, width=200, color_system=None))
    lines = buf.getvalue().splitlines()
    verdict = lines.index("No device was seen sending face data off-site.")
    assert lines[verdict + 1].startswith(note)


def test_a_capture_that_missed_almost_nothing_says_nothing(tmp_path: Path) -> None:
    rep = _report(realworld(STREAM), tmp_path)  # one number of sequence space missed
    assert rep["summary"]["capture_loss"]["tcp_missed_bytes"] == 1
    assert capture_note(rep["summary"]["capture_loss"]) is None
    assert "The capture missed" not in html_report.render(rep, lang="en")
    assert "The capture missed" not in markdown_report.render(rep, lang="en")
    assert capture_note({}) is None  # a source that cannot tell (Zeek logs)
