//! Maintenance of LMDB cache folders, for tools such as the `twat-cache` command: a
//! [`summary`], [`clear`] (everything, or one function's entries), [`prune`] and
//! [`verify`].
//!
//! Every function takes the cache folder (`<root>/<folder_name>`), checks its manifest
//! (`twat-cache.lmdb.json` naming kind `lmdb`, or the `twat-cache.json` of older versions) before touching anything, and refuses folders
//! without one ([`MaintenanceError::NotACache`]; a missing folder is
//! [`MaintenanceError::NotFound`]). They are safe while other threads and processes use the
//! cache:
//!
//! - the environment is opened through the crate's process-wide registry, so a process
//!   whose caches already have the folder open shares that environment (LMDB refuses a
//!   second open in one process);
//! - LMDB serializes write transactions across processes; changes are made in write
//!   transactions of at most 1000 deletes that re-check each entry first (another process
//!   may have rewritten it since it was found), keep the `order` index and the per-namespace
//!   `counts` in step, and are synced to disk when they commit.
//!
//! Without the `lmdb` feature the functions still check the folder and then fail with
//! [`MaintenanceError::FeatureDisabled`].
//!
//! What [`prune`] removes:
//! - **expired**: entries whose expiry time has passed (whatever ttl the cache has now);
//! - **orphaned**: `order` index records whose entry is gone or was replaced, and entries
//!   that have no `order` record (the oldest-first eviction could never reach them);
//! - **temp files**: manifest files half-written by an interrupted process
//!   (`.twat-cache.lmdb.json.<pid>`), once they are ten minutes old
//!   ([`TEMP_MIN_AGE`](twat_cache_common::maintenance::TEMP_MIN_AGE));
//!
//! and it rewrites **counts** records that disagree with the entries (`repaired`).
//! Damaged entries are [`verify`]'s business. Namespace records are kept: a process may be
//! serving that namespace right now.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use twat_bcache::{LmdbCache, maintenance};
//! let root = tempfile::tempdir()?;
//! let cache = LmdbCache::<u32, String>::builder()
//!     .cache_dir(root.path()).folder_name("doc").name("pages").build()?;
//! cache.insert(1, "one".into());
//! cache.insert(2, "two".into());
//! # if cfg!(feature = "lmdb") {
//! let folder = root.path().join("doc");
//! let summary = maintenance::summary(&folder)?;
//! assert_eq!(summary.entries, 2);
//! assert_eq!(summary.functions[0].function, "pages");
//! assert_eq!(maintenance::verify(&folder)?.ok, 2);
//! assert_eq!(maintenance::prune(&folder)?.removed(), 0);
//! assert_eq!(maintenance::clear(&folder, Some("pages"))?.removed, 2);
//! assert!(cache.is_empty());
//! # }
//! assert!(maintenance::summary(root.path()).unwrap_err().is_not_a_cache());
//! # Ok(()) }
//! ```

use std::fs;
use std::io;
use std::path::Path;

use twat_cache_common::maintenance::{CacheKind, check_dir};
pub use twat_cache_common::maintenance::{
    ClearReport, FolderSummary, FunctionSummary, MaintenanceError, PruneReport, VerifyReport,
};

use crate::layout::{FORMAT_VERSION, MANIFEST};

/// Checks that `folder` holds an lmdb manifest this build reads; returns its format
/// version.
fn check_manifest(folder: &Path) -> Result<u32, MaintenanceError> {
    check_dir(folder, CacheKind::Lmdb)?;
    let not_ours = |reason: String| MaintenanceError::NotACache {
        path: folder.to_path_buf(),
        kind: CacheKind::Lmdb,
        reason,
    };
    let m = match twat_cache_common::manifest::read(folder, CacheKind::Lmdb) {
        Ok(Some(m)) => m,
        Ok(None) => return Err(not_ours(format!("it has no manifest `{MANIFEST}`"))),
        Err(why) => return Err(not_ours(why.to_string())),
    };
    if m.format_version > FORMAT_VERSION {
        return Err(MaintenanceError::Unsupported {
            path: folder.to_path_buf(),
            reason: format!(
                "lmdb format {} is newer than this build's {FORMAT_VERSION}",
                m.format_version
            ),
        });
    }
    Ok(m.format_version)
}

/// Whether `folder` holds an LMDB cache this build reads (its manifest names kind
/// `bcache` and a format no newer than this build's). Reads the manifest only, and works
/// without the `lmdb` feature.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// assert!(!twat_bcache::maintenance::is_cache(dir.path()));
/// ```
pub fn is_cache(folder: &Path) -> bool {
    check_manifest(folder).is_ok()
}

/// What the folder holds: one [`FunctionSummary`] per namespace (every namespace the
/// folder has a record of, and any namespace that has entries), with entry counts, bytes
/// and the oldest and newest entry's creation time.
///
/// Reads in one LMDB read transaction, so the numbers are a consistent snapshot.
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # #[cfg(feature = "lmdb")] {
/// use twat_bcache::{LmdbCache, maintenance};
/// let root = tempfile::tempdir()?;
/// let build = |name: &str| LmdbCache::<u32, u32>::builder().cache_dir(root.path()).folder_name("doc").name(name).build();
/// let (b, a) = (build("b")?, build("a")?);
/// a.insert(1, 10);
/// a.insert(2, 20);
/// b.insert(1, 10);
/// let s = maintenance::summary(&root.path().join("doc"))?;
/// assert_eq!((s.kind.as_str(), s.entries, s.functions.len()), ("lmdb", 3, 2));
/// assert_eq!((s.functions[0].function.as_str(), s.functions[0].entries), ("a", 2));
/// assert!(s.disk_bytes > 0);
/// # }
/// # Ok(()) }
/// ```
pub fn summary(folder: &Path) -> Result<FolderSummary, MaintenanceError> {
    let format = check_manifest(folder)?;
    imp::summary(folder, format)
}

/// Removes every entry of the folder (`function: None`), or the entries of every
/// namespace whose function name (a builder cache's `name`) is `function`. Namespace
/// records stay. Returns what was removed; a function name that matches nothing removes
/// nothing (`namespaces == 0`).
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # #[cfg(feature = "lmdb")] {
/// use twat_bcache::{LmdbCache, maintenance};
/// let root = tempfile::tempdir()?;
/// let build = |name: &str| LmdbCache::<u32, u32>::builder().cache_dir(root.path()).folder_name("doc").name(name).build();
/// let (a, b) = (build("a")?, build("b")?);
/// a.insert(1, 10);
/// b.insert(1, 10);
/// let folder = root.path().join("doc");
/// assert_eq!(maintenance::clear(&folder, Some("nobody"))?.namespaces, 0);
/// let r = maintenance::clear(&folder, Some("a"))?;
/// assert_eq!((r.namespaces, r.removed), (1, 1));
/// assert_eq!((a.get(&1), b.get(&1)), (None, Some(10)));
/// assert_eq!(maintenance::clear(&folder, None)?.removed, 1); // everything left
/// assert!(b.is_empty());
/// # }
/// # Ok(()) }
/// ```
pub fn clear(folder: &Path, function: Option<&str>) -> Result<ClearReport, MaintenanceError> {
    check_manifest(folder)?;
    imp::clear(folder, function)
}

/// Removes expired entries, orphaned index records and entries, and stale temporary
/// files, and repairs entry counts: see the [module docs](self).
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # #[cfg(feature = "lmdb")] {
/// use std::time::{Duration, SystemTime};
/// use twat_bcache::{LmdbCache, maintenance};
/// let root = tempfile::tempdir()?;
/// let cache = LmdbCache::<u32, u32>::builder().cache_dir(root.path()).folder_name("doc").build()?;
/// cache.insert(1, 10);
/// let folder = root.path().join("doc");
/// // A manifest half-written by a process that died an hour ago, and one being written now.
/// let old = folder.join(".twat-cache.lmdb.json.4242");
/// std::fs::write(&old, b"{")?;
/// std::fs::File::options().write(true).open(&old)?
///     .set_modified(SystemTime::now() - Duration::from_secs(3600))?;
/// std::fs::write(folder.join(".twat-cache.lmdb.json.4343"), b"{")?;
/// let r = maintenance::prune(&folder)?;
/// assert_eq!((r.temp_files, r.expired, r.orphaned, r.bytes_freed), (1, 0, 0, 1));
/// assert!(!old.exists() && folder.join(".twat-cache.lmdb.json.4343").exists());
/// assert_eq!(cache.get(&1), Some(10)); // live entries are kept
/// # }
/// # Ok(()) }
/// ```
pub fn prune(folder: &Path) -> Result<PruneReport, MaintenanceError> {
    check_manifest(folder)?;
    let mut report = imp::prune(folder)?;
    prune_temp_files(folder, &mut report)?;
    Ok(report)
}

/// Decodes every entry (header, length fields, checksum) and checks that its stored key
/// matches the database key it is filed under (digest and namespace); removes the damaged
/// ones (with their index records, keeping the counts right). Payloads are not decoded:
/// their type is known only to the program that stored them.
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # #[cfg(feature = "lmdb")] {
/// use twat_bcache::{LmdbCache, maintenance};
/// let root = tempfile::tempdir()?;
/// let cache = LmdbCache::<u32, String>::builder().cache_dir(root.path()).folder_name("doc").build()?;
/// cache.insert(1, "one".into());
/// cache.insert(2, "two".into());
/// let r = maintenance::verify(&root.path().join("doc"))?;
/// assert_eq!((r.checked, r.ok, r.removed), (2, 2, 0));
/// assert!(!r.found_damage());
/// # }
/// let missing = tempfile::tempdir()?.path().join("nothing here");
/// assert!(twat_bcache::maintenance::verify(&missing).unwrap_err().is_not_a_cache());
/// # Ok(()) }
/// ```
pub fn verify(folder: &Path) -> Result<VerifyReport, MaintenanceError> {
    check_manifest(folder)?;
    imp::verify(folder)
}

/// Removes `.twat-cache.lmdb.json.<pid>` files older than `TEMP_MIN_AGE`.
fn prune_temp_files(folder: &Path, report: &mut PruneReport) -> Result<(), MaintenanceError> {
    use twat_cache_common::maintenance::is_stale_temp;
    let prefix = format!(".{MANIFEST}.");
    let items = fs::read_dir(folder).map_err(|e| MaintenanceError::io("cannot list", folder, e))?;
    let now = std::time::SystemTime::now();
    for item in items.flatten() {
        let name = item.file_name();
        if !name.to_str().is_some_and(|n| n.starts_with(&prefix)) {
            continue;
        }
        let Ok(md) = item.metadata() else { continue };
        if md.is_file() && is_stale_temp(md.modified().ok(), now) {
            match fs::remove_file(item.path()) {
                Ok(()) => {
                    report.temp_files += 1;
                    report.bytes_freed += md.len();
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(MaintenanceError::io("cannot remove", item.path(), e)),
            }
        }
    }
    Ok(())
}

#[cfg(not(feature = "lmdb"))]
mod imp {
    use super::*;

    twat_cache_common::maintenance_disabled!(CacheKind::Lmdb, "lmdb");
}

#[cfg(feature = "lmdb")]
mod imp {
    use std::collections::{BTreeMap, HashMap, HashSet};
    use std::sync::Arc;

    use heed::{RoTxn, RwTxn};
    use twat_cache_common::clock::unix_millis;
    use twat_cache_common::key::digest;
    use twat_cache_common::maintenance::namespace_of_key;
    use twat_cache_common::{Entry, Namespace, codec};

    use super::*;
    use crate::env::{self, SharedEnv};
    use crate::store::BATCH;

    type Prefix = [u8; 8];

    /// Bytes of this cache's own files (a folder may also hold a file cache's).
    fn own_files_size(folder: &Path) -> u64 {
        [MANIFEST, "data.mdb", "lock.mdb"]
            .iter()
            .filter_map(|f| fs::metadata(folder.join(f)).ok())
            .map(|m| m.len())
            .sum()
    }

    fn open(folder: &Path) -> Result<Arc<SharedEnv>, MaintenanceError> {
        env::open(folder, None).map_err(|why| MaintenanceError::Store {
            path: folder.to_path_buf(),
            message: format!("LMDB cannot open it: {why}"),
        })
    }

    fn failed(folder: &Path) -> impl Fn(heed::Error) -> MaintenanceError + '_ {
        move |e| MaintenanceError::Store {
            path: folder.to_path_buf(),
            message: format!("LMDB: {e}"),
        }
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn prefix_of(key: &[u8]) -> Option<Prefix> {
        key.get(..8)?.try_into().ok()
    }

    /// The namespace records: hash → namespace (records that do not decode, or whose
    /// namespace does not hash to their key, are skipped).
    fn namespaces(s: &SharedEnv, txn: &RoTxn<'_>) -> heed::Result<HashMap<Prefix, Namespace>> {
        let mut out = HashMap::new();
        for item in s.namespaces.iter(txn)? {
            let (k, v) = item?;
            let (Ok(k), Ok(ns)) = (Prefix::try_from(k), codec::decode::<Namespace>(v)) else {
                continue;
            };
            if ns.hash().to_be_bytes() == k {
                out.insert(k, ns);
            }
        }
        Ok(out)
    }

    /// A name for a namespace without a record: read back from an entry's key if it
    /// hashes right, else the hash in hex.
    fn guess_namespace(prefix: Prefix, value: &[u8]) -> Namespace {
        Entry::decode_header(value)
            .ok()
            .and_then(|e| namespace_of_key(e.key))
            .filter(|ns| ns.hash().to_be_bytes() == prefix)
            .unwrap_or_else(|| Namespace::named(&format!("(unknown namespace {})", hex(&prefix))))
    }

    fn order_key(dk: &[u8], created_ms: u64) -> [u8; 32] {
        let mut k = [0; 32];
        k[..8].copy_from_slice(&dk[..8]);
        k[8..16].copy_from_slice(&created_ms.to_be_bytes());
        k[16..].copy_from_slice(&dk[8..24]);
        k
    }

    /// The `counts` record: entries (8 B LE) ‖ bytes (8 B LE).
    fn get_counts(s: &SharedEnv, txn: &RoTxn<'_>, p: &Prefix) -> heed::Result<Option<(u64, u64)>> {
        Ok(s.counts.get(txn, p)?.and_then(|b| {
            let b: &[u8; 16] = b.try_into().ok()?;
            Some((
                u64::from_le_bytes(b[..8].try_into().ok()?),
                u64::from_le_bytes(b[8..].try_into().ok()?),
            ))
        }))
    }

    fn put_counts(
        s: &SharedEnv,
        txn: &mut RwTxn<'_>,
        p: &Prefix,
        c: (u64, u64),
    ) -> heed::Result<()> {
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&c.0.to_le_bytes());
        b[8..].copy_from_slice(&c.1.to_le_bytes());
        s.counts.put(txn, p, &b)
    }

    /// Subtracts what was deleted in this transaction from each namespace's counts (a
    /// namespace without a counts record is recounted by its store when needed).
    fn subtract_counts(
        s: &SharedEnv,
        txn: &mut RwTxn<'_>,
        removed: &HashMap<Prefix, (u64, u64)>,
    ) -> heed::Result<()> {
        for (p, (n, bytes)) in removed {
            if let Some((e, b)) = get_counts(s, txn, p)? {
                put_counts(s, txn, p, (e.saturating_sub(*n), b.saturating_sub(*bytes)))?;
            }
        }
        Ok(())
    }

    fn note(removed: &mut HashMap<Prefix, (u64, u64)>, dk: &[u8], len: usize) {
        if let Some(p) = prefix_of(dk) {
            let c = removed.entry(p).or_default();
            c.0 += 1;
            c.1 += len as u64;
        }
    }

    /// Whether LMDB's data file exists: a folder with a manifest and no data holds nothing,
    /// and is not opened (opening would create the files).
    fn has_data(folder: &Path) -> bool {
        folder.join("data.mdb").exists()
    }

    pub(super) fn summary(folder: &Path, format: u32) -> Result<FolderSummary, MaintenanceError> {
        if !has_data(folder) {
            let size = own_files_size(folder);
            return Ok(FolderSummary::new(
                folder.to_path_buf(),
                CacheKind::Lmdb,
                Some(format),
                Vec::new(),
                size,
            ));
        }
        let s = open(folder)?;
        let now = unix_millis();
        let functions = s
            .read(|txn| {
                let mut per: BTreeMap<Prefix, FunctionSummary> = namespaces(&s, txn)?
                    .iter()
                    .map(|(p, ns)| (*p, FunctionSummary::empty(ns)))
                    .collect();
                for item in s.entries.iter(txn)? {
                    let (k, v) = item?;
                    let Some(p) = prefix_of(k) else { continue };
                    let f = per
                        .entry(p)
                        .or_insert_with(|| FunctionSummary::empty(&guess_namespace(p, v)));
                    match Entry::decode_header(v) {
                        Ok(e) => f.add_entry(v.len() as u64, e.created_ms, e.is_expired(now)),
                        Err(_) => f.add_undated(v.len() as u64),
                    }
                }
                Ok(per.into_values().collect::<Vec<_>>())
            })
            .map_err(failed(folder))?;
        Ok(FolderSummary::new(
            folder.to_path_buf(),
            CacheKind::Lmdb,
            Some(format),
            functions,
            own_files_size(folder),
        ))
    }

    pub(super) fn clear(
        folder: &Path,
        function: Option<&str>,
    ) -> Result<ClearReport, MaintenanceError> {
        let mut report = ClearReport::new(folder, function);
        if !has_data(folder) {
            return Ok(report);
        }
        let s = open(folder)?;
        let Some(name) = function else {
            // Everything: empty the entries, the index and the counts in one transaction
            // (dropping a database frees its pages without copying them). Namespace
            // records stay for the processes still serving them.
            let (n, bytes, namespaces) = s
                .maintenance_write(true, |txn| {
                    let (mut n, mut bytes) = (0u64, 0u64);
                    let mut prefixes = HashSet::new();
                    for item in s.entries.iter(txn)? {
                        let (k, v) = item?;
                        n += 1;
                        bytes += v.len() as u64;
                        prefixes.extend(prefix_of(k));
                    }
                    for item in s.namespaces.iter(txn)? {
                        prefixes.extend(prefix_of(item?.0));
                    }
                    s.entries.clear(txn)?;
                    s.order.clear(txn)?;
                    s.counts.clear(txn)?;
                    Ok((n, bytes, prefixes.len() as u64))
                })
                .map_err(failed(folder))?;
            report.removed = n;
            report.bytes = bytes;
            report.namespaces = namespaces;
            return Ok(report);
        };
        // The namespaces of that function: by their records, and by the keys of entries
        // whose namespace has no record.
        let prefixes: Vec<Prefix> = s
            .read(|txn| {
                let names = namespaces(&s, txn)?;
                let mut found: Vec<Prefix> = names
                    .iter()
                    .filter(|(_, ns)| ns.function_name() == name)
                    .map(|(p, _)| *p)
                    .collect();
                let mut seen: HashSet<Prefix> = names.keys().copied().collect();
                for item in s.entries.iter(txn)? {
                    let (k, v) = item?;
                    let Some(p) = prefix_of(k) else { continue };
                    if seen.insert(p) && guess_namespace(p, v).function_name() == name {
                        found.push(p);
                    }
                }
                Ok(found)
            })
            .map_err(failed(folder))?;
        report.namespaces = prefixes.len() as u64;
        for p in prefixes {
            loop {
                let (n, bytes, more) = s
                    .maintenance_write(true, |txn| {
                        let keys: Vec<(Vec<u8>, usize)> = s
                            .entries
                            .prefix_iter(txn, &p)?
                            .take(BATCH / 2)
                            .map(|r| r.map(|(k, v)| (k.to_vec(), v.len())))
                            .collect::<heed::Result<_>>()?;
                        let okeys: Vec<Vec<u8>> = s
                            .order
                            .prefix_iter(txn, &p)?
                            .take(BATCH / 2)
                            .map(|r| r.map(|(k, _)| k.to_vec()))
                            .collect::<heed::Result<_>>()?;
                        let more = !keys.is_empty() || !okeys.is_empty();
                        let mut removed = HashMap::new();
                        for (k, len) in &keys {
                            s.entries.delete(txn, k)?;
                            note(&mut removed, k, *len);
                        }
                        for k in &okeys {
                            s.order.delete(txn, k)?;
                        }
                        if more {
                            subtract_counts(&s, txn, &removed)?;
                        } else if get_counts(&s, txn, &p)?.is_some() {
                            put_counts(&s, txn, &p, (0, 0))?;
                        }
                        let bytes = keys.iter().map(|(_, l)| *l as u64).sum::<u64>();
                        Ok((keys.len() as u64, bytes, more))
                    })
                    .map_err(failed(folder))?;
                report.removed += n;
                report.bytes += bytes;
                if !more {
                    break;
                }
            }
        }
        Ok(report)
    }

    /// Found by the read-only pass of `prune`, re-checked before deleting.
    enum Candidate {
        /// An expired entry: (db key, created).
        Expired(Vec<u8>, u64),
        /// An entry without an `order` record: (db key, created).
        Unindexed(Vec<u8>, u64),
        /// An `order` record whose entry is gone or was replaced.
        Dangling(Vec<u8>),
    }

    pub(super) fn prune(folder: &Path) -> Result<PruneReport, MaintenanceError> {
        let mut report = PruneReport {
            path: folder.to_path_buf(),
            ..Default::default()
        };
        if !has_data(folder) {
            return Ok(report);
        }
        let s = open(folder)?;
        s.clear_stale_readers();
        let now = unix_millis();
        let found = s
            .read(|txn| {
                let mut out = Vec::new();
                for item in s.entries.iter(txn)? {
                    let (k, v) = item?;
                    if k.len() != 24 {
                        continue; // verify's business
                    }
                    let Ok(e) = Entry::decode_header(v) else {
                        continue;
                    };
                    if e.is_expired(now) {
                        out.push(Candidate::Expired(k.to_vec(), e.created_ms));
                    } else if s.order.get(txn, &order_key(k, e.created_ms))?.is_none() {
                        out.push(Candidate::Unindexed(k.to_vec(), e.created_ms));
                    }
                }
                for item in s.order.iter(txn)? {
                    let (ok, _) = item?;
                    if dangling(&s, txn, ok)? {
                        out.push(Candidate::Dangling(ok.to_vec()));
                    }
                }
                Ok(out)
            })
            .map_err(failed(folder))?;
        for chunk in found.chunks(BATCH) {
            let (expired, orphaned, bytes) = s
                .maintenance_write(true, |txn| {
                    let now = unix_millis();
                    let (mut expired, mut orphaned, mut bytes) = (0u64, 0u64, 0u64);
                    let mut removed = HashMap::new();
                    for c in chunk {
                        match c {
                            Candidate::Expired(dk, created) | Candidate::Unindexed(dk, created) => {
                                let ok = order_key(dk, *created);
                                let Some(v) = s.entries.get(txn, dk)? else {
                                    continue;
                                };
                                let len = v.len();
                                let still = match Entry::decode_header(v) {
                                    Ok(e) if e.created_ms != *created => false,
                                    Ok(e) if matches!(c, Candidate::Expired(..)) => {
                                        e.is_expired(now)
                                    }
                                    Ok(_) => s.order.get(txn, &ok)?.is_none(),
                                    Err(_) => false,
                                };
                                if !still {
                                    continue;
                                }
                                s.entries.delete(txn, dk)?;
                                s.order.delete(txn, &ok)?;
                                note(&mut removed, dk, len);
                                bytes += len as u64;
                                if matches!(c, Candidate::Expired(..)) {
                                    expired += 1;
                                } else {
                                    orphaned += 1;
                                }
                            }
                            Candidate::Dangling(ok) => {
                                if s.order.get(txn, ok)?.is_some() && dangling(&s, txn, ok)? {
                                    s.order.delete(txn, ok)?;
                                    orphaned += 1;
                                }
                            }
                        }
                    }
                    subtract_counts(&s, txn, &removed)?;
                    Ok((expired, orphaned, bytes))
                })
                .map_err(failed(folder))?;
            report.expired += expired;
            report.orphaned += orphaned;
            report.bytes_freed += bytes;
        }
        report.repaired = repair_counts(&s).map_err(failed(folder))?;
        Ok(report)
    }

    /// Whether `order` key `ok` points at no entry, or at one created at another time.
    fn dangling(s: &SharedEnv, txn: &RoTxn<'_>, ok: &[u8]) -> heed::Result<bool> {
        if ok.len() != 32 {
            return Ok(true);
        }
        let mut dk = [0u8; 24];
        dk[..8].copy_from_slice(&ok[..8]);
        dk[8..].copy_from_slice(&ok[16..]);
        let created = u64::from_be_bytes(ok[8..16].try_into().expect("8 bytes"));
        Ok(match s.entries.get(txn, &dk)? {
            None => true,
            Some(v) => Entry::decode_header(v).is_ok_and(|e| e.created_ms != created),
        })
    }

    /// The real (entries, bytes) of every namespace that has entries.
    fn real_counts(s: &SharedEnv, txn: &RoTxn<'_>) -> heed::Result<HashMap<Prefix, (u64, u64)>> {
        let mut real: HashMap<Prefix, (u64, u64)> = HashMap::new();
        for item in s.entries.iter(txn)? {
            let (k, v) = item?;
            note(&mut real, k, v.len());
        }
        Ok(real)
    }

    /// Rewrites `counts` records that disagree with the entries (recounted inside the
    /// write transaction, so concurrent writers cannot make it wrong); drops records of
    /// namespaces that have neither entries nor a namespace record. Returns how many
    /// records changed.
    fn repair_counts(s: &SharedEnv) -> heed::Result<u64> {
        let suspects = s.read(|txn| {
            let real = real_counts(s, txn)?;
            let names = namespaces(s, txn)?;
            let mut out: Vec<Prefix> = Vec::new();
            for item in s.counts.iter(txn)? {
                let (k, _) = item?;
                let Some(p) = prefix_of(k) else { continue };
                let recorded = get_counts(s, txn, &p)?;
                let actual = real.get(&p).copied().unwrap_or_default();
                if recorded != Some(actual) || (actual.0 == 0 && !names.contains_key(&p)) {
                    out.push(p);
                }
            }
            for p in real.keys() {
                if s.counts.get(txn, p)?.is_none() {
                    out.push(*p);
                }
            }
            Ok(out)
        })?;
        if suspects.is_empty() {
            return Ok(0);
        }
        s.maintenance_write(true, |txn| {
            let mut changed = 0;
            for p in &suspects {
                let mut actual = (0u64, 0u64);
                for item in s.entries.prefix_iter(txn, p)? {
                    let (_, v) = item?;
                    actual.0 += 1;
                    actual.1 += v.len() as u64;
                }
                let recorded = get_counts(s, txn, p)?;
                if actual.0 == 0 && s.namespaces.get(txn, p)?.is_none() {
                    if s.counts.delete(txn, p)? {
                        changed += 1;
                    }
                } else if recorded != Some(actual) {
                    put_counts(s, txn, p, actual)?;
                    changed += 1;
                }
            }
            Ok(changed)
        })
    }

    /// Why the entry under `dk` is damaged, or `None` if it is sound.
    fn damage(dk: &[u8], v: &[u8], names: &HashMap<Prefix, Namespace>) -> Option<String> {
        if dk.len() != 24 {
            return Some(format!("database key is {} bytes, not 24", dk.len()));
        }
        let e = match Entry::decode(v) {
            Ok(e) => e,
            Err(e) => return Some(e.to_string()),
        };
        if digest(e.key) != dk[8..] {
            return Some("its stored key does not match the digest it is filed under".into());
        }
        let p = prefix_of(dk)?;
        let ours = match names.get(&p) {
            Some(ns) => {
                e.key.len() > ns.id().len()
                    && e.key.starts_with(ns.id().as_bytes())
                    && e.key[ns.id().len()] == 0
            }
            None => namespace_of_key(e.key).is_some_and(|ns| ns.hash().to_be_bytes() == p),
        };
        (!ours).then(|| "its stored key belongs to another namespace".into())
    }

    pub(super) fn verify(folder: &Path) -> Result<VerifyReport, MaintenanceError> {
        let mut report = VerifyReport::new(folder.to_path_buf());
        if !has_data(folder) {
            return Ok(report);
        }
        let s = open(folder)?;
        // (db key, digest of the value, why, function name)
        type Bad = (Vec<u8>, [u8; 16], String, String);
        let (checked, bad) = s
            .read(|txn| {
                let names = namespaces(&s, txn)?;
                let mut bad: Vec<Bad> = Vec::new();
                let mut checked = 0u64;
                for item in s.entries.iter(txn)? {
                    let (k, v) = item?;
                    checked += 1;
                    if let Some(why) = damage(k, v, &names) {
                        let function =
                            prefix_of(k).map_or_else(String::new, |p| match names.get(&p) {
                                Some(ns) => ns.function_name().to_owned(),
                                None => guess_namespace(p, v).function_name().to_owned(),
                            });
                        bad.push((k.to_vec(), digest(v), why, function));
                    }
                }
                Ok((checked, bad))
            })
            .map_err(failed(folder))?;
        report.checked = checked;
        report.ok = checked - bad.len() as u64;
        let data = folder.join("data.mdb");
        for chunk in bad.chunks(BATCH) {
            let outcome: Vec<bool> = s
                .maintenance_write(true, |txn| {
                    let mut removed = HashMap::new();
                    let mut gone: HashMap<Prefix, HashSet<[u8; 16]>> = HashMap::new();
                    let mut out = Vec::with_capacity(chunk.len());
                    for (dk, sum, _, _) in chunk {
                        let Some(v) = s.entries.get(txn, dk)? else {
                            out.push(true); // a reader deleted it meanwhile
                            continue;
                        };
                        if digest(v) != *sum {
                            out.push(false); // rewritten meanwhile: not the damaged entry
                            continue;
                        }
                        let len = v.len();
                        s.entries.delete(txn, dk)?;
                        if let (Some(p), Ok(d)) = (prefix_of(dk), <[u8; 16]>::try_from(&dk[8..])) {
                            gone.entry(p).or_default().insert(d);
                        }
                        note(&mut removed, dk, len);
                        out.push(true);
                    }
                    // Their index records: a damaged header cannot be trusted to give the
                    // creation time in the record's key, so look them up by digest.
                    for (p, digests) in &gone {
                        let stale: Vec<Vec<u8>> = s
                            .order
                            .prefix_iter(txn, p)?
                            .filter_map(|r| r.ok())
                            .filter(|(k, _)| {
                                k.len() == 32
                                    && <[u8; 16]>::try_from(&k[16..])
                                        .is_ok_and(|d| digests.contains(&d))
                            })
                            .map(|(k, _)| k.to_vec())
                            .collect();
                        for k in stale {
                            s.order.delete(txn, &k)?;
                        }
                    }
                    subtract_counts(&s, txn, &removed)?;
                    Ok(out)
                })
                .map_err(failed(folder))?;
            for ((dk, _, why, function), removed) in chunk.iter().zip(outcome) {
                let location = format!("{} entry {} ({function})", data.display(), hex(dk));
                let why = if removed {
                    why.clone()
                } else {
                    format!("{why} (since replaced by a new entry, which was kept)")
                };
                report.record(location, why, removed);
            }
        }
        Ok(report)
    }
}
