//! [`StripedLocks`]: the shards' reader-writer locks, with readers that never write a cache
//! line another core reads.
//!
//! A usual reader-writer lock (parking_lot's, std's) counts its readers in the lock word:
//! every read lock is a write to that word, so two cores hitting the same shard pass its
//! cache line back and forth even though neither changes the map. On a cache hit, which does
//! little else, that traffic is most of the cost once a second thread joins.
//!
//! Here each thread counts itself in a counter of its own stripe (stripes are per thread,
//! as many as the machine has cores, up to 16; threads beyond share a stripe, which is
//! correct, only slower), and a thread's counters for every shard sit together on cache
//! lines that only its stripe writes. A writer announces itself in the shard's `writer`
//! flag, then waits until every stripe's counter for that shard is zero.
//!
//! Why not a crate: `crossbeam_utils::sync::ShardedLock` has the same idea but gives each
//! lock 8 whole `RwLock`s on 8 lines of their own (1 KiB per shard, 128 KiB for a 128-shard
//! cache), takes a std `RwLock` per read (a compare-and-swap, plus poisoning to handle) and
//! makes every write lock all 8; parking_lot and std have only the shared-word design. This
//! is one module, its unsafe is three `UnsafeCell` accesses justified below, and
//! `tests::*` hammers it from many threads checking that no reader ever sees a write in
//! progress.
//!
//! The protocol is Dekker's: a reader increments its counter, then reads the flag; a writer
//! sets the flag, then reads the counters; all four are `SeqCst`, so at least one of the two
//! sees the other. A reader that sees the flag undoes its increment and waits for the
//! writer on the writers' mutex, then tries again. Writers take the mutex first, so they
//! never starve each other; readers cannot starve a writer (they back off once it has set
//! the flag).

use std::cell::Cell;
use std::cell::UnsafeCell;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{
    AtomicBool, AtomicU32, AtomicUsize,
    Ordering::{Relaxed, Release, SeqCst},
};

use parking_lot::{Mutex, MutexGuard};

/// Reader counters per 128-byte block (two 64-byte lines: adjacent-line prefetch).
const PER_BLOCK: usize = 32;

#[repr(align(128))]
struct Block([AtomicU32; PER_BLOCK]);

#[repr(align(128))]
struct Lock<T> {
    writer: AtomicBool,
    writers: Mutex<()>,
    data: UnsafeCell<T>,
}

/// N reader-writer locks sharing one set of per-stripe reader counters.
pub(crate) struct StripedLocks<T> {
    locks: Box<[Lock<T>]>,
    /// `stripes × blocks_per_stripe` blocks; stripe `s`'s counter for lock `i` is
    /// `readers[s * blocks_per_stripe + i / PER_BLOCK].0[i % PER_BLOCK]`.
    readers: Box<[Block]>,
    blocks_per_stripe: usize,
    stripe_mask: usize,
}

// SAFETY: the data is reached only through the guards below, which give shared access to
// any number of readers or exclusive access to one writer, as `RwLock` does.
unsafe impl<T: Send> Send for StripedLocks<T> {}
// SAFETY: as for `RwLock<T>`: readers on several threads share `&T` (so `T: Sync`), and a
// writer on any thread gets `&mut T` (so `T: Send`).
unsafe impl<T: Send + Sync> Sync for StripedLocks<T> {}

/// This thread's stripe number (before masking): assigned once per thread, round robin.
#[inline]
fn stripe_of_thread() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static STRIPE: Cell<usize> = const { Cell::new(usize::MAX) };
    }
    STRIPE.with(|s| {
        let mut v = s.get();
        if v == usize::MAX {
            v = NEXT.fetch_add(1, Relaxed);
            s.set(v);
        }
        v
    })
}

impl<T> StripedLocks<T> {
    /// One lock per item.
    pub(crate) fn new(items: impl IntoIterator<Item = T>) -> Self {
        let locks: Box<[Lock<T>]> = items
            .into_iter()
            .map(|t| Lock {
                writer: AtomicBool::new(false),
                writers: Mutex::new(()),
                data: UnsafeCell::new(t),
            })
            .collect();
        let cores = std::thread::available_parallelism().map_or(4, |n| n.get());
        let stripes = cores.next_power_of_two().clamp(1, 16);
        let blocks_per_stripe = locks.len().div_ceil(PER_BLOCK).max(1);
        let readers = (0..stripes * blocks_per_stripe)
            .map(|_| Block(std::array::from_fn(|_| AtomicU32::new(0))))
            .collect();
        StripedLocks {
            locks,
            readers,
            blocks_per_stripe,
            stripe_mask: stripes - 1,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.locks.len()
    }

    #[inline]
    fn counter(&self, stripe: usize, i: usize) -> &AtomicU32 {
        &self.readers[stripe * self.blocks_per_stripe + i / PER_BLOCK].0[i % PER_BLOCK]
    }

    /// Item `i`'s counter in every stripe.
    #[inline]
    fn counters(&self, i: usize) -> impl Iterator<Item = &AtomicU32> {
        self.readers[i / PER_BLOCK..]
            .iter()
            .step_by(self.blocks_per_stripe)
            .map(move |b| &b.0[i % PER_BLOCK])
    }

    /// Shared access to item `i`.
    #[inline]
    pub(crate) fn read(&self, i: usize) -> ReadGuard<'_, T> {
        let lock = &self.locks[i];
        let counter = self.counter(stripe_of_thread() & self.stripe_mask, i);
        loop {
            counter.fetch_add(1, SeqCst);
            if !lock.writer.load(SeqCst) {
                return ReadGuard { lock, counter };
            }
            // A writer is in or coming: step aside, wait for it, and try again.
            counter.fetch_sub(1, Release);
            drop(lock.writers.lock());
        }
    }

    /// Exclusive access to item `i`.
    #[inline]
    pub(crate) fn write(&self, i: usize) -> WriteGuard<'_, T> {
        let lock = &self.locks[i];
        let writers = lock.writers.lock();
        lock.writer.store(true, SeqCst);
        for counter in self.counters(i) {
            let mut spins = 0u32;
            while counter.load(SeqCst) != 0 {
                if spins < 64 {
                    std::hint::spin_loop();
                    spins += 1;
                } else {
                    std::thread::yield_now();
                }
            }
        }
        WriteGuard {
            lock,
            _writers: writers,
        }
    }
}

/// Shared access to one item; see [`StripedLocks::read`].
pub(crate) struct ReadGuard<'a, T> {
    lock: &'a Lock<T>,
    counter: &'a AtomicU32,
}

impl<T> Deref for ReadGuard<'_, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: this reader is counted and saw no writer after counting itself; a writer
        // sets its flag before waiting for the count to reach zero (both SeqCst), so no
        // writer holds `&mut T` until this guard's decrement.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T> Drop for ReadGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        // Release: this reader's reads happen before the next writer's writes.
        self.counter.fetch_sub(1, Release);
    }
}

/// Exclusive access to one item; see [`StripedLocks::write`].
pub(crate) struct WriteGuard<'a, T> {
    lock: &'a Lock<T>,
    _writers: MutexGuard<'a, ()>,
}

impl<T> Deref for WriteGuard<'_, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: this writer holds the writers' mutex and every reader counter for this
        // item was zero after its flag was set: no other reference to the data exists.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T> DerefMut for WriteGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`, and `&mut self` makes this the only borrow of the guard.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T> Drop for WriteGuard<'_, T> {
    fn drop(&mut self) {
        // Release: the writes happen before any reader that then sees the flag clear.
        self.lock.writer.store(false, Release);
        // `_writers` is dropped next: waiting readers and writers proceed.
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;

    /// Writers keep the two halves of each item equal, through a window where they are
    /// not; readers must never see them differ, and the final sums must add up.
    #[test]
    fn readers_never_see_a_write_in_progress() {
        let locks = StripedLocks::new((0..3).map(|_| (0u64, 0u64)));
        let stop = AtomicBool::new(false);
        std::thread::scope(|s| {
            for t in 0..6 {
                let (locks, stop) = (&locks, &stop);
                s.spawn(move || {
                    let mut n = 0u64;
                    while !stop.load(Relaxed) || n < 1_000 {
                        let i = (n as usize + t) % 3;
                        let g = locks.read(i);
                        let (a, b) = *g;
                        assert_eq!(a, b, "a reader saw a write in progress");
                        n += 1;
                    }
                });
            }
            let writers: Vec<_> = (0..3)
                .map(|t| {
                    let locks = &locks;
                    s.spawn(move || {
                        for n in 0..20_000usize {
                            let mut g = locks.write((n + t) % 3);
                            g.0 += 1;
                            std::hint::black_box(&mut *g);
                            g.1 += 1;
                        }
                    })
                })
                .collect();
            for w in writers {
                w.join().unwrap();
            }
            stop.store(true, Relaxed);
        });
        let total: u64 = (0..3).map(|i| locks.read(i).0).sum();
        assert_eq!(total, 60_000, "every write landed once");
        for i in 0..3 {
            let g = locks.read(i);
            assert_eq!(g.0, g.1);
        }
    }

    /// A panic under the write lock releases it: later readers and writers get in.
    #[test]
    fn a_panic_under_the_write_lock_releases_it() {
        let locks = StripedLocks::new([0u32]);
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut g = locks.write(0);
            *g = 1;
            panic!("inside");
        }));
        assert!(r.is_err());
        assert_eq!(*locks.read(0), 1);
        *locks.write(0) = 2;
        assert_eq!(*locks.read(0), 2);
    }
}
