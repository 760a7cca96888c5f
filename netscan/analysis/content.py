"""Face-bearing content in reassembled plaintext HTTP request bodies.

Each ``HttpBodyEvent`` the engine kept is parsed by the protocol it speaks:

* GA/T 1400 ("VIID"): JSON ``FaceListObject`` / ``PersonListObject`` / ``ImageListObject``
  whose ``SubImageList.SubImageInfoObject[].Data`` holds a base64 picture;
* Hikvision ISAPI event pushes: a multipart body with an ``EventNotificationAlert`` (XML) or
  ``AccessControllerEvent`` (JSON) part and a picture part;
* Dahua event/snapshot uploads: ``Events[0].Code=FaceDetection`` style text parts with JPEG
  parts beside them;
* ZKTeco ADMS (iclock ``cdata``): ``ATTPHOTO`` (a text header, NUL, the JPEG), ``BIOPHOTO``
  and ``USERPIC`` (base64 ``Content=``) and ``BIODATA``/``FACE`` templates;
* anything else: multipart picture parts, base64 pictures inside JSON or form fields, raw
  picture bodies.

Which parser reads a body is decided by its path: the protocol signatures of the pack that
carry a ``parser`` (``viid``, ``iclock``, ``isapi``) name the path prefixes each parser
serves, so no path is spelled here. Bodies whose content speaks for itself (ISAPI event
parts, Dahua event codes, VIID object lists) are recognised whatever the path. What marks
content as a face is the pack's too (``content`` blocks of protocol signatures,
``ContentWords``): the template types of the iclock parser's biometric records and the
words that make a named field, part or path a face picture.

The result lists ``ContentItem`` objects: a carved picture (JPEG/PNG bytes) or a biometric
template, with what the protocol says about it. Nothing here writes to disk.
"""

from __future__ import annotations

import array
import base64
import binascii
import contextlib
import contextvars
import functools
import json
import re
import struct
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote_plus, urlsplit

from netscan.events import HttpBodyEvent

JPEG_SOI = b"\xff\xd8\xff"
PNG_SIG = b"\x89PNG\r\n\x1a\n"
MIN_IMAGE = 200  # smaller "pictures" are icons or noise
MIN_B64 = 280  # shortest base64 text worth decoding as a picture
MAX_ITEMS = 64

_B64_RE = re.compile(rb"^[A-Za-z0-9+/=\r\n_-]+$")
_DATA_URI = re.compile(r"^data:image/[a-z+]+;base64,", re.I)


@dataclass(frozen=True, slots=True)
class ContentWords:
    """What the pack says marks content as a face (``content`` blocks of its protocol
    signatures): ``face_template_types`` of the iclock parser's biometric records (by the
    signatures whose parser is ``iclock``), and ``face_field_words`` (lower-case) that make
    a named JSON field, form field, multipart part or path a face picture."""

    face_template_types: frozenset[str] = frozenset()
    face_field_words: tuple[str, ...] = ()

    @classmethod
    def of(cls, pack: Any) -> ContentWords:
        types: set[str] = set()
        words: list[str] = []
        for sig in pack.signatures:
            block = sig.content or {}
            if sig.parser == "iclock":
                types.update(str(t) for t in block.get("face_template_types") or ())
            for w in block.get("face_field_words") or ():
                low = str(w).lower()
                if low not in words:
                    words.append(low)
        return cls(frozenset(types), tuple(words))

    def face_word(self, name: str) -> bool:
        """Whether a field, part or path name says its picture is a face."""
        low = name.lower()
        return any(w in low for w in self.face_field_words)


@dataclass(slots=True)
class ContentItem:
    protocol: str  # "viid", "isapi", "dahua", "iclock", "multipart", "json", "form", "raw"
    what: str  # one line for the evidence table
    image: bytes | None = None  # carved JPEG/PNG
    image_format: str | None = None  # "jpeg" | "png"
    template: bytes | None = None  # biometric template (not a picture)
    declared_face: bool = False  # the protocol labels this as a face picture/template
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class ParsedBody:
    protocol: str | None  # the face-bearing protocol recognised, or None
    items: list[ContentItem]
    facts: dict[str, Any] = field(default_factory=dict)  # event type, device ids, ...


# -- carving ---------------------------------------------------------------------------


# in a JPEG's entropy-coded data, the next real marker: 0xFF followed by anything but a
# stuffed zero, a restart marker or another 0xFF (a fill byte)
_JPEG_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
# the bodies whose carving stopped at its budget, counted for the run's warning
# (``carving_stopped``: set by the findings around the content analysis)
_CARVE_STOPPED: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar(
    "carve_stopped", default=None
)


# whether the buffers carved now come from a body the capture cut short (set by
# ``parse_body`` for an incomplete body): a JPEG cut inside its entropy-coded data at the
# end of such a buffer is carved as far as it goes (``_Carver.cut``)
_CUT_SHORT: contextvars.ContextVar[bool] = contextvars.ContextVar("cut_short", default=False)


@contextlib.contextmanager
def carving_stopped() -> Iterator[list[int]]:
    """Counts, in its one item, the buffers whose picture carving stopped at its budget."""
    count = [0]
    token = _CARVE_STOPPED.set(count)
    try:
        yield count
    finally:
        _CARVE_STOPPED.reset(token)


_FILL = re.compile(rb"\xff+")
_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")  # a run of fill bytes before a JPEG marker
_ONE = b"\x01"


class _Spent(Exception):
    pass


class _Carver:
    """The picture walks of one buffer, each position walked at most once.

    A JPEG or PNG walk's outcome depends only on where it stands (a segment or chunk
    position, or a position in entropy-coded data), and the walks only go forward. A walk
    that gives no picture, or one too small to keep, marks every place it stood as dead,
    and a later walk that reaches a dead place stops there: a later start could only give
    the same failure, or a smaller picture. A walk that gives a picture is passed by the
    carving (the next start is after its end). So the steps and scanned bytes of all the
    walks together are in proportion to the buffer, whatever its signatures (without this,
    overlapping ones cost time in the square of its size). ``steps`` and ``scanned``
    count that work; ``limit_*`` are a safety net far above what the walks can need, whose
    reaching is counted (``carving_stopped``)."""

    __slots__ = ("code", "data", "n", "jpeg_dead", "scan_dead", "png_dead", "steps", "scanned",
                 "limit_steps", "limit_scanned", "memo", "ends", "cut")  # fmt: skip

    def __init__(self, data: bytes, memo: bool = False, cut: bool = False) -> None:
        self.data = data
        # ``cut``: the buffer was cut short by the capture; a JPEG whose walk runs out of
        # data inside its entropy-coded data (a frame seen, its scan begun) ends at the
        # buffer's end instead of failing: the decoder shows what there is of it
        self.cut = cut
        # ``memo``: the walks that give a picture also remember where each of their segment
        # (or chunk) places leads, and a later walk reaching one stops there with that end
        # (``nested_pictures`` walks every start, not only those past the last picture).
        # A JPEG place is a 0xFF byte and a PNG chunk's (a length below 2**31) never is, so
        # one table serves both; made with the first picture
        self.memo = memo
        self.ends: array.array | None = None
        self.n = n = len(data)
        self.code = "i" if n < 1 << 31 else "q"  # array type of the places walked
        # one byte per position, made when a walk first fails: segment positions, places
        # in entropy-coded data, PNG chunk positions
        self.jpeg_dead: bytearray | None = None
        self.scan_dead: bytearray | None = None
        self.png_dead: bytearray | None = None
        self.steps = 0
        self.scanned = 0
        self.limit_steps = 2 * n + 65536
        self.limit_scanned = 4 * n + (1 << 20)

    def _remember(self, places: array.array, end: int) -> None:
        ends = self.ends
        if ends is None:
            size = array.array(self.code).itemsize
            ends = self.ends = array.array(self.code, bytes(self.n * size))
        for p in places:
            ends[p] = end

    @staticmethod
    def _mark(dead: bytearray, places: array.array) -> None:
        for k in range(0, len(places), 2):
            a, b = places[k], places[k + 1]
            if b - a == 1:
                dead[a] = 1
            else:
                dead[a:b] = _ONE * (b - a)

    @staticmethod
    def _place(places: array.array, a: int, b: int) -> None:
        """Adds the places [a, b), joined to the last ones when they meet (a chain of
        restart markers is one range)."""
        if places and places[-1] == a:
            places[-1] = b
        else:
            places.extend((a, b))

    def _scan(self, i: int) -> tuple[int, re.Match[bytes] | None]:
        """Entropy-coded data from ``i``: up to the next real marker (and the match), or to
        the first place known to fail (from there on this scan would fail too) or the end
        (and None). Looked for in windows that double, so the cost is in proportion to the
        distance to whichever comes first."""
        data, n, sdead = self.data, self.n, self.scan_dead
        width = 64
        while True:
            hi = min(i + width, n)
            dead = sdead.find(_ONE, i, hi) if sdead is not None else -1
            lim = hi if dead < 0 else dead
            m = _JPEG_MARKER.search(data, i, lim + 1)  # a marker that starts before lim
            if m is not None:
                return m.start(), m
            if dead >= 0 or hi >= n:
                return lim, None
            width *= 2

    def jpeg_end(self, start: int) -> int | None:
        """End offset (exclusive) of the JPEG at ``start``, walking its segments; None if
        cut, not a JPEG, or where an earlier walk failed."""
        data, n = self.data, self.n
        jdead, sdead, ends = self.jpeg_dead, self.scan_dead, self.ends
        segs = array.array(self.code)  # the places walked, as [from, to) ranges: a
        scans = array.array(self.code)  # marker's second byte is never 0xFF, so a walk
        end: int | None = None  # that lands on it fails: it is dead with its marker
        tops = array.array(self.code) if self.memo else None  # each place, for the memo
        i = start + 2
        steps = self.steps
        while i + 2 <= n:
            if jdead is not None and jdead[i]:
                break
            if ends is not None and ends[i]:  # where a picture's walk went on from here
                end = ends[i]
                break
            if tops is not None:
                tops.append(i)
            steps += 1
            if data[i] != 0xFF:
                self._place(segs, i, i + 1)
                break
            marker = data[i + 1]
            if marker == 0xFF:  # fill bytes: the run at once, to the last 0xFF of it
                last = _FILL.match(data, i).end() - 1  # type: ignore[union-attr]
                self._place(segs, i, last)
                i = last
                continue
            if segs and segs[-1] == i:  # joined to the last places (restart markers)
                segs[-1] = i + 2
            else:
                segs.append(i)
                segs.append(i + 2)
            if marker == 0xD9:
                end = i + 2
                break
            if 0xD0 <= marker <= 0xD7 or marker == 0x01:
                i += 2
                continue
            if i + 4 > n:
                break
            (seglen,) = _U16.unpack_from(data, i + 2)
            if seglen < 2:
                break
            i += 2 + seglen
            if marker == 0xDA:  # start of scan: entropy-coded data up to the next real marker
                if i >= n or (sdead is not None and sdead[i]):
                    break
                reached, m = self._scan(i)
                self.scanned += reached - i
                if self.scanned > self.limit_scanned:
                    raise _Spent
                self._place(scans, i, reached)
                if m is None:
                    if reached == n and self.cut:  # cut short inside its scan
                        end = n
                    break
                i = reached
        self.steps = steps
        if steps > self.limit_steps:
            raise _Spent
        if tops is not None and end is not None and end - start >= MIN_IMAGE:
            self._remember(tops, end)
        if end is None or end - start < MIN_IMAGE:
            if segs:
                if self.jpeg_dead is None:
                    self.jpeg_dead = bytearray(n)
                self._mark(self.jpeg_dead, segs)
            if scans:
                if self.scan_dead is None:
                    self.scan_dead = bytearray(n)
                self._mark(self.scan_dead, scans)
        return end

    def png_end(self, start: int) -> int | None:
        data, n, pdead, ends = self.data, self.n, self.png_dead, self.ends
        end: int | None = None
        i = start + 8
        walked = array.array(self.code)  # chunk positions (12 bytes apart at least)
        steps = self.steps
        while i + 12 <= n:
            if pdead is not None and pdead[i]:
                break
            if ends is not None and ends[i]:
                end = ends[i]
                break
            steps += 1
            walked.append(i)
            (length,) = _U32.unpack_from(data, i)
            ctype = data[i + 4 : i + 8]
            i += 12 + length
            if ctype == b"IEND":
                end = i if i <= n else None
                break
        self.steps = steps
        if steps > self.limit_steps:
            raise _Spent
        if self.memo and end is not None and end - start >= MIN_IMAGE:
            self._remember(walked, end)
        if (end is None or end - start < MIN_IMAGE) and walked:
            if pdead is None:
                pdead = self.png_dead = bytearray(n)
            for p in walked:
                pdead[p] = 1
        return end

    def carve(self, limit: int) -> list[tuple[int, bytes, str]]:
        data = self.data
        out: list[tuple[int, bytes, str]] = []
        i = 0
        j = data.find(JPEG_SOI)
        k = data.find(PNG_SIG)
        while len(out) < limit:
            # each signature is looked for again only once the carving has passed the last
            # one found (a body of one kind's signatures made every step search all of it
            # for the other kind)
            if 0 <= j < i:
                j = data.find(JPEG_SOI, i)
            if 0 <= k < i:
                k = data.find(PNG_SIG, i)
            if j < 0 and k < 0:
                break
            jpeg = j >= 0 and (k < 0 or j < k)
            # a start whose first place an earlier walk found dead gives nothing (the cheap
            # way past a run of signatures)
            dead = self.jpeg_dead if jpeg else self.png_dead
            if dead is not None:
                first = j + 2 if jpeg else k + 8
                if first < self.n and dead[first]:
                    i = (j if jpeg else k) + 2
                    continue
            try:
                if jpeg:
                    end = self.jpeg_end(j)
                    fmt, start = "jpeg", j
                else:
                    end = self.png_end(k)
                    fmt, start = "png", k
            except _Spent:  # the safety net: counted, the pictures found so far kept
                stopped = _CARVE_STOPPED.get()
                if stopped is not None:
                    stopped[0] += 1
                break
            if end is None or end - start < MIN_IMAGE:
                i = start + 2
                continue
            out.append((start, data[start:end], fmt))
            i = end
        return out


def carve_images(data: bytes, limit: int = MAX_ITEMS) -> list[tuple[int, bytes, str]]:
    """Complete JPEG and PNG pictures inside ``data``: (offset, bytes, format), in time in
    proportion to its size (``_Carver``); in a body the capture cut short, the JPEG cut
    at its end as well (as far as it goes)."""
    return _Carver(data, cut=_CUT_SHORT.get()).carve(limit)


def is_cut(data: bytes, fmt: str) -> bool:
    """Whether a carved JPEG is cut short (no end-of-image marker)."""
    return fmt == "jpeg" and not data.endswith(b"\xff\xd9")


MAX_NESTED = 16  # nested pictures tried when a carved one does not decode


def nested_pictures(data: bytes, limit: int = MAX_NESTED) -> list[tuple[int, bytes, str]]:
    """Complete pictures that start inside the picture ``data`` (not at its start), the
    innermost start first, at most ``limit``: what a carved picture that does not decode
    may hide. A sender can put false starts before a real picture, the first segment (or
    chunk) of each leading into the next one's: the walk from the first carves them all as
    one picture, which the decoder refuses (two frame headers), while the real one, the
    innermost, decodes. Every start is walked, in order, by one ``_Carver`` that remembers
    where the walks that gave a picture went (``memo``): a chain of false starts costs one
    step each, and the walks that fail cost once in all, as in the carving."""
    return _nested(_Carver(data, memo=True), limit)


def _nested(carver: _Carver, limit: int) -> list[tuple[int, bytes, str]]:
    data, n = carver.data, carver.n
    last: deque[tuple[int, int, str]] = deque(maxlen=limit)  # the innermost so far
    j = data.find(JPEG_SOI, 1)
    k = data.find(PNG_SIG, 1)
    while j > 0 or k > 0:
        jpeg = j > 0 and (k < 0 or j < k)
        start = j if jpeg else k
        dead = carver.jpeg_dead if jpeg else carver.png_dead
        first = start + (2 if jpeg else 8)
        if dead is None or first >= n or not dead[first]:
            try:
                end = carver.jpeg_end(start) if jpeg else carver.png_end(start)
            except _Spent:  # the safety net, as for the carving
                stopped = _CARVE_STOPPED.get()
                if stopped is not None:
                    stopped[0] += 1
                break
            if end is not None and end - start >= MIN_IMAGE:
                last.append((start, end, "jpeg" if jpeg else "png"))
        if jpeg:
            j = data.find(JPEG_SOI, start + 1)
        else:
            k = data.find(PNG_SIG, start + 1)
    return [(s, data[s:e], fmt) for s, e, fmt in reversed(last)]


def _image_format(data: bytes) -> str | None:
    if data.startswith(JPEG_SOI):
        return "jpeg"
    if data.startswith(PNG_SIG):
        return "png"
    return None


def decode_b64_image(text: str | bytes) -> tuple[bytes, str] | None:
    """A picture hidden in base64 text (optionally a data: URI); None if it is not one."""
    if isinstance(text, bytes):
        try:
            text = text.decode("ascii")
        except UnicodeDecodeError:
            return None
    if not text.isascii():  # base64 is ASCII (a JSON string may hold a lone surrogate)
        return None
    text = text.strip()
    m = _DATA_URI.match(text)
    if m:
        text = text[m.end() :]
    if len(text) < MIN_B64 or not _B64_RE.match(text.encode()):
        return None
    # a cheap look at the first bytes before decoding everything
    head = _b64(text[:16])
    if head is None or _image_format(head) is None:
        return None
    raw = _b64(text)
    if raw is None:
        return None
    fmt = _image_format(raw)
    if fmt is None:
        return None
    carved = carve_images(raw, 1)
    if carved and carved[0][0] == 0:
        return carved[0][1], fmt
    return raw, fmt


def _b64(text: str) -> bytes | None:
    t = "".join(text.split())
    t = t.replace("-", "+").replace("_", "/")
    if len(t) % 4 == 1:  # cut short one character into a group: that character says nothing
        t = t[:-1]
    t += "=" * (-len(t) % 4)
    try:
        return base64.b64decode(t, validate=False)
    except (binascii.Error, ValueError):
        return None


# -- multipart -----------------------------------------------------------------------------


@dataclass(slots=True)
class Part:
    """One part of a multipart body. Its name, file name and type are the sender's text and
    go into every item carved from it: clipped (``_clip``)."""

    headers: dict[str, str]
    body: bytes

    @property
    def content_type(self) -> str:
        return _clip(self.headers.get("content-type", "").split(";")[0].strip().lower())

    @property
    def name(self) -> str:
        return _clip(_disposition_param(self.headers.get("content-disposition", ""), "name"))

    @property
    def filename(self) -> str:
        return _clip(_disposition_param(self.headers.get("content-disposition", ""), "filename"))


FIELD_CHARS = 200  # an upload's names and paths, kept whole up to this; longer: head … tail


def _clip(text: str, limit: int = FIELD_CHARS) -> str:
    """``text``, or its head and its tail around "…" when longer than ``limit``."""
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[: half - 1]}…{text[-half:]}"


def _disposition_param(value: str, key: str) -> str:
    m = re.search(rf'(?:^|;)\s*{key}\s*=\s*"([^"]*)"', value, re.I) or re.search(
        rf"(?:^|;)\s*{key}\s*=\s*([^;\s]+)", value, re.I
    )
    return m.group(1) if m else ""


def boundary_of(content_type: str | None) -> str | None:
    if not content_type:
        return None
    m = re.search(r'boundary\s*=\s*"?([^";]+)"?', content_type, re.I)
    return m.group(1).strip() if m else None


def split_multipart(body: bytes, boundary: str | None) -> list[Part]:
    """Parts of a multipart body. The boundary is the header's when the body has it, else
    the body's first line: a head is decoded as UTF-8 with undecodable bytes replaced, so a
    boundary with such bytes (or one the header lies about) is only found in the body."""
    delim = b"--" + boundary.encode("utf-8", "surrogatepass") if boundary else b""
    if not delim or delim not in body:
        first = body.lstrip(b"\r\n").split(b"\n", 1)[0].strip()
        if not first.startswith(b"--") or len(first) < 4:
            return []
        delim = first
    pieces = body.split(delim)
    parts: list[Part] = []
    for piece in pieces[1:]:
        if piece.startswith(b"--"):
            break
        piece = piece[2:] if piece.startswith(b"\r\n") else piece.lstrip(b"\n")
        sep = piece.find(b"\r\n\r\n")
        sep_len = 4
        if sep < 0:
            sep = piece.find(b"\n\n")
            sep_len = 2
        if sep < 0:
            continue
        headers: dict[str, str] = {}
        for line in piece[:sep].decode("latin-1").splitlines():
            if ":" in line:
                k, v = line.split(":", 1)
                headers[k.strip().lower()] = v.strip()
        content = piece[sep + sep_len :]
        if content.endswith(b"\r\n"):
            content = content[:-2]
        elif content.endswith(b"\n"):
            content = content[:-1]
        parts.append(Part(headers, content))
    return parts


# -- JSON walking ------------------------------------------------------------------------


def _walk_b64_images(doc: Any) -> list[tuple[str, bytes, str]]:
    """(json path, picture, format) for the first ``MAX_ITEMS`` base64 pictures of a JSON
    document, in document order. A path is only spelled out for a picture found. The walk
    keeps its own stack: a document may nest as deep as the decoder allows."""
    out: list[tuple[str, bytes, str]] = []
    trail: list[str | int] = []  # the keys and indexes down to the node walked
    # one iterator per open container (the first over the document itself); the trail
    # holds the step into each but that first one
    stack: list[Iterator[tuple[Any, Any]]] = [iter(((None, doc),))]
    while stack:
        step_child = next(stack[-1], None)
        if step_child is None:
            stack.pop()
            if trail and len(stack) > 0:
                trail.pop()
            continue
        step, node = step_child
        if isinstance(node, dict):
            steps: Iterator[tuple[Any, Any]] = iter(node.items())
        elif isinstance(node, list):
            steps = enumerate(node)
        else:
            if isinstance(node, str) and len(node) >= MIN_B64:
                hit = decode_b64_image(node)
                if hit is not None:
                    here = [*trail, step] if step is not None else trail
                    out.append((_json_path(here), hit[0], hit[1]))
                    if len(out) >= MAX_ITEMS:
                        break
            continue
        if step is not None:
            trail.append(step)
        stack.append(steps)
    return out


# the tokens of a JSON text the decoder refused (cut at the capture's bound, nested past the
# decoder): a string (with its closing quote, absent when the text is cut inside it, and
# the colon after a key), or a run of opening brackets, of closing ones or of commas;
# possessive, so a string that is never closed is read once, to the end, and is the last
_JSON_TOKEN = re.compile(rb'"((?:[^"\\]|\\.)*+)("?)(?:\s*+(:))?|[{\[]++|[}\]]++|,++', re.S)
# a string value that may be a base64 picture (whole or cut): without one, nothing to scan
_JSON_B64 = re.compile(rb'"(?:data:image/[a-z+]{1,16};base64,)?[A-Za-z0-9+/=\\]{%d}' % MIN_B64)
# tokens scanned for the paths; past them (a text of little but brackets, keys or empty
# strings costs a token every few bytes), the pictures of the rest are found by a pattern,
# each named by the key just before it: the cost of the rest is then the pattern's (C)
MAX_JSON_TOKENS = 1 << 17
_JSON_B64_KEYED = re.compile(
    rb'(?:"([^"\\\x00-\x1f]{1,64})"\s*:\s*)?'
    rb'"((?:data:image/[a-z+]{1,16};base64,)?[A-Za-z0-9+/=\\]{%d,})"?' % MIN_B64
)  # one character class repeated: no backtracking state kept per character
MAX_JSON_DEPTH = 256  # levels of such a text whose keys and indexes make the paths


def _json_key(raw: bytes) -> str:
    """A key of a JSON text, unescaped (as read raw when it does not unescape), clipped."""
    if b"\\" in raw and len(raw) <= 4 * FIELD_CHARS:
        try:
            return _clip(str(json.loads(b'"' + raw + b'"')))
        except ValueError:
            pass
    return _clip(raw[: 4 * FIELD_CHARS].decode("utf-8", "replace"))


_JSON_START = re.compile(rb"\s*[\[{]")


def _b64_json_strings(body: bytes) -> list[tuple[str, bytes, str]]:
    """(path, picture, format) for the first ``MAX_ITEMS`` base64 pictures among the string
    values of a JSON text that does not decode, the path made as for one that does
    (``_json_path``) by a linear scan of its tokens that keeps the key or index of each open
    level (the first ``MAX_JSON_DEPTH``; "…" stands for the deeper ones). A text cut inside
    a string ends with it: a cut picture is still one (the decoder reads what there is).
    The path is ``@offset`` for a value outside any level."""
    out: list[tuple[str, bytes, str]] = []
    if _JSON_B64.search(body) is None:
        return out
    trail: list[str | int] = []  # the key or index of each level kept
    deeper = 0  # levels open past those
    key, key_at = b"", -1  # past them, the latest key and its level
    rest = -1  # where the tokens ran out
    for tokens, m in enumerate(_JSON_TOKEN.finditer(body)):
        if tokens >= MAX_JSON_TOKENS:
            rest = m.start()
            break
        c = body[m.start()]
        if c == 0x22:  # a string
            if m.group(3) is not None:  # a key (of the innermost level, when an object)
                if deeper:
                    key, key_at = m.group(1), deeper
                elif trail and isinstance(trail[-1], str):
                    trail[-1] = _json_key(m.group(1))
                continue
            raw = m.group(1)
            if len(raw) >= MIN_B64:
                hit = _json_b64(raw)
                if hit is not None:
                    here: list[str | int] = trail
                    if deeper:  # the levels between unknown, the innermost one's key known
                        here = [*trail, "…", _json_key(key)] if key_at == deeper else [*trail, "…"]
                    out.append((_json_path(here) if here else f"@{m.start(1)}", hit[0], hit[1]))
                    if len(out) >= MAX_ITEMS:
                        break
            if not m.group(2):  # cut inside the string: the end of the text
                break
        elif c == 0x7B or c == 0x5B:  # a run of { and [
            run = m.group(0)
            room = 0 if deeper else MAX_JSON_DEPTH - len(trail)
            for b in run[:room]:
                trail.append("" if b == 0x7B else 0)
            if len(run) > room:
                deeper += len(run) - room
                key_at = -1
        elif c == 0x7D or c == 0x5D:  # a run of } and ]
            shut = len(m.group(0))
            if deeper:
                past = min(deeper, shut)
                deeper -= past
                shut -= past
                key_at = -1
            if shut:
                del trail[-shut:]
        elif not deeper and trail and isinstance(trail[-1], int):  # commas in an array
            trail[-1] += len(m.group(0))
    if rest >= 0:
        for m in _JSON_B64_KEYED.finditer(body, rest):
            if len(out) >= MAX_ITEMS:
                break
            hit = _json_b64(m.group(2))
            if hit is not None:
                name = f"….{_json_key(m.group(1))}" if m.group(1) else f"@{m.start(2)}"
                out.append((name, hit[0], hit[1]))
    return out


def _json_b64(raw: bytes) -> tuple[bytes, str] | None:
    """The picture in a JSON string's raw text (escaped slashes and line breaks undone)."""
    return decode_b64_image(raw.replace(b"\\/", b"/").replace(b"\\r", b"").replace(b"\\n", b""))


def _json_pictures(data: bytes) -> list[tuple[str, bytes, str]]:
    """(path, picture, format) of the base64 pictures of a JSON text: walked when it
    decodes, found among its string values when it does not."""
    doc = _load_json(data)
    return _walk_b64_images(doc) if doc is not None else _b64_json_strings(data)


def _json_path(trail: list[str | int]) -> str:
    """``a.b[2].c`` for the keys (str) and indexes (int) of ``trail``, clipped (``_clip``:
    the keys are the sender's; 950 levels of 400-letter keys made paths of 0.4 MB, once per
    picture)."""
    pieces: list[str] = []
    size = 0  # the characters so far (an empty key adds none)
    for step in trail:
        piece = f"[{step}]" if isinstance(step, int) else f".{step}" if size else str(step)
        pieces.append(piece)
        size += len(piece)
    return _clip("".join(pieces))


def _load_json(body: bytes) -> Any:
    text = body.strip()
    if text[:1] not in (b"{", b"["):
        return None
    try:
        return json.loads(text.decode("utf-8", "replace"))
    except (ValueError, RecursionError):  # nested deeper than the decoder goes
        return None


# -- protocol parsers ---------------------------------------------------------------------


_VIID_LISTS = (
    ("FaceListObject", "FaceObject", "face"),
    ("PersonListObject", "PersonObject", "person"),
    ("ImageListObject", "Image", "image"),
    ("MotorVehicleListObject", "MotorVehicleObject", "vehicle"),
)


def _parse_viid(ev: HttpBodyEvent, doc: Any) -> ParsedBody:
    items: list[ContentItem] = []
    facts: dict[str, Any] = {"path": ev.path}
    if doc is None and _JSON_START.match(ev.body):
        return _parse_viid_unread(ev, facts)
    if not isinstance(doc, dict):
        return ParsedBody("viid", items, facts)
    for list_key, obj_key, label in _VIID_LISTS:
        lst = doc.get(list_key)
        if not isinstance(lst, dict):
            continue
        objs = lst.get(obj_key) or []
        if isinstance(objs, dict):
            objs = [objs]
        if not isinstance(objs, list):  # a number, a string, true: no objects
            continue
        facts.setdefault("objects", {})[label] = len(objs)
        for obj in objs[:MAX_ITEMS]:
            if not isinstance(obj, dict):
                continue
            obj_id = (
                _scalar(obj.get("FaceID"))
                or _scalar(obj.get("PersonID"))
                or _scalar(obj.get("ImageID"))
                or ""
            )
            sub = obj.get("SubImageList") or {}
            infos = sub.get("SubImageInfoObject") if isinstance(sub, dict) else None
            if infos is None and isinstance(obj.get("ImageInfo"), dict):
                infos = [obj["ImageInfo"]]
            if isinstance(infos, dict):
                infos = [infos]
            if not isinstance(infos, list):
                continue
            for info in infos[:MAX_ITEMS]:
                if not isinstance(info, dict) or not isinstance(info.get("Data"), str):
                    continue
                hit = decode_b64_image(info["Data"])
                if hit is None:
                    continue
                kind = _scalar(info.get("Type")) or ""
                items.append(
                    ContentItem(
                        protocol="viid",
                        what=(
                            f"GA/T 1400 {obj_key} {obj_id} SubImageInfo Type {kind or '?'}: "
                            f"base64 {hit[1].upper()} in Data"
                        ),
                        image=hit[0],
                        image_format=hit[1],
                        declared_face=label in ("face", "person"),
                        fields={
                            "object": obj_key,
                            "id": obj_id,
                            "device_id": _scalar(info.get("DeviceID"))
                            or _scalar(obj.get("DeviceID")),
                            "image_type": kind,
                            "shot_time": _scalar(info.get("ShotTime")),
                        },
                    )
                )
    return ParsedBody("viid", items, facts)


def _parse_viid_unread(ev: HttpBodyEvent, facts: dict[str, Any]) -> ParsedBody:
    """A GA/T 1400 upload the decoder refused (cut at the capture's bound, or by a gap in
    it): its base64 pictures by their paths (``_b64_json_strings``), a face or person
    list's declared faces as when it is read whole."""
    items: list[ContentItem] = []
    for jpath, img, fmt in _b64_json_strings(ev.body):
        top = jpath.split(".", 1)[0].split("[", 1)[0]
        obj_key, label = next(((o, lb) for k, o, lb in _VIID_LISTS if k == top), ("", ""))
        items.append(
            ContentItem(
                protocol="viid",
                what=f"GA/T 1400 {obj_key or 'upload'}: base64 {fmt.upper()} in {jpath} "
                "(the document itself could not be read: cut, or nested too deep)",
                image=img,
                image_format=fmt,
                declared_face=label in ("face", "person"),
                fields={"object": obj_key, "field": jpath},
            )
        )
    return ParsedBody("viid", items, facts)


def _scalar(value: Any, limit: int = 64) -> str | None:
    """A JSON value that is a string or a number, as text of at most ``limit`` characters;
    None for anything else (a device may send a list or a deep object where an ID goes)."""
    if isinstance(value, str):
        return value[:limit] or None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)[:limit]
    return None


@functools.cache
def _xml_tags(tag: str) -> tuple[re.Pattern[str], re.Pattern[str]]:
    name = re.escape(tag)
    return re.compile(rf"<(?:\w+:)?{name}>"), re.compile(rf"</(?:\w+:)?{name}>")


def _xml_value(text: str, tag: str) -> str | None:
    """The text, stripped, of the first ``<tag>`` (any namespace prefix) closed right after
    it. A scan in time proportional to the text: the one pattern it replaces backtracked
    cubically on an opening tag followed by blanks (minutes for 5,000 of them)."""
    opening, closing = _xml_tags(tag)
    for m in opening.finditer(text):
        end = text.find("<", m.end())
        if end < 0:
            return None
        if closing.match(text, end):
            return _clip(text[m.end() : end].strip())  # in every picture's item
    return None


def _isapi_event_is_face(event: dict[str, Any]) -> bool:
    etype = str(event.get("eventType", "")).lower()
    if "face" in etype:
        return True
    ace = event.get("AccessControllerEvent")
    if isinstance(ace, dict):
        # major 5 (event), minor 75 (face authentication passed) and the other face minors
        try:
            major = int(ace.get("majorEventType", 0))
            minor = int(ace.get("subEventType", 0))
        except (TypeError, ValueError, OverflowError):  # OverflowError: Infinity, 1e999
            return False
        return major == 5 and minor in (75, 76, 104, 105, 112)
    return False


def _parse_isapi(ev: HttpBodyEvent, parts: list[Part], words: ContentWords) -> ParsedBody:
    facts: dict[str, Any] = {}
    face_event = False
    for p in parts:
        text = p.body[:20000].decode("utf-8", "replace")
        if "EventNotificationAlert" in text:
            etype = _xml_value(text, "eventType") or ""
            facts["event_type"] = etype
            facts["channel"] = _xml_value(text, "channelID")
            facts["time"] = _xml_value(text, "dateTime")
            if "face" in etype.lower() or "<FaceInfo" in text or "<faceCapture" in text:
                face_event = True
        doc = _load_json(p.body) if p.content_type.endswith("json") or text[:1] == "{" else None
        if isinstance(doc, dict) and ("eventType" in doc or "AccessControllerEvent" in doc):
            facts["event_type"] = doc.get("eventType")
            ace = doc.get("AccessControllerEvent")
            if isinstance(ace, dict):
                facts["major"] = ace.get("majorEventType")
                facts["minor"] = ace.get("subEventType")
                facts["employee"] = ace.get("employeeNoString")
            face_event = face_event or _isapi_event_is_face(doc)
    items: list[ContentItem] = []
    for p in parts:
        for _off, img, fmt in carve_images(p.body):
            named = p.name or p.filename or p.content_type
            items.append(
                ContentItem(
                    protocol="isapi",
                    what=(
                        f"ISAPI event {facts.get('event_type') or '?'}: {fmt.upper()} in part "
                        f"{named!r}"
                    ),
                    image=img,
                    image_format=fmt,
                    declared_face=face_event or words.face_word(named),
                    fields={"part": named, "event_type": facts.get("event_type")},
                )
            )
    return ParsedBody("isapi", items, facts)


_DAHUA_CODE = re.compile(r"Events\[\d+\]\.Code=(\w+)|Code=(\w+);")
MAX_CODES = 16  # Dahua event codes listed per upload


def _parse_dahua(ev: HttpBodyEvent, parts: list[Part], raw: bytes) -> ParsedBody:
    # the distinct event codes, the first MAX_CODES of them kept (a body of many parts each
    # naming other codes made a list searched once per code: 71 s for 3 MB); "face" in any
    # code, kept or not, marks the pictures as faces
    kept: dict[str, None] = {}
    face = False
    for text in [p.body[:8000].decode("latin-1") for p in parts] or [raw[:8000].decode("latin-1")]:
        for m in _DAHUA_CODE.finditer(text):
            code = m.group(1) or m.group(2)
            face = face or "face" in code.lower()
            if len(kept) < MAX_CODES:
                kept.setdefault(_clip(code, 64))
    codes = list(kept)
    items: list[ContentItem] = []
    sources = [p.body for p in parts] if parts else [raw]
    for src in sources:
        for _off, img, fmt in carve_images(src):
            items.append(
                ContentItem(
                    protocol="dahua",
                    what=f"Dahua event upload ({', '.join(codes) or 'no code'}): {fmt.upper()}",
                    image=img,
                    image_format=fmt,
                    declared_face=face,
                    fields={"codes": codes},
                )
            )
    return ParsedBody("dahua", items, {"codes": codes})


def _kv_tab(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for field_ in re.split(r"[\t\n]", text):
        if "=" in field_:
            k, v = field_.split("=", 1)
            out[k.strip()] = v.strip()
    return out


def _parse_iclock(ev: HttpBodyEvent, words: ContentWords) -> ParsedBody:
    query = parse_qs(urlsplit(ev.path).query)
    table = (query.get("table") or [""])[0]
    sn = (query.get("SN") or [""])[0]
    facts: dict[str, Any] = {"table": table, "serial": sn}
    body = ev.body
    items: list[ContentItem] = []
    tab = table.upper()
    if tab == "ATTPHOTO":
        nul = body.find(b"\0")
        head = body[:nul].decode("latin-1") if nul >= 0 else ""
        kv = _kv_tab(head)
        pin = _clip(kv["PIN"]) if "PIN" in kv else None  # in every picture's item: clipped
        for _off, img, fmt in carve_images(body[nul + 1 :] if nul >= 0 else body):
            items.append(
                ContentItem(
                    protocol="iclock",
                    what=f"ZKTeco ADMS ATTPHOTO {pin or ''}: attendance {fmt.upper()}",
                    image=img,
                    image_format=fmt,
                    declared_face=True,
                    fields={"table": tab, "pin": pin, "serial": sn},
                )
            )
        return ParsedBody("iclock", items, facts)
    text = body.decode("latin-1")
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        word, _, rest = line.partition(" ")
        kv = _kv_tab(rest if "=" in rest else line)
        word_u = word.upper()
        if word_u in ("BIODATA", "FACE") or tab in ("BIODATA", "FACE"):
            tmpl = kv.get("Tmp") or kv.get("TMP")
            btype = kv.get("Type", "2" if word_u == "FACE" or tab == "FACE" else "")
            if tmpl and btype in words.face_template_types:
                raw = _b64(tmpl) or tmpl.encode()
                pin = kv.get("Pin") or kv.get("PIN") or ""
                items.append(
                    ContentItem(
                        protocol="iclock",
                        what=f"ZKTeco ADMS {word_u} face template (Type {btype}) for PIN {pin}",
                        template=raw,
                        declared_face=True,
                        fields={"table": tab, "pin": pin, "type": btype, "serial": sn},
                    )
                )
        content = kv.get("Content")
        if content and (word_u in ("BIOPHOTO", "USERPIC") or tab in ("BIOPHOTO", "USERPIC")):
            hit = decode_b64_image(content)
            if hit is not None:
                pin = kv.get("PIN") or kv.get("Pin") or ""
                items.append(
                    ContentItem(
                        protocol="iclock",
                        what=f"ZKTeco ADMS {word_u or tab} photo for PIN {pin}: base64 "
                        f"{hit[1].upper()}",
                        image=hit[0],
                        image_format=hit[1],
                        declared_face=True,
                        fields={"table": tab, "pin": pin, "serial": sn},
                    )
                )
        if len(items) >= MAX_ITEMS:
            break
    return ParsedBody("iclock", items, facts)


def _parse_generic(ev: HttpBodyEvent, parts: list[Part], doc: Any,
                   words: ContentWords) -> ParsedBody:  # fmt: skip
    """Pictures in any other upload: multipart ``parts``, the JSON document ``doc`` (the
    body read as JSON, None when it is not), a form, or the raw body."""
    items: list[ContentItem] = []
    path_face = words.face_word(ev.path)
    if parts:
        for p in parts:
            named = p.name or p.filename or p.content_type
            b64 = decode_b64_image(p.body) if len(p.body) >= MIN_B64 else None
            found = [(img, fmt) for _o, img, fmt in carve_images(p.body)] or ([b64] if b64 else [])
            for img, fmt in found:
                items.append(
                    ContentItem(
                        protocol="multipart",
                        what=f"multipart upload to {_short(ev.path)}: {fmt.upper()} in part "
                        f"{named!r}",
                        image=img,
                        image_format=fmt,
                        declared_face=path_face or words.face_word(named),
                        fields={"part": named},
                    )
                )
            if not found and _JSON_START.match(p.body):  # a JSON record part
                for jpath, img, fmt in _json_pictures(p.body):
                    items.append(
                        ContentItem(
                            protocol="multipart",
                            what=f"multipart upload to {_short(ev.path)}: base64 "
                            f"{fmt.upper()} in {jpath} of part {named!r}",
                            image=img,
                            image_format=fmt,
                            declared_face=path_face
                            or words.face_word(named)
                            or words.face_word(jpath),
                            fields={"part": named, "field": jpath},
                        )
                    )
        return ParsedBody("multipart" if items else None, items, {})
    if doc is not None:
        for jpath, img, fmt in _walk_b64_images(doc):
            items.append(
                ContentItem(
                    protocol="json",
                    what=f"JSON upload to {_short(ev.path)}: base64 {fmt.upper()} in {jpath}",
                    image=img,
                    image_format=fmt,
                    declared_face=path_face or words.face_word(jpath),
                    fields={"field": jpath},
                )
            )
        return ParsedBody("json" if items else None, items, {})
    # a document the decoder refused, or the rest of one whose head was lost
    if _JSON_START.match(ev.body) or not ev.method:
        for key, img, fmt in _b64_json_strings(ev.body):
            items.append(
                ContentItem(
                    protocol="json",
                    what=f"JSON upload to {_short(ev.path)}: base64 {fmt.upper()} in {key} "
                    "(the document itself could not be read: cut, or nested too deep)",
                    image=img,
                    image_format=fmt,
                    declared_face=path_face or words.face_word(key),
                    fields={"field": key},
                )
            )
    refused_json = bool(items)  # its pictures in base64; raw ones are carved beside them
    ctype = (ev.content_type or "").lower()
    if "x-www-form-urlencoded" in ctype and not refused_json:
        form = parse_qs(ev.body.decode("latin-1"), keep_blank_values=False)
        for key, values in form.items():
            for v in values[:4]:
                hit = decode_b64_image(unquote_plus(v) if "%" in v else v)
                if hit is not None:
                    items.append(
                        ContentItem(
                            protocol="form",
                            what=f"form upload to {_short(ev.path)}: base64 {hit[1].upper()} "
                            f"in field {key!r}",
                            image=hit[0],
                            image_format=hit[1],
                            declared_face=path_face or words.face_word(key),
                            fields={"field": key},
                        )
                    )
        return ParsedBody("form" if items else None, items, {})
    for _off, img, fmt in carve_images(ev.body):
        items.append(
            ContentItem(
                protocol="raw",
                what=f"{fmt.upper()} body posted to {_short(ev.path)}",
                image=img,
                image_format=fmt,
                declared_face=path_face,
                fields={},
            )
        )
    return ParsedBody("json" if refused_json else "raw" if items else None, items, {})


def _short(path: str, n: int = 80) -> str:
    if not path:  # the rest of a request whose head the capture lost
        return "an unknown path (the request's head was not captured)"
    return path if len(path) <= n else path[: n - 1] + "…"


class BodyRouter:
    """The pack's knowledge of request bodies: which parsers read a path (the ``parser`` key
    of its protocol signatures, for the ``http_path_prefix`` entries that match: call it with
    the path) and what marks content as a face (``words``)."""

    def __init__(self, matcher: Any) -> None:
        self.matcher = matcher
        self.words = ContentWords.of(matcher.pack)
        self._cache: dict[str, frozenset[str]] = {}

    def __call__(self, path: str) -> frozenset[str]:
        hit = self._cache.get(path)
        if hit is None:
            names = set()
            for m in self.matcher.match_facts([("http_path_prefix", path)]):
                sig = self.matcher.pack.by_id.get(m.sig_id)
                if sig is not None and sig.parser:
                    names.add(sig.parser)
            hit = frozenset(names)
            if len(self._cache) < 4096:
                self._cache[path] = hit
        return hit


def body_router(matcher: Any) -> BodyRouter:
    """The run's ``BodyRouter``, from the matcher of its pack."""
    return BodyRouter(matcher)


_DEFAULT_ROUTER: BodyRouter | None = None


def _default_router() -> BodyRouter:
    global _DEFAULT_ROUTER
    if _DEFAULT_ROUTER is None:
        from netscan.signatures.matcher import Matcher
        from netscan.signatures.pack import load_active_pack

        _DEFAULT_ROUTER = body_router(Matcher(load_active_pack()))
    return _DEFAULT_ROUTER


def parse_body(ev: HttpBodyEvent, route: BodyRouter | None = None) -> ParsedBody:
    """What face-bearing content a request body carries. ``route`` names the parsers for a
    path (``body_router`` of the run's matcher; the active pack's when not given). In a
    body the capture cut short (a segment lost, the capture's end), a JPEG cut at the end of
    what there is is kept as far as it goes."""
    token = _CUT_SHORT.set(not ev.complete)
    try:
        return _parse_body(ev, route)
    finally:
        _CUT_SHORT.reset(token)


def _parse_body(ev: HttpBodyEvent, route: BodyRouter | None) -> ParsedBody:
    body = ev.body
    path = ev.path or ""
    route = route or _default_router()
    parsers = route(path) if path else frozenset()
    words = route.words
    ctype = ev.content_type or ""
    parts: list[Part] = []
    if "multipart/" in ctype.lower() or body[:2] == b"--":
        parts = split_multipart(body, boundary_of(ctype))
    if "viid" in parsers:
        return _parse_viid(ev, _load_json(body))
    if "iclock" in parsers:
        return _parse_iclock(ev, words)
    head = body[:4096]
    if parts and any(
        b"EventNotificationAlert" in p.body[:4096]
        or b"AccessControllerEvent" in p.body[:4096]
        or p.name in ("AccessControllerEvent", "event_log")
        for p in parts
    ):
        return _parse_isapi(ev, parts, words)
    if "isapi" in parsers and parts:
        return _parse_isapi(ev, parts, words)
    if _has_dahua_code(head) or any(_has_dahua_code(p.body[:2048]) for p in parts):
        return _parse_dahua(ev, parts, body)
    doc = _load_json(body) if not parts else None
    if isinstance(doc, dict) and any(
        k in doc for k in ("FaceListObject", "PersonListObject", "ImageListObject")
    ):
        return _parse_viid(ev, doc)
    return _parse_generic(ev, parts, doc, words)


def _has_dahua_code(head: bytes) -> bool:
    # both forms of the code hold "Code=" (latin-1 reads each byte as one character)
    return b"Code=" in head and _DAHUA_CODE.search(head.decode("latin-1")) is not None
