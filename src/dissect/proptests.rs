//! Property tests: every parser takes any byte slice, and mutated well-formed messages,
//! without panicking; stream parsers stay within their buffer bounds whatever they are fed.

use proptest::prelude::*;

use super::framer::{CHUNK_LINE_CAP, START_LINE_CAP, SYNC_SCAN};
use super::text::HEADER_BLOCK_CAP;
use super::{dhcp, dhcpv6, dns, http, nbns, ntp, quic, registry, rtsp, sip, ssdp, text, tls, x509};

/// Well-formed seeds: a DNS response, an NBNS registration, a DHCP discover, a DHCPv6
/// solicit and a TLS ClientHello record.
fn seeds() -> Vec<Vec<u8>> {
    let mut dns_msg = vec![0x12, 0x34, 0x81, 0x80, 0, 1, 0, 2, 0, 0, 0, 1];
    dns_msg.extend_from_slice(b"\x03www\x07example\x03com\x00\x00\x01\x00\x01");
    dns_msg.extend_from_slice(b"\xc0\x0c\x00\x05\x00\x01\x00\x00\x00\x3c\x00\x05\x02ab\xc0\x10");
    dns_msg.extend_from_slice(b"\xc0\x2d\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\x01\x02\x03\x04");
    dns_msg.extend_from_slice(b"\xc0\x10\x00\x10\x00\x01\x00\x00\x00\x3c\x00\x04\x03a=b");
    let mut nb = vec![0, 1, 0x29, 0x10, 0, 1, 0, 0, 0, 0, 0, 1, 32];
    nb.extend(std::iter::repeat_n(b'E', 30));
    nb.extend_from_slice(b"AA\x00\x00\x20\x00\x01\xc0\x0c\x00\x20\x00\x01\x00\x00\x00\x00\x00\x06\x00\x00\x0a\x00\x00\x05");
    let mut dh = vec![0u8; 240];
    dh[0] = 1;
    dh[2] = 6;
    dh[236..240].copy_from_slice(&[0x63, 0x82, 0x53, 0x63]);
    dh.extend_from_slice(&[
        53, 1, 1, 12, 3, b'c', b'a', b'm', 52, 1, 3, 81, 5, 4, 0, 0, 1, b'x', 255,
    ]);
    let mut v6 = vec![1, 0, 0, 1, 0, 1, 0, 4, 0, 3, 0, 1];
    v6.extend_from_slice(&[
        0, 16, 0, 8, 0, 0, 1, 55, 0, 2, b'a', b'b', 0, 39, 0, 4, 0, 2, b'p', b'c',
    ]);
    let body = tls::tests::hello();
    let mut rec = vec![22, 3, 1];
    rec.extend_from_slice(&((body.len() + 4) as u16).to_be_bytes());
    rec.push(1);
    rec.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    rec.extend_from_slice(&body);
    vec![dns_msg, nb, dh, v6, rec]
}

fn all_parsers(data: &[u8]) {
    let _ = dns::parse(data);
    let _ = dns::event(data, "mdns");
    let _ = nbns::event(data);
    let _ = dhcp::event(data);
    let _ = dhcpv6::event(data);
    let _ = ntp::event(data);
    let _ = ssdp::event(data);
    let _ = sip::event(data);
    if let Some(h) = text::parse_head(data, &["HTTP/", "RTSP/"], Some(sip::compact_name)) {
        let _ = http::head_event(&h);
        let _ = http::auth_realm(h.headers.iter().map(|(_, v)| v.as_str()));
    }
    let _ = text::media_type(std::str::from_utf8(data).ok());
    let _ = tls::parse_client_hello(data);
    let _ = tls::parse_sslv2_client_hello(data);
    let _ = tls::parse_certificate(data);
    let _ = tls::server_selected_version(data);
    let _ = x509::describe(data);
    let _ = quic::looks_like_quic_initial(data);
    let _ = registry::tcp_parser(data, 1, 2);
    let _ = registry::udp_parser(1, 2, data, &[]);
    let mut q = quic::QuicInitialParser::new();
    let _ = q.feed(data, true);
}

fn mutated() -> impl Strategy<Value = Vec<u8>> {
    let seeds = seeds();
    (
        0..seeds.len(),
        prop::collection::vec((any::<usize>(), any::<u8>()), 1..8),
        any::<usize>(),
    )
        .prop_map(move |(i, edits, cut)| {
            let mut v = seeds[i].clone();
            for (pos, byte) in edits {
                let n = v.len();
                v[pos % n] = byte;
            }
            let keep = v.len() - cut % (v.len() / 4 + 1);
            v.truncate(keep);
            v
        })
}

/// Pieces of HTTP, RTSP and SIP streams: start lines, headers that frame bodies, chunk
/// lines, interleaved frames, picture bytes, garbage.
const TEXT_PIECES: &[&[u8]] = &[
    b"GET /a HTTP/1.1\r\n",
    b"POST /upload HTTP/1.1\r\n",
    b"GET /iclock/getrequest?SN=1 HTTP/1.1\r\n",
    b"HTTP/1.1 200 OK\r\n",
    b"HTTP/1.0 101 Switching\r\n",
    b"HTTP/1.1 100 Continue\r\n\r\n",
    b"DESCRIBE rtsp://c/ RTSP/1.0\r\n",
    b"RTSP/1.0 200 OK\r\n",
    b"REGISTER sip:a SIP/2.0\r\n",
    b"SIP/2.0 200 OK\r\n",
    b"Content-Length: 5\r\n",
    b"Content-Length: 70000\r\n",
    b"l: 9\r\n",
    b"Transfer-Encoding: chunked\r\n",
    b"Content-Type: image/jpeg\r\n",
    b"Content-Type: multipart/form-data; boundary=b\r\n",
    b"CSeq: 3\r\n",
    b"WWW-Authenticate: Digest realm=\"x\"\r\n",
    b"\r\n",
    b"\n",
    b"5\r\nhello\r\n",
    b"0\r\n\r\n",
    b"fffffff\r\n",
    b"$\x00\x00\x08abcdefgh",
    b"$\x01\xff\xff",
    b"\xff\xd8\xff\xe0JFIF\x00\x01\x02",
    b"\x89PNG\r\n\x1a\n",
    b"\x00\x01\x02\x03",
    b" HTTP/1.1 junk",
    b"X-Long: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n",
];

/// A stream of pieces and random bytes, cut into segments, some after lost bytes:
/// (segments as (from_client, gap before, bytes)).
fn text_stream() -> impl Strategy<Value = Vec<(bool, bool, Vec<u8>)>> {
    prop::collection::vec(
        (
            any::<bool>(),
            prop::bool::weighted(0.05),
            prop::collection::vec(
                prop_oneof![
                    4 => (0..TEXT_PIECES.len()).prop_map(|i| TEXT_PIECES[i].to_vec()),
                    1 => prop::collection::vec(any::<u8>(), 0..40),
                    1 => (1usize..5000).prop_map(|n| vec![b'z'; n]),
                ],
                0..12,
            )
            .prop_map(|v| v.concat()),
        ),
        0..60,
    )
}

/// What any text stream parser may hold between feeds: per direction a header block or a
/// start-line search window and one segment, plus the bodies being kept.
fn text_bound(segment: usize, bodies: usize) -> usize {
    let framing = HEADER_BLOCK_CAP
        .max(SYNC_SCAN + START_LINE_CAP)
        .max(CHUNK_LINE_CAP)
        + 3;
    2 * (framing + segment) + bodies
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn any_bytes_parse_or_error(data in prop::collection::vec(any::<u8>(), 0..1500)) {
        all_parsers(&data);
    }

    #[test]
    fn mutated_messages_parse_or_error(data in mutated()) {
        all_parsers(&data);
        // DNS-over-TCP framing around it
        let mut framed = (data.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(&data);
        let mut s = dns::DnsTcpStream::default();
        let _ = s.feed(&framed, true);
    }

    #[test]
    fn tls_stream_stays_bounded(
        chunks in prop::collection::vec((any::<bool>(), prop::collection::vec(any::<u8>(), 0..600)), 0..40),
        seed in mutated(),
    ) {
        let mut s = tls::TlsStream::new(4096);
        let _ = s.feed(&seed, true);
        for (from_client, chunk) in &chunks {
            let _ = s.feed(chunk, *from_client);
        }
        prop_assert!(s.buffered() <= 2 * 4096 + 600);
    }

    #[test]
    fn dns_names_are_bounded(data in prop::collection::vec(any::<u8>(), 12..700)) {
        if let Ok(msg) = dns::parse(&data) {
            for (name, _) in &msg.queries {
                // 255 wire bytes at most, each byte at most 3 UTF-8 bytes once replaced
                prop_assert!(name.len() <= 3 * 255);
            }
        }
    }

    #[test]
    fn text_streams_never_panic_and_stay_bounded(segments in text_stream(), cap in 0usize..3000) {
        let mut h = http::HttpStream::new(http::HTTP_MAX_MESSAGES, cap);
        let mut r = rtsp::RtspStream::default();
        let mut s = sip::SipStream::default();
        let mut longest = 0;
        for (from_client, gap, data) in &segments {
            longest = longest.max(data.len());
            if *gap {
                let _ = h.gap(*from_client, 7, data.len() as u64 % 97); // known or not (0)
            }
            for ev in h.feed(data, *from_client, 7) {
                if let crate::events::Event::HttpBody(b) = ev {
                    prop_assert!(b.body.len() <= cap);
                }
            }
            let _ = r.feed(data, *from_client);
            for ev in s.feed(data, *from_client) {
                if let crate::events::Event::Sip(e) = ev {
                    prop_assert!(e.body.len() <= 3 * sip::BODY_CAP);
                }
            }
            prop_assert!(h.held() <= text_bound(longest, cap));
            prop_assert!(r.held() <= text_bound(longest, 0));
            prop_assert!(s.held() <= text_bound(longest, 2 * sip::BODY_CAP));
        }
        let _ = h.close(8);
        let _ = s.close();
        prop_assert!(h.done && r.close().is_empty());
    }

    #[test]
    fn text_streams_give_the_same_heads_however_cut(
        segments in text_stream(),
        cuts in prop::collection::vec(any::<usize>(), 1..6),
    ) {
        // one direction, no lost bytes: where the segments end must not matter
        let whole: Vec<u8> = segments.iter().flat_map(|(_, _, d)| d.clone()).collect();
        let mut points: Vec<usize> = cuts.iter().map(|c| c % (whole.len() + 1)).collect();
        points.push(0);
        points.push(whole.len());
        points.sort_unstable();
        let mut one = http::HttpStream::new(http::HTTP_MAX_MESSAGES, 1000);
        let mut cut = http::HttpStream::new(http::HTTP_MAX_MESSAGES, 1000);
        let a = one.feed(&whole, true, 1);
        let mut b = Vec::new();
        for w in points.windows(2) {
            b.extend(cut.feed(&whole[w[0]..w[1]], true, 1));
        }
        let heads = |v: &[crate::events::Event]| {
            v.iter()
                .filter(|e| !matches!(e, crate::events::Event::HttpBody(_)))
                .cloned()
                .collect::<Vec<_>>()
        };
        prop_assert_eq!(heads(&a), heads(&b));
    }
}
