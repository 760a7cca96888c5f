//! Property tests: every parser takes any byte slice, and mutated well-formed messages,
//! without panicking; stream parsers stay within their buffer bounds whatever they are fed.

use proptest::prelude::*;

use super::{dhcp, dhcpv6, dns, http, nbns, ntp, quic, registry, sip, ssdp, text, tls, x509};

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
}
