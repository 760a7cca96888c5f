//! The high-volume dissectors, one file per protocol: pure parsers over byte slices that
//! check every length before use, allocate in proportion to their input and never panic
//! (a panic would still be caught by [`guarded`] and counted).
//!
//! Each protocol has a Rust API for the engine (`dns::parse`, `dns::event`, ...), and a
//! Python function `netscan._core.dissect_<proto>(payload, ctx, ...)` returning the same
//! `netscan.events` instances as the Python dissector, for the engine and the parity tests.
//! `registry` mirrors `netscan/dissectors/registry.py`: which parser a flow gets, and
//! `registry::Stream` is the per-flow stream parser the engine keeps.
//!
//! Ported (parity-tested against the Python dissectors on the public captures, the demo and
//! scenario captures, damaged copies and the Python unit cases): DNS, mDNS, LLMNR, DNS over
//! TCP, NBNS, DHCP, DHCPv6, NTP, TLS (ClientHello with JA3/JA4, SSLv2 hellos, ServerHello,
//! certificates), QUIC Initial, SSDP, SIP over UDP, and the TCP streams of HTTP/1.x, RTSP
//! and SIP (`framer`: heads across segments, Content-Length and chunked bodies, keep-alive
//! sequences, RTSP interleaved frames, resynchronisation after lost bytes; `http`: upload
//! bodies and the kept poll responses). Still in Python: WS-Discovery and the vendor
//! discovery protocols; the registry names them so that the engine hands their payloads
//! over.
//!
//! Python entry points take `bytes` payloads and a `Ctx` (or a tuple of its fields).

pub mod dhcp;
pub mod dhcpv6;
pub mod dns;
pub mod framer;
pub mod http;
pub mod nbns;
pub mod ntp;
#[cfg(test)]
mod proptests;
pub mod quic;
pub mod registry;
pub mod rtsp;
pub mod sip;
pub mod ssdp;
pub mod text;
pub mod tls;
pub mod util;
pub mod x509;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};

use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::PyList;

use crate::events::{ctx_from_py, events_to_py, Event};

static PANICS: AtomicU64 = AtomicU64::new(0);

/// Run a parser; a panic (a bug, never expected) becomes "no events" and is counted.
pub fn guarded<F: FnOnce() -> Vec<Event>>(f: F) -> Vec<Event> {
    checked(f).unwrap_or_default()
}

/// Run a parser; None (and counted) when it panicked, so the caller can count the fault
/// against the flow and stop parsing it.
pub fn checked<F: FnOnce() -> Vec<Event>>(f: F) -> Option<Vec<Event>> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(events) => Some(events),
        Err(_) => {
            PANICS.fetch_add(1, Ordering::Relaxed);
            None
        }
    }
}

/// How many dissector panics were caught since the module was loaded.
pub fn panics() -> u64 {
    PANICS.load(Ordering::Relaxed)
}

fn run<'py, F>(py: Python<'py>, ctx: &Bound<'py, PyAny>, f: F) -> PyResult<Bound<'py, PyList>>
where
    F: FnOnce() -> Vec<Event> + Send,
{
    let events = py.detach(|| guarded(f));
    if events.is_empty() {
        return Ok(PyList::empty(py));
    }
    let ctx = ctx_from_py(py, ctx)?;
    events_to_py(py, &events, &ctx)
}

/// DNS, mDNS or LLMNR message -> `[DnsEvent]` (or `[]`); `proto` is "dns", "mdns" or "llmnr".
#[pyfunction]
#[pyo3(signature = (payload, ctx, proto = "dns"))]
fn dissect_dns<'py>(
    py: Python<'py>,
    payload: PyBackedBytes,
    ctx: &Bound<'py, PyAny>,
    proto: &str,
) -> PyResult<Bound<'py, PyList>> {
    let proto: &'static str = match proto {
        "mdns" => "mdns",
        "llmnr" => "llmnr",
        "dns" => "dns",
        other => {
            return Err(pyo3::exceptions::PyValueError::new_err(format!(
                "unknown DNS flavour {other:?}"
            )))
        }
    };
    run(py, ctx, || {
        dns::event(&payload, proto).into_iter().collect()
    })
}

#[pyfunction]
fn dissect_mdns<'py>(
    py: Python<'py>,
    payload: PyBackedBytes,
    ctx: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyList>> {
    run(py, ctx, || {
        dns::event(&payload, "mdns").into_iter().collect()
    })
}

#[pyfunction]
fn dissect_llmnr<'py>(
    py: Python<'py>,
    payload: PyBackedBytes,
    ctx: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyList>> {
    run(py, ctx, || {
        dns::event(&payload, "llmnr").into_iter().collect()
    })
}

#[pyfunction]
fn dissect_nbns<'py>(
    py: Python<'py>,
    payload: PyBackedBytes,
    ctx: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyList>> {
    run(py, ctx, || nbns::event(&payload).into_iter().collect())
}

#[pyfunction]
fn dissect_dhcp<'py>(
    py: Python<'py>,
    payload: PyBackedBytes,
    ctx: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyList>> {
    run(py, ctx, || dhcp::event(&payload).into_iter().collect())
}

#[pyfunction]
fn dissect_dhcpv6<'py>(
    py: Python<'py>,
    payload: PyBackedBytes,
    ctx: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyList>> {
    run(py, ctx, || dhcpv6::event(&payload).into_iter().collect())
}

#[pyfunction]
fn dissect_ntp<'py>(
    py: Python<'py>,
    payload: PyBackedBytes,
    ctx: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyList>> {
    run(py, ctx, || ntp::event(&payload).into_iter().collect())
}

#[pyfunction]
fn dissect_ssdp<'py>(
    py: Python<'py>,
    payload: PyBackedBytes,
    ctx: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyList>> {
    run(py, ctx, || ssdp::event(&payload).into_iter().collect())
}

#[pyfunction]
fn dissect_sip<'py>(
    py: Python<'py>,
    payload: PyBackedBytes,
    ctx: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyList>> {
    run(py, ctx, || sip::event(&payload).into_iter().collect())
}

/// The event of one HTTP header block (start line and header lines, without the empty line
/// that ends it), as `HttpStream` builds it for a head: `[HttpRequestEvent]`,
/// `[HttpResponseEvent]`, or `[]` when the block is not an HTTP head.
#[pyfunction]
fn dissect_http_head<'py>(
    py: Python<'py>,
    block: PyBackedBytes,
    ctx: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyList>> {
    run(py, ctx, || {
        text::parse_head(&block, &["HTTP/"], None)
            .map(|h| http::head_event(&h))
            .into_iter()
            .collect()
    })
}

/// The parsed head of a header block as plain values, for the parity tests:
/// (is_response, version, method, target, status, reason, headers) or None.
#[allow(clippy::type_complexity)]
#[pyfunction]
#[pyo3(signature = (block, versions, sip_names = false))]
fn parse_head(
    block: PyBackedBytes,
    versions: Vec<String>,
    sip_names: bool,
) -> Option<(
    bool,
    String,
    String,
    String,
    u16,
    String,
    Vec<(String, String)>,
)> {
    let versions: Vec<&str> = versions.iter().map(String::as_str).collect();
    let map: Option<text::NameMap> = if sip_names {
        Some(sip::compact_name)
    } else {
        None
    };
    text::parse_head(&block, &versions, map).map(|h| {
        (
            h.is_response,
            h.version,
            h.method,
            h.target,
            h.status,
            h.reason,
            h.headers,
        )
    })
}

/// The realm of the first WWW-Authenticate challenge that has one (`rtsp.auth_realm`).
#[pyfunction]
fn auth_realm(values: Vec<String>) -> Option<String> {
    http::auth_realm(values.iter().map(String::as_str))
}

/// Events of one datagram on a UDP flow whose ports are `a_port` (client) and `b_port`
/// (server), as `registry.udp_parser` would parse it; `[]` for ports without a Rust parser.
#[pyfunction]
fn dissect_udp<'py>(
    py: Python<'py>,
    a_port: u16,
    b_port: u16,
    payload: PyBackedBytes,
    ctx: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyList>> {
    run(py, ctx, || registry::dispatch_udp(a_port, b_port, &payload))
}

/// Number of dissector panics caught (expected to stay 0).
#[pyfunction]
fn dissect_panics() -> u64 {
    panics()
}

/// Python-visible DNS-over-TCP stream parser (same interface as the Python stream parsers).
#[pyclass(name = "DnsTcpStream", module = "netscan._core")]
struct PyDnsTcpStream {
    inner: dns::DnsTcpStream,
}

#[pymethods]
impl PyDnsTcpStream {
    #[new]
    #[pyo3(signature = (max_messages = 200))]
    fn new(max_messages: usize) -> Self {
        Self {
            inner: dns::DnsTcpStream::new(max_messages),
        }
    }

    fn feed<'py>(
        &mut self,
        py: Python<'py>,
        data: PyBackedBytes,
        ctx: &Bound<'py, PyAny>,
        from_client: bool,
    ) -> PyResult<Bound<'py, PyList>> {
        let inner = &mut self.inner;
        run(py, ctx, || inner.feed(&data, from_client))
    }

    fn close<'py>(&mut self, py: Python<'py>, _ctx: &Bound<'py, PyAny>) -> Bound<'py, PyList> {
        PyList::empty(py)
    }

    #[getter]
    fn done(&self) -> bool {
        self.inner.done
    }
}

/// Python-visible TLS stream parser (same interface as `netscan.dissectors.tls.TlsStream`).
#[pyclass(name = "TlsStream", module = "netscan._core")]
struct PyTlsStream {
    inner: tls::TlsStream,
}

#[pymethods]
impl PyTlsStream {
    #[new]
    #[pyo3(signature = (cap = tls::DEFAULT_CAP))]
    fn new(cap: usize) -> Self {
        Self {
            inner: tls::TlsStream::new(cap),
        }
    }

    fn feed<'py>(
        &mut self,
        py: Python<'py>,
        data: PyBackedBytes,
        ctx: &Bound<'py, PyAny>,
        from_client: bool,
    ) -> PyResult<Bound<'py, PyList>> {
        let inner = &mut self.inner;
        run(py, ctx, || inner.feed(&data, from_client))
    }

    fn close<'py>(&mut self, py: Python<'py>, _ctx: &Bound<'py, PyAny>) -> Bound<'py, PyList> {
        PyList::empty(py)
    }

    #[getter]
    fn done(&self) -> bool {
        self.inner.done()
    }

    #[getter]
    fn client_hello_seen(&self) -> bool {
        self.inner.client_hello_seen
    }

    #[getter]
    fn certificate_seen(&self) -> bool {
        self.inner.certificate_seen
    }

    #[getter]
    fn overflow(&self) -> bool {
        self.inner.overflow
    }
}

/// Python-visible QUIC Initial parser (same interface as `quic.QuicInitialParser`).
#[pyclass(name = "QuicInitialParser", module = "netscan._core")]
struct PyQuicInitialParser {
    inner: quic::QuicInitialParser,
}

#[pymethods]
impl PyQuicInitialParser {
    #[new]
    fn new() -> Self {
        Self {
            inner: quic::QuicInitialParser::new(),
        }
    }

    fn feed<'py>(
        &mut self,
        py: Python<'py>,
        data: PyBackedBytes,
        ctx: &Bound<'py, PyAny>,
        from_client: bool,
    ) -> PyResult<Bound<'py, PyList>> {
        let inner = &mut self.inner;
        run(py, ctx, || inner.feed(&data, from_client))
    }

    fn close<'py>(&mut self, py: Python<'py>, _ctx: &Bound<'py, PyAny>) -> Bound<'py, PyList> {
        PyList::empty(py)
    }

    #[getter]
    fn done(&self) -> bool {
        self.inner.done
    }

    #[getter]
    fn client_hello_seen(&self) -> bool {
        self.inner.client_hello_seen
    }
}

/// The frame number of a `Ctx` (or of a tuple of its fields).
fn ctx_frame(ctx: &Bound<'_, PyAny>) -> PyResult<u64> {
    if let Ok(t) = ctx.cast::<pyo3::types::PyTuple>() {
        return t.get_item(1)?.extract();
    }
    ctx.getattr(pyo3::intern!(ctx.py(), "frame"))?.extract()
}

/// Python-visible HTTP/1.x stream parser (same interface as `http.HttpStream`).
#[pyclass(name = "HttpStream", module = "netscan._core")]
struct PyHttpStream {
    inner: http::HttpStream,
}

#[pymethods]
impl PyHttpStream {
    /// `response_prefixes`: request path prefixes whose responses are kept (none by default;
    /// ValueError beyond the bounds of `http::response_prefixes`).
    #[new]
    #[pyo3(signature = (max_messages = http::DEFAULT_MAX_MESSAGES, body_cap = http::DEFAULT_BODY_CAP,
                        response_prefixes = Vec::new()))]
    fn new(max_messages: usize, body_cap: usize, response_prefixes: Vec<String>) -> PyResult<Self> {
        let prefixes = http::response_prefixes(&response_prefixes)
            .map_err(pyo3::exceptions::PyValueError::new_err)?;
        Ok(Self {
            inner: http::HttpStream::new(max_messages, body_cap).with_response_prefixes(prefixes),
        })
    }

    fn feed<'py>(
        &mut self,
        py: Python<'py>,
        data: PyBackedBytes,
        ctx: &Bound<'py, PyAny>,
        from_client: bool,
    ) -> PyResult<Bound<'py, PyList>> {
        let frame = ctx_frame(ctx)?;
        let inner = &mut self.inner;
        run(py, ctx, || inner.feed(&data, from_client, frame))
    }

    #[pyo3(signature = (ctx, from_client, lost = 0))]
    fn gap<'py>(
        &mut self,
        py: Python<'py>,
        ctx: &Bound<'py, PyAny>,
        from_client: bool,
        lost: u64,
    ) -> PyResult<Bound<'py, PyList>> {
        let frame = ctx_frame(ctx)?;
        let inner = &mut self.inner;
        run(py, ctx, || inner.gap(from_client, frame, lost))
    }

    fn close<'py>(
        &mut self,
        py: Python<'py>,
        ctx: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyList>> {
        let frame = ctx_frame(ctx)?;
        let inner = &mut self.inner;
        run(py, ctx, || inner.close(frame))
    }

    #[getter]
    fn done(&self) -> bool {
        self.inner.done
    }

    /// Bytes held (framer buffers and the body being reassembled).
    #[getter]
    fn held(&self) -> usize {
        self.inner.held()
    }
}

/// A Python-visible stream parser over a Rust one whose `feed`/`close` need no frame
/// number (RTSP and SIP over TCP: the same interface as their Python parsers).
macro_rules! py_text_stream {
    ($(#[$doc:meta])* $py:ident, $name:literal, $inner:ty, $max:expr) => {
        $(#[$doc])*
        #[pyclass(name = $name, module = "netscan._core")]
        struct $py {
            inner: $inner,
        }

        #[pymethods]
        impl $py {
            #[new]
            #[pyo3(signature = (max_messages = $max))]
            fn new(max_messages: usize) -> Self {
                Self {
                    inner: <$inner>::new(max_messages),
                }
            }

            fn feed<'py>(
                &mut self,
                py: Python<'py>,
                data: PyBackedBytes,
                ctx: &Bound<'py, PyAny>,
                from_client: bool,
            ) -> PyResult<Bound<'py, PyList>> {
                let inner = &mut self.inner;
                run(py, ctx, || inner.feed(&data, from_client))
            }

            fn close<'py>(
                &mut self,
                py: Python<'py>,
                ctx: &Bound<'py, PyAny>,
            ) -> PyResult<Bound<'py, PyList>> {
                let inner = &mut self.inner;
                run(py, ctx, || inner.close())
            }

            #[getter]
            fn done(&self) -> bool {
                self.inner.done
            }

            #[getter]
            fn held(&self) -> usize {
                self.inner.held()
            }
        }
    };
}

py_text_stream!(
    /// Python-visible RTSP stream parser (same interface as `rtsp.RtspStream`).
    PyRtspStream,
    "RtspStream",
    rtsp::RtspStream,
    rtsp::DEFAULT_MAX_MESSAGES
);
py_text_stream!(
    /// Python-visible SIP-over-TCP stream parser (same interface as `sip.SipStream`).
    PySipStream,
    "SipStream",
    sip::SipStream,
    sip::DEFAULT_MAX_MESSAGES
);

/// ClientHello body (or whole message) -> `[TlsClientHelloEvent]` or `[]`.
#[pyfunction]
#[pyo3(signature = (hs, ctx, quic = false))]
fn dissect_client_hello<'py>(
    py: Python<'py>,
    hs: PyBackedBytes,
    ctx: &Bound<'py, PyAny>,
    quic: bool,
) -> PyResult<Bound<'py, PyList>> {
    run(py, ctx, || {
        tls::parse_client_hello(&hs)
            .map(|ch| ch.event(quic))
            .into_iter()
            .collect()
    })
}

/// (subject, issuer, san) of a DER certificate as `tls.describe_der` gives them, or None.
#[pyfunction]
fn describe_der(py: Python<'_>, der: PyBackedBytes) -> Option<(String, String, Vec<String>)> {
    py.detach(|| {
        std::panic::catch_unwind(AssertUnwindSafe(|| x509::describe(&der)))
            .ok()
            .flatten()
    })
}

/// Benchmark helper: seconds to run the Rust parser `parser` `repeat` times over every
/// payload, without building Python objects (what the engine pays). Datagram parsers take
/// each payload alone; "tls", "quic" and "tcp-dns" take each list item as one flow's
/// client-to-server chunks joined.
#[pyfunction]
fn dissect_bench(
    py: Python<'_>,
    parser: &str,
    payloads: Vec<Vec<u8>>,
    repeat: usize,
) -> PyResult<(f64, usize)> {
    let kind = match parser {
        "dns" | "mdns" | "llmnr" | "nbns" | "dhcp" | "dhcpv6" | "ntp" | "ssdp" | "sip" | "tls"
        | "quic" | "tcp-dns" | "certificate" | "http" | "rtsp" | "tcp-sip" => parser.to_string(),
        other => {
            return Err(pyo3::exceptions::PyValueError::new_err(format!(
                "no Rust parser {other:?}"
            )))
        }
    };
    Ok(py.detach(move || {
        let start = std::time::Instant::now();
        let mut events = 0usize;
        for _ in 0..repeat {
            for p in &payloads {
                events += match kind.as_str() {
                    "dns" => dns::event(p, "dns").into_iter().count(),
                    "mdns" => dns::event(p, "mdns").into_iter().count(),
                    "llmnr" => dns::event(p, "llmnr").into_iter().count(),
                    "nbns" => nbns::event(p).into_iter().count(),
                    "dhcp" => dhcp::event(p).into_iter().count(),
                    "dhcpv6" => dhcpv6::event(p).into_iter().count(),
                    "ntp" => ntp::event(p).into_iter().count(),
                    "ssdp" => ssdp::event(p).into_iter().count(),
                    "sip" => sip::event(p).into_iter().count(),
                    "tls" => tls::TlsStream::default().feed(p, true).len(),
                    "quic" => quic::QuicInitialParser::new().feed(p, true).len(),
                    "tcp-dns" => dns::DnsTcpStream::default().feed(p, true).len(),
                    "http" => http::HttpStream::default().feed(p, true, 1).len(),
                    "rtsp" => rtsp::RtspStream::default().feed(p, true).len(),
                    "tcp-sip" => sip::SipStream::default().feed(p, true).len(),
                    _ => usize::from(x509::describe(p).is_some()),
                };
            }
        }
        (start.elapsed().as_secs_f64(), events)
    }))
}

/// Add the dissectors to the extension module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(dissect_dns, m)?)?;
    m.add_function(wrap_pyfunction!(dissect_mdns, m)?)?;
    m.add_function(wrap_pyfunction!(dissect_llmnr, m)?)?;
    m.add_function(wrap_pyfunction!(dissect_nbns, m)?)?;
    m.add_function(wrap_pyfunction!(dissect_dhcp, m)?)?;
    m.add_function(wrap_pyfunction!(dissect_dhcpv6, m)?)?;
    m.add_function(wrap_pyfunction!(dissect_ntp, m)?)?;
    m.add_function(wrap_pyfunction!(dissect_ssdp, m)?)?;
    m.add_function(wrap_pyfunction!(dissect_sip, m)?)?;
    m.add_function(wrap_pyfunction!(dissect_http_head, m)?)?;
    m.add_function(wrap_pyfunction!(parse_head, m)?)?;
    m.add_function(wrap_pyfunction!(auth_realm, m)?)?;
    m.add_function(wrap_pyfunction!(dissect_udp, m)?)?;
    m.add_function(wrap_pyfunction!(dissect_panics, m)?)?;
    m.add_function(wrap_pyfunction!(dissect_client_hello, m)?)?;
    m.add_function(wrap_pyfunction!(describe_der, m)?)?;
    m.add_function(wrap_pyfunction!(dissect_bench, m)?)?;
    m.add_class::<PyDnsTcpStream>()?;
    m.add_class::<PyTlsStream>()?;
    m.add_class::<PyQuicInitialParser>()?;
    m.add_class::<PyHttpStream>()?;
    m.add_class::<PyRtspStream>()?;
    m.add_class::<PySipStream>()?;
    m.add("HTTP_MAX_MESSAGES", http::HTTP_MAX_MESSAGES)?;
    registry::register(m)?;
    Ok(())
}
