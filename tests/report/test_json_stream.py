"""The JSON report is written by orjson piece by piece: the same document as the standard
library would write, valid for any content, never built as one string."""

from __future__ import annotations

import io
import json
from pathlib import Path

from netscan.report import json_report


def test_stream_equals_the_standard_library(tmp_path: Path) -> None:
    report = {
        "schema_version": "1.0",
        "empty": [],
        "devices": [{"mac": "00:11:22:33:44:55", "ips": ["10.0.0.1"], "nested": {"a": [1, 2]}}],
        "flows": [
            {"bytes_up": i, "protocols": {"dns", "tls"}, "raw": b"\x00\xff"} for i in range(3)
        ],
        "text": 'caf\u00e9 \u202e\x1b[31m "quoted" \\\\ line\nbreak',
        "number": 1.5,
        "none": None,
        "undecodable": "\udcff bytes",
        "astral": "\U0001f600\x7f",
    }
    buf = io.BytesIO()
    json_report.stream(report, buf.write)
    assert buf.getvalue().isascii() and b"\x7f" not in buf.getvalue()
    parsed = json.loads(buf.getvalue())
    expected = json.loads(json.dumps(report, default=json_report._fallback))
    assert parsed == expected
    assert parsed["flows"][0]["protocols"] == ["dns", "tls"]
    assert parsed["flows"][0]["raw"] == "00ff"
    path = tmp_path / "r.json"
    json_report.write(report, path)
    assert json.loads(path.read_text(encoding="utf-8")) == expected


def test_many_items_are_written_one_by_one() -> None:
    writes: list[bytes] = []
    report = {"flows": [{"i": i} for i in range(1000)]}
    json_report.stream(report, writes.append)
    assert len(writes) >= 1000
    assert max(len(w) for w in writes) < 200
    assert json.loads(b"".join(writes)) == report
