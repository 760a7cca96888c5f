"""Several capture files in one run, merged by timestamp (stable for equal times)."""

from __future__ import annotations

import heapq
from collections.abc import Iterator

from netscan.sources.pcapfile import CaptureFile, Record


def tagged(index: int, capture: CaptureFile) -> Iterator[tuple[int, Record]]:
    for rec in capture:
        yield index, rec


def merged(captures: list[CaptureFile]) -> Iterator[tuple[int, Record]]:
    """``(file_index, record)`` pairs from all captures in time order."""
    if len(captures) == 1:
        return tagged(0, captures[0])
    return heapq.merge(
        *(tagged(i, c) for i, c in enumerate(captures)), key=lambda item: (item[1].ts, item[0])
    )
