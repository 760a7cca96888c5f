//! gzip (RFC 1952), streamed and checked: member after member, each member's CRC-32 and
//! length trailer verified, and a cap on what a small file may expand to.
//!
//! `GzStream` hands out decompressed bytes through `Read`. A problem (a CRC or length
//! mismatch, a cut stream, corrupt deflate data, data after the last member that is not
//! gzip) is recorded in the shared `GzState` in the words the Python reader
//! (`netscan/sources/gzstream.py`) has always used, and everything decompressed before
//! the damage has been handed out already, so nothing readable is lost. Decompression
//! stops at `limit` bytes and, once past `RATIO_FLOOR` bytes, as soon as the output has
//! grown to `ratio` times the compressed bytes read (real captures compress a few times,
//! a bomb a thousand); `capped` then says so.

use std::io::{ErrorKind, Read};
use std::sync::{Arc, Mutex};

use flate2::{Crc, Decompress, FlushDecompress, Status};

/// Compressed bytes read from the file at a time.
const READ: usize = 64 * 1024;
/// A member header (name, comment, extra field) longer than this is corrupt.
const MAX_HEADER: usize = 1 << 20;
/// The expansion ratio is only judged past this many decompressed bytes.
pub const RATIO_FLOOR: u64 = 256 << 20;
/// The inflater's window: each call is given room up to the window's end, so that all it
/// decoded is handed out even when the call ends at damage (nothing before it is lost).
const WINDOW: u64 = 32 * 1024;

const FEXTRA: u8 = 4;
const FNAME: u8 = 8;
const FCOMMENT: u8 = 16;
const FHCRC: u8 = 2;

/// What the stream found; shared with the capture reader, which reports it.
#[derive(Debug, Default)]
pub struct GzState {
    pub problems: Vec<String>,
    /// the gunzip limit or the expansion-ratio guard stopped the stream
    pub capped: bool,
    /// an integrity problem (CRC, length, cut, corrupt data)
    pub damaged: bool,
    /// decompressed bytes handed out
    pub out: u64,
    /// compressed bytes read from the file
    pub consumed: u64,
}

/// A byte count the way the limits are written (4G, 256M, 1500), as `netscan.limits.human`.
pub fn human(n: u64) -> String {
    for (suffix, unit) in [
        ("T", 1u64 << 40),
        ("G", 1 << 30),
        ("M", 1 << 20),
        ("K", 1 << 10),
    ] {
        if n >= unit && n.is_multiple_of(unit) {
            return format!("{}{suffix}", n / unit);
        }
    }
    n.to_string()
}

/// `1234567` as `1,234,567` (Python's `{:,}`).
pub fn commas(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub struct GzStream<R> {
    inner: R,
    limit: u64,
    /// 0: no ratio check
    ratio: u64,
    state: Arc<Mutex<GzState>>,
    pending: Vec<u8>,
    pos: usize,
    eof: bool,
    members: u64,
    d: Option<Decompress>,
    crc: Crc,
    len: u64,
    out: u64,
    consumed: u64,
    done: bool,
    /// decompressed bytes not yet handed out: obuf[opos..oend]
    obuf: Vec<u8>,
    opos: usize,
    oend: usize,
}

impl<R: Read> GzStream<R> {
    pub fn new(inner: R, limit: u64, ratio: u64) -> (Self, Arc<Mutex<GzState>>) {
        let state = Arc::new(Mutex::new(GzState::default()));
        let s = GzStream {
            inner,
            limit,
            ratio,
            state: state.clone(),
            pending: Vec::new(),
            pos: 0,
            eof: false,
            members: 0,
            d: None,
            crc: Crc::new(),
            len: 0,
            out: 0,
            consumed: 0,
            done: false,
            obuf: vec![0u8; WINDOW as usize],
            opos: 0,
            oend: 0,
        };
        (s, state)
    }

    fn avail(&self) -> &[u8] {
        &self.pending[self.pos..]
    }

    /// Has at least `n` compressed bytes pending, if the file has them.
    fn fill(&mut self, n: usize) -> bool {
        if self.pos > 0 && self.pos >= self.pending.len() / 2 {
            self.pending.drain(..self.pos);
            self.pos = 0;
        }
        let mut chunk = [0u8; READ];
        while self.pending.len() - self.pos < n && !self.eof {
            match self.inner.read(&mut chunk) {
                Ok(0) => self.eof = true,
                Ok(k) => {
                    self.pending.extend_from_slice(&chunk[..k]);
                    self.consumed += k as u64;
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    self.eof = true;
                    let msg = format!(
                        "gzip data unreadable after {} compressed bytes ({e}); analysed up to it",
                        commas(self.consumed)
                    );
                    self.problem(msg, true);
                }
            }
        }
        self.pending.len() - self.pos >= n
    }

    fn problem(&mut self, msg: String, damage: bool) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        st.problems.push(msg);
        st.damaged |= damage;
        self.done = true;
    }

    fn note(&mut self, msg: String) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        st.problems.push(msg);
        st.damaged = true;
    }

    fn publish(&self) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        st.out = self.out;
        st.consumed = self.consumed;
    }

    /// Only zero bytes are left in the file (padding by tape and block tools).
    fn only_zeros(&mut self) -> bool {
        loop {
            if self.avail().iter().any(|&b| b != 0) {
                return false;
            }
            if self.eof {
                return true;
            }
            self.pos = self.pending.len();
            let want = READ;
            self.fill(want);
            if self.avail().is_empty() && self.eof {
                return true;
            }
        }
    }

    /// Starts the next member; false at the end of the file (or on a problem).
    fn header(&mut self) -> bool {
        self.fill(10);
        if self.avail().is_empty() {
            return false;
        }
        let next = self.members + 1;
        if !self.avail().starts_with(&[0x1f, 0x8b]) {
            if self.members > 0 && self.only_zeros() {
                return false;
            }
            if self.members > 0 {
                let msg = format!(
                    "data after gzip member {} is not gzip; ignored (after {} decompressed bytes)",
                    self.members,
                    commas(self.out)
                );
                self.problem(msg, false);
            } else {
                self.problem("not gzip data".to_string(), true);
            }
            return false;
        }
        if self.avail().len() < 10 {
            self.problem(format!("gzip member {next} header cut short"), true);
            return false;
        }
        let method = self.avail()[2];
        if method != 8 {
            self.problem(
                format!("gzip member {next} uses unknown compression {method}"),
                true,
            );
            return false;
        }
        let flags = self.avail()[3];
        let mut pos = 10usize;
        if flags & FEXTRA != 0 {
            if !self.fill(pos + 2) {
                self.problem(format!("gzip member {next} header cut short"), true);
                return false;
            }
            let a = self.avail();
            pos += 2 + u16::from_le_bytes([a[pos], a[pos + 1]]) as usize;
        }
        for flag in [FNAME, FCOMMENT] {
            if flags & flag == 0 {
                continue;
            }
            loop {
                if let Some(end) = self
                    .avail()
                    .get(pos..)
                    .and_then(|t| t.iter().position(|&b| b == 0))
                {
                    pos += end + 1;
                    break;
                }
                let have = self.avail().len();
                if have > MAX_HEADER || !self.fill(have + 1) {
                    self.problem(format!("gzip member {next} header is corrupt"), true);
                    return false;
                }
            }
        }
        if flags & FHCRC != 0 {
            pos += 2;
        }
        if !self.fill(pos) {
            self.problem(format!("gzip member {next} header cut short"), true);
            return false;
        }
        self.pos += pos;
        self.members = next;
        self.d = Some(Decompress::new(false));
        self.crc = Crc::new();
        self.len = 0;
        true
    }

    fn trailer(&mut self) {
        self.d = None;
        if !self.fill(8) {
            let msg = format!(
                "gzip integrity error: member {} ends without its CRC-32 and length trailer \
                 (cut after {} decompressed bytes); analysed as read",
                self.members,
                commas(self.out)
            );
            self.problem(msg, true);
            return;
        }
        let a = self.avail();
        let crc = u32::from_le_bytes([a[0], a[1], a[2], a[3]]);
        let size = u32::from_le_bytes([a[4], a[5], a[6], a[7]]);
        self.pos += 8;
        let have = self.crc.sum();
        if crc != have {
            let msg = format!(
                "gzip integrity error: member {} CRC-32 is {crc:08x} but its data gives \
                 {have:08x}: the capture is damaged somewhere in its {} bytes; analysed as read",
                self.members,
                commas(self.len)
            );
            self.note(msg);
        }
        if size as u64 != self.len & 0xFFFF_FFFF {
            let msg = format!(
                "gzip integrity error: member {} length field says {} bytes (mod 2^32) but it \
                 holds {}; analysed as read",
                self.members,
                commas(size as u64),
                commas(self.len)
            );
            self.note(msg);
        }
    }

    /// The caps: false (with the warning) when decompression must stop here.
    fn within_caps(&mut self) -> bool {
        if self.ratio > 0 && self.out > RATIO_FLOOR && self.out > self.ratio * self.consumed {
            let grown = self.out / self.consumed.max(1);
            let msg = format!(
                "decompressed data grew to {} times its compressed size after {} bytes \
                 (gzip bomb?); the rest was not analysed (limit gunzip-ratio={}; raise it with \
                 --limit gunzip-ratio=N)",
                commas(grown),
                commas(self.out),
                self.ratio
            );
            self.state.lock().unwrap_or_else(|e| e.into_inner()).capped = true;
            self.problem(msg, false);
            return false;
        }
        if self.out >= self.limit {
            let msg = format!(
                "decompressed data reached the gunzip limit of {} ({} bytes read); the rest \
                 was not analysed (raise it with --limit gunzip=SIZE)",
                human(self.limit),
                commas(self.out)
            );
            self.state.lock().unwrap_or_else(|e| e.into_inner()).capped = true;
            self.problem(msg, false);
            return false;
        }
        true
    }

    /// Up to `buf.len()` decompressed bytes; 0 at the end (or at a problem, recorded).
    fn step(&mut self, buf: &mut [u8]) -> usize {
        while !self.done {
            if !self.within_caps() {
                break;
            }
            if self.d.is_none() && !self.header() {
                self.done = true;
                break;
            }
            let d = self.d.as_ref().expect("member started");
            let room = (self.limit - self.out)
                .min(buf.len() as u64)
                .min(WINDOW - d.total_out() % WINDOW) as usize;
            if self.avail().is_empty() && !self.fill(1) {
                let msg = format!(
                    "gzip stream cut short in member {} after {} decompressed bytes; analysed \
                     up to the cut",
                    self.members,
                    commas(self.out)
                );
                self.problem(msg, true);
                break;
            }
            let d = self.d.as_mut().expect("member started");
            let (in0, out0) = (d.total_in(), d.total_out());
            let res = d.decompress(
                &self.pending[self.pos..],
                &mut buf[..room],
                FlushDecompress::None,
            );
            let used = (d.total_in() - in0) as usize;
            let made = (d.total_out() - out0) as usize;
            self.pos += used;
            self.crc.update(&buf[..made]);
            self.len += made as u64;
            self.out += made as u64;
            match res {
                Ok(Status::StreamEnd) => {
                    self.trailer();
                    if made > 0 {
                        return made;
                    }
                }
                Ok(_) => {
                    if made > 0 {
                        return made;
                    }
                    if used == 0 {
                        // no progress: the decoder wants more input than is pending
                        let have = self.avail().len();
                        if !self.fill(have + 1) {
                            let msg = format!(
                                "gzip stream cut short in member {} after {} decompressed \
                                 bytes; analysed up to the cut",
                                self.members,
                                commas(self.out)
                            );
                            self.problem(msg, true);
                            break;
                        }
                    }
                }
                Err(e) => {
                    self.d = None;
                    let msg = format!(
                        "gzip integrity error: corrupt compressed data in member {} after {} \
                         decompressed bytes ({e}); analysed up to the damage",
                        self.members,
                        commas(self.out)
                    );
                    self.problem(msg, true);
                    return made;
                }
            }
        }
        0
    }
}

impl<R: Read> Read for GzStream<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.opos == self.oend {
            let mut obuf = std::mem::take(&mut self.obuf);
            self.oend = self.step(&mut obuf);
            self.opos = 0;
            self.obuf = obuf;
            self.publish();
        }
        let n = (self.oend - self.opos).min(buf.len());
        buf[..n].copy_from_slice(&self.obuf[self.opos..self.opos + n]);
        self.opos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::write::GzEncoder;
    use flate2::Compression;
    use std::io::{Cursor, Write};

    fn gz(data: &[u8], level: u32) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::new(level));
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn sample(n: usize) -> Vec<u8> {
        // varied but compressible bytes
        (0..n)
            .map(|i| ((i * 7919) % 251) as u8 ^ (i / 1000) as u8)
            .collect()
    }

    fn read_all(file: Vec<u8>, limit: u64, ratio: u64) -> (Vec<u8>, GzState) {
        let (mut s, st) = GzStream::new(Cursor::new(file), limit, ratio);
        let mut out = Vec::new();
        let mut buf = vec![0u8; 10_000];
        loop {
            let n = s.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        drop(s);
        let st = Arc::try_unwrap(st).unwrap().into_inner().unwrap();
        (out, st)
    }

    #[test]
    fn members_padding_and_trailing_data() {
        let data = sample(300_000);
        let mut file = gz(&data[..100_000], 6);
        file.extend(gz(&data[100_000..], 1));
        let (out, st) = read_all(file.clone(), u64::MAX, 100);
        assert!(out == data, "{} of {} bytes", out.len(), data.len());
        assert!(st.problems.is_empty(), "{:?}", st.problems);
        let mut padded = file.clone();
        padded.extend(vec![0u8; 5000]);
        let (out, st) = read_all(padded, u64::MAX, 100);
        assert!(out == data, "{} of {} bytes", out.len(), data.len());
        assert!(st.problems.is_empty());
        let mut junk = file;
        junk.extend(b"not gzip at all");
        let (out, st) = read_all(junk, u64::MAX, 100);
        assert!(out == data, "{} of {} bytes", out.len(), data.len());
        assert_eq!(
            st.problems,
            vec![
                "data after gzip member 2 is not gzip; ignored (after 300,000 decompressed bytes)"
            ]
        );
        assert!(!st.damaged);
    }

    #[test]
    fn crc_and_length_mismatches_keep_every_byte() {
        let data = sample(200_000);
        let mut file = gz(&data, 6);
        let n = file.len();
        file[n - 8] ^= 0xFF;
        let (out, st) = read_all(file.clone(), u64::MAX, 100);
        assert!(out == data, "{} of {} bytes", out.len(), data.len());
        assert_eq!(st.problems.len(), 1);
        assert!(st.problems[0].starts_with("gzip integrity error: member 1 CRC-32 is "));
        assert!(st.problems[0].ends_with("in its 200,000 bytes; analysed as read"));
        file[n - 8] ^= 0xFF;
        file[n - 1] ^= 0x01;
        let (out, st) = read_all(file, u64::MAX, 100);
        assert!(out == data, "{} of {} bytes", out.len(), data.len());
        assert_eq!(
            st.problems,
            vec![format!(
                "gzip integrity error: member 1 length field says {} bytes (mod 2^32) but it \
                 holds 200,000; analysed as read",
                commas(200_000 + (1 << 24))
            )]
        );
        assert!(st.damaged);
    }

    #[test]
    fn cut_streams_and_missing_trailers() {
        let data = sample(200_000);
        let file = gz(&data, 6);
        let (out, st) = read_all(file[..file.len() - 5].to_vec(), u64::MAX, 100);
        assert!(out == data, "{} of {} bytes", out.len(), data.len());
        assert_eq!(
            st.problems,
            vec![
                "gzip integrity error: member 1 ends without its CRC-32 and length trailer \
                  (cut after 200,000 decompressed bytes); analysed as read"
            ]
        );
        let (out, st) = read_all(file[..file.len() / 2].to_vec(), u64::MAX, 100);
        assert!(!out.is_empty() && data.starts_with(&out));
        assert_eq!(st.problems.len(), 1);
        assert!(st.problems[0].starts_with("gzip stream cut short in member 1 after "));
        let (out, st) = read_all(file[..6].to_vec(), u64::MAX, 100);
        assert!(out.is_empty());
        assert_eq!(st.problems, vec!["gzip member 1 header cut short"]);
        let (_, st) = read_all(b"plain bytes".to_vec(), u64::MAX, 100);
        assert_eq!(st.problems, vec!["not gzip data"]);
    }

    #[test]
    fn corrupt_deflate_keeps_the_output_before_the_damage() {
        let data = sample(200_000);
        let mut file = gz(&data, 0); // stored blocks
        let first = u16::from_le_bytes([file[11], file[12]]) as usize;
        let second = 10 + 5 + first;
        assert_eq!(file[second] & 0x06, 0);
        file[second + 3] ^= 0xFF;
        let (out, st) = read_all(file, u64::MAX, 100);
        assert!(
            out == data[..first],
            "{} bytes out, first block {first}: {:?}",
            out.len(),
            st.problems
        );
        assert_eq!(st.problems.len(), 1);
        assert!(st.problems[0].starts_with(&format!(
            "gzip integrity error: corrupt compressed data in member 1 after {} decompressed \
             bytes (",
            commas(first as u64)
        )));
    }

    #[test]
    fn limit_and_ratio_caps() {
        let data = sample(300_000);
        let (out, st) = read_all(gz(&data, 6), 100_000, 100);
        assert!(out == data[..100_000], "{} bytes", out.len());
        assert!(st.capped);
        assert_eq!(
            st.problems,
            vec![
                "decompressed data reached the gunzip limit of 100000 (100,000 bytes read); \
                  the rest was not analysed (raise it with --limit gunzip=SIZE)"
            ]
        );
        let (_, st) = read_all(gz(&data, 6), 1 << 20, 100);
        assert_eq!(st.problems.len(), 0, "a limit above the size is no limit");
        // a bomb: zeros expand a thousandfold; the guard stops it past the floor
        let mut e = GzEncoder::new(Vec::new(), Compression::new(9));
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..300 {
            e.write_all(&zeros).unwrap();
        }
        let bomb = e.finish().unwrap();
        let (mut s, st) = GzStream::new(Cursor::new(bomb), u64::MAX, 100);
        let mut buf = vec![0u8; 1 << 16];
        let mut total = 0u64;
        loop {
            let n = s.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            total += n as u64;
        }
        let st = st.lock().unwrap();
        assert!(st.capped && total > RATIO_FLOOR && total < RATIO_FLOOR + (1 << 20));
        assert_eq!(st.problems.len(), 1);
        assert!(st.problems[0].contains("(gzip bomb?)"));
        assert!(st.problems[0].contains("limit gunzip-ratio=100;"));
    }

    #[test]
    fn helpers_format_like_python() {
        assert_eq!(commas(0), "0");
        assert_eq!(commas(999), "999");
        assert_eq!(commas(1000), "1,000");
        assert_eq!(commas(1234567), "1,234,567");
        assert_eq!(human(4 << 30), "4G");
        assert_eq!(human(8 << 20), "8M");
        assert_eq!(human(100_000), "100000");
        assert_eq!(human(1536), "1536");
    }
}
