"""The TUI's o key: an analyst override on the selected finding or device, recorded in the
case store with who and why (a real Textual pilot over the demo capture)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from netscan.case.store import CaseStore
from netscan.tui.app import NetscanApp
from netscan.tui.widgets.devices import DevicesPane
from netscan.tui.widgets.findings import FindingsPane
from netscan.tui.widgets.override import OverrideScreen
from tests.tui.test_tui import DEMO, drive, until_done


def _app(tmp_path: Path, store: str | None) -> NetscanApp:
    case = {"store": store, "case": "Demo", "site": "Office", "analyst": "A. Auditor"}
    return NetscanApp([DEMO], batch=2000, export_dir=tmp_path, case=case if store else None)


async def _type(pilot: Pilot[Any], text: str) -> None:
    for ch in text:
        await pilot.press("space" if ch == " " else ch)


def test_override_finding_and_device(tmp_path: Path) -> None:
    store = str(tmp_path / "s" / "cases.sqlite")
    with CaseStore(store) as s:
        s.ensure_site("Demo", "Office")
    seen: dict[str, Any] = {}

    async def script(pilot: Pilot[Any], app: NetscanApp) -> None:
        await until_done(pilot, app)
        await pilot.press("f")
        await pilot.pause()
        finding = app.main.query_one(FindingsPane).selected
        assert finding is not None
        seen["finding"] = finding["id"]
        await pilot.press("o")
        await pilot.pause()
        assert isinstance(app.screen, OverrideScreen)
        await _type(pilot, "maybe")  # not a status: refused, the dialog stays
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, OverrideScreen)
        app.screen.query_one("#ov-status").value = "disputed"
        app.screen.query_one("#ov-why").value = "owner says firmware"
        app.screen.query_one("#ov-why").focus()
        await pilot.press("enter")
        await pilot.pause()
        assert not isinstance(app.screen, OverrideScreen)
        await pilot.press("d")
        await pilot.pause()
        key = app.main.query_one(DevicesPane).selected
        assert key is not None
        seen["device"] = key
        await pilot.press("o")
        await pilot.pause()
        app.screen.query_one("#ov-name").value = "reception camera"
        app.screen.query_one("#ov-why").value = "label on the box"
        app.screen.query_one("#ov-why").focus()
        await pilot.press("enter")
        await pilot.pause()

    drive(_app(tmp_path, store), script)
    with CaseStore(store) as s:
        ov = s.overrides("Demo", "Office")
    assert [(o["target_kind"], o["target"], o["field"], o["value"], o["author"], o["reason"])
            for o in ov] == [
        ("finding", seen["finding"], "status", "disputed", "A. Auditor", "owner says firmware"),
        ("device", seen["device"], "name", "reception camera", "A. Auditor", "label on the box"),
    ]  # fmt: skip


def test_override_needs_a_case(tmp_path: Path) -> None:
    async def script(pilot: Pilot[Any], app: NetscanApp) -> None:
        await until_done(pilot, app)
        await pilot.press("o")
        await pilot.pause()
        assert not isinstance(app.screen, OverrideScreen)

    drive(_app(tmp_path, None), script)
