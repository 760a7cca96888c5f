//! DNS wire format (RFC 1035) as used by unicast DNS, mDNS (RFC 6762) and LLMNR
//! (RFC 4795): the Rust port of `netscan/dissectors/dns.py`, with the same output.
//!
//! * Names are lower-case, without the trailing dot, labels decoded as UTF-8 with
//!   replacement characters; the root name is "".
//! * Record types "A", "AAAA", "CNAME", "PTR", "SRV", "TXT", every other one "TYPE<n>".
//! * `answers` holds the answer and additional sections; authority records are skipped.
//! * A record whose RDATA does not fit its type is dropped; parsing goes on.
//! * A message that breaks off keeps what was parsed before the fault; if nothing was,
//!   or the header is incomplete, there is no message.
//!
//! Compression pointers must point strictly before the pointer itself and a name's
//! labels may not exceed 255 bytes; together these end every pointer loop. Names already
//! decoded are remembered by offset (one table per message), so that a hostile message of
//! pointer chains costs time in proportion to its size.

use std::collections::HashMap;

use super::util::{be16, be32, hex, ipv4, ipv6_ntop, utf8_replace};
use crate::events::{DnsEvent, DnsRecord, Event};

const MAX_NAME: usize = 255;

/// Why a name or a message could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// Shorter than the 12-byte header, or nothing parsed before the fault.
    Truncated,
    /// A label, pointer or length that cannot be.
    Malformed,
}

/// Type mnemonic for the types decoded here, else "TYPE<n>".
pub fn type_name(rtype: u16) -> String {
    match rtype {
        1 => "A".into(),
        5 => "CNAME".into(),
        12 => "PTR".into(),
        16 => "TXT".into(),
        28 => "AAAA".into(),
        33 => "SRV".into(),
        n => format!("TYPE{n}"),
    }
}

/// Names decoded so far in one message, by the offset they were read from: the names live
/// in one string arena; a short list is searched in order, a long one (hostile messages
/// full of pointers) through a hash index, so a lookup never costs more than O(1) amortised.
#[derive(Default)]
pub struct NameCache {
    arena: String,
    /// (offset, start in arena, end in arena, wire length of the labels)
    entries: Vec<(usize, usize, usize, usize)>,
    index: Option<HashMap<usize, usize>>,
}

const LINEAR: usize = 24;

impl NameCache {
    pub fn new() -> Self {
        Self::default()
    }

    /// (start, end) of the cached name in the arena and its wire length.
    fn get(&self, off: usize) -> Option<(usize, usize, usize)> {
        let i = match &self.index {
            Some(ix) => *ix.get(&off)?,
            None => self.entries.iter().rposition(|e| e.0 == off)?,
        };
        let (_, a, b, wire) = self.entries[i];
        Some((a, b, wire))
    }

    fn insert(&mut self, off: usize, name: &str, wire: usize) {
        let a = self.arena.len();
        self.arena.push_str(name);
        let i = self.entries.len();
        self.entries.push((off, a, self.arena.len(), wire));
        if let Some(ix) = &mut self.index {
            ix.insert(off, i);
        } else if self.entries.len() > LINEAR {
            let mut ix = HashMap::with_capacity(2 * LINEAR);
            for (j, e) in self.entries.iter().enumerate() {
                ix.insert(e.0, j);
            }
            self.index = Some(ix);
        }
    }
}

/// Labels joined by "." (then a suffix), decoded as UTF-8 with replacement, lower-cased.
fn join_lower(labels: &[&[u8]], suffix: &str) -> String {
    let size: usize = labels.iter().map(|l| l.len() + 1).sum::<usize>() + suffix.len();
    if labels.iter().all(|l| l.is_ascii()) {
        let mut out = String::with_capacity(size);
        for (i, l) in labels.iter().enumerate() {
            if i > 0 {
                out.push('.');
            }
            for &c in *l {
                out.push(char::from(c.to_ascii_lowercase()));
            }
        }
        if !suffix.is_empty() {
            if !labels.is_empty() {
                out.push('.');
            }
            out.push_str(suffix);
        }
        return out;
    }
    let mut raw = Vec::with_capacity(size);
    for (i, l) in labels.iter().enumerate() {
        if i > 0 {
            raw.push(b'.');
        }
        raw.extend_from_slice(l);
    }
    let mut out = utf8_replace(&raw).to_lowercase();
    if !suffix.is_empty() {
        if !labels.is_empty() {
            out.push('.');
        }
        out.push_str(suffix);
    }
    out
}

/// Decode the (possibly compressed) name at `off`; return it and the offset after it.
pub fn read_name(
    buf: &[u8],
    mut off: usize,
    cache: &mut NameCache,
) -> Result<(String, usize), Error> {
    let start0 = off;
    let mut labels: Vec<&[u8]> = Vec::new();
    let mut jumps: Vec<(usize, usize, usize)> = Vec::new(); // (target, labels before, wire before)
    let mut suffix: Option<(usize, usize)> = None; // arena range of a cached suffix
    let mut end: Option<usize> = None;
    let mut total = 0usize;
    let n = buf.len();
    loop {
        let length = *buf.get(off).ok_or(Error::Malformed)? as usize;
        if length == 0 {
            off += 1;
            break;
        }
        if length < 0x40 {
            let start = off + 1;
            off = start + length;
            total += length + 1;
            if off > n || total > MAX_NAME {
                return Err(Error::Malformed);
            }
            labels.push(&buf[start..off]);
        } else if length >= 0xC0 {
            let low = *buf.get(off + 1).ok_or(Error::Malformed)? as usize;
            let ptr = ((length & 0x3F) << 8) | low;
            if ptr >= off {
                return Err(Error::Malformed);
            }
            if end.is_none() {
                end = Some(off + 2);
            }
            if let Some((a, b, wire)) = cache.get(ptr) {
                total += wire;
                if total > MAX_NAME {
                    return Err(Error::Malformed);
                }
                suffix = Some((a, b));
                break;
            }
            jumps.push((ptr, labels.len(), total));
            off = ptr;
        } else {
            return Err(Error::Malformed);
        }
    }
    let end = end.unwrap_or(off);
    let suffix_s: String = match suffix {
        Some((a, b)) => cache.arena[a..b].to_string(),
        None => String::new(),
    };
    let name = join_lower(&labels, &suffix_s);
    for &(ptr, before, wire) in &jumps {
        let rest = join_lower(&labels[before..], &suffix_s);
        cache.insert(ptr, &rest, total - wire);
    }
    cache.insert(start0, &name, total);
    Ok((name, end))
}

fn rdata(
    buf: &[u8],
    rtype: u16,
    start: usize,
    end: usize,
    cache: &mut NameCache,
) -> Option<String> {
    let data = &buf[start..end];
    match rtype {
        1 => {
            let a: &[u8; 4] = data.try_into().ok()?;
            Some(ipv4(a))
        }
        28 => {
            let a: &[u8; 16] = data.try_into().ok()?;
            Some(ipv6_ntop(a))
        }
        5 | 12 => {
            let (name, after) = read_name(buf, start, cache).ok()?;
            (after <= end).then_some(name)
        }
        16 => {
            let mut parts: Vec<String> = Vec::new();
            let mut off = start;
            while off < end {
                let stop = off + 1 + buf[off] as usize;
                if stop > end {
                    return None;
                }
                parts.push(utf8_replace(&buf[off + 1..stop]));
                off = stop;
            }
            Some(parts.join("\n"))
        }
        33 => {
            if end - start < 7 {
                return None;
            }
            let prio = be16(buf, start)?;
            let weight = be16(buf, start + 2)?;
            let port = be16(buf, start + 4)?;
            let (target, after) = read_name(buf, start + 6, cache).ok()?;
            (after <= end).then(|| format!("{prio} {weight} {port} {target}"))
        }
        _ => Some(hex(data)),
    }
}

/// A parsed DNS-format message (the fields the event carries).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsMessage {
    pub flags: u16,
    pub queries: Vec<(String, String)>,
    pub answers: Vec<DnsRecord>,
}

/// Parse one DNS-format message.
pub fn parse(payload: &[u8]) -> Result<DnsMessage, Error> {
    if payload.len() < 12 {
        return Err(Error::Truncated);
    }
    let flags = be16(payload, 2).ok_or(Error::Truncated)?;
    let counts = [
        be16(payload, 4).unwrap_or(0),
        be16(payload, 6).unwrap_or(0),
        be16(payload, 8).unwrap_or(0),
        be16(payload, 10).unwrap_or(0),
    ];
    let mut msg = DnsMessage {
        flags,
        queries: Vec::new(),
        answers: Vec::new(),
    };
    let mut cache = NameCache::new();
    let mut parsed = 0usize;
    let result = body(payload, counts, &mut msg, &mut cache, &mut parsed);
    if result.is_err() && parsed == 0 {
        return Err(Error::Truncated);
    }
    Ok(msg)
}

fn body(
    payload: &[u8],
    counts: [u16; 4],
    msg: &mut DnsMessage,
    cache: &mut NameCache,
    parsed: &mut usize,
) -> Result<(), Error> {
    let n = payload.len();
    let mut off = 12;
    for _ in 0..counts[0] {
        let (name, after) = read_name(payload, off, cache)?;
        let qtype = be16(payload, after).ok_or(Error::Malformed)?;
        be16(payload, after + 2).ok_or(Error::Malformed)?;
        off = after + 4;
        msg.queries.push((name, type_name(qtype)));
        *parsed += 1;
    }
    for (section, &count) in counts[1..].iter().enumerate() {
        for _ in 0..count {
            let (name, after) = read_name(payload, off, cache)?;
            let rtype = be16(payload, after).ok_or(Error::Malformed)?;
            let ttl = be32(payload, after + 4).ok_or(Error::Malformed)?;
            let rdlen = be16(payload, after + 8).ok_or(Error::Malformed)? as usize;
            let start = after + 10;
            off = start + rdlen;
            if off > n {
                return Err(Error::Malformed);
            }
            *parsed += 1;
            if section == 1 {
                continue;
            }
            if let Some(value) = rdata(payload, rtype, start, off, cache) {
                msg.answers.push(DnsRecord {
                    name,
                    rtype: type_name(rtype),
                    value,
                    ttl,
                });
            }
        }
    }
    Ok(())
}

/// The event for one message; `proto` is "dns", "mdns" or "llmnr". None when the bytes
/// give no message (as the Python dissector's empty list).
pub fn event(payload: &[u8], proto: &'static str) -> Option<Event> {
    let msg = parse(payload).ok()?;
    Some(Event::Dns(DnsEvent {
        proto,
        is_response: msg.flags & 0x8000 != 0,
        rcode: (msg.flags & 0x000F) as u8,
        queries: msg.queries,
        answers: msg.answers,
    }))
}

/// DNS over TCP (RFC 1035 4.2.2): each message preceded by its two-byte length. After
/// `max_messages` messages, or a length no DNS message can have, the stream is left alone.
#[derive(Debug, Clone)]
pub struct DnsTcpStream {
    bufs: [Vec<u8>; 2],
    max: usize,
    count: usize,
    pub done: bool,
}

impl Default for DnsTcpStream {
    fn default() -> Self {
        Self::new(200)
    }
}

impl DnsTcpStream {
    pub fn new(max_messages: usize) -> Self {
        Self {
            bufs: [Vec::new(), Vec::new()],
            max: max_messages,
            count: 0,
            done: false,
        }
    }

    pub fn feed(&mut self, data: &[u8], from_client: bool) -> Vec<Event> {
        let mut out = Vec::new();
        if self.done {
            return out;
        }
        let buf = &mut self.bufs[usize::from(from_client)];
        buf.extend_from_slice(data);
        let mut pos = 0;
        while buf.len() - pos >= 2 {
            let size = usize::from(u16::from_be_bytes([buf[pos], buf[pos + 1]]));
            if size < 12 {
                self.done = true;
                buf.clear();
                return out;
            }
            if buf.len() - pos < 2 + size {
                break;
            }
            out.extend(event(&buf[pos + 2..pos + 2 + size], "dns"));
            pos += 2 + size;
            self.count += 1;
            if self.count >= self.max {
                self.done = true;
                break;
            }
        }
        buf.drain(..pos);
        if buf.len() > 65537 {
            buf.clear();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(qd: u16, an: u16, ns: u16, ar: u16, flags: u16) -> Vec<u8> {
        let mut v = vec![0x12, 0x34];
        for x in [flags, qd, an, ns, ar] {
            v.extend_from_slice(&x.to_be_bytes());
        }
        v
    }

    #[test]
    fn query_and_answer() {
        let mut m = header(1, 2, 0, 0, 0x8180);
        m.extend_from_slice(b"\x03WWW\x07example\x03com\x00\x00\x01\x00\x01");
        // answer: pointer to the question name, A record
        m.extend_from_slice(b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\x5d\xb8\xd8\x22");
        // CNAME with a compressed target
        m.extend_from_slice(b"\xc0\x0c\x00\x05\x00\x01\x00\x00\x00\x3c\x00\x05\x02ab\xc0\x10");
        let msg = parse(&m).unwrap();
        assert_eq!(
            msg.queries,
            vec![("www.example.com".to_string(), "A".to_string())]
        );
        assert_eq!(msg.answers.len(), 2);
        assert_eq!(msg.answers[0].value, "93.184.216.34");
        assert_eq!(msg.answers[0].ttl, 60);
        assert_eq!(msg.answers[1].value, "ab.example.com");
    }

    #[test]
    fn pointer_loops_are_refused() {
        // a pointer to itself, and a pointer forwards
        let mut m = header(1, 0, 0, 0, 0);
        m.extend_from_slice(b"\xc0\x0c\x00\x01\x00\x01");
        assert_eq!(parse(&m), Err(Error::Truncated));
        let mut m = header(1, 0, 0, 0, 0);
        m.extend_from_slice(b"\xc0\x20\x00\x01\x00\x01");
        assert_eq!(parse(&m), Err(Error::Truncated));
        // a chain of backward pointers ending in a label loop is still finite
        let mut m = header(1, 0, 0, 0, 0);
        m.extend_from_slice(b"\x01a\xc0\x0c\x00\x01\x00\x01");
        assert_eq!(parse(&m), Err(Error::Truncated));
    }

    #[test]
    fn long_names_and_lies() {
        // 256 bytes of labels
        let mut m = header(1, 0, 0, 0, 0);
        for _ in 0..4 {
            m.push(63);
            m.extend_from_slice(&[b'a'; 63]);
        }
        m.extend_from_slice(b"\x00\x00\x01\x00\x01");
        assert!(parse(&m).is_err());
        // rdlength running past the end keeps the question
        let mut m = header(1, 1, 0, 0, 0x8000);
        m.extend_from_slice(
            b"\x01a\x00\x00\x01\x00\x01\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x01\x00\x40\x01",
        );
        let msg = parse(&m).unwrap();
        assert_eq!(msg.queries.len(), 1);
        assert!(msg.answers.is_empty());
        // an A record of 5 bytes is dropped, the next one kept
        let mut m = header(0, 2, 0, 0, 0x8000);
        m.extend_from_slice(b"\x00\x00\x01\x00\x01\x00\x00\x00\x01\x00\x05\x01\x02\x03\x04\x05");
        m.extend_from_slice(b"\x00\x00\x01\x00\x01\x00\x00\x00\x01\x00\x04\x01\x02\x03\x04");
        let msg = parse(&m).unwrap();
        assert_eq!(msg.answers.len(), 1);
        assert_eq!(msg.answers[0].name, "");
        // truncated header
        assert_eq!(parse(&m[..11]), Err(Error::Truncated));
    }

    #[test]
    fn txt_srv_and_other_types() {
        let mut m = header(0, 3, 0, 0, 0x8400);
        m.extend_from_slice(b"\x00\x00\x10\x80\x01\x00\x00\x00\x01\x00\x08\x03a=b\x03c=d");
        m.extend_from_slice(
            b"\x00\x00\x21\x00\x01\x00\x00\x00\x01\x00\x09\x00\x01\x00\x02\x1f\x90\x01x\x00",
        );
        m.extend_from_slice(b"\x00\x00\xff\x00\x01\x00\x00\x00\x01\x00\x02\xab\xcd");
        let msg = parse(&m).unwrap();
        let values: Vec<_> = msg
            .answers
            .iter()
            .map(|a| (a.rtype.as_str(), a.value.as_str()))
            .collect();
        assert_eq!(
            values,
            vec![
                ("TXT", "a=b\nc=d"),
                ("SRV", "1 2 8080 x"),
                ("TYPE255", "abcd")
            ]
        );
    }

    #[test]
    fn hostile_pointer_chains_stay_linear() {
        // One record's RDATA (of a type not decoded) holds a chain of 8,000 pointers, each
        // pointing two bytes back, ending at the question name; 3,000 more records are named
        // by a pointer to the chain's end. Without the per-message name table every name
        // would walk the whole chain (24 million steps); with it each is one look-up.
        const CHAIN: usize = 8_000;
        const NAMED: usize = 3_000;
        let mut m = header(1, (NAMED + 1) as u16, 0, 0, 0x8000);
        m.extend_from_slice(b"\x01A\x00\x00\x01\x00\x01");
        m.extend_from_slice(b"\x00\x00\x63\x00\x01\x00\x00\x00\x01");
        m.extend_from_slice(&((2 * CHAIN) as u16).to_be_bytes());
        let chain_start = m.len();
        m.extend_from_slice(&[0xC0, 12]);
        for i in 1..CHAIN {
            let target = chain_start + 2 * (i - 1);
            m.extend_from_slice(&[0xC0 | (target >> 8) as u8, target as u8]);
        }
        let last = chain_start + 2 * (CHAIN - 1);
        for _ in 0..NAMED {
            m.extend_from_slice(&[0xC0 | (last >> 8) as u8, last as u8]);
            m.extend_from_slice(b"\x00\x01\x00\x01\x00\x00\x00\x01\x00\x04\x01\x02\x03\x04");
        }
        assert!(m.len() <= 65_535);
        let msg = parse(&m).unwrap();
        assert_eq!(msg.queries, vec![("a".to_string(), "A".to_string())]);
        assert_eq!(msg.answers.len(), NAMED + 1);
        assert!(msg.answers[1..]
            .iter()
            .all(|a| a.name == "a" && a.value == "1.2.3.4"));
    }

    #[test]
    fn tcp_framing() {
        let mut m = header(1, 0, 0, 0, 0);
        m.extend_from_slice(b"\x01a\x00\x00\x01\x00\x01");
        let mut framed = (m.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(&m);
        let mut s = DnsTcpStream::default();
        assert!(s.feed(&framed[..5], true).is_empty());
        assert_eq!(s.feed(&framed[5..], true).len(), 1);
        assert!(s.feed(b"\x00\x05hello", false).is_empty());
        assert!(s.done);
    }
}
