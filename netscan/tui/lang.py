"""The TUI's words in its language: key bindings are declared once per class (marked with
``N_``) and shown translated, per instance, in the language the app runs in."""

from __future__ import annotations

import dataclasses

from textual.dom import DOMNode

from netscan.i18n import _


def translate_bindings(node: DOMNode) -> None:
    """Replace the descriptions of ``node``'s key bindings by their translations (in the
    current language: the app sets it for its own tasks)."""
    table = node._bindings.key_to_bindings
    for key, bindings in table.items():
        table[key] = [
            dataclasses.replace(b, description=_(b.description)) if b.description else b
            for b in bindings
        ]
