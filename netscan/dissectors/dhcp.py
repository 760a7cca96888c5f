"""DHCPv4 (RFC 2131/2132 on BOOTP, UDP 67/68).

One `DhcpEvent` per message that has the BOOTP fixed header and the DHCP magic cookie;
anything else gives []. Fields:

* `msg_type`: option 53 (0 when absent); `client_mac`: chaddr, `hlen` bytes (6 when
  `hlen` is 0 or larger than 16) as lower-case colon-separated hex; `your_ip`: yiaddr,
  None when 0.0.0.0.
* Options 12 (hostname) and 60 (vendor class) decoded as UTF-8 with replacement, NULs
  stripped, None when empty; 50 (requested IP, needs 4 bytes); 55 (list of codes); 61
  (hex of the whole option value, type byte included); 81 (client FQDN: the name after the flags and the
  two RCODE bytes, in DNS wire encoding when the E flag is set, else ASCII; either way
  the other encoding is tried when the announced one does not decode; trailing dot
  removed, case kept; None when empty).
* Repeated options are concatenated (RFC 3396). With option 52 (overload) the `file`
  and/or `sname` fields are read as further options.
* An option running past the end of the data ends option parsing; the options read
  before it are kept (fuzzed and truncated packets still give what they can).
"""

from __future__ import annotations

from netscan.events import Ctx, DhcpEvent, Event

__all__ = ["parse"]

_COOKIE = b"\x63\x82\x53\x63"
_OPTIONS_AT = 240


def _options(buf: bytes, off: int, end: int, out: dict[int, bytes]) -> None:
    """Add the options in buf[off:end] to `out`, concatenating repeated codes."""
    while off < end:
        code = buf[off]
        if code == 0:
            off += 1
            continue
        if code == 255 or off + 1 >= end:
            return
        start = off + 2
        off = start + buf[off + 1]
        if off > end:
            return
        prev = out.get(code)
        out[code] = buf[start:off] if prev is None else prev + buf[start:off]


def _text(value: bytes | None) -> str | None:
    if value is None:
        return None
    return value.decode("utf-8", "replace").strip("\x00") or None


def _ipv4(value: bytes) -> str:
    return f"{value[0]}.{value[1]}.{value[2]}.{value[3]}"


def _wire_name(data: bytes) -> str | None:
    """An uncompressed DNS wire-format name (the root label may be missing)."""
    labels: list[bytes] = []
    off = 0
    n = len(data)
    while off < n:
        length = data[off]
        if length == 0:
            if off + 1 != n:
                return None
            break
        if length >= 0x40 or off + 1 + length > n:
            return None
        labels.append(data[off + 1 : off + 1 + length])
        off += 1 + length
    return b".".join(labels).decode("utf-8", "replace")


def _ascii_name(data: bytes) -> str | None:
    text = data.rstrip(b"\x00").decode("utf-8", "replace")
    if any(ord(ch) < 0x20 for ch in text):
        return None
    return text


def _fqdn(value: bytes) -> str | None:
    if len(value) < 3:
        return None
    data = value[3:]
    if value[0] & 0x04:  # E: canonical wire format
        name = _wire_name(data)
        if name is None:
            name = _ascii_name(data)
    else:
        name = _ascii_name(data)
        if name is None:
            name = _wire_name(data)
    if name:
        name = name.rstrip(".")
    return name or None


def parse(payload: bytes, ctx: Ctx) -> list[Event]:
    if len(payload) < _OPTIONS_AT or payload[236:240] != _COOKIE:
        return []
    opts: dict[int, bytes] = {}
    _options(payload, _OPTIONS_AT, len(payload), opts)
    overload = opts.get(52)
    if overload:
        if overload[0] & 1:
            _options(payload, 108, 236, opts)
        if overload[0] & 2:
            _options(payload, 44, 108, opts)

    hlen = payload[2]
    if hlen == 0 or hlen > 16:
        hlen = 6
    yiaddr = payload[16:20]

    msg = opts.get(53)
    requested = opts.get(50)
    prl = opts.get(55)
    client_id = opts.get(61)
    fqdn = opts.get(81)
    return [
        DhcpEvent(
            ctx=ctx,
            msg_type=msg[0] if msg else 0,
            client_mac=payload[28 : 28 + hlen].hex(":"),
            your_ip=_ipv4(yiaddr) if yiaddr != b"\x00\x00\x00\x00" else None,
            hostname=_text(opts.get(12)),
            requested_ip=_ipv4(requested)
            if requested is not None and len(requested) == 4
            else None,
            param_request_list=list(prl) if prl else [],
            vendor_class=_text(opts.get(60)),
            client_id=client_id.hex() if client_id is not None else None,
            fqdn=_fqdn(fqdn) if fqdn is not None else None,
        )
    ]
