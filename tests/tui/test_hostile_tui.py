"""The TUI over a capture full of hostile names, driven by Textual's pilot: the auditor clicks
on the names in the devices table, the device screen, the findings and the graph, and nothing
named by the traffic runs (no file written, no mark, no quit); the names show escaped."""

from __future__ import annotations

import asyncio
import html
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from rich.cells import cell_len
from textual.errors import NoWidget
from textual.geometry import Region
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import OptionList, Static, Tree

from netscan.tui.app import NetscanApp
from netscan.tui.messages import AnalysisFailed, ExportDone
from netscan.tui.widgets.device_detail import DeviceScreen
from netscan.tui.widgets.devices import DevicesPane
from netscan.tui.widgets.findings import FindingsPane
from netscan.tui.widgets.header import ScanHeader
from tests import hostile

SIZE = (160, 48)


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("hostile")
    shots = d / "shots"
    shots.mkdir()
    return hostile.build(d, shots), shots


async def until_done(pilot: Pilot[Any], app: NetscanApp, limit: float = 120.0) -> None:
    start = time.monotonic()
    while app.snapshot is None or not app.snapshot.final:
        assert time.monotonic() - start < limit, "the analysis did not finish"
        await pilot.pause(0.1)
    await pilot.pause()


def screen_text(app: NetscanApp, directory: Path, name: str) -> str:
    path = Path(app.save_screenshot(f"{name}.svg", path=str(directory)))
    text = html.unescape(path.read_text("utf-8")).replace("\xa0", " ")
    path.unlink()
    return text


def assert_untouched(app: NetscanApp, shots: Path, export_dir: Path) -> None:
    assert app.is_running and app.return_code is None, "a name ended the session"
    assert app.marks == [], "a name made a walk-test mark"
    assert not list(shots.iterdir()), "a name wrote a file"
    assert not list(export_dir.glob("*.svg"))


# words every hostile action name shows, whether its markup is parsed (an unsafe build) or
# shown as text (this one): clicking them is what an auditor would do
NEEDLES = ("quit", "mark", "shot", "link", "LOUD")


def name_cells(widget: Widget, needles: tuple[str, ...] = NEEDLES) -> list[tuple[int, int]]:
    """Where the needles are drawn in ``widget``: (x, y) of each of their cells."""
    width, height = widget.outer_size
    cells = []
    for y, strip in enumerate(widget.render_lines(Region(0, 0, width, height))):
        line = strip.text
        for needle in needles:
            start = line.find(needle)
            while start >= 0:
                x = cell_len(line[:start])
                cells.extend((x + i, y) for i in range(len(needle)))
                start = line.find(needle, start + 1)
    return cells


async def click_names(
    pilot: Pilot[Any], app: NetscanApp, widget: Widget, needles: tuple[str, ...] = NEEDLES
) -> int:
    """Click every visible cell of every needle in ``widget`` (for a screen: in each of its
    text widgets); a device screen that a click opens is closed again. Returns the number
    of clicks."""
    if isinstance(widget, Screen):
        return sum([await click_names(pilot, app, w, needles) for w in widget.query(Static)])
    clicks = 0
    for x, y in name_cells(widget, needles):
        at = widget.region.offset + (x, y)
        try:
            if widget.screen.get_widget_at(*at)[0] is not widget:
                continue  # scrolled away or covered
        except NoWidget:
            continue
        await pilot.click(widget, offset=(x, y))
        clicks += 1
        if isinstance(app.screen, DeviceScreen) and widget.screen is not app.screen:
            await pilot.press("escape")  # the device screen has a test of its own
            await pilot.pause()
    return clicks


def test_clicks_on_hostile_names_run_nothing(capture: tuple[Path, Path], tmp_path: Path) -> None:
    pcap, shots = capture
    export_dir = tmp_path / "exports"
    export_dir.mkdir()
    # the capture's own file name is hostile too (it came from someone else)
    named = tmp_path / "[@click=app.quit]x[bold]\x1b]0;T\x07.pcap"
    shutil.copyfile(pcap, named)
    app = NetscanApp([str(named)], batch=5000, export_dir=export_dir)

    async def script(pilot: Pilot[Any]) -> None:
        await until_done(pilot, app)
        pane = app.main.query_one(DevicesPane)
        table = pane.table
        assert len(pane.shown) >= len(hostile.corpus(shots))
        # the devices table: click on the names (a second click on a row opens the device)
        assert await click_names(pilot, app, table) > 30
        assert_untouched(app, shots, export_dir)
        await click_names(pilot, app, app.main.query_one(ScanHeader))
        assert_untouched(app, shots, export_dir)
        text = screen_text(app, tmp_path, "devices")
        assert "[@click=app.quit]x[bold]\\x1b]0;T\\x07.pcap" in text  # the header
        for shown in ("cam[/oops]", "[@click=app.quit]", "crlf\\r\\nFORGED", "bidi\\u202egp",
                      "<script>alert(1)", "title\\x1b]0;PWNED"):  # fmt: skip
            assert shown in text, shown
        for ch in hostile.FORBIDDEN + ("\x1b",):
            assert ch not in text

        # every finding, its explanation (device label, path, destination names)
        await pilot.press("f")
        findings = app.main.query_one(FindingsPane)
        assert len(findings.findings) == 3
        options = app.main.query_one(OptionList)
        detail = app.main.query_one("#finding-text", Static)
        seen = []
        for i in range(3):
            await pilot.click(options, offset=(20, i))
            await pilot.pause()
            assert findings.selected is findings.findings[i]
            await click_names(pilot, app, options)
            await click_names(pilot, app, detail)
            assert_untouched(app, shots, export_dir)
            seen.append(screen_text(app, tmp_path, f"finding{i}"))
        text = "\n".join(seen)
        for ch in hostile.FORBIDDEN + ("\x1b",):
            assert ch not in text
        assert "[@click=app.screenshot('pwned.svg'," in text
        assert "# head\\n# FORGED HEADING" in text

        # the graph of who talks to whom
        await pilot.press("g")
        await pilot.pause()
        tree = app.main.query_one(Tree)
        tree.root.expand_all()
        await pilot.pause()
        await click_names(pilot, app, tree)
        assert_untouched(app, shots, export_dir)

        # notifications carrying hostile text (an analysis error, an export path)
        app.post_message(AnalysisFailed("ValueError: " + hostile.MARKUP + hostile.OSC_TITLE))
        app.post_message(ExportDone("report", str(export_dir / hostile.QUIT)))
        await pilot.pause(0.3)
        text = screen_text(app, tmp_path, "toasts")
        assert "cam[/oops]" in text and "title\\x1b]0;PWNED" in text
        assert_untouched(app, shots, export_dir)

    async def go() -> None:
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            await script(pilot)

    asyncio.run(go())
    assert not list(shots.iterdir())


def test_the_device_screen_shows_every_carrier_escaped(
    capture: tuple[Path, Path], tmp_path: Path
) -> None:
    pcap, shots = capture
    app = NetscanApp([str(pcap)], batch=5000, export_dir=tmp_path)

    async def script(pilot: Pilot[Any]) -> None:
        await until_done(pilot, app)
        snap = app.snapshot
        assert snap is not None
        uploader = next(v for v in snap.devices.values() if v.mac == "44:19:b6:2e:7c:51")
        app.open_device(uploader.key)
        await pilot.pause()
        assert isinstance(app.screen, DeviceScreen)
        assert await click_names(pilot, app, app.screen) > 10
        assert isinstance(app.screen, DeviceScreen)
        text = screen_text(app, tmp_path, "device")
        for shown in ("cam[/oops]", "bidi\\u202egpj.exe", "[link=file:///etc/passwd]x[/link]"):
            assert shown in text, shown
        for ch in hostile.FORBIDDEN + ("\x1b",):
            assert ch not in text
        await pilot.press("escape")
        web = next(v for v in snap.devices.values() if v.ip == "192.168.1.42")
        app.open_device(web.key)
        await pilot.pause()
        text = screen_text(app, tmp_path, "web")
        assert "osc\\x1b]8;;http://evil.example/" in text  # the HTTP Server banner
        assert await click_names(pilot, app, app.screen, ("evil", "script")) > 0
        await pilot.press("escape")
        # every device that names an action: its screen clicked through
        actors = [v for v in snap.devices.values() if any("@click" in h for h in v.hostnames)]
        assert len(actors) >= 4
        for view in actors:
            app.open_device(view.key)
            await pilot.pause()
            assert await click_names(pilot, app, app.screen) > 0
            assert_untouched(app, shots, tmp_path)
            await pilot.press("escape")

    async def go() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await script(pilot)

    asyncio.run(go())


def test_actions_in_rendered_text_are_never_run(tmp_path: Path) -> None:
    """The second line of defence: even text rendered as markup (which netscan never does
    with data) cannot run an action when clicked."""
    shots = tmp_path / "shots"
    shots.mkdir()
    app = NetscanApp(export_dir=tmp_path)

    async def go() -> None:
        async with app.run_test(size=SIZE) as pilot:
            trap = Static(
                f"[@click=app.mark('x')]mark[/] [@click=app.screenshot('{hostile.SHOT_NAME}',"
                f"'{shots}')]shot[/] [@click=app.quit]quit[/]",
                markup=True,
            )
            await app.screen.mount(trap)
            await pilot.pause()
            assert await click_names(pilot, app, trap) >= 12
            assert_untouched(app, shots, tmp_path)

    asyncio.run(go())
