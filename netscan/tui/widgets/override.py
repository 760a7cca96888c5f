"""A dialog recording an analyst override in the case store: a device's role, name or
manufacturer, or a finding's status, with who and why."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label

from netscan import i18n
from netscan.i18n import N_, _
from netscan.tui.lang import translate_bindings
from netscan.untrusted import display

DEVICE_FIELDS = ("role", "name", "manufacturer")
STATUSES = ("accepted", "disputed", "resolved")


class OverrideScreen(ModalScreen[dict[str, Any] | None]):
    """Returns {"sets": [(field, value), ...], "by": ..., "why": ...}, or None when cancelled.
    Enter in any field submits; blank fields are left as the traffic said."""

    CSS_PATH = Path(__file__).with_name("export.tcss")
    BINDINGS = [Binding("escape", "cancel", N_("Cancel"))]

    def __init__(self, kind: str, target: str, label: str, analyst: str = "") -> None:
        super().__init__()
        translate_bindings(self)
        self.kind, self.target, self.label, self.analyst = kind, target, label, analyst

    def compose(self) -> ComposeResult:
        with Vertical(id="export-box") as box:
            # the label holds the device's own names: plain text, never markup
            box.border_title = Text(
                _("override {kind} {target}").format(
                    kind=i18n.term("kind", self.kind), target=display(self.target, 40)
                )
            )
            yield Label(Text(display(self.label, 100)), id="ov-label")
            if self.kind == "device":
                for f in DEVICE_FIELDS:
                    yield Input(placeholder=_("{field} (blank: unchanged)").format(field=f),
                                id=f"ov-{f}")  # fmt: skip
            else:
                yield Input(placeholder=_("status: accepted, disputed or resolved"),
                            id="ov-status")  # fmt: skip
            yield Input(self.analyst, placeholder=_("by (analyst name)"), id="ov-by")
            yield Input(placeholder=_("why"), id="ov-why")
            yield Label("", id="ov-error")

    def _value(self, name: str) -> str:
        return self.query_one(f"#ov-{name}", Input).value.strip()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        fields = DEVICE_FIELDS if self.kind == "device" else ("status",)
        sets = [(f, self._value(f)) for f in fields if self._value(f)]
        error = ""
        if not sets:
            error = _("fill in at least one field")
        elif self.kind == "finding" and sets[0][1] not in STATUSES:
            error = _("status is accepted, disputed or resolved")
        elif not self._value("by"):
            error = _("say who makes the override")
        if error:
            self.query_one("#ov-error", Label).update(error)
            return
        self.dismiss({"sets": sets, "by": self._value("by"), "why": self._value("why")})

    def action_cancel(self) -> None:
        self.dismiss(None)
