"""The verdict of a capture that missed part of the TCP traffic says so, in the reader's
language, in the HTML and Markdown reports and on the terminal, and so does each finding
whose conversations it missed bytes of (in the TUI too); a capture that missed (almost)
nothing says nothing."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from netscan import cli
from netscan.analysis.finding import Finding
from netscan.analyze import Analyzer, Options
from netscan.output.summary import human_bytes, print_summary
from netscan.report import html_report, markdown_report
from netscan.report.completeness import (
    NOTABLE_SHARE,
    capture_note,
    finding_note,
    host_drops_note,
    live_drops_note,
    missed_by_peer,
)
from netscan.tui.widgets.findings import finding_detail, finding_prompt
from tests.baselines import COUNTRY, capture_path
from tests.conftest import realworld
from tests.engine.test_loss import STREAM, _lost_segments, _segments, _without
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
    assert capture_note({}) is None  # a source that cannot tell (Zeek logs without a conn.log)


@pytest.fixture(scope="module")
def upload_cut(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, int]:
    """The face-upload scenario, whole and with one segment of its upload lost (its
    payload bytes)."""
    tmp = tmp_path_factory.mktemp("upload")
    plain = capture_path("scenarios", "json_face_api", tmp)
    upload = [s for s in _segments(plain) if s[1][3] == 80]
    i, _key, _seq, n = upload[len(upload) // 2]
    cut = tmp / "cut.pcap"
    _without(plain, cut, {i})
    return plain, cut, n


FINDING_EN = "The capture missed {up} bytes of what the device sent in these connections"
FINDING_ZH = "本次抓包漏掉了设备在这些连接中发出的 {up} 字节"


def test_a_finding_says_what_the_capture_missed_of_it(
    upload_cut: tuple[Path, Path, int], tmp_path: Path
) -> None:
    plain, cut, n = upload_cut
    rep = _report(cut, tmp_path)
    [finding] = rep["findings"]
    assert finding["capture_missed"] == {"bytes_up": n, "bytes_down": 0}
    en, zh = FINDING_EN.format(up=f"{n:,}"), FINDING_ZH.format(up=f"{n:,}")
    for lang, said in (("en", en), ("zh-CN", zh)):
        page = html_report.render(rep, lang=lang)
        article = page[page.index('<article class="finding"') :]
        assert said in visible_text(article[: article.index("</article>")])
        md = markdown_report.render(rep, lang=lang)
        assert f"- {said}" in md[md.index("### ") :]
    # the destinations tables gain a column of what was missed with each
    page = html_report.render(rep, lang="en")
    table = page[page.index("<h2>Destinations by country</h2>") :]
    table = table[: table.index("</table>")]
    assert "<th>Missed</th>" in table
    [row] = [r for r in table.split("<tr>") if "150.109.20.77" in r]
    assert f"<td class='num'>{human_bytes(n)}</td>" in row
    md = markdown_report.render(rep, lang="en")
    assert "| Bytes up | Missed |" in md
    assert [ln for ln in md.splitlines() if "| 150.109.20.77 |" in ln][0].endswith(
        f"| {human_bytes(n)} |"
    )
    # on the terminal, under the finding's reason; in the TUI's detail of the finding
    result = Analyzer(Options(country=COUNTRY)).run([str(cut)])
    buf = io.StringIO()
    print_summary(result, Console(file=buf, width=400, color_system=None))
    lines = buf.getvalue().splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("LIKELY "))
    assert lines[at + 2].strip().startswith(en)
    # the off-site destinations table gains a column of what was missed of each
    head = next(line for line in lines if "┃ device" in line and "destination" in line)
    assert head.split("┃")[-2].strip() == "missed"
    [row] = [line for line in lines if "150.109.20.77 tcp/80" in line]
    assert row.split("│")[-2].strip() == human_bytes(n)
    buf = io.StringIO()
    Console(file=buf, width=400, color_system=None).print(
        finding_detail(Finding.from_json(finding), "")
    )
    assert en in buf.getvalue()
    assert "⚠ capture gaps" in finding_prompt(Finding.from_json(finding)).plain  # its row
    # the whole capture's finding says nothing of it
    whole = _report(plain, tmp_path)
    assert [f.get("capture_missed") for f in whole["findings"]] == [None]
    assert "gaps" not in finding_prompt(Finding.from_json(whole["findings"][0])).plain
    buf = io.StringIO()
    print_summary(Analyzer(Options(country=COUNTRY)).run([str(plain)]),
                  Console(file=buf, width=400, color_system=None))  # fmt: skip
    assert "missed" not in buf.getvalue()
    assert "The capture missed" not in html_report.render(whole, lang="en")
    assert "The capture missed" not in markdown_report.render(whole, lang="en")
    assert "Missed" not in html_report.render(whole, lang="en")
    assert "Missed" not in markdown_report.render(whole, lang="en")
    assert finding_note(None) is None and finding_note({"bytes_up": 0, "bytes_down": 0}) is None


def test_a_finding_read_back_keeps_what_the_capture_missed() -> None:
    base = {"id": "F-1", "kind": "face-upload", "level": "likely"}
    f = Finding.from_json({**base, "capture_missed": {"bytes_up": 7, "bytes_down": "x"}})
    assert f.capture_missed == {"bytes_up": 7, "bytes_down": 0}
    assert f.to_json()["capture_missed"] == {"bytes_up": 7, "bytes_down": 0}
    assert "capture_missed" not in Finding.from_json(base).to_json()
    assert "capture_missed" not in Finding.from_json(base).extra


def test_a_damaged_report_read_back_says_nothing_it_cannot_count(
    upload_cut: tuple[Path, Path, int], tmp_path: Path
) -> None:
    """A report read back (a fleet's, a case's) may be damaged or hostile: counts that are
    not counts are none, never a crash."""
    assert capture_note({"tcp_missed_bytes": "9", "tcp_payload_bytes": [1]}) is None
    assert capture_note(["tcp_missed_bytes"]) is None  # type: ignore[arg-type]
    assert capture_note({"tcp_missed_bytes": True, "tcp_gaps": 1}) is None
    assert finding_note({"bytes_up": "1400", "bytes_down": -5}) is None
    assert host_drops_note([{"ifdrop": "9"}, [3], None, {"osdrop": -1}]) is None  # type: ignore[list-item]
    said = host_drops_note([{"ifdrop": "9"}, {"osdrop": 5}])
    assert said is not None and "record 5 packets" in said
    # a real report with these values damaged: rendered, without a word of them
    rep = _report(upload_cut[1], tmp_path)
    rep["summary"]["capture_loss"] = {"tcp_missed_bytes": "lots", "tcp_gaps": None}
    rep["inputs"][0]["interface_statistics"] = {"ifdrop": "9", "osdrop": [1]}
    rep["findings"][0]["capture_missed"] = {"bytes_up": "x", "bytes_down": {}}
    for fl in rep["flows"]:
        fl["missed_bytes_up"], fl["missed_bytes_down"] = "1400", -3
    assert missed_by_peer(rep["flows"]) == {} and missed_by_peer("x") == {}
    assert "The capture" not in visible_text(html_report.render(rep, lang="en"))
    assert "The capture" not in markdown_report.render(rep, lang="en")
    assert "Missed" not in markdown_report.render(rep, lang="en")


LIVE_EN = "The live capture lost {packets} before they reached its files"


def test_a_live_capture_that_lost_packets_says_so(
    upload_cut: tuple[Path, Path, int], tmp_path: Path
) -> None:
    """A live capture's drops (dumpcap's count, the report's ``capture.drops``; its ring
    files carry no statistics blocks) reach the verdict of the terminal summary and of the
    reports made from its JSON; none, or only damaged counts, say nothing."""
    plain = upload_cut[0]
    drops = {"received": 9000, "kernel": 7, "interface": 2, "dumpcap": 0, "flushed": 1,
             "source": "dumpcap"}  # fmt: skip
    said = LIVE_EN.format(packets="10 packets")
    result = Analyzer(Options(country=COUNTRY)).run([str(plain)])
    for live_drops, expect in ((drops, True), ({}, False)):
        result.live_drops = {k: v for k, v in live_drops.items() if isinstance(v, int)}
        buf = io.StringIO()
        print_summary(result, Console(file=buf, width=400, color_system=None))
        assert (said in buf.getvalue()) is expect
    rep = _report(plain, tmp_path)
    assert LIVE_EN[:20] not in visible_text(html_report.render(rep, lang="en"))
    rep["capture"] = {"iface": "eth0", "drops": drops}
    assert said in _verdict(html_report.render(rep, lang="en"))
    assert said in markdown_report.render(rep, lang="en")
    zh = html_report.render(rep, lang="zh-CN")
    assert "实时抓包在写入文件之前丢失了 10 个数据包" in _verdict(zh)
    assert live_drops_note({"kernel": 1}) == LIVE_EN.format(packets="1 packet") + (
        " (dropped by the kernel, the interface or dumpcap, or still buffered at the stop): "
        "what they held is not in this evidence."
    )
    for damaged in ({"kernel": "7", "flushed": -1, "dumpcap": True}, ["kernel"], None):
        assert live_drops_note(damaged) is None  # type: ignore[arg-type]
        rep["capture"] = {"drops": damaged}
        assert "live capture" not in markdown_report.render(rep, lang="en")
    rep["capture"] = "hostile"
    assert "live capture" not in markdown_report.render(rep, lang="en")
