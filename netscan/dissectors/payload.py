"""Payload heads for the signature pack's content markers on ports no dissector claims.

The pack names ports for some of its content markers (a vendor's P2P probe on UDP 8800,
``Matcher.marker_ports``); the engines hand the first datagrams of those ports' flows here
(the core at most ``MAX_PROBE_DATAGRAMS`` per flow, each cut to ``PROBE_HEAD`` bytes, and
counts the rest). One ``PayloadEvent`` per datagram carries the bounded head; the matcher
scans it with the same marker scan as HTTP bodies.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from netscan.events import Ctx, Event, PayloadEvent

PROBE_HEAD = 2048  # bytes of a datagram handed over (the core cuts at the same bound)
MAX_PROBE_DATAGRAMS = 8  # datagrams of one flow handed over (the core's bound)
NAME = "payload"  # the parser's name; the core bounds the parser of this name


def parser(ports: Iterable[int]) -> Callable[[bytes, Ctx], list[Event]]:
    """A datagram parser for the given pack-named ports."""
    named = frozenset(ports)

    def parse(data: bytes, ctx: Ctx) -> list[Event]:
        if not data:
            return []
        to_port = ctx.dport in named or ctx.sport not in named
        return [
            PayloadEvent(
                ctx=ctx,
                transport=ctx.transport or "udp",
                port=ctx.dport if to_port else ctx.sport,
                direction="to-port" if to_port else "from-port",
                head=bytes(data[:PROBE_HEAD]),
            )
        ]

    parse.__module__ = __name__
    return parse
