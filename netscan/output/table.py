"""The summary's tables drawn in one pass: what ``rich.table.Table`` draws for them, made
from pre-measured plain lines.

Rich measures and lays out every cell of a table as a renderable of its own, which costs a
few tens of microseconds a cell (a third of a second for the stress mix's 475 devices and
200 destinations). The summary's cells are single cleaned lines with one style each: their
widths are measured once, the columns laid out as Rich lays them out (the widest wrappable
columns narrowed first when the table is wider than the terminal), a cell that fits is its
text padded to the column's width and one that does not is folded by Rich's own ``Text.wrap``;
a line of the table is then a handful of segments. Anything else (markup in a title, a cell
with several styles or line breaks, a terminal too narrow for the borders) is drawn by
Rich's ``Table``: the text on the screen is the same either way (tests/output compares
both, byte for byte).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence

from rich import box
from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderResult
from rich.segment import Segment
from rich.style import Style
from rich.table import Table
from rich.text import Text

# characters that end a line for str.splitlines (Rich measures cells with it), tabs (Rich
# expands them), markup and emoji codes in our own titles and headers (Rich parses those)
_NOT_ONE_LINE = re.compile("[\n\r\t\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
_MARKUP = re.compile(r"[\[\]:]")


class SummaryTable:
    """A table with a title (left), a header row, rows and Rich's default box; columns fold
    what does not fit; ``no_wrap`` columns are never wrapped (when not on a terminal)."""

    def __init__(self, title: str, columns: Sequence[tuple[str, bool]]) -> None:
        self.title = title
        self.columns = list(columns)  # (header, no_wrap)
        self.rows: list[tuple[Text, ...]] = []

    def add_row(self, *cells: Text) -> None:
        self.rows.append(cells)

    def rich_table(self) -> Table:
        """The same table drawn by Rich (what the one-pass drawing does not cover)."""
        t = Table(title=self.title, title_justify="left")
        for header, no_wrap in self.columns:
            t.add_column(header, overflow="fold", no_wrap=no_wrap)
        for row in self.rows:
            t.add_row(*row)
        return t

    def _widths(self, max_width: int) -> list[int] | None:
        """Each column's width, padding included, as Rich's ``Table`` lays them out for
        cells that are one line of text with one style; None for anything else."""
        headers = [h for h, _ in self.columns]
        if _MARKUP.search(self.title) or any(_MARKUP.search(h) for h in headers):
            return None
        longest = [cell_len(h) for h in headers]
        n = len(longest)
        not_one_line = _NOT_ONE_LINE.search
        for row in self.rows:
            if len(row) != n:
                return None
            for i, cell in enumerate(row):
                plain = cell.plain
                if (cell.spans or cell.justify or cell.overflow or cell.no_wrap is not None
                        or not_one_line(plain)):  # fmt: skip
                    return None
                w = cell_len(plain)
                if w > longest[i]:
                    longest[i] = w
        natural = [w + 2 for w in longest]  # one space of padding either side
        room = max_width - (n + 1)  # less the borders
        if room < 1:
            return None
        widths = [min(w, room) for w in natural]
        if sum(widths) > room:  # Rich's layout: the widest wrappable columns give way first
            widths = _collapse(widths, [not no_wrap for _, no_wrap in self.columns], room)
            if sum(widths) > room:
                widths = _ratio_reduce(sum(widths) - room, [1] * n, widths, widths)
            widths = [min(w, nat) for w, nat in zip(widths, natural, strict=True)]
        if min(widths) < 3 or cell_len(self.title) > sum(widths) + n + 1:
            return None
        return widths

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        widths = self._widths(options.max_width)
        if widths is None:
            yield self.rich_table()
            return
        yield from self._segments(console, options, widths)

    def _segments(
        self, console: Console, options: ConsoleOptions, widths: list[int]
    ) -> Iterator[Segment]:
        b = box.HEAVY_HEAD.substitute(options, safe=console.safe_box)
        plain = Style()
        line = Segment.line()
        title = self.title
        table_width = sum(widths) + len(widths) + 1
        yield Segment(title + " " * (table_width - cell_len(title)),
                      console.get_style("table.title"))  # fmt: skip
        yield line
        yield Segment(b.get_top(widths), plain)
        yield line
        # the header: bold cells (padding too), bottom-aligned, heavy borders
        bold = console.get_style("table.header")
        headers = [Text(h) for h, _ in self.columns]
        cells = [_lines(console, h, w, no_wrap) for h, w, (_, no_wrap) in
                 zip(headers, widths, self.columns, strict=True)]  # fmt: skip
        height = max(len(c) for c in cells)
        last = len(widths) - 1
        for k in range(height):
            yield Segment(b.head_left, plain)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True)):
                j = k - (height - len(c))
                if j < 0:
                    yield Segment(" " * w, bold)
                else:
                    yield Segment(" ", bold)
                    yield Segment(c[j], bold)
                    yield Segment(" ", bold)
                yield Segment(b.head_vertical if i < last else b.head_right, plain)
            yield line
        yield Segment(b.get_row(widths, "head", edge=True), plain)
        yield line
        # the rows (the last one between the box's foot edges)
        mid = (b.mid_left, b.mid_vertical, b.mid_right)
        foot = (b.foot_left, b.foot_vertical, b.foot_right)
        styles: dict[str, Style] = {}
        no_wraps = [no_wrap for _, no_wrap in self.columns]
        end = len(self.rows) - 1
        for r, row in enumerate(self.rows):
            edges = mid if r < end else foot
            yield from _row(console, row, widths, no_wraps, edges, styles)
        yield Segment(b.get_bottom(widths), plain)
        yield line


def _lines(console: Console, cell: Text, width: int, no_wrap: bool) -> list[str]:
    """The lines of a cell ``width`` wide (padding included), each padded to its width."""
    room = width - 2
    plain = cell.plain
    used = cell_len(plain)
    if used <= room:
        return [plain + " " * (room - used)]
    wrapped = cell.wrap(console, room, justify="left", overflow="fold", no_wrap=no_wrap)
    return [ln.plain for ln in wrapped]


def _row(
    console: Console,
    row: Iterable[Text],
    widths: list[int],
    no_wraps: list[bool],
    edges: tuple[str, str, str],
    styles: dict[str, Style],
) -> Iterator[Segment]:
    """One row of the table: runs of plain text as one segment, a styled cell's text as a
    segment of its own (the same characters and escape sequences Rich writes)."""
    left, vertical, right = edges
    cells = list(row)
    texts = [_lines(console, c, w, nw) for c, w, nw in zip(cells, widths, no_wraps, strict=True)]
    height = max(len(t) for t in texts)
    last = len(widths) - 1
    for k in range(height):
        pending = [left]
        for i, (cell, lines, w) in enumerate(zip(cells, texts, widths, strict=True)):
            if k >= len(lines):
                pending.append(" " * w)
            else:
                style = cell.style
                if style:
                    pending.append(" ")
                    yield Segment("".join(pending))
                    st = styles.get(style) if isinstance(style, str) else style
                    if st is None:
                        st = styles[style] = console.get_style(style)  # type: ignore[index]
                    yield Segment(lines[k], st)
                    pending = [" "]
                else:
                    pending.append(" ")
                    pending.append(lines[k])
                    pending.append(" ")
            pending.append(vertical if i < last else right)
        yield Segment("".join(pending))
        yield Segment.line()


def _collapse(widths: list[int], wrapable: list[bool], max_width: int) -> list[int]:
    """Rich's ``Table`` reduction of the widest wrappable columns until the total fits."""
    total = sum(widths)
    excess = total - max_width
    if not any(wrapable):
        return widths
    while total and excess > 0:
        widest = max(w for w, ok in zip(widths, wrapable, strict=True) if ok)
        second = max(w if ok and w != widest else 0 for w, ok in zip(widths, wrapable, strict=True))
        difference = widest - second
        ratios = [1 if (w == widest and ok) else 0 for w, ok in zip(widths, wrapable, strict=True)]
        if not any(ratios) or not difference:
            break
        widths = _ratio_reduce(excess, ratios, [min(excess, difference)] * len(widths), widths)
        total = sum(widths)
        excess = total - max_width
    return widths


def _ratio_reduce(
    total: int, ratios: list[int], maximums: list[int], values: list[int]
) -> list[int]:
    """``total`` taken off ``values`` in proportion to ``ratios``, at most ``maximums``."""
    ratios = [ratio if most else 0 for ratio, most in zip(ratios, maximums, strict=True)]
    total_ratio = sum(ratios)
    if not total_ratio:
        return values[:]
    remaining = total
    out: list[int] = []
    for ratio, most, value in zip(ratios, maximums, values, strict=True):
        if ratio and total_ratio > 0:
            taken = min(most, round(ratio * remaining / total_ratio))
            out.append(value - taken)
            remaining -= taken
            total_ratio -= ratio
        else:
            out.append(value)
    return out
