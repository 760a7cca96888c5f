"""The inventory's event handlers and the role stage, event by event (no capture, no engine):
what each handler keeps about a device, within its bounds, and the role and manufacturer the
role stage derives from it with the active pack."""

from __future__ import annotations

import shutil
from functools import cache
from pathlib import Path

import pytest

from netscan.analysis.roles import assign_roles, behaviours, facts, manufacturer
from netscan.events import (
    Ctx,
    DhcpEvent,
    Dhcpv6Event,
    DnsEvent,
    HttpBodyEvent,
    HttpRequestEvent,
    HttpResponseEvent,
    NbnsEvent,
    RtspEvent,
    VendorDiscoveryEvent,
)
from netscan.events import DnsRecord as _Rec
from netscan.inventory import inventory as inv_mod
from netscan.inventory.inventory import Inventory
from netscan.inventory.model import Conversation
from netscan.signatures.matcher import Matcher
from netscan.signatures.pack import load_active_pack

MAC = "f8:bc:12:10:20:30"  # Dell
IP = "192.168.1.77"
GW_MAC, GW_IP = "50:c7:bf:3a:91:01", "192.168.1.1"
OFF = "203.0.113.80"


@cache
def _matcher() -> Matcher:
    return Matcher(load_active_pack())


def _inv() -> Inventory:
    return Inventory(matcher=_matcher())


def ctx(frame: int = 1, src_mac: str = MAC, src_ip: str = IP, dst_mac: str = GW_MAC,
        dst_ip: str = OFF, sport: int = 50000, dport: int = 80, transport: str = "tcp") -> Ctx:  # fmt: skip
    return Ctx(file=0, frame=frame, ts=float(frame), src_mac=src_mac, dst_mac=dst_mac,
               src_ip=src_ip, dst_ip=dst_ip, sport=sport, dport=dport, transport=transport)  # fmt: skip


def _roles(inv: Inventory, convs: list[Conversation] | None = None) -> None:
    assign_roles(inv, convs or [])


def test_dhcp_vendor_class_and_prl_make_a_windows_pc() -> None:
    inv = _inv()
    ev = DhcpEvent(ctx=ctx(dst_ip="255.255.255.255", sport=68, dport=67, transport="udp"),
                   msg_type=3, client_mac=MAC, hostname="RECEPTION-PC", vendor_class="MSFT 5.0",
                   param_request_list=[1, 3, 6, 15, 31, 33, 43, 44, 46, 47, 119, 121, 249, 252])  # fmt: skip
    inv.on_event(ev, None)
    dev = inv.devices[MAC]
    assert dev.dhcp["vendor_class"] == "MSFT 5.0" and "RECEPTION-PC" in dev.hostnames
    _roles(inv)
    assert dev.role == "computer"
    assert any("(role.windows-dhcp-vendor-class)" in r for r in dev.role_reasons)
    assert any("(role.dhcp-os-windows)" in r for r in dev.role_reasons)


def test_dhcpv6_vendor_class_without_enterprise_prefix() -> None:
    inv = _inv()
    ev = Dhcpv6Event(ctx=ctx(src_ip="fe80::1", dst_ip="ff02::1:2", sport=546, dport=547,
                             transport="udp"),
                     msg_type=1, vendor_class="311:MSFT 5.0", enterprise=311)  # fmt: skip
    inv.on_event(ev, None)
    dev = inv.devices[MAC]
    assert ("dhcp_vendor_class", "MSFT 5.0") in facts(dev, {}, [])
    _roles(inv)
    assert dev.role == "computer"


def test_netbios_name_is_a_hostname_and_names_a_windows_pc() -> None:
    inv = _inv()
    ev = NbnsEvent(ctx=ctx(dst_ip="192.168.1.255", sport=137, dport=137, transport="udp"),
                   opcode=5, name="DESKTOP-7K3N0QP", suffix=0x20)  # fmt: skip
    inv.on_event(ev, None)
    dev = inv.devices[MAC]
    assert dev.hostnames == {"DESKTOP-7K3N0QP": "nbns"}
    _roles(inv)
    assert dev.role == "computer"
    # a query for another host's name says nothing about the sender
    other = _inv()
    other.on_event(NbnsEvent(ctx=ctx(transport="udp"), opcode=0, name="DESKTOP-7K3N0QP"), None)
    assert not other.devices[MAC].hostnames


def test_ncsi_request_is_kept_and_weighed() -> None:
    inv = _inv()
    inv.on_event(HttpRequestEvent(ctx=ctx(), method="GET", path="/connecttest.txt",
                                  host="www.msftconnecttest.com", user_agent="Microsoft NCSI"),
                 None)  # fmt: skip
    dev = inv.devices[MAC]
    assert dev.requested_hosts == {"www.msftconnecttest.com"}
    assert dev.requested_paths == ["/connecttest.txt"]
    _roles(inv)
    assert dev.role == "computer" and dev.role_confidence >= 0.7


def test_requests_to_premises_devices_do_not_describe_the_requester() -> None:
    """An admin PC configuring a terminal over ISAPI is not a terminal."""
    inv = _inv()
    inv.on_event(HttpRequestEvent(ctx=ctx(dst_ip="192.168.1.121", dst_mac="44:19:b6:77:10:20"),
                                  method="GET", path="/ISAPI/AccessControl/UserInfo/Search",
                                  host="192.168.1.121"), None)  # fmt: skip
    dev = inv.devices[MAC]
    assert dev.requested_paths == []
    _roles(inv)
    assert dev.role != "face-terminal"


def test_requested_paths_are_bounded() -> None:
    inv = _inv()
    for i in range(inv_mod.MAX_REQUESTED_PATHS + 50):
        inv.on_event(HttpRequestEvent(ctx=ctx(frame=i + 1), method="GET",
                                      path=f"/p/{i}/" + "x" * 1000, host="a.example"), None)  # fmt: skip
    dev = inv.devices[MAC]
    assert len(dev.requested_paths) == inv_mod.MAX_REQUESTED_PATHS
    assert all(len(p) <= inv_mod.MAX_PATH_CHARS for p in dev.requested_paths)


def DnsRecord(name: str, rtype: str, value: str) -> _Rec:  # noqa: N802
    return _Rec(name=name, rtype=rtype, value=value)


def _mdns(*answers: DnsRecord, src_mac: str = MAC) -> DnsEvent:
    return DnsEvent(ctx=ctx(src_mac=src_mac, dst_ip="224.0.0.251", sport=5353, dport=5353,
                            transport="udp"),
                    proto="mdns", is_response=True, answers=list(answers))  # fmt: skip


def test_mdns_txt_model_and_maker() -> None:
    inv = _inv()
    inv.on_event(_mdns(DnsRecord("Kates-MacBook-Pro._device-info._tcp.local", "TXT",
                                 "model=MacBookPro18,3\nosxvers=21")), None)  # fmt: skip
    dev = inv.devices[MAC]
    assert dev.model == "MacBookPro18,3"
    assert dev.services["mdns"]["models"] == ["MacBookPro18,3"]
    _roles(inv)
    assert dev.role == "computer"
    printer = _inv()
    printer.on_event(_mdns(DnsRecord("_ipp._tcp.local", "PTR", "Office._ipp._tcp.local"),
                           DnsRecord("Office._ipp._tcp.local", "TXT",
                                     "ty=HP LaserJet Pro M404dn\nusb_MFG=HP\nusb_MDL=LaserJet")),
                     None)  # fmt: skip
    pdev = printer.devices[MAC]
    assert pdev.services["mdns"]["makers"] == ["HP"]
    _roles(printer)
    assert pdev.role == "printer"
    assert (pdev.manufacturer, pdev.manufacturer_source) == ("HP", "mDNS TXT record")


def test_mdns_txt_is_bounded() -> None:
    inv = _inv()
    txt = "\n".join(f"model=M{i}" for i in range(500)) + "\nty=" + "y" * 5000
    inv.on_event(_mdns(DnsRecord("x._device-info._tcp.local", "TXT", txt)), None)
    models = inv.devices[MAC].services["mdns"]["models"]
    assert len(models) == 8 and all(len(m) <= inv_mod.MDNS_TXT_VALUE for m in models)


def test_private_mac_with_apple_services_is_a_phone() -> None:
    mac = "da:a1:19:5e:22:41"
    inv = _inv()
    inv.on_event(_mdns(DnsRecord("_companion-link._tcp.local", "PTR",
                                 "Kate._companion-link._tcp.local"), src_mac=mac), None)  # fmt: skip
    assert "private-mac-client" in behaviours(inv, [])[mac]
    _roles(inv)
    assert inv.devices[mac].role == "phone" and inv.devices[mac].vendor is None


def test_private_mac_alone_is_not_a_phone() -> None:
    mac = "22:00:00:22:82:ac"
    inv = _inv()
    inv.on_event(DhcpEvent(ctx=ctx(src_mac=mac, transport="udp"), msg_type=3, client_mac=mac,
                           hostname="rtthread"), None)  # fmt: skip
    _roles(inv)
    assert inv.devices[mac].role == "unknown"


def test_rtsp_realm_names_a_camera_and_banner_facts() -> None:
    inv = _inv()
    cam_mac, cam_ip = "f8:bc:12:10:20:99", "192.168.1.99"
    ev = RtspEvent(ctx=ctx(src_mac=cam_mac, src_ip=cam_ip, dst_mac=MAC, dst_ip=IP, sport=554,
                           dport=50000),
                   is_response=True, status=401, realm="IP Camera(51242)")  # fmt: skip
    inv.on_event(ev, None)
    cam = inv.devices[cam_mac]
    assert ("rtsp_realm", "IP Camera(51242)") in facts(cam, {}, [])
    _roles(inv)
    assert cam.role == "camera"
    assert any("(role.camera-names-itself)" in r for r in cam.role_reasons)


def test_http_server_banner_of_the_device_itself() -> None:
    inv = _inv()
    cam_mac, cam_ip = "f8:bc:12:10:20:98", "192.168.1.98"
    inv.on_event(HttpResponseEvent(ctx=ctx(src_mac=cam_mac, src_ip=cam_ip, dst_mac=MAC,
                                           dst_ip=IP, sport=80, dport=50000),
                                   status=200, server="Netwave IP Camera"), None)  # fmt: skip
    _roles(inv)
    assert inv.devices[cam_mac].role == "camera"


def test_vendor_discovery_names_the_manufacturer() -> None:
    inv = _inv()
    xm_mac = "00:12:41:8c:3f:2a"
    ev = VendorDiscoveryEvent(ctx=ctx(src_mac=xm_mac, src_ip="192.168.1.10", dst_ip="255.255.255.255",
                                      sport=34569, dport=34569, transport="udp"),
                              protocol="xiongmai", is_response=True,
                              fields={"model": "camera_3f2a", "mac": xm_mac})  # fmt: skip
    inv.on_event(ev, None)
    dev = inv.devices[xm_mac]
    maker, why = manufacturer(inv, dev)
    assert maker == "Hangzhou Xiongmai Technology"
    assert why == "signature device.xiongmai-discovery (vendor_discovery)"
    assert "xiongmai" not in (dev.vendor or "").lower()


def test_registrant_alone_names_no_manufacturer() -> None:
    inv = _inv()
    dev = inv.device("44:19:b6:2e:7c:51", 0, 1, 0.0)  # Hikvision block
    assert "Hikvision" in (dev.vendor or "")
    assert manufacturer(inv, dev) == (None, None)


def test_posted_terminal_paths_and_getrequest_answers() -> None:
    inv = _inv()
    body = HttpBodyEvent(ctx=ctx(dport=8081), method="POST",
                         path="/iclock/cdata?SN=CQUJ224460123&table=ATTLOG", body=b"1\t2\n")  # fmt: skip
    inv.on_event(body, None)
    _roles(inv)
    assert inv.devices[MAC].role == "face-terminal"
    # an ADMS answer kept for the terminal that asked (the answer flows towards it)
    inv2 = _inv()
    inv2.device(MAC, 0, 1, 0.0)  # the terminal, seen before (its first frame)
    answer = HttpBodyEvent(ctx=ctx(src_mac=GW_MAC, src_ip=OFF, dst_mac=MAC, dst_ip=IP,
                                   sport=8081, dport=50000),
                           method="RESPONSE", path="/iclock/getrequest?SN=CQUJ224460123",
                           body=b"OK")  # fmt: skip
    inv2.on_event(answer, None)
    _roles(inv2)
    assert inv2.devices[MAC].role == "face-terminal"


def _conv(dev: str, peer_ip: str, peer_dev: str | None, transport: str, port: int, up: int,
          down: int, pu: int, pd: int, peer_mac: str | None = None) -> Conversation:  # fmt: skip
    return Conversation(device=dev, peer_ip=peer_ip, transport=transport, port=port,
                        peer_device=peer_dev, peer_mac=peer_mac or peer_dev, bytes_up=up,
                        bytes_down=down, packets_up=pu, packets_down=pd, first_ts=0.0,
                        last_ts=10.0, flows=1)  # fmt: skip


@pytest.mark.parametrize(("upload", "role"), [(0, "nvr"), (50_000, "edge-server")])
def test_stream_puller_is_a_recorder_unless_it_forwards(upload: int, role: str) -> None:
    inv = _inv()
    box, cams = MAC, ["c0:56:e3:91:0a:3d", "3c:ef:8c:6a:20:9e"]
    for i, c in enumerate(cams):
        inv.device(c, 0, i + 1, 0.0)
    inv.device(box, 0, 5, 0.0)
    convs = [_conv(c, IP, box, "udp", 60000, 3_000_000, 0, 3000, 0) for c in cams]
    convs.append(_conv(box, "192.168.1.1", GW_MAC, "udp", 53, 80, 120, 1, 1))
    if upload:
        convs.append(_conv(box, OFF, None, "tcp", 443, upload, 2000, 40, 20, peer_mac=GW_MAC))
    seen = behaviours(inv, convs)
    assert "records-streams" in seen[box]
    assert ("records-streams-uploads-offsite" in seen[box]) == bool(upload)
    _roles(inv, convs)
    assert inv.devices[box].role == role
    assert {inv.devices[c].role for c in cams} == {"camera"}


def test_the_media_server_ports_are_the_packs(tmp_path: Path) -> None:
    """A client pulling streams over TCP from a server port makes the server a media sender
    when the pack's role rules name that port (RTSP's in the bundled pack); the port is
    data: a pack that names another one moves the behaviour with it."""
    from netscan.signatures.pack import load_pack
    from tests.signatures.helpers import BUNDLED

    assert load_active_pack().media_server_ports == {("tcp", 554), ("tcp", 8554)}
    box, cams = MAC, ["c0:56:e3:91:0a:3d", "3c:ef:8c:6a:20:9e"]

    def seen(inv: Inventory, port: int) -> dict[str, dict[str, str]]:
        for i, c in enumerate(cams):
            inv.device(c, 0, i + 1, 0.0)
        inv.device(box, 0, 5, 0.0)
        convs = [_conv(box, f"192.168.1.{60 + i}", c, "tcp", port, 400, 3_000_000, 500, 2500)
                 for i, c in enumerate(cams)]  # fmt: skip
        return behaviours(inv, convs)

    for port in (554, 8554):
        got = seen(_inv(), port)
        assert "records-streams" in got[box] and all("streams-media" in got[c] for c in cams)
    assert "records-streams" not in seen(_inv(), 9554).get(box, {})
    pack = tmp_path / "pack"
    shutil.copytree(BUNDLED, pack)
    video = pack / "role" / "video.yaml"
    video.write_text(video.read_text(encoding="utf-8").replace(
        "media_server_ports: [tcp/554, tcp/8554]", "media_server_ports: [tcp/9554]"),
        encoding="utf-8")  # fmt: skip
    moved = load_pack(pack)
    assert moved.media_server_ports == {("tcp", 9554)}
    assert "records-streams" in seen(Inventory(matcher=Matcher(moved)), 9554)[box]
    assert "records-streams" not in seen(Inventory(matcher=Matcher(moved)), 554).get(box, {})


def test_measure_blocks_are_checked(tmp_path: Path) -> None:
    from netscan.signatures.pack import validate_pack
    from tests.signatures.helpers import make_pack, sig_yaml

    rule = "signatures:\n" + sig_yaml(
        "role.xx", "behaviour: [streams-media]", role="camera",
        examples="[{behaviour: streams-media}]",
        extra="    measure:\n      media_server_ports: [tcp/70000]\n",
    )  # fmt: skip
    errors = validate_pack(make_pack(tmp_path / "a", {"role/a.yaml": rule}))
    assert any("media_server_ports" in e and "70000" in e for e in errors), errors
    device = "signatures:\n" + sig_yaml(
        "device.xx", "http_server: [x]", examples="[{http_server: x}]",
        extra="    measure:\n      media_server_ports: [tcp/554]\n",
    )  # fmt: skip
    errors = validate_pack(make_pack(tmp_path / "b", {"device/a.yaml": device}))
    assert any("measure is for role rules" in e for e in errors), errors


def test_gateway_needs_several_offsite_peers_or_dns_or_silence() -> None:
    inv = _inv()
    inv.device(GW_MAC, 0, 1, 0.0)
    inv.device(MAC, 0, 2, 0.0)
    via = _conv(MAC, OFF, None, "tcp", 443, 10, 10, 1, 1, peer_mac=GW_MAC)
    # carries one off-site address and talks itself (a capture artefact, a bridge): not enough
    own = _conv(
        GW_MAC, "198.51.100.9", None, "tcp", 443, 10, 10, 1, 1, peer_mac="02:00:00:00:00:09"
    )
    assert "forwards-offsite" not in behaviours(inv, [via, own]).get(GW_MAC, {})
    # ... unless it also answers the premises' DNS
    dns = _conv(MAC, GW_IP, GW_MAC, "udp", 53, 80, 120, 1, 1)
    assert "forwards-offsite" in behaviours(inv, [via, own, dns])[GW_MAC]
    # a MAC that off-site traffic comes through and that never talks itself is the gateway
    assert "forwards-offsite" in behaviours(inv, [via])[GW_MAC]
    many = [_conv(MAC, f"203.0.113.{i}", None, "tcp", 443, 10, 10, 1, 1, peer_mac=GW_MAC)
            for i in range(3)]  # fmt: skip
    assert "forwards-offsite" in behaviours(inv, [*many, own])[GW_MAC]


def test_role_rules_never_add_packet_evidence() -> None:
    """Role rules weigh a device's facts once, at the end; they do not fire per packet."""
    inv = _inv()
    inv.on_event(HttpRequestEvent(ctx=ctx(), method="GET", path="/connecttest.txt",
                                  host="www.msftconnecttest.com"), None)  # fmt: skip
    assert not [e for e in inv.devices[MAC].evidence if (e.sig_id or "").startswith("role.")]
