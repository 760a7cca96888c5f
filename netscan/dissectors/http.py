"""HTTP/1.x over TCP: request and response heads, and capture of interesting request bodies.

One ``HttpStream`` per TCP flow. Requests give ``HttpRequestEvent`` as soon as their header
block is complete, responses give ``HttpResponseEvent``. Bodies are skipped using
Content-Length, chunked coding or (responses) the end of the connection; request bodies
that may carry pictures or structured data (image/*, multipart/*, JSON, XML, octet-stream,
or an upload-like path), and any other request body that starts with a picture signature
(JPEG, PNG, GIF, WebP), are reassembled, de-chunked, up to ``body_cap`` bytes and reported
as ``HttpBodyEvent``; so are the response bodies of the requests whose path starts with one
of the stream's ``response_prefixes`` (method ``"RESPONSE"``): the signature pack names them
(``Pack.response_prefixes``: the paths of its face-library protocols whose records answer a
poll) and the engines hand them over; a stream built without them keeps no response body.

Messages are classified by their start line rather than by direction, so a flow whose
client side was guessed wrong still yields the right event types.

The packet core runs its Rust port of the HTTP stream parser (``src/dissect/``); this
module is the reference it is parity-tested against (tests/dissectors/test_rust_parity*.py)
and the source of the constants the tshark engine shares.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from netscan.dissectors import _text
from netscan.dissectors._text import BodyMode, Framer, Head
from netscan.events import Ctx, Event, HttpBodyEvent, HttpRequestEvent, HttpResponseEvent

DEFAULT_BODY_CAP = 8 * 1024 * 1024
DEFAULT_MAX_MESSAGES = 50

VERSIONS = ("HTTP/",)

# Media types whose request bodies are worth keeping (besides every image/* and multipart/*).
CAPTURE_TYPES = frozenset(
    {
        "application/json",
        "application/octet-stream",
        "text/xml",
        "application/xml",
        "application/soap+xml",
    }
)
# Words in a request path that suggest an upload of pictures or recognition records.
CAPTURE_PATH_WORDS = (
    "upload",
    "face",
    "snap",
    "pic",
    "image",
    "img",
    "photo",
    "capture",
    "alarm",
    "event",
    "person",
    "record",
    ".jpg",
    ".jpeg",
    ".png",
)

# Response prefixes a stream takes at most, and the length of one (as the core).
MAX_RESPONSE_PREFIXES = 64
MAX_RESPONSE_PREFIX_LEN = 256


def checked_response_prefixes(values: Iterable[str]) -> tuple[str, ...]:
    """Request path prefixes whose responses are kept, checked and lower-cased once: at most
    ``MAX_RESPONSE_PREFIXES``, each 1 to ``MAX_RESPONSE_PREFIX_LEN`` printable ASCII
    characters (so the core's lower-casing agrees). ValueError names the first problem."""
    items = list(values)
    if len(items) > MAX_RESPONSE_PREFIXES:
        raise ValueError(
            f"{len(items)} response prefixes, at most {MAX_RESPONSE_PREFIXES} are taken"
        )
    out: list[str] = []
    for p in items:
        if not isinstance(p, str) or not 0 < len(p) <= MAX_RESPONSE_PREFIX_LEN:
            raise ValueError(f"a response prefix must be 1 to {MAX_RESPONSE_PREFIX_LEN} characters")
        if not all("!" <= ch <= "~" for ch in p):
            raise ValueError("a response prefix must be printable ASCII without blanks")
        low = p.lower()
        if low not in out:
            out.append(low)
    return tuple(out)


# Leading bytes of picture formats: a body starting with one is kept whatever its headers say.
IMAGE_MAGIC = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a")
SNIFF_BYTES = 12


def looks_like_image(prefix: bytes) -> bool:
    if prefix.startswith(IMAGE_MAGIC):
        return True
    return prefix[:4] == b"RIFF" and prefix[8:12] == b"WEBP"


def body_worth_capturing(path: str, content_type: str | None) -> bool:
    """Whether a request body with this path and Content-Type should be reassembled."""
    mtype, _ = _text.media_type(content_type)
    if mtype.startswith(("image/", "multipart/")) or mtype in CAPTURE_TYPES:
        return True
    if mtype.endswith(("+json", "+xml")):
        return True
    lower = path.lower()
    return any(word in lower for word in CAPTURE_PATH_WORDS)


class _Capture:
    __slots__ = (
        "method",
        "path",
        "host",
        "content_type",
        "parts",
        "size",
        "first",
        "last",
        "tentative",
    )

    def __init__(self, method: str, path: str, host: str | None, content_type: str | None) -> None:
        self.method = method
        self.path = path
        self.host = host
        self.content_type = content_type
        self.parts: list[bytes] = []
        self.size = 0
        self.first = 0
        self.last = 0
        self.tentative = False  # kept only if the body turns out to be a picture

    def event(self, ctx: Ctx, complete: bool) -> HttpBodyEvent:
        return HttpBodyEvent(
            ctx=ctx,
            method=self.method,
            path=self.path,
            host=self.host,
            content_type=self.content_type,
            body=b"".join(self.parts),
            complete=complete,
            first_frame=self.first or ctx.frame,
            last_frame=self.last or ctx.frame,
        )


class HttpStream:
    """Stream parser for one HTTP/1.x TCP flow."""

    def __init__(
        self,
        max_messages: int = DEFAULT_MAX_MESSAGES,
        body_cap: int = DEFAULT_BODY_CAP,
        response_prefixes: Iterable[str] = (),
    ) -> None:
        self._max_messages = max_messages
        # request path prefixes whose responses are kept (lower-case)
        self._response_prefixes = checked_response_prefixes(response_prefixes)
        self._body_cap = max(0, body_cap)
        self._client = Framer(VERSIONS, self._decide)
        self._server = Framer(VERSIONS, self._decide)
        self._methods: deque[str] = deque(maxlen=256)  # methods of requests awaiting a response
        self._paths: deque[str] = deque(maxlen=256)  # and their paths
        self._response_paths: deque[str] = deque(maxlen=256)  # responses whose body is kept
        self._messages = 0
        self._last_request_worth = False
        # the body being kept, per direction: [responses, requests] (a response may be kept
        # while a request's upload is still arriving on the same connection)
        self._capture: list[_Capture | None] = [None, None]
        self._stop_all = False  # set by a protocol switch seen in _decide
        self._done = False

    @property
    def done(self) -> bool:
        return self._done

    # -- framing decisions -------------------------------------------------------------

    def _decide(self, head: Head) -> BodyMode:
        if head.is_response:
            return self._decide_response(head)
        return self._decide_request(head)

    def _decide_request(self, head: Head) -> BodyMode:
        self._methods.append(head.method.upper())
        self._paths.append(head.target)
        if head.is_chunked():
            kind, length = _text.CHUNKED, 0
        else:
            length = head.content_length() or 0
            kind = _text.LENGTH if length > 0 else _text.NONE
        # every request body is delivered; those not selected by their headers are only
        # sniffed (see _head_event): a picture is kept whatever its headers say
        capture = self._body_cap if kind != _text.NONE and self._body_cap > 0 else 0
        return BodyMode(kind, length, capture)

    def _decide_response(self, head: Head) -> BodyMode:
        status = head.status
        if 100 <= status < 200:
            if status == 101:
                self._stop_all = True
                return BodyMode(_text.STOP)
            return BodyMode(_text.NONE)
        method = self._methods.popleft() if self._methods else "GET"
        path = self._paths.popleft() if self._paths else ""
        if method == "CONNECT" and 200 <= status < 300:
            self._stop_all = True
            return BodyMode(_text.STOP)
        if method == "HEAD" or status in (204, 304):
            return BodyMode(_text.NONE)
        keep = 0
        if self._body_cap > 0 and path.lower().startswith(self._response_prefixes):
            keep = self._body_cap
            self._response_paths.append(path)
        if head.is_chunked():
            return BodyMode(_text.CHUNKED, 0, keep)
        length = head.content_length()
        if length is not None:
            return BodyMode(_text.LENGTH, length, keep) if length > 0 else BodyMode(_text.NONE)
        return BodyMode(_text.CLOSE, 0, keep)

    # -- events --------------------------------------------------------------------------

    def _head_event(self, head: Head, mode: BodyMode, ctx: Ctx, side: int) -> Event:
        """The head's event, and the capture of its body in the slot of ``side`` (the
        framer's: the body pieces of that side find it even when the flow's client was
        guessed wrong and a request comes from the "server")."""
        content_type = head.get("content-type")
        if head.is_response:
            if mode.capture > 0 and self._response_paths:
                # a response body to keep: reported as an HttpBodyEvent with method "RESPONSE"
                self._capture[side] = _Capture("RESPONSE", self._response_paths.popleft(),
                                               None, content_type)  # fmt: skip
            return HttpResponseEvent(
                ctx=ctx,
                status=head.status,
                reason=head.reason,
                version=head.version,
                server=head.get("server"),
                content_type=content_type,
                content_length=head.content_length(),
                headers=head.header_dict(),
            )
        boundary = _text.media_type(content_type)[1].get("boundary") or None
        host = head.get("host")
        # heads are handled after the framer decided on all of them: keep per-request state here
        worth = mode.capture > 0 and body_worth_capturing(head.target, content_type)
        self._last_request_worth = worth
        if mode.capture > 0:
            cap = self._capture[side] = _Capture(head.method, head.target, host, content_type)
            cap.tentative = not worth
        return HttpRequestEvent(
            ctx=ctx,
            method=head.method,
            path=head.target,
            version=head.version,
            host=host,
            user_agent=head.get("user-agent"),
            content_type=content_type,
            content_length=head.content_length(),
            boundary=boundary,
            headers=head.header_dict(),
        )

    def feed(self, data: bytes, ctx: Ctx, from_client: bool) -> list[Event]:
        if self._done or not data:
            return []
        framer, other = (
            (self._client, self._server) if from_client else (self._server, self._client)
        )
        events: list[Event] = []
        side = int(from_client)
        try:
            pieces = framer.feed(data)
            # the framer may already be past several messages: only the body after the last
            # head in this batch (or one begun in an earlier batch) is still being framed
            last_head = max((i for i, p in enumerate(pieces) if p[0] == _text.HEAD), default=-1)
            for index, (kind, payload) in enumerate(pieces):
                if kind == _text.HEAD:
                    head, mode = payload  # type: ignore[misc]
                    self._messages += 1
                    events.append(self._head_event(head, mode, ctx, side))
                elif kind == _text.BODY:
                    cap = self._capture[side]
                    if cap is not None:
                        chunk: bytes = payload  # type: ignore[assignment]
                        cap.parts.append(chunk)
                        cap.size += len(chunk)
                        cap.first = cap.first or ctx.frame
                        cap.last = ctx.frame
                        if cap.tentative and cap.size >= SNIFF_BYTES:
                            self._sniff(side, framer if index > last_head else None)
                elif kind == _text.END:
                    cap = self._capture[side]
                    if cap is not None and cap.tentative:
                        self._sniff(side, None)
                        cap = self._capture[side]
                    self._capture[side] = None
                    if cap is not None and cap.size > 0:
                        events.append(cap.event(ctx, bool(payload)))
        except Exception:  # never let a parsing problem escape
            framer.stop()
        if self._stop_all:
            framer.stop()
            other.stop()
        for side, framer in ((1, self._client), (0, self._server)):
            if self._capture[side] is not None and not framer.capturing:
                # the body framing broke off (garbage, protocol switch): report what we have
                events.extend(self._flush_side(side, ctx))
        self._update_done()
        return events

    def _sniff(self, side: int, framer: Framer | None) -> None:
        """Decide on the tentative capture of ``side`` (1: requests) from its first bytes:
        keep pictures, drop the rest.

        ``framer`` is told to stop delivering when it is still framing this very body.
        """
        cap = self._capture[side]
        if cap is None:
            return
        if looks_like_image(b"".join(cap.parts)[:SNIFF_BYTES]):
            cap.tentative = False
            self._last_request_worth = True
        else:
            self._capture[side] = None
            if framer is not None:
                framer.drop_capture()

    def _update_done(self) -> None:
        if self._capture[0] is not None or self._capture[1] is not None:
            return
        both_gave_up = self._client.gave_up and self._server.gave_up
        enough = self._messages >= self._max_messages and not self._last_request_worth
        if both_gave_up or enough:
            self._done = True

    def gap(self, ctx: Ctx, from_client: bool) -> list[Event]:
        """Bytes of one direction were lost (never captured): what was being read there is
        incomplete, and parsing picks up again at the next message."""
        events: list[Event] = []
        if from_client:
            events = self._flush_side(1, ctx)
            self._client.resync()
        else:
            self._methods.clear()  # responses were lost: their requests cannot be paired
            self._server.resync()
        return events

    def close(self, ctx: Ctx) -> list[Event]:
        events = self._flush_incomplete(ctx)
        self._done = True
        return events

    def _flush_incomplete(self, ctx: Ctx) -> list[Event]:
        """What both directions were keeping, as incomplete bodies (requests first)."""
        return self._flush_side(1, ctx) + self._flush_side(0, ctx)

    def _flush_side(self, side: int, ctx: Ctx) -> list[Event]:
        cap = self._capture[side]
        self._capture[side] = None
        if cap is None or cap.size == 0:
            return []
        if cap.tentative and not looks_like_image(b"".join(cap.parts)[:SNIFF_BYTES]):
            return []
        return [cap.event(ctx, False)]
