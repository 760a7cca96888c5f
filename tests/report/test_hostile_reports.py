"""Markdown, HTML and JSON reports of a capture full of hostile names: rendered by a common
Markdown renderer and parsed as HTML, they hold text only, one line per name."""

from __future__ import annotations

import html as html_mod
import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from markdown_it import MarkdownIt

from netscan import untrusted
from netscan.analyze import Analyzer, Options
from netscan.report import html_report, json_report, markdown_report
from tests import hostile

RAW = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]")


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    d = tmp_path_factory.mktemp("hostile")
    pcap = hostile.build(d, d / "shots")
    return json_report.build(Analyzer(Options()).run([str(pcap)]))


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(doc: str) -> Tags:
    p = Tags()
    p.feed(doc)
    p.close()
    return p


def test_the_capture_carries_the_corpus(report: dict[str, Any]) -> None:
    names = {h for d in report["devices"] for h in d.get("hostnames") or []}
    assert {hostile.MARKUP, hostile.LINK, hostile.CRLF, hostile.SCRIPT, hostile.HEADING} <= names
    assert hostile.QUIT.lower() in names  # from mDNS (names are case-folded)
    assert any(h.startswith("bad\ufffd") for h in names)
    assert len(report["findings"]) == 3
    labels = {f["device_label"].split(" (")[0] for f in report["findings"]}
    assert labels == {hostile.MARKUP, hostile.SCRIPT, hostile.HEADING}
    endpoint_names = {n for e in report["endpoints"] for n in e.get("names") or []}
    assert hostile.LINK in endpoint_names and hostile.IMG in endpoint_names
    subjects = " ".join(s for e in report["endpoints"] for s in e.get("certificates") or [])
    assert "CN=[@click=app.quit]cn" in subjects and "CN=cn\u202eevil" in subjects
    agents = {a for d in report["devices"] for a in d.get("user_agents") or []}
    assert hostile.RLO in agents and hostile.BELL in agents
    jsonschema.Draft202012Validator(json_report.schema()).validate(report)


def test_markdown_holds_text_only(report: dict[str, Any]) -> None:
    md = markdown_report.render(report)
    assert "<" not in md and not RAW.search(md.replace("\n", ""))
    lines = md.splitlines()
    headings = [ln for ln in lines if ln.startswith("#")]
    assert [h for h in headings if h.startswith("# ")] == ["# Face data on the premises network"]
    assert sum(h.startswith("### ") for h in headings) == len(report["findings"])
    assert not any("FORGED" in ln and not ln.startswith(("|", "-", "###")) for ln in lines)
    renderer = MarkdownIt("commonmark", {"html": True}).enable("table").enable("strikethrough")
    page = renderer.render(md)
    doc = parse(page)
    tags = {t for t, _ in doc.tags}
    assert tags <= {"h1", "h2", "h3", "p", "ul", "li", "strong", "em", "code", "table", "thead",
                    "tbody", "tr", "th", "td"}, tags  # fmt: skip
    assert sum(t == "h1" for t, _ in doc.tags) == 1
    assert sum(t == "h3" for t, _ in doc.tags) == len(report["findings"])
    # every table row keeps its number of cells: no pipe in a name split one
    for table in re.findall(r"<table>.*?</table>", page, re.S):
        widths = {len(re.findall(r"<t[hd][ >]", row)) for row in re.findall(r"<tr>.*?</tr>", table, re.S)}  # fmt: skip
        assert len(widths) == 1, widths
    text = html_mod.unescape("".join(doc.text))
    for name in (hostile.MARKUP, hostile.SCRIPT, hostile.IMG, hostile.PIPES, hostile.LINK):
        assert name in text, name
    for name in (hostile.HEADING, hostile.CRLF, hostile.OSC_TITLE, hostile.RLO):
        assert untrusted.display(name) in text, name
    assert "L" * 120 not in text and "L" * 100 in text


def test_html_holds_text_only(report: dict[str, Any]) -> None:
    page = html_report.render(report)
    assert not RAW.search(page.replace("\n", ""))
    doc = parse(page)
    tags = {t for t, _ in doc.tags}
    assert "script" not in tags and "img" not in tags and "iframe" not in tags
    for _tag, attrs in doc.tags:
        assert not any(name.startswith("on") for name, _ in attrs)
        for name, value in attrs:
            if name == "href":
                assert (value or "").startswith(("https://", "#"))
    text = "".join(doc.text)
    for name in (hostile.MARKUP, hostile.SCRIPT, hostile.IMG, hostile.LINK):
        assert name in text, name
    for name in (hostile.HEADING, hostile.CRLF, hostile.OSC_TITLE, hostile.RLO, hostile.ISOLATE):
        assert untrusted.display(name) in text, name


def test_json_escapes_control_characters_and_keeps_the_raw_strings(
    report: dict[str, Any], tmp_path: Path
) -> None:
    out = tmp_path / "r.json"
    json_report.write(report, out)
    raw = out.read_text("utf-8")
    assert raw.isascii()
    assert not re.search(r"[\x00-\x09\x0b-\x1f\x7f]", raw)
    back = json.loads(raw)
    names = {h for d in back["devices"] for h in d.get("hostnames") or []}
    assert {hostile.CRLF, hostile.CR, hostile.OSC_TITLE, hostile.RLO, hostile.ISOLATE} <= names
