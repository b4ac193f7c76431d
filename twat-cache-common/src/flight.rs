//! Single-flight: concurrent callers that miss on the same key wait for one computation.
//!
//! Our own rather than a crate's: it must serve sync callers (blocking on a condvar) and
//! async callers (wakers) from one map, must not deadlock when a memoized function recurses
//! into itself on the same thread, and must wake every waiter when the computing caller
//! panics or its future is dropped. The crates we looked at each miss one of these.

use std::collections::HashMap;
use std::future::Future;
use std::hash::{BuildHasher, Hash, RandomState};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::thread::ThreadId;

use parking_lot::{Condvar, Mutex};

enum State<V> {
    Pending(Vec<Waker>),
    Done(V),
    Abandoned,
}

/// One computation in progress, shared by its leader and its waiters.
///
/// ```
/// use twat_cache_common::{Claim, SingleFlight};
/// let sf = SingleFlight::<u32, &str>::default();
/// let Claim::Leader(leader) = sf.claim(1) else { unreachable!() };
/// // A second caller (here async, which skips the same-thread check) joins the flight.
/// let Claim::Waiter(flight) = sf.claim_async(1) else { unreachable!() };
/// let waiter = std::thread::spawn(move || flight.wait()); // blocks until the leader ends
/// leader.complete("one");
/// assert_eq!(waiter.join().unwrap(), Some("one"));
/// ```
pub struct Flight<V> {
    state: Mutex<State<V>>,
    done: Condvar,
    leader: ThreadId,
}

impl<V: Clone> Flight<V> {
    /// Blocks until the leader finishes. `Some(value)` when it produced one; `None` when it
    /// panicked, was cancelled, or produced nothing cacheable: the caller should try again
    /// (and one caller will then compute).
    ///
    /// ```
    /// use twat_cache_common::{Claim, SingleFlight};
    /// let sf = SingleFlight::<u32, u32>::default();
    /// let Claim::Leader(leader) = sf.claim(1) else { unreachable!() };
    /// let Claim::Waiter(flight) = sf.claim_async(1) else { unreachable!() };
    /// drop(leader); // e.g. the computation panicked
    /// assert_eq!(flight.wait(), None);
    /// ```
    pub fn wait(&self) -> Option<V> {
        let mut state = self.state.lock();
        loop {
            match &*state {
                State::Pending(_) => self.done.wait(&mut state),
                State::Done(v) => return Some(v.clone()),
                State::Abandoned => return None,
            }
        }
    }

    /// The async form of [`wait`](Self::wait). The future is `Send` and needs no runtime.
    ///
    /// ```
    /// use std::future::Future;
    /// use std::task::{Context, Poll, Waker};
    /// use twat_cache_common::{Claim, SingleFlight};
    /// let sf = SingleFlight::<u32, u32>::default();
    /// let Claim::Leader(leader) = sf.claim_async(1) else { unreachable!() };
    /// let Claim::Waiter(flight) = sf.claim_async(1) else { unreachable!() };
    /// let mut wait = std::pin::pin!(flight.wait_async());
    /// let mut cx = Context::from_waker(Waker::noop());
    /// assert!(wait.as_mut().poll(&mut cx).is_pending());
    /// leader.complete(5);
    /// assert_eq!(wait.as_mut().poll(&mut cx), Poll::Ready(Some(5)));
    /// ```
    pub fn wait_async(self: Arc<Self>) -> FlightWait<V> {
        FlightWait { flight: self }
    }

    fn finish(&self, outcome: State<V>) {
        let wakers = {
            let mut state = self.state.lock();
            match std::mem::replace(&mut *state, outcome) {
                State::Pending(w) => w,
                previous => {
                    *state = previous;
                    Vec::new()
                }
            }
        };
        self.done.notify_all();
        for w in wakers {
            w.wake();
        }
    }
}

/// Future returned by [`Flight::wait_async`].
///
/// ```
/// use std::future::Future;
/// use std::task::{Context, Poll, Waker};
/// use twat_cache_common::{Claim, SingleFlight};
/// let sf = SingleFlight::<u32, u32>::default();
/// let Claim::Leader(leader) = sf.claim_async(1) else { unreachable!() };
/// let Claim::Waiter(flight) = sf.claim_async(1) else { unreachable!() };
/// let mut wait: twat_cache_common::flight::FlightWait<u32> = flight.wait_async();
/// drop(leader); // abandoned: waiters are woken with nothing
/// let mut cx = Context::from_waker(Waker::noop());
/// assert_eq!(std::pin::pin!(wait).poll(&mut cx), Poll::Ready(None));
/// ```
pub struct FlightWait<V> {
    flight: Arc<Flight<V>>,
}

impl<V: Clone> Future for FlightWait<V> {
    type Output = Option<V>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<V>> {
        let mut state = self.flight.state.lock();
        match &mut *state {
            State::Pending(wakers) => {
                if !wakers.iter().any(|w| w.will_wake(cx.waker())) {
                    wakers.push(cx.waker().clone());
                }
                Poll::Pending
            }
            State::Done(v) => Poll::Ready(Some(v.clone())),
            State::Abandoned => Poll::Ready(None),
        }
    }
}

/// The outcome of [`SingleFlight::claim`].
///
/// ```
/// use twat_cache_common::{Claim, SingleFlight};
/// let sf = SingleFlight::<u32, u32>::default();
/// let first = sf.claim(1);
/// assert!(matches!(first, Claim::Leader(_)));
/// assert!(matches!(sf.claim(1), Claim::Reentrant)); // same thread, same key
/// std::thread::scope(|s| {
///     s.spawn(|| assert!(matches!(sf.claim(1), Claim::Waiter(_)))); // another thread
/// });
/// ```
pub enum Claim<'a, K: Hash + Eq + Clone, V: Clone> {
    /// This caller computes; everyone else with the same key waits for it.
    Leader(Leader<'a, K, V>),
    /// Another caller is computing: wait on this flight.
    Waiter(Arc<Flight<V>>),
    /// This thread is already computing this key (a function that recurses into itself
    /// with the same arguments): compute directly rather than deadlock.
    Reentrant,
}

/// The computing caller's guard. [`complete`](Leader::complete) hands the value to the
/// waiters; dropping it without completing (a panic, a cancelled future, an `Err` that is
/// not cached) wakes them with nothing, and one of them takes over.
///
/// ```
/// use twat_cache_common::{Claim, SingleFlight};
/// let sf = SingleFlight::<u32, u32>::default();
/// let Claim::Leader(leader) = sf.claim(1) else { unreachable!() };
/// assert_eq!(sf.in_flight(), 1);
/// drop(leader); // not completed: the flight ends, and the key can be claimed again
/// assert_eq!(sf.in_flight(), 0);
/// assert!(matches!(sf.claim(1), Claim::Leader(_)));
/// ```
pub struct Leader<'a, K: Hash + Eq + Clone, V: Clone> {
    owner: &'a SingleFlight<K, V>,
    key: Option<K>,
    flight: Arc<Flight<V>>,
}

impl<K: Hash + Eq + Clone, V: Clone> Leader<'_, K, V> {
    /// Publishes `value` to every waiter.
    ///
    /// ```
    /// use twat_cache_common::{Claim, SingleFlight};
    /// let sf = SingleFlight::<u32, u32>::default();
    /// let Claim::Leader(leader) = sf.claim(1) else { unreachable!() };
    /// let Claim::Waiter(flight) = sf.claim_async(1) else { unreachable!() };
    /// leader.complete(42);
    /// assert_eq!(flight.wait(), Some(42));
    /// assert_eq!(sf.in_flight(), 0);
    /// ```
    pub fn complete(mut self, value: V) {
        self.release(State::Done(value));
    }

    fn release(&mut self, outcome: State<V>) {
        if let Some(key) = self.key.take() {
            let shard = self.owner.shard(&key);
            let mut map = shard.lock();
            if map.get(&key).is_some_and(|f| Arc::ptr_eq(f, &self.flight)) {
                map.remove(&key);
            }
            drop(map);
            self.flight.finish(outcome);
        }
    }
}

impl<K: Hash + Eq + Clone, V: Clone> Drop for Leader<'_, K, V> {
    fn drop(&mut self) {
        self.release(State::Abandoned);
    }
}

type FlightMap<K, V> = Mutex<HashMap<K, Arc<Flight<V>>>>;

/// Flights in progress, by key. Sharded so that misses on different keys rarely meet.
///
/// ```
/// use twat_cache_common::{Claim, SingleFlight};
/// let sf: SingleFlight<u32, String> = SingleFlight::default();
/// match sf.claim(7) {
///     Claim::Leader(leader) => leader.complete("seven".to_string()),
///     _ => unreachable!("nobody else is computing 7"),
/// }
/// ```
pub struct SingleFlight<K, V> {
    shards: Box<[FlightMap<K, V>]>,
    hasher: RandomState,
}

impl<K, V> Default for SingleFlight<K, V> {
    fn default() -> Self {
        SingleFlight {
            shards: (0..32).map(|_| Mutex::new(HashMap::new())).collect(),
            hasher: RandomState::new(),
        }
    }
}

impl<K, V> std::fmt::Debug for SingleFlight<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SingleFlight").finish_non_exhaustive()
    }
}

impl<K: Hash + Eq + Clone, V: Clone> SingleFlight<K, V> {
    fn shard(&self, key: &K) -> &FlightMap<K, V> {
        let h = self.hasher.hash_one(key) as usize;
        &self.shards[h % self.shards.len()]
    }

    /// Becomes the leader for `key`, or joins the flight already in progress.
    ///
    /// ```
    /// use twat_cache_common::{Claim, SingleFlight};
    /// let sf = SingleFlight::<&str, u32>::default();
    /// let a = sf.claim("a");
    /// assert!(matches!(a, Claim::Leader(_)));
    /// assert!(matches!(sf.claim("b"), Claim::Leader(_))); // other keys do not wait
    /// assert!(matches!(sf.claim("a"), Claim::Reentrant)); // this thread leads "a"
    /// ```
    pub fn claim(&self, key: K) -> Claim<'_, K, V> {
        self.claim_inner(key, true)
    }

    /// Like [`claim`](Self::claim), for async callers: no same-thread reentrancy check
    /// (tasks move between threads, and an async waiter yields instead of blocking).
    ///
    /// ```
    /// use twat_cache_common::{Claim, SingleFlight};
    /// let sf = SingleFlight::<u32, u32>::default();
    /// let _leader = sf.claim_async(1);
    /// // Even on the leader's thread, a second async claim waits (no `Reentrant`).
    /// assert!(matches!(sf.claim_async(1), Claim::Waiter(_)));
    /// ```
    pub fn claim_async(&self, key: K) -> Claim<'_, K, V> {
        self.claim_inner(key, false)
    }

    fn claim_inner(&self, key: K, check_reentry: bool) -> Claim<'_, K, V> {
        let me = std::thread::current().id();
        let mut map = self.shard(&key).lock();
        if let Some(f) = map.get(&key) {
            if check_reentry && f.leader == me {
                return Claim::Reentrant;
            }
            return Claim::Waiter(f.clone());
        }
        let flight = Arc::new(Flight {
            state: Mutex::new(State::Pending(Vec::new())),
            done: Condvar::new(),
            leader: me,
        });
        map.insert(key.clone(), flight.clone());
        Claim::Leader(Leader {
            owner: self,
            key: Some(key),
            flight,
        })
    }

    /// The miss path of every memoizing cache, written once: become the leader for `key`
    /// and compute, or wait for the leader already computing it.
    ///
    /// - `recheck` looks the key up in the store (without counting): a leader calls it
    ///   before computing (another caller may have stored the value since our miss), and a
    ///   waiter whose leader failed calls it before trying to lead.
    /// - `compute` runs at most once, in the leader; an `Err` (or a panic) wakes the waiters
    ///   with nothing, and one of them leads next.
    /// - `store` keeps an `Ok` value; it runs before the waiters are released.
    ///
    /// A thread that already leads `key` (same-key recursion) computes directly.
    ///
    /// ```
    /// use twat_cache_common::SingleFlight;
    /// let sf = SingleFlight::<u32, u32>::default();
    /// let mut stored = None;
    /// let v = sf.run(&1, || None, || Ok::<_, ()>(10), |v| stored = Some(*v));
    /// assert_eq!((v, stored), (Ok(10), Some(10)));
    /// ```
    pub fn run<E>(
        &self,
        key: &K,
        recheck: impl Fn() -> Option<V>,
        compute: impl FnOnce() -> Result<V, E>,
        store: impl FnOnce(&V),
    ) -> Result<V, E> {
        self.run_claimed(key, recheck, || None::<()>, compute, store)
    }

    /// [`run`](Self::run) with a second, outer claim, for cross-process single-flight: the
    /// leader, after its `recheck` missed, calls `claim` (e.g. take a lock file shared with
    /// other processes, which may block while another process computes). If that returns
    /// `Some(guard)`, the leader re-checks once more (the other process has probably stored
    /// the value by then), and otherwise computes and stores while holding the guard; the
    /// guard is dropped after `store` (or when `compute` fails or panics), before the
    /// waiters of this process are released. `None` means "no outer claim": compute anyway.
    ///
    /// Only the leader claims: the waiters of this process wait for it, and a same-key
    /// recursive call computes directly (its thread already holds the claim).
    ///
    /// ```
    /// use std::cell::Cell;
    /// use twat_cache_common::SingleFlight;
    /// let sf = SingleFlight::<u32, u32>::default();
    /// let claims = Cell::new(0);
    /// let v = sf.run_claimed(
    ///     &1,
    ///     || None,
    ///     || { claims.set(claims.get() + 1); Some("guard") },
    ///     || Ok::<_, ()>(10),
    ///     |_| {},
    /// );
    /// assert_eq!((v, claims.get()), (Ok(10), 1));
    /// ```
    pub fn run_claimed<E, G>(
        &self,
        key: &K,
        recheck: impl Fn() -> Option<V>,
        claim: impl FnOnce() -> Option<G>,
        compute: impl FnOnce() -> Result<V, E>,
        store: impl FnOnce(&V),
    ) -> Result<V, E> {
        let mut work = Some((claim, compute, store));
        loop {
            match self.claim(key.clone()) {
                Claim::Leader(leader) => {
                    if let Some(v) = recheck() {
                        leader.complete(v.clone());
                        return Ok(v);
                    }
                    let (claim, compute, store) = work.take().expect("the leader computes once");
                    let held = claim();
                    if held.is_some()
                        && let Some(v) = recheck()
                    {
                        drop(held);
                        leader.complete(v.clone());
                        return Ok(v);
                    }
                    // An Err (or a panic) drops `held`, then `leader`: waiters wake and retry.
                    let v = compute()?;
                    store(&v);
                    drop(held);
                    leader.complete(v.clone());
                    return Ok(v);
                }
                Claim::Waiter(flight) => {
                    if let Some(v) = flight.wait() {
                        return Ok(v);
                    }
                    // The leader panicked or failed: look again, then try to lead.
                    if let Some(v) = recheck() {
                        return Ok(v);
                    }
                }
                Claim::Reentrant => {
                    let (_, compute, store) = work.take().expect("computed once");
                    let v = compute()?;
                    store(&v);
                    return Ok(v);
                }
            }
        }
    }

    /// How many computations are in progress.
    ///
    /// ```
    /// use twat_cache_common::SingleFlight;
    /// let sf = SingleFlight::<u32, u32>::default();
    /// assert_eq!(sf.in_flight(), 0);
    /// let (a, b) = (sf.claim(1), sf.claim(2));
    /// assert_eq!(sf.in_flight(), 2);
    /// drop((a, b));
    /// assert_eq!(sf.in_flight(), 0);
    /// ```
    pub fn in_flight(&self) -> usize {
        self.shards.iter().map(|s| s.lock().len()).sum()
    }
}
