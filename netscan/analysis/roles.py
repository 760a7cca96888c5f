"""Device roles from combined evidence: signatures, the pack's role rules, behaviours.

Every word that decides a role is data in the signature pack: device signatures say what a
device announces (and which role that supports), and role rules (``signatures/role/``) weigh
device facts (host names, mDNS models and services, DHCP vendor classes and parameter lists,
user agents, names asked for, paths posted) and behaviours measured here from the flows
(``netscan.signatures.pack.BEHAVIOURS``) into report roles. This module only measures the
behaviours, gathers each device's facts as observations, matches them against the rules and
combines what fired (noisy-or per role).

It also names each device's ``manufacturer`` from what the device says about itself (device
signatures on discovery replies, banners, realms, names; mDNS TXT records), beside ``vendor``,
the registrant of its MAC block.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from netscan import reasons as R
from netscan.inventory.enrich import is_locally_administered
from netscan.inventory.inventory import Inventory
from netscan.inventory.model import (
    CAMERA_FAMILY,
    GENERIC_VIDEO,
    MODULE_ROLE,
    ROLES,
    SIGNATURE_ONLY_ROLES,
    VIDEO_SIGNATURE_ROLES,
    Conversation,
    Device,
    Role,
)
from netscan.limits import (
    LOCAL_STREAM_MIN_BYTES,
    VENDOR_CLOUD_UPLOAD_MIN_BYTES,
    WLAN_VIDEO_MIN_BYTES,
    WLAN_VIDEO_MIN_RATE,
)
from netscan.signatures.matcher import Matcher, SigMatch
from netscan.signatures.pack import BEHAVIOURS, RULE_CATEGORY, Pack

EDGE_UPLOAD_BYTES = 4_000  # a stream-pulling box that sends this much off-site forwards
HOUSEKEEPING_PORTS = frozenset({53, 123})  # DNS and NTP: every box talks them off-site
ROUTER_MIN_OFFSITE_PEERS = 3  # the MAC behind this many off-site addresses is a gateway
# ... or behind one, when it also answers the premises' DNS (the usual home/shop router) or
# starts no conversation of its own
MAX_OBSERVED = 64  # facts of one kind taken from one device (names, agents, paths)
REASON_VALUE_CHARS = 80
# fields that a client's request carries: they describe the server, not the requester
SERVER_FIELDS = {"rtsp_path": "rtsp", "http_path_prefix": "http"}
# signature fields that only say who registered the MAC block, not what the device says
REGISTRY_FIELDS = frozenset({"oui_prefix", "oui_vendor"})

Hint = tuple[str, float, str]
Phrase = tuple[str, dict[str, Any]]  # an English line and its part (``reasons.phrase``)


# -- the pack's role rules -------------------------------------------------------------------

_RULES: dict[int, tuple[Pack, Matcher]] = {}


def rules_for(pack: Pack) -> Matcher:
    """A matcher over the pack's role rules only (built once per pack)."""
    hit = _RULES.get(id(pack))
    if hit is not None and hit[0] is pack:
        return hit[1]
    sub = Pack(
        signatures=[s for s in pack.signatures if s.category == RULE_CATEGORY],
        version=pack.version,
    )
    matcher = Matcher(sub)
    if len(_RULES) >= 8:
        _RULES.clear()
    _RULES[id(pack)] = (pack, matcher)
    return matcher


def _pack_of(inv: Inventory) -> Pack:
    pack = getattr(inv.matcher, "pack", None)
    if isinstance(pack, Pack):
        return pack
    from netscan.signatures.pack import load_active_pack

    global _ACTIVE
    if _ACTIVE is None:
        _ACTIVE = load_active_pack()
    return _ACTIVE


_ACTIVE: Pack | None = None


def _combine(hints: list[Hint]) -> dict[str, tuple[float, list[str]]]:
    """Noisy-or per role: independent pieces of evidence reinforce each other."""
    acc: dict[str, tuple[float, list[str]]] = {}
    for role, conf, why in hints:
        p, whys = acc.get(role, (0.0, []))
        if why in whys:
            continue
        acc[role] = (1 - (1 - p) * (1 - conf), [*whys, why])
    return acc


# -- behaviours ------------------------------------------------------------------------------


def behaviours(inv: Inventory, convs: list[Conversation]) -> dict[str, dict[str, str]]:
    """``{device key: {behaviour: what was seen}}`` for the behaviours of the pack's
    vocabulary, measured from the conversations and the inventory."""
    return {k: {b: w[0] for b, w in bs.items()} for k, bs in _behaviours(inv, convs).items()}


def _behaviours(inv: Inventory, convs: list[Conversation]) -> dict[str, dict[str, Phrase]]:
    """``behaviours``, each with the part its line was made of."""
    out: dict[str, dict[str, Phrase]] = defaultdict(dict)
    media_sources: dict[str, set[str]] = defaultdict(set)  # receiver -> senders of media
    offsite_peers_via: dict[str, set[str]] = defaultdict(set)
    offsite_up: dict[str, int] = defaultdict(int)
    resolvers: set[str] = set()  # premises devices that answer DNS
    # the streaming services' server ports (RTSP): the pack's role rules name them
    media_ports = _pack_of(inv).media_server_ports
    for c in convs:
        dev = inv.devices.get(c.device)
        if dev is None:
            continue
        media_server = (c.transport, c.port) in media_ports
        # a media server that streams (the server side is the peer of a client conversation)
        if media_server and c.peer_device and c.bytes_down > LOCAL_STREAM_MIN_BYTES:
            media_sources[c.device].add(c.peer_device)
        if c.peer_device and c.transport == "udp":
            # media over UDP (RTP, P2P video): one side sends far more packets than it gets
            up, down = c.bytes_up, c.bytes_down
            if up > LOCAL_STREAM_MIN_BYTES and c.packets_up > 3 * max(1, c.packets_down):
                media_sources[c.peer_device].add(c.device)
            elif down > LOCAL_STREAM_MIN_BYTES and c.packets_down > 3 * max(1, c.packets_up):
                media_sources[c.device].add(c.peer_device)
        if c.peer_device is None and inv.premises.is_offsite(c.peer_ip):
            if c.port not in HOUSEKEEPING_PORTS:
                offsite_up[c.device] += c.bytes_up
            sustained = c.bytes_up >= VENDOR_CLOUD_UPLOAD_MIN_BYTES
            if sustained and c.bytes_up >= 3 * max(1, c.bytes_down):
                ep = inv.endpoints.get(c.peer_ip)
                if ep is not None and ep.category == "vendor-cloud":
                    out[c.device]["uploads-to-camera-cloud"] = R.phrase(
                        R.BEH_CLOUD_UPLOAD, bytes=c.bytes_up, provider=str(ep.provider)
                    )
        if (
            c.peer_mac
            and c.peer_ip
            and not inv.premises.is_premises(c.peer_ip)
            and c.peer_mac in inv.devices
        ):
            offsite_peers_via[c.peer_mac].add(c.peer_ip)
        if c.port == 53 and c.peer_device and c.device_is_client:
            resolvers.add(c.peer_device)
    for receiver, senders in media_sources.items():
        for s in senders:
            out[s].setdefault("streams-media", R.phrase(R.BEH_STREAMS))
        if len(senders) >= 2:
            out[receiver]["records-streams"] = R.phrase(R.BEH_RECORDS, n=len(senders))
            if offsite_up.get(receiver, 0) >= EDGE_UPLOAD_BYTES:
                out[receiver]["records-streams-uploads-offsite"] = R.phrase(
                    R.BEH_RECORDS_UPLOADS, n=len(senders), bytes=offsite_up[receiver]
                )
    talkers = {c.device for c in convs if c.device_is_client and c.transport != "wlan"}
    for mac, peers in offsite_peers_via.items():
        # a MAC that off-site traffic comes through and that starts no conversation of its
        # own is a gateway too (a device behind it would be the one talking)
        if len(peers) >= ROUTER_MIN_OFFSITE_PEERS or mac in resolvers or mac not in talkers:
            n = len(peers)
            if mac in resolvers:
                msg = R.BEH_FORWARDS_DNS if n > 1 else R.BEH_FORWARDS_ONE_DNS
            else:
                msg = R.BEH_FORWARDS if n > 1 else R.BEH_FORWARDS_ONE
            out[mac]["forwards-offsite"] = R.phrase(msg, n=n)
    for mac, frame in inv.link.ra_senders.items():
        if mac in inv.devices:
            out[mac]["advertises-routes"] = R.phrase(R.BEH_ROUTER_ADVERTS, frame=frame)
    wired = {c.device for c in convs if c.transport != "wlan"}
    for c in convs:
        if c.transport == "wlan" and c.device not in wired and _wlan_video(c):
            out[c.device]["wlan-video-upstream"] = R.phrase(R.BEH_WLAN_VIDEO)
    for key, dev in inv.devices.items():
        rtsp = [k for k, svc in sorted(dev.services.items()) if svc.get("protocol") == "rtsp"]
        if rtsp:
            out[key]["serves-rtsp"] = R.phrase(R.BEH_SERVES_RTSP, services=", ".join(rtsp[:4]))
        if dev.mac and is_locally_administered(dev.mac) and _speaks_as_client(dev):
            out[key]["private-mac-client"] = R.phrase(R.BEH_PRIVATE_MAC)
    # only words of the pack's vocabulary leave here (the pack validates rules against it)
    return {k: {b: w for b, w in bs.items() if b in BEHAVIOURS} for k, bs in out.items()}


def _wlan_video(c: Conversation) -> bool:
    dur = max(c.last_ts - c.first_ts, 1.0)
    return (
        c.bytes_up >= WLAN_VIDEO_MIN_BYTES
        and c.bytes_up / dur >= WLAN_VIDEO_MIN_RATE
        and c.bytes_up >= 3 * max(c.bytes_down, 1)
    )


def _speaks_as_client(dev: Device) -> bool:
    """Whether the device speaks for itself like a personal device does: DHCP, names,
    mDNS, DNS or web requests (not only as a hop or a stream)."""
    return bool(
        dev.dhcp or dev.hostnames or dev.user_agents or dev.dns_queries or "mdns" in dev.services
    )


# -- facts of a device, as observations in the pack's vocabulary --------------------------


def _hex(s: str) -> str:
    return "".join(c for c in s.lower() if c in "0123456789abcdef")


def trusted_signature(dev: Device, m: dict[str, Any]) -> bool:
    """Whether a device signature match really describes this device."""
    fld = m.get("field") or ""
    if fld == "oui_prefix" and dev.mac:
        # the match may come from another MAC the device mentioned (a DHCP server's ACK)
        val = _hex(str(m.get("value") or ""))
        return bool(val) and _hex(dev.mac).startswith(val[: min(len(val), 12)][:6])
    proto = SERVER_FIELDS.get(fld)
    if proto is not None:
        return any(svc.get("protocol") == proto for svc in dev.services.values())
    return True


def _signature_roles(dev: Device) -> list[str]:
    return sorted(
        {
            str(m["role"])
            for m in dev.matches.values()
            if m.get("role") and trusted_signature(dev, m)
        }
    )


def _mdns_service_type(name: str) -> str | None:
    labels = name.lower().rstrip(".").split(".")
    for i in range(len(labels) - 1):
        if labels[i + 1] in ("_tcp", "_udp") and labels[i].startswith("_"):
            return f"{labels[i]}.{labels[i + 1]}"
    return None


def _first(items: Iterable[str]) -> list[str]:
    """The first ``MAX_OBSERVED`` distinct non-empty items, in order."""
    out: list[str] = []
    seen: set[str] = set()
    for x in items:
        if x and x not in seen:
            seen.add(x)
            out.append(x)
            if len(out) >= MAX_OBSERVED:
                break
    return out


def facts(
    dev: Device, seen: dict[str, str], posted: list[tuple[str, Any]]
) -> list[tuple[str, Any]]:
    """What is known of ``dev`` as ``(pack field, value)`` pairs: its names, mDNS services
    and models, DHCP classes and parameter list, user agents, names it asked for, what it
    posted, its MAC registrant, the roles of its device signatures and its behaviours."""
    out: list[tuple[str, Any]] = []
    out.extend(("hostname", h) for h in _first(sorted(dev.hostnames)))
    mdns = dev.services.get("mdns", {})
    services = (t for t in map(_mdns_service_type, mdns.get("names", [])) if t)
    out.extend(("mdns_service", s) for s in _first(services))
    models = [*mdns.get("models", []), *([dev.model] if dev.model else [])]
    out.extend(("mdns_model", m) for m in _first(models))
    if dev.dhcp.get("vendor_class"):
        out.append(("dhcp_vendor_class", str(dev.dhcp["vendor_class"])))
    if dev.dhcp.get("v6_vendor_class"):  # "<enterprise>:<data>" (311:MSFT 5.0)
        head, sep, data = str(dev.dhcp["v6_vendor_class"]).partition(":")
        out.append(("dhcp_vendor_class", data if sep and head.isdigit() else head))
    if dev.dhcp.get("prl"):
        out.append(("dhcp_prl", str(dev.dhcp["prl"])))
    for _key, svc in sorted(dev.services.items())[:MAX_OBSERVED]:
        # what the device's own answers say: banners and Digest realms
        proto = svc.get("protocol")
        if proto in ("http", "rtsp") and svc.get("server"):
            out.append((f"{proto}_server", str(svc["server"])))
        if proto == "rtsp" and svc.get("realm"):
            out.append(("rtsp_realm", str(svc["realm"])))
    out.extend(("http_user_agent", ua) for ua in _first(sorted(dev.user_agents)))
    out.extend(("dns_name", n) for n in _first(sorted(dev.dns_queries | dev.requested_hosts)))
    out.extend(("http_path_prefix", p) for p in _first(dev.requested_paths))
    out.extend(posted[: 2 * MAX_OBSERVED])
    if dev.vendor:
        out.append(("oui_vendor", dev.vendor))
    out.extend(("device_role", r) for r in _signature_roles(dev))
    out.extend(("behaviour", b) for b in seen)
    return out


def _posted(inv: Inventory) -> dict[str, list[tuple[str, Any]]]:
    """Request paths and bodies each device posted (a kept response, such as an ADMS
    getrequest answer, speaks for the device that asked for it)."""
    out: dict[str, list[tuple[str, Any]]] = defaultdict(list)
    for ev in inv.bodies:
        ctx = ev.ctx
        poster = ctx.dst_mac if ev.method == "RESPONSE" else ctx.src_mac
        if poster not in inv.devices or len(out[poster]) >= 2 * MAX_OBSERVED:
            continue
        out[poster].append(("content_marker", ev.body))
        if ev.path:  # the path the device posted to, or asked for (an answer's request)
            out[poster].append(("http_path_prefix", ev.path))
    return out


def _why(m: SigMatch, seen: dict[str, Any]) -> Phrase:
    """A reason line (and its part): what was seen and the rule that weighed it. ``seen``
    holds each behaviour's line, or its line and part."""
    what: Any
    if m.field == "behaviour":
        line = seen.get(m.value.lower(), m.value)
        what = line[1] if isinstance(line, tuple) else str(line)
    elif m.field == "content_marker":
        what = R.part(R.ROLE_POSTS, name=m.name.lower())
    else:
        value = " ".join(m.value.split())  # rendered escaped by every report
        if len(value) > REASON_VALUE_CHARS:
            value = value[: REASON_VALUE_CHARS - 1] + "…"
        template = R.ROLE_FIELDS.get(m.field)
        what = (R.part(template, value=value) if template
                else R.part(R.ROLE_FACT, field=m.field.replace("_", " "), value=value))  # fmt: skip
    return R.phrase(R.ROLE_RULE, what=what, rule=m.sig_id)


def rule_hints(
    rules: Matcher,
    known: list[tuple[str, Any]],
    seen: dict[str, Any],
    parts: dict[str, dict[str, Any]] | None = None,
) -> list[Hint]:
    """Role hints from the rules that fire on what is known of a device: each rule counts
    once (its strongest hit), so repeating a fact does not reinforce it. ``seen`` holds each
    behaviour's line (or line and part); ``parts`` gets the part of each reason."""
    best: dict[str, SigMatch] = {}
    for m in rules.match_facts(known):
        prev = best.get(m.sig_id)
        # a match_all rule reports the behaviour it weighed, if it weighed one
        if m.role and (
            prev is None
            or m.confidence > prev.confidence
            or (m.field == "behaviour" and prev.field != "behaviour")
        ):
            best[m.sig_id] = m
    out: list[Hint] = []
    for _, m in sorted(best.items()):
        why, part = _why(m, seen)
        if parts is not None:
            parts.setdefault(why, part)
        out.append((str(m.role), m.confidence, why))
    return out


def _device_hints(dev: Device) -> list[Hint]:
    """Role hints of the device signatures that fired on the device (and describe it)."""
    untrusted = {
        f"signature {sig}" for sig, m in dev.matches.items() if not trusted_signature(dev, m)
    }
    out: list[Hint] = []
    for role, conf, why in dev.role_hints:
        if why in untrusted:
            continue
        if role in SIGNATURE_ONLY_ROLES and role != GENERIC_VIDEO:
            mapped = SIGNATURE_ONLY_ROLES[role]
            if mapped is None:
                continue
            out.append((mapped, conf * 0.5, why))
        else:
            out.append((role, conf, why))
    return out


def looks_like_video_vendor(inv: Inventory, dev: Device | None) -> bool:
    """Whether the registrant of the device's MAC block is one the role rules count as a
    video-device maker (the rules that pair a registrant with a video-shaped upstream)."""
    if dev is None or not dev.vendor:
        return False
    rules = rules_for(_pack_of(inv))
    probe = [("behaviour", "wlan-video-upstream"), ("oui_vendor", dev.vendor)]
    return any(
        m.role in CAMERA_FAMILY and m.field == "oui_vendor" for m in rules.match_facts(probe)
    )


# -- the manufacturer ------------------------------------------------------------------------


def manufacturer(inv: Inventory, dev: Device) -> tuple[str | None, str | None]:
    """(maker, why) from what the device says about itself: the most confident device
    signature that fired on its own words (discovery replies, banners, realms, names,
    certificates), else the maker its mDNS TXT records name. The MAC registrant is not
    asked: that is ``vendor``."""
    best: tuple[float, str, str] | None = None
    for sig_id, m in sorted(dev.matches.items()):
        if m.get("field") in REGISTRY_FIELDS or not trusted_signature(dev, m):
            continue
        if m.get("role") == MODULE_ROLE or not m.get("vendor"):
            continue
        sig = _pack_of(inv).by_id.get(sig_id)
        if sig is not None and sig.jurisdiction == "ZZ":  # a standard, not a maker
            continue
        conf = float(m.get("confidence") or 0)
        if best is None or conf > best[0]:
            best = (conf, str(m["vendor"]), f"signature {sig_id} ({m.get('field')})")
    if best is not None:
        return best[1], best[2]
    makers = dev.services.get("mdns", {}).get("makers", [])
    if makers:
        return str(makers[0])[:120], "mDNS TXT record"
    return None, None


# -- putting it together ---------------------------------------------------------------------


def assign_roles(inv: Inventory, convs: list[Conversation]) -> None:
    """Set ``role``, ``role_confidence``, ``role_reasons`` and ``manufacturer`` on every
    device."""
    rules = rules_for(_pack_of(inv))
    seen_all = _behaviours(inv, convs)
    posted = _posted(inv)
    order = {Role.FACE_TERMINAL: 3, Role.NVR: 2, Role.DOORBELL: 2, Role.EDGE_SERVER: 1}
    for key, dev in inv.devices.items():
        dev.manufacturer, dev.manufacturer_source = manufacturer(inv, dev)
        seen = seen_all.get(key, {})
        parts = dict(dev.role_hint_parts)
        known = facts(dev, seen, posted.get(key, []))
        hints = _device_hints(dev) + rule_hints(rules, known, seen, parts)
        generic = [h for h in hints if h[0] == GENERIC_VIDEO]
        specific = [h for h in hints if h[0] != GENERIC_VIDEO and h[0] in ROLES]
        if not specific and not generic:
            dev.role, dev.role_confidence, dev.role_reasons = Role.UNKNOWN.value, 0.0, []
            dev.role_reason_parts = []
            continue
        if not specific:
            role, (conf, whys) = (
                Role.CAMERA,
                _combine([(Role.CAMERA, c * 0.8, w) for _, c, w in generic])[Role.CAMERA],
            )
        else:
            scored = _combine(specific)
            # a face terminal or NVR is more specific than "camera"
            role, (conf, whys) = max(
                scored.items(), key=lambda kv: (round(kv[1][0], 2), order.get(kv[0], 0))
            )
            if role in CAMERA_FAMILY and generic:
                for _r, c, w in generic:
                    if w not in whys:
                        conf = 1 - (1 - conf) * (1 - c)
                        whys = [*whys, w]
        dev.role = str(role)  # a plain word (Role members are str subclasses)
        dev.role_confidence = round(conf, 2)
        dev.role_reasons = whys[:8]
        dev.role_reason_parts = [parts.get(w) or {} for w in dev.role_reasons]


__all__ = [
    "VIDEO_SIGNATURE_ROLES",
    "assign_roles",
    "behaviours",
    "looks_like_video_vendor",
    "manufacturer",
    "facts",
    "rule_hints",
    "rules_for",
    "trusted_signature",
]
