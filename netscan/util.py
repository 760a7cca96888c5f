"""Small helpers shared across netscan: file digests and UTC timestamps.

(Byte counts for people are ``netscan.i18n.size``: they are written the locale's way.)
"""

from __future__ import annotations

import hashlib
import ipaddress
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

CHUNK = 1 << 20


def sha256_file(path: str | Path) -> str:
    """The SHA-256 of a file's content, read a chunk at a time (hex)."""
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        while chunk := fh.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def input_digest(path: str | Path, *known: str | None) -> str:
    """The SHA-256 of a capture file for the report's chain of custody: the first digest
    already known (given, or hashed by the core as it read the file), else the file read
    for it (engines that do not hash what they read); "" when it cannot be read any more."""
    for digest in known:
        if digest:
            return digest
    try:
        return sha256_file(path)
    except OSError:
        return ""


def iso_utc(ts: float | None, timespec: str = "auto") -> str | None:
    """A POSIX timestamp as ISO 8601 in UTC with a ``Z`` (None for None, and for a capture's
    clock beyond the years 1..9999)."""
    if ts is None:
        return None
    try:
        return datetime.fromtimestamp(ts, UTC).isoformat(timespec=timespec).replace("+00:00", "Z")
    except (ValueError, OverflowError, OSError):
        return None


def now_iso(timespec: str = "seconds") -> str:
    """The current time as ISO 8601 in UTC with a ``Z``."""
    return datetime.now(UTC).isoformat(timespec=timespec).replace("+00:00", "Z")


def parse_iso(value: Any) -> float | None:
    """An ISO 8601 time (``Z`` or an offset) as a POSIX timestamp; None if it is not one."""
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except (ValueError, OverflowError, OSError):
        return None


def packed_ip(text: str) -> bytes | None:
    """The address in ``text`` as 4 or 16 bytes, None when it is none. The C parser reads
    the strict text forms (dotted quad, RFC 4291 text) ten times faster than ``ipaddress``,
    which takes the rest (a zone index, say)."""
    try:
        return socket.inet_pton(socket.AF_INET6 if ":" in text else socket.AF_INET, text)
    except (OSError, ValueError):
        try:
            return ipaddress.ip_address(text).packed
        except ValueError:
            return None
