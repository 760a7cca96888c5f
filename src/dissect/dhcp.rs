//! DHCPv4 (RFC 2131/2132, UDP 67/68): the port of `netscan/dissectors/dhcp.py`.
//!
//! One event per message with the BOOTP fixed header and the magic cookie. Options 12 and
//! 60 as UTF-8 text (NULs stripped, None when empty), 50 (4 bytes), 55, 61 (hex of the whole
//! value), 81 (client FQDN, wire or ASCII encoding, the other tried when the announced one
//! fails). Repeated options are concatenated (RFC 3396); option 52 makes `file` and/or
//! `sname` further options. An option running past the end ends option parsing.

use super::util::{hex, hex_colon, ipv4, utf8_replace};
use crate::events::{DhcpEvent, Event};

const COOKIE: [u8; 4] = [0x63, 0x82, 0x53, 0x63];
const OPTIONS_AT: usize = 240;

/// Options by code, repeated codes concatenated (at most 255 entries, at most the
/// message's size in total).
struct Options {
    values: Vec<(u8, Vec<u8>)>,
}

impl Options {
    fn new() -> Self {
        Self {
            values: Vec::with_capacity(16),
        }
    }

    fn get(&self, code: u8) -> Option<&[u8]> {
        self.values
            .iter()
            .find(|(c, _)| *c == code)
            .map(|(_, v)| v.as_slice())
    }

    fn read(&mut self, buf: &[u8], mut off: usize, end: usize) {
        while off < end {
            let code = buf[off];
            if code == 0 {
                off += 1;
                continue;
            }
            if code == 255 || off + 1 >= end {
                return;
            }
            let start = off + 2;
            off = start + usize::from(buf[off + 1]);
            if off > end {
                return;
            }
            match self.values.iter_mut().find(|(c, _)| *c == code) {
                Some((_, v)) => v.extend_from_slice(&buf[start..off]),
                None => self.values.push((code, buf[start..off].to_vec())),
            }
        }
    }
}

/// Python's `str.strip("\x00")` then "or None".
fn text(value: Option<&[u8]>) -> Option<String> {
    let s = utf8_replace(value?);
    let s = s.trim_matches('\0');
    (!s.is_empty()).then(|| s.to_string())
}

/// An uncompressed DNS wire-format name (the root label may be missing).
fn wire_name(data: &[u8]) -> Option<String> {
    let mut labels: Vec<&[u8]> = Vec::new();
    let mut off = 0;
    let n = data.len();
    while off < n {
        let length = usize::from(data[off]);
        if length == 0 {
            if off + 1 != n {
                return None;
            }
            break;
        }
        if length >= 0x40 || off + 1 + length > n {
            return None;
        }
        labels.push(&data[off + 1..off + 1 + length]);
        off += 1 + length;
    }
    Some(utf8_replace(&labels.join(&b'.')))
}

fn ascii_name(data: &[u8]) -> Option<String> {
    let mut end = data.len();
    while end > 0 && data[end - 1] == 0 {
        end -= 1;
    }
    let text = utf8_replace(&data[..end]);
    if text.chars().any(|c| (c as u32) < 0x20) {
        return None;
    }
    Some(text)
}

fn fqdn(value: &[u8]) -> Option<String> {
    if value.len() < 3 {
        return None;
    }
    let data = &value[3..];
    let name = if value[0] & 0x04 != 0 {
        wire_name(data).or_else(|| ascii_name(data))
    } else {
        ascii_name(data).or_else(|| wire_name(data))
    };
    let name = name?;
    let name = name.trim_end_matches('.');
    (!name.is_empty()).then(|| name.to_string())
}

/// The event for one DHCP message, None when it is not one.
pub fn event(payload: &[u8]) -> Option<Event> {
    if payload.len() < OPTIONS_AT || payload[236..240] != COOKIE {
        return None;
    }
    let mut opts = Options::new();
    opts.read(payload, OPTIONS_AT, payload.len());
    if let Some(&flag) = opts.get(52).and_then(|o| o.first()) {
        if flag & 1 != 0 {
            opts.read(payload, 108, 236);
        }
        if flag & 2 != 0 {
            opts.read(payload, 44, 108);
        }
    }
    let mut hlen = usize::from(payload[2]);
    if hlen == 0 || hlen > 16 {
        hlen = 6;
    }
    let yiaddr: [u8; 4] = payload[16..20].try_into().ok()?;
    let requested = opts
        .get(50)
        .and_then(|v| <&[u8; 4]>::try_from(v).ok())
        .map(ipv4);
    Some(Event::Dhcp(DhcpEvent {
        msg_type: opts.get(53).and_then(|m| m.first().copied()).unwrap_or(0),
        client_mac: hex_colon(&payload[28..28 + hlen]),
        your_ip: (yiaddr != [0; 4]).then(|| ipv4(&yiaddr)),
        hostname: text(opts.get(12)),
        requested_ip: requested,
        param_request_list: opts.get(55).map(<[u8]>::to_vec).unwrap_or_default(),
        vendor_class: text(opts.get(60)),
        client_id: opts.get(61).map(hex),
        fqdn: opts.get(81).and_then(fqdn),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Vec<u8> {
        let mut m = vec![0u8; 240];
        m[0] = 1;
        m[2] = 6;
        m[28..34].copy_from_slice(&[0, 0x11, 0x22, 0x33, 0x44, 0x55]);
        m[236..240].copy_from_slice(&COOKIE);
        m
    }

    #[test]
    fn discover() {
        let mut m = base();
        m.extend_from_slice(&[53, 1, 1, 12, 5]);
        m.extend_from_slice(b"cam01");
        m.extend_from_slice(&[55, 3, 1, 3, 6, 61, 7, 1, 0, 0x11, 0x22, 0x33, 0x44, 0x55]);
        m.extend_from_slice(&[81, 8, 0x04, 0, 0, 3, b'c', b'a', b'm', 0]);
        m.extend_from_slice(&[12, 2, b'-', b'x', 255]);
        let Some(Event::Dhcp(e)) = event(&m) else {
            panic!()
        };
        assert_eq!(e.msg_type, 1);
        assert_eq!(e.client_mac, "00:11:22:33:44:55");
        assert_eq!(e.hostname.as_deref(), Some("cam01-x"));
        assert_eq!(e.param_request_list, vec![1, 3, 6]);
        assert_eq!(e.client_id.as_deref(), Some("01001122334455"));
        assert_eq!(e.fqdn.as_deref(), Some("cam"));
        assert_eq!(e.your_ip, None);
    }

    #[test]
    fn truncations() {
        let mut m = base();
        m.extend_from_slice(&[53, 1, 3, 12, 200, b'a']);
        let Some(Event::Dhcp(e)) = event(&m) else {
            panic!()
        };
        assert_eq!(e.msg_type, 3);
        assert_eq!(e.hostname, None);
        assert!(event(&m[..239]).is_none());
        m[236] = 0;
        assert!(event(&m).is_none());
    }
}
