//! The names of an X.509 certificate (RFC 5280) rendered as the Python side renders them
//! with `cryptography`: subject and issuer as RFC 4514 strings (`Name.rfc4514_string()`:
//! RDNs in reverse order, short names CN L ST O OU C STREET DC UID, other types as dotted
//! OIDs, `cryptography`'s escaping) and the DNS and IP subject alternative names.
//!
//! A small strict DER reader: definite minimal lengths, every length checked against what
//! is left, no recursion deeper than the certificate's fixed structure. What `cryptography`
//! refuses to load (bad structure, a version other than v1/v3, a non-minimal serial, a
//! DEFAULT value encoded, trailing bytes, name values it cannot decode) gives `None`; a
//! malformed or duplicated extension gives an empty SAN list, as on the Python side.

use std::fmt::Write;

use super::util::{hex, ipv6_python};

#[derive(Clone, Copy, Debug)]
struct Tlv<'a> {
    /// class and constructed bits of the first identifier octet
    class_bits: u8,
    /// tag number
    number: u32,
    content: &'a [u8],
}

impl Tlv<'_> {
    /// A universal-class tag with this number (primitive or constructed per `constructed`).
    fn is(&self, number: u32, constructed: bool) -> bool {
        self.class_bits == if constructed { 0x20 } else { 0 } && self.number == number
    }

    fn is_context(&self, number: u32, constructed: bool) -> bool {
        self.class_bits == if constructed { 0xA0 } else { 0x80 } && self.number == number
    }
}

/// Read one TLV at the start of `buf`; returns it and the rest.
fn tlv(buf: &[u8]) -> Option<(Tlv<'_>, &[u8])> {
    let first = *buf.first()?;
    let mut pos = 1;
    let mut number = u32::from(first & 0x1F);
    if number == 0x1F {
        number = 0;
        loop {
            let b = *buf.get(pos)?;
            pos += 1;
            if number == 0 && b == 0x80 {
                return None; // not minimal
            }
            number = number.checked_mul(128)?.checked_add(u32::from(b & 0x7F))?;
            if b & 0x80 == 0 {
                break;
            }
            if pos > 6 {
                return None;
            }
        }
        if number < 0x1F {
            return None;
        }
    }
    let lb = *buf.get(pos)?;
    pos += 1;
    let len = if lb < 0x80 {
        usize::from(lb)
    } else {
        let n = usize::from(lb & 0x7F);
        if n == 0 || n > 4 {
            return None; // indefinite, or longer than anything we accept
        }
        let bytes = buf.get(pos..pos + n)?;
        pos += n;
        if bytes[0] == 0 {
            return None;
        }
        let len = bytes
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        if len < 0x80 {
            return None;
        }
        len
    };
    let end = pos.checked_add(len)?;
    let content = buf.get(pos..end)?;
    Some((
        Tlv {
            class_bits: first & 0xE0,
            number,
            content,
        },
        &buf[end..],
    ))
}

/// The next element, which must be a universal SEQUENCE.
fn sequence(buf: &[u8]) -> Option<(&[u8], &[u8])> {
    let (t, rest) = tlv(buf)?;
    t.is(16, true).then_some((t.content, rest))
}

/// Dotted string of an OID's content octets.
fn oid_string(content: &[u8]) -> Option<String> {
    if content.is_empty() || content.len() > 127 {
        return None;
    }
    let mut arcs: Vec<u128> = Vec::new();
    let mut value: u128 = 0;
    let mut fresh = true;
    for &b in content {
        if fresh && b == 0x80 {
            return None; // non-minimal sub-identifier
        }
        value = value.checked_mul(128)?.checked_add(u128::from(b & 0x7F))?;
        fresh = false;
        if b & 0x80 == 0 {
            arcs.push(value);
            value = 0;
            fresh = true;
        }
    }
    if !fresh {
        return None;
    }
    let mut out = String::new();
    let first = arcs[0];
    let (a, b) = if first < 40 {
        (0, first)
    } else if first < 80 {
        (1, first - 40)
    } else {
        (2, first - 80)
    };
    let _ = write!(out, "{a}.{b}");
    for arc in &arcs[1..] {
        let _ = write!(out, ".{arc}");
    }
    Some(out)
}

fn short_name(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "2.5.4.3" => "CN",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "2.5.4.6" => "C",
        "2.5.4.9" => "STREET",
        "0.9.2342.19200300.100.1.25" => "DC",
        "0.9.2342.19200300.100.1.1" => "UID",
        _ => return None,
    })
}

const X500_UNIQUE_IDENTIFIER: &str = "2.5.4.45";

/// `cryptography`'s `_escape_dn_value` on a text value.
fn escape(val: &str) -> String {
    if val.is_empty() {
        return String::new();
    }
    let mut out = String::with_capacity(val.len() + 4);
    for c in val.chars() {
        match c {
            '\\' | '"' | '+' | ',' | ';' | '<' | '>' => {
                out.push('\\');
                out.push(c);
            }
            '\0' => out.push_str("\\00"),
            _ => out.push(c),
        }
    }
    let first = out.chars().next();
    if first == Some('#') || (first == Some(' ') && out.chars().count() > 1) {
        out.insert(0, '\\');
    }
    if out.ends_with(' ') {
        out.pop();
        out.push_str("\\ ");
    }
    out
}

fn utf16be(data: &[u8]) -> Option<String> {
    if !data.len().is_multiple_of(2) {
        return None;
    }
    let units = data
        .chunks_exact(2)
        .map(|c| u16::from_be_bytes([c[0], c[1]]));
    char::decode_utf16(units)
        .collect::<Result<String, _>>()
        .ok()
}

fn utf32be(data: &[u8]) -> Option<String> {
    if !data.len().is_multiple_of(4) {
        return None;
    }
    data.chunks_exact(4)
        .map(|c| char::from_u32(u32::from_be_bytes([c[0], c[1], c[2], c[3]])))
        .collect()
}

/// One AttributeTypeAndValue rendered as `TYPE=value`.
fn attribute(buf: &[u8]) -> Option<(String, String)> {
    let (atv, rest) = sequence(buf)?;
    if !rest.is_empty() {
        return None;
    }
    let (oid, after) = tlv(atv)?;
    if !oid.is(6, false) {
        return None;
    }
    let oid = oid_string(oid.content)?;
    let (value, after) = tlv(after)?;
    if !after.is_empty() || value.class_bits != 0 {
        return None;
    }
    let rendered = match value.number {
        3 => {
            if oid != X500_UNIQUE_IDENTIFIER {
                return None;
            }
            if value.content.is_empty() {
                String::new()
            } else {
                format!("#{}", hex(value.content))
            }
        }
        30 => escape(&utf16be(value.content)?),
        28 => escape(&utf32be(value.content)?),
        19 if !printable(value.content) => return None,
        4 | 12 | 18 | 19 | 20 | 22 | 23 | 24 | 26 => {
            escape(std::str::from_utf8(value.content).ok()?)
        }
        _ => return None,
    };
    let name = short_name(&oid).map_or(oid.clone(), str::to_string);
    Some((format!("{name}={rendered}"), oid))
}

/// An RFC 4514 string of a Name's content (the RDNSequence's content octets).
fn name(content: &[u8]) -> Option<String> {
    let mut rdns: Vec<String> = Vec::new();
    let mut rest = content;
    while !rest.is_empty() {
        let (set, after) = tlv(rest)?;
        rest = after;
        if !set.is(17, true) || set.content.is_empty() {
            return None;
        }
        let mut attrs: Vec<String> = Vec::new();
        let mut encodings: Vec<&[u8]> = Vec::new();
        let mut inner = set.content;
        while !inner.is_empty() {
            let (_, after) = tlv(inner)?;
            let encoding = &inner[..inner.len() - after.len()];
            let (text, _) = attribute(encoding)?;
            if let Some(prev) = encodings.last() {
                if *prev > encoding {
                    return None; // DER orders SET OF elements
                }
            }
            if attrs.contains(&text) {
                return None; // duplicate attributes in one RDN
            }
            encodings.push(encoding);
            attrs.push(text);
            inner = after;
        }
        rdns.push(attrs.join("+"));
    }
    rdns.reverse();
    Some(rdns.join(","))
}

/// What `cryptography` accepts as the parameters of the algorithms it knows.
enum Params {
    /// absent or NULL
    OptionalNull,
    /// must be absent
    Absent,
    /// an EC domain: a named curve OID, NULL or a specified curve
    EcDomain,
    /// not checked here
    Any,
}

fn params_rule(oid: &str) -> Params {
    match oid {
        "1.2.840.113549.1.1.1"
        | "1.2.840.113549.1.1.4"
        | "1.2.840.113549.1.1.5"
        | "1.2.840.113549.1.1.11"
        | "1.2.840.113549.1.1.12"
        | "1.2.840.113549.1.1.13"
        | "1.2.840.113549.1.1.14"
        | "1.2.840.10045.4.1"
        | "1.2.840.10045.4.3.1"
        | "1.2.840.10045.4.3.2"
        | "1.2.840.10045.4.3.3"
        | "1.2.840.10045.4.3.4" => Params::OptionalNull,
        "1.3.101.110" | "1.3.101.111" | "1.3.101.112" | "1.3.101.113" => Params::Absent,
        "1.2.840.10045.2.1" => Params::EcDomain,
        _ => Params::Any,
    }
}

/// An AlgorithmIdentifier: an OID and at most one parameters element.
fn algorithm(buf: &[u8]) -> Option<&[u8]> {
    let (alg, rest) = sequence(buf)?;
    let (oid, after) = tlv(alg)?;
    if !oid.is(6, false) {
        return None;
    }
    let oid = oid_string(oid.content)?;
    let params = if after.is_empty() {
        None
    } else {
        let (p, tail) = tlv(after)?;
        if !tail.is_empty() {
            return None;
        }
        Some(p)
    };
    let null = |p: &Tlv<'_>| p.is(5, false) && p.content.is_empty();
    let ok = match (params_rule(&oid), params) {
        (Params::OptionalNull, None) | (Params::Absent, None) | (Params::Any, _) => true,
        (Params::OptionalNull, Some(p)) => null(&p),
        (Params::EcDomain, Some(p)) => {
            (p.is(6, false) && oid_string(p.content).is_some()) || null(&p) || p.is(16, true)
        }
        _ => false,
    };
    ok.then_some(rest)
}

/// A DER BIT STRING's content: unused-bit count 0-7 (0 when empty), unused bits zero.
fn bit_string(content: &[u8]) -> bool {
    match content {
        [] => false,
        [unused] => *unused == 0,
        [unused, .., last] => *unused < 8 && last & ((1u8 << unused) - 1) == 0,
    }
}

/// PrintableString's character set (X.680).
fn printable(s: &[u8]) -> bool {
    s.iter()
        .all(|&c| c.is_ascii_alphanumeric() || b" '()+,-./:=?".contains(&c))
}

fn minimal_integer(content: &[u8]) -> bool {
    match content {
        [] => false,
        [0, b, ..] => *b >= 0x80,
        [0xFF, b, ..] => *b < 0x80,
        _ => true,
    }
}

/// A UTCTime (YYMMDDHHMMSSZ) or GeneralizedTime (YYYYMMDDHHMMSSZ) that names a real instant.
fn time(t: &Tlv<'_>) -> bool {
    let s = t.content;
    let year_digits = if t.is(23, false) {
        2
    } else if t.is(24, false) {
        4
    } else {
        return false;
    };
    let n = year_digits + 10;
    if s.len() != n + 1 || s[n] != b'Z' || !s[..n].iter().all(u8::is_ascii_digit) {
        return false;
    }
    let num = |a: usize, b: usize| {
        s[a..b]
            .iter()
            .fold(0u32, |acc, &c| acc * 10 + u32::from(c - b'0'))
    };
    let mut year = num(0, year_digits);
    if year_digits == 2 {
        year += if year >= 50 { 1900 } else { 2000 };
    }
    let (month, day) = (
        num(year_digits, year_digits + 2),
        num(year_digits + 2, year_digits + 4),
    );
    let (hour, minute, second) = (num(n - 6, n - 4), num(n - 4, n - 2), num(n - 2, n));
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&day) && hour < 24 && minute < 60 && second < 60
}

/// DNS names and IP addresses of a SubjectAlternativeName extension value; None when
/// malformed (the Python side then reports no SAN).
fn san(value: &[u8]) -> Option<Vec<String>> {
    let (names, rest) = sequence(value)?;
    if !rest.is_empty() {
        return None;
    }
    let mut out = Vec::new();
    let mut rest = names;
    while !rest.is_empty() {
        let (gn, after) = tlv(rest)?;
        rest = after;
        match (gn.class_bits, gn.number) {
            (0x80, 2) => out.push(std::str::from_utf8(gn.content).ok()?.to_string()),
            (0x80, 7) => match gn.content.len() {
                4 => out.push(format!(
                    "{}.{}.{}.{}",
                    gn.content[0], gn.content[1], gn.content[2], gn.content[3]
                )),
                16 => out.push(ipv6_python(gn.content.try_into().ok()?)),
                _ => return None,
            },
            (0x80, 1) | (0x80, 6) => {
                std::str::from_utf8(gn.content).ok()?;
            }
            (0xA0, 4) => {
                let (inner, after) = sequence(gn.content)?;
                if !after.is_empty() {
                    return None;
                }
                name(inner)?;
            }
            (0xA0, 0) | (0x80, 8) | (0xA0, 3) | (0xA0, 5) => {}
            _ => return None,
        }
    }
    Some(out)
}

/// SAN list from the Extensions' content (`None`: the structure is broken and the whole
/// certificate is refused; `Some(vec![])` when there is no usable SAN).
fn extensions(content: &[u8]) -> Option<Vec<String>> {
    let mut seen: Vec<String> = Vec::new();
    let mut san_value: Option<&[u8]> = None;
    let mut rest = content;
    while !rest.is_empty() {
        let (ext, after) = sequence(rest)?;
        rest = after;
        let (oid, mut inner) = tlv(ext)?;
        if !oid.is(6, false) {
            return None;
        }
        let oid = oid_string(oid.content)?;
        let (mut field, mut after) = tlv(inner)?;
        if field.is(1, false) {
            if field.content != [0xFF] {
                return None; // FALSE is the default and may not be encoded
            }
            inner = after;
            (field, after) = tlv(inner)?;
        }
        if !field.is(4, false) || !after.is_empty() {
            return None;
        }
        if oid == "2.5.29.17" {
            san_value = Some(field.content);
        }
        seen.push(oid);
    }
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    if sorted.len() != seen.len() {
        return Some(Vec::new()); // duplicate extensions: cryptography refuses them all
    }
    Some(san_value.and_then(san).unwrap_or_default())
}

/// (subject, issuer, SAN) of a DER certificate, as `tls.describe_der` gives them.
pub fn describe(der: &[u8]) -> Option<(String, String, Vec<String>)> {
    let (cert, rest) = sequence(der)?;
    if !rest.is_empty() {
        return None;
    }
    let (tbs, rest) = sequence(cert)?;
    let rest = algorithm(rest)?;
    let (sig, rest) = tlv(rest)?;
    if !sig.is(3, false) || !bit_string(sig.content) || !rest.is_empty() {
        return None;
    }
    // TBSCertificate
    let mut pos = tbs;
    let (mut t, mut after) = tlv(pos)?;
    if t.is_context(0, true) {
        let (v, inner_rest) = tlv(t.content)?;
        if !v.is(2, false) || !inner_rest.is_empty() || v.content != [2] {
            return None; // only v3 may be written out (v1 is the default)
        }
        pos = after;
        (t, after) = tlv(pos)?;
    }
    if !t.is(2, false) || !minimal_integer(t.content) {
        return None;
    }
    let rest = algorithm(after)?;
    let (issuer, rest) = sequence(rest)?;
    let (validity, rest) = sequence(rest)?;
    let (nb, vrest) = tlv(validity)?;
    let (na, vrest) = tlv(vrest)?;
    if !time(&nb) || !time(&na) || !vrest.is_empty() {
        return None;
    }
    let (subject, rest) = sequence(rest)?;
    let (spki, mut rest) = sequence(rest)?;
    let spki_rest = algorithm(spki)?;
    let (key, spki_rest) = tlv(spki_rest)?;
    if !key.is(3, false) || !bit_string(key.content) || !spki_rest.is_empty() {
        return None;
    }
    let mut san = Vec::new();
    let mut last = 0;
    while !rest.is_empty() {
        let (t, after) = tlv(rest)?;
        rest = after;
        let n = match (t.class_bits, t.number) {
            (0x80, 1) => 1,
            (0x80, 2) => 2,
            (0xA0, 3) => 3,
            _ => return None,
        };
        if n <= last {
            return None;
        }
        last = n;
        if n == 3 {
            let (exts, after) = sequence(t.content)?;
            if !after.is_empty() {
                return None;
            }
            san = extensions(exts)?;
        }
    }
    Some((name(subject)?, name(issuer)?, san))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(escape("a,b"), "a\\,b");
        assert_eq!(escape("#x"), "\\#x");
        assert_eq!(escape(" "), "\\ ");
        assert_eq!(escape(" a "), "\\ a\\ ");
        assert_eq!(escape("a\0"), "a\\00");
    }

    #[test]
    fn oids() {
        assert_eq!(oid_string(&[0x55, 0x04, 0x03]).as_deref(), Some("2.5.4.3"));
        assert_eq!(
            oid_string(&[0x09, 0x92, 0x26, 0x89, 0x93, 0xF2, 0x2C, 0x64, 0x01, 0x19]).as_deref(),
            Some("0.9.2342.19200300.100.1.25")
        );
        assert_eq!(oid_string(&[0x80, 0x01]), None);
        assert_eq!(oid_string(&[0x81]), None);
    }

    #[test]
    fn lengths_are_checked() {
        assert!(tlv(&[0x30, 0x81, 0x05]).is_none());
        assert!(tlv(&[0x30, 0x81, 0x05, 0, 0, 0, 0, 0]).is_none()); // not minimal
        assert!(tlv(&[0x30, 0x80]).is_none()); // indefinite
        assert!(tlv(&[0x30, 0x84, 0xFF, 0xFF, 0xFF, 0xFF]).is_none());
        assert!(describe(&[]).is_none());
        assert!(describe(&[0x30, 0x00]).is_none());
    }
}
