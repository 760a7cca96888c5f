"""Device roles from combined evidence: signatures, discovery, services, traffic shape."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from netscan.inventory.inventory import Inventory
from netscan.inventory.model import ROLES, Conversation, Device

CAMERA_VENDOR_WORDS = (
    "hikvision",
    "dahua",
    "ezviz",
    "uniview",
    "axis communications",
    "hanwha",
    "vivotek",
    "reolink",
    "amcrest",
    "foscam",
)
CLOUD_UPLOAD_BYTES = 1_000_000  # sustained upload to a camera vendor's cloud
MEDIA_MIN_BYTES = 200_000  # a sustained media stream sends at least this much
ROUTER_MIN_OFFSITE_PEERS = 3
CAMERA_SIGNATURE_ROLES = ("camera", "nvr", "doorbell", "face-terminal", "video-device")
# request paths that only face/attendance terminals post
TERMINAL_PATHS = (
    ("/iclock/", "pushes ZKTeco ADMS (iclock) records"),
    ("/isapi/accesscontrol", "pushes Hikvision access-control events"),
)
WLAN_VIDEO_BYTES = 1_000_000
WLAN_VIDEO_RATE = 30_000  # bytes/s


def _combine(hints: list[tuple[str, float, str]]) -> dict[str, tuple[float, list[str]]]:
    """Noisy-or per role: independent pieces of evidence reinforce each other."""
    acc: dict[str, tuple[float, list[str]]] = {}
    for role, conf, why in hints:
        p, whys = acc.get(role, (0.0, []))
        if why in whys:
            continue
        acc[role] = (1 - (1 - p) * (1 - conf), [*whys, why])
    return acc


def traffic_hints(
    inv: Inventory, convs: list[Conversation]
) -> dict[str, list[tuple[str, float, str]]]:
    hints: dict[str, list[tuple[str, float, str]]] = defaultdict(list)
    media_sources: dict[str, set[str]] = defaultdict(set)  # receiver -> senders of media
    offsite_peers_via: dict[str, set[str]] = defaultdict(set)
    for c in convs:
        dev = inv.devices.get(c.device)
        if dev is None:
            continue
        rtsp_server = c.port in (554, 8554) and c.transport == "tcp"
        # an RTSP server that streams (the server side is the peer of a client conversation)
        if rtsp_server and c.peer_device and c.bytes_down > MEDIA_MIN_BYTES:
            media_sources[c.device].add(c.peer_device)
        if c.peer_device and c.transport == "udp":
            # media over UDP (RTP, P2P video): one side sends far more packets than it gets
            if c.bytes_up > MEDIA_MIN_BYTES and c.packets_up > 3 * max(1, c.packets_down):
                media_sources[c.peer_device].add(c.device)
            elif c.bytes_down > MEDIA_MIN_BYTES and c.packets_down > 3 * max(1, c.packets_up):
                media_sources[c.device].add(c.peer_device)
        if c.peer_device is None and c.bytes_up >= CLOUD_UPLOAD_BYTES:
            ep = inv.endpoints.get(c.peer_ip)
            if (
                ep is not None
                and ep.category == "vendor-cloud"
                and c.bytes_up >= 3 * max(1, c.bytes_down)
            ):
                hints[c.device].append(
                    ("camera", 0.5, f"uploads sustained data to the camera cloud {ep.provider}")
                )
        if c.peer_mac and not inv.premises.is_premises(c.peer_ip) and c.peer_mac in inv.devices:
            offsite_peers_via[c.peer_mac].add(c.peer_ip)
    offsite_talkers = {
        c.device for c in convs if c.peer_device is None and inv.premises.is_offsite(c.peer_ip)
    }
    for receiver, senders in media_sources.items():
        for s in senders:
            hints[s].append(("camera", 0.6, "sends a sustained media stream to a local device"))
        if len(senders) >= 2:
            rdev = inv.devices.get(receiver)
            camera_sig = rdev is not None and any(
                m.get("role") in CAMERA_SIGNATURE_ROLES and trusted_signature(rdev, m)
                for m in rdev.matches.values()
            )
            why = f"receives media streams from {len(senders)} local devices"
            if camera_sig:
                # a camera-vendor box that records several cameras is a recorder
                hints[receiver].append(("nvr", 0.6, why))
            elif receiver in offsite_talkers:
                # no camera signature, pulls several streams and talks off-site
                hints[receiver].append(("edge-server", 0.85, why + " and talks off-site"))
            else:
                hints[receiver].append(("edge-server", 0.5, why))
    for mac, peers in offsite_peers_via.items():
        if len(peers) >= ROUTER_MIN_OFFSITE_PEERS:
            hints[mac].append(
                ("router", 0.9, f"forwards traffic for {len(peers)} off-site addresses")
            )
    return hints


def _service_hints(dev: Device) -> list[tuple[str, float, str]]:
    out: list[tuple[str, float, str]] = []
    for key, svc in dev.services.items():
        if svc.get("protocol") == "rtsp":
            out.append(("camera", 0.5, f"serves RTSP on {key}"))
        if key == "mdns":
            names = " ".join(svc.get("names", []))
            if "_ipp._tcp" in names or "_printer._tcp" in names or "_pdl-datastream" in names:
                out.append(("printer", 0.8, "advertises a printer service over mDNS"))
            if "_axis-video" in names:
                out.append(("camera", 0.8, "advertises _axis-video over mDNS"))
            if "_airplay" in names and "_companion-link" in names:
                out.append(("phone", 0.3, "advertises Apple device services"))
    vc = (dev.dhcp.get("vendor_class") or "").lower()
    if vc.startswith("android-dhcp"):
        out.append(("phone", 0.7, f"DHCP vendor class {dev.dhcp.get('vendor_class')}"))
    if vc.startswith("msft"):
        out.append(("computer", 0.4, f"DHCP vendor class {dev.dhcp.get('vendor_class')}"))
    for ua in dev.user_agents:
        low = ua.lower()
        if "windows nt" in low or "macintosh" in low or "x11; linux" in low:
            out.append(("computer", 0.5, "web browser user agent"))
        elif "iphone" in low or "android" in low:
            out.append(("phone", 0.5, "mobile user agent"))
    vendor = (dev.vendor or "").lower()
    if "apple" in vendor and any(h.lower().startswith(("iphone", "ipad")) for h in dev.hostnames):
        out.append(("phone", 0.7, "Apple device named like a phone"))
    if any("laserjet" in h.lower() or "officejet" in h.lower() for h in dev.hostnames):
        out.append(("printer", 0.7, "printer host name"))
    return out


def content_hints(inv: Inventory) -> dict[str, list[tuple[str, float, str]]]:
    """Roles implied by what a device posts: attendance and face terminals."""
    hints: dict[str, list[tuple[str, float, str]]] = defaultdict(list)
    for ev in inv.bodies:
        ctx = ev.ctx
        # a kept response (ADMS getrequest answer) speaks for the device that asked for it
        poster = ctx.dst_mac if ev.method == "RESPONSE" else ctx.src_mac
        key = poster if poster in inv.devices else None
        if key is None:
            continue
        low = (ev.path or "").lower()
        for prefix, why in TERMINAL_PATHS:
            if low.startswith(prefix):
                hints[key].append(("face-terminal", 0.7, why))
        if b"AccessControllerEvent" in ev.body[:4096]:
            hints[key].append(("face-terminal", 0.7, "posts access-control events"))
    return hints


def wlan_hints(
    inv: Inventory, convs: list[Conversation]
) -> dict[str, list[tuple[str, float, str]]]:
    """A device seen only on encrypted 802.11 with a camera vendor's OUI and a steady,
    video-shaped upstream is most likely a camera."""
    hints: dict[str, list[tuple[str, float, str]]] = defaultdict(list)
    wired = {c.device for c in convs if c.transport != "wlan"}
    for c in convs:
        if c.transport != "wlan" or c.device in wired:
            continue
        dev = inv.devices.get(c.device)
        if dev is None:
            continue
        vendor = (dev.vendor or "").lower()
        dur = max(c.last_ts - c.first_ts, 1.0)
        steady = (
            c.bytes_up >= WLAN_VIDEO_BYTES
            and c.bytes_up / dur >= WLAN_VIDEO_RATE
            and c.bytes_up >= 3 * max(c.bytes_down, 1)
        )
        camera_oui = any(w in vendor for w in CAMERA_VENDOR_WORDS) or any(
            m.get("role") in CAMERA_SIGNATURE_ROLES for m in dev.matches.values()
        )
        if steady and camera_oui:
            hints[c.device].append(
                ("camera", 0.6, "camera-vendor OUI with a steady video-shaped 802.11 upstream")
            )
    return hints


# Pack roles that are not report roles: "video-device" supports whichever camera-family role
# the other evidence picks (a camera when nothing else does); the others map or drop.
PACK_ROLE_MAP = {"access-control": "iot", "module": "iot", "vendor-only": None}
CAMERA_FAMILY = ("camera", "nvr", "doorbell", "face-terminal", "edge-server")
GENERIC_VIDEO = "video-device"
# fields that a client's request carries: they describe the server, not the requester
SERVER_FIELDS = {"rtsp_path": "rtsp", "http_path_prefix": "http"}


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


def _device_hints(dev: Device) -> list[tuple[str, float, str]]:
    untrusted = {
        f"signature {sig}" for sig, m in dev.matches.items() if not trusted_signature(dev, m)
    }
    out: list[tuple[str, float, str]] = []
    for role, conf, why in dev.role_hints:
        if why in untrusted:
            continue
        if role in PACK_ROLE_MAP:
            mapped = PACK_ROLE_MAP[role]
            if mapped is None:
                continue
            out.append((mapped, conf * 0.5, why))
        else:
            out.append((role, conf, why))
    return out


def assign_roles(inv: Inventory, convs: list[Conversation]) -> None:
    """Set ``role`` and ``role_confidence`` on every device."""
    extra = traffic_hints(inv, convs)
    for source in (content_hints(inv), wlan_hints(inv, convs)):
        for key, hs in source.items():
            extra.setdefault(key, []).extend(hs)
    order = {"face-terminal": 3, "nvr": 2, "doorbell": 2, "edge-server": 1}
    for key, dev in inv.devices.items():
        hints = _device_hints(dev) + _service_hints(dev) + extra.get(key, [])
        generic = [h for h in hints if h[0] == GENERIC_VIDEO]
        specific = [h for h in hints if h[0] != GENERIC_VIDEO and h[0] in ROLES]
        if not specific and not generic:
            dev.role, dev.role_confidence, dev.role_reasons = "unknown", 0.0, []
            continue
        if not specific:
            role, (conf, whys) = (
                "camera",
                _combine([("camera", c * 0.8, w) for _, c, w in generic])["camera"],
            )
        else:
            scored = _combine(specific)
            # a face terminal or NVR signature is more specific than "camera"
            role, (conf, whys) = max(
                scored.items(), key=lambda kv: (round(kv[1][0], 2), order.get(kv[0], 0))
            )
            if role in CAMERA_FAMILY and generic:
                for _r, c, w in generic:
                    if w not in whys:
                        conf = 1 - (1 - conf) * (1 - c)
                        whys = [*whys, w]
        dev.role = role
        dev.role_confidence = round(conf, 2)
        dev.role_reasons = whys[:8]
