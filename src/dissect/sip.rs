//! SIP (RFC 3261) over UDP: the port of `parse` in `netscan/dissectors/sip.py` (SIP over
//! TCP stays with the Python stream parser for now). Request method (or the CSeq method of
//! a response), status, request URI, the bare From and To URIs, User-Agent, Server,
//! Content-Type and the first 4 KB of the body; compact header names are expanded.

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
}
