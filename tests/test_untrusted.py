"""The one rule for untrusted text: every hostile string shown as one safe, bounded line."""

from __future__ import annotations

import io
import re
import unicodedata
from html.parser import HTMLParser
from pathlib import Path

import pytest
from markdown_it import MarkdownIt
from rich.console import Console
from rich.table import Table

from netscan import untrusted
from tests import hostile

CORPUS = [s.decode("utf-8", "replace") for s in hostile.corpus(Path("/tmp/shots"))] + [
    "nul\x00del\x7fc1\x85\x9bend",
    "ls\u2028ps\u2029vt\x0bff\x0cfs\x1cgs\x1drs\x1e",
    "zw\u200bzwj\u200dbom\ufeffshy\u00adtag\U000e0041",
    "lre\u202alro\u202dpdf\u202clrm\u200erlm\u200falm\u061cfsi\u2068",
    "surrogate\ud800end",
    "unassigned\U0010fffe\ufffe",
]
# characters whose raw presence in an output would be a failure
UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u00ad\u061c\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff"
    "\ud800-\udfff\U000e0000-\U000e007f]"
)


@pytest.mark.parametrize("value", CORPUS)
def test_display_is_one_safe_bounded_line(value: str) -> None:
    out = untrusted.display(value)
    assert UNSAFE.search(out) is None
    assert len(out.splitlines()) <= 1
    assert len(out) <= untrusted.NAME_LIMIT
    for ch in out:  # nothing invisible or unassigned survives
        assert unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Cn", "Zl", "Zp"), repr(ch)
    assert untrusted.display(out) == out  # cleaning twice changes nothing


def test_escapes_are_visible_and_readable() -> None:
    assert untrusted.display("a\x1b[2Jb") == "a\\x1b[2Jb"
    assert untrusted.display("a\r\nb\tc") == "a\\r\\nb\\tc"
    assert untrusted.display("x\u202ey\u2066z") == "x\\u202ey\\u2066z"
    assert untrusted.display("tag\U000e0041") == "tag\\U000e0041"
    assert untrusted.display("c1\x9b") == "c1\\x9b"
    # ordinary text, including non-Latin scripts and emoji, is shown as it is
    for plain in ("摄像头-01", "Überwachung", "камера", "cam 📷", "cam[/oops]", "a\\b"):
        assert untrusted.display(plain) == plain
    assert untrusted.display(None) == ""
    assert untrusted.display(b"bad\xffbytes") == "bad\ufffdbytes"
    assert untrusted.display(42) == "42"


def test_bounded_with_a_visible_ellipsis_never_inside_an_escape() -> None:
    assert untrusted.display("L" * 5000, 50) == "L" * 49 + "…"
    assert untrusted.display("L" * 50, 50) == "L" * 50
    cut = untrusted.display("ab" + "\x1b" * 100, 10)
    assert cut == "ab\\x1b…" and len(cut) <= 10
    assert untrusted.display("x" * 10, None) == "x" * 10
    # a huge name costs what can be shown, not its size
    huge = "\x1b" * 20_000_000
    assert len(untrusted.display(huge, 200)) <= 200


def test_join_bounds_every_value_and_the_count() -> None:
    out = untrusted.join([f"n{i}\n" for i in range(30)], most=3)
    assert out == "n0\\n, n1\\n, n2\\n, … 27 more"
    assert untrusted.join([]) == ""


def _rendered(renderable: object) -> str:
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, color_system="truecolor", width=300)
    console.print(renderable)
    return buf.getvalue()


@pytest.mark.parametrize("value", CORPUS)
def test_rich_text_is_never_markup(value: str) -> None:
    t = untrusted.text(value, "bold")
    assert t.plain == untrusted.display(value)
    assert not t.spans or all(span.style == "bold" for span in t.spans)
    table = Table()
    table.add_column("name")
    table.add_row(untrusted.text(value))
    table.add_row(untrusted.assemble("plain ", (value, "red"), value))
    for out in (_rendered(t), _rendered(table)):
        assert "\x1b]" not in out  # no OSC: no hyperlink, no window title
        assert "\x07" not in out
        # only SGR styling sequences come from Rich itself
        assert re.sub(r"\x1b\[[0-9;]*m", "", out).count("\x1b") == 0


def test_markup_survives_as_text() -> None:
    out = _rendered(untrusted.assemble(("[link=file:///etc/passwd]x[/link]", ""), " ok"))
    assert "[link=file:///etc/passwd]x[/link]" in re.sub(r"\x1b\[[0-9;]*m", "", out)
    out = _rendered(untrusted.text(":warning: [bold]x[/bold]"))
    assert ":warning: [bold]x[/bold]" in re.sub(r"\x1b\[[0-9;]*m", "", out)


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)


def _html_tags(html: str) -> list[str]:
    parser = _Tags()
    parser.feed(html)
    return parser.tags


@pytest.mark.parametrize("value", CORPUS)
def test_markdown_renders_as_its_own_characters(value: str) -> None:
    md = MarkdownIt("commonmark", {"html": True}).enable("table").enable("strikethrough")
    inline = untrusted.markdown(value)
    assert "<" not in inline and ">" not in inline
    assert "\n" not in inline and "\r" not in inline
    # as a paragraph, a heading and a table cell: text only, the cell count kept
    html = md.render(f"{inline}\n\n### {inline}\n\n| a | b |\n|---|---|\n| {inline} | x |\n")
    tags = _html_tags(html)
    assert set(tags) <= {"p", "h3", "table", "thead", "tbody", "tr", "th", "td"}
    assert tags.count("td") == 2 and tags.count("h3") == 1
    text = re.sub(r"<[^>]+>", "", html)
    import html as html_mod

    assert untrusted.display(value, untrusted.REPORT_LIMIT) in html_mod.unescape(text)


@pytest.mark.parametrize("value", CORPUS)
def test_html_escape(value: str) -> None:
    out = untrusted.html(value)
    assert _html_tags(f'<p>{out}</p><a title="{out}">x</a>') == ["p", "a"]
    assert UNSAFE.search(out) is None


@pytest.mark.parametrize("value", CORPUS + ["../../etc/passwd", ".hidden", "-rf", "", "a/b\\c"])
def test_filename(value: str) -> None:
    name = untrusted.filename(value)
    assert re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9._-]*", name), name
    assert len(name) <= 64 and "/" not in name and name not in (".", "..")
