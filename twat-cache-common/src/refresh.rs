//! Background recomputation (`stale_while_revalidate`, XFetch): one small bounded worker
//! per process, and the per-key tickets that keep a key from being refreshed twice at
//! once.
//!
//! The worker is [`WORKERS`] named threads (`twat-cache-refresh-N`), started on the first
//! refresh, fed by a queue of at most [`QUEUE`] jobs. A job that finds the queue full is
//! dropped (its ticket with it): the stale value stays served and the next call asks
//! again. The threads never keep a process from exiting (Rust does not wait for them),
//! and a job that panics is caught and logged, so the worker survives it.

use std::collections::HashSet;
use std::hash::Hash;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, OnceLock};

use parking_lot::Mutex;

/// Threads of the refresh worker.
pub const WORKERS: usize = 2;
/// Jobs that may wait for the worker; beyond that, refreshes are skipped (and asked for
/// again by the next call).
pub const QUEUE: usize = 1024;

type Job = Box<dyn FnOnce() + Send>;

fn sender() -> Option<&'static SyncSender<Job>> {
    static SENDER: OnceLock<Option<SyncSender<Job>>> = OnceLock::new();
    SENDER
        .get_or_init(|| {
            let (tx, rx) = sync_channel::<Job>(QUEUE);
            let rx = Arc::new(Mutex::new(rx));
            let mut started = 0;
            for i in 0..WORKERS {
                let rx = rx.clone();
                match std::thread::Builder::new()
                    .name(format!("twat-cache-refresh-{i}"))
                    .spawn(move || work(&rx))
                {
                    Ok(_) => started += 1,
                    Err(e) => log::warn!("twat-cache: cannot start a refresh thread: {e}"),
                }
            }
            (started > 0).then_some(tx)
        })
        .as_ref()
}

fn work(rx: &Mutex<Receiver<Job>>) {
    loop {
        let job = match rx.lock().recv() {
            Ok(job) => job,
            Err(_) => return,
        };
        if catch_unwind(AssertUnwindSafe(job)).is_err() {
            log::warn!("twat-cache: a background refresh panicked; the stale value stays");
        }
    }
}

/// Hands `job` to the refresh worker without waiting. Returns false (and drops the job)
/// when the queue is full or no worker thread could start.
///
/// ```
/// use std::sync::mpsc::channel;
/// let (tx, rx) = channel();
/// assert!(twat_cache_common::refresh::spawn_refresh(Box::new(move || tx.send(7).unwrap())));
/// assert_eq!(rx.recv().unwrap(), 7);
/// ```
pub fn spawn_refresh(job: Job) -> bool {
    let Some(tx) = sender() else { return false };
    match tx.try_send(job) {
        Ok(()) => true,
        Err(TrySendError::Full(_)) => {
            log::debug!("twat-cache: refresh queue full; refresh skipped");
            false
        }
        Err(TrySendError::Disconnected(_)) => false,
    }
}

/// The keys of one cache being recomputed outside single-flight (background or early).
///
/// ```
/// use twat_cache_common::refresh::RefreshSet;
/// let set = RefreshSet::<u32>::default();
/// let ticket = set.begin(&1).unwrap();
/// assert!(set.begin(&1).is_none(), "one refresh per key at a time");
/// assert!(set.contains(&1));
/// drop(ticket);
/// assert!(!set.contains(&1));
/// ```
#[derive(Debug)]
pub struct RefreshSet<K> {
    keys: Arc<Mutex<HashSet<K>>>,
}

impl<K> Default for RefreshSet<K> {
    fn default() -> Self {
        RefreshSet {
            keys: Arc::default(),
        }
    }
}

impl<K: Hash + Eq + Clone> RefreshSet<K> {
    /// A ticket for refreshing `key`, or `None` if one is out already.
    pub fn begin(&self, key: &K) -> Option<Ticket<K>> {
        self.keys.lock().insert(key.clone()).then(|| Ticket {
            keys: self.keys.clone(),
            key: Some(key.clone()),
        })
    }

    /// Whether `key` is being refreshed.
    pub fn contains(&self, key: &K) -> bool {
        self.keys.lock().contains(key)
    }
}

/// Held while a key is refreshed; dropping it (even by a panic) ends the refresh.
#[derive(Debug)]
pub struct Ticket<K: Hash + Eq> {
    keys: Arc<Mutex<HashSet<K>>>,
    key: Option<K>,
}

impl<K: Hash + Eq> Drop for Ticket<K> {
    fn drop(&mut self) {
        if let Some(k) = self.key.take() {
            self.keys.lock().remove(&k);
        }
    }
}
