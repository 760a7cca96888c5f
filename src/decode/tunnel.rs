//! Remote-mirror encapsulations. A switch's remote SPAN (ERSPAN types I, II and III in
//! GRE), a bridge over GRE (transparent Ethernet bridging), a virtual network's or a
//! cloud's traffic mirror (VXLAN on UDP 4789, GENEVE on UDP 6081) carry whole frames from
//! the premises to a collector. The frame inside is the traffic to analyse; the outer
//! packet only carries it, and its headers are no part of what the device sent.
//!
//! Only these encapsulations are opened: they carry a copy of a frame. A routed tunnel
//! (IP in IP, IP in GRE, Teredo) is itself a conversation of the premises and stays one.
//! So does an encapsulation to or from an address off the premises (the caller says which
//! outer addresses may be a mirror's): a device that wrapped its own uploads in VXLAN to a
//! server abroad must not hide that conversation behind the frame it chose to wrap.
//! Every read is checked; a header that does not hold together leaves the packet as it is.
//!
//! The headers, as their public descriptions give them: GRE (RFC 2784, with the key and
//! sequence number of RFC 2890; protocol type 0x6558 for bridged Ethernet, from the IANA
//! ether-types registry), ERSPAN (draft-foschiano-erspan: GRE protocol types 0x88BE for
//! types I and II, 0x22EB for type III, and its headers' layouts), VXLAN (RFC 7348, UDP
//! port 4789) and GENEVE (RFC 8926, UDP port 6081).

use super::link::{ethernet, Link, ETH_IPV4, ETH_IPV6};
use super::net::{network, Net};

/// encapsulations opened within one frame, at most (a mirror of a mirror is possible)
pub const MAX_DEPTH: usize = 4;

/// The encapsulations opened, in the order the report counts them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tunnel {
    Erspan = 0,
    GreEthernet = 1,
    Vxlan = 2,
    Geneve = 3,
}

/// the names the report gives them, by `Tunnel as usize`
pub const TUNNEL_NAMES: [&str; 4] = ["erspan", "gre_ethernet", "vxlan", "geneve"];

const GRE: u8 = 47;
const UDP: u8 = 17;
const GRE_TEB: i32 = 0x6558; // transparent Ethernet bridging
const GRE_ERSPAN: i32 = 0x88BE; // ERSPAN type I (no sequence number) and II
const GRE_ERSPAN3: i32 = 0x22EB;
const VXLAN_PORT: i32 = 4789;
const GENEVE_PORT: i32 = 6081;

/// A frame with its encapsulations opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    /// the innermost frame's link layer (offsets into the whole captured frame)
    pub link: Link,
    /// the innermost frame's length on the wire: the outer packet's payload from where it
    /// starts, those bytes the capture did not keep included
    pub wirelen: u32,
    /// the outermost encapsulation opened (None: a plain frame)
    pub tunnel: Option<Tunnel>,
    /// the outermost encapsulation's addresses, source then destination (8 or 32 bytes;
    /// empty when none was opened): the mirror session
    pub outer: &'a [u8],
}

#[inline]
fn be16(d: &[u8], off: usize) -> i32 {
    ((d[off] as i32) << 8) | d[off + 1] as i32
}

/// What an encapsulation at `p` (the outer packet's payload, up to `end`) carries: the
/// EtherType of its payload (`ETHERNET` for a frame) and where it starts.
const ETHERNET: i32 = -1;

fn gre(d: &[u8], p: usize, end: usize) -> Option<(i32, usize, Tunnel)> {
    if end < p + 4 {
        return None;
    }
    let flags = be16(d, p);
    // routing present (obsolete) or a version other than 0 (1 is PPTP's): not opened
    if flags & 0x4000 != 0 || flags & 0x0007 != 0 {
        return None;
    }
    let seq = flags & 0x1000 != 0;
    let hdr = 4 + [0x8000, 0x2000, 0x1000]
        .iter()
        .filter(|&&bit| flags & bit != 0)
        .count()
        * 4;
    let q = p + hdr;
    match be16(d, p + 2) {
        GRE_TEB => Some((ETHERNET, q, Tunnel::GreEthernet)),
        // type I has no sequence number and no header of its own
        GRE_ERSPAN if !seq => Some((ETHERNET, q, Tunnel::Erspan)),
        GRE_ERSPAN if end >= q + 8 && d[q] >> 4 == 1 => Some((ETHERNET, q + 8, Tunnel::Erspan)),
        GRE_ERSPAN3 if end >= q + 12 && d[q] >> 4 == 2 => {
            // the frame type must be Ethernet (0); the optional platform subheader follows
            if (d[q + 10] >> 2) & 0x1F != 0 {
                return None;
            }
            let sub = if d[q + 11] & 1 != 0 { 8 } else { 0 };
            Some((ETHERNET, q + 12 + sub, Tunnel::Erspan))
        }
        _ => None,
    }
}

fn udp(d: &[u8], l4: usize, end: usize) -> Option<(i32, usize, Tunnel)> {
    if end < l4 + 16 {
        return None;
    }
    let p = l4 + 8;
    match be16(d, l4 + 2) {
        // the I flag set: a valid network identifier follows
        VXLAN_PORT if d[p] & 0x08 != 0 => Some((ETHERNET, p + 8, Tunnel::Vxlan)),
        GENEVE_PORT if d[p] >> 6 == 0 => {
            let q = p + 8 + ((d[p] & 0x3F) as usize) * 4;
            match be16(d, p + 2) {
                GRE_TEB => Some((ETHERNET, q, Tunnel::Geneve)),
                et @ (ETH_IPV4 | ETH_IPV6) => Some((et, q, Tunnel::Geneve)),
                _ => None,
            }
        }
        _ => None,
    }
}

/// The frame `link` starts inside `d`, if its packet is an encapsulation this module
/// opens: its link layer, where it starts, and its length by the outer IP header.
fn open<'a>(
    d: &'a [u8],
    link: &Link,
    mirror: &dyn Fn(&[u8]) -> bool,
) -> Option<(Link, usize, usize, Tunnel, &'a [u8])> {
    let d = &d[..link.end.min(d.len())];
    let Net::Ip {
        addrs,
        proto,
        l4,
        end,
        cut,
        frag: None,
    } = network(d, link.ethertype, link.offset)
    else {
        return None;
    };
    let (et, start, tunnel) = match proto {
        GRE => gre(d, l4, end)?,
        UDP => udp(d, l4, end)?,
        _ => return None,
    };
    if start >= end || !mirror(addrs) {
        return None;
    }
    let inner = if et == ETHERNET {
        let mut l = ethernet(&d[..end], start)?;
        l.end = l.end.min(end);
        l
    } else {
        Link {
            src: None,
            dst: None,
            ethertype: et,
            offset: start,
            end,
        }
    };
    Some((inner, start, end + cut - start, tunnel, addrs))
}

/// `link` (the frame's decoded link layer) with every remote-mirror encapsulation opened,
/// up to `MAX_DEPTH`; `wirelen` is the frame's length on the wire. `mirror` says whether
/// an outer packet's addresses (source then destination, 4 or 16 bytes each) may be a
/// mirror's: those of a packet it refuses are its own, and it is not opened.
pub fn open_frame<'a>(
    d: &'a [u8],
    link: Link,
    wirelen: u32,
    mirror: &dyn Fn(&[u8]) -> bool,
) -> Frame<'a> {
    let mut frame = Frame {
        link,
        wirelen,
        tunnel: None,
        outer: &[],
    };
    let mut origin = 0; // where the frame opened last starts in `d`
    for _ in 0..MAX_DEPTH {
        let Some((inner, start, wire, tunnel, addrs)) = open(d, &frame.link, mirror) else {
            break;
        };
        frame.link = inner;
        // an outer IP header may claim more than the frame held on the wire: no more
        // than the frame's own bytes from where the inner one starts
        let most = (origin + frame.wirelen as usize).saturating_sub(start);
        frame.wirelen = wire.min(most) as u32;
        origin = start;
        if frame.tunnel.is_none() {
            frame.tunnel = Some(tunnel);
            frame.outer = addrs;
        }
    }
    frame
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::decode_link;

    const DEVICE: [u8; 6] = [0x00, 0x11, 0x22, 0x33, 0x44, 0x55];

    /// every outer packet may be a mirror's
    fn any(_: &[u8]) -> bool {
        true
    }
    const SWITCH: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];

    /// An Ethernet frame (`dst` broadcast, `src`) of EtherType `et` around `payload`.
    fn eth(src: [u8; 6], et: u16, payload: &[u8]) -> Vec<u8> {
        let mut v = vec![0xff; 6];
        v.extend(src);
        v.extend(et.to_be_bytes());
        v.extend(payload);
        v
    }

    /// An IPv4 packet of protocol `proto` around `payload`.
    fn ipv4(proto: u8, payload: &[u8]) -> Vec<u8> {
        let total = (20 + payload.len()) as u16;
        let mut v = vec![0x45, 0];
        v.extend(total.to_be_bytes());
        v.extend([0, 1, 0x40, 0, 64, proto, 0, 0, 10, 9, 9, 1, 10, 9, 9, 2]);
        v.extend(payload);
        v
    }

    /// A UDP datagram to `dport` around `payload`.
    fn udp_to(dport: u16, payload: &[u8]) -> Vec<u8> {
        let mut v = vec![0xc3, 0x50];
        v.extend(dport.to_be_bytes());
        v.extend(((8 + payload.len()) as u16).to_be_bytes());
        v.extend([0, 0]);
        v.extend(payload);
        v
    }

    /// A VXLAN datagram to `port` (its flags byte `flags`, network 42) around `frame`.
    fn vxlan(port: u16, flags: u8, frame: &[u8]) -> Vec<u8> {
        udp_to(
            port,
            &[[flags, 0, 0, 0, 0, 0, 42, 0].as_slice(), frame].concat(),
        )
    }

    /// The frame a device sent: Ethernet, IPv4, UDP to port 53, 4 bytes of payload.
    fn device_frame() -> Vec<u8> {
        eth(DEVICE, 0x0800, &ipv4(17, &udp_to(53, &[1, 2, 3, 4])))
    }

    /// The outer frame: the switch's Ethernet and IPv4 around `encap` + the inner frame.
    fn outer(proto: u8, encap: &[u8], inner: &[u8]) -> Vec<u8> {
        let mut p = encap.to_vec();
        p.extend(inner);
        eth(SWITCH, 0x0800, &ipv4(proto, &p))
    }

    /// What `open_frame` makes of a whole Ethernet frame, owned (the frame may be a
    /// temporary of the assertion).
    struct Opened {
        tunnel: Option<Tunnel>,
        link: Link,
        wirelen: u32,
        outer: Vec<u8>,
    }

    fn opened(frame: &[u8]) -> Opened {
        let link = decode_link(1, frame).unwrap();
        let f = open_frame(frame, link, frame.len() as u32, &any);
        Opened {
            tunnel: f.tunnel,
            link: f.link,
            wirelen: f.wirelen,
            outer: f.outer.to_vec(),
        }
    }

    fn assert_inner(frame: &[u8], tunnel: Tunnel) {
        let inner = device_frame();
        let f = opened(frame);
        assert_eq!(f.tunnel, Some(tunnel));
        assert_eq!(f.outer, [10, 9, 9, 1, 10, 9, 9, 2]);
        assert_eq!(f.link.src, Some(DEVICE));
        assert_eq!(f.link.ethertype, ETH_IPV4);
        assert_eq!(f.link.offset, frame.len() - inner.len() + 14);
        assert_eq!((f.link.end, f.wirelen as usize), (frame.len(), inner.len()));
    }

    #[test]
    fn erspan_types_one_two_and_three() {
        let inner = device_frame();
        // type I: GRE without a sequence number, the frame right after it
        assert_inner(&outer(47, &[0, 0, 0x88, 0xbe], &inner), Tunnel::Erspan);
        // type II: GRE with a sequence number, then 8 bytes (version 1)
        let mut enc = vec![0x10, 0, 0x88, 0xbe, 0, 0, 0, 7];
        enc.extend([0x10, 0x05, 0x00, 0x01, 0, 0, 0, 0]);
        assert_inner(&outer(47, &enc, &inner), Tunnel::Erspan);
        // type III: 12 bytes (version 2), then the platform subheader when O is set
        let mut enc = vec![0x10, 0, 0x22, 0xeb, 0, 0, 0, 7];
        enc.extend([0x20, 0x05, 0x00, 0x01, 0, 0, 0, 9, 0, 0, 0x00, 0x01]);
        enc.extend([0; 8]);
        assert_inner(&outer(47, &enc, &inner), Tunnel::Erspan);
        // a frame type other than Ethernet, or a version that is not the type's: as it is
        enc[18] = 0x08; // FT 2: an IP packet
        assert_eq!(opened(&outer(47, &enc, &inner)).tunnel, None);
        let mut enc2 = vec![0x10, 0, 0x88, 0xbe, 0, 0, 0, 7];
        enc2.extend([0x30, 0x05, 0x00, 0x01, 0, 0, 0, 0]);
        assert_eq!(opened(&outer(47, &enc2, &inner)).tunnel, None);
    }

    #[test]
    fn gre_bridging_with_its_optional_fields() {
        let inner = device_frame();
        assert_inner(&outer(47, &[0, 0, 0x65, 0x58], &inner), Tunnel::GreEthernet);
        // checksum, key and sequence number: 12 more bytes
        let mut enc = vec![0xb0, 0, 0x65, 0x58];
        enc.extend([0; 12]);
        assert_inner(&outer(47, &enc, &inner), Tunnel::GreEthernet);
        // PPTP's enhanced GRE (version 1), routing present, IP in GRE: not opened
        for head in [
            [0x30, 0x01, 0x65, 0x58],
            [0x40, 0, 0x65, 0x58],
            [0, 0, 0x08, 0x00],
        ] {
            let f = opened(&outer(47, &head, &inner));
            assert_eq!((f.tunnel, f.link.src), (None, Some(SWITCH)));
        }
    }

    #[test]
    fn vxlan_and_geneve() {
        let inner = device_frame();
        let vx = vxlan(4789, 0x08, &inner);
        assert_inner(&outer(17, &vx, &[]), Tunnel::Vxlan);
        // without the I flag, or on another port: a datagram like any other
        let no_i = vxlan(4789, 0x00, &inner);
        assert_eq!(opened(&outer(17, &no_i, &[])).tunnel, None);
        let other = vxlan(4790, 0x08, &inner);
        assert_eq!(opened(&outer(17, &other, &[])).tunnel, None);
        // GENEVE with 8 bytes of options around a frame
        let mut gen = vec![0x02, 0, 0x65, 0x58, 0, 0, 42, 0];
        gen.extend([0; 8]);
        gen.extend(&inner);
        assert_inner(&outer(17, &udp_to(6081, &gen), &[]), Tunnel::Geneve);
        // and around an IP packet (no link layer of its own)
        let ip = ipv4(17, &udp_to(53, &[1, 2, 3, 4]));
        let mut gen = vec![0x00, 0, 0x08, 0x00, 0, 0, 42, 0];
        gen.extend(&ip);
        let frame = outer(17, &udp_to(6081, &gen), &[]);
        let f = opened(&frame);
        assert_eq!(
            (f.tunnel, f.link.src, f.link.ethertype),
            (Some(Tunnel::Geneve), None, ETH_IPV4)
        );
        assert_eq!(
            (f.link.offset, f.wirelen as usize),
            (frame.len() - ip.len(), ip.len())
        );
    }

    #[test]
    fn nested_cut_and_broken_encapsulations() {
        let inner = device_frame();
        // VXLAN inside ERSPAN: both opened, the outermost named
        let vx = vxlan(4789, 0x08, &inner);
        let middle = eth(SWITCH, 0x0800, &ipv4(17, &vx));
        let frame = outer(47, &[0, 0, 0x88, 0xbe], &middle);
        let f = opened(&frame);
        assert_eq!((f.tunnel, f.link.src), (Some(Tunnel::Erspan), Some(DEVICE)));
        assert_eq!(f.wirelen as usize, inner.len());
        // a capture cut short (snap length): the inner frame's length is what was sent
        let frame = outer(47, &[0, 0, 0x65, 0x58], &inner);
        let link = decode_link(1, &frame[..frame.len() - 3]).unwrap();
        let f = open_frame(&frame[..frame.len() - 3], link, frame.len() as u32, &any);
        assert_eq!(
            (f.link.end, f.wirelen as usize),
            (frame.len() - 3, inner.len())
        );
        // an outer length beyond the frame on the wire: no more than the frame holds
        let mut lying = frame.clone();
        lying[16..18].copy_from_slice(&9000u16.to_be_bytes());
        let link = decode_link(1, &lying).unwrap();
        let f = open_frame(&lying, link, lying.len() as u32, &any);
        assert_eq!(f.wirelen as usize, inner.len());
        // an encapsulation header or inner frame past the end: the packet as it is
        for cut in [38, 40, 44] {
            let short = &outer(47, &[0x10, 0, 0x88, 0xbe, 0, 0, 0, 7, 0x10, 5], &[])[..cut];
            let link = decode_link(1, short).unwrap();
            assert_eq!(open_frame(short, link, cut as u32, &any).tunnel, None);
        }
        let f = opened(&outer(47, &[0, 0, 0x65, 0x58], &inner[..10]));
        assert_eq!(f.tunnel, None);
        // a fragment of the outer packet is not opened
        let mut frag = outer(47, &[0, 0, 0x65, 0x58], &inner);
        frag[20] = 0x20; // more fragments
        assert_eq!(opened(&frag).tunnel, None);
        // no more than MAX_DEPTH levels
        let mut f = inner.clone();
        for _ in 0..MAX_DEPTH + 1 {
            f = eth(
                SWITCH,
                0x0800,
                &ipv4(47, &[[0, 0, 0x65, 0x58].as_slice(), &f].concat()),
            );
        }
        let o = opened(&f);
        assert_eq!(
            (o.tunnel, o.link.src),
            (Some(Tunnel::GreEthernet), Some(SWITCH))
        );
    }

    #[test]
    fn an_outer_packet_the_caller_refuses_is_its_own() {
        // an address off the premises: the caller is asked once, with both addresses
        let frame = outer(47, &[0, 0, 0x65, 0x58], &device_frame());
        let link = decode_link(1, &frame).unwrap();
        let seen = std::cell::RefCell::new(Vec::new());
        let refuse = |addrs: &[u8]| {
            seen.borrow_mut().push(addrs.to_vec());
            false
        };
        let f = open_frame(&frame, link, frame.len() as u32, &refuse);
        assert_eq!(
            (f.tunnel, f.link, f.wirelen as usize),
            (None, link, frame.len())
        );
        assert!(f.outer.is_empty());
        assert_eq!(*seen.borrow(), vec![vec![10, 9, 9, 1, 10, 9, 9, 2]]);
        // a plain datagram is never put to the caller
        let plain = device_frame();
        let link = decode_link(1, &plain).unwrap();
        open_frame(&plain, link, plain.len() as u32, &refuse);
        assert_eq!(seen.borrow().len(), 1);
    }
}
