//! The freshness rules on [`AsyncCache`]: the decisions are the shared ones
//! ([`twat_cache_common::freshness`], through the memory or persistent cache underneath);
//! here the body is awaited between them, and background refreshes run on the caller's
//! tokio runtime when there is one (feature `tokio`, on by default), else on the crates'
//! refresh worker.

use std::any::type_name;
use std::future::Future;
use std::hash::Hash;
use std::sync::Arc;
use std::task::{Context, Poll, Wake};
use std::time::Instant;

use twat_cache_common::Claim;
use twat_cache_common::freshness::{FreshOps, Plan};

use crate::AsyncCache;

impl<K, V> AsyncCache<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// Like [`get_or_insert_with`](Self::get_or_insert_with), with a body that may run
    /// later: a value within `stale_while_revalidate` (or drawn for early recomputation by
    /// `early`) is returned at once, and `compute` refreshes it in the background (on the
    /// caller's tokio runtime when there is one, else on the crates' refresh worker), once
    /// per key at a time; the old value stays served until the new one is stored. That is
    /// why `compute` must be `Send + 'static`. On a miss it is awaited now.
    ///
    /// ```
    /// use std::time::Duration;
    /// let cache = twat_acache::AsyncCache::<u32, u32>::builder()
    ///     .ttl(Duration::from_secs(60))
    ///     .stale_while_revalidate(Duration::from_secs(600))
    ///     .build()
    ///     .unwrap();
    /// futures_executor::block_on(async {
    ///     assert_eq!(cache.get_or_refresh_with(1, async { 10 }).await, 10);
    ///     assert_eq!(cache.get_or_refresh_with(1, async { unreachable!() }).await, 10);
    /// });
    /// ```
    pub async fn get_or_refresh_with<F>(&self, key: K, compute: F) -> V
    where
        F: Future<Output = V> + Send + 'static,
    {
        let r = self.try_get_or_refresh_with(key, async move {
            Ok::<V, std::convert::Infallible>(compute.await)
        });
        let Ok(v) = r.await;
        v
    }

    /// [`get_or_refresh_with`](Self::get_or_refresh_with) for fallible work: `Ok` values
    /// are stored; with `stale_if_error`, an `Err` while an expired value is within that
    /// window returns the expired value (logged and counted).
    pub async fn try_get_or_refresh_with<E, F>(&self, key: K, compute: F) -> Result<V, E>
    where
        E: 'static,
        F: Future<Output = Result<V, E>> + Send + 'static,
    {
        let Some(ops) = self.core.fresh.as_deref() else {
            return self.try_get_or_insert_with(key, compute).await;
        };
        match ops.plan(&key, false, true) {
            Plan::ServeAndRefresh(v) => {
                if let Some(ticket) = ops.begin_refresh(&key) {
                    let cache = self.clone();
                    spawn_background(async move {
                        let _ticket = ticket;
                        let started = Instant::now();
                        let r = compute.await;
                        let ops = cache.core.fresh.as_deref().expect("rules do not change");
                        match r {
                            Ok(v) => {
                                ops.store(&key, &v, started.elapsed());
                                ops.refreshed();
                            }
                            Err(_) => {
                                ops.refresh_failed();
                                log::warn!(
                                    "twat-acache: cache `{}`: background refresh failed (an \
                                     `Err` of type {}); the stored value stays until its stale \
                                     window closes",
                                    cache.name(),
                                    type_name::<E>()
                                );
                            }
                        }
                    });
                }
                Ok(v)
            }
            plan => self.finish_fresh(ops, key, plan, compute).await,
        }
    }

    /// Awaits `compute` now and stores its value over whatever is stored for `key` (what
    /// `force_refresh = <expr>` does when the expression is true).
    ///
    /// ```
    /// let cache = twat_acache::AsyncCache::<u32, u32>::builder().build().unwrap();
    /// futures_executor::block_on(async {
    ///     cache.insert(1, 10).await;
    ///     assert_eq!(cache.refresh_with(1, async { 11 }).await, 11);
    ///     assert_eq!(cache.get(&1).await, Some(11));
    /// });
    /// ```
    pub async fn refresh_with(&self, key: K, compute: impl Future<Output = V>) -> V {
        let r = self.try_refresh_with(key, async {
            Ok::<V, std::convert::Infallible>(compute.await)
        });
        let Ok(v) = r.await;
        v
    }

    /// [`refresh_with`](Self::refresh_with) for fallible work: an `Ok` replaces the stored
    /// value; an `Err` is returned and the stored value stays (with `stale_if_error`, the
    /// stored value is returned instead while it is within that window).
    pub async fn try_refresh_with<E>(
        &self,
        key: K,
        compute: impl Future<Output = Result<V, E>>,
    ) -> Result<V, E> {
        match self.core.fresh.as_deref() {
            Some(ops) => {
                let plan = ops.plan(&key, true, false);
                self.finish_fresh(ops, key, plan, compute).await
            }
            None => {
                let v = compute.await?;
                self.insert(key, v.clone()).await;
                Ok(v)
            }
        }
    }

    /// Finishes a call planned by the freshness rules (every plan but a background
    /// refresh).
    pub(crate) async fn finish_fresh<E>(
        &self,
        ops: &dyn FreshOps<K, V>,
        key: K,
        plan: Plan<V>,
        compute: impl Future<Output = Result<V, E>>,
    ) -> Result<V, E> {
        match plan {
            Plan::Serve(v) | Plan::ServeAndRefresh(v) => Ok(v),
            Plan::Recompute { old } => {
                let ticket = ops.begin_refresh(&key);
                let started = Instant::now();
                let r = compute.await;
                drop(ticket);
                match r {
                    Ok(v) => {
                        ops.store(&key, &v, started.elapsed());
                        if old.is_some() {
                            ops.refreshed();
                        }
                        Ok(v)
                    }
                    Err(e) => match old {
                        Some((v, true)) if ops.stale_if_error() => {
                            ops.served_stale_after_error(type_name::<E>());
                            Ok(v)
                        }
                        _ => {
                            if old.is_some() {
                                ops.refresh_failed();
                            }
                            Err(e)
                        }
                    },
                }
            }
            Plan::Miss { stale } => {
                let had_stale = stale.is_some();
                match (self.fresh_flight(ops, key, compute).await, stale) {
                    (Ok(v), _) => {
                        if had_stale {
                            ops.refreshed();
                        }
                        Ok(v)
                    }
                    (Err(_), Some(old)) => {
                        ops.served_stale_after_error(type_name::<E>());
                        Ok(old)
                    }
                    (Err(e), None) => Err(e),
                }
            }
        }
    }

    /// The miss path with rules: single-flight across tasks, the body timed (for XFetch)
    /// and its value stored with its stamp.
    async fn fresh_flight<E>(
        &self,
        ops: &dyn FreshOps<K, V>,
        key: K,
        compute: impl Future<Output = Result<V, E>>,
    ) -> Result<V, E> {
        let mut compute = Some(compute);
        loop {
            let claim = if self.core.single_flight {
                self.core.flight.claim_async(key.clone())
            } else {
                Claim::Reentrant
            };
            match claim {
                Claim::Leader(leader) => {
                    if let Some(v) = ops.fresh(&key) {
                        leader.complete(v.clone());
                        return Ok(v);
                    }
                    let compute = compute.take().expect("the leader computes once");
                    let started = Instant::now();
                    let v = compute.await?;
                    ops.store(&key, &v, started.elapsed());
                    leader.complete(v.clone());
                    return Ok(v);
                }
                Claim::Waiter(flight) => {
                    if let Some(v) = flight.wait_async().await {
                        return Ok(v);
                    }
                    if let Some(v) = ops.fresh(&key) {
                        return Ok(v);
                    }
                }
                Claim::Reentrant => {
                    let compute = compute.take().expect("computed once");
                    let started = Instant::now();
                    let v = compute.await?;
                    ops.store(&key, &v, started.elapsed());
                    return Ok(v);
                }
            }
        }
    }
}

/// Runs `job` in the background: on the caller's tokio runtime when there is one, else on
/// the crates' refresh worker (which polls it to completion on its thread).
fn spawn_background(job: impl Future<Output = ()> + Send + 'static) {
    #[cfg(feature = "tokio")]
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        drop(runtime.spawn(job));
        return;
    }
    twat_cache_common::refresh::spawn_refresh(Box::new(move || block_on(job)));
}

/// Polls `future` to completion on this thread, parking between wake-ups.
fn block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Arc::new(Unpark(std::thread::current())).into();
    let mut cx = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let Poll::Ready(v) = future.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::park();
    }
}
