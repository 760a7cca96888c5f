"""The pack against the observation stage: every field the pack format allows has a producer
(an event, a flow, an address, or the facts role rules weigh), every event type is placed in
the observation table, every example of the pack fires through the observations the matcher
sees, and end to end through a capture generated from the examples (tests/signatures/
example_packets.py; the fields no packet can carry are listed there with the reason).
The inventory attaches hits to the subject each observation names."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from netscan import events as ev
from netscan.analysis.roles import facts
from netscan.analyze import Analyzer, Options
from netscan.events import Ctx
from netscan.inventory.inventory import Inventory
from netscan.inventory.model import Device
from netscan.observations import (
    EVENT_OBSERVERS,
    SENDER,
    WEAK_FIELDS,
    Subject,
    address_observations,
    observe,
    port_observation,
)
from netscan.signatures.matcher import Matcher
from netscan.signatures.pack import RULE_CATEGORY, load_active_pack
from tests.signatures import example_packets as xp

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "signatures/schema.json").read_text())
SCHEMA_FIELDS = set(SCHEMA["$defs"]["matchBlock"]["properties"])


@cache
def _pack() -> Any:
    return load_active_pack()


@cache
def _matcher() -> Matcher:
    return Matcher(_pack())


def _ctx(**kw: Any) -> Ctx:
    base: dict[str, Any] = {"file": 0, "frame": 1, "ts": 1.0, "src_mac": "02:00:5e:00:00:09",
                            "dst_mac": "02:00:5e:00:00:0a", "src_ip": "192.168.1.9",
                            "dst_ip": "192.168.1.10", "sport": 40000, "dport": 80,
                            "transport": "tcp"}  # fmt: skip
    base.update(kw)
    return Ctx(**base)


def _full_events() -> list[ev.Event]:
    """One event of each type with every field set that the type can carry."""
    c = _ctx()
    rec = ev.DnsRecord
    return [
        ev.DhcpEvent(ctx=c, msg_type=3, client_mac="38:af:29:00:00:01", hostname="h",
                     fqdn="h.example", vendor_class="udhcp", param_request_list=[1, 3]),
        ev.Dhcpv6Event(ctx=c, fqdn="h6.example", vendor_class="311:MSFT 5.0"),
        ev.DnsEvent(ctx=c, queries=[("a.example", "A")]),
        ev.DnsEvent(ctx=c, proto="mdns", is_response=True, answers=[
            rec(name="_http._tcp.local", rtype="PTR", value="cam._http._tcp.local")]),
        ev.TlsClientHelloEvent(ctx=c, sni="s.example", ja3="771,1", ja3_hash="0" * 32,
                               ja4="t13d"),
        ev.TlsCertificateEvent(ctx=c, subject="CN=x", issuer="CN=y", san=["s.example"]),
        ev.HttpRequestEvent(ctx=c, method="GET", path="/p", host="h.example",
                            user_agent="ua", content_type="text/plain"),
        ev.HttpResponseEvent(ctx=c, status=200, server="srv", content_type="text/html"),
        ev.HttpBodyEvent(ctx=c, method="POST", path="/p", host="h.example", body=b"x"),
        ev.RtspEvent(ctx=c, method="DESCRIBE", url="rtsp://h/p"),
        ev.RtspEvent(ctx=c, is_response=True, server="s", realm="r"),
        ev.SsdpEvent(ctx=c, method="NOTIFY", server="s", usn="u", nt="n"),
        ev.WsdEvent(ctx=c, action="Hello", types=["t"], scopes=["s"]),
        ev.VendorDiscoveryEvent(ctx=c, protocol="sadp", is_response=True),
    ]  # fmt: skip


def _full_device() -> tuple[Device, dict[str, str], list[tuple[str, Any]]]:
    dev = Device(key="02:00:5e:00:00:09", mac="02:00:5e:00:00:09", first_ts=0, last_ts=0,
                 vendor="Some Registrant", model="M1", hostnames={"h": "dhcp"},
                 dhcp={"vendor_class": "v", "v6_vendor_class": "311:MSFT 5.0", "prl": "1,3"},
                 user_agents={"ua"}, dns_queries={"q.example"}, requested_paths=["/p"])  # fmt: skip
    dev.services = {
        "mdns": {"names": ["x._http._tcp.local"], "models": ["M2"]},
        "tcp/80": {"protocol": "http", "server": "s"},
        "tcp/554": {"protocol": "rtsp", "server": "s", "realm": "r"},
    }
    dev.matches = {"device.x": {"role": "camera", "field": "rtsp_server", "vendor": "V"}}
    return dev, {"serves-rtsp": "answers RTSP"}, [("content_marker", b"body")]


def _produced() -> dict[str, str]:
    """Every field some producer emits, with the producer's name."""
    out: dict[str, str] = {}
    for e in _full_events():
        for fname, _v, _s in observe(e):
            out.setdefault(fname, f"event {e.kind}")
    out.setdefault(port_observation("udp", 1)[0], "flow server port")
    for fname, _v, _s in address_observations("203.0.113.1", 64500):
        out.setdefault(fname, "off-site address")
    dev, seen, posted = _full_device()
    for fname, _v in facts(dev, seen, posted):
        out.setdefault(fname, "role facts of a device")
    return out


def test_every_event_type_is_in_the_observation_table() -> None:
    assert set(EVENT_OBSERVERS) == set(ev.EVENT_TYPES)


def test_every_field_of_the_pack_format_has_a_producer() -> None:
    produced = _produced()
    missing = sorted(SCHEMA_FIELDS - set(produced))
    assert not missing, f"pack fields nothing produces: {missing}"
    # and nothing is produced that the matcher would refuse
    assert set(produced) - SCHEMA_FIELDS <= {"tls_cert_san"}


def test_every_field_is_generated_as_a_packet_or_says_why_not() -> None:
    assert xp.GENERATED | set(xp.NOT_GENERATED) == SCHEMA_FIELDS
    assert not xp.GENERATED & set(xp.NOT_GENERATED)
    assert all(len(why) > 20 for why in xp.NOT_GENERATED.values())


def _examples() -> list[tuple[str, dict[str, Any]]]:
    return [
        (s.id, ex) for s in _pack().signatures if s.category != RULE_CATEGORY for ex in s.examples
    ]


def test_every_example_fires_through_observations() -> None:
    m = _matcher()
    failed = []
    for sig_id, ex in _examples():
        obs = [(f, v if not isinstance(v, str) or f != "content_marker" else v.encode(), SENDER)
               for f, v in ex.items()]  # fmt: skip
        if sig_id not in {h.sig_id for h in m.match_observations(obs)}:
            failed.append((sig_id, ex))
    assert not failed


def test_near_misses_do_not_fire_through_observations() -> None:
    m = _matcher()
    fired = []
    for s in _pack().signatures:
        if s.category == RULE_CATEGORY:
            continue
        for nm in s.near_misses:
            obs = [(f, v.encode() if f == "content_marker" and isinstance(v, str) else v, SENDER)
                   for f, v in nm.items()]  # fmt: skip
            if s.id in {h.sig_id for h in m.match_observations(obs)}:
                fired.append((s.id, nm))
    assert not fired


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[xp.Case], Inventory]:
    items, _skipped = xp.cases(_pack())
    path = xp.build(items, tmp_path_factory.mktemp("examples") / "examples.pcap")
    result = Analyzer(Options()).run([str(path)])
    return items, result.inventory


def _fired(case: xp.Case, inv: Inventory) -> bool:
    weak = set(case.example) <= WEAK_FIELDS
    if case.subject == "endpoint":
        target: Any = inv.endpoints.get(case.offsite)
    else:
        target = inv.devices.get(case.device.mac)
    if target is None:
        return False
    if case.subject == "evidence" or weak:
        return any(case.sig_id in e.what for e in target.evidence)
    return case.sig_id in target.matches


def test_every_generated_example_fires_end_to_end(generated: Any) -> None:
    items, inv = generated
    assert len(items) > 200  # most of the pack's examples travel as packets
    failed = [(c.sig_id, c.example) for c in items if not _fired(c, inv)]
    assert not failed, f"{len(failed)} examples did not fire: {failed[:10]}"


def test_left_out_examples_are_only_those_of_ungenerated_fields() -> None:
    _items, skipped = xp.cases(_pack())
    for sig_id, ex, why in skipped:
        if why == xp.NO_BLOCK:  # the registry at hand has no block of that registrant
            assert "oui_vendor" in ex
            continue
        assert set(ex) - xp.GENERATED, (sig_id, ex)
        assert why in xp.NOT_GENERATED.values()
    assert len(skipped) < 10


def test_a_port_alone_names_no_device(generated: Any) -> None:
    """A device serving the Dahua private-protocol port gets an evidence line that says the
    port is not enough, and neither the signature, its role nor a maker."""
    items, inv = generated
    (case,) = [c for c in items if c.example == {"port": "tcp/37777"}]
    dev = inv.devices[case.device.mac]
    assert case.sig_id not in dev.matches
    assert dev.role == "unknown" and dev.manufacturer is None
    assert any("not enough" in e.what and case.sig_id in e.what for e in dev.evidence)


def test_a_port_corroborates_its_signature(generated: Any) -> None:
    """The SADP port on a device whose discovery already named it is evidence of the same
    signature (vendor discovery itself is not generated: it is set up here by its event)."""
    inv = Inventory(matcher=_matcher())
    mac, ip = "02:00:5e:00:77:01", "192.168.1.77"
    ctx = _ctx(src_mac=mac, src_ip=ip, dst_ip="239.255.255.250", dst_mac="01:00:5e:7f:ff:fa",
               sport=37020, dport=37020, transport="udp")  # fmt: skip
    inv.on_event(ev.VendorDiscoveryEvent(ctx=ctx, protocol="sadp", is_response=True), None)
    (sig,) = [s for s in _pack().signatures if "sadp" in {e.value for e in s.match}]
    assert sig.id in inv.devices[mac].matches
    from netscan.inventory.model import Conversation

    conv = Conversation(device="02:00:5e:00:77:02", peer_ip=ip, transport="udp", port=37020,
                        peer_device=mac, first_frame=(0, 5))  # fmt: skip
    inv._observe_ports([conv])
    assert any(
        e.sig_id == sig.id and e.what.startswith("port 'udp/37020' matches")
        for e in inv.devices[mac].evidence
    )


# -- subjects: the inventory attaches each hit to whom the value describes ------------------


OFF = "198.18.7.7"


def _inv() -> Inventory:
    return Inventory(matcher=_matcher())


def test_a_name_looked_up_describes_the_asker_never_the_resolver() -> None:
    inv = _inv()
    q = ev.DnsEvent(ctx=_ctx(dst_ip="8.8.8.8", dport=53, transport="udp"),
                    queries=[("vs-cam.u011.immedia-semi.com", "A"), ("api-cn.faceplusplus.com", "A")])  # fmt: skip
    inv.on_event(q, None)
    dev = inv.devices["02:00:5e:00:00:09"]
    assert "device.amazon-blink-camera" in dev.matches
    assert not inv.endpoints.get("8.8.8.8") or not inv.endpoints["8.8.8.8"].matches


def test_a_request_path_describes_the_premises_server_asked() -> None:
    inv = _inv()
    req = ev.RtspEvent(ctx=_ctx(dport=554), method="DESCRIBE",
                       url="rtsp://192.168.1.10:554/Streaming/Channels/101")  # fmt: skip
    inv.on_event(req, None)
    server = inv.devices["02:00:5e:00:00:0a"]
    assert any(m["field"] == "rtsp_path" for m in server.matches.values())
    assert not inv.devices["02:00:5e:00:00:09"].matches  # not the client that asks


def test_a_certificate_describes_its_sender_on_either_side() -> None:
    inv = _inv()
    cert = ev.TlsCertificateEvent(ctx=_ctx(src_ip=OFF, src_mac="02:00:5e:00:00:0b"),
                                  subject="CN=api-cn.faceplusplus.com", san=["api-cn.faceplusplus.com"])  # fmt: skip
    inv.on_event(cert, None)
    assert inv.endpoints[OFF].matches  # the off-site server, named by its certificate
    assert inv.endpoints[OFF].category == "face-cloud"
    # the same certificate sent by a premises server to an off-site client names nobody
    # off-site: the client is not the certificate
    inv2 = _inv()
    back = ev.TlsCertificateEvent(ctx=_ctx(dst_ip=OFF), subject="CN=api-cn.faceplusplus.com",
                                  san=["api-cn.faceplusplus.com"])  # fmt: skip
    inv2.on_event(back, None)
    assert not inv2.endpoints.get(OFF) or not inv2.endpoints[OFF].matches


def test_sni_names_the_server_for_clouds_and_the_client_for_devices() -> None:
    inv = _inv()
    hello = ev.TlsClientHelloEvent(ctx=_ctx(dst_ip=OFF, dport=443), sni="api-cn.faceplusplus.com")
    inv.on_event(hello, None)
    assert inv.endpoints[OFF].category == "face-cloud"
    assert Subject.CLIENT in {s for _f, _v, s in observe(hello)}


def test_a_sip_body_is_searched_for_content_markers() -> None:
    """Content markers are looked at outside HTTP too: a SIP message body."""
    inv = _inv()
    body = '{"FaceListObject":{"FaceObject":[{"SubImageList":{"SubImageInfoObject":[]}}]}}'
    msg = ev.SipEvent(ctx=_ctx(dst_ip=OFF, dport=5060, transport="udp"), method="MESSAGE",
                      body=body)  # fmt: skip
    inv.on_event(msg, None)
    dev = inv.devices["02:00:5e:00:00:09"]
    assert any(
        e.sig_id == "protocol.gat1400-viid-face" and "image in FaceListObject" in e.what
        for e in dev.evidence
    ), [e.what for e in dev.evidence]
