"""SIP (RFC 3261) over UDP (``parse``) and TCP (``SipStream``).

Each message gives a ``SipEvent``: request method (or, for responses, the CSeq method),
status, request URI, the bare URIs of From and To, User-Agent, Server, Content-Type and
the first 4 KB of the body (GB/T 28181 devices carry MANSCDP XML there). Compact header
names (``f``, ``t``, ``c``, ``l``, ``v``, ...) are expanded.

The packet core runs its Rust ports of both (``src/dissect/sip.rs``); this module is the
reference they are parity-tested against (tests/dissectors/test_rust_parity*.py).
"""

from __future__ import annotations

from netscan.dissectors import _text
from netscan.dissectors._text import BodyMode, Framer, Head
from netscan.events import Ctx, Event, SipEvent

VERSIONS = ("SIP/",)
BODY_CAP = 4096
DEFAULT_MAX_MESSAGES = 100

# RFC 3261 section 7.3.3 and later extensions
COMPACT_NAMES = {
    "a": "accept-contact",
    "b": "referred-by",
    "c": "content-type",
    "d": "request-disposition",
    "e": "content-encoding",
    "f": "from",
    "i": "call-id",
    "j": "reject-contact",
    "k": "supported",
    "l": "content-length",
    "m": "contact",
    "n": "identity-info",
    "o": "event",
    "r": "refer-to",
    "s": "subject",
    "t": "to",
    "u": "allow-events",
    "v": "via",
    "x": "session-expires",
    "y": "identity",
}


def address_uri(value: str | None) -> str:
    """The URI of a From/To/Contact value, without display name, brackets or header params."""
    if not value:
        return ""
    value = value.strip()
    lt = value.find("<")
    if lt >= 0:
        gt = value.find(">", lt + 1)
        return (value[lt + 1 : gt] if gt > 0 else value[lt + 1 :]).strip()
    # no angle brackets: parameters after ";" belong to the header, not the URI
    return value.split(";", 1)[0].strip()


def _cseq_method(head: Head) -> str:
    parts = (head.get("cseq") or "").split()
    return parts[1] if len(parts) >= 2 else ""


def make_event(head: Head, body: bytes, ctx: Ctx) -> SipEvent:
    return SipEvent(
        ctx=ctx,
        is_response=head.is_response,
        method=_cseq_method(head) if head.is_response else head.method,
        status=head.status,
        request_uri="" if head.is_response else head.target,
        from_uri=address_uri(head.get("from")),
        to_uri=address_uri(head.get("to")),
        user_agent=head.get("user-agent"),
        server=head.get("server"),
        content_type=head.get("content-type"),
        body=body[:BODY_CAP].decode("utf-8", "replace"),
    )


def parse(payload: bytes, ctx: Ctx) -> list[Event]:
    """One SIP message per datagram."""
    try:
        if not _text.plausible_start(payload.lstrip(b"\r\n")[: _text.MAX_TOKEN + 1]):
            return []
        split = _text.split_message(payload, VERSIONS, COMPACT_NAMES)
        if split is None:
            return []
        head, rest = split
        length = head.content_length()
        body = rest if length is None else rest[:length]
        return [make_event(head, body, ctx)]
    except Exception:  # never let a parsing problem escape
        return []


class SipStream:
    """SIP over TCP: messages delimited by Content-Length."""

    def __init__(self, max_messages: int = DEFAULT_MAX_MESSAGES) -> None:
        self._max_messages = max_messages
        self._client = Framer(VERSIONS, self._decide, name_map=COMPACT_NAMES)
        self._server = Framer(VERSIONS, self._decide, name_map=COMPACT_NAMES)
        # message whose body is still arriving, per direction: (head, body parts)
        self._pending: dict[bool, tuple[Head, list[bytes]]] = {}
        self._messages = 0
        self._done = False

    @property
    def done(self) -> bool:
        return self._done

    @staticmethod
    def _decide(head: Head) -> BodyMode:
        length = head.content_length() or 0
        if length > 0:
            return BodyMode(_text.LENGTH, length, BODY_CAP)
        return BodyMode(_text.NONE)

    def feed(self, data: bytes, ctx: Ctx, from_client: bool) -> list[Event]:
        if self._done or not data:
            return []
        framer = self._client if from_client else self._server
        events: list[Event] = []
        try:
            for kind, payload in framer.feed(data):
                if kind == _text.HEAD:
                    head, mode = payload  # type: ignore[misc]
                    self._messages += 1
                    if mode.capture > 0:
                        self._pending[from_client] = (head, [])
                    else:
                        events.append(make_event(head, b"", ctx))
                elif kind == _text.BODY:
                    if from_client in self._pending:
                        self._pending[from_client][1].append(payload)  # type: ignore[arg-type]
                elif kind == _text.END:
                    pending = self._pending.pop(from_client, None)
                    if pending is not None:
                        events.append(make_event(pending[0], b"".join(pending[1]), ctx))
        except Exception:  # never let a parsing problem escape
            framer.stop()
        if from_client in self._pending and not framer.capturing:
            head, parts = self._pending.pop(from_client)
            events.append(make_event(head, b"".join(parts), ctx))
        if (self._client.gave_up and self._server.gave_up) or (
            self._messages >= self._max_messages and not self._pending
        ):
            self._done = True
        return events

    def close(self, ctx: Ctx) -> list[Event]:
        events: list[Event] = [
            make_event(head, b"".join(parts), ctx) for head, parts in self._pending.values()
        ]
        self._pending.clear()
        self._done = True
        return events
