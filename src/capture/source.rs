//! A bounded read buffer over any byte stream (a file, or a gzip decoder over one).
//!
//! Records are handed out as slices of this buffer; it only grows to the largest record
//! asked for, which callers bound before asking.

use std::io::{ErrorKind, Read};

/// How much is read from the underlying stream at once.
const CHUNK: usize = 1 << 20;

pub struct Source {
    rd: Box<dyn Read + Send>,
    buf: Vec<u8>,
    pos: usize,
    end: usize,
    eof: bool,
    /// absolute stream offset of `buf[pos]`
    offset: u64,
    /// why the stream ended early (a read error, a damaged gzip member, a cap)
    pub error: Option<String>,
}

impl Source {
    pub fn new(rd: Box<dyn Read + Send>) -> Self {
        Source {
            rd,
            buf: Vec::new(),
            pos: 0,
            end: 0,
            eof: false,
            offset: 0,
            error: None,
        }
    }

    /// Makes at least `n` bytes available if the stream has them; returns how many are.
    pub fn fill(&mut self, n: usize) -> usize {
        if self.end - self.pos >= n || self.eof {
            return self.end - self.pos;
        }
        if self.pos + n > self.buf.len() {
            // move what is left to the front, grow only as far as needed
            self.buf.copy_within(self.pos..self.end, 0);
            self.end -= self.pos;
            self.pos = 0;
            let want = n.max(CHUNK);
            if self.buf.len() < want {
                self.buf.resize(want, 0);
            }
        }
        while self.end - self.pos < n && !self.eof {
            match self.rd.read(&mut self.buf[self.end..]) {
                Ok(0) => self.eof = true,
                Ok(k) => self.end += k,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    self.error = Some(e.to_string());
                    self.eof = true;
                }
            }
        }
        self.end - self.pos
    }

    /// The bytes available now (after `fill`).
    #[inline]
    pub fn bytes(&self) -> &[u8] {
        &self.buf[self.pos..self.end]
    }

    #[inline]
    pub fn consume(&mut self, n: usize) {
        let n = n.min(self.end - self.pos);
        self.pos += n;
        self.offset += n as u64;
    }

    /// Stream offset of the next unread byte.
    pub fn offset(&self) -> u64 {
        self.offset
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_and_consume_across_chunks() {
        let data: Vec<u8> = (0..3_000_000u32).map(|i| i as u8).collect();
        let mut s = Source::new(Box::new(std::io::Cursor::new(data.clone())));
        let mut off = 0usize;
        while s.fill(700_001) > 0 {
            let n = s.bytes().len().min(700_001);
            assert_eq!(&s.bytes()[..n], &data[off..off + n]);
            s.consume(n);
            off += n;
        }
        assert_eq!(off, data.len());
        assert_eq!(s.offset(), data.len() as u64);
    }
}
