//! SSDP (UPnP discovery, UDP 1900): the port of `netscan/dissectors/ssdp.py`. NOTIFY,
//! M-SEARCH and their HTTP/1.1 2xx responses; header values have runs of white space
//! collapsed to one space.

use super::text::{collapse_space, plausible_start, split_message, MAX_TOKEN};
use crate::events::{Event, SsdpEvent};

const VERSIONS: &[&str] = &["HTTP/"];

/// The event for one SSDP datagram.
pub fn event(payload: &[u8]) -> Option<Event> {
    let start = payload
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(payload.len());
    let rest = &payload[start..];
    if !plausible_start(&rest[..rest.len().min(MAX_TOKEN + 1)]) {
        return None;
    }
    let (head, _) = split_message(payload, VERSIONS, None)?;
    let (method, nt) = if head.is_response {
        if !(200..300).contains(&head.status) {
            return None;
        }
        ("RESPONSE".to_string(), head.get("st"))
    } else {
        let method = head.method.to_ascii_uppercase();
        match method.as_str() {
            "NOTIFY" => (method, head.get("nt")),
            "M-SEARCH" => (method, head.get("st")),
            _ => return None,
        }
    };
    let value = |v: Option<&str>| v.map(collapse_space);
    Some(Event::Ssdp(SsdpEvent {
        method,
        server: value(head.get("server")),
        usn: value(head.get("usn")),
        nt: value(nt),
        nts: value(head.get("nts")),
        location: value(head.get("location")),
        user_agent: value(head.get("user-agent")),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notify_and_response() {
        let m = b"NOTIFY * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nNT: upnp:rootdevice\r\nNTS: ssdp:alive\r\nSERVER: Linux,    UPnP/1.0\r\nUSN: uuid:1\r\n\r\n";
        let Some(Event::Ssdp(e)) = event(m) else {
            panic!()
        };
        assert_eq!(e.method, "NOTIFY");
        assert_eq!(e.server.as_deref(), Some("Linux, UPnP/1.0"));
        assert_eq!(e.nt.as_deref(), Some("upnp:rootdevice"));
        let r = b"HTTP/1.1 200 OK\r\nST: urn:x\r\nLOCATION: http://10.0.0.2/d.xml\r\n\r\n";
        let Some(Event::Ssdp(e)) = event(r) else {
            panic!()
        };
        assert_eq!(
            (e.method.as_str(), e.nt.as_deref()),
            ("RESPONSE", Some("urn:x"))
        );
        assert!(event(b"HTTP/1.1 404 Not Found\r\n\r\n").is_none());
        assert!(event(b"GET / HTTP/1.1\r\n\r\n").is_none());
        assert!(event(b"\x00\x01garbage").is_none());
    }
}
