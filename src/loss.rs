//! Bytes the capture missed in TCP connections: a mirror port or a capturing host that
//! cannot keep up drops packets, and each dropped segment leaves a hole in its direction's
//! sequence space. A hole opens where a segment starts past the next sequence number
//! expected, or where the receiver acknowledges more than was seen (the segments before an
//! ACK lost); bytes that arrive into it later (reordered on the way or by the mirror port,
//! or retransmitted) fill it. A hole still open when later holes push it out of the few a
//! direction keeps, or when the connection ends (evicted, or at the end of the input), is
//! missed. Zeek calls the acknowledged kind an "ACK above a hole"; an ACK the mirror port
//! delivered before the data it acknowledges is no loss, so no hole is counted at once.
//!
//! Per direction: the next sequence number expected and up to `HOLES` open holes, so a
//! connection's footprint is fixed. A hostile sender chooses its sequence numbers: a jump
//! or an ACK further than `MAX_HOLE` is taken as a resynchronisation (a new start: the
//! holes open are counted, the jump is not), so one segment can add at most `MAX_HOLE` to
//! the count.

/// Open holes kept per direction (the oldest is counted missed when another opens).
pub const HOLES: usize = 4;
/// The largest jump of a sequence or acknowledgement number taken for missed bytes.
pub const MAX_HOLE: u32 = 1 << 24;

/// `a` is after `b` in sequence space.
#[inline]
fn after(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) > 0
}

/// What the connections' directions left out, summed over every connection.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Missed {
    /// bytes of sequence space missed
    pub bytes: u64,
    /// holes counted
    pub gaps: u64,
    /// connections with bytes missed (a mirror port's drops fall on many; a sender's
    /// crafted sequence numbers on its own)
    pub conns: u64,
}

#[derive(Debug, Default, Clone, Copy)]
struct Dir {
    /// the next sequence number expected (valid once `known`)
    next: u32,
    known: bool,
    n: u8,
    /// open holes, oldest first: (start, end) of sequence space not seen
    holes: [(u32, u32); HOLES],
    /// bytes of this direction counted missed
    lost: u64,
}

impl Dir {
    fn count(&mut self, missed: &mut Missed, start: u32, end: u32) {
        let n = end.wrapping_sub(start) as u64;
        self.lost += n;
        missed.bytes += n;
        missed.gaps += 1;
    }

    fn remove(&mut self, i: usize) {
        let n = self.n as usize;
        self.holes.copy_within(i + 1..n, i);
        self.n -= 1;
    }

    /// A hole from the next sequence number expected to `end`: the last hole grows when it
    /// ends there (nothing came after it), else a new one opens (the oldest is counted
    /// missed when there is no room).
    fn open(&mut self, end: u32, missed: &mut Missed) {
        let n = self.n as usize;
        if n > 0 && self.holes[n - 1].1 == self.next {
            self.holes[n - 1].1 = end;
            return;
        }
        if n == HOLES {
            let (s, e) = self.holes[0];
            self.count(missed, s, e);
            self.remove(0);
        }
        self.holes[self.n as usize] = (self.next, end);
        self.n += 1;
    }

    /// A segment of sequence space [start, end) was seen.
    fn seen(&mut self, start: u32, end: u32, missed: &mut Missed) {
        if !self.known || end.wrapping_sub(start) > MAX_HOLE {
            if !self.known {
                self.known = true;
                self.next = end;
            }
            return;
        }
        if after(start, self.next) {
            if start.wrapping_sub(self.next) > MAX_HOLE {
                // not a hole: a new start (a crafted or reused sequence number); the holes
                // open so far stay unseen
                self.settle(missed);
            } else {
                self.open(start, missed);
            }
            self.next = end;
            return;
        }
        if after(end, self.next) {
            self.next = end;
        }
        // bytes into open holes fill them
        let mut i = 0;
        while i < self.n as usize {
            let (s, e) = self.holes[i];
            if !after(end, s) || !after(e, start) {
                i += 1; // no overlap
            } else if !after(start, s) && !after(e, end) {
                // the hole [s, e) lies within [start, end): filled
                self.remove(i);
            } else if !after(start, s) {
                self.holes[i].0 = end; // its head filled
                i += 1;
            } else if !after(e, end) {
                self.holes[i].1 = start; // its tail filled
                i += 1;
            } else {
                // bytes in its middle: two holes, if there is room; else its tail is
                // counted missed now (it stays unseen unless more comes)
                self.holes[i].1 = start;
                if (self.n as usize) < HOLES {
                    let n = self.n as usize;
                    self.holes.copy_within(i + 1..n, i + 2);
                    self.holes[i + 1] = (end, e);
                    self.n += 1;
                    i += 2;
                } else {
                    self.count(missed, end, e);
                    i += 1;
                }
            }
        }
    }

    /// The receiver acknowledged everything before `ack`: what it acknowledged beyond all
    /// that was seen is a hole (that the segments, should they come late, fill).
    fn acked(&mut self, ack: u32, missed: &mut Missed) {
        if !self.known || !after(ack, self.next) {
            return;
        }
        if ack.wrapping_sub(self.next) <= MAX_HOLE {
            self.open(ack, missed);
        } else {
            self.settle(missed); // a new start, as for a sequence jump
        }
        self.next = ack;
    }

    /// The connection ended: its open holes are missed.
    fn settle(&mut self, missed: &mut Missed) {
        for i in 0..self.n as usize {
            let (s, e) = self.holes[i];
            self.count(missed, s, e);
        }
        self.n = 0;
    }
}

/// One TCP connection's two directions (A to B, B to A).
#[derive(Debug, Default, Clone)]
pub struct SeqTrack {
    dirs: [Dir; 2],
    /// whether this connection counted in `Missed::conns` yet
    counted: bool,
}

impl SeqTrack {
    /// Counts the connection once in `Missed::conns` when it has missed bytes since `before`.
    fn note(&mut self, missed: &mut Missed, before: u64) {
        if !self.counted && missed.bytes > before {
            self.counted = true;
            missed.conns += 1;
        }
    }

    /// A segment from side A (`from_a`) or B: its flags, sequence and acknowledgement
    /// numbers and payload length.
    pub fn segment(
        &mut self,
        from_a: bool,
        flags: u8,
        seq: u32,
        ack: u32,
        plen: u32,
        missed: &mut Missed,
    ) {
        let d = usize::from(!from_a);
        if flags & 0x04 != 0 {
            return; // a reset's numbers say nothing of what was sent
        }
        let before = missed.bytes;
        // SYN and FIN take one number each
        let len = plen
            .wrapping_add(u32::from(flags & 0x02 != 0))
            .wrapping_add(u32::from(flags & 0x01 != 0));
        if len > 0 || !self.dirs[d].known {
            self.dirs[d].seen(seq, seq.wrapping_add(len), missed);
        }
        if flags & 0x10 != 0 {
            self.dirs[1 - d].acked(ack, missed);
        }
        self.note(missed, before);
    }

    /// A segment from side A or B whose length is not known (a first fragment): the holes
    /// its side left stay unseen, and what it sends next starts the count again.
    pub fn lose_track(&mut self, from_a: bool, missed: &mut Missed) {
        let before = missed.bytes;
        let d = &mut self.dirs[usize::from(!from_a)];
        d.settle(missed);
        d.known = false;
        self.note(missed, before);
    }

    /// The bytes counted missed so far from side A and from side B.
    pub fn lost(&self) -> (u64, u64) {
        (self.dirs[0].lost, self.dirs[1].lost)
    }

    /// The connection ended (evicted, or the end of the input).
    pub fn settle(&mut self, missed: &mut Missed) {
        let before = missed.bytes;
        for d in &mut self.dirs {
            d.settle(missed);
        }
        self.note(missed, before);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SYN: u8 = 0x02;
    const ACK: u8 = 0x10;
    const FIN: u8 = 0x01;

    /// A connection of `n` segments of 1000 bytes from A (sequence from 1001), each acked
    /// by B after it, but for the segments in `lost` (not captured, still acknowledged).
    fn transfer(n: u32, lost: &[u32], ack_every: u32) -> Missed {
        let mut t = SeqTrack::default();
        let mut m = Missed::default();
        t.segment(true, SYN, 1000, 0, 0, &mut m);
        t.segment(false, SYN | ACK, 5000, 1001, 0, &mut m);
        t.segment(true, ACK, 1001, 5001, 0, &mut m);
        for i in 0..n {
            if !lost.contains(&i) {
                t.segment(true, ACK, 1001 + i * 1000, 5001, 1000, &mut m);
            }
            if (i + 1) % ack_every == 0 {
                t.segment(false, ACK, 5001, 1001 + (i + 1) * 1000, 0, &mut m);
            }
        }
        t.segment(true, FIN | ACK, 1001 + n * 1000, 5001, 0, &mut m);
        t.segment(false, FIN | ACK, 5001, 1002 + n * 1000, 0, &mut m);
        t.settle(&mut m);
        m
    }

    #[test]
    fn every_lost_segment_is_counted_once() {
        assert_eq!(transfer(50, &[], 1), Missed::default());
        assert_eq!(transfer(50, &[], 7), Missed::default());
        for every in [1, 2, 5, 50] {
            let m = transfer(50, &[3, 4, 17, 40, 49], every);
            assert_eq!(m.bytes, 5000, "acks every {every}");
        }
        // 3 and 4 are one hole; 49, the last, is acknowledged above all that was seen
        for every in [1, 2, 5, 50] {
            assert_eq!(transfer(50, &[3, 4, 17, 40, 49], every).gaps, 4);
        }
    }

    /// A segment: from A, TCP flags, sequence number, acknowledgement number, payload length.
    type Seg = (bool, u8, u32, u32, u32);

    fn feed(t: &mut SeqTrack, m: &mut Missed, segs: &[Seg]) {
        for &(from_a, flags, seq, ack, len) in segs {
            t.segment(from_a, flags, seq, ack, len, m);
        }
    }

    /// What a new connection of `segs` missed once it ended.
    fn run(segs: &[Seg]) -> Missed {
        let (mut t, mut m) = (SeqTrack::default(), Missed::default());
        feed(&mut t, &mut m, segs);
        t.settle(&mut m);
        m
    }

    fn missed(bytes: u64, gaps: u64, conns: u64) -> Missed {
        Missed { bytes, gaps, conns }
    }

    #[test]
    fn a_reordered_or_retransmitted_segment_fills_its_hole() {
        let late = [
            (true, ACK, 0, 0, 100),
            (true, ACK, 200, 0, 100), // [100, 200) not seen yet
            (true, ACK, 100, 0, 50),  // half of it, late
            (true, ACK, 150, 0, 50),  // the other half
            (false, ACK, 0, 300, 0),
        ];
        assert_eq!(run(&late), Missed::default());
        // bytes into the middle of a hole leave two holes
        let middle = [
            (true, ACK, 0, 0, 100),
            (true, ACK, 400, 0, 100),
            (true, ACK, 200, 0, 100),
            (false, ACK, 0, 500, 0),
        ];
        assert_eq!(run(&middle), missed(200, 2, 1));
    }

    #[test]
    fn an_ack_ahead_of_its_data_is_no_loss() {
        // the mirror port delivered B's ACK before A's segment it acknowledges
        let segs = [
            (true, ACK, 0, 0, 100),
            (false, ACK, 0, 200, 0),
            (true, ACK, 100, 0, 100),
        ];
        assert_eq!(run(&segs), Missed::default());
    }

    #[test]
    fn holes_never_acknowledged_count_when_the_connection_ends() {
        // a capture of one direction only (no ACKs seen)
        let (mut t, mut m) = (SeqTrack::default(), Missed::default());
        let segs: Vec<Seg> = [0u32, 1, 3, 4, 8]
            .iter()
            .map(|i| (true, 0x18, i * 10, 0, 10))
            .collect();
        feed(&mut t, &mut m, &segs);
        assert_eq!(m, Missed::default());
        t.settle(&mut m);
        assert_eq!(m, missed(40, 2, 1));
    }

    #[test]
    fn more_holes_than_kept_are_counted_as_they_are_pushed_out() {
        let (mut t, mut m) = (SeqTrack::default(), Missed::default());
        // a hole of 10 after each segment
        let segs: Vec<Seg> = (0..20u32).map(|i| (true, 0x18, i * 20, 0, 10)).collect();
        feed(&mut t, &mut m, &segs);
        assert_eq!(m.gaps as usize, 19 - HOLES);
        t.settle(&mut m);
        assert_eq!(m, missed(190, 19, 1));
    }

    #[test]
    fn sequence_space_wraps() {
        let segs = [
            (true, ACK, u32::MAX - 99, 0, 100),
            (true, ACK, 100, 0, 100), // [0, 100) lost across the wrap
            (false, ACK, 0, 200, 0),
        ];
        assert_eq!(run(&segs), missed(100, 1, 1));
    }

    #[test]
    fn a_crafted_jump_is_a_new_start_not_missed_bytes() {
        let jump = [
            (true, ACK, 0, 0, 100),
            (true, ACK, 0x7000_0000, 0, 100),
            (false, ACK, 0, 0x7000_0000 + 100 + MAX_HOLE + 1, 0),
            (true, ACK, 5, 0, 1), // old numbers again: no hole opens
        ];
        assert_eq!(run(&jump), Missed::default());
        // resets and retransmissions of what was seen add nothing
        let resent = [
            (true, ACK, 0, 0, 100),
            (true, ACK, 0, 0, 100),
            (true, 0x04, 9_000_000, 0, 0),
            (false, ACK, 0, 100, 0),
        ];
        assert_eq!(run(&resent), Missed::default());
    }

    #[test]
    fn a_connections_record_stays_small() {
        // boxed once per TCP flow: the next numbers, 4 holes and the bytes missed each way
        assert_eq!(std::mem::size_of::<SeqTrack>(), 104);
    }

    #[test]
    fn each_side_keeps_what_it_missed() {
        // A's [100, 200) lost and acknowledged; B's [5000, 5040) seen only through A's
        // acknowledgement; then holes of A pushed out by later ones
        let (mut t, mut m) = (SeqTrack::default(), Missed::default());
        let first = [
            (true, ACK, 0, 0, 100),
            (false, ACK, 4990, 100, 10),
            (true, ACK, 200, 5040, 100),
        ];
        feed(&mut t, &mut m, &first);
        assert_eq!(t.lost(), (0, 0));
        let later: Vec<Seg> = (0..5)
            .map(|i| (true, ACK, 400 + i * 20, 5040, 10))
            .collect();
        feed(&mut t, &mut m, &later);
        // [100, 200) and [300, 400) pushed out; four holes of 10 still open
        assert_eq!(t.lost(), (200, 0));
        t.settle(&mut m);
        assert_eq!(t.lost(), (240, 40));
        assert_eq!((m.bytes, m.gaps, m.conns), (280, 7, 1));
    }
}
