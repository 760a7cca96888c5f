//! Which dissector handles which flow, mirroring `netscan/dissectors/registry.py`: UDP by
//! the server port first, then the client port (then a QUIC Initial check on the first
//! datagram); TCP by the first payload bytes (TLS record or SSLv2 hello, RTSP, SIP, HTTP
//! start lines) and port 53 for DNS over TCP.

use pyo3::prelude::*;

use super::{dhcp, dhcpv6, dns, http, nbns, ntp, quic, rtsp, sip, ssdp, tls};
use crate::events::Event;

/// The parser a UDP flow gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UdpParser {
    Dns,
    Mdns,
    Llmnr,
    Nbns,
    Dhcp,
    Dhcpv6,
    Ntp,
    Ssdp,
    Wsd,
    Sip,
    Quic,
    /// A parser that stays in Python (vendor discovery), registered for this port.
    Python(u16),
}

impl UdpParser {
    /// The name the Python registry gives the flow's application (`Flow.app`).
    pub fn name(self) -> &'static str {
        match self {
            UdpParser::Dns => "dns",
            UdpParser::Mdns => "mdns",
            UdpParser::Llmnr => "llmnr",
            UdpParser::Nbns => "nbns",
            UdpParser::Dhcp => "dhcp",
            UdpParser::Dhcpv6 => "dhcpv6",
            UdpParser::Ntp => "ntp",
            UdpParser::Ssdp => "ssdp",
            UdpParser::Wsd => "wsd",
            UdpParser::Sip => "sip",
            UdpParser::Quic => "quic",
            UdpParser::Python(_) => "python",
        }
    }

    /// The first two bytes are a transaction id (repeat suppression ignores them).
    pub fn skip_id(self) -> bool {
        matches!(
            self,
            UdpParser::Dns | UdpParser::Mdns | UdpParser::Llmnr | UdpParser::Nbns
        )
    }
}

/// The built-in port table (`UDP_PARSERS` before the vendor ports are merged in).
pub fn udp_port(port: u16) -> Option<UdpParser> {
    Some(match port {
        53 => UdpParser::Dns,
        5353 => UdpParser::Mdns,
        5355 => UdpParser::Llmnr,
        137 => UdpParser::Nbns,
        67 | 68 => UdpParser::Dhcp,
        546 | 547 => UdpParser::Dhcpv6,
        123 => UdpParser::Ntp,
        1900 => UdpParser::Ssdp,
        3702 => UdpParser::Wsd,
        5060 => UdpParser::Sip,
        _ => return None,
    })
}

fn lookup(port: u16, python_ports: &[u16]) -> Option<UdpParser> {
    udp_port(port).or_else(|| {
        python_ports
            .contains(&port)
            .then_some(UdpParser::Python(port))
    })
}

/// A parser for a new UDP flow: by the server port, then the client port, then a QUIC
/// Initial check. `python_ports` are the ports of parsers that stay in Python.
pub fn udp_parser(
    a_port: u16,
    b_port: u16,
    first_payload: &[u8],
    python_ports: &[u16],
) -> Option<UdpParser> {
    lookup(b_port, python_ports)
        .or_else(|| lookup(a_port, python_ports))
        .or_else(|| quic::looks_like_quic_initial(first_payload).then_some(UdpParser::Quic))
}

/// Events of one datagram for a stateless parser (a panic, never expected, is counted and
/// gives no events); `[]` for the parsers that are not
/// stateless Rust datagram parsers (QUIC) or not ported (WS-Discovery, vendor discovery:
/// their payloads go to the Python dissectors).
pub fn datagram(parser: UdpParser, payload: &[u8]) -> Vec<Event> {
    super::guarded(|| datagram_unguarded(parser, payload))
}

/// As [`datagram`], but None when the parser panicked.
pub fn datagram_checked(parser: UdpParser, payload: &[u8]) -> Option<Vec<Event>> {
    super::checked(|| datagram_unguarded(parser, payload))
}

impl UdpParser {
    /// Whether the core runs this parser itself (else its payloads go to Python).
    pub fn in_core(self) -> bool {
        !matches!(self, UdpParser::Wsd | UdpParser::Python(_))
    }
}

fn datagram_unguarded(parser: UdpParser, payload: &[u8]) -> Vec<Event> {
    let one = match parser {
        UdpParser::Dns => dns::event(payload, "dns"),
        UdpParser::Mdns => dns::event(payload, "mdns"),
        UdpParser::Llmnr => dns::event(payload, "llmnr"),
        UdpParser::Nbns => nbns::event(payload),
        UdpParser::Dhcp => dhcp::event(payload),
        UdpParser::Dhcpv6 => dhcpv6::event(payload),
        UdpParser::Ntp => ntp::event(payload),
        UdpParser::Ssdp => ssdp::event(payload),
        UdpParser::Sip => sip::event(payload),
        UdpParser::Wsd | UdpParser::Quic | UdpParser::Python(_) => None,
    };
    one.into_iter().collect()
}

/// Events of a datagram on a flow with these ports, by the built-in port table.
pub fn dispatch_udp(a_port: u16, b_port: u16, payload: &[u8]) -> Vec<Event> {
    match udp_port(b_port).or_else(|| udp_port(a_port)) {
        Some(p) => datagram(p, payload),
        None => Vec::new(),
    }
}

/// The parser a TCP flow gets from its first payload bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpParser {
    Tls,
    Rtsp,
    Sip,
    Http,
    Dns,
}

impl TcpParser {
    pub fn name(self) -> &'static str {
        match self {
            TcpParser::Tls => "tls",
            TcpParser::Rtsp => "rtsp",
            TcpParser::Sip => "sip",
            TcpParser::Http => "http",
            TcpParser::Dns => "dns",
        }
    }
}

const HTTP_METHODS: &[&[u8]] = &[
    b"GET ",
    b"POST ",
    b"PUT ",
    b"HEAD ",
    b"DELETE ",
    b"OPTIONS ",
    b"PATCH ",
    b"CONNECT ",
];
const RTSP_METHODS: &[&[u8]] = &[
    b"OPTIONS ",
    b"DESCRIBE ",
    b"SETUP ",
    b"PLAY ",
    b"PAUSE ",
    b"TEARDOWN ",
    b"ANNOUNCE ",
    b"RECORD ",
    b"GET_PARAMETER ",
    b"SET_PARAMETER ",
    b"REDIRECT ",
];
const SIP_METHODS: &[&[u8]] = &[
    b"REGISTER ",
    b"INVITE ",
    b"ACK ",
    b"BYE ",
    b"CANCEL ",
    b"MESSAGE ",
    b"SUBSCRIBE ",
    b"NOTIFY ",
    b"INFO ",
    b"OPTIONS ",
];

/// Python's `bytes.rstrip()` (ASCII white space).
pub fn rstrip(b: &[u8]) -> &[u8] {
    let mut end = b.len();
    while end > 0 && matches!(b[end - 1], b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c) {
        end -= 1;
    }
    &b[..end]
}

fn starts_any(line: &[u8], prefixes: &[&[u8]]) -> bool {
    prefixes.iter().any(|p| line.starts_with(p))
}

/// Choose a stream parser from the first payload bytes seen on a TCP flow.
pub fn tcp_parser(first: &[u8], a_port: u16, b_port: u16) -> Option<TcpParser> {
    if first.len() >= 3 && first[0] == 0x16 && first[1] == 0x03 {
        return Some(TcpParser::Tls);
    }
    if first.len() >= 5
        && first[0] & 0x80 != 0
        && first[2] == 0x01
        && matches!(first[3], 0x00 | 0x03)
    {
        return Some(TcpParser::Tls);
    }
    let line = match first.iter().position(|&c| c == b'\n') {
        Some(i) => &first[..i],
        None => &first[..first.len().min(200)],
    };
    let stripped = rstrip(line);
    if line.starts_with(b"RTSP/1.") || stripped.ends_with(b"RTSP/1.0") {
        return Some(TcpParser::Rtsp);
    }
    if line.starts_with(b"SIP/2.0")
        || (stripped.ends_with(b"SIP/2.0") && starts_any(line, SIP_METHODS))
    {
        return Some(TcpParser::Sip);
    }
    if starts_any(line, HTTP_METHODS) || line.starts_with(b"HTTP/1.") {
        return Some(TcpParser::Http);
    }
    if starts_any(line, RTSP_METHODS) && (a_port == 554 || b_port == 554) {
        return Some(TcpParser::Rtsp);
    }
    if b_port == 53 || a_port == 53 {
        return Some(TcpParser::Dns);
    }
    None
}

/// A Rust stream parser for one flow (the engine keeps one per flow that needs state).
pub enum Stream {
    Tls(tls::TlsStream),
    Dns(dns::DnsTcpStream),
    Quic(quic::QuicInitialParser),
    Http(Box<http::HttpStream>),
    Rtsp(Box<rtsp::RtspStream>),
    Sip(Box<sip::SipStream>),
}

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.class_name())
    }
}

impl Stream {
    /// The Rust stream parser for a TCP flow (every TCP parser runs in the core); an HTTP
    /// stream keeps the responses to the requests under `response_prefixes`.
    pub fn for_tcp(
        parser: TcpParser,
        response_prefixes: &http::ResponsePrefixes,
        bodies: &http::BodyBudget,
    ) -> Option<Self> {
        Some(match parser {
            TcpParser::Tls => Stream::Tls(tls::TlsStream::default()),
            TcpParser::Dns => Stream::Dns(dns::DnsTcpStream::default()),
            TcpParser::Http => Stream::Http(Box::new(
                http::HttpStream::new(http::HTTP_MAX_MESSAGES, http::DEFAULT_BODY_CAP)
                    .with_response_prefixes(response_prefixes.clone())
                    .with_bodies(bodies.clone()),
            )),
            TcpParser::Rtsp => Stream::Rtsp(Box::default()),
            TcpParser::Sip => Stream::Sip(Box::default()),
        })
    }

    /// The Rust stream parser for a UDP flow (QUIC only; the others are datagram parsers).
    pub fn for_udp(parser: UdpParser) -> Option<Self> {
        (parser == UdpParser::Quic).then(|| Stream::Quic(quic::QuicInitialParser::new()))
    }

    /// In-order payload of one direction, seen in frame `frame`.
    pub fn feed(&mut self, data: &[u8], from_client: bool, frame: u64) -> Vec<Event> {
        self.feed_checked(data, from_client, frame)
            .unwrap_or_default()
    }

    /// As [`Stream::feed`], but None when the parser panicked.
    pub fn feed_checked(
        &mut self,
        data: &[u8],
        from_client: bool,
        frame: u64,
    ) -> Option<Vec<Event>> {
        super::checked(|| match self {
            Stream::Tls(s) => s.feed(data, from_client),
            Stream::Dns(s) => s.feed(data, from_client),
            Stream::Quic(s) => s.feed(data, from_client),
            Stream::Http(s) => s.feed(data, from_client, frame),
            Stream::Rtsp(s) => s.feed(data, from_client),
            Stream::Sip(s) => s.feed(data, from_client),
        })
    }

    /// `lost` bytes of one direction (0: not known) were lost just before the next feed
    /// (only the HTTP parser goes on past them or looks for the next message; the others
    /// go on as their Python twins do); None when the parser panicked.
    pub fn gap_checked(&mut self, from_client: bool, frame: u64, lost: u64) -> Option<Vec<Event>> {
        super::checked(|| match self {
            Stream::Http(s) => s.gap(from_client, frame, lost),
            _ => Vec::new(),
        })
    }

    /// No more bytes will come: what is in progress is reported (HTTP bodies, SIP
    /// messages whose body was arriving); None when the parser panicked.
    pub fn close_checked(&mut self, frame: u64) -> Option<Vec<Event>> {
        super::checked(|| match self {
            Stream::Http(s) => s.close(frame),
            Stream::Rtsp(s) => s.close(),
            Stream::Sip(s) => s.close(),
            _ => Vec::new(),
        })
    }

    /// The name of the matching Python class (dissector errors are counted by it).
    pub fn class_name(&self) -> &'static str {
        match self {
            Stream::Tls(_) => "TlsStream",
            Stream::Dns(_) => "DnsTcpStream",
            Stream::Quic(_) => "QuicInitialParser",
            Stream::Http(_) => "HttpStream",
            Stream::Rtsp(_) => "RtspStream",
            Stream::Sip(_) => "SipStream",
        }
    }

    /// No more bytes wanted from either direction.
    pub fn done(&self) -> bool {
        match self {
            Stream::Tls(s) => s.done(),
            Stream::Dns(s) => s.done,
            Stream::Quic(s) => s.done,
            Stream::Http(s) => s.done,
            Stream::Rtsp(s) => s.done,
            Stream::Sip(s) => s.done,
        }
    }
}

/// `(name, port)` of the parser a UDP flow gets: name as in `registry.udp_parser`, or
/// "python" with the port for `python_ports`; None when no parser applies.
#[pyfunction]
#[pyo3(signature = (a_port, b_port, first_payload, python_ports = Vec::new()))]
fn udp_parser_name(
    a_port: u16,
    b_port: u16,
    first_payload: &[u8],
    python_ports: Vec<u16>,
) -> Option<(&'static str, u16)> {
    udp_parser(a_port, b_port, first_payload, &python_ports).map(|p| match p {
        UdpParser::Python(port) => ("python", port),
        other => (other.name(), 0),
    })
}

/// The name of the stream parser `registry.tcp_parser` picks, or None.
#[pyfunction]
fn tcp_parser_name(first: &[u8], a_port: u16, b_port: u16) -> Option<&'static str> {
    tcp_parser(first, a_port, b_port).map(TcpParser::name)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(udp_parser_name, m)?)?;
    m.add_function(wrap_pyfunction!(tcp_parser_name, m)?)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tcp_choices() {
        assert_eq!(
            tcp_parser(b"\x16\x03\x01\x00", 50000, 443),
            Some(TcpParser::Tls)
        );
        assert_eq!(
            tcp_parser(b"\x80\x2e\x01\x03\x01", 50000, 443),
            Some(TcpParser::Tls)
        );
        assert_eq!(
            tcp_parser(b"DESCRIBE rtsp://x/ RTSP/1.0\r\n", 1, 2),
            Some(TcpParser::Rtsp)
        );
        assert_eq!(
            tcp_parser(b"OPTIONS sip:x SIP/2.0\r\n", 1, 2),
            Some(TcpParser::Sip)
        );
        assert_eq!(
            tcp_parser(b"OPTIONS * HTTP/1.1\r\n", 1, 2),
            Some(TcpParser::Http)
        );
        assert_eq!(tcp_parser(b"PLAY x\r\n", 1, 554), Some(TcpParser::Rtsp));
        assert_eq!(tcp_parser(b"PLAY x\r\n", 1, 555), None);
        assert_eq!(tcp_parser(b"\x00\x1c", 1, 53), Some(TcpParser::Dns));
    }

    #[test]
    fn streams_for_the_engine() {
        let none = http::ResponsePrefixes::default();
        let mut s = Stream::for_tcp(TcpParser::Dns, &none, &Default::default()).unwrap();
        assert!(s.feed(b"\x00\x05hello", true, 1).is_empty());
        assert!(s.done());
        let mut h = Stream::for_tcp(TcpParser::Http, &none, &Default::default()).unwrap();
        assert_eq!(h.feed(b"GET / HTTP/1.1\r\n\r\n", true, 1).len(), 1);
        assert_eq!(h.class_name(), "HttpStream");
        assert!(Stream::for_udp(UdpParser::Quic).is_some());
        assert!(Stream::for_udp(UdpParser::Dns).is_none());
        assert_eq!(dispatch_udp(40000, 123, &[0x23, 2, 0, 0]).len(), 0);
        let mut ntp = vec![0u8; 48];
        ntp[0] = 0x23;
        assert_eq!(dispatch_udp(40000, 123, &ntp).len(), 1);
    }

    #[test]
    fn udp_choices() {
        assert_eq!(udp_parser(53, 40000, b"", &[]), Some(UdpParser::Dns));
        assert_eq!(udp_parser(5353, 5353, b"", &[]), Some(UdpParser::Mdns));
        assert_eq!(
            udp_parser(1234, 37020, b"", &[37020]),
            Some(UdpParser::Python(37020))
        );
        assert_eq!(udp_parser(1234, 4321, b"\x00", &[]), None);
    }
}
