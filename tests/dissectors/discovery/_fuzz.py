"""Shared robustness checks: a parser must never raise, whatever the bytes."""

from __future__ import annotations

import random
from collections.abc import Callable

from netscan.events import Ctx


def assert_never_raises(parse: Callable[[bytes, Ctx], list], sample: bytes, ctx: Ctx) -> None:
    """Every truncation, some bit flips and random garbage: parse returns a list."""
    for cut in range(len(sample) + 1):
        assert isinstance(parse(sample[:cut], ctx), list)
    rng = random.Random(1234)
    for _ in range(300):
        mutated = bytearray(sample)
        for _ in range(rng.randint(1, 8)):
            pos = rng.randrange(len(mutated))
            mutated[pos] = rng.randrange(256)
        assert isinstance(parse(bytes(mutated), ctx), list)
    for size in (0, 1, 19, 20, 31, 32, 33, 119, 120, 121, 500, 1500):
        for _ in range(20):
            assert isinstance(parse(rng.randbytes(size), ctx), list)
    assert isinstance(parse(b"\x00" * 70000, ctx), list)
    assert isinstance(parse(sample + b"\xff" * 70000, ctx), list)
