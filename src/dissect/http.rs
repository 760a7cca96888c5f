//! HTTP/1.x over TCP (the port of `netscan/dissectors/http.py`): request and response
//! heads, and capture of interesting request bodies; and the RTSP realm.
//!
//! One [`HttpStream`] per TCP flow. Requests give `HttpRequestEvent` as soon as their header
//! block is complete, responses give `HttpResponseEvent`. Bodies are skipped using
//! Content-Length, chunked coding or (responses) the end of the connection; request bodies
//! that may carry pictures or structured data (image/*, multipart/*, JSON, XML,
//! octet-stream, or an upload-like path), and any other request body that starts with a
//! picture signature (JPEG, PNG, GIF, WebP), are reassembled, de-chunked, up to `body_cap`
//! bytes and reported as `HttpBodyEvent`; so are the response bodies of the requests whose
//! path starts with one of the stream's response prefixes (method "RESPONSE"): the signature
//! pack names them (the paths of its face-library protocols whose records answer a poll), the
//! engine hands them over once ([`response_prefixes`]); a stream built without them keeps no
//! response body.
//!
//! Messages are classified by their start line rather than by direction, so a flow whose
//! client side was guessed wrong still yields the right event types.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use super::framer::{BodyMode, Duplex, Framer, Kind, Piece};
use super::text::{media_type, py_strip, Head, MAX_HEADER_DICT};
use crate::events::{Event, HttpBodyEvent, HttpRequestEvent, HttpResponseEvent};

/// Request (and kept response) bodies are reassembled up to this many bytes.
pub const DEFAULT_BODY_CAP: usize = 8 * 1024 * 1024;
/// Messages after which a flow is no longer parsed (unless its last request was worth it).
pub const DEFAULT_MAX_MESSAGES: usize = 50;
/// What the engine uses (`registry.HTTP_MAX_MESSAGES`): keep-alive devices poll for hours,
/// their uploads come late.
pub const HTTP_MAX_MESSAGES: usize = 5000;

const VERSIONS: &[&str] = &["HTTP/"];
/// Requests awaiting a response, and kept response paths, at most (oldest dropped).
const PENDING: usize = 256;

/// Media types whose request bodies are worth keeping (besides every image/* and multipart/*).
const CAPTURE_TYPES: &[&str] = &[
    "application/json",
    "application/octet-stream",
    "text/xml",
    "application/xml",
    "application/soap+xml",
];
/// Words in a request path that suggest an upload of pictures or recognition records.
const CAPTURE_PATH_WORDS: &[&str] = &[
    "upload", "face", "snap", "pic", "image", "img", "photo", "capture", "alarm", "event",
    "person", "record", ".jpg", ".jpeg", ".png",
];
/// Response prefixes a stream takes at most, and the length of one (bytes).
pub const MAX_RESPONSE_PREFIXES: usize = 64;
pub const MAX_RESPONSE_PREFIX_LEN: usize = 256;

/// Lower-case request path prefixes whose responses are kept, shared by every stream.
pub type ResponsePrefixes = Arc<[String]>;

/// Body bytes being reassembled by all the streams of one engine at once, at most (each
/// stream's bodies are bounded by its `body_cap` too): past it, the stream that grew is cut
/// short (what it has reported incomplete, the rest of those bodies framed and not kept).
pub const DEFAULT_BODY_BUDGET: usize = 256 * 1024 * 1024;

/// What the streams of one engine hold in bodies being reassembled, shared by them.
#[derive(Debug, Clone)]
pub struct BodyBudget {
    held: Arc<AtomicUsize>,
    cut: Arc<AtomicU64>,
    max: usize,
}

impl BodyBudget {
    pub fn new(max: usize) -> Self {
        BodyBudget {
            held: Arc::default(),
            cut: Arc::default(),
            max,
        }
    }

    /// Body bytes held now by all the streams.
    pub fn held(&self) -> usize {
        self.held.load(Ordering::Relaxed)
    }

    /// Bodies cut short because the budget was reached.
    pub fn cut(&self) -> u64 {
        self.cut.load(Ordering::Relaxed)
    }

    fn moved(&self, before: usize, after: usize) {
        if after >= before {
            self.held.fetch_add(after - before, Ordering::Relaxed);
        } else {
            self.held.fetch_sub(before - after, Ordering::Relaxed);
        }
    }
}

impl Default for BodyBudget {
    fn default() -> Self {
        BodyBudget::new(usize::MAX)
    }
}

/// The request path prefixes whose responses are kept, checked and lower-cased once: at most
/// [`MAX_RESPONSE_PREFIXES`], each 1 to [`MAX_RESPONSE_PREFIX_LEN`] printable ASCII
/// characters (so Python's and Rust's lower-casing agree). Err names the first problem.
pub fn response_prefixes(list: &[String]) -> Result<ResponsePrefixes, String> {
    if list.len() > MAX_RESPONSE_PREFIXES {
        return Err(format!(
            "{} response prefixes, at most {MAX_RESPONSE_PREFIXES} are taken",
            list.len()
        ));
    }
    let mut out: Vec<String> = Vec::with_capacity(list.len());
    for p in list {
        if p.is_empty() || p.len() > MAX_RESPONSE_PREFIX_LEN {
            return Err(format!(
                "a response prefix must be 1 to {MAX_RESPONSE_PREFIX_LEN} characters"
            ));
        }
        if !p.bytes().all(|b| b.is_ascii_graphic()) {
            return Err("a response prefix must be printable ASCII without blanks".to_string());
        }
        let lower = p.to_ascii_lowercase();
        if !out.contains(&lower) {
            out.push(lower);
        }
    }
    Ok(out.into())
}
/// Leading bytes of picture formats: a body starting with one is kept whatever its headers say.
const IMAGE_MAGIC: &[&[u8]] = &[b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a"];
const SNIFF_BYTES: usize = 12;

pub fn looks_like_image(prefix: &[u8]) -> bool {
    if IMAGE_MAGIC.iter().any(|m| prefix.starts_with(m)) {
        return true;
    }
    prefix.get(..4) == Some(b"RIFF") && prefix.get(8..12.min(prefix.len())) == Some(b"WEBP")
}

/// Whether a request body with this path and Content-Type should be reassembled.
pub fn body_worth_capturing(path: &str, content_type: Option<&str>) -> bool {
    let (mtype, _) = media_type(content_type);
    if mtype.starts_with("image/") || mtype.starts_with("multipart/") {
        return true;
    }
    if CAPTURE_TYPES.contains(&mtype.as_str())
        || mtype.ends_with("+json")
        || mtype.ends_with("+xml")
    {
        return true;
    }
    let lower = path.to_lowercase();
    CAPTURE_PATH_WORDS.iter().any(|w| lower.contains(w))
}

#[derive(Debug, Clone)]
struct Capture {
    method: String,
    path: String,
    host: Option<String>,
    content_type: Option<String>,
    body: Vec<u8>,
    first: u64,
    last: u64,
    /// kept only if the body turns out to be a picture
    tentative: bool,
    /// the rest of a body after bytes the capture lost (reported incomplete)
    holed: bool,
}

impl Capture {
    /// An empty capture of a message's body (the message's request line and headers).
    fn new(
        method: String,
        path: String,
        host: Option<String>,
        content_type: Option<String>,
        tentative: bool,
    ) -> Capture {
        Capture {
            method,
            path,
            host,
            content_type,
            body: Vec::new(),
            first: 0,
            last: 0,
            tentative,
            holed: false,
        }
    }

    /// An empty capture of the rest of a body after lost bytes (of `self`'s message, or,
    /// given none, of one whose head was lost).
    fn rest(of: Option<&Capture>) -> Capture {
        let mut rest = match of {
            Some(c) => Capture::new(
                c.method.clone(),
                c.path.clone(),
                c.host.clone(),
                c.content_type.clone(),
                false,
            ),
            None => Capture::new(String::new(), String::new(), None, None, false),
        };
        rest.holed = true;
        rest
    }

    fn event(self, frame: u64, complete: bool) -> Event {
        Event::HttpBody(HttpBodyEvent {
            method: self.method,
            path: self.path,
            host: self.host,
            content_type: self.content_type,
            first_frame: if self.first != 0 { self.first } else { frame },
            last_frame: if self.last != 0 { self.last } else { frame },
            body: self.body,
            complete: complete && !self.holed,
        })
    }

    fn is_image(&self) -> bool {
        looks_like_image(&self.body[..self.body.len().min(SNIFF_BYTES)])
    }
}

fn push_bounded(q: &mut VecDeque<String>, v: String) {
    if q.len() >= PENDING {
        q.pop_front();
    }
    q.push_back(v);
}

/// The framing decisions of one flow (what `_decide` keeps in `http.py`).
#[derive(Debug, Clone, Default)]
struct Decider {
    body_cap: usize,
    /// methods of requests awaiting a response, and their paths
    methods: VecDeque<String>,
    paths: VecDeque<String>,
    /// paths of responses whose body is kept
    response_paths: VecDeque<String>,
    /// lower-case request path prefixes whose responses are kept
    response_prefixes: ResponsePrefixes,
    /// a protocol switch was seen
    stop_all: bool,
}

fn is_chunked(head: &Head) -> bool {
    let values: Vec<&str> = head
        .headers
        .iter()
        .filter(|(k, _)| k == "transfer-encoding")
        .map(|(_, v)| v.as_str())
        .collect();
    if values.is_empty() {
        return false;
    }
    let joined = values.join(",");
    let last = joined.split(',').map(py_strip).rfind(|c| !c.is_empty());
    last.is_some_and(|c| c.to_lowercase() == "chunked")
}

impl Decider {
    fn decide(&mut self, head: &Head) -> BodyMode {
        if head.is_response {
            self.decide_response(head)
        } else {
            self.decide_request(head)
        }
    }

    fn decide_request(&mut self, head: &Head) -> BodyMode {
        push_bounded(&mut self.methods, head.method.to_uppercase());
        push_bounded(&mut self.paths, head.target.clone());
        let (kind, length) = if is_chunked(head) {
            (Kind::Chunked, 0)
        } else {
            let length = head.content_length().unwrap_or(0);
            (if length > 0 { Kind::Length } else { Kind::None }, length)
        };
        // every request body is delivered; those not selected by their headers are only
        // sniffed: a picture is kept whatever its headers say
        let capture = if kind != Kind::None && self.body_cap > 0 {
            self.body_cap
        } else {
            0
        };
        BodyMode::new(kind, length, capture)
    }

    fn decide_response(&mut self, head: &Head) -> BodyMode {
        let status = head.status;
        if (100..200).contains(&status) {
            if status == 101 {
                self.stop_all = true;
                return BodyMode::new(Kind::Stop, 0, 0);
            }
            return BodyMode::NONE;
        }
        let method = self
            .methods
            .pop_front()
            .unwrap_or_else(|| "GET".to_string());
        let path = self.paths.pop_front().unwrap_or_default();
        if method == "CONNECT" && (200..300).contains(&status) {
            self.stop_all = true;
            return BodyMode::new(Kind::Stop, 0, 0);
        }
        if method == "HEAD" || status == 204 || status == 304 {
            return BodyMode::NONE;
        }
        let mut keep = 0;
        if self.body_cap > 0 {
            let lower = path.to_lowercase();
            if self
                .response_prefixes
                .iter()
                .any(|p| lower.starts_with(p.as_str()))
            {
                keep = self.body_cap;
                push_bounded(&mut self.response_paths, path);
            }
        }
        if is_chunked(head) {
            return BodyMode::new(Kind::Chunked, 0, keep);
        }
        match head.content_length() {
            Some(n) if n > 0 => BodyMode::new(Kind::Length, n, keep),
            Some(_) => BodyMode::NONE,
            None => BodyMode::new(Kind::Close, 0, keep),
        }
    }
}

/// Stream parser for one HTTP/1.x TCP flow.
#[derive(Debug)]
pub struct HttpStream {
    max_messages: usize,
    framers: Duplex,
    decider: Decider,
    messages: usize,
    last_request_worth: bool,
    /// the body being kept, per direction: `[responses, requests]` (a response may be
    /// kept while a request's upload is still arriving on the same connection)
    capture: [Option<Capture>; 2],
    pub done: bool,
    /// shared with the engine's other streams (unbounded alone)
    bodies: BodyBudget,
}

impl Drop for HttpStream {
    fn drop(&mut self) {
        self.bodies.moved(self.captured(), 0);
    }
}

impl Default for HttpStream {
    fn default() -> Self {
        HttpStream::new(DEFAULT_MAX_MESSAGES, DEFAULT_BODY_CAP)
    }
}

impl HttpStream {
    pub fn new(max_messages: usize, body_cap: usize) -> Self {
        HttpStream {
            max_messages,
            framers: Duplex::new(
                Framer::new(VERSIONS, false, None),
                Framer::new(VERSIONS, false, None),
            ),
            decider: Decider {
                body_cap,
                ..Decider::default()
            },
            messages: 0,
            last_request_worth: false,
            capture: [None, None],
            done: false,
            bodies: BodyBudget::default(),
        }
    }

    /// The same stream, its bodies counted in `bodies` (shared by an engine's streams).
    pub fn with_bodies(mut self, bodies: BodyBudget) -> Self {
        self.bodies.moved(self.captured(), 0);
        bodies.moved(0, self.captured());
        self.bodies = bodies;
        self
    }

    /// Body bytes being kept now.
    fn captured(&self) -> usize {
        self.capture.iter().flatten().map(|c| c.body.len()).sum()
    }

    /// After a call that may have changed what is kept (`before`: the bytes kept then):
    /// the shared count brought up to date and, past the shared budget, this stream's
    /// bodies reported as they are (incomplete) and the rest of them not kept.
    fn settle(&mut self, before: usize, frame: u64, events: &mut Vec<Event>) {
        let after = self.captured();
        self.bodies.moved(before, after);
        if after > before && self.bodies.held() > self.bodies.max {
            for from_client in [false, true] {
                if let Some(cap) = self.capture[from_client as usize].take() {
                    self.bodies.moved(cap.body.len(), 0);
                    self.bodies.cut.fetch_add(1, Ordering::Relaxed);
                    if !cap.body.is_empty() && (!cap.tentative || cap.is_image()) {
                        events.push(cap.event(frame, false));
                    }
                    self.framers.side_mut(from_client).drop_capture();
                }
            }
        }
    }

    /// The same stream, keeping the responses to requests whose path starts with one of
    /// `prefixes` (checked and lower-cased by [`response_prefixes`]).
    pub fn with_response_prefixes(mut self, prefixes: ResponsePrefixes) -> Self {
        self.decider.response_prefixes = prefixes;
        self
    }

    /// Bytes held: the framers' buffers and the body being reassembled (memory tests).
    pub fn held(&self) -> usize {
        self.framers.buffered()
            + self
                .capture
                .iter()
                .flatten()
                .map(|c| c.body.len())
                .sum::<usize>()
    }

    /// The head's event, and the capture of its body in the slot of the side it came
    /// from (`from_client`: the framer's side, so the body pieces of that side find it even
    /// when the flow's client was guessed wrong and a request comes from the "server").
    fn head_event(&mut self, head: &Head, mode: BodyMode, from_client: bool) -> Event {
        let content_type = head.get("content-type");
        let side = from_client as usize;
        if head.is_response {
            if mode.capture > 0 {
                if let Some(path) = self.decider.response_paths.pop_front() {
                    // a response body to keep: an HttpBodyEvent with method "RESPONSE"
                    self.capture[side] = Some(Capture::new(
                        "RESPONSE".to_string(),
                        path,
                        None,
                        content_type.map(str::to_string),
                        false,
                    ));
                }
            }
            return head_event(head);
        }
        let worth = mode.capture > 0 && body_worth_capturing(&head.target, content_type);
        self.last_request_worth = worth;
        if mode.capture > 0 {
            self.capture[side] = Some(Capture::new(
                head.method.clone(),
                head.target.clone(),
                head.get("host").map(str::to_string),
                content_type.map(str::to_string),
                !worth,
            ));
        }
        head_event(head)
    }

    /// In-order bytes of one direction, seen in frame `frame`.
    pub fn feed(&mut self, data: &[u8], from_client: bool, frame: u64) -> Vec<Event> {
        let before = self.captured();
        let mut events = self.feed_inner(data, from_client, frame);
        self.settle(before, frame, &mut events);
        events
    }

    fn feed_inner(&mut self, data: &[u8], from_client: bool, frame: u64) -> Vec<Event> {
        let mut events = Vec::new();
        if self.done || data.is_empty() {
            return events;
        }
        let decider = &mut self.decider;
        let mut pieces = self
            .framers
            .frame(data, from_client, &mut |h: &Head| decider.decide(h));
        // the framer may already be past several messages: only the body after the last
        // head in this batch (or one begun in an earlier batch) is still being framed
        let last_head = pieces
            .iter()
            .rposition(|p| matches!(p, Piece::Head(..)))
            .map_or(-1, |i| i as isize);
        for (index, piece) in pieces.drain(..).enumerate() {
            match piece {
                Piece::Head(head, mode) => {
                    self.messages += 1;
                    events.push(self.head_event(&head, mode, from_client));
                }
                Piece::Body(chunk) => {
                    let Some(cap) = self.capture[from_client as usize].as_mut() else {
                        continue;
                    };
                    cap.body.extend_from_slice(&chunk);
                    if cap.first == 0 {
                        cap.first = frame;
                    }
                    cap.last = frame;
                    if cap.tentative && cap.body.len() >= SNIFF_BYTES {
                        self.sniff(from_client, index as isize > last_head);
                    }
                }
                Piece::End(complete) => {
                    let side = from_client as usize;
                    if self.capture[side].as_ref().is_some_and(|c| c.tentative) {
                        self.sniff(from_client, false);
                    }
                    if let Some(cap) = self.capture[side].take() {
                        if !cap.body.is_empty() {
                            events.push(cap.event(frame, complete));
                        }
                    }
                }
            }
        }
        self.framers.recycle(pieces);
        if self.decider.stop_all {
            self.framers.stop();
        }
        for from_client in [true, false] {
            if self.capture[from_client as usize].is_some()
                && !self.framers.side(from_client).capturing()
            {
                // the body framing broke off (garbage, protocol switch): report what we have
                events.extend(self.flush_side(from_client, frame));
            }
        }
        self.update_done();
        events
    }

    /// Decide on a tentative capture from its first bytes: keep pictures, drop the rest;
    /// `still_framing`: the framer of `from_client` is still on this very body.
    fn sniff(&mut self, from_client: bool, still_framing: bool) {
        let side = from_client as usize;
        let Some(cap) = self.capture[side].as_mut() else {
            return;
        };
        if cap.is_image() {
            cap.tentative = false;
            self.last_request_worth = true;
        } else {
            self.capture[side] = None;
            if still_framing {
                self.framers.side_mut(from_client).drop_capture();
            }
        }
    }

    fn update_done(&mut self) {
        if self.capture.iter().any(Option::is_some) {
            return;
        }
        let both_gave_up = self.framers.gave_up();
        let enough = self.messages >= self.max_messages && !self.last_request_worth;
        if both_gave_up || enough {
            self.done = true;
        }
    }

    /// `lost` bytes of one direction were never captured (0: not known). A request body
    /// whose framing does not depend on them goes on past the hole: what came before is
    /// reported incomplete, and the rest is kept as a body of its own (the same request,
    /// incomplete), so that pictures whole after the hole are still found and the next
    /// message is found in step. Otherwise what was being read is reported incomplete and
    /// parsing picks up again at the next message.
    pub fn gap(&mut self, from_client: bool, frame: u64, lost: u64) -> Vec<Event> {
        let before = self.captured();
        let mut events = self.gap_inner(from_client, frame, lost);
        self.settle(before, frame, &mut events);
        events
    }

    fn gap_inner(&mut self, from_client: bool, frame: u64, lost: u64) -> Vec<Event> {
        if from_client {
            let side = from_client as usize;
            let open = self.capture[side]
                .as_ref()
                .is_none_or(|c| !c.tentative || c.is_image());
            if lost > 0 && open && self.framers.side_mut(true).skip(lost) {
                let Some(cap) = self.capture[side].take() else {
                    return Vec::new(); // a body not kept: only its framing goes on
                };
                let rest = Capture::rest(Some(&cap));
                let events = if cap.body.is_empty() {
                    Vec::new()
                } else {
                    vec![cap.event(frame, false)]
                };
                self.capture[side] = Some(rest);
                return events;
            }
            let events = self.flush_side(true, frame);
            if lost > 0 {
                // a hole of known length (one): what follows up to the next request is the
                // rest of a message whose head may be what was lost; kept as a body with no
                // request line (method and path empty), incomplete
                let framer = self.framers.side_mut(true);
                framer.resync_keeping(self.decider.body_cap);
                if framer.capturing() {
                    self.capture[side] = Some(Capture::rest(None));
                }
            } else {
                self.framers.side_mut(true).resync();
            }
            events
        } else {
            // responses were lost: their requests cannot be paired
            self.decider.methods.clear();
            self.framers.side_mut(false).resync();
            Vec::new()
        }
    }

    pub fn close(&mut self, frame: u64) -> Vec<Event> {
        let before = self.captured();
        // the bytes the client's framer held back while looking for a request line end
        // the body kept since a hole
        let tail = self.framers.side_mut(true).sync_tail();
        if let Some(cap) = self.capture[1].as_mut() {
            cap.body.extend_from_slice(&tail);
        }
        let events = self.flush_incomplete(frame);
        self.bodies.moved(before, self.captured());
        self.done = true;
        events
    }

    /// What both directions were keeping, as incomplete bodies (requests first).
    fn flush_incomplete(&mut self, frame: u64) -> Vec<Event> {
        let mut events = self.flush_side(true, frame);
        events.extend(self.flush_side(false, frame));
        events
    }

    fn flush_side(&mut self, from_client: bool, frame: u64) -> Vec<Event> {
        let Some(cap) = self.capture[from_client as usize].take() else {
            return Vec::new();
        };
        if cap.body.is_empty() || (cap.tentative && !cap.is_image()) {
            return Vec::new();
        }
        vec![cap.event(frame, false)]
    }
}

/// The request or response event for an HTTP head.
pub fn head_event(head: &Head) -> Event {
    let content_type = head.get("content-type").map(str::to_string);
    if head.is_response {
        return Event::HttpResponse(HttpResponseEvent {
            status: head.status,
            reason: head.reason.clone(),
            version: head.version.clone(),
            server: head.get("server").map(str::to_string),
            content_type,
            content_length: head.content_length(),
            headers: head.header_dict(MAX_HEADER_DICT),
        });
    }
    let boundary = media_type(content_type.as_deref())
        .1
        .into_iter()
        .find(|(k, _)| k == "boundary")
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty());
    Event::HttpRequest(HttpRequestEvent {
        method: head.method.clone(),
        path: head.target.clone(),
        version: head.version.clone(),
        host: head.get("host").map(str::to_string),
        user_agent: head.get("user-agent").map(str::to_string),
        content_type,
        content_length: head.content_length(),
        boundary,
        headers: head.header_dict(MAX_HEADER_DICT),
    })
}

/// The realm parameter of the first WWW-Authenticate challenge that has one (RTSP).
pub fn auth_realm<'a>(values: impl Iterator<Item = &'a str>) -> Option<String> {
    for value in values {
        let lower = value.to_lowercase();
        if lower.len() != value.len() {
            // lower-casing changed byte offsets: fall back to char-wise ASCII lowering
            let lower: String = value.chars().map(|c| c.to_ascii_lowercase()).collect();
            if let Some(r) = realm_in(value, &lower) {
                return Some(r);
            }
            continue;
        }
        if let Some(r) = realm_in(value, &lower) {
            return Some(r);
        }
    }
    None
}

fn realm_in(value: &str, lower: &str) -> Option<String> {
    let mut start = 0;
    while let Some(found) = lower[start..].find("realm") {
        let idx = start + found;
        start = idx + 5;
        if idx > 0 && !matches!(lower.as_bytes()[idx - 1], b' ' | b',' | b'\t') {
            continue;
        }
        let rest = value[idx + 5..].trim_start_matches(super::text::py_space);
        let Some(rest) = rest.strip_prefix('=') else {
            continue;
        };
        let rest = rest.trim_start_matches(super::text::py_space);
        if let Some(quoted) = rest.strip_prefix('"') {
            return Some(match quoted.find('"') {
                Some(end) => quoted[..end].to_string(),
                None => quoted.to_string(),
            });
        }
        return Some(py_strip(rest.split(',').next().unwrap_or("")).to_string());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::super::text::parse_head;
    use super::*;

    #[test]
    fn request_and_response() {
        let h = parse_head(
            b"POST /VIID/Faces HTTP/1.1\r\nHost: 10.0.0.9\r\nContent-Type: multipart/form-data; boundary=\"xyz\"\r\nContent-Length: 12\r\n",
            &["HTTP/"],
            None,
        )
        .unwrap();
        let Event::HttpRequest(e) = head_event(&h) else {
            panic!()
        };
        assert_eq!(
            (e.method.as_str(), e.path.as_str()),
            ("POST", "/VIID/Faces")
        );
        assert_eq!(e.boundary.as_deref(), Some("xyz"));
        assert_eq!(e.content_length, Some(12));
        assert_eq!(e.headers.len(), 3);
        let h = parse_head(
            b"HTTP/1.0 401 Unauthorized\r\nServer: cam\r\n",
            &["HTTP/"],
            None,
        )
        .unwrap();
        let Event::HttpResponse(e) = head_event(&h) else {
            panic!()
        };
        assert_eq!((e.status, e.server.as_deref()), (401, Some("cam")));
    }

    #[test]
    fn realms() {
        let v = ["Digest realm=\"IP Camera(C2345)\", nonce=\"1\""];
        assert_eq!(
            auth_realm(v.into_iter()).as_deref(),
            Some("IP Camera(C2345)")
        );
        let v = ["Basic xrealm=no, realm = plain , x=1"];
        assert_eq!(auth_realm(v.into_iter()).as_deref(), Some("plain"));
        assert_eq!(auth_realm(["Basic"].into_iter()), None);
    }

    #[test]
    fn a_kept_response_and_an_upload_on_one_connection_stay_apart() {
        // a poll whose response is kept arrives while the next request's upload is still
        // coming in: each body keeps its own bytes, and neither grows past the cap; the
        // same when the flow's client was guessed wrong (the requests come from the side
        // taken for the server: a capture begun mid-connection on ports of no service)
        for client in [true, false] {
            let prefixes = response_prefixes(&["/ICLOCK/getrequest".to_string()]).unwrap();
            let mut h = HttpStream::new(16, 8).with_response_prefixes(prefixes);
            let mut bodies = Vec::new();
            let mut take = |evs: Vec<Event>| {
                for ev in evs {
                    if let Event::HttpBody(b) = ev {
                        bodies.push((b.method, b.body));
                    }
                }
            };
            take(h.feed(b"GET /iclock/getrequest?SN=1 HTTP/1.1\r\n\r\n", client, 1));
            take(h.feed(
                b"POST /up HTTP/1.1\r\nContent-Length: 12\r\n\r\nAAAA",
                client,
                2,
            ));
            take(h.feed(
                b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nOKO",
                !client,
                3,
            ));
            take(h.feed(b"AAAAAAAA", client, 4));
            take(h.feed(b"KOK", !client, 5));
            take(h.close(6));
            for (_, body) in &bodies {
                assert!(body.len() <= 8);
            }
            assert!(
                bodies.contains(&("RESPONSE".to_string(), b"OKOKOK".to_vec())),
                "{client}"
            );
            assert!(!bodies
                .iter()
                .any(|(_, b)| b.windows(2).any(|w| w == b"KA" || w == b"AO")));
        }
    }

    #[test]
    fn an_upload_from_the_side_taken_for_the_server_is_kept() {
        // the flow's client guessed wrong: the request and its picture come from the side
        // called the server, and the body still goes with its head
        let jpeg = b"\xff\xd8\xff\xe0picture";
        let mut msg =
            b"POST /face HTTP/1.1\r\nContent-Type: image/jpeg\r\nContent-Length: 11\r\n\r\n"
                .to_vec();
        msg.extend_from_slice(jpeg);
        for client in [true, false] {
            let mut h = HttpStream::default();
            let mut evs = h.feed(&msg, client, 1);
            evs.extend(h.close(2));
            let bodies: Vec<_> = evs
                .into_iter()
                .filter_map(|e| match e {
                    Event::HttpBody(b) => Some((b.method, b.body)),
                    _ => None,
                })
                .collect();
            assert_eq!(
                bodies,
                vec![("POST".to_string(), jpeg.to_vec())],
                "{client}"
            );
        }
    }

    #[test]
    fn response_prefixes_are_bounded_and_lower_cased_once() {
        let got = response_prefixes(&["/A/Poll".to_string(), "/a/poll".to_string()]).unwrap();
        assert_eq!(&*got, &["/a/poll".to_string()]);
        let many = vec!["/p".to_string(); MAX_RESPONSE_PREFIXES + 1];
        assert!(response_prefixes(&many).is_err());
        let long = "/".repeat(MAX_RESPONSE_PREFIX_LEN + 1);
        assert!(response_prefixes(&[long]).is_err());
        for bad in ["", "/a b", "/caf\u{e9}", "/a\n"] {
            assert!(response_prefixes(&[bad.to_string()]).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn responses_are_kept_only_for_the_prefixes_given() {
        let run = |h: &mut HttpStream| -> Vec<String> {
            let mut evs = h.feed(b"GET /Vendor/Poll?x=1 HTTP/1.1\r\n\r\n", true, 1);
            evs.extend(h.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false, 2));
            evs.into_iter()
                .filter_map(|e| match e {
                    Event::HttpBody(b) => Some(b.method),
                    _ => None,
                })
                .collect()
        };
        assert!(run(&mut HttpStream::default()).is_empty());
        let prefixes = response_prefixes(&["/vendor/poll".to_string()]).unwrap();
        let mut h = HttpStream::default().with_response_prefixes(prefixes);
        assert_eq!(run(&mut h), vec!["RESPONSE".to_string()]);
    }

    /// (path, body length, complete) of the bodies, and the paths of the requests.
    fn summary(events: &[Event]) -> (Vec<(String, usize, bool)>, Vec<String>) {
        let mut bodies = Vec::new();
        let mut requests = Vec::new();
        for e in events {
            match e {
                Event::HttpBody(b) => bodies.push((b.path.clone(), b.body.len(), b.complete)),
                Event::HttpRequest(r) => requests.push(r.path.clone()),
                _ => {}
            }
        }
        (bodies, requests)
    }

    fn post(path: &str, head: &str, body: &[u8]) -> Vec<u8> {
        let mut m =
            format!("POST {path} HTTP/1.1\r\nContent-Type: image/jpeg\r\n{head}\r\n").into_bytes();
        m.extend_from_slice(body);
        m
    }

    #[test]
    fn a_body_of_known_length_goes_on_past_a_hole() {
        let body: Vec<u8> = (0..3000u32).map(|i| (i % 251) as u8).collect();
        let first = post("/up", "Content-Length: 3000\r\n", &body);
        let at = first.len() - 2000; // 1,000 body bytes before the hole, 500 lost
        let mut h = HttpStream::default();
        let mut evs = h.feed(&first[..at], true, 1);
        evs.extend(h.gap(true, 2, 500));
        evs.extend(h.feed(&first[at + 500..], true, 3));
        evs.extend(h.feed(b"GET /next HTTP/1.1\r\n\r\n", true, 4));
        let (bodies, requests) = summary(&evs);
        let up = "/up".to_string();
        assert_eq!(
            bodies,
            vec![(up.clone(), 1000, false), (up.clone(), 1500, false)]
        );
        assert_eq!(requests, vec![up, "/next".to_string()]); // in step after the body
        let Some(Event::HttpBody(rest)) = evs.iter().rfind(|e| matches!(e, Event::HttpBody(_)))
        else {
            panic!()
        };
        assert_eq!(rest.body, body[1500..]);
    }

    #[test]
    fn a_hole_of_unknown_length_or_past_the_body_resyncs() {
        let body = vec![7u8; 3000];
        let first = post("/up", "Content-Length: 3000\r\n", &body);
        let at = first.len() - 2000;
        for lost in [0, 2000, 5000] {
            let mut h = HttpStream::default();
            let mut evs = h.feed(&first[..at], true, 1);
            evs.extend(h.gap(true, 2, lost));
            evs.extend(h.feed(b"GET /next HTTP/1.1\r\n\r\n", true, 3));
            let (bodies, requests) = summary(&evs);
            assert_eq!(bodies, vec![("/up".to_string(), 1000, false)], "{lost}");
            assert_eq!(
                requests,
                vec!["/up".to_string(), "/next".to_string()],
                "{lost}"
            );
        }
    }

    #[test]
    fn a_chunk_goes_on_past_a_hole_inside_it() {
        let mut m = post("/up", "Transfer-Encoding: chunked\r\n", b"");
        m.extend_from_slice(b"800\r\n");
        let at = m.len() + 100;
        m.extend_from_slice(&[9u8; 0x800]);
        m.extend_from_slice(b"\r\n0\r\n\r\nGET /next HTTP/1.1\r\n\r\n");
        let mut h = HttpStream::default();
        let mut evs = h.feed(&m[..at], true, 1);
        evs.extend(h.gap(true, 2, 300));
        evs.extend(h.feed(&m[at + 300..], true, 3));
        let (bodies, requests) = summary(&evs);
        let up = "/up".to_string();
        assert_eq!(
            bodies,
            vec![(up.clone(), 100, false), (up.clone(), 0x800 - 400, false)]
        );
        assert_eq!(requests, vec![up, "/next".to_string()]);
    }

    #[test]
    fn the_rest_of_a_message_whose_head_was_lost_is_kept() {
        let rest: Vec<u8> = (0..40_000u32).map(|i| (i % 200) as u8 + 40).collect();
        let mut h = HttpStream::default();
        let mut evs = h.gap(true, 1, 900); // the head and the body's first bytes lost
        evs.extend(h.feed(&rest[..25_000], true, 2));
        evs.extend(h.feed(&rest[25_000..], true, 3));
        evs.extend(h.close(4));
        let Some(Event::HttpBody(b)) = evs.first() else {
            panic!("{evs:?}")
        };
        assert_eq!(
            (b.method.as_str(), b.path.as_str(), b.complete),
            ("", "", false)
        );
        assert_eq!(b.body, rest); // the bytes held back to look for a line too
                                  // a request after it ends it, and is parsed
        let mut h = HttpStream::default();
        let mut evs = h.gap(true, 1, 900);
        evs.extend(h.feed(&rest[..3000], true, 2));
        evs.extend(h.feed(b"GET /next HTTP/1.1\r\n\r\n", true, 3));
        let (bodies, requests) = summary(&evs);
        assert_eq!(bodies, vec![(String::new(), 3000, false)]);
        assert_eq!(requests, vec!["/next".to_string()]);
        // a hole of unknown length keeps nothing
        let mut h = HttpStream::default();
        let mut evs = h.gap(true, 1, 0);
        evs.extend(h.feed(&rest[..3000], true, 2));
        evs.extend(h.close(3));
        assert!(evs.is_empty());
    }

    #[test]
    fn the_bodies_of_all_streams_share_one_budget() {
        let bodies = BodyBudget::new(5000);
        let mut a = HttpStream::default().with_bodies(bodies.clone());
        let mut b = HttpStream::default().with_bodies(bodies.clone());
        let head = post("/up", "Content-Length: 10000\r\n", b"");
        assert!(
            summary(&a.feed(&[&head[..], &[1u8; 3000]].concat(), true, 1))
                .0
                .is_empty()
        );
        assert_eq!(bodies.held(), 3000);
        // the second stream's body takes the bodies past the budget: it is cut short
        let evs = b.feed(&[&head[..], &[2u8; 3000]].concat(), true, 2);
        assert_eq!(summary(&evs).0, vec![("/up".to_string(), 3000, false)]);
        assert_eq!((bodies.held(), bodies.cut()), (3000, 1));
        // the rest of that body is framed, not kept; the next request is found
        let mut rest = vec![2u8; 7000];
        rest.extend_from_slice(b"GET /next HTTP/1.1\r\n\r\n");
        let (kept, requests) = summary(&b.feed(&rest, true, 3));
        assert!(kept.is_empty());
        assert_eq!(requests, vec!["/next".to_string()]);
        assert_eq!(bodies.held(), 3000);
        // the first stream goes on, and gives its bytes back when its body ends
        let evs = a.feed(&[1u8; 7000], true, 4);
        assert_eq!(summary(&evs).0, vec![("/up".to_string(), 10000, true)]);
        assert_eq!(bodies.held(), 0);
        // and a stream dropped with a body in progress gives it back too
        a.feed(&[&head[..], &[1u8; 100]].concat(), true, 5);
        assert_eq!(bodies.held(), 100);
        drop(a);
        assert_eq!(bodies.held(), 0);
    }
}
