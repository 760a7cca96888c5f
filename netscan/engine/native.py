"""The native engine: capture records → flows and protocol events, with a tight hot path.

Per packet the engine decapsulates the link layer, reads the IP and transport headers
with one ``struct`` call each, finds the flow in a dict keyed by raw address bytes and
ports, and bumps its counters. Only flows with a parser attached (their first bytes, or
datagrams on discovery/name-service ports) pay for dissection.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from netscan.decode.link import (
    ETH_ARP,
    ETH_IPV4,
    ETH_IPV6,
    ETH_VLAN,
    LT_ETHERNET,
    WLAN_PROTECTED,
    decode_link,
)
from netscan.decode.tcp import TcpReassembly
from netscan.dissectors import registry
from netscan.events import ArpEvent, Ctx, Event
from netscan.flow import TCP, UDP, Flow
from netscan.sources.pcapfile import Record

_IPV4 = struct.Struct("!BBHHHBBH4s4s").unpack_from
_IPV6 = struct.Struct("!IHBB16s16s").unpack_from
_TCP = struct.Struct("!HHIIBB").unpack_from
_UDP = struct.Struct("!HHH").unpack_from
_PORTS = struct.Struct("!HH").unpack_from
_ARP = struct.Struct("!HHBBH6s4s6s4s").unpack_from

_PROTO_BYTE = [bytes([i]) for i in range(256)]
IPV6_EXT = {0, 43, 44, 60, 51, 135, 139, 140}
WELL_KNOWN = {
    20, 21, 22, 23, 25, 53, 67, 80, 88, 110, 123, 137, 138, 139, 143, 161, 389, 443, 445,
    514, 554, 587, 853, 993, 995, 1883, 1900, 3702, 5060, 5353, 5355, 8000, 8080, 8443,
    8554, 8883, 32100, 34567, 37777, 37020, 37810,
}  # fmt: skip
MAX_TCP_PARSE = 256 * 1024  # stop feeding a parser after this many bytes per direction


class Sink(Protocol):
    """What the engines feed: the inventory implements this."""

    def on_flow(self, flow: Flow) -> None: ...

    def on_event(self, event: Event, flow: Flow | None) -> None: ...

    def on_frame_l2(self, file: int, frame: int, ts: float, src: bytes, wirelen: int) -> None: ...


class Engine:
    """Runs records through decoding, flow tracking and dissection into a ``Sink``."""

    def __init__(self, sink: Sink, dissect: bool = True) -> None:
        self.sink = sink
        self.dissect = dissect
        self.flows: dict[bytes, tuple[Flow, bool]] = {}
        self.all_flows: list[Flow] = []
        self.frag_map: dict[bytes, tuple[Flow, bool]] = {}
        self.wlan_flows: dict[bytes, tuple[Flow, bool]] = {}
        self.packets = 0
        self.bytes = 0
        self.dissector_errors: dict[str, int] = {}
        self.unsupported_linktypes: set[int] = set()
        self._ip_cache: dict[bytes, str] = {}
        self._l2_seen: set[bytes] = set()

    # -- helpers ---------------------------------------------------------------------

    def ip_str(self, raw: bytes) -> str:
        s = self._ip_cache.get(raw)
        if s is None:
            if len(raw) == 4:
                s = socket.inet_ntoa(raw)
            else:
                s = socket.inet_ntop(socket.AF_INET6, raw)
            if len(self._ip_cache) < 500_000:
                self._ip_cache[raw] = s
        return s

    def _emit(self, events: list[Event], flow: Flow | None) -> None:
        on_event = self.sink.on_event
        for ev in events:
            on_event(ev, flow)

    def _feed(self, flow: Flow, parser: Any, data: bytes, ctx: Ctx, from_a: bool) -> None:
        try:
            events = parser.feed(data, ctx, from_a)
        except Exception:  # a dissector bug must never stop the analysis
            name = type(parser).__name__
            self.dissector_errors[name] = self.dissector_errors.get(name, 0) + 1
            flow.parser = False
            flow.tcp = None
            return
        if events:
            self._emit(events, flow)

    # -- flows -----------------------------------------------------------------------

    def _new_flow(
        self,
        file: int,
        key: bytes,
        rkey: bytes,
        proto: int,
        src: bytes,
        dst: bytes,
        sport: int,
        dport: int,
        smac: bytes | None,
        dmac: bytes | None,
        ts: float,
        tcp_flags: int,
    ) -> tuple[Flow, bool]:
        # who is the client?
        sender_is_client = True
        if proto == TCP:
            if (
                tcp_flags & 0x12 == 0x12
                or not tcp_flags & 0x02
                and sport in WELL_KNOWN
                and dport not in WELL_KNOWN
            ):  # SYN-ACK: the sender is the server
                sender_is_client = False
        elif proto == UDP:
            if sport in WELL_KNOWN and dport not in WELL_KNOWN:
                sender_is_client = False
            elif sport == dport == 0:
                pass
        smac_s = smac.hex(":") if smac is not None else None
        dmac_s = dmac.hex(":") if dmac is not None else None
        if sender_is_client:
            flow = Flow(file, proto, self.ip_str(src), self.ip_str(dst), sport, dport,
                        smac_s, dmac_s, ts)  # fmt: skip
            fwd = (flow, True)
            rev = (flow, False)
            self.flows[key] = fwd
            self.flows[rkey] = rev
        else:
            flow = Flow(file, proto, self.ip_str(dst), self.ip_str(src), dport, sport,
                        dmac_s, smac_s, ts)  # fmt: skip
            fwd = (flow, False)
            self.flows[key] = fwd
            self.flows[rkey] = (flow, True)
        self.all_flows.append(flow)
        self.sink.on_flow(flow)
        return fwd

    def _attach_udp(self, flow: Flow, payload: bytes) -> None:
        hit = registry.udp_parser(flow.a_port, flow.b_port, payload)
        if hit is None:
            flow.parser = False  # decided: nothing to parse
            return
        name, parser = hit
        flow.app.add(name)
        flow.parser = parser

    def _attach_tcp(self, flow: Flow, payload: bytes) -> None:
        hit = registry.tcp_parser(payload, flow.a_port, flow.b_port)
        if hit is None:
            flow.parser = False
            flow.tcp = None
            return
        name, parser = hit
        flow.app.add(name)
        flow.parser = parser

    def _tcp_payload(
        self, flow: Flow, from_a: bool, seq: int, flags: int, payload: bytes, frame: int,
        ts: float,
    ) -> None:  # fmt: skip
        tcp = flow.tcp
        if tcp is None:
            flow.tcp = tcp = TcpReassembly()
        d = 0 if from_a else 1
        chunks = tcp.segment(d, seq, flags, payload)
        if not chunks:
            return
        if flow.parser is None:
            self._attach_tcp(flow, chunks[0])
            if not flow.parser:
                flow.tcp = None
                return
        parser = flow.parser
        ctx = flow.ctx(frame, ts, from_a)
        for chunk in chunks:
            self._feed(flow, parser, chunk, ctx, from_a)
            if not flow.parser:
                return
        if parser.done or (flow.payload_ab > MAX_TCP_PARSE and flow.payload_ba > MAX_TCP_PARSE):
            self._close_parser(flow, ctx)

    def _close_parser(self, flow: Flow, ctx: Ctx) -> None:
        parser = flow.parser
        flow.parser = False
        flow.tcp = None
        if parser:
            try:
                events = parser.close(ctx)
            except Exception:
                name = type(parser).__name__
                self.dissector_errors[name] = self.dissector_errors.get(name, 0) + 1
                return
            if events:
                self._emit(events, flow)

    # -- the hot loop ----------------------------------------------------------------

    def run(
        self,
        records: Iterable[tuple[int, Record]],
        progress: Callable[[int], None] | None = None,
    ) -> None:
        """Process ``(file_index, record)`` pairs."""
        flows = self.flows
        new_flow = self._new_flow
        ipv4 = _IPV4
        ports = _PORTS
        tcp_hdr = _TCP
        dissect = self.dissect
        sink_l2 = self.sink.on_frame_l2
        l2_seen = self._l2_seen
        packets = self.packets
        nbytes = self.bytes
        for file, (frame, ts, linktype, data, wirelen) in records:
            packets += 1
            nbytes += wirelen
            if progress is not None and not packets & 0x3FFF:
                progress(packets)
            # -- link layer (Ethernet/IPv4 inline, everything else in decode_link) --
            if linktype == LT_ETHERNET and len(data) >= 34:
                et = (data[12] << 8) | data[13]
                off = 14
                if et in ETH_VLAN or et < 0x0600 or et == 0x8864:
                    link = decode_link(linktype, data)
                    if link is None:
                        continue
                    et, off = link.ethertype, link.offset
                smac = data[6:12]
                dmac = data[0:6]
            else:
                link = decode_link(linktype, data)
                if link is None:
                    if linktype not in self.unsupported_linktypes:
                        self.unsupported_linktypes.add(linktype)
                    continue
                et, off, smac, dmac = link.ethertype, link.offset, link.src, link.dst
            if smac is not None and smac not in l2_seen and not smac[0] & 1:
                l2_seen.add(smac)
                sink_l2(file, frame, ts, smac, wirelen)
            # -- network layer --
            if et == ETH_IPV4:
                if len(data) < off + 20:
                    continue
                vihl, _tos, totlen, ipid, fragw, _ttl, proto, _ck, src, dst = ipv4(data, off)
                ihl = (vihl & 0x0F) << 2
                if ihl < 20:
                    continue
                l4 = off + ihl
                end = off + totlen if totlen >= ihl else len(data)
                if end > len(data):
                    end = len(data)
                if fragw & 0x3FFF:
                    if fragw & 0x1FFF:  # a later fragment: belongs to the first one's flow
                        hit = self.frag_map.get(src + dst + ipid.to_bytes(2, "big"))
                        if hit is not None:
                            self._count(hit, wirelen, ts, frame, 0)
                        continue
                    frag_id = src + dst + ipid.to_bytes(2, "big")
                else:
                    frag_id = None
            elif et == ETH_IPV6:
                if len(data) < off + 40:
                    continue
                _vtf, plen, proto, _hl, src, dst = _IPV6(data, off)
                l4 = off + 40
                end = min(l4 + plen, len(data)) if plen else len(data)
                frag_id = None
                while proto in IPV6_EXT and l4 + 8 <= end:
                    nxt = data[l4]
                    if proto == 44:  # fragment header
                        fo = ((data[l4 + 2] << 8) | data[l4 + 3]) >> 3
                        frag_id = src + dst + data[l4 + 4 : l4 + 8]
                        if fo:
                            hit = self.frag_map.get(frag_id)
                            if hit is not None:
                                self._count(hit, wirelen, ts, frame, 0)
                            proto = -1
                            break
                        if not data[l4 + 3] & 1:
                            frag_id = None
                        l4 += 8
                    elif proto == 51:
                        l4 += (data[l4 + 1] + 2) * 4
                    else:
                        l4 += (data[l4 + 1] + 1) * 8
                    proto = nxt
                if proto < 0:
                    continue
            elif et == ETH_ARP:
                self._arp(file, frame, ts, data, off)
                continue
            elif et == WLAN_PROTECTED:
                self._wlan(file, frame, ts, smac, dmac, wirelen)
                continue
            else:
                continue
            # -- transport --
            if proto == TCP:
                if end - l4 < 20:
                    continue
                sport, dport, seq, _ack, doff, tflags = tcp_hdr(data, l4)
                key = src + dst + data[l4 : l4 + 4] + b"\x06"
                hit = flows.get(key)
                if hit is None:
                    rkey = dst + src + data[l4 + 2 : l4 + 4] + data[l4 : l4 + 2] + b"\x06"
                    hit = new_flow(file, key, rkey, TCP, src, dst, sport, dport, smac, dmac,
                                   ts, tflags)  # fmt: skip
                flow, from_a = hit
                plen = end - l4 - ((doff >> 4) << 2)
                if from_a:
                    flow.bytes_ab += wirelen
                    flow.pkts_ab += 1
                    if plen > 0:
                        flow.payload_ab += plen
                        if flow.bursts is not None:
                            flow.add_upload(ts, wirelen)
                else:
                    flow.bytes_ba += wirelen
                    flow.pkts_ba += 1
                    if plen > 0:
                        flow.payload_ba += plen
                flow.last_ts = ts
                flow.last_frame = frame
                if len(flow.first_frames) < 5:
                    flow.first_frames.append(frame)
                if frag_id is not None:
                    self.frag_map[frag_id] = hit
                if flow.parser is False or not dissect:
                    continue
                if plen > 0 or tflags & 0x02:
                    doff_b = l4 + ((doff >> 4) << 2)
                    self._tcp_payload(flow, from_a, seq, tflags, data[doff_b:end], frame, ts)
            elif proto == UDP:
                if end - l4 < 8:
                    continue
                sport, dport = ports(data, l4)
                key = src + dst + data[l4 : l4 + 4] + b"\x11"
                hit = flows.get(key)
                if hit is None:
                    rkey = dst + src + data[l4 + 2 : l4 + 4] + data[l4 : l4 + 2] + b"\x11"
                    hit = new_flow(file, key, rkey, UDP, src, dst, sport, dport, smac, dmac,
                                   ts, 0)  # fmt: skip
                flow, from_a = hit
                plen = end - l4 - 8
                if from_a:
                    flow.bytes_ab += wirelen
                    flow.pkts_ab += 1
                    flow.payload_ab += plen
                    if flow.bursts is not None:
                        flow.add_upload(ts, wirelen)
                else:
                    flow.bytes_ba += wirelen
                    flow.pkts_ba += 1
                    flow.payload_ba += plen
                flow.last_ts = ts
                flow.last_frame = frame
                if len(flow.first_frames) < 5:
                    flow.first_frames.append(frame)
                if frag_id is not None:
                    self.frag_map[frag_id] = hit
                if flow.parser is False or not dissect:
                    continue
                payload = data[l4 + 8 : end]
                if flow.parser is None:
                    self._attach_udp(flow, payload)
                    if flow.parser is False:
                        continue
                parser = flow.parser
                ctx = flow.ctx(frame, ts, from_a)
                self._feed(flow, parser, payload, ctx, from_a)
                if flow.parser and parser.done:
                    self._close_parser(flow, ctx)
            else:
                # ICMP and every other IP protocol: one flow per address pair and protocol
                pb = _PROTO_BYTE[proto & 0xFF]
                key = src + dst + b"\x00\x00\x00\x00" + pb
                hit = flows.get(key)
                if hit is None:
                    rkey = dst + src + b"\x00\x00\x00\x00" + pb
                    hit = new_flow(file, key, rkey, proto, src, dst, 0, 0, smac, dmac, ts, 0)
                self._count(hit, wirelen, ts, frame, 0)
        self.packets = packets
        self.bytes = nbytes

    def _count(
        self, hit: tuple[Flow, bool], wirelen: int, ts: float, frame: int, plen: int
    ) -> None:
        flow, from_a = hit
        if from_a:
            flow.bytes_ab += wirelen
            flow.pkts_ab += 1
            flow.payload_ab += plen
            if flow.bursts is not None:
                flow.add_upload(ts, wirelen)
        else:
            flow.bytes_ba += wirelen
            flow.pkts_ba += 1
            flow.payload_ba += plen
        flow.last_ts = ts
        flow.last_frame = frame
        if len(flow.first_frames) < 5:
            flow.first_frames.append(frame)

    def _arp(self, file: int, frame: int, ts: float, data: bytes, off: int) -> None:
        if len(data) < off + 28:
            return
        htype, ptype, hlen, plen, op, sha, spa, tha, tpa = _ARP(data, off)
        if htype != 1 or ptype != 0x0800 or hlen != 6 or plen != 4:
            return
        ctx = Ctx(file, frame, ts, sha.hex(":"), None, None, None, 0, 0, "")
        self.sink.on_event(
            ArpEvent(
                ctx=ctx,
                op=op,
                sender_mac=sha.hex(":"),
                sender_ip=socket.inet_ntoa(spa),
                target_mac=tha.hex(":"),
                target_ip=socket.inet_ntoa(tpa),
            ),
            None,
        )

    def _wlan(
        self, file: int, frame: int, ts: float, smac: bytes | None, dmac: bytes | None,
        wirelen: int,
    ) -> None:  # fmt: skip
        """Encrypted 802.11 data: count sizes and direction per station pair."""
        if smac is None or dmac is None:
            return
        key = smac + dmac
        hit = self.wlan_flows.get(key)
        if hit is None:
            flow = Flow(file, 0, "", "", 0, 0, smac.hex(":"), dmac.hex(":"), ts)
            flow.app.add("wlan-encrypted")
            hit = (flow, True)
            self.wlan_flows[key] = hit
            self.wlan_flows[dmac + smac] = (flow, False)
            self.all_flows.append(flow)
            self.sink.on_flow(flow)
        self._count(hit, wirelen, ts, frame, 0)

    def finish(self, last_ctx_ts: float = 0.0) -> None:
        """End of input: flush what parsers still hold (partial HTTP bodies etc.)."""
        for flow in self.all_flows:
            parser = flow.parser
            if parser:
                if flow.tcp is not None:
                    from_a = True
                    for d in (0, 1):
                        chunks = flow.tcp.flush(d)
                        from_a = d == 0
                        ctx = flow.ctx(flow.last_frame, flow.last_ts, from_a)
                        for chunk in chunks:
                            if flow.parser:
                                self._feed(flow, parser, chunk, ctx, from_a)
                ctx = flow.ctx(flow.last_frame, flow.last_ts, True)
                self._close_parser(flow, ctx)
