"""ICMPv6 Router Advertisements (RFC 4861 section 4.2), for the premises inference.

One `RouterAdvertEvent` per Router Advertisement (type 134, code 0): the router lifetime,
the M flag, every Prefix Information option (type 3: "prefix/len" with its L and A flags;
the bits past the prefix length are cleared) and the Source Link-Layer Address option
(type 1, an Ethernet MAC). Other ICMPv6 messages give []. Options are walked in 8-byte
units; an option of length 0 or one running past the end stops the walk, keeping what
came before. At most ``MAX_PREFIXES`` prefixes are kept per message.
"""

from __future__ import annotations

import ipaddress

from netscan.events import Ctx, Event, RouterAdvertEvent

__all__ = ["MAX_PREFIXES", "parse", "ROUTER_ADVERTISEMENT"]

ROUTER_ADVERTISEMENT = 134
MAX_PREFIXES = 16


def parse(payload: bytes, ctx: Ctx) -> list[Event]:
    """The ICMPv6 message (from its type byte on)."""
    if len(payload) < 16 or payload[0] != ROUTER_ADVERTISEMENT or payload[1] != 0:
        return []
    ev = RouterAdvertEvent(
        ctx=ctx,
        managed=bool(payload[5] & 0x80),
        router_lifetime=int.from_bytes(payload[6:8], "big"),
    )
    off = 16
    n = len(payload)
    while off + 2 <= n:
        otype, olen = payload[off], payload[off + 1] * 8
        if olen == 0 or off + olen > n:
            break
        body = payload[off : off + olen]
        if otype == 1 and olen >= 8 and ev.router_mac is None:
            ev.router_mac = body[2:8].hex(":")
        elif otype == 3 and olen == 32 and len(ev.prefixes) < MAX_PREFIXES:
            plen = body[2]
            if plen <= 128:
                net = ipaddress.IPv6Network((body[16:32], plen), strict=False)
                ev.prefixes.append(str(net))
                ev.on_link.append(bool(body[3] & 0x80))
                ev.autonomous.append(bool(body[3] & 0x40))
        off += olen
    return [ev]
