"""A JPEG start-of-scan segment whose length runs past the buffer's end was once charged a
negative number of scanned bytes (``n - i`` with ``i > n``), which lifted the carving's
budget: a buffer of such segments followed by overlapping scans was never stopped. The
carving now walks each place once (``content._Carver``); these check that such buffers
cost work in proportion to their size and that no scan is ever charged below zero.
Review finding (review4)."""

from __future__ import annotations

import struct

from netscan.analysis import content
from netscan.analysis.content import carving_stopped


def test_a_scan_past_the_end_costs_no_negative_work() -> None:
    data = b"\xff\xd8\xff\xda\xff\xff" + bytes(10)
    carver = content._Carver(data)
    assert carver.jpeg_end(0) is None
    assert carver.scanned == 0 and carver.steps == 1


def test_scans_past_the_end_and_overlapping_scans_cost_their_size() -> None:
    refunds, spenders, tail = 2000, 1700, 20_000
    data = bytearray(b"\xff\xd8\xff\xda\xff\xff" * refunds)
    head = 6 * (refunds + spenders)
    for k in range(spenders):  # each start of scan lands on the same tail of zeros
        at = 6 * (refunds + k)
        data += b"\xff\xd8\xff\xda" + struct.pack(">H", head - (at + 4) + 1)
    data += bytes(tail)
    carver = content._Carver(bytes(data))
    with carving_stopped() as stopped:
        assert carver.carve(content.MAX_ITEMS) == []
    assert stopped == [0]
    assert carver.scanned <= len(data) and carver.steps <= len(data)
