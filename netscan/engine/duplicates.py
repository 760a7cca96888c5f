"""Copies of a frame that the capture made, told apart from packets.

A mirror port that sees a packet on two of its source ports, or a capture taken on both
sides of a bridge, records the packet twice: the same bytes a few microseconds to a few
milliseconds apart. Counted twice, every byte a device sent looks like two, and an
auditor's "how much" doubles. A frame identical (bytes, lengths and link type) to one of
the ``RECENT`` frames before it in the same input, within ``window`` seconds, is such a
copy: the engines count it in the input's packets and bytes, and analyse it once. The
Rust core does it for its inputs (``Engine::is_copy`` in ``src/engine.rs``); this is the
same rule for the tshark engine, on the MD5 that tshark gives each frame.
"""

from __future__ import annotations

from collections.abc import Hashable

from netscan import _core

RECENT: int = _core.RECENT  # frames of an input a new frame is compared with
WINDOW: float = _core.DUPLICATE_WINDOW  # seconds (0: every frame is analysed)


class RecentFrames:
    """The latest frames of one input, oldest forgotten first."""

    __slots__ = ("_frames", "window")

    def __init__(self, window: float) -> None:
        self.window = window
        self._frames: list[tuple[Hashable, float]] = []

    def is_copy(self, key: Hashable, ts: float) -> bool:
        """Whether a frame like this one came within the window; if not, it is kept."""
        if any(k == key and abs(ts - t) <= self.window for k, t in self._frames):
            return True
        self._frames.append((key, ts))
        if len(self._frames) > RECENT:
            del self._frames[0]
        return False


def warning(frames: int, wire_bytes: int, window: float) -> str:
    """The run's warning for the frames set aside as copies the capture made."""
    return (
        f"{frames:,} frames ({wire_bytes:,} bytes) were exact copies of one of the "
        f"{RECENT} frames before them in their capture, within {window * 1000:g} ms: a "
        "mirror port or a capture on both sides of a bridge records each such packet twice; "
        "they were counted in the inputs' packets but analysed once (--keep-duplicates "
        "analyses every frame)"
    )
