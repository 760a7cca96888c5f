"""Hostile strings, and a capture that carries them through every protocol netscan reads names
from: DHCP (host name, vendor class), mDNS answers, SSDP SERVER/USN, HTTP User-Agent, Host and
Server, TLS SNI and certificate subjects, and the Dahua DHIP device type.

The capture is written at test time with scapy (fixed addresses, times and seeds) and a
certificate made with ``cryptography``; three cameras upload to off-site hosts so that their
names also reach the findings (device label, destination names, Markdown headings).

``python -m tests.hostile DIR`` writes it for a look in Wireshark.
"""

from __future__ import annotations

import datetime as dt
import json
import struct
import sys
from dataclasses import dataclass
from pathlib import Path

from scapy.layers.dns import DNS, DNSRR
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Raw

from tests.analysis.scenarios.build import (
    Capture,
    Host,
    http_ok,
    tcp_exchange,
    tls_like_upload,
)

SHOT_NAME = "pwned.svg"

# what a device may put on the wire, as bytes (some of it is not UTF-8)
MARKUP = "cam[/oops]"
LINK = "[link=file:///etc/passwd]x[/link]"
QUIT = "[@click=app.quit]quit[/]"
MARK = "[@click=app.mark('forged')]mark[/]"
STYLE = "[bold red on white]LOUD[/]"
OSC_TITLE = "title\x1b]0;PWNED-TITLE\x07end"
OSC_LINK = "osc\x1b]8;;http://evil.example/\x1b\\x\x1b]8;;\x1b\\link"
CSI = "clear\x1b[2J\x1b[Hscreen"
BELL = "bell\x07\x07ring"
CRLF = "crlf\r\nFORGED LINE"
CR = "cr\rFORGED-CR"
RLO = "bidi\u202egpj.exe"
ISOLATE = "iso\u2066hidden\u2069tail"
SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
HEADING = "# head\n# FORGED HEADING"
PIPES = "pipe|cell|break"
EMOJI = ":warning: emoji"
INVALID = b"bad\xff\xfeutf8"
LONG = "L" * 3000


def screenshot_action(directory: Path) -> str:
    return f"[@click=app.screenshot('{SHOT_NAME}','{directory}')]shot[/]"


def corpus(shot_dir: Path) -> list[bytes]:
    """Every hostile string of the suite, as the bytes a device sends."""
    texts = [MARKUP, LINK, QUIT, MARK, STYLE, OSC_TITLE, OSC_LINK, CSI, BELL, CRLF, CR, RLO,
             ISOLATE, SCRIPT, IMG, HEADING, PIPES, EMOJI, LONG, screenshot_action(shot_dir)]  # fmt: skip
    return [t.encode() for t in texts] + [INVALID]


# characters that must never reach an output raw from these strings
FORBIDDEN = ("\x07", "\u202e", "\u2066", "\u2069")


@dataclass(frozen=True)
class Uploader:
    """A camera whose DHCP name labels a finding, and the off-site host it uploads to."""

    host: Host
    hostname: bytes
    server_ip: str
    sni: bytes
    subject_cn: str


def uploaders(shot_dir: Path) -> list[Uploader]:
    hik = "44:19:b6:2e:7c:"
    return [
        Uploader(
            Host(hik + "51", "192.168.1.64"),
            MARKUP.encode(),
            "203.0.113.50",
            LINK.encode(),
            "<b>cert</b>",
        ),  # fmt: skip
        Uploader(
            Host(hik + "52", "192.168.1.65"),
            SCRIPT.encode(),
            "203.0.113.51",
            IMG.encode(),
            "[@click=app.quit]cn",
        ),  # fmt: skip
        Uploader(
            Host(hik + "53", "192.168.1.66"),
            HEADING.encode(),
            "203.0.113.52",
            screenshot_action(shot_dir).encode()[:200],
            "cn\u202eevil",
        ),  # fmt: skip
    ]


# -- packets ---------------------------------------------------------------------------------


def dhcp_request(mac: str, hostname: bytes, vendor_class: bytes) -> bytes:
    """A DHCPREQUEST with host name and vendor class (long values split over repeated
    options, RFC 3396)."""
    chaddr = bytes.fromhex(mac.replace(":", "")).ljust(16, b"\x00")
    head = struct.pack("!BBBBIHH4s4s4s4s", 1, 1, 6, 0, 0x1234, 0, 0, b"\0" * 4, b"\0" * 4,
                       b"\0" * 4, b"\0" * 4)  # fmt: skip
    body = head + chaddr + b"\x00" * 192 + b"\x63\x82\x53\x63"
    opts = b"\x35\x01\x03"
    for code, value in ((12, hostname), (60, vendor_class)):
        for i in range(0, len(value), 255):
            part = value[i : i + 255]
            opts += bytes([code, len(part)]) + part
    return body + opts + b"\xff"


def dhcp_packet(host: Host, hostname: bytes, vendor_class: bytes = b"") -> Ether:
    return (
        Ether(src=host.mac, dst="ff:ff:ff:ff:ff:ff")
        / IP(src="0.0.0.0", dst="255.255.255.255")
        / UDP(sport=68, dport=67)
        / Raw(dhcp_request(host.mac, hostname, vendor_class or hostname))
    )


def mdns_answer(host: Host, names: list[bytes]) -> Ether:
    answers = None
    for name in names:
        rr = DNSRR(rrname=name + b".local", type="A", rdata=host.ip, ttl=120)
        answers = rr if answers is None else answers / rr
    return (
        Ether(src=host.mac, dst="01:00:5e:00:00:fb")
        / IP(src=host.ip, dst="224.0.0.251")
        / UDP(sport=5353, dport=5353)
        / DNS(id=0, qr=1, aa=1, an=answers)
    )


def ssdp_notify(host: Host, server: bytes, usn: bytes) -> Ether:
    msg = (
        b"NOTIFY * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nCACHE-CONTROL: max-age=1800\r\n"
        b"LOCATION: http://" + host.ip.encode() + b":80/desc.xml\r\nNT: upnp:rootdevice\r\n"
        b"NTS: ssdp:alive\r\nSERVER: " + server + b"\r\nUSN: " + usn + b"\r\n\r\n"
    )
    return (
        Ether(src=host.mac, dst="01:00:5e:7f:ff:fa")
        / IP(src=host.ip, dst="239.255.255.250")
        / UDP(sport=1900, dport=1900)
        / Raw(msg)
    )


def dhip_notify(host: Host, device_type: str) -> Ether:
    doc = {
        "mac": host.mac,
        "method": "client.notifyDevInfo",
        "params": {"deviceInfo": {"DeviceType": device_type, "DeviceClass": "IPC",
                                  "Vendor": "Dahua", "SerialNo": "6C0ABCD1234567"}},
    }  # fmt: skip
    body = json.dumps(doc).encode()
    frame = struct.pack("<I4sIIIIII", 0x20, b"DHIP", 0, 0, len(body), 0, len(body), 0) + body
    return (
        Ether(src=host.mac, dst="ff:ff:ff:ff:ff:ff")
        / IP(src=host.ip, dst="255.255.255.255")
        / UDP(sport=37810, dport=37810)
        / Raw(frame)
    )


def _vec(data: bytes, size: int) -> bytes:
    return len(data).to_bytes(size, "big") + data


def _handshake(mtype: int, body: bytes) -> bytes:
    return bytes([mtype]) + _vec(body, 3)


def _record(fragment: bytes) -> bytes:
    return b"\x16\x03\x03" + _vec(fragment, 2)


def client_hello(sni: bytes) -> bytes:
    server_name = _vec(b"\x00" + _vec(sni, 2), 2)
    exts = b"\x00\x00" + _vec(server_name, 2)
    body = (b"\x03\x03" + bytes(range(32)) + b"\x00" + _vec(b"\xc0\x2f\x00\x9c", 2)
            + b"\x01\x00" + _vec(exts, 2))  # fmt: skip
    return _record(_handshake(1, body))


def certificate_der(common_name: str, organisation: str) -> bytes:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.derive_private_key(0x1234567, ec.SECP256R1())
    name = x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
    ])  # fmt: skip
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(4242)
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.DER)


def server_hello_certificate(common_name: str, organisation: str) -> bytes:
    hello = b"\x03\x03" + bytes(range(32, 64)) + b"\x00" + b"\xc0\x2f" + b"\x00"
    der = certificate_der(common_name, organisation)
    certs = _vec(_vec(der, 3), 3)
    return _record(_handshake(2, hello) + _handshake(11, certs) + _handshake(14, b""))


def http_get(host: bytes, user_agent: bytes) -> bytes:
    return (b"GET /api/v1/status HTTP/1.1\r\nHost: " + host + b"\r\nUser-Agent: " + user_agent
            + b"\r\nAccept: */*\r\n\r\n")  # fmt: skip


def http_banner(server: bytes) -> bytes:
    body = b"<html>ok</html>"
    return (b"HTTP/1.1 200 OK\r\nServer: " + server + b"\r\nContent-Type: text/html\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)  # fmt: skip


# -- the capture ------------------------------------------------------------------------------


def build(directory: Path, shot_dir: Path) -> Path:
    """Write ``hostile.pcap`` into ``directory``; ``shot_dir`` is where a screenshot action
    hidden in the names would write (a test asserts nothing ever appears there)."""
    cap = Capture(88)
    strings = corpus(shot_dir)
    t = 0.5
    # every hostile string is the DHCP name of a device of its own
    for i, s in enumerate(strings):
        host = Host(f"02:66:00:00:00:{i:02x}", f"192.168.1.{10 + i}")
        cap.add(t, dhcp_packet(host, s))
        t += 0.01
    ups = uploaders(shot_dir)
    for u in ups:
        cap.add(t, dhcp_packet(u.host, u.hostname))
        t += 0.01
    # mDNS, SSDP, HTTP banner and DHIP announcements from other devices
    mdns_host = Host("02:66:00:00:01:01", "192.168.1.40")
    cap.add(t, mdns_answer(mdns_host, [QUIT.encode(), MARK.encode(), OSC_TITLE.encode()[:60]]))
    ssdp_host = Host("02:66:00:00:01:02", "192.168.1.41")
    cap.add(t + 0.1, ssdp_notify(ssdp_host, CSI.encode() + b" " + LINK.encode(),
                                 b"uuid:" + RLO.encode() + b"::" + STYLE.encode()))  # fmt: skip
    dahua = Host("3c:ef:8c:6a:20:9e", "192.168.1.108")
    cap.add(t + 0.2, dhip_notify(dahua, "IPC" + MARKUP + "\x1b[31m"))
    web = Host("02:66:00:00:01:03", "192.168.1.42")
    pc = Host("f8:bc:12:6e:41:0b", "192.168.1.101")
    req = http_get(b"192.168.1.42", b"probe")
    t = tcp_exchange(cap, t + 0.3, pc, web.ip, 80, req, http_banner(OSC_LINK.encode() + b" "
                     + SCRIPT.encode()), server_mac=web.mac)  # fmt: skip
    # the uploaders: TLS with a hostile SNI and certificate, an HTTP request with a hostile
    # User-Agent and Host, then sustained picture-sized uploads (a finding for each)
    for n, u in enumerate(ups):
        tls = server_hello_certificate(u.subject_cn, f"O{n} {IMG[:20]}")
        t = tcp_exchange(cap, t + 0.1, u.host, u.server_ip, 443, client_hello(u.sni), tls)
        ua = [RLO, BELL, screenshot_action(shot_dir)][n].encode()
        t = tcp_exchange(cap, t + 0.1, u.host, u.server_ip, 80,
                         http_get(HEADING.encode().replace(b"\n", b" ") + b"|x", ua),
                         http_ok(b"{}"))  # fmt: skip
        bursts = [(t + 1.0 + 2.0 * k, 40_000) for k in range(30)]
        tls_like_upload(cap, t + 0.5, u.host, u.server_ip, bursts, down_each=80)
    return cap.write(directory / "hostile.pcap")


def main(argv: list[str]) -> int:
    out = Path(argv[1] if len(argv) > 1 else ".")
    out.mkdir(parents=True, exist_ok=True)
    print(build(out, out / "shots"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
