"""The pure-Python engine (a test oracle, see ``tests/reference``): capture records → flows
and protocol events.

Per packet the engine decapsulates the link layer (plain and single-tagged Ethernet
inline), reads the few IP and transport header bytes it needs by index, finds the flow in
a dict keyed by the raw address bytes and ports (both directions point at one ``Flow``),
and bumps its counters. Only flows with a parser attached (the first bytes of TCP
streams, datagrams on discovery and name-service ports, QUIC Initials) pay for
dissection; a datagram repeating one already seen between the same hosts is skipped.

The flow table is bounded (``Limits.flows``): when it is full, the idlest quarter of the
flows (by last packet time) is retired: their parsers are closed (what they hold is
emitted), the sink is told (``on_flow_end``: the inventory folds their totals into the
conversations, so no byte is lost) and their table entries go. A later packet of a
retired 5-tuple opens a new flow. ``flows_retired`` counts them; the MAC sightings table
is bounded by ``Limits.devices`` the same way (``l2_unlisted`` counts frames whose source
MAC was beyond it). A Rust engine mirrors this policy: same cap, same order, same counts.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Callable, Iterable
from typing import Any

from netscan import limits as _limits
from netscan.dissectors import icmpv6, registry
from netscan.dissectors import payload as payload_mod
from netscan.dissectors.http import HttpStream, checked_response_prefixes
from netscan.dissectors.icmpv6 import ROUTER_ADVERTISEMENT
from netscan.dissectors.payload import NAME as PROBE_NAME
from netscan.dissectors.registry import Datagrams
from netscan.engine.sink import Sink, arp_event
from netscan.engine.sink import response_prefixes as sink_response_prefixes
from netscan.events import Ctx, Event
from netscan.flow import Flow, retire_idlest, sender_is_client
from netscan.sources.pcapfile import RawRecord
from tests.reference.decode.link import (
    ETH_ARP,
    SUPPORTED_LINKTYPES,
    WLAN_PROTECTED,
    Link,
    decode_link,
)
from tests.reference.decode.tcp import TcpReassembly

_PORTS = struct.Struct("!HH").unpack_from
_ARP = struct.Struct("!HHBBH6s4s6s4s").unpack_from

_PROTO_BYTE = [bytes([i]) for i in range(256)]
IPV6_EXT = {0, 43, 44, 60, 51, 135, 139, 140}
MAX_SEEN_DATAGRAMS = 200_000  # remembered datagrams for repeat suppression
MAX_FRAGMENTS = 65536  # fragmented datagrams remembered at once
MAX_HTTP_DOWNLOAD = 16 * 1024 * 1024  # downstream bytes after which a silent client's HTTP stops
MAX_TCP_PARSE = 256 * 1024  # stop feeding a parser after this many bytes per direction


class Engine:
    """Runs records through decoding, flow tracking and dissection into a ``Sink``."""

    def __init__(
        self,
        sink: Sink,
        dissect: bool = True,
        limits: _limits.Limits | None = None,
        marker_ports: Iterable[int] | None = None,
        response_prefixes: Iterable[str] | None = None,
    ) -> None:
        self.sink = sink
        # the polls whose HTTP answers are kept: the sink's pack names them, as for the core
        if response_prefixes is None:
            response_prefixes = sink_response_prefixes(sink)
        self._response_prefixes = checked_response_prefixes(response_prefixes)
        if marker_ports is None:  # the UDP ports the sink's pack names for content markers
            matcher = getattr(sink, "matcher", None)
            marker_ports = matcher.marker_ports("udp") if matcher is not None else ()
        # pack-named ports no parser claims: their first datagrams' heads (as the core)
        self._probe_ports = frozenset(p for p in marker_ports if p not in registry.UDP_PARSERS)
        self._probe = payload_mod.parser(sorted(self._probe_ports)) if self._probe_ports else None
        self.dissect = dissect
        self.limits = _limits.resolve(limits)
        self.max_flows = max(1, self.limits.flows)
        self.max_l2 = max(1, self.limits.devices)
        self.flows_retired = 0  # flows retired from a full table (their totals live on)
        self.l2_unlisted = 0  # frames whose source MAC found the sightings table full
        self.flows: dict[bytes, tuple[Flow, bool]] = {}
        self.all_flows: list[Flow] = []
        self.frag_map: dict[bytes, tuple[Flow, bool]] = {}
        self.wlan_flows: dict[bytes, tuple[Flow, bool]] = {}
        self.packets = 0
        self.bytes = 0
        self.dissector_errors: dict[str, int] = {}
        self.unsupported_linktypes: set[int] = set()
        self._ip_cache: dict[bytes, str] = {}
        self._mac_cache: dict[bytes, str] = {}
        self._seen_datagrams: dict[int, None] = {}
        # MACs seen in non-IP frames -> their latest sighting after the first
        self._l2_seen: dict[bytes, tuple[int, int, float, int] | None] = {}

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

    def mac_str(self, raw: bytes) -> str:
        """One shared string per MAC: flows by the hundred thousand name the same few."""
        s = self._mac_cache.get(raw)
        if s is None:
            s = raw.hex(":")
            if len(self._mac_cache) < 100_000:
                self._mac_cache[raw] = s
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
        proto: int,
        addrs: bytes,
        data: bytes,
        l4: int,
        link: Link | None,
        ts: float,
        tcp_flags: int,
        frame: int,
    ) -> tuple[Flow, bool]:
        half = len(addrs) // 2
        src, dst = addrs[:half], addrs[half:]
        if l4 >= 0:
            sport, dport = _PORTS(data, l4)
            rkey = dst + src + data[l4 + 2 : l4 + 4] + data[l4 : l4 + 2] + key[-1:]
        else:
            sport = dport = 0
            rkey = dst + src + key[-5:]
        if link is not None:
            smac, dmac = link.src, link.dst
        else:
            smac, dmac = data[6:12], data[0:6]
        sender_is_client_ = sender_is_client(proto, sport, dport, tcp_flags)
        smac_s = self.mac_str(smac) if smac is not None else None
        dmac_s = self.mac_str(dmac) if dmac is not None else None
        if sender_is_client_:
            flow = Flow(file, proto, self.ip_str(src), self.ip_str(dst), sport, dport,
                        smac_s, dmac_s, ts)  # fmt: skip
            fwd = (flow, True)
            self.flows[key] = fwd
            self.flows[rkey] = (flow, False)
        else:
            flow = Flow(file, proto, self.ip_str(dst), self.ip_str(src), dport, sport,
                        dmac_s, smac_s, ts)  # fmt: skip
            fwd = (flow, False)
            self.flows[key] = fwd
            self.flows[rkey] = (flow, True)
        flow.last_frame = frame  # the sink may want the frame that opened the flow
        if len(self.all_flows) >= self.max_flows:
            self.retire()
        self.all_flows.append(flow)
        self.sink.on_flow(flow)
        return fwd

    def _attach_udp(self, flow: Flow, payload: bytes) -> None:
        # the server port first, then the client port: a parser's port, else a pack-named one
        for port in (flow.b_port, flow.a_port):
            if port in registry.UDP_PARSERS:
                break
            if port in self._probe_ports:
                flow.app = flow.app | {PROBE_NAME}
                flow.parser = Datagrams(self._probe)  # type: ignore[arg-type]
                return
        hit = registry.udp_parser(flow.a_port, flow.b_port, payload)
        if hit is None:
            flow.parser = False  # decided: nothing to parse
            return
        name, parser = hit
        flow.app = flow.app | {name}
        flow.parser = parser

    def _attach_tcp(self, flow: Flow, payload: bytes) -> None:
        hit = registry.tcp_parser(payload, flow.a_port, flow.b_port, self._response_prefixes)
        if hit is None:
            flow.parser = False
            flow.tcp = None
            return
        name, parser = hit
        flow.app = flow.app | {name}
        flow.parser = parser

    def _tcp_payload(
        self, flow: Flow, from_a: bool, data: bytes, l4: int, end: int, flags: int, frame: int,
        ts: float,
    ) -> None:  # fmt: skip
        seq = int.from_bytes(data[l4 + 4 : l4 + 8], "big")
        payload = data[l4 + ((data[l4 + 12] >> 4) << 2) : end]
        tcp = flow.tcp
        if tcp is None:
            flow.tcp = tcp = TcpReassembly()
        d = 0 if from_a else 1
        gaps = tcp.gaps[d]
        chunks = tcp.segment(d, seq, flags, payload)
        if not chunks:
            return
        if tcp.gaps[d] != gaps and flow.parser:
            self._gap(flow, flow.ctx(frame, ts, from_a), from_a)
            if not flow.parser:
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
        if parser.done or (
            flow.payload_ab > MAX_TCP_PARSE and flow.payload_ba > MAX_TCP_PARSE
            if not isinstance(parser, HttpStream)
            # HTTP keeps going, its upload bodies are the evidence; but a camera's endless
            # MJPEG response to a client that sends nothing is not worth parsing
            else flow.payload_ba > MAX_HTTP_DOWNLOAD and flow.payload_ab < MAX_TCP_PARSE
        ):
            self._close_parser(flow, ctx)

    def _gap(self, flow: Flow, ctx: Ctx, from_a: bool) -> None:
        """Tell the parser that bytes of one direction were never captured."""
        gap = getattr(flow.parser, "gap", None)
        if gap is None:
            return
        try:
            events = gap(ctx, from_a)
        except Exception:
            name = type(flow.parser).__name__
            self.dissector_errors[name] = self.dissector_errors.get(name, 0) + 1
            flow.parser = False
            flow.tcp = None
            return
        if events:
            self._emit(events, flow)

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
        records: Iterable[RawRecord],
        progress: Callable[[int], None] | None = None,
    ) -> None:
        """Process raw records ``(file_index, frame, ts, linktype, data, wirelen)``."""
        flows = self.flows
        get_flow = flows.get
        new_flow = self._new_flow
        dissect = self.dissect
        packets = self.packets
        nbytes = self.bytes
        tcp_payload = self._tcp_payload
        udp_payload = self._udp_payload
        l2_seen = self._l2_seen
        for file, frame, ts, linktype, data, wirelen in records:
            packets += 1
            nbytes += wirelen
            if progress is not None and not packets & 0x3FFF:
                progress(packets)
            dlen = len(data)
            # -- link layer: plain Ethernet inline, everything else in decode_link --
            link = None
            if linktype == 1 and dlen >= 34:
                et = (data[12] << 8) | data[13]
                off = 14
                if et == 0x8100 and data[16] == 0x08 and data[17] == 0x00:
                    et = 0x0800  # one 802.1Q tag around IPv4: common on mirror ports
                    off = 18
                elif et != 0x0800 and et != 0x86DD:
                    link = decode_link(linktype, data)
                    if link is None:
                        continue
                    et, off = link.ethertype, link.offset
            else:
                link = decode_link(linktype, data)
                if link is None:
                    if linktype not in SUPPORTED_LINKTYPES:  # not merely a short frame
                        self.unsupported_linktypes.add(linktype)
                    continue
                et, off = link.ethertype, link.offset
            smac = data[6:12] if link is None else link.src
            if smac not in l2_seen and smac is not None and not smac[0] & 1:
                if len(l2_seen) < self.max_l2:
                    l2_seen[smac] = None
                    self.sink.on_frame_l2(file, frame, ts, smac, wirelen)
                else:
                    self.l2_unlisted += 1
            # -- network layer --
            if et == 0x0800:
                if dlen < off + 20:
                    continue
                ihl = (data[off] & 0x0F) << 2
                if ihl < 20:
                    continue
                l4 = off + ihl
                end = off + ((data[off + 2] << 8) | data[off + 3])
                if end > dlen or end < l4:
                    end = dlen
                proto = data[off + 9]
                addrs = data[off + 12 : off + 20]
                frag_id = None
                if data[off + 6] & 0x3F or data[off + 7]:
                    frag_id = addrs + data[off + 4 : off + 6]
                    if (data[off + 6] & 0x1F) or data[off + 7]:
                        # a later fragment: it belongs to the first fragment's flow
                        hit = self.frag_map.get(frag_id)
                        if hit is not None:
                            self._count(hit, wirelen, ts, frame, 0)
                        continue
                    if not data[off + 6] & 0x20:
                        frag_id = None
            elif et == 0x86DD:
                if dlen < off + 40:
                    continue
                proto = data[off + 6]
                l4 = off + 40
                plen6 = (data[off + 4] << 8) | data[off + 5]
                end = l4 + plen6 if plen6 and l4 + plen6 <= dlen else dlen
                addrs = data[off + 8 : off + 40]
                frag_id = None
                if proto in IPV6_EXT:
                    proto, l4, frag_id = self._ipv6_ext(data, proto, l4, end, addrs)
                    if proto < 0:
                        if frag_id is not None:
                            hit = self.frag_map.get(frag_id)
                            if hit is not None:
                                self._count(hit, wirelen, ts, frame, 0)
                        continue
            else:
                self._non_ip(file, frame, ts, data, wirelen, et, off, link)
                continue
            # -- transport --
            # (the TCP and UDP branches spell out Flow.count inline: a method call per
            # packet costs more than everything else these few lines do)
            if proto == 6:
                if end - l4 < 20:
                    continue
                key = addrs + data[l4 : l4 + 4] + b"\x06"
                hit = get_flow(key)
                tflags = data[l4 + 13]
                if hit is None:
                    hit = new_flow(file, key, 6, addrs, data, l4, link, ts, tflags, frame)
                flow, from_a = hit
                plen = end - l4 - ((data[l4 + 12] >> 4) << 2)
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
                    self._remember_fragment(frag_id, hit)
                if flow.parser is False or not dissect:
                    continue
                if plen > 0 or tflags & 0x02:
                    tcp_payload(flow, from_a, data, l4, end, tflags, frame, ts)
            elif proto == 17:
                if end - l4 < 8:
                    continue
                key = addrs + data[l4 : l4 + 4] + b"\x11"
                hit = get_flow(key)
                if hit is None:
                    hit = new_flow(file, key, 17, addrs, data, l4, link, ts, 0, frame)
                flow, from_a = hit
                if from_a:
                    flow.bytes_ab += wirelen
                    flow.pkts_ab += 1
                    flow.payload_ab += end - l4 - 8
                    if flow.bursts is not None:
                        flow.add_upload(ts, wirelen)
                else:
                    flow.bytes_ba += wirelen
                    flow.pkts_ba += 1
                    flow.payload_ba += end - l4 - 8
                flow.last_ts = ts
                flow.last_frame = frame
                if len(flow.first_frames) < 5:
                    flow.first_frames.append(frame)
                if frag_id is not None:
                    self._remember_fragment(frag_id, hit)
                if flow.parser is False or not dissect:
                    continue
                udp_payload(flow, from_a, data[l4 + 8 : end], frame, ts)
            else:
                # ICMP and every other IP protocol: one flow per address pair and protocol
                key = addrs + b"\x00\x00\x00\x00" + _PROTO_BYTE[proto & 0xFF]
                hit = get_flow(key)
                if hit is None:
                    hit = new_flow(file, key, proto, addrs, data, -1, link, ts, 0, frame)
                self._count(hit, wirelen, ts, frame, 0)
                if (
                    proto == 58
                    and dissect
                    and l4 < end
                    and data[l4] == ROUTER_ADVERTISEMENT
                    and frag_id is None
                ):
                    self._router_advert(hit, data[l4:end], frame, ts)
        self.packets = packets
        self.bytes = nbytes

    def _remember_fragment(self, frag_id: bytes, hit: tuple[Flow, bool]) -> None:
        if len(self.frag_map) >= MAX_FRAGMENTS:  # bounded: memory follows flows, not packets
            self.frag_map.clear()
        self.frag_map[frag_id] = hit

    def _ipv6_ext(
        self, data: bytes, proto: int, l4: int, end: int, addrs: bytes
    ) -> tuple[int, int, bytes | None]:
        """Walk IPv6 extension headers: (transport protocol or -1, its offset, fragment id)."""
        frag_id = None
        while proto in IPV6_EXT and l4 + 8 <= end:
            nxt = data[l4]
            if proto == 44:  # fragment header
                fo = ((data[l4 + 2] << 8) | data[l4 + 3]) >> 3
                frag_id = addrs + data[l4 + 4 : l4 + 8]
                if fo:
                    return -1, l4, frag_id
                if not data[l4 + 3] & 1:
                    frag_id = None
                l4 += 8
            elif proto == 51:
                l4 += (data[l4 + 1] + 2) * 4
            else:
                l4 += (data[l4 + 1] + 1) * 8
            proto = nxt
        if proto in IPV6_EXT:
            return -1, l4, None
        return proto, l4, frag_id

    def _non_ip(
        self, file: int, frame: int, ts: float, data: bytes, wirelen: int, et: int, off: int,
        link: Link | None,
    ) -> None:  # fmt: skip
        if link is not None:
            smac, dmac = link.src, link.dst
        elif len(data) >= 14:
            smac, dmac = data[6:12], data[0:6]
        else:
            return
        if smac is not None and not smac[0] & 1 and smac in self._l2_seen:
            # first sightings are reported in the main loop; keep the latest non-IP one
            self._l2_seen[smac] = (file, frame, ts, wirelen)
        if et == ETH_ARP:
            self._arp(file, frame, ts, data, off)
        elif et == WLAN_PROTECTED:
            self._wlan(file, frame, ts, smac, dmac, wirelen)

    def _udp_payload(self, flow: Flow, from_a: bool, payload: bytes, frame: int, ts: float) -> None:
        if flow.parser is None:
            self._attach_udp(flow, payload)
            if flow.parser is False:
                return
        parser = flow.parser
        if type(parser) is Datagrams:
            # discovery and name-service chatter repeats itself: an identical datagram
            # between the same two hosts says nothing new (DNS-like ids are ignored)
            body = payload[2:] if parser.skip_id else payload
            # a 64-bit hash, not the bytes: memory stays small (a collision would only
            # hide one repeat's events)
            key = hash((parser.fn, flow.a_ip, flow.b_ip, from_a, body))
            seen = self._seen_datagrams
            if key in seen:
                return
            if len(seen) >= MAX_SEEN_DATAGRAMS:
                seen.clear()
            seen[key] = None
            if parser.fn is self._probe:  # a flow's first datagrams, their heads only
                if flow.pkts_ab + flow.pkts_ba > payload_mod.MAX_PROBE_DATAGRAMS:
                    return
                payload = payload[: payload_mod.PROBE_HEAD]
        ctx = flow.ctx(frame, ts, from_a)
        self._feed(flow, parser, payload, ctx, from_a)
        if flow.parser and parser.done:
            self._close_parser(flow, ctx)

    def _router_advert(self, hit: tuple[Flow, bool], msg: bytes, frame: int, ts: float) -> None:
        """An ICMPv6 Router Advertisement, for the premises inference (repeats skipped)."""
        flow, from_a = hit
        if flow.parser is False:
            return
        if flow.parser is None:
            flow.parser = Datagrams(icmpv6.parse)
        self._udp_payload(flow, from_a, msg, frame, ts)

    def _count(
        self, hit: tuple[Flow, bool], wirelen: int, ts: float, frame: int, plen: int
    ) -> None:
        hit[0].count(hit[1], wirelen, plen, ts, frame)

    def _arp(self, file: int, frame: int, ts: float, data: bytes, off: int) -> None:
        if len(data) < off + 28:
            return
        htype, ptype, hlen, plen, op, sha, spa, tha, tpa = _ARP(data, off)
        if htype != 1 or ptype != 0x0800 or hlen != 6 or plen != 4:
            return
        self.sink.on_event(arp_event(file, frame, ts, op, sha, spa, tha, tpa), None)

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
            flow.last_frame = frame
            flow.app = flow.app | {"wlan-encrypted"}
            hit = (flow, True)
            self.wlan_flows[key] = hit
            self.wlan_flows[dmac + smac] = (flow, False)
            if len(self.all_flows) >= self.max_flows:
                self.retire()
            self.all_flows.append(flow)
            self.sink.on_flow(flow)
        self._count(hit, wirelen, ts, frame, 0)

    def retire(self) -> None:
        """The flow table is full: retire its idlest flows (least recent packet first).

        Tables are pruned in place (the hot loop holds references to them)."""
        gone = retire_idlest(self.all_flows, [self.flows, self.wlan_flows, self.frag_map])
        for flow in gone:
            self._flush(flow)
        on_end = self.sink.on_flow_end
        if on_end is not None:
            for flow in gone:
                on_end(flow)
        self.flows_retired += len(gone)

    def _flush(self, flow: Flow) -> None:
        """Hand a flow's parser what its reassembly still holds, then close it."""
        parser = flow.parser
        if not parser:
            return
        if flow.tcp is not None:
            for d in (0, 1):
                if flow.tcp is None or not flow.parser:
                    break
                gaps = flow.tcp.gaps[d]
                chunks = flow.tcp.flush(d)
                from_a = d == 0
                if chunks and flow.tcp.gaps[d] != gaps and flow.parser:
                    self._gap(flow, flow.ctx(flow.last_frame, flow.last_ts, from_a), from_a)
                    if not flow.parser or flow.tcp is None:
                        break
                ctx = flow.ctx(flow.last_frame, flow.last_ts, from_a)
                for chunk in chunks:
                    if flow.parser:
                        self._feed(flow, parser, chunk, ctx, from_a)
        ctx = flow.ctx(flow.last_frame, flow.last_ts, True)
        self._close_parser(flow, ctx)

    def release(self) -> None:
        """Drop the lookup tables once the input is done: the flows live on in the sink."""
        self.flows = {}
        self.all_flows = []
        self.wlan_flows = {}
        self.frag_map = {}
        self._seen_datagrams = {}
        self._ip_cache = {}

    def finish(self) -> None:
        """End of input: flush what parsers still hold (partial HTTP bodies etc.), and report
        the last sighting of MACs seen only in non-IP frames."""
        for mac, last in self._l2_seen.items():
            if last is not None:
                self.sink.on_frame_l2(last[0], last[1], last[2], mac, last[3])
        for flow in self.all_flows:
            self._flush(flow)
