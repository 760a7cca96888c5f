//! DER certificates and TLS Certificate messages.
#![no_main]

use _core::dissect::{tls, x509};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = x509::describe(data);
    let _ = tls::parse_certificate(data);
    let _ = tls::parse_client_hello(data);
});
