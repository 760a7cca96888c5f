//! SIP (RFC 3261) over UDP and TCP: the port of `parse` and `SipStream` in
//! `netscan/dissectors/sip.py`. Request method (or the CSeq method of
//! a response), status, request URI, the bare From and To URIs, User-Agent, Server,
//! Content-Type and the first 4 KB of the body; compact header names are expanded.

use super::framer::{BodyMode, Duplex, Framer, Kind, Piece};
use super::text::{plausible_start, py_split, py_strip, split_message, Head, MAX_TOKEN};
use super::util::utf8_replace;
use crate::events::{Event, SipEvent};

const VERSIONS: &[&str] = &["SIP/"];
/// Body bytes kept.
pub const BODY_CAP: usize = 4096;

/// RFC 3261 section 7.3.3 compact header names and later extensions.
pub fn compact_name(name: &str) -> Option<&'static str> {
    Some(match name {
        "a" => "accept-contact",
        "b" => "referred-by",
        "c" => "content-type",
        "d" => "request-disposition",
        "e" => "content-encoding",
        "f" => "from",
        "i" => "call-id",
        "j" => "reject-contact",
        "k" => "supported",
        "l" => "content-length",
        "m" => "contact",
        "n" => "identity-info",
        "o" => "event",
        "r" => "refer-to",
        "s" => "subject",
        "t" => "to",
        "u" => "allow-events",
        "v" => "via",
        "x" => "session-expires",
        "y" => "identity",
        _ => return None,
    })
}

/// The URI of a From/To/Contact value, without display name, brackets or header params.
pub fn address_uri(value: Option<&str>) -> String {
    let Some(value) = value.filter(|v| !v.is_empty()) else {
        return String::new();
    };
    let value = py_strip(value);
    if let Some(lt) = value.find('<') {
        let inner = &value[lt + 1..];
        let inner = match inner.find('>') {
            Some(gt) => &inner[..gt],
            None => inner,
        };
        return py_strip(inner).to_string();
    }
    py_strip(value.split(';').next().unwrap_or("")).to_string()
}

fn cseq_method(head: &Head) -> String {
    py_split(head.get("cseq").unwrap_or(""))
        .nth(1)
        .unwrap_or("")
        .to_string()
}

/// The event for a parsed head and its body.
pub fn make_event(head: &Head, body: &[u8]) -> Event {
    Event::Sip(SipEvent {
        is_response: head.is_response,
        method: if head.is_response {
            cseq_method(head)
        } else {
            head.method.clone()
        },
        status: head.status,
        request_uri: if head.is_response {
            String::new()
        } else {
            head.target.clone()
        },
        from_uri: address_uri(head.get("from")),
        to_uri: address_uri(head.get("to")),
        user_agent: head.get("user-agent").map(str::to_string),
        server: head.get("server").map(str::to_string),
        content_type: head.get("content-type").map(str::to_string),
        body: utf8_replace(&body[..body.len().min(BODY_CAP)]),
    })
}

/// One SIP message per datagram.
pub fn event(payload: &[u8]) -> Option<Event> {
    let start = payload
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(payload.len());
    let rest = &payload[start..];
    if !plausible_start(&rest[..rest.len().min(MAX_TOKEN + 1)]) {
        return None;
    }
    let (head, rest) = split_message(payload, VERSIONS, Some(compact_name))?;
    let body = match head.content_length() {
        Some(n) => &rest[..rest.len().min(usize::try_from(n).unwrap_or(usize::MAX))],
        None => rest,
    };
    Some(make_event(&head, body))
}

/// Messages after which a SIP flow over TCP is no longer parsed.
pub const DEFAULT_MAX_MESSAGES: usize = 100;

fn decide(head: &Head) -> BodyMode {
    match head.content_length() {
        Some(n) if n > 0 => BodyMode::new(Kind::Length, n, BODY_CAP),
        _ => BodyMode::NONE,
    }
}

/// SIP over TCP: messages delimited by Content-Length.
#[derive(Debug, Clone)]
pub struct SipStream {
    max_messages: usize,
    framers: Duplex,
    /// the message whose body is still arriving, per direction, in the order the
    /// directions were first pending: (from_client, head, body so far)
    pending: Vec<(bool, Head, Vec<u8>)>,
    messages: usize,
    pub done: bool,
}

impl Default for SipStream {
    fn default() -> Self {
        SipStream::new(DEFAULT_MAX_MESSAGES)
    }
}

impl SipStream {
    pub fn new(max_messages: usize) -> Self {
        SipStream {
            max_messages,
            framers: Duplex::new(
                Framer::new(VERSIONS, false, Some(compact_name)),
                Framer::new(VERSIONS, false, Some(compact_name)),
            ),
            pending: Vec::new(),
            messages: 0,
            done: false,
        }
    }

    /// Bytes held between feeds (memory tests).
    pub fn held(&self) -> usize {
        self.framers.buffered() + self.pending.iter().map(|p| p.2.len()).sum::<usize>()
    }

    fn take_pending(&mut self, from_client: bool) -> Option<(Head, Vec<u8>)> {
        let i = self.pending.iter().position(|p| p.0 == from_client)?;
        let (_, head, body) = self.pending.remove(i);
        Some((head, body))
    }

    pub fn feed(&mut self, data: &[u8], from_client: bool) -> Vec<Event> {
        let mut events = Vec::new();
        if self.done || data.is_empty() {
            return events;
        }
        let mut pieces = self.framers.frame(data, from_client, &mut decide);
        for piece in pieces.drain(..) {
            match piece {
                Piece::Head(head, mode) => {
                    self.messages += 1;
                    if mode.capture > 0 {
                        match self.pending.iter_mut().find(|p| p.0 == from_client) {
                            Some(p) => {
                                p.1 = head;
                                p.2.clear();
                            }
                            None => self.pending.push((from_client, head, Vec::new())),
                        }
                    } else {
                        events.push(make_event(&head, b""));
                    }
                }
                Piece::Body(chunk) => {
                    if let Some(p) = self.pending.iter_mut().find(|p| p.0 == from_client) {
                        p.2.extend_from_slice(&chunk);
                    }
                }
                Piece::End(_) => {
                    if let Some((head, body)) = self.take_pending(from_client) {
                        events.push(make_event(&head, &body));
                    }
                }
            }
        }
        self.framers.recycle(pieces);
        if !self.framers.side(from_client).capturing() {
            if let Some((head, body)) = self.take_pending(from_client) {
                events.push(make_event(&head, &body));
            }
        }
        if self.framers.gave_up() || (self.messages >= self.max_messages && self.pending.is_empty())
        {
            self.done = true;
        }
        events
    }

    pub fn close(&mut self) -> Vec<Event> {
        let events = self
            .pending
            .drain(..)
            .map(|(_, head, body)| make_event(&head, &body))
            .collect();
        self.done = true;
        events
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn register_and_response() {
        let m = b"REGISTER sip:10.0.0.1 SIP/2.0\r\nf: \"Cam\" <sip:34020000001320000001@10.0.0.2>;tag=1\r\nt: sip:34020000001320000001@3402000000\r\nl: 5\r\nUser-Agent: IP Camera\r\n\r\nhello world";
        let Some(Event::Sip(e)) = event(m) else {
            panic!()
        };
        assert_eq!(e.method, "REGISTER");
        assert_eq!(e.from_uri, "sip:34020000001320000001@10.0.0.2");
        assert_eq!(e.to_uri, "sip:34020000001320000001@3402000000");
        assert_eq!(e.body, "hello");
        let r = b"SIP/2.0 200 OK\r\nCSeq: 2 REGISTER\r\n\r\n";
        let Some(Event::Sip(e)) = event(r) else {
            panic!()
        };
        assert_eq!((e.method.as_str(), e.status), ("REGISTER", 200));
        assert!(event(b"HTTP/1.1 200 OK\r\n\r\n").is_none());
    }

    #[test]
    fn stream_bodies_across_segments() {
        let m = b"MESSAGE sip:a SIP/2.0\r\nl: 10\r\n\r\n0123456789OPTIONS sip:b SIP/2.0\r\n\r\n";
        for cut in 0..m.len() {
            let mut s = SipStream::default();
            let mut ev = s.feed(&m[..cut], true);
            ev.extend(s.feed(&m[cut..], true));
            let bodies: Vec<&str> = ev
                .iter()
                .map(|e| match e {
                    Event::Sip(e) => e.body.as_str(),
                    _ => panic!(),
                })
                .collect();
            assert_eq!(bodies, ["0123456789", ""], "cut {cut}");
        }
    }
}
