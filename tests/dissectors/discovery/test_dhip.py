"""Dahua DHIP (UDP 37810) and search v1 (UDP 5050) parsers.

DHIP frames follow the 32-byte header of julienblitte/UniversalScanner ``Dahua2.cs``
(header size 0x20, magic "DHIP", body length at offsets 16 and 24) and the
``client.notifyDevInfo`` JSON layout shown in the Rapid7 Lorex discovery helper and in
the public UDP 37810 reflection write-up. The v1 answer follows the section layout of
UniversalScanner ``Dahua1.cs``. All values are invented.
"""

from __future__ import annotations

import json
import struct

from netscan.dissectors.discovery import dhip
from netscan.events import Ctx
from tests.dissectors.discovery._fuzz import assert_never_raises

CTX = Ctx(
    file=0, frame=7, ts=1.5, src_ip="192.168.1.108", sport=37810, dport=37810, transport="udp"
)
CTX_V1 = Ctx(
    file=0, frame=8, ts=2.0, src_ip="192.168.1.108", sport=5050, dport=5050, transport="udp"
)


def frame(body: bytes, length1: int | None = None, length2: int | None = None) -> bytes:
    n1 = len(body) if length1 is None else length1
    n2 = len(body) if length2 is None else length2
    return struct.pack("<I4sIIIIII", 0x20, b"DHIP", 0, 0, n1, 0, n2, 0) + body


SEARCH = frame(b'{ "method" : "DHDiscover.search", "params" : { "mac" : "", "uni" : 1 } }\r\n')

NOTIFY_JSON = {
    "mac": "3c:ef:8c:12:34:56",
    "method": "client.notifyDevInfo",
    "params": {
        "deviceInfo": {
            "AlarmInputChannels": 2,
            "AlarmOutputChannels": 1,
            "DeviceClass": "IPC",
            "DeviceType": "IPC-HDW5442TM-AS",
            "HttpPort": 80,
            "IPv4Address": {
                "DefaultGateway": "192.168.1.1",
                "DhcpEnable": False,
                "IPAddress": "192.168.1.108",
                "SubnetMask": "255.255.255.0",
            },
            "IPv6Address": {
                "DefaultGateway": "",
                "DhcpEnable": False,
                "IPAddress": "2001:db8::108/64",
                "LinkLocalAddress": "fe80::3eef:8cff:fe12:3456/64",
            },
            "MachineName": "6C0ABCD1234567",
            "Manufacturer": "Private",
            "Port": 37777,
            "RemoteVideoInputChannels": 0,
            "SerialNo": "6C0ABCD1234567",
            "Vendor": "Dahua",
            "Version": "2.800.0000000.16.R",
            "VideoInputChannels": 1,
            "VideoOutputChannels": 0,
        }
    },
}
NOTIFY = frame(json.dumps(NOTIFY_JSON, indent=1).encode() + b"\n")


def test_search_is_a_request() -> None:
    (event,) = dhip.parse(SEARCH, CTX)
    assert event.protocol == "dhip"
    assert event.is_response is False
    assert event.fields == {"method": "DHDiscover.search"}


def test_search_for_one_mac() -> None:
    body = b'{"method":"DHDiscover.search","params":{"mac":"3C-EF-8C-12-34-56","uni":1}}'
    (event,) = dhip.parse(frame(body), CTX)
    assert event.fields["mac"] == "3c:ef:8c:12:34:56"


def test_notify_fields() -> None:
    (event,) = dhip.parse(NOTIFY, CTX)
    assert event.is_response is True
    f = event.fields
    assert f["method"] == "client.notifyDevInfo"
    assert f["device_type"] == "IPC-HDW5442TM-AS"
    assert f["device_class"] == "IPC"
    assert f["serial"] == "6C0ABCD1234567"
    assert f["mac"] == "3c:ef:8c:12:34:56"
    assert f["ip"] == "192.168.1.108"
    assert f["netmask"] == "255.255.255.0"
    assert f["gateway"] == "192.168.1.1"
    assert f["dhcp"] is False
    assert f["ipv6"] == "2001:db8::108"
    assert f["vendor"] == "Dahua"
    assert f["manufacturer"] == "Private"
    assert f["version"] == "2.800.0000000.16.R"
    assert f["http_port"] == 80
    assert f["port"] == 37777
    assert f["video_inputs"] == 1


def test_notify_padded_with_nuls() -> None:
    assert len(dhip.parse(NOTIFY + b"\x00" * 8, CTX)) == 1


def test_face_terminal_on_any_port() -> None:
    info = {"DeviceType": "ASI7213Y-V3", "DeviceClass": "ASI", "SerialNo": "7J0XYZ"}
    body = json.dumps({"method": "client.notifyDevInfo", "params": {"deviceInfo": info}}).encode()
    ctx = Ctx(file=0, frame=1, ts=0.0, sport=37810, dport=50123, transport="udp")
    (event,) = dhip.parse(frame(body), ctx)
    assert event.fields["device_type"] == "ASI7213Y-V3"
    assert "mac" not in event.fields


def test_header_validation() -> None:
    body = json.dumps(NOTIFY_JSON).encode()
    assert dhip.parse(frame(body, length1=len(body) + 1, length2=len(body) + 1), CTX) == []
    assert dhip.parse(frame(body, length2=len(body) - 1), CTX) == []
    assert dhip.parse(frame(body, length1=len(body) - 1, length2=len(body) - 1), CTX) == []
    assert dhip.parse(frame(body, length1=0, length2=0), CTX) == []
    bad_size = struct.pack("<I", 0x24) + frame(body)[4:]
    assert dhip.parse(bad_size, CTX) == []
    bad_magic = frame(body).replace(b"DHIP", b"DHIQ", 1)
    assert dhip.parse(bad_magic, CTX) == []
    assert dhip.parse(frame(b"[1, 2, 3]"), CTX) == []
    assert dhip.parse(frame(b'{"method": "other.method"}'), CTX) == []
    assert dhip.parse(frame(b"{not json"), CTX) == []
    assert dhip.parse(frame(b'{"method": "\xff\xfe"}'), CTX) == []
    assert dhip.parse(b"\xff", CTX) == []  # the one-byte "reflection" request


def test_deeply_nested_json_does_not_raise() -> None:
    body = b'{"a":' * 30000 + b"1" + b"}" * 30000
    assert dhip.parse(frame(body), CTX) == []


def test_truncation_and_garbage_never_raise() -> None:
    assert_never_raises(dhip.parse, NOTIFY, CTX)
    assert_never_raises(dhip.parse, SEARCH, CTX)


# --- v1 on UDP 5050 --------------------------------------------------------------

V1_SEARCH = bytes([0xA3, 0x01, 0x00, 0x01] + [0] * 12 + [0x02] + [0] * 15)


def v1_answer(section2: bytes, section3: bytes, model: bytes = b"IPC-HFW1200S") -> bytes:
    s1 = bytearray(120)
    s1[0:2] = b"\xb3\x00"
    struct.pack_into("<H", s1, 2, len(section2))
    struct.pack_into("<I", s1, 4, 0x58)
    struct.pack_into("<I", s1, 16, 2)
    struct.pack_into("<H", s1, 20, len(section3))
    s1[40 : 40 + len(model)] = model
    s1[56:60] = bytes([192, 168, 1, 108])
    s1[60:64] = bytes([255, 255, 255, 0])
    s1[64:68] = bytes([192, 168, 1, 1])
    return bytes(s1) + section2 + section3


V1_ANSWER = v1_answer(
    b"3c:ef:8c:12:34:56",
    b"SerialNo:4K01234PAZ12345\r\nIPv6Addr:2001:db8::108/64\r\nDevType:IPC\r\n",
)


def test_v1_search() -> None:
    (event,) = dhip.parse(V1_SEARCH, CTX_V1)
    assert event.protocol == "dahua_v1"
    assert event.is_response is False


def test_v1_answer() -> None:
    (event,) = dhip.parse(V1_ANSWER, CTX_V1)
    assert event.is_response is True
    assert event.fields == {
        "vendor": "Dahua",
        "device_type": "IPC-HFW1200S",
        "ip": "192.168.1.108",
        "netmask": "255.255.255.0",
        "gateway": "192.168.1.1",
        "mac": "3c:ef:8c:12:34:56",
        "serial": "4K01234PAZ12345",
        "ipv6": "2001:db8::108",
    }


def test_v1_model_from_section2_wins() -> None:
    (event,) = dhip.parse(v1_answer(b"3c:ef:8c:12:34:56DH-NVR4104", b"", b"NVR"), CTX_V1)
    assert event.fields["device_type"] == "DH-NVR4104"


def test_v1_needs_port_5050_and_exact_lengths() -> None:
    assert dhip.parse(V1_ANSWER, CTX) == []  # not on 5050
    assert dhip.parse(V1_ANSWER[:-1], CTX_V1) == []
    assert dhip.parse(V1_ANSWER + b"junk", CTX_V1) == []
    assert dhip.parse(V1_SEARCH + b"x", CTX_V1) == []


def test_v1_never_raises() -> None:
    assert_never_raises(dhip.parse, V1_ANSWER, CTX_V1)
    assert_never_raises(dhip.parse_v1, V1_SEARCH, CTX_V1)
