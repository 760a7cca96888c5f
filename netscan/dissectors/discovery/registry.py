"""UDP port → datagram parser for the vendor discovery protocols.

The main dissector registry merges ``DISCOVERY_UDP_PARSERS`` into its own port table.
A parser is registered for every port its module lists in ``PORTS``; the pipeline calls
it when either the source or the destination port matches.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

from netscan.dissectors.discovery import dhip, sadp, xiongmai
from netscan.events import Ctx, Event

DatagramParser = Callable[[bytes, Ctx], list[Event]]

MODULES: tuple[ModuleType, ...] = (sadp, dhip, xiongmai)


def _build() -> dict[int, DatagramParser]:
    table: dict[int, DatagramParser] = {}
    for module in MODULES:
        for port in module.PORTS:
            if port in table:
                raise RuntimeError(f"UDP port {port} claimed by two vendor parsers")
            table[port] = module.parse
    return table


DISCOVERY_UDP_PARSERS: dict[int, DatagramParser] = _build()
