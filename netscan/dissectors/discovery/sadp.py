"""Hikvision SADP ("Search Active Devices Protocol") discovery, UDP 37020.

Format as described publicly:

* julienblitte/UniversalScanner, ``UniversalScanner/Hikvision.cs``: port 37020, multicast
  group 239.255.255.250; the search is a small XML document
  ``<Probe><Uuid>...</Uuid><Types>inquiry</Types></Probe>``; answers are XML documents
  whose root is ``<ProbeMatch>``, carrying ``DeviceDescription`` (the model),
  ``DeviceSN`` and ``IPv4Address``.
* cameronnewman/hikvision-tooling, ``internal/sadp/scanner.go`` (and its README): the
  second probe type ``inquiry_v32``, the other ``ProbeMatch`` children (``Uuid``,
  ``Types``, ``DeviceType``, ``MAC`` written with dashes, ``IPv4SubnetMask``,
  ``IPv4Gateway``, ``IPv6Address``, ``IPv6Gateway``, ``DHCP``, ``CommandPort``,
  ``HttpPort``, ``SoftwareVersion``, ``DSPVersion``, ``BootTime``, ``Activated``,
  ``OEMInfo``, ``AnalogChannelNum``, ``DigitalChannelNum``, ``SDKOverTLSPort``).

Events: ``VendorDiscoveryEvent(protocol="sadp")``. A ``Probe`` gives ``is_response=False``
with fields ``uuid`` and ``types``; a ``ProbeMatch`` gives ``is_response=True`` with
(when present) ``vendor`` ("Hikvision"), ``model``, ``serial``, ``mac``, ``ip``,
``netmask``, ``gateway``, ``ipv6``, ``ipv6_gateway``, ``dhcp`` (bool), ``command_port``,
``http_port``, ``sdk_tls_port``, ``software_version``, ``dsp_version``, ``boot_time``,
``activated`` (bool), ``device_type`` (the numeric type code), ``oem``,
``analog_channels``, ``digital_channels``, ``uuid`` and ``types``.

Hostile input: datagrams over 64 KiB are ignored; any document with a DOCTYPE, an
ENTITY declaration or a processing instruction other than the XML declaration is
rejected before parsing, so no entity is ever expanded; parse errors give no event.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any

from netscan.dissectors.discovery._common import (
    MAX_DATAGRAM,
    clean_text,
    normalize_ipv4,
    normalize_ipv6,
    normalize_mac,
    put,
    to_bool,
    to_int,
    to_port,
)
from netscan.events import Ctx, VendorDiscoveryEvent

PORTS: tuple[int, ...] = (37020,)

PROTOCOL = "sadp"

# Markup that may declare or pull in entities. SADP never uses any of it.
_FORBIDDEN = re.compile(rb"<!DOCTYPE|<!ENTITY|<!ELEMENT|<!ATTLIST|<\?(?!xml[\s?])", re.IGNORECASE)
_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")
# Cheap pre-filter: a SADP document mentions one of its two root elements early on.
_ROOTS = (b"<Probe", b"<ProbeMatch")
# Bound on the number of elements walked (a ProbeMatch has about 40).
_MAX_ELEMENTS = 512


def _local(tag: object) -> str:
    """Element name without any ``{namespace}`` prefix."""
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1]


def _children(root: ET.Element) -> dict[str, str]:
    """First text value of each direct child element, by local name."""
    values: dict[str, str] = {}
    for count, child in enumerate(root):
        if count >= _MAX_ELEMENTS:
            break
        name = _local(child.tag)
        if name and name not in values:
            values[name] = child.text or ""
    return values


def _probe_fields(values: dict[str, str]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    put(fields, "uuid", clean_text(values.get("Uuid")))
    put(fields, "types", clean_text(values.get("Types")))
    return fields


def _match_fields(values: dict[str, str]) -> dict[str, Any]:
    fields: dict[str, Any] = {"vendor": "Hikvision"}
    put(fields, "model", clean_text(values.get("DeviceDescription")))
    put(fields, "serial", clean_text(values.get("DeviceSN")))
    put(fields, "mac", normalize_mac(values.get("MAC")))
    put(fields, "ip", normalize_ipv4(values.get("IPv4Address")))
    put(fields, "netmask", normalize_ipv4(values.get("IPv4SubnetMask")))
    put(fields, "gateway", normalize_ipv4(values.get("IPv4Gateway")))
    ipv6 = normalize_ipv6(values.get("IPv6Address"))
    if ipv6 is not None and ipv6 != "::":
        fields["ipv6"] = ipv6
    gw6 = normalize_ipv6(values.get("IPv6Gateway"))
    if gw6 is not None and gw6 != "::":
        fields["ipv6_gateway"] = gw6
    put(fields, "dhcp", to_bool(values.get("DHCP")))
    put(fields, "command_port", to_port(values.get("CommandPort")))
    put(fields, "http_port", to_port(values.get("HttpPort")))
    put(fields, "sdk_tls_port", to_port(values.get("SDKOverTLSPort")))
    put(fields, "software_version", clean_text(values.get("SoftwareVersion")))
    put(fields, "dsp_version", clean_text(values.get("DSPVersion")))
    put(fields, "boot_time", clean_text(values.get("BootTime")))
    put(fields, "activated", to_bool(values.get("Activated")))
    put(fields, "device_type", clean_text(values.get("DeviceType")))
    put(fields, "oem", clean_text(values.get("OEMInfo")))
    put(fields, "analog_channels", to_int(values.get("AnalogChannelNum"), 4096))
    put(fields, "digital_channels", to_int(values.get("DigitalChannelNum"), 4096))
    put(fields, "uuid", clean_text(values.get("Uuid")))
    put(fields, "types", clean_text(values.get("Types")))
    return fields


def _parse_xml(payload: bytes) -> ET.Element | None:
    data = payload.rstrip(b"\x00\r\n\t ")
    if not data or len(data) > MAX_DATAGRAM:
        return None
    head = data[:512]
    if not any(root in head for root in _ROOTS) and b"<?xml" not in head:
        return None
    if _FORBIDDEN.search(data):
        return None
    # Decode here and drop the XML declaration, so that its encoding label (which
    # could name any Python codec) is never looked up. SADP documents are UTF-8.
    text = _DECLARATION.sub("", data.decode("utf-8", errors="replace"), count=1)
    try:
        root = ET.fromstring(text)
    except (ET.ParseError, ValueError, LookupError, RecursionError):
        return None
    return root


def parse(payload: bytes, ctx: Ctx) -> list[VendorDiscoveryEvent]:
    """Events for one SADP datagram: zero or one ``VendorDiscoveryEvent``."""
    if not isinstance(payload, (bytes, bytearray, memoryview)):
        return []
    root = _parse_xml(bytes(payload))
    if root is None:
        return []
    name = _local(root.tag)
    values = _children(root)
    if name == "Probe":
        return [
            VendorDiscoveryEvent(
                ctx=ctx, protocol=PROTOCOL, is_response=False, fields=_probe_fields(values)
            )
        ]
    if name == "ProbeMatch":
        return [
            VendorDiscoveryEvent(
                ctx=ctx, protocol=PROTOCOL, is_response=True, fields=_match_fields(values)
            )
        ]
    return []
