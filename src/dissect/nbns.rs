//! NetBIOS Name Service (RFC 1002, UDP 137): the port of `netscan/dissectors/nbns.py`.
//!
//! `name` / `suffix` come from the question, or from the first resource record when there
//! is no question; the first-level encoding is undone, the 16th byte is the suffix, trailing
//! spaces and NULs are stripped from the 15-byte name, bytes decoded as Latin-1. Addresses
//! come from every NB record. A message whose name is not first-level encoded gives nothing.

use super::util::{be16, latin1};
use crate::events::{Event, NbnsEvent};

const NB: u16 = 0x0020;

fn skip_labels(buf: &[u8], mut off: usize) -> Option<usize> {
    loop {
        let length = *buf.get(off)?;
        if length == 0 {
            return Some(off + 1);
        }
        if length >= 0x40 {
            return None;
        }
        off += 1 + usize::from(length);
    }
}

fn unhex(c: u8) -> Option<u8> {
    (b'A'..=b'P').contains(&c).then(|| c - b'A')
}

fn read_nb_name(buf: &[u8], off: usize, follow: bool) -> Option<([u8; 16], usize)> {
    let first = *buf.get(off)?;
    if first >= 0xC0 {
        let ptr = (usize::from(first & 0x3F) << 8) | usize::from(*buf.get(off + 1)?);
        if !follow || ptr >= off {
            return None;
        }
        let (raw, _) = read_nb_name(buf, ptr, false)?;
        return Some((raw, off + 2));
    }
    if first != 32 || off + 33 > buf.len() {
        return None;
    }
    let mut raw = [0u8; 16];
    for (i, out) in raw.iter_mut().enumerate() {
        let hi = unhex(buf[off + 1 + 2 * i])?;
        let lo = unhex(buf[off + 2 + 2 * i])?;
        *out = (hi << 4) | lo;
    }
    Some((raw, skip_labels(buf, off + 33)?))
}

/// The event for one NBNS datagram, None when it has no decodable name.
pub fn event(payload: &[u8]) -> Option<Event> {
    if payload.len() < 12 {
        return None;
    }
    let flags = be16(payload, 2)?;
    let qd = be16(payload, 4)?;
    let an = be16(payload, 6)?;
    let ns = be16(payload, 8)?;
    let ar = be16(payload, 10)?;
    let mut raw: Option<[u8; 16]> = None;
    let mut addresses = Vec::new();
    let _ = records(
        payload,
        qd,
        u32::from(an) + u32::from(ns) + u32::from(ar),
        &mut raw,
        &mut addresses,
    );
    let raw = raw?;
    let name = latin1(&raw[..15]);
    let name = name.trim_end_matches([' ', '\0']).to_string();
    Some(Event::Nbns(NbnsEvent {
        is_response: flags & 0x8000 != 0,
        opcode: ((flags >> 11) & 0x0F) as u8,
        name,
        suffix: raw[15],
        addresses,
    }))
}

fn records(
    payload: &[u8],
    qd: u16,
    rr: u32,
    raw: &mut Option<[u8; 16]>,
    addresses: &mut Vec<String>,
) -> Option<()> {
    let n = payload.len();
    let mut off = 12;
    for _ in 0..qd {
        let (qname, after) = read_nb_name(payload, off, true)?;
        off = after + 4;
        raw.get_or_insert(qname);
    }
    if off > n {
        return None;
    }
    for _ in 0..rr {
        let (rname, after) = read_nb_name(payload, off, true)?;
        raw.get_or_insert(rname);
        let rtype = be16(payload, after)?;
        let rdlen = usize::from(be16(payload, after + 8)?);
        let start = after + 10;
        off = start + rdlen;
        if off > n {
            return None;
        }
        if rtype == NB && rdlen % 6 == 0 {
            let mut i = start + 2;
            while i < off {
                addresses.push(format!(
                    "{}.{}.{}.{}",
                    payload[i],
                    payload[i + 1],
                    payload[i + 2],
                    payload[i + 3]
                ));
                i += 6;
            }
        }
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(name: &[u8; 16]) -> Vec<u8> {
        let mut v = vec![32];
        for &b in name {
            v.push(b'A' + (b >> 4));
            v.push(b'A' + (b & 15));
        }
        v.push(0);
        v
    }

    #[test]
    fn registration() {
        let mut m = vec![0, 1, 0x29, 0x10, 0, 1, 0, 0, 0, 0, 0, 1];
        m.extend(encode(b"WORKSTATION1   \x00"));
        m.extend_from_slice(&[0, 0x20, 0, 1]);
        m.extend_from_slice(&[0xC0, 12, 0, 0x20, 0, 1, 0, 0, 0, 0, 0, 6, 0, 0, 10, 0, 0, 5]);
        let Some(Event::Nbns(e)) = event(&m) else {
            panic!()
        };
        assert_eq!(e.name, "WORKSTATION1");
        assert_eq!(e.suffix, 0);
        assert_eq!(e.opcode, 5);
        assert_eq!(e.addresses, vec!["10.0.0.5"]);
        // a pointer to a pointer is refused, the question is kept
        let mut bad = m.clone();
        let len = bad.len();
        bad[len - 18] = 0xC0;
        bad[len - 17] = (len - 18) as u8;
        assert!(event(&bad).is_some());
        // not first-level encoded
        m[14] = b'z';
        assert!(event(&m).is_none());
    }
}
