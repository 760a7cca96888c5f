//! Small helpers shared by the dissectors: byte readers that never index out of
//! bounds, and the text renderings the Python side uses (hex, addresses, lossy UTF-8).

use std::fmt::Write;

/// Big-endian u16 at `off`, None past the end.
#[inline]
pub fn be16(b: &[u8], off: usize) -> Option<u16> {
    let s = b.get(off..off.checked_add(2)?)?;
    Some(u16::from_be_bytes([s[0], s[1]]))
}

/// Big-endian u24 at `off`, None past the end.
#[inline]
pub fn be24(b: &[u8], off: usize) -> Option<u32> {
    let s = b.get(off..off.checked_add(3)?)?;
    Some(u32::from_be_bytes([0, s[0], s[1], s[2]]))
}

/// Big-endian u32 at `off`, None past the end.
#[inline]
pub fn be32(b: &[u8], off: usize) -> Option<u32> {
    let s = b.get(off..off.checked_add(4)?)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

/// Python's `bytes.decode("utf-8", "replace")`.
#[inline]
pub fn utf8_replace(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Python's `bytes.decode("latin-1")`.
pub fn latin1(b: &[u8]) -> String {
    b.iter().map(|&c| char::from(c)).collect()
}

/// Python's `bytes.hex()`.
pub fn hex(b: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(b.len() * 2);
    for &c in b {
        s.push(char::from(DIGITS[usize::from(c >> 4)]));
        s.push(char::from(DIGITS[usize::from(c & 15)]));
    }
    s
}

/// Python's `bytes.hex(":")`.
pub fn hex_colon(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() * 3);
    for (i, c) in b.iter().enumerate() {
        if i > 0 {
            s.push(':');
        }
        let _ = write!(s, "{c:02x}");
    }
    s
}

/// Dotted quad of 4 bytes.
pub fn ipv4(b: &[u8; 4]) -> String {
    let mut s = String::with_capacity(15);
    for (i, &x) in b.iter().enumerate() {
        if i > 0 {
            s.push('.');
        }
        if x >= 100 {
            s.push(char::from(b'0' + x / 100));
        }
        if x >= 10 {
            s.push(char::from(b'0' + (x / 10) % 10));
        }
        s.push(char::from(b'0' + x % 10));
    }
    s
}

/// The longest run (at least two) of zero words, leftmost on ties: (start, len).
fn zero_run(words: &[u16; 8]) -> Option<(usize, usize)> {
    let mut best: Option<(usize, usize)> = None;
    let mut i = 0;
    while i < 8 {
        if words[i] == 0 {
            let start = i;
            while i < 8 && words[i] == 0 {
                i += 1;
            }
            let len = i - start;
            if len >= 2 && best.is_none_or(|(_, l)| len > l) {
                best = Some((start, len));
            }
        } else {
            i += 1;
        }
    }
    best
}

fn words_of(b: &[u8; 16]) -> [u16; 8] {
    let mut w = [0u16; 8];
    for (i, word) in w.iter_mut().enumerate() {
        *word = u16::from_be_bytes([b[2 * i], b[2 * i + 1]]);
    }
    w
}

fn compress(words: &[u16; 8], upto: usize, out: &mut String) {
    let run = zero_run(words).filter(|&(s, _)| s < upto);
    let mut i = 0;
    while i < upto {
        if let Some((s, l)) = run {
            if i == s {
                out.push_str("::");
                i += l;
                continue;
            }
        }
        if i > 0 && !out.ends_with(':') {
            out.push(':');
        }
        let _ = write!(out, "{:x}", words[i]);
        i += 1;
    }
}

/// glibc's `inet_ntop(AF_INET6, ...)` (what Python's `socket.inet_ntop` prints): RFC 5952
/// compression, with the IPv4-compatible (`::a.b.c.d`) and mapped (`::ffff:a.b.c.d`)
/// forms glibc uses.
pub fn ipv6_ntop(b: &[u8; 16]) -> String {
    let words = words_of(b);
    let mut out = String::with_capacity(40);
    let run = zero_run(&words);
    if let Some((0, len)) = run {
        if len == 6 || (len == 5 && words[5] == 0xffff) {
            out.push_str("::");
            if len == 5 {
                out.push_str("ffff:");
            }
            let _ = write!(out, "{}.{}.{}.{}", b[12], b[13], b[14], b[15]);
            return out;
        }
    }
    compress(&words, 8, &mut out);
    out
}

/// Python's `str(ipaddress.IPv6Address(...))` on 3.11/3.12: RFC 5952 compression, no
/// embedded IPv4 form.
pub fn ipv6_python(b: &[u8; 16]) -> String {
    let words = words_of(b);
    let mut out = String::with_capacity(40);
    compress(&words, 8, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v6(s: &str) -> [u8; 16] {
        s.parse::<std::net::Ipv6Addr>().unwrap().octets()
    }

    #[test]
    fn ntop_forms() {
        assert_eq!(ipv6_ntop(&v6("::")), "::");
        assert_eq!(ipv6_ntop(&v6("::1")), "::1");
        assert_eq!(ipv6_ntop(&v6("fe80::1:0:0:1")), "fe80::1:0:0:1");
        assert_eq!(ipv6_ntop(&v6("2001:db8:0:0:1:0:0:1")), "2001:db8::1:0:0:1");
        assert_eq!(ipv6_ntop(&v6("::ffff:1.2.3.4")), "::ffff:1.2.3.4");
        assert_eq!(ipv6_ntop(&v6("::1.2.3.4")), "::1.2.3.4");
        assert_eq!(ipv6_ntop(&v6("1:0:2:3:4:5:6:7")), "1:0:2:3:4:5:6:7");
        assert_eq!(ipv6_ntop(&v6("1:2:3:4:5:6:7:0")), "1:2:3:4:5:6:7:0");
        assert_eq!(ipv6_ntop(&v6("1:2:3:4:5:6:0:0")), "1:2:3:4:5:6::");
        assert_eq!(ipv6_python(&v6("::ffff:1.2.3.4")), "::ffff:102:304");
    }

    #[test]
    fn hexes() {
        assert_eq!(hex(&[0, 0xab]), "00ab");
        assert_eq!(hex_colon(&[0, 0xab, 1]), "00:ab:01");
        assert_eq!(hex_colon(&[]), "");
    }
}
