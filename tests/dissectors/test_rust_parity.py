"""Differential test: the Rust dissectors (netscan._core) against the Python ones.

Every payload the Python dissectors see while the pure-Python reference engine
(tests/reference) reads the public captures, the demo capture and the scenario captures
is handed to the Rust dissector as well; both must give equal events, field by field. The
registry's parser choices must agree too. Mutated copies of the real payloads (seeded, so
reproducible) go through both as well: the Rust port must agree on damaged input, not
only on well-formed input.

Deliberate differences (a Python bug fixed in the port) are listed in ``DELIBERATE``
with the reason; there are none at present.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest

from netscan import _core
from netscan.dissectors import dhcp, dhcpv6, dns, nbns, ntp, quic, sip, ssdp, tls
from netscan.dissectors.discovery.registry import DISCOVERY_UDP_PARSERS
from netscan.dissectors.registry import HTTP_MAX_MESSAGES
from netscan.events import Ctx, Event
from tests.conftest import PCAPS, realworld_files
from tests.dissectors.parity_payloads import (
    Recording,
    Stream,
    pack_response_prefixes,
    recording,
)

DEMO = PCAPS / "demo_sales_office.pcapng"

# (parser, what differs) -> why the Rust port differs on purpose
DELIBERATE: dict[tuple[str, str], str] = {
    ("tls", "san"): "cryptography refuses all extensions of a certificate when any one of the "
    "extensions it knows (CRL distribution points, policies, SCTs, ...) is malformed, so the "
    "Python side then reports no SAN; the Rust port checks the extensions' structure and "
    "parses the SubjectAlternativeName alone, so an unrelated broken extension does not hide "
    "the names. No certificate in the captures has one; only damaged copies show it.",
    ("text", "digits"): "protocol versions and status codes of SSDP and SIP must be ASCII "
    "digits in the Rust port; Python's str.isdigit() also takes other decimal digits, so a "
    "request line ending in 'HTTP/\u0661.1' (beyond the printable-ASCII check of the first "
    "33 bytes) passes there.",
    ("text", "sync budget"): "after lost bytes, the core's HTTP/RTSP/SIP framers decode and parse "
    "at most 1 MB of candidate start lines per feed (SYNC_PARSE_BUDGET in src/dissect/framer.rs) "
    "and then keep only the usual tail until more bytes come; the Python framer has no budget "
    "and spends time quadratic in the length of a line crowded with protocol names (minutes for "
    "100 kB). Only such hostile lines show it: no capture and no crafted case reaches the budget.",
}

PY_DATAGRAM: dict[str, Callable[[bytes, Ctx], list[Event]]] = {
    "dns": dns.parse,
    "mdns": dns.parse_mdns,
    "llmnr": dns.parse_llmnr,
    "nbns": nbns.parse,
    "dhcp": dhcp.parse,
    "dhcpv6": dhcpv6.parse,
    "ntp": ntp.parse,
    "ssdp": ssdp.parse,
    "sip": sip.parse,
}
RUST_DATAGRAM: dict[str, Callable[[bytes, Ctx], list[Event]]] = {
    "dns": lambda p, c: _core.dissect_dns(p, c, "dns"),
    "mdns": _core.dissect_mdns,
    "llmnr": _core.dissect_llmnr,
    "nbns": _core.dissect_nbns,
    "dhcp": _core.dissect_dhcp,
    "dhcpv6": _core.dissect_dhcpv6,
    "ntp": _core.dissect_ntp,
    "ssdp": _core.dissect_ssdp,
    "sip": _core.dissect_sip,
}
PY_STREAM: dict[str, Callable[[], Any]] = {
    "dns": dns.DnsTcpStream,
    "tls": tls.TlsStream,
    "quic": quic.QuicInitialParser,
}
RUST_STREAM: dict[str, Callable[[], Any]] = {
    "dns": _core.DnsTcpStream,
    "tls": _core.TlsStream,
    "quic": _core.QuicInitialParser,
    # the registry's choices, as the engine makes them
    "http": lambda: _core.HttpStream(
        max_messages=HTTP_MAX_MESSAGES, response_prefixes=pack_response_prefixes()
    ),
    "rtsp": _core.RtspStream,
    "sip": _core.SipStream,
}


def _captures() -> list[Any]:
    files = [pytest.param(str(p), id=p.name) for p in realworld_files()]
    files.append(pytest.param(str(DEMO), id=DEMO.name))
    return files


def _describe(a: list[Event], b: list[Event]) -> str:
    if len(a) != len(b):
        return f"{len(a)} Python events, {len(b)} Rust events: {a!r} / {b!r}"
    for x, y in zip(a, b, strict=True):
        if type(x) is not type(y):
            return f"{type(x).__name__} / {type(y).__name__}"
        for f in fields(x):
            if getattr(x, f.name) != getattr(y, f.name):
                return (
                    f"{type(x).__name__}.{f.name}: {getattr(x, f.name)!r} / {getattr(y, f.name)!r}"
                )
    return "equal"


def _check_datagrams(rec: Recording) -> tuple[int, list[str]]:
    checked, bad = 0, []
    for d in rec.datagrams:
        rust = RUST_DATAGRAM.get(d.parser)
        if rust is None:
            continue
        got = rust(d.payload, d.ctx)
        checked += 1
        if got != d.events:
            bad.append(f"{d.parser} frame {d.ctx.frame}: {_describe(d.events, got)}")
    return checked, bad


def _replay(stream: Stream, rust: Any) -> list[str]:
    bad = []
    for op, data, ctx, from_client, expected in stream.calls:
        if op == "feed":
            got = rust.feed(data, ctx, from_client)
        elif op == "gap":
            got = rust.gap(ctx, from_client)
        else:
            got = rust.close(ctx)
        if got != expected:
            bad.append(f"{stream.parser} {op} frame {ctx.frame}: {_describe(expected, got)}")
    return bad


def _check_streams(rec: Recording) -> tuple[int, list[str]]:
    checked, bad = 0, []
    for s in rec.streams:
        factory = RUST_STREAM.get(s.parser)
        if factory is None:
            continue
        checked += 1
        rust = factory()
        bad.extend(_replay(s, rust))
        if s.calls and s.parser in ("tls", "quic") and not bad:
            python = PY_STREAM[s.parser]()
            for op, data, ctx, from_client, _ in s.calls:
                if op == "feed":
                    python.feed(data, ctx, from_client)
            if (python.done, python.client_hello_seen) != (rust.done, rust.client_hello_seen):
                bad.append(f"{s.parser} state: Python done={python.done}, Rust done={rust.done}")
    return checked, bad


def _check_choices(rec: Recording) -> list[str]:
    vendor = list(DISCOVERY_UDP_PARSERS)
    bad = []
    for c in rec.choices:
        if c.transport == "udp":
            hit = _core.udp_parser_name(c.a_port, c.b_port, c.first, vendor)
            name = None if hit is None else hit[0]
            if name == "python":
                port = hit[1]
                name = DISCOVERY_UDP_PARSERS[port].__module__.rsplit(".", 1)[-1]
        else:
            name = _core.tcp_parser_name(c.first, c.a_port, c.b_port)
        if name != c.name:
            bad.append(f"{c.transport} {c.a_port}->{c.b_port}: Python {c.name}, Rust {name}")
    return bad


@pytest.mark.parametrize("path", _captures())
def test_same_events_on_real_payloads(path: str) -> None:
    rec = recording(path)
    n_dgram, bad = _check_datagrams(rec)
    n_stream, bad_streams = _check_streams(rec)
    bad += bad_streams + _check_choices(rec)
    assert not bad, f"{len(bad)} differences, first: " + "\n".join(bad[:10])


def test_the_captures_exercise_every_ported_parser() -> None:
    """The real payloads reach every ported datagram parser (else parity says little)."""
    seen: set[str] = set()
    for param in _captures():
        rec = recording(param.values[0])
        seen |= {d.parser for d in rec.datagrams if d.events}
        seen |= {f"tcp-{s.parser}" for s in rec.streams if any(c[4] for c in s.calls)}
    assert set(PY_DATAGRAM) <= seen, sorted(set(PY_DATAGRAM) - seen)
    # no public capture has SIP over TCP: the crafted streams of test_rust_parity_streams do
    assert {"tcp-dns", "tcp-tls", "tcp-quic", "tcp-http", "tcp-rtsp"} <= seen, seen
    assert _core.HTTP_MAX_MESSAGES == HTTP_MAX_MESSAGES


_TEXTY = (
    b"\x1c",
    b"\xc2\xa0",
    b"\xc2\x85",
    b"\xe2\x80\xa8",
    b"\r",
    b"\n",
    b"\r\n",
    b" ",
    b"\t",
    b":",
    b"\n ",
    b"\xff",
)


def _mutations(payload: bytes, rng: random.Random, n: int) -> list[bytes]:
    out = [payload[: rng.randrange(len(payload) + 1)] for _ in range(2)]
    for _ in range(n):
        b = bytearray(payload)
        for _ in range(rng.randint(1, 4)):
            if not b:
                break
            i = rng.randrange(len(b))
            op = rng.random()
            if op < 0.5:
                b[i] = rng.randrange(256)
            elif op < 0.7:
                b[i] = rng.choice((0x00, 0x3F, 0x40, 0xC0, 0xFF))
            elif op < 0.85:  # white space and separators of the text protocols
                b[i:i] = rng.choice(_TEXTY)
            else:
                del b[i:]
        out.append(bytes(b))
    return out


def test_same_events_on_mutated_payloads() -> None:
    rng = random.Random(11)
    per_parser: dict[str, set[bytes]] = {}
    for param in _captures():
        for d in recording(param.values[0]).datagrams:
            if d.parser in PY_DATAGRAM:
                per_parser.setdefault(d.parser, set()).add(d.payload)
    ctx = Ctx(0, 1, 0.0, None, None, "192.0.2.1", "192.0.2.2", 1, 2, "udp")
    bad, checked = [], 0
    for parser, payloads in sorted(per_parser.items()):
        sample = sorted(payloads)
        rng.shuffle(sample)
        for payload in sample[:300]:
            for m in _mutations(payload, rng, 8):
                expected = PY_DATAGRAM[parser](m, ctx)
                got = RUST_DATAGRAM[parser](m, ctx)
                checked += 1
                if got != expected:
                    bad.append(f"{parser} {m.hex()}: {_describe(expected, got)}")
    assert checked > 1000
    assert not bad, f"{len(bad)} differences, first: " + "\n".join(bad[:5])
    assert _core.dissect_panics() == 0


def test_scenario_captures(tmp_path: Path) -> None:
    pytest.importorskip("cv2")
    pytest.importorskip("skimage")
    from tests.analysis.scenarios.build import SCENARIOS

    bad: list[str] = []
    for make in SCENARIOS.values():
        path = make(tmp_path)
        rec = recording(str(path))
        bad += _check_datagrams(rec)[1] + _check_streams(rec)[1] + _check_choices(rec)
    assert not bad, f"{len(bad)} differences, first: " + "\n".join(bad[:10])


def _chains(data: bytes) -> list[bytes]:
    """Every certificate of the plaintext Certificate messages in one direction's bytes."""
    out: list[bytes] = []
    hs, pos = bytearray(), 0
    while pos + 5 <= len(data) and data[pos] in (20, 21, 22, 23, 24):
        length = int.from_bytes(data[pos + 3 : pos + 5], "big")
        if data[pos] == 22:
            hs += data[pos + 5 : pos + 5 + length]
        pos += 5 + length
    pos = 0
    while pos + 4 <= len(hs):
        mtype, mlen = hs[pos], int.from_bytes(hs[pos + 1 : pos + 4], "big")
        body = bytes(hs[pos + 4 : pos + 4 + mlen])
        pos += 4 + mlen
        if mtype != 11 or len(body) < 3:
            continue
        chain, cpos = body[3:], 0
        while cpos + 3 <= len(chain):
            n = int.from_bytes(chain[cpos : cpos + 3], "big")
            out.append(chain[cpos + 3 : cpos + 3 + n])
            cpos += 3 + n
    return out


def _certificates(rec: Recording) -> list[bytes]:
    """Every certificate of every plaintext Certificate message the servers sent."""
    out: list[bytes] = []
    for s in rec.streams:
        if s.parser == "tls":
            out += _chains(b"".join(c[1] for c in s.calls if c[0] == "feed" and not c[3]))
    return out


def _describe_py(der: bytes) -> Any:
    got = tls.describe_der.__wrapped__(der)
    return None if got is None else (got[0], got[1], list(got[2]))


def _broken_other_extension(der: bytes, expected: Any, got: Any) -> bool:
    """The DELIBERATE ("tls", "san") case: names equal, and cryptography refuses the
    certificate's extensions."""
    from cryptography import x509

    if expected is None or got is None or expected[:2] != got[:2] or expected[2]:
        return False
    try:
        x509.load_der_x509_certificate(der).extensions  # noqa: B018
    except ValueError:
        return True
    return False


def test_same_certificate_names() -> None:
    """Whole chains (not only the first certificate), then damaged copies of them."""
    ders: set[bytes] = set()
    for param in _captures():
        ders.update(_certificates(recording(param.values[0])))
    assert len(ders) >= 50
    bad = [d.hex()[:80] for d in sorted(ders) if _describe_py(d) != _core.describe_der(d)]
    assert not bad, f"{len(bad)} certificates differ, first: {bad[:3]}"
    rng = random.Random(4514)
    checked = 0
    for der in sorted(ders):
        for m in _mutations(der, rng, 10):
            checked += 1
            expected, got = _describe_py(m), _core.describe_der(m)
            if expected != got and not _broken_other_extension(m, expected, got):
                bad.append(f"{m.hex()}: {expected!r} / {got!r}")
    assert not bad, f"{len(bad)} of {checked} damaged certificates differ, first: " + "\n".join(
        bad[:3]
    )


def _random_frames(rng: random.Random, hello: bytes) -> list[bytes]:
    """The hello cut into CRYPTO frames, shuffled, mixed with other frames and garbage."""
    from tests.dissectors.test_quic import crypto_frame, varint

    cuts = sorted({0, len(hello), *(rng.randrange(len(hello)) for _ in range(rng.randint(0, 4)))})
    frames = [crypto_frame(a, hello[a:b]) for a, b in zip(cuts, cuts[1:], strict=False)]
    if rng.random() < 0.3:  # an overlapping copy
        a = rng.randrange(len(hello))
        frames.append(crypto_frame(a, hello[a : a + rng.randint(1, 300)]))
    others = [
        b"\x01",
        b"\x00" * rng.randint(1, 30),
        b"\x02" + varint(5) + varint(0) + varint(1) + varint(0) + varint(1) + varint(2),
        b"\x03" + varint(5) + varint(0) + varint(0) + varint(0) + b"\x01\x02\x03",
        b"\x1c\x00\x06" + varint(3) + b"bye",
        b"\x07" + varint(4) + b"tokn",
        b"\x0a\x04" + varint(2) + b"st",
        b"\x18\x01\x00\x04abcd" + bytes(16),
        b"\x1a" + bytes(8),
        b"\x10" + varint(1000),
        b"\x21",  # unknown frame: ends the packet
        b"\x02\x40",  # cut short
        b"\x18\x01\x00",  # cut short at the CID length
    ]
    frames += [rng.choice(others) for _ in range(rng.randint(0, 3))]
    rng.shuffle(frames)
    return frames


def test_same_quic_events_on_crafted_initials() -> None:
    """Encrypted Initials (v1 and v2) with CRYPTO frames split, reordered, overlapping and
    mixed with other frames; both parsers see the same datagrams."""
    from tests.dissectors.test_quic import QUIC_V2, long_packet, quic_hello

    rng = random.Random(9001)
    ctx = Ctx(0, 1, 0.0, None, None, "192.0.2.1", "192.0.2.2", 50000, 443, "udp")
    checked, bad = 0, []
    for round_ in range(150):
        hello = quic_hello(f"h{round_}.example")
        dcid = rng.randbytes(rng.choice((0, 4, 8, 20)))
        version = rng.choice((1, QUIC_V2))
        frames = _random_frames(rng, hello)
        datagrams, pn = [], 0
        while frames:
            take = [frames.pop() for _ in range(min(len(frames), rng.randint(1, 3)))]
            packet = long_packet(
                b"".join(take), dcid=dcid, pn=pn, pn_len=rng.randint(1, 4), version=version
            )
            pn += 1
            if rng.random() < 0.1:  # damaged in transit
                b = bytearray(packet)
                b[rng.randrange(len(b))] ^= 0xFF
                packet = bytes(b)
            datagrams.append(packet)
        python, rust = quic.QuicInitialParser(), _core.QuicInitialParser()
        for d in datagrams:
            expected, got = python.feed(d, ctx, True), rust.feed(d, ctx, True)
            checked += 1
            if expected != got:
                bad.append(f"round {round_}: {_describe(expected, got)}")
        if (python.done, python.client_hello_seen) != (rust.done, rust.client_hello_seen):
            bad.append(f"round {round_}: state differs")
    assert checked > 150
    assert not bad, f"{len(bad)} differences, first: " + "\n".join(bad[:5])


def test_deliberate_difference_non_ascii_digits() -> None:
    """The ("text", "digits") entry of DELIBERATE, checked so that it stays true."""
    ctx = Ctx(0, 1, 0.0)
    line = "NOTIFY /" + "x" * 30 + " HTTP/\u0661.1\r\nNT: upnp:rootdevice\r\n\r\n"
    payload = line.encode()
    assert [e.method for e in ssdp.parse(payload, ctx)] == ["NOTIFY"]
    assert _core.dissect_ssdp(payload, ctx) == []
    plain = payload.replace("\u0661".encode(), b"1")
    assert _core.dissect_ssdp(plain, ctx) == ssdp.parse(plain, ctx) != []


def _deliberate_san(expected: list[Event], got: list[Event], server: bytes) -> bool:
    """The DELIBERATE ("tls", "san") case inside a stream: one certificate event whose
    leaf certificate has extensions cryptography refuses."""
    if len(expected) != 1 or len(got) != 1 or expected[0].kind != "tls_certificate":
        return False
    e, g = expected[0], got[0]
    chain = _chains(server)
    return bool(chain) and _broken_other_extension(
        chain[0], (e.subject, e.issuer, e.san), (g.subject, g.issuer, g.san)
    )


def test_same_tls_events_on_damaged_streams() -> None:
    """Recorded TLS flows replayed with damaged chunks (bytes changed, cut short, separators
    inserted) through both stream parsers: same events, same state."""
    rng = random.Random(8446)
    flows = [
        s
        for param in _captures()
        for s in recording(param.values[0]).streams
        if s.parser == "tls" and any(c[0] == "feed" for c in s.calls)
    ]
    assert len(flows) > 100
    bad, checked = [], 0
    for s in flows:
        feeds = [c for c in s.calls if c[0] == "feed"][:6]
        for _ in range(4):
            python, rust = tls.TlsStream(), _core.TlsStream()
            server = b""
            for _op, data, ctx, from_client, _ in feeds:
                if data and rng.random() < 0.5:
                    data = rng.choice(_mutations(data, rng, 1))
                if not from_client:
                    server += data
                expected = python.feed(data, ctx, from_client)
                got = rust.feed(data, ctx, from_client)
                checked += 1
                if expected != got and not _deliberate_san(expected, got, server):
                    bad.append(f"frame {ctx.frame}: {_describe(expected, got)}")
            state = ("done", "client_hello_seen", "certificate_seen", "overflow")
            if [getattr(python, a) for a in state] != [getattr(rust, a) for a in state]:
                bad.append(f"{s.ports}: state differs")
    assert checked > 500
    assert not bad, f"{len(bad)} differences, first: " + "\n".join(bad[:5])


def test_bytearray_payloads_are_taken_like_bytes() -> None:
    """The Python dissectors take bytearray too (the reassembly buffers are bytearrays)."""
    payload = bytes.fromhex(
        "12348180000100010000000003777777076578616d706c6503636f6d0000010001"
        "c00c000100010000003c00045db8d822"
    )
    ctx = Ctx(0, 1, 0.0)
    assert _core.dissect_dns(bytearray(payload), ctx) == dns.parse(payload, ctx) != []
    stream = _core.TlsStream()
    assert stream.feed(bytearray(b"\x16\x03\x01\x00\x05"), ctx, True) == []
    with pytest.raises(TypeError):
        _core.dissect_dns("not bytes", ctx)  # type: ignore[arg-type]


def test_same_text_heads_and_http_events() -> None:
    """Every header block the HTTP, RTSP, SIP and SSDP parsers met in the captures: the same
    parsed head, the same HTTP request/response event, the same RTSP realm."""
    from netscan.dissectors import http, rtsp
    from netscan.dissectors._text import NONE, BodyMode, parse_head
    from netscan.dissectors.sip import COMPACT_NAMES

    ctx = Ctx(0, 1, 0.0)
    blocks: set[tuple[bytes, tuple[str, ...], bool]] = set()
    for param in _captures():
        blocks.update(recording(param.values[0]).heads)
    kinds = {v for _, v, _ in blocks}
    assert {("HTTP/",), ("RTSP/",), ("SIP/",)} <= kinds, kinds
    rng = random.Random(1945)
    cases = sorted(blocks)
    cases += [(m, v, s) for b, v, s in cases for m in _mutations(b, rng, 4)]
    bad: list[str] = []
    for block, versions, sip_names in cases:
        head = parse_head(block, versions, COMPACT_NAMES if sip_names else None)
        got = _core.parse_head(block, list(versions), sip_names)
        want = None
        if head is not None:
            want = (head.is_response, head.version, head.method, head.target, head.status,
                    head.reason, head.headers)  # fmt: skip
        if got != want:
            bad.append(f"head {block[:80]!r}: {want!r} / {got!r}")
            continue
        if head is None:
            continue
        if versions == ("HTTP/",):
            expected = [http.HttpStream()._head_event(head, BodyMode(NONE), ctx, 1)]
            if _core.dissect_http_head(block, ctx) != expected:
                bad.append(f"http {block[:80]!r}")
        if versions == ("RTSP/",):
            values = head.get_all("www-authenticate")
            if _core.auth_realm(values) != rtsp.auth_realm(values):
                bad.append(f"realm {values!r}")
    assert len(blocks) > 300
    assert not bad, f"{len(bad)} differences, first: " + "\n".join(bad[:5])
