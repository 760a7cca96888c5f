"""The tshark engine: the same flows and protocol events, from Wireshark's dissectors.

pyshark is the entry point: it finds the tshark binary. For speed the engine does not
build pyshark packet objects; it runs that tshark once per input with ``-T ek`` and a
fixed list of ``-e`` fields (one JSON line per frame, every field an array of its values
in dissection order) and turns each frame into the calls the core engine makes on its
sink: ``on_frame_l2`` for the first frame of every unicast source MAC, ``on_flow`` for a
new flow, ``on_event`` for each protocol event.

Flow rules are the core engine's: the outermost IP header and its transport header
key the flow, ``netscan.flow.sender_is_client`` picks side A, counters use ``frame.len``,
IP fragments after the first count towards the first fragment's flow (tshark runs with
IP reassembly off so that every first fragment shows its transport header), ICMP and
other IP protocols make one flow per address pair, encrypted 802.11 data frames one flow
per station pair. Events come only from an application protocol that tshark dissected
directly on that transport (not from payloads quoted in ICMP errors or inside tunnels);
as in the core engine, a flow gives at most one TLS ClientHello (from side A) and one
server certificate (from side B).

What tshark does not expose as fields is taken from the bytes tshark shows: the DER of
the server certificate (described like the Python dissector does), SIP bodies and the
WS-Discovery XML (tshark 4.0 has no WS-Discovery dissector and shows the UDP/3702
payload as data), and RTSP header lines, which
tshark 4.0 shows only as text: a second tshark run restricted to RTSP frames fetches
those messages, so RTSP events of a file are delivered after its other events.

Differences by design: tshark reassembles HTTP bodies before it reports a message, so an
HTTP event carries the frame that completes the message (the core engine: the frame
that completes the headers); ``HttpBodyEvent`` and ``VendorDiscoveryEvent`` (Wireshark
has no dissectors for those vendor protocols) are not produced; JA4 is filled in only by
tshark releases that compute it; RDATA of record types without a decoded value is "".
"""

from __future__ import annotations

import functools
import heapq
import ipaddress
import json
import os
import re
import subprocess
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Hashable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from netscan import limits as _limits
from netscan.dissectors import http as http_dissector
from netscan.dissectors import payload as payload_mod
from netscan.dissectors import registry
from netscan.dissectors.icmpv6 import MAX_PREFIXES as RA_MAX_PREFIXES
from netscan.dissectors.tls import describe_der
from netscan.engine import EngineError, duplicates, loss, tunnels
from netscan.engine.ek import Layers
from netscan.engine.ek import first as _first
from netscan.engine.ek import flag as _flag
from netscan.engine.ek import to_int as _int
from netscan.engine.protocol import InputInfo
from netscan.engine.sink import response_prefixes as sink_response_prefixes
from netscan.events import (
    ArpEvent,
    Ctx,
    DhcpEvent,
    Dhcpv6Event,
    DnsEvent,
    DnsRecord,
    Event,
    HttpBodyEvent,
    HttpRequestEvent,
    HttpResponseEvent,
    NbnsEvent,
    NtpEvent,
    RouterAdvertEvent,
    RtspEvent,
    SipEvent,
    SsdpEvent,
    TlsCertificateEvent,
    TlsClientHelloEvent,
    WsdEvent,
)
from netscan.flow import ICMP, ICMPV6, TCP, UDP, Flow, retire_idlest, sender_is_client
from netscan.inventory.enrich import Premises
from netscan.sources.pcapfile import CaptureFile

TCP_FIELDS = ["tcp.srcport", "tcp.dstport", "tcp.flags", "tcp.len"]
FIELDS: list[str] = [
    # frame and link layer
    "frame.number", "frame.time_epoch", "frame.len", "frame.protocols",
    "frame.cap_len", "frame.encap_type", "frame.md5_hash",  # copies the capture made
    "eth.src", "eth.dst", "sll.src.eth", "wlan.sa", "wlan.ta", "wlan.da", "wlan.ra",
    "wlan.fc.type", "wlan.fc.subtype", "wlan.fc.protected",
    # network and transport
    "ip.src", "ip.dst", "ip.proto", "ip.id", "ip.flags.mf", "ip.frag_offset",
    "ipv6.src", "ipv6.dst", "ipv6.nxt", "ipv6.hopopts.nxt", "ipv6.routing.nxt",
    "ipv6.dstopts.nxt", "ipv6.fraghdr.nxt", "ipv6.fraghdr.offset", "ipv6.fraghdr.more",
    "ipv6.fraghdr.ident", "ah.next_header",
    *TCP_FIELDS, "udp.srcport", "udp.dstport", "udp.length", "udp.payload",
    "arp.hw.type", "arp.proto.type", "arp.hw.size", "arp.proto.size", "arp.opcode",
    "arp.src.hw_mac", "arp.src.proto_ipv4", "arp.dst.hw_mac", "arp.dst.proto_ipv4",
    # DNS, mDNS, LLMNR
    "dns.flags.response", "dns.flags.rcode", "dns.qry.name", "dns.qry.type",
    "dns.count.answers", "dns.count.auth_rr", "dns.resp.name", "dns.resp.type",
    "dns.resp.ttl", "dns.resp.len", "dns.a", "dns.aaaa", "dns.cname", "dns.ptr.domain_name",
    "dns.txt", "dns.txt.length", "dns.srv.priority", "dns.srv.weight", "dns.srv.port",
    "dns.srv.target", "dns.srv.service", "dns.srv.proto", "dns.srv.name",
    "dns.count.add_rr", "dns.nsec.next_domain_name",
    # NetBIOS name service
    "nbns.flags.response", "nbns.flags.opcode", "nbns.name", "nbns.addr",
    # DHCP and DHCPv6
    "dhcp.option.dhcp", "dhcp.hw.len", "dhcp.hw.mac_addr", "dhcp.hw.addr", "dhcp.ip.your",
    "dhcp.option.hostname", "dhcp.option.requested_ip_address",
    "dhcp.option.request_list_item", "dhcp.option.vendor_class_id", "dhcp.option.type",
    "dhcp.option.value", "dhcp.fqdn.name",
    "dhcpv6.msgtype", "dhcpv6.option.type", "dhcpv6.duid.bytes",
    "dhcpv6.vendorclass.enterprise", "dhcpv6.vendorclass.data", "dhcpv6.client_domain",
    "dhcpv6.iaaddr.ip", "dhcpv6.iaprefix.pref_addr", "dhcpv6.iaprefix.pref_len",
    # ICMPv6 Router Advertisements
    "icmpv6.type", "icmpv6.code", "icmpv6.nd.ra.flag.m", "icmpv6.nd.ra.router_lifetime",
    "icmpv6.opt.src_linkaddr", "icmpv6.opt.prefix", "icmpv6.opt.prefix.length",
    "icmpv6.opt.prefix.flag.l", "icmpv6.opt.prefix.flag.a",
    # TLS and QUIC
    "tls.handshake.type", "tls.handshake.version", "tls.handshake.extensions_server_name",
    "tls.handshake.extensions_alpn_str", "tls.handshake.extensions.supported_version",
    "tls.handshake.ja3_full", "tls.handshake.ja3", "tls.handshake.certificate",
    # HTTP and SSDP
    "http.request.method", "http.request.uri", "http.request.version", "http.request.line",
    "http.response.code", "http.response.phrase", "http.response.version",
    "http.response.line", "http.host", "http.user_agent", "http.server", "http.content_type",
    "http.content_length_header", "http.unknown_header", "http.location",
    "http.transfer_encoding", "http.response_for.uri",
    # RTSP, SIP, NTP
    "rtsp.method", "rtsp.url", "rtsp.status", "rtsp.request", "rtsp.response",
    "sip.Method", "sip.r-uri", "sip.Status-Code", "sip.from.addr", "sip.to.addr",
    "sip.User-Agent", "sip.Server", "sip.Content-Type", "sip.CSeq.method",
    "ntp.flags.vn", "ntp.flags.mode", "ntp.stratum",
    # copies of an IP packet the capture made (tshark gives no layer's bytes, so the packet
    # is told by its header and its transport's sequence numbers, checksum and payload)
    "ip.len", "ip.ttl", "ip.checksum", "ip.flags", "ipv6.plen", "ipv6.hlim", "ipv6.flow",
    "tcp.seq_raw", "tcp.ack_raw", "tcp.checksum", "udp.checksum", "icmp.checksum",
    "icmpv6.checksum",
    # remote-mirror encapsulations (``tunnels``): their headers' lengths
    "ip.hdr_len", "gre.flags.checksum", "gre.flags.key", "gre.flags.sequence_number",
    "erspan.version", "erspan.o",
]  # fmt: skip
# the layers that say a frame may hold a remote mirror's encapsulation
_TUNNEL_LAYERS = frozenset({"gre", "vxlan", "geneve"})
# the fields that tell one IP packet from another for ``TsharkEngine._is_copy`` (the core
# compares the packet's bytes; these fields differ wherever the bytes do, but for a packet
# crafted to keep every header field and both checksums)
_IP_COPY_KEYS = tuple(
    f.replace(".", "_")
    for f in (
        "ip.src", "ip.dst", "ip.id", "ip.len", "ip.ttl", "ip.proto", "ip.checksum", "ip.flags",
        "ip.frag_offset", "ipv6.src", "ipv6.dst", "ipv6.plen", "ipv6.hlim", "ipv6.nxt",
        "ipv6.flow", "tcp.seq_raw", "tcp.ack_raw", "tcp.checksum", "tcp.len", "tcp.flags",
        "udp.checksum", "udp.length", "udp.payload", "icmp.checksum", "icmpv6.checksum",
    )
)  # fmt: skip
OPTIONAL_FIELDS = ["tls.handshake.ja4"]  # newer Wireshark releases only

# UDP parsers of the native registry that Wireshark has no dissector for: port -> name
_TSHARK_UDP_APPS = {"dns", "mdns", "llmnr", "nbns", "dhcp", "dhcpv6", "ntp", "ssdp", "wsd", "sip"}
_BLIND_UDP = {port: name for port, (name, _fn) in registry.UDP_PARSERS.items()
              if name not in _TSHARK_UDP_APPS}  # fmt: skip

PREFERENCES = [
    "ip.defragment:FALSE",  # first fragments keep their transport header, as on the wire
    "ipv6.defragment:FALSE",
    "frame.generate_md5_hash:TRUE",  # each frame's MD5: copies the capture made
]

IPV6_EXT_FIELDS = {0: "ipv6_hopopts_nxt", 43: "ipv6_routing_nxt", 44: "ipv6_fraghdr_nxt",
                   60: "ipv6_dstopts_nxt", 51: "ah_next_header"}  # fmt: skip
DNS_TYPES = {1: "A", 5: "CNAME", 12: "PTR", 16: "TXT", 28: "AAAA", 33: "SRV"}
TEXT_APPS = {"http", "rtsp", "sip", "ssdp"}
BODY_CAP = 4096
MAX_HEADERS = 64
WSD_ACTIONS = {
    a.lower(): a for a in ("Probe", "ProbeMatches", "Hello", "Bye", "Resolve", "ResolveMatches")
} | {"probematch": "ProbeMatches", "resolvematch": "ResolveMatches"}


def tshark_binary() -> str:
    """The tshark executable, as pyshark finds it (its config file, then the PATH);
    ``EngineError`` in one line when there is none."""
    from pyshark.tshark.tshark import TSharkNotFoundException, get_process_path

    try:
        path = str(get_process_path())
    except TSharkNotFoundException:
        raise EngineError(
            "--engine tshark: tshark is not installed or not on the PATH "
            "(install Wireshark's tshark, or use the default core engine)"
        ) from None
    if not os.access(path, os.X_OK):
        raise EngineError(f"--engine tshark: {path} is not executable")
    return path


@functools.lru_cache(maxsize=4)
def available_fields(binary: str) -> frozenset[str]:
    out = subprocess.run([binary, "-G", "fields"], capture_output=True, check=False).stdout
    names = set()
    for line in out.decode("utf-8", "replace").splitlines():
        parts = line.split("\t", 3)
        if len(parts) > 2 and parts[0] == "F":
            names.add(parts[2])
    return frozenset(names)


@dataclass
class FileStats:
    """Input facts of one capture as tshark read it."""

    path: str
    frames: int = 0
    first_ts: float | None = None
    last_ts: float | None = None
    warnings: list[str] = field(default_factory=list)
    returncode: int = 0


def _size(path: str) -> int:
    try:
        return Path(path).stat().st_size
    except OSError:
        return 0


def _key(name: str) -> str:
    return name.replace(".", "_")


def _line(value: str) -> str:
    """A header line as tshark shows it, without its (possibly escaped) line ending."""
    for end in ("\r\n", "\\r\\n", "\n", "\\n"):
        if value.endswith(end):
            return value[: -len(end)]
    return value


def _headers(lines: Iterable[str]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for raw in lines:
        line = _line(raw)
        if line[:1] in (" ", "\t") and out:  # folded continuation line
            name, value = out[-1]
            out[-1] = (name, f"{value} {line.strip()}".strip())
            continue
        name, sep, value = line.partition(":")
        if sep and name.strip():
            out.append((name.strip().lower(), value.strip()))
    return out


HTTP_HEADER_FIELDS = {
    "host": "http_host",
    "user-agent": "http_user_agent",
    "server": "http_server",
    "location": "http_location",
    "content-type": "http_content_type",
    "content-length": "http_content_length_header",
}


def _http_headers(L: Layers, side: str) -> list[tuple[str, str]]:
    """Header lines of an HTTP (or SSDP) message. tshark lists them as request or
    response lines, but leaves some out (NOTIFY messages): those come from the unknown-
    header lines and the fields of the well-known headers."""
    headers = _headers(L.get(f"http_{side}_line", []) + L.get("http_unknown_header", []))
    names = {name for name, _ in headers}
    for name, key in HTTP_HEADER_FIELDS.items():
        value = _first(L, key)
        if name not in names and value is not None:
            headers.append((name, value.strip()))
    return headers


def _header_dict(headers: list[tuple[str, str]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in headers:
        if name not in out and len(out) < MAX_HEADERS:
            out[name] = value
    return out


def _get(headers: list[tuple[str, str]], name: str) -> str | None:
    for key, value in headers:
        if key == name:
            return value
    return None


def _collapse(value: str | None) -> str | None:
    return " ".join(value.split()) if value is not None else None


def _boundary(content_type: str | None) -> str | None:
    if not content_type:
        return None
    for param in content_type.split(";")[1:]:
        name, _, value = param.partition("=")
        if name.strip().lower() == "boundary":
            return value.strip().strip('"') or None
    return None


def _realm(challenges: list[str]) -> str | None:
    match = None
    for value in challenges:
        match = re.search(r'(?:^|[\s,])realm\s*=\s*(?:"([^"]*)"?|([^,\s]*))', value, re.I)
        if match:
            return match.group(1) if match.group(1) is not None else match.group(2)
    return None


def _dns_name(name: str) -> str:
    return "" if name == "<Root>" else name.lower().rstrip(".")


def _colon_hex(value: str) -> str:
    value = value.replace(":", "").lower()
    return ":".join(value[i : i + 2] for i in range(0, len(value), 2))


def _describe_certificate(der_hex: str) -> tuple[str, str, tuple[str, ...]] | None:
    """Subject, issuer (RFC 4514) and DNS/IP subject alternative names of a DER cert."""
    try:
        der = bytes.fromhex(der_hex.replace(":", ""))
    except ValueError:
        return None
    return describe_der(der)


def _xml_root(payload: bytes) -> ET.Element | None:
    if len(payload) > 65536 or b"\x00" in payload:
        return None
    text = payload.decode("utf-8", "replace").lstrip("\ufeff \t\r\n")
    upper = text.upper()
    if not text.startswith("<") or "<!DOCTYPE" in upper or "<!ENTITY" in upper:
        return None
    if text.startswith("<?xml"):
        end = text.find("?>")
        text = text[end + 2 :] if end >= 0 else ""
    try:
        return ET.fromstring(text)
    except (ET.ParseError, ValueError):
        return None


def _local(tag: object) -> str:
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1].rsplit(":", 1)[-1]


class TsharkEngine:
    """Runs captures through tshark into a ``Sink`` (see ``netscan.engine.sink``); an
    ``Engine`` (``netscan.engine.protocol``)."""

    name = "tshark"

    def __init__(
        self,
        sink: Any,
        dissect: bool = True,
        tshark: str | None = None,
        limits: _limits.Limits | None = None,
        duplicate_window: float | None = None,
    ) -> None:
        self.sink = sink
        self.limits = _limits.resolve(limits)
        self.flows_retired = 0  # flows retired from a full table (see the core engine)
        # what it sets aside: the copies of a frame the capture made (see the core engine)
        self.repeats: dict[str, int] = {"duplicate_frames": 0}
        self.duplicate_window = duplicates.WINDOW if duplicate_window is None else duplicate_window
        self._recent: dict[int, duplicates.RecentFrames] = {}  # by input
        self._duplicate_bytes = 0
        self._finished = False
        # what the capture missed of the TCP connections (``loss``): per TCP flow (by its
        # id), the flow and its sequence spaces
        self._seqs: dict[int, tuple[Flow, loss.SeqTrack]] = {}
        self._missed = loss.Missed()
        self._tcp_payload = 0
        self.capture_loss: dict[str, int] = loss.counts(0, 0, 0, 0)
        self.tunnels: dict[str, int] = {}  # frames opened from remote-mirror encapsulations
        self.mirrors = tunnels.Sessions()  # the mirror sessions they came in
        # the premises, as the core is given them: only an encapsulation between addresses
        # not off-site is opened (``tunnels``)
        self._premises = getattr(sink, "premises", None) or Premises()
        self.l2_unlisted = 0
        self.dissect = dissect
        self.tshark = tshark or tshark_binary()
        self.flows: dict[tuple[str, str, int, int, int], tuple[Flow, bool]] = {}
        self.frag_map: dict[tuple[str, str, str], tuple[Flow, bool]] = {}
        self.wlan_flows: dict[tuple[str, str], tuple[Flow, bool]] = {}
        self.all_flows: list[Flow] = []
        self.packets = 0
        self.bytes = 0
        self.dissector_errors: dict[str, int] = {}
        self.unsupported_linktypes: set[int] = set()
        self.file_stats: list[FileStats] = []
        self.captures: list[CaptureFile] = []  # the inputs, opened to check them
        self.paths: list[str] = []
        self.warnings: list[str] = []  # the files' own warnings are the inputs'
        self._l2_seen: set[str] = set()
        self._reported: set[tuple[int, str]] = set()  # (id(flow), what) already reported
        self._rtsp: dict[int, list[tuple[int, float, Flow, bool, Layers]]] = {}
        self._cseq: dict[tuple[int, str], str] = {}  # (id(flow), CSeq) -> request method
        # HTTP messages whose bodies a second, filtered tshark run fetches (per file)
        self._bodies: dict[int, list[tuple[int, float, Flow, bool, str, str, str | None,
                                           str | None]]] = {}  # fmt: skip
        self._ra_seen: set[int] = set()  # Router Advertisements already reported
        # datagrams on the ports of parsers Wireshark has no dissector for (vendor
        # discovery): name -> (datagrams, first frame), for the report's limits
        self._unseen: dict[str, list[int]] = {}
        # UDP ports the sink's pack names for content markers and no parser claims: the
        # heads of a flow's first datagrams go to the marker scan, as in the core engine
        matcher = getattr(sink, "matcher", None)
        named = matcher.marker_ports("udp") if matcher is not None else frozenset()
        self._probe_ports = frozenset(p for p in named if p not in registry.UDP_PARSERS)
        self._probe = payload_mod.parser(sorted(self._probe_ports))
        # the polls whose answers are kept (the sink's pack names them, as for the core)
        self._response_prefixes = http_dissector.checked_response_prefixes(
            sink_response_prefixes(sink)
        )
        names = available_fields(self.tshark)
        self.fields = FIELDS + [f for f in OPTIONAL_FIELDS if f in names]

    # -- running tshark ------------------------------------------------------------------

    def command(self, path: str, fields: list[str], display_filter: str | None = None) -> list[str]:
        cmd = [self.tshark, "-r", path, "-n", "-T", "ek"]
        for pref in PREFERENCES:
            cmd += ["-o", pref]
        if display_filter:
            cmd += ["-Y", display_filter]
        for name in fields:
            cmd += ["-e", name]
        return cmd

    def _lines(self, cmd: list[str], stats: FileStats | None) -> Iterator[Layers]:
        with tempfile.TemporaryFile() as err:
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err)
            assert proc.stdout is not None
            try:
                for line in proc.stdout:
                    if line.startswith(b'{"index"') or not line.strip():
                        continue
                    try:
                        doc = json.loads(line)
                    except (ValueError, RecursionError):
                        continue
                    layers = doc.get("layers")
                    if isinstance(layers, dict):
                        yield layers
            finally:
                proc.stdout.close()
                rc = proc.wait()
                err.seek(0)
                messages = err.read().decode("utf-8", "replace").splitlines()
            if stats is not None:
                stats.returncode = rc
                for msg in messages:
                    msg = msg.strip()
                    if msg and "dangerous" not in msg and msg not in stats.warnings:
                        stats.warnings.append(msg)

    def _frames(self, index: int, path: str) -> Iterator[tuple[float, int, Layers]]:
        stats = self.file_stats[index]
        for layers in self._lines(self.command(path, self.fields), stats):
            ts = float(_first(layers, "frame_time_epoch") or 0.0)
            stats.frames += 1
            if stats.first_ts is None:
                stats.first_ts = ts
            stats.last_ts = ts
            yield ts, index, layers

    def run_files(self, paths: list[str], captures: Any = None) -> None:
        """Process the captures, merged by timestamp like the core engine's inputs."""
        base = len(self.file_stats)
        self.file_stats.extend(FileStats(path=str(p)) for p in paths)
        streams = [self._frames(base + i, str(p)) for i, p in enumerate(paths)]
        items: Iterable[tuple[float, int, Layers]]
        if len(streams) == 1:
            items = streams[0]
        else:
            items = heapq.merge(*streams, key=lambda item: (item[0], item[1]))
        for ts, index, layers in items:
            self.frame(index - base, ts, layers)
        for i, p in enumerate(paths):
            if self._rtsp.get(i):
                self._rtsp_pass(i, str(p))
            if self._bodies.get(i):
                self._body_pass(i, str(p))
        self._rtsp.clear()
        self._bodies.clear()

    # -- the Engine protocol (netscan.engine.protocol) -----------------------------------

    def open(
        self, paths: Iterable[str], gunzip: int | None = None, gunzip_ratio: int | None = None
    ) -> list[CaptureFile]:
        """Checks the inputs are captures (CaptureError otherwise); tshark reads them."""
        lim = self.limits
        for p in paths:
            cap = CaptureFile(p, index=len(self.captures),
                              gunzip=lim.gunzip if gunzip is None else gunzip,
                              gunzip_ratio=lim.gunzip_ratio if gunzip_ratio is None
                              else gunzip_ratio)  # fmt: skip
            self.captures.append(cap)
            self.paths.append(str(p))
        return self.captures

    def step(self, limit: int | None = None, progress: Any = None) -> bool:
        """The whole input in one step (tshark reads it)."""
        try:
            self.run_files(self.paths, self.captures)
            # what each pcapng file's interface statistics say (tshark does not say it)
            for c in self.captures:
                c.interface_statistics()
        finally:
            for c in self.captures:
                c.close()
        return False

    def bytes_read(self) -> tuple[int, int]:
        total = sum(c.size for c in self.captures)
        return (total if self.file_stats else 0), total

    def inputs(self, final: bool) -> list[InputInfo]:
        out = []
        for i, (cap, path) in enumerate(zip(self.captures, self.paths, strict=True)):
            said = loss.host_drops(cap.statistics)
            info = InputInfo(path=path, sha256="", size=_size(path), packets=cap.frames,
                             first_ts=cap.first_ts, last_ts=cap.last_ts,
                             warnings=list(cap.warnings) + ([said] if said else []),
                             format=cap.format, linktypes=sorted(cap.linktypes),
                             statistics=cap.statistics)  # fmt: skip
            # tshark reads the files itself: its frame counts and times are the facts
            if i < len(self.file_stats):
                stats = self.file_stats[i]
                info.packets, info.first_ts, info.last_ts = (stats.frames, stats.first_ts,
                                                             stats.last_ts)  # fmt: skip
                info.warnings.extend(f"tshark: {w}" for w in stats.warnings)
            out.append(info)
        return out

    @property
    def max_flows(self) -> int:
        return self.limits.flows

    def finish(self) -> None:
        """tshark's passes ended with ``step``: only the warnings are left (made once:
        ``finish`` may be called again)."""
        if self._finished:
            return
        self._finished = True
        copies = self.repeats["duplicate_frames"]
        if copies:
            self.warnings.append(
                duplicates.warning(copies, self._duplicate_bytes, self.duplicate_window)
            )
        for flow, seqs in self._seqs.values():  # the connections still open at the end
            seqs.settle(self._missed)
            flow.missed_ab, flow.missed_ba = seqs.lost()
        self._seqs = {}
        m = self._missed
        self.capture_loss = loss.counts(m.bytes, m.gaps, m.conns, self._tcp_payload)
        said = loss.warning(m.bytes, m.gaps, m.conns, self._tcp_payload)
        if said is not None:
            self.warnings.append(said)

    def release(self) -> None:
        self.flows = {}
        self.frag_map = {}
        self.wlan_flows = {}

    # -- one frame -----------------------------------------------------------------------

    def _is_copy(self, file: int, ts: float, wirelen: int, L: Layers, net: str) -> bool:
        """The core's rule (``duplicates``): a frame that holds an IP packet is compared by
        the packet (so a copy the mirror port tagged with a VLAN, or an 802.11 retry, is
        still one), any other frame by its bytes."""
        key: Hashable
        if net in ("ip", "ipv6"):
            key = ("ip", *[_first(L, k) for k in _IP_COPY_KEYS])
        else:
            digest = _first(L, "frame_md5_hash")
            if not digest:
                return False
            key = (digest, _first(L, "frame_cap_len"), wirelen, _first(L, "frame_encap_type"))
        recent = self._recent.get(file)
        if recent is None:
            recent = self._recent[file] = duplicates.RecentFrames(self.duplicate_window)
        return recent.is_copy(key, ts)

    def _may_be_mirror(self, src: str, dst: str) -> bool:
        """Whether a packet between these addresses may carry a remote mirror's frames."""
        return not self._premises.is_offsite(src) and not self._premises.is_offsite(dst)

    def frame(self, file: int, ts: float, L: Layers) -> None:
        frame = _int(_first(L, "frame_number"))
        wirelen = _int(_first(L, "frame_len"))
        self.packets += 1
        self.bytes += wirelen
        protos = (_first(L, "frame_protocols") or "").split(":")
        if _TUNNEL_LAYERS.intersection(protos):  # a remote mirror's encapsulation opened
            protos, tunnel, inner = tunnels.open_tunnels(L, protos, self._may_be_mirror,
                                                         self.mirrors)  # fmt: skip
            if tunnel is not None:
                self.tunnels[tunnel] = self.tunnels.get(tunnel, 0) + 1
                wirelen = inner
        net_i = next((i for i, p in enumerate(protos) if p in ("ip", "ipv6", "arp")), -1)
        if self.duplicate_window > 0 and self._is_copy(
            file, ts, wirelen, L, protos[net_i] if net_i >= 0 else ""
        ):
            self.repeats["duplicate_frames"] += 1
            self._duplicate_bytes += wirelen
            return
        link = protos[:net_i] if net_i >= 0 else protos
        smac = dmac = None
        if "eth" in link:
            smac, dmac = _first(L, "eth_src"), _first(L, "eth_dst")
        elif "sll" in link:
            smac = _first(L, "sll_src_eth")
        elif "wlan" in link:
            smac = _first(L, "wlan_sa") or _first(L, "wlan_ta")
            dmac = _first(L, "wlan_da") or _first(L, "wlan_ra")
        if (
            smac is not None
            and smac not in self._l2_seen
            and not int(smac[:2], 16) & 1
            and self._l2_room(smac)
        ):
            self.sink.on_frame_l2(file, frame, ts, bytes.fromhex(smac.replace(":", "")), wirelen)
        if net_i < 0:
            if "wlan" in link and smac is not None and dmac is not None:
                ftype = _int(_first(L, "wlan_fc_type"), -1)
                subtype = _int(_first(L, "wlan_fc_subtype"))
                if ftype == 2 and not subtype & 4 and _flag(_first(L, "wlan_fc_protected")):
                    self._wlan(file, frame, ts, smac, dmac, wirelen)
            return
        net = protos[net_i]
        if net == "arp":
            self._arp(file, frame, ts, L)
            return
        if net == "ip":
            src, dst = _first(L, "ip_src"), _first(L, "ip_dst")
            proto = _int(_first(L, "ip_proto"), -1)
            more = _flag(_first(L, "ip_flags_mf"))
            offset = _int(_first(L, "ip_frag_offset"))
            ident = _first(L, "ip_id") or ""
        else:
            src, dst = _first(L, "ipv6_src"), _first(L, "ipv6_dst")
            proto = self._ipv6_proto(L)
            more = offset = 0
            ident = ""
            if _first(L, "ipv6_fraghdr_ident") is not None:
                more = _flag(_first(L, "ipv6_fraghdr_more"))
                offset = _int(_first(L, "ipv6_fraghdr_offset"))
                ident = _first(L, "ipv6_fraghdr_ident") or ""
        if src is None or dst is None or proto < 0:
            return
        frag_id = None
        if more or offset:
            frag_id = (src, dst, ident)
            if offset:  # a later fragment: it belongs to the first fragment's flow
                hit = self.frag_map.get(frag_id)
                if hit is not None:
                    hit[0].count(hit[1], wirelen, 0, ts, frame)
                return
        t_i = net_i + 1
        while t_i < len(protos) and protos[t_i].startswith(net + "."):
            t_i += 1  # IPv6 extension headers
        transport = protos[t_i] if t_i < len(protos) else ""
        app = protos[t_i + 1] if t_i + 1 < len(protos) else ""
        if proto in (TCP, UDP):
            name = "tcp" if proto == TCP else "udp"
            sport = _int(_first(L, f"{name}_srcport"), -1)
            dport = _int(_first(L, f"{name}_dstport"), -1)
            if sport < 0 or dport < 0:
                return
            flags = _int(_first(L, "tcp_flags")) if proto == TCP else 0
            if proto == TCP:
                plen = _int(_first(L, "tcp_len"))
            else:
                plen = max(_int(_first(L, "udp_length")) - 8, 0)
        else:
            sport = dport = flags = plen = 0
        hit = self.flows.get((src, dst, sport, dport, proto))
        if hit is None:
            hit = self._new_flow(file, proto, src, dst, sport, dport, smac, dmac, ts, flags)
        flow, from_a = hit
        # as in the core engine, TCP segments without payload never extend an upload burst
        flow.count(from_a, wirelen, plen, ts, frame, proto != TCP or plen > 0)
        if proto == TCP:  # what the capture missed of the connection (``loss``)
            self._tcp_payload += plen
            held = self._seqs.get(id(flow))
            if held is None:
                held = self._seqs[id(flow)] = (flow, loss.SeqTrack())
            seqs = held[1]
            before = self._missed.bytes
            if frag_id is None:
                seq, ack = _int(_first(L, "tcp_seq_raw")), _int(_first(L, "tcp_ack_raw"))
                seqs.segment(from_a, flags, seq, ack, plen, self._missed)
            else:
                seqs.lose_track(from_a, self._missed)
            if self._missed.bytes != before:
                flow.missed_ab, flow.missed_ba = seqs.lost()
        if frag_id is not None:
            self.frag_map[frag_id] = hit
        if proto == ICMPV6 and self.dissect and transport == "icmpv6" and frag_id is None:
            if _first(L, "icmpv6_type") == "134":
                self._router_advert(flow, from_a, frame, ts, L)
            return
        if proto == UDP and plen > 0 and self.dissect:
            blind = _BLIND_UDP.get(dport) or _BLIND_UDP.get(sport)
            if blind is not None:
                seen = self._unseen.setdefault(blind, [0, frame])
                seen[0] += 1
            elif (
                (dport in self._probe_ports or sport in self._probe_ports)
                and flow.pkts_ab + flow.pkts_ba <= payload_mod.MAX_PROBE_DATAGRAMS
                and (raw := _first(L, "udp_payload"))
            ):
                data = bytes.fromhex(raw[: 3 * payload_mod.PROBE_HEAD].replace(":", ""))
                for event in self._probe(data, flow.ctx(frame, ts, from_a)):
                    self.sink.on_event(event, flow)
        if not self.dissect or transport not in ("tcp", "udp") or not app:
            return
        try:
            self._dissect(app, file, frame, ts, flow, from_a, L)
        except Exception:  # a conversion bug must never stop the analysis
            self.dissector_errors[f"tshark:{app}"] = (
                self.dissector_errors.get(f"tshark:{app}", 0) + 1
            )

    @staticmethod
    def _ipv6_proto(L: Layers) -> int:
        proto = _int(_first(L, "ipv6_nxt"), -1)
        used: dict[str, int] = {}
        for _ in range(8):
            key = IPV6_EXT_FIELDS.get(proto)
            if key is None:
                break
            values = L.get(key, [])
            i = used.get(key, 0)
            if i >= len(values):
                break
            used[key] = i + 1
            proto = _int(values[i], -1)
        return proto

    def _new_flow(
        self, file: int, proto: int, src: str, dst: str, sport: int, dport: int,
        smac: str | None, dmac: str | None, ts: float, flags: int,
    ) -> tuple[Flow, bool]:  # fmt: skip
        key = (src, dst, sport, dport, proto)
        rkey = (dst, src, dport, sport, proto)
        if sender_is_client(proto, sport, dport, flags):
            flow = Flow(file, proto, src, dst, sport, dport, smac, dmac, ts)
            fwd = (flow, True)
            self.flows[key] = fwd
            self.flows[rkey] = (flow, False)
        else:
            flow = Flow(file, proto, dst, src, dport, sport, dmac, smac, ts)
            fwd = (flow, False)
            self.flows[key] = fwd
            self.flows[rkey] = (flow, True)
        if proto in (ICMP, ICMPV6):
            flow.app = flow.app | {"icmp" if proto == ICMP else "icmpv6"}
        if len(self.all_flows) >= self.limits.flows:
            self._retire()
        self.all_flows.append(flow)
        self.sink.on_flow(flow)
        return fwd

    def _wlan(self, file: int, frame: int, ts: float, smac: str, dmac: str, wirelen: int) -> None:
        hit = self.wlan_flows.get((smac, dmac))
        if hit is None:
            flow = Flow(file, 0, "", "", 0, 0, smac, dmac, ts)
            flow.app = flow.app | {"wlan-encrypted"}
            hit = (flow, True)
            self.wlan_flows[(smac, dmac)] = hit
            self.wlan_flows[(dmac, smac)] = (flow, False)
            if len(self.all_flows) >= self.limits.flows:
                self._retire()
            self.all_flows.append(flow)
            self.sink.on_flow(flow)
        hit[0].count(hit[1], wirelen, 0, ts, frame)

    def _l2_room(self, mac: str) -> bool:
        """Note a first MAC sighting, within the devices limit (beyond it: counted)."""
        if len(self._l2_seen) >= self.limits.devices:
            self.l2_unlisted += 1
            return False
        self._l2_seen.add(mac)
        return True

    def _retire(self) -> None:
        """The flow table is full: retire the idlest flows (``netscan.flow.retire_idlest``)."""
        gone = retire_idlest(self.all_flows, [self.flows, self.wlan_flows, self.frag_map])
        dead = {id(f) for f in gone}
        self._reported = {k for k in self._reported if k[0] not in dead}
        for key in dead:
            held = self._seqs.pop(key, None)
            if held is not None:
                flow, seqs = held
                seqs.settle(self._missed)
                flow.missed_ab, flow.missed_ba = seqs.lost()
        on_end = self.sink.on_flow_end
        if on_end is not None:
            for flow in gone:
                on_end(flow)
        self.flows_retired += len(gone)

    def _arp(self, file: int, frame: int, ts: float, L: Layers) -> None:
        if (
            _int(_first(L, "arp_hw_type")) != 1
            or _int(_first(L, "arp_proto_type")) != 0x0800
            or _int(_first(L, "arp_hw_size")) != 6
            or _int(_first(L, "arp_proto_size")) != 4
        ):
            return
        sha = _first(L, "arp_src_hw_mac")
        spa = _first(L, "arp_src_proto_ipv4")
        if sha is None or spa is None:
            return
        ctx = Ctx(file, frame, ts, sha, None, None, None, 0, 0, "")
        event = ArpEvent(
            ctx=ctx,
            op=_int(_first(L, "arp_opcode")),
            sender_mac=sha,
            sender_ip=spa,
            target_mac=_first(L, "arp_dst_hw_mac") or "",
            target_ip=_first(L, "arp_dst_proto_ipv4") or "",
        )
        self.sink.on_event(event, None)

    # -- application protocols -----------------------------------------------------------

    def _emit(self, flow: Flow, app: str, events: list[Event]) -> None:
        if not events:
            return
        flow.app = flow.app | {app}
        for event in events:
            self.sink.on_event(event, flow)

    def _once(self, flow: Flow, what: str) -> bool:
        key = (id(flow), what)
        if key in self._reported:
            return False
        self._reported.add(key)
        return True

    def _dissect(
        self, app: str, file: int, frame: int, ts: float, flow: Flow, from_a: bool, L: Layers
    ) -> None:
        ctx = flow.ctx(frame, ts, from_a)
        if app in ("dns", "mdns", "llmnr"):
            self._emit(flow, app, self._dns(app, ctx, L))
        elif app == "nbns":
            self._emit(flow, app, self._nbns(ctx, L))
        elif app in ("dhcp", "bootp"):
            self._emit(flow, "dhcp", self._dhcp(ctx, L))
        elif app == "dhcpv6":
            self._emit(flow, app, self._dhcpv6(ctx, L))
        elif app == "ntp":
            self._emit(flow, app, self._ntp(ctx, L))
        elif app == "tls" or app == "quic":
            self._emit(flow, app, self._tls(ctx, flow, from_a, app == "quic", L))
        elif app == "ssdp":
            self._emit(flow, app, self._ssdp(ctx, L))
        elif app == "http" and flow.proto == TCP:
            self._emit(flow, app, self._http(ctx, L))
            self._body_candidate(file, frame, ts, flow, from_a, L)
        elif app == "sip":
            self._emit(flow, app, self._sip(ctx, L))
        elif app in ("data", "xml") and 3702 in (flow.a_port, flow.b_port):
            self._emit(flow, "wsd", self._wsd(ctx, L))
        elif app == "rtsp" and (L.get("rtsp_request") or L.get("rtsp_response")):
            self._rtsp.setdefault(file, []).append((frame, ts, flow, from_a, L))

    def _dns(self, proto: str, ctx: Ctx, L: Layers) -> list[Event]:
        qtypes = L.get("dns_qry_type", [])
        queries = [
            (_dns_name(n), DNS_TYPES.get(t := _int(qtypes[i] if i < len(qtypes) else None),
                                         f"TYPE{t}"))
            for i, n in enumerate(L.get("dns_qry_name", []))
        ]  # fmt: skip
        answers: list[DnsRecord] = []
        names = iter(L.get("dns_resp_name", []))
        types = _record_types(L)
        # tshark splits the owner name of an SRV record ("_service._proto.name") into three
        # fields instead of giving it as dns.resp.name
        services = L.get("dns_srv_service", [])
        srv_owners = None
        if services and len(services) == types.count(33):
            protos = L.get("dns_srv_proto", [])
            rest = L.get("dns_srv_name", [])
            srv_owners = iter(
                ".".join(p for p in parts if p)
                for parts in zip(services, protos, rest, strict=False)
            )
        ttls = iter(L.get("dns_resp_ttl", []))
        lens = L.get("dns_resp_len", [])
        values = {
            k: iter(L.get(k, []))
            for k in ("dns_a", "dns_aaaa", "dns_cname", "dns_ptr_domain_name", "dns_txt",
                      "dns_txt_length", "dns_srv_priority", "dns_srv_weight", "dns_srv_port",
                      "dns_srv_target")
        }  # fmt: skip
        an = _int(_first(L, "dns_count_answers"))
        ns = _int(_first(L, "dns_count_auth_rr"))
        for i, rtype in enumerate(types):
            owner = next(srv_owners if rtype == 33 and srv_owners else names, None)
            if owner is None:
                break
            ttl = _int(next(ttls, None)) if rtype != 41 else 0  # OPT has no TTL field
            value: str | None = ""
            if rtype == 1:
                value = next(values["dns_a"], None)
            elif rtype == 28:
                value = next(values["dns_aaaa"], None)
            elif rtype == 5:
                cname = next(values["dns_cname"], None)
                value = _dns_name(cname) if cname is not None else None
            elif rtype == 12:
                ptr = next(values["dns_ptr_domain_name"], None)
                value = _dns_name(ptr) if ptr is not None else None
            elif rtype == 16:
                rdlen = _int(lens[i] if i < len(lens) else None)
                parts: list[str] = []
                used = 0
                while used < rdlen:
                    text = next(values["dns_txt"], None)
                    size = next(values["dns_txt_length"], None)
                    if text is None or size is None:
                        break
                    parts.append(text)
                    used += _int(size) + 1
                value = "\n".join(parts)
            elif rtype == 33:
                srv = [next(values[k], None) for k in ("dns_srv_priority", "dns_srv_weight",
                                                       "dns_srv_port", "dns_srv_target")]  # fmt: skip
                if None in srv:
                    value = None
                else:
                    value = f"{srv[0]} {srv[1]} {srv[2]} {_dns_name(srv[3] or '')}"
            if an <= i < an + ns or value is None:
                continue  # authority records are not reported
            answers.append(
                DnsRecord(
                    name=_dns_name(owner),
                    rtype=DNS_TYPES.get(rtype, f"TYPE{rtype}"),
                    value=value,
                    ttl=ttl,
                )  # fmt: skip
            )
        if not queries and not answers and _first(L, "dns_flags_response") is None:
            return []
        return [
            DnsEvent(
                ctx=ctx,
                proto=proto,
                is_response=_flag(_first(L, "dns_flags_response")),
                rcode=_int(_first(L, "dns_flags_rcode")),
                queries=queries,
                answers=answers,
            )
        ]

    def _nbns(self, ctx: Ctx, L: Layers) -> list[Event]:
        raw = _first(L, "nbns_name")
        if raw is None:
            return []
        # "NAME<20>", "NAME<00> (Workstation/Redirector)", "NAME<20>.scope"
        m = re.match(r"^(.*)<([0-9a-fA-F]{2})>(?: \([^)]*\))?(?:\..*)?$", raw, re.S)
        name, suffix = (m.group(1), int(m.group(2), 16)) if m else (raw, 0)
        return [
            NbnsEvent(
                ctx=ctx,
                is_response=_flag(_first(L, "nbns_flags_response")),
                opcode=_int(_first(L, "nbns_flags_opcode")),
                name=_nb_name(name),
                suffix=suffix,
                addresses=list(L.get("nbns_addr", [])),
            )
        ]

    def _dhcp(self, ctx: Ctx, L: Layers) -> list[Event]:
        mac = _first(L, "dhcp_hw_mac_addr")
        if mac is None:
            addr = _first(L, "dhcp_hw_addr")
            mac = _colon_hex(addr) if addr else ""
        options: dict[int, str] = {}
        values = iter(L.get("dhcp_option_value", []))
        for code in L.get("dhcp_option_type", []):
            c = _int(code)
            if c in (0, 255):
                continue
            value = next(values, None)
            if value is None:
                break
            options[c] = options.get(c, "") + value.replace(":", "")
        your_ip = _first(L, "dhcp_ip_your")
        hostname = (_first(L, "dhcp_option_hostname") or "").strip("\x00") or None
        vendor = (_first(L, "dhcp_option_vendor_class_id") or "").strip("\x00") or None
        fqdn = (_first(L, "dhcp_fqdn_name") or "").rstrip(".") or None
        return [
            DhcpEvent(
                ctx=ctx,
                msg_type=_int(_first(L, "dhcp_option_dhcp")),
                client_mac=mac.lower(),
                your_ip=your_ip if your_ip and your_ip != "0.0.0.0" else None,
                hostname=hostname,
                requested_ip=_first(L, "dhcp_option_requested_ip_address"),
                param_request_list=[_int(x) for x in L.get("dhcp_option_request_list_item", [])],
                vendor_class=vendor,
                client_id=options.get(61),
                fqdn=fqdn,
            )
        ]

    def _dhcpv6(self, ctx: Ctx, L: Layers) -> list[Event]:
        msg_type = _int(_first(L, "dhcpv6_msgtype"))
        if msg_type in (0, 12, 13):  # relayed messages would carry the relay's addresses
            return []
        duid = None
        duids = iter(L.get("dhcpv6_duid_bytes", []))
        for code in L.get("dhcpv6_option_type", []):
            c = _int(code)
            if c in (1, 2):
                value = next(duids, None)
                if c == 1 and value is not None and duid is None:
                    duid = value.replace(":", "").lower()
        enterprise = _first(L, "dhcpv6_vendorclass_enterprise")
        vendor_class = None
        if enterprise is not None:
            vendor_class = f"{_int(enterprise)}:{','.join(L.get('dhcpv6_vendorclass_data', []))}"
        fqdn = (_first(L, "dhcpv6_client_domain") or "").rstrip(".") or None
        return [
            Dhcpv6Event(
                ctx=ctx,
                msg_type=msg_type,
                duid=duid,
                vendor_class=vendor_class,
                enterprise=_int(enterprise) if enterprise is not None else None,
                fqdn=fqdn,
                addresses=_v6_list(L.get("dhcpv6_iaaddr_ip", []))[:16],
                prefixes=_v6_prefixes(
                    L.get("dhcpv6_iaprefix_pref_addr", []), L.get("dhcpv6_iaprefix_pref_len", [])
                )[:16],  # fmt: skip
            )
        ]

    def _ntp(self, ctx: Ctx, L: Layers) -> list[Event]:
        version = _int(_first(L, "ntp_flags_vn"))
        mode = _int(_first(L, "ntp_flags_mode"))
        if not 1 <= version <= 4:
            return []
        stratum = _int(_first(L, "ntp_stratum")) if mode < 6 else 0
        return [NtpEvent(ctx=ctx, version=version, mode=mode, stratum=stratum)]

    def _tls(self, ctx: Ctx, flow: Flow, from_a: bool, quic: bool, L: Layers) -> list[Event]:
        types = [_int(t) for t in L.get("tls_handshake_type", [])]
        out: list[Event] = []
        if 1 in types and from_a and self._once(flow, "client_hello"):
            sv = [_int(v) for v in L.get("tls_handshake_extensions_supported_version", [])]
            sv = [v for v in sv if (v & 0x0F0F) != 0x0A0A or (v >> 8) != (v & 0xFF)]
            legacy = _first(L, "tls_handshake_version")
            out.append(
                TlsClientHelloEvent(
                    ctx=ctx,
                    sni=_first(L, "tls_handshake_extensions_server_name"),
                    alpn=list(L.get("tls_handshake_extensions_alpn_str", [])),
                    versions=sv or ([_int(legacy)] if legacy is not None else []),
                    ja3=_first(L, "tls_handshake_ja3_full") or "",
                    ja3_hash=_first(L, "tls_handshake_ja3") or "",
                    ja4=_first(L, "tls_handshake_ja4") or "",
                    quic=quic,
                )
            )
        if 11 in types and not from_a and not quic:
            der = _first(L, "tls_handshake_certificate")
            if der and self._once(flow, "certificate"):
                described = _describe_certificate(der)
                if described is not None:
                    subject, issuer, san = described
                    out.append(TlsCertificateEvent(ctx=ctx, subject=subject, issuer=issuer,
                                                   san=list(san)))  # fmt: skip
        return out

    def _ssdp(self, ctx: Ctx, L: Layers) -> list[Event]:
        method = _first(L, "http_request_method")
        if method is not None:
            method = method.upper()
            if method not in ("NOTIFY", "M-SEARCH"):
                return []
            headers = _http_headers(L, "request")
            nt = _get(headers, "nt" if method == "NOTIFY" else "st")
        else:
            status = _int(_first(L, "http_response_code"))
            if not 200 <= status < 300:
                return []
            method = "RESPONSE"
            headers = _http_headers(L, "response")
            nt = _get(headers, "st")
        return [
            SsdpEvent(
                ctx=ctx,
                method=method,
                server=_collapse(_get(headers, "server")),
                usn=_collapse(_get(headers, "usn")),
                nt=_collapse(nt),
                nts=_collapse(_get(headers, "nts")),
                location=_collapse(_get(headers, "location")),
                user_agent=_collapse(_get(headers, "user-agent")),
            )
        ]

    def _http(self, ctx: Ctx, L: Layers) -> list[Event]:
        out: list[Event] = []
        methods = L.get("http_request_method", [])
        single = len(methods) + len(L.get("http_response_code", [])) == 1
        for i, method in enumerate(methods):
            headers = _http_headers(L, "request") if single else []
            uris = L.get("http_request_uri", [])
            versions = L.get("http_request_version", [])
            content_type = _get(headers, "content-type") if single else None
            length = _get(headers, "content-length") if single else None
            out.append(
                HttpRequestEvent(
                    ctx=ctx,
                    method=method,
                    path=uris[i] if i < len(uris) else "",
                    version=versions[i] if i < len(versions) else "",
                    host=_get(headers, "host") if single else _nth(L, "http_host", i),
                    user_agent=_get(headers, "user-agent") if single else None,
                    content_type=content_type,
                    content_length=_int(length, -1) if length is not None else None,
                    boundary=_boundary(content_type),
                    headers=_header_dict(headers),
                )
            )
        for i, code in enumerate(L.get("http_response_code", [])):
            headers = _http_headers(L, "response") if single else []
            phrases = L.get("http_response_phrase", [])
            versions = L.get("http_response_version", [])
            length = _get(headers, "content-length")
            out.append(
                HttpResponseEvent(
                    ctx=ctx,
                    status=_int(code),
                    reason=phrases[i] if i < len(phrases) else "",
                    version=versions[i] if i < len(versions) else "",
                    server=_get(headers, "server") if single else _nth(L, "http_server", i),
                    content_type=_get(headers, "content-type"),
                    content_length=_int(length, -1) if length is not None else None,
                    headers=_header_dict(headers),
                )
            )
        return out

    def _sip(self, ctx: Ctx, L: Layers) -> list[Event]:
        status = _int(_first(L, "sip_Status-Code"))
        is_response = status > 0
        method = _first(L, "sip_CSeq_method") if is_response else _first(L, "sip_Method")
        body = ""
        payload = _first(L, "udp_payload") if ctx.transport == "udp" else None
        if payload:
            raw = bytes.fromhex(payload.replace(":", ""))
            end = raw.find(b"\r\n\r\n")
            if end >= 0:
                body = raw[end + 4 : end + 4 + BODY_CAP].decode("utf-8", "replace")
        return [
            SipEvent(
                ctx=ctx,
                is_response=is_response,
                method=method or "",
                status=status,
                request_uri=_first(L, "sip_r-uri") or "",
                from_uri=_first(L, "sip_from_addr") or "",
                to_uri=_first(L, "sip_to_addr") or "",
                user_agent=_first(L, "sip_User-Agent"),
                server=_first(L, "sip_Server"),
                content_type=_first(L, "sip_Content-Type"),
                body=body,
            )
        ]

    def _wsd(self, ctx: Ctx, L: Layers) -> list[Event]:
        payload = _first(L, "udp_payload")
        if not payload:
            return []
        root = _xml_root(bytes.fromhex(payload.replace(":", "")))
        if root is None:
            return []
        action = ""
        types: list[str] = []
        scopes: list[str] = []
        xaddrs: list[str] = []
        endpoint = None
        body_action = ""
        for el in root.iter():
            tag = _local(el.tag)
            text = (el.text or "").strip()
            if tag == "Action" and text and not action:
                action = WSD_ACTIONS.get(text.rstrip("/").rsplit("/", 1)[-1].lower(), "")
            elif tag in ("Types", "Scopes", "XAddrs"):
                target = {"Types": types, "Scopes": scopes, "XAddrs": xaddrs}[tag]
                target.extend(t for t in text.split() if t not in target)
            elif tag == "Address" and endpoint is None and text:
                endpoint = text
            elif not body_action and tag.lower() in WSD_ACTIONS:
                body_action = WSD_ACTIONS[tag.lower()]
        action = action or body_action
        if not action:
            return []
        return [WsdEvent(ctx=ctx, action=action, types=types, scopes=scopes, xaddrs=xaddrs,
                         endpoint=endpoint)]  # fmt: skip

    @property
    def blind_spots(self) -> list[str]:
        """What this engine could not see in the inputs, and why (the report's limits)."""
        out = []
        for name, (count, frame) in sorted(self._unseen.items()):
            ports = ", ".join(str(p) for p, n in sorted(_BLIND_UDP.items()) if n == name)
            out.append(
                f"tshark engine: {count:,} UDP datagrams on the {name} discovery port(s) "
                f"{ports} (first in frame {frame}) were not decoded: Wireshark has no "
                f"dissector for {name}, so the device facts they announce (model, serial, "
                "vendor) are missing; the core engine decodes them"
            )
        return out

    # -- ICMPv6 Router Advertisements ----------------------------------------------------

    def _router_advert(self, flow: Flow, from_a: bool, frame: int, ts: float, L: Layers) -> None:
        if _first(L, "icmpv6_code") not in (None, "0"):
            return
        prefixes = _v6_prefixes(L.get("icmpv6_opt_prefix", []),
                                L.get("icmpv6_opt_prefix_length", []))  # fmt: skip
        on_link = [_flag(x) for x in L.get("icmpv6_opt_prefix_flag_l", [])]
        auto = [_flag(x) for x in L.get("icmpv6_opt_prefix_flag_a", [])]
        n = min(len(prefixes), len(on_link), len(auto), RA_MAX_PREFIXES)
        mac = _first(L, "icmpv6_opt_src_linkaddr")
        lifetime = _int(_first(L, "icmpv6_nd_ra_router_lifetime"))
        managed = _flag(_first(L, "icmpv6_nd_ra_flag_m"))
        # a repeated advertisement between the same two hosts says nothing new
        key = hash((flow.a_ip, flow.b_ip, from_a, tuple(prefixes[:n]), mac, lifetime, managed))
        if key in self._ra_seen:
            return
        if len(self._ra_seen) >= 200_000:
            self._ra_seen.clear()
        self._ra_seen.add(key)
        ev = RouterAdvertEvent(ctx=flow.ctx(frame, ts, from_a), router_lifetime=lifetime,
                               managed=managed, prefixes=prefixes[:n], on_link=on_link[:n],
                               autonomous=auto[:n], router_mac=mac.lower() if mac else None)  # fmt: skip
        self.sink.on_event(ev, flow)

    # -- HTTP bodies: a second, filtered tshark run for the reassembled messages -----------

    def _body_candidate(
        self, file: int, frame: int, ts: float, flow: Flow, from_a: bool, L: Layers
    ) -> None:
        """Remember a message whose body the native engine would keep or sniff: a request
        with a body, or a response to a request whose answers carry enrolment records."""
        methods = L.get("http_request_method", [])
        codes = L.get("http_response_code", [])
        if len(methods) + len(codes) != 1:
            return
        chunked = "chunked" in (_first(L, "http_transfer_encoding") or "").lower()
        length = _int(_first(L, "http_content_length_header"), 0)
        if methods:
            if not chunked and length <= 0:
                return
            headers = _http_headers(L, "request")
            item = (frame, ts, flow, from_a, methods[0], _first(L, "http_request_uri") or "",
                    _get(headers, "host"), _get(headers, "content-type"))  # fmt: skip
        else:
            uri = _first(L, "http_response_for_uri") or ""
            path = uri.split("://", 1)[-1]
            path = path[path.find("/") :] if "/" in path else path
            if not path.lower().startswith(self._response_prefixes):
                return
            headers = _http_headers(L, "response")
            item = (frame, ts, flow, from_a, "RESPONSE", path, None,
                    _get(headers, "content-type"))  # fmt: skip
        self._bodies.setdefault(file, []).append(item)

    def _body_pass(self, file: int, path: str) -> None:
        pending = {item[0]: item for item in self._bodies.get(file, [])}
        fields = ["frame.number", "tcp.reassembled.data", "tcp.payload", "tcp.segment"]
        # only messages that can be candidates: requests with a body, enrolment answers
        answers = " || ".join(
            f"http.response_for.uri contains {_filter_string(p)}" for p in self._response_prefixes
        )
        wanted = "(http.request && (http.content_length_header > 0 || http.transfer_encoding))"
        display = f"{wanted} || (http.response && ({answers}))" if answers else wanted
        cmd = self.command(path, fields, display)
        for layers in self._lines(cmd, None):
            frame = _int(_first(layers, "frame_number"))
            item = pending.pop(frame, None)
            if item is None:
                continue
            _, ts, flow, from_a, method, upath, host, ctype = item
            data = _first(layers, "tcp_reassembled_data") or _first(layers, "tcp_payload")
            segments = [_int(x) for x in layers.get("tcp_segment", [])]
            try:
                body, complete = _http_body(bytes.fromhex((data or "").replace(":", "")))
            except ValueError:
                self.dissector_errors["tshark:http-body"] = (
                    self.dissector_errors.get("tshark:http-body", 0) + 1
                )
                continue
            if not body:
                continue
            if method != "RESPONSE" and not (
                http_dissector.body_worth_capturing(upath, ctype)
                or http_dissector.looks_like_image(body[: http_dissector.SNIFF_BYTES])
            ):
                continue
            ev = HttpBodyEvent(ctx=flow.ctx(frame, ts, from_a), method=method, path=upath,
                               host=host, content_type=ctype, body=body, complete=complete,
                               first_frame=min(segments, default=frame), last_frame=frame)  # fmt: skip
            self._emit(flow, "http", [ev])

    # -- RTSP: a second, filtered tshark run for the header lines -------------------------

    def _rtsp_pass(self, file: int, path: str) -> None:
        pending = self._rtsp.get(file, [])
        raw_by_frame: dict[int, bytes] = {}
        fields = ["frame.number", "tcp.reassembled.data", "tcp.payload"]
        cmd = self.command(path, fields, "rtsp.request || rtsp.response")
        for layers in self._lines(cmd, None):
            data = _first(layers, "tcp_reassembled_data") or _first(layers, "tcp_payload")
            if data:
                raw_by_frame[_int(_first(layers, "frame_number"))] = bytes.fromhex(
                    data.replace(":", "")
                )
        for frame, ts, flow, from_a, L in pending:
            ctx = flow.ctx(frame, ts, from_a)
            try:
                events = self._rtsp_events(ctx, flow, L, raw_by_frame.get(frame, b""))
            except Exception:
                self.dissector_errors["tshark:rtsp"] = (
                    self.dissector_errors.get("tshark:rtsp", 0) + 1
                )
                continue
            self._emit(flow, "rtsp", events)

    def _rtsp_events(self, ctx: Ctx, flow: Flow, L: Layers, raw: bytes) -> list[Event]:
        out: list[Event] = []
        text = raw.decode("utf-8", "replace")
        starts = [_line(x) for x in L.get("rtsp_request", []) + L.get("rtsp_response", [])]
        methods = iter(L.get("rtsp_method", []))
        urls = iter(L.get("rtsp_url", []))
        statuses = iter(L.get("rtsp_status", []))
        pos = 0
        for start in sorted(starts, key=lambda s: text.find(s, pos) % (len(text) + 1)):
            at = text.find(start, pos)
            headers: list[tuple[str, str]] = []
            if at >= 0:
                end = text.find("\r\n\r\n", at)
                block = text[at : end if end >= 0 else len(text)]
                headers = _headers(block.split("\r\n")[1:])
                pos = at + len(start)
            cseq = (_get(headers, "cseq") or "").strip()
            if start.startswith("RTSP/"):
                out.append(
                    RtspEvent(
                        ctx=ctx,
                        is_response=True,
                        method=self._cseq.get((id(flow), cseq), ""),
                        status=_int(next(statuses, None)),
                        server=_get(headers, "server"),
                        realm=_realm([v for k, v in headers if k == "www-authenticate"]),
                        headers=_header_dict(headers),
                    )
                )
            else:
                method = next(methods, "")
                if cseq:
                    self._cseq[(id(flow), cseq)] = method
                out.append(
                    RtspEvent(
                        ctx=ctx,
                        is_response=False,
                        method=method,
                        url=next(urls, ""),
                        user_agent=_get(headers, "user-agent"),
                        server=_get(headers, "server"),
                        headers=_header_dict(headers),
                    )
                )
        return out


_DNS_VALUE_FIELDS = {
    1: "dns_a",
    28: "dns_aaaa",
    5: "dns_cname",
    12: "dns_ptr_domain_name",
    33: "dns_srv_target",
    47: "dns_nsec_next_domain_name",
}
_BITMAP_TYPES = (47, 50)  # NSEC, NSEC3: their type bitmaps also show up as dns.resp.type


def _record_types(L: Layers) -> list[int]:
    """The type of every resource record of a DNS message, in order.

    tshark reports the types listed in NSEC/NSEC3 type bitmaps with the same field as the
    record types. With the record count from the header and the number of values of each
    decoded type, the split is found by a small search: bitmap types strictly increase,
    and the records of each type must use up exactly that type's values.
    """
    raw = [_int(t) for t in L.get("dns_resp_type", [])]
    total = sum(
        _int(_first(L, k)) for k in ("dns_count_answers", "dns_count_auth_rr", "dns_count_add_rr")
    )
    if len(raw) <= total or not any(t in _BITMAP_TYPES for t in raw):
        return raw
    want = {t: len(L.get(key, [])) for t, key in _DNS_VALUE_FIELDS.items()}
    budget = [20000]

    def search(pos: int, out: list[int]) -> list[int] | None:
        budget[0] -= 1
        if budget[0] < 0 or len(raw) - pos < total - len(out):
            return None
        if len(out) == total:
            if pos == len(raw) and all(out.count(t) == n for t, n in want.items()):
                return list(out)
            return None
        rtype = raw[pos]
        out.append(rtype)
        found = None
        if rtype in _BITMAP_TYPES:
            end = pos + 1
            while True:
                found = search(end, out)
                if found is not None or end >= len(raw):
                    break
                if end > pos + 1 and raw[end] <= raw[end - 1]:
                    break
                end += 1
        else:
            found = search(pos + 1, out)
        out.pop()
        return found

    found = search(0, [])
    if found is not None:
        return found
    first = next(i for i, t in enumerate(raw) if t in _BITMAP_TYPES)
    return raw[: first + 1]  # records after the first NSEC cannot be placed


def _nb_name(name: str) -> str:
    """A NetBIOS name as tshark shows it ("<00>" for NUL bytes), padding removed."""
    while True:
        stripped = name.rstrip(" \x00")
        if stripped.endswith("<00>"):
            stripped = stripped[:-4]
        if stripped == name:
            return name
        name = stripped


def _nth(L: Layers, key: str, i: int) -> str | None:
    values = L.get(key, [])
    return values[i] if i < len(values) else None


__all__ = ["FIELDS", "FileStats", "TsharkEngine", "tshark_binary"]


def _v6_list(values: list[str]) -> list[str]:
    out = []
    for v in values:
        try:
            out.append(str(ipaddress.IPv6Address(v)))
        except ValueError:
            continue
    return out


def _v6_prefixes(addrs: list[str], lengths: list[str]) -> list[str]:
    """Prefixes as "prefix/len" (bits past the length cleared), pairing the two field lists."""
    out = []
    for addr, plen in zip(addrs, lengths, strict=False):
        try:
            out.append(str(ipaddress.IPv6Network((addr, _int(plen, -1)), strict=False)))
        except ValueError:
            continue
    return out


def _filter_string(text: str) -> str:
    """``text`` as a string literal of a display filter (quotes and backslashes escaped)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _http_body(raw: bytes, cap: int = http_dissector.DEFAULT_BODY_CAP) -> tuple[bytes, bool]:
    """The body of one HTTP message as tshark reassembled it (head and body): framed by
    Content-Length or de-chunked, at most ``cap`` bytes; and whether it is complete."""
    end = raw.find(b"\r\n\r\n")
    if end < 0:
        return b"", False
    head = raw[:end].decode("latin-1").split("\r\n")[1:]
    fields: dict[str, str] = {}
    for line in head:
        name, sep, value = line.partition(":")
        if sep:
            fields.setdefault(name.strip().lower(), value.strip())
    rest = raw[end + 4 :]
    if "chunked" in fields.get("transfer-encoding", "").lower():
        out = bytearray()
        pos = 0
        while pos < len(rest) and len(out) < cap:
            eol = rest.find(b"\r\n", pos)
            if eol < 0:
                return bytes(out[:cap]), False
            size_text = rest[pos:eol].split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                return bytes(out[:cap]), False
            if size == 0:
                return bytes(out[:cap]), len(out) <= cap
            out += rest[eol + 2 : eol + 2 + size]
            if eol + 2 + size > len(rest):
                return bytes(out[:cap]), False
            pos = eol + 2 + size + 2
        return bytes(out[:cap]), False
    try:
        length = int(fields.get("content-length", ""))
    except ValueError:
        return rest[:cap], False
    body = rest[: min(length, cap)]
    return body, len(rest) >= length and length <= cap
