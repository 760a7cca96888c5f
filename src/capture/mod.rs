//! Capture file reading: pcap (micro- and nanosecond, both byte orders), pcapng (SHB, IDB,
//! EPB, SPB and the obsolete PB; several sections and interfaces, per-interface link types,
//! `if_tsresol` and `if_tsoffset`), and either of them gzip-compressed, streamed.
//!
//! Frame numbers count packets exactly as Wireshark numbers them (every packet block, in
//! file order). A cut or damaged file is read up to the damage; `warnings` says where,
//! in the words the Python reader has always used. Every length is checked before use and
//! no buffer grows beyond the largest record allowed.

pub mod gz;
pub mod hashing;
pub mod source;

use std::collections::BTreeSet;
use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use sha2::Digest;

pub use gz::{GzState, GzStream};
pub use hashing::HashPipe;
pub use source::Source;

/// pcapng blocks larger than this are taken for damage.
pub const MAX_BLOCK: u32 = 64 * 1024 * 1024;
/// pcap records larger than this are taken for damage, whatever the snaplen says.
pub const MAX_RECORD: u32 = 128 * 1024 * 1024;
/// Decompressed bytes read from one gzip file at most (a "zip bomb" stops here); the
/// analysis passes its `gunzip` limit.
pub const DEFAULT_GZIP_CAP: u64 = 4 * 1024 * 1024 * 1024;
/// Past `gz::RATIO_FLOOR` bytes, decompressed data may grow to this many times the
/// compressed bytes read (the `gunzip-ratio` limit; 0: no check).
pub const DEFAULT_GZIP_RATIO: u64 = 100;
const SHB: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];

/// The input is not a capture at all (raised before any record is read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureError(pub String);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Pcap,
    Pcapng,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Pcap => "pcap",
            Format::Pcapng => "pcapng",
        }
    }
}

/// One packet record; `data` borrows the reader's buffer until the next call.
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    pub frame: u64,
    pub ts: f64,
    pub linktype: u32,
    pub data: &'a [u8],
    pub wirelen: u32,
}

#[derive(Debug, Clone, Copy)]
struct Iface {
    linktype: u32,
    snaplen: u32,
    tsres: f64,
    tsoffset: i64,
}

/// Counts the bytes read from the file itself (compressed bytes for gzip), for progress,
/// and hashes them: the SHA-256 of the file as stored, for the report's chain of custody,
/// without reading the file a second time (on a thread of its own: `HashPipe`).
struct Counting<R> {
    inner: R,
    count: Arc<AtomicU64>,
    /// None: the caller knows the file's hash already
    sha: Option<Arc<Mutex<HashPipe>>>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        if let Some(sha) = &self.sha {
            sha.lock()
                .unwrap_or_else(|e| e.into_inner())
                .update(&buf[..n]);
        }
        Ok(n)
    }
}

/// The file's SHA-256 while it is being read: the hash of what the reader took so far and
/// a second handle on the same open file (sharing its offset), with which the bytes the
/// reader never needed (after damage, a cut record, the gunzip cap, trailing data) are
/// hashed at the end, so the digest is always of the whole file.
struct FileHash {
    sha: Arc<Mutex<HashPipe>>,
    rest: File,
}

impl FileHash {
    /// Hashes what is left of the file; the lower-case hex digest, or None when the file
    /// could not be read to its end.
    fn finish(mut self) -> Option<String> {
        let mut sha = self
            .sha
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .finish()?;
        let mut buf = vec![0u8; 1 << 20];
        loop {
            match self.rest.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => sha.update(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => return None,
            }
        }
        Some(hex(&sha.finalize()))
    }
}

pub struct CaptureReader {
    src: Source,
    pub format: Format,
    pub gzip: bool,
    pub warnings: Vec<String>,
    pub frames: u64,
    pub first_ts: Option<f64>,
    pub last_ts: Option<f64>,
    pub linktypes: BTreeSet<u32>,
    /// file bytes read so far (compressed bytes for gzip)
    pub read_bytes: Arc<AtomicU64>,
    /// what the gzip stream found (integrity problems, caps), reported at the end
    gz: Option<Arc<Mutex<GzState>>>,
    /// the file's hash while it is read (files opened by path)
    hash: Option<FileHash>,
    /// SHA-256 (lower-case hex) of the whole file as stored, once the reader reached its end
    pub sha256: Option<String>,
    done: bool,
    /// bytes of the record handed out last, consumed on the next call
    pending: usize,
    // pcap
    big: bool,
    res: f64,
    limit: u32,
    linktype: u32,
    // pcapng
    ifaces: Vec<Iface>,
    ng_last_ts: f64,
    /// the counters of the last Interface Statistics Block of each interface of the
    /// section being read (by interface id), and the sums of the sections before it
    isb: Vec<IsbCounts>,
    isb_before: IsbCounts,
}

/// Counters of pcapng Interface Statistics Blocks (`isb_ifrecv`, `isb_ifdrop`,
/// `isb_filteraccept`, `isb_osdrop`, `isb_usrdeliv`), each None until a block gave it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IsbCounts(pub [Option<u64>; ISB_COUNTERS]);

/// The ISB options counted (codes 4 to 8 of the pcapng specification), in this order.
pub const ISB_NAMES: [&str; ISB_COUNTERS] =
    ["ifrecv", "ifdrop", "filteraccept", "osdrop", "usrdeliv"];
const ISB_COUNTERS: usize = 5;

impl IsbCounts {
    /// Adds another interface's (or section's) counters (saturating: the values are the
    /// file's to choose).
    fn add(&mut self, other: &IsbCounts) {
        for (a, b) in self.0.iter_mut().zip(other.0) {
            if let Some(b) = b {
                *a = Some(a.unwrap_or(0).saturating_add(b));
            }
        }
    }
}

impl std::fmt::Debug for CaptureReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaptureReader")
            .field("format", &self.format)
            .field("frames", &self.frames)
            .field("warnings", &self.warnings)
            .finish()
    }
}

fn u16_at(b: &[u8], off: usize, big: bool) -> u16 {
    let v = [b[off], b[off + 1]];
    if big {
        u16::from_be_bytes(v)
    } else {
        u16::from_le_bytes(v)
    }
}

fn u32_at(b: &[u8], off: usize, big: bool) -> u32 {
    let v = [b[off], b[off + 1], b[off + 2], b[off + 3]];
    if big {
        u32::from_be_bytes(v)
    } else {
        u32::from_le_bytes(v)
    }
}

fn i64_at(b: &[u8], off: usize, big: bool) -> i64 {
    let mut v = [0u8; 8];
    v.copy_from_slice(&b[off..off + 8]);
    if big {
        i64::from_be_bytes(v)
    } else {
        i64::from_le_bytes(v)
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// How a capture file is hashed as it is read.
#[derive(Clone, Debug)]
pub enum Hashing {
    /// not at all
    Off,
    /// on a thread of its own (`hashing::HashPipe`)
    OwnThread,
    /// on a thread of its own, but on the reading thread while the flag is set: the
    /// reader is ahead of its consumer (`--jobs 2`'s worker waiting for the replay), so a
    /// third busy thread would only take time from the replay
    WhenAhead(Arc<AtomicBool>),
}

impl CaptureReader {
    /// What the pcapng file's Interface Statistics Blocks read so far say, summed over
    /// its interfaces and sections (the last block of each interface); None when no
    /// block gave a counter (a pcap file, or a pcapng writer that keeps none).
    pub fn isb_counts(&self) -> Option<IsbCounts> {
        let mut out = self.isb_before;
        for c in &self.isb {
            out.add(c);
        }
        out.0.iter().any(Option::is_some).then_some(out)
    }

    /// Opens a capture file by path (gzip recognised by its magic, streamed with at most
    /// `gzip_cap` decompressed bytes and the `gzip_ratio` expansion guard); `sha256`
    /// holds the file's hash once it was read to its end.
    pub fn open(
        path: &Path,
        gzip_cap: u64,
        gzip_ratio: u64,
    ) -> Result<CaptureReader, CaptureError> {
        Self::open_hashed(path, gzip_cap, gzip_ratio, Hashing::OwnThread)
    }

    /// `open`, hashing the file as `hash` says (a caller that knows the hash already, or
    /// does not need it, saves the work).
    pub fn open_hashed(
        path: &Path,
        gzip_cap: u64,
        gzip_ratio: u64,
        hash: Hashing,
    ) -> Result<CaptureReader, CaptureError> {
        let shown = path.display().to_string();
        if path.is_dir() {
            return Err(CaptureError(format!(
                "{shown}: is a directory, not a capture file"
            )));
        }
        let mut file = File::open(path).map_err(|e| {
            CaptureError(match e.kind() {
                std::io::ErrorKind::NotFound => format!("{shown}: no such file"),
                std::io::ErrorKind::PermissionDenied => format!("{shown}: permission denied"),
                _ => format!("{shown}: cannot read ({e})"),
            })
        })?;
        let mut head = [0u8; 2];
        let n = read_upto(&mut file, &mut head)
            .map_err(|e| CaptureError(format!("{shown}: cannot read ({e})")))?;
        let count = Arc::new(AtomicU64::new(0));
        let reopened =
            File::open(path).map_err(|e| CaptureError(format!("{shown}: cannot read ({e})")))?;
        let hashing = if !matches!(hash, Hashing::Off) {
            let rest = reopened
                .try_clone()
                .map_err(|e| CaptureError(format!("{shown}: cannot read ({e})")))?;
            Some(FileHash {
                sha: Arc::new(Mutex::new(match hash {
                    Hashing::WhenAhead(ahead) => HashPipe::when_ahead(ahead),
                    _ => HashPipe::new(),
                })),
                rest,
            })
        } else {
            None
        };
        let counting = Counting {
            inner: reopened,
            count: count.clone(),
            sha: hashing.as_ref().map(|h| h.sha.clone()),
        };
        let gzip = n == 2 && head == [0x1f, 0x8b];
        let mut gz = None;
        let rd: Box<dyn Read + Send> = if gzip {
            let (stream, state) = GzStream::new(counting, gzip_cap, gzip_ratio);
            gz = Some(state);
            Box::new(stream)
        } else {
            Box::new(counting)
        };
        let mut r = match CaptureReader::from_source(Source::new(rd), &shown) {
            Ok(r) => r,
            Err(e) => {
                // a gzip problem before the capture header says more than "not a capture"
                let first = gz.as_ref().and_then(|g| {
                    let st = g.lock().unwrap_or_else(|e| e.into_inner());
                    st.problems.first().cloned()
                });
                return Err(match first {
                    Some(p) => CaptureError(format!("{shown}: {p}")),
                    None => e,
                });
            }
        };
        r.gzip = gzip;
        r.gz = gz;
        r.read_bytes = count;
        r.hash = hashing;
        Ok(r)
    }

    /// Reads the file header from any stream; `shown` names it in errors.
    pub fn from_source(mut src: Source, shown: &str) -> Result<CaptureReader, CaptureError> {
        let avail = src.fill(24);
        if avail == 0 {
            return Err(CaptureError(format!("{shown}: empty file, not a capture")));
        }
        let b = src.bytes();
        let magic = &b[..avail.min(4)];
        let (format, big, res) = match magic {
            [0xd4, 0xc3, 0xb2, 0xa1] => (Format::Pcap, false, 1e-6),
            [0xa1, 0xb2, 0xc3, 0xd4] => (Format::Pcap, true, 1e-6),
            [0x4d, 0x3c, 0xb2, 0xa1] => (Format::Pcap, false, 1e-9),
            [0xa1, 0xb2, 0x3c, 0x4d] => (Format::Pcap, true, 1e-9),
            [0x0a, 0x0d, 0x0d, 0x0a] => (Format::Pcapng, false, 1e-6),
            _ => {
                return Err(CaptureError(format!(
                    "{shown}: not a pcap or pcapng capture (unknown magic {})",
                    hex(magic)
                )))
            }
        };
        let mut r = CaptureReader {
            src,
            format,
            gzip: false,
            warnings: Vec::new(),
            frames: 0,
            first_ts: None,
            last_ts: None,
            linktypes: BTreeSet::new(),
            read_bytes: Arc::new(AtomicU64::new(0)),
            gz: None,
            hash: None,
            sha256: None,
            done: false,
            pending: 0,
            big,
            res,
            limit: 0,
            linktype: 0,
            ifaces: Vec::new(),
            ng_last_ts: 0.0,
            isb: Vec::new(),
            isb_before: IsbCounts::default(),
        };
        match format {
            Format::Pcap => {
                if avail < 24 {
                    return Err(CaptureError(format!("{shown}: pcap header cut short")));
                }
                let b = r.src.bytes();
                let snaplen = u32_at(b, 16, big);
                let network = u32_at(b, 20, big) & 0xFFFF; // upper bits may carry FCS facts
                r.linktype = network;
                r.limit = snaplen.clamp(1 << 20, MAX_RECORD);
                r.linktypes.insert(network);
                r.src.consume(24);
            }
            Format::Pcapng => {
                if avail < 12 {
                    return Err(CaptureError(format!("{shown}: pcapng header cut short")));
                }
                let bom = &r.src.bytes()[8..12];
                if bom != [0x4d, 0x3c, 0x2b, 0x1a] && bom != [0x1a, 0x2b, 0x3c, 0x4d] {
                    return Err(CaptureError(format!(
                        "{shown}: pcapng byte-order magic is wrong"
                    )));
                }
            }
        }
        Ok(r)
    }

    fn warn(&mut self, msg: String) {
        if !self.warnings.contains(&msg) {
            self.warnings.push(msg);
        }
    }

    /// A record cut short: said, unless the gunzip cap cut it (that has its own warning).
    fn cut(&mut self, msg: String) {
        if !self.gz_state().is_some_and(|st| st.capped) {
            self.warn(msg);
        }
    }

    fn gz_state(&self) -> Option<std::sync::MutexGuard<'_, GzState>> {
        self.gz
            .as_ref()
            .map(|g| g.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn finish(&mut self) {
        self.done = true;
        if let Some(h) = self.hash.take() {
            self.sha256 = h.finish();
        }
        if let Some(err) = self.src.error.take() {
            let at = self.src.offset();
            let what = if self.gzip { "gzip data" } else { "file" };
            self.warn(format!(
                "{what} unreadable after byte {at} ({err}); analysed up to it"
            ));
        }
        let problems = self
            .gz_state()
            .map(|st| st.problems.clone())
            .unwrap_or_default();
        for p in problems {
            self.warn(p);
        }
        match self.format {
            Format::Pcap => {}
            Format::Pcapng => {
                self.last_ts = if self.frames > 0 {
                    Some(self.ng_last_ts)
                } else {
                    None
                };
            }
        }
    }

    /// The next record, or None at the end (or at damage, with a warning).
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Option<Record<'_>> {
        if self.done {
            return None;
        }
        self.src.consume(self.pending);
        self.pending = 0;
        let got = match self.format {
            Format::Pcap => self.next_pcap(),
            Format::Pcapng => self.next_pcapng(),
        };
        match got {
            Some((start, len, ts, linktype, wirelen)) => Some(Record {
                frame: self.frames,
                ts,
                linktype,
                data: &self.src.bytes()[start..start + len],
                wirelen,
            }),
            None => {
                self.finish();
                None
            }
        }
    }

    /// Reads one pcap record: (start in buffer, length, ts, linktype, wirelen).
    fn next_pcap(&mut self) -> Option<(usize, usize, f64, u32, u32)> {
        let avail = self.src.fill(16);
        if avail == 0 {
            return None;
        }
        let frame = self.frames;
        if avail < 16 {
            self.cut(format!(
                "truncated record header after frame {frame}; analysed up to the cut"
            ));
            return None;
        }
        let b = self.src.bytes();
        let big = self.big;
        let sec = u32_at(b, 0, big);
        let frac = u32_at(b, 4, big);
        let incl = u32_at(b, 8, big);
        let orig = u32_at(b, 12, big);
        if incl > self.limit {
            self.warn(format!(
                "corrupt record after frame {frame} (length {incl}); analysed up to it"
            ));
            return None;
        }
        let need = 16 + incl as usize;
        if self.src.fill(need) < need {
            self.cut(format!(
                "truncated last record (frame {}); analysed up to the cut",
                frame + 1
            ));
            return None;
        }
        self.pending = need; // consumed on the next call: the record is handed out first
        self.frames += 1;
        let ts = sec as f64 + frac as f64 * self.res;
        if self.first_ts.is_none() {
            self.first_ts = Some(ts);
        }
        self.last_ts = Some(ts);
        Some((16, incl as usize, ts, self.linktype, orig))
    }

    fn next_pcapng(&mut self) -> Option<(usize, usize, f64, u32, u32)> {
        loop {
            let avail = self.src.fill(12);
            if avail == 0 {
                return None;
            }
            let frame = self.frames;
            if avail < 12 {
                self.cut(format!(
                    "truncated block after frame {frame}; analysed up to the cut"
                ));
                return None;
            }
            let b = self.src.bytes();
            if b[..4] == SHB {
                match &b[8..12] {
                    [0x4d, 0x3c, 0x2b, 0x1a] => self.big = false,
                    [0x1a, 0x2b, 0x3c, 0x4d] => self.big = true,
                    _ => {
                        self.warn(format!(
                            "corrupt section header after frame {frame}; analysed up to it"
                        ));
                        return None;
                    }
                }
                self.ifaces.clear();
                // a new section numbers its interfaces from 0 again
                for c in std::mem::take(&mut self.isb) {
                    self.isb_before.add(&c);
                }
            }
            let big = self.big;
            let btype = u32_at(b, 0, big);
            let blen = u32_at(b, 4, big);
            if blen < 12 || !blen.is_multiple_of(4) || blen > MAX_BLOCK {
                self.warn(format!(
                    "corrupt block after frame {frame} (length {blen}); analysed up to it"
                ));
                return None;
            }
            let blen = blen as usize;
            if self.src.fill(blen) < blen {
                self.cut(format!(
                    "truncated last block (after frame {frame}); analysed up to the cut"
                ));
                return None;
            }
            let b = &self.src.bytes()[..blen];
            if u32_at(b, blen - 4, big) as usize != blen {
                self.warn(format!(
                    "corrupt block after frame {frame} (length mismatch); analysed up to it"
                ));
                return None;
            }
            let end = blen - 4; // the trailer
            match btype {
                6 | 2 => {
                    // Enhanced Packet Block, obsolete Packet Block: 20 bytes of fields
                    if 8 + 20 > end {
                        self.warn(format!(
                            "corrupt packet block at frame {}; analysed up to it",
                            frame + 1
                        ));
                        return None;
                    }
                    let (iid, hi, lo, cap, orig) = if btype == 6 {
                        (
                            u32_at(b, 8, big) as usize,
                            u32_at(b, 12, big),
                            u32_at(b, 16, big),
                            u32_at(b, 20, big) as usize,
                            u32_at(b, 24, big),
                        )
                    } else {
                        (
                            u16_at(b, 8, big) as usize,
                            u32_at(b, 12, big),
                            u32_at(b, 16, big),
                            u32_at(b, 20, big) as usize,
                            u32_at(b, 24, big),
                        )
                    };
                    if iid >= self.ifaces.len() || 28 + cap > end {
                        self.warn(format!(
                            "corrupt packet block at frame {}; analysed up to it",
                            frame + 1
                        ));
                        return None;
                    }
                    let itf = self.ifaces[iid];
                    let raw = ((hi as u64) << 32) | lo as u64;
                    let ts = raw as f64 * itf.tsres + itf.tsoffset as f64;
                    self.frames += 1;
                    self.ng_last_ts = ts;
                    if self.first_ts.is_none() {
                        self.first_ts = Some(ts);
                    }
                    self.pending = blen;
                    return Some((28, cap, ts, itf.linktype, orig));
                }
                3 => {
                    // Simple Packet Block: the first interface, no timestamp of its own
                    let Some(itf) = self.ifaces.first().copied() else {
                        self.warn(
                            "simple packet block before any interface; analysed up to it"
                                .to_string(),
                        );
                        return None;
                    };
                    let orig = u32_at(b, 8, big);
                    let avail = end.saturating_sub(12);
                    let mut cap = (orig as usize).min(avail);
                    if itf.snaplen != 0 {
                        cap = cap.min(itf.snaplen as usize);
                    }
                    self.frames += 1;
                    let ts = self.ng_last_ts;
                    self.pending = blen;
                    return Some((12, cap, ts, itf.linktype, orig));
                }
                1 => {
                    let itf = parse_idb(b, end, big);
                    self.linktypes.insert(itf.linktype);
                    self.ifaces.push(itf);
                }
                5 => {
                    // Interface Statistics Block: its counters hold since the capture began
                    // (the last block of an interface says it all)
                    let iid = if 12 <= end {
                        u32_at(b, 8, big) as usize
                    } else {
                        usize::MAX
                    };
                    if iid < self.ifaces.len() {
                        let counts = parse_isb(b, end, big);
                        if self.isb.len() <= iid {
                            self.isb.resize(iid + 1, IsbCounts::default());
                        }
                        let kept = &mut self.isb[iid].0;
                        for (k, v) in kept.iter_mut().zip(counts.0) {
                            if v.is_some() {
                                *k = v;
                            }
                        }
                    }
                }
                _ => {}
            }
            self.src.consume(blen);
        }
    }
}

fn read_upto(f: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// The counters an Interface Statistics Block gives (its options 4 to 8, 64 bits each).
fn parse_isb(b: &[u8], end: usize, big: bool) -> IsbCounts {
    let mut out = IsbCounts::default();
    let mut opt = 20; // after the interface id and the timestamp
    while opt + 4 <= end {
        let code = u16_at(b, opt, big) as usize;
        let olen = u16_at(b, opt + 2, big) as usize;
        if code == 0 {
            break;
        }
        let val = opt + 4;
        if (4..4 + ISB_COUNTERS).contains(&code) && olen >= 8 && val + 8 <= end {
            out.0[code - 4] = Some(i64_at(b, val, big) as u64);
        }
        opt = val + ((olen + 3) & !3);
    }
    out
}

/// Interface Description Block: link type, snaplen, `if_tsresol` (9), `if_tsoffset` (14).
fn parse_idb(b: &[u8], end: usize, big: bool) -> Iface {
    let mut itf = Iface {
        linktype: 0,
        snaplen: 0,
        tsres: 1e-6,
        tsoffset: 0,
    };
    if 16 <= end {
        itf.linktype = u16_at(b, 8, big) as u32;
        itf.snaplen = u32_at(b, 12, big);
    }
    let mut opt = 16;
    while opt + 4 <= end {
        let code = u16_at(b, opt, big);
        let olen = u16_at(b, opt + 2, big) as usize;
        if code == 0 {
            break;
        }
        let val = opt + 4;
        if code == 9 && olen >= 1 && val < end {
            let r = b[val];
            itf.tsres = if r & 0x80 != 0 {
                2f64.powf(-((r & 0x7F) as f64))
            } else {
                10f64.powf(-(r as f64))
            };
        } else if code == 14 && olen >= 8 && val + 8 <= end {
            itf.tsoffset = i64_at(b, val, big);
        }
        opt = val + ((olen + 3) & !3);
    }
    itf
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader(bytes: Vec<u8>) -> Result<CaptureReader, CaptureError> {
        CaptureReader::from_source(Source::new(Box::new(std::io::Cursor::new(bytes))), "t")
    }

    fn all(r: &mut CaptureReader) -> Vec<(u64, f64, u32, Vec<u8>, u32)> {
        let mut v = Vec::new();
        while let Some(rec) = r.next() {
            v.push((
                rec.frame,
                rec.ts,
                rec.linktype,
                rec.data.to_vec(),
                rec.wirelen,
            ));
        }
        v
    }

    fn pcap(big: bool, nano: bool, recs: &[(u32, u32, &[u8])]) -> Vec<u8> {
        let w32 = |v: u32| u32_bytes(big, v);
        let w16 = |v: u16| u16_bytes(big, v);
        let mut out = Vec::new();
        out.extend(w32(if nano { 0xa1b2_3c4d } else { 0xa1b2_c3d4 }));
        out.extend(w16(2));
        out.extend(w16(4));
        out.extend(w32(0));
        out.extend(w32(0));
        out.extend(w32(65535));
        out.extend(w32(1));
        for (sec, frac, data) in recs {
            out.extend(w32(*sec));
            out.extend(w32(*frac));
            out.extend(w32(data.len() as u32));
            out.extend(w32(data.len() as u32 + 4));
            out.extend(*data);
        }
        out
    }

    fn block(big: bool, btype: u32, body: &[u8]) -> Vec<u8> {
        let w32 = |v: u32| u32_bytes(big, v);
        let mut body = body.to_vec();
        while !body.len().is_multiple_of(4) {
            body.push(0);
        }
        let n = body.len() as u32 + 12;
        let mut out = w32(btype).to_vec();
        out.extend(w32(n));
        out.extend(body);
        out.extend(w32(n));
        out
    }

    fn pcapng(big: bool) -> Vec<u8> {
        let w32 = |v: u32| u32_bytes(big, v);
        let w16 = |v: u16| u16_bytes(big, v);
        let mut shb = w32(0x1a2b_3c4d).to_vec();
        shb.extend(w16(1));
        shb.extend(w16(0));
        shb.extend([0xff; 8]);
        let mut out = block(big, 0x0a0d_0d0a, &shb);
        // interface 0: Ethernet, µs; interface 1: raw IP, ns, offset 10 s
        let mut idb0 = w16(1).to_vec();
        idb0.extend(w16(0));
        idb0.extend(w32(0));
        out.extend(block(big, 1, &idb0));
        let mut idb1 = w16(101).to_vec();
        idb1.extend(w16(0));
        idb1.extend(w32(0));
        idb1.extend(w16(9));
        idb1.extend(w16(1));
        idb1.extend([9, 0, 0, 0]);
        idb1.extend(w16(14));
        idb1.extend(w16(8));
        idb1.extend(if big {
            10i64.to_be_bytes()
        } else {
            10i64.to_le_bytes()
        });
        idb1.extend([0, 0, 0, 0]);
        out.extend(block(big, 1, &idb1));
        let epb = |iid: u32, ticks: u64, data: &[u8]| {
            let mut b = w32(iid).to_vec();
            b.extend(w32((ticks >> 32) as u32));
            b.extend(w32(ticks as u32));
            b.extend(w32(data.len() as u32));
            b.extend(w32(data.len() as u32 + 1));
            b.extend(data);
            block(big, 6, &b)
        };
        out.extend(epb(0, 1_700_000_000_000_000, b"abcdef"));
        out.extend(epb(1, 1_700_000_001_000_000_000, b"\x45xyz"));
        let mut spb = w32(3).to_vec();
        spb.extend(b"spb");
        out.extend(block(big, 3, &spb));
        // obsolete packet block: u16 interface, u16 drops
        let mut pb = w16(0).to_vec();
        pb.extend(w16(0));
        pb.extend(w32(0));
        pb.extend(w32(5));
        pb.extend(w32(2));
        pb.extend(w32(2));
        pb.extend(b"pb");
        out.extend(block(big, 2, &pb));
        out.extend(block(big, 5, b"statistics")); // unknown blocks are skipped
        out
    }

    #[test]
    fn pcap_both_orders_and_resolutions() {
        for big in [false, true] {
            for nano in [false, true] {
                let bytes = pcap(big, nano, &[(1, 500, b"abc"), (2, 0, b"")]);
                let mut r = reader(bytes).unwrap();
                let v = all(&mut r);
                let res = if nano { 1e-9 } else { 1e-6 };
                assert_eq!(v.len(), 2);
                assert_eq!(v[0], (1, 1.0 + 500.0 * res, 1, b"abc".to_vec(), 7));
                assert_eq!(v[1].0, 2);
                assert!(r.warnings.is_empty());
                assert_eq!(r.last_ts, Some(2.0));
            }
        }
    }

    #[test]
    fn pcap_cut_and_corrupt() {
        let bytes = pcap(false, false, &[(1, 0, b"abcdef"), (2, 0, b"ghijkl")]);
        let mut r = reader(bytes[..bytes.len() - 2].to_vec()).unwrap();
        assert_eq!(all(&mut r).len(), 1);
        assert_eq!(
            r.warnings,
            vec!["truncated last record (frame 2); analysed up to the cut".to_string()]
        );
        let mut r = reader(bytes[..24 + 22 + 5].to_vec()).unwrap();
        assert_eq!(all(&mut r).len(), 1);
        assert!(r.warnings[0].starts_with("truncated record header after frame 1"));
        let mut bad = bytes.clone();
        bad[24 + 22 + 8..24 + 22 + 12].copy_from_slice(&0x7fff_ffffu32.to_le_bytes());
        let mut r = reader(bad).unwrap();
        assert_eq!(all(&mut r).len(), 1);
        assert!(r.warnings[0].starts_with("corrupt record after frame 1 (length 2147483647)"));
    }

    fn u32_bytes(big: bool, v: u32) -> [u8; 4] {
        if big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }

    fn u16_bytes(big: bool, v: u16) -> [u8; 2] {
        if big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }

    /// An Interface Statistics Block of interface `iid` with 64-bit `counters` (code, value).
    fn isb(big: bool, iid: u32, counters: &[(u16, u64)]) -> Vec<u8> {
        let mut b = Vec::new();
        let w32 = |v: u32| u32_bytes(big, v);
        let w16 = |v: u16| u16_bytes(big, v);
        b.extend(w32(iid));
        b.extend(w32(0));
        b.extend(w32(0));
        for &(code, v) in counters {
            b.extend(w16(code));
            b.extend(w16(8));
            b.extend(if big {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            });
        }
        b.extend([0, 0, 0, 0]); // opt_endofopt
        block(big, 5, &b)
    }

    #[test]
    fn interface_statistics_are_summed_over_interfaces_and_sections() {
        for big in [false, true] {
            let mut bytes = pcapng(big);
            // interface 0 twice (its last block holds), interface 1 once; one block of an
            // interface the section does not have (ignored); a counter cut short (ignored)
            bytes.extend(isb(big, 0, &[(4, 10), (5, 1)]));
            bytes.extend(isb(big, 1, &[(4, 7), (7, 2), (8, 5)]));
            bytes.extend(isb(big, 0, &[(4, 12), (5, 3)]));
            bytes.extend(isb(big, 9, &[(4, 1000), (5, 1000)]));
            let mut cut = isb(big, 1, &[(6, 1)]);
            cut[20 + 2..20 + 4].copy_from_slice(&if big { [0, 4] } else { [4, 0] });
            bytes.extend(cut);
            // a second section: its interface 0 is another interface
            let second = pcapng(big);
            bytes.extend(second);
            bytes.extend(isb(big, 0, &[(4, 100), (7, u64::MAX)]));
            let mut r = reader(bytes).unwrap();
            let before = all(&mut r).len();
            assert_eq!(before, 8);
            let got = r.isb_counts().unwrap();
            assert_eq!(
                got.0,
                [Some(12 + 7 + 100), Some(3), None, Some(u64::MAX), Some(5)]
            );
            // a file without statistics: none
            let mut r = reader(pcap(big, false, &[(1, 0, b"abc")])).unwrap();
            all(&mut r);
            assert_eq!(r.isb_counts(), None);
        }
    }

    #[test]
    fn pcapng_blocks_interfaces_and_options() {
        for big in [false, true] {
            let mut r = reader(pcapng(big)).unwrap();
            let v = all(&mut r);
            assert!(r.warnings.is_empty(), "{:?}", r.warnings);
            assert_eq!(v.iter().map(|x| x.0).collect::<Vec<_>>(), vec![1, 2, 3, 4]);
            assert_eq!(
                v.iter().map(|x| x.2).collect::<Vec<_>>(),
                vec![1, 101, 1, 1]
            );
            assert_eq!(v[0].1, 1_700_000_000.0);
            assert_eq!(v[1].1, 1_700_000_011.0); // ns resolution plus the 10 s offset
            assert_eq!(v[2].3, b"spb".to_vec());
            assert_eq!(v[2].1, v[1].1); // a simple packet block has no time of its own
            assert_eq!((v[3].3.clone(), v[3].4), (b"pb".to_vec(), 2));
            assert_eq!(
                r.linktypes.iter().copied().collect::<Vec<_>>(),
                vec![1, 101]
            );
            assert_eq!(r.format, Format::Pcapng);
        }
        // two sections: interfaces restart
        let mut two = pcapng(false);
        two.extend(pcapng(true));
        let mut r = reader(two).unwrap();
        assert_eq!(all(&mut r).len(), 8);
    }

    #[test]
    fn pcapng_damage() {
        let good = pcapng(false);
        let mut bad = good.clone();
        let n = bad.len();
        bad[n - 4..].copy_from_slice(&1u32.to_le_bytes());
        let mut r = reader(bad).unwrap();
        assert_eq!(all(&mut r).len(), 4);
        assert_eq!(
            r.warnings,
            vec!["corrupt block after frame 4 (length mismatch); analysed up to it".to_string()]
        );
        let mut r = reader(good[..good.len() - 7].to_vec()).unwrap();
        all(&mut r);
        assert!(r.warnings[0].starts_with("truncated last block (after frame 4)"));
        // a packet block naming an interface that does not exist
        let mut r = reader(
            [
                &good[..28],
                &block(
                    false,
                    6,
                    &[7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
                )[..],
            ]
            .concat(),
        )
        .unwrap();
        assert_eq!(all(&mut r).len(), 0);
        assert!(r.warnings[0].starts_with("corrupt packet block at frame 1"));
    }

    /// A file under the system's temporary directory, removed when dropped.
    struct TempFile(std::path::PathBuf);

    impl TempFile {
        fn new(name: &str, bytes: &[u8]) -> TempFile {
            static SEQ: AtomicU64 = AtomicU64::new(0);
            let n = SEQ.fetch_add(1, Ordering::Relaxed);
            let path = std::env::temp_dir()
                .join(format!("netscan-core-{}-{n}-{name}", std::process::id()));
            std::fs::write(&path, bytes).unwrap();
            TempFile(path)
        }
    }

    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
        std::io::Write::write_all(&mut e, data).unwrap();
        e.finish().unwrap()
    }

    use sha2::Sha256;

    fn sha_hex(bytes: &[u8]) -> String {
        hex(&Sha256::digest(bytes))
    }

    /// Reads the file to its end through `open`; (records, warnings, sha256). The hash on
    /// the reading thread while it is ahead (`--jobs 2`'s worker), and with the flag that
    /// says so never set, must give the same answer.
    fn hashed(bytes: &[u8], cap: u64) -> (usize, Vec<String>, Option<String>) {
        let f = TempFile::new("cap", bytes);
        let mut r = CaptureReader::open(&f.0, cap, DEFAULT_GZIP_RATIO).unwrap();
        assert_eq!(r.sha256, None); // only known once the file was read to its end
        let n = all(&mut r).len();
        assert!(r.next().is_none());
        for ahead in [true, false] {
            let how = Hashing::WhenAhead(Arc::new(AtomicBool::new(ahead)));
            let mut other = CaptureReader::open_hashed(&f.0, cap, DEFAULT_GZIP_RATIO, how).unwrap();
            assert_eq!(all(&mut other).len(), n);
            assert_eq!(other.sha256, r.sha256);
        }
        (n, r.warnings.clone(), r.sha256.clone())
    }

    #[test]
    fn sha256_is_the_standard_digest() {
        // FIPS 180-2 test vectors: the hex text is what hashlib.sha256().hexdigest() gives
        assert_eq!(
            sha_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            sha_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn sha256_of_whole_files_as_stored() {
        let payload: Vec<u8> = (0..5000u32).map(|i| (i * 7 % 251) as u8).collect();
        let recs: Vec<(u32, u32, &[u8])> = (0..600).map(|i| (i, 0, &payload[..])).collect();
        let big = pcap(false, false, &recs); // 2 MB: several read chunks
        assert!(big.len() > 2 * (1 << 20));
        for bytes in [big.clone(), pcapng(false), pcapng(true)] {
            let (n, warnings, sha) = hashed(&bytes, DEFAULT_GZIP_CAP);
            assert!(n > 0 && warnings.is_empty(), "{warnings:?}");
            assert_eq!(sha.as_deref(), Some(sha_hex(&bytes).as_str()));
        }
        // gzip: the digest of the compressed file, as stored
        let gz = gzip(&big);
        let (n, warnings, sha) = hashed(&gz, DEFAULT_GZIP_CAP);
        assert_eq!((n, warnings.len()), (600, 0));
        assert_eq!(sha.as_deref(), Some(sha_hex(&gz).as_str()));
        assert_ne!(sha.as_deref(), Some(sha_hex(&big).as_str()));
    }

    #[test]
    fn no_hash_when_not_asked_for() {
        let bytes = pcap(false, false, &[(1, 0, b"abc"), (2, 0, b"def")]);
        let f = TempFile::new("nohash", &bytes);
        let mut r =
            CaptureReader::open_hashed(&f.0, DEFAULT_GZIP_CAP, DEFAULT_GZIP_RATIO, Hashing::Off)
                .unwrap();
        assert_eq!(all(&mut r).len(), 2);
        assert_eq!(r.sha256, None);
        assert_eq!(r.read_bytes.load(Ordering::Relaxed), bytes.len() as u64);
    }

    #[test]
    fn sha256_covers_what_the_reader_left_unread() {
        let payload = [0x5au8; 3000];
        let recs: Vec<(u32, u32, &[u8])> = (0..1000).map(|i| (i, 0, &payload[..])).collect();
        let good = pcap(false, false, &recs);
        let check = |bytes: &[u8], cap: u64| {
            let (n, warnings, sha) = hashed(bytes, cap);
            assert_eq!(
                sha.as_deref(),
                Some(sha_hex(bytes).as_str()),
                "{warnings:?}"
            );
            (n, warnings)
        };
        // cut in the middle of a record: hashed whole all the same
        let (n, w) = check(&good[..good.len() / 2], DEFAULT_GZIP_CAP);
        assert!(n < 1000 && w[0].starts_with("truncated last record"));
        // damaged in the first record: the reader stops at once, the hash reads on
        let mut bad = good.clone();
        bad[24 + 8..24 + 12].copy_from_slice(&0x7fff_ffffu32.to_le_bytes());
        let (n, w) = check(&bad, DEFAULT_GZIP_CAP);
        assert!(n == 0 && w[0].starts_with("corrupt record"));
        // pcapng damaged after its first block, with megabytes after the damage
        let mut ng = pcapng(false);
        let shb_len = 28;
        ng[shb_len + 4..shb_len + 8].copy_from_slice(&3u32.to_le_bytes());
        ng.extend(std::iter::repeat_n(0xabu8, 3 << 20));
        let (_, w) = check(&ng, DEFAULT_GZIP_CAP);
        assert!(w[0].starts_with("corrupt block"), "{w:?}");
        // gzip cut in the middle, gzip with trailing garbage, gzip stopped by the cap
        let gz = gzip(&good);
        let (_, w) = check(&gz[..gz.len() / 2], DEFAULT_GZIP_CAP);
        assert!(!w.is_empty());
        let mut trailing = gz.clone();
        trailing.extend(b"not gzip at all, and then some more bytes".repeat(1000));
        check(&trailing, DEFAULT_GZIP_CAP);
        let (n, w) = check(&gz, 100_000);
        assert!(n < 1000 && w.iter().any(|x| x.contains("gunzip")), "{w:?}");
    }

    #[test]
    fn not_captures() {
        assert!(reader(vec![]).unwrap_err().0.contains("empty file"));
        assert!(reader(b"hello".to_vec())
            .unwrap_err()
            .0
            .contains("unknown magic 68656c6c"));
        assert!(reader(vec![0xd4, 0xc3, 0xb2, 0xa1, 2])
            .unwrap_err()
            .0
            .contains("cut short"));
        let mut ng = pcapng(false);
        ng[8] = 0;
        assert!(reader(ng).unwrap_err().0.contains("byte-order magic"));
    }
}
