"""Dahua device discovery: DHIP/DHDiscover on UDP 37810 and the older binary search on 5050.

DHIP (UDP 37810, multicast 239.255.255.251 and broadcast), as described publicly:

* julienblitte/UniversalScanner, ``UniversalScanner/Dahua2.cs``: a 32-byte header of
  little-endian 32-bit words: header size (0x20), the magic ``DHIP``, two reserved
  words, the body length, a reserved word, the body length again, a reserved word; the
  search body is ``{"method": "DHDiscover.search", "params": {"mac": "", "uni": 1}}``
  and devices answer with method ``client.notifyDevInfo``. A frame whose header size is
  not 32, or whose two length fields disagree with each other or with the datagram, is
  discarded there too.
* The Rapid7 Lorex discovery helper (``LOREX_DISCOVER.rb``, Stephen Fewer, 2024) and
  a public write-up of UDP 37810 as a reflection vector: the answer's JSON layout,
  ``{"mac": ..., "method": "client.notifyDevInfo", "params": {"deviceInfo": {...}}}``
  with ``DeviceClass``, ``DeviceType``, ``SerialNo``, ``MachineName``, ``Manufacturer``,
  ``Vendor``, ``Version``, ``HttpPort``, ``Port``, ``IPv4Address`` (``IPAddress``,
  ``SubnetMask``, ``DefaultGateway``, ``DhcpEnable``), ``IPv6Address`` and channel counts.

Dahua search v1 (UDP 5050, broadcast), as described publicly in
julienblitte/UniversalScanner ``UniversalScanner/Dahua1.cs``: a fixed 120-byte first
section whose first two bytes are ``A3 01`` in a search and ``B3 00`` in an answer;
little-endian 16-bit lengths of the second and third sections at offsets 2 and 20; a
NUL-padded 16-byte device type at offset 40 and the IPv4 address (network order) at
offset 56. The second section starts with the MAC address as 17 characters of text and
may continue with the model name; the third is ``key:value`` text lines (``SerialNo``
among them). That description is reverse-engineered, so this parser only accepts an
answer whose section lengths fit the datagram exactly, and it is only applied to
datagrams to or from port 5050.

Events: ``VendorDiscoveryEvent`` with protocol ``"dhip"`` (37810) or ``"dahua_v1"``
(5050). Searches give ``is_response=False`` (fields ``method`` and, when the search
targets one device, ``mac``). Answers give ``is_response=True`` with, when present:
``vendor``, ``manufacturer``, ``device_type`` (the model, e.g. ``IPC-HDW5421S``),
``device_class`` (``IPC``, ``NVR``...), ``serial``, ``machine_name``, ``mac``, ``ip``,
``netmask``, ``gateway``, ``dhcp``, ``ipv6``, ``version``, ``http_port``, ``port``,
``video_inputs``, ``method``; and for v1: ``vendor`` ("Dahua"), ``device_type``, ``mac``,
``ip``, ``netmask``, ``gateway``, ``serial``, ``ipv6``.
"""

from __future__ import annotations

import ipaddress
import re
import struct
from typing import Any

from netscan.dissectors.discovery._common import (
    MAX_DATAGRAM,
    clean_text,
    load_json_object,
    normalize_ipv4,
    normalize_ipv6,
    normalize_mac,
    put,
    to_bool,
    to_int,
    to_port,
)
from netscan.events import Ctx, VendorDiscoveryEvent

DHIP_PORT = 37810
V1_PORT = 5050
PORTS: tuple[int, ...] = (DHIP_PORT, V1_PORT)

PROTOCOL = "dhip"
PROTOCOL_V1 = "dahua_v1"

HEADER_LEN = 32
MAGIC = b"DHIP"
_HEADER = struct.Struct("<I4sIIIIII")

SEARCH_METHOD = "DHDiscover.search"
NOTIFY_METHOD = "client.notifyDevInfo"

# --- DHIP (v2) ---------------------------------------------------------------


def _dhip_body(payload: bytes) -> bytes | None:
    """The JSON body of a well-formed DHIP frame, or None."""
    if len(payload) < HEADER_LEN or len(payload) > MAX_DATAGRAM:
        return None
    header_len, magic, _r1, _r2, length1, _r3, length2, _r4 = _HEADER.unpack_from(payload)
    if header_len != HEADER_LEN or magic != MAGIC:
        return None
    if length1 != length2 or length1 == 0:
        return None
    end = HEADER_LEN + length1
    if end > len(payload):
        return None  # truncated
    if payload[end:].strip(b"\x00"):
        return None  # bytes beyond the declared body
    return payload[HEADER_LEN:end]


def _dhip_fields(obj: dict[str, Any]) -> tuple[bool, dict[str, Any]] | None:
    method = obj.get("method")
    params = obj.get("params")
    params = params if isinstance(params, dict) else {}
    if method == SEARCH_METHOD:
        fields: dict[str, Any] = {"method": SEARCH_METHOD}
        put(fields, "mac", normalize_mac(params.get("mac")))
        return False, fields
    info = params.get("deviceInfo")
    if method != NOTIFY_METHOD and not isinstance(info, dict):
        return None
    info = info if isinstance(info, dict) else params
    fields = {"method": clean_text(method) or NOTIFY_METHOD}
    put(fields, "vendor", clean_text(info.get("Vendor")))
    put(fields, "manufacturer", clean_text(info.get("Manufacturer")))
    put(fields, "device_type", clean_text(info.get("DeviceType")))
    put(fields, "device_class", clean_text(info.get("DeviceClass")))
    put(fields, "serial", clean_text(info.get("SerialNo")))
    put(fields, "machine_name", clean_text(info.get("MachineName")))
    put(fields, "version", clean_text(info.get("Version")))
    mac = normalize_mac(obj.get("mac")) or normalize_mac(info.get("mac"))
    put(fields, "mac", mac or normalize_mac(info.get("Mac")))
    v4 = info.get("IPv4Address")
    if isinstance(v4, dict):
        put(fields, "ip", normalize_ipv4(v4.get("IPAddress")))
        put(fields, "netmask", normalize_ipv4(v4.get("SubnetMask")))
        put(fields, "gateway", normalize_ipv4(v4.get("DefaultGateway")))
        put(fields, "dhcp", to_bool(v4.get("DhcpEnable")))
    v6 = info.get("IPv6Address")
    if isinstance(v6, dict):
        put(fields, "ipv6", normalize_ipv6(v6.get("IPAddress")))
    put(fields, "http_port", to_port(info.get("HttpPort")))
    put(fields, "port", to_port(info.get("Port")))
    put(fields, "video_inputs", to_int(info.get("VideoInputChannels"), 4096))
    return True, fields


def parse_dhip(payload: bytes, ctx: Ctx) -> list[VendorDiscoveryEvent]:
    """Events for one DHIP datagram (UDP 37810)."""
    body = _dhip_body(payload)
    if body is None:
        return []
    obj = load_json_object(body)
    if obj is None:
        return []
    result = _dhip_fields(obj)
    if result is None:
        return []
    is_response, fields = result
    return [
        VendorDiscoveryEvent(ctx=ctx, protocol=PROTOCOL, is_response=is_response, fields=fields)
    ]


# --- Dahua search v1 (UDP 5050) ----------------------------------------------

V1_SECTION1 = 120
V1_SEARCH_LEN = 32
_V1_SEARCH = b"\xa3\x01"
_V1_ANSWER = b"\xb3\x00"
_MAC_TEXT = re.compile(r"[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5}")
# Keys of the third section worth keeping, and the field each becomes.
_V1_KEYS = {"SerialNo": "serial", "IPv6Addr": "ipv6"}


def _v1_ip(raw: bytes) -> str | None:
    if raw == b"\x00\x00\x00\x00":
        return None
    return str(ipaddress.IPv4Address(raw))


def _v1_text(raw: bytes) -> str | None:
    return clean_text(raw.split(b"\x00", 1)[0].decode("utf-8", errors="replace"))


def parse_v1(payload: bytes, ctx: Ctx) -> list[VendorDiscoveryEvent]:
    """Events for one Dahua search v1 datagram (UDP 5050)."""
    if len(payload) > MAX_DATAGRAM:
        return []
    head = payload[:2]
    if head == _V1_SEARCH:
        if len(payload) != V1_SEARCH_LEN:
            return []
        return [
            VendorDiscoveryEvent(
                ctx=ctx, protocol=PROTOCOL_V1, is_response=False, fields={"method": "search"}
            )
        ]
    if head != _V1_ANSWER or len(payload) < V1_SECTION1:
        return []
    (len2,) = struct.unpack_from("<H", payload, 2)
    (len3,) = struct.unpack_from("<H", payload, 20)
    end = V1_SECTION1 + len2 + len3
    if end > len(payload) or payload[end:].strip(b"\x00"):
        return []
    fields: dict[str, Any] = {"vendor": "Dahua"}
    put(fields, "device_type", _v1_text(payload[40:56]))
    put(fields, "ip", _v1_ip(payload[56:60]))
    put(fields, "netmask", _v1_ip(payload[60:64]))
    put(fields, "gateway", _v1_ip(payload[64:68]))
    section2 = payload[V1_SECTION1 : V1_SECTION1 + len2].decode("utf-8", errors="replace")
    if _MAC_TEXT.match(section2):
        put(fields, "mac", normalize_mac(section2[:17]))
        put(fields, "device_type", clean_text(section2[17:].split("\x00", 1)[0]))
    section3 = payload[V1_SECTION1 + len2 : end].decode("utf-8", errors="replace")
    for line in section3.splitlines()[:256]:
        key, sep, value = line.partition(":")
        field = _V1_KEYS.get(key.strip())
        if sep and field and field not in fields:
            if field == "ipv6":
                put(fields, field, normalize_ipv6(value))
            else:
                put(fields, field, clean_text(value))
    return [VendorDiscoveryEvent(ctx=ctx, protocol=PROTOCOL_V1, is_response=True, fields=fields)]


# --- entry point ---------------------------------------------------------------


def parse(payload: bytes, ctx: Ctx) -> list[VendorDiscoveryEvent]:
    """Events for one datagram on either Dahua discovery port.

    A frame with a valid DHIP header is parsed as DHIP whatever the port; the v1 layout
    has no magic of its own, so it is only tried on port 5050.
    """
    if not isinstance(payload, (bytes, bytearray, memoryview)):
        return []
    payload = bytes(payload)
    if payload[4:8] == MAGIC:
        return parse_dhip(payload, ctx)
    if V1_PORT in (ctx.sport, ctx.dport):
        return parse_v1(payload, ctx)
    return []
