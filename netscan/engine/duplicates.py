"""Copies of a frame that the capture made, told apart from packets.

A mirror port that sees a packet on two of its source ports, or a capture taken on both
sides of a bridge, records the packet twice: the same bytes a few microseconds to a few
milliseconds apart. Counted twice, every byte a device sent looks like two, and an
auditor's "how much" doubles. A frame that holds the same IP packet as one of the
``RECENT`` frames before it in the same input (its bytes up to its total length), within
``window`` seconds, is such a copy, whatever its link header: a mirror port that copies
an access port untagged and the trunk with an 802.1Q tag, or adds the frame check
sequence, and an 802.11 retry, make copies that differ only there. A frame without an IP
packet is a copy when its bytes, lengths and link type are those of such a frame. The
engines count a copy in the input's packets and bytes, and analyse it once. The Rust
core does it for its inputs (``Engine::is_copy`` in ``src/engine.rs``); the tshark
engine follows the same rule, on the MD5 that tshark gives each frame and, for an IP
packet, on its header and its transport's sequence numbers, checksum and payload
(tshark 4.0 gives no layer's bytes).
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
    one = frames == 1
    return (
        f"{frames:,} {'frame' if one else 'frames'} ({wire_bytes:,} bytes) "
        f"{'was an exact copy' if one else 'were exact copies'} of one of the {RECENT} frames "
        f"before {'it in its' if one else 'them in their'} capture (of its IP packet, "
        f"whatever the link header), within {window * 1000:g} ms: a mirror port or a capture "
        "on both sides of a bridge records each such packet twice; "
        f"{'it was' if one else 'they were'} counted in the inputs' packets but analysed once "
        "(--keep-duplicates analyses every frame)"
    )
