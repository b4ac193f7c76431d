//! The caches behind a decorated function: the Rust engine, keyed by bytes.

use std::sync::Arc;
use std::time::Duration;

use pyo3::prelude::*;
use twat_cache_common::{CacheStats, ConfigError, Namespace, Policy};
use twat_ucache::{FileCache, LmdbCache, MemoryCache, RedisCache};

/// Key bytes (see `key.rs`).
pub(crate) type Key = Vec<u8>;

/// A memory cache's value: the very object the function returned, and the arguments its
/// key names by address (kept alive with the entry; see `key::Pins`).
#[derive(Clone)]
pub(crate) struct Shared(pub(crate) Arc<Stored>);

pub(crate) struct Stored {
    pub(crate) value: Py<PyAny>,
    _pins: Vec<Py<PyAny>>,
}

impl Shared {
    pub(crate) fn new(value: Py<PyAny>, pins: Option<Vec<Py<PyAny>>>) -> Self {
        Shared(Arc::new(Stored {
            value,
            _pins: pins.unwrap_or_default(),
        }))
    }
}

/// Which engine, and how it is set up (from the decorator's keywords, checked in Python).
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    pub(crate) kind: String,
    pub(crate) name: String,
    pub(crate) namespace: Namespace,
    pub(crate) maxsize: Option<usize>,
    pub(crate) ttl: Option<Duration>,
    pub(crate) policy: Option<Policy>,
    pub(crate) folder_name: Option<String>,
    pub(crate) compress: bool,
    pub(crate) lock: bool,
    pub(crate) max_bytes: Option<u64>,
    pub(crate) url: Option<String>,
    pub(crate) selection: Option<String>,
    /// A raw 256-bit key (`encryption_key=`), or a passphrase (`passphrase=`).
    pub(crate) encryption_key: Option<[u8; 32]>,
    pub(crate) passphrase: Option<String>,
    /// `l1=`: entries kept in a memory tier in front of a disk or Redis cache.
    pub(crate) l1: Option<usize>,
    pub(crate) fresh: Freshness,
}

/// The freshness keywords (docs/freshness.md), passed to every engine's builder.
#[derive(Clone, Debug, Default)]
pub(crate) struct Freshness {
    pub(crate) stale_while_revalidate: Option<Duration>,
    pub(crate) stale_if_error: Option<Duration>,
    pub(crate) tti: Option<Duration>,
    pub(crate) early: Option<f64>,
    /// `ttl_of=`: called with each value (the object itself in memory, the pickle read
    /// back on disk and in Redis); seconds, a `timedelta`, or `None` for the `ttl`.
    pub(crate) ttl_of: Option<Arc<Py<PyAny>>>,
}

impl Freshness {
    /// Whether any rule is set: calls then take the engine's freshness path.
    pub(crate) fn any(&self) -> bool {
        self.stale_while_revalidate.is_some()
            || self.stale_if_error.is_some()
            || self.tti.is_some()
            || self.early.is_some()
            || self.ttl_of.is_some()
    }

    /// Whether a call may return at once and recompute in the background.
    pub(crate) fn refreshes_later(&self) -> bool {
        self.stale_while_revalidate.is_some() || self.early.is_some()
    }
}

/// A persistent engine: values are pickles.
pub(crate) enum Persistent {
    Lmdb(LmdbCache<Key, Vec<u8>>),
    Files(FileCache<Key, Vec<u8>>),
    /// Synchronous: calls block this thread (without the GIL); `async def` wrappers run
    /// them in the event loop's executor.
    Redis(RedisCache<Key, Vec<u8>>),
}

/// Applies the shared settings to any of the engine builders (they share method names).
macro_rules! configure {
    ($builder:expr, $s:expr) => {{
        let mut b = $builder.name($s.name.clone());
        if let Some(m) = $s.maxsize {
            b = b.maxsize(m);
        }
        if let Some(t) = $s.ttl {
            b = b.ttl(t);
        }
        if let Some(p) = $s.policy {
            b = b.policy(p);
        }
        if let Some(why) = &$s.selection {
            b = b.selection(why.clone());
        }
        if let Some(w) = $s.fresh.stale_while_revalidate {
            b = b.stale_while_revalidate(w);
        }
        if let Some(w) = $s.fresh.stale_if_error {
            b = b.stale_if_error(w);
        }
        if let Some(d) = $s.fresh.tti {
            b = b.tti(d);
        }
        if let Some(beta) = $s.fresh.early {
            b = b.early(beta);
        }
        b
    }};
}

/// One entry's ttl from the decorator's `ttl_of` (`None`: the cache's `ttl`). An exception
/// in it, or an answer that is not a positive duration, also means the `ttl`; an
/// exception is reported through `sys.unraisablehook`.
fn ttl_of_value(
    ttl_of: &Py<PyAny>,
    value: impl for<'py> FnOnce(Python<'py>) -> PyResult<Bound<'py, PyAny>>,
) -> Option<Duration> {
    // `try_attach`: a background refresh may store its value while the interpreter exits.
    Python::try_attach(|py| {
        let answer = value(py).and_then(|v| ttl_of.bind(py).call1((v,)));
        let seconds = answer.and_then(|a| {
            if a.is_none() {
                Ok(None)
            } else if a.hasattr("total_seconds")? {
                a.call_method0("total_seconds")?.extract::<f64>().map(Some)
            } else {
                a.extract::<f64>().map(Some)
            }
        });
        match seconds {
            Ok(Some(s)) if s > 0.0 => Duration::try_from_secs_f64(s).ok(),
            Ok(_) => None,
            Err(e) => {
                e.write_unraisable(py, Some(ttl_of.bind(py)));
                None
            }
        }
    })
    .flatten()
}

/// Applies `ttl_of` to a builder whose values are pickles.
macro_rules! configure_ttl_of_pickled {
    ($builder:expr, $s:expr) => {{
        let mut b = $builder;
        if let Some(f) = $s.fresh.ttl_of.clone() {
            b = b.ttl_of(move |v: &Vec<u8>| ttl_of_value(&f, |py| crate::value::loads(py, v)));
        }
        b
    }};
}

/// Applies the encryption settings (feature `encrypt`; without it they were refused in
/// `Engine::new`). The cache is built on first call, so a malformed `$TWAT_CACHE_KEY` makes
/// it serve from memory with a warning, as the Rust decorators do.
#[cfg(feature = "encrypt")]
macro_rules! configure_crypto {
    ($builder:expr, $s:expr) => {{
        let mut b = $builder.env_key_fallback(true);
        if let Some(k) = $s.encryption_key {
            b = b.encryption_key(k);
        }
        if let Some(p) = &$s.passphrase {
            b = b.passphrase(p.clone());
        }
        b
    }};
}

#[cfg(not(feature = "encrypt"))]
macro_rules! configure_crypto {
    ($builder:expr, $s:expr) => {{ $builder }};
}

/// Applies what every persistent builder (disk and Redis) takes.
macro_rules! configure_persistent {
    ($builder:expr, $s:expr) => {{
        let mut b = configure_ttl_of_pickled!(
            configure_crypto!(configure!($builder, $s), $s).namespace($s.namespace.clone()),
            $s
        );
        if let Some(n) = $s.l1 {
            b = b.l1(n);
        }
        b
    }};
}

/// Applies what only the disk builders take.
macro_rules! configure_disk {
    ($builder:expr, $s:expr) => {{
        let mut b = configure_persistent!($builder, $s);
        if let Some(f) = &$s.folder_name {
            b = b.folder_name(f.clone());
        }
        if let Some(m) = $s.max_bytes {
            b = b.max_bytes(m);
        }
        b.lock($s.lock)
    }};
}

impl Settings {
    pub(crate) fn is_memory(&self) -> bool {
        self.kind == "memory"
    }

    pub(crate) fn build_memory(&self) -> Result<MemoryCache<Key, Shared>, ConfigError> {
        let mut b = configure!(MemoryCache::<Key, Shared>::builder(), self);
        if let Some(f) = self.fresh.ttl_of.clone() {
            b = b.ttl_of(move |v: &Shared| ttl_of_value(&f, |py| Ok(v.0.value.bind(py).clone())));
        }
        b.build()
    }

    pub(crate) fn build_persistent(&self) -> Result<Persistent, ConfigError> {
        Ok(match self.kind.as_str() {
            "lmdb" => Persistent::Lmdb(
                configure_disk!(LmdbCache::<Key, Vec<u8>>::builder(), self).build()?,
            ),
            "files" => Persistent::Files(
                configure_disk!(FileCache::<Key, Vec<u8>>::builder(), self)
                    .compress(self.compress)
                    .build()?,
            ),
            _ => {
                let mut b = configure_persistent!(RedisCache::<Key, Vec<u8>>::builder(), self);
                if let Some(url) = &self.url {
                    b = b.url(url.clone());
                }
                if let Some(m) = self.max_bytes {
                    b = b.max_bytes(m);
                }
                Persistent::Redis(b.build()?)
            }
        })
    }
}

impl Persistent {
    /// The stored pickle for `key`, computing it with `compute` on a miss (single-flight
    /// within the process; across processes too with `lock`). Call without the GIL.
    pub(crate) fn get_or_compute<E>(
        &self,
        key: Key,
        compute: impl FnOnce() -> Result<Vec<u8>, E>,
    ) -> Result<Vec<u8>, E> {
        match self {
            Persistent::Lmdb(c) => c.try_get_or_insert_with(key, compute),
            Persistent::Files(c) => c.try_get_or_insert_with(key, compute),
            Persistent::Redis(c) => c.try_get_or_insert_with(key, compute),
        }
    }

    /// [`get_or_compute`](Self::get_or_compute) under `stale_while_revalidate` or
    /// `early`: a stale (or early-drawn) value is returned at once and `compute` runs on
    /// the engine's background worker. Call without the GIL.
    pub(crate) fn get_or_refresh<E: 'static>(
        &self,
        key: Key,
        compute: impl FnOnce() -> Result<Vec<u8>, E> + Send + 'static,
    ) -> Result<Vec<u8>, E> {
        match self {
            Persistent::Lmdb(c) => c.try_get_or_refresh_with(key, compute),
            Persistent::Files(c) => c.try_get_or_refresh_with(key, compute),
            Persistent::Redis(c) => c.try_get_or_refresh_with(key, compute),
        }
    }

    /// Runs `compute` now and stores its pickle over whatever is stored for `key`
    /// (`force_refresh`); with `stale_if_error`, an error returns the stored pickle while
    /// it is within that window. Call without the GIL.
    pub(crate) fn refresh<E>(
        &self,
        key: Key,
        compute: impl FnOnce() -> Result<Vec<u8>, E>,
    ) -> Result<Vec<u8>, E> {
        match self {
            Persistent::Lmdb(c) => c.try_refresh_with(key, compute),
            Persistent::Files(c) => c.try_refresh_with(key, compute),
            Persistent::Redis(c) => c.try_refresh_with(key, compute),
        }
    }

    /// The stored pickle for `key` (counts a hit or a miss). Call without the GIL.
    pub(crate) fn get(&self, key: &Key) -> Option<Vec<u8>> {
        match self {
            Persistent::Lmdb(c) => c.get(key),
            Persistent::Files(c) => c.get(key),
            Persistent::Redis(c) => c.get(key),
        }
    }

    /// Stores a pickle. Call without the GIL.
    pub(crate) fn insert(&self, key: Key, value: Vec<u8>) {
        match self {
            Persistent::Lmdb(c) => c.insert(key, value),
            Persistent::Files(c) => c.insert(key, value),
            Persistent::Redis(c) => c.insert(key, value),
        }
    }

    pub(crate) fn clear(&self) {
        match self {
            Persistent::Lmdb(c) => c.clear(),
            Persistent::Files(c) => c.clear(),
            Persistent::Redis(c) => c.clear(),
        }
    }

    /// Whether entries are encrypted.
    pub(crate) fn encrypted(&self) -> bool {
        match self {
            Persistent::Lmdb(c) => c.encrypted(),
            Persistent::Files(c) => c.encrypted(),
            Persistent::Redis(c) => c.encrypted(),
        }
    }

    pub(crate) fn stats(&self) -> CacheStats {
        match self {
            Persistent::Lmdb(c) => c.stats(),
            Persistent::Files(c) => c.stats(),
            Persistent::Redis(c) => c.stats(),
        }
    }
}
