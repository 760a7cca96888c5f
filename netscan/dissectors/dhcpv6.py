"""DHCPv6 (RFC 8415, UDP 546/547).

One `Dhcpv6Event` per client/server message:

* `msg_type`: the first byte (1 Solicit, 2 Advertise, 3 Request, ..., 11
  Information-request).
* `duid`: option 1 (Client Identifier), lower-case hex of the whole DUID.
* Option 16 (Vendor Class): `enterprise` is the enterprise number; `vendor_class` is
  "<enterprise>:<data>" where <data> are the vendor-class-data strings decoded as UTF-8
  with replacement and joined by "," (e.g. "311:MSFT 5.0").
* `fqdn`: option 39 (Client FQDN), the DNS wire-encoded name after the flags byte
  (a partial name without the root label is accepted), trailing dot removed, case kept.

Relay-forward/relay-reply messages (12, 13) give []: their inner client message would
be attributed to the relay's addresses. A message shorter than its 4-byte header gives
[]; an option running past the end stops option parsing, keeping what came before.
"""

from __future__ import annotations

from netscan.events import Ctx, Dhcpv6Event, Event

__all__ = ["parse"]

_RELAY_TYPES = (12, 13)


def _wire_name(data: bytes) -> str | None:
    labels: list[bytes] = []
    off = 0
    n = len(data)
    while off < n:
        length = data[off]
        if length == 0:
            break
        if length >= 0x40 or off + 1 + length > n:
            return None
        labels.append(data[off + 1 : off + 1 + length])
        off += 1 + length
    return b".".join(labels).decode("utf-8", "replace").rstrip(".") or None


def _vendor_class(value: bytes) -> tuple[int, str] | None:
    if len(value) < 4:
        return None
    enterprise = int.from_bytes(value[:4], "big")
    parts: list[str] = []
    off = 4
    n = len(value)
    while off + 2 <= n:
        start = off + 2
        off = start + int.from_bytes(value[off:start], "big")
        if off > n:
            break
        parts.append(value[start:off].decode("utf-8", "replace"))
    return enterprise, f"{enterprise}:{','.join(parts)}"


def parse(payload: bytes, ctx: Ctx) -> list[Event]:
    if len(payload) < 4 or payload[0] in _RELAY_TYPES or payload[0] == 0:
        return []
    event = Dhcpv6Event(ctx=ctx, msg_type=payload[0])
    off = 4
    n = len(payload)
    while off + 4 <= n:
        code = (payload[off] << 8) | payload[off + 1]
        start = off + 4
        off = start + ((payload[off + 2] << 8) | payload[off + 3])
        if off > n:
            break
        if code == 1:
            event.duid = payload[start:off].hex()
        elif code == 16:
            vendor = _vendor_class(payload[start:off])
            if vendor is not None:
                event.enterprise, event.vendor_class = vendor
        elif code == 39 and off > start:
            event.fqdn = _wire_name(payload[start + 1 : off])
    return [event]
