"""--jobs 3 and more: the parallel engine (the core in worker processes, each owning a share
of the flows) gives exactly the report of the single-process engine."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from netscan.analyze import Analyzer, Options
from netscan.report.json_report import build
from netscan.sources.pcapfile import CaptureFile
from tests.conftest import PCAPS, realworld


def _report(path: str | list[str], jobs: int) -> dict:
    result = Analyzer(Options(jobs=jobs)).run(path if isinstance(path, list) else [path])
    rep = build(result)
    rep.pop("generated_at")
    return json.loads(json.dumps(rep))


@pytest.fixture
def small_segments(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Small inputs count as large (so the workers run); returns the job counts used."""
    import netscan.analyze
    import netscan.engine.parallel as parallel

    monkeypatch.setattr(parallel, "MIN_SEGMENT_BYTES", 64 * 1024)
    monkeypatch.setattr(netscan.analyze, "MIN_SEGMENT_BYTES", 64 * 1024)
    used: list[int] = []
    run = parallel.ParallelEngine.run_files

    def counted(self: parallel.ParallelEngine, *a: object, **k: object) -> None:
        used.append(self.jobs)
        run(self, *a, **k)  # type: ignore[arg-type]

    monkeypatch.setattr(parallel.ParallelEngine, "run_files", counted)
    return used


@pytest.mark.parametrize(
    "name",
    ["cam_blink_cloud_headers_tjoconnor.pcap", "big_mixed_1kxun_ndpi.pcap", "demo"],
)
def test_jobs_equal_single_process(small_segments: list[int], name: str) -> None:
    path = str(PCAPS / "demo_sales_office.pcapng") if name == "demo" else str(realworld(name))
    single = _report(path, 1)
    multi = _report(path, 3)
    assert small_segments and set(small_segments) == {3}  # the workers ran (every pass)
    assert multi["inputs"] == single["inputs"]
    assert multi["flows"] == single["flows"]
    assert multi["devices"] == single["devices"]
    assert multi["endpoints"] == single["endpoints"]
    assert multi["findings"] == single["findings"]


def test_jobs_equal_single_process_over_several_inputs(small_segments: list[int]) -> None:
    paths = [str(PCAPS / "demo_sales_office.pcapng"), str(realworld("big_mixed_1kxun_ndpi.pcap"))]
    single = _report(paths, 1)
    multi = _report(paths, 3)  # (--jobs 2 runs the core in a thread: test_threaded.py)
    assert small_segments and set(small_segments) == {3}
    for key in ("inputs", "flows", "devices", "endpoints", "findings", "warnings"):
        assert multi[key] == single[key], key


def test_gzip_input_with_jobs(tmp_path: Path, small_segments: list[int]) -> None:
    """gzip is read by the core in every worker: same report, same integrity warning."""
    data = bytearray(gzip.compress((PCAPS / "demo_sales_office.pcapng").read_bytes()))
    data[-8] ^= 0xFF  # a CRC-32 mismatch: reported, nothing lost
    p = tmp_path / "demo.pcapng.gz"
    p.write_bytes(bytes(data))
    single = _report(str(p), 1)
    multi = _report(str(p), 3)
    assert small_segments == [3]
    assert multi == single
    assert any("gzip integrity error: member 1 CRC-32" in w for w in single["warnings"])


@pytest.mark.parametrize("name", ["cam_blink_cloud_headers_tjoconnor.pcap", "demo"])
def test_split_keeps_frame_numbers(name: str) -> None:
    path = PCAPS / "demo_sales_office.pcapng" if name == "demo" else realworld(name)
    whole = [(r[1], r[2], r[4]) for r in CaptureFile(path).records()]
    cap = CaptureFile(path)
    segs = cap.split(5)
    assert len(segs) == 5
    parts = [(r[1], r[2], r[4]) for s in segs for r in cap.records(s)]
    assert parts == whole
