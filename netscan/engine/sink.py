"""What the engines feed (the ``Sink`` the inventory implements) and the facts both
engines build the same way (the core's replay and the tshark engine)."""

from __future__ import annotations

import socket
from typing import Protocol

from netscan.events import ArpEvent, Ctx, Event
from netscan.flow import Flow


class Sink(Protocol):
    """What the engines feed: the inventory implements this."""

    def on_flow(self, flow: Flow) -> None: ...

    def on_event(self, event: Event, flow: Flow | None) -> None: ...

    def on_frame_l2(self, file: int, frame: int, ts: float, src: bytes, wirelen: int) -> None: ...


def response_prefixes(sink: object) -> tuple[str, ...]:
    """The request paths whose HTTP responses the engines keep for content analysis: those
    of the sink's signature pack (``Pack.response_prefixes``), none for a sink without one."""
    pack = getattr(getattr(sink, "matcher", None), "pack", None)
    return tuple(pack.response_prefixes) if pack is not None else ()


def arp_event(
    file: int, frame: int, ts: float, op: int, sha: bytes, spa: bytes, tha: bytes, tpa: bytes
) -> ArpEvent:
    """The ARP fact of one Ethernet/IPv4 request or reply (every engine builds it here)."""
    mac = sha.hex(":")
    return ArpEvent(
        ctx=Ctx(file, frame, ts, mac, None, None, None, 0, 0, ""),
        op=op,
        sender_mac=mac,
        sender_ip=socket.inet_ntoa(spa),
        target_mac=tha.hex(":"),
        target_ip=socket.inet_ntoa(tpa),
    )
