//! The SHA-256 of a file as it is read, computed on a thread of its own.
//!
//! Hashing a capture costs about as much as decoding it (a fifth of the core's time on a
//! large file, even with the CPU's SHA instructions), so the reader hands copies of the
//! blocks it reads to a hashing thread instead of hashing them in line: the digest is of
//! exactly the same bytes in the same order. At most [`IN_FLIGHT`] blocks wait for the
//! hasher (the reader waits for it beyond that), so memory stays bounded whatever the file.
//! Where no thread can be started the blocks are hashed in line, as before.

use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
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
        worker: Option<JoinHandle<Sha256>>,
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
        let (to_hash, blocks) = sync_channel::<Vec<u8>>(IN_FLIGHT);
        let (give_back, spare) = sync_channel::<Vec<u8>>(IN_FLIGHT);
        let worker = std::thread::Builder::new()
            .name("netscan-sha256".into())
            .spawn(move || {
                let mut sha = Sha256::new();
                for block in blocks.iter() {
                    sha.update(&block);
                    // the reader may be gone (or have enough): then the block is dropped
                    let _ = give_back.try_send(block);
                }
                sha
            });
        match worker {
            Ok(worker) => HashPipe {
                mode: Mode::Thread {
                    to_hash: Some(to_hash),
                    spare,
                    made: 0,
                    worker: Some(worker),
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
                ..
            } => {
                let Some(tx) = to_hash else { return };
                let mut block = match spare.try_recv() {
                    Ok(b) => b,
                    Err(_) if *made < IN_FLIGHT => {
                        *made += 1;
                        Vec::new()
                    }
                    // every block is with the hasher: wait for one (a block made here if
                    // the hasher is gone: the send below then says so)
                    Err(_) => spare.recv().unwrap_or_default(),
                };
                block.clear();
                block.extend_from_slice(data);
                tx.send(block).is_err()
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
                ..
            } => {
                // the hasher ends once it has hashed every block sent
                drop(to_hash.take());
                worker.take().and_then(|w| w.join().ok())
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
    fn finished_once() {
        let mut p = HashPipe::new();
        p.update(b"abc");
        assert!(p.finish().is_some());
        p.update(b"more");
        assert!(p.finish().is_none());
    }
}
