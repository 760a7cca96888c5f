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
* `addresses`: the IA Address options (5) inside IA_NA (3) and IA_TA (4); `prefixes`:
  the IA Prefix options (26, "prefix/len", bits past the length cleared) inside IA_PD
  (25). At most 16 of each per message, in order; a malformed inner option ends that IA.

Relay-forward/relay-reply messages (12, 13) give []: their inner client message would
be attributed to the relay's addresses. A message shorter than its 4-byte header gives
[]; an option running past the end stops option parsing, keeping what came before.
"""

from __future__ import annotations

import ipaddress

from netscan.events import Ctx, Dhcpv6Event, Event

__all__ = ["parse"]

_RELAY_TYPES = (12, 13)
_MAX_IA = 16
# the IA option, the offset of its inner options, and the inner option it carries
_IA = {3: (12, 5), 4: (4, 5), 25: (12, 26)}


def _ia(event: Dhcpv6Event, code: int, value: bytes) -> None:
    skip, inner = _IA[code]
    off = skip
    n = len(value)
    while off + 4 <= n:
        icode = (value[off] << 8) | value[off + 1]
        start = off + 4
        off = start + ((value[off + 2] << 8) | value[off + 3])
        if off > n:
            return
        if icode != inner:
            continue
        if inner == 5 and off - start >= 24 and len(event.addresses) < _MAX_IA:
            event.addresses.append(str(ipaddress.IPv6Address(value[start : start + 16])))
        elif inner == 26 and off - start >= 25 and len(event.prefixes) < _MAX_IA:
            plen = value[start + 8]
            if plen <= 128:
                raw = value[start + 9 : start + 25]
                event.prefixes.append(str(ipaddress.IPv6Network((raw, plen), strict=False)))


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
        elif code in _IA:
            _ia(event, code, payload[start:off])
    return [event]
