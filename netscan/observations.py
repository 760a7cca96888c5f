"""Observations: what each protocol event, flow and address contributes to the signatures.

An observation is ``(field, value, subject)``: a value in the signature pack's vocabulary
(``signatures/README.md``) and whom it describes. The matcher matches observations only;
the inventory attaches each hit to its subject. This module is the one place that says,
per event type, which fields an event carries and about whom (``EVENT_OBSERVERS``), and
what flows and off-site addresses carry (addresses, ports, networks).

Subjects, and where the inventory attaches the hits of each signature category:

=========  ==========================================  =====================================
subject    a device signature describes ...           a cloud signature describes ...
=========  ==========================================  =====================================
SENDER     the sending device (what it says of itself:  the sender, when it is off-site
           names, banners, certificates, discovery)     (a server's certificate)
SERVER     the device the request is sent to (a path    the server the request is sent to,
           or stream URL it serves)                     when it is off-site
CLIENT     the sending device (what it asks for and     the server it talks to, when that is
           how: host names, user agents, payloads)      off-site (the service it uses)
ASKER      the sending device (names it looks up)       nobody: a resolver is not the name
=========  ==========================================  =====================================

Protocol signatures (payload markers) are evidence about what the sending device sends,
whatever the subject. Ports are weak facts: a port hit alone never names a device or a
provider (see ``WEAK_FIELDS``); it corroborates a signature that fired on its subject by
another field.

Only what a device says about itself counts as device evidence: mDNS service types come from
answers and from probes of the device's own instance names (not from browsing queries),
WS-Discovery types/scopes from ProbeMatches/Hello/Bye/ResolveMatches (not Probe), SSDP NT
from NOTIFY and responses (not M-SEARCH), and vendor discovery from responses or messages
that carry device fields.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import IntEnum
from typing import Any
from urllib.parse import urlsplit

from netscan import events as ev


class Subject(IntEnum):
    """Whom an observed value describes (see the module's table)."""

    SENDER = 0
    SERVER = 1
    CLIENT = 2
    ASKER = 3


SENDER, SERVER, CLIENT, ASKER = Subject.SENDER, Subject.SERVER, Subject.CLIENT, Subject.ASKER

# the module's table as data: which side of the packet ("src" or "dst") a device signature's
# hit describes, and which side a cloud signature's hit describes (None: nobody)
DEVICE_SIDE: dict[int, str] = {SENDER: "src", SERVER: "dst", CLIENT: "src", ASKER: "src"}
CLOUD_SIDE: dict[int, str | None] = {SENDER: "src", SERVER: "dst", CLIENT: "dst", ASKER: None}

# (field, value, subject); a content marker's value is the payload (bytes)
Observation = tuple[str, Any, Subject]
Observer = Callable[[Any], list[Observation]]

# fields whose hit alone is too weak to name a device or a provider: many services share a
# port. A hit on them is kept as evidence and corroborates the same signature's other hits.
WEAK_FIELDS = frozenset({"port"})

MAX_QUERIES = 64  # names taken from one DNS/mDNS message's question section
MAX_ANSWERS = 128  # records taken from one message's answer sections
MAX_NAMES = 256  # distinct names observed in one message
MAX_WSD_TYPES = 32
MAX_WSD_SCOPES = 64
MAX_SANS = 64
DEVICE_KEYS = frozenset({"model", "serial", "mac", "sn", "device_type", "serialno"})


def _add(out: list[Observation], field: str, value: str | None, subject: Subject) -> None:
    if value:
        out.append((field, value, subject))


# -- one observer per event type --------------------------------------------------------------


def _dhcp(e: ev.DhcpEvent) -> list[Observation]:
    # the client speaks in discover, request and inform; server answers name nobody's facts
    if e.msg_type not in (1, 3, 8) or not e.client_mac or len(e.client_mac) != 17:
        return []
    out: list[Observation] = []
    _add(out, "dhcp_hostname", e.hostname, SENDER)
    _add(out, "dhcp_hostname", e.fqdn, SENDER)
    _add(out, "dhcp_vendor_class", e.vendor_class, SENDER)
    if e.param_request_list:
        out.append(("dhcp_prl", ",".join(str(x) for x in e.param_request_list), SENDER))
    out.append(("oui_prefix", e.client_mac, SENDER))
    return out


def _dhcpv6(e: ev.Dhcpv6Event) -> list[Observation]:
    out: list[Observation] = []
    _add(out, "dhcp_hostname", e.fqdn, SENDER)
    _add(out, "dhcp_vendor_class", e.vendor_class, SENDER)
    return out


def _dns(e: ev.DnsEvent) -> list[Observation]:
    if e.proto == "mdns":
        return _mdns(e)
    # unicast DNS: the names a device looks up (answers reach the endpoints they resolve
    # to through passive DNS, not through the resolver that gave them); LLMNR answers name
    # the answering host itself
    if e.is_response and e.proto != "llmnr":
        return []
    subject = SENDER if e.is_response else ASKER
    if len(e.queries) == 1 and not e.answers:  # the usual question: one name
        name = e.queries[0][0]
        return [("dns_name", name, subject)] if name.strip(" .") else []
    out: list[Observation] = []
    seen: set[str] = set()
    names = [q for q, _ in e.queries[:MAX_QUERIES]]
    names.extend(rr.name for rr in e.answers[:MAX_ANSWERS])
    for name in names[:MAX_NAMES]:
        n = name.strip().rstrip(".").lower()
        if n and n not in seen:
            seen.add(n)
            out.append(("dns_name", name, subject))
    return out


def _mdns(e: ev.DnsEvent) -> list[Observation]:
    services: set[str] = set()
    names: set[str] = set()
    for qname, _ in e.queries[:MAX_QUERIES]:
        service, instance = split_mdns(qname)
        if instance:  # probing its own instance name, not browsing
            names.add(qname)
            if service:
                services.add(service)
        elif service is None:
            names.add(qname)  # a host name such as localcam.local
    for rr in e.answers[:MAX_ANSWERS]:
        for n in (rr.name, rr.value if rr.rtype in ("PTR", "SRV") else ""):
            if rr.rtype == "SRV" and n is rr.value:
                n = rr.value.split()[-1] if rr.value.split() else ""
            if not n:
                continue
            service, instance = split_mdns(n)
            if service:
                services.add(service)
            if instance or service is None:
                names.add(n)
    out: list[Observation] = [("mdns_service", s, SENDER) for s in sorted(services)]
    out.extend(("mdns_name", n, SENDER) for n in sorted(names))
    return out


def _tls_client_hello(e: ev.TlsClientHelloEvent) -> list[Observation]:
    out: list[Observation] = []
    _add(out, "tls_sni", e.sni, CLIENT)
    _add(out, "ja3", e.ja3_hash, SENDER)
    _add(out, "ja3", e.ja3, SENDER)
    _add(out, "ja4", e.ja4, SENDER)
    return out


def _tls_certificate(e: ev.TlsCertificateEvent) -> list[Observation]:
    # the certificate comes from the server: it describes the sender
    out: list[Observation] = []
    _add(out, "tls_cert_subject", e.subject, SENDER)
    _add(out, "tls_cert_issuer", e.issuer, SENDER)
    for san in e.san[:MAX_SANS]:
        if san and not san.startswith("*"):
            out.append(("tls_cert_san", san, SENDER))
    return out


def _http_request(e: ev.HttpRequestEvent) -> list[Observation]:
    out: list[Observation] = []
    _add(out, "http_host", e.host, CLIENT)
    _add(out, "http_path_prefix", e.path, SERVER)  # paths describe the server asked
    _add(out, "http_user_agent", e.user_agent, CLIENT)
    _add(out, "http_content_type", e.content_type, CLIENT)
    return out


def _http_response(e: ev.HttpResponseEvent) -> list[Observation]:
    out: list[Observation] = []
    _add(out, "http_server", e.server, SENDER)
    _add(out, "http_content_type", e.content_type, SENDER)
    return out


def _http_body(e: ev.HttpBodyEvent) -> list[Observation]:
    # the host and path again beside the body, so signatures that need a path and a
    # marker together (match_all) see them as one observation
    out: list[Observation] = []
    _add(out, "http_host", e.host, CLIENT)
    _add(out, "http_path_prefix", e.path, SERVER)
    _add(out, "http_content_type", e.content_type, CLIENT)
    if e.body:
        out.append(("content_marker", e.body, CLIENT))
    return out


def _rtsp(e: ev.RtspEvent) -> list[Observation]:
    out: list[Observation] = []
    if e.is_response:
        _add(out, "rtsp_server", e.server, SENDER)
        _add(out, "rtsp_realm", e.realm, SENDER)
    elif e.url:
        out.append(("rtsp_path", rtsp_path(e.url), SERVER))  # the server's stream path
    return out


def _ssdp(e: ev.SsdpEvent) -> list[Observation]:
    out: list[Observation] = []
    _add(out, "ssdp_server", e.server, SENDER)
    _add(out, "ssdp_usn", e.usn, SENDER)
    if e.method != "M-SEARCH":  # a search names what is sought, not the sender
        _add(out, "ssdp_nt", e.nt, SENDER)
    return out


def _wsd(e: ev.WsdEvent) -> list[Observation]:
    if e.action in ("Probe", "Resolve"):
        return []
    out: list[Observation] = [("wsd_type", t, SENDER) for t in e.types[:MAX_WSD_TYPES] if t]
    out.extend(("wsd_scope", s, SENDER) for s in e.scopes[:MAX_WSD_SCOPES] if s)
    return out


def _vendor_discovery(e: ev.VendorDiscoveryEvent) -> list[Observation]:
    if e.protocol and (e.is_response or DEVICE_KEYS & {k.lower() for k in e.fields}):
        return [("vendor_discovery", e.protocol, SENDER)]
    return []


def _sip(e: ev.SipEvent) -> list[Observation]:
    # a SIP body (GB/T 28181 MANSCDP XML) is a payload like an HTTP body: content markers
    if not e.body:
        return []
    return [("content_marker", e.body.encode("utf-8"), SENDER if e.is_response else CLIENT)]


def _nothing(e: Any) -> list[Observation]:
    return []


# Every event type and what it contributes. Events with nothing to say for the signatures
# (ARP, NBNS, NTP, Router Advertisements) are listed too: a new event type must be
# placed here (a test checks that every type of ``events.EVENT_TYPES`` is).
EVENT_OBSERVERS: dict[str, Observer] = {
    "dns": _dns,
    "nbns": _nothing,  # NetBIOS names reach role rules as host names
    "dhcp": _dhcp,
    "dhcpv6": _dhcpv6,
    "icmpv6_ra": _nothing,
    "arp": _nothing,
    "tls_client_hello": _tls_client_hello,
    "tls_certificate": _tls_certificate,
    "http_request": _http_request,
    "http_response": _http_response,
    "http_body": _http_body,
    "rtsp": _rtsp,
    "sip": _sip,
    "ssdp": _ssdp,
    "wsd": _wsd,
    "ntp": _nothing,
    "vendor_discovery": _vendor_discovery,
}

# events whose sender is named in the message rather than by the frame's source address:
# a DHCP relay forwards the client's words, and the client is its hardware address
NAMED_SENDER: dict[str, Callable[[Any], str | None]] = {
    "dhcp": lambda e: e.client_mac,
}


def observe(e: ev.Event) -> list[Observation]:
    """What one event contributes to the signatures."""
    fn = EVENT_OBSERVERS.get(e.kind)
    return fn(e) if fn is not None else []


# -- flows and addresses ----------------------------------------------------------------------


def port_observation(transport: str, port: int) -> Observation:
    """The server port of a conversation: it describes the server (``SERVER``)."""
    return ("port", f"{transport.lower()}/{int(port)}", SERVER)


def address_observations(ip: str, asn: int | None = None) -> list[Observation]:
    """An off-site address and, once known, the network (AS) it belongs to: both describe
    the endpoint itself."""
    out: list[Observation] = [("ip_cidr", ip, SENDER)]
    if asn is not None:
        out.append(("asn", str(asn), SENDER))
    return out


# -- helpers ------------------------------------------------------------------------------------


def rtsp_path(url: str) -> str:
    """The path (and query) of an RTSP URL, or the URL when it is already a path."""
    if url.startswith("/"):
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    path = parts.path or "/"
    return f"{path}?{parts.query}" if parts.query else path


def split_mdns(name: str) -> tuple[str | None, str | None]:
    """(service type like ``_http._tcp``, instance label) of an mDNS name."""
    labels = name.strip().rstrip(".").split(".")
    low = [lab.lower() for lab in labels]
    for i in range(len(low) - 1):
        if low[i + 1] in ("_tcp", "_udp") and low[i].startswith("_"):
            service = f"{low[i]}.{low[i + 1]}"
            inst_labels = labels[:i]
            if inst_labels and inst_labels[-1].lower() == "_sub":
                return service, None
            instance = ".".join(inst_labels)
            return service, (instance if instance and not instance.startswith("_") else None)
    return None, None


__all__ = [
    "ASKER",
    "CLIENT",
    "CLOUD_SIDE",
    "DEVICE_SIDE",
    "EVENT_OBSERVERS",
    "NAMED_SENDER",
    "SENDER",
    "SERVER",
    "WEAK_FIELDS",
    "Observation",
    "Subject",
    "address_observations",
    "observe",
    "port_observation",
    "rtsp_path",
    "split_mdns",
]
