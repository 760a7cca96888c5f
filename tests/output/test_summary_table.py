"""The summary's one-pass tables draw exactly what Rich's ``Table`` draws for the same cells:
on terminals of several colour systems and widths, piped, in ASCII-only consoles, with wide
(CJK, emoji), combining and escaped hostile characters in the cells."""

from __future__ import annotations

import io
import random

import pytest
from rich.console import Console
from rich.text import Text

from netscan.output.table import SummaryTable
from netscan.untrusted import display, text
from tests.test_untrusted import CORPUS

WORDS = ["", "a", "00:e0:4c:10:d5:0c", "10.20.100.177", "2001:b07:a3d:c112::1, 10.0.0.1",
         "Realtek Semiconductor Corp.", "face-terminal", "0.70", "摄像机", "人脸识别终端",
         "café", "e\u0301e\u0301", "🙂 smile", "x" * 60, "two  spaces ", " lead", "[bold]x[/]",
         ":warning:", "a/b tcp/443", "12.3 kB", "海康威视 Hikvision"]  # fmt: skip
STYLES = ["", "", "cyan", "magenta", "dim", "bold red"]


def _cells(rng: random.Random, n: int) -> tuple[Text, ...]:
    out = []
    for _ in range(n):
        value = rng.choice(WORDS + CORPUS)
        style = rng.choice(STYLES)
        out.append(text(value, style, limit=rng.choice([8, 32, 120])) if style or value
                   else Text(display(value)))  # fmt: skip
    return tuple(out)


def _render(renderable: object, **console: object) -> str:
    buf = io.StringIO()
    Console(file=buf, **console).print(renderable)  # type: ignore[arg-type]
    return buf.getvalue()


CONSOLES = [
    {"force_terminal": True, "color_system": "truecolor"},
    {"force_terminal": True, "color_system": "256"},
    {"force_terminal": True, "color_system": "standard"},
    {"force_terminal": False},
    {"force_terminal": True, "color_system": "truecolor", "safe_box": False},
]


@pytest.mark.parametrize("seed", range(40))
def test_same_output_as_rich_table(seed: int) -> None:
    rng = random.Random(seed)
    titles = [("Devices on the premises", ["MAC", "IP", "vendor", "hostname / model", "role",
                                           "conf"]),
              ("场所内的设备", ["MAC 地址", "IP", "厂商", "主机名 / 型号", "角色", "置信度"])]  # fmt: skip
    title, headers = rng.choice(titles)
    keep = rng.random() < 0.5
    t = SummaryTable(title, [(h, keep and i < 2) for i, h in enumerate(headers)])
    for _ in range(rng.choice([0, 1, 2, 5, 30])):
        t.add_row(*_cells(rng, len(headers)))
    assert t._widths(220) is not None  # the one-pass drawing, not Rich's, is under test
    for console in CONSOLES:
        for width in (30, 50, 80, 110, 140, 220, 400):
            expected = _render(t.rich_table(), width=width, **console)
            assert _render(t, width=width, **console) == expected, (console, width)


def test_ascii_only_console_draws_the_ascii_box() -> None:
    t = SummaryTable("Devices", [("MAC", True), ("role", False)])
    t.add_row(text("00:e0:4c:10:d5:0c"), text("camera", "cyan"))
    t.add_row(text("00:e0:4c:10:d5:0d"), text("nvr", "cyan"))
    for terminal in (True, False):
        got = []
        for renderable in (t, t.rich_table()):
            out = io.BytesIO()
            wrapper = io.TextIOWrapper(out, encoding="ascii", errors="replace")
            Console(file=wrapper, force_terminal=terminal, width=100).print(renderable)
            wrapper.flush()
            got.append(out.getvalue())
        assert got[0] == got[1]
        assert b"|" in got[0] and "\u2502".encode() not in got[0]


def test_the_one_pass_drawing_is_taken_when_the_table_fits() -> None:
    t = SummaryTable("Devices", [("MAC", True), ("role", False)])
    t.add_row(text("00:e0:4c:10:d5:0c"), text("camera", "cyan"))
    assert t._widths(100) == [19, 8]
    assert t._widths(20) == [19, 0] or t._widths(20) is None  # too narrow: Rich draws it
    assert t._widths(25) == [19, 3]  # the role column folds
    t.add_row(Text("two\nlines"), Text(""))
    assert t._widths(100) is None
