"""The status header: source, elapsed time, packets, drops, signature pack, premises, and
the frames that came through a remote mirror."""

from __future__ import annotations

import time

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from netscan import i18n
from netscan.i18n import _
from netscan.tui.state import Snapshot
from netscan.untrusted import display, join


class ScanHeader(Static):
    """Two lines of facts about the running analysis; the clock ticks every second."""

    source: reactive[str] = reactive("")
    packets: reactive[int] = reactive(0)
    drops: reactive[int | None] = reactive(None)
    fraction: reactive[float | None] = reactive(None)
    state: reactive[str] = reactive("starting")
    marks: reactive[int] = reactive(0)

    def __init__(self, source: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.set_reactive(ScanHeader.source, source)
        self.started = time.monotonic()
        self.finished: float | None = None
        self.pack: dict[str, object] = {}
        self.premises: list[str] = []
        self.country: str | None = None
        self.mirrored = 0  # frames that came through a remote mirror's encapsulations

    def on_mount(self) -> None:
        self.set_interval(1.0, self.refresh)

    def progress(self, done: int, total: int, packets: int, drops: int | None) -> None:
        self.packets = packets
        self.drops = drops
        self.fraction = done / total if total else None

    def snapshot(self, snap: Snapshot) -> None:
        self.pack = dict(snap.pack)
        self.premises = list(snap.premises)
        self.country = snap.country
        self.mirrored = snap.mirrored
        self.packets = snap.packets
        if snap.drops is not None:
            self.drops = snap.drops
        if snap.final:
            self.finish("done")
        else:
            self.state = "analysing"
        self.refresh()

    def finish(self, state: str) -> None:
        if self.finished is None:
            self.finished = time.monotonic()
        self.fraction = 1.0 if state == "done" else self.fraction
        self.state = state

    @property
    def elapsed(self) -> float:
        return (self.finished or time.monotonic()) - self.started

    def render(self) -> Text:
        secs = int(self.elapsed)
        elapsed = f"{secs // 3600:d}:{secs % 3600 // 60:02d}:{secs % 60:02d}"
        if self.state == "analysing" and self.fraction is not None:
            state = _("analysing {percent}").format(percent=f"{self.fraction:4.0%}")
        else:
            state = i18n.term("state", self.state)
        commit = display(self.pack.get("commit") or _("bundled"), 10)
        drops = _("n/a") if self.drops is None else i18n.number(self.drops)
        packets = i18n.number(self.packets)
        if self.mirrored:  # how many came through a remote mirror's encapsulations
            packets += " " + _("(mirror {n})").format(n=i18n.number(self.mirrored))
        line1 = Text.assemble(
            ("netscan ", "bold"),
            (display(self.source, 200), "bold"),
            "  ",
            (state, "reverse" if self.state == "analysing" else ""),
            "  " + _("⏱ {elapsed}  pkts {packets}  drops {drops}").format(
                elapsed=elapsed, packets=packets, drops=drops),
        )  # fmt: skip
        prem = join(self.premises[:3]) + (" …" if len(self.premises) > 3 else "")
        line2 = Text.assemble(
            _("sigs {commit} ({count})").format(
                commit=commit, count=display(self.pack.get("count", 0), 12)),
            "  " + _("premises {premises}").format(premises=prem or _("default")),
            "  " + _("country {country}").format(country=display(self.country or "—", 8)),
            "  " + _("marks {n}").format(n=self.marks),
        )  # fmt: skip
        line1.truncate(max(self.size.width, 20), overflow="ellipsis")
        line2.truncate(max(self.size.width, 20), overflow="ellipsis")
        return Text("\n").join([line1, line2])
