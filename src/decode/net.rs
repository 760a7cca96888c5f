//! The network layer: IPv4 (with the fragment facts the flow table needs) and IPv6 (with
//! its extension headers), read by index with every read checked.

use super::link::{ETH_IPV4, ETH_IPV6};

/// Identifies the fragments of one datagram: addresses and IP identification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FragKey {
    bytes: [u8; 36],
    len: u8,
}

impl FragKey {
    fn new(addrs: &[u8], id: &[u8]) -> FragKey {
        let mut bytes = [0u8; 36];
        bytes[..addrs.len()].copy_from_slice(addrs);
        bytes[addrs.len()..addrs.len() + id.len()].copy_from_slice(id);
        FragKey {
            bytes,
            len: (addrs.len() + id.len()) as u8,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Net<'a> {
    /// an IP packet: its addresses (8 or 32 bytes: source then destination), transport
    /// protocol, where the transport header starts and where the IP payload ends
    Ip {
        addrs: &'a [u8],
        proto: u8,
        l4: usize,
        end: usize,
        /// bytes of the IP payload beyond `end` that the capture did not keep (its
        /// header's length past the captured bytes: a snap length, or a false length)
        cut: usize,
        /// set on the first fragment of a fragmented datagram
        frag: Option<FragKey>,
    },
    /// a later fragment: it belongs to the first fragment's flow
    LaterFragment(FragKey),
    /// not IP at all (ARP, 802.11 management, ...)
    NonIp,
    /// IP, but too short or malformed to go further
    Skip,
}

fn is_ext(p: u8) -> bool {
    matches!(p, 0 | 43 | 44 | 60 | 51 | 135 | 139 | 140)
}

/// Reads the network layer at `off` of EtherType `et`.
pub fn network(d: &[u8], et: i32, off: usize) -> Net<'_> {
    let dlen = d.len();
    if et == ETH_IPV4 {
        if dlen < off + 20 {
            return Net::Skip;
        }
        let ihl = ((d[off] & 0x0F) as usize) << 2;
        if ihl < 20 {
            return Net::Skip;
        }
        let l4 = off + ihl;
        let mut end = off + (((d[off + 2] as usize) << 8) | d[off + 3] as usize);
        let mut cut = 0;
        if end < l4 {
            end = dlen;
        } else if end > dlen {
            cut = end - dlen;
            end = dlen;
        }
        let proto = d[off + 9];
        let addrs = &d[off + 12..off + 20];
        let mut frag = None;
        if d[off + 6] & 0x3F != 0 || d[off + 7] != 0 {
            let key = FragKey::new(addrs, &d[off + 4..off + 6]);
            if d[off + 6] & 0x1F != 0 || d[off + 7] != 0 {
                return Net::LaterFragment(key);
            }
            if d[off + 6] & 0x20 != 0 {
                frag = Some(key);
            }
        }
        return Net::Ip {
            addrs,
            proto,
            l4,
            end,
            cut,
            frag,
        };
    }
    if et == ETH_IPV6 {
        if dlen < off + 40 {
            return Net::Skip;
        }
        let mut proto = d[off + 6];
        let mut l4 = off + 40;
        let plen = ((d[off + 4] as usize) << 8) | d[off + 5] as usize;
        let end = if plen != 0 && l4 + plen <= dlen {
            l4 + plen
        } else {
            dlen
        };
        let cut = (l4 + plen).saturating_sub(dlen);
        let addrs = &d[off + 8..off + 40];
        let mut frag = None;
        if is_ext(proto) {
            while is_ext(proto) && l4 + 8 <= end {
                let nxt = d[l4];
                if proto == 44 {
                    let fo = (((d[l4 + 2] as usize) << 8) | d[l4 + 3] as usize) >> 3;
                    let key = FragKey::new(addrs, &d[l4 + 4..l4 + 8]);
                    if fo != 0 {
                        return Net::LaterFragment(key);
                    }
                    frag = if d[l4 + 3] & 1 != 0 { Some(key) } else { None };
                    l4 += 8;
                } else if proto == 51 {
                    l4 += (d[l4 + 1] as usize + 2) * 4;
                } else {
                    l4 += (d[l4 + 1] as usize + 1) * 8;
                }
                proto = nxt;
            }
            if is_ext(proto) {
                return Net::Skip;
            }
        }
        return Net::Ip {
            addrs,
            proto,
            l4,
            end,
            cut,
            frag,
        };
    }
    Net::NonIp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ipv4(flags_off: u16, proto: u8, payload: &[u8]) -> Vec<u8> {
        let total = 20 + payload.len();
        let mut v = vec![0x45, 0, (total >> 8) as u8, total as u8, 0x12, 0x34];
        v.extend(flags_off.to_be_bytes());
        v.extend([64, proto, 0, 0, 10, 0, 0, 1, 8, 8, 8, 8]);
        v.extend(payload);
        v
    }

    #[test]
    fn ipv4_plain_first_and_later_fragments() {
        let p = ipv4(0x4000, 17, &[0; 8]);
        match network(&p, ETH_IPV4, 0) {
            Net::Ip {
                proto,
                l4,
                end,
                cut,
                frag,
                addrs,
            } => {
                assert_eq!((proto, l4, end, cut, frag), (17, 20, 28, 0, None));
                assert_eq!(addrs, &[10, 0, 0, 1, 8, 8, 8, 8]);
            }
            other => panic!("{other:?}"),
        }
        let first = ipv4(0x2000, 17, &[0; 8]);
        let Net::Ip { frag: Some(k1), .. } = network(&first, ETH_IPV4, 0) else {
            panic!()
        };
        let later = ipv4(0x0003, 17, &[0; 8]);
        assert_eq!(network(&later, ETH_IPV4, 0), Net::LaterFragment(k1));
        // a total length beyond the capture: the capture's end counts
        let mut cut = ipv4(0, 6, &[0; 20]);
        cut[3] = 200;
        let Net::Ip {
            end, cut: beyond, ..
        } = network(&cut, ETH_IPV4, 0)
        else {
            panic!()
        };
        assert_eq!((end, beyond), (40, 160));
        assert_eq!(network(&cut[..19], ETH_IPV4, 0), Net::Skip);
        assert_eq!(network(&cut, 0x0806, 0), Net::NonIp);
    }

    #[test]
    fn ipv6_extension_headers_and_fragments() {
        let mut v = vec![0x60, 0, 0, 0, 0, 24, 0, 64];
        v.extend([0u8; 32]);
        // hop-by-hop (8 bytes) -> fragment header (first, M set) -> UDP
        v.extend([44, 0, 0, 0, 0, 0, 0, 0]);
        v.extend([17, 0, 0, 1, 0xde, 0xad, 0xbe, 0xef]);
        v.extend([0u8; 8]);
        match network(&v, ETH_IPV6, 0) {
            Net::Ip {
                proto, l4, frag, ..
            } => {
                assert_eq!((proto, l4), (17, 56));
                assert!(frag.is_some());
            }
            other => panic!("{other:?}"),
        }
        let mut later = v.clone();
        later[50] = 0x01; // fragment offset 32
        assert!(matches!(
            network(&later, ETH_IPV6, 0),
            Net::LaterFragment(_)
        ));
        // an extension header chain that runs off the end
        let mut cut = v.clone();
        cut.truncate(44);
        cut[4] = 0;
        cut[5] = 0;
        assert_eq!(network(&cut, ETH_IPV6, 0), Net::Skip);
    }
}
