"""Bytes the capture missed in TCP connections, and the run's warning about them.

A mirror port or a capturing host that cannot keep up drops packets; each dropped
segment leaves a hole in its direction's sequence space. The Rust core counts them for
its inputs (``src/loss.rs``); ``SeqTrack`` is the same rule for the tshark engine:

* a hole opens where a segment starts past the next sequence number expected, or where
  the receiver acknowledges more than was seen (the segments before an ACK lost);
* bytes that arrive into a hole later (reordered on the way or by the mirror port, or
  retransmitted) fill it: an ACK delivered before the data it acknowledges is no loss;
* a hole still open when later holes push it out of the ``HOLES`` a direction keeps, or
  when the connection ends, is missed;
* a jump or an acknowledgement further than ``MAX_HOLE`` is a new start (the holes open
  are counted, the jump is not: sequence numbers are the sender's to choose);
* a segment's length is what its IP header says (the bytes a snap length cut were sent).
"""

from __future__ import annotations

from typing import Any

from netscan import _core

HOLES: int = _core.LOSS_HOLES
MAX_HOLE: int = _core.LOSS_MAX_HOLE
_MOD = 1 << 32


def _after(a: int, b: int) -> bool:
    """``a`` is after ``b`` in sequence space."""
    return 0 < (a - b) % _MOD < 1 << 31


class Missed:
    """What the connections' directions left out: bytes of sequence space, holes, and the
    connections with bytes missed (a mirror port's drops fall on many, a sender's crafted
    sequence numbers on its own)."""

    __slots__ = ("bytes", "conns", "gaps")

    def __init__(self) -> None:
        self.bytes = 0
        self.gaps = 0
        self.conns = 0

    def count(self, start: int, end: int) -> None:
        self.bytes += (end - start) % _MOD
        self.gaps += 1


class _Dir:
    __slots__ = ("holes", "known", "lost", "next")

    def __init__(self) -> None:
        self.next = 0
        self.known = False
        self.holes: list[list[int]] = []  # [start, end), oldest first
        self.lost = 0  # bytes of this direction counted missed

    def _count(self, missed: Missed, start: int, end: int) -> None:
        self.lost += (end - start) % _MOD
        missed.count(start, end)

    def _open(self, end: int, missed: Missed) -> None:
        """A hole from the next number expected to ``end`` (the last one grows when it
        ends there; the oldest is counted missed when there is no room)."""
        holes = self.holes
        if holes and holes[-1][1] == self.next:
            holes[-1][1] = end
            return
        if len(holes) == HOLES:
            self._count(missed, *holes.pop(0))
        holes.append([self.next, end])

    def seen(self, start: int, end: int, missed: Missed) -> None:
        if not self.known or (end - start) % _MOD > MAX_HOLE:
            if not self.known:
                self.known = True
                self.next = end
            return
        holes = self.holes
        if _after(start, self.next):
            if (start - self.next) % _MOD > MAX_HOLE:
                self.settle(missed)  # a new start: the holes open so far stay unseen
            else:
                self._open(start, missed)
            self.next = end
            return
        if _after(end, self.next):
            self.next = end
        i = 0
        while i < len(holes):
            s, e = holes[i]
            if not _after(end, s) or not _after(e, start):
                i += 1
            elif not _after(start, s) and not _after(e, end):
                del holes[i]
            elif not _after(start, s):
                holes[i][0] = end
                i += 1
            elif not _after(e, end):
                holes[i][1] = start
                i += 1
            else:
                holes[i][1] = start
                if len(holes) < HOLES:
                    holes.insert(i + 1, [end, e])
                    i += 2
                else:
                    self._count(missed, end, e)
                    i += 1

    def acked(self, ack: int, missed: Missed) -> None:
        if not self.known or not _after(ack, self.next):
            return
        if (ack - self.next) % _MOD <= MAX_HOLE:
            self._open(ack, missed)
        else:
            self.settle(missed)  # a new start
        self.next = ack

    def settle(self, missed: Missed) -> None:
        for s, e in self.holes:
            self._count(missed, s, e)
        self.holes.clear()


class SeqTrack:
    """One TCP connection's two directions (A to B, B to A)."""

    __slots__ = ("counted", "dirs")

    def __init__(self) -> None:
        self.dirs = (_Dir(), _Dir())
        self.counted = False  # whether the connection counted in ``Missed.conns`` yet

    def _note(self, missed: Missed, before: int) -> None:
        if not self.counted and missed.bytes > before:
            self.counted = True
            missed.conns += 1

    def segment(
        self, from_a: bool, flags: int, seq: int, ack: int, length: int, missed: Missed
    ) -> None:
        if flags & 0x04:
            return  # a reset's numbers say nothing of what was sent
        before = missed.bytes
        d = self.dirs[0 if from_a else 1]
        n = (length + (1 if flags & 0x02 else 0) + (1 if flags & 0x01 else 0)) % _MOD
        if n or not d.known:
            d.seen(seq, (seq + n) % _MOD, missed)
        if flags & 0x10:
            self.dirs[1 if from_a else 0].acked(ack, missed)
        self._note(missed, before)

    def lose_track(self, from_a: bool, missed: Missed) -> None:
        """A segment whose length is not known (a first fragment): the holes its side left
        stay unseen, and the count starts again."""
        before = missed.bytes
        d = self.dirs[0 if from_a else 1]
        d.settle(missed)
        d.known = False
        self._note(missed, before)

    def lost(self) -> tuple[int, int]:
        """The bytes counted missed so far from side A and from side B."""
        return self.dirs[0].lost, self.dirs[1].lost

    def settle(self, missed: Missed) -> None:
        before = missed.bytes
        for d in self.dirs:
            d.settle(missed)
        self._note(missed, before)


def per_direction(capture_loss: dict[str, int] | None) -> bool:
    """Whether the run's engine kept what each connection missed each way (its holes: the
    core and the tshark engine, which count gaps too); Zeek's logs give the bytes missed
    per connection only, neither gaps nor directions."""
    return bool(capture_loss and "tcp_gaps" in capture_loss)


def counts(missed_bytes: int, gaps: int, conns: int, payload: int) -> dict[str, int]:
    """The report's ``summary.capture_loss``."""
    return {
        "tcp_missed_bytes": missed_bytes,
        "tcp_gaps": gaps,
        "tcp_connections": conns,
        "tcp_payload_bytes": payload,
    }


def _where(gaps: int | None, conns: int) -> str:
    """Where the bytes were missed (``gaps`` None: not counted, as by Zeek)."""
    where = f"{conns:,} {'connection' if conns == 1 else 'connections'}"
    if gaps is None:
        return f"in {where}"
    return f"in {gaps:,} {'gap' if gaps == 1 else 'gaps'} of {where}"


# a live capture says what it misses (once the share the reports' verdicts say,
# netscan.report.completeness.NOTABLE_SHARE, is missed) at most every LIVE_EVERY seconds,
# and only when more was missed since
LIVE_EVERY = 30.0


def share(missed_bytes: int, payload: int) -> str:
    """The share of the TCP bytes missed, as said."""
    pct = missed_bytes / (missed_bytes + payload) * 100 if missed_bytes + payload else 0.0
    return f"{pct:.2f} %" if pct >= 0.01 else "under 0.01 %"


def live_line(missed_bytes: int, gaps: int, conns: int, payload: int) -> str:
    """The live capture's line when the capture is missing TCP segments."""
    return (
        f"the capture is missing TCP segments: {missed_bytes:,} "
        f"{'byte' if missed_bytes == 1 else 'bytes'} so far ({share(missed_bytes, payload)} "
        f"of what the connections carried) {_where(gaps, conns)}; "
        "the mirror port or this host drops packets (a mirror port oversubscribed by its "
        "source ports, or a link faster than this capture)"
    )


def warning(missed_bytes: int, gaps: int | None, conns: int, payload: int) -> str | None:
    """The run's warning when the capture missed TCP bytes (None when it missed none)."""
    if not missed_bytes:
        return None
    return (
        f"the capture missed {missed_bytes:,} {'byte' if missed_bytes == 1 else 'bytes'} "
        f"of TCP ({share(missed_bytes, payload)} of what the "
        f"connections carried) {_where(gaps, conns)}: segments that their receivers "
        "acknowledged, or that later segments show were sent, never came in (a mirror port "
        "or capturing host that dropped packets; a sender that skips its own sequence "
        "numbers shows as one connection): the volumes are lower bounds, and what was sent "
        "in a gap has no evidence here"
    )


def zeek_warning(missed_bytes: int, conns: int, payload: int) -> str | None:
    """The warning of a run from Zeek logs when their conn.log counts TCP bytes missed
    (its ``missed_bytes``: content gaps; Zeek counts no gaps of its own)."""
    if not missed_bytes:
        return None
    return (
        f"Zeek's conn.log counts {missed_bytes:,} {'byte' if missed_bytes == 1 else 'bytes'} "
        f"of TCP missed ({share(missed_bytes, payload)} of what the connections carried) "
        f"{_where(None, conns)}: content the sensor never saw (packets it or its mirror "
        "port dropped): the volumes are lower bounds, and what was sent in a gap has no "
        "evidence here"
    )


def count_of(d: Any, key: str) -> int:
    """A count in ``d`` (a dict of counts, as a damaged or hostile report read back may
    hold anything: anything but a count is 0)."""
    v = d.get(key) if isinstance(d, dict) else None
    return v if isinstance(v, int) and not isinstance(v, bool) and v > 0 else 0


def dropped(statistics: Any) -> int:
    """The packets an input's interface statistics (pcapng ISBs, ``InputInfo.statistics``)
    record the capturing host dropped: by the interface and by the operating system (0 for
    none, or for anything but counts, as a damaged report read back may hold)."""
    return count_of(statistics, "ifdrop") + count_of(statistics, "osdrop")


# a live capture's drops as its report keeps them (``capture.drops``, ``sources.live.Drops``)
LIVE_DROP_KEYS = ("kernel", "interface", "dumpcap", "flushed")


def live_dropped(drops: Any) -> int:
    """The packets a live capture lost before they reached its ring files (its report's
    ``capture.drops``): in the kernel's buffer, at the interface, in dumpcap, or still
    buffered at the stop (0 for none, or for anything but counts)."""
    return sum(count_of(drops, k) for k in LIVE_DROP_KEYS)


def host_drops(statistics: dict[str, int] | None) -> str | None:
    """An input's warning when its capture file's interface statistics (pcapng ISBs,
    ``InputInfo.statistics``) record packets the capturing host dropped; None otherwise."""
    total = dropped(statistics)
    if not total:
        return None
    ifdrop, osdrop = count_of(statistics, "ifdrop"), count_of(statistics, "osdrop")
    parts = [f"{n:,} by {who}" for n, who in ((ifdrop, "the interface"),
                                              (osdrop, "the operating system")) if n]  # fmt: skip
    recv = count_of(statistics, "ifrecv")
    of = f" of {recv:,} received" if recv else ""
    return (
        f"the file's interface statistics record {total:,} "
        f"{'packet' if total == 1 else 'packets'} dropped while capturing "
        f"({', '.join(parts)}){of}: the host that captured them could not keep up, and "
        "what they held is not in this capture"
    )
