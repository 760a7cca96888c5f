"""One rule for text that came from the network: it is shown, never obeyed.

Host names, banners, user agents, certificate subjects and every other string a device puts
on the wire are chosen by that device. Before any of them reaches an output (terminal,
TUI, Markdown, HTML, a file name) it goes through this module:

* ``display`` makes one safe, single, bounded line: C0/C1 control characters, DEL,
  line and paragraph separators, bidi overrides and isolates, other invisible format
  characters, lone surrogates and unassigned code points are replaced by visible escapes
  (``\\x1b``, ``\\n``, ``\\u202e``); the result never holds a line break, and past
  ``limit`` characters it ends with ``…``. Work is proportional to ``limit``, not to the
  size of the input.
* ``text`` / ``assemble`` build ``rich.text.Text`` objects from such lines for Rich and
  Textual: data is never parsed as markup, so ``[link=…]`` or ``[@click=…]`` stay text.
* ``markdown`` escapes a line for Markdown (emphasis, code, links, tables, raw HTML).
* ``html`` escapes a line for HTML text and attribute values.
* ``filename`` makes a file-name component out of any string.
"""

from __future__ import annotations

import html as _html
import re
import unicodedata
from typing import Any

from rich.text import Text

NAME_LIMIT = 120  # a name, a banner, a label
TEXT_LIMIT = 2000  # a sentence that may carry names (a finding's reason, a warning)
REPORT_LIMIT = 4000  # one field of a report
ELLIPSIS = "…"

# escaped whatever their Unicode category: line breaks as a reader knows them
_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}
# categories shown escaped: controls, format characters (bidi, zero-width, tags),
# surrogates, unassigned code points, line and paragraph separators
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Cn", "Zl", "Zp"})
_CANDIDATE = re.compile(r"[^\x20-\x7e]")  # printable ASCII never needs a look-up


def _escape_char(ch: str) -> str:
    named = _NAMED.get(ch)
    if named is not None:
        return named
    if unicodedata.category(ch) not in _UNSAFE_CATEGORIES:
        return ch
    cp = ord(ch)
    if cp <= 0xFF:
        return f"\\x{cp:02x}"
    if cp <= 0xFFFF:
        return f"\\u{cp:04x}"
    return f"\\U{cp:08x}"


def _as_str(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", "replace")
    return value if isinstance(value, str) else str(value)


def display(value: Any, limit: int | None = NAME_LIMIT) -> str:
    """``value`` as one line that is safe to show anywhere; at most ``limit`` characters
    (``None``: no bound), the last of them ``…`` when something was cut."""
    s = _as_str(value)
    if limit is not None:
        limit = max(int(limit), 1)
        s = s[: limit + 1]  # escapes only lengthen: this is all that can be shown
    if _CANDIDATE.search(s) is None:
        out = s
    else:
        out = "".join(_escape_char(ch) for ch in s)
    if limit is None or len(out) <= limit:
        return out
    # cut at a character boundary of the input, never inside an escape
    parts: list[str] = []
    used = 0
    for ch in s:
        piece = _escape_char(ch) if _CANDIDATE.match(ch) else ch
        if used + len(piece) > limit - 1:
            break
        parts.append(piece)
        used += len(piece)
    return "".join(parts) + ELLIPSIS


def join(values: Any, sep: str = ", ", limit: int | None = NAME_LIMIT, most: int = 10) -> str:
    """Several untrusted values as one safe line: each one cleaned, at most ``most``."""
    items = list(values or [])
    out = sep.join(display(v, limit) for v in items[:most])
    if len(items) > most:
        out += f"{sep}… {len(items) - most} more"
    return out


def text(value: Any, style: str = "", limit: int | None = NAME_LIMIT) -> Text:
    """A Rich ``Text`` holding ``value`` as plain, escaped text (never parsed as markup)."""
    return Text(display(value, limit), style=style, end="")


def assemble(*parts: str | tuple[Any, str] | Text) -> Text:
    """A ``Text`` made of pieces: plain ``str`` pieces are our own words (still shown as
    plain text, never markup); ``(value, style)`` pieces are untrusted values, cleaned."""
    out = Text(end="")
    for part in parts:
        if isinstance(part, Text):
            out.append_text(part)
        elif isinstance(part, tuple):
            value, style = part
            out.append(display(value), style=style or None)
        else:
            out.append(display(part, None))
    return out


# inline Markdown syntax; block syntax needs a line start, and a cleaned value has no line
_MD_SPECIAL = re.compile(r"([\\`*_\[\](){}#|~!$=^])")


def markdown(value: Any, limit: int | None = REPORT_LIMIT) -> str:
    """``value`` as Markdown inline text that renders exactly as the (cleaned) characters:
    no emphasis, code, link, image, heading, table cell break or raw HTML can come of it."""
    s = display(value, limit)
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", s)


def html(value: Any, limit: int | None = REPORT_LIMIT) -> str:
    """``value`` as HTML text or a quoted attribute value."""
    return _html.escape(display(value, limit), quote=True)


_FILE_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def filename(value: Any, limit: int = 64, default: str = "unnamed") -> str:
    """A file-name component from any string: ASCII letters, digits, ``.``, ``_`` and
    ``-`` only, never starting with a dot or dash, never empty, at most ``limit`` long."""
    s = _FILE_UNSAFE.sub("_", _as_str(value)[: limit * 4])
    s = s.lstrip(".-")[: max(limit, 1)]
    return s or default
