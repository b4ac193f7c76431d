//! [`FileCache`]: the cache behind `#[fcache]`.

use std::borrow::Borrow;
use std::fmt;
use std::hash::Hash;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
#[cfg(feature = "files")]
use twat_cache_common::key::digest;
#[cfg(feature = "files")]
use twat_cache_common::lockfile::{KeyLock, KeyLocks};
use twat_cache_common::registry::{self, ManagedCache};
#[cfg(feature = "files")]
use twat_cache_common::stats::Problem;
use twat_cache_common::stats::{Counters, StoreErrors};
use twat_cache_common::{Backend, CacheStats, Namespace, SingleFlight, codec};
use twat_mcache::MemoryCache;

use crate::FileCacheBuilder;
#[cfg(feature = "files")]
use crate::store::{
    FileStore, Found, Payload, StoreConfig, encode_into, read_varint, write_varint,
};

// One per cache, behind an Arc: the size difference does not matter.
#[allow(clippy::large_enum_variant)]
enum Store<K, V> {
    #[cfg(feature = "files")]
    Files(FileStore),
    Memory(MemoryCache<K, V>),
}

/// Direct access to the store serving a [`FileCache`]: see [`FileCache::inner`].
#[derive(Debug)]
#[non_exhaustive]
pub enum Inner<'a, K, V> {
    /// The file store (feature `files`, and the folder was usable).
    #[cfg(feature = "files")]
    Files(&'a FileStore),
    /// The memory cache it fell back to.
    Memory(&'a MemoryCache<K, V>),
}

#[cfg_attr(not(feature = "files"), allow(dead_code))]
struct Core<K, V> {
    store: Store<K, V>,
    flight: SingleFlight<K, V>,
    counters: Counters,
    /// Store failures absorbed (write/read errors, lock problems), for `stats()`.
    errors: StoreErrors,
    /// `lock = true` on the file backend: the per-key lock files of the folder.
    #[cfg(feature = "files")]
    locks: Option<KeyLocks>,
    name: String,
    /// The namespace id and a NUL: the start of every stored key.
    key_prefix: Vec<u8>,
    namespace: Namespace,
    folder: Option<PathBuf>,
    ttl: Option<Duration>,
    maxsize: Option<usize>,
    max_bytes: Option<u64>,
    compress: bool,
    lock: bool,
    single_flight: bool,
    fallback_reason: Option<String>,
    selection: Option<String>,
}

/// A persistent cache keeping one file per entry, shared by every process that opens the
/// same folder. Cloning is cheap and shares the cache.
///
/// Entries are written to a temporary file and renamed into place, so readers never see a
/// partial file; every entry carries its full key and a checksum, so a damaged, truncated
/// or foreign file is a miss (and is removed), never a wrong value. When the folder cannot
/// be used the cache serves from memory instead ([`backend`](Self::backend) says which,
/// [`fallback_reason`](Self::fallback_reason) why).
///
/// ```
/// # #[cfg(feature = "files")] {
/// use twat_fcache::{Backend, FileCache};
/// let dir = tempfile::tempdir().unwrap();
/// let cache = FileCache::<String, Vec<u32>>::builder()
///     .cache_dir(dir.path())
///     .name("squares")
///     .build()
///     .unwrap();
/// assert_eq!(cache.backend(), Backend::Files);
/// let v = cache.get_or_insert_with("four".to_string(), || (0..4).map(|i| i * i).collect());
/// assert_eq!(v, vec![0, 1, 4, 9]);
/// assert_eq!(cache.get("four"), Some(vec![0, 1, 4, 9]));   // String keys are found by &str
///
/// // Another cache object on the same folder and name (e.g. another process) sees it.
/// let again = FileCache::<String, Vec<u32>>::builder()
///     .cache_dir(dir.path())
///     .name("squares")
///     .build()
///     .unwrap();
/// assert_eq!(again.get("four"), Some(vec![0, 1, 4, 9]));
/// assert!(again.remove("four"));
/// assert_eq!(cache.get("four"), None);
/// # }
/// ```
pub struct FileCache<K, V> {
    core: Arc<Core<K, V>>,
}

impl<K, V> Clone for FileCache<K, V> {
    fn clone(&self) -> Self {
        FileCache {
            core: self.core.clone(),
        }
    }
}

impl<K, V> fmt::Debug for FileCache<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileCache")
            .field("name", &self.core.name)
            .field("folder", &self.core.folder)
            .field("namespace", &self.core.namespace.id())
            .field("fallback_reason", &self.core.fallback_reason)
            .finish_non_exhaustive()
    }
}

impl<K, V> FileCache<K, V>
where
    K: Hash + Eq + Clone + Serialize + Send + Sync + 'static,
    V: Clone + Serialize + DeserializeOwned + Send + Sync + 'static,
{
    /// A builder with the defaults: folder `"default"` below the cache root, unbounded, no
    /// ttl, no compression, single-flight on.
    pub fn builder() -> FileCacheBuilder<K, V> {
        FileCacheBuilder::default()
    }

    pub(crate) fn from_builder(b: FileCacheBuilder<K, V>) -> Self {
        let name = b.name.clone().unwrap_or_else(|| "unnamed".to_owned());
        let namespace = b
            .namespace
            .clone()
            .unwrap_or_else(|| Namespace::named(&name));
        let folder = match &b.cache_dir {
            Some(dir) => Ok(dir.join(&b.folder_name)),
            None => twat_cache_common::cache_root()
                .map(|root| root.join(&b.folder_name))
                .map_err(|e| e.to_string()),
        };
        let (store, fallback_reason) = open_store::<K, V>(&b, &name, &namespace, &folder);
        let key_prefix = namespace.stored_key(&[]);
        #[cfg(feature = "files")]
        let locks = match &store {
            Store::Files(files) if b.lock => {
                let locks = KeyLocks::new(files.folder());
                locks.sweep(); // lock files left by killed holders
                Some(locks)
            }
            _ => None,
        };
        let core = Arc::new(Core {
            store,
            flight: SingleFlight::default(),
            counters: Counters::default(),
            errors: StoreErrors::default(),
            #[cfg(feature = "files")]
            locks,
            name,
            key_prefix,
            namespace,
            folder: folder.ok(),
            ttl: b.ttl,
            maxsize: b.maxsize,
            max_bytes: b.max_bytes,
            compress: b.compress,
            lock: b.lock,
            single_flight: b.single_flight,
            fallback_reason,
            selection: b.selection,
        });
        if b.register {
            let managed: Arc<dyn ManagedCache> = core.clone();
            registry::register(&managed);
        }
        FileCache { core }
    }

    /// The stored key for `key`: the namespace id, a NUL, and the postcard-serialized key.
    /// `None` if the key does not serialize (such calls are not cached).
    ///
    /// ```
    /// use twat_fcache::FileCache;
    /// let dir = tempfile::tempdir().unwrap();
    /// let cache = FileCache::<u8, u8>::builder().cache_dir(dir.path()).name("n").build().unwrap();
    /// assert_eq!(cache.stored_key(&7).unwrap(), b"n\0\x07");
    /// ```
    pub fn stored_key<Q: ?Sized + Serialize>(&self, key: &Q) -> Option<Vec<u8>>
    where
        K: Borrow<Q>,
    {
        let mut k = Vec::with_capacity(self.core.key_prefix.len() + 16);
        k.extend_from_slice(&self.core.key_prefix);
        #[cfg(feature = "files")]
        let encoded = encode_into(key, &mut k).map_err(|e| e.to_string());
        #[cfg(not(feature = "files"))]
        let encoded = codec::encode("key", key)
            .map(|b| k.extend_from_slice(&b))
            .map_err(|e| e.to_string());
        match encoded {
            Ok(()) => Some(k),
            Err(e) => {
                log::debug!("twat-fcache: key does not serialize ({e}); not cached");
                None
            }
        }
    }

    /// Looks a stored key up without counting (the single-flight re-check).
    #[cfg(feature = "files")]
    fn peek_files(store: &FileStore, stored_key: &[u8]) -> Found<V> {
        store.lookup(stored_key, is_bytes::<V>(), decode_value::<V>)
    }

    /// The stored value for `key`, if present, valid and not expired. Counts a hit or a
    /// miss. A file that does not decode is removed and counts as a miss.
    ///
    /// `key` may be any borrowed form of `K` that serializes like `K` (`&str` for
    /// `String`, `&[T]` for `Vec<T>`).
    pub fn get<Q: ?Sized + Hash + Eq + Serialize>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
    {
        let core = &*self.core;
        match &core.store {
            #[cfg(feature = "files")]
            Store::Files(store) => {
                let Some(sk) = self.stored_key(key) else {
                    core.counters.miss();
                    return None;
                };
                self.get_stored(store, &sk)
            }
            Store::Memory(m) => m.get(key),
        }
    }

    /// Stores `value` under `key`, replacing any previous value (in every process: the
    /// last write wins). Evicts the oldest entries when a bound is passed. A value that
    /// cannot be stored (does not serialize, larger than `max_bytes`, disk full) is logged
    /// at debug level and dropped: a cache never fails a call.
    pub fn insert(&self, key: K, value: V) {
        match &self.core.store {
            #[cfg(feature = "files")]
            Store::Files(store) => self.store_value(store, &key, &value),
            Store::Memory(m) => m.insert(key, value),
        }
    }

    #[cfg(feature = "files")]
    fn store_value(&self, store: &FileStore, key: &K, value: &V) {
        let core = &*self.core;
        let Some(sk) = self.stored_key(key) else {
            return;
        };
        let written = store.store(&sk, |buf| {
            encode_value(value, buf).map_err(|e| twat_cache_common::CacheError::Encode {
                what: "value",
                message: e.to_string(),
            })
        });
        match written {
            Ok(s) => {
                core.counters.insert();
                core.counters.evicted(s.evicted);
                if s.recreated {
                    core.errors.record(
                        Problem::Other,
                        &self.context(),
                        format_args!(
                            "{} had been deleted while the cache was open; recreated it",
                            store.folder().display()
                        ),
                    );
                }
            }
            // Too large, or does not serialize: a property of the value, not a store fault.
            Err(e @ twat_cache_common::CacheError::Encode { .. }) => {
                log::debug!("twat-fcache: `{}`: value not stored: {e}", core.name)
            }
            Err(e) => core.errors.record(Problem::Write, &self.context(), e),
        }
    }

    /// Removes `key`'s entry; true if there was one.
    pub fn remove<Q: ?Sized + Hash + Eq + Serialize>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
    {
        match &self.core.store {
            #[cfg(feature = "files")]
            Store::Files(store) => self.stored_key(key).is_some_and(|sk| store.remove(&sk)),
            Store::Memory(m) => m.remove(key),
        }
    }

    /// Removes every entry of this cache's namespace. Other caches sharing the folder
    /// keep theirs.
    pub fn clear(&self) {
        self.core.clear();
    }

    /// Number of entries in this cache's namespace, as far as this process knows: its own
    /// writes, plus what the last directory scan found (at open, then at most every
    /// minute when a bound or ttl needs it).
    pub fn len(&self) -> usize {
        match &self.core.store {
            #[cfg(feature = "files")]
            Store::Files(store) => store.len(),
            Store::Memory(m) => m.len(),
        }
    }

    /// Whether [`len`](Self::len) is 0.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The backend serving: [`Backend::Files`], or the memory backend it fell back to.
    pub fn backend(&self) -> Backend {
        match &self.core.store {
            #[cfg(feature = "files")]
            Store::Files(_) => Backend::Files,
            Store::Memory(m) => m.backend(),
        }
    }

    /// Whether entries are encrypted (feature `encrypt`, a key from the builder or
    /// `TWAT_CACHE_KEY`, and the file backend serving; the memory fallback keeps nothing
    /// on disk).
    ///
    /// ```
    /// use twat_fcache::FileCache;
    /// let dir = tempfile::tempdir().unwrap();
    /// let plain = FileCache::<u8, u8>::builder().cache_dir(dir.path()).build().unwrap();
    /// assert_eq!(plain.encrypted(), std::env::var_os("TWAT_CACHE_KEY").is_some()
    ///     && cfg!(all(feature = "encrypt", feature = "files")));
    /// ```
    pub fn encrypted(&self) -> bool {
        match &self.core.store {
            #[cfg(feature = "files")]
            Store::Files(s) => s.encrypted(),
            Store::Memory(_) => false,
        }
    }

    /// Why the cache serves from memory instead of files, if it does.
    ///
    /// ```
    /// use twat_fcache::{Backend, FileCache};
    /// let file = tempfile::NamedTempFile::new().unwrap();
    /// // The "root" is a regular file: no folder can be made below it.
    /// let cache = FileCache::<u8, u8>::builder().cache_dir(file.path()).build().unwrap();
    /// assert!(cache.backend().is_memory());
    /// assert!(cache.fallback_reason().is_some());
    /// assert_eq!(cache.get_or_insert_with(1, || 2), 2, "still works, from memory");
    /// ```
    pub fn fallback_reason(&self) -> Option<&str> {
        self.core.fallback_reason.as_deref()
    }

    /// The cache folder (`cache_dir/folder_name`), whether or not it is in use.
    pub fn folder(&self) -> Option<&Path> {
        self.core.folder.as_deref()
    }

    /// The namespace of this cache's entries.
    pub fn namespace(&self) -> &Namespace {
        &self.core.namespace
    }

    /// The cache's name.
    pub fn name(&self) -> &str {
        &self.core.name
    }

    /// The configured ttl.
    pub fn ttl(&self) -> Option<Duration> {
        self.core.ttl
    }

    /// A snapshot of the counters and state.
    ///
    /// ```
    /// use twat_fcache::FileCache;
    /// let dir = tempfile::tempdir().unwrap();
    /// let cache = FileCache::<u8, u8>::builder().cache_dir(dir.path()).name("s").build().unwrap();
    /// cache.get(&1);
    /// cache.insert(1, 1);
    /// cache.get(&1);
    /// let s = cache.stats();
    /// assert_eq!((s.hits, s.misses, s.inserts, s.entries), (1, 1, 1, 1));
    /// # #[cfg(feature = "files")]
    /// assert_eq!((s.kind.as_str(), s.backend.to_string().as_str()), ("fcache", "files"));
    /// ```
    pub fn stats(&self) -> CacheStats {
        self.core.stats()
    }

    /// Direct access to the store: [`Inner::Files`] (raw keys and payloads, paths) or the
    /// fallback [`Inner::Memory`]. No stats, no single-flight.
    pub fn inner(&self) -> Inner<'_, K, V> {
        match &self.core.store {
            #[cfg(feature = "files")]
            Store::Files(s) => Inner::Files(s),
            Store::Memory(m) => Inner::Memory(m),
        }
    }

    /// Removes expired entries now; returns how many. The background sweeper calls this
    /// for caches with a ttl; it uses the in-memory index, not a directory walk.
    pub fn sweep_expired(&self) -> u64 {
        self.core.sweep_expired()
    }

    /// The value for `key`, computing and storing it with `compute` on a miss.
    ///
    /// Single-flight within the process: concurrent callers missing on the same key wait
    /// for one computation. A `compute` that panics wakes the waiters (one computes in its
    /// place); one that calls back into this cache with the same key computes directly.
    ///
    /// ```
    /// use twat_fcache::FileCache;
    /// let dir = tempfile::tempdir().unwrap();
    /// let cache = FileCache::<u64, u64>::builder().cache_dir(dir.path()).build().unwrap();
    /// assert_eq!(cache.get_or_insert_with(21, || 42), 42);
    /// assert_eq!(cache.get_or_insert_with(21, || unreachable!()), 42);
    /// ```
    pub fn get_or_insert_with(&self, key: K, compute: impl FnOnce() -> V) -> V {
        match self.try_get_or_insert_with(key, || Ok::<V, std::convert::Infallible>(compute())) {
            Ok(v) => v,
            Err(never) => match never {},
        }
    }

    /// Like [`get_or_insert_with`](Self::get_or_insert_with) for fallible work: `Ok` values
    /// are stored and returned, an `Err` is returned and nothing is stored.
    ///
    /// ```
    /// use twat_fcache::FileCache;
    /// let dir = tempfile::tempdir().unwrap();
    /// let cache = FileCache::<u32, u32>::builder().cache_dir(dir.path()).build().unwrap();
    /// let r: Result<u32, String> = cache.try_get_or_insert_with(1, || Err("down".into()));
    /// assert!(r.is_err());
    /// assert!(cache.is_empty(), "errors are not stored");
    /// ```
    pub fn try_get_or_insert_with<E>(
        &self,
        key: K,
        compute: impl FnOnce() -> Result<V, E>,
    ) -> Result<V, E> {
        #[cfg(feature = "files")]
        let store = match &self.core.store {
            Store::Files(s) => s,
            Store::Memory(m) => return m.try_get_or_insert_with(key, compute),
        };
        #[cfg(not(feature = "files"))]
        let Store::Memory(m) = &self.core.store;
        #[cfg(not(feature = "files"))]
        return m.try_get_or_insert_with(key, compute);

        #[cfg(feature = "files")]
        {
            let Some(sk) = self.stored_key(&key) else {
                return compute(); // unkeyable: call straight through
            };
            if let Some(v) = self.get_stored(store, &sk) {
                return Ok(v);
            }
            let recheck = || match Self::peek_files(store, &sk) {
                Found::Hit(v) => Some(v),
                _ => None,
            };
            if !self.core.single_flight {
                let held = self.claim(&sk);
                if held.is_some()
                    && let Some(v) = recheck()
                {
                    return Ok(v);
                }
                let v = compute()?;
                self.store_value(store, &key, &v);
                drop(held);
                return Ok(v);
            }
            // Under `lock = true` the leader re-checks again once it holds the key's
            // cross-process lock: another process may have stored the value meanwhile.
            self.core.flight.run_claimed(
                &key,
                recheck,
                || self.claim(&sk),
                compute,
                |v| self.store_value(store, &key, v),
            )
        }
    }

    /// `get` for an already-built stored key (counts hits and misses).
    #[cfg(feature = "files")]
    fn get_stored(&self, store: &FileStore, sk: &[u8]) -> Option<V> {
        let c = &self.core.counters;
        match Self::peek_files(store, sk) {
            Found::Hit(v) => {
                c.hit();
                Some(v)
            }
            Found::Miss => {
                c.miss();
                None
            }
            Found::Expired => {
                c.expired(1);
                c.miss();
                None
            }
            Found::Failed(why) => {
                c.miss();
                self.core.errors.record(Problem::Read, &self.context(), why);
                None
            }
        }
    }

    /// The prefix of this cache's log lines.
    #[cfg(feature = "files")]
    fn context(&self) -> String {
        format!("twat-fcache: cache `{}`", self.core.name)
    }

    /// `lock = true`: takes the cross-process lock of `sk`'s key. `None` when locking is
    /// off, this thread already holds it, or it cannot be taken (reported once; the
    /// caller computes without it: a cache never fails a call).
    #[cfg(feature = "files")]
    fn claim(&self, sk: &[u8]) -> Option<KeyLock> {
        let locks = self.core.locks.as_ref()?;
        locks.claim(&digest(sk), &self.core.errors, &self.context())
    }
}

/// Whether values are `Vec<u8>`: they take a fast path that copies their bytes once
/// instead of going through serde one byte at a time (the stored bytes are the same).
#[cfg(feature = "files")]
fn is_bytes<V: 'static>() -> bool {
    std::any::TypeId::of::<V>() == std::any::TypeId::of::<Vec<u8>>()
}

#[cfg(feature = "files")]
fn encode_value<V: Serialize + 'static>(
    value: &V,
    buf: &mut Vec<u8>,
) -> Result<(), postcard::Error> {
    if let Some(bytes) = (value as &dyn std::any::Any).downcast_ref::<Vec<u8>>() {
        write_varint(bytes.len() as u64, buf);
        buf.extend_from_slice(bytes);
        return Ok(());
    }
    encode_into(value, buf)
}

#[cfg(feature = "files")]
fn decode_value<V: DeserializeOwned + 'static>(payload: Payload<'_>) -> Option<V> {
    if is_bytes::<V>() {
        let bytes = match payload {
            Payload::Bytes(b) => b,
            Payload::Serialized(s) => {
                let (n, vlen) = read_varint(s)?;
                let rest = &s[vlen..];
                if rest.len() as u64 != n {
                    return None;
                }
                rest.to_vec()
            }
        };
        let mut slot = Some(bytes);
        return (&mut slot as &mut dyn std::any::Any)
            .downcast_mut::<Option<V>>()?
            .take();
    }
    match payload {
        Payload::Serialized(s) => codec::decode::<V>(s).ok(),
        Payload::Bytes(_) => None,
    }
}

fn open_store<K, V>(
    b: &FileCacheBuilder<K, V>,
    name: &str,
    namespace: &Namespace,
    folder: &Result<PathBuf, String>,
) -> (Store<K, V>, Option<String>)
where
    K: Hash + Eq + Clone + Serialize + Send + Sync + 'static,
    V: Clone + Serialize + DeserializeOwned + Send + Sync + 'static,
{
    #[cfg(feature = "files")]
    let reason = {
        let opened = folder.clone().and_then(|folder| {
            FileStore::open(
                folder,
                namespace.clone(),
                StoreConfig {
                    ttl: b.ttl,
                    maxsize: b.maxsize,
                    max_bytes: b.max_bytes,
                    compress: b.compress,
                    #[cfg(feature = "encrypt")]
                    encryption: Some(b.plan.clone()),
                    #[cfg(not(feature = "encrypt"))]
                    encryption: None,
                },
            )
        });
        match opened {
            Ok(store) => return (Store::Files(store), None),
            Err(reason) => {
                log::warn!(
                    "twat-fcache: cache `{name}` falls back to memory: {reason}; results are not persisted"
                );
                reason
            }
        }
    };
    #[cfg(not(feature = "files"))]
    let reason = {
        let _ = (namespace, folder);
        log::debug!(
            "twat-fcache: cache `{name}` serves from memory: built without the `files` feature"
        );
        "twat-fcache was built without its `files` feature".to_owned()
    };
    let mut mb = MemoryCache::<K, V>::builder()
        .name(name)
        .kind("fcache")
        .register(false)
        .single_flight(b.single_flight);
    if let Some(m) = b.maxsize {
        mb = mb.maxsize(m);
    }
    if let Some(t) = b.ttl {
        mb = mb.ttl(t);
    }
    let memory = mb
        .build()
        .expect("settings were checked by FileCacheBuilder::build");
    (Store::Memory(memory), Some(reason))
}

impl<K, V> Core<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    fn stats(&self) -> CacheStats {
        let mut s = match &self.store {
            #[cfg(feature = "files")]
            Store::Files(store) => {
                let mut s = CacheStats::new(self.name.clone(), Backend::Files);
                self.counters.fill(&mut s);
                s.entries = store.len() as u64;
                s.bytes = store.bytes();
                s
            }
            Store::Memory(m) => {
                let mut s = m.stats();
                s.name = self.name.clone();
                s
            }
        };
        s.kind = "fcache".to_owned();
        s.maxsize = self.maxsize.map(|m| m as u64);
        s.ttl_secs = self.ttl.map(|t| t.as_secs_f64());
        s.folder = self.folder.clone();
        s.fallback_reason = self.fallback_reason.clone();
        s.selection = self.selection.clone();
        self.errors.fill(&mut s);
        let _ = (self.max_bytes, self.compress, self.lock);
        s
    }

    fn clear(&self) {
        match &self.store {
            #[cfg(feature = "files")]
            Store::Files(store) => {
                store.clear();
            }
            Store::Memory(m) => m.clear(),
        }
    }

    fn sweep_expired(&self) -> u64 {
        if self.ttl.is_none() {
            return 0;
        }
        match &self.store {
            #[cfg(feature = "files")]
            Store::Files(store) => {
                let n = store.sweep_expired();
                self.counters.expired(n);
                n
            }
            Store::Memory(m) => m.sweep_expired(),
        }
    }
}

impl<K, V> ManagedCache for Core<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    fn stats(&self) -> CacheStats {
        Core::stats(self)
    }
    fn clear(&self) {
        Core::clear(self);
    }
    fn sweep_expired(&self) -> u64 {
        Core::sweep_expired(self)
    }
    fn sweep_interval(&self) -> Option<Duration> {
        self.ttl.map(registry::sweep_interval_for)
    }
}
