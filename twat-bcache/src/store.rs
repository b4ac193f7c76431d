//! [`LmdbStore`]: one namespace's view of a shared LMDB environment, at the byte level.
//!
//! Layout (all in one environment per folder, see the crate docs):
//!
//! | database | key | value |
//! |---|---|---|
//! | `entries` | namespace hash (8 B, big-endian) ‖ xxh3-128 of the stored key (16 B) | encoded [`Entry`] |
//! | `order` | namespace hash ‖ created ms (8 B, big-endian) ‖ digest | empty: oldest-first index |
//! | `namespaces` | namespace hash | postcard-encoded [`Namespace`] (id and function name) |
//! | `counts` | namespace hash | entry count (8 B LE) ‖ bytes of values (8 B LE) |
//!
//! Every write updates `entries`, `order` and `counts` in one transaction, so they agree
//! after any crash. Readers only trust `entries`, and only after the entry's checksum and
//! full stored key match.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use heed::{MdbError, RoTxn, RwTxn};
use twat_cache_common::clock::unix_millis;
use twat_cache_common::key::digest;
use twat_cache_common::{Backend, CacheError, Entry, Namespace, Policy, codec};
use twat_cache_store::{Cipher, Digest, Found, Payload, Store, Stored};

use crate::env::SharedEnv;

/// Deletes per write transaction when sweeping or clearing: one huge delete transaction
/// copies every page it touches and can double the file.
pub const BATCH: usize = 1000;

/// What a lookup found, before the unusable entries are deleted.
#[derive(Debug)]
enum Lookup<V> {
    Hit(V),
    Miss,
    /// Present but expired (to be deleted).
    Expired,
    /// Present but unusable (to be deleted): the entry does not decode (`None`), or it is
    /// intact but its payload does not open or decode (wrong key, tampered ciphertext, a
    /// value of another type): `Some` of its checksum, so that the delete spares an entry
    /// another process stored since.
    Corrupt(String, Option<u64>),
    /// The read itself failed (served as a miss, counted as a read error).
    Failed(String),
}

type DbKey = [u8; 24];

/// The last 8 bytes of an encoded entry (its checksum): identifies what a lookup saw.
fn checksum(bytes: &[u8]) -> u64 {
    let tail = &bytes[bytes.len().saturating_sub(8)..];
    tail.iter().rev().fold(0, |acc, b| acc << 8 | u64::from(*b))
}

/// One namespace (one function, or one named builder cache) in a shared LMDB folder.
///
/// Returned by [`LmdbCache::inner`](crate::LmdbCache::inner) for direct access: the heed
/// environment, the folder, the namespace, raw counts.
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use twat_bcache::{Inner, LmdbCache};
/// let dir = tempfile::tempdir()?;
/// let cache = LmdbCache::<u32, String>::builder().cache_dir(dir.path()).name("doc").build()?;
/// cache.insert(1, "one".into());
/// if let Inner::Store(store) = cache.inner() {
///     assert_eq!(store.len(), 1);
///     assert_eq!(store.namespace().id(), "doc");
///     assert!(store.path().ends_with("default"));
///     let _env: &twat_bcache::heed::Env = store.env();
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct LmdbStore {
    shared: Arc<SharedEnv>,
    ns: Namespace,
    prefix: [u8; 8],
    ttl: Option<Duration>,
    maxsize: Option<u64>,
    max_bytes: Option<u64>,
    durable: bool,
    /// LRU: reads move entries to the young end of `order` (in batches, see [`Store::touch`]).
    policy: Policy,
    /// Seals every entry written and opens every entry read (feature `encrypt`).
    cipher: Option<Cipher>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Counts {
    entries: u64,
    bytes: u64,
}

impl Counts {
    fn encode(self) -> [u8; 16] {
        let mut out = [0; 16];
        out[..8].copy_from_slice(&self.entries.to_le_bytes());
        out[8..].copy_from_slice(&self.bytes.to_le_bytes());
        out
    }
    fn decode(b: &[u8]) -> Option<Self> {
        let b: &[u8; 16] = b.try_into().ok()?;
        Some(Counts {
            entries: u64::from_le_bytes(b[..8].try_into().ok()?),
            bytes: u64::from_le_bytes(b[8..].try_into().ok()?),
        })
    }
    fn remove(&mut self, len: usize) {
        self.entries = self.entries.saturating_sub(1);
        self.bytes = self.bytes.saturating_sub(len as u64);
    }
}

/// The result of a put: how many entries were evicted to make room.
#[derive(Debug, Default, Clone, Copy)]
struct PutOutcome {
    evicted: u64,
    expired: u64,
    /// The map or the disk was full: `evicted` includes what went to make room.
    full: bool,
}

/// A full map or a full disk: both are reasons to evict and try again.
fn is_full(e: &heed::Error) -> bool {
    match e {
        heed::Error::Mdb(MdbError::MapFull) => true,
        heed::Error::Io(io) => matches!(
            io.kind(),
            std::io::ErrorKind::StorageFull
                | std::io::ErrorKind::QuotaExceeded
                | std::io::ErrorKind::FileTooLarge
        ),
        _ => false,
    }
}

impl LmdbStore {
    /// Opens this cache's namespace in the folder's shared environment (created when
    /// missing); the error says why the folder cannot serve, for the fallback warning.
    pub(crate) fn open(
        o: &twat_cache_store::Opening<'_>,
        durable: bool,
        map_size: Option<usize>,
        max_map_size: Option<usize>,
    ) -> Result<Self, String> {
        let shared = crate::env::open_with(o.folder, map_size, max_map_size)?;
        let cipher = o.cipher()?;
        Ok(LmdbStore::new(
            shared,
            o.namespace.clone(),
            o.ttl,
            o.maxsize,
            o.max_bytes,
            durable,
            o.policy,
            cipher,
        ))
    }

    #[allow(clippy::too_many_arguments)]
    fn new(
        shared: Arc<SharedEnv>,
        ns: Namespace,
        ttl: Option<Duration>,
        maxsize: Option<u64>,
        max_bytes: Option<u64>,
        durable: bool,
        policy: Policy,
        cipher: Option<Cipher>,
    ) -> Self {
        let prefix = ns.hash().to_be_bytes();
        let store = LmdbStore {
            shared,
            ns,
            prefix,
            ttl,
            maxsize,
            max_bytes,
            durable,
            policy,
            cipher,
        };
        store.record_namespace();
        store
    }

    /// Whether every commit is synced to disk.
    pub fn durable(&self) -> bool {
        self.durable
    }

    /// The heed environment (shared by every cache on this folder).
    pub fn env(&self) -> &heed::Env {
        self.shared.env()
    }

    /// The folder holding `data.mdb`, `lock.mdb` and the manifest.
    pub fn path(&self) -> &std::path::Path {
        self.shared.path()
    }

    /// This cache's namespace.
    pub fn namespace(&self) -> &Namespace {
        &self.ns
    }

    /// Whether this store encrypts its entries (feature `encrypt` and a key).
    pub fn encrypted(&self) -> bool {
        self.cipher.is_some()
    }

    /// The plaintext payload of an entry read from this namespace: opened with the cipher
    /// when there is one (a plain entry is then refused), refused when encrypted and there
    /// is none. LMDB entries are never compressed, so no other flag is allowed.
    fn plaintext<'e>(&self, e: &Entry<'e>) -> Result<Cow<'e, [u8]>, String> {
        twat_cache_store::crypt::open(self.cipher.as_ref(), e, 0)
    }

    /// Entries stored in this namespace (by every process using the folder).
    pub fn len(&self) -> usize {
        self.counts_now().entries as usize
    }

    /// Whether this namespace holds no entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes of encoded entries stored in this namespace.
    pub fn bytes(&self) -> u64 {
        self.counts_now().bytes
    }

    fn counts_now(&self) -> Counts {
        self.shared
            .read(|txn| self.load_counts(txn))
            .unwrap_or_default()
    }

    fn record_namespace(&self) {
        let Ok(encoded) = codec::encode("namespace", &self.ns) else {
            return;
        };
        let known = self
            .shared
            .read(|txn| {
                Ok(self
                    .shared
                    .namespaces
                    .get(txn, &self.prefix)?
                    .is_some_and(|v| v == encoded.as_slice()))
            })
            .unwrap_or(false);
        if !known {
            let r = self.shared.write(self.durable, |txn| {
                self.shared.namespaces.put(txn, &self.prefix, &encoded)
            });
            if let Err(e) = r {
                log::debug!("twat-bcache: cannot record namespace {}: {e}", self.ns);
            }
        }
    }

    fn db_key(&self, stored_key: &[u8]) -> DbKey {
        let mut k = [0; 24];
        k[..8].copy_from_slice(&self.prefix);
        k[8..].copy_from_slice(&digest(stored_key));
        k
    }

    fn order_key(&self, created_ms: u64, dk: &DbKey) -> [u8; 32] {
        let mut k = [0; 32];
        k[..8].copy_from_slice(&self.prefix);
        k[8..16].copy_from_slice(&created_ms.to_be_bytes());
        k[16..].copy_from_slice(&dk[8..]);
        k
    }

    /// Where `dk` sits in `order`: its last recorded read (LRU), else its created time.
    fn order_time(&self, txn: &RoTxn<'_>, dk: &DbKey, created: u64) -> heed::Result<u64> {
        Ok(self.read_time(txn, dk)?.unwrap_or(created))
    }

    /// The last read recorded for `dk` (LRU), if any.
    fn read_time(&self, txn: &RoTxn<'_>, dk: &DbKey) -> heed::Result<Option<u64>> {
        Ok(self
            .shared
            .recency
            .get(txn, dk)?
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
            .map(u64::from_be_bytes))
    }

    /// Moves the entries read (`touched`) to the young end of `order`.
    fn touch_in(&self, txn: &mut RwTxn<'_>, touched: &[Digest]) -> heed::Result<()> {
        if self.policy != Policy::Lru || touched.is_empty() {
            return Ok(());
        }
        let now = unix_millis();
        let mut seen = std::collections::HashSet::with_capacity(touched.len());
        for d in touched {
            if !seen.insert(*d) {
                continue;
            }
            let mut dk = [0u8; 24];
            dk[..8].copy_from_slice(&self.prefix);
            dk[8..].copy_from_slice(d);
            let Some(created) = self
                .shared
                .entries
                .get(txn, &dk)?
                .and_then(|b| Entry::decode_header(b).ok())
                .map(|e| e.created_ms)
            else {
                continue; // gone since it was read
            };
            let old = self.order_time(txn, &dk, created)?;
            if old >= now {
                continue;
            }
            self.shared.order.delete(txn, &self.order_key(old, &dk))?;
            self.shared.order.put(txn, &self.order_key(now, &dk), &[])?;
            self.shared.recency.put(txn, &dk, &now.to_be_bytes())?;
        }
        Ok(())
    }

    /// Counts from the `counts` db, or recomputed by a scan when missing or damaged.
    fn load_counts(&self, txn: &RoTxn<'_>) -> heed::Result<Counts> {
        if let Some(c) = self
            .shared
            .counts
            .get(txn, &self.prefix)?
            .and_then(Counts::decode)
        {
            return Ok(c);
        }
        let mut c = Counts::default();
        for item in self.shared.entries.prefix_iter(txn, &self.prefix)? {
            let (_, v) = item?;
            c.entries += 1;
            c.bytes += v.len() as u64;
        }
        Ok(c)
    }

    fn store_counts(&self, txn: &mut RwTxn<'_>, c: Counts) -> heed::Result<()> {
        self.shared.counts.put(txn, &self.prefix, &c.encode())
    }

    /// Looks `stored_key` up and decodes its value with `decode` (inside the read
    /// transaction: the payload is borrowed from the map, never copied).
    fn raw_lookup<T>(
        &self,
        stored_key: &[u8],
        decode: impl FnOnce(Payload<'_>, u64) -> Option<T>,
    ) -> Lookup<T> {
        let dk = self.db_key(stored_key);
        let mut decode = Some(decode);
        let r = self.shared.read(|txn| {
            let Some(bytes) = self.shared.entries.get(txn, &dk)? else {
                return Ok(Lookup::Miss);
            };
            Ok(match Entry::decode(bytes) {
                Err(e) => Lookup::Corrupt(e.to_string(), None),
                // Another key with the same digest: not ours, and not damaged.
                Ok(e) if e.key != stored_key => Lookup::Miss,
                Ok(e) if e.expires_ms != 0 && e.is_expired(unix_millis()) => Lookup::Expired,
                Ok(e) => match self.plaintext(&e) {
                    Err(why) => Lookup::Corrupt(why, Some(checksum(bytes))),
                    Ok(p) => match decode
                        .take()
                        .and_then(|d| d(Payload::Serialized(&p), e.expires_ms))
                    {
                        Some(v) => Lookup::Hit(v),
                        None => Lookup::Corrupt(
                            "value does not decode as the cached type".to_owned(),
                            Some(checksum(bytes)),
                        ),
                    },
                },
            })
        });
        match r {
            Ok(l) => l,
            Err(e) => Lookup::Failed(e.to_string()),
        }
    }

    /// Deletes the entry under `stored_key` if it is still unusable (expired, damaged, or
    /// the very entry whose checksum is `seen`, found intact but unusable): another process
    /// may have stored a fresh one since we looked.
    fn delete_unusable(&self, stored_key: &[u8], seen: Option<u64>) {
        let dk = self.db_key(stored_key);
        let r = self.shared.write(self.durable, |txn| {
            let now = unix_millis();
            let Some(bytes) = self.shared.entries.get(txn, &dk)? else {
                return Ok(());
            };
            let len = bytes.len();
            let same = seen.is_some_and(|s| s == checksum(bytes));
            let header = Entry::decode(bytes)
                .map(|e| (e.created_ms, e.is_expired(now) || same, e.key == stored_key));
            let created = match header {
                Ok((_, false, _)) | Ok((_, _, false)) => return Ok(()), // fresh, or not ours
                Ok((created, true, true)) => Some(created),
                Err(_) => Entry::decode_header(bytes).ok().map(|e| e.created_ms),
            };
            self.delete_in(txn, &dk, created, len)
        });
        if let Err(e) = r {
            log::debug!("twat-bcache: cannot delete an unusable entry: {e}");
        }
    }

    /// Deletes `dk` (with its order key when `created` is known) and updates the counts.
    fn delete_in(
        &self,
        txn: &mut RwTxn<'_>,
        dk: &DbKey,
        created: Option<u64>,
        len: usize,
    ) -> heed::Result<()> {
        let mut c = self.load_counts(txn)?;
        if let Some(created) = created {
            let t = self.order_time(txn, dk, created)?;
            self.shared.order.delete(txn, &self.order_key(t, dk))?;
        }
        self.shared.entries.delete(txn, dk)?;
        self.shared.recency.delete(txn, dk)?;
        c.remove(len);
        self.store_counts(txn, c)
    }

    /// Stores `payload` (an encoded value) under `stored_key`, then evicts oldest entries
    /// beyond `maxsize` / `max_bytes`. On a full map that cannot grow, evicts a batch of the
    /// oldest entries and tries once more.
    fn put_payload(
        &self,
        stored_key: &[u8],
        payload: &[u8],
        touched: &[Digest],
    ) -> heed::Result<PutOutcome> {
        let now = unix_millis();
        let expires = match self.ttl {
            Some(t) => now
                .saturating_add(t.as_millis().min(u64::MAX as u128) as u64)
                .max(1),
            None => 0,
        };
        let mut entry = Entry {
            flags: 0,
            created_ms: now,
            expires_ms: expires,
            key: stored_key,
            payload,
        };
        if entry.encoded_len() > (u32::MAX as usize).saturating_sub(64) {
            return Ok(PutOutcome::default());
        }
        let mut sealed = Vec::new();
        if let Some(c) = &self.cipher {
            match twat_cache_store::crypt::seal_into(c, &entry, payload, &mut sealed) {
                Ok(flag) => entry.flags |= flag,
                Err(e) => {
                    log::debug!("twat-bcache: value not stored: {e}");
                    return Ok(PutOutcome::default());
                }
            }
            entry.payload = &sealed;
        }
        let value = entry.encode();
        if self.max_bytes.is_some_and(|m| value.len() as u64 > m) {
            // Larger than the whole budget: storing it would evict everything, itself too.
            return Ok(PutOutcome::default());
        }
        if value.len() >= self.shared.max_map_size() {
            // Can never fit, even in an empty map at its largest: fail now rather than
            // evict the namespace's oldest entries for nothing.
            return Err(heed::Error::Mdb(MdbError::MapFull));
        }
        let dk = self.db_key(stored_key);
        let ok = self.order_key(now, &dk);
        let attempt = |store: &Self| {
            store.shared.write(store.durable, |txn| {
                let mut c = store.load_counts(txn)?;
                let old = store
                    .shared
                    .entries
                    .get(txn, &dk)?
                    .map(|b| (b.len(), Entry::decode_header(b).ok().map(|e| e.created_ms)));
                if let Some((len, created)) = old {
                    let read = store.read_time(txn, &dk)?;
                    if let Some(created) = created {
                        let t = read.unwrap_or(created);
                        store.shared.order.delete(txn, &store.order_key(t, &dk))?;
                    }
                    if read.is_some() {
                        store.shared.recency.delete(txn, &dk)?;
                    }
                    c.remove(len);
                }
                store.touch_in(txn, touched)?;
                store.shared.entries.put(txn, &dk, &value)?;
                store.shared.order.put(txn, &ok, &[])?;
                c.entries += 1;
                c.bytes += value.len() as u64;
                let out = store.evict_in(txn, &mut c, &dk, BATCH)?;
                store.store_counts(txn, c)?;
                Ok(out)
            })
        };
        match attempt(self) {
            Err(e) if is_full(&e) => {
                log::debug!(
                    "twat-bcache: {} is full ({e}); evicting the oldest entries",
                    self.path().display()
                );
                let freed = self.evict_oldest(BATCH as u64);
                let mut r = attempt(self);
                if freed > 0 && matches!(&r, Err(e) if is_full(e)) {
                    // LMDB reuses the pages a transaction freed only once a later
                    // transaction has committed (the previous snapshot stays intact), so
                    // the retry right after the eviction may not see them: commit a small
                    // write (the counts, unchanged), then try again.
                    let _ = self.shared.write(self.durable, |txn| {
                        let c = self.load_counts(txn)?;
                        self.store_counts(txn, c)
                    });
                    r = attempt(self);
                }
                r.map(|mut o| {
                    o.evicted += freed;
                    o.full = true;
                    o
                })
            }
            r => r,
        }
    }

    /// Inside a write txn: drops the oldest entries until the bounds hold (at most `limit`).
    /// Never drops `keep` (the entry just written).
    fn evict_in(
        &self,
        txn: &mut RwTxn<'_>,
        c: &mut Counts,
        keep: &DbKey,
        limit: usize,
    ) -> heed::Result<PutOutcome> {
        let mut out = PutOutcome::default();
        let over = |c: &Counts| {
            self.maxsize.is_some_and(|m| c.entries > m)
                || self.max_bytes.is_some_and(|m| c.bytes > m && c.entries > 1)
        };
        let now = unix_millis();
        let mut done = 0usize;
        while over(c) && done < limit {
            let want = self
                .maxsize
                .map_or(1, |m| c.entries.saturating_sub(m).max(1) as usize)
                .min(64);
            let batch: Vec<[u8; 32]> = self
                .shared
                .order
                .prefix_iter(txn, &self.prefix)?
                .take(want + 1)
                .filter_map(|r| r.ok())
                .filter_map(|(k, _)| <[u8; 32]>::try_from(k).ok())
                .filter(|k| k[16..] != keep[8..])
                .collect();
            if batch.is_empty() {
                // The order index lost track (entries written by an older build?): rebuild
                // the counts from the entries so at least they are right.
                let mut fresh = Counts::default();
                for item in self.shared.entries.prefix_iter(txn, &self.prefix)? {
                    let (_, v) = item?;
                    fresh.entries += 1;
                    fresh.bytes += v.len() as u64;
                }
                *c = fresh;
                break;
            }
            for okey in batch {
                if !over(c) || done >= limit {
                    break;
                }
                done += 1;
                let mut dk = [0u8; 24];
                dk[..8].copy_from_slice(&self.prefix);
                dk[8..].copy_from_slice(&okey[16..]);
                let created = u64::from_be_bytes(okey[8..16].try_into().expect("8 bytes"));
                self.shared.order.delete(txn, &okey)?;
                let found = self.shared.entries.get(txn, &dk)?.map(|b| {
                    let h = Entry::decode_header(b).ok();
                    (b.len(), h.map(|e| (e.created_ms, e.is_expired(now))))
                });
                let read = match found {
                    Some(_) => self.read_time(txn, &dk)?,
                    None => None,
                };
                let placed = match found {
                    Some((_, Some((c2, _)))) => Some(read.unwrap_or(c2)),
                    _ => None,
                };
                match found {
                    // A stale order key: the entry was replaced, or read since.
                    Some((_, Some(_))) if placed != Some(created) => {}
                    Some((len, h)) => {
                        self.shared.entries.delete(txn, &dk)?;
                        if read.is_some() {
                            self.shared.recency.delete(txn, &dk)?;
                        }
                        c.remove(len);
                        if h.is_some_and(|(_, expired)| expired) {
                            out.expired += 1;
                        } else {
                            out.evicted += 1;
                        }
                    }
                    None => {}
                }
            }
        }
        Ok(out)
    }

    /// Evicts up to `n` of the oldest entries (used when the map is full).
    fn evict_oldest(&self, n: u64) -> u64 {
        let r = self.shared.write(self.durable, |txn| {
            let mut c = self.load_counts(txn)?;
            let saved = self.maxsize;
            let target = c.entries.saturating_sub(n);
            // Temporarily evict down to `target` entries.
            let me = LmdbStore {
                shared: self.shared.clone(),
                ns: self.ns.clone(),
                prefix: self.prefix,
                ttl: self.ttl,
                maxsize: Some(target.min(saved.unwrap_or(u64::MAX))),
                max_bytes: None,
                durable: self.durable,
                policy: self.policy,
                cipher: None, // evicts only: never seals or opens
            };
            let out = me.evict_in(txn, &mut c, &[0xff; 24], n as usize)?;
            self.store_counts(txn, c)?;
            Ok(out.evicted + out.expired)
        });
        r.unwrap_or(0)
    }

    /// Removes the entry for `stored_key`; true if there was one.
    fn remove_key(&self, stored_key: &[u8]) -> bool {
        let dk = self.db_key(stored_key);
        let r = self.shared.write(self.durable, |txn| {
            let Some(bytes) = self.shared.entries.get(txn, &dk)? else {
                return Ok(false);
            };
            let len = bytes.len();
            let (created, ours) = match Entry::decode(bytes) {
                Ok(e) => (Some(e.created_ms), e.key == stored_key),
                Err(_) => (Entry::decode_header(bytes).ok().map(|e| e.created_ms), true),
            };
            if !ours {
                return Ok(false);
            }
            self.delete_in(txn, &dk, created, len)?;
            Ok(true)
        });
        r.unwrap_or(false)
    }

    /// Deletes every entry of this namespace, in write transactions of at most [`BATCH`]
    /// deletes each.
    fn clear_all(&self) {
        loop {
            let r = self.shared.write(self.durable, |txn| {
                let mut c = self.load_counts(txn)?;
                let keys: Vec<(Vec<u8>, usize)> = self
                    .shared
                    .entries
                    .prefix_iter(txn, &self.prefix)?
                    .take(BATCH / 2)
                    .filter_map(|r| r.ok())
                    .map(|(k, v)| (k.to_vec(), v.len()))
                    .collect();
                let okeys: Vec<Vec<u8>> = self
                    .shared
                    .order
                    .prefix_iter(txn, &self.prefix)?
                    .take(BATCH / 2)
                    .filter_map(|r| r.ok())
                    .map(|(k, _)| k.to_vec())
                    .collect();
                let rkeys: Vec<Vec<u8>> = self
                    .shared
                    .recency
                    .prefix_iter(txn, &self.prefix)?
                    .take(BATCH / 2)
                    .filter_map(|r| r.ok())
                    .map(|(k, _)| k.to_vec())
                    .collect();
                let more = !keys.is_empty() || !okeys.is_empty() || !rkeys.is_empty();
                for (k, len) in &keys {
                    self.shared.entries.delete(txn, k)?;
                    c.remove(*len);
                }
                for k in &rkeys {
                    self.shared.recency.delete(txn, k)?;
                }
                for k in &okeys {
                    self.shared.order.delete(txn, k)?;
                }
                if !more {
                    c = Counts::default();
                }
                self.store_counts(txn, c)?;
                Ok(more)
            });
            match r {
                Ok(true) => continue,
                Ok(false) => break,
                Err(e) => {
                    log::warn!("twat-bcache: clearing {} failed: {e}", self.ns);
                    break;
                }
            }
        }
    }

    /// Deletes expired entries of this namespace; returns how many. Scans the oldest-first
    /// index in a read transaction, then deletes in write transactions of at most
    /// [`BATCH`] deletes, re-checking each entry (another process may have refreshed it).
    fn sweep(&self) -> u64 {
        self.shared.clear_stale_readers();
        let Some(ttl) = self.ttl else { return 0 };
        let ttl_ms = ttl.as_millis().min(u64::MAX as u128) as u64;
        let now = unix_millis();
        let found = self.shared.read(|txn| {
            let mut out: Vec<([u8; 32], bool)> = Vec::new();
            for item in self.shared.order.prefix_iter(txn, &self.prefix)? {
                let (okey, _) = item?;
                let Ok(okey) = <[u8; 32]>::try_from(okey) else {
                    continue;
                };
                let created = u64::from_be_bytes(okey[8..16].try_into().expect("8 bytes"));
                let mut dk = [0u8; 24];
                dk[..8].copy_from_slice(&self.prefix);
                dk[8..].copy_from_slice(&okey[16..]);
                match self.shared.entries.get(txn, &dk)? {
                    None => out.push((okey, false)), // dangling index key
                    Some(b) => match Entry::decode_header(b) {
                        Err(_) => out.push((okey, true)),
                        Ok(e) if self.order_time(txn, &dk, e.created_ms)? != created => {
                            out.push((okey, false))
                        }
                        Ok(e) if e.is_expired(now) => out.push((okey, true)),
                        // FIFO: everything after this one is newer, so not expired under
                        // our ttl. (LRU orders by reads: keep scanning.)
                        Ok(e)
                            if self.policy == Policy::Fifo
                                && e.created_ms.saturating_add(ttl_ms) > now =>
                        {
                            break;
                        }
                        Ok(_) => {}
                    },
                }
                if out.len() >= 100 * BATCH {
                    break;
                }
            }
            Ok(out)
        });
        let Ok(found) = found else { return 0 };
        let mut removed = 0;
        for chunk in found.chunks(BATCH) {
            let r = self.shared.write(self.durable, |txn| {
                let mut c = self.load_counts(txn)?;
                let mut n = 0;
                let now = unix_millis();
                for (okey, with_entry) in chunk {
                    let created = u64::from_be_bytes(okey[8..16].try_into().expect("8 bytes"));
                    let mut dk = [0u8; 24];
                    dk[..8].copy_from_slice(&self.prefix);
                    dk[8..].copy_from_slice(&okey[16..]);
                    if *with_entry {
                        let still = match self.shared.entries.get(txn, &dk)? {
                            None => None,
                            Some(b) => match Entry::decode_header(b) {
                                Err(_) => Some(b.len()),
                                Ok(e)
                                    if e.is_expired(now)
                                        && self.order_time(txn, &dk, e.created_ms)? == created =>
                                {
                                    Some(b.len())
                                }
                                Ok(_) => None,
                            },
                        };
                        if let Some(len) = still {
                            self.shared.entries.delete(txn, &dk)?;
                            self.shared.recency.delete(txn, &dk)?;
                            c.remove(len);
                            n += 1;
                        }
                    }
                    // The index key of an entry that is gone, replaced, or read since.
                    let header = self
                        .shared
                        .entries
                        .get(txn, &dk)?
                        .and_then(|b| Entry::decode_header(b).ok());
                    let live = match header {
                        Some(e) => self.order_time(txn, &dk, e.created_ms)? == created,
                        None => false,
                    };
                    if !live {
                        self.shared.order.delete(txn, okey)?;
                    }
                }
                self.store_counts(txn, c)?;
                Ok(n)
            });
            match r {
                Ok(n) => removed += n,
                Err(_) => break,
            }
        }
        removed
    }
}

impl Store for LmdbStore {
    type Builder<K, V> = crate::LmdbCacheBuilder<K, V>;
    const BACKEND: Backend = Backend::Lmdb;
    // A disk sweep scans an index: not more than once a second.
    const TRACKS_CHANGES: bool = true;
    const MIN_SWEEP_INTERVAL: Duration = Duration::from_secs(1);

    /// Commits by other processes and maintenance (see `SharedEnv::foreign_changes`):
    /// this process's own writes, to any cache of the folder, do not move it.
    fn generation(&self) -> Option<u64> {
        Some(self.shared.foreign_changes())
    }

    fn lookup<T>(
        &self,
        stored_key: &[u8],
        _bytes_value: bool,
        decode: impl FnOnce(Payload<'_>, u64) -> Option<T>,
    ) -> Found<T> {
        match self.raw_lookup(stored_key, decode) {
            Lookup::Hit(v) => Found::Hit(v),
            Lookup::Miss => Found::Miss,
            Lookup::Expired => {
                self.delete_unusable(stored_key, None);
                Found::Expired
            }
            Lookup::Corrupt(why, seen) => {
                log::debug!(
                    "twat-bcache: damaged entry in {} ({why}); deleted",
                    self.path().display()
                );
                self.delete_unusable(stored_key, seen);
                Found::Miss
            }
            Lookup::Failed(why) => {
                Found::Failed(format!("reading {}: {why}", self.path().display()))
            }
        }
    }

    fn put(
        &self,
        stored_key: &[u8],
        touched: &[Digest],
        fill: impl FnOnce(&mut Vec<u8>) -> Result<(), CacheError>,
    ) -> Result<Stored, CacheError> {
        let mut payload = Vec::with_capacity(64);
        fill(&mut payload)?;
        match self.put_payload(stored_key, &payload, touched) {
            Ok(o) => Ok(Stored {
                evicted: o.evicted,
                expired: o.expired,
                note: o.full.then(|| {
                    format!(
                        "{} was full; evicted the oldest entries to make room",
                        self.path().display()
                    )
                }),
            }),
            Err(e) => Err(CacheError::Backend {
                backend: Backend::Lmdb,
                message: format!("cannot store in {}: {e}", self.path().display()),
            }),
        }
    }

    fn touch(&self, touched: &[Digest]) {
        if self.policy != Policy::Lru || touched.is_empty() {
            return;
        }
        if let Err(e) = self
            .shared
            .write(self.durable, |txn| self.touch_in(txn, touched))
        {
            log::debug!(
                "twat-bcache: cannot record reads in {}: {e}",
                self.path().display()
            );
        }
    }

    fn remove(&self, stored_key: &[u8]) -> bool {
        self.remove_key(stored_key)
    }

    fn clear(&self) {
        self.clear_all();
    }

    fn len(&self) -> usize {
        LmdbStore::len(self)
    }

    fn bytes(&self) -> u64 {
        LmdbStore::bytes(self)
    }

    fn sweep_expired(&self) -> u64 {
        self.sweep()
    }

    fn folder(&self) -> Option<&std::path::Path> {
        Some(self.path())
    }

    fn encrypted(&self) -> bool {
        LmdbStore::encrypted(self)
    }

    fn problem(&self) -> Option<String> {
        self.shared.orphaned().map(str::to_owned)
    }
}
