//! The Python face of the core: `netscan._core.Core`.
//!
//! Python opens capture files through it (or pushes live records), then asks for batches:
//! each `run` reads and processes records with the GIL released and returns the ops of the
//! batch as plain tuples, which `netscan/engine/core.py` replays into its sink. A panic in
//! the handling of one packet is caught and counted; none crosses into Python.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple};
use pyo3::IntoPyObjectExt;

use crate::capture::{CaptureReader, Hashing, DEFAULT_GZIP_CAP, DEFAULT_GZIP_RATIO};
use crate::dissect::registry;
use crate::engine::{
    builtin_names, in_core, Config, ConvRow, Counters, Engine, EvCtx, Net6, Op, PROBE_PARSER,
    PY_BASE,
};
use crate::events::new_ctx;
use crate::flow::NO_APP;
use crate::pipeline::{Msg, Pipeline, Work};

pub const OP_L2: u8 = 0;
pub const OP_FLOW: u8 = 1;
pub const OP_ARP: u8 = 2;
pub const OP_ATTACH: u8 = 3;
pub const OP_PAYLOAD: u8 = 4;
pub const OP_CLOSE: u8 = 5;
pub const OP_FINAL: u8 = 6;
pub const OP_EVENTS: u8 = 7;

struct Head {
    file: u32,
    frame: u64,
    ts: f64,
    linktype: u32,
    data: Vec<u8>,
    wirelen: u32,
}

/// The core's state: the engine and its inputs (held by the worker thread of a pipeline
/// while it runs a batch).
struct Inner {
    engine: Engine,
    readers: Vec<CaptureReader>,
    heads: Vec<Option<Head>>,
    started: bool,
    /// set while a worker (`start`) is ahead of the replay: the inputs opened with
    /// `hash_thread=False` are hashed in line then (`Hashing::WhenAhead`)
    ahead: Arc<AtomicBool>,
}

/// What the conversion of ops into Python objects needs (used with the GIL only).
struct Conv {
    names: Vec<String>,
    strs: StrCache,
    /// the rows of the last `conv_keys`, handed over by `conv_take`
    conv_pending: std::collections::VecDeque<ConvRow>,
}

impl Work for Inner {
    type Out = Vec<Op>;

    fn batch(&mut self, max: usize) -> (Vec<Op>, usize) {
        let n = self.run(max);
        (std::mem::take(&mut self.engine.ops), n)
    }

    fn stop(&mut self, fids: &[u64]) {
        for &fid in fids {
            self.engine.stop(fid);
        }
    }

    fn ahead(&mut self, ahead: bool) {
        self.ahead.store(ahead, Ordering::Relaxed);
    }

    fn positions(&self) -> Vec<u64> {
        self.readers
            .iter()
            .map(|r| r.read_bytes.load(Ordering::Relaxed))
            .collect()
    }
}

impl Inner {
    /// Processes up to `max` records from the open files (merged by time); returns how many.
    fn run(&mut self, max: usize) -> usize {
        let Inner {
            engine,
            readers,
            heads,
            started,
            ..
        } = self;
        let mut n = 0;
        if readers.len() == 1 {
            let r = &mut readers[0];
            while n < max {
                let Some(rec) = r.next() else { break };
                engine.packet_guarded(0, rec.frame, rec.ts, rec.linktype, rec.data, rec.wirelen);
                n += 1;
            }
            return n;
        }
        if !*started {
            *started = true;
            for (i, r) in readers.iter_mut().enumerate() {
                heads[i] = take_head(r, i as u32);
            }
        }
        while n < max {
            // the earliest head; ties keep input order
            let mut best: Option<usize> = None;
            for (i, h) in heads.iter().enumerate() {
                if let Some(h) = h {
                    match best {
                        Some(b) if heads[b].as_ref().is_some_and(|bh| bh.ts <= h.ts) => {}
                        _ => best = Some(i),
                    }
                }
            }
            let Some(i) = best else { break };
            let h = heads[i].take().expect("head");
            engine.packet_guarded(h.file, h.frame, h.ts, h.linktype, &h.data, h.wirelen);
            heads[i] = take_head(&mut readers[i], i as u32);
            n += 1;
        }
        n
    }
}

fn take_head(r: &mut CaptureReader, file: u32) -> Option<Head> {
    r.next().map(|rec| Head {
        file,
        frame: rec.frame,
        ts: rec.ts,
        linktype: rec.linktype,
        data: rec.data.to_vec(),
        wirelen: rec.wirelen,
    })
}

/// The packet core: capture files or live records in, ops out.
#[pyclass(module = "netscan._core")]
pub struct Core {
    inner: Arc<Mutex<Inner>>,
    conv: Mutex<Conv>,
    /// the worker thread running the core ahead (`start` .. `join`)
    pipe: Mutex<Option<Pipeline<Vec<Op>>>>,
}

fn nets(v: Vec<(Vec<u8>, u8)>) -> PyResult<Vec<Net6>> {
    v.into_iter()
        .map(|(a, prefix)| {
            let mut addr = [0u8; 16];
            match a.len() {
                4 | 16 => addr[..a.len()].copy_from_slice(&a),
                _ => {
                    return Err(PyValueError::new_err(
                        "network address must be 4 or 16 bytes",
                    ))
                }
            }
            let max = if a.len() == 4 { 32 } else { 128 };
            if prefix > max {
                return Err(PyValueError::new_err("prefix length out of range"));
            }
            Ok(Net6 {
                v6: a.len() == 16,
                addr,
                prefix,
            })
        })
        .collect()
}

macro_rules! tup {
    ($py:expr; $($x:expr),+ $(,)?) => {
        PyTuple::new($py, [$($x.into_bound_py_any($py)?),+])?
    };
}

fn mac_obj<'py>(py: Python<'py>, m: &Option<[u8; 6]>) -> PyResult<Bound<'py, PyAny>> {
    match m {
        Some(m) => PyBytes::new(py, m).into_bound_py_any(py),
        None => Ok(py.None().into_bound(py)),
    }
}

fn counters_tuple<'py>(py: Python<'py>, c: &Counters) -> PyResult<Bound<'py, PyTuple>> {
    // bursts as packed native-endian doubles, four a burst (`BurstList.from_bytes`): one
    // bytes object instead of a list and four floats per burst
    let bursts = match &c.bursts {
        Some(list) => packed_bursts(py, list)?,
        None => py.None().into_bound(py),
    };
    Ok(
        tup!(py; OP_FINAL, c.fid, c.bytes_ab, c.bytes_ba, c.pkts_ab, c.pkts_ba, c.payload_ab,
        c.payload_ba, c.last_ts, c.last_frame, c.first_frames.clone(), bursts, c.missed_ab,
        c.missed_ba),
    )
}

fn packed_bursts<'py>(py: Python<'py>, list: &[[f64; 4]]) -> PyResult<Bound<'py, PyAny>> {
    let mut raw = Vec::with_capacity(list.len() * 32);
    for b in list {
        for x in b {
            raw.extend_from_slice(&x.to_ne_bytes());
        }
    }
    PyBytes::new(py, &raw).into_bound_py_any(py)
}

/// A conversation row (`Core.conv_rows`) as a Python tuple.
fn conv_row_tuple<'py>(
    py: Python<'py>,
    r: &ConvRow,
    strs: &mut StrCache,
) -> PyResult<Bound<'py, PyTuple>> {
    let (bursts, counts) = if r.burst_counts.is_empty() {
        (py.None().into_bound(py), py.None().into_bound(py))
    } else {
        (
            packed_bursts(py, &r.bursts)?,
            r.burst_counts.clone().into_bound_py_any(py)?,
        )
    };
    let frames = PyList::empty(py);
    for &(file, frame) in &r.frames {
        frames.append(tup!(py; file, frame))?;
    }
    let apps = PyTuple::new(py, &r.apps)?;
    Ok(
        tup!(py; r.wlan, strs.mac(py, &r.dev_mac), strs.ip_of(py, &r.dev_ip),
        strs.ip_of(py, &r.peer_ip), r.proto, r.port, strs.mac(py, &r.peer_mac),
        r.device_is_client, r.dev_prem, r.peer_prem, r.first_ts, r.first_frame.0,
        r.first_frame.1, r.last_ts, r.bytes_up, r.bytes_down, r.pkts_up, r.pkts_down, r.flows,
        apps, frames, bursts, counts, r.missed_up, r.missed_down),
    )
}

/// An IP address as Python's `socket.inet_ntoa`/`inet_ntop` writes it (glibc's rules: the
/// longest run of two or more zero groups, the first of equals, becomes "::"; IPv4-mapped
/// and IPv4-compatible addresses end in dotted quads), so that the core's contexts carry
/// the same strings as the flows built from its addresses.
pub fn ip_text(ip: &[u8]) -> String {
    use std::fmt::Write;
    if ip.len() == 4 {
        return format!("{}.{}.{}.{}", ip[0], ip[1], ip[2], ip[3]);
    }
    let mut w = [0u16; 8];
    for (i, g) in w.iter_mut().enumerate() {
        *g = u16::from_be_bytes([ip[2 * i], ip[2 * i + 1]]);
    }
    let (mut best, mut best_len) = (usize::MAX, 0usize);
    let mut i = 0;
    while i < 8 {
        if w[i] == 0 {
            let start = i;
            while i < 8 && w[i] == 0 {
                i += 1;
            }
            if i - start > best_len {
                best = start;
                best_len = i - start;
            }
        } else {
            i += 1;
        }
    }
    if best_len < 2 {
        best = usize::MAX;
    }
    let mut out = String::with_capacity(39);
    let mut i = 0;
    while i < 8 {
        if i == best {
            if i == 0 {
                out.push(':');
            }
            out.push(':');
            i += best_len;
            continue;
        }
        if i == 6 && best == 0 && (best_len == 6 || (best_len == 5 && w[5] == 0xffff)) {
            let _ = write!(out, "{}.{}.{}.{}", ip[12], ip[13], ip[14], ip[15]);
            return out;
        }
        let _ = write!(out, "{:x}", w[i]);
        if i < 7 {
            out.push(':');
        }
        i += 1;
    }
    out
}

/// Python strings of addresses, made once and shared by the flows and event contexts that
/// carry them (bounded: a full address table starts afresh).
#[derive(Default)]
pub struct StrCache {
    ips: crate::flow::KeyedMap<([u8; 16], bool), Py<PyString>>,
    macs: crate::flow::KeyedMap<[u8; 6], Py<PyString>>,
    /// the parser names by id, made once
    names: Vec<Option<Py<PyString>>>,
}

const MAX_IP_STRS: usize = 131_072;
const MAX_MAC_STRS: usize = 100_000;

impl StrCache {
    fn ip<'py>(&mut self, py: Python<'py>, raw: &[u8; 16], v6: bool) -> Bound<'py, PyString> {
        if let Some(s) = self.ips.get(&(*raw, v6)) {
            return s.bind(py).clone();
        }
        let s = PyString::new(py, &ip_text(&raw[..if v6 { 16 } else { 4 }]));
        if self.ips.len() >= MAX_IP_STRS {
            // a flood of distinct addresses must not keep every one: start afresh (busy
            // addresses come back at once; the flows keep their own strings)
            self.ips = Default::default();
        }
        self.ips.insert((*raw, v6), s.clone().unbind());
        s
    }

    /// The name of parser `id` ("" for an unknown id).
    fn name<'py>(&mut self, py: Python<'py>, names: &[String], id: u8) -> Bound<'py, PyString> {
        let i = id as usize;
        if self.names.len() <= i {
            self.names.resize_with(i + 1, || None);
        }
        self.names[i]
            .get_or_insert_with(|| {
                PyString::new(py, names.get(i).map(String::as_str).unwrap_or("")).unbind()
            })
            .bind(py)
            .clone()
    }

    /// The text of a 4- or 16-byte address (`Flow.a_ip`), "" for none (802.11 pairs).
    fn ip_of<'py>(&mut self, py: Python<'py>, raw: &[u8]) -> Bound<'py, PyString> {
        let mut a = [0u8; 16];
        match raw.len() {
            4 => {
                a[..4].copy_from_slice(raw);
                self.ip(py, &a, false)
            }
            16 => {
                a.copy_from_slice(raw);
                self.ip(py, &a, true)
            }
            _ => intern!(py, "").clone(),
        }
    }

    fn mac<'py>(&mut self, py: Python<'py>, m: &Option<[u8; 6]>) -> Bound<'py, PyAny> {
        let Some(m) = m else {
            return py.None().into_bound(py);
        };
        if let Some(s) = self.macs.get(m) {
            return s.bind(py).clone().into_any();
        }
        let text = m
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":");
        let s = PyString::new(py, &text);
        if self.macs.len() < MAX_MAC_STRS {
            self.macs.insert(*m, s.clone().unbind());
        }
        s.into_any()
    }

    /// The Python `Ctx` of an event context.
    fn ctx<'py>(&mut self, py: Python<'py>, c: &EvCtx) -> PyResult<Bound<'py, PyAny>> {
        let transport = match c.proto {
            6 => intern!(py, "tcp"),
            17 => intern!(py, "udp"),
            _ => intern!(py, ""),
        };
        let args = [
            c.file.into_bound_py_any(py)?,
            c.frame.into_bound_py_any(py)?,
            c.ts.into_bound_py_any(py)?,
            self.mac(py, &c.src_mac),
            self.mac(py, &c.dst_mac),
            self.ip(py, &c.src, c.v6).into_any(),
            self.ip(py, &c.dst, c.v6).into_any(),
            c.sport.into_bound_py_any(py)?,
            c.dport.into_bound_py_any(py)?,
            transport.clone().into_any(),
        ];
        new_ctx(py, args)
    }
}

fn ops_list<'py>(
    py: Python<'py>,
    ops: &[Op],
    names: &[String],
    strs: &mut StrCache,
) -> PyResult<Bound<'py, PyList>> {
    let list = PyList::empty(py);
    for op in ops {
        // by reference: a worker thread frees the ops (`Pipeline::spent`)
        let t = match op {
            Op::L2 {
                file,
                frame,
                ts,
                mac,
                wirelen,
            } => tup!(py; OP_L2, *file, *frame, *ts, PyBytes::new(py, mac), *wirelen),
            Op::NewFlow {
                fid,
                file,
                proto,
                wlan,
                a,
                b,
                a_port,
                b_port,
                a_mac,
                b_mac,
                ts,
                frame,
                bursts,
                a_scope,
                b_scope,
                attach,
            } => {
                // the parser attached by the flow's first packet, as `OP_ATTACH` names it
                let (name, core) = if *attach == NO_APP {
                    (py.None().into_bound(py), false)
                } else {
                    (strs.name(py, names, *attach).into_any(), in_core(*attach))
                };
                tup!(py; OP_FLOW, *fid, *file, *proto, *wlan, strs.ip_of(py, a),
                strs.ip_of(py, b), *a_port, *b_port, strs.mac(py, a_mac),
                strs.mac(py, b_mac), *ts, *frame, *bursts, *a_scope, *b_scope, name, core)
            }
            Op::Arp {
                file,
                frame,
                ts,
                op,
                sha,
                spa,
                tha,
                tpa,
            } => tup!(py; OP_ARP, *file, *frame, *ts, *op, PyBytes::new(py, sha),
                PyBytes::new(py, spa), PyBytes::new(py, tha), PyBytes::new(py, tpa)),
            Op::Attach { fid, name } => {
                let n = names.get(*name as usize).map(String::as_str).unwrap_or("");
                tup!(py; OP_ATTACH, *fid, n, in_core(*name))
            }
            Op::Events { fid, ctx, events } => {
                let ctx = strs.ctx(py, ctx)?;
                let evs = PyList::empty(py);
                for e in events {
                    evs.append(e.to_py(py, &ctx)?)?;
                }
                tup!(py; OP_EVENTS, *fid, evs)
            }
            Op::Payload {
                fid,
                from_a,
                frame,
                ts,
                data,
                gap,
                last,
            } => {
                tup!(py; OP_PAYLOAD, *fid, *from_a, *frame, *ts, PyBytes::new(py, data), *gap, *last)
            }
            Op::Close {
                fid,
                from_a,
                frame,
                ts,
            } => tup!(py; OP_CLOSE, *fid, *from_a, *frame, *ts),
            Op::Final(c) => counters_tuple(py, c)?,
        };
        list.append(t)?;
    }
    Ok(list)
}

fn busy() -> PyErr {
    PyRuntimeError::new_err("the packet core is busy in another thread")
}

impl Core {
    /// The core's state while holding the GIL: never waits (a thread inside `run` holds
    /// the lock without the GIL and needs the GIL back to return, so waiting here could
    /// deadlock); a concurrent call gets an error instead.
    /// Refused, too, while a worker thread runs the core (`start` .. `join`).
    fn lock(&self) -> PyResult<std::sync::MutexGuard<'_, Inner>> {
        if self.pipe.try_lock().map_or(true, |p| p.is_some()) {
            return Err(busy());
        }
        self.lock_inner()
    }

    fn lock_inner(&self) -> PyResult<std::sync::MutexGuard<'_, Inner>> {
        self.inner.try_lock().map_err(|e| match e {
            std::sync::TryLockError::WouldBlock => busy(),
            std::sync::TryLockError::Poisoned(_) => {
                PyRuntimeError::new_err("the packet core failed earlier in this run")
            }
        })
    }

    /// Python objects for a batch of ops (with the GIL).
    fn convert<'py>(&self, py: Python<'py>, ops: &[Op]) -> PyResult<Bound<'py, PyList>> {
        let mut g = self.conv.try_lock().map_err(|_| busy())?;
        let conv = &mut *g;
        ops_list(py, ops, &conv.names, &mut conv.strs)
    }

    fn pipe(&self) -> PyResult<std::sync::MutexGuard<'_, Option<Pipeline<Vec<Op>>>>> {
        self.pipe.try_lock().map_err(|_| busy())
    }

    /// The core's state without the GIL (inside `detach`): waiting is safe there. Refused
    /// while a worker thread runs the core (`start` .. `join`).
    fn lock_detached(&self) -> PyResult<std::sync::MutexGuard<'_, Inner>> {
        if self.pipe.try_lock().map_or(true, |p| p.is_some()) {
            return Err(busy());
        }
        self.inner
            .lock()
            .map_err(|_| PyRuntimeError::new_err("the packet core failed earlier in this run"))
    }
}

#[pymethods]
impl Core {
    /// `udp_ports`: (port, parser name, first two bytes are a transaction id);
    /// `premises`/`local`: (network address bytes, prefix length) of the premises policy;
    /// `response_prefixes`: request path prefixes whose HTTP responses are kept (the signature
    /// pack's; none when not given; ValueError beyond the bounds of `http::response_prefixes`);
    /// `body_budget`: the body bytes all the HTTP streams may be reassembling at once;
    /// `duplicate_window`: seconds within which a frame that holds the same IP packet as one
    /// of the few before it in its input (or, without one, the same bytes) is a copy the
    /// capture made, counted and not analysed (0: none is).
    #[new]
    #[pyo3(signature = (udp_ports, premises, local, max_flows=crate::engine::DEFAULT_MAX_FLOWS,
                        reassembly_budget=crate::engine::DEFAULT_REASSEMBLY_BUDGET, dissect=true,
                        dedup_facts=true, response_prefixes=Vec::new(),
                        body_budget=crate::dissect::http::DEFAULT_BODY_BUDGET,
                        duplicate_window=crate::engine::DEFAULT_DUPLICATE_WINDOW))]
    #[allow(clippy::too_many_arguments)] // the Python constructor's keyword arguments
    fn new(
        udp_ports: Vec<(u16, String, bool)>,
        premises: Vec<(Vec<u8>, u8)>,
        local: Vec<(Vec<u8>, u8)>,
        max_flows: usize,
        reassembly_budget: usize,
        dissect: bool,
        dedup_facts: bool,
        response_prefixes: Vec<String>,
        body_budget: usize,
        duplicate_window: f64,
    ) -> PyResult<Core> {
        let mut names: Vec<String> = builtin_names().iter().map(|s| s.to_string()).collect();
        let response_prefixes = crate::dissect::http::response_prefixes(&response_prefixes)
            .map_err(PyValueError::new_err)?;
        let mut cfg = Config {
            response_prefixes,
            premises: nets(premises)?,
            local: nets(local)?,
            max_flows: max_flows.max(1),
            reassembly_budget,
            dissect,
            dedup_facts,
            body_budget,
            duplicate_window: if duplicate_window.is_finite() {
                duplicate_window
            } else {
                0.0
            },
            ..Config::default()
        };
        for (port, key, skip) in udp_ports {
            // keys are "udp:NAME:N" (or a plain name): the parser's name is what the core
            // compares with its own table; a port the core parses itself is not handed over
            let name = key.split(':').nth(1).unwrap_or(&key).to_string();
            if registry::udp_port(port).is_some_and(|p| p.in_core() && p.name() == name) {
                continue;
            }
            let id = match names[PY_BASE as usize..].iter().position(|n| *n == key) {
                Some(i) => i + PY_BASE as usize,
                None => {
                    names.push(key);
                    names.len() - 1
                }
            };
            if id > 255 {
                return Err(PyValueError::new_err("too many parser names"));
            }
            cfg.python_ports.entry(port).or_insert((id as u8, skip));
            if name == PROBE_PARSER {
                cfg.probe_id = Some(id as u8);
            }
        }
        Ok(Core {
            inner: Arc::new(Mutex::new(Inner {
                engine: Engine::new(cfg),
                readers: Vec::new(),
                heads: Vec::new(),
                started: false,
                ahead: Arc::new(AtomicBool::new(false)),
            })),
            conv: Mutex::new(Conv {
                names,
                strs: StrCache::default(),
                conv_pending: Default::default(),
            }),
            pipe: Mutex::new(None),
        })
    }

    /// Opens a capture file as the next input; ValueError (the message names the file)
    /// when it is not a capture at all. The file is hashed as it is read (`file_info`'s
    /// `sha256`) unless `hash` is false: on a thread of its own, or with `hash_thread`
    /// false there only while the worker of `start` is behind the replay and on the
    /// worker's thread while it is ahead (waiting anyway; a third busy thread would take
    /// time from the replay).
    #[pyo3(signature = (path, gzip_cap=DEFAULT_GZIP_CAP, gzip_ratio=DEFAULT_GZIP_RATIO, hash=true,
                        hash_thread=true))]
    fn open(
        &self,
        py: Python<'_>,
        path: PathBuf,
        gzip_cap: u64,
        gzip_ratio: u64,
        hash: bool,
        hash_thread: bool,
    ) -> PyResult<usize> {
        let ahead = Arc::clone(&self.lock()?.ahead);
        let how = match (hash, hash_thread) {
            (false, _) => Hashing::Off,
            (true, false) => Hashing::WhenAhead(ahead),
            (true, true) => Hashing::OwnThread,
        };
        let r = py
            .detach(|| CaptureReader::open_hashed(&path, gzip_cap, gzip_ratio, how))
            .map_err(|e| PyValueError::new_err(e.0))?;
        let mut g = self.lock()?;
        g.readers.push(r);
        g.heads.push(None);
        Ok(g.readers.len() - 1)
    }

    /// Facts about input `i`: format, packets, times, link types, warnings, bytes read.
    fn file_info<'py>(&self, py: Python<'py>, i: usize) -> PyResult<Bound<'py, PyDict>> {
        let g = self.lock()?;
        let r = g
            .readers
            .get(i)
            .ok_or_else(|| PyValueError::new_err("no such input"))?;
        reader_info(py, r)
    }

    /// Reads and processes up to `max_records` records of the open inputs with the GIL
    /// released; returns (ops, records processed). Zero records: the inputs are done.
    fn run<'py>(
        &self,
        py: Python<'py>,
        max_records: usize,
    ) -> PyResult<(Bound<'py, PyList>, usize)> {
        let (ops, n) = py.detach(|| -> PyResult<_> {
            let mut g = self.lock_detached()?;
            let n = g.run(max_records);
            Ok((std::mem::take(&mut g.engine.ops), n))
        })?;
        Ok((self.convert(py, &ops)?, n))
    }

    /// Starts running the open inputs ahead in a worker thread (`netscan.engine.threaded`):
    /// batches of `batch` records, `limit` records in all (None: to the end), each handed
    /// over by `next_batch`. The flows stopped while replaying a batch (`give_stops`, one
    /// call per batch) take effect before the batch `lag` batches later; the worker is never
    /// more batches ahead than that. Every other method but `next_batch`, `give_stops` and
    /// `join` is refused as busy until `join`.
    /// `fail_after`: a fault injected in the worker after that many batches (tests).
    #[pyo3(signature = (batch, limit=None, lag=2, fail_after=None))]
    fn start(
        &self,
        batch: usize,
        limit: Option<usize>,
        lag: usize,
        fail_after: Option<usize>,
    ) -> PyResult<()> {
        let mut pipe = self.pipe()?;
        if pipe.is_some() {
            return Err(PyRuntimeError::new_err(
                "the packet core is running already",
            ));
        }
        // a failed core stays failed
        drop(self.lock_inner()?);
        let p = Pipeline::start(Arc::clone(&self.inner), batch, limit, lag, fail_after)
            .map_err(|e| PyRuntimeError::new_err(format!("cannot start the core's thread: {e}")))?;
        *pipe = Some(p);
        Ok(())
    }

    /// The next batch of a running `start`: (ops, records processed, records asked for,
    /// input bytes read per input), or None once the run ended (the input or the limit).
    /// Waits with the GIL released, looking at signals (Ctrl-C) now and then;
    /// RuntimeError when the worker failed (the message says how).
    #[allow(clippy::type_complexity)]
    fn next_batch<'py>(
        &self,
        py: Python<'py>,
    ) -> PyResult<Option<(Bound<'py, PyList>, usize, usize, Vec<u64>)>> {
        loop {
            let got = {
                let mut pipe = self.pipe()?;
                let Some(p) = pipe.as_mut() else {
                    return Err(PyRuntimeError::new_err("the packet core is not running"));
                };
                if p.ended() {
                    return Ok(None);
                }
                py.detach(|| p.next(Duration::from_millis(50)))
            };
            match got {
                Ok(Some(Msg::Batch(b))) => {
                    let ops = self.convert(py, &b.out)?;
                    // the worker frees the batch when it takes the stops (`give_stops`)
                    if let Some(p) = self.pipe()?.as_mut() {
                        p.spent(b.out);
                    }
                    return Ok(Some((ops, b.records, b.want, b.positions)));
                }
                Ok(Some(Msg::Failed(e))) => {
                    return Err(PyRuntimeError::new_err(format!(
                        "the packet core failed: {e}"
                    )))
                }
                Ok(None) => py.check_signals()?,
                Err(()) => {
                    // gone without a word: its panic, if it had one, comes with the join
                    let p = self.pipe()?.take();
                    let why = match p {
                        Some(p) => py.detach(|| p.join(&*self.inner)).err(),
                        None => None,
                    };
                    return Err(PyRuntimeError::new_err(format!(
                        "the packet core failed: {}",
                        why.unwrap_or_else(|| "its thread ended early".into())
                    )));
                }
            }
        }
    }

    /// The flows whose parsers the replay of the latest batch stopped (`start`).
    fn give_stops(&self, fids: Vec<u64>) -> PyResult<()> {
        match self.pipe()?.as_mut() {
            Some(p) => {
                p.stops(fids);
                Ok(())
            }
            None => Err(PyRuntimeError::new_err("the packet core is not running")),
        }
    }

    /// Ends a run of `start` (stopping the worker at once if it is not done; the stops
    /// it did not take are applied) and waits for the thread. Nothing to do when none runs.
    fn join(&self, py: Python<'_>) -> PyResult<()> {
        let p = self.pipe()?.take();
        if let Some(p) = p {
            py.detach(|| p.join(&*self.inner))
                .map_err(|e| PyRuntimeError::new_err(format!("the packet core failed: {e}")))?;
            // no worker is ahead now: the inputs go back to their hashing thread (a core
            // that failed says so at its next use, not here)
            if let Ok(g) = self.lock_inner() {
                g.ahead.store(false, Ordering::Relaxed);
            }
        }
        Ok(())
    }

    /// Processes records handed over by Python (live capture):
    /// `(file, frame, ts, linktype, data, wirelen)` tuples.
    fn push<'py>(
        &self,
        py: Python<'py>,
        records: Vec<(u32, u64, f64, u32, Vec<u8>, u32)>,
    ) -> PyResult<Bound<'py, PyList>> {
        let ops = py.detach(|| -> PyResult<_> {
            let mut g = self.lock_detached()?;
            // the ring files of one live capture: a copy may be written to the next one
            g.engine.one_stream = true;
            for (file, frame, ts, lt, data, wirelen) in &records {
                g.engine
                    .packet_guarded(*file, *frame, *ts, *lt, data, *wirelen);
            }
            Ok(std::mem::take(&mut g.engine.ops))
        })?;
        self.convert(py, &ops)
    }

    /// End of input: last sightings, every parser flushed and closed.
    fn finish<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        // the last reassembled bytes are parsed here: without the GIL
        let ops = py.detach(|| -> PyResult<_> {
            let mut g = self.lock_detached()?;
            let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| g.engine.finish()));
            if res.is_err() {
                g.engine.panics += 1;
            }
            Ok(std::mem::take(&mut g.engine.ops))
        })?;
        self.convert(py, &ops)
    }

    /// The Python side stopped these flows' parsers.
    fn stop(&self, fids: Vec<u64>) -> PyResult<()> {
        let mut g = self.lock()?;
        for fid in fids {
            g.engine.stop(fid);
        }
        Ok(())
    }

    /// Counters of the flows changed since the last call (of every live flow with `all`),
    /// as `(6, fid, bytes_ab, bytes_ba, pkts_ab, pkts_ba, payload_ab, payload_ba, last_ts,
    /// last_frame, first_frames, bursts, missed_ab, missed_ba)` tuples (bursts: packed
    /// doubles, four a burst, or None for a flow whose uploads are not watched; missed: the
    /// bytes of each side's TCP sequence space the capture missed), in order of flow id from `from_fid`
    /// on; at most `limit` per call (call again, without `all` or with `from_fid` past the
    /// last one, until the list is empty for the rest).
    #[pyo3(signature = (all=false, limit=usize::MAX, from_fid=0))]
    fn counters<'py>(
        &self,
        py: Python<'py>,
        all: bool,
        limit: usize,
        from_fid: u64,
    ) -> PyResult<Bound<'py, PyList>> {
        let cs = {
            let mut g = self.lock()?;
            g.engine.take_counters(all, limit, from_fid)
        };
        let list = PyList::empty(py);
        for c in &cs {
            list.append(counters_tuple(py, c)?)?;
        }
        Ok(list)
    }

    /// Every live flow's final counters summed per conversation (`Engine::conv_rows`), in
    /// order of each conversation's first flow: the rows are kept for `conv_take`, and
    /// what keys them is returned now, as `(wlan, dev_mac, dev_ip, peer_ip, proto, port,
    /// dev_prem, flows, bursts)` tuples (addresses and MACs as the flows' strings, None for
    /// no MAC; bursts: how many the row holds). The flows stay.
    #[pyo3(signature = (offsite_sender_bursts=true))]
    fn conv_keys<'py>(
        &self,
        py: Python<'py>,
        offsite_sender_bursts: bool,
    ) -> PyResult<Bound<'py, PyList>> {
        let rows = self.lock()?.engine.conv_rows(offsite_sender_bursts);
        let mut conv = self.conv.try_lock().map_err(|_| busy())?;
        let conv = &mut *conv;
        let list = PyList::empty(py);
        let strs = &mut conv.strs;
        for r in &rows {
            list.append(
                tup!(py; r.wlan, strs.mac(py, &r.dev_mac), strs.ip_of(py, &r.dev_ip),
                strs.ip_of(py, &r.peer_ip), r.proto, r.port, r.dev_prem, r.flows,
                r.bursts.len()),
            )?;
        }
        conv.conv_pending = rows.into();
        Ok(list)
    }

    /// The next `limit` rows of the last `conv_keys` (each let go of here), as
    /// `(wlan, dev_mac, dev_ip, peer_ip, proto, port, peer_mac, device_is_client, dev_prem,
    /// peer_prem, first_ts, first_file, first_frame, last_ts, bytes_up, bytes_down, pkts_up,
    /// pkts_down, flows, parser_ids, frames, bursts, burst_counts, missed_up, missed_down)`
    /// tuples (frames: (file, frame) pairs; bursts: packed doubles, four a burst, with the
    /// count of each flow that has some, both None without; missed: the bytes of the
    /// device's and the peer's TCP sequence space the capture missed); `limit` 0 lets go of them all.
    fn conv_take<'py>(&self, py: Python<'py>, limit: usize) -> PyResult<Bound<'py, PyList>> {
        let mut conv = self.conv.try_lock().map_err(|_| busy())?;
        let conv = &mut *conv;
        let list = PyList::empty(py);
        if limit == 0 {
            conv.conv_pending = Default::default();
            return Ok(list);
        }
        for _ in 0..limit {
            let Some(r) = conv.conv_pending.pop_front() else {
                break;
            };
            list.append(conv_row_tuple(py, &r, &mut conv.strs)?)?;
        }
        Ok(list)
    }

    /// The parser names by id (`conv_rows`' parser ids; the names of the attach ops), each
    /// with whether the core runs it itself.
    fn parser_names(&self) -> PyResult<Vec<(String, bool)>> {
        let conv = self.conv.try_lock().map_err(|_| busy())?;
        Ok(conv
            .names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), i <= u8::MAX as usize && in_core(i as u8)))
            .collect())
    }

    /// Engine-wide facts: packets, bytes, unsupported link types, evicted flows, caught
    /// panics, forced reassembly skips, live flows.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let g = self.lock()?;
        let e = &g.engine;
        let d = PyDict::new(py);
        d.set_item("packets", e.packets)?;
        d.set_item("bytes", e.bytes)?;
        d.set_item(
            "unsupported",
            e.unsupported.iter().copied().collect::<Vec<u32>>(),
        )?;
        d.set_item("evicted", e.evicted)?;
        d.set_item("panics", e.panics)?;
        d.set_item("forced_skips", e.forced_skips())?;
        d.set_item("bodies_cut", e.bodies.cut())?;
        d.set_item("l2_dropped", e.l2_dropped)?;
        d.set_item("datagrams_repeated", e.datagrams_repeated)?;
        d.set_item("duplicates", e.duplicates)?;
        d.set_item("duplicate_bytes", e.duplicate_bytes)?;
        let tunnels = PyDict::new(py);
        for (name, n) in crate::decode::TUNNEL_NAMES.iter().zip(e.tunnelled) {
            if n > 0 {
                tunnels.set_item(*name, n)?;
            }
        }
        d.set_item("tunnelled", tunnels)?;
        let sessions = PyList::empty(py);
        for (addrs, kind, frames) in &e.mirror_sessions {
            let (a, b) = addrs.split_at(addrs.len() / 2);
            let name = crate::decode::TUNNEL_NAMES[*kind as usize];
            sessions.append(tup!(py; ip_text(a), ip_text(b), name, *frames))?;
        }
        d.set_item("mirror_sessions", sessions)?;
        d.set_item("mirror_unlisted", e.mirror_unlisted)?;
        d.set_item("tcp_missed_bytes", e.missed.bytes)?;
        d.set_item("tcp_missed_gaps", e.missed.gaps)?;
        d.set_item("tcp_missed_connections", e.missed.conns)?;
        d.set_item("tcp_payload_bytes", e.tcp_payload)?;
        d.set_item("probe_dropped", e.probe_dropped)?;
        d.set_item("probe_cut", e.probe_cut)?;
        d.set_item("facts_repeated", e.facts_repeated - e.facts_resent)?;
        d.set_item("facts_resent", e.facts_resent)?;
        d.set_item("events", e.events)?;
        let errors = PyDict::new(py);
        for (k, v) in &e.dissector_errors {
            errors.set_item(*k, *v)?;
        }
        d.set_item("dissector_errors", errors)?;
        d.set_item("live_flows", e.table.live)?;
        d.set_item("max_flows", e.table.max_live)?;
        Ok(d)
    }

    /// Drops the lookup tables (the flows' facts went out already).
    fn release(&self) -> PyResult<()> {
        let mut g = self.lock()?;
        g.engine.release();
        {
            let mut conv = self.conv.try_lock().map_err(|_| busy())?;
            conv.strs = StrCache::default();
            conv.conv_pending = Default::default();
        }
        g.readers.clear();
        g.heads.clear();
        Ok(())
    }
}

/// The capture reader alone: iterate it for `(frame, ts, linktype, data, wirelen)`;
/// `info()` afterwards gives what `Core.file_info` does.
#[pyclass(module = "netscan._core")]
pub struct Reader {
    inner: Mutex<CaptureReader>,
}

#[pymethods]
impl Reader {
    #[new]
    #[pyo3(signature = (path, gzip_cap=DEFAULT_GZIP_CAP, gzip_ratio=DEFAULT_GZIP_RATIO))]
    fn new(py: Python<'_>, path: PathBuf, gzip_cap: u64, gzip_ratio: u64) -> PyResult<Reader> {
        let r = py
            .detach(|| CaptureReader::open(&path, gzip_cap, gzip_ratio))
            .map_err(|e| PyValueError::new_err(e.0))?;
        Ok(Reader {
            inner: Mutex::new(r),
        })
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyTuple>>> {
        let mut r = self
            .inner
            .lock()
            .map_err(|_| PyRuntimeError::new_err("the reader failed earlier"))?;
        match r.next() {
            Some(rec) => Ok(Some(tup!(py; rec.frame, rec.ts, rec.linktype,
                PyBytes::new(py, rec.data), rec.wirelen))),
            None => Ok(None),
        }
    }

    fn info<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let r = self
            .inner
            .lock()
            .map_err(|_| PyRuntimeError::new_err("the reader failed earlier"))?;
        reader_info(py, &r)
    }
}

/// What a reader knows of its input so far (`Core.file_info` and `Reader.info`).
fn reader_info<'py>(py: Python<'py>, r: &CaptureReader) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("format", r.format.name())?;
    d.set_item("gzip", r.gzip)?;
    d.set_item("frames", r.frames)?;
    d.set_item("first_ts", r.first_ts)?;
    d.set_item("last_ts", r.last_ts)?;
    d.set_item(
        "linktypes",
        r.linktypes.iter().copied().collect::<Vec<u32>>(),
    )?;
    d.set_item("warnings", r.warnings.clone())?;
    // a pcapng file's interface statistics (ISB counters by name), summed; None without
    let isb = match r.isb_counts() {
        Some(c) => {
            let s = PyDict::new(py);
            for (name, v) in crate::capture::ISB_NAMES.iter().zip(c.0) {
                if let Some(v) = v {
                    s.set_item(*name, v)?;
                }
            }
            s.into_bound_py_any(py)?
        }
        None => py.None().into_bound(py),
    };
    d.set_item("statistics", isb)?;
    d.set_item("position", r.read_bytes.load(Ordering::Relaxed))?;
    // the file's SHA-256 as stored (compressed bytes for gzip), once it was read to its end
    d.set_item("sha256", r.sha256.as_deref())?;
    Ok(d)
}

/// The link layer of one frame, decoded as the core decodes it: `(ethertype, offset of the
/// network header, source MAC, destination MAC)` (a MAC is None where the link has none),
/// or None when the frame is too short or its link type is not supported. Encrypted
/// 802.11 data frames have the pseudo EtherType `WLAN_PROTECTED`. With `mirrors`, a
/// remote mirror's encapsulation (ERSPAN, GRE bridging, VXLAN, GENEVE) is opened whatever
/// its addresses: the link is the frame's inside it.
#[pyfunction]
#[pyo3(signature = (linktype, data, mirrors=false))]
fn decode_link<'py>(
    py: Python<'py>,
    linktype: u32,
    data: &[u8],
    mirrors: bool,
) -> PyResult<Option<Bound<'py, PyTuple>>> {
    let link = std::panic::catch_unwind(|| {
        let l = crate::decode::decode_link(linktype, data)?;
        Some(if mirrors {
            crate::decode::open_frame(data, l, data.len() as u32, &|_| true).link
        } else {
            l
        })
    })
    .ok()
    .flatten();
    match link {
        Some(l) => Ok(Some(tup!(py; l.ethertype, l.offset, mac_obj(py, &l.src)?,
            mac_obj(py, &l.dst)?))),
        None => Ok(None),
    }
}

/// The core's text for an IP address (4 or 16 bytes), for the tests: Python's own.
#[pyfunction]
fn ip_string(raw: &[u8]) -> PyResult<String> {
    match raw.len() {
        4 | 16 => Ok(ip_text(raw)),
        _ => Err(PyValueError::new_err("an IP address is 4 or 16 bytes")),
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(decode_link, m)?)?;
    m.add("WLAN_PROTECTED", crate::decode::WLAN_PROTECTED)?;
    m.add_class::<Core>()?;
    m.add_class::<Reader>()?;
    m.add("MAX_FLOWS", crate::engine::DEFAULT_MAX_FLOWS)?;
    m.add("BODY_BUDGET", crate::dissect::http::DEFAULT_BODY_BUDGET)?;
    m.add("DUPLICATE_WINDOW", crate::engine::DEFAULT_DUPLICATE_WINDOW)?;
    m.add("RECENT", crate::engine::RECENT)?;
    m.add("LOSS_HOLES", crate::loss::HOLES)?;
    m.add("TUNNEL_DEPTH", crate::decode::tunnel::MAX_DEPTH)?;
    m.add("MIRROR_SESSIONS", crate::engine::MAX_MIRROR_SESSIONS)?;
    m.add("LOSS_MAX_HOLE", crate::loss::MAX_HOLE)?;
    m.add_function(wrap_pyfunction!(ip_string, m)?)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A public capture with many parsed flows (beside the project, as the tests find it).
    fn capture_inner() -> Inner {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/realworld/big_mixed_1kxun_ndpi.pcap");
        let r = CaptureReader::open(&path, DEFAULT_GZIP_CAP, DEFAULT_GZIP_RATIO).expect("capture");
        Inner {
            engine: Engine::new(Config::default()),
            readers: vec![r],
            heads: vec![None],
            started: false,
            ahead: Arc::new(AtomicBool::new(false)),
        }
    }

    /// The core run ahead in the pipeline's thread hands over exactly the ops of the
    /// one-thread loop, batch for batch, with the flows stopped at the same points.
    #[test]
    fn the_pipeline_gives_the_one_thread_ops() {
        let stop_every = |b: &Vec<Op>| -> Vec<u64> {
            // stop every flow with a parser attached in the batch, as failing parsers would
            b.iter()
                .filter_map(|op| match op {
                    Op::Attach { fid, .. } if fid % 2 == 0 => Some(*fid),
                    _ => None,
                })
                .collect()
        };
        let lag = 2;
        let mut one = capture_inner();
        let mut want_batches = Vec::new();
        let mut held: std::collections::VecDeque<Vec<u64>> = Default::default();
        loop {
            let (ops, n) = one.batch(50);
            held.push_back(stop_every(&ops));
            if held.len() >= lag {
                one.stop(&held.pop_front().unwrap());
            }
            want_batches.push(ops);
            if n < 50 {
                break;
            }
        }
        assert!(want_batches.len() > 10);
        let work = Arc::new(Mutex::new(capture_inner()));
        // (with a lag of 3 here, batch 11 differs: the stops' timing shows in the ops)
        let mut p = Pipeline::start(Arc::clone(&work), 50, None, lag, None).unwrap();
        let mut got = Vec::new();
        while !p.ended() {
            match p.next(Duration::from_secs(30)) {
                Ok(Some(Msg::Batch(b))) => {
                    p.stops(stop_every(&b.out));
                    got.push(b.out);
                }
                Ok(Some(Msg::Failed(e))) => panic!("{e}"),
                Ok(None) => panic!("timed out"),
                Err(()) => panic!("the worker went away"),
            }
        }
        p.join(&work).unwrap();
        assert_eq!(got.len(), want_batches.len());
        for (i, (g, w)) in got.iter().zip(&want_batches).enumerate() {
            assert!(g == w, "batch {i} differs");
        }
        let g = work.lock().unwrap();
        assert_eq!(g.engine.packets, one.engine.packets);
        assert_eq!(g.positions(), one.positions());
    }
}
