"""Pilot tests of ``netscan tui`` on the demo capture, screenshots, and a 10,000-device load."""

from __future__ import annotations

import asyncio
import html
import json
import re
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, Sparkline

from netscan.analyze import Analyzer, Options
from netscan.cli import main
from netscan.report import json_report
from netscan.tui.app import NetscanApp, evidence_extractor
from netscan.tui.messages import SnapshotReady
from netscan.tui.state import (
    Burst,
    Mark,
    build_graph,
    build_snapshot,
    finding_bursts,
    graph_text,
    uploads_after_marks,
    walk_verdict,
)
from netscan.tui.widgets.device_detail import DeviceScreen
from netscan.tui.widgets.devices import DevicesPane
from netscan.tui.widgets.findings import FindingsPane
from netscan.tui.widgets.help import HelpScreen
from tests.conftest import PCAPS
from tests.tui.synthetic import synthetic_result

DEMO = str(PCAPS / "demo_sales_office.pcapng")
SIZE = (80, 24)


def drive(app: NetscanApp, script: Callable[[Pilot[Any], NetscanApp], Awaitable[None]]) -> None:
    async def go() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await script(pilot, app)

    asyncio.run(go())


async def until_done(pilot: Pilot[Any], app: NetscanApp, limit: float = 90.0) -> None:
    start = time.monotonic()
    while app.snapshot is None or not app.snapshot.final:
        assert time.monotonic() - start < limit, "the analysis did not finish"
        await pilot.pause(0.1)
    await pilot.pause()


def screenshot_text(app: NetscanApp, directory: Path, name: str) -> str:
    path = Path(app.save_screenshot(f"{name}.svg", path=str(directory)))
    assert path.exists()
    return html.unescape(path.read_text("utf-8")).replace("\xa0", " ")


def demo_app(tmp_path: Path, **kw: Any) -> NetscanApp:
    return NetscanApp([DEMO], batch=2000, export_dir=tmp_path, **kw)


def test_streams_the_demo_and_fills_in(tmp_path: Path) -> None:
    async def script(pilot: Pilot[Any], app: NetscanApp) -> None:
        await until_done(pilot, app)
        snap = app.snapshot
        assert snap is not None and snap.result is not None
        assert snap.packets == 8443
        assert len(snap.devices) == 13
        pane = app.main.query_one(DevicesPane)
        assert len(pane.shown) == 13
        # most serious first: the devices with confirmed findings lead
        assert snap.devices[pane.shown[0]].level == "confirmed"
        text = screenshot_text(app, tmp_path, "devices")
        for needle in ("demo_sales_office.pcapng", "8,443", "8af0158" if snap.pack.get("commit")
                       == "8af0158" else "sigs", "premises", "verdict", "confirmed"):  # fmt: skip
            assert needle in text

        # every batch of 2000 records reached the UI, then the final state
        assert app.updates == [2000, 4000, 6000, 8000, 8443, 8443]

    drive(demo_app(tmp_path, snapshot_interval=0.0), script)


def test_incremental_final_equals_run() -> None:
    plain = json_report.build(Analyzer(Options()).run([DEMO]))
    steps = list(Analyzer(Options()).run_incremental([DEMO], batch=3000))
    assert [s.final for s in steps][-1] and not any(s.final for s in steps[:-1])
    assert steps[0].packets == 3000 and steps[0].done_bytes < steps[0].total_bytes
    partial = steps[0].result()
    assert 0 < len(partial.inventory.devices) <= 13
    final = json_report.build(steps[-1].result())
    plain.pop("generated_at")
    final.pop("generated_at")
    assert final == plain


def test_select_filter_and_sort_devices(tmp_path: Path) -> None:
    async def script(pilot: Pilot[Any], app: NetscanApp) -> None:
        await until_done(pilot, app)
        pane = app.main.query_one(DevicesPane)
        # free text filter through the Input
        await pilot.press("slash", *"ds-2cd")
        await pilot.pause(0.4)
        assert app.main.query_one("#device-text", Input).value == "ds-2cd"
        assert len(pane.shown) == 3
        assert all(pane.views[k].model.lower().startswith("ds-2cd") for k in pane.shown)
        await pilot.press("enter")  # back to the table
        # role and level filters
        pane.set_filter(text="", role="camera")
        await pilot.pause()
        assert pane.shown and all(pane.views[k].role == "camera" for k in pane.shown)
        pane.set_filter(role="any", level="finding")
        await pilot.pause()
        assert pane.shown and all(pane.views[k].level for k in pane.shown)
        pane.set_filter(level="any")
        await pilot.pause()
        assert len(pane.shown) == 13
        # sort by IP (header click) and reverse
        pane.sort_by("ip")
        await pilot.pause()
        first = pane.views[pane.shown[0]].ip
        assert first == "192.168.1.1"
        await pilot.press("r")
        assert pane.views[pane.shown[0]].ip != first
        # open the device on the cursor row
        pane.table.focus()
        pane.table.move_cursor(row=0)
        key = pane.selected
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, DeviceScreen)
        assert app.screen.view.key == key
        text = screenshot_text(app, tmp_path, "device")
        for needle in ("identity", "how the identity was established", key):
            assert needle in text
        await pilot.press("escape")
        assert not isinstance(app.screen, DeviceScreen)

    drive(demo_app(tmp_path), script)


def test_findings_most_serious_first_and_explained(tmp_path: Path) -> None:
    async def script(pilot: Pilot[Any], app: NetscanApp) -> None:
        await until_done(pilot, app)
        await pilot.press("f")
        pane = app.main.query_one(FindingsPane)
        findings = pane.findings
        if not findings:
            pytest.skip("no findings in this build")
        order = {"confirmed": 3, "likely": 2, "possible": 1}
        levels = [order[f.level] for f in findings]
        assert levels == sorted(levels, reverse=True)
        await pilot.press("down")
        await pilot.pause()
        selected = pane.selected
        assert selected is findings[1]
        if finding_bursts(selected):
            assert any(app.main.query_one(Sparkline).data or [])
        text = screenshot_text(app, tmp_path, "findings")
        for needle in ("reason", "path", selected.level):
            assert needle in text

    drive(demo_app(tmp_path), script)


def test_mark_and_uploads_after_marks(tmp_path: Path) -> None:
    async def script(pilot: Pilot[Any], app: NetscanApp) -> None:
        await until_done(pilot, app)
        await pilot.press("m")
        assert len(app.marks) == 1
        pane = app.main.query_one(FindingsPane)
        if pane.findings:
            first = finding_bursts(pane.findings[0])[0]
            app.action_mark(capture_ts=first.start - 2.0)
            hits = uploads_after_marks(app.marks, finding_bursts(pane.findings[0]), 30.0)
            assert hits[-1].bursts and hits[-1].delay == pytest.approx(2.0)
            await pilot.press("f")
            await pilot.pause()
            # judged against the device's base rate, not merely "followed 1 of 2 marks"
            text = screenshot_text(app, tmp_path, "f")
            snap = app.snapshot
            assert snap is not None
            verdict = walk_verdict(app.marks, finding_bursts(pane.findings[0]), 30.0,
                                   (snap.capture_first, snap.capture_last),
                                   truncated=len(pane.findings[0].bursts) >= 100)  # fmt: skip
            # the demo's first finding uploads every few seconds whatever happens
            assert verdict.startswith("Uploads after the marks are not distinguishable from "
                                      "its normal traffic")  # fmt: skip
            shown = " ".join(re.sub(r"<[^>]+>", " ", text).split())
            assert "Uploads after the marks" in shown
        await pilot.press("w")
        await pilot.pause()
        text = screenshot_text(app, tmp_path, "marks")
        assert "marks" in text and "▲" in text
        assert "marks " + str(len(app.marks)) in text

    drive(demo_app(tmp_path), script)


def test_marks_logic() -> None:
    marks = [Mark(1, 0.0, 100.0), Mark(2, 0.0, 500.0)]
    bursts = [Burst(95.0, 96.0, 10.0), Burst(110.0, 111.0, 50.0), Burst(200.0, 201.0, 5.0)]
    hits = uploads_after_marks(marks, bursts, 30.0)
    assert [len(h.bursts) for h in hits] == [1, 0]
    assert hits[0].bytes == 50.0 and hits[0].delay == 10.0


def test_export_report_and_evidence(tmp_path: Path) -> None:
    out = tmp_path / "report.html"

    async def script(pilot: Pilot[Any], app: NetscanApp) -> None:
        await until_done(pilot, app)
        await pilot.press("m")
        await pilot.press("e")
        await pilot.pause()
        box = app.screen.query_one("#export-path", Input)
        assert box.value.startswith(str(tmp_path))
        box.value = str(out)
        await pilot.press("enter")
        for _ in range(100):
            if out.exists() and out.with_name("report.marks.json").exists():
                break
            await pilot.pause(0.1)
        assert out.exists() and out.stat().st_size > 1000
        assert out.with_name("report.marks.json").exists()
        marks = json.loads(out.with_name("report.marks.json").read_text())
        assert marks["walk_tests"], "every device with off-site uploads is judged"
        for w in marks["walk_tests"]:
            assert w["marks"] == 1 and w["verdict"] and "p_bytes" in w
        # the report itself carries the walk test: verdicts and the timeline picture
        page = out.read_text()
        assert "<h2>Walk test</h2>" in page and 'class="walk"' in page
        assert page.count('class="mark"') >= 1 and 'class="mark-window"' in page
        findings = app.main.query_one(FindingsPane).findings
        if findings and evidence_extractor() is not None:
            await pilot.press("f", "x")
            await pilot.pause()
            box = app.screen.query_one("#export-path", Input)
            target = tmp_path / "finding.pcapng"
            box.value = str(target)
            await pilot.press("enter")
            for _ in range(200):
                if target.exists() and target.stat().st_size > 100:
                    break
                await pilot.pause(0.1)
            assert target.read_bytes()[:4] == b"\x0a\x0d\x0d\x0a"

    drive(demo_app(tmp_path), script)


def test_screens_at_80x24_light_and_dark(tmp_path: Path) -> None:
    async def script(pilot: Pilot[Any], app: NetscanApp) -> None:
        await until_done(pilot, app)
        for theme in ("dark", "light"):
            if theme == "light":
                await pilot.press("t")
                await pilot.pause()
                assert not app.current_theme.dark
            text = screenshot_text(app, tmp_path, f"devices-{theme}")
            assert "Devices" in text and "Findings" in text and "Help" in text
            await pilot.press("g")
            text = screenshot_text(app, tmp_path, f"graph-{theme}")
            assert "premises" in text and "gateway" in text
            await pilot.press("question_mark")
            assert isinstance(app.screen, HelpScreen)
            text = screenshot_text(app, tmp_path, f"help-{theme}")
            assert "walk test" in text and "command palette" in text
            await pilot.press("escape")
            await pilot.press("d")

    drive(demo_app(tmp_path), script)


def test_command_palette_lists_tui_commands(tmp_path: Path) -> None:
    async def script(pilot: Pilot[Any], app: NetscanApp) -> None:
        await until_done(pilot, app)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for t in ("Mark a moment", "Export report", "Show graph", "Devices with findings"):
            assert t in titles
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"mark a moment")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await pilot.pause(0.3)
        assert len(app.marks) == 1

    drive(demo_app(tmp_path), script)


def test_graph_text_highlights_face_paths() -> None:
    snap = build_snapshot(Analyzer(Options()).run([DEMO]), source="demo")
    text = graph_text(build_graph(snap))
    assert text.startswith("premises")
    if snap.findings:
        assert "[FACE]" in text


def test_ten_thousand_devices_stay_responsive(tmp_path: Path) -> None:
    result = synthetic_result(10_000, 100_000)
    started = time.perf_counter()
    snap = build_snapshot(result, source="synthetic", keep_result=True)
    built = time.perf_counter() - started
    assert built < 10.0

    async def script(pilot: Pilot[Any], app: NetscanApp) -> None:
        while app.snapshot is None:
            await pilot.pause(0.05)
        await pilot.pause()
        pane = app.main.query_one(DevicesPane)
        assert pane.matching == 10_000 and len(pane.shown) <= 500
        timings = {}
        for name, keys in (("sort", ("s",)), ("reverse", ("r",)), ("graph", ("g",)),
                           ("findings", ("f", "down")), ("devices", ("d",))):  # fmt: skip
            t = time.perf_counter()
            await pilot.press(*keys)
            await pilot.pause()
            timings[name] = time.perf_counter() - t
        t = time.perf_counter()
        pane.set_filter(text="02:00:00:00:1")
        await pilot.pause()
        timings["filter"] = time.perf_counter() - t
        assert pane.matching == 4096
        assert max(timings.values()) < 5.0, timings
        # a new snapshot with more devices: the new ones are highlighted
        bigger = synthetic_result(10_010, 1000)
        app.post_message(SnapshotReady(build_snapshot(bigger, source="synthetic")))
        await pilot.pause(0.5)
        pane.set_filter(text="")
        await pilot.pause()
        new = [k for k in pane.views if pane.is_new(k)]
        assert len(new) == 10
        assert "●" in screenshot_text(app, tmp_path, "big") or pane.sort_column

    drive(NetscanApp(snapshot=snap, export_dir=tmp_path), script)


def test_cli_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tui"]) == 2
    assert main(["tui", str(tmp_path / "missing.pcapng")]) == 2
    assert main(["tui", DEMO, "-i", "eth0"]) == 2
    assert "netscan: error" in capsys.readouterr().err


def test_the_header_says_what_came_through_a_remote_mirror(tmp_path: Path) -> None:
    """The demo as a remote mirror delivers it: the same devices, and the header counts the
    frames that came through the mirror's encapsulations."""
    from tests.engine.tunnels import mirrored

    path = tmp_path / "mirrored.pcap"
    counts = mirrored(PCAPS / "demo_sales_office.pcapng", path)

    async def script(pilot: Pilot[Any], app: NetscanApp) -> None:
        await until_done(pilot, app)
        snap = app.snapshot
        assert snap is not None and snap.mirrored == sum(counts.values()) == 8443
        assert len(snap.devices) == 13
        text = screenshot_text(app, tmp_path, "mirrored")
        assert "pkts 8,443 (mirror 8,443)" in text

    drive(NetscanApp([str(path)], batch=2000, export_dir=tmp_path), script)
