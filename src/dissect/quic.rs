//! QUIC Initial dissector (RFC 9000, RFC 9001, RFC 9369): the port of
//! `netscan/dissectors/quic.py`.

use super::util::be32;

pub const QUIC_V1: u32 = 0x0000_0001;
pub const QUIC_V2: u32 = 0x6B33_43CF;
const MAX_CID: usize = 20;

/// RFC 9000 variable-length integer at `pos`: (value, offset after), None past the end.
pub fn varint(data: &[u8], pos: usize) -> Option<(u64, usize)> {
    let first = *data.get(pos)?;
    let size = 1usize << (first >> 6);
    let bytes = data.get(pos..pos + size)?;
    let mut value = u64::from(first & 0x3F);
    for &b in &bytes[1..] {
        value = (value << 8) | u64::from(b);
    }
    Some((value, pos + size))
}

/// Long-header packet type, normalised to v1 numbering (0 Initial ... 3 Retry).
pub fn long_type(first: u8, version: u32) -> u8 {
    let bits = (first >> 4) & 0x03;
    if version == QUIC_V2 {
        bits.wrapping_sub(1) & 0x03
    } else {
        bits
    }
}

/// Cheap check: a v1/v2 long-header Initial whose header fields fit the datagram.
pub fn looks_like_quic_initial(payload: &[u8]) -> bool {
    check_initial(payload).unwrap_or(false)
}

fn check_initial(payload: &[u8]) -> Option<bool> {
    if payload.len() < 7 || payload[0] & 0xC0 != 0xC0 {
        return Some(false);
    }
    let version = be32(payload, 1)?;
    if !(version == QUIC_V1 || version == QUIC_V2) || long_type(payload[0], version) != 0 {
        return Some(false);
    }
    let mut pos = 5;
    for _ in 0..2 {
        let n = usize::from(*payload.get(pos)?);
        if n > MAX_CID {
            return Some(false);
        }
        pos += 1 + n;
    }
    let (token_len, p) = varint(payload, pos)?;
    let pos = usize::try_from(token_len).ok()?.checked_add(p)?;
    let (length, pos) = varint(payload, pos)?;
    Some(length >= 20 && (pos as u64).checked_add(length)? <= payload.len() as u64)
}

use std::collections::BTreeMap;

use aes::cipher::{BlockEncrypt, KeyInit};
use aes::Aes128;
use aes_gcm::aead::{Aead, Payload};
use aes_gcm::Aes128Gcm;
use hkdf::Hkdf;
use sha2::Sha256;

use super::tls::parse_client_hello;
use crate::events::Event;

/// Give up when no ClientHello was completed after this many client datagrams.
pub const MAX_CLIENT_PACKETS: u32 = 10;
/// CRYPTO bytes buffered before giving up.
pub const MAX_CRYPTO: u64 = 64 * 1024;

const SALT_V1: [u8; 20] = [
    0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17, 0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad,
    0xcc, 0xbb, 0x7f, 0x0a,
];
const SALT_V2: [u8; 20] = [
    0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93, 0x81, 0xbe, 0x6e, 0x26, 0x9d, 0xcb,
    0xf9, 0xbd, 0x2e, 0xd9,
];

fn expand_label(secret: &[u8], label: &str, out: &mut [u8]) -> Option<()> {
    let full_len = 6 + label.len();
    let mut info = Vec::with_capacity(4 + full_len);
    info.extend_from_slice(&(out.len() as u16).to_be_bytes());
    info.push(u8::try_from(full_len).ok()?);
    info.extend_from_slice(b"tls13 ");
    info.extend_from_slice(label.as_bytes());
    info.push(0);
    Hkdf::<Sha256>::from_prk(secret)
        .ok()?
        .expand(&info, out)
        .ok()
}

/// Client Initial (key, iv, hp) for a Destination Connection ID (RFC 9001 5.2, RFC 9369).
pub fn initial_keys(dcid: &[u8], version: u32) -> Option<([u8; 16], [u8; 12], [u8; 16])> {
    let (salt, prefix) = match version {
        QUIC_V1 => (&SALT_V1, "quic"),
        QUIC_V2 => (&SALT_V2, "quicv2"),
        _ => return None,
    };
    let (initial_secret, _) = Hkdf::<Sha256>::extract(Some(salt), dcid);
    let mut client = [0u8; 32];
    expand_label(&initial_secret, "client in", &mut client)?;
    let mut key = [0u8; 16];
    let mut iv = [0u8; 12];
    let mut hp = [0u8; 16];
    expand_label(&client, &format!("{prefix} key"), &mut key)?;
    expand_label(&client, &format!("{prefix} iv"), &mut iv)?;
    expand_label(&client, &format!("{prefix} hp"), &mut hp)?;
    Some((key, iv, hp))
}

struct Keys {
    aead: Aes128Gcm,
    iv: [u8; 12],
    hp: Aes128,
}

impl Keys {
    fn new(dcid: &[u8], version: u32) -> Option<Self> {
        let (key, iv, hp) = initial_keys(dcid, version)?;
        Some(Self {
            aead: Aes128Gcm::new_from_slice(&key).ok()?,
            iv,
            hp: Aes128::new_from_slice(&hp).ok()?,
        })
    }
}

/// A frame walk or header read that ran past the end (the Python side's IndexError):
/// the rest of the datagram is dropped.
struct Abort;

fn var(data: &[u8], pos: usize) -> Result<(u64, usize), Abort> {
    varint(data, pos).ok_or(Abort)
}

fn at(data: &[u8], pos: usize) -> Result<u8, Abort> {
    data.get(pos).copied().ok_or(Abort)
}

fn add(pos: usize, n: u64) -> usize {
    pos.saturating_add(usize::try_from(n).unwrap_or(usize::MAX))
}

/// Full packet number from its truncated encoding (RFC 9000 appendix A.3).
fn decode_pn(largest: i128, truncated: i128, bits: u32) -> i128 {
    let expected = largest + 1;
    let win: i128 = 1 << bits;
    let hwin = win / 2;
    let mask = win - 1;
    let candidate = (expected & !mask) | truncated;
    if candidate <= expected - hwin && candidate < (1i128 << 62) - win {
        return candidate + win;
    }
    if candidate > expected + hwin && candidate >= win {
        return candidate - win;
    }
    candidate
}

/// Frames made of a fixed number of varints after the type.
fn skip_varints(ftype: u64) -> Option<usize> {
    Some(match ftype {
        0x04 => 3,
        0x05 => 2,
        0x10 => 1,
        0x11 => 2,
        0x12..=0x14 => 1,
        0x15 => 2,
        0x16 | 0x17 | 0x19 => 1,
        _ => return None,
    })
}

/// Per-UDP-flow parser for the client's QUIC Initial packets.
pub struct QuicInitialParser {
    keys: Vec<((u32, Vec<u8>), Keys)>,
    first_dcid: Vec<(u32, Vec<u8>)>,
    fragments: BTreeMap<u64, Vec<u8>>,
    crypto_bytes: u64,
    contiguous: Vec<u8>,
    largest_pn: i128,
    client_packets: u32,
    seen_initial: bool,
    pub client_hello_seen: bool,
    pub done: bool,
}

impl Default for QuicInitialParser {
    fn default() -> Self {
        Self::new()
    }
}

impl QuicInitialParser {
    pub fn new() -> Self {
        Self {
            keys: Vec::new(),
            first_dcid: Vec::new(),
            fragments: BTreeMap::new(),
            crypto_bytes: 0,
            contiguous: Vec::new(),
            largest_pn: -1,
            client_packets: 0,
            seen_initial: false,
            client_hello_seen: false,
            done: false,
        }
    }

    pub fn feed(&mut self, data: &[u8], from_client: bool) -> Vec<Event> {
        let mut out = Vec::new();
        if self.done || !from_client {
            return out;
        }
        self.client_packets += 1;
        let _ = self.datagram(data, &mut out);
        if !self.done && self.client_packets >= MAX_CLIENT_PACKETS {
            self.done = true;
        }
        out
    }

    fn datagram(&mut self, data: &[u8], out: &mut Vec<Event>) -> Result<(), Abort> {
        let mut pos = 0;
        while pos + 7 <= data.len() && !self.done {
            let first = data[pos];
            if first & 0x80 == 0 {
                if !self.seen_initial {
                    self.done = true;
                }
                return Ok(());
            }
            let version =
                u32::from_be_bytes([data[pos + 1], data[pos + 2], data[pos + 3], data[pos + 4]]);
            if version != QUIC_V1 && version != QUIC_V2 {
                return Ok(());
            }
            let mut p = pos + 5;
            let dcid_len = usize::from(data[p]);
            if dcid_len > MAX_CID {
                return Ok(());
            }
            let dcid = &data[(p + 1).min(data.len())..(p + 1 + dcid_len).min(data.len())];
            p += 1 + dcid_len;
            let scid_len = usize::from(at(data, p)?);
            if scid_len > MAX_CID {
                return Ok(());
            }
            p += 1 + scid_len;
            let ptype = long_type(first, version);
            if ptype == 3 {
                return Ok(());
            }
            if ptype == 0 {
                let (token_len, after) = var(data, p)?;
                p = add(after, token_len);
            }
            let (length, after) = var(data, p)?;
            p = after;
            let end = add(p, length);
            if end > data.len() {
                return Ok(());
            }
            if ptype == 0 {
                self.initial(data, pos, p, end, version, dcid, out)?;
            }
            pos = end;
        }
        Ok(())
    }

    fn keys_index(&mut self, version: u32, dcid: &[u8]) -> Option<usize> {
        if let Some(i) = self
            .keys
            .iter()
            .position(|((v, d), _)| *v == version && d == dcid)
        {
            return Some(i);
        }
        if self.keys.len() >= 4 {
            self.keys.clear();
        }
        self.keys
            .push(((version, dcid.to_vec()), Keys::new(dcid, version)?));
        Some(self.keys.len() - 1)
    }

    #[allow(clippy::too_many_arguments)]
    fn initial(
        &mut self,
        data: &[u8],
        start: usize,
        pn_offset: usize,
        end: usize,
        version: u32,
        dcid: &[u8],
        out: &mut Vec<Event>,
    ) -> Result<(), Abort> {
        if end - pn_offset < 4 + 16 {
            return Ok(());
        }
        let first_dcid = match self.first_dcid.iter().find(|(v, _)| *v == version) {
            Some((_, d)) => d.clone(),
            None => {
                self.first_dcid.push((version, dcid.to_vec()));
                dcid.to_vec()
            }
        };
        let mut candidates = vec![first_dcid.clone()];
        if dcid != first_dcid.as_slice() {
            candidates.push(dcid.to_vec());
        }
        let sample: [u8; 16] = data[pn_offset + 4..pn_offset + 20]
            .try_into()
            .map_err(|_| Abort)?;
        for cid in candidates {
            let Some(i) = self.keys_index(version, &cid) else {
                continue;
            };
            if let Some(payload) = self.decrypt(data, start, pn_offset, end, &sample, i) {
                self.seen_initial = true;
                self.frames(&payload)?;
                self.try_client_hello(out);
                return Ok(());
            }
        }
        Ok(())
    }

    fn decrypt(
        &mut self,
        data: &[u8],
        start: usize,
        pn_offset: usize,
        end: usize,
        sample: &[u8; 16],
        key_index: usize,
    ) -> Option<Vec<u8>> {
        let keys = &self.keys[key_index].1;
        let mut block = aes::Block::clone_from_slice(sample);
        keys.hp.encrypt_block(&mut block);
        let mask = block;
        let first = data[start] ^ (mask[0] & 0x0F);
        let pn_len = usize::from(first & 0x03) + 1;
        let mut pn_bytes = [0u8; 4];
        for i in 0..pn_len {
            pn_bytes[i] = data[pn_offset + i] ^ mask[1 + i];
        }
        let truncated = pn_bytes[..pn_len]
            .iter()
            .fold(0i128, |acc, &b| (acc << 8) | i128::from(b));
        let pn = decode_pn(self.largest_pn, truncated, 8 * pn_len as u32);
        let mut header = Vec::with_capacity(pn_offset - start + pn_len);
        header.push(first);
        header.extend_from_slice(&data[start + 1..pn_offset]);
        header.extend_from_slice(&pn_bytes[..pn_len]);
        let iv = u128::from_be_bytes({
            let mut b = [0u8; 16];
            b[4..].copy_from_slice(&keys.iv);
            b
        });
        let nonce_int = iv ^ u128::try_from(pn).ok()?;
        let nonce_bytes = nonce_int.to_be_bytes();
        if nonce_bytes[..4] != [0, 0, 0, 0] {
            return None;
        }
        let nonce = aes_gcm::Nonce::from_slice(&nonce_bytes[4..]);
        let payload = keys
            .aead
            .decrypt(
                nonce,
                Payload {
                    msg: &data[pn_offset + pn_len..end],
                    aad: &header,
                },
            )
            .ok()?;
        self.largest_pn = self.largest_pn.max(pn);
        Some(payload)
    }

    fn frames(&mut self, p: &[u8]) -> Result<(), Abort> {
        let n = p.len();
        let mut pos = 0;
        while pos < n {
            if p[pos] == 0 {
                while pos < n && p[pos] == 0 {
                    pos += 1;
                }
                continue;
            }
            let (ftype, after) = var(p, pos)?;
            pos = after;
            match ftype {
                0x06 => {
                    let (offset, after) = var(p, pos)?;
                    let (length, after) = var(p, after)?;
                    pos = after;
                    if add(pos, length) > n {
                        return Ok(());
                    }
                    let stop = pos + length as usize;
                    self.add_crypto(offset, &p[pos..stop]);
                    pos = stop;
                }
                0x01 | 0x1E => {}
                0x02 | 0x03 => {
                    pos = var(p, pos)?.1;
                    pos = var(p, pos)?.1;
                    let (ranges, after) = var(p, pos)?;
                    pos = var(p, after)?.1;
                    let count = u128::from(ranges) * 2 + if ftype == 0x03 { 3 } else { 0 };
                    let mut i: u128 = 0;
                    while i < count {
                        pos = var(p, pos)?.1;
                        i += 1;
                    }
                }
                0x1C | 0x1D => {
                    pos = var(p, pos)?.1;
                    if ftype == 0x1C {
                        pos = var(p, pos)?.1;
                    }
                    let (reason, after) = var(p, pos)?;
                    pos = add(after, reason);
                }
                0x07 => {
                    let (tlen, after) = var(p, pos)?;
                    pos = add(after, tlen);
                }
                0x08..=0x0F => {
                    pos = var(p, pos)?.1;
                    if ftype & 0x04 != 0 {
                        pos = var(p, pos)?.1;
                    }
                    if ftype & 0x02 != 0 {
                        let (slen, after) = var(p, pos)?;
                        pos = add(after, slen);
                    } else {
                        return Ok(());
                    }
                }
                0x18 => {
                    pos = var(p, pos)?.1;
                    pos = var(p, pos)?.1;
                    pos = add(pos, 1 + u64::from(at(p, pos)?) + 16);
                }
                0x1A | 0x1B => pos = add(pos, 8),
                other => match skip_varints(other) {
                    Some(k) => {
                        for _ in 0..k {
                            pos = var(p, pos)?.1;
                        }
                    }
                    None => return Ok(()),
                },
            }
        }
        Ok(())
    }

    fn add_crypto(&mut self, offset: u64, chunk: &[u8]) {
        let len = chunk.len() as u64;
        let have = self.contiguous.len() as u64;
        if chunk.is_empty() || offset.saturating_add(len) <= have {
            return;
        }
        self.crypto_bytes += len;
        if offset.saturating_add(len) > MAX_CRYPTO || self.crypto_bytes > 2 * MAX_CRYPTO {
            self.done = true;
            return;
        }
        let keep = self
            .fragments
            .get(&offset)
            .is_none_or(|old| old.len() < chunk.len());
        if keep {
            self.fragments.insert(offset, chunk.to_vec());
        }
        while let Some((&off, _)) = self.fragments.first_key_value() {
            let have = self.contiguous.len() as u64;
            if off > have {
                break;
            }
            let piece = self
                .fragments
                .pop_first()
                .map(|(_, v)| v)
                .unwrap_or_default();
            let skip = (have - off) as usize;
            if piece.len() > skip {
                self.contiguous.extend_from_slice(&piece[skip..]);
            }
        }
    }

    fn try_client_hello(&mut self, out: &mut Vec<Event>) {
        let buf = &self.contiguous;
        if buf.len() < 4 {
            return;
        }
        if buf[0] != 0x01 {
            self.done = true;
            return;
        }
        let need =
            4 + ((usize::from(buf[1]) << 16) | (usize::from(buf[2]) << 8) | usize::from(buf[3]));
        if need as u64 > MAX_CRYPTO {
            self.done = true;
            return;
        }
        if buf.len() < need {
            return;
        }
        self.done = true;
        if let Some(ch) = parse_client_hello(&buf[4..need]) {
            self.client_hello_seen = true;
            out.push(ch.event(true));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc9001_keys() {
        // RFC 9001 appendix A.1
        let dcid = [0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08];
        let (key, iv, hp) = initial_keys(&dcid, QUIC_V1).unwrap();
        assert_eq!(
            super::super::util::hex(&key),
            "1f369613dd76d5467730efcbe3b1a22d"
        );
        assert_eq!(super::super::util::hex(&iv), "fa044b2f42a3fd3b46fb255c");
        assert_eq!(
            super::super::util::hex(&hp),
            "9f50449e04a0e810283a1e9933adedd2"
        );
        // RFC 9369 appendix A.1
        let (key, iv, hp) = initial_keys(&dcid, QUIC_V2).unwrap();
        assert_eq!(
            super::super::util::hex(&key),
            "8b1a0bc121284290a29e0971b5cd045d"
        );
        assert_eq!(super::super::util::hex(&iv), "91f73e2351d8fa91660e909f");
        assert_eq!(
            super::super::util::hex(&hp),
            "45b95e15235d6f45a6b19cbcb0294ba9"
        );
    }

    #[test]
    fn pn_decoding() {
        // RFC 9000 appendix A.3 example
        assert_eq!(decode_pn(0xa82f30ea, 0x9b32, 16), 0xa82f9b32);
        assert_eq!(decode_pn(-1, 0, 8), 0);
    }

    #[test]
    fn garbage_never_panics() {
        let mut q = QuicInitialParser::new();
        let mut d = vec![
            0xC3, 0, 0, 0, 1, 8, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0x40, 0x40,
        ];
        d.extend_from_slice(&[0x55; 64]);
        for n in 0..d.len() {
            let _ = q.feed(&d[..n], true);
        }
        assert!(q.done);
    }
}
