"""What the TUI shows, as plain data copied out of an analysis step.

The analysis runs in a worker thread and keeps mutating its inventory; the UI thread only
ever reads ``Snapshot`` objects, which are built in the worker while the analysis is
suspended between batches and never change afterwards.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from netscan.analysis.finding import Destination, Finding
from netscan.analyze import Result
from netscan.engine import loss
from netscan.i18n import size
from netscan.inventory.model import LOCAL_SINK_ROLES, Conversation
from netscan.untrusted import display
from netscan.util import parse_iso

HUB_ROLES = LOCAL_SINK_ROLES  # recorders and edge boxes: the hubs of the graph


@dataclass(frozen=True, slots=True)
class EndpointInfo:
    ip: str
    names: tuple[str, ...]
    country: str | None
    asn: int | None
    org: str | None
    provider: str | None
    category: str | None

    @property
    def label(self) -> str:
        return self.provider or (self.names[0] if self.names else "") or self.org or self.ip


@dataclass(frozen=True, slots=True)
class EvidenceItem:
    file: str
    frame: int
    what: str  # English
    part: dict[str, Any] | None = None  # how it was made, to translate (reasons.py)


@dataclass(slots=True)
class DeviceView:
    key: str
    mac: str | None
    ips: list[str]
    vendor: str
    model: str
    hostnames: list[str]
    role: str
    confidence: float
    reasons: list[str]
    evidence: list[EvidenceItem]
    services: dict[str, str]
    announcements: int
    user_agents: list[str]
    first_ts: float
    last_ts: float
    conversations: list[Conversation] = field(default_factory=list)
    level: str = ""  # the most serious finding's level, "" without findings
    findings: int = 0
    bytes_offsite: int = 0
    search: str = ""
    reason_parts: list[dict[str, Any]] = field(default_factory=list)  # of reasons ({} if none)

    @property
    def name(self) -> str:
        return self.model or (self.hostnames[0] if self.hostnames else "")

    @property
    def ip(self) -> str:
        return self.ips[0] if self.ips else ""

    @property
    def label(self) -> str:
        return self.mac or self.key

    @property
    def verdict(self) -> str:
        if self.level:
            return self.level
        return "off-site" if self.bytes_offsite else "local"


@dataclass(slots=True)
class Snapshot:
    """One state of the analysis, for display."""

    source: str
    packets: int
    drops: int | None
    done_bytes: int
    total_bytes: int
    final: bool
    pack: dict[str, Any]
    premises: list[str]
    country: str | None
    devices: dict[str, DeviceView]
    endpoints: dict[str, EndpointInfo]
    findings: list[Finding]
    warnings: list[str]
    capture_first: float | None
    capture_last: float | None
    built_at: float = field(default_factory=time.monotonic)
    result: Result | None = None  # only on the final snapshot of a file analysis
    # frames that came through a remote mirror's encapsulations (``Result.tunnels``)
    mirrored: int = 0

    @property
    def flows(self) -> int:
        return sum(len(d.conversations) for d in self.devices.values())

    def offsite(self, conv: Conversation) -> EndpointInfo | None:
        return self.endpoints.get(conv.peer_ip) if conv.peer_device is None else None


def _files(result: Result) -> list[str]:
    return [i.path for i in result.inputs]


def finding_rank(f: Finding) -> tuple[int, int]:
    return (f.level.rank, f.bytes_up)


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Most serious first: level, then bytes sent."""
    return sorted(findings, key=finding_rank, reverse=True)


def build_snapshot(
    result: Result,
    *,
    source: str,
    done_bytes: int = 0,
    total_bytes: int = 0,
    final: bool = True,
    drops: int | None = None,
    keep_result: bool = False,
) -> Snapshot:
    """Copy what the UI needs out of ``result`` (call while the analysis is suspended)."""
    if drops is None:  # not capturing: what the capture files' own statistics record
        recorded = [i.statistics for i in result.inputs if i.statistics]
        if recorded:
            drops = sum(loss.dropped(s) for s in recorded)
    inv = result.inventory
    files = _files(result)
    endpoints = {
        ip: EndpointInfo(
            ip=ip,
            names=tuple(sorted(ep.names)),
            country=ep.country,
            asn=ep.asn,
            org=ep.org,
            provider=ep.provider,
            category=ep.category,
        )
        for ip, ep in list(inv.endpoints.items())
    }
    by_device: dict[str, list[Conversation]] = {}
    for conv in result.conversations:
        by_device.setdefault(conv.device, []).append(conv)
    findings = sort_findings(copy.deepcopy(result.findings))
    level_of: dict[str, tuple[int, str, int]] = {}
    for f in findings:
        mac = f.device_mac or ""
        rank = f.level.rank
        old = level_of.get(mac, (0, "", 0))
        level_of[mac] = (
            max(old[0], rank),
            old[1] if old[0] >= rank else f.level.value,
            old[2] + 1,
        )
    first: float | None = None
    last: float | None = None
    devices: dict[str, DeviceView] = {}
    for key, dev in list(inv.devices.items()):
        convs = by_device.get(key, [])
        offsite = sum(c.bytes_up for c in convs if c.peer_device is None and c.peer_ip in endpoints)
        lv = level_of.get(dev.mac or key, (0, "", 0))
        services = {
            k: " ".join(f"{a}={b}" for a, b in v.items() if a not in ("frame", "file"))
            for k, v in list(dev.services.items())
        }
        view = DeviceView(
            key=key,
            mac=dev.mac,
            ips=sorted(dev.ips, key=lambda ip: (":" in ip, ip)),
            vendor=dev.vendor or "",
            model=dev.model or "",
            hostnames=sorted(dev.hostnames),
            role=dev.role,
            confidence=dev.role_confidence,
            reasons=list(dev.role_reasons),
            reason_parts=list(dev.role_reason_parts),
            evidence=[
                EvidenceItem(files[e.file] if e.file < len(files) else "", e.frame, e.what, e.part)
                for e in list(dev.evidence)
            ],
            services=services,
            announcements=len(dev.announcements),
            user_agents=sorted(dev.user_agents),
            first_ts=dev.first_ts,
            last_ts=dev.last_ts,
            conversations=convs,
            level=lv[1],
            findings=lv[2],
            bytes_offsite=offsite,
        )
        view.search = " ".join(
            [key, view.vendor, view.model, view.role, view.level, *view.ips, *view.hostnames]
        ).lower()
        devices[key] = view
        first = dev.first_ts if first is None else min(first, dev.first_ts)
        last = dev.last_ts if last is None else max(last, dev.last_ts)
    for conv in result.conversations:
        if last is None or conv.last_ts > last:
            last = conv.last_ts
    return Snapshot(
        source=source,
        packets=result.packets,
        drops=drops,
        done_bytes=done_bytes,
        total_bytes=total_bytes,
        final=final,
        pack=dict(result.pack),
        premises=list(inv.premises.cidrs),
        country=result.options.country,
        devices=devices,
        endpoints=endpoints,
        findings=findings,
        warnings=list(result.warnings),
        capture_first=first,
        capture_last=last,
        result=result if keep_result else None,
        mirrored=sum(result.tunnels.values()),
    )


# -- walk-test marks -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Mark:
    """A moment the auditor marked: wall-clock time and the capture's clock at that moment."""

    number: int
    wall: float
    capture_ts: float
    note: str = ""


@dataclass(frozen=True, slots=True)
class Burst:
    start: float
    end: float
    bytes: float
    destination: str = ""


@dataclass(frozen=True, slots=True)
class MarkHit:
    mark: Mark
    bursts: tuple[Burst, ...]

    @property
    def bytes(self) -> float:
        return sum(b.bytes for b in self.bursts)

    @property
    def delay(self) -> float | None:
        return min(b.start for b in self.bursts) - self.mark.capture_ts if self.bursts else None


def parse_bursts(raw: Any, destination: str = "") -> list[Burst]:
    """Upload bursts from a conversation (``[start, end, bytes, packets]``) or a finding
    (lists like that, or dicts with ``start``/``ts``, ``end`` and ``bytes``)."""
    out: list[Burst] = []
    for b in raw or ():
        try:
            if isinstance(b, dict):
                start = float(b.get("start", b.get("ts", b.get("first_ts", 0.0))))
                end = float(b.get("end", b.get("last_ts", start)))
                size = float(b.get("bytes", b.get("bytes_up", 0.0)))
            else:
                start = float(b[0])
                end = float(b[1]) if len(b) > 2 else start
                size = float(b[2]) if len(b) > 2 else float(b[1])
        except (TypeError, ValueError, IndexError, KeyError):
            continue
        out.append(Burst(start, end, size, destination))
    return out


def device_bursts(view: DeviceView, snapshot: Snapshot) -> list[Burst]:
    """Upload bursts of a device towards off-site destinations."""
    out: list[Burst] = []
    for conv in view.conversations:
        ep = snapshot.offsite(conv)
        if ep is None:
            continue
        out.extend(parse_bursts(conv.bursts, ep.label))
    out.sort(key=lambda b: b.start)
    return out


def uploads_after_marks(marks: Iterable[Mark], bursts: list[Burst], window: float) -> list[MarkHit]:
    """For every mark, the upload bursts starting within ``window`` seconds after it."""
    return [
        MarkHit(m, tuple(b for b in bursts if 0.0 <= b.start - m.capture_ts <= window))
        for m in marks
    ]


def marks_verdict(hits: list[MarkHit], window: float) -> str:
    """One sentence: did uploads follow the marks?"""
    if not hits:
        return "No marks yet (press m during a walk test)."
    followed = [h for h in hits if h.bursts]
    if not followed:
        return f"No upload burst within {window:.0f} s after any of the {len(hits)} mark(s)."
    delays = ", ".join(f"#{h.mark.number} +{h.delay:.1f}s" for h in followed if h.delay is not None)
    return (
        f"Uploads followed {len(followed)} of {len(hits)} mark(s) within {window:.0f} s ({delays})."
    )


def walk_verdict(marks: Iterable[Mark], bursts: list[Burst], window: float,
                 span: tuple[float | None, float | None], truncated: bool = False) -> str:  # fmt: skip
    """One sentence judging the marks against the device's base rate: uploads in the windows
    after marks against equally long windows without marks (``netscan.analysis.walktest``)."""
    from netscan.analysis.walktest import judge

    marks = list(marks)
    lo, hi = span
    if lo is None or hi is None:
        times = [b.start for b in bursts] + [m.capture_ts for m in marks]
        lo, hi = (min(times), max(times)) if times else (0.0, 0.0)
    return judge([(m.number, m.capture_ts) for m in marks], [(b.start, b.bytes) for b in bursts],
                 window, (lo, hi), truncated=truncated).text()  # fmt: skip


# -- graph ---------------------------------------------------------------------------------


@dataclass(slots=True)
class GraphNode:
    label: str
    kind: str  # "hub", "device", "provider", "note"
    face: bool = False
    children: list[GraphNode] = field(default_factory=list)


def _provider_nodes(view: DeviceView, snap: Snapshot, face_dests: set[str]) -> list[GraphNode]:
    agg: dict[str, list[Any]] = {}
    for conv in view.conversations:
        ep = snap.offsite(conv)
        if ep is None:
            continue
        slot = agg.setdefault(ep.label, [0, set(), False, ep.category])
        slot[0] += conv.bytes_up
        if ep.country:
            slot[1].add(ep.country)
        if conv.peer_ip in face_dests or ep.category == "face-cloud":
            slot[2] = True
    nodes = []
    for label, (up, countries, face, category) in sorted(agg.items(), key=lambda kv: -kv[1][0]):
        where = "/".join(sorted(countries)) or "?"
        cat = f" {category}" if category else ""
        nodes.append(GraphNode(f"→ {label} [{where}]{cat} ↑{human_bytes(up)}", "provider", face))
    return nodes


def build_graph(snap: Snapshot, limit: int = 400) -> GraphNode:
    """Devices → local hubs → off-site providers, as a tree."""
    devices = snap.devices
    face_dests: dict[str, set[str]] = {}
    for f in snap.findings:
        ip = f.destination.ip or ""
        face_dests.setdefault(f.device_mac or "", set()).add(ip)
    feeders: dict[str, dict[str, int]] = {}  # hub -> device -> bytes
    gateways: dict[str, set[str]] = {}  # gateway device -> devices using it off-site
    for key, view in devices.items():
        for conv in view.conversations:
            peer = devices.get(conv.peer_device or "")
            if peer is not None and peer.role in HUB_ROLES and conv.bytes_up:
                sent = feeders.setdefault(peer.key, {})
                sent[key] = sent.get(key, 0) + conv.bytes_up
            elif snap.offsite(conv) is not None:
                gw = conv.peer_mac if conv.peer_mac in devices else "(no gateway seen)"
                gateways.setdefault(gw, set()).add(key)

    def device_node(key: str, depth: int) -> GraphNode:
        view = devices[key]
        faces = face_dests.get(view.mac or key, set())
        providers = _provider_nodes(view, snap, faces)
        face = any(p.face for p in providers)
        node = GraphNode(
            f"{view.role} {view.label} {view.name or view.vendor[:20]}".rstrip(),
            "hub" if key in feeders else "device",
            face,
        )
        if depth < 2:
            for fk, up in sorted(feeders.get(key, {}).items(), key=lambda kv: -kv[1]):
                child = device_node(fk, depth + 1)
                child.label = f"{child.label} ↑{human_bytes(up)}"
                node.children.append(child)
                node.face = node.face or child.face
        node.children.extend(providers)
        return node

    root = GraphNode(f"premises {', '.join(snap.premises[:3])}", "hub")
    shown = 0
    placed: set[str] = set()
    for gw in sorted(gateways, key=lambda g: (g.startswith("("), g)):
        gv = devices.get(gw)
        gw_label = f"gateway {gv.label} {gv.vendor[:20]}" if gv else f"gateway {gw}"
        gnode = GraphNode(gw_label.rstrip(), "hub")
        users = sorted(gateways[gw], key=lambda k: -devices[k].bytes_offsite)
        for key in users:
            if shown >= limit:
                gnode.children.append(GraphNode(f"… {len(users) - shown} more", "note"))
                break
            child = device_node(key, 0)
            gnode.children.append(child)
            gnode.face = gnode.face or child.face
            placed.add(key)
            shown += 1
        root.children.append(gnode)
    for hub in sorted(feeders):
        if hub not in placed and hub in devices and shown < limit:
            root.children.append(device_node(hub, 0))
            shown += 1
    if not root.children:
        root.children.append(GraphNode("no traffic between devices and off-site yet", "note"))
    return root


def graph_text(node: GraphNode, prefix: str = "", last: bool = True, top: bool = True) -> str:
    """The tree as plain text (for export and tests)."""
    mark = " [FACE]" if node.face else ""
    label = display(node.label, 200)
    line = label + mark if top else f"{prefix}{'└─ ' if last else '├─ '}{label}{mark}"
    lines = [line]
    child_prefix = "" if top else prefix + ("   " if last else "│  ")
    for i, child in enumerate(node.children):
        lines.append(graph_text(child, child_prefix, i == len(node.children) - 1, False))
    return "\n".join(lines)


# -- formatting ----------------------------------------------------------------------------


human_bytes = size  # a byte count in decimal units, the number written the locale's way


def clock(ts: float | None) -> str:
    if ts is None:
        return "—"
    try:
        return time.strftime("%H:%M:%S", time.gmtime(ts))
    except (ValueError, OverflowError, OSError):  # a capture's clock out of range
        return "?"


def stamp(ts: float | None) -> str:
    if ts is None:
        return "—"
    try:
        return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts)) + "Z"
    except (ValueError, OverflowError, OSError):  # a capture's clock out of range
        return "?"


def finding_path(f: Finding) -> str:
    """The path of a finding as one safe line (labels come from the network)."""
    return " → ".join(display(p.get("label") or p.get("mac") or p.get("ip") or p) for p in f.path)


def destination_label(d: Destination) -> str:
    return str(d.provider or (d.names[0] if d.names else "") or d.ip or "?")


def to_ts(value: Any) -> float | None:
    """A timestamp from a float or an ISO 8601 string (findings may carry either)."""
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)):
        return float(value)
    return parse_iso(value)


def finding_bursts(f: Finding) -> list[Burst]:
    bursts = parse_bursts(f.bursts, destination_label(f.destination))
    if not bursts and isinstance(f.bursts, list):
        # bursts given as ISO timestamps in dicts
        for b in f.bursts:
            if isinstance(b, dict):
                start = to_ts(b.get("start") or b.get("ts") or b.get("first_ts"))
                if start is not None:
                    end = to_ts(b.get("end") or b.get("last_ts")) or start
                    bursts.append(Burst(start, end, float(b.get("bytes", 0) or 0)))
    bursts.sort(key=lambda b: b.start)
    return bursts


def series(bursts: list[Burst], start: float, end: float, buckets: int) -> list[float]:
    """Bytes per time bucket between ``start`` and ``end``."""
    out = [0.0] * max(buckets, 1)
    span = max(end - start, 1e-9)
    for b in bursts:
        i = int((b.start - start) / span * len(out))
        out[min(max(i, 0), len(out) - 1)] += b.bytes
    return out
