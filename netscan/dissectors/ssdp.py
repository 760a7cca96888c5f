"""SSDP (UPnP discovery, UDP 1900): NOTIFY, M-SEARCH and their HTTP/1.1 2xx responses.

Header values have runs of white space collapsed to one space, so SERVER strings compare
the same whatever padding a device uses ("Linux,    UPnP/1.0" -> "Linux, UPnP/1.0").
"""

from __future__ import annotations

from netscan.dissectors import _text
from netscan.events import Ctx, Event, SsdpEvent

VERSIONS = ("HTTP/",)
METHODS = ("NOTIFY", "M-SEARCH")


def _value(value: str | None) -> str | None:
    if value is None:
        return None
    return " ".join(value.split())


def parse(payload: bytes, ctx: Ctx) -> list[Event]:
    try:
        if not _text.plausible_start(payload.lstrip(b"\r\n")[: _text.MAX_TOKEN + 1]):
            return []
        split = _text.split_message(payload, VERSIONS)
        if split is None:
            return []
        head = split[0]
        if head.is_response:
            if not 200 <= head.status < 300:
                return []
            method = "RESPONSE"
            nt = head.get("st")
        else:
            method = head.method.upper()
            if method not in METHODS:
                return []
            nt = head.get("nt") if method == "NOTIFY" else head.get("st")
        return [
            SsdpEvent(
                ctx=ctx,
                method=method,
                server=_value(head.get("server")),
                usn=_value(head.get("usn")),
                nt=_value(nt),
                nts=_value(head.get("nts")),
                location=_value(head.get("location")),
                user_agent=_value(head.get("user-agent")),
            )
        ]
    except Exception:  # never let a parsing problem escape
        return []
