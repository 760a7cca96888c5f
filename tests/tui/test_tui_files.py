"""What the TUI writes holds captured names: reports, walk-test marks, evidence and
screenshots are 0600 files, never written through a planted link."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.widgets import Input

from netscan.tui.app import NetscanApp, evidence_extractor
from netscan.tui.state import build_snapshot
from netscan.tui.widgets.findings import FindingsPane
from tests.tui.synthetic import synthetic_result
from tests.tui.test_tui import demo_app, drive, until_done


def mode(p: Path) -> int:
    return stat.S_IMODE(os.lstat(p).st_mode)


def test_exports_are_private_and_replace_planted_links(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    os.chmod(victim, 0o644)
    out = tmp_path / "report.html"
    marks = tmp_path / "report.marks.json"
    marks.symlink_to(victim)

    async def script(pilot: Pilot[Any], app: NetscanApp) -> None:
        await until_done(pilot, app)
        await pilot.press("m", "e")
        await pilot.pause()
        app.screen.query_one("#export-path", Input).value = str(out)
        await pilot.press("enter")
        for _ in range(100):
            if out.exists() and not marks.is_symlink():
                break
            await pilot.pause(0.1)
        assert mode(out) == 0o600 and out.stat().st_size > 1000
        assert not marks.is_symlink() and mode(marks) == 0o600
        assert '"marks"' in marks.read_text()
        assert victim.read_text() == "precious\n" and mode(victim) == 0o644
        if app.main.query_one(FindingsPane).findings and evidence_extractor() is not None:
            await pilot.press("f", "x")
            await pilot.pause()
            target = tmp_path / "finding.pcapng"
            app.screen.query_one("#export-path", Input).value = str(target)
            await pilot.press("enter")
            for _ in range(200):
                if target.exists() and target.stat().st_size > 100:
                    break
                await pilot.pause(0.1)
            assert mode(target) == 0o600

    drive(demo_app(tmp_path), script)


def test_screenshot_goes_to_the_export_directory_privately(tmp_path: Path) -> None:
    exports = tmp_path / "exports"
    exports.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    snap = build_snapshot(synthetic_result(20, 5), source="synthetic")

    async def script(pilot: Pilot[Any], app: NetscanApp) -> None:
        await pilot.pause()
        # the action as a click or the command palette would run it, asking for elsewhere
        app.action_screenshot("../../shot name.svg", str(elsewhere))
        await pilot.pause()

    drive(NetscanApp(snapshot=snap, export_dir=exports), script)
    assert os.listdir(elsewhere) == []
    shots = os.listdir(exports)
    assert shots == ["_.._shot_name.svg"]
    assert mode(exports / shots[0]) == 0o600
    assert (exports / shots[0]).read_text().lstrip().startswith("<svg")
