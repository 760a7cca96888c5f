//! Every datagram parser on the same bytes: none may panic.
#![no_main]

use _core::dissect::{dhcp, dhcpv6, dns, http, nbns, ntp, registry, sip, ssdp, text};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = dns::parse(data);
    let _ = nbns::event(data);
    let _ = dhcp::event(data);
    let _ = dhcpv6::event(data);
    let _ = ntp::event(data);
    let _ = ssdp::event(data);
    let _ = sip::event(data);
    if let Some(h) = text::parse_head(data, &["HTTP/"], None) {
        let _ = http::head_event(&h);
    }
    let _ = registry::udp_parser(1, 2, data, &[]);
    let _ = registry::tcp_parser(data, 1, 2);
});
