"""Flow floods cost bounded memory: the flow table retires its idlest flows, conversations,
endpoints and devices are bounded, the JSON report lists a bounded number of rows, and
every byte stays accounted for (flows + flows_aggregated). Same caps for both engines."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import pytest

from netscan import limits
from netscan.analyze import Analyzer, Options
from netscan.limits import LimitError, Limits
from tests.hostile_inputs import count_in, run_netscan, write_flood

CAPS = "flows=4000,conversations=1500,report-flows=200,endpoints=500"


@functools.cache
def _flood(n: int, directory: str) -> tuple[Path, int]:
    path = Path(directory) / f"flood-{n}.pcap"
    return path, write_flood(path, n)


@pytest.fixture(scope="module")
def floods(tmp_path_factory: pytest.TempPathFactory) -> Any:
    d = str(tmp_path_factory.mktemp("floods"))
    return lambda n: _flood(n, d)


def _totals(report: dict[str, Any]) -> tuple[int, int, int, int]:
    rows = report["flows"] + report["flows_aggregated"]
    return (
        sum(r["bytes_up"] for r in rows),
        sum(r["bytes_down"] for r in rows),
        sum(r["packets_up"] + r["packets_down"] for r in rows),
        sum(r["flows"] for r in rows),
    )


def test_limits_parse_and_refuse() -> None:
    lim = Limits().with_settings(["gunzip=8G", "flows = 1000", "report-flows=2K", ""])
    assert (lim.gunzip, lim.flows, lim.report_flows) == (8 << 30, 1000, 2048)
    assert lim.conversations == Limits().conversations
    with pytest.raises(LimitError, match="unknown limit 'flow'"):
        Limits().with_settings(["flow=1"])
    with pytest.raises(LimitError, match="at least 1"):
        Limits().with_settings(["images=0"])
    assert limits.human(256 << 20) == "256M" and limits.human(1500) == "1500"


def test_flood_is_bounded_and_every_byte_accounted_for(tmp_path: Path, floods: Any) -> None:
    path, wire = floods(60_000)
    run = run_netscan([str(path)], tmp_path, limits=CAPS)
    assert run.returncode == 0, run.stderr
    rep = run.report
    assert rep is not None
    s = rep["summary"]
    # the report is proportional to the caps, not to the flood
    assert s["flows_listed"] == len(rep["flows"]) == 200
    assert s["flows"] == s["flows_listed"] + s["flows_not_listed"] <= 1500 + 4000
    assert len(rep["endpoints"]) <= 2 * 500
    # nothing lost: every datagram and byte of the flood is in a row or an aggregate
    up, down, packets, flows = _totals(rep)
    assert (up, down, packets) == (wire, 0, 60_000)
    assert flows >= 60_000  # (a flow may be counted again if its 5-tuple came back)
    # the warnings count what each bound did, and the JSON counts agree
    w = run.warnings
    retired = count_in(r"^([\d,]+) flows were retired from the engine's table of 4,000", w)
    assert retired == s["flows_retired"] and retired % 1000 == 0 and retired >= 56_000
    folded = count_in(r"^([\d,]+) conversations \(the smallest\) beyond the limit of 1,500", w)
    assert (
        folded
        == s["flows_folded"]
        == sum(a["conversations"] for a in rep["flows_aggregated"] if a["why"] == "folded")
    )
    listed_out = count_in(r"^([\d,]+) of [\d,]+ conversations \(the smallest\) are not listed", w)
    assert (
        listed_out
        == s["flows_not_listed"]
        == sum(a["conversations"] for a in rep["flows_aggregated"] if a["why"] == "not listed")
    )
    assert count_in(r"^at least ([\d,]+) off-site addresses beyond the limit of 500", w) == 500
    assert s["flows"] + folded == 60_000  # one conversation per flood flow (distinct peers)
    # the listed rows are the largest ones
    smallest_listed = min(f["bytes_up"] + f["bytes_down"] for f in rep["flows"])
    assert all(a["bytes_up"] >= 0 for a in rep["flows_aggregated"]) and smallest_listed > 0


def test_flood_memory_does_not_grow_with_the_flood(
    tmp_path: Path, floods: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the registries built in memory by both runs alike: with the cache's mapped indexes
    # (netscan.datacache), peak RSS also counts the index pages the lookups touched, file
    # pages shared with the page cache that grow with the distinct addresses looked up,
    # and whether a run built the index or mapped it depended on the tests before this one
    # (a directory others can write to is not used as the cache)
    shared = tmp_path / "no-cache"
    shared.mkdir()
    shared.chmod(0o777)
    monkeypatch.setenv("NETSCAN_CACHE_DIR", str(shared))
    small, _ = floods(40_000)
    large, _ = floods(80_000)
    a = run_netscan([str(small)], tmp_path, limits=CAPS)
    b = run_netscan([str(large)], tmp_path, limits=CAPS)
    assert a.returncode == b.returncode == 0, (a.stderr, b.stderr)
    # twice the flows, the same tables: a few MB of address strings at most
    assert b.maxrss_mb - a.maxrss_mb < 25, (a.maxrss_mb, b.maxrss_mb)
    # the fixed part (interpreter, pack, the IEEE MA-L/MA-M/MA-S registry, geo tables)
    assert b.maxrss_mb < 450, b.maxrss_mb
    assert a.report is not None and b.report is not None
    assert len(b.report["flows"]) == len(a.report["flows"]) == 200


def test_both_engines_apply_the_same_caps(floods: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    path, wire = floods(12_000)
    lim = Limits().with_settings(["flows=2000", "conversations=800", "endpoints=300"])
    results = {}
    for engine in ("core", "tshark"):
        res = Analyzer(Options(engine=engine, limits=lim)).run([str(path)])
        results[engine] = res
    nat, tsh = results["core"], results["tshark"]
    assert nat.warnings == tsh.warnings
    assert any(w.startswith("10,000 flows were retired") for w in nat.warnings), nat.warnings
    assert len(nat.conversations) == len(tsh.conversations) <= 800 + 2000
    for res in (nat, tsh):
        inv = res.inventory
        up = sum(c.bytes_up for c in res.conversations) + sum(
            t.bytes_up for t in inv.folded.values()
        )
        assert up == wire
        assert len(inv.endpoints) <= 300


def test_normal_capture_is_untouched_by_the_caps(tmp_path: Path) -> None:
    """The demo capture: no cap is reached, no limit warning, no aggregate row."""
    demo = Path(__file__).resolve().parents[2] / "pcaps" / "demo_sales_office.pcapng"
    run = run_netscan([str(demo)], tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.report is not None
    assert run.report["flows_aggregated"] == []
    s = run.report["summary"]
    assert s["flows_listed"] == s["flows"] and s["flows_not_listed"] == s["flows_folded"] == 0
    assert not [w for w in run.warnings if "limit" in w], run.warnings
    assert json.dumps(run.report)  # plain JSON
