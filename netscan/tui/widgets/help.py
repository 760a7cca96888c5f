"""The help screen: what the views show and the keys that drive them."""

from __future__ import annotations

from pathlib import Path

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from netscan.i18n import N_, _
from netscan.tui.lang import translate_bindings

KEYS = [
    ("d f g w", N_("devices, findings, graph, walk-test marks")),
    ("enter", N_("open the selected device (devices table)")),
    ("/", N_("filter devices by text; role, vendor and level filters beside it")),
    ("s / r", N_("sort devices by the next column / reverse (or click a header)")),
    ("m", N_("mark this moment (walk test); uploads that follow are reported")),
    ("e", N_("export the report (HTML when available, else JSON)")),
    ("x", N_("export the selected finding's evidence frames (pcapng)")),
    (
        "o",
        N_(
            "override the selected device (role, name, manufacturer) or finding (status): "
            "case store"
        ),
    ),  # fmt: skip
    ("t", N_("switch between dark and light themes")),
    ("ctrl+p", N_("command palette")),
    ("?", N_("this help")),
    ("escape", N_("back / close")),
    ("q", N_("quit")),
]

ABOUT = N_(
    "netscan reads the capture in batches and fills the views in as it goes. Verdicts: "
    "confirmed / likely / possible come from findings (face data sent off-site); "
    "'off-site' means the device talks to off-site addresses without a finding; new devices "
    "(seen after the first view) are marked ● for 30 seconds."
)


class HelpScreen(ModalScreen[None]):
    CSS_PATH = Path(__file__).with_name("help.tcss")
    BINDINGS = [
        Binding("escape,q,question_mark", "dismiss", N_("Close")),
    ]

    def __init__(self) -> None:
        super().__init__()
        translate_bindings(self)

    def compose(self) -> ComposeResult:
        t = Table(box=None, show_header=False, expand=True)
        t.add_column(style="bold", no_wrap=True)
        t.add_column()
        for key, what in KEYS:
            t.add_row(key, _(what))
        with VerticalScroll(id="help-box") as box:
            box.border_title = _("netscan help")
            box.border_subtitle = _("escape to close")
            yield Static(t)
            yield Static(_(ABOUT), id="help-about")

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)
