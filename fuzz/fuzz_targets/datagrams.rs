//! Every datagram parser on the same bytes: none may panic.
#![no_main]

use _core::dissect::{dhcp, dhcpv6, dns, nbns, ntp, registry, sip, ssdp};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = dns::parse(data);
    let _ = nbns::event(data);
    let _ = dhcp::event(data);
    let _ = dhcpv6::event(data);
    let _ = ntp::event(data);
    let _ = ssdp::event(data);
    let _ = sip::event(data);
    let _ = registry::udp_parser(1, 2, data, &[]);
    let _ = registry::tcp_parser(data, 1, 2);
});
