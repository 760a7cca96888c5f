//! Link-layer decapsulation: Ethernet (802.1Q/QinQ, LLC/SNAP, PPPoE), Linux SLL and SLL2,
//! raw IP, BSD NULL and OpenBSD LOOP, NFLOG, 802.3br mPackets, PPP, 802.11 with and
//! without radiotap. Encrypted 802.11 data frames come back as `WLAN_PROTECTED` so their
//! sizes and direction can still be counted.

pub const ETH_IPV4: i32 = 0x0800;
pub const ETH_IPV6: i32 = 0x86DD;
pub const ETH_ARP: i32 = 0x0806;
const ETH_PPPOE_SESSION: i32 = 0x8864;
/// pseudo EtherType: an encrypted 802.11 data frame
pub const WLAN_PROTECTED: i32 = -1;
/// pseudo EtherType: an 802.11 management or control frame
pub const WLAN_MGMT: i32 = -2;

pub type Mac = [u8; 6];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Link {
    pub src: Option<Mac>,
    pub dst: Option<Mac>,
    pub ethertype: i32,
    pub offset: usize,
    /// where the link's payload ends: the frame's end, unless the link says less (a PPPoE
    /// session's length, an 802.11 frame check sequence)
    pub end: usize,
}

#[inline]
fn mac(d: &[u8], off: usize) -> Option<Mac> {
    d.get(off..off + 6).map(|s| {
        let mut m = [0u8; 6];
        m.copy_from_slice(s);
        m
    })
}

#[inline]
fn be16(d: &[u8], off: usize) -> i32 {
    ((d[off] as i32) << 8) | d[off + 1] as i32
}

fn is_vlan(et: i32) -> bool {
    matches!(et, 0x8100 | 0x88A8 | 0x9100 | 0x9200)
}

pub(crate) fn ethernet(d: &[u8], off: usize) -> Option<Link> {
    if d.len() < off + 14 {
        return None;
    }
    let dst = mac(d, off);
    let src = mac(d, off + 6);
    let mut et = be16(d, off + 12);
    let mut p = off + 14;
    while is_vlan(et) && d.len() >= p + 4 {
        et = be16(d, p + 2);
        p += 4;
    }
    if et < 0x0600 && d.len() >= p + 8 && d[p..p + 3] == [0xaa, 0xaa, 0x03] {
        et = be16(d, p + 6); // 802.3 length field + LLC/SNAP
        p += 8;
    }
    let mut end = d.len();
    if et == ETH_PPPOE_SESSION && d.len() >= p + 8 {
        // the session's payload (the PPP protocol and its packet) is as long as its header
        // says: what follows is the Ethernet frame's padding
        end = end.min(p + 6 + be16(d, p + 4) as usize);
        let ppp = be16(d, p + 6);
        p += 8;
        et = ppp_proto(ppp);
    }
    Some(Link {
        src,
        dst,
        ethertype: et,
        offset: p,
        end,
    })
}

fn ppp_proto(proto: i32) -> i32 {
    match proto {
        0x0021 => ETH_IPV4,
        0x0057 => ETH_IPV6,
        _ => 0,
    }
}

fn ip_version(d: &[u8], off: usize) -> i32 {
    match d.get(off).map(|b| b >> 4) {
        Some(4) => ETH_IPV4,
        Some(6) => ETH_IPV6,
        _ => 0,
    }
}

fn sll_proto(et: i32, d: &[u8], off: usize) -> i32 {
    if et == ETH_IPV4 || et == ETH_IPV6 || et == ETH_ARP {
        return et;
    }
    if et == 0 || et == 4 {
        ip_version(d, off)
    } else {
        et
    }
}

fn sll(d: &[u8]) -> Option<Link> {
    if d.len() < 16 {
        return None;
    }
    let halen = be16(d, 4);
    let src = if halen == 6 { mac(d, 6) } else { None };
    // the address is always the sender's, whatever the packet type
    Some(Link {
        src,
        dst: None,
        ethertype: sll_proto(be16(d, 14), d, 16),
        offset: 16,
        end: d.len(),
    })
}

fn sll2(d: &[u8]) -> Option<Link> {
    if d.len() < 20 {
        return None;
    }
    let src = if d[11] == 6 { mac(d, 12) } else { None };
    Some(Link {
        src,
        dst: None,
        ethertype: sll_proto(be16(d, 0), d, 20),
        offset: 20,
        end: d.len(),
    })
}

fn null(d: &[u8], big: bool) -> Option<Link> {
    if d.len() < 4 {
        return None;
    }
    let b = [d[0], d[1], d[2], d[3]];
    let (first, other) = if big {
        (u32::from_be_bytes(b), u32::from_le_bytes(b))
    } else {
        (u32::from_le_bytes(b), u32::from_be_bytes(b))
    };
    let fam = if first > 0xFFFF { other } else { first }; // written in the other order
    let et = match fam {
        2 => ETH_IPV4,
        10 | 24 | 28 | 30 => ETH_IPV6,
        _ => ip_version(d, 4),
    };
    Some(Link {
        src: None,
        dst: None,
        ethertype: et,
        offset: 4,
        end: d.len(),
    })
}

fn nflog(d: &[u8]) -> Option<Link> {
    // nfgenmsg: family(1) version(1) res_id(2), then TLVs (length and type little-endian)
    if d.len() < 4 {
        return None;
    }
    let fam = d[0];
    let mut p = 4usize;
    while p + 4 <= d.len() {
        let tlen = d[p] as usize | (d[p + 1] as usize) << 8;
        let ttype = (d[p + 2] as u16 | (d[p + 3] as u16) << 8) & 0x7FFF;
        if tlen < 4 {
            return None;
        }
        if ttype == 9 {
            // NFULA_PAYLOAD
            let et = match fam {
                2 => ETH_IPV4,
                10 => ETH_IPV6,
                _ => ip_version(d, p + 4),
            };
            return Some(Link {
                src: None,
                dst: None,
                ethertype: et,
                offset: p + 4,
                end: d.len(),
            });
        }
        p += (tlen + 3) & !3;
    }
    None
}

fn radiotap(d: &[u8]) -> Option<Link> {
    if d.len() < 8 || d[0] != 0 {
        return None;
    }
    let rlen = d[2] as usize | (d[3] as usize) << 8;
    if rlen > d.len() {
        return None;
    }
    let present = u32::from_le_bytes([d[4], d[5], d[6], d[7]]);
    let mut p = 8usize;
    let mut word = present;
    while word & 0x8000_0000 != 0 && p + 4 <= rlen {
        word = u32::from_le_bytes([d[p], d[p + 1], d[p + 2], d[p + 3]]);
        p += 4;
    }
    let mut has_fcs = false;
    if present & 0x2 != 0 {
        let mut q = p;
        if present & 0x1 != 0 {
            q = (q + 7) & !7; // TSFT: 8 bytes aligned to 8
            q += 8;
        }
        if q < rlen {
            has_fcs = d[q] & 0x10 != 0;
        }
    }
    let mut frame = &d[rlen..];
    if has_fcs && frame.len() >= 4 {
        frame = &frame[..frame.len() - 4];
    }
    let link = wlan(frame)?;
    Some(Link {
        offset: link.offset + rlen,
        end: link.end + rlen,
        ..link
    })
}

fn wlan(d: &[u8]) -> Option<Link> {
    if d.len() < 10 {
        return None;
    }
    let fc0 = d[0];
    let flags = d[1];
    let ftype = (fc0 >> 2) & 3;
    let subtype = (fc0 >> 4) & 0xF;
    if ftype != 2 {
        return Some(Link {
            src: mac(d, 10),
            dst: mac(d, 4),
            ethertype: WLAN_MGMT,
            offset: d.len(),
            end: d.len(),
        });
    }
    if d.len() < 24 {
        return None;
    }
    let (a1, a2, a3) = (mac(d, 4), mac(d, 10), mac(d, 16));
    let to_ds = flags & 1 != 0;
    let from_ds = flags & 2 != 0;
    let mut hdr = 24;
    let (src, dst) = if to_ds && from_ds {
        if d.len() < 30 {
            return None;
        }
        hdr = 30;
        (mac(d, 24), a3)
    } else if to_ds {
        (a2, a3)
    } else if from_ds {
        (a3, a1)
    } else {
        (a2, a1)
    };
    if subtype & 0x8 != 0 {
        hdr += 2; // QoS data
        if flags & 0x80 != 0 {
            hdr += 4; // +HTC
        }
    }
    if subtype & 0x4 != 0 {
        // null function frames: no payload
        return Some(Link {
            src,
            dst,
            ethertype: WLAN_MGMT,
            offset: d.len(),
            end: d.len(),
        });
    }
    if flags & 0x40 != 0 {
        return Some(Link {
            src,
            dst,
            ethertype: WLAN_PROTECTED,
            offset: hdr,
            end: d.len(),
        });
    }
    if d.len() >= hdr + 8 && d[hdr..hdr + 3] == [0xaa, 0xaa, 0x03] {
        return Some(Link {
            src,
            dst,
            ethertype: be16(d, hdr + 6),
            offset: hdr + 8,
            end: d.len(),
        });
    }
    Some(Link {
        src,
        dst,
        ethertype: 0,
        offset: hdr,
        end: d.len(),
    })
}

/// Decapsulates `d` of `linktype`; None when the frame is too short or the type unknown.
pub fn decode_link(linktype: u32, d: &[u8]) -> Option<Link> {
    match linktype {
        1 => ethernet(d, 0),
        101 | 228 | 229 | 12 | 14 => Some(Link {
            src: None,
            dst: None,
            ethertype: ip_version(d, 0),
            offset: 0,
            end: d.len(),
        }),
        113 => sll(d),
        276 => sll2(d),
        0 => null(d, false),
        108 => null(d, true),
        127 => radiotap(d),
        105 => wlan(d),
        239 => nflog(d),
        274 => {
            // 802.3br: 7 preamble bytes + SMD, then an Ethernet frame and an mCRC
            if d.len() >= 8 && d[..7] == [0x55; 7] {
                ethernet(d, 8)
            } else {
                None
            }
        }
        9 | 50 => {
            let p = if d.len() >= 2 && d[..2] == [0xff, 0x03] {
                2
            } else {
                0
            };
            if d.len() < p + 2 {
                return None;
            }
            Some(Link {
                src: None,
                dst: None,
                ethertype: ppp_proto(be16(d, p)),
                offset: p + 2,
                end: d.len(),
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eth(et: u16, rest: &[u8]) -> Vec<u8> {
        let mut v = vec![0xff; 6];
        v.extend_from_slice(&[0x00, 0x11, 0x22, 0x33, 0x44, 0x55]);
        v.extend_from_slice(&et.to_be_bytes());
        v.extend_from_slice(rest);
        v
    }

    #[test]
    fn a_pppoe_session_ends_where_its_length_says() {
        // PPPoE (6 bytes, length 22), PPP IPv4 (2), a 20-byte packet, 6 bytes of padding
        let mut rest = vec![0x11, 0, 0, 1, 0, 22, 0x00, 0x21];
        rest.extend([0x45; 20]);
        rest.extend([0; 6]);
        let l = decode_link(1, &eth(0x8864, &rest)).unwrap();
        assert_eq!((l.ethertype, l.offset, l.end), (ETH_IPV4, 22, 42));
        // a length beyond the frame: the frame's end
        rest[5] = 200;
        let l = decode_link(1, &eth(0x8864, &rest)).unwrap();
        assert_eq!(l.end, 48);
        // any other frame: its end
        assert_eq!(decode_link(1, &eth(0x0800, &[0x45; 30])).unwrap().end, 44);
    }

    #[test]
    fn ethernet_plain_vlan_qinq_snap_pppoe() {
        let l = decode_link(1, &eth(0x0800, &[0x45; 20])).unwrap();
        assert_eq!((l.ethertype, l.offset), (ETH_IPV4, 14));
        assert_eq!(l.src, Some([0x00, 0x11, 0x22, 0x33, 0x44, 0x55]));
        let l = decode_link(1, &eth(0x8100, &[0, 5, 0x86, 0xdd, 0x60])).unwrap();
        assert_eq!((l.ethertype, l.offset), (ETH_IPV6, 18));
        let l = decode_link(1, &eth(0x88a8, &[0, 5, 0x81, 0x00, 0, 6, 0x08, 0x00])).unwrap();
        assert_eq!((l.ethertype, l.offset), (ETH_IPV4, 22));
        let l = decode_link(1, &eth(40, &[0xaa, 0xaa, 3, 0, 0, 0, 0x08, 0x06])).unwrap();
        assert_eq!((l.ethertype, l.offset), (ETH_ARP, 22));
        let l = decode_link(1, &eth(0x8864, &[0x11, 0, 0, 1, 0, 20, 0x00, 0x57])).unwrap();
        assert_eq!((l.ethertype, l.offset), (ETH_IPV6, 22));
        assert!(decode_link(1, &[0u8; 13]).is_none());
    }

    #[test]
    fn cooked_raw_null_nflog_ppp_mpacket() {
        let mut s = vec![0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x08, 0x00];
        s.push(0x45);
        let l = decode_link(113, &s).unwrap();
        assert_eq!(
            (l.src, l.ethertype, l.offset),
            (Some([1, 2, 3, 4, 5, 6]), ETH_IPV4, 16)
        );
        let mut s2 = vec![
            0x86, 0xdd, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 9, 8, 7, 6, 5, 4, 0, 0,
        ];
        s2.push(0x60);
        let l = decode_link(276, &s2).unwrap();
        assert_eq!(
            (l.src, l.ethertype, l.offset),
            (Some([9, 8, 7, 6, 5, 4]), ETH_IPV6, 20)
        );
        assert_eq!(decode_link(101, &[0x60]).unwrap().ethertype, ETH_IPV6);
        assert_eq!(decode_link(0, &[2, 0, 0, 0]).unwrap().ethertype, ETH_IPV4);
        assert_eq!(decode_link(0, &[0, 0, 0, 2]).unwrap().ethertype, ETH_IPV4);
        assert_eq!(
            decode_link(108, &[0, 0, 0, 24]).unwrap().ethertype,
            ETH_IPV6
        );
        let nf = [2, 0, 0, 0, 8, 0, 1, 0, 0, 0, 0, 0, 5, 0, 9, 0, 0x45];
        let l = decode_link(239, &nf).unwrap();
        assert_eq!((l.ethertype, l.offset), (ETH_IPV4, 16));
        let l = decode_link(9, &[0xff, 0x03, 0x00, 0x21, 0x45]).unwrap();
        assert_eq!((l.ethertype, l.offset), (ETH_IPV4, 4));
        let mut mp = vec![0x55; 7];
        mp.push(0xd5);
        mp.extend(eth(0x0800, &[0x45]));
        assert_eq!(decode_link(274, &mp).unwrap().offset, 22);
        assert!(decode_link(147, &mp).is_none());
    }

    #[test]
    fn wlan_data_protected_and_radiotap() {
        // to-DS data frame: src = addr2, dst = addr3, LLC/SNAP IPv4
        let mut w = vec![0x08, 0x01, 0, 0];
        w.extend([1u8; 6]); // addr1 (BSSID)
        w.extend([2u8; 6]); // addr2 (station)
        w.extend([3u8; 6]); // addr3 (destination)
        w.extend([0, 0]);
        w.extend([0xaa, 0xaa, 3, 0, 0, 0, 0x08, 0x00, 0x45]);
        let l = decode_link(105, &w).unwrap();
        assert_eq!(
            (l.src, l.dst, l.ethertype, l.offset),
            (Some([2; 6]), Some([3; 6]), ETH_IPV4, 32)
        );
        let mut p = w.clone();
        p[1] |= 0x40;
        assert_eq!(decode_link(105, &p).unwrap().ethertype, WLAN_PROTECTED);
        let mut rt = vec![0, 0, 8, 0, 0, 0, 0, 0];
        rt.extend(&w);
        let l = decode_link(127, &rt).unwrap();
        assert_eq!((l.ethertype, l.offset), (ETH_IPV4, 40));
        // flags field says FCS at the end: four bytes trimmed from the frame
        let mut rt2 = vec![0, 0, 9, 0, 2, 0, 0, 0, 0x10];
        rt2.extend(&w[..24]);
        rt2.extend([1, 2, 3, 4]);
        let l = decode_link(127, &rt2).unwrap();
        assert_eq!((l.ethertype, l.offset), (0, 33));
    }
}
