"""Test helper: per-flow payloads from small captures, read with scapy.

TCP: each direction's payload in sequence order (retransmissions dropped), with the
frame number (1-based) of the segment that carried each chunk. UDP: the datagrams in
capture order. Good enough for the small public captures used by the dissector tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from scapy.all import IP, TCP, UDP, IPv6, PcapReader  # type: ignore[attr-defined]

Endpoint = tuple[str, int]


@dataclass
class TcpFlow:
    client: Endpoint
    server: Endpoint
    first_frame: int
    # (frame, payload) in sequence order, per direction
    to_server: list[tuple[int, bytes]] = field(default_factory=list)
    to_client: list[tuple[int, bytes]] = field(default_factory=list)

    def payload(self, from_client: bool) -> bytes:
        return b"".join(p for _, p in (self.to_server if from_client else self.to_client))


@dataclass
class UdpFlow:
    client: Endpoint
    server: Endpoint
    first_frame: int
    datagrams: list[tuple[int, bool, bytes]] = field(default_factory=list)  # frame, from_client


def _addrs(pkt: object) -> tuple[str, str] | None:
    for layer in (IP, IPv6):
        if layer in pkt:  # type: ignore[operator]
            ip = pkt[layer]  # type: ignore[index]
            return str(ip.src), str(ip.dst)
    return None


def tcp_flows(path: Path) -> list[TcpFlow]:
    segments: dict[tuple[Endpoint, Endpoint], list[tuple[int, int, bytes]]] = {}
    syn_from: dict[frozenset[Endpoint], Endpoint] = {}
    first: dict[frozenset[Endpoint], int] = {}
    with PcapReader(str(path)) as reader:
        for frame, pkt in enumerate(reader, start=1):
            if TCP not in pkt:
                continue
            addrs = _addrs(pkt)
            if addrs is None:
                continue
            tcp = pkt[TCP]
            src, dst = (addrs[0], int(tcp.sport)), (addrs[1], int(tcp.dport))
            key = frozenset((src, dst))
            first.setdefault(key, frame)
            flags = int(tcp.flags)
            if flags & 0x02 and not flags & 0x10:
                syn_from.setdefault(key, src)
            data = bytes(tcp.payload)
            # Ethernet padding shows up as payload on tiny segments; trust the IP length.
            if IP in pkt:
                ip = pkt[IP]
                data = data[: max(0, int(ip.len) - ip.ihl * 4 - tcp.dataofs * 4)]
            seq = int(tcp.seq) + (1 if flags & 0x02 else 0)
            segments.setdefault((src, dst), []).append((seq, frame, data))
    flows = []
    for key, frame in sorted(first.items(), key=lambda kv: kv[1]):
        a, b = sorted(key) if len(key) == 2 else (next(iter(key)),) * 2
        client = syn_from.get(key) or (a if a[1] > b[1] else b)
        server = b if client == a else a
        flow = TcpFlow(client=client, server=server, first_frame=frame)
        flow.to_server = _in_order(segments.get((client, server), []))
        flow.to_client = _in_order(segments.get((server, client), []))
        flows.append(flow)
    return flows


def _in_order(segs: list[tuple[int, int, bytes]]) -> list[tuple[int, bytes]]:
    if not segs:
        return []
    base = segs[0][0]
    rel = sorted((((s - base) % (1 << 32)), f, d) for s, f, d in segs if d)
    out: list[tuple[int, bytes]] = []
    nxt = None
    for off, frame, data in rel:
        if nxt is None:
            nxt = off
        if off + len(data) <= nxt:
            continue  # retransmission
        if off > nxt:
            break  # hole: stop, later bytes would be out of order
        out.append((frame, data[nxt - off :]))
        nxt = off + len(data)
    return out


def udp_flows(path: Path, port: int | None = None) -> list[UdpFlow]:
    flows: dict[frozenset[Endpoint], UdpFlow] = {}
    with PcapReader(str(path)) as reader:
        for frame, pkt in enumerate(reader, start=1):
            if UDP not in pkt:
                continue
            addrs = _addrs(pkt)
            if addrs is None:
                continue
            udp = pkt[UDP]
            src, dst = (addrs[0], int(udp.sport)), (addrs[1], int(udp.dport))
            if port is not None and port not in (src[1], dst[1]):
                continue
            key = frozenset((src, dst))
            flow = flows.get(key)
            if flow is None:
                flow = flows[key] = UdpFlow(client=src, server=dst, first_frame=frame)
            data = bytes(udp.payload)[: max(0, int(udp.len) - 8)]
            flow.datagrams.append((frame, src == flow.client, data))
    return list(flows.values())
