"""Deterministic captures, one per role rule of the pack (``signatures/role/``).

Each builder writes a small pcap with scapy (fixed addresses, times and a seeded random
source) in which one device does what one rule weighs, and returns the capture and that
device's MAC. ``python -m tests.analysis.role_captures DIR`` writes them all for a look in
Wireshark.
"""

from __future__ import annotations

import json
import struct
import sys
from collections.abc import Callable
from pathlib import Path

from scapy.layers.dhcp import BOOTP, DHCP
from scapy.layers.dhcp6 import (
    DUID_LL,
    VENDOR_CLASS_DATA,
    DHCP6_Solicit,
    DHCP6OptClientId,
    DHCP6OptVendorClass,
)
from scapy.layers.dns import DNS, DNSRR
from scapy.layers.dot11 import Dot11, RadioTap
from scapy.layers.inet import IP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether
from scapy.packet import Raw

from tests.analysis.scenarios.build import (
    GATEWAY,
    Capture,
    Host,
    dns_lookup,
    http_ok,
    http_post,
    rtp_stream,
    tcp_exchange,
    tls_like_upload,
    viid_post,
)

WHO = Host("f8:bc:12:10:20:30", "192.168.1.77")  # a Dell NIC: says nothing by itself
PRIVATE = Host("da:a1:19:5e:22:41", "192.168.1.78")  # locally administered
HIK_NVR = Host("24:48:45:b1:3c:71", "192.168.1.201")
CAM_A = Host("44:19:b6:2e:7c:61", "192.168.1.81")
CAM_B = Host("c0:56:e3:91:0a:4d", "192.168.1.82")
VIEWER = Host("f8:bc:12:10:20:31", "192.168.1.90")
XM_CAM = Host("00:12:41:8c:3f:2a", "192.168.1.10")
TIANDY = Host("3c:da:6d:00:11:22", "192.168.1.83")
OFFSITE = "203.0.113.80"
VENDOR_CLOUD = "116.62.118.23"

Builder = Callable[[Path], tuple[Path, str]]


def _dhcp(cap: Capture, t: float, host: Host, **opts: object) -> None:
    options: list[object] = [("message-type", "request")]
    options += [(k, v) for k, v in opts.items()]
    options.append("end")
    cap.add(
        t,
        Ether(src=host.mac, dst="ff:ff:ff:ff:ff:ff")
        / IP(src="0.0.0.0", dst="255.255.255.255")
        / UDP(sport=68, dport=67)
        / BOOTP(chaddr=bytes.fromhex(host.mac.replace(":", "")) + b"\x00" * 10, xid=0x1234)
        / DHCP(options=options),
    )


def _mdns(cap: Capture, t: float, host: Host, *answers: DNSRR) -> None:
    an = answers[0]
    for rr in answers[1:]:
        an = an / rr
    cap.add(
        t,
        Ether(src=host.mac, dst="01:00:5e:00:00:fb")
        / IP(src=host.ip, dst="224.0.0.251", ttl=255)
        / UDP(sport=5353, dport=5353)
        / DNS(qr=1, aa=1, an=an),
    )


def _get(cap: Capture, t: float, host: Host, path: str, hostname: str, ua: str) -> None:
    req = (
        f"GET {path} HTTP/1.1\r\nHost: {hostname}\r\nUser-Agent: {ua}\r\nConnection: close\r\n\r\n"
    ).encode()
    tcp_exchange(cap, t, host, OFFSITE, 80, req, http_ok(b"Microsoft Connect Test"))


def _write(cap: Capture, d: Path, name: str, who: Host) -> tuple[Path, str]:
    return cap.write(d / f"{name}.pcap"), who.mac


# -- computers --------------------------------------------------------------------------------


def windows_ncsi(d: Path) -> tuple[Path, str]:
    cap = Capture(301)
    dns_lookup(cap, 0.5, WHO, "www.msftconnecttest.com", OFFSITE, 71)
    _get(cap, 1.0, WHO, "/connecttest.txt", "www.msftconnecttest.com", "Microsoft NCSI")
    return _write(cap, d, "windows_ncsi", WHO)


def windows_dhcp_vendor_class(d: Path) -> tuple[Path, str]:
    cap = Capture(302)
    _dhcp(cap, 0.5, WHO, vendor_class_id=b"MSFT 5.0")
    return _write(cap, d, "windows_dhcp_vendor_class", WHO)


def windows_dhcpv6_vendor_class(d: Path) -> tuple[Path, str]:
    """The same vendor class in DHCPv6 (option 16, enterprise 311), from a link-local address."""
    cap = Capture(303)
    duid = DUID_LL(lladdr=WHO.mac)
    cap.add(
        0.5,
        Ether(src=WHO.mac, dst="33:33:00:01:00:02")
        / IPv6(src="fe80::fabc:12ff:fe10:2030", dst="ff02::1:2")
        / UDP(sport=546, dport=547)
        / DHCP6_Solicit(trid=0x1234)
        / DHCP6OptClientId(duid=duid)
        / DHCP6OptVendorClass(enterprisenum=311, vcdata=[VENDOR_CLASS_DATA(data=b"MSFT 5.0")]),
    )
    return _write(cap, d, "windows_dhcpv6_vendor_class", WHO)


def windows_default_name(d: Path) -> tuple[Path, str]:
    cap = Capture(304)
    _dhcp(cap, 0.5, WHO, hostname=b"DESKTOP-7K3N0QP")
    return _write(cap, d, "windows_default_name", WHO)


def dhcp_os_windows(d: Path) -> tuple[Path, str]:
    cap = Capture(305)
    prl = [1, 3, 6, 15, 31, 33, 43, 44, 46, 47, 119, 121, 249, 252]
    _dhcp(cap, 0.5, WHO, param_req_list=prl)
    return _write(cap, d, "dhcp_os_windows", WHO)


def windows_system_agents(d: Path) -> tuple[Path, str]:
    cap = Capture(306)
    _get(cap, 0.5, WHO, "/pki/crl/products/MicRooCerAut2011.crl", "crl.microsoft.com",
         "Microsoft-CryptoAPI/10.0")  # fmt: skip
    return _write(cap, d, "windows_system_agents", WHO)


def pc_hostname(d: Path) -> tuple[Path, str]:
    cap = Capture(307)
    _dhcp(cap, 0.5, WHO, hostname=b"sanji-LIFEBOOK-LH531")
    return _write(cap, d, "pc_hostname", WHO)


def browser_desktop(d: Path) -> tuple[Path, str]:
    cap = Capture(308)
    ua = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"
    _get(cap, 0.5, WHO, "/", "www.example.com", ua)
    return _write(cap, d, "browser_desktop", WHO)


def apple_mac_model(d: Path) -> tuple[Path, str]:
    cap = Capture(309)
    name = "Kates-MacBook-Pro._device-info._tcp.local"
    _mdns(cap, 0.5, WHO, DNSRR(rrname=name, type="TXT", rdata=[b"model=MacBookPro18,3"]))
    return _write(cap, d, "apple_mac_model", WHO)


def mac_hostname(d: Path) -> tuple[Path, str]:
    cap = Capture(310)
    _mdns(cap, 0.5, WHO, DNSRR(rrname="Kates-MacBook-Pro.local", type="A", rdata=WHO.ip))
    return _write(cap, d, "mac_hostname", WHO)


# -- phones -----------------------------------------------------------------------------------


def apple_phone_model(d: Path) -> tuple[Path, str]:
    cap = Capture(311)
    name = "Kates-iPhone._device-info._tcp.local"
    _mdns(cap, 0.5, PRIVATE, DNSRR(rrname=name, type="TXT", rdata=[b"model=iPhone14,2"]))
    return _write(cap, d, "apple_phone_model", PRIVATE)


def phone_hostname(d: Path) -> tuple[Path, str]:
    cap = Capture(312)
    _dhcp(cap, 0.5, PRIVATE, hostname=b"Kates-iPhone")
    return _write(cap, d, "phone_hostname", PRIVATE)


def android_dhcp(d: Path) -> tuple[Path, str]:
    cap = Capture(313)
    _dhcp(cap, 0.5, WHO, vendor_class_id=b"android-dhcp-13")
    return _write(cap, d, "android_dhcp", WHO)


def mobile_browser(d: Path) -> tuple[Path, str]:
    cap = Capture(314)
    _get(cap, 0.5, WHO, "/v1/feed", "api.example.com", "okhttp/4.9.2")
    return _write(cap, d, "mobile_browser", WHO)


def private_mac_client(d: Path) -> tuple[Path, str]:
    """A private MAC answering for Apple's companion-link service, nothing else."""
    cap = Capture(315)
    _mdns(cap, 0.5, PRIVATE, DNSRR(rrname="_companion-link._tcp.local", type="PTR",
                                   rdata="Kate._companion-link._tcp.local"))  # fmt: skip
    return _write(cap, d, "private_mac_client", PRIVATE)


# -- printers ---------------------------------------------------------------------------------


def printer_mdns(d: Path) -> tuple[Path, str]:
    cap = Capture(316)
    _mdns(cap, 0.5, WHO, DNSRR(rrname="_ipp._tcp.local", type="PTR",
                               rdata="Office Printer._ipp._tcp.local"))  # fmt: skip
    return _write(cap, d, "printer_mdns", WHO)


def printer_names(d: Path) -> tuple[Path, str]:
    cap = Capture(317)
    _dhcp(cap, 0.5, WHO, hostname=b"NPI3C2AF4")
    return _write(cap, d, "printer_names", WHO)


# -- video devices ----------------------------------------------------------------------------


def _rtsp_describe(cap: Capture, t: float, cam: Host, response: bytes) -> None:
    req = (
        f"DESCRIBE rtsp://{cam.ip}:554/stream1 RTSP/1.0\r\nCSeq: 2\r\n"
        "User-Agent: LibVLC/3.0.18\r\nAccept: application/sdp\r\n\r\n"
    ).encode()
    tcp_exchange(cap, t, VIEWER, cam.ip, 554, req, response, server_mac=cam.mac)


def rtsp_server(d: Path) -> tuple[Path, str]:
    cap = Capture(318)
    _rtsp_describe(cap, 0.5, WHO, b"RTSP/1.0 200 OK\r\nCSeq: 2\r\nServer: Streamer\r\n\r\n")
    return _write(cap, d, "rtsp_server", WHO)


def camera_names_itself(d: Path) -> tuple[Path, str]:
    cap = Capture(319)
    _rtsp_describe(
        cap, 0.5, WHO,
        b"RTSP/1.0 401 Unauthorized\r\nCSeq: 2\r\n"
        b'WWW-Authenticate: Digest realm="IP Camera(51242)", nonce="0a1b2c3d"\r\n\r\n',
    )  # fmt: skip
    return _write(cap, d, "camera_names_itself", WHO)


def media_sender(d: Path) -> tuple[Path, str]:
    cap = Capture(320)
    rtp_stream(cap, 0.5, WHO, VIEWER, 10)
    return _write(cap, d, "media_sender", WHO)


def camera_cloud_uploader(d: Path) -> tuple[Path, str]:
    cap = Capture(321)
    dns_lookup(cap, 0.5, WHO, "pbdev.ys7.com", VENDOR_CLOUD, 72)
    bursts = [(1.0 + 2.0 * k, 40_000) for k in range(40)]
    tls_like_upload(cap, 0.8, WHO, VENDOR_CLOUD, bursts, down_each=80)
    return _write(cap, d, "camera_cloud_uploader", WHO)


def recorder(d: Path) -> tuple[Path, str]:
    cap = Capture(322)
    rtp_stream(cap, 0.5, CAM_A, WHO, 10)
    rtp_stream(cap, 0.6, CAM_B, WHO, 10)
    return _write(cap, d, "recorder", WHO)


def recorder_video_vendor(d: Path) -> tuple[Path, str]:
    cap = Capture(323)
    rtp_stream(cap, 0.5, CAM_A, HIK_NVR, 10)
    rtp_stream(cap, 0.6, CAM_B, HIK_NVR, 10)
    return _write(cap, d, "recorder_video_vendor", HIK_NVR)


def edge_box(d: Path) -> tuple[Path, str]:
    cap = Capture(324)
    rtp_stream(cap, 0.5, CAM_A, WHO, 10)
    rtp_stream(cap, 0.6, CAM_B, WHO, 10)
    tls_like_upload(cap, 2.0, WHO, OFFSITE, [(3.0, 30_000), (6.0, 30_000)])
    return _write(cap, d, "edge_box", WHO)


def gateway(d: Path) -> tuple[Path, str]:
    cap = Capture(325)
    dns_lookup(cap, 0.5, WHO, "www.example.com", OFFSITE, 73)
    _get(cap, 1.0, WHO, "/", "www.example.com", "curl/8.5.0")
    return _write(cap, d, "gateway", GATEWAY)


def _wlan_station(cap: Capture, sta: str) -> None:
    bssid = "60:e3:27:00:11:22"
    for k in range(60 * 25):  # 60 s, 25 frames/s, ~1.2 kB each
        cap.add(
            k / 25,
            RadioTap()
            / Dot11(type=2, subtype=0, FCfield=0x41, addr1=bssid, addr2=sta, addr3=GATEWAY.mac)
            / Raw(b"\x01\x00\x00\x20" + cap.rng.randbytes(1200)),
        )
        if k % 50 == 0:
            cap.add(
                k / 25 + 0.01,
                RadioTap()
                / Dot11(type=2, subtype=0, FCfield=0x42, addr1=sta, addr2=bssid, addr3=GATEWAY.mac)
                / Raw(b"\x01\x00\x00\x20" + cap.rng.randbytes(80)),
            )


def wlan_camera(d: Path) -> tuple[Path, str]:
    cap = Capture(326)
    _wlan_station(cap, CAM_A.mac)
    return _write(cap, d, "wlan_camera", CAM_A)


def wlan_camera_signature(d: Path) -> tuple[Path, str]:
    """A Tiandy station: its registrant is not among the rule's words, its OUI signature is."""
    cap = Capture(327)
    _wlan_station(cap, TIANDY.mac)
    return _write(cap, d, "wlan_camera_signature", TIANDY)


def face_terminal_paths(d: Path) -> tuple[Path, str]:
    cap = Capture(328)
    body = b"1\t2026-01-01 09:00:00\t0\t15\t0\t0\t0\n"
    req = http_post("/iclock/cdata?SN=CQUJ224460123&table=ATTLOG&Stamp=9999",
                    f"{OFFSITE}:8081", body, "text/plain")  # fmt: skip
    tcp_exchange(cap, 0.5, WHO, OFFSITE, 8081, req, http_ok())
    return _write(cap, d, "face_terminal_paths", WHO)


def face_terminal_viid(d: Path) -> tuple[Path, str]:
    from tests.analysis.scenarios.build import face_jpeg

    cap = Capture(329)
    viid_post(cap, 0.5, WHO, face_jpeg())
    return _write(cap, d, "face_terminal_viid", WHO)


def xiongmai_discovery(d: Path) -> tuple[Path, str]:
    """An XM-board camera answering the Xiongmai search on UDP 34569 (manufacturer test)."""
    cap = Capture(330)
    common = {
        "NetWork.NetCommon": {"HostIP": "0x0A01A8C0", "HostName": "camera_3f2a",
                              "MAC": XM_CAM.mac, "SN": "a1b2c3d4e5f60718", "TCPPort": 34567,
                              "DeviceType": 7},
        "Name": "NetWork.NetCommon", "Ret": 100, "SessionID": "0x00000000",
    }  # fmt: skip
    body = json.dumps(common).encode() + b"\n\x00"
    answer = struct.pack("<BBHIIHHI", 0xFF, 1, 0, 0, 0, 0, 1531, len(body)) + body
    cap.add(
        0.5,
        Ether(src=XM_CAM.mac, dst="ff:ff:ff:ff:ff:ff")
        / IP(src=XM_CAM.ip, dst="255.255.255.255")
        / UDP(sport=34569, dport=34569)
        / Raw(answer),
    )
    return _write(cap, d, "xiongmai_discovery", XM_CAM)


def http_camera_banner(d: Path) -> tuple[Path, str]:
    """A camera's own web server naming it in its Server header."""
    cap = Capture(331)
    req = b"GET / HTTP/1.1\r\nHost: 192.168.1.77\r\nUser-Agent: curl/8.5.0\r\n\r\n"
    resp = b"HTTP/1.1 200 OK\r\nServer: Netwave IP Camera\r\nContent-Length: 2\r\n\r\nOK"
    tcp_exchange(cap, 0.5, VIEWER, WHO.ip, 80, req, resp, server_mac=WHO.mac)
    return _write(cap, d, "http_camera_banner", WHO)


# rule id -> builders whose device that rule must weigh (and whose role it must decide)
RULE_CAPTURES: dict[str, tuple[Builder, ...]] = {
    "role.windows-ncsi": (windows_ncsi,),
    "role.windows-dhcp-vendor-class": (windows_dhcp_vendor_class, windows_dhcpv6_vendor_class),
    "role.windows-default-name": (windows_default_name,),
    "role.dhcp-os-windows": (dhcp_os_windows,),
    "role.windows-system-agents": (windows_system_agents,),
    "role.pc-hostname": (pc_hostname,),
    "role.browser-desktop": (browser_desktop,),
    "role.apple-mac-model": (apple_mac_model,),
    "role.mac-hostname": (mac_hostname,),
    "role.apple-phone-model": (apple_phone_model,),
    "role.phone-hostname": (phone_hostname,),
    "role.android-dhcp": (android_dhcp,),
    "role.mobile-browser": (mobile_browser,),
    "role.private-mac-client": (private_mac_client,),
    "role.printer-mdns": (printer_mdns,),
    "role.printer-names": (printer_names,),
    "role.rtsp-server": (rtsp_server,),
    "role.camera-names-itself": (camera_names_itself, http_camera_banner),
    "role.media-sender": (media_sender,),
    "role.camera-cloud-uploader": (camera_cloud_uploader,),
    "role.recorder": (recorder,),
    "role.recorder-video-vendor": (recorder_video_vendor,),
    "role.edge-box": (edge_box,),
    "role.gateway": (gateway,),
    "role.wlan-camera": (wlan_camera,),
    "role.wlan-camera-signature": (wlan_camera_signature,),
    "role.face-terminal-paths": (face_terminal_paths,),
    "role.viid-face-poster": (face_terminal_viid,),
}
EXTRA: tuple[Builder, ...] = (xiongmai_discovery,)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m tests.analysis.role_captures DIR", file=sys.stderr)
        return 2
    out = Path(argv[0])
    out.mkdir(parents=True, exist_ok=True)
    for builders in RULE_CAPTURES.values():
        for b in builders:
            print(b(out)[0])
    for b in EXTRA:
        print(b(out)[0])
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
