"""Small helpers shared by the vendor discovery parsers.

Everything here is defensive: inputs come straight off the wire, so every helper
returns ``None`` (or drops the value) rather than raising on odd input, and every
string that ends up in an event is length-capped.
"""

from __future__ import annotations

import ipaddress
import json
import re
from typing import Any

# A UDP datagram cannot be larger than this; anything bigger is not a datagram we parse.
MAX_DATAGRAM = 65535
# Longest string value kept in an event field.
MAX_TEXT = 256

_MAC_HEX = re.compile(r"[0-9A-Fa-f]{12}")


def clean_text(value: object, limit: int = MAX_TEXT) -> str | None:
    """A printable, stripped, length-capped string, or None when empty or not a scalar."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        value = str(value)
    if not isinstance(value, str):
        return None
    text = "".join(ch for ch in value if ch.isprintable()).strip()
    if not text:
        return None
    return text[:limit]


def normalize_mac(value: object) -> str | None:
    """``aa:bb:cc:dd:ee:ff`` from the usual spellings (``:``, ``-``, ``.``, bare hex)."""
    text = clean_text(value, 64)
    if text is None:
        return None
    bare = re.sub(r"[\s:.\-]", "", text)
    if not _MAC_HEX.fullmatch(bare):
        return None
    bare = bare.lower()
    return ":".join(bare[i : i + 2] for i in range(0, 12, 2))


def normalize_ipv4(value: object) -> str | None:
    """A dotted-quad IPv4 address, or None."""
    text = clean_text(value, 64)
    if text is None:
        return None
    try:
        return str(ipaddress.IPv4Address(text))
    except ValueError:
        return None


def normalize_ipv6(value: object) -> str | None:
    """An IPv6 address (an optional ``/prefix`` suffix is dropped), or None."""
    text = clean_text(value, 80)
    if text is None:
        return None
    text = text.split("/", 1)[0].split("%", 1)[0]
    try:
        return str(ipaddress.IPv6Address(text))
    except ValueError:
        return None


def to_port(value: object) -> int | None:
    """A TCP/UDP port number (1..65535) from an int or a decimal string, or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        value = value.strip()
        if not value.isdigit() or len(value) > 5:
            return None
        value = int(value)
    if isinstance(value, int) and 0 < value < 65536:
        return value
    return None


def to_int(value: object, limit: int = 1 << 31) -> int | None:
    """A small non-negative int from an int or a decimal string, or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        value = value.strip()
        if not value.isdigit() or len(value) > 10:
            return None
        value = int(value)
    if isinstance(value, int) and 0 <= value < limit:
        return value
    return None


def to_bool(value: object) -> bool | None:
    """True/False from a JSON bool, 0/1, or the words true/false/yes/no."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value != 0 if value in (0, 1) else None
    if isinstance(value, str):
        word = value.strip().lower()
        if word in ("true", "yes", "1", "on"):
            return True
        if word in ("false", "no", "0", "off"):
            return False
    return None


def load_json_object(data: bytes, limit: int = MAX_DATAGRAM) -> dict[str, Any] | None:
    """Decode a size-capped JSON object; trailing NULs and whitespace are ignored.

    Returns None for anything that is not a JSON object (arrays, scalars, bad UTF-8,
    syntax errors, nesting deep enough to exhaust the recursion limit).
    """
    if len(data) > limit:
        return None
    data = data.rstrip(b"\x00\r\n\t ")
    if not data.lstrip().startswith(b"{"):
        return None
    try:
        obj = json.loads(data.decode("utf-8", errors="strict"))
    except (ValueError, RecursionError):
        return None
    return obj if isinstance(obj, dict) else None


def put(fields: dict[str, Any], key: str, value: object) -> None:
    """Store ``value`` under ``key`` unless it is None (keeps the field dicts sparse)."""
    if value is not None:
        fields[key] = value
