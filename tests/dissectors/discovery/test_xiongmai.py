"""Xiongmai discovery parser.

The answer below is written by hand after the public descriptions cited in
``netscan/dissectors/discovery/xiongmai.py``: the ``NetWork.NetCommon`` keys and hex
address notation of the Besder XMA501 investigation README, and the 20-byte header
(0xFF start byte, message ids 1530/1531, JSON length) of python-dvr's ``SearchXM``.
Values are invented.
"""

from __future__ import annotations

import json
import struct

import pytest

from netscan.dissectors.discovery import xiongmai
from netscan.events import Ctx
from tests.dissectors.discovery._fuzz import assert_never_raises

CTX = Ctx(file=0, frame=3, ts=0.0, src_ip="192.168.1.10", sport=34569, dport=34569, transport="udp")

NET_COMMON = {
    "NetWork.NetCommon": {
        "BuildDate": "2021-08-17 10:21:33",
        "ChannelNum": 1,
        "DeviceType": 7,
        "GateWay": "0x0101A8C0",
        "HostIP": "0x0A01A8C0",
        "HostName": "camera_3f2a",
        "HttpPort": 80,
        "MAC": "00:12:41:8c:3f:2a",
        "MaxBps": 0,
        "MonMode": "TCP",
        "SN": "a1b2c3d4e5f60718",
        "SSLPort": 8443,
        "Submask": "0x00FFFFFF",
        "TCPMaxConn": 10,
        "TCPPort": 34567,
        "TransferPlan": "Quality",
        "UDPPort": 34568,
        "UseHSDownLoad": False,
        "Version": "V5.00.R02.000529B2.10010.040600.0020000",
    },
    "Name": "NetWork.NetCommon",
    "Ret": 100,
    "SessionID": "0x00000000",
}


def headed(msg_id: int, body: bytes, length: int | None = None) -> bytes:
    n = len(body) if length is None else length
    return struct.pack("<BBHIIHHI", 0xFF, 1, 0, 0, 0, 0, msg_id, n) + body


ANSWER = headed(1531, json.dumps(NET_COMMON).encode() + b"\n\x00")
SEARCH = headed(1530, b"")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0x0A01A8C0", "192.168.1.10"),
        ("0x0101a8c0", "192.168.1.1"),
        ("0x00FFFFFF", "255.255.255.0"),
        ("192.168.1.10", "192.168.1.10"),
        ("0x", None),
        ("0x123456789", None),
        ("nonsense", None),
        (3232235786, None),
    ],
)
def test_decode_ip(value: object, expected: str | None) -> None:
    assert xiongmai.decode_ip(value) == expected


def test_answer_fields() -> None:
    (event,) = xiongmai.parse(ANSWER, CTX)
    assert event.protocol == "xiongmai"
    assert event.is_response is True
    f = event.fields
    assert f["vendor"] == "Xiongmai"
    assert f["hostname"] == "camera_3f2a"
    assert f["mac"] == "00:12:41:8c:3f:2a"
    assert f["serial"] == "a1b2c3d4e5f60718"
    assert f["ip"] == "192.168.1.10"
    assert f["gateway"] == "192.168.1.1"
    assert f["netmask"] == "255.255.255.0"
    assert f["version"] == "V5.00.R02.000529B2.10010.040600.0020000"
    assert f["ports"] == {"tcp": 34567, "udp": 34568, "http": 80, "ssl": 8443}
    assert f["channels"] == 1
    assert f["msg_id"] == 1531


def test_bare_json_answer() -> None:
    (event,) = xiongmai.parse(json.dumps(NET_COMMON).encode(), CTX)
    assert event.fields["ip"] == "192.168.1.10"
    assert "msg_id" not in event.fields


def test_header_search() -> None:
    (event,) = xiongmai.parse(SEARCH, CTX)
    assert event.is_response is False
    assert event.fields == {"msg_id": 1530}


def test_json_search_from_34571() -> None:
    ctx = Ctx(file=0, frame=4, ts=0.0, sport=34571, dport=34569, transport="udp")
    (event,) = xiongmai.parse(b'{ "SearchType" : "Config" }\n', ctx)
    assert event.is_response is False
    assert event.fields == {"search_type": "Config"}


def test_header_validation() -> None:
    body = json.dumps(NET_COMMON).encode()
    assert xiongmai.parse(headed(1531, body, len(body) + 1), CTX) == []  # truncated
    assert xiongmai.parse(headed(1000, body), CTX) == []  # login, not discovery
    assert xiongmai.parse(b"\xfe" + headed(1531, body)[1:], CTX) == []
    assert xiongmai.parse(headed(1531, b"[1]"), CTX) == []
    assert xiongmai.parse(headed(1531, b'{"Ret": 100}'), CTX) == []
    assert xiongmai.parse(headed(1531, b"{bad"), CTX) == []


def test_odd_values_are_dropped() -> None:
    common = {"HostIP": 12, "MAC": "zz", "TCPPort": "34567", "HttpPort": 0, "SN": ["x"]}
    (event,) = xiongmai.parse(json.dumps({"NetWork.NetCommon": common}).encode(), CTX)
    assert event.fields == {"vendor": "Xiongmai", "ports": {"tcp": 34567}}


def test_truncation_and_garbage_never_raise() -> None:
    assert_never_raises(xiongmai.parse, ANSWER, CTX)
    assert_never_raises(xiongmai.parse, json.dumps(NET_COMMON).encode(), CTX)
