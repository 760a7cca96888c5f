//! Per-direction TCP reassembly of the first bytes of a stream, for flows with a parser.
//!
//! Delivers payload in sequence order, trims retransmitted overlaps, holds out-of-order
//! segments within a per-flow budget (and a global one shared by all flows) and, when a
//! gap never fills, skips it so that parsing goes on past a lost segment; every skip is
//! counted so the parser can be told.

pub const MAX_PENDING_BYTES: usize = 512 * 1024;
pub const MAX_PENDING_SEGMENTS: usize = 256;
const HALF: u32 = 0x8000_0000;

#[derive(Debug, Default)]
struct Dir {
    next: Option<u32>,
    /// held segments in arrival order (a retransmission of a held start replaces it)
    pending: Vec<(u32, Vec<u8>)>,
    pending_bytes: usize,
    gaps: u32,
    /// bytes the skipped gaps held (in sequence space)
    lost: u64,
}

#[derive(Debug, Default)]
pub struct Reassembly {
    dirs: [Dir; 2],
}

/// Bytes held out of order by all flows together, shared by one engine.
#[derive(Debug)]
pub struct Budget {
    pub held: usize,
    pub max: usize,
    /// gaps skipped because the global budget ran out
    pub forced: u64,
}

impl Budget {
    pub fn new(max: usize) -> Budget {
        Budget {
            held: 0,
            max,
            forced: 0,
        }
    }
}

impl Reassembly {
    pub fn new() -> Reassembly {
        Reassembly::default()
    }

    pub fn gaps(&self, d: usize) -> u32 {
        self.dirs[d].gaps
    }

    /// The bytes of direction `d` skipped with its gaps.
    pub fn lost(&self, d: usize) -> u64 {
        self.dirs[d].lost
    }

    /// Bytes held by both directions.
    pub fn held(&self) -> usize {
        self.dirs[0].pending_bytes + self.dirs[1].pending_bytes
    }

    /// Feeds one segment of direction `d` (0 = A to B); in-order data goes to `out`.
    pub fn segment(
        &mut self,
        d: usize,
        mut seq: u32,
        flags: u8,
        payload: &[u8],
        budget: &mut Budget,
        out: &mut Vec<Vec<u8>>,
    ) {
        let dir = &mut self.dirs[d];
        let mut nxt = dir.next;
        if flags & 0x02 != 0 {
            seq = seq.wrapping_add(1);
            nxt = Some(seq);
            dir.next = nxt;
        }
        if payload.is_empty() {
            return;
        }
        let nxt = match nxt {
            Some(n) => n,
            None => {
                dir.next = Some(seq);
                seq
            }
        };
        let mut payload = payload;
        let mut diff = seq.wrapping_sub(nxt);
        if diff >= HALF {
            // starts before what we have: retransmission or overlap
            let overlap = nxt.wrapping_sub(seq) as usize;
            if overlap >= payload.len() {
                return;
            }
            payload = &payload[overlap..];
            diff = 0;
        }
        if diff != 0 {
            let old = dir.pending.iter().position(|(s, _)| *s == seq);
            match old {
                Some(i) => {
                    let held = dir.pending[i].1.len();
                    if held < payload.len() {
                        dir.pending_bytes += payload.len() - held;
                        budget.held += payload.len() - held;
                        dir.pending[i].1 = payload.to_vec();
                    }
                }
                None => {
                    dir.pending_bytes += payload.len();
                    budget.held += payload.len();
                    dir.pending.push((seq, payload.to_vec()));
                }
            }
            if dir.pending_bytes > MAX_PENDING_BYTES || dir.pending.len() > MAX_PENDING_SEGMENTS {
                self.skip_gap(d, budget, out);
            } else if budget.held > budget.max {
                budget.forced += 1;
                self.flush(d, budget, out);
            }
            return;
        }
        out.push(payload.to_vec());
        dir.next = Some(nxt.wrapping_add(payload.len() as u32));
        if !dir.pending.is_empty() {
            self.drain(d, budget, out);
        }
    }

    fn drain(&mut self, d: usize, budget: &mut Budget, out: &mut Vec<Vec<u8>>) {
        let dir = &mut self.dirs[d];
        let Some(mut nxt) = dir.next else { return };
        let mut progress = true;
        while !dir.pending.is_empty() && progress {
            progress = false;
            let mut i = 0;
            while i < dir.pending.len() {
                let seq = dir.pending[i].0;
                let diff = seq.wrapping_sub(nxt);
                if diff == 0 || diff >= HALF {
                    let (_, data) = dir.pending.remove(i);
                    dir.pending_bytes -= data.len();
                    budget.held -= data.len();
                    let overlap = if diff == 0 {
                        0
                    } else {
                        nxt.wrapping_sub(seq) as usize
                    };
                    if overlap < data.len() {
                        let data = if overlap == 0 {
                            data
                        } else {
                            data[overlap..].to_vec()
                        };
                        nxt = nxt.wrapping_add(data.len() as u32);
                        out.push(data);
                    }
                    progress = true;
                } else {
                    i += 1;
                }
            }
        }
        dir.next = Some(nxt);
    }

    fn skip_gap(&mut self, d: usize, budget: &mut Budget, out: &mut Vec<Vec<u8>>) {
        let dir = &mut self.dirs[d];
        let Some(nxt) = dir.next else { return };
        let Some(first) = dir
            .pending
            .iter()
            .map(|(s, _)| *s)
            .min_by_key(|s| s.wrapping_sub(nxt))
        else {
            return;
        };
        if first != nxt {
            dir.gaps += 1;
            dir.lost += u64::from(first.wrapping_sub(nxt));
        }
        dir.next = Some(first);
        self.drain(d, budget, out);
    }

    /// Delivers everything held for direction `d`, skipping gaps (end of capture, or the
    /// global budget ran out).
    pub fn flush(&mut self, d: usize, budget: &mut Budget, out: &mut Vec<Vec<u8>>) {
        while self.flush_one(d, budget, out) {}
    }

    /// Skips the first gap of direction `d` and delivers what follows it in order; false
    /// when nothing is held (a flush gap by gap, so that each gap's length is known).
    pub fn flush_one(&mut self, d: usize, budget: &mut Budget, out: &mut Vec<Vec<u8>>) -> bool {
        if self.dirs[d].pending.is_empty() {
            return false;
        }
        self.skip_gap(d, budget, out);
        true
    }

    /// Gives the held bytes back to the budget (the flow stops being parsed).
    pub fn release(&mut self, budget: &mut Budget) {
        budget.held -= self.held();
        for dir in &mut self.dirs {
            dir.pending.clear();
            dir.pending_bytes = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(r: &mut Reassembly, b: &mut Budget, seq: u32, flags: u8, p: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        r.segment(0, seq, flags, p, b, &mut out);
        out.concat()
    }

    #[test]
    fn in_order_out_of_order_overlap_and_gap() {
        let mut b = Budget::new(1 << 20);
        let mut r = Reassembly::new();
        assert_eq!(feed(&mut r, &mut b, 99, 0x02, b""), b"");
        assert_eq!(feed(&mut r, &mut b, 100, 0, b"hello "), b"hello ");
        assert_eq!(feed(&mut r, &mut b, 111, 0, b"!"), b"");
        assert_eq!(b.held, 1);
        assert_eq!(feed(&mut r, &mut b, 103, 0, b"lo world"), b"world!");
        assert_eq!(b.held, 0);
        assert_eq!(feed(&mut r, &mut b, 100, 0, b"hello"), b""); // retransmission
        assert_eq!(r.gaps(0), 0);
        // a segment after a hole, then the end: the hole is skipped and counted
        assert_eq!(feed(&mut r, &mut b, 200, 0, b"late"), b"");
        let mut out = Vec::new();
        r.flush(0, &mut b, &mut out);
        assert_eq!(out.concat(), b"late");
        assert_eq!(r.gaps(0), 1);
        assert_eq!(b.held, 0);
    }

    #[test]
    fn budgets_force_skips() {
        let mut b = Budget::new(1 << 20);
        let mut r = Reassembly::new();
        feed(&mut r, &mut b, 0, 0, b"x");
        let mut got = 0;
        for i in 0..300u32 {
            got += feed(&mut r, &mut b, 10 + i * 10, 0, b"abc").len();
        }
        assert!(got > 0, "the segment cap skips the hole");
        assert!(r.gaps(0) >= 1);
        let mut small = Budget::new(10);
        let mut r2 = Reassembly::new();
        feed(&mut r2, &mut small, 0, 0, b"x");
        assert_eq!(
            feed(&mut r2, &mut small, 100, 0, b"0123456789abc"),
            b"0123456789abc"
        );
        assert_eq!(small.forced, 1);
        assert_eq!(small.held, 0);
    }
}
