//! The freshness methods of [`MemoryCache`]: lookups whose body may run in the
//! background (`stale_while_revalidate`, `early`), and forced recomputation
//! (`force_refresh`).

use std::hash::Hash;

use twat_cache_common::freshness::{FreshOps, get_or_compute, get_or_refresh};

use crate::MemoryCache;
use crate::fresh::Fresh;

impl<K, V> MemoryCache<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// Like [`get_or_insert_with`](Self::get_or_insert_with), with a body that may run
    /// later: a value within [`stale_while_revalidate`] (or drawn for early recomputation
    /// by [`early`]) is returned at once, and `compute` refreshes it on the crate's
    /// background worker (once per key at a time; the old value stays served until the new
    /// one is stored). That is why `compute` must be `Send + 'static`: own what it needs.
    /// On a miss it runs now, in the caller, like `get_or_insert_with`.
    ///
    /// [`stale_while_revalidate`]: crate::MemoryCacheBuilder::stale_while_revalidate
    /// [`early`]: crate::MemoryCacheBuilder::early
    ///
    /// ```
    /// use std::time::Duration;
    /// use twat_mcache::MemoryCache;
    /// let cache = MemoryCache::<String, usize>::builder()
    ///     .ttl(Duration::from_secs(60))
    ///     .stale_while_revalidate(Duration::from_secs(600))
    ///     .build()
    ///     .unwrap();
    /// let url = "https://example.com/".to_string();
    /// let u = url.clone();
    /// let len = cache.get_or_refresh_with(url.clone(), move || u.len());
    /// assert_eq!(len, 20);
    /// assert_eq!(cache.get_or_refresh_with(url, || unreachable!("fresh")), 20);
    /// ```
    pub fn get_or_refresh_with<F>(&self, key: K, compute: F) -> V
    where
        F: FnOnce() -> V + Send + 'static,
    {
        let Ok(v) =
            self.try_get_or_refresh_with(key, move || Ok::<V, std::convert::Infallible>(compute()));
        v
    }

    /// [`get_or_refresh_with`](Self::get_or_refresh_with) for fallible work: `Ok` values
    /// are stored. With [`stale_if_error`](crate::MemoryCacheBuilder::stale_if_error), an
    /// `Err` while an expired value is within that window returns the expired value
    /// (logged, counted in `stats().refresh_errors` and `stale_served`).
    ///
    /// ```
    /// use std::time::Duration;
    /// use twat_mcache::MemoryCache;
    /// let cache = MemoryCache::<u32, String>::builder()
    ///     .ttl(Duration::from_secs(60))
    ///     .stale_while_revalidate(Duration::from_secs(60))
    ///     .build()
    ///     .unwrap();
    /// let r: Result<String, std::io::Error> = cache.try_get_or_refresh_with(1, || Ok("one".into()));
    /// assert_eq!(r.unwrap(), "one");
    /// ```
    pub fn try_get_or_refresh_with<E, F>(&self, key: K, compute: F) -> Result<V, E>
    where
        E: 'static,
        F: FnOnce() -> Result<V, E> + Send + 'static,
    {
        if self.fresh_side().is_none() {
            return self.try_get_or_insert_with(key, compute);
        }
        get_or_refresh(&Fresh(self.clone()), key, false, compute)
    }

    /// The freshness paths of this cache, for a caller that drives the body itself
    /// (`AsyncCache`); `None` without rules.
    #[doc(hidden)]
    pub fn __fresh_ops(&self) -> Option<Box<dyn FreshOps<K, V>>> {
        self.fresh_side()?;
        Some(Box::new(Fresh(self.clone())))
    }

    /// Runs `compute` now and stores its value over whatever is stored for `key` (what
    /// `force_refresh = <expr>` does when the expression is true).
    ///
    /// ```
    /// use twat_mcache::MemoryCache;
    /// let cache = MemoryCache::<u32, u32>::builder().build().unwrap();
    /// cache.insert(1, 10);
    /// assert_eq!(cache.refresh_with(1, || 11), 11);
    /// assert_eq!(cache.get(&1), Some(11));
    /// ```
    pub fn refresh_with(&self, key: K, compute: impl FnOnce() -> V) -> V {
        let Ok(v) = self.try_refresh_with(key, || Ok::<V, std::convert::Infallible>(compute()));
        v
    }

    /// [`refresh_with`](Self::refresh_with) for fallible work: an `Ok` replaces the stored
    /// value; an `Err` is returned and the stored value stays (with
    /// [`stale_if_error`](crate::MemoryCacheBuilder::stale_if_error), the stored value is
    /// returned instead while it is within that window).
    pub fn try_refresh_with<E>(
        &self,
        key: K,
        compute: impl FnOnce() -> Result<V, E>,
    ) -> Result<V, E> {
        if self.fresh_side().is_none() {
            let v = compute()?;
            self.insert(key, v.clone());
            return Ok(v);
        }
        get_or_compute(&Fresh(self.clone()), key, true, compute)
    }
}
