"""The device screen: identity and its evidence, destinations, services and a timeline."""

from __future__ import annotations

from pathlib import Path

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from netscan import i18n, reasons
from netscan.i18n import N_, _
from netscan.tui.lang import translate_bindings
from netscan.tui.state import (
    DeviceView,
    Mark,
    Snapshot,
    clock,
    device_bursts,
    human_bytes,
    stamp,
    walk_verdict,
)
from netscan.tui.widgets.devices import LEVEL_STYLE, ROLE_STYLE
from netscan.tui.widgets.timeline import Timeline
from netscan.untrusted import TEXT_LIMIT, assemble, display, join, text

MAX_ROWS = 200


def _grid() -> Table:
    t = Table.grid(padding=(0, 1))
    t.add_column(style="bold", no_wrap=True)
    t.add_column(overflow="fold")
    return t


def identity(v: DeviceView) -> Table:
    """Who the device is; every value a plain ``Text`` (names are data, never markup)."""
    t = _grid()
    t.add_row(_("MAC"), text(v.mac) if v.mac else Text(_("— (no MAC on this link type)")))
    t.add_row(_("IP"), Text(join(v.ips, most=20) or "—"))
    t.add_row(_("vendor"), text(v.vendor or "—"))
    t.add_row(_("model"), text(v.model or "—"))
    t.add_row(_("names"), Text(join(v.hostnames, most=20) or "—"))
    role = Text(f"{display(i18n.term('role', v.role), 20)} ({v.confidence:.2f})",
                style=ROLE_STYLE.get(v.role, ""))  # fmt: skip
    t.add_row(_("role"), role)
    t.add_row(_("verdict"), text(i18n.term("verdict", v.verdict), LEVEL_STYLE.get(v.verdict, "")))
    t.add_row(_("seen"), Text(f"{stamp(v.first_ts)} … {clock(v.last_ts)}"))
    if v.user_agents:
        t.add_row(_("user agents"),
                  Text("\n").join(text(ua, limit=200) for ua in v.user_agents[:5]))  # fmt: skip
    return t


def established(v: DeviceView) -> RenderableType:
    parts: list[RenderableType] = []
    if v.reasons:
        parts.append(
            Text(
                _("role because: ")
                + _("; ").join(
                    display(r, TEXT_LIMIT) for r in reasons.sentences(v.reasons, v.reason_parts)
                )
            )
        )
    t = Table(box=None, expand=True, header_style="bold")
    t.add_column(_("frame"), justify="right")
    t.add_column(_("file"), max_width=20, overflow="ellipsis")
    t.add_column(_("evidence"), overflow="fold")
    for e in v.evidence[:MAX_ROWS]:
        t.add_row(
            Text(str(e.frame)),
            text(e.file.rsplit("/", 1)[-1]),
            text(reasons.sentence_text(e.part, e.what), limit=TEXT_LIMIT),
        )
    parts.append(t if v.evidence else Text(_("no identifying evidence yet"), style="dim"))
    return Group(*parts)


def destinations(v: DeviceView, snap: Snapshot) -> Table:
    t = Table(box=None, expand=True, header_style="bold")
    t.add_column(_("destination"), overflow="fold", ratio=3)
    t.add_column(_("cc"), no_wrap=True)
    t.add_column(_("port"), no_wrap=True)
    t.add_column("↑", justify="right", no_wrap=True)
    t.add_column("↓", justify="right", no_wrap=True)
    t.add_column("when", no_wrap=True)
    convs = sorted(v.conversations, key=lambda c: -(c.bytes_up + c.bytes_down))
    for c in convs[:MAX_ROWS]:
        ep = snap.offsite(c)
        if ep is not None:
            label = Text(f"{display(c.peer_ip)} {join(ep.names[:2], sep=' ')}".strip())
            if ep.provider:
                label.append(f" {display(ep.provider)}", style="bold")
            if ep.category == "face-cloud":
                label.stylize("bold red")
            cc = display(ep.country or "?", 8)
        else:
            peer = snap.devices.get(c.peer_device or "")
            label = Text(f"{display(c.peer_ip or c.peer_mac or '?')} ({_('local')}"
                         f"{' ' + display(i18n.term('role', peer.role), 20) if peer else ''})",
                         style="dim")  # fmt: skip
            cc = "—"
        t.add_row(label, Text(cc), Text(f"{display(c.transport, 8)}/{display(c.port, 8)}"),
                  Text(human_bytes(c.bytes_up)), Text(human_bytes(c.bytes_down)),
                  Text(f"{clock(c.first_ts)}–{clock(c.last_ts)}"))  # fmt: skip
    if len(convs) > MAX_ROWS:
        t.add_row(Text(_("… {n} more").format(n=len(convs) - MAX_ROWS)), "", "", "", "", "")
    return t


def services(v: DeviceView) -> RenderableType:
    if not v.services:
        return Text(_("no services seen"), style="dim")
    t = _grid()
    for key, facts in sorted(v.services.items()):
        t.add_row(text(key), text(facts, limit=TEXT_LIMIT))
    return t


def events(v: DeviceView, snap: Snapshot, marks: list[Mark]) -> Table:
    rows: list[tuple[float, str, str]] = [(v.first_ts, _("first seen"), "")]
    for c in v.conversations:
        ep = snap.offsite(c)
        where = display(
            f"{c.peer_ip} {ep.label}" if ep is not None else c.peer_ip or (c.peer_mac or "")
        )
        rows.append((c.first_ts, f"{display(c.transport, 8)}/{display(c.port, 8)} {where}",
                     "off-site" if ep else ""))  # fmt: skip
    for b in device_bursts(v, snap)[:MAX_ROWS]:
        rows.append(
            (
                b.start,
                _("upload {size} to {destination}").format(
                    size=human_bytes(b.bytes), destination=display(b.destination)
                ),
                "burst",
            )  # fmt: skip
        )
    for m in marks:
        rows.append((m.capture_ts, _("mark #{n}").format(n=m.number), "mark"))
    rows.sort(key=lambda r: r[0])
    t = Table(box=None, expand=True, show_header=False)
    t.add_column(no_wrap=True)
    t.add_column(overflow="fold")
    style = {"mark": "bold yellow", "burst": "red", "off-site": "cyan"}
    for ts, what, kind in rows[: MAX_ROWS * 2]:
        t.add_row(Text(clock(ts)), Text(what, style=style.get(kind, "")))
    return t


class DeviceScreen(Screen[None]):
    """Everything known about one device."""

    CSS_PATH = Path(__file__).with_name("device_detail.tcss")
    BINDINGS = [
        Binding("escape,q,backspace", "close", N_("Back")),
    ]

    def __init__(self, view: DeviceView, snap: Snapshot, marks: list[Mark], window: float) -> None:
        super().__init__()
        translate_bindings(self)
        self.view, self.snap, self.marks, self.window = view, snap, marks, window

    def compose(self) -> ComposeResult:
        v, snap = self.view, self.snap
        bursts = device_bursts(v, snap)
        title = assemble(
            (_("device") + " ", "bold"), (v.label, "bold"), "  ", (v.name, ""), "  ",
            (i18n.term("verdict", v.verdict), LEVEL_STYLE.get(v.verdict, "")),
        )  # fmt: skip
        yield Static(title, id="device-title")
        with VerticalScroll(id="device-body"):
            yield self._section(_("identity"), identity(v))
            yield self._section(_("how the identity was established"), established(v))
            timeline = Timeline(id="device-timeline")
            timeline.set_data(bursts, self.marks, snap.capture_first, snap.capture_last)
            yield Static(_("off-site uploads over time, marks ▲"), classes="section-title")
            yield timeline
            verdict = walk_verdict(self.marks, bursts, self.window,
                                   (snap.capture_first, snap.capture_last))  # fmt: skip
            yield Static(Text(verdict), id="device-marks")
            yield self._section(_("destinations ({n})").format(n=len(v.conversations)),
                                destinations(v, snap))  # fmt: skip
            yield self._section(_("services"), services(v))
            yield self._section(_("timeline"), events(v, snap, self.marks))
        yield Footer()

    @staticmethod
    def _section(title: str, body: RenderableType) -> Static:
        s = Static(body, classes="section")
        s.border_title = title
        return s

    def action_close(self) -> None:
        self.dismiss(None)
