"""Shared parsing for HTTP-like text protocols (HTTP, RTSP, SIP, SSDP).

Two layers:

* ``parse_head`` / ``split_message`` turn one header block (start line plus header
  lines, CRLF or bare LF, with obsolete line folding) into a ``Head``. Used directly by
  the datagram parsers (SSDP, SIP over UDP).
* ``Framer`` cuts one direction of a TCP stream into messages: it finds header blocks,
  asks the protocol how the body is framed (``BodyMode``), skips or delivers the body
  (Content-Length, chunked, until close, RTSP interleaved binary frames) and gives up
  cleanly on garbage or oversized header blocks.

Everything works on bytes with ``find``/``split``; nothing here raises on bad input.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

HEADER_BLOCK_CAP = 64 * 1024  # a header block larger than this ends parsing of the direction
START_LINE_CAP = 16 * 1024
CHUNK_LINE_CAP = 1024
MAX_HEADER_DICT = 64  # entries kept in Head.header_dict()
MAX_TOKEN = 32  # longest method name accepted

_TOKEN_CHARS = frozenset(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!#$%&'*+-.^_`|~"
)
_PRINTABLE = frozenset(range(0x20, 0x7F)) | {0x09}


@dataclass(slots=True)
class Head:
    """A parsed start line and header block."""

    is_response: bool
    version: str
    method: str = ""  # requests
    target: str = ""  # requests: request target as written
    status: int = 0  # responses
    reason: str = ""  # responses
    headers: list[tuple[str, str]] = field(default_factory=list)  # (lower-case name, value)

    def get(self, name: str) -> str | None:
        """First value of a header (``name`` in lower case), or None."""
        for key, value in self.headers:
            if key == name:
                return value
        return None

    def get_all(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key == name]

    def header_dict(self, cap: int = MAX_HEADER_DICT) -> dict[str, str]:
        """Lower-case name -> first value, at most ``cap`` names."""
        out: dict[str, str] = {}
        for key, value in self.headers:
            if key not in out:
                if len(out) >= cap:
                    break
                out[key] = value
        return out

    def content_length(self) -> int | None:
        """Content-Length as an int; None when absent, negative, conflicting or not a number."""
        values = self.get_all("content-length")
        if not values:
            return None
        found: int | None = None
        for value in values:
            for part in value.split(","):
                part = part.strip()
                if not part.isdigit() or not part.isascii() or len(part) > 18:
                    return None
                number = int(part)
                if found is not None and found != number:
                    return None
                found = number
        return found

    def is_chunked(self) -> bool:
        """True when the last transfer coding is ``chunked``."""
        values = self.get_all("transfer-encoding")
        if not values:
            return False
        codings = [c.strip().lower() for c in ",".join(values).split(",") if c.strip()]
        return bool(codings) and codings[-1] == "chunked"


def media_type(value: str | None) -> tuple[str, dict[str, str]]:
    """Split a Content-Type value into (lower-case media type, parameters)."""
    if not value:
        return "", {}
    parts = value.split(";")
    params: dict[str, str] = {}
    for part in parts[1:]:
        key, sep, val = part.partition("=")
        if not sep:
            continue
        val = val.strip()
        if len(val) >= 2 and val[0] == '"' and val[-1] == '"':
            val = val[1:-1]
        params.setdefault(key.strip().lower(), val)
    # tolerate stray punctuation some clients leave behind ("application/octet-stream.")
    return parts[0].strip().rstrip(".,").strip().lower(), params


def is_token(text: str) -> bool:
    return 0 < len(text) <= MAX_TOKEN and all(ord(c) < 128 and ord(c) in _TOKEN_CHARS for c in text)


def _valid_version(text: str, versions: tuple[str, ...]) -> bool:
    if not text.startswith(versions) or len(text) > 16:
        return False
    number = text.partition("/")[2]
    major, dot, minor = number.partition(".")
    return major.isdigit() and (not dot or minor.isdigit())


def parse_start_line(line: str, versions: tuple[str, ...]) -> Head | None:
    """Parse a request line or status line; ``versions`` are prefixes like ``("HTTP/",)``."""
    line = line.strip()
    if not line:
        return None
    if line.startswith(versions):
        version, _, rest = line.partition(" ")
        code, _, reason = rest.strip().partition(" ")
        if not _valid_version(version, versions) or len(code) != 3 or not code.isdigit():
            return None
        return Head(True, version, status=int(code), reason=reason.strip())
    parts = line.split()
    if len(parts) < 3:
        return None
    # a request target with raw spaces (seen from sloppy clients) is kept whole
    method, target, version = parts[0], " ".join(parts[1:-1]), parts[-1]
    if not is_token(method) or not _valid_version(version, versions):
        return None
    return Head(False, version, method=method, target=target)


def parse_header_lines(
    lines: list[str], name_map: dict[str, str] | None = None
) -> list[tuple[str, str]]:
    """Header lines (no line endings) -> [(lower-case name, value)]; folded lines joined."""
    headers: list[tuple[str, str]] = []
    for line in lines:
        if not line:
            continue
        if line[0] in " \t":
            if headers:  # obsolete line folding: continuation of the previous value
                name, value = headers[-1]
                extra = line.strip()
                headers[-1] = (name, f"{value} {extra}" if value and extra else value + extra)
            continue
        name, sep, value = line.partition(":")
        name = name.strip().lower()
        if not sep or not name or " " in name or "\t" in name:
            continue  # not a header line: skip it rather than give up
        if name_map is not None:
            name = name_map.get(name, name)
        headers.append((name, value.strip()))
    return headers


def parse_head(
    block: bytes | bytearray | memoryview,
    versions: tuple[str, ...],
    name_map: dict[str, str] | None = None,
) -> Head | None:
    """Parse a header block (without the terminating empty line)."""
    text = bytes(block).decode("utf-8", "replace")
    lines = [line.rstrip("\r") for line in text.split("\n")]
    while lines and not lines[0].strip():
        lines.pop(0)
    if not lines:
        return None
    head = parse_start_line(lines[0], versions)
    if head is None:
        return None
    head.headers = parse_header_lines(lines[1:], name_map)
    return head


def find_block_end(
    buf: bytes | bytearray, start: int = 0, stop: int | None = None
) -> tuple[int, int]:
    """Find the empty line ending a header block: (end of block, start of body) or (-1, -1).

    Accepts CRLF CRLF, LF LF and the mixed forms.
    """
    if stop is None:
        stop = len(buf)
    lf = buf.find(b"\n\n", start, stop)
    crlf = buf.find(b"\n\r\n", start, stop)
    if lf < 0 and crlf < 0:
        return -1, -1
    if crlf < 0 or (0 <= lf < crlf):
        return lf, lf + 2
    return crlf, crlf + 3


def split_message(
    payload: bytes, versions: tuple[str, ...], name_map: dict[str, str] | None = None
) -> tuple[Head, bytes] | None:
    """Datagram form: (head, bytes after the header block). A missing empty line is tolerated."""
    pos = 0
    while pos < len(payload) and payload[pos] in b"\r\n":
        pos += 1
    end, body = find_block_end(payload, pos, min(len(payload), pos + HEADER_BLOCK_CAP))
    if end < 0:
        if len(payload) - pos > HEADER_BLOCK_CAP:
            return None
        end = body = len(payload)
    head = parse_head(payload[pos:end], versions, name_map)
    if head is None:
        return None
    return head, payload[body:]


def plausible_start(prefix: bytes | bytearray) -> bool:
    """Cheap check on the first bytes of a message: printable ASCII and a short first token."""
    sample = bytes(prefix[: MAX_TOKEN + 1])
    sample = sample.split(b"\n", 1)[0].rstrip(b"\r")
    if any(b not in _PRINTABLE for b in sample):
        return False
    return len(sample) <= MAX_TOKEN or b" " in sample


# --- stream framing -------------------------------------------------------------------


class BodyMode(NamedTuple):
    """How the body following a header block is framed, and how much of it to deliver."""

    kind: int
    length: int = 0  # for LENGTH
    capture: int = 0  # deliver up to this many body bytes as BODY pieces (0: skip silently)


NONE = 0  # no body
LENGTH = 1  # Content-Length bytes
CHUNKED = 2  # chunked transfer coding
CLOSE = 3  # everything until the connection closes
STOP = 4  # the protocol changes after this head (upgrade, tunnel): stop parsing

# Piece kinds returned by Framer.feed
HEAD = 0  # payload: (Head, BodyMode)
BODY = 1  # payload: bytes (de-chunked), only while capturing
END = 2  # payload: bool complete (False when the capture limit was hit); only when capturing

Piece = tuple[int, object]

# internal states
_S_HEAD = 0
_S_LENGTH = 1
_S_CHUNK_SIZE = 2
_S_CHUNK_DATA = 3
_S_CHUNK_CRLF = 4
_S_TRAILERS = 5
_S_CLOSE = 6
_S_RAW = 7  # RTSP interleaved frame
_S_DEAD = 8
_S_SYNC = 9  # bytes were lost: looking for the next start line
SYNC_SCAN = 256 * 1024  # how far one feed looks for a start line after lost bytes


class Framer:
    """Cuts one direction of an HTTP-like stream into heads and bodies.

    ``decide(head)`` is called for every parsed head and returns its ``BodyMode``.
    """

    __slots__ = (
        "_versions",
        "_decide",
        "_interleaved",
        "_name_map",
        "_header_cap",
        "_buf",
        "_state",
        "_remaining",
        "_scan",
        "_checked",
        "_capture_left",
        "_capturing",
        "_truncated",
    )

    def __init__(
        self,
        versions: tuple[str, ...],
        decide: Callable[[Head], BodyMode],
        *,
        interleaved: bool = False,
        name_map: dict[str, str] | None = None,
        header_cap: int = HEADER_BLOCK_CAP,
    ) -> None:
        self._versions = versions
        self._decide = decide
        self._interleaved = interleaved
        self._name_map = name_map
        self._header_cap = header_cap
        self._buf = bytearray()
        self._state = _S_HEAD
        self._remaining = 0
        self._scan = 0  # where to resume the search for the end of the header block
        self._checked = False  # the start line was checked for plausibility
        self._capture_left = 0
        self._capturing = False
        self._truncated = False

    @property
    def dead(self) -> bool:
        """Gave up on this direction (garbage, oversized head, protocol switch)."""
        return self._state == _S_DEAD

    @property
    def gave_up(self) -> bool:
        """Nothing more will be parsed: dead, or consuming a body until the connection closes."""
        return self._state in (_S_DEAD, _S_CLOSE)

    @property
    def capturing(self) -> bool:
        return self._capturing

    def drop_capture(self) -> None:
        """Stop delivering the current body (it is still skipped correctly)."""
        self._capturing = False

    def stop(self) -> None:
        self._state = _S_DEAD
        self._buf = bytearray()
        self._capturing = False

    def resync(self) -> None:
        """Bytes were lost just before what comes next: give up the message in progress and
        look for the next start line. A direction that gave up for good stays given up."""
        if self._state == _S_DEAD:
            return
        self._buf = bytearray()
        self._capturing = False
        self._state = _S_SYNC
        self._scan = 0
        self._checked = False

    def _find_start(self, buf: bytes | bytearray, pos: int) -> int:
        """Offset of the earliest valid start line at or after ``pos``; -1 when one may be
        forming at the end of the buffer, -2 when there is none.

        After lost bytes a message rarely starts on a fresh line (the previous body's tail
        runs straight into it), so the search anchors on the protocol name: a response line
        begins with it, a request line ends with it after a method and a target.
        """
        end = min(len(buf), pos + SYNC_SCAN)
        best = -2
        waiting = False
        for mark in {v.split("/")[0].encode() + b"/" for v in self._versions}:
            at = buf.find(mark, pos, end)
            while at >= 0 and (best < 0 or at < best):
                for cand in (self._method_start(buf, pos, at), at):
                    if cand < 0 or (best >= 0 and cand >= best):
                        continue
                    nl = buf.find(b"\n", cand, cand + START_LINE_CAP)
                    if nl < 0:
                        waiting = waiting or len(buf) - cand < START_LINE_CAP
                        continue
                    line = bytes(buf[cand:nl]).decode("utf-8", "replace")
                    if parse_start_line(line, self._versions) is not None:
                        best = cand
                        break
                at = buf.find(mark, at + 1, end)
        if best < 0 and waiting:
            return -1
        return best

    @staticmethod
    def _method_start(buf: bytes | bytearray, pos: int, version_at: int) -> int:
        """Where ``METHOD target `` begins before a protocol name at ``version_at``, or -1."""
        sp = version_at - 1
        if sp <= pos or buf[sp] != 0x20:
            return -1
        t = buf.rfind(b" ", max(pos, sp - START_LINE_CAP), sp)
        if t <= pos:
            return -1
        m = t
        while m > pos and t - m < MAX_TOKEN and (0x41 <= buf[m - 1] <= 0x5A or buf[m - 1] in b"_-"):
            m -= 1
        return m if m < t else -1

    def feed(self, data: bytes) -> list[Piece]:
        out: list[Piece] = []
        if self._state == _S_DEAD or not data:
            return out
        if self._state == _S_CLOSE:
            if self._capturing:
                self._deliver(data, len(data), out)
            return out
        buf: bytes | bytearray
        if self._buf:
            self._buf += data
            buf = self._buf
        else:
            buf = data
        try:
            pos = self._run(buf, out)
        except Exception:  # defensive: a framing bug must not escape to the caller
            self.stop()
            return out
        if self._state == _S_DEAD or pos >= len(buf):
            self._buf = bytearray()
        elif buf is self._buf:
            del self._buf[:pos]
        else:
            self._buf = bytearray(buf[pos:])
        return out

    # -- internals ---------------------------------------------------------------------

    def _deliver(self, buf: bytes | bytearray, end: int, out: list[Piece], start: int = 0) -> None:
        """Hand body bytes buf[start:end] to the caller while the capture budget lasts."""
        if not self._capturing or end <= start:
            return
        take = min(end - start, self._capture_left)
        if take > 0:
            out.append((BODY, bytes(buf[start : start + take])))
            self._capture_left -= take
        if take < end - start:
            self._truncated = True
            self._capturing = False
            out.append((END, False))

    def _finish_body(self, out: list[Piece]) -> None:
        if self._capturing:
            out.append((END, not self._truncated))
        self._capturing = False
        self._state = _S_HEAD
        self._scan = 0
        self._checked = False

    def _begin_body(self, mode: BodyMode, out: list[Piece]) -> None:
        self._truncated = False
        self._capturing = mode.capture > 0 and mode.kind in (LENGTH, CHUNKED, CLOSE)
        self._capture_left = mode.capture
        if mode.kind == STOP:
            self._state = _S_DEAD
        elif mode.kind == LENGTH and mode.length > 0:
            self._state = _S_LENGTH
            self._remaining = mode.length
        elif mode.kind == CHUNKED:
            self._state = _S_CHUNK_SIZE
        elif mode.kind == CLOSE:
            self._state = _S_CLOSE
        else:
            self._capturing = False
            self._state = _S_HEAD
        self._scan = 0
        self._checked = False

    def _line(self, buf: bytes | bytearray, pos: int, cap: int) -> tuple[int, int]:
        """(end of line, start of next line) or (-1, -1); dies when a line exceeds ``cap``."""
        nl = buf.find(b"\n", pos, pos + cap + 1)
        if nl < 0:
            if len(buf) - pos > cap:
                self._state = _S_DEAD
            return -1, -1
        return nl, nl + 1

    def _run(self, buf: bytes | bytearray, out: list[Piece]) -> int:
        pos = 0
        size = len(buf)
        while pos < size:
            state = self._state
            if state == _S_SYNC:
                found = self._find_start(buf, pos)
                if found == -1:  # a candidate line is not complete yet: wait for more
                    return pos
                if found < 0:  # none here: keep only a tail that may begin one
                    return max(pos, size - START_LINE_CAP)
                pos = found
                self._state = _S_HEAD
                continue
            if state == _S_HEAD:
                while pos < size and buf[pos] in (0x0D, 0x0A):  # empty lines between messages
                    pos += 1
                if pos >= size:
                    break
                if self._interleaved and buf[pos] == 0x24:  # "$" channel length(2)
                    if size - pos < 4:
                        break
                    self._remaining = int.from_bytes(buf[pos + 2 : pos + 4], "big")
                    pos += 4
                    self._state = _S_RAW
                    continue
                if not self._checked:
                    if not plausible_start(buf[pos : pos + MAX_TOKEN + 1]):
                        self._state = _S_DEAD
                        return pos
                    nl = buf.find(b"\n", pos, pos + START_LINE_CAP)
                    if nl < 0:
                        if size - pos >= START_LINE_CAP:
                            self._state = _S_DEAD
                            return pos
                        break
                    line = bytes(buf[pos:nl]).decode("utf-8", "replace")
                    if parse_start_line(line, self._versions) is None:
                        self._state = _S_DEAD
                        return pos
                    self._checked = True
                    self._scan = nl - pos
                limit = min(size, pos + self._header_cap + 3)
                end, body = find_block_end(buf, pos + self._scan, limit)
                if end < 0:
                    if size - pos > self._header_cap:
                        self._state = _S_DEAD
                        return pos
                    self._scan = max(0, size - pos - 2)
                    break
                head = parse_head(buf[pos:end], self._versions, self._name_map)
                pos = body
                if head is None:
                    self._state = _S_DEAD
                    return pos
                mode = self._decide(head)
                out.append((HEAD, (head, mode)))
                self._begin_body(mode, out)
                if self._state == _S_DEAD:
                    return pos
            elif state in (_S_LENGTH, _S_RAW):
                take = min(self._remaining, size - pos)
                if state == _S_LENGTH:
                    self._deliver(buf, pos + take, out, pos)
                pos += take
                self._remaining -= take
                if self._remaining == 0:
                    if state == _S_LENGTH:
                        self._finish_body(out)
                    else:
                        self._state = _S_HEAD
            elif state == _S_CHUNK_SIZE:
                end, nxt = self._line(buf, pos, CHUNK_LINE_CAP)
                if end < 0:
                    break
                text = bytes(buf[pos:end]).split(b";", 1)[0].strip()
                if (
                    not text
                    or len(text) > 15
                    or any(c not in b"0123456789abcdefABCDEF" for c in text)
                ):
                    self._state = _S_DEAD
                    return pos
                pos = nxt
                self._remaining = int(text, 16)
                self._state = _S_CHUNK_DATA if self._remaining else _S_TRAILERS
            elif state == _S_CHUNK_DATA:
                take = min(self._remaining, size - pos)
                self._deliver(buf, pos + take, out, pos)
                pos += take
                self._remaining -= take
                if self._remaining == 0:
                    self._state = _S_CHUNK_CRLF
            elif state == _S_CHUNK_CRLF:
                end, nxt = self._line(buf, pos, CHUNK_LINE_CAP)
                if end < 0:
                    break
                pos = nxt
                self._state = _S_CHUNK_SIZE
            elif state == _S_TRAILERS:
                end, nxt = self._line(buf, pos, self._header_cap)
                if end < 0:
                    break
                empty = not bytes(buf[pos:end]).strip()
                pos = nxt
                if empty:
                    self._finish_body(out)
            elif state == _S_CLOSE:
                self._deliver(buf, size, out, pos)
                pos = size
            else:  # dead
                return size
        return pos
