"""Per-direction TCP reassembly of the first bytes of a stream.

Only flows with an attached stream parser use this; it delivers payload in sequence
order, trims retransmitted overlaps, holds out-of-order segments (bounded) and, when a
gap never fills, skips it so that parsing can go on past a lost segment.
"""

from __future__ import annotations

MASK = 0xFFFFFFFF
HALF = 0x80000000
MAX_PENDING_BYTES = 512 * 1024
MAX_PENDING_SEGMENTS = 256


class TcpReassembly:
    __slots__ = ("next_seq", "pending", "pending_bytes", "fin", "gaps")

    def __init__(self) -> None:
        self.next_seq: list[int | None] = [None, None]
        self.pending: list[dict[int, bytes]] = [{}, {}]
        self.pending_bytes = [0, 0]
        self.fin = [False, False]
        self.gaps = [0, 0]  # lost stretches skipped so far, per direction

    def segment(self, d: int, seq: int, flags: int, payload: bytes) -> list[bytes]:
        """Feed one segment of direction ``d`` (0 = A→B, 1 = B→A); returns in-order data."""
        nxt = self.next_seq[d]
        if flags & 0x02:  # SYN
            self.next_seq[d] = nxt = (seq + 1) & MASK
            seq = (seq + 1) & MASK
        if not payload:
            return []
        if nxt is None:
            self.next_seq[d] = nxt = seq
        diff = (seq - nxt) & MASK
        if diff >= HALF:  # starts before what we have: retransmission or overlap
            overlap = (nxt - seq) & MASK
            if overlap >= len(payload):
                return []
            payload = payload[overlap:]
            diff = 0
        if diff:
            pend = self.pending[d]
            if seq not in pend or len(pend[seq]) < len(payload):
                self.pending_bytes[d] += len(payload) - len(pend.get(seq, b""))
                pend[seq] = payload
            if self.pending_bytes[d] > MAX_PENDING_BYTES or len(pend) > MAX_PENDING_SEGMENTS:
                return self._skip_gap(d)
            return []
        out = [payload]
        self.next_seq[d] = (nxt + len(payload)) & MASK
        if self.pending[d]:
            out.extend(self._drain(d))
        return out

    def _drain(self, d: int) -> list[bytes]:
        pend = self.pending[d]
        out: list[bytes] = []
        nxt = self.next_seq[d]
        assert nxt is not None
        progress = True
        while pend and progress:
            progress = False
            for seq in list(pend):
                diff = (seq - nxt) & MASK
                data = pend[seq]
                if diff == 0 or diff >= HALF:
                    del pend[seq]
                    self.pending_bytes[d] -= len(data)
                    overlap = 0 if diff == 0 else (nxt - seq) & MASK
                    if overlap < len(data):
                        data = data[overlap:]
                        out.append(data)
                        nxt = (nxt + len(data)) & MASK
                    progress = True
        self.next_seq[d] = nxt
        return out

    def _skip_gap(self, d: int) -> list[bytes]:
        pend = self.pending[d]
        nxt = self.next_seq[d]
        assert nxt is not None
        first = min(pend, key=lambda s: (s - nxt) & MASK)
        if first != nxt:
            self.gaps[d] += 1
        self.next_seq[d] = first
        return self._drain(d)

    def flush(self, d: int) -> list[bytes]:
        """At the end of the capture: deliver what is held, skipping gaps."""
        out: list[bytes] = []
        while self.pending[d]:
            out.extend(self._skip_gap(d))
        return out
