"""TLS handshake dissector: ClientHello fingerprints (JA3, JA4) and server certificates.

`parse_client_hello` is a pure function on one ClientHello handshake message body; it is
shared with the QUIC dissector. `TlsStream` is the per-TCP-flow stream parser: it buffers
TLS records per direction, reassembles handshake messages across records and emits

* one `TlsClientHelloEvent` for the client's first ClientHello (also for an SSLv2-style
  compatible ClientHello, which has no extensions, hence no SNI and no JA3/JA4), and
* one `TlsCertificateEvent` for the first certificate of the server's Certificate
  message (TLS 1.2 and below; in TLS 1.3 certificates are encrypted).

References: RFC 8446 and RFC 5246 (message layouts), RFC 8701 (GREASE), the JA3
definition (Salesforce) and the JA4 specification (FoxIO, technical_details/JA4.md).
"""

from __future__ import annotations

import hashlib
import warnings
from functools import lru_cache
from typing import Any

from netscan.events import Ctx, Event, TlsCertificateEvent, TlsClientHelloEvent

__all__ = [
    "TlsStream",
    "is_grease",
    "ja4_fingerprint",
    "parse_client_hello",
    "parse_certificate",
    "parse_sslv2_client_hello",
]

# Record content types.
_CT_CCS = 20  # lowest valid content type (then alert 21, handshake 22, data 23)
_CT_HANDSHAKE = 22
_CT_HEARTBEAT = 24  # highest valid content type

# Handshake message types.
_HS_CLIENT_HELLO = 1
_HS_SERVER_HELLO = 2
_HS_CERTIFICATE = 11
_HS_SERVER_HELLO_DONE = 14

# Extension types used here.
_EXT_SNI = 0x0000
_EXT_GROUPS = 0x000A
_EXT_POINT_FORMATS = 0x000B
_EXT_SIG_ALGS = 0x000D
_EXT_ALPN = 0x0010
_EXT_SUPPORTED_VERSIONS = 0x002B

_MAX_RECORD = (1 << 14) + 2048  # TLSCiphertext limit
DEFAULT_CAP = 64 * 1024  # bytes buffered per direction before giving up

_JA4_VERSIONS = {
    0x0304: "13",
    0x0303: "12",
    0x0302: "11",
    0x0301: "10",
    0x0300: "s3",
    0x0002: "s2",
    0xFEFF: "d1",
    0xFEFD: "d2",
    0xFEFC: "d3",
}


def is_grease(value: int) -> bool:
    """RFC 8701 GREASE code point (0x0a0a, 0x1a1a, ..., 0xfafa)."""
    return (value & 0x0F0F) == 0x0A0A and (value >> 8) == (value & 0xFF)


def _u16_list(data: bytes) -> list[int]:
    return [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data) - 1, 2)]


def _vec(data: bytes, pos: int, size_len: int) -> tuple[bytes, int] | None:
    """Read a length-prefixed vector; None when it runs past the end."""
    end = pos + size_len
    if end > len(data):
        return None
    n = int.from_bytes(data[pos:end], "big")
    if end + n > len(data):
        return None
    return data[end : end + n], end + n


def _parse_sni(data: bytes) -> str | None:
    lst = _vec(data, 0, 2)
    if lst is None:
        return None
    names, pos = lst[0], 0
    while pos + 3 <= len(names):
        name_type = names[pos]
        item = _vec(names, pos + 1, 2)
        if item is None:
            return None
        if name_type == 0:
            return item[0].decode("utf-8", "replace")
        pos = item[1]
    return None


def _parse_alpn(data: bytes) -> list[bytes]:
    lst = _vec(data, 0, 2)
    if lst is None:
        return []
    body, pos, out = lst[0], 0, []
    while pos < len(body):
        item = _vec(body, pos, 1)
        if item is None:
            break
        out.append(item[0])
        pos = item[1]
    return out


def _alpn_chars(first: bytes | None) -> str:
    if not first:
        return "00"
    a, z = first[0], first[-1]
    if chr(a).isascii() and chr(a).isalnum() and chr(z).isascii() and chr(z).isalnum():
        return chr(a) + chr(z)
    text = first.hex()
    return text[0] + text[-1]


def _trunc_sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def ja4_fingerprint(info: dict[str, Any], quic: bool = False) -> str:
    """JA4 of a parsed ClientHello (see `parse_client_hello`), "q" prefix for QUIC."""
    ciphers = [c for c in info["ciphers"] if not is_grease(c)]
    exts = [e for e in info["extensions"] if not is_grease(e)]
    sv = [v for v in info["supported_versions"] if not is_grease(v)]
    version = max(sv) if sv else info["legacy_version"]
    alpn_raw: list[bytes] = info["alpn_raw"]
    part_a = (
        ("q" if quic else "t")
        + _JA4_VERSIONS.get(version, "00")
        + ("d" if _EXT_SNI in exts else "i")
        + f"{min(len(ciphers), 99):02d}{min(len(exts), 99):02d}"
        + _alpn_chars(alpn_raw[0] if alpn_raw else None)
    )
    part_b = _trunc_sha256(",".join(f"{c:04x}" for c in sorted(ciphers))) if ciphers else "0" * 12
    hashed_exts = sorted(e for e in exts if e not in (_EXT_SNI, _EXT_ALPN))
    if hashed_exts:
        raw_c = ",".join(f"{e:04x}" for e in hashed_exts)
        sig_algs = info["sig_algs"]
        if sig_algs:
            raw_c += "_" + ",".join(f"{s:04x}" for s in sig_algs)
        part_c = _trunc_sha256(raw_c)
    else:
        part_c = "0" * 12
    return f"{part_a}_{part_b}_{part_c}"


def parse_client_hello(hs: bytes, *, quic: bool = False) -> dict[str, Any] | None:
    """Parse a ClientHello handshake message body (the bytes after the 4-byte header).

    A complete message including its header (type 1, matching length) is accepted too.
    Returns None when the bytes are not a well-formed ClientHello. The result holds:
    ``legacy_version``, ``ciphers``, ``extensions`` (types in wire order, GREASE kept),
    ``sni``, ``alpn`` (decoded), ``alpn_raw``, ``supported_versions``, ``groups``,
    ``point_formats``, ``sig_algs``, ``versions`` (supported_versions without GREASE,
    else the legacy version), ``ja3``, ``ja3_hash`` and ``ja4`` ("q" prefix if `quic`).
    """
    try:
        return _parse_client_hello(bytes(hs), quic)
    except (IndexError, ValueError):  # pragma: no cover - parser checks bounds itself
        return None


def _parse_client_hello(hs: bytes, quic: bool) -> dict[str, Any] | None:
    if len(hs) >= 4 and hs[0] == _HS_CLIENT_HELLO and int.from_bytes(hs[1:4], "big") == len(hs) - 4:
        hs = hs[4:]
    if len(hs) < 2 + 32 + 1:
        return None
    legacy_version = int.from_bytes(hs[0:2], "big")
    if hs[0] not in (0x03, 0xFE):
        return None
    pos = 34
    sid = _vec(hs, pos, 1)
    if sid is None or len(sid[0]) > 32:
        return None
    cs = _vec(hs, sid[1], 2)
    if cs is None or len(cs[0]) % 2:
        return None
    ciphers = _u16_list(cs[0])
    comp = _vec(hs, cs[1], 1)
    if comp is None:
        return None
    pos = comp[1]

    extensions: list[int] = []
    sni: str | None = None
    alpn_raw: list[bytes] = []
    supported_versions: list[int] = []
    groups: list[int] = []
    point_formats: list[int] = []
    sig_algs: list[int] = []
    if pos < len(hs):
        block = _vec(hs, pos, 2)
        if block is None:
            return None
        ext_data, epos = block[0], 0
        while epos < len(ext_data):
            if epos + 4 > len(ext_data):
                return None
            etype = int.from_bytes(ext_data[epos : epos + 2], "big")
            item = _vec(ext_data, epos + 2, 2)
            if item is None:
                return None
            body, epos = item
            extensions.append(etype)
            if etype == _EXT_SNI:
                sni = _parse_sni(body)
            elif etype == _EXT_ALPN:
                alpn_raw = _parse_alpn(body)
            elif etype == _EXT_SUPPORTED_VERSIONS:
                lst = _vec(body, 0, 1)
                if lst is not None:
                    supported_versions = _u16_list(lst[0])
            elif etype == _EXT_GROUPS:
                lst = _vec(body, 0, 2)
                if lst is not None:
                    groups = _u16_list(lst[0])
            elif etype == _EXT_POINT_FORMATS:
                lst = _vec(body, 0, 1)
                if lst is not None:
                    point_formats = list(lst[0])
            elif etype == _EXT_SIG_ALGS:
                lst = _vec(body, 0, 2)
                if lst is not None:
                    sig_algs = _u16_list(lst[0])

    def dash(values: list[int]) -> str:
        return "-".join(str(v) for v in values if not is_grease(v))

    ja3 = ",".join(
        (
            str(legacy_version),
            dash(ciphers),
            dash(extensions),
            dash(groups),
            "-".join(str(v) for v in point_formats),
        )
    )
    versions = [v for v in supported_versions if not is_grease(v)] or [legacy_version]
    info: dict[str, Any] = {
        "legacy_version": legacy_version,
        "ciphers": ciphers,
        "extensions": extensions,
        "sni": sni,
        "alpn_raw": alpn_raw,
        "alpn": [a.decode("utf-8", "replace") for a in alpn_raw],
        "supported_versions": supported_versions,
        "groups": groups,
        "point_formats": point_formats,
        "sig_algs": sig_algs,
        "versions": versions,
        "ja3": ja3,
        "ja3_hash": hashlib.md5(ja3.encode(), usedforsecurity=False).hexdigest(),
    }
    info["ja4"] = ja4_fingerprint(info, quic)
    return info


def client_hello_event(info: dict[str, Any], ctx: Ctx, quic: bool = False) -> TlsClientHelloEvent:
    """The event for a parsed ClientHello (TLS over TCP, or inside a QUIC Initial)."""
    return TlsClientHelloEvent(
        ctx=ctx,
        sni=info["sni"],
        alpn=info["alpn"],
        versions=info["versions"],
        ja3=info["ja3"],
        ja3_hash=info["ja3_hash"],
        ja4=info["ja4"],
        quic=quic,
    )


def parse_sslv2_client_hello(record: bytes) -> dict[str, Any] | None:
    """SSLv2-format (compatible) ClientHello record including its 2-byte header."""
    if len(record) < 11 or not record[0] & 0x80 or record[2] != _HS_CLIENT_HELLO:
        return None
    length = ((record[0] & 0x7F) << 8) | record[1]
    body = record[2 : 2 + length]
    if len(body) < 9:
        return None
    version = int.from_bytes(body[1:3], "big")
    spec_len = int.from_bytes(body[3:5], "big")
    sid_len = int.from_bytes(body[5:7], "big")
    chal_len = int.from_bytes(body[7:9], "big")
    if spec_len % 3 or 9 + spec_len + sid_len + chal_len > len(body):
        return None
    return {"legacy_version": version, "versions": [version]}


def parse_certificate(body: bytes) -> tuple[str, str, tuple[str, ...]] | None:
    """First certificate of a TLS 1.2-or-below Certificate message body.

    Returns (subject, issuer, san) with RFC 4514 names, or None on bad input.
    """
    lst = _vec(body, 0, 3)
    if lst is None:
        return None
    first = _vec(lst[0], 0, 3)
    if first is None or not first[0]:
        return None
    return describe_der(first[0])


@lru_cache(maxsize=4096)
def describe_der(der: bytes) -> tuple[str, str, tuple[str, ...]] | None:
    """Subject, issuer (RFC 4514) and DNS/IP alternative names of a DER certificate (cached:
    servers hand out the same certificate on every connection)."""
    # a hostile certificate makes the library warn (negative serials, odd attribute
    # lengths): the warning would reach the user's terminal, so it is kept quiet here
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _describe(der)


def _describe(der: bytes) -> tuple[str, str, tuple[str, ...]] | None:
    try:
        from cryptography import x509

        cert = x509.load_der_x509_certificate(der)
        subject = cert.subject.rfc4514_string()
        issuer = cert.issuer.rfc4514_string()
    except Exception:  # malformed DER or names: no event
        return None
    san: list[str] = []
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        for name in ext.value:
            if isinstance(name, x509.DNSName):
                san.append(name.value)
            elif isinstance(name, x509.IPAddress):
                san.append(str(name.value))
    except Exception:  # absent or malformed extension
        pass
    return subject, issuer, tuple(san)


class _Direction:
    """Record and handshake reassembly state for one direction."""

    __slots__ = ("buf", "hs", "finished", "sslv2_checked")

    def __init__(self) -> None:
        self.buf = bytearray()  # undecoded record bytes
        self.hs = bytearray()  # handshake-protocol bytes not yet parsed into messages
        self.finished = False  # nothing more wanted from this direction
        self.sslv2_checked = False


class TlsStream:
    """Per-TCP-flow TLS parser (see the module docstring)."""

    def __init__(self, cap: int = DEFAULT_CAP) -> None:
        self.cap = cap
        self._client = _Direction()
        self._server = _Direction()
        self.client_hello_seen = False
        self.certificate_seen = False
        self.overflow = False

    @property
    def done(self) -> bool:
        return self.overflow or (self._client.finished and self._server.finished)

    def feed(self, data: bytes, ctx: Ctx, from_client: bool) -> list[Event]:
        d = self._client if from_client else self._server
        if self.done or d.finished or not data:
            return []
        out: list[Event] = []
        try:
            d.buf += data
            if len(d.buf) + len(d.hs) > self.cap:
                self.overflow = True
                d.buf.clear()
                d.hs.clear()
                return out
            if from_client and not d.sslv2_checked:
                if len(d.buf) < 3:
                    return out
                d.sslv2_checked = True
                if d.buf[0] & 0x80 and d.buf[2] == _HS_CLIENT_HELLO:
                    self._sslv2(d, ctx, out)
                    return out
            self._records(d, ctx, from_client, out)
        except Exception:  # never let garbage escape; give up on this direction
            d.finished = True
            d.buf.clear()
            d.hs.clear()
        return out

    def close(self, ctx: Ctx) -> list[Event]:
        return []

    # --- internals ------------------------------------------------------------

    def _sslv2(self, d: _Direction, ctx: Ctx, out: list[Event]) -> None:
        need = 2 + (((d.buf[0] & 0x7F) << 8) | d.buf[1])
        if len(d.buf) < need:
            d.sslv2_checked = False  # look again when more bytes arrived
            return
        info = parse_sslv2_client_hello(bytes(d.buf[:need]))
        if info is not None:
            self.client_hello_seen = True
            out.append(TlsClientHelloEvent(ctx=ctx, versions=info["versions"]))
        d.finished = True
        d.buf.clear()

    def _records(self, d: _Direction, ctx: Ctx, from_client: bool, out: list[Event]) -> None:
        buf = d.buf
        pos = 0
        while not d.finished and len(buf) - pos >= 5:
            ctype = buf[pos]
            length = (buf[pos + 3] << 8) | buf[pos + 4]
            if (
                ctype < _CT_CCS
                or ctype > _CT_HEARTBEAT
                or buf[pos + 1] not in (0x03, 0xFE)
                or length > _MAX_RECORD
            ):
                d.finished = True  # not TLS (or lost sync)
                break
            if len(buf) - pos < 5 + length:
                break
            fragment = bytes(buf[pos + 5 : pos + 5 + length])
            pos += 5 + length
            if ctype == _CT_HANDSHAKE:
                d.hs += fragment
                self._messages(d, ctx, from_client, out)
            else:
                # ChangeCipherSpec, alert or application data: from the server, no
                # plaintext Certificate follows (resumption, TLS 1.3, failure); from the
                # client before its ClientHello, the handshake was not captured.
                d.finished = True
        if d.finished:
            buf.clear()
            d.hs.clear()
        elif pos:
            del buf[:pos]

    def _messages(self, d: _Direction, ctx: Ctx, from_client: bool, out: list[Event]) -> None:
        hs = d.hs
        pos = 0
        while not d.finished and len(hs) - pos >= 4:
            mtype = hs[pos]
            mlen = int.from_bytes(hs[pos + 1 : pos + 4], "big")
            if mlen > self.cap:
                d.finished = True
                break
            if len(hs) - pos < 4 + mlen:
                break
            body = bytes(hs[pos + 4 : pos + 4 + mlen])
            pos += 4 + mlen
            if from_client:
                self._client_message(d, mtype, body, ctx, out)
            else:
                self._server_message(d, mtype, body, ctx, out)
        if pos:
            del hs[:pos]

    def _client_message(
        self, d: _Direction, mtype: int, body: bytes, ctx: Ctx, out: list[Event]
    ) -> None:
        if mtype != _HS_CLIENT_HELLO:
            d.finished = True
            return
        info = parse_client_hello(body)
        if info is not None:
            self.client_hello_seen = True
            out.append(client_hello_event(info, ctx))
        d.finished = True

    def _server_message(
        self, d: _Direction, mtype: int, body: bytes, ctx: Ctx, out: list[Event]
    ) -> None:
        if mtype == _HS_SERVER_HELLO:
            if _server_selected_version(body) == 0x0304:
                d.finished = True  # TLS 1.3: the certificate is encrypted
        elif mtype == _HS_CERTIFICATE:
            cert = parse_certificate(body)
            if cert is not None:
                self.certificate_seen = True
                subject, issuer, san = cert
                out.append(
                    TlsCertificateEvent(ctx=ctx, subject=subject, issuer=issuer, san=list(san))
                )
            d.finished = True
        elif mtype == _HS_SERVER_HELLO_DONE:
            d.finished = True  # no Certificate in this handshake


def _server_selected_version(body: bytes) -> int:
    """Version a ServerHello selects (supported_versions extension, else legacy)."""
    if len(body) < 35:
        return 0
    version = int.from_bytes(body[0:2], "big")
    sid = _vec(body, 34, 1)
    if sid is None:
        return version
    pos = sid[1] + 3  # cipher suite, compression method
    block = _vec(body, pos, 2)
    if block is None:
        return version
    exts, epos = block[0], 0
    while epos + 4 <= len(exts):
        etype = int.from_bytes(exts[epos : epos + 2], "big")
        item = _vec(exts, epos + 2, 2)
        if item is None:
            break
        if etype == _EXT_SUPPORTED_VERSIONS and len(item[0]) == 2:
            return int.from_bytes(item[0], "big")
        epos = item[1]
    return version
