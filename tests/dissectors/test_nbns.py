from __future__ import annotations

import random
import struct
from collections import Counter

from scapy.layers.netbios import (
    NBNS_ADD_ENTRY,
    NBNSHeader,
    NBNSNodeStatusRequest,
    NBNSQueryRequest,
    NBNSQueryResponse,
    NBNSRegistrationRequest,
)

from netscan.dissectors import nbns
from netscan.events import Ctx, NbnsEvent
from tests.conftest import realworld
from tests.dissectors._udp_capture import udp_payloads

CTX = Ctx(file=1, frame=3, ts=2.0, src_ip="10.0.0.9", sport=137, dport=137, transport="udp")

# SUFFIX is the first-level encoded suffix byte: "AA" = 0x00, "CA" = 0x20, "BM" = 0x1c
SUFFIX_00 = 0x4141
SUFFIX_20 = 0x4341
SUFFIX_1C = 0x424D


def _one(payload: bytes) -> NbnsEvent:
    events = nbns.parse(payload, CTX)
    assert len(events) == 1
    event = events[0]
    assert isinstance(event, NbnsEvent)
    assert event.ctx is CTX
    assert event.kind == "nbns"
    return event


def _encode(name: bytes, suffix: int) -> bytes:
    raw = name.ljust(15, b" ") + bytes([suffix])
    return b"\x20" + bytes(c for b in raw for c in (0x41 + (b >> 4), 0x41 + (b & 15)))


def _query() -> bytes:
    msg = NBNSHeader(NAME_TRN_ID=0x1A2B, OPCODE=0, NM_FLAGS=0x11, QDCOUNT=1) / NBNSQueryRequest(
        QUESTION_NAME=b"NVR-01", SUFFIX=SUFFIX_20
    )
    return bytes(msg)


def _response() -> bytes:
    msg = NBNSHeader(NAME_TRN_ID=5, RESPONSE=1, OPCODE=0, ANCOUNT=1) / NBNSQueryResponse(
        RR_NAME=b"IPCAM-HIK",
        SUFFIX=SUFFIX_00,
        ADDR_ENTRY=[
            NBNS_ADD_ENTRY(NB_ADDRESS="192.168.1.64"),
            NBNS_ADD_ENTRY(NB_ADDRESS="10.0.0.5"),
        ],
    )
    return bytes(msg)


def test_name_query() -> None:
    event = _one(_query())
    assert event.is_response is False
    assert event.opcode == 0
    assert event.name == "NVR-01"
    assert event.suffix == 0x20
    assert event.addresses == []


def test_positive_response_addresses() -> None:
    event = _one(_response())
    assert event.is_response is True
    assert event.opcode == 0
    assert event.name == "IPCAM-HIK"
    assert event.suffix == 0x00
    assert event.addresses == ["192.168.1.64", "10.0.0.5"]


def test_registration_with_compressed_additional_record() -> None:
    msg = NBNSHeader(OPCODE=5, NM_FLAGS=0x11, QDCOUNT=1, ARCOUNT=1) / NBNSRegistrationRequest(
        QUESTION_NAME=b"DS-2CD2143", SUFFIX=SUFFIX_1C, NB_ADDRESS="192.168.1.64"
    )
    payload = bytes(msg)
    assert b"\xc0\x0c" in payload
    event = _one(payload)
    assert event.is_response is False
    assert event.opcode == 5
    assert event.name == "DS-2CD2143"
    assert event.suffix == 0x1C
    assert event.addresses == ["192.168.1.64"]


def test_release_and_refresh_opcodes() -> None:
    for opcode in (6, 8):
        msg = NBNSHeader(OPCODE=opcode, QDCOUNT=1, ARCOUNT=1) / NBNSRegistrationRequest(
            QUESTION_NAME=b"CAM", NB_ADDRESS="10.1.1.1"
        )
        event = _one(bytes(msg))
        assert event.opcode == opcode
        assert event.addresses == ["10.1.1.1"]


def test_wildcard_node_status_query() -> None:
    msg = NBNSHeader(QDCOUNT=1) / NBNSNodeStatusRequest()
    event = _one(bytes(msg))
    assert event.name == "*"
    assert event.suffix == 0


def test_scope_is_skipped() -> None:
    name = _encode(b"HOST", 0x00) + b"\x07example\x03com\x00"
    payload = struct.pack(">HHHHHH", 1, 0x8500, 0, 1, 0, 0)
    payload += name + struct.pack(">HHIH", 0x20, 1, 300, 6) + b"\x00\x00\x0a\x00\x00\x07"
    event = _one(payload)
    assert (event.name, event.suffix, event.addresses) == ("HOST", 0, ["10.0.0.7"])


def test_latin1_name_bytes_survive() -> None:
    payload = struct.pack(">HHHHHH", 1, 0, 1, 0, 0, 0) + _encode(b"KAMERA\xc4", 0x20)
    payload += b"\x00\x00\x20\x00\x01"
    assert _one(payload).name == "KAMERA\u00c4"


def test_bad_encoding_is_refused() -> None:
    good = _query()
    bad = bytearray(good)
    bad[14] = ord("Z")  # outside "A".."P"
    assert nbns.parse(bytes(bad), CTX) == []
    lower = good[:13] + good[13:45].lower() + good[45:]
    assert nbns.parse(lower, CTX) == []
    wrong_length = bytearray(good)
    wrong_length[12] = 30
    assert nbns.parse(bytes(wrong_length), CTX) == []


def test_pointer_loops_are_refused() -> None:
    header = struct.pack(">HHHHHH", 1, 0x8500, 0, 1, 0, 0)
    assert nbns.parse(header + b"\xc0\x0c" + b"\x00" * 16, CTX) == []
    # pointer to a pointer (which points back to the first one)
    payload = header + b"\xc0\x0e\xc0\x0c" + b"\x00" * 16
    assert nbns.parse(payload, CTX) == []


def test_wack_and_nbstat_records_give_no_addresses() -> None:
    header = struct.pack(">HHHHHH", 1, 0xBC00, 0, 2, 0, 0)  # WACK, opcode 7
    name = _encode(b"CAM", 0)
    wack = name + b"\x00" + struct.pack(">HHIH", 0x20, 1, 2, 2) + b"\x29\x10"
    nbstat = b"\xc0\x0c" + struct.pack(">HHIH", 0x21, 1, 0, 7) + b"\x00" * 7
    event = _one(header + wack + nbstat)
    assert event.opcode == 7
    assert event.is_response is True
    assert event.addresses == []


def test_truncations() -> None:
    payload = _response()
    assert nbns.parse(b"", CTX) == []
    assert nbns.parse(payload[:12], CTX) == []
    for cut in range(len(payload)):
        for event in nbns.parse(payload[:cut], CTX):
            assert isinstance(event, NbnsEvent)
            assert event.name == "IPCAM-HIK"
            assert event.addresses in ([], ["192.168.1.64", "10.0.0.5"])
    # the name is complete but the record data is cut: name without addresses
    event = _one(payload[:-3])
    assert event.addresses == []


def test_random_mutations_never_raise() -> None:
    rng = random.Random(99)
    seeds = [_query(), _response()]
    for _ in range(3000):
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 5)):
            pos = rng.randrange(len(data))
            if rng.random() < 0.8:
                data[pos] = rng.randrange(256)
            else:
                del data[pos : pos + rng.randint(1, 6)]
        for event in nbns.parse(bytes(data), CTX):
            assert isinstance(event, NbnsEvent)


def test_real_capture_matches_tshark() -> None:
    payloads = udp_payloads(realworld("nbns_netbios_vlan_ndpi.pcap"), {137})
    assert len(payloads) == 256
    seen: Counter[tuple[bool, int, str, int, tuple[str, ...]]] = Counter()
    for payload in payloads.values():
        event = _one(payload)
        key = (event.is_response, event.opcode, event.name, event.suffix, tuple(event.addresses))
        seen[key] += 1
    assert seen == Counter(
        {
            (False, 0, "XSTREAM_HY", 0x00, ()): 181,
            (False, 0, "OZI", 0x1C, ()): 59,
            (False, 0, "*", 0x00, ()): 4,
            (True, 0, "*", 0x00, ()): 4,
            (False, 0, "GURU", 0x00, ()): 3,
            (False, 0, "GUNNAR", 0x00, ()): 1,
            (False, 0, "MULI", 0x00, ()): 1,
            (False, 0, "NVR9", 0x00, ()): 1,
            (True, 0, "GUNNAR", 0x00, ("10.0.4.24",)): 1,
            (True, 0, "GURU", 0x00, ("10.0.5.1",)): 1,
        }
    )
    event = _one(payloads[69])
    assert (event.is_response, event.name, event.addresses) == (True, "GUNNAR", ["10.0.4.24"])
