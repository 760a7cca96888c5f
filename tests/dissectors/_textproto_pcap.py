"""Test helper: read a small capture with scapy and replay TCP flows / UDP datagrams.

TCP payloads are reassembled per direction in sequence order (retransmissions and
overlaps dropped, out-of-order segments held back) and handed out in capture order, the
way the pipeline feeds stream parsers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scapy.all import IP, TCP, UDP, IPv6, rdpcap  # type: ignore[attr-defined]

from netscan.events import Ctx, Event

Endpoint = tuple[str, int]


@dataclass
class Flow:
    client: Endpoint
    server: Endpoint
    # (from_client, payload, ctx) in capture order, each direction in sequence order
    chunks: list[tuple[bool, bytes, Ctx]] = field(default_factory=list)

    def stream(self, from_client: bool) -> bytes:
        return b"".join(data for fc, data, _ in self.chunks if fc == from_client)


def _seq_diff(a: int, b: int) -> int:
    """a - b in 32-bit sequence space, as a signed number."""
    d = (a - b) & 0xFFFFFFFF
    return d - (1 << 32) if d >= 1 << 31 else d


class _Direction:
    def __init__(self) -> None:
        self.next_seq: int | None = None
        self.pending: dict[int, bytes] = {}

    def accept(self, seq: int, data: bytes) -> bytes:
        if self.next_seq is None:
            self.next_seq = seq
        out = b""
        d = _seq_diff(seq, self.next_seq)
        if d > 0:
            self.pending.setdefault(seq, data)
            return out
        if -d >= len(data):
            return out
        data = data[-d:]
        out = data
        self.next_seq = (self.next_seq + len(data)) & 0xFFFFFFFF
        while True:
            for pseq, pdata in list(self.pending.items()):
                pd = _seq_diff(pseq, self.next_seq)
                if pd <= 0:
                    del self.pending[pseq]
                    if -pd < len(pdata):
                        more = pdata[-pd:]
                        out += more
                        self.next_seq = (self.next_seq + len(more)) & 0xFFFFFFFF
                    break
            else:
                return out


def _ip_layer(pkt: Any) -> Any:
    if IP in pkt:
        return pkt[IP]
    if IPv6 in pkt:
        return pkt[IPv6]
    return None


def tcp_flows(path: Path) -> list[Flow]:
    flows: dict[frozenset[Endpoint], Flow] = {}
    dirs: dict[tuple[Endpoint, Endpoint], _Direction] = {}
    for frame, pkt in enumerate(rdpcap(str(path)), start=1):
        ip = _ip_layer(pkt)
        if ip is None or TCP not in pkt:
            continue
        tcp = pkt[TCP]
        src: Endpoint = (str(ip.src), int(tcp.sport))
        dst: Endpoint = (str(ip.dst), int(tcp.dport))
        key = frozenset((src, dst))
        flags = int(tcp.flags)
        syn, ack = bool(flags & 0x02), bool(flags & 0x10)
        flow = flows.get(key)
        if flow is None:
            # a SYN-ACK first means the capture missed the SYN: its receiver is the client
            flow = Flow(client=dst, server=src) if syn and ack else Flow(client=src, server=dst)
            flows[key] = flow
        direction = dirs.setdefault((src, dst), _Direction())
        seq = int(tcp.seq)
        if syn:
            direction.next_seq = (seq + 1) & 0xFFFFFFFF
            continue
        payload = bytes(tcp.payload)
        if not payload:
            continue
        # Ethernet padding: trust the IP length when there is one
        if IP in pkt:
            ip_len = int(ip.len) - int(ip.ihl) * 4 - int(tcp.dataofs) * 4
            payload = payload[: max(0, ip_len)]
        data = direction.accept(seq, payload)
        if not data:
            continue
        ctx = Ctx(
            file=0,
            frame=frame,
            ts=float(pkt.time),
            src_ip=src[0],
            dst_ip=dst[0],
            sport=src[1],
            dport=dst[1],
            transport="tcp",
        )
        flow.chunks.append((src == flow.client, data, ctx))
    return list(flows.values())


def udp_datagrams(path: Path, port: int | None = None) -> list[tuple[bytes, Ctx]]:
    out: list[tuple[bytes, Ctx]] = []
    for frame, pkt in enumerate(rdpcap(str(path)), start=1):
        ip = _ip_layer(pkt)
        if ip is None or UDP not in pkt:
            continue
        udp = pkt[UDP]
        if port is not None and port not in (int(udp.sport), int(udp.dport)):
            continue
        payload = bytes(udp.payload)[: max(0, int(udp.len) - 8)]
        ctx = Ctx(
            file=0,
            frame=frame,
            ts=float(pkt.time),
            src_ip=str(ip.src),
            dst_ip=str(ip.dst),
            sport=int(udp.sport),
            dport=int(udp.dport),
            transport="udp",
        )
        out.append((payload, ctx))
    return out


def replay(flow: Flow, parser: Any) -> list[Event]:
    """Feed a flow to a stream parser in capture order, then close it."""
    events: list[Event] = []
    last: Ctx | None = None
    for from_client, data, ctx in flow.chunks:
        last = ctx
        if parser.done:
            break
        events.extend(parser.feed(data, ctx, from_client))
    events.extend(parser.close(last or Ctx(file=0, frame=0, ts=0.0)))
    return events


def feed_split(
    factory: Callable[[], Any],
    parts: list[tuple[bool, bytes]],
    step: int,
    ctx: Ctx | None = None,
) -> list[Event]:
    """Feed (from_client, bytes) parts in pieces of ``step`` bytes (0: whole parts)."""
    parser = factory()
    ctx = ctx or Ctx(file=0, frame=1, ts=0.0)
    events: list[Event] = []
    for from_client, data in parts:
        pieces = [data] if step <= 0 else [data[i : i + step] for i in range(0, len(data), step)]
        for piece in pieces:
            events.extend(parser.feed(piece, ctx, from_client))
    events.extend(parser.close(ctx))
    return events


def feed_at_every_boundary(
    factory: Callable[[], Any], data: bytes, from_client: bool = True
) -> list[list[Event]]:
    """For each cut position, feed data as two pieces; return every resulting event list."""
    ctx = Ctx(file=0, frame=1, ts=0.0)
    results: list[list[Event]] = []
    for cut in range(len(data) + 1):
        parser = factory()
        events: list[Event] = []
        for piece in (data[:cut], data[cut:]):
            if piece:
                events.extend(parser.feed(piece, ctx, from_client))
        events.extend(parser.close(ctx))
        results.append(events)
    return results
