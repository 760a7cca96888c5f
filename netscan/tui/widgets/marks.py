"""Walk-test marks: each mark, and the devices whose uploads followed it."""

from __future__ import annotations

import time

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from netscan.i18n import _
from netscan.tui.state import Mark, Snapshot, clock, device_bursts, human_bytes, uploads_after_marks
from netscan.tui.widgets.timeline import Timeline
from netscan.untrusted import display


class MarksPane(VerticalScroll):
    """Marks over the whole capture's uploads, and per mark who uploaded within the window."""

    def compose(self) -> ComposeResult:
        yield Static(
            _("Press m to mark a moment (e.g. when you walk in front of a camera)."),
            id="marks-help",
        )
        yield Timeline(id="marks-timeline")
        yield Static("", id="marks-table")

    def show(self, snap: Snapshot | None, marks: list[Mark], window: float) -> None:
        self.border_title = _("marks {n}  window {seconds} s").format(
            n=len(marks), seconds=f"{window:.0f}"
        )
        if snap is None:
            return
        all_bursts = []
        per_device = {}
        for key, view in snap.devices.items():
            if view.bytes_offsite:
                bursts = device_bursts(view, snap)
                if bursts:
                    per_device[key] = bursts
                    all_bursts.extend(bursts)
        self.query_one(Timeline).set_data(all_bursts, marks, snap.capture_first, snap.capture_last)
        t = Table(expand=True, box=None, header_style="bold")
        t.add_column("#", justify="right")
        t.add_column(_("marked at"))
        t.add_column(_("capture time"))
        t.add_column(_("uploads within the window"), overflow="fold")
        for m in reversed(marks):
            followers = []
            for key, bursts in per_device.items():
                hit = uploads_after_marks([m], bursts, window)[0]
                if hit.bursts:
                    label = display(snap.devices[key].label)
                    followers.append(f"{label} +{hit.delay:.1f}s ↑{human_bytes(hit.bytes)}")
            t.add_row(
                Text(str(m.number)),
                Text(time.strftime("%H:%M:%S", time.localtime(m.wall))),
                Text(clock(m.capture_ts)),
                Text("\n".join(followers), style="bold red")
                if followers
                else Text(_("none"), style="dim"),
            )
        self.query_one("#marks-table", Static).update(Group(t) if marks else "")
