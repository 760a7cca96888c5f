"""NTP (RFC 5905, UDP 123): version, mode and stratum from the first two bytes.

Modes 1-5 need the 48-byte header; control (6) and private (7) messages need 12 and 4
bytes and report stratum 0 (their second byte is an opcode). Versions other than 1-4
give [] (random traffic on port 123 then rarely passes for NTP).
"""

from __future__ import annotations

from netscan.events import Ctx, Event, NtpEvent

__all__ = ["parse"]

_MIN_LEN = (48, 48, 48, 48, 48, 48, 12, 4)  # by mode


def parse(payload: bytes, ctx: Ctx) -> list[Event]:
    if len(payload) < 4:
        return []
    first = payload[0]
    version = (first >> 3) & 0x07
    mode = first & 0x07
    if not 1 <= version <= 4 or len(payload) < _MIN_LEN[mode]:
        return []
    return [NtpEvent(ctx=ctx, version=version, mode=mode, stratum=payload[1] if mode < 6 else 0)]
