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
        seen["finding"] = finding.id
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


def test_overrides_shown_and_exported_from_the_store(tmp_path: Path) -> None:
    """A later session on the same site reads the site's overrides from the store and shows
    them beside what the traffic said; its exported report is recorded as a visit (once)
    and lists the overrides in the chain of custody."""
    import json

    from netscan.tui.widgets.findings import finding_detail, finding_prompt

    store = str(tmp_path / "s" / "cases.sqlite")
    first: dict[str, Any] = {}

    async def pick(pilot: Pilot[Any], app: NetscanApp) -> None:
        await until_done(pilot, app)
        first["finding"] = app.main.query_one(FindingsPane).findings[0].id
        first["device"] = next(iter(app.snapshot.devices))  # type: ignore[union-attr]

    drive(_app(tmp_path, None), pick)
    with CaseStore(store) as s:
        s.ensure_site("Demo", "Office")
        s.add_override("Demo", "Office", "finding", first["finding"], "status", "accepted",
                       "B. Lead", "owner confirmed the cloud contract")  # fmt: skip
        s.add_override("Demo", "Office", "device", first["device"], "name", "front desk unit",
                       "B. Lead", "seen on site")  # fmt: skip
    out = tmp_path / "visit.html"

    async def script(pilot: Pilot[Any], app: NetscanApp) -> None:
        await until_done(pilot, app)
        fpane = app.main.query_one(FindingsPane)
        f = next(x for x in fpane.findings if x.id == first["finding"])
        assert f.analyst_status["status"] == "accepted" and f.level in (
            "confirmed",
            "likely",
            "possible",
        )  # the traffic's level stays
        assert "✎ accepted" in finding_prompt(f).plain
        detail = finding_detail(f, "")
        from rich.console import Console

        con = Console(width=200, record=True)
        con.print(detail)
        assert "owner confirmed the cloud contract" in con.export_text()
        dpane = app.main.query_one(DevicesPane)
        assert dpane.analyst[first["device"]] == {"name": "front desk unit"}
        view = app.snapshot.devices[first["device"]]  # type: ignore[union-attr]
        cells = [c.plain for c in dpane.cells(view)]
        assert f"{view.name} ✎ front desk unit" in cells  # beside the traffic's name
        row = [str(getattr(c, "plain", c)) for c in dpane.table.get_row(first["device"])]
        assert any("✎ front desk unit" in c for c in row)
        for _ in range(2):  # two exports: one visit
            app.export_report(str(out))
            for _ in range(100):
                await pilot.pause(0.1)
                if out.exists():
                    break
            assert out.exists()
            first.setdefault("html", out.read_text())
            out.unlink()

    drive(_app(tmp_path, store), script)
    page = first["html"]
    assert "Analyst overrides (2)" in page and "owner confirmed the cloud contract" in page
    assert page.index("Analyst overrides") > page.index("<h2>Chain of custody</h2>")
    with CaseStore(store) as s:
        visits = s.visits("Demo", "Office")
        assert len(visits) == 1
        stored = s.report(visits[0])
    assert json.dumps(stored)  # the visit's report is in the store


def test_override_dialog_shows_device_names_as_plain_text() -> None:
    """The dialog's label holds the finding's device label, made of names the device sent:
    markup in them (an action link, a style) is shown as typed, never run or styled."""
    import asyncio

    from textual.app import App
    from textual.content import Content
    from textual.widgets import Label

    hostile = "likely: cam[@click=app.quit]quit[/] [link=file:///etc/passwd]x[/link] [b]"

    class One(App[None]):
        def on_mount(self) -> None:
            self.push_screen(OverrideScreen("finding", "F-[b]x", hostile))

    async def run() -> tuple[str, str]:
        app = One()
        async with app.run_test() as pilot:
            await pilot.pause()
            label = app.screen.query_one("#ov-label", Label)
            box = app.screen.query_one("#export-box")
            return str(label.render()), str(box.border_title)

    shown, title = asyncio.run(run())
    assert shown == hostile
    # the title as shown: its markup read back (a markup title would lose "[b]" to bold)
    assert Content.from_markup(title).plain.endswith("F-[b]x")
