//! The flow table: one compact record per conversation (5-tuple, or 802.11 station pair),
//! both directions pointing at it, a bound on live flows with eviction of the idlest.
//!
//! Side A is the client (`sender_is_client`); counters use the frame length on the wire.
//! Upload bursts (side A to side B) are kept for flows the premises policy marks.

use std::hash::{BuildHasher, Hash, Hasher};

use rustc_hash::FxHashMap;

use crate::decode::link::Mac;
use crate::dissect::registry::Stream;
use crate::loss::SeqTrack;
use crate::reassembly::Reassembly;

/// A hash map keyed by what the traffic chooses (addresses, ports, fragment ids, MACs):
/// a fast hash with a random key per map, so that no one can send keys that all land
/// in the same bucket (FxHash, unkeyed, stays for keys the core makes itself).
pub type KeyedMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

pub const FIRST_FRAMES: usize = 5;
pub const BURST_GAP: f64 = 1.0;
pub const MAX_BURSTS: usize = 2000;
const NIL: u32 = u32::MAX;
/// `Flow::app` of a flow no parser was attached to
pub const NO_APP: u8 = u8::MAX;

/// Ports that mark the server side of a flow whose first packet gives no other hint.
const WELL_KNOWN: [u16; 41] = [
    20, 21, 22, 23, 25, 53, 67, 80, 88, 110, 123, 137, 138, 139, 143, 161, 389, 443, 445, 514, 554,
    587, 853, 993, 995, 1883, 1900, 3702, 5060, 5353, 5355, 8000, 8080, 8443, 8554, 8883, 32100,
    34567, 37777, 37020, 37810,
];

fn well_known(p: u16) -> bool {
    WELL_KNOWN.contains(&p)
}

/// Whether the sender of a flow's first packet is the client (side A); mirrors
/// `netscan.flow.sender_is_client`.
pub fn sender_is_client(proto: u8, sport: u16, dport: u16, tcp_flags: u8) -> bool {
    match proto {
        6 => {
            if tcp_flags & 0x12 == 0x12 {
                return false;
            }
            tcp_flags & 0x02 != 0 || !well_known(sport) || well_known(dport)
        }
        17 => !well_known(sport) || well_known(dport),
        _ => true,
    }
}

/// A lookup key: addresses (IPv4 8 bytes, IPv6 32, or two MACs), ports, protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    addrs: [u8; 32],
    ports: [u8; 4],
    alen: u8,
    proto: u8,
}

impl Hash for Key {
    /// The key as a few words (the unused address bytes are zero): cheaper than the
    /// derived hash's slices with their length prefixes.
    #[inline]
    fn hash<H: Hasher>(&self, h: &mut H) {
        let word = |i: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&self.addrs[i * 8..i * 8 + 8]);
            u64::from_ne_bytes(w)
        };
        h.write_u64(word(0));
        h.write_u64(word(1));
        if self.alen > 16 {
            h.write_u64(word(2));
            h.write_u64(word(3));
        }
        h.write_u64(
            u64::from(u32::from_ne_bytes(self.ports))
                | u64::from(self.alen) << 32
                | u64::from(self.proto) << 40,
        );
    }
}

impl Key {
    pub fn new(addrs: &[u8], ports: [u8; 4], proto: u8) -> Key {
        let mut a = [0u8; 32];
        a[..addrs.len()].copy_from_slice(addrs);
        Key {
            addrs: a,
            ports,
            alen: addrs.len() as u8,
            proto,
        }
    }

    /// The other direction's key.
    pub fn reverse(&self) -> Key {
        let half = self.alen as usize / 2;
        let mut a = [0u8; 32];
        a[..half].copy_from_slice(&self.addrs[half..2 * half]);
        a[half..2 * half].copy_from_slice(&self.addrs[..half]);
        let p = self.ports;
        Key {
            addrs: a,
            ports: [p[2], p[3], p[0], p[1]],
            alen: self.alen,
            proto: self.proto,
        }
    }

    pub fn src(&self) -> &[u8] {
        &self.addrs[..self.alen as usize / 2]
    }

    pub fn dst(&self) -> &[u8] {
        let half = self.alen as usize / 2;
        &self.addrs[half..2 * half]
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parse {
    Undecided,
    Active(u8),
    Off,
}

#[derive(Debug, Default)]
pub struct Bursts {
    pub list: Vec<[f64; 4]>,
    cur: Option<[f64; 4]>,
    listed: bool,
}

impl Bursts {
    pub fn add(&mut self, ts: f64, size: u32) {
        if let Some(cur) = self.cur.as_mut() {
            if ts - cur[1] <= BURST_GAP {
                cur[1] = ts;
                cur[2] += size as f64;
                cur[3] += 1.0;
                if self.listed {
                    if let Some(last) = self.list.last_mut() {
                        *last = *cur;
                    }
                }
                return;
            }
        }
        let cur = [ts, ts, size as f64, 1.0];
        self.cur = Some(cur);
        self.listed = self.list.len() < MAX_BURSTS;
        if self.listed {
            if self.list.is_empty() {
                // most watched flows have one burst: room for one, not the default four
                self.list.reserve_exact(1);
            }
            self.list.push(cur);
        }
    }
}

/// One flow; a fixed footprint (its reassembly and bursts are boxed and only exist for
/// flows being parsed or watched for uploads).
#[derive(Debug)]
pub struct Flow {
    pub fid: u64,
    /// the first packet's key (its sender first)
    pub key: Key,
    /// whether the first packet's sender is side A
    pub fwd_is_a: bool,
    pub file: u32,
    pub proto: u8,
    pub wlan: bool,
    pub a_port: u16,
    pub b_port: u16,
    pub bytes_ab: u64,
    pub bytes_ba: u64,
    pub pkts_ab: u64,
    pub pkts_ba: u64,
    pub payload_ab: u64,
    pub payload_ba: u64,
    pub first_ts: f64,
    pub last_ts: f64,
    pub first_frames: [u64; FIRST_FRAMES],
    pub n_first: u8,
    pub last_frame: u64,
    pub parse: Parse,
    /// the parser id attached to the flow (its application), `NO_APP` for none: `parse`
    /// turns `Off` when the parser stops, the application stays
    pub app: u8,
    pub dirty: bool,
    pub tcp: Option<Box<Reassembly>>,
    pub bursts: Option<Box<Bursts>>,
    /// the Rust stream parser of a flow dissected in the core (TLS, DNS over TCP, QUIC)
    pub stream: Option<Box<Stream>>,
    /// a TCP connection's sequence space, for the bytes the capture missed
    pub seqs: Option<Box<SeqTrack>>,
    pub a_mac: Option<Mac>,
    pub b_mac: Option<Mac>,
    prev: u32,
    next: u32,
}

impl Flow {
    /// Side A's and side B's addresses.
    pub fn a_addr(&self) -> &[u8] {
        if self.fwd_is_a {
            self.key.src()
        } else {
            self.key.dst()
        }
    }

    pub fn b_addr(&self) -> &[u8] {
        if self.fwd_is_a {
            self.key.dst()
        } else {
            self.key.src()
        }
    }

    /// The frame the flow's first packet came in (`Flow.first_frames[0]`, or the frame
    /// that opened it when none was counted).
    pub fn first_frame(&self) -> u64 {
        if self.n_first > 0 {
            self.first_frames[0]
        } else {
            self.last_frame
        }
    }

    /// Accounts one packet (`plen`: transport payload bytes; `upload`: whether a packet
    /// from side A counts towards an upload burst).
    #[inline]
    pub fn count(&mut self, from_a: bool, wirelen: u32, plen: u64, ts: f64, frame: u64) {
        self.count_as(from_a, wirelen, plen, ts, frame, true)
    }

    #[inline]
    pub fn count_as(
        &mut self,
        from_a: bool,
        wirelen: u32,
        plen: u64,
        ts: f64,
        frame: u64,
        upload: bool,
    ) {
        if from_a {
            self.bytes_ab += wirelen as u64;
            self.pkts_ab += 1;
            self.payload_ab += plen;
            if upload {
                if let Some(b) = self.bursts.as_mut() {
                    b.add(ts, wirelen);
                }
            }
        } else {
            self.bytes_ba += wirelen as u64;
            self.pkts_ba += 1;
            self.payload_ba += plen;
        }
        self.last_ts = ts;
        self.last_frame = frame;
        if (self.n_first as usize) < FIRST_FRAMES {
            self.first_frames[self.n_first as usize] = frame;
            self.n_first += 1;
        }
        self.dirty = true;
    }
}

/// A flow being created: what the table needs to know.
pub struct NewFlow {
    pub key: Key,
    pub fwd_is_a: bool,
    pub file: u32,
    pub proto: u8,
    pub wlan: bool,
    pub a_port: u16,
    pub b_port: u16,
    pub ts: f64,
    pub frame: u64,
    pub track_bursts: bool,
    pub a_mac: Option<Mac>,
    pub b_mac: Option<Mac>,
}

/// A flow's entry in the key table: its slot, which of its two keys (`Flow::key` or its
/// reverse) the entry stands for, and that key's hash (the table grows without reading
/// the flows). The keys themselves stay in the flows: 16 bytes an entry instead of 48.
#[derive(Clone, Copy)]
struct Entry {
    hash: u64,
    slot: u32,
    reverse: bool,
}

impl Entry {
    /// Whether this entry stands for `key`.
    #[inline]
    fn is(self, slots: &[Option<Flow>], key: &Key) -> bool {
        match slots.get(self.slot as usize) {
            Some(Some(f)) if self.reverse => f.key.reverse() == *key,
            Some(Some(f)) => f.key == *key,
            _ => false,
        }
    }
}

pub struct FlowTable {
    /// both keys of every live flow (randomly keyed: see `KeyedMap`)
    map: hashbrown::HashTable<Entry>,
    keyed: foldhash::fast::RandomState,
    by_fid: FxHashMap<u64, u32>,
    slots: Vec<Option<Flow>>,
    free: Vec<u32>,
    /// least recently used first
    head: u32,
    tail: u32,
    pub live: usize,
    pub max_live: usize,
    next_fid: u64,
}

impl FlowTable {
    pub fn new(max_live: usize) -> FlowTable {
        FlowTable {
            map: hashbrown::HashTable::new(),
            keyed: Default::default(),
            by_fid: FxHashMap::default(),
            slots: Vec::new(),
            free: Vec::new(),
            head: NIL,
            tail: NIL,
            live: 0,
            max_live: max_live.max(1),
            next_fid: 0,
        }
    }

    /// (slot, whether the packet's sender is side A), moving the flow to the busy end.
    #[inline]
    pub fn lookup(&mut self, key: &Key) -> Option<(u32, bool)> {
        let slots = &self.slots;
        let hash = self.keyed.hash_one(key);
        let e = *self
            .map
            .find(hash, |e| e.hash == hash && e.is(slots, key))?;
        let from_a = self.get(e.slot).fwd_is_a != e.reverse;
        self.touch(e.slot);
        Some((e.slot, from_a))
    }

    pub fn is_full(&self) -> bool {
        self.live >= self.max_live
    }

    /// The idlest flow (least recently seen), the one to evict.
    pub fn idlest(&self) -> Option<u32> {
        (self.head != NIL).then_some(self.head)
    }

    pub fn get(&self, slot: u32) -> &Flow {
        self.slots[slot as usize].as_ref().expect("live slot")
    }

    pub fn get_mut(&mut self, slot: u32) -> &mut Flow {
        self.slots[slot as usize].as_mut().expect("live slot")
    }

    /// Whether `slot` still holds the flow `fid` (fragment memories may outlive flows).
    pub fn holds(&self, slot: u32, fid: u64) -> bool {
        matches!(self.slots.get(slot as usize), Some(Some(f)) if f.fid == fid)
    }

    pub fn insert(&mut self, n: NewFlow) -> (u32, bool) {
        let fid = self.next_fid;
        self.next_fid += 1;
        let flow = Flow {
            fid,
            key: n.key,
            fwd_is_a: n.fwd_is_a,
            file: n.file,
            proto: n.proto,
            wlan: n.wlan,
            a_port: n.a_port,
            b_port: n.b_port,
            bytes_ab: 0,
            bytes_ba: 0,
            pkts_ab: 0,
            pkts_ba: 0,
            payload_ab: 0,
            payload_ba: 0,
            first_ts: n.ts,
            last_ts: n.ts,
            first_frames: [0; FIRST_FRAMES],
            n_first: 0,
            last_frame: n.frame,
            parse: Parse::Undecided,
            app: NO_APP,
            dirty: true,
            tcp: None,
            bursts: n.track_bursts.then(Box::default),
            stream: None,
            seqs: None,
            a_mac: n.a_mac,
            b_mac: n.b_mac,
            prev: NIL,
            next: NIL,
        };
        let slot = match self.free.pop() {
            Some(s) => {
                self.slots[s as usize] = Some(flow);
                s
            }
            None => {
                self.slots.push(Some(flow));
                (self.slots.len() - 1) as u32
            }
        };
        self.live += 1;
        self.by_fid.insert(fid, slot);
        self.link_tail(slot);
        // both directions point at the flow; when they are the same key (a host talking
        // to itself on one port) the later entry wins, as it always has
        for (key, reverse) in [(n.key, false), (n.key.reverse(), true)] {
            let slots = &self.slots;
            let keyed = &self.keyed;
            let hash = keyed.hash_one(key);
            let entry = Entry {
                hash,
                slot,
                reverse,
            };
            match self
                .map
                .entry(hash, |e| e.hash == hash && e.is(slots, &key), |e| e.hash)
            {
                hashbrown::hash_table::Entry::Occupied(mut o) => *o.get_mut() = entry,
                hashbrown::hash_table::Entry::Vacant(v) => {
                    v.insert(entry);
                }
            }
        }
        (slot, n.fwd_is_a)
    }

    /// Takes a flow out of the table (its keys forgotten, its slot free).
    pub fn remove(&mut self, slot: u32) -> Flow {
        self.unlink(slot);
        let key = self.get(slot).key;
        for k in [key, key.reverse()] {
            let slots = &self.slots;
            let hash = self.keyed.hash_one(k);
            if let Ok(e) = self
                .map
                .find_entry(hash, |e| e.hash == hash && e.is(slots, &k))
            {
                if e.get().slot == slot {
                    e.remove();
                }
            }
        }
        let flow = self.slots[slot as usize].take().expect("live slot");
        self.free.push(slot);
        self.live -= 1;
        self.by_fid.remove(&flow.fid);
        flow
    }

    pub fn slot_of(&self, fid: u64) -> Option<u32> {
        self.by_fid.get(&fid).copied()
    }

    /// Live flows in creation order.
    pub fn live_slots(&self) -> Vec<u32> {
        let mut v: Vec<(u64, u32)> = self
            .slots
            .iter()
            .enumerate()
            .filter_map(|(i, f)| f.as_ref().map(|f| (f.fid, i as u32)))
            .collect();
        v.sort_unstable();
        v.into_iter().map(|(_, s)| s).collect()
    }

    pub fn clear(&mut self) {
        self.map = hashbrown::HashTable::new();
        self.by_fid = FxHashMap::default();
        self.slots = Vec::new();
        self.free = Vec::new();
        self.head = NIL;
        self.tail = NIL;
        self.live = 0;
    }

    fn link_tail(&mut self, slot: u32) {
        let tail = self.tail;
        {
            let f = self.get_mut(slot);
            f.prev = tail;
            f.next = NIL;
        }
        if tail != NIL {
            self.get_mut(tail).next = slot;
        } else {
            self.head = slot;
        }
        self.tail = slot;
    }

    fn unlink(&mut self, slot: u32) {
        let (prev, next) = {
            let f = self.get(slot);
            (f.prev, f.next)
        };
        if prev != NIL {
            self.get_mut(prev).next = next;
        } else {
            self.head = next;
        }
        if next != NIL {
            self.get_mut(next).prev = prev;
        } else {
            self.tail = prev;
        }
    }

    #[inline]
    fn touch(&mut self, slot: u32) {
        if self.tail != slot {
            self.unlink(slot);
            self.link_tail(slot);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nf(src: u8, dst: u8, sport: u16, dport: u16) -> NewFlow {
        let mut p = [0u8; 4];
        p[..2].copy_from_slice(&sport.to_be_bytes());
        p[2..].copy_from_slice(&dport.to_be_bytes());
        NewFlow {
            key: Key::new(&[10, 0, 0, src, 10, 0, 0, dst], p, 17),
            fwd_is_a: true,
            file: 0,
            proto: 17,
            wlan: false,
            a_port: sport,
            b_port: dport,
            ts: 0.0,
            frame: 1,
            track_bursts: false,
            a_mac: None,
            b_mac: None,
        }
    }

    #[test]
    fn client_side() {
        assert!(sender_is_client(6, 443, 50000, 0x02));
        assert!(!sender_is_client(6, 50000, 443, 0x12));
        assert!(!sender_is_client(6, 443, 50000, 0x10));
        assert!(sender_is_client(17, 50000, 53, 0));
        assert!(!sender_is_client(17, 53, 50000, 0));
        assert!(sender_is_client(1, 0, 0, 0));
    }

    #[test]
    fn both_directions_and_lru_eviction_order() {
        let mut t = FlowTable::new(2);
        let a = nf(1, 2, 1000, 53);
        let rev = a.key.reverse();
        let (s1, _) = t.insert(a);
        assert_eq!(t.lookup(&rev), Some((s1, false)));
        let (s2, _) = t.insert(nf(3, 4, 1000, 53));
        assert!(t.is_full());
        assert_eq!(t.idlest(), Some(s1));
        t.lookup(&rev); // s1 busy again
        assert_eq!(t.idlest(), Some(s2));
        let gone = t.remove(s2);
        assert_eq!(gone.fid, 1);
        assert_eq!(t.live, 1);
        assert!(t.lookup(&gone.key).is_none());
        let (s3, _) = t.insert(nf(5, 6, 1, 2));
        assert_eq!(s3, s2, "the slot is reused");
        assert!(!t.holds(s3, 1));
        assert_eq!(t.live_slots(), vec![s1, s3]);
    }

    #[test]
    fn bursts_split_on_silence_and_stop_listing_at_the_cap() {
        let mut b = Bursts::default();
        b.add(0.0, 100);
        b.add(0.5, 100);
        b.add(2.0, 10);
        assert_eq!(b.list, vec![[0.0, 0.5, 200.0, 2.0], [2.0, 2.0, 10.0, 1.0]]);
        for i in 0..3000 {
            b.add(10.0 + i as f64 * 2.0, 1);
        }
        assert_eq!(b.list.len(), MAX_BURSTS);
    }

    #[test]
    fn footprint_is_small() {
        assert!(
            std::mem::size_of::<Flow>() < 256,
            "{}",
            std::mem::size_of::<Flow>()
        );
    }
}
