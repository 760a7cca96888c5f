"""QUIC Initial dissector: key derivation, decryption, CRYPTO reassembly, ClientHello."""

from __future__ import annotations

import random
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from netscan.dissectors.quic import (
    MAX_CLIENT_PACKETS,
    QUIC_V1,
    QUIC_V2,
    QuicInitialParser,
    initial_keys,
    looks_like_quic_initial,
)
from netscan.events import Ctx, Event, TlsClientHelloEvent
from tests.conftest import realworld, requires_tshark
from tests.dissectors.flow_payloads import UdpFlow, udp_flows
from tests.dissectors.test_tls import alpn_ext, client_hello_body, ext, handshake, sni_ext, vec

CTX = Ctx(file=0, frame=1, ts=0.0)


def test_initial_keys_rfc_vectors() -> None:
    dcid = bytes.fromhex("8394c8f03e515708")  # RFC 9001 appendix A.1, RFC 9369 appendix A.1
    assert [k.hex() for k in initial_keys(dcid, QUIC_V1)] == [
        "1f369613dd76d5467730efcbe3b1a22d",
        "fa044b2f42a3fd3b46fb255c",
        "9f50449e04a0e810283a1e9933adedd2",
    ]
    assert [k.hex() for k in initial_keys(dcid, QUIC_V2)] == [
        "8b1a0bc121284290a29e0971b5cd045d",
        "91f73e2351d8fa91660e909f",
        "45b95e15235d6f45a6b19cbcb0294ba9",
    ]


# --- building protected client Initial packets -----------------------------------------


def varint(v: int) -> bytes:
    for size, prefix in ((1, 0x00), (2, 0x40), (4, 0x80), (8, 0xC0)):
        if v < 1 << (size * 8 - 2):
            raw = bytearray(v.to_bytes(size, "big"))
            raw[0] |= prefix
            return bytes(raw)
    raise ValueError(v)


def crypto_frame(offset: int, data: bytes) -> bytes:
    return b"\x06" + varint(offset) + varint(len(data)) + data


def long_packet(
    frames: bytes,
    *,
    dcid: bytes,
    key_dcid: bytes | None = None,
    pn: int = 0,
    pn_len: int = 1,
    version: int = QUIC_V1,
    scid: bytes = b"\x11\x22\x33",
    ptype: int = 0,  # v1 numbering: 0 Initial, 1 0-RTT, 2 Handshake
    token: bytes = b"",
) -> bytes:
    """A client long-header packet, protected with Initial keys (derived from key_dcid)."""
    key, iv, hp = initial_keys(key_dcid or dcid, version)
    if len(frames) < 20:
        frames += bytes(20 - len(frames))  # room for the header protection sample
    type_bits = (ptype + 1) & 3 if version == QUIC_V2 else ptype
    first = 0xC0 | (type_bits << 4) | (pn_len - 1)
    header = bytes([first]) + version.to_bytes(4, "big") + vec(dcid, 1) + vec(scid, 1)
    if ptype == 0:
        header += varint(len(token)) + token
    header += varint(pn_len + len(frames) + 16)
    pn_offset = len(header)
    header += (pn % (1 << (8 * pn_len))).to_bytes(pn_len, "big")
    nonce = (int.from_bytes(iv, "big") ^ pn).to_bytes(12, "big")
    packet = bytearray(header + AESGCM(key).encrypt(nonce, frames, header))
    sample = bytes(packet[pn_offset + 4 : pn_offset + 20])
    mask = Cipher(algorithms.AES(hp), modes.ECB()).encryptor().update(sample)
    packet[0] ^= mask[0] & 0x0F
    for i in range(pn_len):
        packet[pn_offset + i] ^= mask[1 + i]
    return bytes(packet)


def quic_hello(sni: str = "cam.vendor-cloud.example") -> bytes:
    exts = [
        sni_ext(sni),
        alpn_ext(b"h3"),
        ext(0x002B, vec(b"\x03\x04", 1)),
        ext(0x000A, vec(b"\x00\x1d", 2)),
        ext(0x000D, vec(b"\x04\x03\x08\x04", 2)),
        ext(0x0033, vec(b"\x00\x1d" + vec(bytes(32), 2), 2)),
        ext(0x0039, bytes(range(40))),  # quic_transport_parameters
        ext(0x0015, bytes(900)),  # padding: makes the hello longer than one packet
    ]
    return handshake(1, client_hello_body(ciphers=[0x1301, 0x1302, 0x1303], extensions=exts))


def feed_all(datagrams: list[bytes], parser: QuicInitialParser | None = None) -> list[Event]:
    p = parser or QuicInitialParser()
    events: list[Event] = []
    for i, d in enumerate(datagrams, start=1):
        events += p.feed(d, Ctx(file=0, frame=i, ts=0.0), True)
    return events


def only_hello(events: list[Event]) -> TlsClientHelloEvent:
    assert len(events) == 1
    ev = events[0]
    assert isinstance(ev, TlsClientHelloEvent)
    return ev


def test_hello_fragmented_across_packets_out_of_order() -> None:
    hello = quic_hello()
    dcid = bytes.fromhex("0011223344556677")
    a, b = 500, 800
    # Packet 1 carries the middle and the tail, packet 2 the head (with ACK/PING noise).
    p1 = long_packet(
        b"\x01" + crypto_frame(b, hello[b:]) + bytes(30) + crypto_frame(a, hello[a:b]),
        dcid=dcid,
        pn=0,
    )
    ack = b"\x02" + varint(0) + varint(5) + varint(1) + varint(0) + varint(0) + varint(0)
    p2 = long_packet(ack + crypto_frame(0, hello[:a]) + b"\x01", dcid=dcid, pn=1, pn_len=2)
    parser = QuicInitialParser()
    assert feed_all([p1], parser) == []
    assert not parser.done
    events = parser.feed(p2, Ctx(file=0, frame=7, ts=0.0), True)
    ev = only_hello(events)
    assert parser.done
    assert ev.ctx.frame == 7
    assert (ev.sni, ev.alpn, ev.versions, ev.quic) == (
        "cam.vendor-cloud.example",
        ["h3"],
        [0x0304],
        True,
    )
    assert ev.ja4.startswith("q13d0308h3_")
    assert ev.ja3 == "771,4865-4866-4867,0-16-43-10-13-51-57-21,29,"


def test_overlapping_and_duplicate_crypto_frames() -> None:
    hello = quic_hello("overlap.example")
    dcid = b"\xaa" * 8
    p1 = long_packet(crypto_frame(0, hello[:700]), dcid=dcid, pn=0)
    p1_again = long_packet(crypto_frame(0, hello[:700]), dcid=dcid, pn=1)  # retransmission
    p2 = long_packet(crypto_frame(300, hello[300:]), dcid=dcid, pn=2)  # overlaps p1
    assert only_hello(feed_all([p1, p1_again, p2])).sni == "overlap.example"


def test_later_initials_use_the_original_dcid_keys_and_v2_works() -> None:
    hello = quic_hello("v2.example")
    first_dcid, server_cid = b"\x01" * 8, b"\x02\x03\x04"
    p1 = long_packet(crypto_frame(0, hello[:600]), dcid=first_dcid, version=QUIC_V2)
    # After the server's Initial the client addresses the server's CID, same keys.
    p2 = long_packet(
        crypto_frame(600, hello[600:]),
        dcid=server_cid,
        key_dcid=first_dcid,
        pn=1,
        version=QUIC_V2,
    )
    assert looks_like_quic_initial(p1)
    ev = only_hello(feed_all([p1, p2]))
    assert ev.sni == "v2.example" and ev.quic


def test_coalesced_initial_and_handshake_packets() -> None:
    hello = quic_hello("coalesced.example")
    dcid = b"\x05" * 8
    p1 = long_packet(crypto_frame(0, hello[:600]), dcid=dcid)
    zero_rtt = long_packet(b"\x08\x00" + b"x" * 40, dcid=dcid, ptype=1, pn=0)
    p2 = long_packet(crypto_frame(600, hello[600:]), dcid=dcid, pn=1)
    # One datagram: Initial (first part), 0-RTT, Initial (rest), then zero padding.
    ev = only_hello(feed_all([p1 + zero_rtt + p2 + bytes(50)]))
    assert ev.sni == "coalesced.example"


def test_token_and_retry_dcid() -> None:
    hello = quic_hello("retry.example")
    # After a Retry the client uses a new DCID and keys derived from it.
    p_old = long_packet(crypto_frame(0, hello[:100]), dcid=b"\x09" * 8)
    p_new = long_packet(crypto_frame(0, hello), dcid=b"\x0a" * 8, token=b"T" * 30, pn=1)
    assert only_hello(feed_all([p_old, p_new])).sni == "retry.example"


def test_gives_up_after_many_packets_and_ignores_server() -> None:
    parser = QuicInitialParser()
    hello = quic_hello()
    dcid = b"\x07" * 8
    server_pkt = long_packet(crypto_frame(0, hello), dcid=dcid)
    assert parser.feed(server_pkt, CTX, False) == []  # server direction ignored
    for i in range(MAX_CLIENT_PACKETS):
        assert not parser.done
        parser.feed(long_packet(b"\x01", dcid=dcid, pn=i), CTX, True)  # PINGs only
    assert parser.done
    assert parser.feed(long_packet(crypto_frame(0, hello), dcid=dcid, pn=99), CTX, True) == []
    # A flow seen from the middle (short-header packets) is given up at once.
    parser = QuicInitialParser()
    parser.feed(b"\x41" + bytes(60), CTX, True)
    assert parser.done


def test_looks_like_quic_initial() -> None:
    pkt = long_packet(crypto_frame(0, quic_hello()[:500]), dcid=b"\x01" * 8)
    assert looks_like_quic_initial(pkt)
    assert looks_like_quic_initial(pkt + bytes(100))  # padded datagram
    assert not looks_like_quic_initial(pkt[:100])  # length runs past the end
    assert not looks_like_quic_initial(b"\x41" + bytes(1300))  # short header
    handshake_pkt = long_packet(b"\x01", dcid=b"\x01" * 8, ptype=2)
    assert not looks_like_quic_initial(handshake_pkt)
    assert not looks_like_quic_initial(b"\x12\x34\x01\x00\x00\x01" + bytes(40))  # DNS
    assert not looks_like_quic_initial(b"")
    other_version = bytearray(pkt)
    other_version[1:5] = b"\xff\x00\x00\x1d"
    assert not looks_like_quic_initial(bytes(other_version))


def test_garbage_never_raises() -> None:
    rng = random.Random(99)
    pkt = long_packet(crypto_frame(0, quic_hello()), dcid=b"\x03" * 8)
    for _ in range(300):
        blob = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 1400)))
        looks_like_quic_initial(blob)
        QuicInitialParser().feed(blob, CTX, True)
        QuicInitialParser().feed(b"\xc0\x00\x00\x00\x01" + blob, CTX, True)
        mutated = bytearray(pkt)
        for _ in range(2):
            mutated[rng.randrange(len(mutated))] = rng.randrange(256)
        looks_like_quic_initial(bytes(mutated))
        QuicInitialParser().feed(bytes(mutated), CTX, True)
    for n in range(0, len(pkt), 13):
        assert QuicInitialParser().feed(pkt[:n], CTX, True) == []
    # Decrypts fine but the frames and the hello inside are nonsense.
    for payload in (b"\x06\x00\x40\x10" + bytes(16), b"\x06\x00\x05\x01\xff\xff\xff\xff", b"\x3f"):
        QuicInitialParser().feed(long_packet(payload, dcid=b"\x04" * 8), CTX, True)


# --- real captures -------------------------------------------------------------------


def flow_hellos(flow: UdpFlow) -> tuple[list[TlsClientHelloEvent], QuicInitialParser]:
    parser = QuicInitialParser()
    events: list[Event] = []
    for frame, from_client, data in flow.datagrams:
        if parser.done:
            break
        events += parser.feed(data, Ctx(file=0, frame=frame, ts=0.0), from_client)
    return [e for e in events if isinstance(e, TlsClientHelloEvent)], parser


def test_chromium_google_de() -> None:
    flows = udp_flows(realworld("quic_chromium_google_fragmented_zeek.pcap"), port=443)
    hellos, parser = flow_hellos(flows[0])
    assert parser.done
    ev = hellos[0]
    assert len(hellos) == 1 and ev.ctx.frame == 1
    assert ev.sni == "www.google.de"
    assert ev.alpn == ["h3"] and ev.versions == [0x0304] and ev.quic
    assert ev.ja3 == "771,4865-4866-4867,51-57-0-17513-45-13-43-10-16-27,29-23-24,"
    assert ev.ja3_hash == "d0b6d21da230b6eb1fa42d221ec5b3e2"  # tshark tls.handshake.ja3
    assert ev.ja4.startswith("q13d0310h3_55b375c5d22e_")
    assert looks_like_quic_initial(flows[0].datagrams[0][2])


def test_many_sites_quic_hellos() -> None:
    flows = udp_flows(realworld("tls_sni_many_sites_22if_ndpi.pcapng"), port=443)
    got = {}
    for flow in flows:
        for ev in flow_hellos(flow)[0]:
            got[ev.ctx.frame] = (ev.sni, ev.ja3_hash)
    # Frame 481 coalesces the Initial with a 0-RTT packet.
    assert got == {
        315: ("classroom.google.com", "a27a03a8478393fe7f8958648bb71ff4"),
        481: ("hangouts.google.com", "2a18e6bf307f97c5e27f0ab407dc65db"),
        487: ("plus.google.com", "b719940c5ab9a3373cb4475d8143ff88"),
        656: ("www.threads.net", "7a8e625dea44f20fe8d8d657583506d1"),
    }


def test_real_datagram_truncations_and_bitflips_never_raise() -> None:
    flows = udp_flows(realworld("quic_chromium_google_fragmented_zeek.pcap"), port=443)
    datagram = flows[0].datagrams[0][2]
    for n in range(0, len(datagram), 7):
        QuicInitialParser().feed(datagram[:n], CTX, True)
    for i in range(0, 80):
        flipped = bytearray(datagram)
        flipped[i] ^= 0x5A
        QuicInitialParser().feed(bytes(flipped), CTX, True)


@pytest.mark.tshark
@requires_tshark
@pytest.mark.parametrize(
    "name", ["quic_chromium_google_fragmented_zeek.pcap", "tls_sni_many_sites_22if_ndpi.pcapng"]
)
def test_sni_and_ja3_match_tshark(name: str) -> None:
    path: Path = realworld(name)
    cmd = ["tshark", "-r", str(path), "-Y", "quic && tls.handshake.type==1", "-T", "fields"]
    for field in ("frame.number", "tls.handshake.extensions_server_name", "tls.handshake.ja3"):
        cmd += ["-e", field]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True).stdout
    expected = sorted(
        (int(f), sni, ja3) for f, sni, ja3 in (line.split("\t") for line in out.splitlines())
    )
    assert expected
    got = []
    for flow in udp_flows(path, port=443):
        got += [(e.ctx.frame, e.sni, e.ja3_hash) for e in flow_hellos(flow)[0]]
    assert sorted(got) == expected
