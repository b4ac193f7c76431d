//! [`RedisStore`]: the [`Store`] on a Redis server or a Redis Cluster.
//!
//! Entries are in the shared [`Entry`] format under `twat:{N}:<digest hex>`, where `N` is
//! the namespace's 16 hex digits in braces: a Redis Cluster *hash tag*, so every key of
//! one namespace (its entries, its order and its sizes) hashes to one slot and lives on
//! one node, and the [scripts](super::scripts) that keep them in step may reach them all.
//! A ttl is `SET .. PX`: Redis expires the keys itself. `maxsize` and `max_bytes` are kept
//! by a sorted set per namespace (`twat:{N}:order`), scored by the time of the last write,
//! or under [`Policy::Lru`] of the last read too (reads reach it in batches, through
//! [`Store::touch`] and the next `put`, never one write per hit).
//!
//! While the server (or the node holding the namespace's slot) cannot be reached, the
//! store serves from a [`MemoryCache`] of its own: one warning, [`Store::fallback`] says
//! why, and Redis is tried again at most every [`RETRY`]; once it answers, the memory is
//! dropped and Redis serves again.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use redis::{RedisError, RedisResult};
use twat_cache_common::clock::{now_nanos, unix_millis};
use twat_cache_common::entry::Entry;
use twat_cache_common::key::digest;
use twat_cache_common::{Backend, CacheError, Policy};
use twat_cache_store::{Cipher, Digest, Found, Opening, Payload, Store, Stored, crypt};
use twat_mcache::MemoryCache;

use super::connection::{Conn, Pool, Target, unreachable};
use super::scripts;
use crate::RedisCacheBuilder;

/// How long a store that lost its server waits before trying it again.
pub(crate) const RETRY: Duration = Duration::from_millis(500);

/// Members swept per script call (a call holds the server for its duration).
const SWEEP_BATCH: usize = 1000;

/// Keys deleted per `DEL` while clearing.
const SCAN_COUNT: usize = 1000;

/// What one command's outcome means to the store.
enum Outcome<T> {
    /// Redis answered.
    Done(T),
    /// Redis cannot be reached now: serve from memory.
    Down,
    /// Redis answered with an error for this command only.
    Refused(RedisError),
}

/// The Redis store: one namespace's entries on a server or a cluster.
pub struct RedisStore {
    pool: Pool,
    url: String,
    /// `twat:{N}:`: every key of the namespace starts with it.
    prefix: String,
    order: String,
    sizes: String,
    name: String,
    ttl_ms: u64,
    maxsize: u64,
    max_bytes: u64,
    lru: bool,
    cipher: Option<Cipher>,
    /// Serves while Redis cannot: stored key → serialized value.
    memory: MemoryCache<Vec<u8>, Vec<u8>>,
    /// 0 while Redis answers; else the `now_nanos` before which it is not tried.
    retry_at: AtomicU64,
    down: AtomicBool,
    reason: Mutex<Option<String>>,
    /// Scripts this store ran that count a change (`changes` in the sizes hash), counted
    /// just before each and taken back when it did not run: see [`Store::generation`].
    own_changes: AtomicU64,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("url", &self.url)
            .field("prefix", &self.prefix)
            .field("cluster", &self.pool.is_cluster())
            .field("down", &self.down.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

impl RedisStore {
    /// Opens the store of `o.namespace` on `target` (already parsed from `url`). Never
    /// connects: a server that is down at start is a fallback to memory until it is up.
    pub(crate) fn open(o: &Opening<'_>, target: Target, url: &str) -> Result<Self, String> {
        let cipher = o.cipher_without_folder()?;
        let mut mb = MemoryCache::<Vec<u8>, Vec<u8>>::builder()
            .name(o.name)
            .kind("memory")
            .policy(o.policy)
            .register(false)
            .single_flight(false);
        if let Some(m) = o.maxsize {
            mb = mb.maxsize(m as usize);
        }
        if let Some(t) = o.ttl {
            mb = mb.ttl(t);
        }
        let memory = mb.build().map_err(|e| e.to_string())?;
        let prefix = format!("twat:{{{}}}:", o.namespace.hex());
        Ok(RedisStore {
            pool: Pool::new(target),
            url: url.to_owned(),
            order: format!("{prefix}order"),
            sizes: format!("{prefix}sizes"),
            prefix,
            name: o.name.to_owned(),
            ttl_ms: o.ttl.map_or(0, |t| (t.as_millis() as u64).max(1)),
            maxsize: o.maxsize.unwrap_or(0),
            max_bytes: o.max_bytes.unwrap_or(0),
            lru: o.policy == Policy::Lru,
            cipher,
            memory,
            retry_at: AtomicU64::new(0),
            down: AtomicBool::new(false),
            reason: Mutex::new(None),
            own_changes: AtomicU64::new(0),
        })
    }

    /// The prefix of every key of this namespace: `twat:{<namespace hex>}:`.
    ///
    /// ```
    /// # #[cfg(feature = "redis")] {
    /// use twat_acache::RedisCache;
    /// use twat_cache_store::Inner;
    /// let c = RedisCache::<u8, u8>::builder().name("n").url("redis://127.0.0.1:1").build().unwrap();
    /// if let Inner::Store(store) = c.inner() {
    ///     assert!(store.prefix().starts_with("twat:{") && store.prefix().ends_with("}:"));
    /// }
    /// # }
    /// ```
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Whether the url named a cluster (several nodes).
    pub fn is_cluster(&self) -> bool {
        self.pool.is_cluster()
    }

    /// The Redis key of the entry whose digest is `d`.
    fn entry_key(&self, d: &Digest) -> String {
        let mut k = String::with_capacity(self.prefix.len() + 32);
        k.push_str(&self.prefix);
        k.push_str(&hex(d));
        k
    }

    fn resting(&self) -> bool {
        let at = self.retry_at.load(Ordering::Relaxed);
        at != 0 && now_nanos() < at
    }

    fn mark_down(&self, why: &RedisError) {
        let retry = now_nanos() + RETRY.as_nanos() as u64;
        self.retry_at.store(retry, Ordering::Relaxed);
        if !self.down.swap(true, Ordering::Relaxed) {
            let text = format!(
                "redis at {} unreachable ({why}); serving from memory until it is back",
                self.url
            );
            log::warn!("twat-acache: cache `{}`: {text}", self.name);
            *self.reason.lock() = Some(text);
        }
    }

    fn mark_up(&self) {
        if self.retry_at.load(Ordering::Relaxed) != 0 {
            self.retry_at.store(0, Ordering::Relaxed);
        }
        if self.down.load(Ordering::Relaxed) && self.down.swap(false, Ordering::Relaxed) {
            // What was kept meanwhile may be stale now that other processes write again.
            self.memory.clear();
            *self.reason.lock() = None;
            log::info!(
                "twat-acache: cache `{}`: redis at {} is back; serving from it again",
                self.name,
                self.url
            );
        }
    }

    /// Runs `op` on Redis, unless it is resting after a failure.
    fn run<T>(&self, op: impl FnMut(&mut Conn) -> RedisResult<T>) -> Outcome<T> {
        if self.resting() {
            return Outcome::Down;
        }
        match self.pool.run(op) {
            Ok(v) => {
                self.mark_up();
                Outcome::Done(v)
            }
            Err(e) if unreachable(&e) => {
                self.mark_down(&e);
                Outcome::Down
            }
            Err(e) => {
                // The server answered: it is up, this command failed (OOM, WRONGTYPE, ...).
                self.mark_up();
                Outcome::Refused(e)
            }
        }
    }

    /// Runs one of the scripts that end by counting a change, counting it as ours first.
    fn run_counted<T>(&self, cmd: &redis::Cmd) -> Outcome<T>
    where
        T: redis::FromRedisValue,
    {
        self.own_changes.fetch_add(1, Ordering::SeqCst);
        let outcome = self.run(|c| cmd.query::<T>(c.like()));
        if !matches!(outcome, Outcome::Done(_)) {
            self.own_changes.fetch_sub(1, Ordering::SeqCst);
        }
        outcome
    }

    fn script(&self, body: &str, keys: &[&str]) -> redis::Cmd {
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(body).arg(keys.len()).arg(keys);
        cmd
    }

    /// Deletes entries by member (digest hex) with their order and size.
    fn remove_members(&self, members: &[String]) -> Outcome<u64> {
        let mut cmd = self.script(scripts::REMOVE, &[&self.order, &self.sizes]);
        cmd.arg(&self.prefix).arg(members);
        self.run_counted(&cmd)
    }

    /// Checks and decodes one stored entry; damaged ones are deleted.
    fn decode<T>(
        &self,
        stored_key: &[u8],
        d: &Digest,
        bytes: &[u8],
        decode: impl FnOnce(Payload<'_>, u64) -> Option<T>,
    ) -> Found<T> {
        let bad = |why: String| {
            log::debug!(
                "twat-acache: cache `{}`: dropping {}: {why}",
                self.name,
                self.entry_key(d)
            );
            let _ = self.remove_members(&[hex(d)]);
            Found::Miss
        };
        let entry = match Entry::decode(bytes) {
            Ok(e) => e,
            Err(e) => return bad(e.to_string()),
        };
        if entry.key != stored_key {
            // A digest collision or another program's value: a miss, and not ours to delete.
            return Found::Miss;
        }
        if entry.is_expired(unix_millis()) {
            let _ = self.remove_members(&[hex(d)]);
            return Found::Expired;
        }
        let plain = match crypt::open(self.cipher.as_ref(), &entry, 0) {
            Ok(p) => p,
            Err(why) => return bad(why),
        };
        match decode(Payload::Serialized(&plain), entry.expires_ms) {
            Some(v) => Found::Hit(v),
            None => bad("the payload does not decode as this cache's value type".into()),
        }
    }

    /// After a `GET` found nothing: an entry still in the order was there and Redis
    /// expired it (`PX`), so the miss is counted as expired and its member goes too. The
    /// check and the removal are one script: between the `GET` and it, another caller may
    /// have stored the key, and that entry must stay (a separate `ZSCORE` then `REMOVE`
    /// deleted it, so concurrent callers computed one key twice). One more round trip, on
    /// misses only.
    fn absent<T>(&self, d: &Digest) -> Found<T> {
        let mut cmd = self.script(scripts::FORGET_EXPIRED, &[&self.order, &self.sizes]);
        cmd.arg(&self.prefix).arg(hex(d));
        match self.run(|c| cmd.query::<u64>(c.like())) {
            Outcome::Done(1) => Found::Expired,
            _ => Found::Miss,
        }
    }

    /// The entry for `stored_key`, sealed when there is a cipher, and its member.
    fn encode_entry(
        &self,
        stored_key: &[u8],
        plain: &[u8],
        now: u64,
    ) -> Result<Vec<u8>, CacheError> {
        let mut header = Entry {
            flags: 0,
            created_ms: now,
            expires_ms: if self.ttl_ms == 0 {
                0
            } else {
                now + self.ttl_ms
            },
            key: stored_key,
            payload: plain,
        };
        let sealed;
        if let Some(cipher) = &self.cipher {
            let mut out = Vec::with_capacity(plain.len() + 40);
            let flag = crypt::seal_into(
                cipher,
                &Entry {
                    payload: &[],
                    ..header
                },
                plain,
                &mut out,
            )
            .map_err(|message| CacheError::Encode {
                what: "value",
                message,
            })?;
            sealed = out;
            header.flags |= flag;
            header.payload = &sealed;
        }
        Ok(header.encode())
    }

    /// Evicts the oldest entries after Redis refused a write with `OOM`; how many.
    fn make_room(&self) -> u64 {
        let count: u64 = match self.run(|c| redis::cmd("ZCARD").arg(&self.order).query(c.like())) {
            Outcome::Done(n) => n,
            _ => return 0,
        };
        let n = (count / 8).max(8);
        let mut cmd = self.script(scripts::EVICT, &[&self.order, &self.sizes]);
        cmd.arg(&self.prefix).arg(n);
        match self.run_counted(&cmd) {
            Outcome::Done(removed) => removed,
            _ => 0,
        }
    }
}

fn is_oom(e: &RedisError) -> bool {
    e.code() == Some("OOM")
}

impl Store for RedisStore {
    type Builder<K, V> = RedisCacheBuilder<K, V>;
    const BACKEND: Backend = Backend::Redis;
    const MIN_SWEEP_INTERVAL: Duration = Duration::from_secs(1);
    const HAS_FOLDER: bool = false;
    const TRACKS_CHANGES: bool = true;

    /// The namespace's `changes` count (every write or delete script adds one, in any
    /// process on any machine) less the scripts this store ran; `None` while Redis cannot
    /// be asked (a memory tier is then emptied at each check).
    fn generation(&self) -> Option<u64> {
        let own = self.own_changes.load(Ordering::SeqCst);
        match self.run(|c| {
            redis::cmd("HGET")
                .arg(&self.sizes)
                .arg("changes")
                .query::<Option<u64>>(c.like())
        }) {
            Outcome::Done(n) => Some(n.unwrap_or(0).wrapping_sub(own)),
            _ => None,
        }
    }

    fn lookup<T>(
        &self,
        stored_key: &[u8],
        _bytes_value: bool,
        decode: impl FnOnce(Payload<'_>, u64) -> Option<T>,
    ) -> Found<T> {
        let d = digest(stored_key);
        let key = self.entry_key(&d);
        match self.run(|c| {
            redis::cmd("GET")
                .arg(&key)
                .query::<Option<Vec<u8>>>(c.like())
        }) {
            Outcome::Done(Some(bytes)) => self.decode(stored_key, &d, &bytes, decode),
            Outcome::Done(None) => self.absent(&d),
            Outcome::Down => match self.memory.get(stored_key) {
                // Held while Redis is down: its expiry is the memory's own ttl, not known here.
                Some(plain) => {
                    decode(Payload::Serialized(&plain), 0).map_or(Found::Miss, Found::Hit)
                }
                None => Found::Miss,
            },
            Outcome::Refused(e) => Found::Failed(format!("redis GET {key}: {e}")),
        }
    }

    fn put(
        &self,
        stored_key: &[u8],
        touched: &[Digest],
        fill: impl FnOnce(&mut Vec<u8>) -> Result<(), CacheError>,
    ) -> Result<Stored, CacheError> {
        let mut plain = Vec::new();
        fill(&mut plain)?;
        let now = unix_millis();
        let entry = self.encode_entry(stored_key, &plain, now)?;
        if self.max_bytes > 0 && entry.len() as u64 > self.max_bytes {
            return Err(CacheError::Encode {
                what: "value",
                message: format!("{} bytes is more than max_bytes", entry.len()),
            });
        }
        let d = digest(stored_key);
        let member = hex(&d);
        let key = self.entry_key(&d);
        let mut cmd = self.script(scripts::PUT, &[&key, &self.order, &self.sizes]);
        cmd.arg(&entry)
            .arg(self.ttl_ms)
            .arg(&member)
            .arg(now)
            .arg(self.maxsize)
            .arg(self.max_bytes)
            .arg(&self.prefix);
        if self.lru {
            for t in touched {
                cmd.arg(hex(t));
            }
        }
        let mut note = None;
        let mut freed = 0;
        let mut outcome = self.run_counted::<(u64, u64)>(&cmd);
        if let Outcome::Refused(e) = &outcome
            && is_oom(e)
        {
            // Redis is at its `maxmemory`: make room with our oldest entries, try once more.
            freed = self.make_room();
            note = Some(format!(
                "redis at {} is full (maxmemory): evicted {freed} oldest entries to make room",
                self.url
            ));
            outcome = self.run_counted::<(u64, u64)>(&cmd);
        }
        match outcome {
            Outcome::Done((evicted, expired)) => Ok(Stored {
                evicted: evicted + freed,
                expired,
                note,
            }),
            Outcome::Down => {
                self.memory.insert(stored_key.to_vec(), plain);
                Ok(Stored::default())
            }
            Outcome::Refused(e) => Err(CacheError::Backend {
                backend: Backend::Redis,
                message: format!("redis at {}: storing {key}: {e}", self.url),
            }),
        }
    }

    fn touch(&self, touched: &[Digest]) {
        if !self.lru || touched.is_empty() {
            return;
        }
        let now = unix_millis();
        let mut cmd = redis::cmd("ZADD");
        cmd.arg(&self.order).arg("XX").arg("GT");
        for t in touched {
            cmd.arg(now).arg(hex(t));
        }
        let _ = self.run(|c| cmd.query::<u64>(c.like()));
    }

    fn remove(&self, stored_key: &[u8]) -> bool {
        let in_memory = self.down.load(Ordering::Relaxed) && self.memory.remove(stored_key);
        match self.remove_members(&[hex(&digest(stored_key))]) {
            Outcome::Done(n) => n > 0 || in_memory,
            Outcome::Down => self.memory.remove(stored_key) || in_memory,
            Outcome::Refused(_) => in_memory,
        }
    }

    fn clear(&self) {
        self.memory.clear();
        let pattern = format!("{}*", self.prefix);
        let _ = self.run(|c| {
            c.on_every_node(|node| {
                let mut cursor: u64 = 0;
                loop {
                    let mut scan = redis::cmd("SCAN");
                    scan.arg(cursor)
                        .arg("MATCH")
                        .arg(&pattern)
                        .arg("COUNT")
                        .arg(SCAN_COUNT);
                    let (next, keys): (u64, Vec<String>) = redis::from_redis_value(node(&scan)?)?;
                    if !keys.is_empty() {
                        node(redis::cmd("DEL").arg(&keys))?;
                    }
                    if next == 0 {
                        return Ok(());
                    }
                    cursor = next;
                }
            })
        });
    }

    fn len(&self) -> usize {
        match self.run(|c| redis::cmd("ZCARD").arg(&self.order).query::<u64>(c.like())) {
            Outcome::Done(n) => n as usize,
            Outcome::Down => self.memory.len(),
            Outcome::Refused(_) => 0,
        }
    }

    fn bytes(&self) -> u64 {
        match self.run(|c| {
            redis::cmd("HGET")
                .arg(&self.sizes)
                .arg("total")
                .query::<Option<u64>>(c.like())
        }) {
            Outcome::Done(n) => n.unwrap_or(0),
            _ => 0,
        }
    }

    fn sweep_expired(&self) -> u64 {
        let mut dropped_total = 0;
        let mut start = 0u64;
        let cutoff = unix_millis().saturating_sub(self.ttl_ms);
        loop {
            let mut cmd = self.script(scripts::SWEEP, &[&self.order, &self.sizes]);
            cmd.arg(&self.prefix)
                .arg(SWEEP_BATCH)
                .arg(start)
                .arg(cutoff);
            let Outcome::Done((dropped, seen)) = self.run_counted::<(u64, u64)>(&cmd) else {
                return dropped_total + self.memory.sweep_expired();
            };
            dropped_total += dropped;
            if seen < SWEEP_BATCH as u64 {
                return dropped_total;
            }
            start += seen - dropped;
        }
    }

    fn folder(&self) -> Option<&std::path::Path> {
        None
    }

    fn encrypted(&self) -> bool {
        self.cipher.is_some()
    }

    fn fallback(&self) -> Option<(Backend, String)> {
        if !self.down.load(Ordering::Relaxed) {
            return None;
        }
        let why = self.reason.lock().clone()?;
        Some((self.memory.backend(), why))
    }
}
