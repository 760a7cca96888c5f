"""What a pcapng file's own interface statistics (its Interface Statistics Blocks) say of
the packets the capturing host dropped: both engines read them (summed over interfaces
and sections, each interface's last block), the report lists them with its input and
says the drops in a warning and in every report's verdict; dumpcap's own blocks read."""

from __future__ import annotations

import gzip
import io
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from scapy.utils import PcapReader, wrpcap

from netscan import cli
from netscan.analyze import Analyzer, Options
from netscan.output.summary import print_summary
from netscan.report import html_report, markdown_report
from netscan.sources import pcapng
from netscan.tui.state import build_snapshot
from tests.baselines import COUNTRY, capture_path
from tests.conftest import requires_tshark
from tests.report.helpers import visible_text
from tests.sources.test_live import NetnsPair, netns  # noqa: F401  (the fixture)

ENGINES = ["core", pytest.param("tshark", marks=requires_tshark), "jobs2"]
SAID = "the file's interface statistics record 12 packets dropped while capturing"


def _run(path: Path, tmp: Path, engine: str) -> dict[str, Any]:
    out = tmp / f"{path.name}-{len(list(tmp.iterdir()))}.json"
    how = ["--jobs", "2"] if engine == "jobs2" else ["--engine", engine, "--jobs", "1"]
    args = ["analyze", str(path), "--country", COUNTRY, "--json", str(out), "-q", *how]
    assert cli.main(args) == 0
    return json.loads(out.read_text())


def _with_statistics(src: Path, dst: Path) -> None:
    """The scenario's frames as pcapng in two sections, with the statistics a capturing
    host that dropped packets would write: interface 0 of the first section twice (its
    last block holds), a block of an interface the section lacks (ignored), and the
    second section's interface 0 (another interface: added)."""
    with PcapReader(str(src)) as rd:
        pkts = list(rd)
    half = len(pkts) // 2
    out = io.BytesIO()
    for part, blocks in ((pkts[:half], [{4: 50, 5: 1}, {4: 60, 5: 3, 7: 4}]),
                         (pkts[half:], [{4: 40, 7: 5}])):  # fmt: skip
        w = pcapng.PcapngWriter(out, "netscan tests")
        for p in part:
            w.write(float(p.time), 1, bytes(p))
        last = float(part[-1].time)
        for counters in blocks:
            out.write(pcapng.interface_statistics(0, last, counters))
        out.write(pcapng.interface_statistics(3, last, {4: 999, 5: 999}))
    dst.write_bytes(out.getvalue())


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    tmp = tmp_path_factory.mktemp("isb")
    plain = capture_path("scenarios", "json_face_api", tmp)
    ng = tmp / "dropped.pcapng"
    _with_statistics(plain, ng)
    gz = tmp / "dropped.pcapng.gz"
    gz.write_bytes(gzip.compress(ng.read_bytes()))
    return plain, ng, gz


@pytest.mark.parametrize("engine", ENGINES)
def test_the_drops_a_file_records_are_said(
    recorded: tuple[Path, Path, Path], tmp_path: Path, engine: str
) -> None:
    plain, ng, gz = recorded
    want = _run(plain, tmp_path, engine)
    assert "interface_statistics" not in want["inputs"][0]  # a pcap file keeps none
    for path in (ng, gz):
        rep = _run(path, tmp_path, engine)
        [inp] = rep["inputs"]
        assert inp["interface_statistics"] == {"ifrecv": 100, "ifdrop": 3, "osdrop": 9}
        said = [w for w in inp["warnings"] if w.startswith(SAID)]
        assert said == [f"{SAID} (3 by the interface, 9 by the operating system) of 100 "
                        "received: the host that captured them could not keep up, and what "
                        "they held is not in this capture"]  # fmt: skip
        assert f"{path}: {said[0]}" in rep["warnings"]
        # what was captured is analysed as before
        assert [(f["kind"], f["level"], f["bytes_up"]) for f in rep["findings"]] == [
            (f["kind"], f["level"], f["bytes_up"]) for f in want["findings"]
        ]


def test_every_verdict_says_the_drops(recorded: tuple[Path, Path, Path], tmp_path: Path) -> None:
    _plain, ng, _gz = recorded
    rep = _run(ng, tmp_path, "core")
    en = ("The capture file's own statistics record 12 packets that the capturing host "
          "dropped: what they held is not in this evidence.")  # fmt: skip
    zh = "抓包文件自身的统计记录了抓包主机丢弃的 12 个数据包"
    for lang, said in (("en", en), ("zh-CN", zh)):
        page = html_report.render(rep, lang=lang)
        verdict = page[page.index('<section class="verdict') :]
        assert said in visible_text(verdict[: verdict.index("</section>")])
        md = markdown_report.render(rep, lang=lang)
        assert said in md[: md.index("\n## ", md.index("## ") + 1)]  # in the verdict
    result = Analyzer(Options(country=COUNTRY)).run([str(ng)])
    buf = io.StringIO()
    print_summary(result, Console(file=buf, width=400, color_system=None))
    assert en in buf.getvalue().splitlines()
    # two files that each dropped some: the verdict counts both
    two = visible_text(html_report.render({**rep, "inputs": rep["inputs"] * 2}, lang="en"))
    assert "record 24 packets that the capturing host dropped, in 2 of them" in two


@pytest.mark.live
@pytest.mark.skipif(shutil.which("dumpcap") is None, reason="dumpcap is not installed")
@pytest.mark.parametrize("engine", ENGINES)
def test_dumpcaps_own_statistics_are_read(
    netns: NetnsPair,  # noqa: F811
    tmp_path: Path,
    engine: str,
) -> None:
    """dumpcap writes an Interface Statistics Block when it stops: the frames it received
    and none dropped (a veth link in network namespaces of the test's own)."""
    out = tmp_path / "dumpcap.pcapng"
    n = 25
    frames = tmp_path / "frames.pcap"
    wrpcap(str(frames), [
        Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
        / IP(src="198.51.100.1", dst="198.51.100.2") / UDP(sport=40000 + i, dport=9) / b"x"
        for i in range(n)
    ])  # fmt: skip
    cap = subprocess.Popen(["ip", "netns", "exec", netns.ns_b, "dumpcap", "-i", netns.if_b,
                            "-c", str(n), "-w", str(out)], stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert cap.stderr is not None
        for line in cap.stderr:  # listening once it says so
            if line.startswith("Capturing on"):
                break
        netns.replay(frames)
        assert cap.wait(timeout=30) == 0
    finally:
        if cap.poll() is None:
            cap.kill()
            cap.wait()
    rep = _run(out, tmp_path, engine)
    stats = rep["inputs"][0]["interface_statistics"]
    assert stats["ifrecv"] >= n and stats.get("ifdrop", 0) == 0
    assert rep["inputs"][0]["packets"] == n
    assert not [w for w in rep["warnings"] if "interface statistics record" in w]


def test_the_tuis_header_shows_the_recorded_drops(recorded: tuple[Path, Path, Path]) -> None:
    plain, ng, _gz = recorded
    analyzer = Analyzer(Options(country=COUNTRY))
    assert build_snapshot(analyzer.run([str(ng)]), source="f").drops == 12
    assert build_snapshot(analyzer.run([str(plain)]), source="f").drops is None  # n/a
