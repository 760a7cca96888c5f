"""Differential test of the TCP stream framing: the core's HTTP, RTSP and SIP-over-TCP
stream parsers (netscan._core) against the Python ones on crafted streams.

The recorded streams of the public captures are compared in test_rust_parity.py; here the
crafted cases of ``parity_payloads.crafted_text_streams`` (split heads, chunked bodies,
pipelined requests, interleaved RTSP frames, lost bytes, truncated and oversized bodies,
hostile header counts and lengths, the kept ZKTeco poll responses) are driven through
both, whole, cut at every boundary, in random pieces and damaged; then the Python unit
cases of the three parsers run against the core's classes.
"""

from __future__ import annotations

import inspect
import random
from collections.abc import Callable
from typing import Any

import pytest

from netscan import _core
from netscan.dissectors import http, rtsp, sip
from netscan.events import Ctx, Event
from tests.dissectors.parity_payloads import StreamCall, StreamCase, crafted_text_streams
from tests.dissectors.test_rust_parity import _describe, _mutations

PY: dict[str, Callable[..., Any]] = {
    "http": http.HttpStream,
    "rtsp": rtsp.RtspStream,
    "sip": sip.SipStream,
}
CORE: dict[str, Callable[..., Any]] = {
    "http": _core.HttpStream,
    "rtsp": _core.RtspStream,
    "sip": _core.SipStream,
}
CASES = crafted_text_streams()


def _call(parser: Any, op: str, data: bytes, ctx: Ctx, from_client: bool) -> list[Event]:
    if op == "feed":
        return list(parser.feed(data, ctx, from_client))
    if op == "gap":
        gap = getattr(parser, "gap", None)  # the engine tells only parsers that listen
        return [] if gap is None else list(gap(ctx, from_client))
    return list(parser.close(ctx))


def _drive(case: StreamCase, calls: list[StreamCall]) -> list[str]:
    name, kwargs, _ = case
    python, core = PY[name](**kwargs), CORE[name](**kwargs)
    bad = []
    for i, (op, data, from_client) in enumerate(calls):
        ctx = Ctx(0, i + 1, float(i), None, None, "10.0.0.2", "203.0.113.9", 40000, 80, "tcp")
        expected = _call(python, op, data, ctx, from_client)
        got = _call(core, op, data, ctx, from_client)
        if expected != got:
            bad.append(f"{name} call {i} ({op}): {_describe(expected, got)}")
            break
        if python.done != core.done:
            bad.append(f"{name} call {i}: done Python {python.done}, core {core.done}")
            break
    return bad


def _case_id(case: StreamCase) -> str:
    name, kwargs, calls = case
    first = next((c[1] for c in calls if c[1]), b"")[:24]
    return f"{name}-{kwargs}-{first!r}"


def test_crafted_cases_reach_every_event_kind() -> None:
    kinds: set[str] = set()
    for name, kwargs, calls in CASES:
        python = PY[name](**kwargs)
        for i, (op, data, from_client) in enumerate(calls):
            kinds |= {e.kind for e in _call(python, op, data, Ctx(0, i + 1, 0.0), from_client)}
    assert {"http_request", "http_response", "http_body", "rtsp", "sip"} <= kinds


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_same_events_whole_and_cut_at_every_boundary(case: StreamCase) -> None:
    bad = _drive(case, case[2])
    for index, (op, data, from_client) in enumerate(case[2]):
        if op != "feed" or len(data) > 2500:
            continue
        for cut in range(1, len(data)):
            calls = list(case[2])
            calls[index : index + 1] = [
                (op, data[:cut], from_client),
                (op, data[cut:], from_client),
            ]
            bad += _drive(case, calls)
            if bad:
                break
    assert not bad, f"{len(bad)} differences, first: " + "\n".join(bad[:5])


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_same_events_in_random_pieces_and_damaged(case: StreamCase) -> None:
    rng = random.Random(_case_id(case))
    bad: list[str] = []
    for round_ in range(12):
        calls: list[StreamCall] = []
        for op, data, from_client in case[2]:
            if op == "feed" and round_ >= 6:  # damaged copies
                data = rng.choice(_mutations(data, rng, 2))
            if op != "feed" or len(data) < 2:
                calls.append((op, data, from_client))
                continue
            cuts = sorted({0, len(data), *(rng.randrange(len(data)) for _ in range(6))})
            calls += [(op, data[a:b], from_client) for a, b in zip(cuts, cuts[1:], strict=False)]
        bad += _drive(case, calls)
    assert not bad, f"{len(bad)} differences, first: " + "\n".join(bad[:5])
    assert _core.dissect_panics() == 0


def _unit_cases(module: Any, cls_name: str) -> list[Any]:
    """The unit tests of a Python stream parser that drive it through its public interface
    (feed, gap, close, done) without fixtures."""
    out = []
    for name, fn in sorted(vars(module).items()):
        if not name.startswith("test_") or not callable(fn):
            continue
        src = inspect.getsource(fn)
        if inspect.signature(fn).parameters or "tshark" in src or "realworld" in src:
            continue
        if cls_name in src or "run(" in src or "feed_split" in src:
            out.append(pytest.param(module, cls_name, fn, id=f"{module.__name__}.{name}"))
    return out


def _modules() -> list[Any]:
    from tests.dissectors import test_http, test_rtsp, test_sip

    return (
        _unit_cases(test_http, "HttpStream")
        + _unit_cases(test_rtsp, "RtspStream")
        + _unit_cases(test_sip, "SipStream")
    )


@pytest.mark.parametrize(("module", "cls_name", "fn"), _modules())
def test_python_unit_cases_pass_on_the_core(
    module: Any, cls_name: str, fn: Callable[[], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(module, cls_name, getattr(_core, cls_name))
    fn()


def test_memory_stays_bounded_on_hostile_streams() -> None:
    """What a parser holds between feeds stays within the framing caps (a header block, a
    start-line search window) plus the body cap, whatever the stream."""
    rng = random.Random(5)
    cap = 4096
    limit = 2 * (256 * 1024 + 16 * 1024 + 1460) + cap
    streams = [
        b"GET / HTTP/1.1\r\n" + b"X: " + b"y" * 2_000_000,  # a header block without end
        b"HTTP/" * 400_000,  # protocol names without a start line
        b"POST /upload HTTP/1.1\r\nContent-Type: image/png\r\nContent-Length: 90000000\r\n\r\n"
        + rng.randbytes(2_000_000),
        b"POST /upload HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        + b"100\r\n"
        + b"z" * 256
        + b"\r\n" * 8000,
    ]
    for data in streams:
        for gaps in (False, True):
            for parser in (_core.HttpStream(body_cap=cap), _core.RtspStream(), _core.SipStream()):
                peak = 0
                for i in range(0, len(data), 1460):
                    ctx = Ctx(0, i + 1, 0.0)
                    if gaps and i % 14600 == 0 and hasattr(parser, "gap"):
                        parser.gap(ctx, True)
                    parser.feed(data[i : i + 1460], ctx, True)
                    peak = max(peak, parser.held)
                assert peak <= limit, (type(parser).__name__, data[:30], peak)
