//! The packet loop: records to flows, counters, reassembled payloads, dissected events,
//! L2 sightings and ARP facts, as a list of `Op`s that the Python side replays into its
//! sink in exactly this order.
//!
//! Which flows are dissected is decided by `dissect::registry` alone: UDP by port (server
//! port first) or a QUIC Initial, TCP by the first in-order payload bytes. Only those flows
//! pay for reassembly and copies; every other packet only moves counters. The core runs
//! the Rust dissectors itself (DNS/mDNS/LLMNR, NBNS, DHCP, DHCPv6, NTP, SSDP, SIP over UDP,
//! QUIC Initial, and every TCP stream: TLS, DNS over TCP, HTTP/1.x, RTSP, SIP over TCP) and
//! hands over ready events with their context; the payloads of the parsers that stay in
//! Python (WS-Discovery, vendor discovery, Router Advertisements) are handed over as before.
//!
//! Repeated facts are dropped here: an identical datagram between the same two hosts
//! (DNS-like transaction ids ignored) is not parsed again, and a datagram event equal to
//! one already reported from the same sender (address and MAC) to the same receiver (DNS
//! answers compared without their TTLs; a resolver's answer to any premises or local
//! receiver counts as one, since what is kept of it is the names and the resolver's
//! sighting) is not reported again. What the inventory keeps of a sighting is its first
//! and its last time, so the latest repeat of each fact is held back and handed over later
//! (`flush_repeats`: when a minute of capture time has passed since the last hand-over,
//! when too many are held, before a flow that has one is evicted, and at the end): a fact
//! sent at its first and at its latest sighting records exactly what every repeat would,
//! whatever the batches. Both kinds of repeats are counted.

use std::collections::BTreeSet;
use std::hash::{Hash, Hasher};

use rustc_hash::{FxHashMap, FxHashSet};
use std::hash::BuildHasher;

use crate::decode::link::Mac;
use crate::decode::net::FragKey;
use crate::decode::{
    decode_link, network, open_frame, Link, Net, ETH_ARP, ETH_IPV4, ETH_IPV6, WLAN_PROTECTED,
};
use crate::dissect::http;
use crate::dissect::registry::{self, Stream, TcpParser, UdpParser};
use crate::events::Event;
use crate::flow::{sender_is_client, FlowTable, Key, KeyedMap, NewFlow, Parse, NO_APP};
use crate::loss::Missed;
use crate::reassembly::{Budget, Reassembly};

pub const MAX_SEEN_DATAGRAMS: usize = 200_000;
/// remote-mirror sessions (outer addresses and kind) listed, at most
pub const MAX_MIRROR_SESSIONS: usize = 16;
pub const MAX_SEEN_FACTS: usize = 200_000;
/// held-back latest repeats of facts, at most
pub const MAX_HELD_REPEATS: usize = 20_000;
/// capture seconds between hand-overs of the held-back repeats
pub const REPEAT_FLUSH_SECS: f64 = 60.0;
pub const MAX_FRAGMENTS: usize = 65_536;
pub const MAX_L2: usize = 1_000_000;
pub const MAX_TCP_PARSE: u64 = 256 * 1024;
pub const MAX_HTTP_DOWNLOAD: u64 = 16 * 1024 * 1024;
pub const DEFAULT_MAX_FLOWS: usize = 1_000_000;
pub const DEFAULT_REASSEMBLY_BUDGET: usize = 256 * 1024 * 1024;

/// Parser ids (`Parse::Active`): the TCP stream parsers in `TCP_PARSERS` order, QUIC, the
/// UDP datagram parsers the core runs in `UDP_CORE` order, then (from `PY_BASE`) the names
/// of the UDP parsers that stay in Python.
const TCP_PARSERS: [TcpParser; 5] = [
    TcpParser::Tls,
    TcpParser::Rtsp,
    TcpParser::Sip,
    TcpParser::Http,
    TcpParser::Dns,
];
pub const TLS: u8 = 0;
pub const HTTP: u8 = 3;
pub const DNS_TCP: u8 = 4;
pub const QUIC: u8 = 5;
const UDP_BASE: u8 = 6;
const UDP_CORE: [UdpParser; 9] = [
    UdpParser::Dns,
    UdpParser::Mdns,
    UdpParser::Llmnr,
    UdpParser::Nbns,
    UdpParser::Dhcp,
    UdpParser::Dhcpv6,
    UdpParser::Ntp,
    UdpParser::Ssdp,
    UdpParser::Sip,
];
/// ICMPv6 Router Advertisements, handed to the Python dissector (the premises inference
/// reads their prefixes): a link fact, not an application
pub const ICMPV6: u8 = UDP_BASE + UDP_CORE.len() as u8;
const ICMPV6_ROUTER_ADVERT: u8 = 134;
pub const PY_BASE: u8 = 16;
/// The name of the Python parser that takes the payload heads of the UDP ports the signature
/// pack names for its content markers (`netscan/dissectors/payload.py`): only the first
/// `MAX_PROBE_DATAGRAMS` datagrams of a flow, each cut to `PROBE_HEAD` bytes, are handed over.
pub const PROBE_PARSER: &str = "payload";
pub const MAX_PROBE_DATAGRAMS: u64 = 8;
pub const PROBE_HEAD: usize = 2048;

/// The names of the parser ids below `PY_BASE` (the flow's application, as Python names it).
pub fn builtin_names() -> Vec<&'static str> {
    let mut v: Vec<&'static str> = TCP_PARSERS.iter().map(|p| p.name()).collect();
    v.push(UdpParser::Quic.name());
    v.extend(UDP_CORE.iter().map(|p| p.name()));
    v.push("icmpv6");
    v.resize(PY_BASE as usize, "");
    v
}

/// Whether the core runs the parser `id` itself (no payloads for Python).
pub fn in_core(id: u8) -> bool {
    id <= DNS_TCP || id == QUIC || (UDP_BASE..ICMPV6).contains(&id)
}

fn tcp_id(p: TcpParser) -> u8 {
    TCP_PARSERS.iter().position(|&t| t == p).unwrap_or(0) as u8
}

fn udp_core_id(p: UdpParser) -> Option<u8> {
    if p == UdpParser::Quic {
        return Some(QUIC);
    }
    UDP_CORE
        .iter()
        .position(|&u| u == p)
        .map(|i| UDP_BASE + i as u8)
}

/// Where an event was seen, for its Python `Ctx`: addresses as bytes (16 for IPv4 too,
/// `v6` says which), the sender first.
#[derive(Debug, Clone, PartialEq)]
pub struct EvCtx {
    pub file: u32,
    pub frame: u64,
    pub ts: f64,
    pub src_mac: Option<Mac>,
    pub dst_mac: Option<Mac>,
    pub src: [u8; 16],
    pub dst: [u8; 16],
    pub v6: bool,
    pub sport: u16,
    pub dport: u16,
    /// the IP protocol (6 or 17)
    pub proto: u8,
}

impl EvCtx {
    pub fn src_ip(&self) -> &[u8] {
        &self.src[..if self.v6 { 16 } else { 4 }]
    }

    pub fn dst_ip(&self) -> &[u8] {
        &self.dst[..if self.v6 { 16 } else { 4 }]
    }
}

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
        /// the premises policy's scope of side A's and side B's address (0 premises,
        /// 1 local scope, 2 off-site), so that Python need not parse the addresses
        a_scope: u8,
        b_scope: u8,
        /// a parser attached to the flow by the packet that opened it (`Attach` folded
        /// in: the op that would have come next), `NO_APP` for none
        attach: u8,
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
    /// a parser is attached to the flow (its id; `in_core(name)`: the core runs it)
    Attach { fid: u64, name: u8 },
    /// bytes for the flow's Python parser; `gap`: bytes before these were never captured;
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
    /// events of the core's own dissectors for one packet of the flow
    Events {
        fid: u64,
        ctx: Box<EvCtx>,
        events: Vec<Event>,
    },
    /// the flow's Python parser is done (a byte budget was reached, the capture ended, or
    /// the flow was evicted)
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
    /// bytes of the connection's sequence space the capture missed, from A and from B
    pub missed_ab: u64,
    pub missed_ba: u64,
}

/// An address of up to 16 bytes, as a compact hash key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
struct Addr {
    raw: [u8; 16],
    len: u8,
}

impl Addr {
    fn of(ip: &[u8]) -> Addr {
        let mut raw = [0u8; 16];
        let n = ip.len().min(16);
        raw[..n].copy_from_slice(&ip[..n]);
        Addr { raw, len: n as u8 }
    }

    fn bytes(&self) -> &[u8] {
        &self.raw[..self.len as usize]
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct ConvKey {
    wlan: bool,
    dev_mac: Option<Mac>,
    dev_ip: Addr,
    peer_ip: Addr,
    proto: u8,
    port: u16,
}

/// Frame numbers a conversation keeps (`Conversation.frames`).
pub const CONV_FRAMES: usize = 10;

/// Live flows summed per conversation at the end of input (`Engine::conv_rows`). The
/// facts of the group's first flow: the device's address (`dev_ip`, side A's or side
/// B's; empty for 802.11 pairs), the peer's MAC, whether the device is the client (side
/// A), whether the device's and the peer's addresses are on the premises. The sums and
/// extremes over all its flows: counters from the device's point of view (up: device to
/// peer), the earliest first packet (the first flow to have it: its file and first
/// frame), the latest packet, the parser ids attached (in order of first attachment), the
/// first `CONV_FRAMES` (file, frame) numbers in flow order, and the upload bursts of the
/// flows whose side A is the device, in flow order, with each such flow's count.
#[derive(Debug, Clone, PartialEq)]
pub struct ConvRow {
    pub wlan: bool,
    pub dev_mac: Option<Mac>,
    pub dev_ip: Vec<u8>,
    pub peer_ip: Vec<u8>,
    pub proto: u8,
    pub port: u16,
    pub peer_mac: Option<Mac>,
    pub device_is_client: bool,
    pub dev_prem: bool,
    pub peer_prem: bool,
    pub first_ts: f64,
    pub first_frame: (u32, u64),
    pub last_ts: f64,
    pub bytes_up: u64,
    pub bytes_down: u64,
    pub pkts_up: u64,
    pub pkts_down: u64,
    /// bytes the capture missed of the device's TCP sequence space and of the peer's
    pub missed_up: u64,
    pub missed_down: u64,
    pub flows: u64,
    pub apps: Vec<u8>,
    pub frames: Vec<(u32, u64)>,
    pub bursts: Vec<[f64; 4]>,
    pub burst_counts: Vec<u32>,
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
    /// UDP ports whose parsers stay in Python: port to (parser id from `PY_BASE`, whether
    /// its first two bytes are a transaction id)
    pub python_ports: FxHashMap<u16, (u8, bool)>,
    pub premises: Vec<Net6>,
    pub local: Vec<Net6>,
    pub max_flows: usize,
    pub reassembly_budget: usize,
    pub dissect: bool,
    /// drop repeated datagram facts (the exact parity tests turn it off)
    pub dedup_facts: bool,
    /// the parser id of `PROBE_PARSER`, when a port is handed to it
    pub probe_id: Option<u8>,
    /// request path prefixes whose HTTP responses are kept (the pack's; none by default)
    pub response_prefixes: http::ResponsePrefixes,
    /// body bytes the HTTP streams may be reassembling at once, all together
    pub body_budget: usize,
    /// seconds within which a frame that holds the same IP packet as one of the `RECENT`
    /// frames before it in the same input (or, without one, the same bytes) is a copy the
    /// capture made, not a packet (0: every frame counts)
    pub duplicate_window: f64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            python_ports: FxHashMap::default(),
            premises: Vec::new(),
            local: Vec::new(),
            max_flows: DEFAULT_MAX_FLOWS,
            reassembly_budget: DEFAULT_REASSEMBLY_BUDGET,
            dissect: true,
            dedup_facts: true,
            probe_id: None,
            response_prefixes: http::ResponsePrefixes::default(),
            body_budget: http::DEFAULT_BODY_BUDGET,
            duplicate_window: DEFAULT_DUPLICATE_WINDOW,
        }
    }
}

/// Frames of an input a new frame is compared with (as `editcap -d` compares four).
pub const RECENT: usize = 4;
/// Rings of recent frames: input `i` uses ring `i % RINGS` (`Engine::is_copy`).
const RINGS: usize = 64;
/// A copy made by a mirror port or by capturing on both sides of a bridge follows its
/// original within microseconds to a few milliseconds (up to 5 ms in the public captures
/// of `../shared/realworld`); a device's own repeats (SSDP, mDNS, retries) come tens of
/// milliseconds apart or more, and usually differ in the IPv4 identification anyway.
pub const DEFAULT_DUPLICATE_WINDOW: f64 = 0.010;

/// What `Recent` compares in place of a link type for a frame that holds an IP packet: the
/// packet, not the frame, so that a copy the mirror port tagged with a VLAN, an 802.11 retry
/// or a copy taken on another interface of the same capture is still a copy.
const IP_PACKET: u32 = u32::MAX;

/// The extent of the IP packet at `off` of a frame of EtherType `et`: (its total length,
/// the end of its captured bytes); none when the frame holds no IP packet whose header gives
/// its length (a jumbogram), or only part of its fixed header.
fn ip_extent(d: &[u8], et: i32, off: usize) -> Option<(u32, usize)> {
    let total = match et {
        ETH_IPV4 if d.len() >= off + 20 && d[off] >> 4 == 4 => {
            let t = u16::from_be_bytes([d[off + 2], d[off + 3]]) as usize;
            if t < 20 {
                return None;
            }
            t
        }
        ETH_IPV6 if d.len() >= off + 40 && d[off] >> 4 == 6 => {
            let plen = u16::from_be_bytes([d[off + 4], d[off + 5]]) as usize;
            if plen == 0 {
                return None;
            }
            40 + plen
        }
        _ => return None,
    };
    Some((total as u32, d.len().min(off + total)))
}

/// The latest frames of one input: (hash of the bytes, captured length, wire length,
/// link type, time), oldest overwritten first. For a frame that holds an IP packet: (hash
/// of the packet's captured bytes, their length, the packet's total length, `IP_PACKET`).
#[derive(Default)]
struct Recent {
    frames: [(u64, u32, u32, u32, f64); RECENT],
    len: usize,
    next: usize,
}

impl Recent {
    /// Whether a frame like this one came within `window` seconds; if not, it is kept.
    fn is_copy(&mut self, key: (u64, u32, u32, u32), ts: f64, window: f64) -> bool {
        let seen = self.frames[..self.len]
            .iter()
            .any(|&(h, c, w, l, t)| (h, c, w, l) == key && (ts - t).abs() <= window);
        if !seen {
            self.frames[self.next] = (key.0, key.1, key.2, key.3, ts);
            self.next = (self.next + 1) % RECENT;
            self.len = (self.len + 1).min(RECENT);
        }
        seen
    }
}

pub struct Engine {
    pub cfg: Config,
    pub table: FlowTable,
    pub ops: Vec<Op>,
    pub packets: u64,
    pub bytes: u64,
    /// frames that were copies of a frame just before them (`Config::duplicate_window`),
    /// and their wire bytes: counted in `packets` and `bytes`, not analysed
    pub duplicates: u64,
    pub duplicate_bytes: u64,
    /// frames that came inside a remote mirror's encapsulation, by its kind
    /// (`decode::TUNNEL_NAMES`): analysed as the frame they carry
    pub tunnelled: [u64; 4],
    /// the mirror sessions those frames came in: (outer addresses, source then
    /// destination, and the encapsulation's kind) to frames, at most `MAX_MIRROR_SESSIONS`;
    /// the frames of any other session are counted in `mirror_unlisted`
    pub mirror_sessions: Vec<(Vec<u8>, u8, u64)>,
    pub mirror_unlisted: u64,
    /// the latest frames of the inputs (by index modulo `RINGS`), for telling copies
    recent: Vec<Recent>,
    /// the records come from one capture whatever their input (a live capture's ring
    /// files, one after another): one ring of recent frames, so that a copy written to the
    /// next ring file than its original is still told apart
    pub one_stream: bool,
    /// bytes of TCP sequence space the capture missed (`loss`), and the TCP payload bytes
    /// it did capture
    pub missed: Missed,
    pub tcp_payload: u64,
    pub unsupported: BTreeSet<u32>,
    pub evicted: u64,
    pub panics: u64,
    pub l2_dropped: u64,
    /// identical datagrams not parsed again
    pub datagrams_repeated: u64,
    /// datagram events not reported again (the same fact between the same hosts)
    pub facts_repeated: u64,
    /// datagrams of payload-probe ports not handed over (beyond a flow's first ones)
    pub probe_dropped: u64,
    /// bytes cut from the payload heads handed over for probe ports
    pub probe_cut: u64,
    /// events of the core's dissectors handed over
    pub events: u64,
    /// repeated facts handed over as their batch's latest sighting
    pub facts_resent: u64,
    /// faults of the core's dissectors, by the name of the matching Python parser class
    pub dissector_errors: FxHashMap<&'static str, u64>,
    budget: Budget,
    /// the bodies the HTTP streams are reassembling, all together
    pub bodies: http::BodyBudget,
    frag_map: KeyedMap<FragKey, (u32, u64, bool)>,
    /// the hash of repeat identities (keyed: crafted content cannot pass for another's)
    ident: foldhash::quality::RandomState,
    seen_datagrams: FxHashSet<u64>,
    seen_facts: FxHashSet<u64>,
    /// the latest repeat of each fact in this batch, in order of first repeat
    repeats: Vec<(u64, Box<EvCtx>, Event)>,
    repeat_index: FxHashMap<u64, usize>,
    repeat_fids: FxHashSet<u64>,
    repeats_since: f64,
    python_port_list: Vec<u16>,
    l2_index: KeyedMap<Mac, usize>,
    l2_last: Vec<(Mac, Option<Sighting>)>,
    chunks: Vec<Vec<u8>>,
}

/// A MAC's latest non-IP frame: (file, frame, ts, wire length).
type Sighting = (u32, u64, f64, u32);

fn be16(d: &[u8], off: usize) -> u16 {
    u16::from_be_bytes([d[off], d[off + 1]])
}

impl Engine {
    pub fn new(cfg: Config) -> Engine {
        let max = cfg.max_flows;
        let budget = Budget::new(cfg.reassembly_budget);
        let cfg_body_budget = cfg.body_budget;
        let mut python_port_list: Vec<u16> = cfg.python_ports.keys().copied().collect();
        python_port_list.sort_unstable();
        Engine {
            cfg,
            table: FlowTable::new(max),
            ops: Vec::new(),
            packets: 0,
            bytes: 0,
            duplicates: 0,
            duplicate_bytes: 0,
            tunnelled: [0; 4],
            mirror_sessions: Vec::new(),
            mirror_unlisted: 0,
            one_stream: false,
            missed: Missed::default(),
            tcp_payload: 0,
            recent: Vec::new(),
            unsupported: BTreeSet::new(),
            evicted: 0,
            panics: 0,
            l2_dropped: 0,
            datagrams_repeated: 0,
            facts_repeated: 0,
            probe_dropped: 0,
            probe_cut: 0,
            events: 0,
            dissector_errors: FxHashMap::default(),
            bodies: http::BodyBudget::new(cfg_body_budget),
            budget,
            frag_map: KeyedMap::default(),
            ident: Default::default(),
            seen_datagrams: Default::default(),
            seen_facts: Default::default(),
            repeats: Vec::new(),
            repeat_index: FxHashMap::default(),
            repeat_fids: FxHashSet::default(),
            repeats_since: f64::NEG_INFINITY,
            facts_resent: 0,
            python_port_list,
            l2_index: KeyedMap::default(),
            l2_last: Vec::new(),
            chunks: Vec::new(),
        }
    }

    /// Whether this frame is a copy of one of the latest frames of its input, made by the
    /// capture (a mirror port sending each packet twice). A frame that holds an IP packet
    /// is compared by that packet (its bytes up to its total length: not the link header
    /// a mirror port may tag, nor a trailer or padding), any other frame by its bytes. The
    /// inputs share `RINGS` rings (the ring files of a live capture, `one_stream`, share
    /// one): inputs that share one are far apart in time, and a frame is a copy only within
    /// the window.
    fn is_copy(
        &mut self,
        file: u32,
        ts: f64,
        lt: u32,
        d: &[u8],
        wirelen: u32,
        link: Option<&Link>,
    ) -> bool {
        let window = self.cfg.duplicate_window;
        if window <= 0.0 || !ts.is_finite() {
            return false;
        }
        let i = if self.one_stream {
            0
        } else {
            file as usize % RINGS
        };
        if self.recent.len() <= i {
            self.recent.resize_with(i + 1, Recent::default);
        }
        let key = match link.and_then(|l| ip_extent(d, l.ethertype, l.offset).map(|e| (l, e))) {
            Some((l, (total, end))) => {
                let p = &d[l.offset..end];
                (self.ident.hash_one(p), p.len() as u32, total, IP_PACKET)
            }
            None => (self.ident.hash_one(d), d.len() as u32, wirelen, lt),
        };
        self.recent[i].is_copy(key, ts, window)
    }

    /// Gaps skipped because all flows together held too many out-of-order bytes.
    pub fn forced_skips(&self) -> u64 {
        self.budget.forced
    }

    /// One more frame of the mirror session between `addrs` (source then destination) in
    /// encapsulations of `kind`: a handful of sessions in a capture, looked up in order.
    fn mirror_session(&mut self, addrs: &[u8], kind: u8) {
        let sessions = &mut self.mirror_sessions;
        if let Some(s) = sessions.iter_mut().find(|s| s.1 == kind && s.0 == addrs) {
            s.2 += 1;
        } else if sessions.len() < MAX_MIRROR_SESSIONS {
            sessions.push((addrs.to_vec(), kind, 1));
        } else {
            self.mirror_unlisted += 1;
        }
    }

    /// Whether a packet between these addresses (source then destination) may carry a
    /// remote mirror's frames: neither is off the premises (`decode::tunnel`).
    fn may_be_mirror(&self, addrs: &[u8]) -> bool {
        let (a, b) = addrs.split_at(addrs.len() / 2);
        self.scope(a) != 2 && self.scope(b) != 2
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
        // the bytes of the frame the capture did not keep (a snap length)
        let uncaptured = (wirelen as usize).saturating_sub(d.len());
        // a remote mirror's encapsulation opened: the frame it carries is the packet
        let mut wirelen = wirelen;
        let mut link = decode_link(lt, d);
        if let Some(l) = link {
            let f = open_frame(d, l, wirelen, &|addrs| self.may_be_mirror(addrs));
            if let Some(t) = f.tunnel {
                self.tunnelled[t as usize] += 1;
                self.mirror_session(f.outer, t as u8);
                wirelen = f.wirelen;
                link = Some(f.link);
            }
        }
        if self.is_copy(file, ts, lt, d, wirelen, link.as_ref()) {
            self.duplicates += 1;
            self.duplicate_bytes += wirelen as u64;
            return;
        }
        let Some(link) = link else {
            self.unsupported.insert(lt);
            return;
        };
        if let Some(smac) = link.src {
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
        // the link's payload: what follows it (PPPoE's padding) is no part of the packet
        let caplen = d.len();
        let d = &d[..link.end.min(caplen)];
        match network(d, link.ethertype, link.offset) {
            Net::Skip => {}
            Net::NonIp => self.non_ip(file, frame, ts, d, wirelen, &link),
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
                cut,
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
                    let seq = u32::from_be_bytes([d[l4 + 4], d[l4 + 5], d[l4 + 6], d[l4 + 7]]);
                    let flow = self.table.get_mut(slot);
                    // an empty segment (a bare ACK) is no part of an upload burst
                    flow.count_as(from_a, wirelen, plen, ts, frame, plen > 0);
                    // what the capture missed of the connection (a first fragment does
                    // not hold all of its segment: its side's count starts again)
                    let seqs = flow.seqs.get_or_insert_with(Box::default);
                    if frag.is_none() {
                        let ack =
                            u32::from_be_bytes([d[l4 + 8], d[l4 + 9], d[l4 + 10], d[l4 + 11]]);
                        // the payload the capture cut (a snap length) was sent: its length
                        // is what the sender's numbers count
                        let cut = cut.min(uncaptured);
                        let sent = plen + cut as u64;
                        self.tcp_payload += sent;
                        seqs.segment(from_a, tflags, seq, ack, sent as u32, &mut self.missed);
                    } else {
                        self.tcp_payload += plen;
                        seqs.lose_track(from_a, &mut self.missed);
                    }
                    let fid = flow.fid;
                    let parse = flow.parse;
                    if let Some(k) = frag {
                        self.remember_fragment(k, slot, fid, from_a);
                    }
                    if parse == Parse::Off || !self.cfg.dissect {
                        return;
                    }
                    if plen > 0 || tflags & 0x02 != 0 {
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
                    if proto == 58
                        && self.cfg.dissect
                        && frag.is_none()
                        && end > l4
                        && d[l4] == ICMPV6_ROUTER_ADVERT
                    {
                        self.router_advert(slot, from_a, &d[l4..end], frame, ts);
                    }
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
        let (a_scope, b_scope) = (self.scope(a), self.scope(b));
        // uploads to an off-site host are watched, also from an address the policy calls
        // off-site: premises inferred from the link at the end of the run may cover it
        // (the analysis keeps those bursts aside unless they do)
        let track = b_scope == 2;
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
            a_mac,
            b_mac,
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
            a_scope,
            b_scope,
            attach: NO_APP,
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
            if self.repeat_fids.contains(&self.table.get(slot).fid) {
                self.flush_repeats();
            }
            self.finish_flow(slot);
            let mut flow = self.table.remove(slot);
            if let Some(t) = flow.seqs.as_mut() {
                t.settle(&mut self.missed);
            }
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
                        a_mac: Some(smac),
                        b_mac: Some(dmac),
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
                        a_scope: 1,
                        b_scope: 1,
                        attach: NO_APP,
                    });
                    hit
                }
            };
            self.table
                .get_mut(slot)
                .count(from_a, wirelen, 0, ts, frame);
        }
    }

    /// The context of an event in a packet of the flow in `slot` (its sender first).
    fn ev_ctx(&self, slot: u32, from_a: bool, frame: u64, ts: f64) -> Box<EvCtx> {
        let flow = self.table.get(slot);
        let (a, b) = (flow.a_addr(), flow.b_addr());
        let mut ctx = EvCtx {
            file: flow.file,
            frame,
            ts,
            src_mac: flow.a_mac,
            dst_mac: flow.b_mac,
            src: [0; 16],
            dst: [0; 16],
            v6: a.len() == 16,
            sport: flow.a_port,
            dport: flow.b_port,
            proto: flow.proto,
        };
        ctx.src[..a.len()].copy_from_slice(a);
        ctx.dst[..b.len()].copy_from_slice(b);
        if !from_a {
            std::mem::swap(&mut ctx.src, &mut ctx.dst);
            std::mem::swap(&mut ctx.src_mac, &mut ctx.dst_mac);
            std::mem::swap(&mut ctx.sport, &mut ctx.dport);
        }
        Box::new(ctx)
    }

    /// A dissector of the flow in `slot` failed (a caught panic): counted by the name of
    /// the matching Python parser class, and the flow is no longer parsed.
    fn dissector_fault(&mut self, slot: u32, class: &'static str) {
        *self.dissector_errors.entry(class).or_insert(0) += 1;
        self.stop_slot(slot);
    }

    /// Feeds in-order bytes to the flow's core stream parser (told first, with `gap`, that
    /// bytes before them were never captured, and how many: 0 when not known); its events
    /// go out as one op. A parser that is done is closed at once (what it holds is reported
    /// with the same context).
    #[allow(clippy::too_many_arguments)]
    fn feed_stream(
        &mut self,
        slot: u32,
        from_a: bool,
        chunks: &[Vec<u8>],
        frame: u64,
        ts: f64,
        gap: Option<u64>,
    ) {
        let flow = self.table.get_mut(slot);
        let fid = flow.fid;
        let Some(mut stream) = flow.stream.take() else {
            return;
        };
        let mut events = Vec::new();
        if let Some(lost) = gap {
            match stream.gap_checked(from_a, frame, lost) {
                Some(ev) => events.extend(ev),
                None => {
                    self.dissector_fault(slot, stream.class_name());
                    return;
                }
            }
        }
        for data in chunks {
            match stream.feed_checked(data, from_a, frame) {
                Some(ev) => events.extend(ev),
                None => {
                    self.dissector_fault(slot, stream.class_name());
                    return;
                }
            }
        }
        let done = stream.done();
        if done {
            match stream.close_checked(frame) {
                Some(ev) => events.extend(ev),
                None => {
                    self.dissector_fault(slot, stream.class_name());
                    return;
                }
            }
        }
        if !events.is_empty() {
            self.events += events.len() as u64;
            let ctx = self.ev_ctx(slot, from_a, frame, ts);
            self.ops.push(Op::Events { fid, ctx, events });
        }
        if done {
            self.stop_slot(slot);
        } else {
            self.table.get_mut(slot).stream = Some(stream);
        }
    }

    /// Closes the flow's core stream parser: what it holds goes out with this context.
    fn close_stream(&mut self, slot: u32, from_a: bool, frame: u64, ts: f64) {
        let flow = self.table.get_mut(slot);
        let fid = flow.fid;
        let Some(mut stream) = flow.stream.take() else {
            return;
        };
        let Some(events) = stream.close_checked(frame) else {
            self.dissector_fault(slot, stream.class_name());
            return;
        };
        if !events.is_empty() {
            self.events += events.len() as u64;
            let ctx = self.ev_ctx(slot, from_a, frame, ts);
            self.ops.push(Op::Events { fid, ctx, events });
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
        let (gaps, lost) = (tcp.gaps(d), tcp.lost(d));
        tcp.segment(d, seq, flags, payload, &mut self.budget, &mut chunks);
        if chunks.is_empty() {
            self.chunks = chunks;
            return;
        }
        let skipped = gap_lost(tcp, d, gaps, lost);
        let gap = skipped.is_some() && matches!(flow.parse, Parse::Active(_));
        let fid = flow.fid;
        if flow.parse == Parse::Undecided {
            match registry::tcp_parser(&chunks[0], flow.a_port, flow.b_port) {
                Some(p) => {
                    let name = tcp_id(p);
                    flow.parse = Parse::Active(name);
                    flow.app = name;
                    flow.stream =
                        Stream::for_tcp(p, &self.cfg.response_prefixes, &self.bodies).map(Box::new);
                    push_attach(&mut self.ops, fid, name);
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
        if flow.stream.is_some() {
            self.feed_stream(slot, from_a, &chunks, frame, ts, skipped.filter(|_| gap));
            chunks.clear();
        } else {
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
        }
        self.chunks = chunks;
        let flow = self.table.get(slot);
        let over = match flow.parse {
            Parse::Active(HTTP) => {
                // HTTP keeps going, its upload bodies are the evidence; but a camera's
                // endless MJPEG response to a client that sends nothing is not worth it
                flow.payload_ba > MAX_HTTP_DOWNLOAD && flow.payload_ab < MAX_TCP_PARSE
            }
            Parse::Active(_) => flow.payload_ab > MAX_TCP_PARSE && flow.payload_ba > MAX_TCP_PARSE,
            _ => false,
        };
        if over {
            self.close(slot, from_a, frame, ts);
        }
    }

    fn close(&mut self, slot: u32, from_a: bool, frame: u64, ts: f64) {
        let flow = self.table.get_mut(slot);
        let python = flow.stream.is_none();
        let fid = flow.fid;
        self.close_stream(slot, from_a, frame, ts);
        self.stop_slot(slot);
        if python {
            self.ops.push(Op::Close {
                fid,
                from_a,
                frame,
                ts,
            });
        }
    }

    /// The flow in `slot` is no longer parsed: its reassembly and parser state go.
    fn stop_slot(&mut self, slot: u32) {
        let flow = self.table.get_mut(slot);
        flow.parse = Parse::Off;
        flow.stream = None;
        if let Some(mut t) = flow.tcp.take() {
            t.release(&mut self.budget);
        }
    }

    /// The parser id for a new UDP flow, by `registry::udp_parser`.
    fn udp_choice(&self, a_port: u16, b_port: u16, payload: &[u8]) -> Option<u8> {
        let p = registry::udp_parser(a_port, b_port, payload, &self.python_port_list)?;
        if let Some(id) = udp_core_id(p) {
            return Some(id);
        }
        // a parser that stays in Python: the one registered for the matching port
        let port = match p {
            UdpParser::Python(port) => port,
            _ if registry::udp_port(b_port) == Some(p) => b_port,
            _ => a_port,
        };
        self.cfg.python_ports.get(&port).map(|&(id, _)| id)
    }

    fn skip_id(&self, id: u8) -> bool {
        if id >= PY_BASE {
            return self.cfg.python_ports.values().any(|&(i, s)| i == id && s);
        }
        id >= UDP_BASE && UDP_CORE[(id - UDP_BASE) as usize].skip_id()
    }

    fn udp_payload(&mut self, slot: u32, from_a: bool, payload: &[u8], frame: u64, ts: f64) {
        let flow = self.table.get(slot);
        let fid = flow.fid;
        if flow.parse == Parse::Undecided {
            let choice = self.udp_choice(flow.a_port, flow.b_port, payload);
            let flow = self.table.get_mut(slot);
            match choice {
                Some(name) => {
                    flow.parse = Parse::Active(name);
                    flow.app = name;
                    if name == QUIC {
                        flow.stream = Stream::for_udp(UdpParser::Quic).map(Box::new);
                    }
                    push_attach(&mut self.ops, fid, name);
                }
                None => {
                    flow.parse = Parse::Off;
                    return;
                }
            }
        }
        let flow = self.table.get(slot);
        let Parse::Active(name) = flow.parse else {
            return;
        };
        if name == QUIC {
            self.feed_stream(slot, from_a, &[payload.to_vec()], frame, ts, None);
            return;
        }
        // discovery and name-service chatter repeats itself: an identical datagram
        // between the same two hosts says nothing new (DNS-like ids are ignored)
        let body = if self.skip_id(name) {
            payload.get(2..).unwrap_or(&[])
        } else {
            payload
        };
        let mut h = self.ident.build_hasher();
        name.hash(&mut h);
        flow.a_addr().hash(&mut h);
        flow.b_addr().hash(&mut h);
        from_a.hash(&mut h);
        body.hash(&mut h);
        let key = h.finish();
        if self.seen_datagrams.contains(&key) {
            self.datagrams_repeated += 1;
            return;
        }
        if self.seen_datagrams.len() >= MAX_SEEN_DATAGRAMS {
            self.seen_datagrams.clear();
        }
        self.seen_datagrams.insert(key);
        if name >= PY_BASE {
            let mut data = payload;
            if self.cfg.probe_id == Some(name) {
                // a content-marker probe: a flow's first datagrams, their heads only
                if flow.pkts_ab + flow.pkts_ba > MAX_PROBE_DATAGRAMS {
                    self.probe_dropped += 1;
                    return;
                }
                let head = payload.len().min(PROBE_HEAD);
                self.probe_cut += (payload.len() - head) as u64;
                data = &payload[..head];
            }
            self.ops.push(Op::Payload {
                fid,
                from_a,
                frame,
                ts,
                data: data.to_vec(),
                gap: false,
                last: true,
            });
            return;
        }
        let parser = UDP_CORE[(name - UDP_BASE) as usize];
        let Some(events) = registry::datagram_checked(parser, payload) else {
            self.dissector_fault(slot, "Datagrams");
            return;
        };
        // the same fact between the same two hosts is reported once
        let (a, b) = (flow.a_addr(), flow.b_addr());
        let (src, dst) = if from_a { (a, b) } else { (b, a) };
        let src_mac = if from_a { flow.a_mac } else { flow.b_mac };
        let dst_offsite = self.scope(dst) == 2;
        let dst_key = self.ident.hash_one(dst);
        let mut sender = self.ident.build_hasher();
        name.hash(&mut sender);
        src.hash(&mut sender);
        src_mac.hash(&mut sender);
        if !self.cfg.dedup_facts {
            self.events += events.len() as u64;
            let ctx = self.ev_ctx(slot, from_a, frame, ts);
            self.ops.push(Op::Events { fid, ctx, events });
            return;
        }
        if (ts - self.repeats_since).abs() >= REPEAT_FLUSH_SECS {
            self.flush_repeats();
            self.repeats_since = ts;
        }
        let mut fresh = Vec::with_capacity(events.len());
        let mut repeated = Vec::new();
        for ev in events {
            let mut h = sender.clone();
            // a resolver's answer says the same to every client on the premises (the
            // inventory keeps the names and the resolver's sighting, not who asked)
            if dst_offsite || !resolver_answer(&ev) {
                dst_key.hash(&mut h);
            }
            fact_hash(&ev, &mut h);
            let key = h.finish();
            if self.seen_facts.contains(&key) {
                repeated.push((key, ev));
                continue;
            }
            if self.seen_facts.len() >= MAX_SEEN_FACTS {
                self.flush_repeats();
                self.seen_facts.clear();
            }
            self.seen_facts.insert(key);
            fresh.push(ev);
        }
        if !repeated.is_empty() {
            self.facts_repeated += repeated.len() as u64;
            let ctx = self.ev_ctx(slot, from_a, frame, ts);
            for (key, ev) in repeated {
                match self.repeat_index.get(&key) {
                    Some(&i) => self.repeats[i] = (fid, ctx.clone(), ev),
                    None => {
                        self.repeat_index.insert(key, self.repeats.len());
                        self.repeats.push((fid, ctx.clone(), ev));
                    }
                }
            }
            self.repeat_fids.insert(fid);
            if self.repeats.len() >= MAX_HELD_REPEATS {
                self.flush_repeats();
            }
        }
        if fresh.is_empty() {
            return;
        }
        self.events += fresh.len() as u64;
        let ctx = self.ev_ctx(slot, from_a, frame, ts);
        self.ops.push(Op::Events {
            fid,
            ctx,
            events: fresh,
        });
    }

    /// Hands over the latest repeat of each fact held back, in order of their first repeat.
    pub fn flush_repeats(&mut self) {
        self.repeat_index.clear();
        self.repeat_fids.clear();
        for (fid, ctx, ev) in self.repeats.drain(..) {
            self.facts_resent += 1;
            self.events += 1;
            self.ops.push(Op::Events {
                fid,
                ctx,
                events: vec![ev],
            });
        }
    }

    /// An ICMPv6 Router Advertisement: handed to the Python dissector (a repeated one between
    /// the same two hosts says nothing new and is skipped).
    fn router_advert(&mut self, slot: u32, from_a: bool, msg: &[u8], frame: u64, ts: f64) {
        let flow = self.table.get_mut(slot);
        let fid = flow.fid;
        match flow.parse {
            Parse::Off => return,
            Parse::Undecided => {
                flow.parse = Parse::Active(ICMPV6);
                flow.app = ICMPV6;
                push_attach(&mut self.ops, fid, ICMPV6);
            }
            Parse::Active(_) => {}
        }
        let mut h = self.ident.build_hasher();
        ICMPV6.hash(&mut h);
        flow.a_addr().hash(&mut h);
        flow.b_addr().hash(&mut h);
        from_a.hash(&mut h);
        // the checksum (bytes 2..4) follows the content; the rest is the message
        msg.get(4..).unwrap_or(&[]).hash(&mut h);
        let key = h.finish();
        if self.seen_datagrams.contains(&key) {
            return;
        }
        if self.seen_datagrams.len() >= MAX_SEEN_DATAGRAMS {
            self.seen_datagrams.clear();
        }
        self.seen_datagrams.insert(key);
        self.ops.push(Op::Payload {
            fid,
            from_a,
            frame,
            ts,
            data: msg.to_vec(),
            gap: false,
            last: true,
        });
    }

    /// The Python side stopped a flow's parser (it finished, or failed).
    pub fn stop(&mut self, fid: u64) {
        // fids are handed out in slot order only at first; look the slot up
        if let Some(slot) = self.slot_of(fid) {
            self.stop_slot(slot);
        }
    }

    fn slot_of(&self, fid: u64) -> Option<u32> {
        self.table.slot_of(fid)
    }

    /// Flushes a flow's reassembly into its parser and closes it (end of input, eviction).
    fn finish_flow(&mut self, slot: u32) {
        let flow = self.table.get_mut(slot);
        let Parse::Active(name) = flow.parse else {
            return;
        };
        let fid = flow.fid;
        let (frame, ts) = (flow.last_frame, flow.last_ts);
        let core = in_core(name);
        if let Some(mut tcp) = flow.tcp.take() {
            // gap by gap, so that the parser knows the length of each
            for d in 0..2 {
                let (mut gaps, mut lost) = (tcp.gaps(d), tcp.lost(d));
                loop {
                    let mut chunks = Vec::new();
                    if !tcp.flush_one(d, &mut self.budget, &mut chunks) {
                        break;
                    }
                    let skipped = gap_lost(&tcp, d, gaps, lost);
                    (gaps, lost) = (tcp.gaps(d), tcp.lost(d));
                    if core {
                        self.feed_stream(slot, d == 0, &chunks, frame, ts, skipped);
                        continue;
                    }
                    let n = chunks.len();
                    for (i, data) in chunks.into_iter().enumerate() {
                        self.ops.push(Op::Payload {
                            fid,
                            from_a: d == 0,
                            frame,
                            ts,
                            data,
                            gap: skipped.is_some() && i == 0,
                            last: i + 1 == n,
                        });
                    }
                }
            }
            tcp.release(&mut self.budget);
        }
        // a parser still going has what it holds reported (the end of the flow)
        self.close_stream(slot, true, frame, ts);
        self.stop_slot(slot);
        if !core && name < PY_BASE {
            // Python stream parsers may hold a message in progress; stateless datagram
            // parsers (the UDP port table's) have nothing to say at the end: no op for them
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
        self.flush_repeats();
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
            let flow = self.table.get_mut(slot);
            if let Some(t) = flow.seqs.as_mut() {
                let before = t.lost();
                t.settle(&mut self.missed);
                // its counters changed: handed over with the others brought up to date
                flow.dirty |= t.lost() != before;
            }
        }
    }

    /// Counters of flows changed since the last call (all live flows with `all`).
    /// In the order the flows were made (by flow id), from flow id `from_fid` on, at most
    /// `limit` of them: the rest stay marked, so that repeated calls hand the flows over
    /// in pieces (bounded memory on the Python side); with `all`, the next piece starts
    /// after the last flow id of the previous one.
    pub fn take_counters(&mut self, all: bool, limit: usize, from_fid: u64) -> Vec<Counters> {
        let mut out = Vec::new();
        for slot in self.table.live_slots() {
            if out.len() >= limit {
                break;
            }
            let flow = self.table.get_mut(slot);
            if flow.fid < from_fid {
                continue;
            }
            if all || flow.dirty {
                flow.dirty = false;
                out.push(counters(flow));
            }
        }
        out
    }

    /// The live flows' final counters summed per conversation as the inventory keys them
    /// (`Inventory._conversation_of`): the device side (its MAC, or its address when it
    /// has none), the peer address, the protocol and the server port; 802.11 station
    /// pairs by side A's MAC. The device side is side A unless side A is not on the
    /// premises and side B is. One row per group, in order of each group's first flow
    /// (by flow id, the order the inventory would make the conversations in); within a
    /// group the flows count in flow id order. Upload bursts are those of flows whose
    /// side A is the device, but not of flows whose side A is off-site when
    /// `offsite_sender_bursts` is false. The flows stay in the table.
    pub fn conv_rows(&self, offsite_sender_bursts: bool) -> Vec<ConvRow> {
        let mut index: FxHashMap<ConvKey, usize> = FxHashMap::default();
        let mut rows: Vec<ConvRow> = Vec::new();
        for slot in self.table.live_slots() {
            let f = self.table.get(slot);
            let (key, dev_is_a, peer_mac, dev_prem, peer_prem, a_offsite) = if f.wlan {
                let key = ConvKey {
                    wlan: true,
                    dev_mac: f.a_mac,
                    dev_ip: Addr::default(),
                    peer_ip: Addr::default(),
                    proto: 0,
                    port: 0,
                };
                (key, true, f.b_mac, false, false, false)
            } else {
                let (a, b) = (f.a_addr(), f.b_addr());
                let (sa, sb) = (self.scope(a), self.scope(b));
                let dev_is_a = sa == 0 || sb != 0;
                let (dev_mac, dev_ip, peer_ip, peer_mac) = if dev_is_a {
                    (f.a_mac, a, b, f.b_mac)
                } else {
                    (f.b_mac, b, a, f.a_mac)
                };
                let key = ConvKey {
                    wlan: false,
                    dev_mac,
                    // a device known by its MAC is one conversation whatever its address
                    dev_ip: if dev_mac.is_some() {
                        Addr::default()
                    } else {
                        Addr::of(dev_ip)
                    },
                    peer_ip: Addr::of(peer_ip),
                    proto: f.proto,
                    port: f.b_port,
                };
                let dev_prem = if dev_is_a { sa == 0 } else { true };
                (
                    key,
                    dev_is_a,
                    peer_mac,
                    dev_prem,
                    dev_is_a && sb == 0,
                    sa == 2,
                )
            };
            let i = *index.entry(key).or_insert_with(|| {
                rows.push(ConvRow {
                    wlan: key.wlan,
                    dev_mac: key.dev_mac,
                    dev_ip: if f.wlan {
                        Vec::new()
                    } else if dev_is_a {
                        f.a_addr().to_vec()
                    } else {
                        f.b_addr().to_vec()
                    },
                    peer_ip: key.peer_ip.bytes().to_vec(),
                    proto: key.proto,
                    port: key.port,
                    peer_mac,
                    device_is_client: dev_is_a,
                    dev_prem,
                    peer_prem,
                    first_ts: f.first_ts,
                    first_frame: (f.file, f.first_frame()),
                    last_ts: f.last_ts,
                    bytes_up: 0,
                    bytes_down: 0,
                    pkts_up: 0,
                    pkts_down: 0,
                    missed_up: 0,
                    missed_down: 0,
                    flows: 0,
                    apps: Vec::new(),
                    frames: Vec::new(),
                    bursts: Vec::new(),
                    burst_counts: Vec::new(),
                });
                rows.len() - 1
            });
            let r = &mut rows[i];
            let (lost_a, lost_b) = f.seqs.as_ref().map_or((0, 0), |t| t.lost());
            if dev_is_a {
                r.missed_up += lost_a;
                r.missed_down += lost_b;
                r.bytes_up += f.bytes_ab;
                r.bytes_down += f.bytes_ba;
                r.pkts_up += f.pkts_ab;
                r.pkts_down += f.pkts_ba;
                if let Some(b) = f.bursts.as_ref() {
                    if !b.list.is_empty() && (offsite_sender_bursts || !a_offsite) {
                        r.bursts.extend_from_slice(&b.list);
                        r.burst_counts.push(b.list.len() as u32);
                    }
                }
            } else {
                r.missed_up += lost_b;
                r.missed_down += lost_a;
                r.bytes_up += f.bytes_ba;
                r.bytes_down += f.bytes_ab;
                r.pkts_up += f.pkts_ba;
                r.pkts_down += f.pkts_ab;
            }
            if f.first_ts < r.first_ts {
                r.first_ts = f.first_ts;
                r.first_frame = (f.file, f.first_frame());
            }
            if f.last_ts > r.last_ts {
                r.last_ts = f.last_ts;
            }
            if f.app != NO_APP && !r.apps.contains(&f.app) {
                r.apps.push(f.app);
            }
            r.flows += 1;
            for &fr in &f.first_frames[..f.n_first as usize] {
                if r.frames.len() >= CONV_FRAMES {
                    break;
                }
                r.frames.push((f.file, fr));
            }
        }
        rows
    }

    /// Drops the lookup tables once the input is done (the flows' facts went out).
    pub fn release(&mut self) {
        self.table.clear();
        self.frag_map = KeyedMap::default();
        self.seen_datagrams = Default::default();
        self.seen_facts = Default::default();
    }
}

/// A parser attached to flow `fid`: folded into the flow's `NewFlow` op when that is the
/// last op (the packet that opened the flow chose the parser: most datagram flows), else
/// an `Attach` op of its own.
fn push_attach(ops: &mut Vec<Op>, fid: u64, name: u8) {
    if let Some(Op::NewFlow {
        fid: last, attach, ..
    }) = ops.last_mut()
    {
        if *last == fid && *attach == NO_APP {
            *attach = name;
            return;
        }
    }
    ops.push(Op::Attach { fid, name });
}

/// A DNS (not mDNS/LLMNR) response: its facts are the names and addresses it gives.
fn resolver_answer(ev: &Event) -> bool {
    matches!(ev, Event::Dns(e) if e.proto == "dns" && e.is_response)
}

/// What a datagram event says, for repeat suppression: the whole event, but DNS answers
/// without their TTLs (a cache counting down says nothing new about a device).
fn fact_hash<H: Hasher>(ev: &Event, h: &mut H) {
    match ev {
        Event::Dns(e) => {
            0u8.hash(h);
            e.proto.hash(h);
            e.is_response.hash(h);
            e.rcode.hash(h);
            e.queries.hash(h);
            for r in &e.answers {
                r.name.hash(h);
                r.rtype.hash(h);
                r.value.hash(h);
            }
        }
        other => {
            1u8.hash(h);
            other.hash(h);
        }
    }
}

pub fn counters(f: &crate::flow::Flow) -> Counters {
    let (missed_ab, missed_ba) = f.seqs.as_ref().map_or((0, 0), |t| t.lost());
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
        missed_ab,
        missed_ba,
    }
}

/// The gap skipped while a segment (or a flush) gave its bytes, when there was one: its
/// length when it was the only one (all before the first of those bytes), else 0 (not known:
/// a parser must not count on it).
fn gap_lost(tcp: &Reassembly, d: usize, gaps: u32, lost: u64) -> Option<u64> {
    match tcp.gaps(d).wrapping_sub(gaps) {
        0 => None,
        1 => Some(tcp.lost(d) - lost),
        _ => Some(0),
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
        cfg.python_ports.insert(37020, (PY_BASE, true));
        cfg.premises.push(Net6 {
            v6: false,
            addr: [192, 168, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            prefix: 16,
        });
        Engine::new(cfg)
    }

    /// (flow id, parser id) of every parser attached, folded into the new flow's op or not.
    fn attached(e: &Engine) -> Vec<(u64, u8)> {
        e.ops
            .iter()
            .filter_map(|o| match o {
                Op::NewFlow { fid, attach, .. } if *attach != NO_APP => Some((*fid, *attach)),
                Op::Attach { fid, name } => Some((*fid, *name)),
                _ => None,
            })
            .collect()
    }

    /// The packets the flows counted, all flows together.
    fn counted(e: &mut Engine) -> u64 {
        e.take_counters(true, 1000, 0)
            .iter()
            .map(|c| c.pkts_ab + c.pkts_ba)
            .sum()
    }

    /// `inner` in VXLAN from 192.168.0.`src` to `dst` (4 bytes), as a mirror sends it.
    fn vxlan_from(src: u8, dst: [u8; 4], inner: &[u8]) -> Vec<u8> {
        let udp_len = 16 + inner.len();
        let mut v = vec![2, 0, 0, 0, 0, 0x99, 2, 0, 0, 0, 0, src, 0x08, 0x00];
        v.extend([0x45, 0]);
        v.extend(((20 + udp_len) as u16).to_be_bytes());
        v.extend([0, 1, 0x40, 0, 64, 17, 0, 0, 192, 168, 0, src]);
        v.extend(dst);
        v.extend([0xc0, 0x00, 0x12, 0xb5]);
        v.extend((udp_len as u16).to_be_bytes());
        v.extend([0, 0, 0x08, 0, 0, 0, 0, 0, 42, 0]);
        v.extend(inner);
        v
    }

    #[test]
    fn mirror_sessions_are_listed_up_to_their_bound_and_off_site_ones_not_opened() {
        let inner = udp(7, 40000, 9999, b"media");
        let mut e = engine(100);
        for src in 1..=(MAX_MIRROR_SESSIONS as u8 + 4) {
            for k in 0..2 {
                let f = vxlan_from(src, [192, 168, 0, 250], &inner);
                e.packet(
                    0,
                    1,
                    1.0 + src as f64 + k as f64 * 0.5,
                    1,
                    &f,
                    f.len() as u32,
                );
            }
        }
        // to an address off the premises: a conversation of its own, no session
        let f = vxlan_from(1, [8, 8, 4, 4], &inner);
        e.packet(0, 1, 100.0, 1, &f, f.len() as u32);
        let n = 2 * (MAX_MIRROR_SESSIONS as u64 + 4);
        assert_eq!(e.tunnelled, [0, 0, n, 0]);
        assert_eq!(e.mirror_sessions.len(), MAX_MIRROR_SESSIONS);
        assert_eq!(
            e.mirror_sessions[0],
            (vec![192, 168, 0, 1, 192, 168, 0, 250], 2, 2)
        );
        assert!(e.mirror_sessions.iter().all(|s| s.2 == 2));
        assert_eq!(e.mirror_unlisted, 8);
        // the inner flow (one, whatever the session) and the off-site VXLAN datagram
        let flows = e.take_counters(true, 1000, 0);
        let bytes: Vec<u64> = flows.iter().map(|c| c.bytes_ab + c.bytes_ba).collect();
        assert_eq!(flows.len(), 2);
        assert!(bytes.contains(&(n * inner.len() as u64)));
    }

    #[test]
    fn a_copy_of_a_recent_frame_of_the_same_input_is_counted_not_analysed() {
        let p = udp(1, 40000, 9999, b"media");
        let q = udp(1, 40000, 9999, b"other");
        let n = p.len() as u32;
        let mut e = engine(10);
        e.packet(0, 1, 10.0, 1, &p, n);
        e.packet(0, 2, 10.0004, 1, &p, n); // the mirror's copy
        e.packet(0, 3, 10.5, 1, &p, n); // the same bytes, sent again later
        e.packet(1, 1, 10.5001, 1, &p, n); // another input's frame
        e.packet(0, 4, 10.5002, 1, &q, q.len() as u32);
        e.packet(0, 5, 10.5003, 1, &p, n); // a copy of frame 3, one frame between
        e.packet(0, 6, 10.5003, 113, &p, n); // the same bytes as another link type
        assert_eq!(
            (e.packets, e.duplicates, e.duplicate_bytes),
            (7, 2, 2 * n as u64)
        );
        assert_eq!(e.bytes, 6 * n as u64 + q.len() as u64);
        // the SLL frame's bytes decode as no flow
        assert_eq!(counted(&mut e), 4);

        // a copy after RECENT other frames is not told apart any more
        let mut e = engine(10);
        e.packet(0, 1, 1.0, 1, &p, n);
        for i in 0..RECENT as u16 {
            let o = udp(2, 1000 + i, 53, b"x");
            e.packet(0, 2 + i as u64, 1.0, 1, &o, o.len() as u32);
        }
        e.packet(0, 9, 1.0, 1, &p, n);
        assert_eq!(e.duplicates, 0);

        // the ring files of one live capture: a copy in the next ring file is a copy
        let mut e = engine(10);
        e.one_stream = true;
        e.packet(0, 1, 1.0, 1, &p, n);
        e.packet(1, 1, 1.0001, 1, &p, n);
        assert_eq!(e.duplicates, 1);

        // a window of 0: every frame is a packet
        let mut e = Engine::new(Config {
            duplicate_window: 0.0,
            ..Config::default()
        });
        for i in 0..3 {
            e.packet(0, i + 1, 10.0, 1, &p, n);
        }
        assert_eq!((e.duplicates, counted(&mut e)), (0, 3));
    }

    #[test]
    fn a_copy_under_another_link_header_is_a_copy_of_its_ip_packet() {
        let p = udp(1, 40000, 9999, b"media");
        let n = p.len() as u32;
        let tag = |f: &[u8]| {
            let mut t = f[..12].to_vec();
            t.extend([0x81, 0x00, 0x00, 0x0a]);
            t.extend(&f[12..]);
            t
        };
        // the mirror's copy of the trunk: an 802.1Q tag, and the frame check sequence
        let mut tagged = tag(&p);
        tagged.extend([0xde, 0xad, 0xbe, 0xef]);
        // the same packet routed on (its TTL lowered) is a packet of its own
        let mut routed = p.clone();
        routed[14 + 8] -= 1;
        let mut e = engine(10);
        e.packet(0, 1, 10.0, 1, &p, n);
        e.packet(0, 2, 10.0002, 1, &tagged, tagged.len() as u32);
        e.packet(0, 3, 10.0004, 1, &routed, n);
        // the same IP packet on another interface of the input (raw IP)
        e.packet(0, 4, 10.0006, 101, &p[14..], n - 14);
        assert_eq!(
            (e.packets, e.duplicates, e.duplicate_bytes),
            (4, 2, tagged.len() as u64 + (n - 14) as u64)
        );
        assert_eq!(counted(&mut e), 2);

        // a frame without an IP packet is compared by its bytes: a tagged ARP frame is not
        // a copy of the untagged one, an identical one is
        let mut arp = vec![0xff; 6];
        arp.extend([0x10, 0x11, 0x12, 0x13, 0x14, 1, 0x08, 0x06]);
        arp.extend([0, 1, 8, 0, 6, 4, 0, 1]);
        arp.extend([0x10, 0x11, 0x12, 0x13, 0x14, 1, 192, 168, 1, 1]);
        arp.extend([0, 0, 0, 0, 0, 0, 192, 168, 1, 2]);
        let tagged = tag(&arp);
        let mut e = engine(10);
        e.packet(0, 1, 10.0, 1, &arp, arp.len() as u32);
        e.packet(0, 2, 10.0001, 1, &tagged, tagged.len() as u32);
        e.packet(0, 3, 10.0002, 1, &arp, arp.len() as u32);
        assert_eq!(e.duplicates, 1);

        // an IPv6 packet: its payload length bounds what is compared
        let mut v6 = vec![
            0, 1, 2, 3, 4, 5, 0x10, 0x11, 0x12, 0x13, 0x14, 2, 0x86, 0xdd,
        ];
        v6.extend([0x60, 0, 0, 0, 0, 8, 17, 64]);
        v6.extend(
            [0xfe, 0x80]
                .iter()
                .chain([0u8; 13].iter())
                .chain([2].iter()),
        );
        v6.extend(
            [0xff, 0x02]
                .iter()
                .chain([0u8; 13].iter())
                .chain([0xfb].iter()),
        );
        v6.extend([0x14, 0xe9, 0x14, 0xe9, 0, 8, 0, 0]);
        let mut padded = tag(&v6);
        padded.extend([0; 6]);
        let mut e = engine(10);
        e.packet(0, 1, 10.0, 1, &v6, v6.len() as u32);
        e.packet(0, 2, 10.0001, 1, &padded, padded.len() as u32);
        assert_eq!(e.duplicates, 1);
        // a jumbogram's length is not in its header: its frame's bytes are compared
        assert_eq!(ip_extent(&v6, ETH_IPV6, 14), Some((48, v6.len())));
        let mut jumbo = v6.clone();
        jumbo[18..20].copy_from_slice(&[0, 0]);
        assert_eq!(ip_extent(&jumbo, ETH_IPV6, 14), None);
        assert_eq!(ip_extent(&p, ETH_IPV4, 14), Some((n - 14, p.len())));
        assert_eq!(ip_extent(&p[..30], ETH_IPV4, 14), None);
    }

    #[test]
    fn a_parser_chosen_by_the_first_packet_comes_with_the_new_flow() {
        let mut e = engine(10);
        let p = udp(1, 40000, 37020, b"probe");
        e.packet(0, 1, 0.0, 1, &p, p.len() as u32);
        let p = udp(1, 40001, 9999, b"x");
        e.packet(0, 2, 0.0, 1, &p, p.len() as u32);
        assert!(!e.ops.iter().any(|o| matches!(o, Op::Attach { .. })));
        assert_eq!(attached(&e), vec![(0, PY_BASE)]);
        // the same flow id after another op: an attach op of its own
        let mut ops = vec![Op::Close {
            fid: 3,
            from_a: true,
            frame: 1,
            ts: 0.0,
        }];
        push_attach(&mut ops, 3, TLS);
        assert!(matches!(ops[1], Op::Attach { fid: 3, name: TLS }));
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
        let live = e.take_counters(true, usize::MAX, 0);
        assert_eq!(live.iter().map(|c| c.fid).collect::<Vec<_>>(), vec![1, 2]);
    }

    /// (scope of side A, scope of side B, uploads watched) of each flow the engine announced.
    fn new_flow_scopes(e: &Engine) -> Vec<(u8, u8, bool)> {
        e.ops
            .iter()
            .filter_map(|o| match o {
                Op::NewFlow {
                    a_scope,
                    b_scope,
                    bursts,
                    ..
                } => Some((*a_scope, *b_scope, *bursts)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn new_flows_carry_the_scope_of_both_sides() {
        let mut e = engine(10);
        let p = udp(7, 40000, 9999, b"x");
        e.packet(0, 1, 0.0, 1, &p, p.len() as u32);
        let scopes = new_flow_scopes(&e);
        // 192.168.1.7 is on the premises, 8.8.8.8 off-site: the upload is watched
        assert_eq!(scopes, vec![(0, 2, true)]);
    }

    #[test]
    fn uploads_between_two_off_site_addresses_are_watched_too() {
        // the premises the link shows (inferred at the end) may cover the sender
        let mut e = engine(10);
        let mut p = udp(7, 40000, 9999, b"x");
        p[26..30].copy_from_slice(&[2, 2, 2, 2]); // the IPv4 source address
        e.packet(0, 1, 0.0, 1, &p, p.len() as u32);
        let scopes = new_flow_scopes(&e);
        assert_eq!(scopes, vec![(2, 2, true)]);
    }

    #[test]
    fn conv_rows_sum_flows_per_conversation_in_order_of_first_flow() {
        let mut e = engine(100);
        let mut frame = 0u64;
        let mut send = |e: &mut Engine, p: &[u8], ts: f64| {
            frame += 1;
            e.packet(0, frame, ts, 1, p, p.len() as u32);
        };
        // device 1 to 8.8.8.8:9999 in two flows (one with a reply), device 2 in one
        send(&mut e, &udp(1, 40000, 9999, b"aaaa"), 5.0);
        send(&mut e, &udp(2, 40000, 9999, b"b"), 6.0);
        send(&mut e, &udp(1, 40001, 9999, b"cc"), 4.0);
        let mut reply = udp(1, 9999, 40000, b"zzz");
        reply[26..30].copy_from_slice(&[8, 8, 8, 8]);
        reply[30..34].copy_from_slice(&[192, 168, 1, 1]);
        reply[6..12].copy_from_slice(&[0, 1, 2, 3, 4, 5]);
        reply[0..6].copy_from_slice(&[0x10, 0x11, 0x12, 0x13, 0x14, 1]);
        send(&mut e, &reply, 7.0);
        // an off-site client of device 3's server port 9999: the device is side B
        let mut inbound = udp(3, 40002, 9999, b"dd");
        inbound[26..30].copy_from_slice(&[8, 8, 4, 4]);
        inbound[30..34].copy_from_slice(&[192, 168, 1, 3]);
        send(&mut e, &inbound, 8.0);
        // between two off-site addresses: the device side is side A, its bursts optional
        let mut away = udp(4, 40003, 9999, b"e");
        away[26..30].copy_from_slice(&[2, 2, 2, 2]);
        send(&mut e, &away, 9.0);
        // device 1 again, a third flow to the same conversation
        send(&mut e, &udp(1, 40004, 9999, b"f"), 10.0);

        let rows = e.conv_rows(true);
        type Summary = (Vec<u8>, Vec<u8>, u16, bool, u64);
        let summary: Vec<Summary> = rows
            .iter()
            .map(|r| {
                (
                    r.dev_ip.clone(),
                    r.peer_ip.clone(),
                    r.port,
                    r.device_is_client,
                    r.flows,
                )
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                (vec![192, 168, 1, 1], vec![8, 8, 8, 8], 9999, true, 3),
                (vec![192, 168, 1, 2], vec![8, 8, 8, 8], 9999, true, 1),
                (vec![192, 168, 1, 3], vec![8, 8, 4, 4], 9999, false, 1),
                (vec![2, 2, 2, 2], vec![8, 8, 8, 8], 9999, true, 1),
            ]
        );
        let one = &rows[0];
        assert_eq!(one.dev_mac, Some([0x10, 0x11, 0x12, 0x13, 0x14, 1]));
        assert_eq!(one.peer_mac, Some([0, 1, 2, 3, 4, 5]));
        // wire lengths: 42 + payload; the reply counts down
        assert_eq!((one.bytes_up, one.pkts_up), (46 + 44 + 43, 3));
        assert_eq!((one.bytes_down, one.pkts_down), (45, 1));
        // the earliest first packet is the second flow's (frame 3), the latest the reply's
        assert_eq!(
            (one.first_ts, one.first_frame, one.last_ts),
            (4.0, (0, 3), 10.0)
        );
        assert_eq!(one.frames, vec![(0, 1), (0, 4), (0, 3), (0, 7)]);
        assert_eq!(one.burst_counts, vec![1, 1, 1]);
        assert_eq!(one.bursts[0], [5.0, 5.0, 46.0, 1.0]);
        assert!(!one.dev_prem || one.dev_mac.is_some());
        // the device as the server: up is what it sent (nothing), down what it got
        let three = &rows[2];
        assert_eq!(
            (three.bytes_up, three.bytes_down, three.pkts_down),
            (0, 44, 1)
        );
        assert!(three.burst_counts.is_empty() && three.dev_prem && !three.peer_prem);
        assert_eq!(rows[3].burst_counts, vec![1]);
        // without the off-site sender's bursts
        let rows = e.conv_rows(false);
        assert!(rows[3].burst_counts.is_empty() && rows[3].bursts.is_empty());
        assert_eq!(rows[0].burst_counts, vec![1, 1, 1]);
        // the flows stay in the table: their counters are still there
        assert_eq!(e.take_counters(true, usize::MAX, 0).len(), 6);
    }

    #[test]
    fn conv_rows_name_the_parsers_attached_and_key_macless_devices_by_address() {
        let mut e = engine(100);
        // the Python parser's port (37020) and a plain one, from the same device
        let p = udp(1, 40000, 37020, b"probe");
        e.packet(0, 1, 1.0, 1, &p, p.len() as u32);
        let p = udp(1, 40001, 37020, b"probe");
        e.packet(0, 2, 2.0, 1, &p, p.len() as u32);
        let p = udp(1, 40002, 9999, b"x");
        e.packet(0, 3, 3.0, 1, &p, p.len() as u32);
        // raw IP (no MACs): the device is keyed by its address
        let raw = &udp(5, 40003, 9999, b"y")[14..];
        e.packet(0, 4, 4.0, 101, raw, raw.len() as u32);
        let raw = &udp(6, 40003, 9999, b"y")[14..];
        e.packet(0, 5, 5.0, 101, raw, raw.len() as u32);
        let rows = e.conv_rows(true);
        assert_eq!(rows.len(), 4);
        assert_eq!((rows[0].apps.clone(), rows[0].flows), (vec![PY_BASE], 2));
        assert!(rows[1].apps.is_empty());
        assert_eq!(
            (rows[2].dev_mac, rows[2].dev_ip.clone()),
            (None, vec![192, 168, 1, 5])
        );
        assert!(rows[2].dev_prem && rows[3].dev_prem);
        assert_eq!(rows[3].dev_ip, vec![192, 168, 1, 6]);
    }

    #[test]
    fn changed_counters_come_in_pieces() {
        let mut e = engine(100);
        for src in 1u8..=5 {
            let p = udp(src, 40000, 9999, b"hello");
            e.packet(0, src as u64, 0.0, 1, &p, p.len() as u32);
        }
        let mut got = Vec::new();
        loop {
            let part = e.take_counters(false, 2, 0);
            assert!(part.len() <= 2);
            if part.is_empty() {
                break;
            }
            got.extend(part.into_iter().map(|c| c.fid));
        }
        got.sort_unstable();
        assert_eq!(got, vec![0, 1, 2, 3, 4]);
        // nothing changed since: nothing more to hand over, yet `all` still gives every flow
        assert!(e.take_counters(false, usize::MAX, 0).is_empty());
        assert_eq!(e.take_counters(true, usize::MAX, 0).len(), 5);
        // every flow in order of flow id, in pieces after the last id handed over
        let mut from = 0;
        let mut order = Vec::new();
        loop {
            let part = e.take_counters(true, 2, from);
            let Some(last) = part.last() else { break };
            from = last.fid + 1;
            order.extend(part.iter().map(|c| c.fid));
        }
        assert_eq!(order, vec![0, 1, 2, 3, 4]);
    }

    #[test]
    fn datagram_repeats_are_dropped_and_ids_ignored() {
        let mut e = engine(100);
        for (i, id) in [[0u8, 1], [0, 2], [0, 2]].iter().enumerate() {
            let mut q = id.to_vec();
            q.extend(b"query");
            let p = udp(1, 40000, 37020, &q);
            // a second apart: the same datagram sent again, not a copy the capture made
            e.packet(0, i as u64 + 1, i as f64, 1, &p, p.len() as u32);
        }
        let payloads = e
            .ops
            .iter()
            .filter(|o| matches!(o, Op::Payload { .. }))
            .count();
        assert_eq!(payloads, 1);
        assert_eq!(e.datagrams_repeated, 2);
        assert!(attached(&e).iter().any(|&(_, name)| name == PY_BASE));
    }

    #[test]
    fn probe_ports_hand_over_a_flows_first_heads_only() {
        let mut cfg = Config::default();
        cfg.python_ports.insert(8800, (PY_BASE + 1, false));
        cfg.probe_id = Some(PY_BASE + 1);
        let mut e = Engine::new(cfg);
        let n = 50u64;
        for i in 0..n {
            let mut d = vec![b'x'; PROBE_HEAD + 100];
            d.extend(i.to_be_bytes()); // distinct datagrams: not repeats
            let p = udp(1, 40000, 8800, &d);
            e.packet(0, i + 1, 0.0, 1, &p, p.len() as u32);
        }
        let heads: Vec<usize> = e
            .ops
            .iter()
            .filter_map(|o| match o {
                Op::Payload { data, .. } => Some(data.len()),
                _ => None,
            })
            .collect();
        assert_eq!(heads, vec![PROBE_HEAD; MAX_PROBE_DATAGRAMS as usize]);
        assert_eq!(e.probe_dropped, n - MAX_PROBE_DATAGRAMS);
        assert_eq!(e.probe_cut, 108 * MAX_PROBE_DATAGRAMS);
    }

    fn dns_response(id: u16, ttl: u32, addr: [u8; 4]) -> Vec<u8> {
        let mut m = id.to_be_bytes().to_vec();
        m.extend([0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0]);
        let name = [3, b'c', b'a', b'm', 2, b'i', b'o', 0];
        m.extend(name);
        m.extend([0, 1, 0, 1]);
        m.extend([0xc0, 12, 0, 1, 0, 1]);
        m.extend(ttl.to_be_bytes());
        m.extend([0, 4]);
        m.extend(addr);
        m
    }

    fn events_of(e: &Engine) -> Vec<&Event> {
        e.ops
            .iter()
            .filter_map(|o| match o {
                Op::Events { events, .. } => Some(events),
                _ => None,
            })
            .flatten()
            .collect()
    }

    /// An Ethernet frame with an IPv6 header from fe80::1 to ff02::1 carrying `msg`.
    fn icmp6(msg: &[u8]) -> Vec<u8> {
        let mut v = vec![
            0x33, 0x33, 0, 0, 0, 1, 0x50, 0xc7, 0xbf, 0x3a, 0x91, 1, 0x86, 0xdd,
        ];
        v.extend([0x60, 0, 0, 0]);
        v.extend((msg.len() as u16).to_be_bytes());
        v.extend([58, 255]);
        v.extend([0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        v.extend([0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        v.extend(msg);
        v
    }

    #[test]
    fn router_advertisements_go_to_python_once_each() {
        let mut e = engine(100);
        let mut ra = vec![
            134, 0, 0x12, 0x34, 64, 0, 0x07, 0x08, 0, 0, 0, 0, 0, 0, 0, 0,
        ];
        ra.extend([3, 4, 64, 0xc0]);
        ra.extend([0; 12]);
        ra.extend([
            0x24, 0x08, 0x82, 0x07, 0x18, 0x50, 0xa2, 0xc0, 0, 0, 0, 0, 0, 0, 0, 0,
        ]);
        let mut other = ra.clone();
        other[7] = 0x09; // another router lifetime: something new
        let echo = [128u8, 0, 0, 0, 0, 1, 0, 1];
        for (i, msg) in [&ra[..], &ra[..], &other[..], &echo[..]].iter().enumerate() {
            let p = icmp6(msg);
            e.packet(0, i as u64 + 1, 0.0, 1, &p, p.len() as u32);
        }
        let icmp = attached(&e).iter().filter(|a| a.1 == ICMPV6).count();
        assert_eq!(icmp, 1);
        let payloads: Vec<&Vec<u8>> = e
            .ops
            .iter()
            .filter_map(|o| match o {
                Op::Payload { data, .. } => Some(data),
                _ => None,
            })
            .collect();
        assert_eq!(payloads, vec![&ra, &other]);
        // without dissection, nothing is handed over
        let mut e = Engine::new(Config {
            dissect: false,
            ..Config::default()
        });
        let p = icmp6(&ra);
        e.packet(0, 1, 0.0, 1, &p, p.len() as u32);
        assert!(!e.ops.iter().any(|o| matches!(o, Op::Payload { .. })));
    }

    #[test]
    fn dns_is_dissected_in_the_core_and_repeated_answers_are_one_fact() {
        let mut e = engine(100);
        // the same answer with another id and a lower TTL, then a new answer
        let answers = [
            dns_response(1, 300, [1, 2, 3, 4]),
            dns_response(2, 299, [1, 2, 3, 4]),
            dns_response(3, 298, [5, 6, 7, 8]),
        ];
        for (i, m) in answers.iter().enumerate() {
            let p = udp(1, 53, 40000 + i as u16, m);
            e.packet(0, i as u64 + 1, i as f64, 1, &p, p.len() as u32);
        }
        let evs = events_of(&e);
        assert_eq!(evs.len(), 2);
        match evs[1] {
            Event::Dns(d) => assert_eq!(d.answers[0].value, "5.6.7.8"),
            other => panic!("{other:?}"),
        }
        assert_eq!(e.facts_repeated, 1);
        assert!(!e.ops.iter().any(|o| matches!(o, Op::Payload { .. })));
        // the batch's latest repeat goes out at its end (the fact's last sighting)
        e.flush_repeats();
        let ctxs: Vec<u64> = e
            .ops
            .iter()
            .filter_map(|o| match o {
                Op::Events { ctx, .. } => Some(ctx.frame),
                _ => None,
            })
            .collect();
        assert_eq!(ctxs, vec![1, 3, 2]);
        assert_eq!(e.facts_resent, 1);
        // the context is the sender's (the server: source port 53)
        let ctx = e
            .ops
            .iter()
            .find_map(|o| match o {
                Op::Events { ctx, .. } => Some(ctx),
                _ => None,
            })
            .unwrap();
        assert_eq!((ctx.sport, ctx.dport, ctx.frame), (53, 40000, 1));
        assert_eq!(ctx.src_ip(), &[192, 168, 1, 1]);
        assert_eq!(ctx.src_mac, Some([0x10, 0x11, 0x12, 0x13, 0x14, 1]));
        e.ops.clear();
        e.flush_repeats();
        assert!(e.ops.is_empty());
    }

    #[test]
    fn a_resolver_answer_to_many_premises_clients_is_one_fact() {
        let mut e = engine(100);
        let m = dns_response(1, 300, [1, 2, 3, 4]);
        for client in 1u8..=3 {
            let mut p = udp(client, 53, 40000, &m);
            // from the off-site resolver 8.8.8.8 to the premises client
            let (src, dst) = (p[26..30].to_vec(), p[30..34].to_vec());
            p[26..30].copy_from_slice(&dst);
            p[30..34].copy_from_slice(&src);
            p[11] = 0xAA; // the router's MAC as sender
            p[5] = client;
            e.packet(0, u64::from(client), 0.0, 1, &p, p.len() as u32);
        }
        assert_eq!(events_of(&e).len(), 1);
        assert_eq!(e.facts_repeated, 2);
        // a query is the asking client's fact: one per client
        let mut e = engine(100);
        let mut q = dns_response(1, 300, [1, 2, 3, 4]);
        q[2] = 0x01; // a query
        for client in 1u8..=3 {
            let p = udp(client, 40000, 53, &q);
            e.packet(0, u64::from(client), 0.0, 1, &p, p.len() as u32);
        }
        assert_eq!(events_of(&e).len(), 3);
    }

    #[test]
    fn a_dissector_fault_is_counted_and_stops_the_flow() {
        let mut e = engine(100);
        let m = dns_response(1, 300, [1, 2, 3, 4]);
        let p = udp(1, 53, 40000, &m);
        e.packet(0, 1, 0.0, 1, &p, p.len() as u32);
        let (slot, _) = e
            .table
            .lookup(&Key::new(
                &[192, 168, 1, 1, 8, 8, 8, 8],
                [0, 53, 0x9c, 0x40],
                17,
            ))
            .unwrap();
        e.dissector_fault(slot, "Datagrams");
        assert_eq!(e.dissector_errors.get("Datagrams"), Some(&1));
        assert_eq!(e.table.get(slot).parse, Parse::Off);
        let before = e.ops.len();
        let m = dns_response(2, 300, [9, 9, 9, 9]);
        let p = udp(1, 53, 40000, &m);
        e.packet(0, 2, 1.0, 1, &p, p.len() as u32);
        assert_eq!(e.ops.len(), before); // counted, no longer parsed
        assert_eq!(e.table.get(slot).pkts_ab + e.table.get(slot).pkts_ba, 2);
    }

    /// An Ethernet/IPv4/TCP frame from 192.168.1.2:40000 to 8.8.8.8:80 (or back).
    fn tcp(to_server: bool, seq: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
        let mut v = vec![
            0, 1, 2, 3, 4, 5, 0x10, 0x11, 0x12, 0x13, 0x14, 2, 0x08, 0x00,
        ];
        let total = 40 + payload.len();
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
            6,
            0,
            0,
        ]);
        let (src, dst, sport, dport) = if to_server {
            ([192, 168, 1, 2], [8, 8, 8, 8], 40000u16, 80u16)
        } else {
            ([8, 8, 8, 8], [192, 168, 1, 2], 80, 40000)
        };
        v.extend(src);
        v.extend(dst);
        v.extend(sport.to_be_bytes());
        v.extend(dport.to_be_bytes());
        v.extend(seq.to_be_bytes());
        v.extend([0, 0, 0, 0, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
        v.extend(payload);
        v
    }

    #[test]
    fn http_streams_are_framed_in_the_core() {
        let mut e = engine(100);
        let head =
            b"POST /upload HTTP/1.1\r\nContent-Type: image/jpeg\r\nContent-Length: 40\r\n\r\n";
        let body = [0xffu8; 40];
        let mut seq = 1000u32;
        let mut frame = 0u64;
        let mut send = |e: &mut Engine, seq: &mut u32, data: &[u8], skip: u32| {
            frame += 1;
            let p = tcp(true, *seq + skip, 0x18, data);
            e.packet(0, frame, frame as f64, 1, &p, p.len() as u32);
            *seq += skip + data.len() as u32;
        };
        // the head split in two segments, the body in two more
        send(&mut e, &mut seq, &head[..10], 0);
        send(&mut e, &mut seq, &head[10..], 0);
        send(&mut e, &mut seq, &body[..15], 0);
        send(&mut e, &mut seq, &body[15..], 0);
        // a second upload with 7 of its bytes lost: reported incomplete at the gap, and
        // its rest as a body of its own (the length frames it past the hole)
        send(&mut e, &mut seq, head, 0);
        send(&mut e, &mut seq, &body[..20], 0);
        send(&mut e, &mut seq, &body[27..], 7);
        // a third cut short: the bytes lost run past its end, so the next request is
        // looked for (found after the lost ones)
        send(&mut e, &mut seq, head, 0);
        send(&mut e, &mut seq, &body[..20], 0);
        send(&mut e, &mut seq, b"GET /next HTTP/1.1\r\n\r\n", 30);
        // the end of the capture closes the stream (nothing in progress)
        e.finish();
        assert!(!e.ops.iter().any(|o| matches!(o, Op::Payload { .. })));
        assert!(attached(&e).iter().any(|a| a.1 == HTTP));
        let evs = events_of(&e);
        let kinds: Vec<&str> = evs.iter().map(|e| e.kind()).collect();
        assert_eq!(
            kinds,
            [
                "http_request",
                "http_body",
                "http_request",
                "http_body",
                "http_body",
                "http_request",
                "http_body",
                "http_request"
            ]
        );
        let Event::HttpBody(b) = evs[1] else { panic!() };
        assert_eq!((b.first_frame, b.last_frame, b.complete), (3, 4, true));
        assert_eq!(b.body.len(), 40);
        let Event::HttpBody(b) = evs[3] else { panic!() };
        assert_eq!((b.first_frame, b.last_frame, b.complete), (6, 6, false));
        assert_eq!(b.body.len(), 20);
        // (held out of order until the end of the input: given with the flow's last frame)
        let Event::HttpBody(b) = evs[4] else { panic!() };
        assert_eq!((b.first_frame, b.last_frame, b.complete), (10, 10, false));
        assert_eq!(b.body, &body[27..]);
        let Event::HttpBody(b) = evs[6] else { panic!() };
        assert_eq!((b.first_frame, b.last_frame, b.complete), (10, 10, false));
        assert_eq!(b.body.len(), 20);
    }

    #[test]
    fn parser_names_follow_the_registry() {
        let names = builtin_names();
        assert_eq!(names[TLS as usize], "tls");
        assert_eq!(names[HTTP as usize], "http");
        assert_eq!(names[DNS_TCP as usize], "dns");
        assert_eq!(names[QUIC as usize], "quic");
        assert_eq!(names[UDP_BASE as usize], "dns");
        assert!(in_core(TLS) && in_core(DNS_TCP) && in_core(QUIC) && in_core(HTTP));
        assert!(!in_core(PY_BASE) && !in_core(ICMPV6));
    }
}
