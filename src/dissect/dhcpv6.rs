//! DHCPv6 (RFC 8415, UDP 546/547): the port of `netscan/dissectors/dhcpv6.py`.
//!
//! `duid` (option 1, hex), vendor class (option 16: enterprise number and the data strings
//! joined by ","), `fqdn` (option 39), assigned addresses (option 5 inside IA_NA 3 and IA_TA
//! 4) and delegated prefixes (option 26 inside IA_PD 25), at most 16 of each. Relay messages
//! give nothing; an option running past the end stops option parsing.

use super::util::{be16, be32, hex, ipv6_python, utf8_replace};
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

const MAX_IA: usize = 16;

/// The addresses or prefixes inside one IA option (`code` 3, 4 or 25).
fn ia(e: &mut Dhcpv6Event, code: u16, value: &[u8]) {
    let (skip, inner) = match code {
        3 => (12, 5),
        4 => (4, 5),
        _ => (12, 26),
    };
    let mut off = skip;
    let n = value.len();
    while off + 4 <= n {
        let (Some(icode), Some(ilen)) = (be16(value, off), be16(value, off + 2)) else {
            return;
        };
        let start = off + 4;
        off = start + usize::from(ilen);
        if off > n {
            return;
        }
        if icode != inner {
            continue;
        }
        if inner == 5 && off - start >= 24 && e.addresses.len() < MAX_IA {
            let mut raw = [0u8; 16];
            raw.copy_from_slice(&value[start..start + 16]);
            e.addresses.push(ipv6_python(&raw));
        } else if inner == 26 && off - start >= 25 && e.prefixes.len() < MAX_IA {
            let plen = value[start + 8];
            if plen <= 128 {
                let mut raw = [0u8; 16];
                raw.copy_from_slice(&value[start + 9..start + 25]);
                let bits = u128::from_be_bytes(raw);
                let mask = if plen == 0 {
                    0
                } else {
                    u128::MAX << (128 - u32::from(plen))
                };
                let net = (bits & mask).to_be_bytes();
                e.prefixes.push(format!("{}/{plen}", ipv6_python(&net)));
            }
        }
    }
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
            3 | 4 | 25 => ia(&mut e, code, &payload[start..off]),
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
        // a Reply with an IA_NA address and an IA_PD prefix (bits past /56 cleared)
        let mut r = vec![7, 0, 0, 1];
        let mut addr = vec![0, 5, 0, 24];
        addr.extend_from_slice(&[0x20, 1, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9]);
        addr.extend_from_slice(&[0; 8]);
        r.extend_from_slice(&[0, 3, 0, 12 + 28]);
        r.extend_from_slice(&[0; 12]);
        r.extend_from_slice(&addr);
        let mut pfx = vec![0, 26, 0, 25, 0, 0, 0, 0, 0, 0, 0, 0, 56];
        pfx.extend_from_slice(&[0x20, 1, 0x0d, 0xb8, 0, 2, 0, 0xff, 0, 0, 0, 0, 0, 0, 0, 1]);
        r.extend_from_slice(&[0, 25, 0, 12 + 29]);
        r.extend_from_slice(&[0; 12]);
        r.extend_from_slice(&pfx);
        let Some(Event::Dhcpv6(e)) = event(&r) else {
            panic!()
        };
        assert_eq!(e.addresses, vec!["2001:db8:1::9".to_string()]);
        assert_eq!(e.prefixes, vec!["2001:db8:2::/56".to_string()]);
        assert!(event(&[1, 0, 0]).is_none());
    }
}
