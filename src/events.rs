//! The Rust mirror of `netscan/events.py`: the protocol facts the Rust dissectors produce,
//! and their conversion into the Python event dataclasses (with their `Ctx`), so that the
//! Python side sees exactly what the Python dissectors produce.
//!
//! Dissectors return [`Event`]s without a context; the caller (the engine, or the testing
//! functions in `dissect`) attaches the packet context when it converts them.

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyDict, PyList, PyTuple};

/// Where an event was seen (mirror of `netscan.events.Ctx`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Ctx {
    pub file: u32,
    pub frame: u64,
    pub ts: f64,
    pub src_mac: Option<String>,
    pub dst_mac: Option<String>,
    pub src_ip: Option<String>,
    pub dst_ip: Option<String>,
    pub sport: u16,
    pub dport: u16,
    /// "tcp", "udp", "" for non-IP
    pub transport: &'static str,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DnsRecord {
    pub name: String,
    pub rtype: String,
    pub value: String,
    pub ttl: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DnsEvent {
    /// "dns" | "mdns" | "llmnr"
    pub proto: &'static str,
    pub is_response: bool,
    pub rcode: u8,
    pub queries: Vec<(String, String)>,
    pub answers: Vec<DnsRecord>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct NbnsEvent {
    pub is_response: bool,
    pub opcode: u8,
    pub name: String,
    pub suffix: u8,
    pub addresses: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct DhcpEvent {
    pub msg_type: u8,
    pub client_mac: String,
    pub your_ip: Option<String>,
    pub hostname: Option<String>,
    pub requested_ip: Option<String>,
    pub param_request_list: Vec<u8>,
    pub vendor_class: Option<String>,
    pub client_id: Option<String>,
    pub fqdn: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Dhcpv6Event {
    pub msg_type: u8,
    pub duid: Option<String>,
    pub vendor_class: Option<String>,
    pub enterprise: Option<u32>,
    pub fqdn: Option<String>,
    pub addresses: Vec<String>,
    pub prefixes: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct TlsClientHelloEvent {
    pub sni: Option<String>,
    pub alpn: Vec<String>,
    pub versions: Vec<u16>,
    pub ja3: String,
    pub ja3_hash: String,
    pub ja4: String,
    pub quic: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct TlsCertificateEvent {
    pub subject: String,
    pub issuer: String,
    pub san: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct NtpEvent {
    pub version: u8,
    pub mode: u8,
    pub stratum: u8,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct SsdpEvent {
    pub method: String,
    pub server: Option<String>,
    pub usn: Option<String>,
    pub nt: Option<String>,
    pub nts: Option<String>,
    pub location: Option<String>,
    pub user_agent: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct HttpRequestEvent {
    pub method: String,
    pub path: String,
    pub version: String,
    pub host: Option<String>,
    pub user_agent: Option<String>,
    pub content_type: Option<String>,
    pub content_length: Option<u64>,
    pub boundary: Option<String>,
    /// lower-case names, first value, in first-seen order
    pub headers: Vec<(String, String)>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct HttpResponseEvent {
    pub status: u16,
    pub reason: String,
    pub version: String,
    pub server: Option<String>,
    pub content_type: Option<String>,
    pub content_length: Option<u64>,
    pub headers: Vec<(String, String)>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct HttpBodyEvent {
    pub method: String,
    pub path: String,
    pub host: Option<String>,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
    pub complete: bool,
    pub first_frame: u64,
    pub last_frame: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct RtspEvent {
    pub is_response: bool,
    pub method: String,
    pub url: String,
    pub status: u16,
    pub server: Option<String>,
    pub user_agent: Option<String>,
    pub realm: Option<String>,
    pub headers: Vec<(String, String)>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct SipEvent {
    pub is_response: bool,
    pub method: String,
    pub status: u16,
    pub request_uri: String,
    pub from_uri: String,
    pub to_uri: String,
    pub user_agent: Option<String>,
    pub server: Option<String>,
    pub content_type: Option<String>,
    pub body: String,
}

/// Every event kind the Rust dissectors produce.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Event {
    Dns(DnsEvent),
    Nbns(NbnsEvent),
    Dhcp(DhcpEvent),
    Dhcpv6(Dhcpv6Event),
    TlsClientHello(TlsClientHelloEvent),
    TlsCertificate(TlsCertificateEvent),
    Ntp(NtpEvent),
    Ssdp(SsdpEvent),
    HttpRequest(HttpRequestEvent),
    HttpResponse(HttpResponseEvent),
    HttpBody(HttpBodyEvent),
    Rtsp(RtspEvent),
    Sip(SipEvent),
}

impl Event {
    /// The `kind` string of the matching Python event class.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::Dns(_) => "dns",
            Event::Nbns(_) => "nbns",
            Event::Dhcp(_) => "dhcp",
            Event::Dhcpv6(_) => "dhcpv6",
            Event::TlsClientHello(_) => "tls_client_hello",
            Event::TlsCertificate(_) => "tls_certificate",
            Event::Ntp(_) => "ntp",
            Event::Ssdp(_) => "ssdp",
            Event::HttpRequest(_) => "http_request",
            Event::HttpResponse(_) => "http_response",
            Event::HttpBody(_) => "http_body",
            Event::Rtsp(_) => "rtsp",
            Event::Sip(_) => "sip",
        }
    }
}

/// The Python classes of `netscan.events`, looked up once.
struct Classes {
    ctx: Py<PyAny>,
    dns_record: Py<PyAny>,
    dns: Py<PyAny>,
    nbns: Py<PyAny>,
    dhcp: Py<PyAny>,
    dhcpv6: Py<PyAny>,
    tls_hello: Py<PyAny>,
    tls_cert: Py<PyAny>,
    ntp: Py<PyAny>,
    ssdp: Py<PyAny>,
    http_req: Py<PyAny>,
    http_resp: Py<PyAny>,
    http_body: Py<PyAny>,
    rtsp: Py<PyAny>,
    sip: Py<PyAny>,
}

static CLASSES: PyOnceLock<Classes> = PyOnceLock::new();

fn classes(py: Python<'_>) -> PyResult<&Classes> {
    CLASSES.get_or_try_init(py, || {
        let m = py.import("netscan.events")?;
        let get = |name: &str| -> PyResult<Py<PyAny>> { Ok(m.getattr(name)?.unbind()) };
        Ok(Classes {
            ctx: get("Ctx")?,
            dns_record: get("DnsRecord")?,
            dns: get("DnsEvent")?,
            nbns: get("NbnsEvent")?,
            dhcp: get("DhcpEvent")?,
            dhcpv6: get("Dhcpv6Event")?,
            tls_hello: get("TlsClientHelloEvent")?,
            tls_cert: get("TlsCertificateEvent")?,
            ntp: get("NtpEvent")?,
            ssdp: get("SsdpEvent")?,
            http_req: get("HttpRequestEvent")?,
            http_resp: get("HttpResponseEvent")?,
            http_body: get("HttpBodyEvent")?,
            rtsp: get("RtspEvent")?,
            sip: get("SipEvent")?,
        })
    })
}

impl Ctx {
    /// A `netscan.events.Ctx` instance.
    pub fn to_py<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let c = classes(py)?;
        let args = (
            self.file,
            self.frame,
            self.ts,
            self.src_mac.as_deref(),
            self.dst_mac.as_deref(),
            self.src_ip.as_deref(),
            self.dst_ip.as_deref(),
            self.sport,
            self.dport,
            self.transport,
        );
        c.ctx.bind(py).call1(args)
    }
}

fn headers_dict<'py>(
    py: Python<'py>,
    headers: &[(String, String)],
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    for (k, v) in headers {
        d.set_item(k, v)?;
    }
    Ok(d)
}

fn str_pairs<'py>(py: Python<'py>, pairs: &[(String, String)]) -> PyResult<Bound<'py, PyList>> {
    let items = pairs
        .iter()
        .map(|(a, b)| PyTuple::new(py, [a.as_str(), b.as_str()]))
        .collect::<PyResult<Vec<_>>>()?;
    PyList::new(py, items)
}

impl Event {
    /// The matching `netscan.events` dataclass instance, with `ctx` (a Python `Ctx`).
    pub fn to_py<'py>(
        &self,
        py: Python<'py>,
        ctx: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let c = classes(py)?;
        let kw = PyDict::new(py);
        kw.set_item(intern!(py, "ctx"), ctx)?;
        let cls = match self {
            Event::Dns(e) => {
                kw.set_item(intern!(py, "proto"), e.proto)?;
                kw.set_item(intern!(py, "is_response"), e.is_response)?;
                kw.set_item(intern!(py, "rcode"), e.rcode)?;
                kw.set_item(intern!(py, "queries"), str_pairs(py, &e.queries)?)?;
                let rec_cls = c.dns_record.bind(py);
                let answers = PyList::empty(py);
                for r in &e.answers {
                    let rk = PyDict::new(py);
                    rk.set_item(intern!(py, "name"), &r.name)?;
                    rk.set_item(intern!(py, "rtype"), &r.rtype)?;
                    rk.set_item(intern!(py, "value"), &r.value)?;
                    rk.set_item(intern!(py, "ttl"), r.ttl)?;
                    answers.append(rec_cls.call((), Some(&rk))?)?;
                }
                kw.set_item(intern!(py, "answers"), answers)?;
                &c.dns
            }
            Event::Nbns(e) => {
                kw.set_item(intern!(py, "is_response"), e.is_response)?;
                kw.set_item(intern!(py, "opcode"), e.opcode)?;
                kw.set_item(intern!(py, "name"), &e.name)?;
                kw.set_item(intern!(py, "suffix"), e.suffix)?;
                kw.set_item(intern!(py, "addresses"), PyList::new(py, &e.addresses)?)?;
                &c.nbns
            }
            Event::Dhcp(e) => {
                kw.set_item(intern!(py, "msg_type"), e.msg_type)?;
                kw.set_item(intern!(py, "client_mac"), &e.client_mac)?;
                kw.set_item(intern!(py, "your_ip"), &e.your_ip)?;
                kw.set_item(intern!(py, "hostname"), &e.hostname)?;
                kw.set_item(intern!(py, "requested_ip"), &e.requested_ip)?;
                // a list of ints, not bytes
                let prl: Vec<u16> = e.param_request_list.iter().map(|&b| u16::from(b)).collect();
                kw.set_item(intern!(py, "param_request_list"), PyList::new(py, prl)?)?;
                kw.set_item(intern!(py, "vendor_class"), &e.vendor_class)?;
                kw.set_item(intern!(py, "client_id"), &e.client_id)?;
                kw.set_item(intern!(py, "fqdn"), &e.fqdn)?;
                &c.dhcp
            }
            Event::Dhcpv6(e) => {
                kw.set_item(intern!(py, "msg_type"), e.msg_type)?;
                kw.set_item(intern!(py, "duid"), &e.duid)?;
                kw.set_item(intern!(py, "vendor_class"), &e.vendor_class)?;
                kw.set_item(intern!(py, "enterprise"), e.enterprise)?;
                kw.set_item(intern!(py, "fqdn"), &e.fqdn)?;
                kw.set_item(intern!(py, "addresses"), PyList::new(py, &e.addresses)?)?;
                kw.set_item(intern!(py, "prefixes"), PyList::new(py, &e.prefixes)?)?;
                &c.dhcpv6
            }
            Event::TlsClientHello(e) => {
                kw.set_item(intern!(py, "sni"), &e.sni)?;
                kw.set_item(intern!(py, "alpn"), PyList::new(py, &e.alpn)?)?;
                kw.set_item(intern!(py, "versions"), PyList::new(py, &e.versions)?)?;
                kw.set_item(intern!(py, "ja3"), &e.ja3)?;
                kw.set_item(intern!(py, "ja3_hash"), &e.ja3_hash)?;
                kw.set_item(intern!(py, "ja4"), &e.ja4)?;
                kw.set_item(intern!(py, "quic"), e.quic)?;
                &c.tls_hello
            }
            Event::TlsCertificate(e) => {
                kw.set_item(intern!(py, "subject"), &e.subject)?;
                kw.set_item(intern!(py, "issuer"), &e.issuer)?;
                kw.set_item(intern!(py, "san"), PyList::new(py, &e.san)?)?;
                &c.tls_cert
            }
            Event::Ntp(e) => {
                kw.set_item(intern!(py, "version"), e.version)?;
                kw.set_item(intern!(py, "mode"), e.mode)?;
                kw.set_item(intern!(py, "stratum"), e.stratum)?;
                &c.ntp
            }
            Event::Ssdp(e) => {
                kw.set_item(intern!(py, "method"), &e.method)?;
                kw.set_item(intern!(py, "server"), &e.server)?;
                kw.set_item(intern!(py, "usn"), &e.usn)?;
                kw.set_item(intern!(py, "nt"), &e.nt)?;
                kw.set_item(intern!(py, "nts"), &e.nts)?;
                kw.set_item(intern!(py, "location"), &e.location)?;
                kw.set_item(intern!(py, "user_agent"), &e.user_agent)?;
                &c.ssdp
            }
            Event::HttpRequest(e) => {
                kw.set_item(intern!(py, "method"), &e.method)?;
                kw.set_item(intern!(py, "path"), &e.path)?;
                kw.set_item(intern!(py, "version"), &e.version)?;
                kw.set_item(intern!(py, "host"), &e.host)?;
                kw.set_item(intern!(py, "user_agent"), &e.user_agent)?;
                kw.set_item(intern!(py, "content_type"), &e.content_type)?;
                kw.set_item(intern!(py, "content_length"), e.content_length)?;
                kw.set_item(intern!(py, "boundary"), &e.boundary)?;
                kw.set_item(intern!(py, "headers"), headers_dict(py, &e.headers)?)?;
                &c.http_req
            }
            Event::HttpResponse(e) => {
                kw.set_item(intern!(py, "status"), e.status)?;
                kw.set_item(intern!(py, "reason"), &e.reason)?;
                kw.set_item(intern!(py, "version"), &e.version)?;
                kw.set_item(intern!(py, "server"), &e.server)?;
                kw.set_item(intern!(py, "content_type"), &e.content_type)?;
                kw.set_item(intern!(py, "content_length"), e.content_length)?;
                kw.set_item(intern!(py, "headers"), headers_dict(py, &e.headers)?)?;
                &c.http_resp
            }
            Event::HttpBody(e) => {
                kw.set_item(intern!(py, "method"), &e.method)?;
                kw.set_item(intern!(py, "path"), &e.path)?;
                kw.set_item(intern!(py, "host"), &e.host)?;
                kw.set_item(intern!(py, "content_type"), &e.content_type)?;
                kw.set_item(intern!(py, "body"), PyBytes::new(py, &e.body))?;
                kw.set_item(intern!(py, "complete"), e.complete)?;
                kw.set_item(intern!(py, "first_frame"), e.first_frame)?;
                kw.set_item(intern!(py, "last_frame"), e.last_frame)?;
                &c.http_body
            }
            Event::Rtsp(e) => {
                kw.set_item(intern!(py, "is_response"), e.is_response)?;
                kw.set_item(intern!(py, "method"), &e.method)?;
                kw.set_item(intern!(py, "url"), &e.url)?;
                kw.set_item(intern!(py, "status"), e.status)?;
                kw.set_item(intern!(py, "server"), &e.server)?;
                kw.set_item(intern!(py, "user_agent"), &e.user_agent)?;
                kw.set_item(intern!(py, "realm"), &e.realm)?;
                kw.set_item(intern!(py, "headers"), headers_dict(py, &e.headers)?)?;
                &c.rtsp
            }
            Event::Sip(e) => {
                kw.set_item(intern!(py, "is_response"), e.is_response)?;
                kw.set_item(intern!(py, "method"), &e.method)?;
                kw.set_item(intern!(py, "status"), e.status)?;
                kw.set_item(intern!(py, "request_uri"), &e.request_uri)?;
                kw.set_item(intern!(py, "from_uri"), &e.from_uri)?;
                kw.set_item(intern!(py, "to_uri"), &e.to_uri)?;
                kw.set_item(intern!(py, "user_agent"), &e.user_agent)?;
                kw.set_item(intern!(py, "server"), &e.server)?;
                kw.set_item(intern!(py, "content_type"), &e.content_type)?;
                kw.set_item(intern!(py, "body"), &e.body)?;
                &c.sip
            }
        };
        cls.bind(py).call((), Some(&kw))
    }
}

/// Python list of events, all with the same `ctx`.
pub fn events_to_py<'py>(
    py: Python<'py>,
    events: &[Event],
    ctx: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyList>> {
    let out = PyList::empty(py);
    for e in events {
        out.append(e.to_py(py, ctx)?)?;
    }
    Ok(out)
}

/// Python list of events with their own contexts (the engine's batches); consecutive
/// events with an equal context share one Python `Ctx` object, as the Python engine does.
pub fn batch_to_py<'py>(py: Python<'py>, items: &[(Ctx, Event)]) -> PyResult<Bound<'py, PyList>> {
    let out = PyList::empty(py);
    let mut last: Option<(&Ctx, Bound<'py, PyAny>)> = None;
    for (ctx, event) in items {
        let py_ctx = match &last {
            Some((prev, obj)) if *prev == ctx => obj.clone(),
            _ => ctx.to_py(py)?,
        };
        out.append(event.to_py(py, &py_ctx)?)?;
        last = Some((ctx, py_ctx));
    }
    Ok(out)
}

/// A `netscan.events.Ctx` from its fields (file, frame, ts, src_mac, dst_mac, src_ip,
/// dst_ip, sport, dport, transport) as Python objects.
pub fn new_ctx<'py>(py: Python<'py>, args: Bound<'py, PyTuple>) -> PyResult<Bound<'py, PyAny>> {
    classes(py)?.ctx.bind(py).call1(args)
}

/// A Python `Ctx` from either a `Ctx` instance or a tuple of its fields.
pub fn ctx_from_py<'py>(py: Python<'py>, ctx: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    if let Ok(t) = ctx.cast::<PyTuple>() {
        return classes(py)?.ctx.bind(py).call1(t.clone());
    }
    Ok(ctx.clone())
}
