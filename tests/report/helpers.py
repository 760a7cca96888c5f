"""What the report tests share: the demo capture's report and the text a reader sees."""

from __future__ import annotations

import html
import re
from typing import Any

from netscan.analyze import Analyzer, Options
from netscan.report import json_report
from tests.conftest import PCAPS

DEMO = PCAPS / "demo_sales_office.pcapng"


def demo_report(country: str = "CN") -> dict[str, Any]:
    """The JSON report of the demo capture, for a premises in ``country``."""
    return json_report.build(Analyzer(Options(country=country)).run([str(DEMO)]))


def visible_text(page: str) -> str:
    """An HTML page's text as a reader sees it (no style sheet, no tags, entities undone)."""
    page = re.sub(r"<style>.*?</style>", "", page, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", page))
