"""A time strip: upload volume per slice of the capture, with the auditor's marks below."""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from netscan.tui.state import Burst, Mark, clock, series

BLOCKS = " ▁▂▃▄▅▆▇█"


class Timeline(Widget):
    """Three lines: upload bars, mark arrows (▲ with numbers), start and end times."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.bursts: list[Burst] = []
        self.marks: list[Mark] = []
        self.start: float | None = None
        self.end: float | None = None

    def set_data(
        self, bursts: list[Burst], marks: list[Mark], start: float | None, end: float | None
    ) -> None:
        self.bursts, self.marks = bursts, marks
        times = [b.start for b in bursts] + [m.capture_ts for m in marks]
        if start is None and times:
            start = min(times)
        if end is None and times:
            end = max(times)
        if times and start is not None and end is not None:
            start, end = min(start, min(times)), max(end, max(times))
        self.start, self.end = start, end
        self.refresh()

    def render(self) -> Text:
        width = max(self.size.width, 10)
        if self.start is None or self.end is None:
            return Text("no traffic yet", style="dim")
        data = series(self.bursts, self.start, self.end, width)
        peak = max(data) or 1.0
        bars = "".join(
            BLOCKS[min(len(BLOCKS) - 1, int(v / peak * (len(BLOCKS) - 1) + (0.99 if v else 0)))]
            for v in data
        )
        marks = [" "] * width
        span = max(self.end - self.start, 1e-9)
        for m in self.marks:
            i = min(max(int((m.capture_ts - self.start) / span * width), 0), width - 1)
            marks[i] = "▲"
            label = str(m.number)
            if i + 1 + len(label) <= width:
                marks[i + 1 : i + 1 + len(label)] = list(label)
            elif i - len(label) >= 0:  # no room after the arrow: number before it
                marks[i - len(label) : i] = list(label)
        left, right = clock(self.start), clock(self.end)
        axis = left + " " * max(width - len(left) - len(right), 1) + right
        out = Text(bars, style="bold red" if self.bursts else "dim")
        out.append("\n")
        out.append("".join(marks), style="bold yellow")
        out.append("\n")
        out.append(axis[:width], style="dim")
        return out
