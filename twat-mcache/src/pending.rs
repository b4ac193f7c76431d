//! Single-flight inside the shards: a computation in progress is a [`Pending`] record in the
//! shard that will hold its value, so an uncontended miss hashes its key once, takes no lock
//! but its shard's, and allocates nothing.
//!
//! Only a caller that finds another thread's computation in progress pays for a place to
//! wait: it attaches a [`Waiters`] (a mutex and a condvar) to the record, and the leader
//! wakes it when it stores the value, or when its body fails or panics (then the waiters
//! retry and exactly one of them leads next). A thread that finds its *own* computation of
//! the key in progress (a memoized function recursing into itself with the same arguments)
//! computes directly instead of waiting for itself.

use std::sync::Arc;

use parking_lot::{Condvar, Mutex};

/// A computation of one key in progress, kept in the shard beside the map.
pub(crate) struct Pending<K, V> {
    /// The key's hash (compared first).
    pub(crate) hash: u64,
    /// The key; moved into the map when the value is stored.
    pub(crate) key: K,
    /// Tells this record from others of the same shard (unique per shard).
    pub(crate) id: u64,
    /// The computing thread (see [`thread_token`]).
    pub(crate) leader: usize,
    /// The shard's store count when the computation was claimed (see `Shard::stored`).
    pub(crate) stored_at_claim: u64,
    /// Created by the first caller that waits; `None` while nobody does.
    pub(crate) waiters: Option<Arc<Waiters<V>>>,
}

enum Outcome<V> {
    Running,
    Done(V),
    Abandoned,
}

/// Where callers of one key wait for its leader.
pub(crate) struct Waiters<V> {
    outcome: Mutex<Outcome<V>>,
    done: Condvar,
}

impl<V: Clone> Waiters<V> {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Waiters {
            outcome: Mutex::new(Outcome::Running),
            done: Condvar::new(),
        })
    }

    /// Blocks until the leader ends: `Some(value)` when it stored one, `None` when its body
    /// failed or panicked (the caller then retries).
    pub(crate) fn wait(&self) -> Option<V> {
        let mut outcome = self.outcome.lock();
        loop {
            match &*outcome {
                Outcome::Running => self.done.wait(&mut outcome),
                Outcome::Done(v) => return Some(v.clone()),
                Outcome::Abandoned => return None,
            }
        }
    }

    /// Wakes every waiter with `value` (`None`: abandoned).
    pub(crate) fn finish(&self, value: Option<V>) {
        *self.outcome.lock() = match value {
            Some(v) => Outcome::Done(v),
            None => Outcome::Abandoned,
        };
        self.done.notify_all();
    }
}

/// A number that identifies the calling thread among the threads alive: the address of a
/// thread-local. Cheaper than `thread::current().id()` (no reference count touched). A
/// thread that has exited cannot lead a computation, so reuse of the address by a later
/// thread is harmless.
#[inline]
pub(crate) fn thread_token() -> usize {
    thread_local! {
        static TOKEN: u8 = const { 0 };
    }
    TOKEN.with(|t| std::ptr::from_ref(t) as usize)
}
