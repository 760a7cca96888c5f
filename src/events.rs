//! The Rust mirror of `netscan/events.py`: the protocol facts the Rust dissectors produce,
//! and their conversion into the Python event dataclasses (with their `Ctx`), so that the
//! Python side sees exactly what the Python dissectors produce.
//!
//! Dissectors return [`Event`]s without a context; the caller (the engine, or the testing
//! functions in `dissect`) attaches the packet context when it converts them.

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple, PyType};
use pyo3::IntoPyObjectExt;

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

/// The Python classes of `netscan.events`, looked up once, with what the fast construction
/// of their instances needs (see [`Fast`]).
struct Classes {
    /// per class (in the order of [`Slot`]): its fields' names and the default of `kind`
    /// when the class can be filled in directly, None when it must be called
    fast: Vec<Option<Fast>>,
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
        let fast = [
            "Ctx",
            "DnsRecord",
            "DnsEvent",
            "NbnsEvent",
            "DhcpEvent",
            "Dhcpv6Event",
            "TlsClientHelloEvent",
            "TlsCertificateEvent",
            "NtpEvent",
            "SsdpEvent",
            "HttpRequestEvent",
            "HttpResponseEvent",
            "HttpBodyEvent",
            "RtspEvent",
            "SipEvent",
        ]
        .iter()
        .map(|name| Fast::of(&m.getattr(*name)?))
        .collect::<PyResult<Vec<_>>>()?;
        Ok(Classes {
            fast,
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

/// Indexes of the classes in `Classes::fast`.
#[derive(Clone, Copy)]
enum Slot {
    Ctx = 0,
    DnsRecord,
    Dns,
    Nbns,
    Dhcp,
    Dhcpv6,
    TlsHello,
    TlsCert,
    Ntp,
    Ssdp,
    HttpReq,
    HttpResp,
    HttpBody,
    Rtsp,
    Sip,
}

/// A dataclass of `netscan.events` that can be built without running its Python
/// `__init__`: a plain slotted dataclass (no `__post_init__`, no `__init__`,
/// `__new__` or `__setattr__` of its own beyond the generated ones) whose every field the
/// core sets. Its instance is allocated and its fields stored directly, as the generated
/// `__init__` stores them: the same object, without a Python frame per event.
struct Fast {
    /// the fields' names in declaration order
    fields: Vec<Py<PyString>>,
    /// the class default of `kind` (events), set as the generated `__init__` sets it
    kind: Option<Py<PyAny>>,
}

impl Fast {
    fn of(cls: &Bound<'_, PyAny>) -> PyResult<Option<Fast>> {
        let py = cls.py();
        let dc = py.import("dataclasses")?;
        if !cls.is_instance_of::<PyType>() {
            return Ok(None);
        }
        if !dc.call_method1("is_dataclass", (cls,))?.is_truthy()?
            || cls.hasattr("__post_init__")?
            || !cls.hasattr("__slots__")?
        {
            return Ok(None);
        }
        // the generated __init__, the inherited __new__ and __setattr__ (not frozen)
        let object = py.import("builtins")?.getattr("object")?;
        for name in ["__new__", "__setattr__"] {
            if !cls.getattr(name)?.is(object.getattr(name)?) {
                return Ok(None);
            }
        }
        let mut fields = Vec::new();
        let mut kind = None;
        for f in dc.call_method1("fields", (cls,))?.try_iter()? {
            let f = f?;
            let name = f.getattr("name")?.cast_into::<PyString>()?;
            if name.to_cow()? == "kind" {
                kind = Some(f.getattr("default")?.unbind());
            }
            fields.push(name.unbind());
        }
        Ok(Some(Fast { fields, kind }))
    }
}

/// The field values of one event, by name, then made the Python instance.
struct Fields<'py> {
    py: Python<'py>,
    items: Vec<(Bound<'py, PyString>, Bound<'py, PyAny>)>,
}

impl<'py> Fields<'py> {
    fn new(py: Python<'py>) -> Self {
        Fields {
            py,
            items: Vec::with_capacity(12),
        }
    }

    fn set<V: IntoPyObject<'py>>(&mut self, name: &Bound<'py, PyString>, v: V) -> PyResult<()> {
        let v = v.into_bound_py_any(self.py)?;
        self.items.push((name.clone(), v));
        Ok(())
    }

    /// The instance of `cls` (index `slot` in `Classes::fast`): filled in directly when
    /// the fields given are exactly the class's (with `kind` from its default), else by
    /// calling the class with them as keywords.
    fn build(self, c: &Classes, cls: &Py<PyAny>, slot: Slot) -> PyResult<Bound<'py, PyAny>> {
        let py = self.py;
        if let Some(fast) = &c.fast[slot as usize] {
            let given = self.items.len() + usize::from(fast.kind.is_some());
            if given == fast.fields.len() {
                if let Some(obj) = fill(py, cls, fast, &self.items)? {
                    return Ok(obj);
                }
            }
        }
        let kw = PyDict::new(py);
        for (k, v) in &self.items {
            kw.set_item(k, v)?;
        }
        cls.bind(py).call((), Some(&kw))
    }
}

/// A new instance of the class `cls` with its fields stored directly; None when the
/// values given do not name exactly the class's fields (then the class is called).
fn fill<'py>(
    py: Python<'py>,
    cls: &Py<PyAny>,
    fast: &Fast,
    items: &[(Bound<'py, PyString>, Bound<'py, PyAny>)],
) -> PyResult<Option<Bound<'py, PyAny>>> {
    // every field of the class, each once (names are interned: compared by identity)
    for f in &fast.fields {
        let f = f.bind(py);
        let named =
            items.iter().any(|(k, _)| k.is(f)) || (fast.kind.is_some() && f.to_cow()? == "kind");
        if !named {
            return Ok(None);
        }
    }
    // SAFETY: `cls` is a type object (checked in `Fast::of`); PyType_GenericNew only
    // allocates an instance through the type's tp_alloc (what object.__new__ does) and
    // ignores its arguments; the pointer it returns is owned (or NULL with an error set).
    let obj = unsafe {
        let raw = pyo3::ffi::PyType_GenericNew(
            cls.as_ptr().cast::<pyo3::ffi::PyTypeObject>(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        );
        Bound::from_owned_ptr_or_err(py, raw)?
    };
    let store = |k: &Bound<'py, PyString>, v: &Bound<'py, PyAny>| -> PyResult<()> {
        // SAFETY: three valid object pointers; the generic setattr stores through the
        // class's slot descriptor (what the generated __init__'s assignments do)
        let rc =
            unsafe { pyo3::ffi::PyObject_GenericSetAttr(obj.as_ptr(), k.as_ptr(), v.as_ptr()) };
        if rc < 0 {
            return Err(PyErr::fetch(py));
        }
        Ok(())
    };
    if let Some(kind) = &fast.kind {
        store(intern!(py, "kind"), kind.bind(py))?;
    }
    for (k, v) in items {
        store(k, v)?;
    }
    Ok(Some(obj))
}

impl Ctx {
    /// A `netscan.events.Ctx` instance.
    pub fn to_py<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        new_ctx(
            py,
            [
                self.file.into_bound_py_any(py)?,
                self.frame.into_bound_py_any(py)?,
                self.ts.into_bound_py_any(py)?,
                self.src_mac.as_deref().into_bound_py_any(py)?,
                self.dst_mac.as_deref().into_bound_py_any(py)?,
                self.src_ip.as_deref().into_bound_py_any(py)?,
                self.dst_ip.as_deref().into_bound_py_any(py)?,
                self.sport.into_bound_py_any(py)?,
                self.dport.into_bound_py_any(py)?,
                self.transport.into_bound_py_any(py)?,
            ],
        )
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
        let mut kw = Fields::new(py);
        kw.set(intern!(py, "ctx"), ctx)?;
        let (cls, slot) = match self {
            Event::Dns(e) => {
                kw.set(intern!(py, "proto"), e.proto)?;
                kw.set(intern!(py, "is_response"), e.is_response)?;
                kw.set(intern!(py, "rcode"), e.rcode)?;
                kw.set(intern!(py, "queries"), str_pairs(py, &e.queries)?)?;
                let answers = PyList::empty(py);
                for r in &e.answers {
                    let mut rk = Fields::new(py);
                    rk.set(intern!(py, "name"), &r.name)?;
                    rk.set(intern!(py, "rtype"), &r.rtype)?;
                    rk.set(intern!(py, "value"), &r.value)?;
                    rk.set(intern!(py, "ttl"), r.ttl)?;
                    answers.append(rk.build(c, &c.dns_record, Slot::DnsRecord)?)?;
                }
                kw.set(intern!(py, "answers"), answers)?;
                (&c.dns, Slot::Dns)
            }
            Event::Nbns(e) => {
                kw.set(intern!(py, "is_response"), e.is_response)?;
                kw.set(intern!(py, "opcode"), e.opcode)?;
                kw.set(intern!(py, "name"), &e.name)?;
                kw.set(intern!(py, "suffix"), e.suffix)?;
                kw.set(intern!(py, "addresses"), PyList::new(py, &e.addresses)?)?;
                (&c.nbns, Slot::Nbns)
            }
            Event::Dhcp(e) => {
                kw.set(intern!(py, "msg_type"), e.msg_type)?;
                kw.set(intern!(py, "client_mac"), &e.client_mac)?;
                kw.set(intern!(py, "your_ip"), &e.your_ip)?;
                kw.set(intern!(py, "hostname"), &e.hostname)?;
                kw.set(intern!(py, "requested_ip"), &e.requested_ip)?;
                // a list of ints, not bytes
                let prl: Vec<u16> = e.param_request_list.iter().map(|&b| u16::from(b)).collect();
                kw.set(intern!(py, "param_request_list"), PyList::new(py, prl)?)?;
                kw.set(intern!(py, "vendor_class"), &e.vendor_class)?;
                kw.set(intern!(py, "client_id"), &e.client_id)?;
                kw.set(intern!(py, "fqdn"), &e.fqdn)?;
                (&c.dhcp, Slot::Dhcp)
            }
            Event::Dhcpv6(e) => {
                kw.set(intern!(py, "msg_type"), e.msg_type)?;
                kw.set(intern!(py, "duid"), &e.duid)?;
                kw.set(intern!(py, "vendor_class"), &e.vendor_class)?;
                kw.set(intern!(py, "enterprise"), e.enterprise)?;
                kw.set(intern!(py, "fqdn"), &e.fqdn)?;
                kw.set(intern!(py, "addresses"), PyList::new(py, &e.addresses)?)?;
                kw.set(intern!(py, "prefixes"), PyList::new(py, &e.prefixes)?)?;
                (&c.dhcpv6, Slot::Dhcpv6)
            }
            Event::TlsClientHello(e) => {
                kw.set(intern!(py, "sni"), &e.sni)?;
                kw.set(intern!(py, "alpn"), PyList::new(py, &e.alpn)?)?;
                kw.set(intern!(py, "versions"), PyList::new(py, &e.versions)?)?;
                kw.set(intern!(py, "ja3"), &e.ja3)?;
                kw.set(intern!(py, "ja3_hash"), &e.ja3_hash)?;
                kw.set(intern!(py, "ja4"), &e.ja4)?;
                kw.set(intern!(py, "quic"), e.quic)?;
                (&c.tls_hello, Slot::TlsHello)
            }
            Event::TlsCertificate(e) => {
                kw.set(intern!(py, "subject"), &e.subject)?;
                kw.set(intern!(py, "issuer"), &e.issuer)?;
                kw.set(intern!(py, "san"), PyList::new(py, &e.san)?)?;
                (&c.tls_cert, Slot::TlsCert)
            }
            Event::Ntp(e) => {
                kw.set(intern!(py, "version"), e.version)?;
                kw.set(intern!(py, "mode"), e.mode)?;
                kw.set(intern!(py, "stratum"), e.stratum)?;
                (&c.ntp, Slot::Ntp)
            }
            Event::Ssdp(e) => {
                kw.set(intern!(py, "method"), &e.method)?;
                kw.set(intern!(py, "server"), &e.server)?;
                kw.set(intern!(py, "usn"), &e.usn)?;
                kw.set(intern!(py, "nt"), &e.nt)?;
                kw.set(intern!(py, "nts"), &e.nts)?;
                kw.set(intern!(py, "location"), &e.location)?;
                kw.set(intern!(py, "user_agent"), &e.user_agent)?;
                (&c.ssdp, Slot::Ssdp)
            }
            Event::HttpRequest(e) => {
                kw.set(intern!(py, "method"), &e.method)?;
                kw.set(intern!(py, "path"), &e.path)?;
                kw.set(intern!(py, "version"), &e.version)?;
                kw.set(intern!(py, "host"), &e.host)?;
                kw.set(intern!(py, "user_agent"), &e.user_agent)?;
                kw.set(intern!(py, "content_type"), &e.content_type)?;
                kw.set(intern!(py, "content_length"), e.content_length)?;
                kw.set(intern!(py, "boundary"), &e.boundary)?;
                kw.set(intern!(py, "headers"), headers_dict(py, &e.headers)?)?;
                (&c.http_req, Slot::HttpReq)
            }
            Event::HttpResponse(e) => {
                kw.set(intern!(py, "status"), e.status)?;
                kw.set(intern!(py, "reason"), &e.reason)?;
                kw.set(intern!(py, "version"), &e.version)?;
                kw.set(intern!(py, "server"), &e.server)?;
                kw.set(intern!(py, "content_type"), &e.content_type)?;
                kw.set(intern!(py, "content_length"), e.content_length)?;
                kw.set(intern!(py, "headers"), headers_dict(py, &e.headers)?)?;
                (&c.http_resp, Slot::HttpResp)
            }
            Event::HttpBody(e) => {
                kw.set(intern!(py, "method"), &e.method)?;
                kw.set(intern!(py, "path"), &e.path)?;
                kw.set(intern!(py, "host"), &e.host)?;
                kw.set(intern!(py, "content_type"), &e.content_type)?;
                kw.set(intern!(py, "body"), PyBytes::new(py, &e.body))?;
                kw.set(intern!(py, "complete"), e.complete)?;
                kw.set(intern!(py, "first_frame"), e.first_frame)?;
                kw.set(intern!(py, "last_frame"), e.last_frame)?;
                (&c.http_body, Slot::HttpBody)
            }
            Event::Rtsp(e) => {
                kw.set(intern!(py, "is_response"), e.is_response)?;
                kw.set(intern!(py, "method"), &e.method)?;
                kw.set(intern!(py, "url"), &e.url)?;
                kw.set(intern!(py, "status"), e.status)?;
                kw.set(intern!(py, "server"), &e.server)?;
                kw.set(intern!(py, "user_agent"), &e.user_agent)?;
                kw.set(intern!(py, "realm"), &e.realm)?;
                kw.set(intern!(py, "headers"), headers_dict(py, &e.headers)?)?;
                (&c.rtsp, Slot::Rtsp)
            }
            Event::Sip(e) => {
                kw.set(intern!(py, "is_response"), e.is_response)?;
                kw.set(intern!(py, "method"), &e.method)?;
                kw.set(intern!(py, "status"), e.status)?;
                kw.set(intern!(py, "request_uri"), &e.request_uri)?;
                kw.set(intern!(py, "from_uri"), &e.from_uri)?;
                kw.set(intern!(py, "to_uri"), &e.to_uri)?;
                kw.set(intern!(py, "user_agent"), &e.user_agent)?;
                kw.set(intern!(py, "server"), &e.server)?;
                kw.set(intern!(py, "content_type"), &e.content_type)?;
                kw.set(intern!(py, "body"), &e.body)?;
                (&c.sip, Slot::Sip)
            }
        };
        kw.build(c, cls, slot)
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
/// dst_ip, sport, dport, transport) as Python objects: filled in directly as its
/// generated `__init__` would (see [`Fast`]), or by calling the class.
pub fn new_ctx<'py>(py: Python<'py>, args: [Bound<'py, PyAny>; 10]) -> PyResult<Bound<'py, PyAny>> {
    let c = classes(py)?;
    if let Some(fast) = &c.fast[Slot::Ctx as usize] {
        if fast.kind.is_none() && fast.fields.len() == args.len() {
            let items: Vec<_> = fast
                .fields
                .iter()
                .map(|f| f.bind(py).clone())
                .zip(args.iter().cloned())
                .collect();
            if let Some(obj) = fill(py, &c.ctx, fast, &items)? {
                return Ok(obj);
            }
        }
    }
    c.ctx.bind(py).call1(PyTuple::new(py, args)?)
}

/// A Python `Ctx` from either a `Ctx` instance or a tuple of its fields.
pub fn ctx_from_py<'py>(py: Python<'py>, ctx: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    if let Ok(t) = ctx.cast::<PyTuple>() {
        return classes(py)?.ctx.bind(py).call1(t.clone());
    }
    Ok(ctx.clone())
}
