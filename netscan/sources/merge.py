"""Several capture files in one run, merged by timestamp (stable for equal times)."""

from __future__ import annotations

import heapq
from collections.abc import Iterator

from netscan.sources.pcapfile import CaptureFile, RawRecord


def merged(captures: list[CaptureFile]) -> Iterator[RawRecord]:
    """Raw records ``(file_index, frame, ts, linktype, data, wirelen)`` of all captures, in
    time order (ties keep input order)."""
    if len(captures) == 1:
        return captures[0].records()
    return heapq.merge(*(c.records() for c in captures), key=lambda r: (r[2], r[0]))
