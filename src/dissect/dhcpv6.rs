//! DHCPv6 (RFC 8415, UDP 546/547): the port of `netscan/dissectors/dhcpv6.py`.
//!
//! `duid` (option 1, hex), vendor class (option 16: enterprise number and the data strings
//! joined by ","), `fqdn` (option 39). Relay messages give nothing; an option running past
//! the end stops option parsing.

use super::util::{be16, be32, hex, utf8_replace};
use crate::events::{Dhcpv6Event, Event};

fn wire_name(data: &[u8]) -> Option<String> {
    let mut labels: Vec<&[u8]> = Vec::new();
    let mut off = 0;
    let n = data.len();
    while off < n {
        let length = usize::from(data[off]);
        if length == 0 {
            break;
        }
        if length >= 0x40 || off + 1 + length > n {
            return None;
        }
        labels.push(&data[off + 1..off + 1 + length]);
        off += 1 + length;
    }
    let name = utf8_replace(&labels.join(&b'.'));
    let name = name.trim_end_matches('.');
    (!name.is_empty()).then(|| name.to_string())
}

fn vendor_class(value: &[u8]) -> Option<(u32, String)> {
    let enterprise = be32(value, 0)?;
    let mut parts: Vec<String> = Vec::new();
    let mut off = 4;
    let n = value.len();
    while off + 2 <= n {
        let start = off + 2;
        off = start + usize::from(be16(value, off)?);
        if off > n {
            break;
        }
        parts.push(utf8_replace(&value[start..off]));
    }
    Some((enterprise, format!("{enterprise}:{}", parts.join(","))))
}

/// The event for one DHCPv6 message, None for relay messages and runts.
pub fn event(payload: &[u8]) -> Option<Event> {
    if payload.len() < 4 || matches!(payload[0], 0 | 12 | 13) {
        return None;
    }
    let mut e = Dhcpv6Event {
        msg_type: payload[0],
        ..Default::default()
    };
    let mut off = 4;
    let n = payload.len();
    while off + 4 <= n {
        let code = be16(payload, off)?;
        let start = off + 4;
        off = start + usize::from(be16(payload, off + 2)?);
        if off > n {
            break;
        }
        match code {
            1 => e.duid = Some(hex(&payload[start..off])),
            16 => {
                if let Some((ent, text)) = vendor_class(&payload[start..off]) {
                    e.enterprise = Some(ent);
                    e.vendor_class = Some(text);
                }
            }
            39 if off > start => e.fqdn = wire_name(&payload[start + 1..off]),
            _ => {}
        }
    }
    Some(Event::Dhcpv6(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn solicit() {
        let mut m = vec![1, 0, 0, 1];
        m.extend_from_slice(&[0, 1, 0, 4, 0, 3, 0, 1]);
        m.extend_from_slice(&[0, 16, 0, 14, 0, 0, 1, 55, 0, 8]);
        m.extend_from_slice(b"MSFT 5.0");
        m.extend_from_slice(&[0, 39, 0, 6, 0, 3, b'p', b'c', b'1', 0]);
        m.extend_from_slice(&[0, 39, 0, 200]);
        let Some(Event::Dhcpv6(e)) = event(&m) else {
            panic!()
        };
        assert_eq!(e.duid.as_deref(), Some("00030001"));
        assert_eq!(e.enterprise, Some(311));
        assert_eq!(e.vendor_class.as_deref(), Some("311:MSFT 5.0"));
        assert_eq!(e.fqdn.as_deref(), Some("pc1"));
        assert!(event(&[12, 0, 0, 0, 0]).is_none());
        assert!(event(&[1, 0, 0]).is_none());
    }
}
