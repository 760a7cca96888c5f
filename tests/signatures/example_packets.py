"""Signature examples as packets: one capture in which each example of the pack is carried by
real protocol messages, from a device of its own to an off-site address of its own.

``build(cases, path)`` writes the capture; each `Case` says which device or endpoint the
example describes, so a test can check that its signature fired there after a full analysis.
Fields a packet can carry are in `GENERATED`; the others, with the reason, in
`NOT_GENERATED`. ``python -m tests.signatures.example_packets FILE`` writes the capture of the
bundled pack for a look in Wireshark.
"""

from __future__ import annotations

import ipaddress
import struct
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scapy.layers.dhcp import BOOTP, DHCP
from scapy.layers.dns import DNS, DNSRR
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Raw

from netscan.inventory import oui
from netscan.signatures.pack import RULE_CATEGORY, Pack, Signature, normalize_port
from tests.analysis.scenarios.build import (
    GATEWAY,
    RESOLVER,
    Capture,
    Host,
    dns_lookup,
    tcp_exchange,
)

# fields a generated packet carries, by the message that carries them
GENERATED = frozenset({
    "dns_name", "tls_sni", "http_host", "http_path_prefix", "http_user_agent",
    "http_content_type", "http_server", "content_marker", "port", "ip_cidr", "oui_prefix",
    "oui_vendor",
    "dhcp_hostname", "dhcp_vendor_class", "dhcp_prl", "mdns_service", "mdns_name",
    "ssdp_server", "ssdp_usn", "ssdp_nt", "wsd_type", "wsd_scope", "rtsp_path",
    "rtsp_server", "rtsp_realm",
})  # fmt: skip

NOT_GENERATED = {
    "ja3": "a hash of a whole ClientHello: it cannot be turned back into one",
    "ja4": "a fingerprint with truncated hashes of the cipher and extension lists",
    "tls_cert_subject": "needs a signed X.509 certificate in a TLS 1.2 handshake",
    "tls_cert_issuer": "needs a signed X.509 certificate in a TLS 1.2 handshake",
    "vendor_discovery": "names a vendor's binary discovery protocol, not a message; the "
    "dissectors' own tests carry real SADP/DHIP/Xiongmai replies",
    "asn": "comes from the offline address database, not from the packet",
    "hostname": "role rules only (tests/analysis/role_captures.py has a capture per rule)",
    "mdns_model": "role rules only (tests/analysis/role_captures.py)",
    "behaviour": "role rules only: measured from flows (tests/analysis/role_captures.py)",
    "device_role": "role rules only: the role of other signatures that fired",
}

NO_BLOCK = "no MAC block of a registrant the signature names in the registry netscan reads"

CLIENT = Host("02:00:5e:00:00:01", "192.168.200.2")  # asks premises devices for things
T_STEP = 2.0


@dataclass(frozen=True)
class Case:
    sig_id: str
    category: str
    example: dict[str, Any]
    device: Host  # the premises device that carries the example
    offsite: str  # the off-site address it talks to
    subject: str  # "device": the device's own signatures; "endpoint": the off-site address's;
    #               "evidence": protocol signatures, as evidence on the device


def cases(pack: Pack) -> tuple[list[Case], list[tuple[str, dict[str, Any], str]]]:
    """Every example of every packet-level signature that packets can carry, and the
    examples left out (signature id, example, why)."""
    out: list[Case] = []
    skipped: list[tuple[str, dict[str, Any], str]] = []
    n = 0
    for sig in pack.signatures:
        if sig.category == RULE_CATEGORY:
            continue
        for ex in sig.examples:
            missing = [f for f in ex if f not in GENERATED]
            if missing:
                skipped.append((sig.id, ex, NOT_GENERATED.get(missing[0], "not generated")))
                continue
            if "oui_vendor" in ex:  # a MAC block whose registrant the signature names
                block = registrant_block(sig)
                if block is None:
                    skipped.append((sig.id, ex, NO_BLOCK))
                    continue
                ex = {**{k: v for k, v in ex.items() if k != "oui_vendor"}, "oui_prefix": block}
            n += 1
            out.append(_case(sig, ex, n))
    return out, skipped


def _case(sig: Signature, ex: dict[str, Any], n: int) -> Case:
    mac = f"02:00:5e:{(n >> 8) & 0xFF:02x}:{n & 0xFF:02x}:01"
    if "oui_prefix" in ex:
        digits = "".join(c for c in str(ex["oui_prefix"]).lower() if c in "0123456789abcdef")
        digits = (digits + f"{n:06x}" + "0" * 12)[:12]
        mac = ":".join(digits[i : i + 2] for i in range(0, 12, 2))
    device = Host(mac, f"192.168.{100 + n // 250}.{n % 250 + 2}")
    if "ip_cidr" in ex:
        net = ipaddress.ip_network(str(ex["ip_cidr"]), strict=False)
        offsite = str(net.network_address + (1 if net.num_addresses > 2 else 0))
        if net.version == 6:  # the device speaks the same family (a ULA: premises)
            device = Host(mac, f"fd00:5e::{n:x}")
    else:
        offsite = str(ipaddress.ip_address("198.18.0.0") + n)  # off-site, never premises
    subject = {"device": "device", "protocol": "evidence"}.get(sig.category, "endpoint")
    return Case(sig.id, sig.category, dict(ex), device, offsite, subject)


def registrant_block(sig: Signature) -> str | None:
    """A MAC block (MA-L) whose registrant, as netscan's registry reads it, is named by one
    of the signature's ``oui_vendor`` words (an example names an organisation; the packet
    needs a block of it), or None."""
    reg = oui.registry()
    words = [e.value.lower() for e in sig.match if e.field == "oui_vendor" and e.mode != "regex"]
    if reg is None or not words:
        return None
    for digits, org in sorted(reg.table.items()):
        if len(digits) == 6 and any(w in org.lower() for w in words):
            mac = f"{digits[:2]}:{digits[2:4]}:{digits[4:6]}:00:00:01"
            found = (oui.oui_vendor(mac) or "").lower()
            if any(w in found for w in words):
                return mac[:8]
    return None


# -- messages ---------------------------------------------------------------------------------


def _udp(cap: Capture, t: float, src: Host, dst_mac: str, dst_ip: str, sport: int, dport: int,
         payload: bytes) -> None:  # fmt: skip
    cap.add(
        t,
        Ether(src=src.mac, dst=dst_mac)
        / IP(src=src.ip, dst=dst_ip)
        / UDP(sport=sport, dport=dport)
        / Raw(payload),
    )


def client_hello(sni: str) -> bytes:
    """A TLS 1.2 ClientHello record with one server name."""
    name = sni.encode()
    sni_ext = struct.pack("!HBH", len(name) + 3, 0, len(name)) + name
    exts = struct.pack("!HH", 0, len(sni_ext)) + sni_ext
    body = (
        b"\x03\x03" + bytes(32) + b"\x00"  # version, random, no session id
        + struct.pack("!H", 4) + b"\xc0\x2f\x00\x9c"  # two cipher suites
        + b"\x01\x00"  # null compression
        + struct.pack("!H", len(exts)) + exts
    )  # fmt: skip
    hs = b"\x01" + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x01" + struct.pack("!H", len(hs)) + hs


def _mdns(cap: Capture, t: float, dev: Host, ex: dict[str, Any]) -> None:
    rrs: list[DNSRR] = []
    if "mdns_service" in ex:
        svc = str(ex["mdns_service"]).rstrip(".")
        svc = svc if svc.endswith(".local") else svc + ".local"
        rrs.append(DNSRR(rrname=svc, type="PTR", rdata=f"dev{dev.ip.split('.')[-1]}.{svc}"))
    if "mdns_name" in ex:
        name = str(ex["mdns_name"]).rstrip(".")
        if "._tcp." in name or "._udp." in name:
            svc = name[name.index("._") + 1 :]
            rrs.append(DNSRR(rrname=svc, type="PTR", rdata=name))
        else:
            rrs.append(DNSRR(rrname=name, type="A", rdata=dev.ip))
    an = rrs[0]
    for rr in rrs[1:]:
        an = an / rr
    cap.add(
        t,
        Ether(src=dev.mac, dst="01:00:5e:00:00:fb")
        / IP(src=dev.ip, dst="224.0.0.251", ttl=255)
        / UDP(sport=5353, dport=5353)
        / DNS(qr=1, aa=1, an=an),
    )


def _dhcp(cap: Capture, t: float, dev: Host, ex: dict[str, Any]) -> None:
    opts: list[Any] = [("message-type", "request")]
    if "dhcp_hostname" in ex:
        opts.append(("hostname", str(ex["dhcp_hostname"]).encode()))
    if "dhcp_vendor_class" in ex:
        opts.append(("vendor_class_id", str(ex["dhcp_vendor_class"]).encode()))
    if "dhcp_prl" in ex:
        prl = [int(x) for x in str(ex["dhcp_prl"]).replace(" ", "").split(",") if x]
        opts.append(("param_req_list", prl))
    opts.append("end")
    cap.add(
        t,
        Ether(src=dev.mac, dst="ff:ff:ff:ff:ff:ff")
        / IP(src="0.0.0.0", dst="255.255.255.255")
        / UDP(sport=68, dport=67)
        / BOOTP(chaddr=bytes.fromhex(dev.mac.replace(":", "")) + bytes(10), xid=0x4242)
        / DHCP(options=opts),
    )


def _ssdp(cap: Capture, t: float, dev: Host, ex: dict[str, Any]) -> None:
    lines = ["NOTIFY * HTTP/1.1", "HOST: 239.255.255.250:1900", "NTS: ssdp:alive",
             f"LOCATION: http://{dev.ip}:80/desc.xml",
             f"NT: {ex.get('ssdp_nt', 'upnp:rootdevice')}",
             f"USN: {ex.get('ssdp_usn', 'uuid:0')}",
             f"SERVER: {ex.get('ssdp_server', 'Linux/3.0 UPnP/1.0 x/1')}"]  # fmt: skip
    payload = ("\r\n".join(lines) + "\r\n\r\n").encode()
    _udp(cap, t, dev, "01:00:5e:7f:ff:fa", "239.255.255.250", 1900, 1900, payload)


def _wsd(cap: Capture, t: float, dev: Host, ex: dict[str, Any]) -> None:
    types = ex.get("wsd_type", "dn:NetworkVideoTransmitter")
    scopes = ex.get("wsd_scope", "onvif://www.onvif.org/type/video_encoder")
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
        'xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
        'xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery" '
        'xmlns:dn="http://www.onvif.org/ver10/network/wsdl">'
        "<s:Header><a:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/Hello</a:Action>"
        "</s:Header><s:Body><d:Hello><a:EndpointReference><a:Address>urn:uuid:1</a:Address>"
        f"</a:EndpointReference><d:Types>{_xml(types)}</d:Types>"
        f"<d:Scopes>{_xml(scopes)}</d:Scopes><d:XAddrs>http://{dev.ip}/onvif/device_service"
        "</d:XAddrs><d:MetadataVersion>1</d:MetadataVersion></d:Hello></s:Body></s:Envelope>"
    )
    _udp(cap, t, dev, "01:00:5e:7f:ff:fa", "239.255.255.250", 3702, 3702, xml.encode())


def _xml(value: Any) -> str:
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _rtsp(cap: Capture, t: float, dev: Host, ex: dict[str, Any]) -> float:
    path = str(ex.get("rtsp_path", "/"))
    req = f"DESCRIBE rtsp://{dev.ip}:554{path} RTSP/1.0\r\nCSeq: 2\r\n\r\n".encode()
    head = ["RTSP/1.0 401 Unauthorized", "CSeq: 2"]
    if "rtsp_server" in ex:
        head.append(f"Server: {ex['rtsp_server']}")
    realm = ex.get("rtsp_realm", "rtsp")
    head.append(f'WWW-Authenticate: Digest realm="{realm}", nonce="0123456789abcdef"')
    resp = ("\r\n".join(head) + "\r\n\r\n").encode()
    return tcp_exchange(cap, t, CLIENT, dev.ip, 554, req, resp, server_mac=dev.mac)


def _http_server(cap: Capture, t: float, dev: Host, ex: dict[str, Any]) -> float:
    path = str(ex.get("http_path_prefix", "/"))
    req = f"GET {path} HTTP/1.1\r\nHost: {dev.ip}\r\n\r\n".encode()
    server = ex.get("http_server", "web")
    resp = f"HTTP/1.1 200 OK\r\nServer: {server}\r\nContent-Length: 2\r\n\r\nok".encode()
    return tcp_exchange(cap, t, CLIENT, dev.ip, 80, req, resp, server_mac=dev.mac)


def _http_client(cap: Capture, t: float, case: Case) -> float:
    ex = case.example
    host = str(ex.get("http_host") or ex.get("dns_name") or case.offsite).lstrip("*.")
    path = str(ex.get("http_path_prefix", "/upload"))
    marker = ex.get("content_marker")
    body = marker.encode("utf-8") if isinstance(marker, str) else bytes(marker or b"{}")
    head = f"POST {path} HTTP/1.1\r\nHost: {host}\r\n"
    if "http_user_agent" in ex:
        head += f"User-Agent: {ex['http_user_agent']}\r\n"
    head += f"Content-Type: {ex.get('http_content_type', 'application/octet-stream')}\r\n"
    req = head.encode() + f"Content-Length: {len(body)}\r\n\r\n".encode() + body
    resp = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    return tcp_exchange(cap, t, case.device, case.offsite, 80, req, resp)


def _port(cap: Capture, t: float, case: Case) -> float:
    transport, _, num = normalize_port(str(case.example["port"])).partition("/")
    port = int(num)
    if case.subject == "device":  # the device serves the port to a premises client
        server, server_mac, client = case.device.ip, case.device.mac, CLIENT
    else:
        server, server_mac, client = case.offsite, GATEWAY.mac, case.device
    if transport == "udp":
        _udp(cap, t, client, server_mac, server, 50000, port, b"\x01" * 24)
        back = Host(server_mac, server)
        _udp(cap, t + 0.01, back, client.mac, client.ip, port, 50000, b"\x02" * 24)
        return t + 0.02
    return tcp_exchange(cap, t, client, server, port, b"\x01" * 24, b"\x02" * 24, server_mac)


def _carry(cap: Capture, t: float, case: Case, qid: int) -> float:
    """Write the messages that carry one example; returns the time after them."""
    ex, dev = case.example, case.device
    fields = set(ex)
    if "dns_name" in fields:
        name = str(ex["dns_name"]).lstrip("*.")
        dns_lookup(cap, t, dev, name, case.offsite, qid)
        t += 0.05
    if fields & {"dhcp_hostname", "dhcp_vendor_class", "dhcp_prl"}:
        _dhcp(cap, t, dev, ex)
    if fields & {"mdns_service", "mdns_name"}:
        _mdns(cap, t + 0.01, dev, ex)
    if fields & {"ssdp_server", "ssdp_usn", "ssdp_nt"}:
        _ssdp(cap, t + 0.02, dev, ex)
    if fields & {"wsd_type", "wsd_scope"}:
        _wsd(cap, t + 0.03, dev, ex)
    t += 0.05
    if fields & {"rtsp_path", "rtsp_server", "rtsp_realm"}:
        t = _rtsp(cap, t, dev, ex)
    if "http_server" in fields or (case.subject == "device" and "http_path_prefix" in fields
                                   and "http_host" not in fields):  # fmt: skip
        t = _http_server(cap, t, dev, ex)
    elif fields & {"http_host", "http_path_prefix", "http_user_agent", "http_content_type",
                   "content_marker"}:  # fmt: skip
        t = _http_client(cap, t, case)
    if "tls_sni" in fields:
        t = tcp_exchange(cap, t, dev, case.offsite, 443, client_hello(str(ex["tls_sni"])), b"")
    if "port" in fields:
        t = _port(cap, t, case)
    if "ip_cidr" in fields or "oui_prefix" in fields or case.subject == "endpoint":
        # a flow to the address (and the device's MAC on the wire)
        t = tcp_exchange(cap, t, dev, case.offsite, 8443, b"\x00" * 16, b"\x00" * 16)
    return t


def build(items: list[Case], path: Path) -> Path:
    cap = Capture(seed=11)
    cap.add(
        0.0,
        Ether(src=RESOLVER.mac, dst=GATEWAY.mac) / IP(src=RESOLVER.ip, dst=RESOLVER.ip) / UDP(),
    )
    t = 1.0
    for i, case in enumerate(items):
        _carry(cap, t, case, 100 + i)
        t += T_STEP
    return cap.write(path)


def main(argv: list[str]) -> int:
    from netscan.signatures.pack import load_active_pack

    items, skipped = cases(load_active_pack())
    build(items, Path(argv[0] if argv else "signature_examples.pcap"))
    print(f"{len(items)} examples written, {len(skipped)} left out")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))


__all__ = ["GENERATED", "NOT_GENERATED", "Case", "build", "cases", "client_hello"]
