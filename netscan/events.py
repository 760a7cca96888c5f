"""Protocol events: what the dissectors say about packets.

Every dissector turns payload bytes into zero or more events. An event carries the
packet context (`Ctx`: file index, frame number as Wireshark counts it, timestamp,
addresses, ports) plus the protocol facts. Both engines (the core and tshark) produce
the same event types, so everything downstream is engine-agnostic.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any


@dataclass(slots=True)
class Ctx:
    """Where an event was seen. Addresses are display strings (lower-case MACs)."""

    file: int  # index into the run's input list
    frame: int  # 1-based, equal to Wireshark's frame number in that file
    ts: float
    src_mac: str | None = None
    dst_mac: str | None = None
    src_ip: str | None = None
    dst_ip: str | None = None
    sport: int = 0
    dport: int = 0
    transport: str = ""  # "tcp", "udp", "" for non-IP


@dataclass(slots=True, kw_only=True)
class Event:
    ctx: Ctx

    kind: str = "event"


# --- name services ---------------------------------------------------------


@dataclass(slots=True, kw_only=True)
class DnsRecord:
    name: str
    rtype: str  # "A", "AAAA", "CNAME", "PTR", "SRV", "TXT", or "TYPE<n>"
    value: str  # address, target name, "prio weight port target" for SRV, joined TXT strings
    ttl: int = 0


@dataclass(slots=True, kw_only=True)
class DnsEvent(Event):
    """DNS, mDNS or LLMNR message."""

    kind: str = "dns"
    proto: str = "dns"  # "dns" | "mdns" | "llmnr"
    is_response: bool = False
    rcode: int = 0
    queries: list[tuple[str, str]] = field(default_factory=list)  # (name, rtype)
    answers: list[DnsRecord] = field(default_factory=list)  # answers + additional records


@dataclass(slots=True, kw_only=True)
class NbnsEvent(Event):
    kind: str = "nbns"
    is_response: bool = False
    opcode: int = 0  # 0 query, 5 registration, 6 release, 8 refresh
    name: str = ""  # NetBIOS name without the suffix byte
    suffix: int = 0
    addresses: list[str] = field(default_factory=list)


# --- address assignment ------------------------------------------------------


@dataclass(slots=True, kw_only=True)
class DhcpEvent(Event):
    kind: str = "dhcp"
    msg_type: int = 0  # option 53
    client_mac: str = ""  # chaddr
    your_ip: str | None = None
    hostname: str | None = None  # option 12
    requested_ip: str | None = None  # option 50
    param_request_list: list[int] = field(default_factory=list)  # option 55
    vendor_class: str | None = None  # option 60
    client_id: str | None = None  # option 61, hex
    fqdn: str | None = None  # option 81


@dataclass(slots=True, kw_only=True)
class Dhcpv6Event(Event):
    kind: str = "dhcpv6"
    msg_type: int = 0
    duid: str | None = None  # hex
    vendor_class: str | None = None  # option 16, enterprise number and data joined
    enterprise: int | None = None
    fqdn: str | None = None  # option 39
    # addresses the server assigns (option 5 inside IA_NA 3 / IA_TA 4) and prefixes it
    # delegates (option 26 inside IA_PD 25), as "addr" and "prefix/len"
    addresses: list[str] = field(default_factory=list)
    prefixes: list[str] = field(default_factory=list)


@dataclass(slots=True, kw_only=True)
class RouterAdvertEvent(Event):
    """ICMPv6 Router Advertisement (RFC 4861): a router announcing itself and the link's
    prefixes. ``prefixes`` are the Prefix Information options ("prefix/len"), ``on_link``
    and ``autonomous`` the L and A flags of each, ``router_mac`` the Source Link-Layer
    Address option (or None)."""

    kind: str = "icmpv6_ra"
    router_lifetime: int = 0
    managed: bool = False  # M flag: addresses from DHCPv6
    prefixes: list[str] = field(default_factory=list)
    on_link: list[bool] = field(default_factory=list)
    autonomous: list[bool] = field(default_factory=list)
    router_mac: str | None = None


@dataclass(slots=True, kw_only=True)
class ArpEvent(Event):
    kind: str = "arp"
    op: int = 0
    sender_mac: str = ""
    sender_ip: str = ""
    target_mac: str = ""
    target_ip: str = ""


# --- TLS / QUIC ---------------------------------------------------------------


@dataclass(slots=True, kw_only=True)
class TlsClientHelloEvent(Event):
    kind: str = "tls_client_hello"
    sni: str | None = None
    alpn: list[str] = field(default_factory=list)
    versions: list[int] = field(default_factory=list)  # supported_versions, else legacy
    ja3: str = ""  # the JA3 string
    ja3_hash: str = ""
    ja4: str = ""
    quic: bool = False  # True when carried in a QUIC Initial


@dataclass(slots=True, kw_only=True)
class TlsCertificateEvent(Event):
    kind: str = "tls_certificate"
    subject: str = ""  # RFC 4514 string
    issuer: str = ""
    san: list[str] = field(default_factory=list)


# --- HTTP-like text protocols -------------------------------------------------


@dataclass(slots=True, kw_only=True)
class HttpRequestEvent(Event):
    kind: str = "http_request"
    method: str = ""
    path: str = ""
    version: str = ""
    host: str | None = None
    user_agent: str | None = None
    content_type: str | None = None
    content_length: int | None = None
    boundary: str | None = None
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names, first value


@dataclass(slots=True, kw_only=True)
class HttpResponseEvent(Event):
    kind: str = "http_response"
    status: int = 0
    reason: str = ""
    version: str = ""
    server: str | None = None
    content_type: str | None = None
    content_length: int | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True, kw_only=True)
class HttpBodyEvent(Event):
    """A reassembled HTTP message body (requests only; bounded in size)."""

    kind: str = "http_body"
    method: str = ""
    path: str = ""
    host: str | None = None
    content_type: str | None = None
    body: bytes = b""
    complete: bool = True  # False when the capture ended or the size cap was hit
    first_frame: int = 0
    last_frame: int = 0


@dataclass(slots=True, kw_only=True)
class RtspEvent(Event):
    kind: str = "rtsp"
    is_response: bool = False
    method: str = ""
    url: str = ""
    status: int = 0
    server: str | None = None
    user_agent: str | None = None
    realm: str | None = None  # from WWW-Authenticate
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True, kw_only=True)
class SipEvent(Event):
    kind: str = "sip"
    is_response: bool = False
    method: str = ""  # request method, or CSeq method on responses
    status: int = 0
    request_uri: str = ""
    from_uri: str = ""
    to_uri: str = ""
    user_agent: str | None = None
    server: str | None = None
    content_type: str | None = None
    body: str = ""  # first 4 KB (GB/T 28181 MANSCDP XML lives here)


@dataclass(slots=True, kw_only=True)
class PayloadEvent(Event):
    """The head of a payload on a port the signature pack names for its content markers
    (e.g. a vendor's P2P probe on UDP 8800), where no protocol dissector claims the flow.
    Only a flow's first datagrams reach it, each cut to a bounded head (the engine counts
    the datagrams and bytes left out): the bytes are attacker-chosen and only scanned for
    markers."""

    kind: str = "payload"
    transport: str = "udp"
    port: int = 0  # the pack-named port the payload was sent to or from
    direction: str = "to-port"  # "to-port" (sent to the named port) or "from-port"
    head: bytes = b""


@dataclass(slots=True, kw_only=True)
class SsdpEvent(Event):
    kind: str = "ssdp"
    method: str = ""  # "NOTIFY", "M-SEARCH", "RESPONSE"
    server: str | None = None
    usn: str | None = None
    nt: str | None = None  # NT on NOTIFY, ST on M-SEARCH and responses
    nts: str | None = None
    location: str | None = None
    user_agent: str | None = None


@dataclass(slots=True, kw_only=True)
class WsdEvent(Event):
    """WS-Discovery (ONVIF) message."""

    kind: str = "wsd"
    action: str = ""  # "Probe", "ProbeMatches", "Hello", "Bye", "Resolve", "ResolveMatches"
    types: list[str] = field(default_factory=list)
    scopes: list[str] = field(default_factory=list)
    xaddrs: list[str] = field(default_factory=list)
    endpoint: str | None = None  # EndpointReference/Address


@dataclass(slots=True, kw_only=True)
class NtpEvent(Event):
    kind: str = "ntp"
    version: int = 0
    mode: int = 0
    stratum: int = 0


@dataclass(slots=True, kw_only=True)
class VendorDiscoveryEvent(Event):
    """A vendor's own discovery protocol (Hikvision SADP, Dahua DHIP, Xiongmai, ...)."""

    kind: str = "vendor_discovery"
    protocol: str = ""  # "sadp", "dhip", "xiongmai", ...
    is_response: bool = False
    fields: dict[str, Any] = field(default_factory=dict)  # model, serial, mac, ip, ...


def _kind_of(cls: type[Event]) -> str:
    return next(f.default for f in fields(cls) if f.name == "kind")  # type: ignore[return-value]


# Every concrete event class, by its `kind`.
EVENT_TYPES: dict[str, type[Event]] = {
    _kind_of(cls): cls
    for cls in (
        DnsEvent,
        NbnsEvent,
        DhcpEvent,
        Dhcpv6Event,
        RouterAdvertEvent,
        ArpEvent,
        TlsClientHelloEvent,
        TlsCertificateEvent,
        HttpRequestEvent,
        HttpResponseEvent,
        HttpBodyEvent,
        RtspEvent,
        SipEvent,
        PayloadEvent,
        SsdpEvent,
        WsdEvent,
        NtpEvent,
        VendorDiscoveryEvent,
    )
}
