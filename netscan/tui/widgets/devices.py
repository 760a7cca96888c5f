"""The devices table: sortable by column, filterable by role, vendor, level and free text."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.timer import Timer
from textual.widgets import DataTable, Input, Select

from netscan import i18n
from netscan.analysis.finding import level_rank
from netscan.i18n import N_, _
from netscan.inventory.model import ROLES, Role
from netscan.tui.lang import translate_bindings
from netscan.tui.state import DeviceView, Snapshot, human_bytes
from netscan.untrusted import text

LEVEL_STYLE = {
    "confirmed": "bold white on red",
    "likely": "bold red",
    "possible": "bold yellow",
    "off-site": "cyan",
    "local": "dim",
}
ROLE_STYLE = {
    Role.CAMERA: "cyan",
    Role.NVR: "cyan",
    Role.DOORBELL: "cyan",
    Role.FACE_TERMINAL: "bold magenta",
    Role.EDGE_SERVER: "magenta",
    Role.ROUTER: "dim",
}
NEW_SECONDS = 30.0
MAX_ROWS = 500  # rows in the table; filter or sort to reach the others

COLUMNS: list[tuple[str, str]] = [
    ("new", " "),
    ("device", N_("device")),
    ("verdict", N_("verdict")),
    ("role", N_("role")),
    ("ip", N_("IP")),
    ("up", N_("off-site ↑")),
    ("name", N_("model / name")),
    ("vendor", N_("vendor")),
]
SORT_KEYS: dict[str, Callable[[DeviceView], Any]] = {
    "new": lambda v: 0,
    "device": lambda v: v.label,
    "ip": lambda v: tuple(int(p) if p.isdigit() else 0 for p in v.ip.split(".")),
    "vendor": lambda v: v.vendor.lower(),
    "name": lambda v: v.name.lower(),
    "role": lambda v: (v.role, -v.confidence),
    "verdict": lambda v: (level_rank(v.level), v.bytes_offsite > 0, v.bytes_offsite),
    "up": lambda v: v.bytes_offsite,
}
LEVEL_FILTERS = [
    (N_("any level"), "any"),
    (N_("any finding"), "finding"),
    ("confirmed", "confirmed"),
    ("likely", "likely"),
    ("possible", "possible"),
    (N_("off-site, no finding"), "off-site"),
    (N_("local only"), "local"),
]


def _filter_label(label: str, value: str) -> str:
    return i18n.term("level", value) if label == value else _(label)


class DevicesPane(Vertical):
    """Filter bar over a ``DataTable`` of devices; Enter opens a device."""

    BINDINGS = [
        Binding("slash", "focus_filter", N_("Filter"), show=True),
        Binding("s", "cycle_sort", N_("Sort"), show=False),
        Binding("r", "reverse_sort", N_("Reverse"), show=False),
    ]

    class Selected(Message):
        """The user chose a device (Enter or click on its row)."""

        def __init__(self, key: str) -> None:
            super().__init__()
            self.key = key

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        translate_bindings(self)
        self.views: dict[str, DeviceView] = {}
        self.shown: list[str] = []
        self.matching = 0
        self.arrived: dict[str, float] = {}
        self.initial: set[str] | None = None
        self.sort_column = "verdict"
        self.sort_reverse = True
        self.text = ""
        self.role = "any"
        self.vendor = "any"
        self.level = "any"
        self._rows: dict[str, tuple[str, ...]] = {}
        # analysts' overrides from the case store: device key -> {field: value}, shown beside
        # what the traffic said (marked ✎), never instead of it
        self.analyst: dict[str, dict[str, str]] = {}
        self._debounce: Timer | None = None
        self._vendors: list[str] = []

    def compose(self) -> ComposeResult:
        with Horizontal(id="device-filters"):
            yield Input(placeholder=_("/ filter: mac, ip, name…"), id="device-text", compact=True)
            yield Select([(i18n.term("role", r), r) for r in ROLES], prompt=_("role"),
                         id="device-role", compact=True)  # fmt: skip
            yield Select([], prompt=_("vendor"), id="device-vendor", compact=True)
            yield Select(
                [(_filter_label(label, v), v) for label, v in LEVEL_FILTERS if v != "any"],
                prompt=_("level"),
                id="device-level",
                compact=True,
            )
        table: DataTable[Any] = DataTable(id="device-table", cursor_type="row", zebra_stripes=True)
        yield table

    def on_mount(self) -> None:
        table = self.table
        for key, label in COLUMNS:
            table.add_column(_(label) if label.strip() else label, key=key)
        self.set_interval(5.0, self._age_new)

    @property
    def table(self) -> DataTable[Any]:
        return self.query_one("#device-table", DataTable)

    # -- data --------------------------------------------------------------------------

    def show(self, snap: Snapshot) -> None:
        """Show a new snapshot: changed rows are updated in place, new ones added."""
        now = time.monotonic()
        if self.initial is None:
            self.initial = set(snap.devices)
        for key in snap.devices:
            self.arrived.setdefault(key, now)
        self.views = snap.devices
        vendors = [
            v
            for v, _n in Counter(d.vendor for d in self.views.values() if d.vendor).most_common(40)
        ]
        if vendors != self._vendors:
            self._vendors = vendors
            sel = self.query_one("#device-vendor", Select)
            current = sel.value
            sel.set_options([(text(v, limit=40), v) for v in sorted(vendors)])
            if isinstance(current, str) and current in vendors:
                sel.value = current
        self.refilter(incremental=True)

    def is_new(self, key: str) -> bool:
        if self.initial is None or key in self.initial:
            return False
        return time.monotonic() - self.arrived.get(key, 0.0) < NEW_SECONDS

    def matches(self, v: DeviceView) -> bool:
        if self.role != "any" and v.role != self.role:
            return False
        if self.vendor != "any" and v.vendor != self.vendor:
            return False
        if self.level != "any":
            if self.level == "finding":
                if not v.level:
                    return False
            elif v.verdict != self.level:
                return False
        return not self.text or self.text in v.search

    def ordered(self) -> list[str]:
        keyf = SORT_KEYS[self.sort_column]
        keys = [k for k, v in self.views.items() if self.matches(v)]
        keys.sort(key=lambda k: (keyf(self.views[k]), k), reverse=self.sort_reverse)
        return keys

    def cells(self, v: DeviceView) -> tuple[Any, ...]:
        new = self.is_new(v.key)
        verdict = v.verdict
        role = (f"{i18n.term('role', v.role)} {v.confidence:.2f}" if v.role != Role.UNKNOWN
                else i18n.term("role", Role.UNKNOWN))  # fmt: skip
        ov = self.analyst.get(v.key) or self.analyst.get(getattr(v, "mac", "") or "") or {}

        def beside(seen: str, field: str) -> str:
            return f"{seen} ✎ {ov[field]}" if field in ov else seen

        return (  # every cell a plain Text: names are data, never markup
            Text("●", style="bold green") if new else Text(""),
            text(v.label, "bold green" if new else ""),
            text(i18n.term("verdict", verdict), LEVEL_STYLE.get(verdict, "")),
            text(beside(role, "role"), ROLE_STYLE.get(v.role, "")),
            text(v.ip),
            Text(human_bytes(v.bytes_offsite) if v.bytes_offsite else ""),
            text(beside(v.name, "name"), limit=48),
            text(beside(v.vendor, "manufacturer"), limit=44),
        )

    def refilter(self, incremental: bool = False) -> None:
        table = self.table
        ordered = self.ordered()
        self.matching = len(ordered)
        keys = ordered[:MAX_ROWS]
        if incremental and keys == self.shown:
            for key in keys:
                cells = self.cells(self.views[key])
                plain = tuple(str(c) for c in cells)
                if self._rows.get(key) != plain:
                    self._rows[key] = plain
                    for (col, _label), value in zip(COLUMNS, cells, strict=True):
                        table.update_cell(key, col, value)
            self._update_title()
            return
        cursor_key = (
            self.shown[table.cursor_row] if 0 <= table.cursor_row < len(self.shown) else None
        )
        table.clear()
        self._rows.clear()
        rows = []
        for key in keys:
            cells = self.cells(self.views[key])
            self._rows[key] = tuple(str(c) for c in cells)
            rows.append(cells)
        for key, cells in zip(keys, rows, strict=True):
            table.add_row(*cells, key=key)
        self.shown = keys
        if cursor_key in self.views and cursor_key in keys:
            table.move_cursor(row=keys.index(cursor_key), animate=False)
        self._update_title()

    def _update_title(self) -> None:
        label = dict(COLUMNS).get(self.sort_column, self.sort_column)
        sort = f"{_(label) if label.strip() else label}{'↓' if self.sort_reverse else '↑'}"
        more = (_(" (first {n})").format(n=len(self.shown))
                if self.matching > len(self.shown) else "")  # fmt: skip
        self.border_title = _("devices {matching}/{total}{more}  sort {sort}").format(
            matching=self.matching, total=len(self.views), more=more, sort=sort
        )

    def _age_new(self) -> None:
        if self.initial is not None and any(k not in self.initial for k in self.shown):
            self.refilter(incremental=True)

    @property
    def selected(self) -> str | None:
        row = self.table.cursor_row
        return self.shown[row] if 0 <= row < len(self.shown) else None

    # -- events ------------------------------------------------------------------------

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id != "device-text":
            return
        event.stop()
        self.text = event.value.strip().lower()
        if self._debounce is not None:
            self._debounce.stop()
        self._debounce = self.set_timer(0.2, self.refilter)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.table.focus()

    def on_select_changed(self, event: Select.Changed) -> None:
        event.stop()
        value = event.value if isinstance(event.value, str) else "any"
        if event.select.id == "device-role":
            self.role = value
        elif event.select.id == "device-vendor":
            self.vendor = value
        elif event.select.id == "device-level":
            self.level = value
        self.refilter()

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        event.stop()
        col = str(event.column_key.value)
        self.sort_by(col, not self.sort_reverse if col == self.sort_column else False)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is not None:
            self.post_message(self.Selected(str(event.row_key.value)))

    def sort_by(self, column: str, reverse: bool = False) -> None:
        self.sort_column, self.sort_reverse = column, reverse
        self.refilter()

    def set_filter(
        self,
        text: str | None = None,
        role: str | None = None,
        vendor: str | None = None,
        level: str | None = None,
    ) -> None:
        """Set filters programmatically (the command palette and tests use this)."""
        if text is not None:
            self.text = text.lower()
            self.query_one("#device-text", Input).value = text
        for ident, value in (("role", role), ("vendor", vendor), ("level", level)):
            if value is None:
                continue
            setattr(self, ident, value)
            with self.prevent(Select.Changed):
                sel = self.query_one(f"#device-{ident}", Select)
                sel.value = Select.NULL if value == "any" else value
        self.refilter()

    def action_focus_filter(self) -> None:
        self.query_one("#device-text", Input).focus()

    def action_cycle_sort(self) -> None:
        cols = [c for c, _ in COLUMNS if c != "new"]
        nxt = (
            cols[(cols.index(self.sort_column) + 1) % len(cols)]
            if self.sort_column in cols
            else cols[0]
        )
        self.sort_by(nxt, self.sort_reverse)

    def action_reverse_sort(self) -> None:
        self.sort_by(self.sort_column, not self.sort_reverse)
