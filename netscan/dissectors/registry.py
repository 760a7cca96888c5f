"""Which dissector handles which flow: UDP by port, TCP by the first payload bytes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from netscan.dissectors import dhcp, dhcpv6, dns, http, nbns, ntp, quic, rtsp, sip, ssdp, tls, wsd
from netscan.dissectors.discovery.registry import DISCOVERY_UDP_PARSERS
from netscan.events import Ctx, Event

HTTP_MAX_MESSAGES = 5000  # keep-alive devices poll for hours; their uploads come late

DatagramParser = Callable[[bytes, Ctx], list[Event]]

UDP_PARSERS: dict[int, tuple[str, DatagramParser]] = {
    53: ("dns", dns.parse),
    5353: ("mdns", dns.parse_mdns),
    5355: ("llmnr", dns.parse_llmnr),
    137: ("nbns", nbns.parse),
    67: ("dhcp", dhcp.parse),
    68: ("dhcp", dhcp.parse),
    546: ("dhcpv6", dhcpv6.parse),
    547: ("dhcpv6", dhcpv6.parse),
    123: ("ntp", ntp.parse),
    1900: ("ssdp", ssdp.parse),
    3702: ("wsd", wsd.parse),
    5060: ("sip", sip.parse),
}
for _port, _fn in DISCOVERY_UDP_PARSERS.items():
    UDP_PARSERS.setdefault(_port, (getattr(_fn, "__module__", "discovery").rsplit(".", 1)[-1], _fn))


class Datagrams:
    """Adapts a stateless datagram parser to the per-flow stream-parser interface."""

    __slots__ = ("fn", "done", "skip_id")

    def __init__(self, fn: DatagramParser, skip_id: bool = False) -> None:
        self.fn = fn
        self.done = False
        self.skip_id = skip_id  # the first two bytes are a transaction id (DNS, NBNS)

    def feed(self, data: bytes, ctx: Ctx, from_client: bool) -> list[Event]:
        return self.fn(data, ctx)

    def close(self, ctx: Ctx) -> list[Event]:
        return []


def udp_parser(a_port: int, b_port: int, first_payload: bytes) -> tuple[str, Any] | None:
    """A parser for a new UDP flow, by the server port first, then the client port."""
    hit = UDP_PARSERS.get(b_port) or UDP_PARSERS.get(a_port)
    if hit is not None:
        return hit[0], Datagrams(hit[1], skip_id=hit[0] in ("dns", "mdns", "llmnr", "nbns"))
    if quic.looks_like_quic_initial(first_payload):
        return "quic", quic.QuicInitialParser()
    return None


_HTTP_METHODS = (
    b"GET ",
    b"POST ",
    b"PUT ",
    b"HEAD ",
    b"DELETE ",
    b"OPTIONS ",
    b"PATCH ",
    b"CONNECT ",
)
_RTSP_METHODS = (
    b"OPTIONS ",
    b"DESCRIBE ",
    b"SETUP ",
    b"PLAY ",
    b"PAUSE ",
    b"TEARDOWN ",
    b"ANNOUNCE ",
    b"RECORD ",
    b"GET_PARAMETER ",
    b"SET_PARAMETER ",
    b"REDIRECT ",
)
_SIP_METHODS = (
    b"REGISTER ",
    b"INVITE ",
    b"ACK ",
    b"BYE ",
    b"CANCEL ",
    b"MESSAGE ",
    b"SUBSCRIBE ",
    b"NOTIFY ",
    b"INFO ",
    b"OPTIONS ",
)


def tcp_parser(
    first: bytes, a_port: int, b_port: int, response_prefixes: tuple[str, ...] = ()
) -> tuple[str, Any] | None:
    """Choose a stream parser from the first payload bytes seen on a TCP flow (an HTTP
    stream keeps the responses to the requests under ``response_prefixes``)."""
    if len(first) >= 3 and first[0] == 0x16 and first[1] == 0x03:
        return "tls", tls.TlsStream()
    if len(first) >= 5 and first[0] & 0x80 and first[2] == 0x01 and first[3] in (0x00, 0x03):
        return "tls", tls.TlsStream()  # SSLv2-format ClientHello of old TLS clients
    line_end = first.find(b"\n")
    line = first[: line_end if line_end >= 0 else 200]
    if line.startswith(b"RTSP/1.") or line.rstrip().endswith(b"RTSP/1.0"):
        return "rtsp", rtsp.RtspStream()
    if line.startswith(b"SIP/2.0") or (
        line.rstrip().endswith(b"SIP/2.0") and line.startswith(_SIP_METHODS)
    ):
        return "sip", sip.SipStream()
    if line.startswith(_HTTP_METHODS) or line.startswith(b"HTTP/1."):
        return "http", http.HttpStream(
            max_messages=HTTP_MAX_MESSAGES, response_prefixes=response_prefixes
        )
    if line.startswith(_RTSP_METHODS) and (a_port == 554 or b_port == 554):
        return "rtsp", rtsp.RtspStream()
    if b_port == 53 or a_port == 53:
        return "dns", dns.DnsTcpStream()
    return None
