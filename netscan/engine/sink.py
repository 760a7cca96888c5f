"""What the engines feed (the ``Sink`` the inventory implements) and the facts both
engines build the same way (the core's replay and the tshark engine)."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any, Protocol

from netscan.events import ArpEvent, Ctx, Event
from netscan.flow import Flow

FlowEnd = Callable[[Flow], None]
SealRows = Callable[[list[tuple[Any, ...]], dict[int, Flow]], None]
AppsOf = Callable[[tuple[int, ...], bool], frozenset[str]]
SealGroups = Callable[[Any, dict[int, Flow], AppsOf], bool]


class Sink(Protocol):
    """What the engines feed: the inventory implements this (``netscan.analyze.SinkLog`` in
    front of it too).

    Every sink takes ``on_flow``, ``on_event`` and ``on_frame_l2``. The optional
    capabilities are attributes that are None when a sink lacks them (an engine tests them
    for None, it never probes for a name):

    * ``on_flow_end(flow)``: a flow retired from a full flow table (its totals are folded
      into its conversation at once);
    * ``seal_flow(flow)``: at the end of the input, one live flow with its final counters,
      handed over when ``sealing()`` says the sink folds the live flows (``sealing`` is
      asked only of a sink with ``seal_flow``);
    * ``seal_rows(rows, flows)``: ``seal_flow`` for a piece of the core's final counter
      rows, in one call;
    * ``seal_groups(core, flows, apps_of)``: ``seal_flow`` for every live flow at once,
      from the core's sums per conversation; False when it did not (the engine then seals
      row by row).

    ``PlainSink`` is a base for sinks with none of them."""

    @property
    def on_flow_end(self) -> FlowEnd | None: ...

    @property
    def seal_flow(self) -> FlowEnd | None: ...

    @property
    def seal_rows(self) -> SealRows | None: ...

    @property
    def seal_groups(self) -> SealGroups | None: ...

    def on_flow(self, flow: Flow) -> None: ...

    def on_event(self, event: Event, flow: Flow | None) -> None: ...

    def on_frame_l2(self, file: int, frame: int, ts: float, src: bytes, wirelen: int) -> None: ...

    def sealing(self) -> bool: ...


class PlainSink:
    """A sink without the optional capabilities of ``Sink`` (tests and tools): a subclass
    implements ``on_flow``, ``on_event`` and ``on_frame_l2``."""

    on_flow_end: FlowEnd | None = None
    seal_flow: FlowEnd | None = None
    seal_rows: SealRows | None = None
    seal_groups: SealGroups | None = None

    def sealing(self) -> bool:
        return False


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
