//! The SHA-256 of a file as it is read, computed on a thread of its own.
//!
//! Hashing a capture costs about as much as decoding it (a fifth of the core's time on a
//! large file, even with the CPU's SHA instructions), so the reader hands copies of the
//! blocks it reads to a hashing thread instead of hashing them in line: the digest is of
//! exactly the same bytes in the same order. At most [`IN_FLIGHT`] blocks wait for the
//! hasher (the reader waits for it beyond that), so memory stays bounded whatever the file.
//! Where no thread can be started the blocks are hashed in line, as before.
//!
//! A reader that is often idle (`--jobs 2`'s worker, waiting for the replay to catch up)
//! can hash in line while it is ahead and hand the blocks to the thread while it is
//! behind (`HashPipe::when_ahead`): on two cores a third busy thread takes time from the
//! replay, yet on traffic the core is slowest at, the reader is the one to spare. The
//! state is one: a block is hashed in line only once the thread has hashed every block
//! sent to it, so the order never changes.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use sha2::{Digest, Sha256};

/// Blocks copied for the hasher and not yet hashed, at most (the reader's blocks are
/// up to a megabyte each).
const IN_FLIGHT: usize = 3;

enum Mode {
    Inline(Sha256),
    Thread {
        /// blocks to hash (None once finished)
        to_hash: Option<SyncSender<Vec<u8>>>,
        /// hashed blocks back, for reuse
        spare: Receiver<Vec<u8>>,
        /// blocks made so far (at most `IN_FLIGHT`)
        made: usize,
        worker: Option<JoinHandle<()>>,
        /// the one running state, updated by the thread and (`when_ahead`) in line
        state: Arc<Mutex<Sha256>>,
        /// blocks sent to the thread and not hashed yet
        pending: Arc<AtomicUsize>,
        /// set while the reader is ahead: it hashes in line (when nothing is pending)
        ahead: Option<Arc<AtomicBool>>,
    },
    Done,
}

/// A running SHA-256 that takes the blocks of a stream in order.
pub struct HashPipe {
    mode: Mode,
    /// the process that started the hashing thread: a forked child has no such thread
    /// (it would wait for it forever), so there the hash is given up (no digest)
    pid: u32,
}

impl HashPipe {
    /// A hash on a thread of its own (in line if no thread can be started).
    pub fn new() -> HashPipe {
        Self::threaded(None)
    }

    /// A hash on a thread of its own, but computed in line while `ahead` is set (the
    /// reader has time to spare).
    pub fn when_ahead(ahead: Arc<AtomicBool>) -> HashPipe {
        Self::threaded(Some(ahead))
    }

    fn threaded(ahead: Option<Arc<AtomicBool>>) -> HashPipe {
        let (to_hash, blocks) = sync_channel::<Vec<u8>>(IN_FLIGHT);
        let (give_back, spare) = sync_channel::<Vec<u8>>(IN_FLIGHT);
        let state = Arc::new(Mutex::new(Sha256::new()));
        let pending = Arc::new(AtomicUsize::new(0));
        let (st, left) = (Arc::clone(&state), Arc::clone(&pending));
        let worker = std::thread::Builder::new()
            .name("netscan-sha256".into())
            .spawn(move || {
                for block in blocks.iter() {
                    match st.lock() {
                        Ok(mut sha) => sha.update(&block),
                        Err(_) => return, // a panic while hashing: the reader sees it
                    }
                    // counted down once hashed (and the state let go): a block the
                    // reader hashes in line after this comes after this one
                    left.fetch_sub(1, Ordering::AcqRel);
                    // the reader may be gone (or have enough): then the block is dropped
                    let _ = give_back.try_send(block);
                }
            });
        match worker {
            Ok(worker) => HashPipe {
                mode: Mode::Thread {
                    to_hash: Some(to_hash),
                    spare,
                    made: 0,
                    worker: Some(worker),
                    state,
                    pending,
                    ahead,
                },
                pid: std::process::id(),
            },
            Err(_) => HashPipe::inline(),
        }
    }

    /// A hash computed in line, on the caller's thread.
    pub fn inline() -> HashPipe {
        HashPipe {
            mode: Mode::Inline(Sha256::new()),
            pid: std::process::id(),
        }
    }

    /// Hashes `data` next (after everything given before).
    pub fn update(&mut self, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        self.check_process();
        let lost = match &mut self.mode {
            Mode::Inline(sha) => {
                sha.update(data);
                return;
            }
            Mode::Done => return,
            Mode::Thread {
                to_hash,
                spare,
                made,
                state,
                pending,
                ahead,
                ..
            } => {
                let Some(tx) = to_hash else { return };
                let in_line = ahead.as_ref().is_some_and(|a| a.load(Ordering::Relaxed))
                    && pending.load(Ordering::Acquire) == 0;
                if in_line {
                    match state.lock() {
                        Ok(mut sha) => {
                            sha.update(data);
                            return;
                        }
                        Err(_) => true,
                    }
                } else {
                    let mut block = match spare.try_recv() {
                        Ok(b) => b,
                        Err(_) if *made < IN_FLIGHT => {
                            *made += 1;
                            Vec::new()
                        }
                        // every block is with the hasher: wait for one (a block made here
                        // if the hasher is gone: the send below then says so)
                        Err(_) => spare.recv().unwrap_or_default(),
                    };
                    block.clear();
                    block.extend_from_slice(data);
                    pending.fetch_add(1, Ordering::AcqRel);
                    tx.send(block).is_err()
                }
            }
        };
        if lost {
            // the hashing thread is gone (it cannot be, short of a panic in the hash):
            // no digest rather than a wrong one
            self.mode = Mode::Done;
        }
    }

    /// The state after every block given so far (None if the hasher failed); the pipe is
    /// spent afterwards.
    pub fn finish(&mut self) -> Option<Sha256> {
        self.check_process();
        match std::mem::replace(&mut self.mode, Mode::Done) {
            Mode::Inline(sha) => Some(sha),
            Mode::Done => None,
            Mode::Thread {
                mut to_hash,
                mut worker,
                state,
                pending,
                ..
            } => {
                // the hasher ends once it has hashed every block sent
                drop(to_hash.take());
                worker.take()?.join().ok()?;
                if pending.load(Ordering::Acquire) != 0 {
                    return None; // it stopped short (a panic while hashing)
                }
                let sha = state.lock().ok()?.clone();
                Some(sha)
            }
        }
    }
}

impl HashPipe {
    /// In a forked child the hashing thread is not there: no digest (the child's reads
    /// go on unhashed rather than waiting for a thread that does not exist).
    fn check_process(&mut self) {
        if matches!(self.mode, Mode::Thread { .. }) && std::process::id() != self.pid {
            if let Mode::Thread { worker, .. } = &mut self.mode {
                // not ours to join: the handle is let go without waiting
                drop(worker.take());
            }
            self.mode = Mode::Done;
        }
    }
}

impl Default for HashPipe {
    fn default() -> Self {
        HashPipe::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(mut p: HashPipe, blocks: &[&[u8]]) -> Vec<u8> {
        for b in blocks {
            p.update(b);
        }
        p.finish().unwrap().finalize().to_vec()
    }

    #[test]
    fn same_digest_threaded_or_inline() {
        let data: Vec<u8> = (0..5_000_000u32).map(|i| (i * 31 % 253) as u8).collect();
        let blocks: Vec<&[u8]> = data.chunks(999_983).chain([&[][..], &data[..7]]).collect();
        let mut all = data.clone();
        all.extend_from_slice(&data[..7]);
        let want = Sha256::digest(&all).to_vec();
        assert_eq!(digest(HashPipe::new(), &blocks), want);
        assert_eq!(digest(HashPipe::inline(), &blocks), want);
        // many small blocks: the reader waits for the hasher, nothing is lost or reordered
        let small: Vec<&[u8]> = data.chunks(17).collect();
        assert_eq!(
            digest(HashPipe::new(), &small),
            Sha256::digest(&data).to_vec()
        );
        assert_eq!(digest(HashPipe::new(), &[]), Sha256::digest(b"").to_vec());
    }

    #[test]
    fn same_digest_when_the_reader_hashes_while_ahead() {
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i * 17 % 251) as u8).collect();
        let want = Sha256::digest(&data).to_vec();
        for size in [999_983usize, 4096, 17] {
            // the flag switched between blocks in a fixed pattern
            let ahead = Arc::new(AtomicBool::new(false));
            let mut p = HashPipe::when_ahead(Arc::clone(&ahead));
            for (i, b) in data.chunks(size).enumerate() {
                ahead.store(i % 3 != 1, Ordering::Relaxed);
                p.update(b);
            }
            assert_eq!(p.finish().unwrap().finalize().to_vec(), want, "{size}");
            // and by another thread at any moment, as the pipeline's worker does
            let ahead = Arc::new(AtomicBool::new(false));
            let stop = Arc::new(AtomicBool::new(false));
            let (a, s) = (Arc::clone(&ahead), Arc::clone(&stop));
            let flipper = std::thread::spawn(move || {
                while !s.load(Ordering::Relaxed) {
                    a.fetch_xor(true, Ordering::Relaxed);
                    std::thread::yield_now();
                }
            });
            let mut p = HashPipe::when_ahead(ahead);
            for b in data.chunks(size) {
                p.update(b);
            }
            stop.store(true, Ordering::Relaxed);
            flipper.join().unwrap();
            assert_eq!(p.finish().unwrap().finalize().to_vec(), want, "{size}");
        }
    }

    #[test]
    fn finished_once() {
        let mut p = HashPipe::new();
        p.update(b"abc");
        assert!(p.finish().is_some());
        p.update(b"more");
        assert!(p.finish().is_none());
    }
}
