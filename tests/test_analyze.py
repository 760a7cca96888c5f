"""The one analysis driver (netscan.analyze.Drive): files, step by step and records (live)
run through it, every engine implements the Engine protocol, and premises inferred from
the link apply in one pass over the input, with the same report a second pass gives."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from netscan import analyze
from netscan.analyze import Analyzer, Options, Result
from netscan.engine.core import CoreEngine
from netscan.engine.protocol import Engine
from netscan.inventory.inventory import Inventory
from netscan.report import json_report
from netscan.sources.pcapfile import CaptureFile
from tests.analysis.scenarios.build import SCENARIOS, V6_ISAPI_PLATFORM, V6_VIID_PLATFORM
from tests.baselines import normalise
from tests.conftest import PCAPS, REALWORLD

INFERRING = ["ipv6_slaac", "ipv6_slaac_no_ra", "dual_stack_dhcpv6"]
# public captures whose premises inference applies (public addresses on the LAN)
INFERRING_REALWORLD = ["big_mixed_1kxun_ndpi.pcap", "tls_sni_many_sites_22if_ndpi.pcapng"]


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    where = tmp_path_factory.mktemp("driver-scenarios")
    made: dict[str, Path] = {}

    def get(name: str) -> Path:
        if name not in made:
            made[name] = SCENARIOS[name](where)
        return made[name]

    return get


def _report(result: Result, path: Path) -> dict[str, Any]:
    return normalise(json_report.build(result), str(path), path.name)


def _counting_open(counter: list[int]) -> Callable[..., Any]:
    """CoreEngine.open, counting the times an engine opens the capture files (the passes
    over the input)."""
    original = CoreEngine.open

    def opening(engine: CoreEngine, *a: Any, **kw: Any) -> Any:
        counter.append(1)
        return original(engine, *a, **kw)

    return opening


def _run(path: Path, log_calls: int | None = None, **kw: Any) -> tuple[Result, int]:
    opens: list[int] = []
    with mock.patch.object(CoreEngine, "open", _counting_open(opens)):
        if log_calls is None:
            result = Analyzer(Options(country="CN", **kw)).run([str(path)])
        else:
            with mock.patch.object(analyze, "LOG_CALLS", log_calls):
                result = Analyzer(Options(country="CN", **kw)).run([str(path)])
    return result, len(opens)


def _confirmed(result: Result) -> list[str]:
    return sorted(str(f.destination.ip) for f in result.findings
                  if f.level == "confirmed")  # fmt: skip


def test_inferred_premises_apply_in_one_pass(scenario: Callable[[str], Path]) -> None:
    result, opens = _run(scenario("ipv6_slaac"))
    assert opens == 1  # the capture is read once
    assert result.inventory.premises.inference.applied
    assert _confirmed(result) == sorted([V6_VIID_PLATFORM, V6_ISAPI_PLATFORM])
    assert any("premises inferred from the link" in w for w in result.warnings)


def test_replay_reuses_the_events_signature_hits(scenario: Callable[[str], Path]) -> None:
    """The replay with inferred premises takes each event's signature hits from the first
    pass (they depend on the event alone): no event is observed and matched again."""
    from netscan import observations

    original = analyze.SinkLog.replay
    observed: list[str] = []

    def replay(self: Any, inventory: Inventory) -> Inventory:
        blind = {k: (lambda e, k=k: observed.append(k) or []) for k in observations.EVENT_OBSERVERS}
        with mock.patch.dict(observations.EVENT_OBSERVERS, blind):
            return original(self, inventory)

    with mock.patch.object(analyze.SinkLog, "replay", replay):
        result, opens = _run(scenario("ipv6_slaac"))
    assert opens == 1 and result.inventory.premises.inference.applied
    assert observed == []
    assert _confirmed(result) == sorted([V6_VIID_PLATFORM, V6_ISAPI_PLATFORM])


@pytest.mark.parametrize("name", INFERRING)
def test_one_pass_equals_a_second_pass(scenario: Callable[[str], Path], name: str) -> None:
    """A log too small to keep (bound 0) makes the run read the capture again with the
    inferred premises, as the analysis did before: both reports are the same."""
    path = scenario(name)
    one, opens_one = _run(path)
    two, opens_two = _run(path, log_calls=0)
    assert (opens_one, opens_two) == (1, 2)
    assert one.inventory.premises.inference.applied
    assert _report(one, path) == _report(two, path)


@pytest.mark.parametrize("name", INFERRING_REALWORLD)
def test_one_pass_equals_a_second_pass_on_public_captures(name: str) -> None:
    path = REALWORLD / name
    one, opens_one = _run(path)
    two, opens_two = _run(path, log_calls=0)
    assert (opens_one, opens_two) == (1, 2)
    assert one.inventory.premises.inference.applied
    assert _report(one, path) == _report(two, path)


def test_no_inference_needs_no_log(scenario: Callable[[str], Path]) -> None:
    """Given premises or --no-premises-inference: nothing is kept, one pass."""
    path = scenario("ipv6_slaac")
    kept: list[Any] = []
    original = analyze.SinkLog.__init__

    def init(self: Any, inventory: Inventory, record: bool, limit: int | None = None) -> None:
        original(self, inventory, record, limit)
        kept.append(self)

    with mock.patch.object(analyze.SinkLog, "__init__", init):
        off, opens = _run(path, infer_premises=False)
        assert opens == 1 and not kept[-1].complete
        assert not off.inventory.premises.inference.applied and not off.findings
        given, opens = _run(path, premises=["10.0.0.0/8"])
        assert opens == 1 and not kept[-1].complete


def test_step_by_step_applies_the_inference(scenario: Callable[[str], Path]) -> None:
    """The TUI's step-by-step run ends with the result ``run`` gives, inference applied;
    the steps before it are the analysis so far, with the run's premises."""
    path = scenario("ipv6_slaac")
    steps = list(Analyzer(Options(country="CN")).run_incremental([str(path)], batch=5))
    assert len(steps) > 2 and steps[-1].final and not any(s.final for s in steps[:-1])
    final = steps[-1].result()
    assert final.inventory.premises.inference.applied
    whole, _ = _run(path)
    assert _report(final, path) == _report(whole, path)


def test_records_apply_the_inference(scenario: Callable[[str], Path]) -> None:
    """Records handed over (as a live capture does) end with the inference applied too."""
    path = scenario("ipv6_slaac")
    records = CaptureFile(str(path)).records()
    steps = list(Analyzer(Options(country="CN")).run_incremental(records=records, batch=6,
                                                                 source="live-test"))  # fmt: skip
    final = steps[-1].result()
    assert steps[-1].final and final.engine == "core"
    inf = final.inventory.premises.inference
    assert inf.applied and inf.origin == "default+inferred"
    assert _confirmed(final) == sorted([V6_VIID_PLATFORM, V6_ISAPI_PLATFORM])
    assert not any("did not use" in w for w in final.warnings)


def test_records_beyond_the_log_report_the_inference(scenario: Callable[[str], Path]) -> None:
    """A run over records cannot read them again: past the log's bound the inference is
    reported, not applied."""
    path = scenario("ipv6_slaac")
    with mock.patch.object(analyze, "LOG_CALLS", 10):
        steps = list(Analyzer(Options(country="CN")).run_incremental(
            records=CaptureFile(str(path)).records(), source="live-test"))  # fmt: skip
    final = steps[-1].result()
    assert not final.inventory.premises.inference.applied
    assert any("the analysis did not use" in w for w in final.warnings)


def test_partial_results_keep_off_site_uploads_aside(scenario: Callable[[str], Path]) -> None:
    """Uploads between two addresses the run calls off-site are watched (the premises may
    yet cover the sender) but never shown before the premises are decided; once they are,
    the uploads of the devices at global addresses count."""
    path = scenario("ipv6_slaac")
    partials = 0
    for step in Analyzer(Options(country="CN")).run_incremental([str(path)], batch=4):
        res = step.result()
        if step.final:
            break
        partials += 1
        for flow in res.inventory.flows:
            if flow.a_ip and flow.bursts is not None:
                assert flow.a_scope != 2, flow
    assert partials > 1
    up = [c for c in res.conversations if c.bursts and c.peer_ip == V6_VIID_PLATFORM]
    assert up and all(b[2] > 0 for c in up for b in c.bursts)


def _engines(tmp_path: Path) -> Iterator[Any]:
    from netscan.engine.threaded import ThreadedEngine
    from netscan.engine.tshark import TsharkEngine
    from netscan.inventory.enrich import Premises
    from netscan.live_analysis import LiveEngine, RecordsEngine

    inv = Inventory()
    yield CoreEngine(inv)
    yield ThreadedEngine(inv)
    yield TsharkEngine(inv)
    yield RecordsEngine(inv, Premises(), [], "records")
    from netscan.sources.live import LiveCapture

    sink = analyze.SinkLog(inv, record=False)
    # not started: the engine of a capture on loopback, before any packet
    capture = LiveCapture("lo", evidence_dir=tmp_path / "evidence", backend="scapy")
    yield LiveEngine(sink, Premises(), capture)


def test_every_engine_is_an_engine(tmp_path: Path) -> None:
    for engine in _engines(tmp_path):
        assert isinstance(engine, Engine), type(engine)


def test_demo_single_and_step_by_step_agree() -> None:
    demo = PCAPS / "demo_sales_office.pcapng"
    whole = Analyzer(Options(country="CN")).run([str(demo)])
    steps = list(Analyzer(Options(country="CN")).run_incremental([str(demo)], batch=3000))
    assert _report(steps[-1].result(), demo) == _report(whole, demo)
    assert steps[-1].done_bytes == steps[-1].total_bytes == demo.stat().st_size
