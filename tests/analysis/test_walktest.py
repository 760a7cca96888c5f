"""Walk tests judged against the device's base rate, on generated captures: uploads that
follow the marks, uploads at a constant rate, uploads at random times."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from netscan.analysis.walktest import judge, windows
from netscan.analyze import Analyzer, Options
from tests.analysis.scenarios.build import (
    FACEPP,
    HIK_TERMINAL,
    T0,
    Capture,
    dns_lookup,
    tls_like_upload,
)

WINDOW = 10.0
MARKS = [(1, 60.0), (2, 150.0), (3, 240.0)]  # seconds into the capture


def _capture(d: Path, name: str, bursts: list[tuple[float, int]]) -> Path:
    cap = Capture(77)
    dns_lookup(cap, 0.5, HIK_TERMINAL, "api-cn.faceplusplus.com", FACEPP, 41)
    tls_like_upload(cap, 1.0, HIK_TERMINAL, FACEPP, bursts, down_each=120)
    return cap.write(d / f"walk_{name}.pcap")


def _keepalives() -> list[tuple[float, int]]:
    return [(2.0 + 5.0 * i, 300) for i in range(60)]  # small heartbeats every 5 s, 300 s


def build(d: Path, kind: str) -> Path:
    if kind == "follows":  # a picture-sized upload 2-4 s after each mark, heartbeats otherwise
        ups = [(t + 2.0 + n, 60_000) for n, t in MARKS]
        bursts = sorted(_keepalives() + ups)
    elif kind == "constant":  # a picture every 2 s, whatever happens
        bursts = [(2.0 + 2.0 * i, 60_000) for i in range(150)]
    else:  # pictures at random times, unrelated to the marks
        rng = random.Random(2026)
        bursts = sorted((rng.uniform(2.0, 299.0), 60_000) for _ in range(14))
        bursts = sorted(_keepalives() + bursts)
    # bursts never overlap in time (one TCP connection)
    return _capture(d, kind, bursts)


@pytest.fixture(scope="module")
def walk(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    d = tmp_path_factory.mktemp("walk")
    out = {}
    for kind in ("follows", "constant", "random"):
        res = Analyzer(Options(country="CN")).run([str(build(d, kind))])
        finding = next(f for f in res.findings if f.device == HIK_TERMINAL.mac)
        info = res.inputs[0]
        out[kind] = (finding, (info.first_ts, info.last_ts))
    return out


def _judge(walk: dict[str, Any], kind: str) -> Any:
    finding, span = walk[kind]
    bursts = [(b[0], b[2]) for b in finding.bursts]
    marks = [(n, T0 + t) for n, t in MARKS]
    return judge(marks, bursts, WINDOW, span, truncated=len(bursts) >= 100)


def test_uploads_that_follow_marks_are_significant(walk: dict[str, Any]) -> None:
    v = _judge(walk, "follows")
    assert v.significant, v.sentence
    assert v.p is not None and v.p < 0.01
    assert v.sentence.startswith("Uploads followed the marks")
    assert all(w.pictures == 1 for w in v.mark_windows)
    assert len(v.control_windows) >= 20 and not any(w.pictures for w in v.control_windows)


def test_constant_uploads_are_not_distinguishable(walk: dict[str, Any]) -> None:
    v = _judge(walk, "constant")
    # every window after a mark has uploads, as the old verdict said ("followed 3 of 3")...
    assert all(w.bursts for w in v.mark_windows)
    # ...but so does every window without marks
    assert not v.significant, v.sentence
    assert v.p is not None and v.p > 0.2
    assert "not distinguishable from its normal traffic" in v.sentence
    # the finding keeps its first 100 bursts (200 s): the third mark is left unjudged
    assert len(v.mark_windows) == 2 and "1 later mark(s) not judged" in v.sentence


def test_random_uploads_are_not_distinguishable(walk: dict[str, Any]) -> None:
    v = _judge(walk, "random")
    assert not v.significant, v.sentence
    assert "not distinguishable" in v.sentence


def test_windows_tile_outside_marks() -> None:
    after, control = windows([(1, 50.0)], [(52.0, 100.0), (5.0, 7.0)], 10.0, (0.0, 100.0))
    assert [(w.start, w.end, w.bytes) for w in after] == [(50.0, 60.0, 100.0)]
    assert all(w.end <= 50.0 or w.start >= 60.0 for w in control)
    assert len(control) == 9 and control[0].bytes == 7.0


def test_too_little_traffic_to_judge() -> None:
    v = judge([(1, 5.0), (2, 12.0)], [(6.0, 60_000)], 10.0, (0.0, 30.0))
    assert not v.significant and "not enough traffic" in v.sentence
    assert judge([], [], 10.0, (0.0, 1.0)).sentence.startswith("No marks yet")


def test_exact_and_sampled_permutation_agree() -> None:
    # 2 marks among 40 windows: exact; 6 marks among 60: sampled. Both find the same effect.
    for k, n in ((2, 40), (6, 60)):
        marks = [(i + 1, 1000.0 + 100.0 * i) for i in range(k)]
        bursts = [(t + 1.0, 50_000.0) for _n, t in marks]
        v = judge(marks, bursts, 10.0, (0.0, 1000.0 + 100.0 * k + 10.0 * n))
        assert v.significant and v.p is not None and v.p < 0.01
        assert ("exact" in v.method) == (k == 2)
