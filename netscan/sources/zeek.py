"""Zeek logs as a source: log records become the same flows and events the engines produce.

A Zeek sensor's log directory (conn, dns, ssl, x509, http, dhcp, files, software,
known_hosts, known_services, ntp, quic; TSV, ``zeek-cut`` or JSON) is read into the
``Inventory`` through its ``Sink`` interface (``on_flow``, ``on_event``), so roles, findings
and every report are shared with the packet path. conn.log records become ``Flow`` objects
(IP-level byte and packet counts each way, first/last seen, the services Zeek recognised);
the protocol logs become ``DnsEvent``, ``DhcpEvent``, ``TlsClientHelloEvent``,
``TlsCertificateEvent``, ``HttpRequestEvent``/``HttpResponseEvent``, ``NtpEvent`` and, for
uploads Zeek extracted (``--zeek-files``), ``HttpBodyEvent`` for the content and face analysis.

Evidence positions: an event's ``Ctx.file`` indexes the list of log files read and its
``Ctx.frame`` is the line number in that log; ``RecordRefs.annotate`` turns these into
``{"file": log, "frame": 0, "line": N, "uid": C...}`` in the JSON report.

Log order matters and is fixed: DHCP first (it ties MACs to addresses), then conn (flows),
x509 before ssl (certificate chains), quic before ssl (one ClientHello per connection).
"""

from __future__ import annotations

import hashlib
import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from netscan.engine import loss
from netscan.engine.tunnels import Sessions
from netscan.events import (
    Ctx,
    DhcpEvent,
    DnsEvent,
    DnsRecord,
    HttpBodyEvent,
    HttpRequestEvent,
    HttpResponseEvent,
    NbnsEvent,
    NtpEvent,
    TlsCertificateEvent,
    TlsClientHelloEvent,
)
from netscan.flow import NO_APP, TCP, UDP, Flow
from netscan.sources.zeekfmt import LogStats, log_kind, read_log
from netscan.util import sha256_file

# the logs read, in the order they are read
ORDER = ("dhcp", "conn", "x509", "dns", "quic", "ssl", "http", "files", "software",
         "known_hosts", "known_services", "ntp")  # fmt: skip
MAX_LOG_FILES = 4096  # files looked at in one directory tree
MAX_UIDS = 2_000_000  # uid -> flow entries
MAX_CERTS = 100_000
MAX_FILE_BYTES = 16 * 1024 * 1024  # an extracted upload examined for faces
MAX_FILES_TOTAL = 256 * 1024 * 1024
_MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
PROTO = {"tcp": TCP, "udp": UDP, "icmp": 1}
SERVICE_APP = {"ssl": "tls", "dtls": "tls"}  # Zeek service names that netscan names otherwise
TLS_VERSIONS = {"SSLv2": 0x0200, "SSLv3": 0x0300, "TLSv10": 0x0301, "TLSv11": 0x0302,
                "TLSv12": 0x0303, "TLSv13": 0x0304, "DTLSv10": 0xFEFF, "DTLSv12": 0xFEFD}  # fmt: skip
UPLOADS = ("POST", "PUT", "PATCH")
DHCP_TYPES = {"DISCOVER": 1, "OFFER": 2, "REQUEST": 3, "DECLINE": 4, "ACK": 5, "NAK": 6,
              "RELEASE": 7, "INFORM": 8}  # fmt: skip

# The columns each log's handler reads (the others are not converted).
_ID = ("ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto")
WANTED: dict[str, frozenset[str]] = {
    "conn": frozenset(_ID + ("service", "duration", "orig_bytes", "resp_bytes", "orig_pkts",
                             "resp_pkts", "orig_ip_bytes", "resp_ip_bytes", "orig_l2_addr",
                             "resp_l2_addr", "ip_proto", "history", "missed_bytes")),
    "dns": frozenset(_ID + ("query", "qtype_name", "rcode", "answers", "TTLs", "opcode")),
    "http": frozenset(_ID + ("method", "host", "uri", "version", "user_agent", "orig_fuids",
                             "orig_mime_types", "request_body_len", "status_code", "status_msg",
                             "resp_mime_types", "response_body_len")),
}  # fmt: skip

# What a log-only analysis cannot judge, stated in every report made from logs.
LIMITS = (
    "burst shapes: conn.log gives one total per connection, so each connection counts as one "
    "upload burst (start, duration, bytes); picture-sized bursts inside a long connection are "
    "not seen",
    "byte counts are Zeek's IP-level bytes (orig_ip_bytes/resp_ip_bytes), not frame lengths",
    "evidence names the log line and the connection uid instead of a frame number; "
    "'netscan evidence' cannot cut frames from logs",
    "discovery protocols Zeek does not log (SSDP, ONVIF WS-Discovery, SADP, DHIP, RTSP "
    "banners, mDNS additional records) give no device facts",
)
LIMIT_NO_FILES = (
    "upload contents: without --zeek-files (Zeek's extracted files) no picture is checked for "
    "faces, so no finding can be 'confirmed'"
)


_IP_CACHE: dict[str, str | None] = {}


def _ip(v: Any) -> str | None:
    """An address as the packet engine writes it (inet_ntop), or None when not one."""
    if not isinstance(v, str) or not v or len(v) > 64:
        return None
    hit = _IP_CACHE.get(v, False)
    if hit is not False:
        return hit  # type: ignore[return-value]
    raw = v.split("%", 1)[0]
    try:
        out: str | None = socket.inet_ntop(socket.AF_INET6, socket.inet_pton(socket.AF_INET6, raw))
    except OSError:
        try:
            out = socket.inet_ntop(socket.AF_INET, socket.inet_pton(socket.AF_INET, raw))
        except OSError:
            out = None
    if len(_IP_CACHE) >= 200_000:
        _IP_CACHE.clear()
    _IP_CACHE[v] = out
    return out


def _mac(v: Any) -> str | None:
    if isinstance(v, str):
        v = v.lower()
        if _MAC.match(v):
            return v
    return None


U64 = (1 << 64) - 1


def _int(v: Any) -> int:
    return v if isinstance(v, int) and not isinstance(v, bool) and v >= 0 else 0


def _ts(rec: dict[str, Any]) -> float:
    """A record's time (JSON logs may give whole seconds as integers); 0 when unparsable."""
    v = rec.get("ts")
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v != v:
        return 0.0
    return float(v)


def _str(v: Any) -> str | None:
    return v if isinstance(v, str) and v else None


def _list(v: Any) -> list[Any]:
    if isinstance(v, list):
        return [x for x in v if x is not None]
    if isinstance(v, str) and v:
        return v.split(",")
    return []


@dataclass
class RecordRefs:
    """Where each piece of evidence came from: (log index, line) -> connection uid."""

    files: list[str]
    uids: dict[tuple[int, int], str] = field(default_factory=dict)
    kinds: list[str] = field(default_factory=list)

    def annotate(self, report: dict[str, Any]) -> None:
        """Rewrite the report's frame positions as log lines and uids (keys only added)."""
        index = {p: i for i, p in enumerate(self.files)}

        def fix(ev: dict[str, Any], frame_key: str = "frame", line_key: str = "line") -> None:
            i = index.get(ev.get("file", ""))
            if i is None:
                return
            line = int(ev.get(frame_key) or 0)
            ev[frame_key] = 0
            if line:
                ev[line_key] = line
                uid = self.uids.get((i, line))
                if uid:
                    ev["uid"] = uid
            ev["log"] = self.kinds[i] if i < len(self.kinds) else ""

        for section in ("devices", "endpoints", "findings"):
            for item in report.get(section, []):
                for ev in item.get("evidence", []):
                    fix(ev)
        for flow in report.get("flows", []):
            fix(flow, "first_frame", "first_line")
        for f in report.get("findings", []):
            for x in f.get("faces", []):
                i = x.get("file_index")
                if isinstance(i, int) and i < len(self.files):
                    x["file"] = self.files[i]
                    for k in ("first_frame", "last_frame"):
                        line = int(x.get(k) or 0)
                        x[k] = 0
                        if line and k == "first_frame":
                            x["line"] = line
                            if (i, line) in self.uids:
                                x["uid"] = self.uids[(i, line)]


@dataclass
class ZeekInput:
    path: str
    kind: str
    sha256: str
    size: int
    stats: LogStats


def find_logs(directory: Path) -> list[Path]:
    """The log files under ``directory`` that netscan reads, in reading order."""
    found: list[tuple[int, str, Path]] = []
    n = 0
    for p in sorted(directory.rglob("*")):
        n += 1
        if n > MAX_LOG_FILES * 8:
            break
        if not p.is_file() or p.is_symlink():
            continue
        name = p.name.lower()
        if not (".log" in name or name.endswith(".json")):
            continue
        kind = log_kind(p)
        if kind in ORDER:
            found.append((ORDER.index(kind), str(p), p))
        if len(found) >= MAX_LOG_FILES:
            break
    return [p for _, _, p in sorted(found)]


class ZeekSource:
    """Feeds a Zeek log directory into a sink (the ``Inventory``)."""

    # the counters the analysis reads of an engine (``Analyzer.conclude``): logs have no
    # flow table to retire from, nor MAC sightings beyond a bound
    flows_retired = 0
    max_flows = 0
    l2_unlisted = 0

    def __init__(self, directory: str | Path, files_dir: str | Path | None = None) -> None:
        self.directory = Path(directory)
        if not self.directory.is_dir():
            raise FileNotFoundError(f"not a Zeek log directory: {directory}")
        self.files_dir = Path(files_dir) if files_dir else None
        self.repeats: dict[str, int] = {}  # logs hold facts, nothing set aside here
        # what Zeek counted missed of the TCP connections (conn.log's missed_bytes): empty
        # when no conn.log gives it; Zeek counts no gaps, nor which way bytes were missed
        self.capture_loss: dict[str, int] = {}
        self.tunnels: dict[str, int] = {}  # Zeek opened its tunnels itself (tunnel.log)
        self.mirrors = Sessions()
        self._missed = [0, 0, 0]  # bytes missed, connections with some, payload captured
        self._missed_given = False
        if self.files_dir is not None and not self.files_dir.is_dir():
            raise FileNotFoundError(f"not a directory of extracted files: {files_dir}")
        self.logs = find_logs(self.directory)
        self.files: list[str] = [str(p) for p in self.logs]
        self.refs = RecordRefs(self.files, kinds=[log_kind(p) for p in self.logs])
        self.inputs: list[ZeekInput] = []
        self.flows: dict[str, Flow] = {}
        self.by_tuple: dict[tuple[str, int, str, int], Flow] = {}
        self.all_flows: list[Flow] = []
        self.ip_mac: dict[str, str] = {}
        self.certs: dict[str, dict[str, Any]] = {}
        self.quic_uids: set[str] = set()
        self.http_by_fuid: dict[str, dict[str, Any]] = {}
        self.http_by_tuple: dict[tuple[str, int, str, int], dict[str, Any]] = {}
        self._digests: dict[str, dict[str, Path]] = {}
        self.records = 0
        self.dissector_errors: dict[str, int] = {}
        self.skipped_files = 0
        self._file_bytes = 0
        self.sink: Any = None
        self.premises: Any = None
        self.warnings: list[str] = []
        self._pending_service: dict[str, Any] = {}  # uid -> service, from a cut conn.log
        self._uploads_todo: list[tuple[int, int, dict[str, Any]]] = []

    # -- helpers -------------------------------------------------------------------------

    def _mac_of(self, ip: str) -> str | None:
        return self.ip_mac.get(ip)

    def _ctx(self, fi: int, line: int, rec: dict[str, Any], from_orig: bool = True) -> Ctx | None:
        o, r = _ip(rec.get("id.orig_h")), _ip(rec.get("id.resp_h"))
        if o is None or r is None:
            return None
        op, rp = _int(rec.get("id.orig_p")), _int(rec.get("id.resp_p"))
        ts = _ts(rec)
        uid = _str(rec.get("uid"))
        flow = self.flows.get(uid) if uid else None
        transport = flow.transport if flow else (_str(rec.get("proto")) or "")
        if uid:
            self.refs.uids[(fi, line)] = uid
        omac = flow.a_mac if flow and flow.a_ip == o else self._mac_of(o)
        rmac = flow.b_mac if flow and flow.b_ip == r else self._mac_of(r)
        if from_orig:
            return Ctx(fi, line, ts, omac, rmac, o, r, op, rp, transport)
        return Ctx(fi, line, ts, rmac, omac, r, o, rp, op, transport)

    def _flow_for(self, fi: int, line: int, rec: dict[str, Any], proto: int) -> Flow | None:
        """The conn.log flow of a record's uid, or a flow made from the record itself when
        conn.log is missing (no byte counts then)."""
        uid = _str(rec.get("uid"))
        if uid and uid in self.flows:
            return self.flows[uid]
        o, r = _ip(rec.get("id.orig_h")), _ip(rec.get("id.resp_h"))
        if o is None or r is None:
            return None
        tkey = (o, _int(rec.get("id.orig_p")), r, _int(rec.get("id.resp_p")))
        if not uid and tkey in self.by_tuple:  # zeek-cut logs without uids
            return self.by_tuple[tkey]
        ts = _ts(rec)
        flow = Flow(fi, proto, o, r, _int(rec.get("id.orig_p")), _int(rec.get("id.resp_p")),
                    self._mac_of(o), self._mac_of(r), ts)  # fmt: skip
        flow.first_frames = [line]
        flow.last_frame = line
        if uid and uid in self._pending_service:
            self._services(flow, {"service": self._pending_service.pop(uid)})
        self._add_flow(flow, uid, fi, line)
        return flow

    def _add_flow(self, flow: Flow, uid: str | None, fi: int, line: int) -> None:
        if len(self.by_tuple) < MAX_UIDS:
            self.by_tuple.setdefault((flow.a_ip, flow.a_port, flow.b_ip, flow.b_port), flow)
        if uid:
            self.refs.uids[(fi, line)] = uid
            if len(self.flows) < MAX_UIDS:
                self.flows[uid] = flow
        self.all_flows.append(flow)
        self.sink.on_flow(flow)

    def _app(self, flow: Flow | None, name: str) -> None:
        if flow is not None and name not in flow.app:
            flow.app = flow.app | {name}

    def _emit(self, ev: Any, flow: Flow | None) -> None:
        try:
            self.sink.on_event(ev, flow)
        except Exception:  # a record that trips the inventory must never stop the run
            name = f"zeek:{ev.kind}"
            self.dissector_errors[name] = self.dissector_errors.get(name, 0) + 1

    # -- the run -------------------------------------------------------------------------

    def run(self, sink: Any, premises: Any = None) -> None:
        self.sink = sink
        self.premises = premises
        for fi, path in enumerate(self.logs):
            stats = LogStats(str(path))
            digest = sha256_file(path)
            kind = log_kind(path)
            handler = getattr(self, "_" + kind, None)
            for line, rec in read_log(path, stats, WANTED.get(kind)):
                self.records += 1
                if handler is None:
                    continue
                try:
                    handler(fi, line, rec)
                except Exception:
                    self.dissector_errors[f"zeek:{kind}"] = (
                        self.dissector_errors.get(f"zeek:{kind}", 0) + 1
                    )
            self.inputs.append(ZeekInput(str(path), stats.kind or kind, digest,
                                         path.stat().st_size, stats))  # fmt: skip
            if stats.dropped() or stats.cut_fields:
                self.warnings.append(
                    f"{path}: {stats.long_lines} overlong and {stats.bad_lines} malformed lines "
                    f"dropped, {stats.cut_fields} values cut"
                )
        self._uploads()
        if self._missed_given:
            missed, conns, payload = self._missed
            self.capture_loss = {"tcp_missed_bytes": missed, "tcp_connections": conns,
                                 "tcp_payload_bytes": payload}  # fmt: skip
            said = loss.zeek_warning(missed, conns, payload)
            if said is not None:
                self.warnings.append(said)

    # -- per log -------------------------------------------------------------------------

    def _dhcp(self, fi: int, line: int, rec: dict[str, Any]) -> None:
        mac = _mac(rec.get("mac"))
        if mac is None:
            return
        types = [str(t).upper() for t in _list(rec.get("msg_types"))]
        ts = _ts(rec)
        uids = _list(rec.get("uids"))
        if uids:
            self.refs.uids[(fi, line)] = str(uids[0])[:64]
        client = _ip(rec.get("client_addr")) or "0.0.0.0"
        server = _ip(rec.get("server_addr"))
        assigned = _ip(rec.get("assigned_addr"))
        if assigned and assigned != "0.0.0.0":
            self.ip_mac.setdefault(assigned, mac)
        if client != "0.0.0.0":
            self.ip_mac.setdefault(client, mac)
        client_types = [t for t in types if t in ("DISCOVER", "REQUEST", "INFORM")]
        if client_types or not types:
            ctx = Ctx(fi, line, ts, mac, None, client, server or "255.255.255.255", 68, 67, "udp")
            self._emit(DhcpEvent(
                ctx=ctx, msg_type=DHCP_TYPES.get(client_types[0], 3) if client_types else 3,
                client_mac=mac, hostname=_str(rec.get("host_name")),
                requested_ip=_ip(rec.get("requested_addr")),
                vendor_class=_str(rec.get("client_software")),
                fqdn=_str(rec.get("client_fqdn")),
            ), None)  # fmt: skip
        if "ACK" in types and assigned:
            ctx = Ctx(fi, line, ts, None, mac, server, assigned, 67, 68, "udp")
            self._emit(DhcpEvent(ctx=ctx, msg_type=5, client_mac=mac, your_ip=assigned), None)

    def _conn(self, fi: int, line: int, rec: dict[str, Any]) -> None:
        o, r = _ip(rec.get("id.orig_h")), _ip(rec.get("id.resp_h"))
        uid = _str(rec.get("uid"))
        if o is None or r is None:
            if uid and uid in self.flows:  # a cut conn.log (uid, service only) still names apps
                self._services(self.flows[uid], rec)
            elif uid and len(self._pending_service) < MAX_UIDS:
                self._pending_service[uid] = rec.get("service")
            return
        proto = PROTO.get(str(rec.get("proto") or ""), _int(rec.get("ip_proto")))
        if not proto:  # a cut conn.log without proto: TCP histories carry handshake letters
            hist = str(rec.get("history") or "")
            proto = TCP if not hist or any(c in hist for c in "SsHhAaFfRr") else UDP
        ts = _ts(rec)
        omac = _mac(rec.get("orig_l2_addr"))
        rmac = _mac(rec.get("resp_l2_addr"))
        if omac and self.premises is not None and self.premises.is_premises(o):
            self.ip_mac.setdefault(o, omac)
        if rmac and self.premises is not None and self.premises.is_premises(r):
            self.ip_mac.setdefault(r, rmac)
        if rmac is None and proto == UDP and r.endswith(".255") and not rec.get("resp_pkts"):
            # a directed broadcast nobody answers: its frames went to ff:ff:ff:ff:ff:ff, and
            # the packet path makes no device of it either
            rmac = "ff:ff:ff:ff:ff:ff"
        flow = Flow(fi, proto, o, r, _int(rec.get("id.orig_p")), _int(rec.get("id.resp_p")),
                    omac or self._mac_of(o), rmac or self._mac_of(r), ts)  # fmt: skip
        flow.first_frames = [line]
        flow.last_frame = line
        dur = rec.get("duration")
        flow.last_ts = ts + dur if isinstance(dur, float) and dur > 0 else ts
        ob, rb = _int(rec.get("orig_bytes")), _int(rec.get("resp_bytes"))
        flow.payload_ab, flow.payload_ba = ob, rb
        if proto == TCP and rec.get("missed_bytes") is not None:
            # Zeek's byte counts come from sequence numbers: what was missed is in them
            # (Zeek's counts are 64-bit: a log's larger numbers are held there, as the sums)
            sent = min(ob + rb, U64)
            missed = min(_int(rec.get("missed_bytes")), sent)
            self._missed_given = True
            m = self._missed
            m[0], m[1], m[2] = (
                min(m[0] + missed, U64),
                m[1] + (missed > 0),
                min(m[2] + sent - missed, U64),
            )
        flow.pkts_ab, flow.pkts_ba = _int(rec.get("orig_pkts")), _int(rec.get("resp_pkts"))
        oib, rib = rec.get("orig_ip_bytes"), rec.get("resp_ip_bytes")
        flow.bytes_ab = _int(oib) if oib is not None else ob
        flow.bytes_ba = _int(rib) if rib is not None else rb
        self._services(flow, rec)
        self._add_flow(flow, uid, fi, line)
        if flow.bursts is not None and flow.bytes_ab and flow.payload_ab:
            # one connection, one burst: the finest grain conn.log gives
            flow.bursts.append([ts, flow.last_ts, float(flow.bytes_ab), float(flow.pkts_ab)])

    def _services(self, flow: Flow, rec: dict[str, Any]) -> None:
        for s in _list(rec.get("service"))[:8]:
            s = str(s).lower().strip()
            if s and len(s) <= 32:
                self._app(flow, SERVICE_APP.get(s, s))

    def _x509(self, fi: int, line: int, rec: dict[str, Any]) -> None:
        key = _str(rec.get("fingerprint")) or _str(rec.get("id"))
        subject = _str(rec.get("certificate.subject"))
        if key is None or subject is None or len(self.certs) >= MAX_CERTS:
            return
        self.certs[key] = {
            "subject": subject,
            "issuer": _str(rec.get("certificate.issuer")) or "",
            "san": [str(s) for s in _list(rec.get("san.dns"))[:100]],
            "line": (fi, line),
        }

    def _dns(self, fi: int, line: int, rec: dict[str, Any]) -> None:
        ctx = self._ctx(fi, line, rec)
        if ctx is None:
            return
        proto = str(rec.get("proto") or "udp")
        flow = self._flow_for(fi, line, rec, TCP if proto == "tcp" else UDP)
        query = _str(rec.get("query")) or ""
        ports = (ctx.sport, ctx.dport)
        if 137 in ports:
            self._app(flow, "nbns")
            op = _int(rec.get("opcode"))
            self._emit(NbnsEvent(ctx=ctx, is_response=False, opcode=op, name=query.upper()), flow)
            return
        kind = "mdns" if 5353 in ports else "llmnr" if 5355 in ports else "dns"
        self._app(flow, kind)
        qtype = _str(rec.get("qtype_name")) or ""
        answers = [str(a) for a in _list(rec.get("answers"))]
        ttls = [t for t in _list(rec.get("TTLs")) if isinstance(t, float)]
        if qtype and query:
            self._emit(DnsEvent(ctx=ctx, proto=kind, queries=[(query, qtype)]), flow)
        if rec.get("rcode") is None and not answers:
            return
        rctx = self._ctx(fi, line, rec, from_orig=False)
        if rctx is None:
            return
        records = _answers(query, qtype, answers, ttls)
        if kind == "mdns" and not qtype:
            # an mDNS announcement: Zeek logs the first answer's name as the query, so the
            # sender is the origin of the record
            rctx = ctx
        self._emit(DnsEvent(ctx=rctx, proto=kind, is_response=True, rcode=_int(rec.get("rcode")),
                            queries=[(query, qtype or "ANY")] if query else [],
                            answers=records), flow)  # fmt: skip

    def _quic(self, fi: int, line: int, rec: dict[str, Any]) -> None:
        ctx = self._ctx(fi, line, rec)
        if ctx is None:
            return
        flow = self._flow_for(fi, line, rec, UDP)
        self._app(flow, "quic")
        uid = _str(rec.get("uid"))
        if uid:
            self.quic_uids.add(uid)
        alpn = [str(p) for p in _list(rec.get("client_protocol"))[:8]]
        self._emit(TlsClientHelloEvent(ctx=ctx, sni=_str(rec.get("server_name")), alpn=alpn,
                                       quic=True), flow)  # fmt: skip

    def _ssl(self, fi: int, line: int, rec: dict[str, Any]) -> None:
        ctx = self._ctx(fi, line, rec)
        if ctx is None:
            return
        uid = _str(rec.get("uid"))
        quic = uid in self.quic_uids if uid else False
        flow = self._flow_for(fi, line, rec, UDP if quic else TCP)
        self._app(flow, "tls")
        if not quic:
            ver = TLS_VERSIONS.get(str(rec.get("version") or ""))
            nxt = _str(rec.get("next_protocol"))
            self._emit(TlsClientHelloEvent(
                ctx=ctx, sni=_str(rec.get("server_name")), alpn=[nxt] if nxt else [],
                versions=[ver] if ver else [], ja3=_str(rec.get("ja3")) or "",
                ja4=_str(rec.get("ja4")) or "",
            ), flow)  # fmt: skip
        rctx = self._ctx(fi, line, rec, from_orig=False)
        if rctx is None:
            return
        chain = _list(rec.get("cert_chain_fps")) or _list(rec.get("cert_chain_fuids"))
        if not chain and _str(rec.get("subject")):  # Zeek before 4.x: subject in ssl.log
            self._emit(TlsCertificateEvent(ctx=rctx, subject=str(rec["subject"]),
                                           issuer=_str(rec.get("issuer")) or ""), flow)  # fmt: skip
        for fp in chain[:1]:  # the server's own certificate heads the chain
            cert = self.certs.get(str(fp))
            if cert is not None:
                self._emit(TlsCertificateEvent(ctx=rctx, subject=cert["subject"],
                                               issuer=cert["issuer"], san=cert["san"]), flow)  # fmt: skip

    def _http(self, fi: int, line: int, rec: dict[str, Any]) -> None:
        ctx = self._ctx(fi, line, rec)
        if ctx is None:
            return
        flow = self._flow_for(fi, line, rec, TCP)
        self._app(flow, "http")
        method = _str(rec.get("method")) or ""
        uri = _str(rec.get("uri")) or ""
        host = _str(rec.get("host"))
        mimes = [str(m) for m in _list(rec.get("orig_mime_types"))]
        req = HttpRequestEvent(
            ctx=ctx, method=method, path=uri, version=_str(rec.get("version")) or "",
            host=host, user_agent=_str(rec.get("user_agent")),
            content_type=mimes[0] if mimes else None,
            content_length=_int(rec.get("request_body_len")) or None,
        )  # fmt: skip
        if method or host or req.user_agent:
            self._emit(req, flow)
        tkey = (ctx.src_ip or "", ctx.sport, ctx.dst_ip or "", ctx.dport)
        if method and len(self.http_by_tuple) < MAX_UIDS:
            self.http_by_tuple[tkey] = {"method": method, "path": uri, "host": host, "ctx": ctx,
                                        "flow": flow}  # fmt: skip
        for fuid in _list(rec.get("orig_fuids"))[:64]:
            if len(self.http_by_fuid) < MAX_UIDS:
                self.http_by_fuid[str(fuid)] = {"method": method, "path": uri, "host": host,
                                                "ctx": ctx, "flow": flow}  # fmt: skip
        status = rec.get("status_code")
        if isinstance(status, int):
            rctx = self._ctx(fi, line, rec, from_orig=False)
            if rctx is not None:
                rmimes = [str(m) for m in _list(rec.get("resp_mime_types"))]
                self._emit(HttpResponseEvent(
                    ctx=rctx, status=status, reason=_str(rec.get("status_msg")) or "",
                    version=_str(rec.get("version")) or "",
                    content_type=rmimes[0] if rmimes else None,
                    content_length=_int(rec.get("response_body_len")) or None,
                ), flow)  # fmt: skip

    def _files(self, fi: int, line: int, rec: dict[str, Any]) -> None:
        if len(self._uploads_todo) < 100_000:
            self._uploads_todo.append((fi, line, rec))

    def _software(self, fi: int, line: int, rec: dict[str, Any]) -> None:
        host = _ip(rec.get("host"))
        if host is None:
            return
        typ = str(rec.get("software_type") or "")
        text = _str(rec.get("unparsed_version")) or _str(rec.get("name"))
        if not text:
            return
        ts = _ts(rec)
        port = _int(rec.get("host_p"))
        mac = self._mac_of(host)
        if self.premises is not None and self.premises.is_offsite(host):
            self.sink.endpoint(host)
        if typ.endswith("::SERVER") and typ.startswith("HTTP"):
            ctx = Ctx(fi, line, ts, mac, None, host, None, port or 80, 0, "tcp")
            self._emit(HttpResponseEvent(ctx=ctx, server=text), None)
        elif typ == "HTTP::BROWSER":
            ctx = Ctx(fi, line, ts, mac, None, host, None, 0, port or 80, "tcp")
            self._emit(HttpRequestEvent(ctx=ctx, user_agent=text), None)

    def _known_hosts(self, fi: int, line: int, rec: dict[str, Any]) -> None:
        host = _ip(rec.get("host"))
        if host is None or self.premises is None:
            return
        ts = _ts(rec)
        if self.premises.is_offsite(host):
            self.sink.endpoint(host)
        elif self.premises.is_premises(host):
            dev = self.sink.device_for(self._mac_of(host), host, fi, line, ts)
            if dev is not None:
                dev.add_ip(host, ts)

    def _known_services(self, fi: int, line: int, rec: dict[str, Any]) -> None:
        host = _ip(rec.get("host"))
        if host is None or self.premises is None or not self.premises.is_premises(host):
            return
        ts = _ts(rec)
        dev = self.sink.device_for(self._mac_of(host), host, fi, line, ts)
        if dev is None:
            return
        dev.add_ip(host, ts)
        proto = str(rec.get("port_proto") or "tcp")[:8]
        names = [str(s).lower()[:32] for s in _list(rec.get("service"))[:4]]
        svc = dev.service(f"{proto}/{_int(rec.get('port_num'))}",
                          {"protocol": names[0] if names else "unknown",
                           "frame": line, "file": fi})  # fmt: skip
        if svc is not None:
            svc.setdefault("zeek_services", sorted(set(names)))

    def _ntp(self, fi: int, line: int, rec: dict[str, Any]) -> None:
        ctx = self._ctx(fi, line, rec)
        if ctx is None:
            return
        flow = self._flow_for(fi, line, rec, UDP)
        self._app(flow, "ntp")
        self._emit(NtpEvent(ctx=ctx, version=_int(rec.get("version")), mode=_int(rec.get("mode")),
                            stratum=_int(rec.get("stratum"))), flow)  # fmt: skip

    # -- extracted uploads -----------------------------------------------------------------

    def _extracted(self) -> dict[str, Path]:
        """fuid -> extracted file (Zeek names them extract-<ts>-<source>-<fuid>)."""
        out: dict[str, Path] = {}
        if self.files_dir is None:
            return out
        for n, p in enumerate(sorted(self.files_dir.rglob("*"))):
            if n >= 200_000:
                break
            if p.is_file() and not p.is_symlink():
                fuid = p.name.rsplit("-", 1)[-1].split(".", 1)[0]
                if fuid and len(fuid) <= 32:
                    out.setdefault(fuid, p)
                out.setdefault(p.name, p)
        return out

    def _by_digest(self, rec: dict[str, Any]) -> Path | None:
        """An extracted file named otherwise, found by the hash files.log gives (sha256, sha1,
        md5); files are hashed once, within a count and byte budget."""
        for algo in ("sha256", "sha1", "md5"):
            want = _str(rec.get(algo))
            if want is None or self.files_dir is None:
                continue
            index = self._digests.get(algo)
            if index is None:
                index = self._digests[algo] = {}
                budget = MAX_FILES_TOTAL
                for n, p in enumerate(sorted(self.files_dir.rglob("*"))):
                    if n >= 10_000 or budget <= 0:
                        break
                    if p.is_file() and not p.is_symlink() and p.stat().st_size <= MAX_FILE_BYTES:
                        data = p.read_bytes()
                        budget -= len(data)
                        index.setdefault(hashlib.new(algo, data).hexdigest(), p)
            hit = index.get(want.lower())
            if hit is not None:
                return hit
        return None

    def _uploads(self) -> None:
        todo = self._uploads_todo
        if self.files_dir is None:
            return
        extracted = self._extracted()
        for fi, line, rec in todo:
            fuid = _str(rec.get("fuid")) or ""
            name = _str(rec.get("extracted"))
            path = extracted.get(Path(name).name) if name else None
            path = path or extracted.get(fuid) or self._by_digest(rec)
            if path is None:
                continue
            http = self.http_by_fuid.get(fuid)
            is_orig = rec.get("is_orig")
            if http is None:  # zeek-cut logs without fuids: the request on the same connection
                o, r = _ip(rec.get("id.orig_h")), _ip(rec.get("id.resp_h"))
                key = (o, _int(rec.get("id.orig_p")), r, _int(rec.get("id.resp_p")))
                http = self.http_by_tuple.get(key) if o and r else None
                if is_orig is None and http is not None:
                    if http["method"] not in UPLOADS or http.get("body_taken"):
                        # the file of a GET is a download; after a request's one body, the
                        # next file on the connection is the response's (Zeek logs in order)
                        continue
                    http["body_taken"] = True
            if is_orig is False or (is_orig is None and http is None):
                continue  # downloads are not uploads
            uids = _list(rec.get("uid")) or _list(rec.get("conn_uids"))
            uid = str(uids[0]) if uids else None
            flow = self.flows.get(uid) if uid else None
            if http is not None:
                ctx = http["ctx"]
                flow = flow or http["flow"]
            elif flow is not None:
                ts = _ts(rec) or flow.first_ts
                ctx = flow.ctx(line, ts, True)
                ctx.file = fi
            else:
                rctx = self._ctx(fi, line, rec)
                if rctx is None:
                    continue
                ctx = rctx
            ctx = Ctx(fi, line, ctx.ts, ctx.src_mac, ctx.dst_mac, ctx.src_ip, ctx.dst_ip,
                      ctx.sport, ctx.dport, ctx.transport)  # fmt: skip
            if uid:
                self.refs.uids[(fi, line)] = uid
            size = path.stat().st_size
            if self._file_bytes + min(size, MAX_FILE_BYTES) > MAX_FILES_TOTAL:
                self.skipped_files += 1
                continue
            with path.open("rb") as fh:
                body = fh.read(MAX_FILE_BYTES)
            self._file_bytes += len(body)
            complete = size <= MAX_FILE_BYTES and not _int(rec.get("missing_bytes"))
            self._emit(HttpBodyEvent(
                ctx=ctx, method=http["method"] if http else "", path=http["path"] if http else "",
                host=http["host"] if http else None, content_type=_str(rec.get("mime_type")),
                body=body, complete=complete, first_frame=line, last_frame=line,
            ), flow)  # fmt: skip
        if self.skipped_files:
            self.warnings.append(
                f"{self.skipped_files} extracted files beyond the {MAX_FILES_TOTAL >> 20} MiB "
                "budget were not examined"
            )

    def flows_iter(self) -> Iterator[Flow]:
        return iter(self.all_flows)


def _answers(query: str, qtype: str, answers: list[str], ttls: list[float]) -> list[DnsRecord]:
    """DNS answer records from Zeek's answer values (which carry no owner names or types):
    addresses are A/AAAA records of the last name in the chain, names before them CNAMEs."""
    out: list[DnsRecord] = []
    owner = query
    for i, value in enumerate(answers[:64]):
        ttl = int(ttls[i]) if i < len(ttls) else 0
        ip = _ip(value)
        if ip is not None:
            out.append(DnsRecord(name=owner, rtype="AAAA" if ":" in ip else "A", value=ip, ttl=ttl))
        elif value.startswith("TXT "):
            out.append(DnsRecord(name=query, rtype="TXT", value=value[4:], ttl=ttl))
        elif qtype in ("PTR", "SRV", "TXT", "MX", "NS"):
            out.append(DnsRecord(name=query, rtype=qtype, value=value, ttl=ttl))
        elif not qtype and ("._tcp." in query or "._udp." in query):
            out.append(DnsRecord(name=query, rtype="SRV", value=f"0 0 0 {value}", ttl=ttl))
        elif not qtype:
            out.append(DnsRecord(name=query, rtype="PTR", value=value, ttl=ttl))
        else:
            out.append(DnsRecord(name=owner, rtype="CNAME", value=value, ttl=ttl))
            owner = value
    return out


__all__ = ["LIMITS", "LIMIT_NO_FILES", "NO_APP", "RecordRefs", "ZeekSource", "find_logs"]


def analyze_zeek(analyzer: Any, directory: str | Path, files_dir: str | Path | None = None) -> Any:
    """One analysis over a Zeek log directory with an ``Analyzer``'s premises, signatures and
    options: the same ``Result`` a capture gives, with log lines for frames."""
    from netscan.analyze import InputInfo, relaxed_gc
    from netscan.inventory.inventory import Inventory

    src = ZeekSource(directory, files_dir)
    if not src.logs:
        raise FileNotFoundError(f"no Zeek logs netscan reads in {directory}")
    with relaxed_gc():
        inventory = Inventory(analyzer.premises, analyzer.matcher, files=src.files)
        src.run(inventory, analyzer.premises)
        infos: list[InputInfo] = []
        for zi in src.inputs:
            st = zi.stats
            info = InputInfo(path=zi.path, sha256=zi.sha256, size=zi.size, packets=0,
                             format=f"zeek-{st.format or 'tsv'}:{zi.kind}")  # fmt: skip
            if st.dropped() or st.cut_fields or st.bad_values:
                info.warnings.append(
                    f"{st.records} records; dropped {st.long_lines} overlong and "
                    f"{st.bad_lines} malformed lines; {st.cut_fields} values cut; "
                    f"{st.bad_values} unparsable values"
                )
            infos.append(info)
        warnings = list(src.warnings)
        result = analyzer.conclude(inventory, src, infos, warnings, "zeek", 0, set())
    result.record_refs = src.refs
    limits = list(LIMITS)
    if files_dir is None:
        limits.append(LIMIT_NO_FILES)
    result.limits = limits
    result.zeek_records = src.records  # type: ignore[attr-defined]
    return result
