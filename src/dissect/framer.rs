//! Stream framing of HTTP-like text protocols over TCP (the `Framer` of
//! `netscan/dissectors/_text.py`): cuts one direction of a stream into message heads and
//! bodies. It finds header blocks, asks the protocol how the body is framed ([`BodyMode`]),
//! skips or delivers the body (Content-Length, chunked, until close, RTSP interleaved
//! binary frames), looks for the next start line after lost bytes and gives up cleanly on
//! garbage or oversized header blocks.
//!
//! Memory: what is kept between feeds is at most one header block in progress
//! ([`HEADER_BLOCK_CAP`]), one chunk-size or trailer line, or the tail of a search for a
//! start line after lost bytes (about [`SYNC_SCAN`] plus [`START_LINE_CAP`]); body bytes
//! are handed on at once, and only while the capture budget of the body lasts.

use super::text::{find_block_end, parse_head, parse_start_line, plausible_start, Head, NameMap};
use super::text::{HEADER_BLOCK_CAP, MAX_TOKEN};
use super::util::utf8_replace;

/// Longest start line looked at.
pub const START_LINE_CAP: usize = 16 * 1024;
/// Longest chunk-size line.
pub const CHUNK_LINE_CAP: usize = 1024;
/// How far one feed looks for a start line after lost bytes.
pub const SYNC_SCAN: usize = 256 * 1024;
/// Bytes of candidate start lines one feed decodes and parses while looking for a start
/// line after lost bytes; past it the search gives up for this feed (keeping the usual
/// tail). The Python parser has no such budget and spends time quadratic in the length of
/// a line crowded with protocol names; see `DELIBERATE` in test_rust_parity.py.
pub const SYNC_PARSE_BUDGET: usize = 1024 * 1024;

/// How the body after a header block is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// no body
    None,
    /// Content-Length bytes
    Length,
    /// chunked transfer coding
    Chunked,
    /// everything until the connection closes
    Close,
    /// the protocol changes after this head (upgrade, tunnel): stop parsing
    Stop,
}

/// How the body following a header block is framed, and how much of it to deliver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyMode {
    pub kind: Kind,
    /// for `Length`
    pub length: u64,
    /// deliver up to this many body bytes as `Piece::Body` (0: skip silently)
    pub capture: usize,
}

impl BodyMode {
    pub const NONE: BodyMode = BodyMode {
        kind: Kind::None,
        length: 0,
        capture: 0,
    };

    pub fn new(kind: Kind, length: u64, capture: usize) -> Self {
        BodyMode {
            kind,
            length,
            capture,
        }
    }
}

/// What one feed found, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Head(Head, BodyMode),
    /// body bytes (de-chunked), only while capturing
    Body(Vec<u8>),
    /// the captured body ended: complete (false when the capture limit was hit)
    End(bool),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Head,
    Length,
    ChunkSize,
    ChunkData,
    ChunkCrlf,
    Trailers,
    Close,
    /// RTSP interleaved frame
    Raw,
    Dead,
    /// bytes were lost: looking for the next start line
    Sync,
}

/// Where the search for a start line ended.
enum Start {
    At(usize),
    /// a candidate line is not complete yet
    Waiting,
    None,
}

/// Both directions of one text-protocol TCP stream, each cut by its own [`Framer`], with
/// one piece buffer reused between feeds.
#[derive(Debug, Clone)]
pub struct Duplex {
    client: Framer,
    server: Framer,
    pieces: Vec<Piece>,
}

impl Duplex {
    pub fn new(client: Framer, server: Framer) -> Self {
        Duplex {
            client,
            server,
            pieces: Vec::new(),
        }
    }

    /// The framer of one direction.
    pub fn side(&self, from_client: bool) -> &Framer {
        if from_client {
            &self.client
        } else {
            &self.server
        }
    }

    pub fn side_mut(&mut self, from_client: bool) -> &mut Framer {
        if from_client {
            &mut self.client
        } else {
            &mut self.server
        }
    }

    /// The pieces one feed of `data` in one direction makes; give the vector back with
    /// [`Duplex::recycle`] once they are read, so the next feed reuses it.
    pub fn frame(
        &mut self,
        data: &[u8],
        from_client: bool,
        decide: &mut dyn FnMut(&Head) -> BodyMode,
    ) -> Vec<Piece> {
        let mut pieces = std::mem::take(&mut self.pieces);
        pieces.clear();
        self.side_mut(from_client).feed(data, decide, &mut pieces);
        pieces
    }

    pub fn recycle(&mut self, pieces: Vec<Piece>) {
        self.pieces = pieces;
    }

    /// Neither direction frames anything more.
    pub fn stop(&mut self) {
        self.client.stop();
        self.server.stop();
    }

    /// Both directions stopped making sense of their bytes.
    pub fn gave_up(&self) -> bool {
        self.client.gave_up() && self.server.gave_up()
    }

    /// Bytes held between feeds by both framers.
    pub fn buffered(&self) -> usize {
        self.client.buffered() + self.server.buffered()
    }
}

/// Cuts one direction of an HTTP-like stream into heads and bodies.
#[derive(Debug, Clone)]
pub struct Framer {
    versions: &'static [&'static str],
    interleaved: bool,
    name_map: Option<NameMap>,
    header_cap: usize,
    buf: Vec<u8>,
    state: State,
    remaining: u64,
    scan: usize,
    checked: bool,
    capture_left: usize,
    capturing: bool,
    truncated: bool,
}

fn find_byte(buf: &[u8], b: u8, start: usize, stop: usize) -> Option<usize> {
    let stop = stop.min(buf.len());
    if start >= stop {
        return None;
    }
    buf[start..stop]
        .iter()
        .position(|&c| c == b)
        .map(|i| i + start)
}

fn find_bytes(buf: &[u8], needle: &[u8], start: usize, stop: usize) -> Option<usize> {
    let stop = stop.min(buf.len());
    if start >= stop || stop - start < needle.len() {
        return None;
    }
    let first = needle[0];
    let mut at = start;
    while let Some(i) = find_byte(buf, first, at, stop + 1 - needle.len()) {
        if &buf[i..i + needle.len()] == needle {
            return Some(i);
        }
        at = i + 1;
    }
    None
}

/// Whether the bytes of a candidate line starting with a protocol name (`mark`, like
/// "HTTP/") can be a valid status line; false only when `parse_start_line` would refuse it
/// (a version is at most 16 ASCII characters up to the first space, digits after the
/// slash, then the code after white space is three ASCII digits followed by a space or
/// the end of the line). Checked on the raw bytes without decoding the line.
fn status_line_possible(line: &[u8], mark: usize) -> bool {
    let Some(sp) = line.iter().take(17).position(|&c| c == b' ') else {
        return false;
    };
    let number = &line[mark.min(sp)..sp];
    let valid_number = match number.iter().position(|&c| c == b'.') {
        Some(dot) => {
            let (major, minor) = (&number[..dot], &number[dot + 1..]);
            !major.is_empty()
                && !minor.is_empty()
                && major.iter().all(u8::is_ascii_digit)
                && minor.iter().all(u8::is_ascii_digit)
        }
        None => !number.is_empty() && number.iter().all(u8::is_ascii_digit),
    };
    if !valid_number {
        return false;
    }
    // white space before the code: ASCII white space is skipped here; anything else that
    // is not a digit (a multi-byte character may be Unicode white space) is left to the
    // full parse
    let mut i = sp + 1;
    while i < line.len()
        && matches!(line[i], b' ' | b'\t' | b'\n' | b'\r' | 0x0b..=0x0c | 0x1c..=0x1f)
    {
        i += 1;
    }
    match line.get(i) {
        None => false,
        Some(c) if c.is_ascii_digit() => true,
        Some(&c) => c >= 0x80,
    }
}

/// Python's `bytes.strip()` (ASCII white space).
fn strip(b: &[u8]) -> &[u8] {
    let ws = |c: &u8| matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c);
    let start = b.iter().position(|c| !ws(c)).unwrap_or(b.len());
    let end = b.iter().rposition(|c| !ws(c)).map_or(start, |i| i + 1);
    &b[start..end.max(start)]
}

impl Framer {
    pub fn new(
        versions: &'static [&'static str],
        interleaved: bool,
        name_map: Option<NameMap>,
    ) -> Self {
        Framer {
            versions,
            interleaved,
            name_map,
            header_cap: HEADER_BLOCK_CAP,
            buf: Vec::new(),
            state: State::Head,
            remaining: 0,
            scan: 0,
            checked: false,
            capture_left: 0,
            capturing: false,
            truncated: false,
        }
    }

    /// Gave up on this direction (garbage, oversized head, protocol switch).
    pub fn dead(&self) -> bool {
        self.state == State::Dead
    }

    /// Nothing more will be parsed: dead, or consuming a body until the connection closes.
    pub fn gave_up(&self) -> bool {
        matches!(self.state, State::Dead | State::Close)
    }

    pub fn capturing(&self) -> bool {
        self.capturing
    }

    /// Bytes held between feeds (for the memory bound tests).
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Stop delivering the current body (it is still skipped correctly).
    pub fn drop_capture(&mut self) {
        self.capturing = false;
    }

    pub fn stop(&mut self) {
        self.state = State::Dead;
        self.buf = Vec::new();
        self.capturing = false;
    }

    /// `n` bytes were lost just before what comes next, inside the body being read: a body
    /// whose framing does not depend on them (the rest of a known length, of a chunk, or of
    /// a body read to the connection's end) goes on in step past the hole, and true is
    /// returned; false when the framing cannot (the caller resyncs).
    pub fn skip(&mut self, n: u64) -> bool {
        match self.state {
            State::Length | State::ChunkData if self.remaining > n && self.buf.is_empty() => {
                self.remaining -= n;
                true
            }
            State::Close => true,
            _ => false,
        }
    }

    /// As [`Framer::resync`], and the bytes passed over while looking for the next start
    /// line are delivered as a body (up to `cap` bytes; ended, incomplete, where a start
    /// line is found): the rest of a message whose head was lost.
    pub fn resync_keeping(&mut self, cap: usize) {
        self.resync();
        if self.state == State::Sync && cap > 0 {
            self.truncated = false;
            self.capturing = true;
            self.capture_left = cap;
        }
    }

    /// The bytes held back while looking for a start line (the last ones, where a line may
    /// begin), when they are being delivered (within what the capture may still take): the
    /// end of the stream has come.
    pub fn sync_tail(&mut self) -> Vec<u8> {
        if self.state != State::Sync || !self.capturing {
            return Vec::new();
        }
        let mut tail = std::mem::take(&mut self.buf);
        tail.truncate(self.capture_left);
        self.capture_left -= tail.len();
        tail
    }

    /// Bytes were lost just before what comes next: give up the message in progress and
    /// look for the next start line. A direction that gave up for good stays given up.
    pub fn resync(&mut self) {
        if self.state == State::Dead {
            return;
        }
        self.buf = Vec::new();
        self.capturing = false;
        self.state = State::Sync;
        self.scan = 0;
        self.checked = false;
    }

    /// One feed: `decide` is asked how the body of each head is framed.
    pub fn feed(
        &mut self,
        data: &[u8],
        decide: &mut dyn FnMut(&Head) -> BodyMode,
        out: &mut Vec<Piece>,
    ) {
        if self.state == State::Dead || data.is_empty() {
            return;
        }
        if self.state == State::Close {
            if self.capturing {
                self.deliver(data, data.len(), out, 0);
            }
            return;
        }
        let held = std::mem::take(&mut self.buf);
        if held.is_empty() {
            let pos = self.run(data, decide, out);
            if self.state != State::Dead && pos < data.len() {
                self.buf = data[pos..].to_vec();
            }
        } else {
            let mut buf = held;
            buf.extend_from_slice(data);
            let pos = self.run(&buf, decide, out);
            if self.state != State::Dead && pos < buf.len() {
                buf.drain(..pos);
                self.buf = buf;
            }
        }
    }

    /// Hand body bytes buf[start..end] to the caller while the capture budget lasts.
    fn deliver(&mut self, buf: &[u8], end: usize, out: &mut Vec<Piece>, start: usize) {
        if !self.capturing || end <= start {
            return;
        }
        let take = (end - start).min(self.capture_left);
        if take > 0 {
            out.push(Piece::Body(buf[start..start + take].to_vec()));
            self.capture_left -= take;
        }
        if take < end - start {
            self.truncated = true;
            self.capturing = false;
            out.push(Piece::End(false));
        }
    }

    fn finish_body(&mut self, out: &mut Vec<Piece>) {
        if self.capturing {
            out.push(Piece::End(!self.truncated));
        }
        self.capturing = false;
        self.state = State::Head;
        self.scan = 0;
        self.checked = false;
    }

    fn begin_body(&mut self, mode: BodyMode) {
        self.truncated = false;
        self.capturing =
            mode.capture > 0 && matches!(mode.kind, Kind::Length | Kind::Chunked | Kind::Close);
        self.capture_left = mode.capture;
        match mode.kind {
            Kind::Stop => self.state = State::Dead,
            Kind::Length if mode.length > 0 => {
                self.state = State::Length;
                self.remaining = mode.length;
            }
            Kind::Chunked => self.state = State::ChunkSize,
            Kind::Close => self.state = State::Close,
            _ => {
                self.capturing = false;
                self.state = State::Head;
            }
        }
        self.scan = 0;
        self.checked = false;
    }

    /// (end of line, start of next line); dies when a line exceeds `cap`.
    fn line(&mut self, buf: &[u8], pos: usize, cap: usize) -> Option<(usize, usize)> {
        match find_byte(buf, b'\n', pos, pos.saturating_add(cap + 1)) {
            Some(nl) => Some((nl, nl + 1)),
            None => {
                if buf.len() - pos > cap {
                    self.state = State::Dead;
                }
                None
            }
        }
    }

    /// Where `METHOD target ` begins before a protocol name at `version_at`.
    fn method_start(buf: &[u8], pos: usize, version_at: usize) -> Option<usize> {
        if version_at == 0 {
            return None;
        }
        let sp = version_at - 1;
        if sp <= pos || buf[sp] != b' ' {
            return None;
        }
        let lo = pos.max(sp.saturating_sub(START_LINE_CAP));
        let t = buf[lo..sp].iter().rposition(|&c| c == b' ')? + lo;
        if t <= pos {
            return None;
        }
        let mut m = t;
        while m > pos
            && t - m < MAX_TOKEN
            && (buf[m - 1].is_ascii_uppercase() || matches!(buf[m - 1], b'_' | b'-'))
        {
            m -= 1;
        }
        (m < t).then_some(m)
    }

    /// The earliest valid start line at or after `pos`. After lost bytes a message rarely
    /// starts on a fresh line (the previous body's tail runs straight into it), so the
    /// search anchors on the protocol name: a response line begins with it, a request line
    /// ends with it after a method and a target.
    fn find_start(&self, buf: &[u8], pos: usize) -> Start {
        let end = buf.len().min(pos.saturating_add(SYNC_SCAN));
        let mut best: Option<usize> = None;
        let mut waiting = false;
        let mut budget = SYNC_PARSE_BUDGET;
        // the first newline at or after `from` (None: none up to the end of the buffer),
        // remembered so that a run of candidates on one line costs one search
        let mut nl_cache: Option<(usize, Option<usize>)> = None;
        let mut marks: Vec<Vec<u8>> = Vec::new();
        for v in self.versions {
            let mut mark = v.split('/').next().unwrap_or("").as_bytes().to_vec();
            mark.push(b'/');
            if !marks.contains(&mark) {
                marks.push(mark);
            }
        }
        'marks: for mark in &marks {
            let mut at = find_bytes(buf, mark, pos, end);
            while let Some(a) = at {
                if best.is_some_and(|b| a >= b) {
                    break;
                }
                for cand in [Self::method_start(buf, pos, a), Some(a)] {
                    let Some(cand) = cand else { continue };
                    if best.is_some_and(|b| cand >= b) {
                        continue;
                    }
                    let next_nl = match nl_cache {
                        Some((from, found)) if from <= cand && found.is_none_or(|f| f >= cand) => {
                            found
                        }
                        _ => {
                            let found = find_byte(buf, b'\n', cand, buf.len());
                            nl_cache = Some((cand, found));
                            found
                        }
                    };
                    let nl = next_nl.filter(|&n| n < cand + START_LINE_CAP);
                    let Some(nl) = nl else {
                        waiting = waiting || buf.len() - cand < START_LINE_CAP;
                        continue;
                    };
                    if cand == a && !status_line_possible(&buf[cand..nl], mark.len()) {
                        continue;
                    }
                    if budget < nl - cand {
                        break 'marks;
                    }
                    budget -= nl - cand;
                    let line = utf8_replace(&buf[cand..nl]);
                    if parse_start_line(&line, self.versions).is_some() {
                        best = Some(cand);
                        break;
                    }
                }
                at = find_bytes(buf, mark, a + 1, end);
            }
        }
        match best {
            Some(b) => Start::At(b),
            None if waiting => Start::Waiting,
            None => Start::None,
        }
    }

    fn run(
        &mut self,
        buf: &[u8],
        decide: &mut dyn FnMut(&Head) -> BodyMode,
        out: &mut Vec<Piece>,
    ) -> usize {
        let mut pos = 0usize;
        let size = buf.len();
        while pos < size {
            match self.state {
                State::Sync => match self.find_start(buf, pos) {
                    Start::Waiting => return pos,
                    Start::None => {
                        let to = pos.max(size.saturating_sub(START_LINE_CAP));
                        self.deliver(buf, to, out, pos); // (when keeping them)
                        return to;
                    }
                    Start::At(found) => {
                        self.deliver(buf, found, out, pos);
                        if self.capturing {
                            self.capturing = false;
                            out.push(Piece::End(false));
                        }
                        pos = found;
                        self.state = State::Head;
                    }
                },
                State::Head => {
                    while pos < size && matches!(buf[pos], b'\r' | b'\n') {
                        pos += 1;
                    }
                    if pos >= size {
                        break;
                    }
                    if self.interleaved && buf[pos] == b'$' {
                        if size - pos < 4 {
                            break;
                        }
                        self.remaining =
                            u64::from(u16::from_be_bytes([buf[pos + 2], buf[pos + 3]]));
                        pos += 4;
                        self.state = State::Raw;
                        continue;
                    }
                    if !self.checked {
                        let sample = &buf[pos..size.min(pos + MAX_TOKEN + 1)];
                        if !plausible_start(sample) {
                            self.state = State::Dead;
                            return pos;
                        }
                        let Some(nl) = find_byte(buf, b'\n', pos, pos + START_LINE_CAP) else {
                            if size - pos >= START_LINE_CAP {
                                self.state = State::Dead;
                                return pos;
                            }
                            break;
                        };
                        let line = utf8_replace(&buf[pos..nl]);
                        if parse_start_line(&line, self.versions).is_none() {
                            self.state = State::Dead;
                            return pos;
                        }
                        self.checked = true;
                        self.scan = nl - pos;
                    }
                    let limit = size.min(pos + self.header_cap + 3);
                    let Some((end, body)) = find_block_end(buf, pos + self.scan, limit) else {
                        if size - pos > self.header_cap {
                            self.state = State::Dead;
                            return pos;
                        }
                        self.scan = (size - pos).saturating_sub(2);
                        break;
                    };
                    let head = parse_head(&buf[pos..end], self.versions, self.name_map);
                    pos = body;
                    let Some(head) = head else {
                        self.state = State::Dead;
                        return pos;
                    };
                    let mode = decide(&head);
                    out.push(Piece::Head(head, mode));
                    self.begin_body(mode);
                    if self.state == State::Dead {
                        return pos;
                    }
                }
                state @ (State::Length | State::Raw) => {
                    let take = self.remaining.min((size - pos) as u64) as usize;
                    if state == State::Length {
                        self.deliver(buf, pos + take, out, pos);
                    }
                    pos += take;
                    self.remaining -= take as u64;
                    if self.remaining == 0 {
                        if state == State::Length {
                            self.finish_body(out);
                        } else {
                            self.state = State::Head;
                        }
                    }
                }
                State::ChunkSize => {
                    let Some((end, next)) = self.line(buf, pos, CHUNK_LINE_CAP) else {
                        break;
                    };
                    let line = &buf[pos..end];
                    let text = strip(line.split(|&c| c == b';').next().unwrap_or(b""));
                    if text.is_empty() || text.len() > 15 || !text.iter().all(u8::is_ascii_hexdigit)
                    {
                        self.state = State::Dead;
                        return pos;
                    }
                    pos = next;
                    self.remaining = text.iter().fold(0u64, |acc, &c| {
                        acc * 16 + u64::from(char::from(c).to_digit(16).unwrap_or(0))
                    });
                    self.state = if self.remaining > 0 {
                        State::ChunkData
                    } else {
                        State::Trailers
                    };
                }
                State::ChunkData => {
                    let take = self.remaining.min((size - pos) as u64) as usize;
                    self.deliver(buf, pos + take, out, pos);
                    pos += take;
                    self.remaining -= take as u64;
                    if self.remaining == 0 {
                        self.state = State::ChunkCrlf;
                    }
                }
                State::ChunkCrlf => {
                    let Some((_, next)) = self.line(buf, pos, CHUNK_LINE_CAP) else {
                        break;
                    };
                    pos = next;
                    self.state = State::ChunkSize;
                }
                State::Trailers => {
                    let cap = self.header_cap;
                    let Some((end, next)) = self.line(buf, pos, cap) else {
                        break;
                    };
                    let empty = strip(&buf[pos..end]).is_empty();
                    pos = next;
                    if empty {
                        self.finish_body(out);
                    }
                }
                State::Close => {
                    self.deliver(buf, size, out, pos);
                    pos = size;
                }
                State::Dead => return size,
            }
        }
        pos
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HTTP: &[&str] = &["HTTP/"];

    fn length_decider(capture: usize) -> impl FnMut(&Head) -> BodyMode {
        move |h: &Head| match h.content_length() {
            Some(n) if n > 0 => BodyMode::new(Kind::Length, n, capture),
            _ => BodyMode::NONE,
        }
    }

    #[test]
    fn heads_across_feeds_and_bodies() {
        let msg = b"POST /a HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloGET /b HTTP/1.1\r\n\r\n";
        for cut in 0..msg.len() {
            let mut f = Framer::new(HTTP, false, None);
            let mut out = Vec::new();
            let mut d = length_decider(3);
            f.feed(&msg[..cut], &mut d, &mut out);
            f.feed(&msg[cut..], &mut d, &mut out);
            let heads = out.iter().filter(|p| matches!(p, Piece::Head(..))).count();
            assert_eq!(heads, 2, "cut {cut}");
            let body: Vec<u8> = out
                .iter()
                .filter_map(|p| match p {
                    Piece::Body(b) => Some(b.clone()),
                    _ => None,
                })
                .flatten()
                .collect();
            assert_eq!(body, b"hel");
            assert!(out.contains(&Piece::End(false)));
        }
    }

    #[test]
    fn chunked_bodies_and_garbage() {
        let mut f = Framer::new(HTTP, false, None);
        let mut out = Vec::new();
        let mut d = |_: &Head| BodyMode::new(Kind::Chunked, 0, 100);
        f.feed(
            b"POST / HTTP/1.1\r\n\r\n3\r\nabc\r\n2;x=1\r\nde\r\n0\r\nT: 1\r\n\r\n",
            &mut d,
            &mut out,
        );
        assert_eq!(out[1], Piece::Body(b"abc".to_vec()));
        assert_eq!(out[2], Piece::Body(b"de".to_vec()));
        assert_eq!(out[3], Piece::End(true));
        let mut out = Vec::new();
        f.feed(b"\x00\x01garbage", &mut d, &mut out);
        assert!(out.is_empty() && f.dead());
    }

    #[test]
    fn status_line_prefilter_agrees_with_the_parser() {
        let lines: &[&[u8]] = &[
            b"HTTP/1.1 200 OK",
            b"HTTP/1.1  \t 200",
            b"HTTP/1.1 200\tOK",
            b"HTTP/1.1 2000 OK",
            b"HTTP/ 200 OK",
            b"HTTP/1. 200",
            b"HTTP/.1 200",
            b"HTTP/1.1.1 200",
            b"HTTP/11 200",
            b"HTTP/1.1",
            b"HTTP/1.1 ",
            b"HTTP/1.1 x",
            b"HTTP/1.1 \xc2\xa0200 OK",
            b"HTTP/1.1 \xff200",
            b"HTTP/1234567890123 200",
            b"HTTP/1\xff 200",
            b"HTTP/1.1 20",
            b"HTTP/1.1 \x1c200 ok",
        ];
        for line in lines {
            let parsed = parse_start_line(&utf8_replace(line), HTTP).is_some();
            // never false when the parser accepts the line
            assert!(!parsed || status_line_possible(line, 5), "{line:?}");
        }
        assert!(!status_line_possible(b"HTTP/ HTTP/ HTTP/", 5));
        assert!(!status_line_possible(b"HTTP/1.1 x", 5));
    }

    #[test]
    fn a_line_crowded_with_protocol_names_is_searched_within_the_budget() {
        // (the Python parser spends minutes on these; see benchmarks/README.md)
        let mut f = Framer::new(HTTP, false, None);
        let mut d = length_decider(0);
        let mut out = Vec::new();
        f.resync();
        let line = [&b"HTTP/ ".repeat(2700)[..], b"\n"].concat();
        let crowded = [&b"A x HTTP/1.1 ".repeat(1200)[..], b"zz\n"].concat();
        for data in [line.repeat(40), crowded.repeat(20), b"x\n".repeat(10_000)] {
            for piece in data.chunks(1460) {
                f.feed(piece, &mut d, &mut out);
                assert!(f.buffered() <= SYNC_SCAN + START_LINE_CAP + 1460);
            }
        }
        assert!(out.is_empty());
        f.feed(b"tail GET /x HTTP/1.1\r\n\r\n", &mut d, &mut out);
        assert_eq!(out.len(), 1);
    }

    #[test]
    fn resync_finds_a_request_line_after_lost_bytes() {
        let mut f = Framer::new(HTTP, false, None);
        let mut out = Vec::new();
        let mut d = length_decider(0);
        f.resync();
        f.feed(
            b"\xff\xfe tail of a bodyGET /x HTTP/1.1\r\n\r\n",
            &mut d,
            &mut out,
        );
        match &out[..] {
            [Piece::Head(h, _)] => assert_eq!(h.target, "/x"),
            other => panic!("{other:?}"),
        }
    }
}
