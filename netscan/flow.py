"""Flows: the first-class record of one conversation (5-tuple), both directions.

Side A is the client (the sender of the SYN, or of the first packet unless that looks
like a server's reply); side B the server. Counters use the frame length on the wire
(Wireshark's ``frame.len``), so they stay right on snaplen-cut captures.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, overload

from netscan.events import Ctx
from netscan.limits import FLOW_MAX_BURSTS

TCP = 6
UDP = 17
ICMP = 1
ICMPV6 = 58
PROTO_NAMES = {TCP: "tcp", UDP: "udp", ICMP: "icmp", ICMPV6: "icmpv6"}

NO_APP: frozenset[str] = frozenset()  # shared by the many flows nothing is recognised on
FIRST_FRAMES = 5  # how many frame numbers of the first packets each flow keeps
BURST_GAP = 1.0  # seconds of upstream silence that end an upload burst

# Ports that mark the server side of a flow whose first packet gives no other hint.
WELL_KNOWN = frozenset({
    20, 21, 22, 23, 25, 53, 67, 80, 88, 110, 123, 137, 138, 139, 143, 161, 389, 443, 445,
    514, 554, 587, 853, 993, 995, 1883, 1900, 3702, 5060, 5353, 5355, 8000, 8080, 8443,
    8554, 8883, 32100, 34567, 37777, 37020, 37810,
})  # fmt: skip


def sender_is_client(proto: int, sport: int, dport: int, tcp_flags: int = 0) -> bool:
    """Whether the sender of a flow's first packet is the client (side A).

    A SYN-ACK comes from the server; so does a packet without SYN (TCP) or any datagram
    (UDP) sent from a well-known port to a port that is not well known. Everything else
    makes its sender the client. Both engines decide with this function.
    """
    if proto == TCP:
        if tcp_flags & 0x12 == 0x12:
            return False
        return bool(tcp_flags & 0x02) or sport not in WELL_KNOWN or dport in WELL_KNOWN
    if proto == UDP:
        return sport not in WELL_KNOWN or dport in WELL_KNOWN
    return True


class BurstList(Sequence[list[float]]):
    """Upload bursts ``[start, end, bytes, packets]`` held as four doubles each in one
    array: 32 bytes a burst instead of a list and four float objects (about 180 bytes).
    Reads back as lists of four floats; ``extend`` takes another ``BurstList`` or any
    iterable of four-number sequences."""

    __slots__ = ("_a",)

    def __init__(self, items: Iterable[Sequence[float]] = ()) -> None:
        self._a = array("d")
        self.extend(items)

    @classmethod
    def from_bytes(cls, raw: bytes) -> BurstList:
        """From packed native-endian doubles, four a burst (the Rust core's form)."""
        a = array("d")
        a.frombytes(raw if not len(raw) % 32 else raw[: len(raw) - len(raw) % 32])
        out = cls.__new__(cls)
        out._a = a
        return out

    def extend(self, items: Iterable[Sequence[float]]) -> None:
        if isinstance(items, BurstList):
            self._a.extend(items._a)
            return
        a = self._a
        for b in items:
            a.extend((float(b[0]), float(b[1]), float(b[2]), float(b[3])))

    def copy(self) -> BurstList:
        out = BurstList()
        out._a = array("d", self._a)
        return out

    def __len__(self) -> int:
        return len(self._a) >> 2

    def __bool__(self) -> bool:
        return bool(self._a)

    def __iter__(self) -> Iterator[list[float]]:
        a = self._a
        for i in range(0, len(a), 4):
            yield a[i : i + 4].tolist()

    @overload
    def __getitem__(self, i: int) -> list[float]: ...
    @overload
    def __getitem__(self, i: slice) -> list[list[float]]: ...
    def __getitem__(self, i: int | slice) -> list[float] | list[list[float]]:
        n = len(self)
        if isinstance(i, slice):
            a = self._a
            return [a[4 * j : 4 * j + 4].tolist() for j in range(*i.indices(n))]
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError("burst index out of range")
        return self._a[4 * i : 4 * i + 4].tolist()

    def __eq__(self, other: object) -> bool:
        if isinstance(other, BurstList):
            return self._a == other._a
        if isinstance(other, (list, tuple)):
            return list(self) == [list(b) for b in other]
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"BurstList({list(self)!r})"


RETIRE_FRACTION = 4  # a full flow table retires 1/RETIRE_FRACTION of its flows at once


def retire_idlest(flows: list[Flow], tables: list[dict[Any, tuple[Flow, bool]]]) -> list[Flow]:
    """The flow-table bound, shared by the engines: take the idlest quarter of ``flows``
    (least recent packet first, then frame) out of the list and out of every lookup table
    (in place: hot loops hold references to them), and return them. The caller closes their
    parsers and tells its sink (``on_flow_end``) so their totals are folded, never lost."""
    flows.sort(key=lambda f: (f.last_ts, f.last_frame))
    n = max(1, len(flows) // RETIRE_FRACTION)
    gone = flows[:n]
    del flows[:n]
    dead = {id(f) for f in gone}
    for table in tables:
        stale = [k for k, hit in table.items() if id(hit[0]) in dead]
        for k in stale:
            del table[k]
    return gone


class Flow:
    __slots__ = (
        "file",
        "proto",
        "a_ip",
        "b_ip",
        "a_port",
        "b_port",
        "a_mac",
        "b_mac",
        "bytes_ab",
        "bytes_ba",
        "pkts_ab",
        "pkts_ba",
        "payload_ab",
        "payload_ba",
        "missed_ab",
        "missed_ba",
        "first_ts",
        "last_ts",
        "first_frames",
        "last_frame",
        "app",
        "parser",
        "tcp",
        "bursts",
        "burst_cur",
        "a_scope",
        "b_scope",
    )

    def __init__(
        self,
        file: int,
        proto: int,
        a_ip: str,
        b_ip: str,
        a_port: int,
        b_port: int,
        a_mac: str | None,
        b_mac: str | None,
        ts: float,
        a_scope: int = -1,
        b_scope: int = -1,
        bursts: Sequence[list[float]] | None = None,
        first_frames: list[int] | None = None,
        last_frame: int = 0,
    ) -> None:
        self.file = file
        self.proto = proto
        self.a_ip = a_ip
        self.b_ip = b_ip
        self.a_port = a_port
        self.b_port = b_port
        self.a_mac = a_mac
        self.b_mac = b_mac
        self.bytes_ab = 0
        self.bytes_ba = 0
        self.pkts_ab = 0
        self.pkts_ba = 0
        self.payload_ab = 0  # transport payload bytes
        self.payload_ba = 0
        # bytes of each side's TCP sequence space the capture missed (``engine.loss``)
        self.missed_ab = 0
        self.missed_ba = 0
        self.first_ts = ts
        self.last_ts = ts
        self.first_frames: list[int] = [] if first_frames is None else first_frames
        self.last_frame = last_frame
        self.app: frozenset[str] = NO_APP  # application protocols recognised on this flow
        self.parser: Any = None  # stream parser while it still wants bytes
        self.tcp: Any = None  # TCP reassembly state while a parser is attached
        # [start, end, bytes, packets] a→b; an engine that keeps them itself sets an empty
        # tuple until it hands them over
        self.bursts: Sequence[list[float]] | None = bursts
        self.burst_cur: list[float] | None = None
        # the premises policy's scope of each side's address (0 premises, 1 local scope,
        # 2 off-site) when the engine knows it (the Rust core), else -1 (the sink decides)
        self.a_scope = a_scope
        self.b_scope = b_scope

    @property
    def transport(self) -> str:
        return PROTO_NAMES.get(self.proto, str(self.proto))

    def ctx(self, frame: int, ts: float, from_a: bool) -> Ctx:
        if from_a:
            return Ctx(
                self.file, frame, ts, self.a_mac, self.b_mac, self.a_ip, self.b_ip,
                self.a_port, self.b_port, self.transport,
            )  # fmt: skip
        return Ctx(
            self.file, frame, ts, self.b_mac, self.a_mac, self.b_ip, self.a_ip,
            self.b_port, self.a_port, self.transport,
        )  # fmt: skip

    def count(
        self, from_a: bool, wirelen: int, plen: int, ts: float, frame: int, upload: bool = True
    ) -> None:
        """Account one packet of this flow (``plen``: transport payload bytes; ``upload``:
        whether a packet from side A counts towards an upload burst)."""
        if from_a:
            self.bytes_ab += wirelen
            self.pkts_ab += 1
            self.payload_ab += plen
            if upload and self.bursts is not None:
                self.add_upload(ts, wirelen)
        else:
            self.bytes_ba += wirelen
            self.pkts_ba += 1
            self.payload_ba += plen
        self.last_ts = ts
        self.last_frame = frame
        if len(self.first_frames) < FIRST_FRAMES:
            self.first_frames.append(frame)

    def track_bursts(self) -> None:
        """Start recording upload bursts (side A → side B)."""
        if self.bursts is None:
            self.bursts = []

    def add_upload(self, ts: float, size: int) -> None:
        cur = self.burst_cur
        if cur is not None and ts - cur[1] <= BURST_GAP:
            cur[1] = ts
            cur[2] += size
            cur[3] += 1
            return
        cur = [ts, ts, float(size), 1.0]
        self.burst_cur = cur
        bursts = self.bursts
        if isinstance(bursts, list) and len(bursts) < FLOW_MAX_BURSTS:
            bursts.append(cur)

    def __repr__(self) -> str:
        return (
            f"<Flow {self.transport} {self.a_ip}:{self.a_port} -> {self.b_ip}:{self.b_port}"
            f" up={self.bytes_ab} down={self.bytes_ba}>"
        )
