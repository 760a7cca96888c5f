"""A JPEG start-of-scan segment whose length runs past the buffer's end was charged a
negative number of scanned bytes (``(n) - i`` with ``i > n``): each such walk gave the
buffer up to 64 KiB more scanning, so a buffer of a few such segments followed by
overlapping scans was never stopped at its budget (4x its size + 1 MiB) and scanned 30
times that. Review finding (review4): these tests fail on main at f74ea9a."""

from __future__ import annotations

import struct

from netscan.analysis import content
from netscan.analysis.content import carving_stopped


def test_a_scan_past_the_end_costs_no_negative_work() -> None:
    data = b"\xff\xd8\xff\xda\xff\xff" + bytes(10)
    budget = content._Budget(len(data))
    before = budget.scan
    assert content._jpeg_end(data, 0, budget) is None
    assert budget.scan <= before


def test_scans_past_the_end_do_not_lift_the_budget() -> None:
    refunds, spenders, tail = 2000, 1700, 20_000
    data = bytearray(b"\xff\xd8\xff\xda\xff\xff" * refunds)
    head = 6 * (refunds + spenders)
    for k in range(spenders):  # each start of scan lands on the same tail of zeros
        at = 6 * (refunds + k)
        data += b"\xff\xd8\xff\xda" + struct.pack(">H", head - (at + 4) + 1)
    data += bytes(tail)
    with carving_stopped() as stopped:
        assert content.carve_images(bytes(data)) == []
    assert stopped == [1]  # 34 MB of scans asked for, 1.2 MB allowed
