from __future__ import annotations

import random

import pytest
from scapy.layers.ntp import NTPControl, NTPHeader, NTPPrivate

from netscan.dissectors import ntp
from netscan.events import Ctx, NtpEvent
from tests.conftest import realworld
from tests.dissectors._udp_capture import udp_payloads

CTX = Ctx(file=0, frame=118, ts=9.0, src_ip="10.10.10.37", sport=123, dport=123, transport="udp")


def _one(payload: bytes) -> NtpEvent:
    events = ntp.parse(payload, CTX)
    assert len(events) == 1
    event = events[0]
    assert isinstance(event, NtpEvent)
    assert event.ctx is CTX
    assert event.kind == "ntp"
    return event


@pytest.mark.parametrize(
    ("version", "mode", "stratum"),
    [(4, 3, 0), (4, 4, 2), (3, 3, 0), (3, 4, 1), (2, 1, 5), (1, 5, 16), (4, 4, 15)],
)
def test_header_fields(version: int, mode: int, stratum: int) -> None:
    payload = bytes(NTPHeader(leap=3, version=version, mode=mode, stratum=stratum))
    assert len(payload) == 48
    event = _one(payload)
    assert (event.version, event.mode, event.stratum) == (version, mode, stratum)


def test_control_and_private_modes() -> None:
    control = bytes(NTPControl(version=2, op_code=2))
    event = _one(control)
    assert (event.version, event.mode, event.stratum) == (2, 6, 0)
    private = bytes(NTPPrivate(version=2, request_code=42))
    event = _one(private)
    assert (event.version, event.mode, event.stratum) == (2, 7, 0)


def test_short_or_invalid() -> None:
    payload = bytes(NTPHeader(version=4, mode=3))
    assert ntp.parse(b"", CTX) == []
    assert ntp.parse(payload[:47], CTX) == []
    assert _one(payload + b"\x00" * 20).mode == 3  # extension fields are fine
    assert ntp.parse(b"\x03" + payload[1:], CTX) == []  # version 0
    assert ntp.parse(b"\x3b" + payload[1:], CTX) == []  # version 7
    assert ntp.parse(bytes([0x16, 2, 0]), CTX) == []  # control message cut short


def test_random_input_never_raises() -> None:
    rng = random.Random(3)
    for _ in range(2000):
        blob = bytes(rng.randrange(256) for _ in range(rng.randint(0, 60)))
        for event in ntp.parse(blob, CTX):
            assert isinstance(event, NtpEvent)
            assert 1 <= event.version <= 4


def test_real_client_and_server() -> None:
    payloads = udp_payloads(realworld("cam_dlink_dcs935l_setup_iotsentinel.pcap"), {123})
    assert sorted(payloads) == [118, 119]
    request, reply = _one(payloads[118]), _one(payloads[119])
    assert (request.version, request.mode, request.stratum) == (3, 3, 0)
    assert (reply.version, reply.mode, reply.stratum) == (3, 4, 2)
    payloads = udp_payloads(realworld("iot_tplink_hs110_plug_setup_iotsentinel.pcap"), {123})
    reply = _one(payloads[20])
    assert (reply.version, reply.mode, reply.stratum) == (3, 4, 1)
