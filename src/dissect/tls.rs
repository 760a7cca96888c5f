//! TLS handshake dissector: the port of `netscan/dissectors/tls.py`.
//!
//! [`parse_client_hello`] is a pure function on one ClientHello body (shared with QUIC)
//! giving JA3 and JA4 (RFC 8446/5246 layouts, RFC 8701 GREASE, the JA3 definition and the
//! JA4 specification). [`TlsStream`] is the per-TCP-flow parser: it buffers records per
//! direction (at most `cap` bytes), reassembles handshake messages across records and emits
//! one ClientHello event (also for SSLv2-format hellos, without extensions) and one
//! certificate event for the first certificate of the server's Certificate message.

use md5::{Digest as _, Md5};
use sha2::Sha256;

use super::util::{be16, be24, hex, utf8_replace};
use super::x509;
use crate::events::{Event, TlsCertificateEvent, TlsClientHelloEvent};

const CT_CCS: u8 = 20;
const CT_HANDSHAKE: u8 = 22;
const CT_HEARTBEAT: u8 = 24;

const HS_CLIENT_HELLO: u8 = 1;
const HS_SERVER_HELLO: u8 = 2;
const HS_CERTIFICATE: u8 = 11;
const HS_SERVER_HELLO_DONE: u8 = 14;

const EXT_SNI: u16 = 0x0000;
const EXT_GROUPS: u16 = 0x000A;
const EXT_POINT_FORMATS: u16 = 0x000B;
const EXT_SIG_ALGS: u16 = 0x000D;
const EXT_ALPN: u16 = 0x0010;
const EXT_SUPPORTED_VERSIONS: u16 = 0x002B;

const MAX_RECORD: usize = (1 << 14) + 2048;
/// Bytes buffered per direction before giving up on the flow.
pub const DEFAULT_CAP: usize = 64 * 1024;

/// RFC 8701 GREASE code point.
pub fn is_grease(v: u16) -> bool {
    (v & 0x0F0F) == 0x0A0A && (v >> 8) == (v & 0xFF)
}

fn u16_list(data: &[u8]) -> Vec<u16> {
    data.chunks_exact(2)
        .map(|c| u16::from_be_bytes([c[0], c[1]]))
        .collect()
}

/// A length-prefixed vector at `pos` (length of `size_len` bytes): (body, offset after).
fn vec_at(data: &[u8], pos: usize, size_len: usize) -> Option<(&[u8], usize)> {
    let end = pos.checked_add(size_len)?;
    let len_bytes = data.get(pos..end)?;
    let n = len_bytes
        .iter()
        .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
    let stop = end.checked_add(n)?;
    Some((data.get(end..stop)?, stop))
}

fn parse_sni(data: &[u8]) -> Option<String> {
    let (names, _) = vec_at(data, 0, 2)?;
    let mut pos = 0;
    while pos + 3 <= names.len() {
        let name_type = names[pos];
        let (item, after) = vec_at(names, pos + 1, 2)?;
        if name_type == 0 {
            return Some(utf8_replace(item));
        }
        pos = after;
    }
    None
}

fn parse_alpn(data: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let Some((body, _)) = vec_at(data, 0, 2) else {
        return out;
    };
    let mut pos = 0;
    while pos < body.len() {
        let Some((item, after)) = vec_at(body, pos, 1) else {
            break;
        };
        out.push(item);
        pos = after;
    }
    out
}

/// A parsed ClientHello.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientHello {
    pub legacy_version: u16,
    pub ciphers: Vec<u16>,
    /// extension types in wire order, GREASE kept
    pub extensions: Vec<u16>,
    pub sni: Option<String>,
    pub alpn_raw: Vec<Vec<u8>>,
    pub supported_versions: Vec<u16>,
    pub groups: Vec<u16>,
    pub point_formats: Vec<u8>,
    pub sig_algs: Vec<u16>,
}

impl ClientHello {
    /// supported_versions without GREASE, else the legacy version.
    pub fn versions(&self) -> Vec<u16> {
        let v: Vec<u16> = self
            .supported_versions
            .iter()
            .copied()
            .filter(|&v| !is_grease(v))
            .collect();
        if v.is_empty() {
            vec![self.legacy_version]
        } else {
            v
        }
    }

    pub fn alpn(&self) -> Vec<String> {
        self.alpn_raw.iter().map(|a| utf8_replace(a)).collect()
    }

    pub fn ja3(&self) -> String {
        fn dash(values: &[u16]) -> String {
            values
                .iter()
                .filter(|&&v| !is_grease(v))
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join("-")
        }
        let pf = self
            .point_formats
            .iter()
            .map(u8::to_string)
            .collect::<Vec<_>>()
            .join("-");
        format!(
            "{},{},{},{},{}",
            self.legacy_version,
            dash(&self.ciphers),
            dash(&self.extensions),
            dash(&self.groups),
            pf
        )
    }

    pub fn ja4(&self, quic: bool) -> String {
        let ciphers: Vec<u16> = self
            .ciphers
            .iter()
            .copied()
            .filter(|&c| !is_grease(c))
            .collect();
        let exts: Vec<u16> = self
            .extensions
            .iter()
            .copied()
            .filter(|&e| !is_grease(e))
            .collect();
        let version = self
            .supported_versions
            .iter()
            .copied()
            .filter(|&v| !is_grease(v))
            .max()
            .unwrap_or(self.legacy_version);
        let vcode = match version {
            0x0304 => "13",
            0x0303 => "12",
            0x0302 => "11",
            0x0301 => "10",
            0x0300 => "s3",
            0x0002 => "s2",
            0xFEFF => "d1",
            0xFEFD => "d2",
            0xFEFC => "d3",
            _ => "00",
        };
        let part_a = format!(
            "{}{}{}{:02}{:02}{}",
            if quic { "q" } else { "t" },
            vcode,
            if exts.contains(&EXT_SNI) { "d" } else { "i" },
            ciphers.len().min(99),
            exts.len().min(99),
            alpn_chars(self.alpn_raw.first().map(Vec::as_slice))
        );
        let part_b = if ciphers.is_empty() {
            "0".repeat(12)
        } else {
            let mut sorted = ciphers.clone();
            sorted.sort_unstable();
            trunc_sha256(&hex_list(&sorted))
        };
        let mut hashed: Vec<u16> = exts
            .iter()
            .copied()
            .filter(|&e| e != EXT_SNI && e != EXT_ALPN)
            .collect();
        hashed.sort_unstable();
        let part_c = if hashed.is_empty() {
            "0".repeat(12)
        } else {
            let mut raw = hex_list(&hashed);
            if !self.sig_algs.is_empty() {
                raw.push('_');
                raw.push_str(&hex_list(&self.sig_algs));
            }
            trunc_sha256(&raw)
        };
        format!("{part_a}_{part_b}_{part_c}")
    }

    /// The event for this ClientHello (TLS over TCP, or inside a QUIC Initial).
    pub fn event(&self, quic: bool) -> Event {
        let ja3 = self.ja3();
        let ja3_hash = hex(&Md5::digest(ja3.as_bytes()));
        Event::TlsClientHello(TlsClientHelloEvent {
            sni: self.sni.clone(),
            alpn: self.alpn(),
            versions: self.versions(),
            ja3,
            ja3_hash,
            ja4: self.ja4(quic),
            quic,
        })
    }
}

fn hex_list(values: &[u16]) -> String {
    values
        .iter()
        .map(|v| format!("{v:04x}"))
        .collect::<Vec<_>>()
        .join(",")
}

fn trunc_sha256(text: &str) -> String {
    let mut h = hex(&Sha256::digest(text.as_bytes()));
    h.truncate(12);
    h
}

fn alpn_chars(first: Option<&[u8]>) -> String {
    let Some(first) = first.filter(|f| !f.is_empty()) else {
        return "00".into();
    };
    let (a, z) = (first[0], first[first.len() - 1]);
    if a.is_ascii_alphanumeric() && z.is_ascii_alphanumeric() {
        return format!("{}{}", char::from(a), char::from(z));
    }
    let text = hex(first);
    let bytes = text.as_bytes();
    format!(
        "{}{}",
        char::from(bytes[0]),
        char::from(bytes[bytes.len() - 1])
    )
}

/// Parse a ClientHello handshake body (or a whole message with its 4-byte header).
pub fn parse_client_hello(hs: &[u8]) -> Option<ClientHello> {
    let mut hs = hs;
    if hs.len() >= 4 && hs[0] == HS_CLIENT_HELLO && be24(hs, 1)? as usize == hs.len() - 4 {
        hs = &hs[4..];
    }
    if hs.len() < 2 + 32 + 1 {
        return None;
    }
    let legacy_version = be16(hs, 0)?;
    if hs[0] != 0x03 && hs[0] != 0xFE {
        return None;
    }
    let (sid, after) = vec_at(hs, 34, 1)?;
    if sid.len() > 32 {
        return None;
    }
    let (cs, after) = vec_at(hs, after, 2)?;
    if cs.len() % 2 != 0 {
        return None;
    }
    let (_, pos) = vec_at(hs, after, 1)?;
    let mut ch = ClientHello {
        legacy_version,
        ciphers: u16_list(cs),
        ..Default::default()
    };
    if pos < hs.len() {
        let (ext_data, _) = vec_at(hs, pos, 2)?;
        let mut epos = 0;
        while epos < ext_data.len() {
            if epos + 4 > ext_data.len() {
                return None;
            }
            let etype = be16(ext_data, epos)?;
            let (body, after) = vec_at(ext_data, epos + 2, 2)?;
            epos = after;
            ch.extensions.push(etype);
            match etype {
                EXT_SNI => ch.sni = parse_sni(body),
                EXT_ALPN => {
                    ch.alpn_raw = parse_alpn(body).into_iter().map(<[u8]>::to_vec).collect()
                }
                EXT_SUPPORTED_VERSIONS => {
                    if let Some((l, _)) = vec_at(body, 0, 1) {
                        ch.supported_versions = u16_list(l);
                    }
                }
                EXT_GROUPS => {
                    if let Some((l, _)) = vec_at(body, 0, 2) {
                        ch.groups = u16_list(l);
                    }
                }
                EXT_POINT_FORMATS => {
                    if let Some((l, _)) = vec_at(body, 0, 1) {
                        ch.point_formats = l.to_vec();
                    }
                }
                EXT_SIG_ALGS => {
                    if let Some((l, _)) = vec_at(body, 0, 2) {
                        ch.sig_algs = u16_list(l);
                    }
                }
                _ => {}
            }
        }
    }
    Some(ch)
}

/// Version of an SSLv2-format (compatible) ClientHello record including its 2-byte header.
pub fn parse_sslv2_client_hello(record: &[u8]) -> Option<u16> {
    if record.len() < 11 || record[0] & 0x80 == 0 || record[2] != HS_CLIENT_HELLO {
        return None;
    }
    let length = (usize::from(record[0] & 0x7F) << 8) | usize::from(record[1]);
    let body = &record[2..record.len().min(2 + length)];
    if body.len() < 9 {
        return None;
    }
    let version = be16(body, 1)?;
    let spec = usize::from(be16(body, 3)?);
    let sid = usize::from(be16(body, 5)?);
    let chal = usize::from(be16(body, 7)?);
    if spec % 3 != 0 || 9 + spec + sid + chal > body.len() {
        return None;
    }
    Some(version)
}

/// Subject, issuer and SAN of the first certificate of a Certificate message body.
pub fn parse_certificate(body: &[u8]) -> Option<(String, String, Vec<String>)> {
    let (list, _) = vec_at(body, 0, 3)?;
    let (first, _) = vec_at(list, 0, 3)?;
    if first.is_empty() {
        return None;
    }
    x509::describe(first)
}

/// Version a ServerHello selects (supported_versions extension, else legacy); 0 if short.
pub fn server_selected_version(body: &[u8]) -> u16 {
    if body.len() < 35 {
        return 0;
    }
    let version = u16::from_be_bytes([body[0], body[1]]);
    let Some((_, after)) = vec_at(body, 34, 1) else {
        return version;
    };
    let Some((exts, _)) = vec_at(body, after + 3, 2) else {
        return version;
    };
    let mut epos = 0;
    while epos + 4 <= exts.len() {
        let etype = u16::from_be_bytes([exts[epos], exts[epos + 1]]);
        let Some((item, after)) = vec_at(exts, epos + 2, 2) else {
            break;
        };
        if etype == EXT_SUPPORTED_VERSIONS && item.len() == 2 {
            return u16::from_be_bytes([item[0], item[1]]);
        }
        epos = after;
    }
    version
}

#[derive(Debug, Default, Clone)]
struct Direction {
    buf: Vec<u8>,
    hs: Vec<u8>,
    finished: bool,
    sslv2_checked: bool,
}

/// Per-TCP-flow TLS parser.
#[derive(Debug, Clone)]
pub struct TlsStream {
    cap: usize,
    client: Direction,
    server: Direction,
    pub client_hello_seen: bool,
    pub certificate_seen: bool,
    pub overflow: bool,
}

impl Default for TlsStream {
    fn default() -> Self {
        Self::new(DEFAULT_CAP)
    }
}

impl TlsStream {
    pub fn new(cap: usize) -> Self {
        Self {
            cap,
            client: Direction::default(),
            server: Direction::default(),
            client_hello_seen: false,
            certificate_seen: false,
            overflow: false,
        }
    }

    /// Bytes held in the reassembly buffers of both directions.
    pub fn buffered(&self) -> usize {
        self.client.buf.len() + self.client.hs.len() + self.server.buf.len() + self.server.hs.len()
    }

    /// Nothing more wanted from either direction.
    pub fn done(&self) -> bool {
        self.overflow || (self.client.finished && self.server.finished)
    }

    pub fn feed(&mut self, data: &[u8], from_client: bool) -> Vec<Event> {
        let mut out = Vec::new();
        let finished = if from_client {
            self.client.finished
        } else {
            self.server.finished
        };
        if self.done() || finished || data.is_empty() {
            return out;
        }
        let cap = self.cap;
        let d = if from_client {
            &mut self.client
        } else {
            &mut self.server
        };
        d.buf.extend_from_slice(data);
        if d.buf.len() + d.hs.len() > cap {
            d.buf = Vec::new();
            d.hs = Vec::new();
            self.overflow = true;
            return out;
        }
        if from_client && !d.sslv2_checked {
            if d.buf.len() < 3 {
                return out;
            }
            d.sslv2_checked = true;
            if d.buf[0] & 0x80 != 0 && d.buf[2] == HS_CLIENT_HELLO {
                let need = 2 + ((usize::from(d.buf[0] & 0x7F) << 8) | usize::from(d.buf[1]));
                if d.buf.len() < need {
                    d.sslv2_checked = false;
                    return out;
                }
                if let Some(version) = parse_sslv2_client_hello(&d.buf[..need]) {
                    self.client_hello_seen = true;
                    out.push(Event::TlsClientHello(TlsClientHelloEvent {
                        versions: vec![version],
                        ..Default::default()
                    }));
                }
                d.finished = true;
                d.buf = Vec::new();
                return out;
            }
        }
        self.records(from_client, &mut out);
        out
    }

    fn records(&mut self, from_client: bool, out: &mut Vec<Event>) {
        let cap = self.cap;
        let d = if from_client {
            &mut self.client
        } else {
            &mut self.server
        };
        let mut pos = 0;
        let mut seen_hello = false;
        let mut seen_cert = false;
        while !d.finished && d.buf.len() - pos >= 5 {
            let ctype = d.buf[pos];
            let length = usize::from(u16::from_be_bytes([d.buf[pos + 3], d.buf[pos + 4]]));
            if !(CT_CCS..=CT_HEARTBEAT).contains(&ctype)
                || !matches!(d.buf[pos + 1], 0x03 | 0xFE)
                || length > MAX_RECORD
            {
                d.finished = true;
                break;
            }
            if d.buf.len() - pos < 5 + length {
                break;
            }
            let start = pos + 5;
            pos = start + length;
            if ctype == CT_HANDSHAKE {
                d.hs.extend_from_slice(&d.buf[start..pos]);
                messages(d, cap, from_client, out, &mut seen_hello, &mut seen_cert);
            } else {
                d.finished = true;
            }
        }
        if d.finished {
            d.buf = Vec::new();
            d.hs = Vec::new();
        } else if pos > 0 {
            d.buf.drain(..pos);
        }
        self.client_hello_seen |= seen_hello;
        self.certificate_seen |= seen_cert;
    }
}

fn messages(
    d: &mut Direction,
    cap: usize,
    from_client: bool,
    out: &mut Vec<Event>,
    seen_hello: &mut bool,
    seen_cert: &mut bool,
) {
    let mut pos = 0;
    while !d.finished && d.hs.len() - pos >= 4 {
        let mtype = d.hs[pos];
        let mlen = (usize::from(d.hs[pos + 1]) << 16)
            | (usize::from(d.hs[pos + 2]) << 8)
            | usize::from(d.hs[pos + 3]);
        if mlen > cap {
            d.finished = true;
            break;
        }
        if d.hs.len() - pos < 4 + mlen {
            break;
        }
        let body = &d.hs[pos + 4..pos + 4 + mlen];
        pos += 4 + mlen;
        if from_client {
            if mtype == HS_CLIENT_HELLO {
                if let Some(ch) = parse_client_hello(body) {
                    *seen_hello = true;
                    out.push(ch.event(false));
                }
            }
            d.finished = true;
        } else {
            match mtype {
                HS_SERVER_HELLO if server_selected_version(body) == 0x0304 => {
                    d.finished = true;
                }
                HS_CERTIFICATE => {
                    if let Some((subject, issuer, san)) = parse_certificate(body) {
                        *seen_cert = true;
                        out.push(Event::TlsCertificate(TlsCertificateEvent {
                            subject,
                            issuer,
                            san,
                        }));
                    }
                    d.finished = true;
                }
                HS_SERVER_HELLO_DONE => d.finished = true,
                _ => {}
            }
        }
    }
    if pos > 0 && !d.finished {
        d.hs.drain(..pos);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A ClientHello body with GREASE, SNI, ALPN, supported versions, groups, point formats
    /// and signature algorithms.
    pub fn hello() -> Vec<u8> {
        let mut exts: Vec<u8> = Vec::new();
        let mut ext = |t: u16, body: &[u8]| {
            exts.extend_from_slice(&t.to_be_bytes());
            exts.extend_from_slice(&(body.len() as u16).to_be_bytes());
            exts.extend_from_slice(body);
        };
        ext(0x0a0a, b"");
        ext(0, b"\x00\x0e\x00\x00\x0bexample.com");
        ext(0x10, b"\x00\x0c\x02h2\x08http/1.1");
        ext(0x2b, b"\x04\x0a\x0a\x03\x04");
        ext(0x0a, b"\x00\x04\x00\x1d\x00\x17");
        ext(0x0b, b"\x01\x00");
        ext(0x0d, b"\x00\x04\x04\x03\x08\x04");
        let mut b = vec![3, 3];
        b.extend_from_slice(&[0x11; 32]);
        b.push(0);
        b.extend_from_slice(&[0, 6, 0x1a, 0x1a, 0x13, 0x01, 0xc0, 0x2f]);
        b.extend_from_slice(&[1, 0]);
        b.extend_from_slice(&(exts.len() as u16).to_be_bytes());
        b.extend_from_slice(&exts);
        b
    }

    #[test]
    fn ja3_and_ja4() {
        let ch = parse_client_hello(&hello()).unwrap();
        assert_eq!(ch.sni.as_deref(), Some("example.com"));
        assert_eq!(ch.ja3(), "771,4865-49199,0-16-43-10-11-13,29-23,0");
        assert_eq!(ch.versions(), vec![0x0304]);
        let ja4 = ch.ja4(false);
        assert!(ja4.starts_with("t13d0206h2_"), "{ja4}");
        assert!(ch.ja4(true).starts_with("q13d"));
        // the same body with its handshake header
        let mut full = vec![1, 0, 0, 0];
        let body = hello();
        full[1..4].copy_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        full.extend_from_slice(&body);
        assert_eq!(parse_client_hello(&full), Some(ch));
    }

    #[test]
    fn truncated_hellos() {
        let body = hello();
        for n in 0..body.len() {
            let _ = parse_client_hello(&body[..n]);
        }
        assert!(parse_client_hello(&body[..40]).is_none());
    }

    #[test]
    fn stream_emits_hello_once() {
        let body = hello();
        let mut rec = vec![22, 3, 1];
        rec.extend_from_slice(&((body.len() + 4) as u16).to_be_bytes());
        rec.push(1);
        rec.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        rec.extend_from_slice(&body);
        let mut s = TlsStream::default();
        let mut events = Vec::new();
        for chunk in rec.chunks(7) {
            events.extend(s.feed(chunk, true));
        }
        assert_eq!(events.len(), 1);
        assert!(s.client_hello_seen);
        assert!(s.feed(&rec, true).is_empty());
    }

    #[test]
    fn sslv2_hello() {
        let rec = [
            0x80,
            0x0b + 3,
            1,
            3,
            1,
            0,
            3,
            0,
            0,
            0,
            0x10,
            0,
            0,
            1,
            0xAA,
            0xBB,
        ];
        let mut rec = rec.to_vec();
        rec.extend_from_slice(&[0u8; 16]);
        rec[1] = (rec.len() - 2) as u8;
        assert_eq!(parse_sslv2_client_hello(&rec), Some(0x0301));
        let mut s = TlsStream::default();
        let ev = s.feed(&rec, true);
        assert_eq!(ev.len(), 1);
    }
}
