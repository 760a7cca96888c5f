"""The inventory's tables are bounded and count what they dropped: bodies, devices,
endpoints (named ones outrank bare addresses), per-device addresses and evidence, and
the conversations of retired flows (folded, totals kept)."""

from __future__ import annotations

from netscan.events import Ctx, HttpBodyEvent, WsdEvent
from netscan.flow import Flow
from netscan.inventory.enrich import Premises
from netscan.inventory.inventory import Inventory
from netscan.inventory.model import MAX_IPS, MAX_NAMES
from netscan.limits import INVENTORY_MAX_EVIDENCE, Limits

CAM = "44:19:b6:2e:7c:51"
GW = "50:c7:bf:3a:91:01"


def _body(i: int, size: int) -> HttpBodyEvent:
    ctx = Ctx(0, i + 1, 1.0 + i, CAM, GW, "192.168.1.64", "150.109.20.77", 40000, 80, "tcp")
    return HttpBodyEvent(ctx=ctx, method="POST", path="/up", body=b"x" * size)


def _flow(i: int, peer: str, up: int = 100) -> Flow:
    f = Flow(0, 17, "192.168.1.64", peer, 40000 + i % 20000, 9999, CAM, GW, float(i))
    f.count(True, up, up - 42, float(i), i + 1)
    return f


def test_bodies_bounded_by_count_and_bytes() -> None:
    inv = Inventory(Premises(), limits=Limits(bodies=3, body_bytes=10_000))
    for size in (100, 9000, 5000, 100, 100):  # the 5000 is over the bytes, the last over count
        inv.on_event(_body(len(inv.bodies) + inv.bodies_dropped, size), None)
    assert [len(b.body) for b in inv.bodies] == [100, 9000, 100] and inv.bodies_dropped == 2
    assert inv.limit_warnings() == [
        "2 request bodies beyond the memory budget were not examined for faces (3 bodies / "
        "10000 bytes; --limit bodies=N, --limit body-bytes=SIZE)"
    ]


def test_devices_bounded_and_counted() -> None:
    inv = Inventory(Premises(), limits=Limits(devices=10))
    for i in range(25):
        inv.on_frame_l2(0, i + 1, 1.0, bytes([2, 0, 0, 0, 0, i]), 60)
    assert len(inv.devices) == 10
    assert inv.limit_warnings() == [
        "at least 10 devices beyond the limit of 10 were not inventoried (--limit devices=N)"
    ]


def test_named_endpoints_outrank_bare_addresses() -> None:
    inv = Inventory(Premises(), limits=Limits(endpoints=5))
    for i in range(8):
        inv.on_flow(_flow(i, f"203.0.113.{i + 1}"))
    assert len(inv.endpoints) == 5
    # a name seen in DNS still makes its address an endpoint past the bound (up to twice)
    inv._passive("198.51.100.7", "api.example.com", 0, 99)
    assert inv.endpoints["198.51.100.7"].names == {"api.example.com": "dns"}
    assert any(
        w.startswith("3 off-site addresses beyond the limit of 5") for w in inv.limit_warnings()
    )


def test_addresses_and_evidence_per_device_are_bounded() -> None:
    inv = Inventory(Premises())
    dev = inv.device(CAM, 0, 1, 1.0)
    for i in range(MAX_IPS + 10):
        dev.add_ip(f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}", 1.0)
    for i in range(INVENTORY_MAX_EVIDENCE + 7):
        dev.add_evidence(0, i, f"fact {i}")
    dev.add_evidence(0, 1, "fact 0")  # a repeat is not a drop
    assert len(dev.ips) == MAX_IPS and len(dev.evidence) == INVENTORY_MAX_EVIDENCE
    assert inv.limit_warnings() == [
        f"7 evidence facts beyond {INVENTORY_MAX_EVIDENCE} per device or endpoint were not kept",
        f"10 addresses beyond {MAX_IPS} per device were not kept",
    ]


def test_role_hints_per_device_are_bounded() -> None:
    """A camera answering WS-Discovery all day (or a device repeating the answer on purpose)
    gives its role hint once, not once per message."""
    inv = Inventory(Premises())
    for i in range(500):
        ctx = Ctx(0, i + 1, 1.0 + i, CAM, None, "192.168.1.64", "239.255.255.250", 3702, 3702,
                  "udp")  # fmt: skip
        types = ["dn:NetworkVideoTransmitter", "tds:Device"]
        inv.on_event(WsdEvent(ctx=ctx, action="ProbeMatches", types=types), None)
    dev = inv.devices[CAM]
    assert dev.role_hints == [
        ("camera", 0.8, "answers ONVIF discovery as a NetworkVideoTransmitter")
    ], dev.role_hints[:3]


def test_retired_flows_fold_into_conversations_and_totals_survive() -> None:
    inv = Inventory(Premises(), limits=Limits(conversations=10))
    flows = [_flow(i, f"203.0.113.{i % 40 + 1}", up=100 + i) for i in range(100)]
    for f in flows:
        inv.on_flow(f)
    for f in flows[:90]:
        inv.on_flow_end(f)
    assert len(inv.flows) == 10
    convs = inv.conversations()
    up = sum(c.bytes_up for c in convs) + sum(t.bytes_up for t in inv.folded.values())
    assert up == sum(f.bytes_ab for f in flows)
    assert inv.conversations_folded == sum(t.conversations for t in inv.folded.values()) > 0
    # the largest conversations are the ones kept as rows
    kept = min(c.bytes_up for c in inv._retired.values())
    assert all(t.bytes_up / t.conversations <= kept for t in inv.folded.values())
    inv.seal()
    assert not inv.flows and len(inv.conversations()) <= 10


def test_names_per_device_and_endpoint_are_bounded() -> None:
    """Host names a device gives itself (DHCP, NetBIOS) and names of an off-site endpoint
    (SNI) are kept up to MAX_NAMES each and the rest counted; a name past the bound is
    still matched against the signatures (a face cloud named after 1,000 decoys counts)."""
    from netscan.events import DhcpEvent, NbnsEvent, TlsClientHelloEvent
    from netscan.signatures.matcher import Matcher
    from netscan.signatures.pack import load_active_pack

    inv = Inventory(Premises(), Matcher(load_active_pack()))
    for i in range(600):
        ctx = Ctx(0, i + 1, 1.0 + i, CAM, GW, "192.168.1.64", "192.168.1.1", 68, 67, "udp")
        inv.on_event(DhcpEvent(ctx=ctx, msg_type=3, client_mac=CAM, hostname=f"cam-{i}"), None)
        inv.on_event(NbnsEvent(ctx=ctx, opcode=5, name=f"NB{i}", suffix=0x20), None)
    dev = inv.devices[CAM]
    assert len(dev.hostnames) == MAX_NAMES and dev.names_dropped == 1200 - MAX_NAMES
    assert list(dev.hostnames)[:2] == ["cam-0", "NB0"]
    for i in range(1001):
        sni = f"decoy{i}.example.net" if i < 1000 else "api.youtu.qq.com"
        ctx = Ctx(0, 2000 + i, 700.0 + i, CAM, GW, "192.168.1.64", "150.109.20.77", 40000, 443,
                  "tcp")  # fmt: skip
        inv.on_event(TlsClientHelloEvent(ctx=ctx, sni=sni), None)
    ep = inv.endpoints["150.109.20.77"]
    assert len(ep.names) == MAX_NAMES and ep.names_dropped == 1001 - MAX_NAMES
    assert "api.youtu.qq.com" not in ep.names
    assert [m["value"] for m in ep.matches.values()] == ["api.youtu.qq.com"]
    assert (
        f"names beyond {MAX_NAMES} per device or endpoint were not kept "
        f"({1200 - MAX_NAMES + 1001 - MAX_NAMES:,} sightings; those of endpoints were still "
        "matched against the signatures)"
    ) in inv.limit_warnings()


def test_services_per_device_are_bounded() -> None:
    """A device answering HTTP on every port of a scan lists MAX_SERVICES services, the rest
    counted; a service already listed still takes its new facts."""
    from netscan.events import HttpResponseEvent
    from netscan.inventory.model import MAX_SERVICES

    inv = Inventory(Premises())
    for port in range(1, 201):
        ctx = Ctx(0, port, 1.0 + port, CAM, GW, "192.168.1.64", "192.168.1.10", port, 50000,
                  "tcp")  # fmt: skip
        inv.on_event(HttpResponseEvent(ctx=ctx, status=200, server=f"s{port}"), None)
    dev = inv.devices[CAM]
    assert len(dev.services) == MAX_SERVICES and dev.services_dropped == 200 - MAX_SERVICES
    assert dev.services["tcp/1"]["server"] == "s1" and "tcp/200" not in dev.services
    assert f"{200 - MAX_SERVICES} services beyond {MAX_SERVICES} per device were not listed" in (
        inv.limit_warnings()
    )
