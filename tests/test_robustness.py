"""Hostile input: damaged captures never make the analysis fail.

Real captures with random bytes overwritten and random cuts, run through the whole
analysis: the result is a report or a clear CaptureError, never another exception.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from netscan.analyze import Analyzer, Options
from netscan.sources.pcapfile import CaptureError
from tests.conftest import realworld_files

SMALL = [p for p in realworld_files() if p.stat().st_size < 200_000]


@pytest.fixture(scope="module")
def analyzer() -> Analyzer:
    return Analyzer(Options())


@pytest.mark.skipif(not SMALL, reason="public captures not available")
@pytest.mark.parametrize("seed", range(6))
def test_damaged_captures(analyzer: Analyzer, tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    for i in range(8):
        data = bytearray(rng.choice(SMALL).read_bytes())
        for _ in range(rng.randrange(1, 40)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        if rng.random() < 0.3:
            data = data[: rng.randrange(len(data))]
        path = tmp_path / f"damaged{i}.pcap"
        path.write_bytes(bytes(data))
        try:
            result = analyzer.run([str(path)])
        except CaptureError:
            continue
        assert result.inputs[0].packets >= 0
