"""Xiongmai (XM / "Sofia", XMEye and iCSee firmware) discovery, UDP 34569 and 34571.

Format as described publicly:

* KostasEreksonas/Besder-6024PB-XMA501-ip-camera-security-investigation ``README.md``:
  cameras broadcast from UDP 34569, clients search from 34571 (``"SearchType"``); the
  answer is a JSON object ``NetWork.NetCommon`` with ``HostIP`` and ``GateWay`` written as
  ``0x``-prefixed little-endian hex (``0x0A01A8C0`` is 192.168.1.10), ``HostName``
  (``camera_XXXX``), ``MAC``, ``SN``, ``TCPPort`` 34567, ``UDPPort`` 34568, ``SSLPort``,
  ``HttpPort`` and ``Version``.
* NeiroNx/python-dvr ``DeviceManager.py`` (``SearchXM``, also quoted in openHAB's
  ipcamera binding ``XMCameraDiscoveryService``): the same 20-byte little-endian header
  as the TCP 34567 protocol: start byte 0xFF, version byte, two reserved bytes, session
  id (u32), sequence number (u32), two bytes of fragment counters, message id (u16:
  1530 search, 1531 answer) and the JSON length (u32), then the JSON (NUL-terminated on
  some firmware). The search is the bare header with message id 1530 and length 0.

Both framings are accepted: the 20-byte header followed by JSON, and bare JSON.

Events: ``VendorDiscoveryEvent(protocol="xiongmai")``. A search gives ``is_response=False``
(fields ``msg_id`` and, when present, ``search_type``). An answer gives
``is_response=True`` with, when present: ``vendor`` ("Xiongmai"), ``hostname``, ``mac``,
``serial``, ``ip``, ``gateway``, ``netmask``, ``version``, ``build_date``,
``device_type``, ``channels``, ``ports`` (dict with keys ``tcp``, ``udp``, ``http``,
``ssl``), ``msg_id``.
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
    normalize_mac,
    put,
    to_int,
    to_port,
)
from netscan.events import Ctx, VendorDiscoveryEvent

PORTS: tuple[int, ...] = (34569, 34571)

PROTOCOL = "xiongmai"

HEADER_LEN = 20
START = 0xFF
MSG_SEARCH = 1530
MSG_ANSWER = 1531
_HEADER = struct.Struct("<BBHIIHHI")
SECTION = "NetWork.NetCommon"

_HEX_IP = re.compile(r"0[xX]([0-9A-Fa-f]{1,8})")
_PORT_KEYS = (("tcp", "TCPPort"), ("udp", "UDPPort"), ("http", "HttpPort"), ("ssl", "SSLPort"))


def decode_ip(value: object) -> str | None:
    """An IPv4 address from Xiongmai's little-endian hex (``0x0A01A8C0``) or a dotted quad."""
    text = clean_text(value, 32)
    if text is None:
        return None
    m = _HEX_IP.fullmatch(text)
    if m is None:
        return normalize_ipv4(text)
    number = int(m.group(1), 16)
    return str(ipaddress.IPv4Address(number.to_bytes(4, "little")))


def _split(payload: bytes) -> tuple[int | None, bytes] | None:
    """(message id or None, JSON bytes) for a headed frame or bare JSON."""
    if payload[:1] == b"{" or payload.lstrip()[:1] == b"{":
        return None, payload
    if len(payload) < HEADER_LEN or payload[0] != START:
        return None
    _start, _ver, _res, _session, _seq, _frag, msg_id, length = _HEADER.unpack_from(payload)
    if msg_id not in (MSG_SEARCH, MSG_ANSWER):
        return None
    if HEADER_LEN + length > len(payload):
        return None  # truncated
    return msg_id, payload[HEADER_LEN : HEADER_LEN + length]


def _answer_fields(common: dict[str, Any], msg_id: int | None) -> dict[str, Any]:
    fields: dict[str, Any] = {"vendor": "Xiongmai"}
    put(fields, "hostname", clean_text(common.get("HostName")))
    put(fields, "mac", normalize_mac(common.get("MAC")))
    put(fields, "serial", clean_text(common.get("SN")))
    put(fields, "ip", decode_ip(common.get("HostIP")))
    put(fields, "gateway", decode_ip(common.get("GateWay")))
    put(fields, "netmask", decode_ip(common.get("Submask")))
    put(fields, "version", clean_text(common.get("Version")))
    put(fields, "build_date", clean_text(common.get("BuildDate")))
    put(fields, "device_type", clean_text(common.get("DeviceType")))
    put(fields, "channels", to_int(common.get("ChannelNum"), 4096))
    ports: dict[str, int] = {}
    for name, key in _PORT_KEYS:
        port = to_port(common.get(key))
        if port is not None:
            ports[name] = port
    if ports:
        fields["ports"] = ports
    put(fields, "msg_id", msg_id)
    return fields


def parse(payload: bytes, ctx: Ctx) -> list[VendorDiscoveryEvent]:
    """Events for one Xiongmai discovery datagram: zero or one event."""
    if not isinstance(payload, (bytes, bytearray, memoryview)):
        return []
    payload = bytes(payload)
    if not payload or len(payload) > MAX_DATAGRAM:
        return []
    split = _split(payload)
    if split is None:
        return []
    msg_id, body = split
    body = body.rstrip(b"\x00\r\n\t ")
    obj = load_json_object(body) if body else None
    if obj is None:
        if msg_id == MSG_SEARCH and not body:
            return [
                VendorDiscoveryEvent(
                    ctx=ctx, protocol=PROTOCOL, is_response=False, fields={"msg_id": msg_id}
                )
            ]
        return []
    common = obj.get(SECTION)
    if isinstance(common, dict) and msg_id != MSG_SEARCH:
        fields = _answer_fields(common, msg_id)
        return [VendorDiscoveryEvent(ctx=ctx, protocol=PROTOCOL, is_response=True, fields=fields)]
    if msg_id == MSG_SEARCH or "SearchType" in obj:
        fields = {}
        put(fields, "msg_id", msg_id)
        put(fields, "search_type", clean_text(obj.get("SearchType")))
        return [VendorDiscoveryEvent(ctx=ctx, protocol=PROTOCOL, is_response=False, fields=fields)]
    return []
