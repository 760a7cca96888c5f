"""Device roles from combined evidence: signatures, discovery, services, traffic shape."""

from __future__ import annotations

from collections import defaultdict

from netscan.inventory.inventory import Inventory
from netscan.inventory.model import Conversation, Device

MEDIA_MIN_BYTES = 200_000  # a sustained media stream sends at least this much
ROUTER_MIN_OFFSITE_PEERS = 3


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
        if c.peer_device and c.transport == "udp" and c.bytes_up > MEDIA_MIN_BYTES * 5:
            if c.packets_up > 10 * max(1, c.packets_down):
                media_sources[c.peer_device].add(c.device)
        if c.peer_mac and not inv.premises.is_premises(c.peer_ip) and c.peer_mac in inv.devices:
            offsite_peers_via[c.peer_mac].add(c.peer_ip)
    for receiver, senders in media_sources.items():
        for s in senders:
            hints[s].append(("camera", 0.6, "sends a sustained media stream to a local device"))
        if len(senders) >= 2:
            hints[receiver].append(
                ("edge-server", 0.5, f"receives media streams from {len(senders)} local devices")
            )
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


def assign_roles(inv: Inventory, convs: list[Conversation]) -> None:
    """Set ``role`` and ``role_confidence`` on every device."""
    extra = traffic_hints(inv, convs)
    for key, dev in inv.devices.items():
        hints = list(dev.role_hints) + _service_hints(dev) + extra.get(key, [])
        if not hints:
            dev.role, dev.role_confidence = "unknown", 0.0
            continue
        scored = _combine(hints)
        # a face terminal or NVR signature is more specific than "camera"
        order = {"face-terminal": 3, "nvr": 2, "doorbell": 2, "edge-server": 1}
        role, (conf, whys) = max(
            scored.items(), key=lambda kv: (round(kv[1][0], 2), order.get(kv[0], 0))
        )
        dev.role = role
        dev.role_confidence = round(conf, 2)
        dev.role_reasons = whys[:8]
