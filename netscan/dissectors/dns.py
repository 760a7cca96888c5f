"""DNS wire format (RFC 1035) as used by unicast DNS, mDNS (RFC 6762) and LLMNR (RFC 4795).

One `DnsEvent` per message. Output conventions:

* Names are lower-case, without the trailing dot, labels decoded as UTF-8 with
  replacement characters; the root name is "".
* Record types: "A", "AAAA", "CNAME", "PTR", "SRV", "TXT"; every other type (queries
  included, e.g. ANY) is "TYPE<n>".
* `answers` holds the answer and additional sections; authority records (mDNS probes put
  their proposed records there) are skipped.
* Record values: dotted quad / RFC 5952 IPv6 text; target names for CNAME and PTR;
  "prio weight port target" for SRV; the TXT character-strings decoded as UTF-8 and
  joined by "\\n" (mDNS key=value pairs often contain ";" or ",", never a newline in
  practice); lower-case hex of the RDATA for other types.
* The mDNS cache-flush / unicast-response bit in the class field is ignored.
* A record whose RDATA does not fit its type (an A record of 5 bytes, a TXT string
  running past RDLENGTH) is dropped; parsing goes on with the next record.
* A message that breaks off or is malformed keeps what was parsed before the fault; if
  nothing was, or the header is incomplete, the result is [].
"""

from __future__ import annotations

import struct
from socket import AF_INET6, inet_ntop

from netscan.events import Ctx, DnsEvent, DnsRecord, Event

__all__ = ["parse", "parse_mdns", "parse_llmnr", "read_name", "type_name"]

_HEADER = struct.Struct(">HHHHHH")
_RR = struct.Struct(">HHIH")  # type, class, ttl, rdlength
_QTAIL = struct.Struct(">HH")  # qtype, qclass
_SRV = struct.Struct(">HHH")

_MAX_NAME = 255  # RFC 1035 limit on the wire length of a name

_TYPE_NAMES: dict[int, str] = {1: "A", 5: "CNAME", 12: "PTR", 16: "TXT", 28: "AAAA", 33: "SRV"}

_ERRORS = (IndexError, ValueError, struct.error)


class _Malformed(ValueError):
    pass


def type_name(rtype: int) -> str:
    """Type mnemonic for the types this module decodes, else "TYPE<n>"."""
    name = _TYPE_NAMES.get(rtype)
    return name if name is not None else f"TYPE{rtype}"


def read_name(
    buf: bytes, off: int, cache: dict[int, tuple[str, int]] | None = None
) -> tuple[str, int]:
    """Decode the (possibly compressed) name at `off`; return it and the offset after it.

    Compression pointers must point strictly before the pointer itself, and the labels
    read may not exceed 255 bytes in total; together these end every pointer loop.
    `cache` (one dict per message) remembers decoded names by offset so that repeated
    pointers to the same name are decoded once. Raises ValueError or IndexError on
    malformed input.
    """
    start0 = off
    labels: list[bytes] = []
    jumps: list[tuple[int, int, int]] = []  # (target, labels before, wire length before)
    suffix = ""
    end = -1
    total = 0
    n = len(buf)
    while True:
        length = buf[off]
        if length == 0:
            off += 1
            break
        if length < 0x40:
            start = off + 1
            off = start + length
            total += length + 1
            if off > n or total > _MAX_NAME:
                raise _Malformed("label")
            labels.append(buf[start:off])
        elif length >= 0xC0:
            ptr = ((length & 0x3F) << 8) | buf[off + 1]
            if ptr >= off:
                raise _Malformed("pointer")
            if end < 0:
                end = off + 2
            if cache is not None:
                hit = cache.get(ptr)
                if hit is not None:
                    suffix = hit[0]
                    total += hit[1]
                    if total > _MAX_NAME:
                        raise _Malformed("name length")
                    break
                jumps.append((ptr, len(labels), total))
            off = ptr
        else:
            raise _Malformed("label type")
    if end < 0:
        end = off
    if labels:
        name = b".".join(labels).decode("utf-8", "replace").lower()
        if suffix:
            name = f"{name}.{suffix}"
    else:
        name = suffix
    if cache is not None:
        cache[start0] = (name, total)
        for ptr, before, wire in jumps:
            rest = b".".join(labels[before:]).decode("utf-8", "replace").lower()
            if suffix:
                rest = f"{rest}.{suffix}" if rest else suffix
            cache[ptr] = (rest, total - wire)
    return name, end


def _rdata(
    buf: bytes, rtype: int, start: int, end: int, cache: dict[int, tuple[str, int]]
) -> str | None:
    """Display value of one record's RDATA, or None when it does not fit the type."""
    if rtype == 1:
        if end - start != 4:
            return None
        return f"{buf[start]}.{buf[start + 1]}.{buf[start + 2]}.{buf[start + 3]}"
    if rtype == 28:
        if end - start != 16:
            return None
        return inet_ntop(AF_INET6, buf[start:end])
    if rtype == 12 or rtype == 5:
        name, after = read_name(buf, start, cache)
        return name if after <= end else None
    if rtype == 16:
        parts: list[str] = []
        off = start
        while off < end:
            stop = off + 1 + buf[off]
            if stop > end:
                return None
            parts.append(buf[off + 1 : stop].decode("utf-8", "replace"))
            off = stop
        return "\n".join(parts)
    if rtype == 33:
        if end - start < 7:
            return None
        prio, weight, port = _SRV.unpack_from(buf, start)
        target, after = read_name(buf, start + 6, cache)
        if after > end:
            return None
        return f"{prio} {weight} {port} {target}"
    return buf[start:end].hex()


def parse(payload: bytes, ctx: Ctx, proto: str = "dns") -> list[Event]:
    """Parse one DNS-format message; `proto` is "dns", "mdns" or "llmnr"."""
    if len(payload) < 12:
        return []
    _id, flags, qdcount, ancount, nscount, arcount = _HEADER.unpack_from(payload, 0)
    queries: list[tuple[str, str]] = []
    answers: list[DnsRecord] = []
    cache: dict[int, tuple[str, int]] = {}
    parsed = 0
    off = 12
    n = len(payload)
    try:
        for _ in range(qdcount):
            name, off = read_name(payload, off, cache)
            qtype = _QTAIL.unpack_from(payload, off)[0]
            off += 4
            queries.append((name, type_name(qtype)))
            parsed += 1
        for section, count in ((0, ancount), (1, nscount), (2, arcount)):
            for _ in range(count):
                name, off = read_name(payload, off, cache)
                rtype, _rclass, ttl, rdlen = _RR.unpack_from(payload, off)
                start = off + 10
                off = start + rdlen
                if off > n:
                    raise _Malformed("rdata")
                parsed += 1
                if section == 1:
                    continue
                try:
                    value = _rdata(payload, rtype, start, off, cache)
                except _ERRORS:
                    value = None
                if value is not None:
                    answers.append(
                        DnsRecord(name=name, rtype=type_name(rtype), value=value, ttl=ttl)
                    )
    except _ERRORS:
        if not parsed:
            return []
    return [
        DnsEvent(
            ctx=ctx,
            proto=proto,
            is_response=bool(flags & 0x8000),
            rcode=flags & 0x000F,
            queries=queries,
            answers=answers,
        )
    ]


def parse_mdns(payload: bytes, ctx: Ctx) -> list[Event]:
    """Multicast DNS (UDP 5353)."""
    return parse(payload, ctx, "mdns")


def parse_llmnr(payload: bytes, ctx: Ctx) -> list[Event]:
    """Link-Local Multicast Name Resolution (UDP 5355)."""
    return parse(payload, ctx, "llmnr")


class DnsTcpStream:
    """DNS over TCP (RFC 1035 4.2.2): each message is preceded by its two-byte length.

    Zone transfers and large answers can run long: after ``max_messages`` messages, or a
    length no DNS message can have, the stream is left alone.
    """

    def __init__(self, max_messages: int = 200) -> None:
        self._buf = {True: b"", False: b""}
        self._max = max_messages
        self._count = 0
        self.done = False

    def feed(self, data: bytes, ctx: Ctx, from_client: bool) -> list[Event]:
        if self.done:
            return []
        buf = self._buf[from_client] + data
        out: list[Event] = []
        while len(buf) >= 2:
            size = (buf[0] << 8) | buf[1]
            if size < 12:  # shorter than a DNS header: not DNS after all
                self.done = True
                return out
            if len(buf) < 2 + size:
                break
            out.extend(parse(buf[2 : 2 + size], ctx))
            buf = buf[2 + size :]
            self._count += 1
            if self._count >= self._max:
                self.done = True
                break
        self._buf[from_client] = buf if len(buf) <= 65537 else b""
        return out

    def close(self, ctx: Ctx) -> list[Event]:
        return []
