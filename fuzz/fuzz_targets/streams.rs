//! Stream parsers fed the input cut at the positions its first bytes name, both directions.
#![no_main]

use _core::dissect::{dns, quic, tls};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (cuts, body) = data.split_at(data.len().min(4));
    let mut tls = tls::TlsStream::new(8192);
    let mut dns = dns::DnsTcpStream::default();
    let mut quic = quic::QuicInitialParser::new();
    let mut rest = body;
    for (i, &c) in cuts.iter().enumerate() {
        let n = usize::from(c).min(rest.len());
        let (chunk, tail) = rest.split_at(n);
        let from_client = i % 2 == 0;
        let _ = tls.feed(chunk, from_client);
        let _ = dns.feed(chunk, from_client);
        let _ = quic.feed(chunk, true);
        rest = tail;
    }
    let _ = tls.feed(rest, true);
    assert!(tls.buffered() <= 2 * 8192 + data.len());
});
