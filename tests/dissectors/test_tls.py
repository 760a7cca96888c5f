"""TLS dissector: ClientHello parsing, JA3/JA4, certificates, stream reassembly."""

from __future__ import annotations

import hashlib
import random
import subprocess
from pathlib import Path

import pytest

from netscan.dissectors.tls import TlsStream, is_grease, parse_certificate, parse_client_hello
from netscan.events import Ctx, Event, TlsCertificateEvent, TlsClientHelloEvent
from tests.conftest import realworld, requires_tshark
from tests.dissectors.flow_payloads import TcpFlow, tcp_flows

CTX = Ctx(file=0, frame=1, ts=0.0)


# --- hand-built messages -------------------------------------------------------------


def u16(v: int) -> bytes:
    return v.to_bytes(2, "big")


def vec(data: bytes, size: int) -> bytes:
    return len(data).to_bytes(size, "big") + data


def ext(etype: int, body: bytes) -> bytes:
    return u16(etype) + vec(body, 2)


def client_hello_body(
    *,
    ciphers: list[int],
    extensions: list[bytes] | None,
    version: int = 0x0303,
    session_id: bytes = b"",
) -> bytes:
    body = u16(version) + bytes(range(32)) + vec(session_id, 1)
    body += vec(b"".join(u16(c) for c in ciphers), 2) + vec(b"\x00", 1)
    if extensions is not None:
        body += vec(b"".join(extensions), 2)
    return body


def handshake(mtype: int, body: bytes) -> bytes:
    return bytes([mtype]) + vec(body, 3)


def record(ctype: int, fragment: bytes, version: int = 0x0301) -> bytes:
    return bytes([ctype]) + u16(version) + vec(fragment, 2)


def sni_ext(name: str) -> bytes:
    return ext(0x0000, vec(b"\x00" + vec(name.encode(), 2), 2))


def alpn_ext(*protos: bytes) -> bytes:
    return ext(0x0010, vec(b"".join(vec(p, 1) for p in protos), 2))


def u16_list_ext(etype: int, values: list[int], size: int = 2) -> bytes:
    return ext(etype, vec(b"".join(u16(v) for v in values), size))


# The ClientHello of the JA4 specification's worked example (Chrome): 15 ciphers and
# 16 extensions once GREASE is removed; the specification gives the resulting JA4.
CHROME_CIPHERS = [0x0A0A, 0x1301, 0x1302, 0x1303, 0xC02B, 0xC02F, 0xC02C, 0xC030, 0xCCA9]
CHROME_CIPHERS += [0xCCA8, 0xC013, 0xC014, 0x009C, 0x009D, 0x002F, 0x0035]
CHROME_SIGALGS = [0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601]


def chrome_like_hello(sni: str = "www.example.com") -> bytes:
    exts = [
        ext(0x1A1A, b""),  # GREASE
        sni_ext(sni),
        ext(0x0017, b""),
        ext(0xFF01, b"\x00"),
        u16_list_ext(0x000A, [0x2A2A, 29, 23, 24]),
        ext(0x000B, vec(b"\x00", 1)),
        ext(0x0023, b""),
        alpn_ext(b"h2", b"http/1.1"),
        ext(0x0005, b"\x01\x00\x00\x00\x00"),
        u16_list_ext(0x000D, CHROME_SIGALGS),
        ext(0x0012, b""),
        ext(0x0033, vec(u16(29) + vec(bytes(32), 2), 2)),
        ext(0x002D, vec(b"\x01", 1)),
        u16_list_ext(0x002B, [0x3A3A, 0x0304, 0x0303], size=1),
        ext(0x001B, vec(b"\x00\x02", 1)),
        ext(0x4469, vec(vec(b"h2", 1), 2)),
        ext(0x0015, bytes(20)),
        ext(0x4A4A, b"\x00"),  # GREASE
    ]
    return client_hello_body(ciphers=CHROME_CIPHERS, extensions=exts, session_id=bytes(32))


def test_chrome_like_client_hello_matches_published_ja4() -> None:
    info = parse_client_hello(chrome_like_hello())
    assert info is not None
    assert info["ja4"] == "t13d1516h2_8daaf6152771_e5627efa2ab1"
    assert info["sni"] == "www.example.com"
    assert info["alpn"] == ["h2", "http/1.1"]
    assert info["versions"] == [0x0304, 0x0303]  # GREASE dropped
    # JA3: legacy version, then GREASE-free ciphers, extensions, groups, point formats.
    ja3 = (
        "771,4865-4866-4867-49195-49199-49196-49200-52393-52392-49171-49172-156-157-47-53,"
        "0-23-65281-10-11-35-16-5-13-18-51-45-43-27-17513-21,29-23-24,0"
    )
    assert info["ja3"] == ja3
    assert info["ja3_hash"] == hashlib.md5(ja3.encode()).hexdigest()
    assert info["ja3_hash"] == "cd08e31494f9531f560d64c695473da9"  # tshark, same layout
    # With the 4-byte handshake header the result is the same; QUIC flips the prefix.
    assert parse_client_hello(handshake(1, chrome_like_hello())) == info
    quic_info = parse_client_hello(chrome_like_hello(), quic=True)
    assert quic_info is not None and quic_info["ja4"].startswith("q13d1516h2_")


def test_ja4_edge_cases() -> None:
    # No extensions at all (TLS 1.0 style): "i", "00" ALPN, zero hash for part c.
    info = parse_client_hello(client_hello_body(ciphers=[0x002F, 0x0035], extensions=None))
    assert info is not None
    assert info["ja4"].startswith("t12i020000_")
    assert info["ja4"].endswith("_000000000000")
    assert info["ja3"] == "771,47-53,,,"
    assert info["versions"] == [0x0303]
    # No ciphers: part b is zeros. Non-alphanumeric ALPN: hex first/last characters.
    info = parse_client_hello(client_hello_body(ciphers=[], extensions=[alpn_ext(b"\xab\x01")]))
    assert info is not None
    assert info["ja4"].split("_")[0] == "t12i0001a1"
    assert info["ja4"].split("_")[1] == "000000000000"
    # Extensions but no signature algorithms: the hash covers the sorted list only.
    info = parse_client_hello(
        client_hello_body(ciphers=[0x1301], extensions=[ext(0x0017, b""), ext(0x000B, b"\x00")])
    )
    assert info is not None
    assert info["ja4"].split("_")[2] == hashlib.sha256(b"000b,0017").hexdigest()[:12]
    # Single-character ALPN repeats the character; unknown versions map to "00".
    info = parse_client_hello(
        client_hello_body(ciphers=[0x1301], extensions=[alpn_ext(b"x")], version=0x0305)
    )
    assert info is not None
    assert info["ja4"].startswith("t00i0101xx_")


def test_grease() -> None:
    assert all(is_grease(v) for v in (0x0A0A, 0x1A1A, 0xFAFA))
    assert not any(is_grease(v) for v in (0x0A1A, 0x1301, 0x0000, 0x0B0B))


def test_scapy_built_client_hello() -> None:
    from scapy.layers.tls.extensions import (
        ProtocolName,
        ServerName,
        TLS_Ext_ALPN,
        TLS_Ext_ServerName,
        TLS_Ext_SignatureAlgorithms,
        TLS_Ext_SupportedGroups,
        TLS_Ext_SupportedPointFormat,
        TLS_Ext_SupportedVersion_CH,
    )
    from scapy.layers.tls.handshake import TLSClientHello
    from scapy.layers.tls.record import TLS

    hello = TLSClientHello(
        version=0x0303,
        ciphers=[0x1301, 0x1302, 0xC02F],
        ext=[
            TLS_Ext_ServerName(servernames=[ServerName(servername=b"cam.example.com")]),
            TLS_Ext_ALPN(protocols=[ProtocolName(protocol=b"h2"), ProtocolName(protocol=b"x")]),
            TLS_Ext_SupportedGroups(groups=[29, 23]),
            TLS_Ext_SupportedPointFormat(ecpl=[0]),
            TLS_Ext_SignatureAlgorithms(sig_algs=[0x0403, 0x0804]),
            TLS_Ext_SupportedVersion_CH(versions=[0x0304, 0x0303]),
        ],
    )
    wire = bytes(TLS(msg=[hello]))
    events = TlsStream().feed(wire, CTX, True)
    assert len(events) == 1
    ev = events[0]
    assert isinstance(ev, TlsClientHelloEvent)
    assert (ev.sni, ev.alpn, ev.versions) == ("cam.example.com", ["h2", "x"], [0x0304, 0x0303])
    assert ev.ja3 == "771,4865-4866-49199,0-16-10-11-13-43,29-23,0"
    assert ev.ja4.startswith("t13d0306h2_")
    assert not ev.quic


# --- stream reassembly ---------------------------------------------------------------


def run(stream_parts: list[tuple[bool, bytes]]) -> tuple[list[Event], TlsStream]:
    s = TlsStream()
    events: list[Event] = []
    for from_client, data in stream_parts:
        events += s.feed(data, CTX, from_client)
    return events, s


def summary(events: list[Event]) -> list[tuple[object, ...]]:
    out: list[tuple[object, ...]] = []
    for e in events:
        if isinstance(e, TlsClientHelloEvent):
            out.append(("ch", e.sni, tuple(e.alpn), tuple(e.versions), e.ja3, e.ja4))
        elif isinstance(e, TlsCertificateEvent):
            out.append(("cert", e.subject, e.issuer, tuple(e.san)))
    return out


def test_client_hello_split_at_every_position_and_across_records() -> None:
    msg = handshake(1, chrome_like_hello("split.example.org"))
    wire = record(22, msg)
    whole, _ = run([(True, wire)])
    assert summary(whole)[0][1] == "split.example.org"
    for i in range(1, len(wire)):
        events, _ = run([(True, wire[:i]), (True, wire[i:])])
        assert summary(events) == summary(whole), i
    events, _ = run([(True, wire[i : i + 1]) for i in range(len(wire))])
    assert summary(events) == summary(whole)
    # The handshake message fragmented over three records, fed byte by byte.
    cut1, cut2 = 3, len(msg) // 2
    frags = record(22, msg[:cut1]) + record(22, msg[cut1:cut2]) + record(22, msg[cut2:])
    events, _ = run([(True, frags[i : i + 1]) for i in range(len(frags))])
    assert summary(events) == summary(whole)


def test_done_after_client_hello_and_tls13_server_hello() -> None:
    sh_exts = ext(0x002B, u16(0x0304)) + ext(0x0033, u16(29) + vec(bytes(32), 2))
    server_hello = u16(0x0303) + bytes(32) + vec(b"", 1) + u16(0x1301) + b"\x00"
    server_hello += vec(sh_exts, 2)
    s = TlsStream()
    assert s.feed(record(22, handshake(1, chrome_like_hello())), CTX, True)
    assert not s.done
    assert s.feed(record(22, handshake(2, server_hello), 0x0303), CTX, False) == []
    assert s.done
    assert s.feed(record(23, b"later"), CTX, True) == []


def test_done_after_server_change_cipher_spec() -> None:
    s = TlsStream()
    s.feed(record(22, handshake(1, chrome_like_hello())), CTX, True)
    s.feed(record(20, b"\x01"), CTX, False)
    assert s.done and not s.certificate_seen


def test_buffer_cap_sets_done() -> None:
    s = TlsStream(cap=4096)
    s.feed(record(22, handshake(1, chrome_like_hello())), CTX, True)
    # A record announcing 18000 bytes that keeps coming: more than the cap is buffered.
    s.feed(bytes([22, 3, 3]) + u16(18000), CTX, False)
    for _ in range(3):
        assert not s.done
        s.feed(bytes(1500), CTX, False)
    assert s.done and s.overflow


def test_bad_certificate_der_gives_no_event() -> None:
    body = vec(vec(b"\x30\x82\x01\x00garbage", 3), 3)
    assert parse_certificate(body) is None
    s = TlsStream()
    s.feed(record(22, handshake(1, chrome_like_hello())), CTX, True)
    assert s.feed(record(22, handshake(11, body)), CTX, False) == []
    assert s.done


def test_garbage_never_raises() -> None:
    rng = random.Random(1234)
    hello = handshake(1, chrome_like_hello())
    for _ in range(300):
        blob = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 400)))
        parse_client_hello(blob)
        parse_certificate(blob)
        s = TlsStream()
        s.feed(blob, CTX, True)
        s.feed(blob, CTX, False)
        s.close(CTX)
        # A TLS record header in front of noise, and mutated valid hellos.
        s = TlsStream()
        s.feed(b"\x16\x03\x01" + blob, CTX, True)
        mutated = bytearray(hello)
        for _ in range(3):
            mutated[rng.randrange(len(mutated))] = rng.randrange(256)
        parse_client_hello(bytes(mutated))
        TlsStream().feed(record(22, bytes(mutated)), CTX, True)
    for n in range(len(hello)):
        parse_client_hello(hello[4 : 4 + n])
        TlsStream().feed(record(22, hello[:n]), CTX, True)
    # Not TLS at all (an HTTP request): the client direction gives up at once.
    s = TlsStream()
    assert s.feed(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", CTX, True) == []
    s.feed(b"HTTP/1.1 200 OK\r\n\r\n", CTX, False)
    assert s.done


# --- real captures -------------------------------------------------------------------


def feed_flow(flow: TcpFlow, chunk: int | None = None) -> tuple[list[Event], TlsStream]:
    """Feed both directions (client first), optionally re-split into `chunk`-byte pieces."""
    s = TlsStream()
    events: list[Event] = []
    for from_client, parts in ((True, flow.to_server), (False, flow.to_client)):
        for frame, data in parts:
            ctx = Ctx(file=0, frame=frame, ts=0.0)
            if chunk is None:
                events += s.feed(data, ctx, from_client)
            else:
                for i in range(0, len(data), chunk):
                    events += s.feed(data[i : i + chunk], ctx, from_client)
    return events, s


def capture_events(path: Path) -> dict[int, list[Event]]:
    return {flow.first_frame: feed_flow(flow)[0] for flow in tcp_flows(path)}


def client_hellos(path: Path) -> list[TlsClientHelloEvent]:
    hellos = []
    for events in capture_events(path).values():
        hellos += [e for e in events if isinstance(e, TlsClientHelloEvent)]
    return sorted(hellos, key=lambda e: e.ctx.frame)


def test_tapo_camera_sni_ja3_and_certificate() -> None:
    path = realworld("cam_tapo_c200_boot_shncp.pcap")
    hellos = client_hellos(path)
    assert [(h.ctx.frame, h.sni) for h in hellos] == [
        (24, "security.iot.i.tplinknbu.com"),
        (54, "euw1-device-cloudgateway.iot.i.tplinknbu.com"),
        (107, "euw1-device-tapo-care.i.tplinknbu.com"),
    ]
    for h in hellos:  # expected values from tshark tls.handshake.ja3_full / ja3
        assert h.ja3 == "771,157-61-156-60-255,0-13-22-23-35,,"
        assert h.ja3_hash == "88ef4bdc74c3bf1969f0bf6e4114f62f"
        assert h.ja4.startswith("t12d050500_")
        assert h.versions == [0x0303] and h.alpn == []
    flows = tcp_flows(path)
    events, stream = feed_flow(next(f for f in flows if f.first_frame == 20))
    certs = [e for e in events if isinstance(e, TlsCertificateEvent)]
    assert len(certs) == 1 and stream.done
    assert certs[0].ctx.frame == 27
    assert certs[0].subject == "CN=*.tplinknbu.com,O=TP-LINK GLOBAL INC.,L=Irvine,C=US"
    assert certs[0].issuer == "CN=TP-LINK CA P1,DC=tp-link,DC=com,DC=cn"
    assert certs[0].san[:3] == ["*.tplinknbu.com", "*.i.tplinknbu.com", "*.iot.i.tplinknbu.com"]
    assert len(certs[0].san) == 7


def test_dlink_sslv2_hello_and_tls10_certificate() -> None:
    path = realworld("cam_dlink_dcs935l_setup_iotsentinel.pcap")
    flows = {f.first_frame: f for f in tcp_flows(path)}
    events, stream = feed_flow(flows[188])
    assert stream.done
    hello, cert = events
    # SSLv2-format compatible hello: no extensions, so no SNI and (like tshark) no JA3.
    assert isinstance(hello, TlsClientHelloEvent)
    assert (hello.ctx.frame, hello.sni, hello.versions, hello.ja3) == (191, None, [0x0301], "")
    assert isinstance(cert, TlsCertificateEvent)
    assert cert.ctx.frame == 197
    assert cert.subject.startswith("CN=*.auto.mydlink.com,O=D-Link Corporation,")
    assert (
        cert.issuer
        == "CN=GlobalSign Organization Validation CA - SHA256 - G2,O=GlobalSign nv-sa,C=BE"
    )
    assert cert.san == ["*.auto.mydlink.com", "auto.mydlink.com"]


def test_pppoe_qinq_flow() -> None:
    hellos = client_hellos(realworld("link_pppoe_qinq_zeek.pcap"))
    assert len(hellos) == 1
    h = hellos[0]
    assert h.sni == "xp.apple.com"
    assert h.ja3_hash == "92306a1faec06f00b17da7dd2a607d69"
    assert h.alpn[:2] == ["h2", "h2-16"]


def test_many_sites_known_fingerprints() -> None:
    hellos = {h.sni: h for h in client_hellos(realworld("tls_sni_many_sites_22if_ndpi.pcapng"))}
    assert hellos["vcs-va.tiktokv.com"].ja3_hash == "66918128f1b9b03303d77c6f2eefd128"
    assert (
        hellos["edge-mqtt.facebook.com"].ja3
        == "771,4865-4866-4867,43-10-51-13-0-16-45-42-41,29-23,"
    )
    # Chrome's hello: the very fingerprint of the JA4 specification's example.
    assert hellos["f.vimeocdn.com"].ja4 == "t13d1516h2_8daaf6152771_e5627efa2ab1"
    assert hellos["www.gitlab.com"].versions == [0x0304, 0x0303]


@pytest.mark.parametrize(
    "name", ["cam_tapo_c200_boot_shncp.pcap", "cam_dlink_dcs935l_setup_iotsentinel.pcap"]
)
def test_real_flows_fed_byte_by_byte_and_split_everywhere(name: str) -> None:
    for flow in tcp_flows(realworld(name)):
        whole, s_whole = feed_flow(flow)
        events, s = feed_flow(flow, chunk=1)
        assert summary(events) == summary(whole)
        assert s.done == s_whole.done
        # Every two-way split of each direction's first 2 KB (record and message edges).
        client, server = flow.payload(True), flow.payload(False)
        if not whole:
            continue
        for i in range(1, min(len(client), 2048), 7):
            a, _ = run([(True, client[:i]), (True, client[i:]), (False, server)])
            assert summary(a) == summary(whole), i
        for i in range(1, min(len(server), 2048), 7):
            a, _ = run([(True, client), (False, server[:i]), (False, server[i:])])
            assert summary(a) == summary(whole), i


def _tshark_hellos(path: Path) -> list[tuple[int, str, str, str]]:
    fields = ["frame.number", "tls.handshake.extensions_server_name"]
    fields += ["tls.handshake.ja3_full", "tls.handshake.ja3"]
    cmd = ["tshark", "-r", str(path), "-Y", "tls.handshake.type==1 && tcp", "-T", "fields"]
    for name in fields:
        cmd += ["-e", name]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True).stdout
    rows = []
    for line in out.splitlines():
        frame, sni, full, digest = (line.split("\t") + ["", "", ""])[:4]
        if full:  # tshark leaves JA3 empty for SSLv2-format hellos
            rows.append((int(frame), sni, full, digest))
    return rows


@pytest.mark.tshark
@requires_tshark
@pytest.mark.parametrize(
    "name",
    [
        "tls_sni_many_sites_22if_ndpi.pcapng",
        "cam_tapo_c200_boot_shncp.pcap",
        "link_pppoe_qinq_zeek.pcap",
    ],
)
def test_ja3_matches_tshark(name: str) -> None:
    path = realworld(name)
    expected = _tshark_hellos(path)
    assert expected
    got = [(h.ctx.frame, h.sni or "", h.ja3, h.ja3_hash) for h in client_hellos(path)]
    assert got == expected
