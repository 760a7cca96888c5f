"""A small dialog asking where to write an export."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label

from netscan.i18n import N_, _
from netscan.tui.lang import translate_bindings


class ExportScreen(ModalScreen[str | None]):
    """Returns the chosen path, or None when cancelled."""

    CSS_PATH = Path(__file__).with_name("export.tcss")
    BINDINGS = [Binding("escape", "cancel", N_("Cancel"))]

    def __init__(self, title: str, default: str) -> None:
        super().__init__()
        translate_bindings(self)
        self.title_text = title
        self.default = default

    def compose(self) -> ComposeResult:
        with Vertical(id="export-box") as box:
            box.border_title = self.title_text
            yield Label(_("Write to (enter to confirm, escape to cancel):"))
            yield Input(self.default, id="export-path")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        value = event.value.strip()
        self.dismiss(value or None)

    def action_cancel(self) -> None:
        self.dismiss(None)
