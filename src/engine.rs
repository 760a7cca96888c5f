//! The packet loop: records to flows, counters, reassembled payloads for the dissectors,
//! L2 sightings and ARP facts, as a list of `Op`s that the Python side replays into its
//! sink in exactly this order.
//!
//! Which flows are dissected is decided here (ported from the Python registry): UDP by
//! port (server port first) or a QUIC Initial, TCP by the first in-order payload bytes.
//! Only those flows pay for reassembly and copies; every other packet only moves counters.

use std::collections::BTreeSet;
use std::hash::{Hash, Hasher};

use rustc_hash::{FxHashMap, FxHasher};

use crate::decode::link::Mac;
use crate::decode::net::FragKey;
use crate::decode::{decode_link, network, Link, Net, ETH_ARP, WLAN_PROTECTED};
use crate::flow::{sender_is_client, FlowTable, Key, NewFlow, Parse};
use crate::reassembly::{Budget, Reassembly};

pub const MAX_SEEN_DATAGRAMS: usize = 200_000;
pub const MAX_FRAGMENTS: usize = 65_536;
pub const MAX_L2: usize = 1_000_000;
pub const MAX_TCP_PARSE: u64 = 256 * 1024;
pub const MAX_HTTP_DOWNLOAD: u64 = 16 * 1024 * 1024;
pub const DEFAULT_MAX_FLOWS: usize = 1_000_000;
pub const DEFAULT_REASSEMBLY_BUDGET: usize = 256 * 1024 * 1024;

/// Parser names the core decides on itself (UDP port parsers come from Python).
pub const TLS: u8 = 0;
pub const RTSP: u8 = 1;
pub const SIP: u8 = 2;
pub const HTTP: u8 = 3;
pub const DNS: u8 = 4;
pub const QUIC: u8 = 5;
pub const BUILTIN_NAMES: [&str; 6] = ["tls", "rtsp", "sip", "http", "dns", "quic"];

/// What happened, in order, for the Python side to replay.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// a MAC seen for the first time (or, at the end, its last non-IP sighting)
    L2 {
        file: u32,
        frame: u64,
        ts: f64,
        mac: Mac,
        wirelen: u32,
    },
    NewFlow {
        fid: u64,
        file: u32,
        proto: u8,
        wlan: bool,
        a: Vec<u8>,
        b: Vec<u8>,
        a_port: u16,
        b_port: u16,
        a_mac: Option<Mac>,
        b_mac: Option<Mac>,
        ts: f64,
        frame: u64,
        bursts: bool,
    },
    Arp {
        file: u32,
        frame: u64,
        ts: f64,
        op: u16,
        sha: Mac,
        spa: [u8; 4],
        tha: Mac,
        tpa: [u8; 4],
    },
    /// a parser is attached to the flow (its name)
    Attach { fid: u64, name: u8 },
    /// bytes for the flow's parser; `gap`: bytes before these were never captured;
    /// `last`: the last piece delivered for this packet
    Payload {
        fid: u64,
        from_a: bool,
        frame: u64,
        ts: f64,
        data: Vec<u8>,
        gap: bool,
        last: bool,
    },
    /// the flow's parser is done (a byte budget was reached, the capture ended, or the
    /// flow was evicted)
    Close {
        fid: u64,
        from_a: bool,
        frame: u64,
        ts: f64,
    },
    /// an evicted flow's final counters
    Final(Counters),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Counters {
    pub fid: u64,
    pub bytes_ab: u64,
    pub bytes_ba: u64,
    pub pkts_ab: u64,
    pub pkts_ba: u64,
    pub payload_ab: u64,
    pub payload_ba: u64,
    pub last_ts: f64,
    pub last_frame: u64,
    pub first_frames: Vec<u64>,
    pub bursts: Option<Vec<[f64; 4]>>,
}

/// An address range of the premises policy.
#[derive(Debug, Clone)]
pub struct Net6 {
    pub v6: bool,
    pub addr: [u8; 16],
    pub prefix: u8,
}

impl Net6 {
    fn contains(&self, ip: &[u8]) -> bool {
        if (ip.len() == 16) != self.v6 {
            return false;
        }
        let bits = self.prefix as usize;
        let full = bits / 8;
        if ip[..full] != self.addr[..full] {
            return false;
        }
        let rem = bits % 8;
        if rem == 0 {
            return true;
        }
        let mask = 0xFFu8 << (8 - rem);
        ip[full] & mask == self.addr[full] & mask
    }
}

pub struct Config {
    /// UDP port to (parser name id, whether its first two bytes are a transaction id)
    pub udp_ports: FxHashMap<u16, (u8, bool)>,
    /// per parser name id: whether its datagrams start with a transaction id
    pub skip_id: [bool; 256],
    pub premises: Vec<Net6>,
    pub local: Vec<Net6>,
    pub max_flows: usize,
    pub reassembly_budget: usize,
    pub dissect: bool,
    /// (k, n): this engine handles the IP packets whose unordered address pair hashes to
    /// k modulo n, and only shard 0 the frames of no flow (MAC sightings, ARP, 802.11
    /// pairs); `--jobs` runs n such engines over the same input. (0, 1): everything.
    pub shard: (u32, u32),
}

impl Default for Config {
    fn default() -> Self {
        Config {
            udp_ports: FxHashMap::default(),
            skip_id: [false; 256],
            premises: Vec::new(),
            local: Vec::new(),
            max_flows: DEFAULT_MAX_FLOWS,
            reassembly_budget: DEFAULT_REASSEMBLY_BUDGET,
            dissect: true,
            shard: (0, 1),
        }
    }
}

pub struct Engine {
    pub cfg: Config,
    pub table: FlowTable,
    pub ops: Vec<Op>,
    pub packets: u64,
    pub bytes: u64,
    pub unsupported: BTreeSet<u32>,
    pub evicted: u64,
    pub panics: u64,
    pub l2_dropped: u64,
    budget: Budget,
    frag_map: FxHashMap<FragKey, (u32, u64, bool)>,
    seen_datagrams: rustc_hash::FxHashSet<u64>,
    l2_index: FxHashMap<Mac, usize>,
    l2_last: Vec<(Mac, Option<Sighting>)>,
    chunks: Vec<Vec<u8>>,
}

/// A MAC's latest non-IP frame: (file, frame, ts, wire length).
type Sighting = (u32, u64, f64, u32);

fn be16(d: &[u8], off: usize) -> u16 {
    u16::from_be_bytes([d[off], d[off + 1]])
}

fn rstrip(b: &[u8]) -> &[u8] {
    let mut n = b.len();
    while n > 0 && matches!(b[n - 1], b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c) {
        n -= 1;
    }
    &b[..n]
}

const HTTP_METHODS: [&[u8]; 8] = [
    b"GET ",
    b"POST ",
    b"PUT ",
    b"HEAD ",
    b"DELETE ",
    b"OPTIONS ",
    b"PATCH ",
    b"CONNECT ",
];
const RTSP_METHODS: [&[u8]; 11] = [
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
const SIP_METHODS: [&[u8]; 10] = [
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

fn starts_any(line: &[u8], set: &[&[u8]]) -> bool {
    set.iter().any(|m| line.starts_with(m))
}

/// The stream parser for a TCP flow, chosen from its first payload bytes.
pub fn tcp_parser(first: &[u8], a_port: u16, b_port: u16) -> Option<u8> {
    if first.len() >= 3 && first[0] == 0x16 && first[1] == 0x03 {
        return Some(TLS);
    }
    if first.len() >= 5 && first[0] & 0x80 != 0 && first[2] == 0x01 && matches!(first[3], 0 | 3) {
        return Some(TLS); // SSLv2-format ClientHello of old TLS clients
    }
    let line = match first.iter().position(|&c| c == b'\n') {
        Some(i) => &first[..i],
        None => &first[..first.len().min(200)],
    };
    let stripped = rstrip(line);
    if line.starts_with(b"RTSP/1.") || stripped.ends_with(b"RTSP/1.0") {
        return Some(RTSP);
    }
    if line.starts_with(b"SIP/2.0")
        || (stripped.ends_with(b"SIP/2.0") && starts_any(line, &SIP_METHODS))
    {
        return Some(SIP);
    }
    if starts_any(line, &HTTP_METHODS) || line.starts_with(b"HTTP/1.") {
        return Some(HTTP);
    }
    if starts_any(line, &RTSP_METHODS) && (a_port == 554 || b_port == 554) {
        return Some(RTSP);
    }
    if a_port == 53 || b_port == 53 {
        return Some(DNS);
    }
    None
}

fn varint(d: &[u8], pos: usize) -> Option<(u64, usize)> {
    let first = *d.get(pos)?;
    let size = 1usize << (first >> 6);
    if pos + size > d.len() {
        return None;
    }
    let mut v = (first & 0x3F) as u64;
    for i in 1..size {
        v = (v << 8) | d[pos + i] as u64;
    }
    Some((v, pos + size))
}

/// A QUIC v1/v2 long-header Initial whose header fields fit the datagram.
pub fn looks_like_quic_initial(p: &[u8]) -> bool {
    (|| -> Option<bool> {
        if p.len() < 7 || p[0] & 0xC0 != 0xC0 {
            return Some(false);
        }
        let version = u32::from_be_bytes([p[1], p[2], p[3], p[4]]);
        let bits = (p[0] >> 4) & 3;
        let ty = match version {
            0x0000_0001 => bits,
            0x6B33_43CF => bits.wrapping_sub(1) & 3,
            _ => return Some(false),
        };
        if ty != 0 {
            return Some(false);
        }
        let mut pos = 5usize;
        for _ in 0..2 {
            let n = *p.get(pos)? as usize;
            if n > 20 {
                return Some(false);
            }
            pos += 1 + n;
        }
        let (token, pos) = varint(p, pos)?;
        let pos = pos.checked_add(usize::try_from(token).ok()?)?;
        let (length, pos) = varint(p, pos)?;
        Some(length >= 20 && (pos as u64).saturating_add(length) <= p.len() as u64)
    })()
    .unwrap_or(false)
}

impl Engine {
    pub fn new(cfg: Config) -> Engine {
        let max = cfg.max_flows;
        let budget = Budget::new(cfg.reassembly_budget);
        Engine {
            cfg,
            table: FlowTable::new(max),
            ops: Vec::new(),
            packets: 0,
            bytes: 0,
            unsupported: BTreeSet::new(),
            evicted: 0,
            panics: 0,
            l2_dropped: 0,
            budget,
            frag_map: FxHashMap::default(),
            seen_datagrams: Default::default(),
            l2_index: FxHashMap::default(),
            l2_last: Vec::new(),
            chunks: Vec::new(),
        }
    }

    /// Gaps skipped because all flows together held too many out-of-order bytes.
    pub fn forced_skips(&self) -> u64 {
        self.budget.forced
    }

    fn scope(&self, ip: &[u8]) -> u8 {
        if self.cfg.premises.iter().any(|n| n.contains(ip)) {
            0
        } else if self.cfg.local.iter().any(|n| n.contains(ip)) {
            1
        } else {
            2
        }
    }

    /// Whether this engine's shard holds the flows between these two addresses (source
    /// then destination, 4 or 16 bytes each): every flow of one address pair, in either
    /// direction, fragments and repeated datagrams included, lands in the same shard.
    fn owns(&self, addrs: &[u8]) -> bool {
        let (k, n) = self.cfg.shard;
        if n <= 1 {
            return true;
        }
        let (a, b) = addrs.split_at(addrs.len() / 2);
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        let mut h = FxHasher::default();
        lo.hash(&mut h);
        hi.hash(&mut h);
        // FxHash's low bits are weak: fold the high half in
        let v = h.finish();
        ((v ^ (v >> 32)) % n as u64) as u32 == k
    }

    /// One packet, with a panic anywhere in its handling caught and counted.
    pub fn packet_guarded(
        &mut self,
        file: u32,
        frame: u64,
        ts: f64,
        lt: u32,
        d: &[u8],
        wirelen: u32,
    ) {
        let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.packet(file, frame, ts, lt, d, wirelen)
        }));
        if res.is_err() {
            self.panics += 1;
        }
    }

    pub fn packet(&mut self, file: u32, frame: u64, ts: f64, lt: u32, d: &[u8], wirelen: u32) {
        self.packets += 1;
        self.bytes += wirelen as u64;
        let Some(link) = decode_link(lt, d) else {
            self.unsupported.insert(lt);
            return;
        };
        let lead = self.cfg.shard.0 == 0;
        if let Some(smac) = link.src.filter(|_| lead) {
            if smac[0] & 1 == 0 && !self.l2_index.contains_key(&smac) {
                if self.l2_last.len() < MAX_L2 {
                    self.l2_index.insert(smac, self.l2_last.len());
                    self.l2_last.push((smac, None));
                    self.ops.push(Op::L2 {
                        file,
                        frame,
                        ts,
                        mac: smac,
                        wirelen,
                    });
                } else {
                    self.l2_dropped += 1;
                }
            }
        }
        match network(d, link.ethertype, link.offset) {
            Net::Skip => {}
            Net::NonIp if !lead => {}
            Net::NonIp => self.non_ip(file, frame, ts, d, wirelen, &link),
            Net::Ip { addrs, .. } if !self.owns(addrs) => {}
            Net::LaterFragment(k) => {
                if let Some(&(slot, fid, from_a)) = self.frag_map.get(&k) {
                    if self.table.holds(slot, fid) {
                        self.table
                            .get_mut(slot)
                            .count(from_a, wirelen, 0, ts, frame);
                    }
                }
            }
            Net::Ip {
                addrs,
                proto,
                l4,
                end,
                frag,
            } => match proto {
                6 => {
                    if end < l4 + 20 {
                        return;
                    }
                    let key = Key::new(addrs, [d[l4], d[l4 + 1], d[l4 + 2], d[l4 + 3]], 6);
                    let tflags = d[l4 + 13];
                    let (slot, from_a) = match self.table.lookup(&key) {
                        Some(h) => h,
                        None => self.new_flow(file, key, 6, Some(l4), d, &link, ts, tflags, frame),
                    };
                    let doff = ((d[l4 + 12] >> 4) as usize) << 2;
                    let plen = end.saturating_sub(l4 + doff) as u64;
                    let flow = self.table.get_mut(slot);
                    // an empty segment (a bare ACK) is no part of an upload burst
                    flow.count_as(from_a, wirelen, plen, ts, frame, plen > 0);
                    let fid = flow.fid;
                    let parse = flow.parse;
                    if let Some(k) = frag {
                        self.remember_fragment(k, slot, fid, from_a);
                    }
                    if parse == Parse::Off || !self.cfg.dissect {
                        return;
                    }
                    if plen > 0 || tflags & 0x02 != 0 {
                        let seq = u32::from_be_bytes([d[l4 + 4], d[l4 + 5], d[l4 + 6], d[l4 + 7]]);
                        let start = (l4 + doff).min(end);
                        self.tcp_payload(slot, from_a, seq, tflags, &d[start..end], frame, ts);
                    }
                }
                17 => {
                    if end < l4 + 8 {
                        return;
                    }
                    let key = Key::new(addrs, [d[l4], d[l4 + 1], d[l4 + 2], d[l4 + 3]], 17);
                    let (slot, from_a) = match self.table.lookup(&key) {
                        Some(h) => h,
                        None => self.new_flow(file, key, 17, Some(l4), d, &link, ts, 0, frame),
                    };
                    let flow = self.table.get_mut(slot);
                    flow.count(from_a, wirelen, (end - l4 - 8) as u64, ts, frame);
                    let fid = flow.fid;
                    let parse = flow.parse;
                    if let Some(k) = frag {
                        self.remember_fragment(k, slot, fid, from_a);
                    }
                    if parse == Parse::Off || !self.cfg.dissect {
                        return;
                    }
                    self.udp_payload(slot, from_a, &d[l4 + 8..end], frame, ts);
                }
                _ => {
                    // ICMP and every other IP protocol: one flow per address pair and protocol
                    let key = Key::new(addrs, [0; 4], proto);
                    let (slot, from_a) = match self.table.lookup(&key) {
                        Some(h) => h,
                        None => self.new_flow(file, key, proto, None, d, &link, ts, 0, frame),
                    };
                    self.table
                        .get_mut(slot)
                        .count(from_a, wirelen, 0, ts, frame);
                }
            },
        }
    }

    fn remember_fragment(&mut self, k: FragKey, slot: u32, fid: u64, from_a: bool) {
        if self.frag_map.len() >= MAX_FRAGMENTS {
            self.frag_map.clear(); // bounded: memory follows flows, not packets
        }
        self.frag_map.insert(k, (slot, fid, from_a));
    }

    #[allow(clippy::too_many_arguments)]
    fn new_flow(
        &mut self,
        file: u32,
        key: Key,
        proto: u8,
        l4: Option<usize>,
        d: &[u8],
        link: &Link,
        ts: f64,
        tflags: u8,
        frame: u64,
    ) -> (u32, bool) {
        let (sport, dport) = match l4 {
            Some(l4) => (be16(d, l4), be16(d, l4 + 2)),
            None => (0, 0),
        };
        let client = sender_is_client(proto, sport, dport, tflags);
        let (smac, dmac) = (link.src, link.dst);
        let (a, b) = if client {
            (key.src(), key.dst())
        } else {
            (key.dst(), key.src())
        };
        let track = self.scope(b) == 2 && self.scope(a) != 2;
        let (a, b) = (a.to_vec(), b.to_vec());
        let (a_port, b_port, a_mac, b_mac) = if client {
            (sport, dport, smac, dmac)
        } else {
            (dport, sport, dmac, smac)
        };
        self.make_room();
        let hit = self.table.insert(NewFlow {
            key,
            fwd_is_a: client,
            file,
            proto,
            wlan: false,
            a_port,
            b_port,
            ts,
            frame,
            track_bursts: track,
        });
        let fid = self.table.get(hit.0).fid;
        self.ops.push(Op::NewFlow {
            fid,
            file,
            proto,
            wlan: false,
            a,
            b,
            a_port,
            b_port,
            a_mac,
            b_mac,
            ts,
            frame,
            bursts: track,
        });
        hit
    }

    /// Evicts the idlest flow when the table is full: its parser is closed and its final
    /// counters go out, so nothing it counted is lost.
    fn make_room(&mut self) {
        if !self.table.is_full() {
            return;
        }
        if let Some(slot) = self.table.idlest() {
            self.finish_flow(slot);
            let flow = self.table.remove(slot);
            self.ops.push(Op::Final(counters(&flow)));
            self.evicted += 1;
        }
    }

    fn non_ip(&mut self, file: u32, frame: u64, ts: f64, d: &[u8], wirelen: u32, link: &Link) {
        if let Some(smac) = link.src {
            if smac[0] & 1 == 0 {
                // first sightings are reported above; keep the latest non-IP one
                if let Some(&i) = self.l2_index.get(&smac) {
                    self.l2_last[i].1 = Some((file, frame, ts, wirelen));
                }
            }
        }
        if link.ethertype == ETH_ARP {
            let off = link.offset;
            if d.len() < off + 28 {
                return;
            }
            let a = &d[off..off + 28];
            if be16(a, 0) != 1 || be16(a, 2) != 0x0800 || a[4] != 6 || a[5] != 4 {
                return;
            }
            let mut sha = [0u8; 6];
            let mut tha = [0u8; 6];
            let mut spa = [0u8; 4];
            let mut tpa = [0u8; 4];
            sha.copy_from_slice(&a[8..14]);
            spa.copy_from_slice(&a[14..18]);
            tha.copy_from_slice(&a[18..24]);
            tpa.copy_from_slice(&a[24..28]);
            self.ops.push(Op::Arp {
                file,
                frame,
                ts,
                op: be16(a, 6),
                sha,
                spa,
                tha,
                tpa,
            });
        } else if link.ethertype == WLAN_PROTECTED {
            let (Some(smac), Some(dmac)) = (link.src, link.dst) else {
                return;
            };
            let mut pair = [0u8; 12];
            pair[..6].copy_from_slice(&smac);
            pair[6..].copy_from_slice(&dmac);
            let key = Key::new(&pair, [0; 4], 0);
            let (slot, from_a) = match self.table.lookup(&key) {
                Some(h) => h,
                None => {
                    self.make_room();
                    let hit = self.table.insert(NewFlow {
                        key,
                        fwd_is_a: true,
                        file,
                        proto: 0,
                        wlan: true,
                        a_port: 0,
                        b_port: 0,
                        ts,
                        frame,
                        track_bursts: false,
                    });
                    let flow = self.table.get_mut(hit.0);
                    flow.parse = Parse::Off;
                    let fid = flow.fid;
                    self.ops.push(Op::NewFlow {
                        fid,
                        file,
                        proto: 0,
                        wlan: true,
                        a: Vec::new(),
                        b: Vec::new(),
                        a_port: 0,
                        b_port: 0,
                        a_mac: Some(smac),
                        b_mac: Some(dmac),
                        ts,
                        frame,
                        bursts: false,
                    });
                    hit
                }
            };
            self.table
                .get_mut(slot)
                .count(from_a, wirelen, 0, ts, frame);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn tcp_payload(
        &mut self,
        slot: u32,
        from_a: bool,
        seq: u32,
        flags: u8,
        payload: &[u8],
        frame: u64,
        ts: f64,
    ) {
        let mut chunks = std::mem::take(&mut self.chunks);
        chunks.clear();
        let flow = self.table.get_mut(slot);
        let tcp = flow.tcp.get_or_insert_with(|| Box::new(Reassembly::new()));
        let d = if from_a { 0 } else { 1 };
        let gaps = tcp.gaps(d);
        tcp.segment(d, seq, flags, payload, &mut self.budget, &mut chunks);
        if chunks.is_empty() {
            self.chunks = chunks;
            return;
        }
        let gap = tcp.gaps(d) != gaps && matches!(flow.parse, Parse::Active(_));
        let fid = flow.fid;
        if flow.parse == Parse::Undecided {
            match tcp_parser(&chunks[0], flow.a_port, flow.b_port) {
                Some(name) => {
                    flow.parse = Parse::Active(name);
                    self.ops.push(Op::Attach { fid, name });
                }
                None => {
                    flow.parse = Parse::Off;
                    if let Some(mut t) = flow.tcp.take() {
                        t.release(&mut self.budget);
                    }
                    self.chunks = chunks;
                    return;
                }
            }
        }
        let n = chunks.len();
        for (i, data) in chunks.drain(..).enumerate() {
            self.ops.push(Op::Payload {
                fid,
                from_a,
                frame,
                ts,
                data,
                gap: gap && i == 0,
                last: i + 1 == n,
            });
        }
        self.chunks = chunks;
        let flow = self.table.get(slot);
        let over = match flow.parse {
            Parse::Active(HTTP) => {
                // HTTP keeps going, its upload bodies are the evidence; but a camera's
                // endless MJPEG response to a client that sends nothing is not worth it
                flow.payload_ba > MAX_HTTP_DOWNLOAD && flow.payload_ab < MAX_TCP_PARSE
            }
            _ => flow.payload_ab > MAX_TCP_PARSE && flow.payload_ba > MAX_TCP_PARSE,
        };
        if over {
            self.close(slot, from_a, frame, ts);
        }
    }

    fn close(&mut self, slot: u32, from_a: bool, frame: u64, ts: f64) {
        let flow = self.table.get_mut(slot);
        flow.parse = Parse::Off;
        if let Some(mut t) = flow.tcp.take() {
            t.release(&mut self.budget);
        }
        let fid = flow.fid;
        self.ops.push(Op::Close {
            fid,
            from_a,
            frame,
            ts,
        });
    }

    fn udp_payload(&mut self, slot: u32, from_a: bool, payload: &[u8], frame: u64, ts: f64) {
        let flow = self.table.get_mut(slot);
        let fid = flow.fid;
        if flow.parse == Parse::Undecided {
            let hit = self
                .cfg
                .udp_ports
                .get(&flow.b_port)
                .or_else(|| self.cfg.udp_ports.get(&flow.a_port));
            let name = match hit {
                Some(&(name, _)) => Some(name),
                None if looks_like_quic_initial(payload) => Some(QUIC),
                None => None,
            };
            match name {
                Some(name) => {
                    flow.parse = Parse::Active(name);
                    self.ops.push(Op::Attach { fid, name });
                }
                None => {
                    flow.parse = Parse::Off;
                    return;
                }
            }
        }
        let Parse::Active(name) = flow.parse else {
            return;
        };
        if name != QUIC {
            // discovery and name-service chatter repeats itself: an identical datagram
            // between the same two hosts says nothing new (DNS-like ids are ignored)
            let body = if self.cfg.skip_id[name as usize] {
                payload.get(2..).unwrap_or(&[])
            } else {
                payload
            };
            let mut h = FxHasher::default();
            name.hash(&mut h);
            flow.a_addr().hash(&mut h);
            flow.b_addr().hash(&mut h);
            from_a.hash(&mut h);
            body.hash(&mut h);
            let key = h.finish();
            if self.seen_datagrams.contains(&key) {
                return;
            }
            if self.seen_datagrams.len() >= MAX_SEEN_DATAGRAMS {
                self.seen_datagrams.clear();
            }
            self.seen_datagrams.insert(key);
        }
        self.ops.push(Op::Payload {
            fid,
            from_a,
            frame,
            ts,
            data: payload.to_vec(),
            gap: false,
            last: true,
        });
    }

    /// The Python side stopped a flow's parser (it finished, or failed).
    pub fn stop(&mut self, fid: u64) {
        // fids are handed out in slot order only at first; look the slot up
        if let Some(slot) = self.slot_of(fid) {
            let flow = self.table.get_mut(slot);
            flow.parse = Parse::Off;
            if let Some(mut t) = flow.tcp.take() {
                t.release(&mut self.budget);
            }
        }
    }

    fn slot_of(&self, fid: u64) -> Option<u32> {
        self.table.slot_of(fid)
    }

    /// Flushes a flow's reassembly into its parser and closes it (end of input, eviction).
    fn finish_flow(&mut self, slot: u32) {
        let flow = self.table.get_mut(slot);
        if !matches!(flow.parse, Parse::Active(_)) {
            return;
        }
        let fid = flow.fid;
        let (frame, ts) = (flow.last_frame, flow.last_ts);
        if let Some(mut tcp) = flow.tcp.take() {
            for d in 0..2 {
                let mut chunks = Vec::new();
                let gaps = tcp.gaps(d);
                tcp.flush(d, &mut self.budget, &mut chunks);
                let gap = !chunks.is_empty() && tcp.gaps(d) != gaps;
                let n = chunks.len();
                for (i, data) in chunks.into_iter().enumerate() {
                    self.ops.push(Op::Payload {
                        fid,
                        from_a: d == 0,
                        frame,
                        ts,
                        data,
                        gap: gap && i == 0,
                        last: i + 1 == n,
                    });
                }
            }
            tcp.release(&mut self.budget);
        }
        let flow = self.table.get_mut(slot);
        let name = match flow.parse {
            Parse::Active(n) => n,
            _ => 0,
        };
        flow.parse = Parse::Off;
        if (name as usize) < BUILTIN_NAMES.len() {
            // stream parsers may hold a message in progress; stateless datagram parsers
            // (the UDP port table's) have nothing to say at the end: no op for them
            self.ops.push(Op::Close {
                fid,
                from_a: true,
                frame,
                ts,
            });
        }
    }

    /// End of input: last non-IP sightings of MACs, then every parser flushed and closed
    /// in flow creation order.
    pub fn finish(&mut self) {
        for (mac, last) in &self.l2_last {
            if let Some((file, frame, ts, wirelen)) = *last {
                self.ops.push(Op::L2 {
                    file,
                    frame,
                    ts,
                    mac: *mac,
                    wirelen,
                });
            }
        }
        for slot in self.table.live_slots() {
            self.finish_flow(slot);
        }
    }

    /// Counters of flows changed since the last call (all live flows with `all`).
    pub fn take_counters(&mut self, all: bool) -> Vec<Counters> {
        let mut out = Vec::new();
        for slot in self.table.live_slots() {
            let flow = self.table.get_mut(slot);
            if all || flow.dirty {
                flow.dirty = false;
                out.push(counters(flow));
            }
        }
        out
    }

    /// Drops the lookup tables once the input is done (the flows' facts went out).
    pub fn release(&mut self) {
        self.table.clear();
        self.frag_map = FxHashMap::default();
        self.seen_datagrams = Default::default();
    }
}

pub fn counters(f: &crate::flow::Flow) -> Counters {
    Counters {
        fid: f.fid,
        bytes_ab: f.bytes_ab,
        bytes_ba: f.bytes_ba,
        pkts_ab: f.pkts_ab,
        pkts_ba: f.pkts_ba,
        payload_ab: f.payload_ab,
        payload_ba: f.payload_ba,
        last_ts: f.last_ts,
        last_frame: f.last_frame,
        first_frames: f.first_frames[..f.n_first as usize].to_vec(),
        bursts: f.bursts.as_ref().map(|b| b.list.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn udp(src: u8, sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
        let mut v = vec![
            0, 1, 2, 3, 4, 5, 0x10, 0x11, 0x12, 0x13, 0x14, src, 0x08, 0x00,
        ];
        let total = 28 + payload.len();
        v.extend([
            0x45,
            0,
            (total >> 8) as u8,
            total as u8,
            0,
            1,
            0x40,
            0,
            64,
            17,
            0,
            0,
        ]);
        v.extend([192, 168, 1, src, 8, 8, 8, 8]);
        v.extend(sport.to_be_bytes());
        v.extend(dport.to_be_bytes());
        v.extend(((8 + payload.len()) as u16).to_be_bytes());
        v.extend([0, 0]);
        v.extend(payload);
        v
    }

    fn engine(max_flows: usize) -> Engine {
        let mut cfg = Config {
            max_flows,
            ..Config::default()
        };
        cfg.udp_ports.insert(53, (6, true));
        cfg.skip_id[6] = true;
        cfg.premises.push(Net6 {
            v6: false,
            addr: [192, 168, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            prefix: 16,
        });
        Engine::new(cfg)
    }

    /// (first frame, ports) of the flows an engine announced, and its MAC sightings.
    fn announced(e: &Engine) -> (Vec<(u64, u16, u16)>, usize) {
        let mut flows = Vec::new();
        let mut l2 = 0;
        for op in &e.ops {
            match op {
                Op::NewFlow {
                    frame,
                    a_port,
                    b_port,
                    ..
                } => flows.push((*frame, *a_port, *b_port)),
                Op::L2 { .. } => l2 += 1,
                _ => {}
            }
        }
        (flows, l2)
    }

    #[test]
    fn shards_partition_flows_by_address_pair() {
        let mut packets = Vec::new();
        for src in 1u8..=40 {
            // two flows per address pair, and the reply direction of the first
            packets.push(udp(src, 40000, 9999, b"a"));
            packets.push(udp(src, 40001, 9999, b"b"));
        }
        let run = |shard: (u32, u32)| {
            let mut e = engine(1000);
            e.cfg.shard = shard;
            for (i, p) in packets.iter().enumerate() {
                e.packet(0, i as u64 + 1, i as f64, 1, p, p.len() as u32);
            }
            e
        };
        let whole = run((0, 1));
        let (all, l2_all) = announced(&whole);
        assert_eq!(all.len(), 80);
        let parts: Vec<Engine> = (0..3).map(|k| run((k, 3))).collect();
        let mut union = Vec::new();
        for (k, e) in parts.iter().enumerate() {
            let (flows, l2) = announced(e);
            assert!(!flows.is_empty(), "shard {k} got no flow");
            // the two flows of one address pair stay together
            for pair in flows.chunks(2) {
                assert_eq!(pair[0].0 + 1, pair[1].0);
            }
            union.extend(flows);
            // MAC sightings (frames of no flow) come from shard 0 alone
            assert_eq!(l2, if k == 0 { l2_all } else { 0 });
            assert_eq!(e.packets, whole.packets);
        }
        union.sort_unstable();
        assert_eq!(union, all);
    }

    #[test]
    fn evicted_flows_keep_their_counts() {
        let mut e = engine(2);
        for (i, src) in [1u8, 2, 3].iter().enumerate() {
            let p = udp(*src, 40000, 9999, b"hello");
            e.packet(0, i as u64 + 1, i as f64, 1, &p, p.len() as u32);
        }
        assert_eq!(e.evicted, 1);
        assert_eq!(e.table.live, 2);
        let finals: Vec<&Counters> = e
            .ops
            .iter()
            .filter_map(|o| match o {
                Op::Final(c) => Some(c),
                _ => None,
            })
            .collect();
        assert_eq!(finals.len(), 1);
        let c = finals[0];
        assert_eq!((c.fid, c.pkts_ab, c.bytes_ab, c.payload_ab), (0, 1, 47, 5));
        // off-site flows from the premises have their upload bursts kept
        assert_eq!(c.bursts.as_ref().map(|b| b.len()), Some(1));
        let live = e.take_counters(true);
        assert_eq!(live.iter().map(|c| c.fid).collect::<Vec<_>>(), vec![1, 2]);
    }

    #[test]
    fn datagram_repeats_are_dropped_and_ids_ignored() {
        let mut e = engine(100);
        for (i, id) in [[0u8, 1], [0, 2], [0, 2]].iter().enumerate() {
            let mut q = id.to_vec();
            q.extend(b"query");
            let p = udp(1, 40000, 53, &q);
            e.packet(0, i as u64 + 1, 0.0, 1, &p, p.len() as u32);
        }
        let payloads = e
            .ops
            .iter()
            .filter(|o| matches!(o, Op::Payload { .. }))
            .count();
        assert_eq!(payloads, 1);
        assert!(e
            .ops
            .iter()
            .any(|o| matches!(o, Op::Attach { name: 6, .. })));
    }

    #[test]
    fn tcp_parser_choices() {
        assert_eq!(tcp_parser(b"\x16\x03\x01\x02\x00", 5000, 443), Some(TLS));
        assert_eq!(tcp_parser(b"GET / HTTP/1.1\r\n", 5000, 8080), Some(HTTP));
        assert_eq!(tcp_parser(b"HTTP/1.1 200 OK\r\n", 5000, 80), Some(HTTP));
        assert_eq!(
            tcp_parser(b"OPTIONS rtsp://x RTSP/1.0\r\n", 5000, 8554),
            Some(RTSP)
        );
        assert_eq!(tcp_parser(b"PLAY x\r\n", 5000, 554), Some(RTSP));
        assert_eq!(tcp_parser(b"PLAY x\r\n", 5000, 555), None);
        assert_eq!(
            tcp_parser(b"INVITE sip:a SIP/2.0\r\n", 5000, 5060),
            Some(SIP)
        );
        assert_eq!(tcp_parser(b"\x00\x1c", 5000, 53), Some(DNS));
        assert_eq!(tcp_parser(b"random", 5000, 9), None);
    }

    #[test]
    fn quic_initial_check() {
        let mut p = vec![0xc3, 0, 0, 0, 1, 8];
        p.extend([7; 8]);
        p.push(0); // SCID length
        p.push(0); // token length
        p.extend([0x40, 30]); // length 30 (two-byte varint)
        p.extend([0; 30]);
        assert!(looks_like_quic_initial(&p));
        p[4] = 2; // unknown version
        assert!(!looks_like_quic_initial(&p));
        p[4] = 1;
        p.truncate(40);
        assert!(!looks_like_quic_initial(&p));
    }
}
