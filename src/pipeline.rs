//! The core run ahead in a background thread (`netscan analyze --jobs 2`).
//!
//! One worker thread reads and processes records batch by batch, the same batches as the
//! one-thread loop (`Core.run` called again and again), and hands each batch's ops over a
//! bounded channel while the caller's thread turns the previous batch into Python objects
//! and replays it. The work is the same single core, only ahead of the replay, so the ops
//! and their order are exactly those of the one-thread loop.
//!
//! What flows back is the flows whose Python parser stopped (`Core.stop`), with the batch
//! the caller is done with (freed by the worker, off the replaying thread). The stops
//! take effect at a fixed point, before the batch `lag` batches after the one whose replay
//! stopped them (the one-thread loop in `netscan/engine/core.py` holds them back alike), so
//! that the result never depends on how far ahead the worker happened to be. The worker
//! waits for those stops before each batch from the `lag`-th on: it is never more than
//! `lag` batches ahead, which bounds the ops held at once.
//!
//! A panic in the worker outside a packet's own guard (`Engine::packet_guarded` counts those)
//! ends the run with a `Failed` message naming it, never a hang: the caller turns it into an
//! error. Dropping or joining the pipeline stops the worker within a batch.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, SyncSender, TryRecvError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// What the worker runs: the core's state, shared under a lock with the caller.
pub trait Work: Send + 'static {
    /// The result of one batch (the core's ops).
    type Out: Send + 'static;
    /// Processes up to `max` records; returns the batch's result and the records done.
    fn batch(&mut self, max: usize) -> (Self::Out, usize);
    /// The Python side stopped these flows' parsers.
    fn stop(&mut self, fids: &[u64]);
    /// Whether the worker is ahead of the caller (it found the stops it needs not there
    /// yet, so it waits): work it could hand to another thread is better done in line.
    fn ahead(&mut self, _ahead: bool) {}
    /// Input bytes read so far, per input (progress).
    fn positions(&self) -> Vec<u64>;
}

/// One batch from the worker.
pub struct Batch<T> {
    pub out: T,
    /// records processed
    pub records: usize,
    /// records asked for: fewer done means the input ended
    pub want: usize,
    pub positions: Vec<u64>,
}

pub enum Msg<T> {
    Batch(Batch<T>),
    /// the worker failed (a panic outside a packet's guard, or the state's lock poisoned)
    Failed(String),
}

/// The worker's end of the stops (with the spent results handed back).
type Stops<T> = Receiver<(Vec<u64>, Option<T>)>;

/// The caller's end of a running pipeline.
pub struct Pipeline<T> {
    rx: Option<Receiver<Msg<T>>>,
    stops: Option<Sender<(Vec<u64>, Option<T>)>>,
    /// the latest batch's result once the caller is done with it: it goes back with the
    /// stops, so that the worker frees it, not the caller's thread
    spent: Option<T>,
    cancel: Arc<AtomicBool>,
    handle: Option<JoinHandle<Option<Stops<T>>>>,
    ended: bool,
    limit: Option<usize>,
    done: usize,
}

/// The text of a panic's payload.
pub fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    }
}

impl<T: Send + 'static> Pipeline<T> {
    /// Starts the worker over `work`: batches of `batch` records, `limit` records in all
    /// (None: to the end of the input), at most `lag` (>= 1) batches ahead of the stops.
    /// `fail_after`: a fault injected after that many batches (tests of the error path).
    pub fn start<W: Work<Out = T>>(
        work: Arc<Mutex<W>>,
        batch: usize,
        limit: Option<usize>,
        lag: usize,
        fail_after: Option<usize>,
    ) -> std::io::Result<Pipeline<T>> {
        let lag = lag.max(1);
        let batch = batch.max(1);
        // the worker blocks on the stops before it could hold more than `lag` batches
        let (tx, rx) = mpsc::sync_channel::<Msg<T>>(lag);
        let (stops_tx, stops_rx) = mpsc::channel::<(Vec<u64>, Option<T>)>();
        let cancel = Arc::new(AtomicBool::new(false));
        let stop_flag = Arc::clone(&cancel);
        let handle = std::thread::Builder::new()
            .name("netscan-core".into())
            .spawn(move || {
                let run = Run {
                    batch,
                    limit,
                    lag,
                    fail_after,
                };
                worker(work, tx, stops_rx, stop_flag, run)
            })?;
        Ok(Pipeline {
            rx: Some(rx),
            stops: Some(stops_tx),
            spent: None,
            cancel,
            handle: Some(handle),
            ended: limit == Some(0),
            limit,
            done: 0,
        })
    }

    /// The next batch, waiting at most `timeout`: Ok(None) on a timeout (call again);
    /// Err once the worker is gone without a last batch (it ended, or failed silently).
    #[allow(clippy::result_unit_err)] // nothing more to say: the caller joins for the cause
    pub fn next(&mut self, timeout: Duration) -> Result<Option<Msg<T>>, ()> {
        let Some(rx) = &self.rx else { return Err(()) };
        match rx.recv_timeout(timeout) {
            Ok(m) => {
                match &m {
                    Msg::Batch(b) => {
                        self.done += b.records;
                        if b.records < b.want || self.limit.is_some_and(|l| self.done >= l) {
                            self.ended = true;
                        }
                    }
                    Msg::Failed(_) => self.ended = true,
                }
                Ok(Some(m))
            }
            Err(RecvTimeoutError::Timeout) => Ok(None),
            Err(RecvTimeoutError::Disconnected) => Err(()),
        }
    }

    /// A batch's result the caller is done with: it goes back to the worker with the next
    /// stops and is freed there (freeing a batch's ops is not the caller's work).
    pub fn spent(&mut self, out: T) {
        self.spent = Some(out);
    }

    /// The stops of the batch just replayed (one call per batch, empty or not).
    pub fn stops(&mut self, fids: Vec<u64>) {
        let spent = self.spent.take();
        if let Some(s) = &self.stops {
            // a worker that ended keeps the receiver: `join` applies what it did not
            let _ = s.send((fids, spent));
        }
    }

    /// Whether the last batch (or a failure) came: the input ended, or the limit was reached.
    pub fn ended(&self) -> bool {
        self.ended
    }

    /// Stops the worker (at once unless it ended) and waits for it; the stops it did not
    /// take yet are applied to `work` here, in order. Err: the worker thread panicked.
    pub fn join<W: Work<Out = T>>(mut self, work: &Mutex<W>) -> Result<(), String> {
        self.finish_join(work)
    }

    fn finish_join<W: Work<Out = T>>(&mut self, work: &Mutex<W>) -> Result<(), String> {
        match self.stop_worker() {
            Some(Ok(Some(left))) => {
                let mut g = work
                    .lock()
                    .map_err(|_| "the packet core failed earlier in this run".to_string())?;
                while let Ok((fids, _spent)) = left.try_recv() {
                    g.stop(&fids);
                }
                Ok(())
            }
            Some(Ok(None)) | None => Ok(()),
            Some(Err(p)) => Err(panic_text(&*p)),
        }
    }
}

impl<T> Pipeline<T> {
    /// Stops the worker (at once unless it ended) and waits for it; None when it was
    /// waited for already.
    fn stop_worker(&mut self) -> Option<std::thread::Result<Option<Stops<T>>>> {
        self.cancel.store(true, Ordering::SeqCst);
        // unblock a worker waiting to send a batch or for stops
        drop(self.rx.take());
        drop(self.stops.take());
        self.handle.take().map(JoinHandle::join)
    }
}

impl<T> Drop for Pipeline<T> {
    fn drop(&mut self) {
        let _ = self.stop_worker();
    }
}

/// The worker's loop; gives back the stops' receiver when it ends on its own (the stops
/// of the last batches, sent after it finished, are applied by `join`).
struct Run {
    batch: usize,
    limit: Option<usize>,
    lag: usize,
    fail_after: Option<usize>,
}

fn worker<W: Work>(
    work: Arc<Mutex<W>>,
    tx: SyncSender<Msg<W::Out>>,
    stops: Stops<W::Out>,
    cancel: Arc<AtomicBool>,
    run: Run,
) -> Option<Stops<W::Out>> {
    let Run {
        batch,
        limit,
        lag,
        fail_after,
    } = run;
    let mut done = 0usize;
    let mut j = 0usize;
    loop {
        let want = match limit {
            Some(l) => batch.min(l - done),
            None => batch,
        };
        if want == 0 {
            return Some(stops); // the limit reached
        }
        if j >= lag {
            // the stops of batch j - lag come before batch j, as in the one-thread loop;
            // not there yet: the worker is ahead of the caller (it waits for them)
            let got = match stops.try_recv() {
                Ok(m) => Ok((m, false)),
                Err(TryRecvError::Empty) => stops.recv().map(|m| (m, true)).map_err(|_| ()),
                Err(TryRecvError::Disconnected) => Err(()),
            };
            match got {
                Ok(((fids, spent), ahead)) => {
                    drop(spent); // freed here, off the caller's thread
                    if let Ok(mut g) = work.lock() {
                        g.ahead(ahead);
                        g.stop(&fids);
                    }
                }
                Err(()) => return None, // the caller let go: cancelled
            }
        }
        if cancel.load(Ordering::SeqCst) {
            return None;
        }
        let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut g = match work.lock() {
                Ok(g) => g,
                Err(_) => return Err("the packet core failed earlier in this run".to_string()),
            };
            if fail_after == Some(j) {
                panic!("fault injected after {j} batches");
            }
            let (out, n) = g.batch(want);
            Ok(Batch {
                out,
                records: n,
                want,
                positions: g.positions(),
            })
        }));
        let msg = match res {
            Ok(Ok(b)) => b,
            Ok(Err(e)) => {
                let _ = tx.send(Msg::Failed(e));
                return None;
            }
            Err(p) => {
                let _ = tx.send(Msg::Failed(panic_text(&*p)));
                return None;
            }
        };
        let last = msg.records < msg.want;
        done += msg.records;
        if tx.send(Msg::Batch(msg)).is_err() {
            return None;
        }
        if last {
            return Some(stops);
        }
        j += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stand-in core: record i is "processed" as i; stopped ids are kept, and each batch
    /// reports which stops it saw (so the lag is visible).
    struct Counting {
        next: usize,
        end: usize,
        stopped: Vec<u64>,
        panic_at: Option<usize>,
    }

    impl Work for Counting {
        type Out = (Vec<usize>, Vec<u64>);
        fn batch(&mut self, max: usize) -> (Self::Out, usize) {
            let mut v = Vec::new();
            while v.len() < max && self.next < self.end {
                if Some(self.next) == self.panic_at {
                    panic!("injected fault at record {}", self.next);
                }
                v.push(self.next);
                self.next += 1;
            }
            let n = v.len();
            ((v, self.stopped.clone()), n)
        }
        fn stop(&mut self, fids: &[u64]) {
            self.stopped.extend_from_slice(fids);
        }
        fn positions(&self) -> Vec<u64> {
            vec![self.next as u64]
        }
    }

    type Out = (Vec<usize>, Vec<u64>);

    fn counting(end: usize, panic_at: Option<usize>) -> Arc<Mutex<Counting>> {
        Arc::new(Mutex::new(Counting {
            next: 0,
            end,
            stopped: Vec::new(),
            panic_at,
        }))
    }

    /// Runs a pipeline to its end, stopping "flow" i after replaying batch i.
    fn drain(
        work: &Arc<Mutex<Counting>>,
        batch: usize,
        limit: Option<usize>,
        lag: usize,
    ) -> Result<Vec<Batch<Out>>, String> {
        let mut p = Pipeline::start(Arc::clone(work), batch, limit, lag, None).unwrap();
        let mut out = Vec::new();
        let mut i = 0u64;
        let res = loop {
            match p.next(Duration::from_secs(10)) {
                Ok(Some(Msg::Batch(b))) => {
                    out.push(b);
                    let last = p.ended();
                    p.stops(vec![i]);
                    i += 1;
                    if last {
                        break Ok(());
                    }
                }
                Ok(Some(Msg::Failed(e))) => break Err(e),
                Ok(None) => panic!("timed out"),
                Err(()) => break Err("gone".into()),
            }
        };
        p.join(work)?;
        res.map(|_| out)
    }

    #[test]
    fn same_batches_as_the_one_thread_loop() {
        let work = counting(1000, None);
        let out = drain(&work, 64, None, 2).unwrap();
        let all: Vec<usize> = out.iter().flat_map(|b| b.out.0.clone()).collect();
        assert_eq!(all, (0..1000).collect::<Vec<_>>());
        assert!(out[..out.len() - 1].iter().all(|b| b.records == 64));
        assert_eq!(out.last().unwrap().records, 1000 % 64);
        assert_eq!(out.last().unwrap().positions, vec![1000]);
    }

    #[test]
    fn stops_take_effect_exactly_lag_batches_later() {
        for lag in 1..4 {
            let work = counting(640, None);
            let out = drain(&work, 64, None, lag).unwrap();
            for (j, b) in out.iter().enumerate() {
                // batch j sees the stops of batches 0..=j-lag, whatever the timing
                let want: Vec<u64> = (0..(j + 1).saturating_sub(lag) as u64).collect();
                assert_eq!(b.out.1, want, "lag {lag} batch {j}");
            }
            // the stops of the last batches are applied by join
            assert_eq!(work.lock().unwrap().stopped.len(), out.len());
        }
    }

    #[test]
    fn a_limit_ends_the_run_as_a_short_batch() {
        let work = counting(1000, None);
        let out = drain(&work, 64, Some(100), 2).unwrap();
        let n: usize = out.iter().map(|b| b.records).sum();
        assert_eq!(n, 100);
        assert_eq!(work.lock().unwrap().next, 100);
        // an exact multiple ends with an empty ask
        let work = counting(1000, None);
        let out = drain(&work, 50, Some(100), 2).unwrap();
        assert_eq!(out.iter().map(|b| b.records).sum::<usize>(), 100);
        assert_eq!(work.lock().unwrap().next, 100);
    }

    #[test]
    fn a_panic_in_the_worker_is_a_failure_not_a_hang() {
        let work = counting(1000, Some(300));
        let err = drain(&work, 64, None, 2).err().unwrap();
        assert!(err.contains("injected fault at record 300"), "{err}");
        // the state's lock was poisoned: a later use says so instead of going on
        let p = Pipeline::start(Arc::clone(&work), 64, None, 2, None).unwrap();
        let mut p = p;
        match p.next(Duration::from_secs(10)) {
            Ok(Some(Msg::Failed(e))) => assert!(e.contains("failed earlier")),
            _ => panic!("expected a failure"),
        }
        assert!(p.ended());
    }

    #[test]
    fn letting_go_midway_stops_the_worker() {
        let work = counting(usize::MAX, None);
        let mut p = Pipeline::start(Arc::clone(&work), 64, None, 3, None).unwrap();
        // take one batch, give no stops: the worker blocks on them, join must not hang
        assert!(matches!(
            p.next(Duration::from_secs(10)),
            Ok(Some(Msg::Batch(_)))
        ));
        p.join(&work).unwrap();
        let next = work.lock().unwrap().next;
        assert!(next <= 64 * 3, "{next}");
        // dropped without join: the same
        let work = counting(usize::MAX, None);
        let p = Pipeline::<(Vec<usize>, Vec<u64>)>::start(Arc::clone(&work), 64, None, 2, None)
            .unwrap();
        drop(p);
        assert!(work.lock().unwrap().next <= 64 * 2);
    }

    /// A batch result that notes, when dropped, on which thread it was freed.
    struct Noted(Arc<Mutex<Vec<String>>>);

    impl Drop for Noted {
        fn drop(&mut self) {
            let name = std::thread::current().name().unwrap_or("").to_string();
            self.0.lock().unwrap().push(name);
        }
    }

    struct Noting {
        left: usize,
        freed: Arc<Mutex<Vec<String>>>,
    }

    impl Work for Noting {
        type Out = Noted;
        fn batch(&mut self, max: usize) -> (Noted, usize) {
            let n = max.min(self.left);
            self.left -= n;
            (Noted(Arc::clone(&self.freed)), n)
        }
        fn stop(&mut self, _fids: &[u64]) {}
        fn positions(&self) -> Vec<u64> {
            Vec::new()
        }
    }

    #[test]
    fn spent_batches_are_freed_by_the_worker() {
        let freed = Arc::new(Mutex::new(Vec::new()));
        let work = Arc::new(Mutex::new(Noting {
            left: 10 * 8,
            freed: Arc::clone(&freed),
        }));
        let mut p = Pipeline::start(Arc::clone(&work), 8, None, 2, None).unwrap();
        let mut batches = 0;
        while !p.ended() {
            match p.next(Duration::from_secs(30)) {
                Ok(Some(Msg::Batch(b))) => {
                    p.spent(b.out);
                    p.stops(Vec::new());
                    batches += 1;
                }
                _ => panic!("expected a batch"),
            }
        }
        p.join(&work).unwrap();
        let freed = freed.lock().unwrap();
        // every batch is freed once, on the worker's thread but the last `lag` ones (handed
        // back after the worker ended: `join` frees them)
        assert_eq!(freed.len(), batches, "{freed:?}");
        let on_worker = freed.iter().filter(|t| *t == "netscan-core").count();
        assert_eq!(on_worker, batches - 2, "{freed:?}");
    }

    /// Counts batches and notes every `ahead` the worker reports.
    struct Pacing {
        left: usize,
        seen: Vec<bool>,
    }

    impl Work for Pacing {
        type Out = usize;
        fn batch(&mut self, max: usize) -> (usize, usize) {
            let n = max.min(self.left);
            self.left -= n;
            (n, n)
        }
        fn stop(&mut self, _fids: &[u64]) {}
        fn ahead(&mut self, ahead: bool) {
            self.seen.push(ahead);
        }
        fn positions(&self) -> Vec<u64> {
            Vec::new()
        }
    }

    #[test]
    fn the_worker_says_when_it_is_ahead_of_a_slow_caller() {
        let work = Arc::new(Mutex::new(Pacing {
            left: 8 * 6,
            seen: Vec::new(),
        }));
        let mut p = Pipeline::start(Arc::clone(&work), 8, None, 2, None).unwrap();
        let mut batches = 0;
        while !p.ended() {
            match p.next(Duration::from_secs(30)) {
                Ok(Some(Msg::Batch(_))) => {
                    // a caller slower than the worker: it waits for these stops
                    std::thread::sleep(Duration::from_millis(30));
                    p.stops(Vec::new());
                    batches += 1;
                }
                _ => panic!("expected a batch"),
            }
        }
        p.join(&work).unwrap();
        let seen = &work.lock().unwrap().seen;
        // one report before each batch from the lag-th on; ahead of a caller this slow
        assert_eq!(seen.len(), batches - 2, "{seen:?}");
        assert!(
            seen.iter().filter(|a| **a).count() >= seen.len() - 1,
            "{seen:?}"
        );
    }
}
