"""NetBIOS Name Service (RFC 1002, UDP 137).

One `NbnsEvent` per message:

* `name` / `suffix`: the NetBIOS name of the question, or of the first resource record
  when there is no question (responses). The first-level encoding (two letters "A".."P"
  per byte) is undone; the 16th byte is the suffix; trailing spaces and NULs are
  stripped from the 15-byte name (the wildcard name becomes "*"). Bytes are decoded as
  Latin-1, so that no byte is lost. A NetBIOS scope, if present, is skipped.
* `opcode`: 0 query, 5 registration, 6 release, 7 WACK, 8/9 refresh, 15 multi-homed
  registration; `is_response`: the R bit.
* `addresses`: IPv4 addresses from every NB record (answer, authority and additional
  sections: responses carry them in the answer, registrations in the additional
  record). Node status (NBSTAT) records give no addresses.

A message whose name is not properly first-level encoded gives [].
"""

from __future__ import annotations

import struct

from netscan.events import Ctx, Event, NbnsEvent

__all__ = ["parse"]

_HEADER = struct.Struct(">HHHHHH")
_RR = struct.Struct(">HHIH")  # type, class, ttl, rdlength
_NB = 0x0020

# Maps the encoding letters "A".."P" to hex digits and any other byte to "g", which
# makes bytes.fromhex fail.
_UNHEX = bytes(b"g" * 0x41 + b"0123456789abcdef" + b"g" * (256 - 0x51))

_ERRORS = (IndexError, ValueError, struct.error)


def _skip_labels(buf: bytes, off: int) -> int:
    """Offset after the scope labels and the terminating zero starting at `off`."""
    while True:
        length = buf[off]
        if length == 0:
            return off + 1
        if length >= 0x40:
            raise ValueError("label type")
        off += 1 + length


def _read_nb_name(buf: bytes, off: int, follow: bool = True) -> tuple[bytes, int]:
    """The 16 decoded bytes of the name at `off` and the offset after the name.

    A record name may be a compression pointer to an earlier, uncompressed name (the
    question); pointers to pointers are refused.
    """
    first = buf[off]
    if first >= 0xC0:
        ptr = ((first & 0x3F) << 8) | buf[off + 1]
        if not follow or ptr >= off:
            raise ValueError("pointer")
        raw, _ = _read_nb_name(buf, ptr, False)
        return raw, off + 2
    if first != 32 or off + 33 > len(buf):
        raise ValueError("not a NetBIOS name")
    raw = bytes.fromhex(buf[off + 1 : off + 33].translate(_UNHEX).decode("ascii"))
    return raw, _skip_labels(buf, off + 33)


def parse(payload: bytes, ctx: Ctx) -> list[Event]:
    if len(payload) < 12:
        return []
    _tid, flags, qdcount, ancount, nscount, arcount = _HEADER.unpack_from(payload, 0)
    raw: bytes | None = None
    addresses: list[str] = []
    off = 12
    n = len(payload)
    try:
        for _ in range(qdcount):
            qname, off = _read_nb_name(payload, off)
            off += 4  # type, class
            if raw is None:
                raw = qname
        if off > n:
            raise ValueError("question")
        for _ in range(ancount + nscount + arcount):
            rname, off = _read_nb_name(payload, off)
            if raw is None:
                raw = rname
            rtype, _rclass, _ttl, rdlen = _RR.unpack_from(payload, off)
            start = off + 10
            off = start + rdlen
            if off > n:
                raise ValueError("rdata")
            if rtype == _NB and rdlen % 6 == 0:
                for i in range(start + 2, off, 6):
                    addresses.append(
                        f"{payload[i]}.{payload[i + 1]}.{payload[i + 2]}.{payload[i + 3]}"
                    )
    except _ERRORS:
        pass
    if raw is None:
        return []
    return [
        NbnsEvent(
            ctx=ctx,
            is_response=bool(flags & 0x8000),
            opcode=(flags >> 11) & 0x0F,
            name=raw[:15].decode("latin-1").rstrip(" \x00"),
            suffix=raw[15],
            addresses=addresses,
        )
    ]
