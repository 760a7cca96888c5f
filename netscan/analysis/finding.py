"""The typed result of the analysis: a ``Finding`` and its ``Level``.

Every finding (uploads, 802.11 upstreams, face libraries) is a ``Finding``; the JSON report's
``findings`` entries are its projection (``to_json``: the same keys, values and order the
report has always had, see ``netscan/report/report.schema.json``). Readers of a stored report
(the case store, the fleet, the evidence extractor, the reports) build findings back with
``Finding.from_json``, which tolerates reports written by older versions (keys missing, keys
added later kept as they are).

This module is light on purpose (no inventory, no engine): reports, the TUI, the fleet and
the case store import it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Level(StrEnum):
    """How sure a finding is (see ``netscan.analysis.findings``), strongest first."""

    CONFIRMED = "confirmed"
    LIKELY = "likely"
    POSSIBLE = "possible"

    @property
    def rank(self) -> int:
        """3 for confirmed, 2 for likely, 1 for possible (0 is 'no finding')."""
        return _RANK[self]

    @classmethod
    def parse(cls, value: object) -> Level | None:
        """The level a string names (case-insensitive), or None."""
        if isinstance(value, Level):
            return value
        try:
            return cls(str(value).strip().lower())
        except ValueError:
            return None


_RANK = {Level.CONFIRMED: 3, Level.LIKELY: 2, Level.POSSIBLE: 1}
LEVELS: tuple[Level, ...] = (Level.CONFIRMED, Level.LIKELY, Level.POSSIBLE)  # strongest first
LEVEL_NAMES: tuple[str, ...] = tuple(lv.value for lv in LEVELS)  # as the JSON writes them


_RANK_BY_WORD = {lv.value: r for lv, r in _RANK.items()}


def level_rank(value: object) -> int:
    """The rank of a level or level name; 0 for anything that is not a level. Cheap for
    the common case (a level or its word): sort keys of large tables call it per row."""
    if isinstance(value, str):
        hit = _RANK_BY_WORD.get(value)
        if hit is not None:
            return hit
        if not value:
            return 0
    lv = Level.parse(value) if value is not None else None
    return lv.rank if lv is not None else 0


def worst_level(levels: Iterable[object]) -> Level | None:
    """The strongest of these levels (names or ``Level``), or None when there is none."""
    best: Level | None = None
    for v in levels:
        lv = Level.parse(v)
        if lv is not None and (best is None or lv.rank > best.rank):
            best = lv
    return best


def finding_id(device: str, destination: str, level: str) -> str:
    """A finding's stable id: hashed from its device, destination key and level."""
    return "F-" + hashlib.sha256(f"{device}|{destination}|{level}".encode()).hexdigest()[:12]


def _str_or_none(v: Any) -> str | None:
    return None if v is None else str(v)


def _list(v: Any) -> list[Any]:
    return list(v) if isinstance(v, list | tuple) else []


@dataclass(slots=True)
class Destination:
    """Where a finding's data goes: the off-site host (or nothing known, for 802.11)."""

    ip: str | None = None
    names: list[str] = field(default_factory=list)
    provider: str | None = None
    operator_country: str | None = None
    ip_country: str | None = None
    asn: int | None = None
    org: str | None = None
    category: str | None = None
    ips: list[str] | None = None  # every address of the destination; absent for 802.11
    extra: dict[str, Any] = field(default_factory=dict)  # keys a newer report added

    _KEYS = ("ip", "names", "provider", "operator_country", "ip_country", "asn", "org",
             "category", "ips")  # fmt: skip

    @property
    def label(self) -> str:
        """The destination's first name, else its provider, else its address."""
        return str(self.names[0]) if self.names else str(self.provider or self.ip or "")

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "ip": self.ip,
            "names": list(self.names),
            "provider": self.provider,
            "operator_country": self.operator_country,
            "ip_country": self.ip_country,
            "asn": self.asn,
            "org": self.org,
            "category": self.category,
        }
        if self.ips is not None:
            out["ips"] = list(self.ips)
        out.update(self.extra)
        return out

    @classmethod
    def from_json(cls, d: Any) -> Destination:
        if not isinstance(d, dict):
            return cls()
        asn = d.get("asn")
        ips = d.get("ips")
        return cls(
            ip=_str_or_none(d.get("ip")),
            names=[str(n) for n in _list(d.get("names"))],
            provider=_str_or_none(d.get("provider")),
            operator_country=_str_or_none(d.get("operator_country")),
            ip_country=_str_or_none(d.get("ip_country")),
            asn=asn if isinstance(asn, int) and not isinstance(asn, bool) else None,
            org=_str_or_none(d.get("org")),
            category=_str_or_none(d.get("category")),
            ips=[str(i) for i in ips] if isinstance(ips, list) else None,
            extra={k: v for k, v in d.items() if k not in cls._KEYS},
        )


@dataclass(slots=True)
class Finding:
    """One device sending face data (or what may be face data) off-site, or receiving a face
    library from off-site. Field order is the JSON report's key order."""

    id: str
    kind: str  # face-upload, face-cloud-upload, face-cloud-contact, offsite-upstream,
    # wlan-camera-upstream, face-library-sync
    level: Level
    device: str  # the device's inventory key
    device_mac: str | None
    device_ip: str | None
    device_role: str
    device_label: str
    path: list[dict[str, Any]]  # stages: feeding devices, the device, the destination
    destination: Destination
    bytes_up: int
    bytes_down: int
    bursts: list[list[float]] | int  # [start, end, bytes, packets]; a count in old reports
    image_bursts: int
    shape: str  # media, image-uploads, chatter, content, library-download
    first_ts: str | None
    last_ts: str | None
    reason: str  # English; reason_parts say how it was made, to translate
    reason_parts: list[dict[str, Any]]
    evidence: list[dict[str, Any]]  # {"frame", "file", "what"} (+ Zeek's line, uid, log)
    faces: list[dict[str, Any]]
    face_images: int
    flows: list[dict[str, Any]]  # selectors of the flows behind the finding
    cross_border: bool | None
    provisions: list[dict[str, Any]]
    transport: list[str]
    plaintext: bool
    library: dict[str, Any] | None = None  # face-library-sync findings only
    # {"bytes_up", "bytes_down"}: what the capture missed of the finding's TCP conversations
    # (``capture_missed``), when it missed some: the volumes are lower bounds by as much
    capture_missed: dict[str, int] | None = None
    analyst_status: dict[str, Any] | None = None  # the case store's status, when attached
    extra: dict[str, Any] = field(default_factory=dict)  # keys a newer report added

    @property
    def rank(self) -> int:
        return self.level.rank

    def to_json(self) -> dict[str, Any]:
        """The JSON report's entry for this finding (keys are a contract)."""
        out: dict[str, Any] = {
            "id": self.id,
            "kind": self.kind,
            "level": self.level.value,
            "device": self.device,
            "device_mac": self.device_mac,
            "device_ip": self.device_ip,
            "device_role": self.device_role,
            "device_label": self.device_label,
            "path": self.path,
            "destination": self.destination.to_json(),
            "bytes_up": self.bytes_up,
            "bytes_down": self.bytes_down,
            "bursts": self.bursts,
            "image_bursts": self.image_bursts,
            "shape": self.shape,
            "first_ts": self.first_ts,
            "last_ts": self.last_ts,
            "reason": self.reason,
            "reason_parts": self.reason_parts,
            "evidence": self.evidence,
            "faces": self.faces,
            "face_images": self.face_images,
            "flows": self.flows,
            "cross_border": self.cross_border,
            "provisions": self.provisions,
            "transport": self.transport,
            "plaintext": self.plaintext,
        }
        if self.library is not None:
            out["library"] = self.library
        if self.capture_missed is not None:
            out["capture_missed"] = self.capture_missed
        if self.analyst_status is not None:
            out["analyst_status"] = self.analyst_status
        out.update(self.extra)
        return out

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Finding:
        """A finding from a JSON report entry, of this version or an older one. Raises
        ``ValueError`` when the entry is not a finding (no level netscan knows)."""
        if not isinstance(d, dict):
            raise ValueError("a finding is a JSON object")
        level = Level.parse(d.get("level"))
        if level is None:
            raise ValueError(f"unknown finding level {d.get('level')!r}")
        bursts = d.get("bursts")
        cross = d.get("cross_border")
        lib = d.get("library")
        missed = d.get("capture_missed")
        status = d.get("analyst_status")
        return cls(
            id=str(d.get("id") or ""),
            kind=str(d.get("kind") or ""),
            level=level,
            device=str(d.get("device") or ""),
            device_mac=_str_or_none(d.get("device_mac")),
            device_ip=_str_or_none(d.get("device_ip")),
            device_role=str(d.get("device_role") or "unknown"),  # Role.UNKNOWN
            device_label=str(
                d.get("device_label") or d.get("device") or d.get("device_mac") or ""
            ),  # fmt: skip
            path=[p for p in _list(d.get("path")) if isinstance(p, dict)],
            destination=Destination.from_json(d.get("destination")),
            bytes_up=_int(d.get("bytes_up")),
            bytes_down=_int(d.get("bytes_down")),
            bursts=bursts if isinstance(bursts, list) else _int(bursts),
            image_bursts=_int(d.get("image_bursts")),
            shape=str(d.get("shape") or ""),
            first_ts=_ts(d.get("first_ts")),
            last_ts=_ts(d.get("last_ts")),
            reason=str(d.get("reason") or ""),
            reason_parts=[p for p in _list(d.get("reason_parts")) if isinstance(p, dict)],
            evidence=[e for e in _list(d.get("evidence")) if isinstance(e, dict)],
            faces=[x for x in _list(d.get("faces")) if isinstance(x, dict)],
            face_images=_int(d.get("face_images")),
            flows=[x for x in _list(d.get("flows")) if isinstance(x, dict)],
            cross_border=cross if isinstance(cross, bool) else None,
            provisions=[p for p in _list(d.get("provisions")) if isinstance(p, dict)],
            transport=[str(t) for t in _list(d.get("transport"))],
            plaintext=bool(d.get("plaintext")),
            library=lib if isinstance(lib, dict) else None,
            capture_missed=(
                {
                    "bytes_up": _int(missed.get("bytes_up")),
                    "bytes_down": _int(missed.get("bytes_down")),
                }
                if isinstance(missed, dict)
                else None
            ),
            analyst_status=status if isinstance(status, dict) else None,
            extra={k: v for k, v in d.items() if k not in _FINDING_KEYS},
        )


def capture_missed(convs: Iterable[Any]) -> dict[str, int] | None:
    """A finding's ``capture_missed``: the bytes the capture missed of its conversations
    (``Conversation.missed_up``/``missed_down``), device to peer and back; None when it
    missed none (or the input cannot tell)."""
    up = down = 0
    for c in convs:
        up += c.missed_up
        down += c.missed_down
    return {"bytes_up": up, "bytes_down": down} if up or down else None


def _int(v: Any) -> int:
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int):
        return v
    if isinstance(v, float) and v == v and abs(v) < 1e18:
        return int(v)
    return 0


def _ts(v: Any) -> Any:
    """Timestamps are ISO 8601 strings; very old reports may hold epoch seconds (kept)."""
    return v if isinstance(v, str | int | float) and not isinstance(v, bool) else None


_FINDING_KEYS = frozenset(
    ("id", "kind", "level", "device", "device_mac", "device_ip", "device_role", "device_label",
     "path", "destination", "bytes_up", "bytes_down", "bursts", "image_bursts", "shape",
     "first_ts", "last_ts", "reason", "reason_parts", "evidence", "faces", "face_images",
     "flows", "cross_border", "provisions", "transport", "plaintext", "library",
     "capture_missed", "analyst_status")
)  # fmt: skip


def findings_from_json(items: Any) -> list[Finding]:
    """The findings of a JSON report's ``findings`` list; entries that are not findings (no
    known level) are left out."""
    out: list[Finding] = []
    for d in items if isinstance(items, list) else []:
        try:
            out.append(Finding.from_json(d))
        except ValueError:
            continue
    return out


def report_findings(report: Any) -> list[Finding]:
    """The findings of a JSON report (a dict), typed."""
    return findings_from_json(report.get("findings") if isinstance(report, dict) else None)
