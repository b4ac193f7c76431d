//! The Redis backend: entries in the shared [`Entry`] format under
//! `twat:{namespace hex}:{digest hex}`, ttl via `SET .. PX`, `clear` by `SCAN` + `DEL`.
//!
//! The connection manager and its I/O live on a small background tokio runtime owned by
//! this module, and every command runs there as a task: callers may await from any
//! executor (tokio, smol, `block_on`), and a runtime that shuts down (one per
//! `#[tokio::test]`) never takes the connection with it.
//!
//! While the server is unreachable the cache serves from its memory fallback: the first
//! failure logs one warning and sets the fallback reason; afterwards Redis is retried at
//! most every [`RETRY`], and the first success logs that it is back.

use std::future::Future;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{RedisError, RedisResult};
use tokio::runtime::Runtime;
use twat_cache_common::clock::{now_nanos, unix_millis};
use twat_cache_common::entry::Entry;
use twat_cache_common::key::digest;
use twat_cache_common::stats::Counters;
use twat_cache_common::{CacheStats, ConfigError, Namespace};

use crate::codec::Codec;

/// How long a cache that lost its server waits before trying it again.
const RETRY: Duration = Duration::from_millis(500);
/// How long a synchronous caller (`len`, the registry's `clear_all`) waits for Redis.
const SYNC_WAIT: Duration = Duration::from_secs(5);

/// What the store seals entries with (feature `encrypt`).
#[cfg(feature = "encrypt")]
pub(crate) type Cipher = twat_cache_common::cipher::EntryCipher;
/// Without the `encrypt` feature there is no cipher.
#[cfg(not(feature = "encrypt"))]
pub(crate) type Cipher = std::convert::Infallible;

pub(crate) enum OpenError {
    Config(ConfigError),
    Runtime(String),
}

fn runtime() -> Result<&'static Runtime, String> {
    static RT: OnceLock<Result<Runtime, String>> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("twat-acache-redis")
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the Redis I/O runtime: {e}"))
    })
    .as_ref()
    .map_err(Clone::clone)
}

fn transient(e: &RedisError) -> bool {
    e.is_io_error() || e.is_connection_dropped() || e.is_connection_refusal() || e.is_timeout()
}

/// Runs `op` once more when the first attempt hit a dropped or refused connection: the
/// manager has started reconnecting, and a server that is back answers the second try.
async fn with_retry<T, F, Fut>(m: ConnectionManager, op: F) -> RedisResult<T>
where
    F: Fn(ConnectionManager) -> Fut,
    Fut: Future<Output = RedisResult<T>>,
{
    match op(m.clone()).await {
        Err(e) if transient(&e) => op(m).await,
        r => r,
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

pub(crate) struct RedisStore<K, V> {
    codec: Codec<K, V>,
    namespace: Namespace,
    prefix: String,
    url: String,
    name: String,
    ttl: Option<Duration>,
    rt: &'static Runtime,
    manager: ConnectionManager,
    /// 0 while Redis answers; else the `now_nanos` before which we do not try it.
    retry_at: AtomicU64,
    down: AtomicBool,
    reason: Mutex<Option<String>>,
    counters: Counters,
    /// Seals every entry stored and opens every entry read (feature `encrypt`).
    cipher: Option<Cipher>,
}

impl<K, V> RedisStore<K, V>
where
    K: Send + Sync + 'static,
    V: Send + Sync + 'static,
{
    pub(crate) fn new(
        url: &str,
        name: &str,
        namespace: Namespace,
        ttl: Option<Duration>,
        codec: Codec<K, V>,
        cipher: Option<Cipher>,
    ) -> Result<Self, OpenError> {
        let client = redis::Client::open(url).map_err(|e| {
            OpenError::Config(ConfigError::invalid(
                "url",
                format!("{url:?} ({e})"),
                "a redis:// or rediss:// URL",
            ))
        })?;
        let rt = runtime().map_err(OpenError::Runtime)?;
        let config = ConnectionManagerConfig::new()
            .set_number_of_retries(0)
            .set_connection_timeout(Some(Duration::from_secs(1)))
            .set_response_timeout(Some(Duration::from_secs(2)));
        let manager = {
            let _in_rt = rt.enter();
            ConnectionManager::new_lazy_with_config(client, config)
                .map_err(|e| OpenError::Runtime(format!("redis at {url}: {e}")))?
        };
        let prefix = format!("twat:{}:", namespace.hex());
        Ok(RedisStore {
            codec,
            namespace,
            prefix,
            url: url.to_owned(),
            name: name.to_owned(),
            ttl,
            rt,
            manager,
            retry_at: AtomicU64::new(0),
            down: AtomicBool::new(false),
            reason: Mutex::new(None),
            counters: Counters::default(),
            cipher,
        })
    }

    pub(crate) fn encrypted(&self) -> bool {
        self.cipher.is_some()
    }

    /// The serialized value in `entry`: opened with the cipher when there is one (a plain
    /// entry is then refused), refused when encrypted without one; no other flag is used.
    fn plaintext<'e>(&self, entry: &Entry<'e>) -> Result<std::borrow::Cow<'e, [u8]>, String> {
        use twat_cache_common::entry::flags;
        if entry.flags & !flags::ENCRYPTED != 0 {
            return Err(format!("flags {:#04x} are not used by acache", entry.flags));
        }
        #[cfg(feature = "encrypt")]
        {
            twat_cache_common::cipher::payload(self.cipher.as_ref(), entry)
                .map_err(|e| e.to_string())
        }
        #[cfg(not(feature = "encrypt"))]
        {
            if entry.flags != 0 {
                return Err("entry is encrypted, and this build has no `encrypt` feature".into());
            }
            Ok(std::borrow::Cow::Borrowed(entry.payload))
        }
    }

    pub(crate) fn manager(&self) -> &ConnectionManager {
        &self.manager
    }

    pub(crate) fn prefix(&self) -> &str {
        &self.prefix
    }

    pub(crate) fn is_down(&self) -> bool {
        self.down.load(Ordering::Relaxed)
    }

    fn resting(&self) -> bool {
        let at = self.retry_at.load(Ordering::Relaxed);
        at != 0 && now_nanos() < at
    }

    fn mark_down(&self, why: &str) {
        let retry = now_nanos() + RETRY.as_nanos() as u64;
        self.retry_at.store(retry, Ordering::Relaxed);
        if !self.down.swap(true, Ordering::Relaxed) {
            let text = format!(
                "redis at {} unreachable ({why}); serving from memory until it is back",
                self.url
            );
            log::warn!("twat-acache `{}`: {text}", self.name);
            *self.reason.lock() = Some(text);
        }
    }

    fn mark_up(&self) {
        if self.retry_at.load(Ordering::Relaxed) != 0 || self.down.load(Ordering::Relaxed) {
            self.retry_at.store(0, Ordering::Relaxed);
            if self.down.swap(false, Ordering::Relaxed) {
                *self.reason.lock() = None;
                log::info!(
                    "twat-acache `{}`: redis at {} is back; serving from it again",
                    self.name,
                    self.url
                );
            }
        }
    }

    /// Runs `op` on the I/O runtime. `Err(())` means "use memory for this call".
    async fn exec<T, F, Fut>(&self, op: F) -> Result<T, ()>
    where
        T: Send + 'static,
        F: Fn(ConnectionManager) -> Fut + Send + 'static,
        Fut: Future<Output = RedisResult<T>> + Send + 'static,
    {
        if self.resting() {
            return Err(());
        }
        let m = self.manager.clone();
        match self.rt.spawn(with_retry(m, op)).await {
            Ok(Ok(v)) => {
                self.mark_up();
                Ok(v)
            }
            Ok(Err(e)) if transient(&e) => {
                self.mark_down(&e.to_string());
                Err(())
            }
            Ok(Err(e)) => {
                // The server answered with an error (OOM, WRONGTYPE, ...): this call only.
                log::debug!("twat-acache `{}`: redis error: {e}", self.name);
                Err(())
            }
            Err(join) => {
                self.mark_down(&join.to_string());
                Err(())
            }
        }
    }

    /// Runs a future on the I/O runtime and waits for it from synchronous code.
    fn block<T: Send + 'static>(&self, fut: impl Future<Output = T> + Send + 'static) -> Option<T> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.rt.spawn(async move {
            let _ = tx.send(fut.await);
        });
        rx.recv_timeout(SYNC_WAIT).ok()
    }

    fn stored_key(&self, key: &K) -> Result<Vec<u8>, ()> {
        match (self.codec.key)(key) {
            Ok(args) => Ok(self.namespace.stored_key(&args)),
            Err(e) => {
                log::debug!("twat-acache `{}`: {e}; using memory", self.name);
                Err(())
            }
        }
    }

    fn redis_key(&self, stored_key: &[u8]) -> String {
        let mut k = String::with_capacity(self.prefix.len() + 32);
        k.push_str(&self.prefix);
        k.push_str(&hex(&digest(stored_key)));
        k
    }

    /// `Ok(None)` is a miss, `Err(())` means Redis could not answer: use memory.
    pub(crate) async fn get(&self, key: &K, count: bool) -> Result<Option<V>, ()> {
        let stored = self.stored_key(key)?;
        let rkey = self.redis_key(&stored);
        let fetch_key = rkey.clone();
        let bytes: Option<Vec<u8>> = self
            .exec(move |mut m| {
                let k = fetch_key.clone();
                async move { redis::cmd("GET").arg(k).query_async(&mut m).await }
            })
            .await?;
        let value = bytes.and_then(|b| self.decode(&stored, &rkey, &b));
        if count {
            match value {
                Some(_) => self.counters.hit(),
                None => self.counters.miss(),
            }
        }
        Ok(value)
    }

    /// Checks and decodes one stored entry; deletes it when it is damaged or not ours.
    fn decode(&self, stored: &[u8], rkey: &str, bytes: &[u8]) -> Option<V> {
        let bad = |why: String| {
            log::debug!("twat-acache `{}`: dropping {rkey}: {why}", self.name);
            let mut m = self.manager.clone();
            let k = rkey.to_owned();
            self.rt.spawn(async move {
                let _: RedisResult<()> = redis::cmd("DEL").arg(k).query_async(&mut m).await;
            });
            None
        };
        let entry = match Entry::decode(bytes) {
            Ok(e) => e,
            Err(e) => return bad(e.to_string()),
        };
        if entry.key != stored {
            // A digest collision or someone else's value: a miss, and not ours to delete.
            return None;
        }
        if entry.is_expired(unix_millis()) {
            self.counters.expired(1);
            return None;
        }
        let plain = match self.plaintext(&entry) {
            Ok(p) => p,
            Err(why) => return bad(why),
        };
        match (self.codec.decode)(&plain) {
            Ok(v) => Some(v),
            Err(e) => bad(e),
        }
    }

    /// Stores `value`; gives key and value back when Redis could not take them.
    pub(crate) async fn insert(&self, key: K, value: V) -> Result<(), (K, V)> {
        let Ok(stored) = self.stored_key(&key) else {
            return Err((key, value));
        };
        let payload = match (self.codec.value)(&value) {
            Ok(p) => p,
            Err(e) => {
                log::debug!("twat-acache `{}`: {e}; using memory", self.name);
                return Err((key, value));
            }
        };
        let now = unix_millis();
        let px = self.ttl.map(|t| (t.as_millis() as u64).max(1));
        #[cfg_attr(not(feature = "encrypt"), allow(unused_mut))]
        let mut entry = Entry {
            flags: 0,
            created_ms: now,
            expires_ms: px.map_or(0, |p| now + p),
            key: &stored,
            payload: &payload,
        };
        #[cfg(feature = "encrypt")]
        let sealed;
        #[cfg(feature = "encrypt")]
        if let Some(c) = &self.cipher {
            sealed = match c.seal(&entry, &payload) {
                Ok(s) => s,
                Err(e) => {
                    log::debug!("twat-acache `{}`: {e}; using memory", self.name);
                    return Err((key, value));
                }
            };
            entry.flags |= c.flag();
            entry.payload = &sealed;
        }
        let entry = entry.encode();
        let rkey = self.redis_key(&stored);
        let stored_ok = self
            .exec(move |mut m| {
                let (k, e) = (rkey.clone(), entry.clone());
                async move {
                    let mut cmd = redis::cmd("SET");
                    cmd.arg(k).arg(e);
                    if let Some(px) = px {
                        cmd.arg("PX").arg(px);
                    }
                    cmd.query_async::<()>(&mut m).await
                }
            })
            .await;
        match stored_ok {
            Ok(()) => {
                self.counters.insert();
                Ok(())
            }
            Err(()) => Err((key, value)),
        }
    }

    pub(crate) async fn remove(&self, key: &K) -> Result<bool, ()> {
        let stored = self.stored_key(key)?;
        let rkey = self.redis_key(&stored);
        let n: i64 = self
            .exec(move |mut m| {
                let k = rkey.clone();
                async move { redis::cmd("DEL").arg(k).query_async(&mut m).await }
            })
            .await?;
        Ok(n > 0)
    }

    fn scan_op(
        &self,
        delete: bool,
    ) -> impl Fn(
        ConnectionManager,
    ) -> std::pin::Pin<Box<dyn Future<Output = RedisResult<usize>> + Send>>
    + Send
    + 'static {
        let pattern = format!("{}*", self.prefix);
        move |mut m| {
            let pattern = pattern.clone();
            Box::pin(async move {
                let mut cursor: u64 = 0;
                let mut total = 0;
                loop {
                    let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                        .arg(cursor)
                        .arg("MATCH")
                        .arg(&pattern)
                        .arg("COUNT")
                        .arg(1000)
                        .query_async(&mut m)
                        .await?;
                    total += keys.len();
                    if delete && !keys.is_empty() {
                        let _: i64 = redis::cmd("DEL").arg(&keys).query_async(&mut m).await?;
                    }
                    if next == 0 {
                        return Ok(total);
                    }
                    cursor = next;
                }
            })
        }
    }

    /// Deletes every key of this namespace; returns how many.
    pub(crate) async fn clear(&self) -> Result<usize, ()> {
        self.exec(self.scan_op(true)).await
    }

    pub(crate) fn clear_blocking(&self) -> Option<usize> {
        if self.resting() {
            return None;
        }
        let op = self.scan_op(true);
        let m = self.manager.clone();
        self.block(with_retry(m, op))?.ok()
    }

    pub(crate) fn count_blocking(&self) -> Option<usize> {
        if self.resting() {
            return None;
        }
        let op = self.scan_op(false);
        let m = self.manager.clone();
        self.block(with_retry(m, op))?.ok()
    }

    pub(crate) fn add_stats(&self, s: &mut CacheStats) {
        let t = self.counters.snapshot();
        s.hits += t.hits;
        s.misses += t.misses;
        s.inserts += t.inserts;
        s.expired += t.expired;
        if let Some(r) = self.reason.lock().clone() {
            s.fallback_reason = Some(r);
        }
    }
}
