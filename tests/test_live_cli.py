"""``netscan capture`` prints a line per new device, endpoint and finding: with hostile names
each stays one plain line, in the formatting functions and in a real live capture."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from netscan.analyze import Analyzer, Options
from netscan.live_cli import device_line, endpoint_line, finding_line
from tests import hostile
from tests.sources.test_live import NetnsPair, netns  # noqa: F401  (the fixture)

UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("hostile")
    shots = d / "shots"
    shots.mkdir()
    return hostile.build(d, shots), shots


def test_every_live_line_is_one_plain_line(capture: tuple[Path, Path]) -> None:
    pcap, _ = capture
    result = Analyzer(Options()).run([str(pcap)])
    inv = result.inventory
    lines = [device_line("12:00:00", d) for d in inv.devices.values()]
    lines += [endpoint_line("12:00:00", e) for e in inv.endpoints.values()]
    lines += [finding_line("12:00:00", f) for f in result.findings]
    assert len(result.findings) == 3 and len(lines) > 30
    for line in lines:
        assert not UNSAFE.search(line), repr(line)
        assert len(line.splitlines()) == 1
        assert len(line) < 3000
    text = "\n".join(lines)
    for shown in ("cam[/oops]", "crlf\\r\\nFORGED LINE", "title\\x1b]0;PWNED-TITLE\\x07end",
                  "bidi\\u202egpj.exe", "[link=file:///etc/passwd]x[/link]"):  # fmt: skip
        assert shown in text, shown


@pytest.mark.live
def test_capture_prints_hostile_names_escaped(
    netns: NetnsPair,  # noqa: F811
    capture: tuple[Path, Path],
    tmp_path: Path,
) -> None:
    pcap, _ = capture
    evidence = tmp_path / "evidence"
    out = tmp_path / "live.json"
    text, _ = netns.capture_cli(["--evidence", str(evidence), "--json", str(out)], pcap, 50,
                                2.0)  # fmt: skip
    assert out.exists()
    for raw in ("\x1b", "\x07", "\r", "\u202e", "\u2066"):
        assert raw not in text, repr(raw)
    device_lines = [ln for ln in text.splitlines() if re.match(r"\d\d:\d\d:\d\d device ", ln)]
    assert len(device_lines) >= len(hostile.corpus(Path("/x")))
    assert any("cam[/oops]" in ln for ln in device_lines)
    assert any("crlf\\r\\nFORGED LINE" in ln for ln in device_lines)
    assert not any(ln.startswith(("FORGED", "# FORGED")) for ln in text.splitlines())
