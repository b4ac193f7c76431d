//! [`FileStore`]: one namespace's entries, one file each, below a cache folder.
//!
//! ```text
//! <folder>/twat-cache.files.json         {"kind":"files","format_version":1,...}
//! <folder>/<namespace hex>/namespace.json {"kind":"files","id":...,"function":...}
//! <folder>/<namespace hex>/<ab>/<ab...32 hex digits>   one encoded Entry
//! <folder>/<namespace hex>/<ab>/.tmp-XXXXXX.part       a write in progress
//! ```

use std::borrow::Cow;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, SystemTime};

use parking_lot::Mutex;
use twat_cache_common::clock::unix_millis;
use twat_cache_common::entry::{self, Entry, flags};
use twat_cache_common::key::digest;
use twat_cache_common::paths::{check_folder_is_safe, create_private_dir};
use twat_cache_common::{Backend, CacheError, Namespace, Policy};
use twat_cache_store::{Cipher, Digest, Found, Opening, Payload, Store, Stored};

use crate::compress::{self, MAX_PAYLOAD};
use crate::index::{Index, Meta};

use crate::entry_file::{
    Raw, STREAM_MIN, hex, mtime_ms, parse_digest, read_bytes_entry, read_expiry, write_atomic,
};
pub use crate::entry_file::{TMP_MAX_AGE, TMP_PREFIX};
pub use crate::folder::{LAYOUT_VERSION, MANIFEST, NAMESPACE_FILE};
use crate::folder::{check_manifest, write_namespace_file};
/// How often, at most, the directory is rescanned to learn about other processes' writes
/// (on a write to a bounded cache, or a ttl sweep).
pub const RESCAN_INTERVAL: Duration = Duration::from_secs(60);
use crate::entry_file::MAX_FILE;

/// Settings a store opens with.
#[derive(Debug, Clone, Default)]
struct StoreConfig {
    ttl: Option<Duration>,
    maxsize: Option<usize>,
    max_bytes: Option<u64>,
    compress: bool,
    /// LRU: reads refresh a file's modification time (in batches), which orders eviction.
    lru: bool,
}

/// Entries evicted at once when the disk is full, before the write is tried again.
const FULL_DISK_BATCH: usize = 16;

/// One namespace's entries in a cache folder: the file backend of
/// [`FileCache`](crate::FileCache), reached through [`FileCache::inner`](crate::FileCache::inner).
///
/// Works on stored keys (namespace id, NUL, postcard-serialized arguments; see
/// [`FileCache::stored_key`](crate::FileCache::stored_key)) and serialized payloads.
///
/// ```
/// use twat_fcache::{FileCache, Inner};
/// let dir = tempfile::tempdir().unwrap();
/// let cache = FileCache::<u32, String>::builder().cache_dir(dir.path()).build().unwrap();
/// cache.insert(7, "seven".into());
/// let Inner::Store(store) = cache.inner() else { panic!("files serve") };
/// let key = cache.stored_key(&7).unwrap();
/// assert!(store.entry_path(&key).is_file());
/// assert!(store.entry_path(&key).starts_with(store.dir()));
/// assert_eq!(store.len(), 1);
/// ```
#[derive(Debug)]
pub struct FileStore {
    folder: PathBuf,
    dir: PathBuf,
    namespace: Namespace,
    cfg: StoreConfig,
    index: Mutex<Index>,
    /// Unix ms of the last full scan.
    last_scan_ms: AtomicU64,
    /// Seals every entry written and opens every entry read (feature `encrypt`).
    cipher: Option<Cipher>,
    /// The namespace directory's change log, for memory tiers.
    changes: crate::changes::ChangeLog,
}

impl FileStore {
    /// Opens (creating what is missing) the namespace's directory in `folder`. The error
    /// says why the folder cannot serve, for the fallback warning.
    pub(crate) fn open(o: &Opening<'_>, compress: bool) -> Result<Self, String> {
        let folder = o.folder.to_path_buf();
        let namespace = o.namespace.clone();
        let cfg = StoreConfig {
            ttl: o.ttl,
            maxsize: o.maxsize.map(|m| m as usize),
            max_bytes: o.max_bytes,
            compress,
            lru: o.policy == Policy::Lru,
        };
        // A symlink or another user's folder: refused before anything follows or changes it.
        check_folder_is_safe(&folder).map_err(|e| e.to_string())?;
        create_private_dir(&folder)
            .map_err(|e| format!("cannot create {}: {e}", folder.display()))?;
        check_manifest(&folder)?;
        let cipher = o.cipher()?;
        let dir = folder.join(namespace.hex());
        create_private_dir(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let ns_file = dir.join(NAMESPACE_FILE);
        if !ns_file.is_file() {
            write_namespace_file(&dir, &namespace)?;
        }
        // A probe: the folder may exist and be readable but refuse new files.
        tempfile::Builder::new()
            .prefix(TMP_PREFIX)
            .tempfile_in(&dir)
            .and_then(|mut t| t.write_all(b"probe"))
            .map_err(|e| format!("cannot write in {}: {e}", dir.display()))?;
        let store = FileStore {
            folder,
            dir,
            namespace,
            cfg,
            index: Mutex::new(Index::default()),
            last_scan_ms: AtomicU64::new(0),
            cipher,
            changes: crate::changes::ChangeLog::default(),
        };
        store.rescan();
        Ok(store)
    }

    /// The cache folder (holding the manifest and every namespace of the folder).
    pub fn folder(&self) -> &Path {
        &self.folder
    }

    /// This namespace's directory: `folder/<namespace hex>`.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The namespace whose entries this store holds.
    pub fn namespace(&self) -> &Namespace {
        &self.namespace
    }

    /// Whether entries are encrypted (feature `encrypt` and a key).
    pub fn encrypted(&self) -> bool {
        self.cipher.is_some()
    }

    /// The payload of `entry` before decompression: opened with the cipher when there is
    /// one (a plain entry is then refused), refused when encrypted and there is none.
    fn plaintext<'e>(&self, entry: &Entry<'e>) -> Result<Cow<'e, [u8]>, String> {
        twat_cache_store::crypt::open(self.cipher.as_ref(), entry, flags::COMPRESSED)
    }

    fn locate(&self, stored_key: &[u8]) -> (Digest, PathBuf) {
        let d = digest(stored_key);
        let name = hex(&d);
        let mut path = PathBuf::with_capacity(self.dir.as_os_str().len() + 40);
        path.push(&self.dir);
        path.push(&name[..2]);
        path.push(name);
        (d, path)
    }

    /// The file that holds (or would hold) the entry for `stored_key`.
    pub fn entry_path(&self, stored_key: &[u8]) -> PathBuf {
        self.locate(stored_key).1
    }

    /// Entries known to be stored (this process's writes, plus what the last scan found).
    pub fn len(&self) -> usize {
        self.index.lock().len()
    }

    /// Whether no entry is known.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes of entry files known to be stored.
    pub fn bytes(&self) -> u64 {
        self.index.lock().bytes()
    }

    fn forget(&self, d: &Digest) {
        self.index.lock().remove(d);
    }

    fn discard(&self, d: &Digest, path: &Path, why: &dyn std::fmt::Display) {
        log::debug!("twat-fcache: removing {}: {why}", path.display());
        let _ = fs::remove_file(path);
        self.forget(d);
    }

    /// The payload stored for `stored_key` (decompressed), or `None`.
    ///
    /// ```
    /// use twat_fcache::{FileCache, Inner};
    /// let dir = tempfile::tempdir().unwrap();
    /// let cache = FileCache::<u8, u8>::builder().cache_dir(dir.path()).build().unwrap();
    /// let Inner::Store(store) = cache.inner() else { panic!() };
    /// store.insert_bytes(b"raw key", b"raw payload").unwrap();
    /// assert_eq!(store.get_bytes(b"raw key").as_deref(), Some(&b"raw payload"[..]));
    /// assert!(store.remove(b"raw key"));
    /// assert_eq!(store.get_bytes(b"raw key"), None);
    /// ```
    pub fn get_bytes(&self, stored_key: &[u8]) -> Option<Vec<u8>> {
        let payload = |p: Payload<'_>, _| match p {
            Payload::Serialized(s) => Some(s.to_vec()),
            Payload::Bytes(_) => None,
        };
        match Store::lookup(self, stored_key, false, payload) {
            Found::Hit(v) => Some(v),
            _ => None,
        }
    }

    /// Stores `payload` under `stored_key` (compressed if the store compresses).
    pub fn insert_bytes(&self, stored_key: &[u8], payload: &[u8]) -> Result<(), CacheError> {
        self.store(stored_key, &[], |buf| {
            buf.extend_from_slice(payload);
            Ok(())
        })
        .map(|_| ())
    }

    /// Writes an entry whose payload `fill` appends to the buffer it is given: the value is
    /// serialized straight into the bytes that go to the file, after the header and key.
    fn store(
        &self,
        stored_key: &[u8],
        touched: &[Digest],
        fill: impl FnOnce(&mut Vec<u8>) -> Result<(), CacheError>,
    ) -> Result<Stored, CacheError> {
        self.touch_files(touched);
        let (d, path) = self.locate(stored_key);
        let mut buf = Vec::with_capacity(entry::OVERHEAD + stored_key.len() + 256);
        buf.resize(entry::HEADER_LEN, 0);
        buf.extend_from_slice(stored_key);
        let payload_start = buf.len();
        let now = unix_millis();
        let expires = self.cfg.ttl.map_or(0, |t| {
            now.saturating_add(t.as_millis().min(u64::MAX as u128) as u64)
                .max(1)
        });
        let mut flag = 0;
        if self.cipher.is_some() {
            let mut raw = Vec::new();
            fill(&mut raw)?;
            if raw.len() > MAX_PAYLOAD {
                return Err(too_big(raw.len()));
            }
            let header = Entry {
                flags: 0,
                created_ms: now,
                expires_ms: expires,
                key: stored_key,
                payload: &[],
            };
            flag = self.seal_into(header, &raw, &mut buf)?;
        } else if self.cfg.compress {
            let mut raw = Vec::new();
            fill(&mut raw)?;
            if raw.len() > MAX_PAYLOAD {
                return Err(too_big(raw.len()));
            }
            if compress::compress_into(&raw, &mut buf) {
                flag = flags::COMPRESSED;
            }
        } else {
            fill(&mut buf)?;
        }
        let plen = buf.len() - payload_start;
        if plen > MAX_PAYLOAD || stored_key.len() > MAX_PAYLOAD {
            return Err(too_big(plen.max(stored_key.len())));
        }
        let total = (buf.len() + 8) as u64;
        if self.cfg.max_bytes.is_some_and(|m| total > m) {
            return Err(CacheError::Encode {
                what: "value",
                message: format!("{total} bytes is more than max_bytes"),
            });
        }
        buf[..2].copy_from_slice(b"TW");
        buf[2] = entry::FORMAT_VERSION;
        buf[3] = flag;
        buf[4..12].copy_from_slice(&now.to_le_bytes());
        buf[12..20].copy_from_slice(&expires.to_le_bytes());
        buf[20..24].copy_from_slice(&(stored_key.len() as u32).to_le_bytes());
        buf[24..28].copy_from_slice(&(plen as u32).to_le_bytes());
        let sum = xxhash_rust::xxh3::xxh3_64(&buf);
        buf.extend_from_slice(&sum.to_le_bytes());
        debug_assert!(Entry::decode(&buf).is_ok());

        let fan = path.parent().expect("entry paths have a fan-out directory");
        let mut freed = 0u64;
        let created = match write_atomic(fan, &path, &buf) {
            Err(e) if is_full(&e) => {
                // A full disk is one more bound: make room (oldest first), then try once
                // more. The value is returned to the caller either way.
                log::debug!(
                    "twat-fcache: {} is full ({e}); evicting the oldest entries",
                    self.dir.display()
                );
                freed = self.evict_oldest(FULL_DISK_BATCH, &d);
                write_atomic(fan, &path, &buf)
            }
            r => r,
        }
        .map_err(|e| CacheError::io("write", &path, e))?;
        drop(buf);
        self.changes.note_own(&self.dir);
        // A new fan-out directory is routine; a missing manifest with it means the whole
        // folder was deleted under us: describe it again for the CLI and the next open.
        let recreated = created
            && !self.folder.join(MANIFEST).exists()
            && check_manifest(&self.folder).is_ok()
            && write_namespace_file(&self.dir, &self.namespace).is_ok();

        if self.bounded() && self.scan_is_stale() {
            self.rescan();
        }
        let meta = Meta {
            size: total,
            created_ms: now,
            expires_ms: expires,
        };
        let victims = {
            let mut idx = self.index.lock();
            idx.upsert(d, meta);
            let mut victims = Vec::new();
            while self.cfg.maxsize.is_some_and(|m| idx.len() > m)
                || self.cfg.max_bytes.is_some_and(|m| idx.bytes() > m)
            {
                match idx.pop_oldest_except(&d) {
                    Some(v) => victims.push(v),
                    None => break,
                }
            }
            victims
        };
        for v in &victims {
            let _ = fs::remove_file(self.path_of(v));
        }
        Ok(Stored {
            evicted: victims.len() as u64 + freed,
            expired: 0,
            note: if recreated {
                Some(format!(
                    "{} had been deleted while the cache was open; recreated it",
                    self.folder.display()
                ))
            } else if freed > 0 {
                Some(format!(
                    "{} was full; evicted the oldest entries to make room",
                    self.folder.display()
                ))
            } else {
                None
            },
        })
    }

    /// The file of the entry whose digest is `d`.
    fn path_of(&self, d: &Digest) -> PathBuf {
        let name = hex(d);
        self.dir.join(&name[..2]).join(&name)
    }

    /// Removes up to `n` of the oldest (least recently used, under LRU) entries other than
    /// `keep`; returns how many files went.
    fn evict_oldest(&self, n: usize, keep: &Digest) -> u64 {
        let victims: Vec<Digest> = {
            let mut idx = self.index.lock();
            (0..n).map_while(|_| idx.pop_oldest_except(keep)).collect()
        };
        victims
            .iter()
            .filter(|v| fs::remove_file(self.path_of(v)).is_ok())
            .count() as u64
    }

    /// LRU: marks these entries as just used: their files' modification time (which
    /// every process's scan reads as their age) and this process's index.
    fn touch_files(&self, touched: &[Digest]) {
        if !self.cfg.lru || touched.is_empty() {
            return;
        }
        let now = SystemTime::now();
        let now_ms = unix_millis();
        let mut seen = std::collections::HashSet::with_capacity(touched.len());
        for d in touched {
            if !seen.insert(*d) {
                continue;
            }
            let ok = File::options()
                .write(true)
                .open(self.path_of(d))
                .and_then(|f| f.set_modified(now))
                .is_ok();
            let mut idx = self.index.lock();
            if ok && let Some(mut m) = idx.get(d) {
                m.created_ms = now_ms;
                idx.upsert(*d, m);
            }
        }
    }

    /// Appends the sealed payload of `raw` (compressed first when the store compresses
    /// and it pays) to `buf`; returns the entry's flags. `header` gives the entry's times
    /// and key: with the flags, the associated data.
    fn seal_into(
        &self,
        mut header: Entry<'_>,
        raw: &[u8],
        buf: &mut Vec<u8>,
    ) -> Result<u8, CacheError> {
        let Some(cipher) = &self.cipher else {
            buf.extend_from_slice(raw);
            return Ok(0);
        };
        let mut packed = Vec::new();
        let plain = if self.cfg.compress && compress::compress_into(raw, &mut packed) {
            header.flags = flags::COMPRESSED;
            &packed[..]
        } else {
            raw
        };
        let flag =
            twat_cache_store::crypt::seal_into(cipher, &header, plain, buf).map_err(|message| {
                CacheError::Encode {
                    what: "value",
                    message,
                }
            })?;
        Ok(header.flags | flag)
    }

    fn bounded(&self) -> bool {
        self.cfg.maxsize.is_some() || self.cfg.max_bytes.is_some()
    }

    fn scan_is_stale(&self) -> bool {
        let last = self.last_scan_ms.load(Relaxed);
        unix_millis().saturating_sub(last) > RESCAN_INTERVAL.as_millis() as u64
    }

    /// Removes the entry for `stored_key`; true if there was a file.
    pub fn remove(&self, stored_key: &[u8]) -> bool {
        self.remove_entry(stored_key)
    }

    fn remove_entry(&self, stored_key: &[u8]) -> bool {
        let (d, path) = self.locate(stored_key);
        let removed = fs::remove_file(&path).is_ok();
        self.forget(&d);
        if removed {
            self.changes.note_own(&self.dir);
        }
        removed
    }

    /// The entry files of this namespace: (digest, path, metadata), and stale temporary
    /// files removed on the way.
    fn walk(&self, mut each: impl FnMut(Digest, PathBuf, &fs::Metadata)) {
        let Ok(fans) = fs::read_dir(&self.dir) else {
            return;
        };
        let now = SystemTime::now();
        for fan in fans.flatten() {
            let fan_name = fan.file_name();
            let Some(fan_name) = fan_name.to_str() else {
                continue;
            };
            if fan_name.len() != 2 || !fan.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            let Ok(files) = fs::read_dir(fan.path()) else {
                continue;
            };
            for f in files.flatten() {
                let name = f.file_name();
                let Some(name) = name.to_str() else { continue };
                let Ok(md) = f.metadata() else { continue };
                if name.starts_with(TMP_PREFIX) {
                    let old = md
                        .modified()
                        .ok()
                        .and_then(|t| now.duration_since(t).ok())
                        .is_some_and(|age| age > TMP_MAX_AGE);
                    if old {
                        let _ = fs::remove_file(f.path());
                    }
                    continue;
                }
                let Some(d) = parse_digest(name) else {
                    continue;
                };
                if !md.is_file() || !name.starts_with(fan_name) {
                    continue;
                }
                each(d, f.path(), &md);
            }
        }
    }

    /// Rebuilds the index from the directory (done at open, then at most every
    /// a minute (`RESCAN_INTERVAL`) by bounded writes and ttl sweeps). Sweeps temporary files left by
    /// killed writers. With a ttl, reads each file's expiry from its header, and removes
    /// files that are not entries.
    pub fn rescan(&self) {
        self.last_scan_ms.store(unix_millis(), Relaxed);
        let mut fresh = Index::default();
        let read_expiry_too = self.cfg.ttl.is_some();
        self.walk(|d, path, md| {
            let expires_ms = if read_expiry_too {
                match read_expiry(&path) {
                    Ok(e) => e,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => return,
                    Err(e) => {
                        log::debug!("twat-fcache: removing {}: {e}", path.display());
                        let _ = fs::remove_file(&path);
                        return;
                    }
                }
            } else {
                0
            };
            fresh.upsert(
                d,
                Meta {
                    size: md.len(),
                    created_ms: mtime_ms(md),
                    expires_ms,
                },
            );
        });
        *self.index.lock() = fresh;
    }

    /// Removes every entry of this namespace (other namespaces in the folder stay);
    /// returns how many files were removed.
    pub fn clear(&self) -> u64 {
        let mut n = 0;
        self.walk(|_, path, _| {
            if fs::remove_file(path).is_ok() {
                n += 1;
            }
        });
        *self.index.lock() = Index::default();
        self.changes.note_own(&self.dir);
        n
    }

    /// Removes entries whose expiry has passed; returns how many. Uses the index (rescanned
    /// first if the last scan is older than a minute (`RESCAN_INTERVAL`)) and re-reads each
    /// candidate's header, so an entry another process rewrote since is kept.
    pub fn sweep_expired(&self) -> u64 {
        if self.scan_is_stale() {
            self.rescan();
        }
        let now = unix_millis();
        let due = self.index.lock().due(now);
        let mut n = 0;
        for d in due {
            let path = self.path_of(&d);
            match read_expiry(&path) {
                Ok(e) if e != 0 && e <= now => {
                    if fs::remove_file(&path).is_ok() {
                        n += 1;
                    }
                    self.forget(&d);
                }
                Ok(e) => {
                    let mut idx = self.index.lock();
                    if let Some(mut m) = idx.get(&d) {
                        m.expires_ms = e;
                        idx.upsert(d, m);
                    }
                }
                Err(_) => {
                    let _ = fs::remove_file(&path);
                    self.forget(&d);
                }
            }
        }
        n
    }
}

fn too_big(n: usize) -> CacheError {
    CacheError::Encode {
        what: "value",
        message: format!("{n} bytes is more than a file entry holds ({MAX_PAYLOAD})"),
    }
}

/// A full disk or quota: a reason to evict and try again. (A file larger than the
/// process may write, `EFBIG`, is not: removing other files cannot help it.)
fn is_full(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded
    )
}

impl Store for FileStore {
    type Builder<K, V> = crate::FileCacheBuilder<K, V>;
    const BACKEND: Backend = Backend::Files;
    // Sweeps read the in-memory index, not the directory: cheap at any interval.
    const TRACKS_CHANGES: bool = true;
    const MIN_SWEEP_INTERVAL: Duration = Duration::ZERO;

    /// Looks `stored_key` up and hands its payload (decompressed) to `decode`. Anything
    /// that does not decode (a damaged, truncated, foreign or empty file, a payload
    /// `decode` refuses) is a miss, and the file is removed.
    ///
    /// With `bytes_value` (the value is a `Vec<u8>`), a large uncompressed entry is read
    /// in parts so that its bytes land directly in the vector handed to `decode` as
    /// [`Payload::Bytes`]: no copy after the read.
    fn lookup<T>(
        &self,
        stored_key: &[u8],
        bytes_value: bool,
        decode: impl FnOnce(Payload<'_>, u64) -> Option<T>,
    ) -> Found<T> {
        let (d, path) = self.locate(stored_key);
        let read = File::open(&path).and_then(|mut f| {
            let len = f.metadata()?.len();
            if len > MAX_FILE {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "file too large"));
            }
            // Encrypted entries are read whole: the tag covers the entire payload.
            if bytes_value && len >= STREAM_MIN && self.cipher.is_none() {
                read_bytes_entry(&mut f, len, stored_key)
            } else {
                let mut buf = Vec::with_capacity(len as usize);
                f.read_to_end(&mut buf)?;
                Ok(Raw::Whole(buf))
            }
        });
        let bytes = match read {
            Ok(Raw::Whole(b)) => b,
            Ok(Raw::Split {
                expires_ms,
                payload,
            }) => {
                if expires_ms != 0 && expires_ms <= unix_millis() {
                    self.discard(&d, &path, &"expired");
                    return Found::Expired;
                }
                return match decode(Payload::Bytes(payload), expires_ms) {
                    Some(v) => Found::Hit(v),
                    None => {
                        self.discard(&d, &path, &"payload does not decode as the value type");
                        Found::Miss
                    }
                };
            }
            Ok(Raw::OtherKey) => return Found::Miss,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.forget(&d);
                return Found::Miss;
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof
                ) =>
            {
                self.discard(&d, &path, &e);
                return Found::Miss;
            }
            Err(e) => return Found::Failed(format!("cannot read {}: {e}", path.display())),
        };
        let entry = match Entry::decode(&bytes) {
            Ok(e) => e,
            Err(e) => {
                self.discard(&d, &path, &e);
                return Found::Miss;
            }
        };
        if entry.key != stored_key {
            // Another key with the same 128-bit digest: its entry is valid, leave it.
            return Found::Miss;
        }
        if entry.expires_ms != 0 && entry.is_expired(unix_millis()) {
            self.discard(&d, &path, &"expired");
            return Found::Expired;
        }
        let plain = match self.plaintext(&entry) {
            Ok(p) => p,
            Err(why) => {
                self.discard(&d, &path, &why);
                return Found::Miss;
            }
        };
        let value = if entry.flags & flags::COMPRESSED != 0 {
            match compress::decompress(&plain) {
                Ok(raw) => decode(Payload::Serialized(&raw), entry.expires_ms),
                Err(e) => {
                    self.discard(&d, &path, &e);
                    return Found::Miss;
                }
            }
        } else {
            decode(Payload::Serialized(&plain), entry.expires_ms)
        };
        match value {
            Some(v) => Found::Hit(v),
            None => {
                self.discard(&d, &path, &"payload does not decode as the value type");
                Found::Miss
            }
        }
    }

    fn put(
        &self,
        stored_key: &[u8],
        touched: &[Digest],
        fill: impl FnOnce(&mut Vec<u8>) -> Result<(), CacheError>,
    ) -> Result<Stored, CacheError> {
        self.store(stored_key, touched, fill)
    }

    fn generation(&self) -> Option<u64> {
        Some(self.changes.foreign_changes(&self.dir))
    }

    fn touch(&self, touched: &[Digest]) {
        self.touch_files(touched);
    }

    fn remove(&self, stored_key: &[u8]) -> bool {
        self.remove_entry(stored_key)
    }

    fn clear(&self) {
        FileStore::clear(self);
    }

    fn len(&self) -> usize {
        FileStore::len(self)
    }

    fn bytes(&self) -> u64 {
        FileStore::bytes(self)
    }

    fn sweep_expired(&self) -> u64 {
        FileStore::sweep_expired(self)
    }

    fn folder(&self) -> Option<&Path> {
        Some(&self.folder)
    }

    fn encrypted(&self) -> bool {
        FileStore::encrypted(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_place_encoding_matches_the_shared_entry_format() {
        let dir = tempfile::tempdir().unwrap();
        let ns = Namespace::named("t");
        let options = twat_cache_store::Options::default();
        let folder = dir.path().join("f");
        let store = FileStore::open(
            &twat_cache_store::Opening::new(&folder, &ns, &options),
            false,
        )
        .unwrap();
        store.insert_bytes(b"k", b"payload").unwrap();
        let bytes = fs::read(store.entry_path(b"k")).unwrap();
        let e = Entry::decode(&bytes).unwrap();
        let again = Entry {
            flags: 0,
            created_ms: e.created_ms,
            expires_ms: 0,
            key: b"k",
            payload: b"payload",
        }
        .encode();
        assert_eq!(bytes, again);
    }

    #[test]
    fn digests_round_trip_through_names() {
        let d = digest(b"x");
        assert_eq!(parse_digest(&hex(&d)), Some(d));
        assert_eq!(parse_digest("zz"), None);
    }
}
