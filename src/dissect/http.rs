//! HTTP/1.x and RTSP message heads: the event builders of `netscan/dissectors/http.py` and
//! `rtsp.py` on a parsed [`Head`]. The stream framing (bodies, chunked coding, interleaved
//! RTSP frames, resynchronisation after gaps) is still done by the Python stream parsers.

use super::text::{media_type, py_strip, Head, MAX_HEADER_DICT};
use crate::events::{Event, HttpRequestEvent, HttpResponseEvent};

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
}
