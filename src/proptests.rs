//! Property tests: every parser given any bytes errors or parses, never panics.

use proptest::prelude::*;

use crate::capture::{CaptureReader, GzStream, Source};
use crate::decode::{decode_link, network, open_frame};
use crate::dissect::quic::looks_like_quic_initial;
use crate::dissect::registry::tcp_parser;
use crate::engine::{Config, Engine, Net6, PY_BASE};
use crate::loss::{Missed, SeqTrack, MAX_HOLE};
use crate::reassembly::{Budget, Reassembly};

const LINKTYPES: [u32; 18] = [
    0,
    1,
    9,
    12,
    14,
    50,
    101,
    105,
    108,
    113,
    127,
    147,
    228,
    229,
    239,
    274,
    276,
    0xFFFF_FFFF,
];

fn read_all(bytes: Vec<u8>) {
    if let Ok(mut r) =
        CaptureReader::from_source(Source::new(Box::new(std::io::Cursor::new(bytes))), "t")
    {
        let mut n = 0u64;
        while let Some(rec) = r.next() {
            assert_eq!(rec.frame, n + 1);
            n += 1;
        }
        assert_eq!(r.frames, n);
    }
}

/// A valid Ethernet/IPv4/TCP or UDP packet to mutate.
fn packet(tcp: bool, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![
        0, 1, 2, 3, 4, 5, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x08, 0x00,
    ];
    let l4 = if tcp { 20 } else { 8 };
    let total = 20 + l4 + payload.len();
    v.extend([0x45, 0, (total >> 8) as u8, total as u8, 0, 1, 0x40, 0, 64]);
    v.push(if tcp { 6 } else { 17 });
    v.extend([0, 0, 192, 168, 1, 10, 8, 8, 8, 8]);
    if tcp {
        v.extend([
            0xc3, 0x50, 1, 0xbb, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0,
        ]);
    } else {
        let ulen = 8 + payload.len();
        v.extend([0xc3, 0x50, 0, 53, (ulen >> 8) as u8, ulen as u8, 0, 0]);
    }
    v.extend(payload);
    v
}

fn engine() -> Engine {
    let mut cfg = Config::default();
    cfg.python_ports.insert(37020, (PY_BASE, false));
    cfg.premises.push(Net6 {
        v6: false,
        addr: [192, 168, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        prefix: 16,
    });
    cfg.max_flows = 8; // eviction happens all the time
    cfg.reassembly_budget = 4096;
    Engine::new(cfg)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn reader_never_panics(kind in 0u8..4, body in proptest::collection::vec(any::<u8>(), 0..600)) {
        let mut bytes = match kind {
            0 => vec![0xd4, 0xc3, 0xb2, 0xa1],
            1 => vec![0xa1, 0xb2, 0x3c, 0x4d],
            2 => vec![0x0a, 0x0d, 0x0d, 0x0a, 28, 0, 0, 0, 0x4d, 0x3c, 0x2b, 0x1a],
            _ => vec![],
        };
        bytes.extend(body);
        read_all(bytes);
    }

    #[test]
    fn gzip_stream_never_panics(
        body in proptest::collection::vec(any::<u8>(), 0..400),
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..6),
        cut in any::<usize>(),
    ) {
        use std::io::{Read, Write};
        // a real gzip member, then damaged: flipped bytes, a cut, the raw body appended
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(&body).unwrap();
        let mut gz = e.finish().unwrap();
        for (at, x) in flips {
            let n = gz.len();
            gz[at % n] ^= x;
        }
        gz.truncate(cut % (gz.len() + 1));
        gz.extend_from_slice(&body[..body.len().min(40)]);
        let (mut s, state) = GzStream::new(std::io::Cursor::new(gz), 1 << 20, 100);
        let mut out = Vec::new();
        let mut buf = [0u8; 97];
        loop {
            let n = s.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
            prop_assert!(out.len() <= 1 << 20);
        }
        prop_assert_eq!(state.lock().unwrap().out, out.len() as u64);
    }

    #[test]
    fn link_and_network_never_panic(lt in 0usize..LINKTYPES.len(), d in proptest::collection::vec(any::<u8>(), 0..200)) {
        if let Some(link) = decode_link(LINKTYPES[lt], &d) {
            prop_assert!(link.offset <= d.len() + 64);
            let _ = network(&d, link.ethertype, link.offset);
        }
        let _ = network(&d, 0x0800, 0);
        let _ = network(&d, 0x86DD, 0);
    }

    #[test]
    fn encapsulations_never_panic_and_stay_inside(
        kind in 0usize..4,
        head in proptest::collection::vec(any::<u8>(), 0..40),
        tail in proptest::collection::vec(any::<u8>(), 0..120),
        cut in 0usize..200,
        extra in 0u32..100,
    ) {
        // an Ethernet and IPv4 header that lead into GRE, VXLAN or GENEVE, then anything
        let (proto, lead): (u8, &[u8]) = match kind {
            0 => (47, &[0x10, 0, 0x88, 0xbe]),
            1 => (47, &[0x00, 0, 0x22, 0xeb]),
            2 => (17, &[0xc3, 0x50, 0x12, 0xb5, 0, 0, 0, 0, 0x08]),
            _ => (17, &[0xc3, 0x50, 0x17, 0xc1, 0, 0, 0, 0]),
        };
        let payload = [lead, &head, &tail].concat();
        let total = (20 + payload.len()) as u16;
        let mut d = vec![0xff; 12];
        d.extend([0x08, 0x00, 0x45, 0]);
        d.extend(total.to_be_bytes());
        d.extend([0, 1, 0, 0, 64, proto, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
        d.extend(&payload);
        let d = &d[..cut.min(d.len())];
        let wire = d.len() as u32 + extra;
        if let Some(link) = decode_link(1, d) {
            let f = open_frame(d, link, wire, &|_| true);
            prop_assert!(f.link.offset <= d.len() && f.link.end <= d.len());
            prop_assert!(f.wirelen <= wire);
            let _ = network(&d[..f.link.end], f.link.ethertype, f.link.offset);
        }
    }

    #[test]
    fn choosers_never_panic(d in proptest::collection::vec(any::<u8>(), 0..300), a in any::<u16>(), b in any::<u16>()) {
        let _ = tcp_parser(&d, a, b);
        let _ = looks_like_quic_initial(&d);
    }

    #[test]
    fn engine_never_panics_on_any_frame(lt in 0usize..LINKTYPES.len(), frames in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..120), 1..20)) {
        let mut e = engine();
        for (i, f) in frames.iter().enumerate() {
            e.packet(0, i as u64 + 1, i as f64, LINKTYPES[lt], f, f.len() as u32);
        }
        e.finish();
        prop_assert_eq!(e.packets, frames.len() as u64);
    }

    #[test]
    fn engine_never_panics_on_mutated_packets(
        tcp in any::<bool>(),
        payload in proptest::collection::vec(any::<u8>(), 0..80),
        flips in proptest::collection::vec((0usize..200, any::<u8>()), 0..8),
        cut in 0usize..200,
    ) {
        let mut e = engine();
        for round in 0..3u64 {
            let mut p = packet(tcp, &payload);
            for &(at, v) in &flips {
                if at < p.len() {
                    p[at] = v;
                }
            }
            if round == 2 {
                p.truncate(cut.min(p.len()));
            }
            e.packet(0, round + 1, round as f64, 1, &p, p.len() as u32);
        }
        e.finish();
        prop_assert_eq!(e.panics, 0);
    }

    #[test]
    fn reassembly_never_panics_and_stays_in_budget(segs in proptest::collection::vec((any::<u32>(), any::<u8>(), proptest::collection::vec(any::<u8>(), 0..64)), 1..60)) {
        let mut budget = Budget::new(1024);
        let mut r = Reassembly::new();
        let mut out = Vec::new();
        for (seq, flags, data) in &segs {
            r.segment((*flags & 1) as usize, *seq, *flags, data, &mut budget, &mut out);
            prop_assert!(budget.held <= 1024 + 64);
        }
        r.flush(0, &mut budget, &mut out);
        r.flush(1, &mut budget, &mut out);
        prop_assert_eq!(budget.held, 0);
    }

    #[test]
    fn a_stream_delivered_whole_and_reordered_misses_nothing(
        base in any::<u32>(),
        lens in proptest::collection::vec(1u32..1500, 1..40),
        order in proptest::collection::vec(any::<u16>(), 40),
        acks in proptest::collection::vec(any::<bool>(), 40),
    ) {
        // consecutive segments, the first seen first (it sets where the count starts),
        // the others reordered within runs of three (fewer holes open at once than a
        // direction keeps), each perhaps acknowledged as it is sent
        let mut segs = Vec::new();
        let mut seq = base;
        for &n in &lens {
            segs.push((seq, n));
            seq = seq.wrapping_add(n);
        }
        let mut rest: Vec<usize> = (1..segs.len()).collect();
        rest.sort_by_key(|&i| (i / 3, order[i]));
        let mut t = SeqTrack::default();
        let mut m = Missed::default();
        for (k, i) in std::iter::once(0).chain(rest).enumerate() {
            let (s, n) = segs[i];
            t.segment(true, 0x18, s, 0, n, &mut m);
            if acks[k] {
                // the receiver acknowledges what came in order so far: never above what
                // it has, so never a loss
                t.segment(false, 0x10, 0, s.wrapping_add(n), 0, &mut m);
            }
        }
        t.settle(&mut m);
        // (an ACK of a later segment ahead of an earlier one leaves the earlier one a
        // hole that it fills: nothing missed either)
        prop_assert_eq!(m, Missed::default());
    }

    #[test]
    fn what_any_segments_count_is_bounded(
        segs in proptest::collection::vec((any::<bool>(), any::<u8>(), any::<u32>(), any::<u32>(), 0u32..70000), 1..60),
    ) {
        let mut t = SeqTrack::default();
        let mut m = Missed::default();
        for &(from_a, flags, seq, ack, len) in &segs {
            t.segment(from_a, flags, seq, ack, len, &mut m);
        }
        t.settle(&mut m);
        // each segment opens at most one hole and an ACK at most one, each of at most
        // MAX_HOLE; a split leaves two pieces of one
        prop_assert!(m.gaps <= 2 * segs.len() as u64);
        prop_assert!(m.bytes <= 2 * segs.len() as u64 * MAX_HOLE as u64);
    }
}
