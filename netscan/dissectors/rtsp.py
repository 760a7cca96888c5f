"""RTSP 1.0 over TCP: requests and responses, with interleaved RTP skipped.

Each request gives an ``RtspEvent`` with method, URL and User-Agent; each response gives
one with the status, Server and the realm of WWW-Authenticate (cameras often put their
model or serial number there). A response's ``method`` is the one of the request with the
same CSeq. After PLAY the server may interleave RTP/RTCP frames (``$``, channel, 16-bit
length) with RTSP messages; they are skipped so later messages (TEARDOWN) still parse.

The packet core runs its Rust port (``src/dissect/rtsp.rs``); this module is the
reference it is parity-tested against (tests/dissectors/test_rust_parity*.py).
"""

from __future__ import annotations

from netscan.dissectors import _text
from netscan.dissectors._text import BodyMode, Framer, Head
from netscan.events import Ctx, Event, RtspEvent

VERSIONS = ("RTSP/",)
DEFAULT_MAX_MESSAGES = 100


def auth_realm(values: list[str]) -> str | None:
    """The realm parameter of the first WWW-Authenticate challenge that has one."""
    for value in values:
        lower = value.lower()
        start = 0
        while True:
            idx = lower.find("realm", start)
            if idx < 0:
                break
            start = idx + 5
            if idx > 0 and lower[idx - 1] not in " ,\t":
                continue  # part of another parameter name
            rest = value[idx + 5 :].lstrip()
            if not rest.startswith("="):
                continue
            rest = rest[1:].lstrip()
            if rest.startswith('"'):
                end = rest.find('"', 1)
                return rest[1:end] if end > 0 else rest[1:]
            return rest.split(",", 1)[0].strip()
    return None


class RtspStream:
    """Stream parser for one RTSP TCP flow."""

    def __init__(self, max_messages: int = DEFAULT_MAX_MESSAGES) -> None:
        self._max_messages = max_messages
        self._client = Framer(VERSIONS, self._decide, interleaved=True)
        self._server = Framer(VERSIONS, self._decide, interleaved=True)
        self._cseq_methods: dict[str, str] = {}
        self._messages = 0
        self._done = False

    @property
    def done(self) -> bool:
        return self._done

    @staticmethod
    def _decide(head: Head) -> BodyMode:
        # RTSP bodies are always delimited by Content-Length; no header means no body
        length = head.content_length() or 0
        return BodyMode(_text.LENGTH, length) if length > 0 else BodyMode(_text.NONE)

    def _event(self, head: Head, ctx: Ctx) -> RtspEvent:
        cseq = (head.get("cseq") or "").strip()
        if not head.is_response:
            if cseq and len(self._cseq_methods) < 1024:
                self._cseq_methods[cseq] = head.method
            return RtspEvent(
                ctx=ctx,
                is_response=False,
                method=head.method,
                url=head.target,
                user_agent=head.get("user-agent"),
                server=head.get("server"),
                headers=head.header_dict(),
            )
        return RtspEvent(
            ctx=ctx,
            is_response=True,
            method=self._cseq_methods.get(cseq, ""),
            status=head.status,
            server=head.get("server"),
            user_agent=head.get("user-agent"),
            realm=auth_realm(head.get_all("www-authenticate")),
            headers=head.header_dict(),
        )

    def feed(self, data: bytes, ctx: Ctx, from_client: bool) -> list[Event]:
        if self._done or not data:
            return []
        framer = self._client if from_client else self._server
        events: list[Event] = []
        try:
            for kind, payload in framer.feed(data):
                if kind == _text.HEAD:
                    head, _mode = payload  # type: ignore[misc]
                    self._messages += 1
                    events.append(self._event(head, ctx))
        except Exception:  # never let a parsing problem escape
            framer.stop()
        if (self._client.gave_up and self._server.gave_up) or (
            self._messages >= self._max_messages
        ):
            self._done = True
        return events

    def close(self, ctx: Ctx) -> list[Event]:
        self._done = True
        return []
