"""Inventory records: devices on the premises, off-site endpoints, aggregated conversations."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from netscan.flow import BurstList
from netscan.limits import INVENTORY_MAX_EVIDENCE


class Role(StrEnum):
    """The one role vocabulary: a device's role in the report. The pack's role rules
    (``signatures/role/``) and device signatures name these words (the pack validator refuses
    others); code names them through this enum, never as strings of its own."""

    CAMERA = "camera"
    NVR = "nvr"
    FACE_TERMINAL = "face-terminal"
    DOORBELL = "doorbell"
    EDGE_SERVER = "edge-server"
    COMPUTER = "computer"
    PHONE = "phone"
    PRINTER = "printer"
    ROUTER = "router"
    IOT = "iot"
    UNKNOWN = "unknown"  # last: no evidence (a role rule never claims it)


ROLES: tuple[str, ...] = tuple(r.value for r in Role)
# The families the analysis, the reports and the fleet view use, so no module spells them again.
CAMERA_FAMILY: tuple[str, ...] = (
    Role.CAMERA,
    Role.NVR,
    Role.FACE_TERMINAL,
    Role.DOORBELL,
    Role.EDGE_SERVER,
)
FEEDER_ROLES: tuple[str, ...] = (Role.CAMERA, Role.NVR, Role.FACE_TERMINAL, Role.DOORBELL)
# devices that receive the premises' streams and keep or process them on site (a camera that
# streams only to one of these keeps its media on the premises)
LOCAL_SINK_ROLES: tuple[str, ...] = (Role.NVR, Role.EDGE_SERVER)
# Roles only a signature may claim, and the report role each supports: "video-device" backs
# whichever camera-family role other evidence picks (a camera when nothing else does);
# access-control readers and radio modules are "iot"; "vendor-only" names the maker only.
GENERIC_VIDEO = "video-device"
MODULE_ROLE = "module"  # a radio or network module: says who made the module, not the device
SIGNATURE_ONLY_ROLES: dict[str, str | None] = {
    GENERIC_VIDEO: Role.CAMERA,
    "access-control": Role.IOT,
    MODULE_ROLE: Role.IOT,
    "vendor-only": None,
}
# signature roles that say "this is a video device" (camera, recorder, terminal or generic)
VIDEO_SIGNATURE_ROLES: tuple[str, ...] = (*FEEDER_ROLES, GENERIC_VIDEO)


@dataclass(slots=True)
class Evidence:
    file: int
    frame: int
    what: str  # English (the JSON report's text)
    sig_id: str | None = None
    part: dict[str, Any] | None = None  # how ``what`` was made, to translate (reasons.py)

    def key(self) -> tuple[int, int, str]:
        return (self.file, self.frame, self.what)


MAX_IPS = 1024  # addresses remembered per device (a spoofing flood would add millions)
# host names kept per device, and names per endpoint (mDNS, NetBIOS, DHCP, SNI and Host
# names are the sender's to choose: one device could name itself a million ways)
MAX_NAMES = 256
# services kept per device ("tcp/554", "mdns", ...): a device answering on every port of a
# scan would add 131,072 of them
MAX_SERVICES = 64


# an evidence line: its English text, or the text and its part (``reasons.phrase``)
What = str | tuple[str, dict[str, Any]]


def add_evidence(
    items: list[Evidence], file: int, frame: int, what: What, sig_id: str | None = None
) -> bool:
    """Keep the first frame that showed each fact, up to INVENTORY_MAX_EVIDENCE facts; False when a
    new fact was dropped because the list is full."""
    text, part = (what, None) if isinstance(what, str) else what
    if any(ev.what == text for ev in items):
        return True
    if len(items) >= INVENTORY_MAX_EVIDENCE:
        return False
    items.append(Evidence(file, frame, text, sig_id, part))
    return True


@dataclass(slots=True)
class Device:
    key: str  # the MAC, or "ip:<addr>" on link types without MACs
    mac: str | None
    first_ts: float
    last_ts: float
    vendor: str | None = None  # registrant of the MAC block (IEEE MA-L/MA-M/MA-S)
    manufacturer: str | None = None  # what the device says about itself names this maker
    manufacturer_source: str | None = None  # which signature or record said so
    ips: dict[str, list[float]] = field(default_factory=dict)  # ip -> [first, last]
    hostnames: dict[str, str] = field(default_factory=dict)  # name -> source protocol
    model: str | None = None
    role: str = "unknown"
    role_confidence: float = 0.0
    evidence: list[Evidence] = field(default_factory=list)
    services: dict[str, dict[str, Any]] = field(default_factory=dict)  # "tcp/554" -> facts
    announcements: list[dict[str, Any]] = field(default_factory=list)  # discovery messages
    dhcp: dict[str, Any] = field(default_factory=dict)
    user_agents: set[str] = field(default_factory=set)
    dns_queries: set[str] = field(default_factory=set)
    requested_hosts: set[str] = field(default_factory=set)  # HTTP Host of its requests
    requested_paths: list[str] = field(default_factory=list)  # paths asked of off-site hosts
    tls_fingerprints: set[str] = field(default_factory=set)  # ja4 strings
    matches: dict[str, dict[str, Any]] = field(default_factory=dict)  # sig_id -> match facts
    first_frame: tuple[int, int] = (0, 0)
    wlan_only: bool = False
    role_hints: list[tuple[str, float, str]] = field(default_factory=list)  # role, conf, why
    role_hint_parts: dict[str, dict[str, Any]] = field(default_factory=dict)  # why -> its part
    role_reasons: list[str] = field(default_factory=list)
    role_reason_parts: list[dict[str, Any]] = field(default_factory=list)  # ({} when none)
    evidence_dropped: int = 0  # facts beyond INVENTORY_MAX_EVIDENCE
    ips_dropped: int = 0  # addresses beyond MAX_IPS
    names_dropped: int = 0  # host names given beyond MAX_NAMES
    services_dropped: int = 0  # services seen beyond MAX_SERVICES

    def service(self, key: str, new: dict[str, Any]) -> dict[str, Any] | None:
        """The facts of the service ``key`` (``new`` when it is first seen), up to
        MAX_SERVICES services; None for one beyond them (counted)."""
        svc = self.services.get(key)
        if svc is None:
            if len(self.services) >= MAX_SERVICES:
                self.services_dropped += 1
                return None
            svc = self.services[key] = new
        return svc

    def add_hostname(self, name: str, source: str) -> bool:
        """Keeps a host name the device gave (and the protocol it came by) up to MAX_NAMES;
        True when the name is new and kept."""
        if name in self.hostnames:
            return False
        if len(self.hostnames) >= MAX_NAMES:
            self.names_dropped += 1
            return False
        self.hostnames[name] = source
        return True

    def add_evidence(self, file: int, frame: int, what: What, sig_id: str | None = None) -> None:
        if not add_evidence(self.evidence, file, frame, what, sig_id):
            self.evidence_dropped += 1

    def add_role_hint(self, role: str, confidence: float, why: tuple[str, dict[str, Any]]) -> None:
        """A role hint and the part its reason was made of (``reasons.phrase``). A hint
        given again (the same role for the same reason: a discovery answer repeated all
        day) is kept once: the role rules count each reason once anyway, and the list stays
        as small as the distinct reasons (the pack's signatures and a few behaviours)."""
        hint = (role, confidence, why[0])
        if hint in self.role_hints:
            return
        self.role_hints.append(hint)
        if len(self.role_hint_parts) < 64:
            self.role_hint_parts.setdefault(why[0], why[1])

    def add_ip(self, ip: str, ts: float) -> None:
        span = self.ips.get(ip)
        if span is None:
            if len(self.ips) >= MAX_IPS:
                self.ips_dropped += 1
                return
            self.ips[ip] = [ts, ts]
        else:
            if ts < span[0]:
                span[0] = ts
            if ts > span[1]:
                span[1] = ts

    def seen(self, ts: float) -> None:
        if ts < self.first_ts:
            self.first_ts = ts
        if ts > self.last_ts:
            self.last_ts = ts


@dataclass(slots=True)
class Endpoint:
    ip: str
    names: dict[str, str] = field(default_factory=dict)  # name -> how (dns, sni, http, quic)
    country: str | None = None
    asn: int | None = None
    org: str | None = None
    provider: str | None = None
    category: str | None = None  # "face-cloud", "vendor-cloud", None
    matches: dict[str, dict[str, Any]] = field(default_factory=dict)
    evidence: list[Evidence] = field(default_factory=list)
    cert_subjects: set[str] = field(default_factory=set)
    evidence_dropped: int = 0  # facts beyond INVENTORY_MAX_EVIDENCE
    names_dropped: int = 0  # names given beyond MAX_NAMES

    def add_name(self, name: str, how: str) -> bool:
        """Keeps a name of the endpoint up to MAX_NAMES; True when the name is new (kept,
        or given beyond the bound: it is still to be matched against the signatures)."""
        name = name.lower().rstrip(".")
        if not name or name in self.names:
            return False
        if len(self.names) >= MAX_NAMES:
            self.names_dropped += 1
            return True
        self.names[name] = how
        return True

    def add_evidence(self, file: int, frame: int, what: What, sig_id: str | None = None) -> None:
        if not add_evidence(self.evidence, file, frame, what, sig_id):
            self.evidence_dropped += 1


@dataclass(slots=True)
class Conversation:
    """Flows aggregated by (device, peer address, transport, server port)."""

    device: str  # device key
    peer_ip: str
    transport: str
    port: int
    peer_device: str | None = None  # set when the peer is a premises device
    peer_mac: str | None = None
    bytes_up: int = 0
    bytes_down: int = 0
    packets_up: int = 0
    packets_down: int = 0
    first_ts: float = 0.0
    last_ts: float = 0.0
    first_frame: tuple[int, int] = (0, 0)  # (file, frame)
    frames: list[tuple[int, int]] = field(default_factory=list)
    protocols: set[str] = field(default_factory=set)
    flows: int = 0
    device_is_client: bool = True
    # bytes of the device's and of the peer's TCP sequence space the capture missed
    # (``netscan.engine.loss``): the volumes above are lower bounds by as much
    missed_up: int = 0
    missed_down: int = 0
    # upload bursts [start, end, bytes, packets] of its flows (device to peer), compact
    bursts: Sequence[list[float]] = field(default_factory=BurstList)


@dataclass(slots=True)
class FlowTotals:
    """Conversations of one device and transport folded into one row of totals (when more
    conversations exist than the limits let the inventory hold or the report list)."""

    device: str
    transport: str
    conversations: int = 0
    flows: int = 0
    bytes_up: int = 0
    bytes_down: int = 0
    packets_up: int = 0
    packets_down: int = 0
    first_ts: float | None = None
    last_ts: float | None = None
    missed_up: int = 0  # as ``Conversation.missed_up``
    missed_down: int = 0

    def add(self, conv: Conversation) -> None:
        self.conversations += 1
        self.flows += conv.flows
        self.bytes_up += conv.bytes_up
        self.bytes_down += conv.bytes_down
        self.packets_up += conv.packets_up
        self.packets_down += conv.packets_down
        self.missed_up += conv.missed_up
        self.missed_down += conv.missed_down
        if self.first_ts is None or conv.first_ts < self.first_ts:
            self.first_ts = conv.first_ts
        if self.last_ts is None or conv.last_ts > self.last_ts:
            self.last_ts = conv.last_ts

    def merge(self, other: FlowTotals) -> None:
        self.conversations += other.conversations
        self.flows += other.flows
        self.bytes_up += other.bytes_up
        self.bytes_down += other.bytes_down
        self.packets_up += other.packets_up
        self.packets_down += other.packets_down
        self.missed_up += other.missed_up
        self.missed_down += other.missed_down
        for ts in (other.first_ts, other.last_ts):
            if ts is not None:
                if self.first_ts is None or ts < self.first_ts:
                    self.first_ts = ts
                if self.last_ts is None or ts > self.last_ts:
                    self.last_ts = ts
