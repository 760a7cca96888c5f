"""Findings: which premises devices send face data off-site, to whom, and how sure we are.

Levels, strongest first:

``confirmed``
    Face content was seen leaving the premises: a carved picture in which the local detector
    found a face, or a biometric face template, in a plaintext request to an off-site host.
``likely``
    A device uploads image-sized bursts (20 kB to 2 MB) to a face-recognition cloud (named by
    DNS, TLS or QUIC SNI, HTTP Host or address range), or sends a picture its protocol labels
    as a face that the detector could not confirm.
``possible``
    A camera, NVR, face terminal, doorbell or edge server sends significant upstream data off
    site (sustained media or repeated picture-sized uploads, not keep-alive chatter), or talks
    to a face cloud at all; a camera seen only as encrypted 802.11 with a video-shaped upstream.

A finding belongs to the device that sends off-site. Cameras that feed it on the premises (it
pulls their streams, or they push media or faces to it) appear in its ``path`` and get no
finding for that traffic. Output is deterministic: sorted, with ids hashed from device,
destination and level.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from importlib import resources
from typing import Any

from netscan import reasons as R
from netscan.analysis.content import (
    BodyRouter,
    ContentItem,
    body_router,
    carving_stopped,
    parse_body,
)
from netscan.analysis.faces import FaceChecker, ImageCheck
from netscan.analysis.finding import Destination, Finding, Level, capture_missed, finding_id
from netscan.analysis.roles import looks_like_video_vendor, trusted_signature
from netscan.events import HttpBodyEvent
from netscan.inventory.enrich import registered_domain
from netscan.inventory.inventory import Inventory
from netscan.inventory.model import (
    CAMERA_FAMILY,
    FEEDER_ROLES,
    LOCAL_SINK_ROLES,
    Conversation,
    Device,
    Endpoint,
    Role,
)
from netscan.limits import (
    FINDING_MAX_BURSTS,
    FINDING_MAX_EVIDENCE,
    IMAGE_BURST_MAX,
    IMAGE_BURST_MIN,
    LOCAL_FEED_MIN_BYTES,
    MEDIA_UP_DOWN_RATIO,
    OFFSITE_IMAGE_UPLOADS_MIN,
    OFFSITE_MEDIA_MIN_BYTES,
    WLAN_VIDEO_MIN_BYTES,
    WLAN_VIDEO_MIN_PACKET,
    WLAN_VIDEO_MIN_RATE,
    WLAN_VIDEO_MIN_SECONDS,
)
from netscan.util import iso_utc

FACE_CAPABLE = CAMERA_FAMILY


_iso = iso_utc


# -- provisions ---------------------------------------------------------------------------


@lru_cache(maxsize=1)
def load_provisions() -> list[dict[str, Any]]:
    import yaml

    text = resources.files("netscan.analysis").joinpath("provisions.yaml").read_text("utf-8")
    data = yaml.safe_load(text) or {}
    return list(data.get("provisions", []))


def provisions_for(
    country: str | None, level: str, cross_border: bool | None
) -> list[dict[str, Any]]:
    if not country:
        return []
    cc = country.upper()
    out: list[dict[str, Any]] = []
    for p in load_provisions():
        if cc not in p.get("countries", []):
            continue
        why: list[str] = []
        for cond in p.get("when", []):
            if cond == "face":
                why.append("face data may be processed by the device or its recipient")
            elif cond == "cross_border" and cross_border:
                why.append("the destination lies outside the premises country")
            elif cond == level:
                why.append(f"the finding is {level}")
        if not why:
            continue
        out.append(
            {
                "id": p["id"],
                "instrument": p["instrument"],
                "article": p["article"],
                "summary": " ".join(str(p["summary"]).split()),
                "source": p["source"],
                "why": "; ".join(why),
            }
        )
    return out


def _country_code(country: str | None) -> str | None:
    return country.upper().split("-")[0] if country else None


# -- content hits ------------------------------------------------------------------------


@dataclass(slots=True)
class ContentHit:
    ev: HttpBodyEvent
    item: ContentItem
    check: ImageCheck | None
    device: str | None
    dst_ip: str
    dst_device: str | None
    offsite: bool

    @property
    def is_face(self) -> bool:
        if self.item.template is not None and self.item.declared_face:
            return True
        return self.check is not None and bool(self.check.faces)

    @property
    def unconfirmed_face(self) -> bool:
        """Declared a face by its protocol, but the detector could not confirm one."""
        return self.item.declared_face and not self.is_face


def _device_key(inv: Inventory, mac: str | None, ip: str | None) -> str | None:
    if mac and not int(mac[:2], 16) & 1:
        return mac if mac in inv.devices else None
    if ip and inv.premises.is_premises(ip):
        for key, dev in inv.devices.items():
            if ip in dev.ips:
                return key
        return f"ip:{ip}"
    return None


Checked = list[tuple[ContentItem, ImageCheck | None]]


def content_hits(inv: Inventory, checker: FaceChecker) -> list[ContentHit]:
    hits: list[ContentHit] = []
    route: BodyRouter | None = body_router(inv.matcher) if inv.matcher is not None else None
    # a body is read (and its pictures checked) once however often it was sent: what it
    # holds depends only on its path, content type and bytes
    done: dict[tuple[str, str | None, bytes], Checked] = {}
    keys: dict[tuple[str | None, str | None], str | None] = {}

    def device_key(mac: str | None, ip: str | None) -> str | None:
        if (mac, ip) not in keys:
            keys[(mac, ip)] = _device_key(inv, mac, ip)  # a scan of the devices by address
        return keys[(mac, ip)]

    for ev in inv.bodies:
        ctx = ev.ctx
        if ev.method == "RESPONSE":  # answers handed to a device (netscan.analysis.facelib)
            continue
        if not ctx.src_ip or not inv.premises.is_premises(ctx.src_ip):
            continue
        key = (ev.path, ev.content_type, ev.body)
        checked = done.get(key)
        if checked is None:
            checked = done[key] = [
                (item, _check(checker, item)) for item in parse_body(ev, route).items
            ]
        if not checked:
            continue
        src = device_key(ctx.src_mac, ctx.src_ip)
        dst_ip = ctx.dst_ip or ""
        offsite = inv.premises.is_offsite(dst_ip)
        dst_dev = None if offsite else device_key(ctx.dst_mac, dst_ip)
        for item, chk in checked:
            hits.append(ContentHit(ev, item, chk, src, dst_ip, dst_dev, offsite))
    return hits


def _check(checker: FaceChecker, item: ContentItem) -> ImageCheck | None:
    return checker.check(item.image, item.image_format or "jpeg") if item.image else None


# -- traffic groups ----------------------------------------------------------------------


@dataclass
class Group:
    """Everything one device sends to one destination: a provider (all its addresses), a
    registered domain, or a single address when nothing names it. Its totals and bursts are
    read once all conversations are in (``settle``)."""

    device: str
    peer: str  # the destination's main address (most bytes up)
    convs: list[Conversation] = field(default_factory=list)
    key: str = ""  # what the destination is: provider, domain or address
    peers: set[str] = field(default_factory=set)

    def settle(self) -> None:
        """Pick the main address once all conversations are in."""
        if len(self.convs) == 1:  # most groups
            self.peer = self.convs[0].peer_ip
            self.peers.add(self.peer)
            return
        up: dict[str, int] = defaultdict(int)
        for c in self.convs:
            up[c.peer_ip] += c.bytes_up
        self.peers.update(up)
        if len(up) == 1:
            (self.peer,) = up
        elif up:
            self.peer = max(sorted(up), key=lambda ip: up[ip])
        self.peers.add(self.peer)

    @property
    def bytes_up(self) -> int:
        return sum(c.bytes_up for c in self.convs)

    @property
    def bytes_down(self) -> int:
        return sum(c.bytes_down for c in self.convs)

    @property
    def packets_up(self) -> int:
        return sum(c.packets_up for c in self.convs)

    @property
    def first_ts(self) -> float:
        return min(c.first_ts for c in self.convs)

    @property
    def last_ts(self) -> float:
        return max(c.last_ts for c in self.convs)

    @cached_property
    def burst_sizes(self) -> list[float]:
        """The bytes of each upload burst (in no particular order)."""
        return [b[2] for c in self.convs for b in c.bursts]

    @cached_property
    def bursts(self) -> list[list[float]]:
        """The conversations' upload bursts in time order (sorted once)."""
        out = [b for c in self.convs for b in c.bursts]
        return sorted(out, key=lambda b: (b[0], b[1]))

    @cached_property
    def image_bursts(self) -> list[list[float]]:
        return [b for b in self.bursts if IMAGE_BURST_MIN <= b[2] <= IMAGE_BURST_MAX]


def destination_key(inv: Inventory, ip: str) -> str:
    """Which destination an address belongs to, for grouping a device's uploads."""
    ep = inv.endpoints.get(ip)
    if ep is not None and ep.provider:
        return f"provider:{ep.category}:{ep.provider}"
    if ep is not None and ep.names:
        return "domain:" + registered_domain(sorted(ep.names)[0])
    return "ip:" + ip


def _ip_sort(ip: str) -> tuple[int, int]:
    try:
        a = ipaddress.ip_address(ip)
    except ValueError:
        return (9, 0)
    return (a.version, int(a))


SHAPE_DESC = (
    "{up:,} bytes up / {down:,} down over {seconds:.0f} s, {bursts} upload bursts "
    "({images} picture-sized)"
)


SHAPES_UPSTREAM = ("media", "image-uploads")  # the shapes that are more than chatter


def shape_kind(g: Group) -> str:
    """What a device → destination group's upstream looks like: "media", "image-uploads"
    or "chatter"."""
    up, down = g.bytes_up, g.bytes_down
    ratio = up / max(down, 1)
    if ratio < MEDIA_UP_DOWN_RATIO:
        return "chatter"
    sizes = g.burst_sizes  # whole byte counts: their sum does not depend on the order
    if up >= OFFSITE_MEDIA_MIN_BYTES and (
        not sizes or sum(s for s in sizes if s >= IMAGE_BURST_MIN) >= 0.5 * up
    ):
        return "media"
    images = sum(1 for s in sizes if IMAGE_BURST_MIN <= s <= IMAGE_BURST_MAX)
    if images >= OFFSITE_IMAGE_UPLOADS_MIN:
        return "image-uploads"
    return "chatter"


def shape_part(g: Group) -> dict[str, Any]:
    """The sentence (a reason part) describing the group's upstream."""
    return R.part(
        SHAPE_DESC,
        up=g.bytes_up,
        down=g.bytes_down,
        seconds=round(max(g.last_ts - g.first_ts, 1.0), 3),
        bursts=len(g.bursts),
        images=len(g.image_bursts),
    )


# -- paths through the premises ------------------------------------------------------------


def feeders(
    inv: Inventory,
    convs: list[Conversation],
    hits: list[ContentHit],
    parts: dict[str, dict[str, Any]] | None = None,
) -> dict[str, dict[str, str]]:
    """receiver device → {feeding device: how}; ``parts`` gets each how's part (to
    translate it)."""
    hows: dict[str, dict[str, Any]] = {} if parts is None else parts
    out: dict[str, dict[str, str]] = defaultdict(dict)
    ratio = MEDIA_UP_DOWN_RATIO
    for c in convs:
        if not c.peer_device or c.peer_device == c.device:
            continue
        if c.bytes_down >= LOCAL_FEED_MIN_BYTES and c.bytes_down >= ratio * max(c.bytes_up, 1):
            src, dst = c.peer_device, c.device  # the device pulls from its peer
        elif c.bytes_up >= LOCAL_FEED_MIN_BYTES and c.bytes_up >= ratio * max(c.bytes_down, 1):
            src, dst = c.device, c.peer_device  # the device pushes to its peer
        else:
            continue
        sdev = inv.devices.get(src)
        if sdev is None or sdev.role not in FEEDER_ROLES:
            continue
        if src not in out[dst]:  # (the first conversation of the pair says how)
            proto = "/".join(sorted(c.protocols)) or f"{c.transport}/{c.port}"
            up = max(c.bytes_up, c.bytes_down)
            how, part = R.phrase(R.EV_STREAMS, protocol=proto, bytes=up)
            out[dst][src] = how
            hows.setdefault(how, part)
    for h in hits:
        if not h.offsite and h.device and h.dst_device and h.device != h.dst_device:
            if (h.is_face or h.item.declared_face) and h.device not in out[h.dst_device]:
                how, part = R.phrase(R.EV_SENDS_FACES, protocol=str(h.item.protocol))
                out[h.dst_device][h.device] = how
                hows.setdefault(how, part)
    return out


def chain(device: str, feeds: dict[str, dict[str, str]]) -> list[list[tuple[str, str]]]:
    """Layers of feeders, farthest first: [[(dev, how), ...], ..., [(device, "")]]."""
    layers: list[list[tuple[str, str]]] = []
    seen = {device}
    frontier = [device]
    for _ in range(4):
        nxt: list[tuple[str, str]] = []
        for d in frontier:
            for src, how in sorted(feeds.get(d, {}).items()):
                if src not in seen:
                    seen.add(src)
                    nxt.append((src, how))
        if not nxt:
            break
        layers.append(sorted(nxt))
        frontier = [s for s, _ in nxt]
    layers.reverse()
    layers.append([(device, "")])
    return layers


# -- finding assembly --------------------------------------------------------------------


def _device_label(dev: Device | None, key: str) -> str:
    if dev is None:
        return key
    name = sorted(dev.hostnames)[0] if dev.hostnames else None
    bits = [dev.role]
    if dev.model:
        bits.append(dev.model)
    elif dev.vendor:
        bits.append(dev.vendor)
    ip = _first_ip(dev)
    return f"{name or ip or dev.mac or key} ({', '.join(bits)})"


def _first_ip(dev: Device | None) -> str | None:
    if dev is None or not dev.ips:
        return None
    v4 = sorted(ip for ip in dev.ips if ":" not in ip)
    return v4[0] if v4 else sorted(dev.ips)[0]


def _endpoint_label(ep: Endpoint | None, ip: str | None) -> str:
    if ep is None:
        return ip or "unknown destination"
    name = sorted(ep.names)[0] if ep.names else ep.ip
    return f"{name}" + (f" ({ep.provider})" if ep.provider else "")


def _operator_country(ep: Endpoint | None) -> str | None:
    if ep is None or not ep.matches:
        return None
    rank = {"face-cloud": 2, "vendor-cloud": 1}
    best = max(
        ep.matches.values(),
        key=lambda m: (rank.get(m.get("category") or "", 0), m.get("confidence") or 0, m["sig_id"]),
    )
    j = best.get("jurisdiction")
    return str(j).upper() if j else None


def _destination(ep: Endpoint | None, ip: str | None) -> Destination:
    return Destination(
        ip=ip,
        names=sorted(ep.names) if ep else [],
        provider=ep.provider if ep else None,
        operator_country=_operator_country(ep),
        ip_country=ep.country if ep else None,
        asn=ep.asn if ep else None,
        org=ep.org if ep else None,
        category=ep.category if ep else None,
    )


def _cross_border(country: str | None, dest: Destination) -> bool | None:
    cc = _country_code(country)
    if not cc:
        return None
    known = [c.upper() for c in (dest.ip_country, dest.operator_country) if c]
    if not known:
        return None
    return any(c != cc for c in known)


class _Ev:
    def __init__(self, files: list[str]) -> None:
        self.files = files
        self.items: list[dict[str, Any]] = []
        self._keys: set[tuple[int, int, str]] = set()

    def add(self, file: int, frame: int, what: str | tuple[str, dict[str, Any]]) -> None:
        """An evidence line: its English text, or the text and its part (``R.phrase``),
        which the report keeps as ``what_part`` to show the line in another language."""
        text, part = (what, None) if isinstance(what, str) else what
        key = (file, frame, text)
        if key in self._keys or len(self.items) >= FINDING_MAX_EVIDENCE:
            return
        self._keys.add(key)
        item: dict[str, Any] = {
            "frame": int(frame),
            "file": self.files[file] if 0 <= file < len(self.files) else "",
            "what": text,
        }
        if part is not None:
            item["what_part"] = part
        self.items.append(item)


def _flow_selectors(
    inv: Inventory, dev: Device | None, convs: list[Conversation]
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    ips = sorted(dev.ips) if dev else []
    for c in sorted(convs, key=lambda c: (c.transport, c.peer_ip, c.port)):
        file = inv.files[c.first_frame[0]] if c.first_frame[0] < len(inv.files) else ""
        if c.transport == "wlan":
            out.append({"file": file, "transport": "wlan", "mac": c.device, "peer_mac": c.peer_mac})
        else:
            out.append(
                {
                    "file": file,
                    "transport": c.transport,
                    "ips": ips,
                    "peer_ip": c.peer_ip,
                    "port": c.port,
                }
            )
    return out


def _role_evidence(ev: _Ev, dev: Device | None) -> None:
    if dev is None:
        return
    n = 0
    for e in dev.evidence:
        m = dev.matches.get(e.sig_id) if e.sig_id else None
        if m is not None and not trusted_signature(dev, m):
            continue
        ev.add(e.file, e.frame, R.phrase(R.EV_DEVICE, what=e.part or e.what))
        n += 1
        if n >= 4:
            break


def _endpoint_evidence(ev: _Ev, ep: Endpoint | None) -> None:
    if ep is None:
        return
    for e in ep.evidence[:4]:
        if e.frame:
            ev.add(e.file, e.frame, R.phrase(R.EV_DESTINATION, what=e.part or e.what))


def _face_summary(hits: list[ContentHit]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    seen: set[tuple[str, int]] = set()
    for h in hits:
        digest = h.check.sha256 if h.check else hashlib.sha256(h.item.template or b"").hexdigest()
        key = (digest, h.ev.first_frame)
        if key in seen:
            continue
        seen.add(key)
        entry: dict[str, Any] = {
            "protocol": h.item.protocol,
            "what": h.item.what,
            "method": h.ev.method,
            "path": h.ev.path,
            "host": h.ev.host,
            "file_index": h.ev.ctx.file,
            "first_frame": h.ev.first_frame or h.ev.ctx.frame,
            "last_frame": h.ev.last_frame or h.ev.ctx.frame,
            "declared_face": h.item.declared_face,
            "face": h.is_face,
            "sha256": digest,
        }
        if h.check:
            entry.update(
                {
                    "size": h.check.size,
                    "format": h.check.format,
                    "width": h.check.width,
                    "height": h.check.height,
                    "faces": h.check.faces,
                    "detector": h.check.detector,
                    "kept_as": h.check.kept_as,
                }
            )
            if h.check.not_decoded:
                entry["not_decoded"] = h.check.not_decoded
            if h.check.decoded_at is not None:
                entry["decoded_at"] = h.check.decoded_at
            if h.check.cut:
                entry["cut"] = True
        else:
            entry.update({"size": len(h.item.template or b""), "format": "template"})
        out.append(entry)
    return out


def _body_what(h: ContentHit) -> tuple[str, dict[str, Any]]:
    # the rest of a request whose head was lost (a hole in the capture) has neither
    request: Any = f"{h.ev.method} {h.ev.path}" if h.ev.method else R.part(R.EV_HEAD_LOST)
    if h.check is not None:
        c = h.check
        if c.cut:  # a JPEG cut short (by the capture): decoded as far as it goes
            dims = (R.part(R.EV_DIMS_CUT, width=c.width, height=c.height) if c.width
                    else R.part(R.EV_UNDECODABLE_CUT))  # fmt: skip
        else:
            dims = (R.part(R.EV_DIMS, width=c.width, height=c.height) if c.width
                    else R.part(R.EV_UNDECODABLE))  # fmt: skip
        if c.decoded_at is not None:  # the picture did not decode; one nested in it did
            dims = R.part(R.EV_NESTED, width=c.width, height=c.height, offset=c.decoded_at)
        faces = (R.part(R.EV_NO_DETECTOR) if c.faces is None
                 else R.part(R.EV_FACES, n=c.faces))  # fmt: skip
        if c.not_decoded:
            faces = R.part(R.EV_NOT_DECODED, why=str(c.not_decoded))
        return R.phrase(R.EV_BODY, request=request, what=h.item.what, size=c.size, dims=dims,
                        faces=faces, sha256=c.sha256[:16])  # fmt: skip
    size = len(h.item.template or b"")
    return R.phrase(R.EV_BODY_TEMPLATE, request=request, what=h.item.what, size=size)


def find(
    inventory: Inventory,
    convs: list[Conversation],
    options: Any,
    warnings: list[str] | None = None,
    keep: Any = None,
) -> list[Finding]:
    """The findings. ``keep`` (a ``netscan.safefile.PrivateDir``) overrides
    ``options.keep_evidence`` as the place carved images are kept; what the picture
    decoding limits and the carving budget left undone goes to ``warnings``."""
    checker = FaceChecker(
        keep if keep is not None else getattr(options, "keep_evidence", None),
        getattr(options, "limits", None),
    )
    with carving_stopped() as stopped:
        findings = _find(inventory, convs, getattr(options, "country", None), checker)
    if warnings is not None:
        # after the library findings too: they decode pictures with the same checker
        warnings.extend(checker.limit_warnings())
        if stopped[0]:
            warnings.append(
                f"uploaded bodies or parts not searched to their end for pictures: "
                f"{stopped[0]:,} (the carving's safety net on work per byte was reached: "
                "damaged or hostile data; the pictures found before that point were checked)"
            )
    return findings


def _find(
    inv: Inventory, convs: list[Conversation], country: str | None, checker: FaceChecker
) -> list[Finding]:
    hits = content_hits(inv, checker)
    feed_parts: dict[str, dict[str, Any]] = {}
    feeds = feeders(inv, convs, hits, feed_parts)

    dest_keys: dict[str, str] = {}  # address -> destination_key (many flows share a peer)

    def dest_key(ip: str) -> str:
        k = dest_keys.get(ip)
        if k is None:
            k = dest_keys[ip] = destination_key(inv, ip)
        return k

    groups: dict[tuple[str, str], Group] = {}
    wlan: dict[str, list[Conversation]] = defaultdict(list)
    for c in convs:
        if c.transport == "wlan":
            wlan[c.device].append(c)
            continue
        if c.peer_device is not None:
            continue
        dk = dest_keys.get(c.peer_ip)  # known: an off-site address
        if dk is None:
            if not inv.premises.is_offsite(c.peer_ip):
                continue
            dk = dest_key(c.peer_ip)
        key = (c.device, dk)
        g = groups.get(key)
        if g is None:
            g = groups[key] = Group(c.device, c.peer_ip, key=key[1])
        g.convs.append(c)

    offsite_hits: dict[tuple[str, str], list[ContentHit]] = defaultdict(list)
    for h in hits:
        if h.offsite and h.device:
            key = (h.device, dest_key(h.dst_ip))
            offsite_hits[key].append(h)
            if key not in groups:
                groups[key] = Group(h.device, h.dst_ip, key=key[1])

    assessed: list[tuple[tuple[str, str], Finding]] = []
    for key, g in groups.items():
        g.settle()
        f = _assess(inv, g, offsite_hits.get(key, []), feeds, country, feed_parts)
        if f is not None:
            assessed.append((key, f))
    assessed.sort(key=lambda kf: kf[0])  # in group order: only the few findings are sorted
    findings = [f for _, f in assessed]
    wired = (
        {g.device for g in groups.values()} | {c.device for c in convs if c.transport != "wlan"}
        if wlan
        else set()
    )
    for dkey, wconvs in sorted(wlan.items()):
        if dkey in wired:
            continue
        f = _assess_wlan(inv, dkey, wconvs, country)
        if f is not None:
            findings.append(f)
    from netscan.analysis.facelib import library_findings

    findings.extend(library_findings(inv, convs, country, checker))
    findings.sort(key=lambda f: (-f.level.rank, f.device, f.destination.ip or "", f.id))
    return findings


def _assess(
    inv: Inventory,
    g: Group,
    hits: list[ContentHit],
    feeds: dict[str, dict[str, str]],
    country: str | None,
    feed_parts: dict[str, dict[str, Any]] | None = None,
) -> Finding | None:
    dev = inv.devices.get(g.device)
    ep = inv.endpoints.get(g.peer)
    role = dev.role if dev else Role.UNKNOWN.value
    capable = role in FACE_CAPABLE
    face_cloud = ep is not None and ep.category == "face-cloud"
    if not hits and not face_cloud and not (capable and shape_kind(g) in SHAPES_UPSTREAM):
        return None  # without content or a face cloud, only a face-capable device's upload counts
    shape = shape_kind(g) if g.convs else "content"
    faces = [h for h in hits if h.is_face]
    unconfirmed = [h for h in hits if h.unconfirmed_face]
    pictures = [h for h in hits if h.check is not None]
    images = g.image_bursts if g.convs else []
    ev = _Ev(inv.files)
    reasons: list[dict[str, Any]] = []
    dest_label = _endpoint_label(ep, g.peer)

    if faces:
        level, kind = Level.CONFIRMED, "face-upload"
        n_img = len({h.check.sha256 for h in faces if h.check})
        n_tpl = len([h for h in faces if h.item.template is not None])
        protos = sorted({h.item.protocol for h in faces})
        what = []
        if n_img:
            what.append(
                R.part("{images} distinct picture(s) in which a face was detected", images=n_img)
            )
        if n_tpl:
            what.append(R.part("{templates} face template(s)", templates=n_tpl))
        both = R.part("{first} and {second}", first=what[0], second=what[-1])
        reasons.append(
            R.part(
                "{what} sent in plaintext ({protocols}) to {dest}",
                what=both if len(what) > 1 else what[0],
                protocols=", ".join(protos),
                dest=dest_label,
            )
        )
    elif face_cloud and images:
        level, kind = Level.LIKELY, "face-cloud-upload"
        reasons.append(
            R.part(
                "{n} picture-sized upload burst(s) to the face-recognition cloud {dest}",
                n=len(images),
                dest=dest_label,
            )
        )
    elif unconfirmed:
        level, kind = Level.LIKELY, "face-upload"
        reasons.append(
            R.part(
                "{n} picture(s) labelled as faces by the protocol ({protocols}) sent to "
                "{dest}; the local detector did not confirm a face",
                n=len(unconfirmed),
                protocols=", ".join(sorted({h.item.protocol for h in unconfirmed})),
                dest=dest_label,
            )
        )
    elif capable and face_cloud:
        level, kind = Level.POSSIBLE, "face-cloud-contact"
        reasons.append(
            R.part(
                R.with_article("a {role} talks to the face-recognition cloud {dest}", role),
                role=R.term("role", role),
                dest=dest_label,
            )
        )
    elif capable and (shape in SHAPES_UPSTREAM or pictures):
        level, kind = Level.POSSIBLE, "offsite-upstream"
        sends = {
            "media": "sustained upstream media",
            "image-uploads": "repeated picture-sized uploads",
        }.get(shape, "picture uploads")
        cat = "vendor cloud" if ep and ep.category == "vendor-cloud" else "off-site host"
        reasons.append(
            R.part(
                R.with_article("a {role} sends {what} to the {where} {dest}", role),
                role=R.term("role", role),
                what=R.part(sends),
                where=R.part(cat),
                dest=dest_label,
            )
        )
        if pictures:
            reasons.append(
                R.part("{n} picture(s) carved from its uploads; none holds a face", n=len(pictures))
            )
    else:
        return None
    if g.convs:
        reasons.append(shape_part(g))

    # evidence: content first, then the destination's naming, the flow, the device
    for h in faces + unconfirmed + [h for h in pictures if h not in faces + unconfirmed]:
        ev.add(h.ev.ctx.file, h.ev.first_frame or h.ev.ctx.frame, _body_what(h))
    _endpoint_evidence(ev, ep)
    for c in sorted(g.convs, key=lambda c: c.first_frame):
        ev.add(
            c.first_frame[0],
            c.first_frame[1],
            R.phrase(
                R.EV_FIRST_PACKET,
                transport=c.transport,
                port=c.port,
                peer=str(g.peer),
                up=c.bytes_up,
            ),
        )
    if images and g.convs:
        largest = max(int(b[2]) for b in images)
        c0 = min(g.convs, key=lambda c: c.first_frame)
        ev.add(
            c0.first_frame[0],
            c0.first_frame[1],
            R.phrase(
                R.EV_PICTURE_BURSTS,
                n=len(images),
                start=str(_iso(images[0][0])),
                end=str(_iso(images[-1][1])),
                largest=largest,
            ),
        )
    _role_evidence(ev, dev)

    layers = chain(g.device, feeds)
    path = _path(inv, layers, ep, g.peer)
    if len(layers) > 1:
        n_feed = sum(len(layer) for layer in layers[:-1])
        reasons.append(R.part("fed by {n} device(s) on the premises", n=n_feed))
        for layer in layers[:-1]:
            for key, how in layer:
                fdev = inv.devices.get(key)
                if fdev is not None:
                    how_part = (feed_parts or {}).get(how)
                    ev.add(fdev.first_frame[0], fdev.first_frame[1],
                           R.phrase(R.EV_FEEDER, key=key, how=how_part or how))  # fmt: skip

    dest = _destination(ep, g.peer)
    if len(g.peers) > 1:
        # one provider behind several addresses: one finding, every address and name
        names = set(dest.names)
        for ip in g.peers:
            other = inv.endpoints.get(ip)
            if other is not None:
                names.update(other.names)
        dest.names = sorted(names)
    dest.ips = sorted(g.peers, key=_ip_sort)
    cross = _cross_border(country, dest)
    times = [h.ev.ctx.ts for h in hits]
    if g.convs:
        times += [g.first_ts, g.last_ts]
    first, last = min(times), max(times)
    bursts = g.bursts if g.convs else []
    face_summary = _face_summary(hits)
    return Finding(
        id=finding_id(g.device, g.key or g.peer, level),
        kind=kind,
        level=level,
        device=g.device,
        device_mac=dev.mac if dev else None,
        device_ip=_first_ip(dev),
        device_role=role,
        device_label=_device_label(dev, g.device),
        path=path,
        destination=dest,
        bytes_up=g.bytes_up if g.convs else sum(len(h.ev.body) for h in hits),
        bytes_down=g.bytes_down,
        bursts=[
            [round(b[0], 6), round(b[1], 6), int(b[2]), int(b[3])]
            for b in bursts[:FINDING_MAX_BURSTS]
        ],
        image_bursts=len(images),
        shape=shape,
        first_ts=_iso(first),
        last_ts=_iso(last),
        reason=R.join(reasons),
        reason_parts=reasons,
        evidence=ev.items,
        faces=face_summary,
        face_images=len({f["sha256"] for f in face_summary if f["face"]}),
        flows=_flow_selectors(inv, dev, g.convs),
        capture_missed=capture_missed(g.convs),
        cross_border=cross,
        provisions=provisions_for(country, level, cross),
        transport=sorted({f"{c.transport}/{c.port}" for c in g.convs}),
        plaintext=bool(hits),
    )


def _path(
    inv: Inventory, layers: list[list[tuple[str, str]]], ep: Endpoint | None, peer: str | None
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for stage, layer in enumerate(layers):
        nxt = [k for k, _ in layers[stage + 1]] if stage + 1 < len(layers) else [peer or ""]
        for key, how in layer:
            dev = inv.devices.get(key)
            out.append(
                {
                    "stage": stage,
                    "kind": "device",
                    "key": key,
                    "mac": dev.mac if dev else None,
                    "ip": _first_ip(dev),
                    "role": dev.role if dev else Role.UNKNOWN.value,
                    "label": _device_label(dev, key),
                    "to": nxt if stage + 1 < len(layers) else [peer or ""],
                    "how": how or None,
                }
            )
    out.append(
        {
            "stage": len(layers),
            "kind": "endpoint",
            "key": peer or "",
            "ip": ep.ip if ep else peer,
            "label": _endpoint_label(ep, peer),
            "provider": ep.provider if ep else None,
            "category": ep.category if ep else None,
        }
    )
    return out


def wlan_video_shape(c: Conversation) -> bool:
    dur = max(c.last_ts - c.first_ts, 0.0)
    if c.bytes_up < WLAN_VIDEO_MIN_BYTES or dur < WLAN_VIDEO_MIN_SECONDS:
        return False
    if c.bytes_up < MEDIA_UP_DOWN_RATIO * max(c.bytes_down, 1):
        return False
    mean = c.bytes_up / max(c.packets_up, 1)
    return c.bytes_up / dur >= WLAN_VIDEO_MIN_RATE and mean >= WLAN_VIDEO_MIN_PACKET


def _assess_wlan(
    inv: Inventory, dkey: str, convs: list[Conversation], country: str | None
) -> Finding | None:
    dev = inv.devices.get(dkey)
    role = dev.role if dev else Role.UNKNOWN.value
    if role not in FACE_CAPABLE and not looks_like_video_vendor(inv, dev):
        return None
    video = [c for c in convs if wlan_video_shape(c)]
    if not video:
        return None
    # streaming to a recorder or edge server on the premises stays on the premises
    local_sinks = {
        c.peer_mac
        for c in video
        if c.peer_mac in inv.devices and inv.devices[c.peer_mac].role in LOCAL_SINK_ROLES
    }
    video = [c for c in video if c.peer_mac not in local_sinks]
    if not video:
        return None
    ev = _Ev(inv.files)
    up = sum(c.bytes_up for c in video)
    first = min(c.first_ts for c in video)
    last = max(c.last_ts for c in video)
    peers = sorted({c.peer_mac or "" for c in video})
    for c in video:
        ev.add(
            c.first_frame[0],
            c.first_frame[1],
            R.phrase(
                R.EV_WLAN_FRAME,
                device=dkey,
                peer=str(c.peer_mac),
                up=c.bytes_up,
                packets=c.packets_up,
                seconds=c.last_ts - c.first_ts,
            ),
        )
    _role_evidence(ev, dev)
    vendor: Any = dev.vendor if dev and dev.vendor else R.part("unknown vendor")
    reason_parts = [
        R.part(
            "seen only as encrypted 802.11: a {role} device ({vendor}) sends a steady "
            "video-shaped upstream ({up:,} bytes over {seconds:.0f} s) through {peers}; the "
            "final destination cannot be seen, so it may leave the premises",
            role=R.term("role", role) if role != Role.UNKNOWN else R.part("camera-vendor"),
            vendor=vendor,
            up=up,
            seconds=round(last - first, 3),
            peers=", ".join(peers),
        )
    ]
    reason = R.join(reason_parts)
    dest = _destination(None, None)
    peer_key = peers[0] if peers else ""
    level = Level.POSSIBLE
    return Finding(
        id=finding_id(dkey, peer_key, level),
        kind="wlan-camera-upstream",
        level=level,
        device=dkey,
        device_mac=dev.mac if dev else dkey,
        device_ip=None,
        device_role=role,
        device_label=_device_label(dev, dkey),
        path=[
            {
                "stage": 0,
                "kind": "device",
                "key": dkey,
                "mac": dev.mac if dev else dkey,
                "ip": None,
                "role": role,
                "label": _device_label(dev, dkey),
                "to": peers,
                "how": None,
            },
            {
                "stage": 1,
                "kind": "link",
                "key": peer_key,
                "ip": None,
                "label": f"802.11 peer {peer_key} (destination beyond it unknown)",
                "provider": None,
                "category": None,
            },
        ],
        destination=dest,
        bytes_up=up,
        bytes_down=sum(c.bytes_down for c in video),
        bursts=[],
        image_bursts=0,
        shape="media",
        first_ts=_iso(first),
        last_ts=_iso(last),
        reason=reason,
        reason_parts=reason_parts,
        evidence=ev.items,
        faces=[],
        face_images=0,
        flows=_flow_selectors(inv, dev, video),
        cross_border=None,
        provisions=provisions_for(country, level, None),
        transport=["wlan"],
        plaintext=False,
    )
