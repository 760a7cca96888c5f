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
