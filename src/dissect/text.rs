//! Header blocks of HTTP-like text protocols (the datagram half of
//! `netscan/dissectors/_text.py`): a start line and header lines, CRLF or bare LF, with
//! obsolete line folding, decoded as UTF-8 with replacement. The string operations follow
//! Python's (`str.strip`, `str.split` white space, `str.lower`) so that values compare equal
//! to what the Python dissectors produce.

use super::util::utf8_replace;

/// A header block larger than this ends parsing.
pub const HEADER_BLOCK_CAP: usize = 64 * 1024;
/// Longest method name accepted.
pub const MAX_TOKEN: usize = 32;

/// Python's `str.isspace()` for one character.
pub fn py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Python's `str.strip()`.
pub fn py_strip(s: &str) -> &str {
    s.trim_matches(py_space)
}

/// Python's `str.split()` (no separator).
pub fn py_split(s: &str) -> impl Iterator<Item = &str> {
    s.split(py_space).filter(|p| !p.is_empty())
}

/// Python's `" ".join(value.split())`: runs of white space collapsed to one space.
pub fn collapse_space(s: &str) -> String {
    py_split(s).collect::<Vec<_>>().join(" ")
}

fn ascii_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

const TOKEN_CHARS: &[u8] = b"!#$%&'*+-.^_`|~";

/// An HTTP token of at most `MAX_TOKEN` characters.
pub fn is_token(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= MAX_TOKEN
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || TOKEN_CHARS.contains(&b))
}

fn starts_with_any(text: &str, versions: &[&str]) -> bool {
    versions.iter().any(|v| text.starts_with(v))
}

fn valid_version(text: &str, versions: &[&str]) -> bool {
    if !starts_with_any(text, versions) || text.chars().count() > 16 {
        return false;
    }
    let number = text.split_once('/').map_or("", |(_, n)| n);
    match number.split_once('.') {
        Some((major, minor)) => ascii_digits(major) && ascii_digits(minor),
        None => ascii_digits(number),
    }
}

/// A parsed start line and header block.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Head {
    pub is_response: bool,
    pub version: String,
    pub method: String,
    pub target: String,
    pub status: u16,
    pub reason: String,
    /// (lower-case name, value) in order
    pub headers: Vec<(String, String)>,
}

impl Head {
    /// First value of a header (`name` in lower case).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Lower-case name -> first value, at most `cap` names, in first-seen order.
    pub fn header_dict(&self, cap: usize) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        for (k, v) in &self.headers {
            if !out.iter().any(|(seen, _)| seen == k) {
                if out.len() >= cap {
                    break;
                }
                out.push((k.clone(), v.clone()));
            }
        }
        out
    }

    /// Content-Length; None when absent, conflicting or not a number.
    pub fn content_length(&self) -> Option<u64> {
        let mut found: Option<u64> = None;
        for (_, value) in self.headers.iter().filter(|(k, _)| k == "content-length") {
            for part in value.split(',') {
                let part = py_strip(part);
                if !ascii_digits(part) || part.len() > 18 {
                    return None;
                }
                let number: u64 = part.parse().ok()?;
                if found.is_some_and(|f| f != number) {
                    return None;
                }
                found = Some(number);
            }
        }
        found
    }
}

/// Entries kept in `Head::header_dict`.
pub const MAX_HEADER_DICT: usize = 64;

/// A Content-Type value split into (lower-case media type, parameters with lower-case
/// names, first occurrence kept, quotes removed).
pub fn media_type(value: Option<&str>) -> (String, Vec<(String, String)>) {
    let Some(value) = value.filter(|v| !v.is_empty()) else {
        return (String::new(), Vec::new());
    };
    let mut parts = value.split(';');
    let first = parts.next().unwrap_or("");
    let mut params: Vec<(String, String)> = Vec::new();
    for part in parts {
        let Some((key, val)) = part.split_once('=') else {
            continue;
        };
        let mut val = py_strip(val);
        if val.chars().count() >= 2 && val.starts_with('"') && val.ends_with('"') {
            val = &val[1..val.len() - 1];
        }
        let key = py_strip(key).to_lowercase();
        if !params.iter().any(|(k, _)| *k == key) {
            params.push((key, val.to_string()));
        }
    }
    let mtype = py_strip(py_strip(first).trim_end_matches(['.', ','])).to_lowercase();
    (mtype, params)
}

/// Parse a request line or status line; `versions` are prefixes like `["HTTP/"]`.
pub fn parse_start_line(line: &str, versions: &[&str]) -> Option<Head> {
    let line = py_strip(line);
    if line.is_empty() {
        return None;
    }
    if starts_with_any(line, versions) {
        let (version, rest) = line.split_once(' ').unwrap_or((line, ""));
        let rest = py_strip(rest);
        let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
        if !valid_version(version, versions) || code.len() != 3 || !ascii_digits(code) {
            return None;
        }
        return Some(Head {
            is_response: true,
            version: version.to_string(),
            status: code.parse().ok()?,
            reason: py_strip(reason).to_string(),
            ..Default::default()
        });
    }
    let parts: Vec<&str> = py_split(line).collect();
    if parts.len() < 3 {
        return None;
    }
    let (method, version) = (parts[0], parts[parts.len() - 1]);
    if !is_token(method) || !valid_version(version, versions) {
        return None;
    }
    Some(Head {
        is_response: false,
        version: version.to_string(),
        method: method.to_string(),
        target: parts[1..parts.len() - 1].join(" "),
        ..Default::default()
    })
}

/// Maps header names (lower case) to the names they stand for (SIP compact forms).
pub type NameMap = fn(&str) -> Option<&'static str>;

/// Header lines (no line endings) -> [(lower-case name, value)]; folded lines joined.
pub fn parse_header_lines<'a>(
    lines: impl Iterator<Item = &'a str>,
    name_map: Option<NameMap>,
) -> Vec<(String, String)> {
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in lines {
        if line.is_empty() {
            continue;
        }
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = headers.last_mut() {
                let extra = py_strip(line);
                if !value.is_empty() && !extra.is_empty() {
                    value.push(' ');
                }
                value.push_str(extra);
            }
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let name = py_strip(name).to_lowercase();
        if name.is_empty() || name.contains([' ', '\t']) {
            continue;
        }
        let name = match name_map.and_then(|m| m(&name)) {
            Some(mapped) => mapped.to_string(),
            None => name,
        };
        headers.push((name, py_strip(value).to_string()));
    }
    headers
}

/// Parse a header block (without the terminating empty line).
pub fn parse_head(block: &[u8], versions: &[&str], name_map: Option<NameMap>) -> Option<Head> {
    let text = utf8_replace(block);
    let mut lines = text
        .split('\n')
        .map(|l| l.trim_end_matches('\r'))
        .skip_while(|l| py_strip(l).is_empty());
    let mut head = parse_start_line(lines.next()?, versions)?;
    head.headers = parse_header_lines(lines, name_map);
    Some(head)
}

fn find(buf: &[u8], needle: &[u8], start: usize, stop: usize) -> Option<usize> {
    let hay = buf.get(start..stop.min(buf.len()))?;
    hay.windows(needle.len())
        .position(|w| w == needle)
        .map(|i| i + start)
}

/// The empty line ending a header block: (end of block, start of body).
pub fn find_block_end(buf: &[u8], start: usize, stop: usize) -> Option<(usize, usize)> {
    let lf = find(buf, b"\n\n", start, stop);
    let crlf = find(buf, b"\n\r\n", start, stop);
    match (lf, crlf) {
        (None, None) => None,
        (Some(l), None) => Some((l, l + 2)),
        (Some(l), Some(c)) if l < c => Some((l, l + 2)),
        (_, Some(c)) => Some((c, c + 3)),
    }
}

/// Datagram form: (head, bytes after the header block); a missing empty line is tolerated.
pub fn split_message<'a>(
    payload: &'a [u8],
    versions: &[&str],
    name_map: Option<NameMap>,
) -> Option<(Head, &'a [u8])> {
    let pos = payload
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(payload.len());
    let (end, body) = match find_block_end(payload, pos, payload.len().min(pos + HEADER_BLOCK_CAP))
    {
        Some(found) => found,
        None => {
            if payload.len() - pos > HEADER_BLOCK_CAP {
                return None;
            }
            (payload.len(), payload.len())
        }
    };
    let head = parse_head(&payload[pos..end], versions, name_map)?;
    Some((head, &payload[body..]))
}

/// Cheap check on the first bytes of a message: printable ASCII and a short first token.
pub fn plausible_start(prefix: &[u8]) -> bool {
    let sample = &prefix[..prefix.len().min(MAX_TOKEN + 1)];
    let mut sample = match sample.iter().position(|&b| b == b'\n') {
        Some(i) => &sample[..i],
        None => sample,
    };
    while let [rest @ .., b'\r'] = sample {
        sample = rest;
    }
    if sample
        .iter()
        .any(|&b| !(0x20..0x7F).contains(&b) && b != 0x09)
    {
        return false;
    }
    sample.len() <= MAX_TOKEN || sample.contains(&b' ')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_lines() {
        let h = parse_start_line("HTTP/1.1 200 OK ", &["HTTP/"]).unwrap();
        assert!(h.is_response);
        assert_eq!((h.status, h.reason.as_str()), (200, "OK"));
        let h = parse_start_line("M-SEARCH * HTTP/1.1", &["HTTP/"]).unwrap();
        assert_eq!((h.method.as_str(), h.target.as_str()), ("M-SEARCH", "*"));
        let h = parse_start_line("GET /a b HTTP/1.0", &["HTTP/"]).unwrap();
        assert_eq!(h.target, "/a b");
        assert!(parse_start_line("HTTP/x 200 OK", &["HTTP/"]).is_none());
        assert!(parse_start_line("GET / FTP/1.0", &["HTTP/"]).is_none());
        assert!(parse_start_line("HTTP/1.1 20 OK", &["HTTP/"]).is_none());
    }

    #[test]
    fn headers_and_folding() {
        let h = parse_head(
            b"\r\nNOTIFY * HTTP/1.1\r\nHOST: x\r\nServer: a\r\n  b\r\nbad line\r\nX Y: z\r\n",
            &["HTTP/"],
            None,
        )
        .unwrap();
        assert_eq!(h.get("server"), Some("a b"));
        assert_eq!(h.get("host"), Some("x"));
        assert_eq!(h.headers.len(), 2);
        assert_eq!(collapse_space(" Linux,\t  UPnP/1.0 "), "Linux, UPnP/1.0");
        assert_eq!(py_strip("\u{1c} a \u{a0}"), "a");
    }

    #[test]
    fn block_ends() {
        assert_eq!(find_block_end(b"a\r\n\r\nb", 0, 6), Some((2, 5)));
        assert_eq!(find_block_end(b"a\n\nb", 0, 4), Some((1, 3)));
        assert_eq!(find_block_end(b"a\r\nb", 0, 4), None);
        assert!(plausible_start(b"NOTIFY * HTTP/1.1\r\n"));
        assert!(!plausible_start(b"\x00\x01"));
        assert!(!plausible_start(&[b'a'; 40]));
    }
}
