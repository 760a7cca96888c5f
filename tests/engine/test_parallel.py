"""--jobs: the parallel engine gives exactly the report of the single-process engine."""

from __future__ import annotations

import json

import pytest

from netscan.analyze import Analyzer, Options
from netscan.report.json_report import build
from netscan.sources.pcapfile import CaptureFile
from tests.conftest import PCAPS, realworld


def _report(path: str, jobs: int) -> dict:
    rep = build(Analyzer(Options(jobs=jobs)).run([path]))
    rep.pop("generated_at")
    return json.loads(json.dumps(rep))


@pytest.mark.parametrize(
    "name",
    ["cam_blink_cloud_headers_tjoconnor.pcap", "big_mixed_1kxun_ndpi.pcap", "demo"],
)
def test_jobs_equal_single_process(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    import netscan.analyze
    import netscan.engine.parallel as parallel

    path = str(PCAPS / "demo_sales_office.pcapng") if name == "demo" else str(realworld(name))
    # force several small segments so the merge is exercised on small files
    monkeypatch.setattr(parallel, "MIN_SEGMENT_BYTES", 64 * 1024)
    monkeypatch.setattr(netscan.analyze, "MIN_SEGMENT_BYTES", 64 * 1024)
    single = _report(path, 1)
    multi = _report(path, 3)
    assert multi["inputs"] == single["inputs"]
    assert multi["flows"] == single["flows"]
    assert multi["devices"] == single["devices"]
    assert multi["endpoints"] == single["endpoints"]
    assert multi["findings"] == single["findings"]


@pytest.mark.parametrize("name", ["cam_blink_cloud_headers_tjoconnor.pcap", "demo"])
def test_split_keeps_frame_numbers(name: str) -> None:
    path = PCAPS / "demo_sales_office.pcapng" if name == "demo" else realworld(name)
    whole = [(r[1], r[2], r[4]) for r in CaptureFile(path).records()]
    cap = CaptureFile(path)
    segs = cap.split(5)
    assert len(segs) == 5
    parts = [(r[1], r[2], r[4]) for s in segs for r in cap.records(s)]
    assert parts == whole
