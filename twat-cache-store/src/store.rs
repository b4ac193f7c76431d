//! The [`Store`] contract: where a persistent cache's bytes live.
//!
//! A store works on *stored keys* (a namespace prefix and the postcard-encoded arguments,
//! see [`Namespace::stored_key`](twat_cache_common::Namespace::stored_key)) and on
//! serialized payloads. It owns what only it can know: how entries are laid out, how they
//! expire on its medium, how it evicts to stay within its bounds, what it does when its
//! medium is full. Everything else (typed values, single-flight, counting, the memory
//! fallback, locks, the registry) is [`PersistentCache`](crate::PersistentCache)'s.

use std::path::Path;
use std::time::Duration;

use twat_cache_common::{Backend, CacheError, Policy};

/// A stored key's 128-bit digest ([`twat_cache_common::key::digest`]): how stores name
/// entries, and how reads are recorded for [`Policy::Lru`].
pub type Digest = [u8; 16];

/// A payload handed to a lookup's decoder.
#[derive(Debug)]
pub enum Payload<'a> {
    /// The serialized value (postcard), decrypted and decompressed.
    Serialized(&'a [u8]),
    /// The content of a `Vec<u8>` value, already verified and stripped of its length
    /// (a store may read large byte values straight into their vector).
    Bytes(Vec<u8>),
}

/// What a lookup found.
#[derive(Debug, PartialEq, Eq)]
pub enum Found<T> {
    /// A live entry whose payload decoded.
    Hit(T),
    /// Nothing usable: absent, another key's entry, or damaged (a store deletes damaged
    /// entries itself before answering).
    Miss,
    /// Present but expired (the store deletes it).
    Expired,
    /// The read itself failed: served as a miss, counted as a read error.
    Failed(String),
}

/// What a store did to keep a value.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Stored {
    /// Entries removed to respect the bounds, or to make room on a full medium.
    pub evicted: u64,
    /// Expired entries removed on the way.
    pub expired: u64,
    /// Something worth reporting that did not stop the write (e.g. the folder had been
    /// deleted and was recreated).
    pub note: Option<String>,
}

/// Where a persistent cache's bytes live: LMDB, one file per entry, Redis.
///
/// Implement it in one module, add the store to the conformance suite in
/// `twat-cache-testkit`, and `PersistentCache<YourStore, K, V>` is a cache with every
/// feature of the others. Methods never panic on bad data and never fail a call: a store
/// that cannot read answers [`Found::Failed`], one that cannot write returns the error.
pub trait Store: Send + Sync + Sized + 'static {
    /// The builder of `PersistentCache<Self, K, V>`: the shared options plus what this
    /// store needs (`LmdbCacheBuilder`, `FileCacheBuilder`, ...).
    type Builder<K, V>: Default;

    /// The backend reported while this store serves.
    const BACKEND: Backend;

    /// The eviction policies this store can honour: by default LRU (least recently read
    /// or written, reads recorded in batches) and FIFO (oldest written first).
    const POLICIES: &'static [Policy] = &[Policy::Lru, Policy::Fifo];

    /// False for the stand-in of a store whose Cargo feature is off: its `open` always
    /// fails, and the fallback to memory is logged at debug level instead of warned.
    const AVAILABLE: bool = true;

    /// How often, at least, a background ttl sweep may scan the store.
    const MIN_SWEEP_INTERVAL: Duration;

    /// Whether the store keeps its entries in a folder under the cache root (LMDB, files).
    /// False for a store reached over the network (Redis): no cache root is resolved for
    /// it, `folder()` is `None` (so `lock = true` has no lock files to take), its cipher
    /// comes from [`Opening::cipher_without_folder`](crate::Opening::cipher_without_folder),
    /// and the conformance suite skips the scenarios about folders.
    const HAS_FOLDER: bool = true;

    /// Looks `stored_key` up and hands its payload to `decode`, with the entry's expiry
    /// (wall-clock Unix milliseconds, 0 for never: a memory tier in front of the store
    /// keeps a promoted entry no longer than this). `bytes_value` says the value is a
    /// `Vec<u8>` (the store may then hand [`Payload::Bytes`]). A payload that `decode`
    /// refuses (`None`) is damaged or of another type: the store deletes it and answers
    /// [`Found::Miss`].
    fn lookup<T>(
        &self,
        stored_key: &[u8],
        bytes_value: bool,
        decode: impl FnOnce(Payload<'_>, u64) -> Option<T>,
    ) -> Found<T>;

    /// Stores the payload that `fill` appends to the buffer it is given (the serialized
    /// value), replacing any entry of `stored_key`, then evicts to respect the bounds.
    /// `touched` are entries read since the last call (for [`Policy::Lru`]): the store
    /// records them before it picks what to evict. A full medium is one more reason to
    /// evict (the oldest entries first), not a reason to stop caching.
    fn put(
        &self,
        stored_key: &[u8],
        touched: &[Digest],
        fill: impl FnOnce(&mut Vec<u8>) -> Result<(), CacheError>,
    ) -> Result<Stored, CacheError>;

    /// Records that these entries were read (for [`Policy::Lru`]), in one batch.
    fn touch(&self, touched: &[Digest]);

    /// Removes the entry of `stored_key`; true if there was one.
    fn remove(&self, stored_key: &[u8]) -> bool;

    /// Removes every entry of this store's namespace.
    fn clear(&self);

    /// Entries in the namespace (as far as the store knows).
    fn len(&self) -> usize;

    /// Whether the namespace holds no entry.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes of stored entries in the namespace.
    fn bytes(&self) -> u64;

    /// Removes expired entries now; returns how many.
    fn sweep_expired(&self) -> u64;

    /// The cache folder, for lock files (`lock = true`); `None` for stores without one.
    fn folder(&self) -> Option<&Path>;

    /// Whether entries are encrypted.
    fn encrypted(&self) -> bool;

    /// A number that changes whenever another process (or the CLI's maintenance) writes,
    /// removes or clears entries in this store, and not when this process's caches do;
    /// cheap enough to read ten times a second: how a memory tier (`l1`) learns that its
    /// copies may be stale. A store that counts its own changes must count each one
    /// *before* making it (a reader in between then sees a spurious change, which only
    /// empties the tier, never a hidden one). `None` (the default) when the store cannot
    /// tell.
    fn generation(&self) -> Option<u64> {
        None
    }

    /// Whether [`generation`](Self::generation) tracks changes (a memory tier can then
    /// stand in front of the store); `None` from a store that does means "cannot tell
    /// now", and empties the tier.
    const TRACKS_CHANGES: bool = false;

    /// A lasting problem to report in `stats().last_error` (e.g. the folder was replaced
    /// while open).
    fn problem(&self) -> Option<String> {
        None
    }

    /// While the store serves from memory of its own for a time (its server unreachable:
    /// Redis): the memory backend serving, and why. `backend()` and
    /// `stats().fallback_reason` report it; `None` again once the medium is back.
    fn fallback(&self) -> Option<(Backend, String)> {
        None
    }
}
