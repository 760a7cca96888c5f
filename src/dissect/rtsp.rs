//! RTSP 1.0 over TCP (the port of `netscan/dissectors/rtsp.py`): requests and responses,
//! with interleaved RTP skipped.
//!
//! Each request gives an `RtspEvent` with method, URL and User-Agent; each response gives
//! one with the status, Server and the realm of WWW-Authenticate (cameras often put their
//! model or serial number there). A response's `method` is the one of the request with the
//! same CSeq. After PLAY the server may interleave RTP/RTCP frames (`$`, channel, 16-bit
//! length) with RTSP messages; they are skipped so later messages (TEARDOWN) still parse.
//! Lost bytes are not looked for (as in the Python parser): framing goes on as if the
//! stream were whole.

use std::collections::HashMap;

use super::framer::{BodyMode, Duplex, Framer, Kind, Piece};
use super::http::auth_realm;
use super::text::{py_strip, Head, MAX_HEADER_DICT};
use crate::events::{Event, RtspEvent};

const VERSIONS: &[&str] = &["RTSP/"];
pub const DEFAULT_MAX_MESSAGES: usize = 100;
/// CSeq values remembered, at most.
const MAX_CSEQ: usize = 1024;

/// RTSP bodies are always delimited by Content-Length; no header means no body.
fn decide(head: &Head) -> BodyMode {
    match head.content_length() {
        Some(n) if n > 0 => BodyMode::new(Kind::Length, n, 0),
        _ => BodyMode::NONE,
    }
}

/// Stream parser for one RTSP TCP flow.
#[derive(Debug, Clone)]
pub struct RtspStream {
    max_messages: usize,
    framers: Duplex,
    cseq_methods: HashMap<String, String>,
    messages: usize,
    pub done: bool,
}

impl Default for RtspStream {
    fn default() -> Self {
        RtspStream::new(DEFAULT_MAX_MESSAGES)
    }
}

impl RtspStream {
    pub fn new(max_messages: usize) -> Self {
        RtspStream {
            max_messages,
            framers: Duplex::new(
                Framer::new(VERSIONS, true, None),
                Framer::new(VERSIONS, true, None),
            ),
            cseq_methods: HashMap::new(),
            messages: 0,
            done: false,
        }
    }

    /// Bytes held between feeds (memory tests).
    pub fn held(&self) -> usize {
        self.framers.buffered()
    }

    fn event(&mut self, head: &Head) -> Event {
        let cseq = py_strip(head.get("cseq").unwrap_or("")).to_string();
        if !head.is_response {
            if !cseq.is_empty() && self.cseq_methods.len() < MAX_CSEQ {
                self.cseq_methods.insert(cseq, head.method.clone());
            }
            return Event::Rtsp(RtspEvent {
                is_response: false,
                method: head.method.clone(),
                url: head.target.clone(),
                status: 0,
                server: head.get("server").map(str::to_string),
                user_agent: head.get("user-agent").map(str::to_string),
                realm: None,
                headers: head.header_dict(MAX_HEADER_DICT),
            });
        }
        let realm = auth_realm(
            head.headers
                .iter()
                .filter(|(k, _)| k == "www-authenticate")
                .map(|(_, v)| v.as_str()),
        );
        Event::Rtsp(RtspEvent {
            is_response: true,
            method: self.cseq_methods.get(&cseq).cloned().unwrap_or_default(),
            url: String::new(),
            status: head.status,
            server: head.get("server").map(str::to_string),
            user_agent: head.get("user-agent").map(str::to_string),
            realm,
            headers: head.header_dict(MAX_HEADER_DICT),
        })
    }

    pub fn feed(&mut self, data: &[u8], from_client: bool) -> Vec<Event> {
        let mut events = Vec::new();
        if self.done || data.is_empty() {
            return events;
        }
        let mut pieces = self.framers.frame(data, from_client, &mut decide);
        for piece in pieces.drain(..) {
            if let Piece::Head(head, _) = piece {
                self.messages += 1;
                events.push(self.event(&head));
            }
        }
        self.framers.recycle(pieces);
        if self.framers.gave_up() || self.messages >= self.max_messages {
            self.done = true;
        }
        events
    }

    pub fn close(&mut self) -> Vec<Event> {
        self.done = true;
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interleaved_frames_are_skipped_and_cseq_pairs() {
        let mut s = RtspStream::default();
        let ev = s.feed(b"PLAY rtsp://c/ RTSP/1.0\r\nCSeq: 4\r\n\r\n", true);
        assert_eq!(ev.len(), 1);
        let mut server = b"RTSP/1.0 200 OK\r\nCSeq: 4\r\n\r\n$\x00\x00\x05hello".to_vec();
        server.extend(b"RTSP/1.0 401 Unauthorized\r\nCSeq: 5\r\nWWW-Authenticate: Digest realm=\"cam\"\r\n\r\n");
        let ev = s.feed(&server, false);
        let [Event::Rtsp(a), Event::Rtsp(b)] = &ev[..] else {
            panic!("{ev:?}")
        };
        assert_eq!((a.method.as_str(), a.status), ("PLAY", 200));
        assert_eq!((b.status, b.realm.as_deref()), (401, Some("cam")));
    }
}
