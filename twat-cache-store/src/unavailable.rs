//! [`Unavailable`]: the stand-in for a store whose Cargo feature is off. No value of it
//! exists, so every cache over it serves from memory (the compile-time fallback), and the
//! reason is the one its [`Missing`] description gives.

use std::marker::PhantomData;
use std::path::Path;
use std::time::Duration;

use twat_cache_common::{Backend, CacheError};

use crate::store::{Digest, Found, Payload, Store, Stored};

/// What a compiled-out store would have been: its builder, its backend, and why it is
/// missing.
pub trait Missing: Send + Sync + 'static {
    /// The builder of the caches over it.
    type Builder<K, V>: Default;
    /// The backend it would report.
    const BACKEND: Backend;
    /// Why caches over it serve from memory (their `fallback_reason`).
    const REASON: &'static str;
    /// Whether the store would keep a folder ([`Store::HAS_FOLDER`]).
    const HAS_FOLDER: bool = true;
}

/// A store compiled out by its feature: `Unavailable<M>` has no values.
///
/// ```
/// use twat_cache_store::{Store, unavailable::{Missing, Unavailable}};
/// struct NoDisk;
/// impl Missing for NoDisk {
///     type Builder<K, V> = ();
///     const BACKEND: twat_cache_common::Backend = twat_cache_common::Backend::Files;
///     const REASON: &'static str = "built without the `disk` feature";
/// }
/// assert!(!<Unavailable<NoDisk> as Store>::AVAILABLE);
/// assert_eq!(Unavailable::<NoDisk>::open().unwrap_err(), "built without the `disk` feature");
/// ```
pub enum Unavailable<M> {
    #[doc(hidden)]
    _Never(std::convert::Infallible, PhantomData<M>),
}

impl<M: Missing> Unavailable<M> {
    /// Never opens: `Err` says why.
    pub fn open() -> Result<Self, String> {
        Err(M::REASON.to_owned())
    }

    fn never(&self) -> ! {
        match self {
            Unavailable::_Never(never, _) => match *never {},
        }
    }
}

impl<M> std::fmt::Debug for Unavailable<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Unavailable")
    }
}

impl<M: Missing> Store for Unavailable<M> {
    type Builder<K, V> = M::Builder<K, V>;
    const BACKEND: Backend = M::BACKEND;
    const AVAILABLE: bool = false;
    const HAS_FOLDER: bool = M::HAS_FOLDER;
    const MIN_SWEEP_INTERVAL: Duration = Duration::from_secs(1);

    fn lookup<T>(
        &self,
        _: &[u8],
        _: bool,
        _: impl FnOnce(Payload<'_>, u64) -> Option<T>,
    ) -> Found<T> {
        self.never()
    }
    fn put(
        &self,
        _: &[u8],
        _: &[Digest],
        _: impl FnOnce(&mut Vec<u8>) -> Result<(), CacheError>,
    ) -> Result<Stored, CacheError> {
        self.never()
    }
    fn touch(&self, _: &[Digest]) {
        self.never()
    }
    fn remove(&self, _: &[u8]) -> bool {
        self.never()
    }
    fn clear(&self) {
        self.never()
    }
    fn len(&self) -> usize {
        self.never()
    }
    fn bytes(&self) -> u64 {
        self.never()
    }
    fn sweep_expired(&self) -> u64 {
        self.never()
    }
    fn folder(&self) -> Option<&Path> {
        self.never()
    }
    fn encrypted(&self) -> bool {
        self.never()
    }
}
