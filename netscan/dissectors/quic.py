"""QUIC Initial dissector: the TLS ClientHello inside the client's Initial packets.

Initial packets are encrypted with keys anyone can derive from the client's first
Destination Connection ID (RFC 9001 section 5.2; QUIC v2: RFC 9369). `QuicInitialParser`
is a per-UDP-flow parser: for every client datagram it walks the coalesced long-header
packets, removes header protection (AES-ECB), decrypts Initial payloads (AES-128-GCM),
collects CRYPTO frame data by offset (a ClientHello often spans several packets, and
frames may arrive out of order), and once the ClientHello is complete parses it with
`tls.parse_client_hello` and emits a `TlsClientHelloEvent` with ``quic=True``.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, CipherContext, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from netscan.dissectors.tls import client_hello_event, parse_client_hello
from netscan.events import Ctx, Event

__all__ = ["QuicInitialParser", "initial_keys", "looks_like_quic_initial"]

QUIC_V1 = 0x00000001
QUIC_V2 = 0x6B3343CF

# version -> (initial salt, HKDF label prefix, long-header type bits of an Initial)
_VERSIONS: dict[int, tuple[bytes, str, int]] = {
    QUIC_V1: (bytes.fromhex("38762cf7f55934b34d179ae6a4c80cadccbb7f0a"), "quic", 0),
    QUIC_V2: (bytes.fromhex("0dede3def700a6db819381be6e269dcbf9bd2ed9"), "quicv2", 1),
}

MAX_CLIENT_PACKETS = 10  # give up when no ClientHello was completed after this many
MAX_CRYPTO = 64 * 1024  # CRYPTO bytes buffered before giving up
_MAX_CID = 20


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    """RFC 9000 variable-length integer at `pos`; raises IndexError past the end."""
    first = data[pos]
    size = 1 << (first >> 6)
    if pos + size > len(data):
        raise IndexError("varint past end")
    value = first & 0x3F
    for i in range(1, size):
        value = (value << 8) | data[pos + i]
    return value, pos + size


def _expand_label(secret: bytes, label: str, length: int) -> bytes:
    """HKDF-Expand-Label (RFC 8446 section 7.1) with SHA-256 and an empty context."""
    full = b"tls13 " + label.encode()
    info = length.to_bytes(2, "big") + bytes([len(full)]) + full + b"\x00"
    out, block, counter = b"", b"", 1
    while len(out) < length:
        block = hmac.new(secret, block + info + bytes([counter]), hashlib.sha256).digest()
        out += block
        counter += 1
    return out[:length]


def initial_keys(dcid: bytes, version: int = QUIC_V1) -> tuple[bytes, bytes, bytes]:
    """Client Initial (key, iv, hp) for a Destination Connection ID."""
    salt, prefix, _ = _VERSIONS[version]
    initial_secret = hmac.new(salt, dcid, hashlib.sha256).digest()  # HKDF-Extract
    client_secret = _expand_label(initial_secret, "client in", 32)
    return (
        _expand_label(client_secret, prefix + " key", 16),
        _expand_label(client_secret, prefix + " iv", 12),
        _expand_label(client_secret, prefix + " hp", 16),
    )


def _long_type(first: int, version: int) -> int:
    """Long-header packet type, normalised to v1 numbering (0 Initial ... 3 Retry)."""
    bits = (first >> 4) & 0x03
    return (bits - 1) & 0x03 if version == QUIC_V2 else bits


def looks_like_quic_initial(payload: bytes) -> bool:
    """Cheap check: a v1/v2 long-header Initial whose header fields fit the datagram."""
    try:
        if len(payload) < 7 or payload[0] & 0xC0 != 0xC0:
            return False
        version = int.from_bytes(payload[1:5], "big")
        if version not in _VERSIONS or _long_type(payload[0], version) != 0:
            return False
        pos = 5
        for _ in range(2):  # DCID, SCID
            n = payload[pos]
            if n > _MAX_CID:
                return False
            pos += 1 + n
        token_len, pos = _varint(payload, pos)
        pos += token_len
        length, pos = _varint(payload, pos)
        return length >= 20 and pos + length <= len(payload)
    except IndexError:
        return False


class _Keys:
    __slots__ = ("aead", "iv", "hp")

    def __init__(self, dcid: bytes, version: int) -> None:
        key, iv, hp = initial_keys(dcid, version)
        self.aead = AESGCM(key)
        self.iv = iv
        self.hp: CipherContext = Cipher(algorithms.AES(hp), modes.ECB()).encryptor()


class QuicInitialParser:
    """Per-UDP-flow parser for the client's QUIC Initial packets (see module docstring)."""

    def __init__(self) -> None:
        self._keys: dict[tuple[int, bytes], _Keys] = {}
        self._first_dcid: dict[int, bytes] = {}  # version -> DCID of the first Initial
        self._fragments: dict[int, bytes] = {}  # CRYPTO offset -> data
        self._crypto_bytes = 0
        self._contiguous = b""  # CRYPTO stream prefix from offset 0
        self._largest_pn = -1
        self._client_packets = 0
        self._seen_initial = False
        self.client_hello_seen = False
        self.done = False

    def feed(self, data: bytes, ctx: Ctx, from_client: bool) -> list[Event]:
        if self.done or not from_client:
            return []
        self._client_packets += 1
        out: list[Event] = []
        # Garbage must not escape; later datagrams may still parse.
        with contextlib.suppress(Exception):
            self._datagram(bytes(data), ctx, out)
        if not self.done and self._client_packets >= MAX_CLIENT_PACKETS:
            self.done = True
        return out

    def close(self, ctx: Ctx) -> list[Event]:
        return []

    # --- internals ------------------------------------------------------------

    def _datagram(self, data: bytes, ctx: Ctx, out: list[Event]) -> None:
        pos = 0
        while pos + 7 <= len(data) and not self.done:
            first = data[pos]
            if not first & 0x80:
                if not self._seen_initial:
                    self.done = True  # 1-RTT traffic: the handshake was not captured
                return
            version = int.from_bytes(data[pos + 1 : pos + 5], "big")
            if version not in _VERSIONS:
                return  # version negotiation, unknown version, or padding
            p = pos + 5
            dcid_len = data[p]
            if dcid_len > _MAX_CID:
                return
            dcid = data[p + 1 : p + 1 + dcid_len]
            p += 1 + dcid_len
            scid_len = data[p]
            if scid_len > _MAX_CID:
                return
            p += 1 + scid_len
            ptype = _long_type(first, version)
            if ptype == 3:
                return  # Retry: no Length field, nothing after it
            if ptype == 0:
                token_len, p = _varint(data, p)
                p += token_len
            length, p = _varint(data, p)
            end = p + length
            if end > len(data):
                return
            if ptype == 0:
                self._initial(data, pos, p, end, version, dcid, ctx, out)
            pos = end

    def _keys_for(self, version: int, dcid: bytes) -> _Keys:
        keys = self._keys.get((version, dcid))
        if keys is None:
            if len(self._keys) >= 4:
                self._keys.clear()
            keys = self._keys[(version, dcid)] = _Keys(dcid, version)
        return keys

    def _initial(
        self,
        data: bytes,
        start: int,
        pn_offset: int,
        end: int,
        version: int,
        dcid: bytes,
        ctx: Ctx,
        out: list[Event],
    ) -> None:
        if end - pn_offset < 4 + 16:
            return
        # Keys come from the DCID of the client's first Initial; later Initials may carry
        # the server's chosen CID instead (or a Retry's, which then needs fresh keys).
        first_dcid = self._first_dcid.setdefault(version, dcid)
        candidates = [first_dcid] if dcid == first_dcid else [first_dcid, dcid]
        sample = data[pn_offset + 4 : pn_offset + 20]
        for cid in candidates:
            keys = self._keys_for(version, cid)
            payload = self._decrypt(data, start, pn_offset, end, sample, keys)
            if payload is not None:
                self._seen_initial = True
                self._frames(payload)
                self._try_client_hello(ctx, out)
                return

    def _decrypt(
        self, data: bytes, start: int, pn_offset: int, end: int, sample: bytes, keys: _Keys
    ) -> bytes | None:
        mask = keys.hp.update(sample)
        first = data[start] ^ (mask[0] & 0x0F)
        pn_len = (first & 0x03) + 1
        pn_bytes = bytes(data[pn_offset + i] ^ mask[1 + i] for i in range(pn_len))
        truncated = int.from_bytes(pn_bytes, "big")
        pn = _decode_pn(self._largest_pn, truncated, pn_len * 8)
        header = bytes([first]) + data[start + 1 : pn_offset] + pn_bytes
        nonce = (int.from_bytes(keys.iv, "big") ^ pn).to_bytes(12, "big")
        try:
            payload = keys.aead.decrypt(nonce, data[pn_offset + pn_len : end], header)
        except (InvalidTag, ValueError):
            return None
        self._largest_pn = max(self._largest_pn, pn)
        return payload

    def _frames(self, p: bytes) -> None:
        pos, n = 0, len(p)
        while pos < n:
            ftype = p[pos]
            if ftype == 0x00:  # PADDING: skip the whole run
                nxt = pos + 1
                while nxt < n and p[nxt] == 0:
                    nxt += 1
                pos = nxt
                continue
            ftype, pos = _varint(p, pos)
            if ftype == 0x06:  # CRYPTO
                offset, pos = _varint(p, pos)
                length, pos = _varint(p, pos)
                if pos + length > n:
                    return
                self._add_crypto(offset, p[pos : pos + length])
                pos += length
            elif ftype == 0x01 or ftype == 0x1E:  # PING, HANDSHAKE_DONE
                continue
            elif ftype in (0x02, 0x03):  # ACK
                _, pos = _varint(p, pos)  # largest acknowledged
                _, pos = _varint(p, pos)  # delay
                ranges, pos = _varint(p, pos)
                _, pos = _varint(p, pos)  # first range
                for _ in range(ranges * 2 + (3 if ftype == 0x03 else 0)):
                    _, pos = _varint(p, pos)
            elif ftype in (0x1C, 0x1D):  # CONNECTION_CLOSE
                _, pos = _varint(p, pos)
                if ftype == 0x1C:
                    _, pos = _varint(p, pos)
                reason, pos = _varint(p, pos)
                pos += reason
            elif ftype in _SKIP_VARINTS:
                for _ in range(_SKIP_VARINTS[ftype]):
                    _, pos = _varint(p, pos)
            elif ftype == 0x07:  # NEW_TOKEN
                tlen, pos = _varint(p, pos)
                pos += tlen
            elif 0x08 <= ftype <= 0x0F:  # STREAM
                _, pos = _varint(p, pos)
                if ftype & 0x04:
                    _, pos = _varint(p, pos)
                if ftype & 0x02:
                    slen, pos = _varint(p, pos)
                    pos += slen
                else:
                    return  # runs to the end of the packet
            elif ftype == 0x18:  # NEW_CONNECTION_ID
                _, pos = _varint(p, pos)
                _, pos = _varint(p, pos)
                pos += 1 + p[pos] + 16
            elif ftype in (0x1A, 0x1B):  # PATH_CHALLENGE, PATH_RESPONSE
                pos += 8
            else:
                return  # unknown frame: its length is unknown, stop here

    def _add_crypto(self, offset: int, chunk: bytes) -> None:
        if not chunk or offset + len(chunk) <= len(self._contiguous):
            return
        self._crypto_bytes += len(chunk)
        if offset + len(chunk) > MAX_CRYPTO or self._crypto_bytes > 2 * MAX_CRYPTO:
            self.done = True
            return
        old = self._fragments.get(offset)
        if old is None or len(old) < len(chunk):
            self._fragments[offset] = chunk
        # Extend the contiguous prefix with whatever now connects to it.
        buf = self._contiguous
        progress = True
        while progress and self._fragments:
            progress = False
            for off in sorted(self._fragments):
                if off > len(buf):
                    break
                piece = self._fragments.pop(off)
                if off + len(piece) > len(buf):
                    buf += piece[len(buf) - off :]
                progress = True
        self._contiguous = buf

    def _try_client_hello(self, ctx: Ctx, out: list[Event]) -> None:
        buf = self._contiguous
        if len(buf) < 4:
            return
        if buf[0] != 0x01:
            self.done = True  # the client's first handshake message must be a ClientHello
            return
        need = 4 + int.from_bytes(buf[1:4], "big")
        if need > MAX_CRYPTO:
            self.done = True
            return
        if len(buf) < need:
            return
        self.done = True
        info = parse_client_hello(buf[4:need], quic=True)
        if info is None:
            return
        self.client_hello_seen = True
        out.append(client_hello_event(info, ctx, quic=True))


# Frames made of a fixed number of varints after the type.
_SKIP_VARINTS = {
    0x04: 3,  # RESET_STREAM
    0x05: 2,  # STOP_SENDING
    0x10: 1,  # MAX_DATA
    0x11: 2,  # MAX_STREAM_DATA
    0x12: 1,  # MAX_STREAMS (bidi)
    0x13: 1,  # MAX_STREAMS (uni)
    0x14: 1,  # DATA_BLOCKED
    0x15: 2,  # STREAM_DATA_BLOCKED
    0x16: 1,  # STREAMS_BLOCKED (bidi)
    0x17: 1,  # STREAMS_BLOCKED (uni)
    0x19: 1,  # RETIRE_CONNECTION_ID
}


def _decode_pn(largest: int, truncated: int, bits: int) -> int:
    """Full packet number from its truncated encoding (RFC 9000 appendix A.3)."""
    expected = largest + 1
    win = 1 << bits
    hwin, mask = win // 2, win - 1
    candidate = (expected & ~mask) | truncated
    if candidate <= expected - hwin and candidate < (1 << 62) - win:
        return candidate + win
    if candidate > expected + hwin and candidate >= win:
        return candidate - win
    return candidate
