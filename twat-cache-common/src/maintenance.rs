//! What the maintenance operations of persistent caches report: the shared vocabulary of
//! `twat_bcache::maintenance`, `twat_fcache::maintenance` and the `twat-cache` command.
//!
//! Each persistent cache crate offers, for one cache folder: a [`FolderSummary`]
//! (`summary`), `clear` (a [`ClearReport`]), `prune` (a [`PruneReport`]) and `verify` (a
//! [`VerifyReport`]), all failing with a [`MaintenanceError`]. Every report is
//! serde-serializable: the CLI's `--json` output is these types, as they are.
//!
//! ```
//! use twat_cache_common::maintenance::{CacheKind, FolderSummary, FunctionSummary};
//! let f = FunctionSummary {
//!     function: "geocode".into(),
//!     namespace: "app|app::geocode|v1|00000000000000ff".into(),
//!     entries: 2,
//!     bytes: 100,
//!     expired: 0,
//!     oldest_ms: Some(1_000),
//!     newest_ms: Some(2_000),
//! };
//! let s = FolderSummary::new("/tmp/geo".into(), CacheKind::Lmdb, Some(1), vec![f], 4096);
//! assert_eq!((s.entries, s.bytes, s.oldest_ms, s.newest_ms), (2, 100, Some(1_000), Some(2_000)));
//! assert_eq!(CacheKind::Lmdb.to_string(), "lmdb");
//! ```

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::Namespace;

/// Temporary files younger than this are left alone by `prune`: they may be writes in
/// flight in another process. (The stores themselves sweep their own temporary files
/// after five minutes; maintenance is more patient.)
pub const TEMP_MIN_AGE: Duration = Duration::from_secs(600);

/// At most this many [`Damage`] records are kept in a [`VerifyReport`] (the counts are
/// always complete).
pub const MAX_DAMAGE_RECORDS: usize = 1000;

/// Which kind of cache a folder holds, as its manifest says.
///
/// ```
/// use twat_cache_common::maintenance::CacheKind;
/// assert_eq!(serde_json::to_string(&CacheKind::Files).unwrap(), "\"files\"");
/// assert_eq!("lmdb".parse::<CacheKind>(), Ok(CacheKind::Lmdb));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CacheKind {
    /// An LMDB cache (`#[bcache]`, manifest `twat-cache.lmdb.json`).
    Lmdb,
    /// A file-per-entry cache (`#[fcache]`, manifest `twat-cache.files.json`).
    Files,
    /// Not a cache this version knows (no manifest, or a manifest it does not read).
    Unknown,
}

impl CacheKind {
    /// `"lmdb"`, `"files"` or `"unknown"`.
    ///
    /// ```
    /// use twat_cache_common::maintenance::CacheKind;
    /// assert_eq!(CacheKind::Files.as_str(), "files");
    /// assert_eq!(CacheKind::Unknown.as_str().parse::<CacheKind>(), Ok(CacheKind::Unknown));
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            CacheKind::Lmdb => "lmdb",
            CacheKind::Files => "files",
            CacheKind::Unknown => "unknown",
        }
    }
}

impl fmt::Display for CacheKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for CacheKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "lmdb" => Ok(CacheKind::Lmdb),
            "files" => Ok(CacheKind::Files),
            "unknown" => Ok(CacheKind::Unknown),
            other => Err(format!(
                "unknown cache kind {other:?}: expected \"lmdb\", \"files\" or \"unknown\""
            )),
        }
    }
}

/// One namespace (a decorated function, or a builder cache's `name`) in a folder.
///
/// ```
/// use twat_cache_common::{Namespace, maintenance::FunctionSummary};
/// let ns = Namespace::function("app", "app::geo", "geocode", 1, 0xff);
/// let f = FunctionSummary::empty(&ns);
/// assert_eq!((f.function.as_str(), f.namespace.as_str()), ("geocode", ns.id()));
/// assert_eq!((f.entries, f.oldest_ms), (0, None));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunctionSummary {
    /// The function name (or builder name): what `clear --function` matches.
    pub function: String,
    /// The full namespace id (`crate|module::function|vN|codehash`, or the builder name).
    pub namespace: String,
    /// Entries stored (expired ones included until they are pruned).
    pub entries: u64,
    /// Bytes of encoded entries.
    pub bytes: u64,
    /// How many of the entries have expired.
    pub expired: u64,
    /// When the oldest entry was created (Unix ms).
    pub oldest_ms: Option<u64>,
    /// When the newest entry was created (Unix ms).
    pub newest_ms: Option<u64>,
}

impl FunctionSummary {
    /// An empty summary for `namespace`.
    ///
    /// ```
    /// use twat_cache_common::{Namespace, maintenance::FunctionSummary};
    /// let mut f = FunctionSummary::empty(&Namespace::named("pages"));
    /// f.add_entry(10, 5_000, false);
    /// f.add_entry(20, 4_000, true);
    /// assert_eq!((f.entries, f.bytes, f.expired), (2, 30, 1));
    /// assert_eq!((f.oldest_ms, f.newest_ms), (Some(4_000), Some(5_000)));
    /// ```
    pub fn empty(namespace: &Namespace) -> Self {
        FunctionSummary {
            function: namespace.function_name().to_owned(),
            namespace: namespace.id().to_owned(),
            entries: 0,
            bytes: 0,
            expired: 0,
            oldest_ms: None,
            newest_ms: None,
        }
    }

    /// Counts one entry of `bytes` bytes created at `created_ms`.
    ///
    /// ```
    /// use twat_cache_common::{Namespace, maintenance::FunctionSummary};
    /// let mut f = FunctionSummary::empty(&Namespace::named("pages"));
    /// f.add_entry(64, 1_000, true);
    /// assert_eq!((f.entries, f.bytes, f.expired, f.newest_ms), (1, 64, 1, Some(1_000)));
    /// ```
    pub fn add_entry(&mut self, bytes: u64, created_ms: u64, expired: bool) {
        self.entries += 1;
        self.bytes += bytes;
        self.expired += u64::from(expired);
        self.oldest_ms = Some(self.oldest_ms.map_or(created_ms, |o| o.min(created_ms)));
        self.newest_ms = Some(self.newest_ms.map_or(created_ms, |n| n.max(created_ms)));
    }

    /// Counts an entry whose header does not decode: its bytes, but no time.
    ///
    /// ```
    /// use twat_cache_common::{Namespace, maintenance::FunctionSummary};
    /// let mut f = FunctionSummary::empty(&Namespace::named("pages"));
    /// f.add_undated(7);
    /// assert_eq!((f.entries, f.bytes, f.oldest_ms, f.newest_ms), (1, 7, None, None));
    /// ```
    pub fn add_undated(&mut self, bytes: u64) {
        self.entries += 1;
        self.bytes += bytes;
    }
}

/// What one cache folder holds.
///
/// ```
/// use twat_cache_common::maintenance::{CacheKind, FolderSummary};
/// let s = FolderSummary::new("/tmp/c".into(), CacheKind::Files, Some(1), vec![], 0);
/// assert_eq!((s.kind, s.format_version, s.entries), (CacheKind::Files, Some(1), 0));
/// assert!(s.functions.is_empty() && s.oldest_ms.is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FolderSummary {
    /// The folder.
    pub path: PathBuf,
    /// Which kind of cache it is.
    pub kind: CacheKind,
    /// The folder format version its manifest names (`None` for unknown folders).
    pub format_version: Option<u32>,
    /// One row per namespace, sorted by function name then namespace id.
    pub functions: Vec<FunctionSummary>,
    /// Entries in every namespace.
    pub entries: u64,
    /// Bytes of encoded entries in every namespace.
    pub bytes: u64,
    /// Expired entries (not yet pruned).
    pub expired: u64,
    /// Bytes this cache's files take on disk (LMDB's file includes free pages; a folder
    /// holding an LMDB and a file cache counts each kind's files in its own summary).
    pub disk_bytes: u64,
    /// The oldest entry's creation time (Unix ms).
    pub oldest_ms: Option<u64>,
    /// The newest entry's creation time (Unix ms).
    pub newest_ms: Option<u64>,
}

impl FolderSummary {
    /// A summary with totals computed from `functions` (which it sorts).
    ///
    /// ```
    /// use twat_cache_common::{Namespace, maintenance::{CacheKind, FolderSummary, FunctionSummary}};
    /// let mut b = FunctionSummary::empty(&Namespace::named("b"));
    /// b.add_entry(10, 300, true);
    /// let mut a = FunctionSummary::empty(&Namespace::named("a"));
    /// a.add_entry(5, 100, false);
    /// let s = FolderSummary::new("/tmp/c".into(), CacheKind::Lmdb, Some(1), vec![b, a], 4096);
    /// assert_eq!(s.functions[0].function, "a"); // sorted by function name
    /// assert_eq!((s.entries, s.bytes, s.expired, s.disk_bytes), (2, 15, 1, 4096));
    /// assert_eq!((s.oldest_ms, s.newest_ms), (Some(100), Some(300)));
    /// ```
    pub fn new(
        path: PathBuf,
        kind: CacheKind,
        format_version: Option<u32>,
        mut functions: Vec<FunctionSummary>,
        disk_bytes: u64,
    ) -> Self {
        functions.sort_by(|a, b| (&a.function, &a.namespace).cmp(&(&b.function, &b.namespace)));
        let min = |a: Option<u64>, b: Option<u64>| match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let max = |a: Option<u64>, b: Option<u64>| match (a, b) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        let mut s = FolderSummary {
            path,
            kind,
            format_version,
            functions: Vec::new(),
            entries: 0,
            bytes: 0,
            expired: 0,
            disk_bytes,
            oldest_ms: None,
            newest_ms: None,
        };
        for f in &functions {
            s.entries += f.entries;
            s.bytes += f.bytes;
            s.expired += f.expired;
            s.oldest_ms = min(s.oldest_ms, f.oldest_ms);
            s.newest_ms = max(s.newest_ms, f.newest_ms);
        }
        s.functions = functions;
        s
    }

    /// The summary of a folder that is not a cache this version reads: nothing but its
    /// size on disk.
    ///
    /// ```
    /// use twat_cache_common::maintenance::{CacheKind, FolderSummary};
    /// let s = FolderSummary::unknown("/tmp/x".into(), 10);
    /// assert_eq!((s.kind, s.entries, s.disk_bytes), (CacheKind::Unknown, 0, 10));
    /// ```
    pub fn unknown(path: PathBuf, disk_bytes: u64) -> Self {
        FolderSummary::new(path, CacheKind::Unknown, None, Vec::new(), disk_bytes)
    }
}

/// What `clear` removed.
///
/// ```
/// use twat_cache_common::maintenance::ClearReport;
/// let r = ClearReport { function: Some("geocode".into()), namespaces: 1, removed: 3, ..Default::default() };
/// assert_eq!(serde_json::to_value(&r).unwrap()["removed"], 3);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClearReport {
    /// The folder.
    pub path: PathBuf,
    /// The function asked for, or `None` for the whole cache.
    pub function: Option<String>,
    /// Namespaces cleared: every namespace that matched, whether or not it had entries
    /// (0 when no function has that name).
    pub namespaces: u64,
    /// Entries removed.
    pub removed: u64,
    /// Bytes of entries removed.
    pub bytes: u64,
}

impl ClearReport {
    /// An empty report for clearing `folder` (one `function`'s entries, or all).
    ///
    /// ```
    /// use twat_cache_common::maintenance::ClearReport;
    /// let r = ClearReport::new("/tmp/geo".as_ref(), Some("geocode"));
    /// assert_eq!((r.function.as_deref(), r.removed), (Some("geocode"), 0));
    /// ```
    pub fn new(folder: &std::path::Path, function: Option<&str>) -> Self {
        ClearReport {
            path: folder.to_path_buf(),
            function: function.map(str::to_owned),
            ..Default::default()
        }
    }
}

/// What `prune` removed, per category.
///
/// ```
/// use twat_cache_common::maintenance::PruneReport;
/// let r = PruneReport { expired: 2, repaired: 1, bytes_freed: 80, ..Default::default() };
/// assert_eq!((r.removed(), r.orphaned, r.temp_files), (2, 0, 0));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PruneReport {
    /// The folder.
    pub path: PathBuf,
    /// Entries whose expiry time had passed.
    pub expired: u64,
    /// Entries and index records that nothing can reach or that point at nothing (see the
    /// crate's `maintenance` docs for what that means for each kind).
    pub orphaned: u64,
    /// Temporary files of interrupted writes, older than [`TEMP_MIN_AGE`].
    pub temp_files: u64,
    /// Bookkeeping records rewritten to match the entries (LMDB entry counts).
    pub repaired: u64,
    /// Bytes freed (entries and temporary files).
    pub bytes_freed: u64,
}

impl PruneReport {
    /// Everything removed: expired + orphaned + temporary files.
    ///
    /// ```
    /// use twat_cache_common::maintenance::PruneReport;
    /// let r = PruneReport { expired: 1, orphaned: 2, temp_files: 3, repaired: 9, ..Default::default() };
    /// assert_eq!(r.removed(), 6); // repaired records are not removals
    /// ```
    pub fn removed(&self) -> u64 {
        self.expired + self.orphaned + self.temp_files
    }
}

/// One damaged entry `verify` found.
///
/// ```
/// use twat_cache_common::maintenance::VerifyReport;
/// let mut r = VerifyReport::new("/tmp/c".into());
/// r.record("/tmp/c/ab/cd".into(), "checksum mismatch".into(), false);
/// let d = &r.damaged[0];
/// assert_eq!((d.location.as_str(), d.reason.as_str(), d.removed), ("/tmp/c/ab/cd", "checksum mismatch", false));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Damage {
    /// Where it was: a file path, or the LMDB folder and database key (hex).
    pub location: String,
    /// What was wrong.
    pub reason: String,
    /// Whether it was removed (false when another process replaced it meanwhile, or the
    /// removal failed).
    pub removed: bool,
}

/// What `verify` checked and removed.
///
/// ```
/// use twat_cache_common::maintenance::{MAX_DAMAGE_RECORDS, VerifyReport};
/// let mut r = VerifyReport::new("/tmp/c".into());
/// for i in 0..MAX_DAMAGE_RECORDS + 5 {
///     r.record(format!("entry {i}"), "bad magic".into(), true);
/// }
/// assert_eq!(r.removed, MAX_DAMAGE_RECORDS as u64 + 5); // counts stay complete
/// assert_eq!(r.damaged.len(), MAX_DAMAGE_RECORDS);      // records are capped
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyReport {
    /// The folder.
    pub path: PathBuf,
    /// Entries read.
    pub checked: u64,
    /// Entries that decoded cleanly: header, checksum, key (and, for compressed file
    /// entries, the compressed payload).
    pub ok: u64,
    /// Damaged entries removed.
    pub removed: u64,
    /// The damaged entries, at most [`MAX_DAMAGE_RECORDS`] of them.
    pub damaged: Vec<Damage>,
}

impl VerifyReport {
    /// An empty report for `path`.
    ///
    /// ```
    /// use std::path::Path;
    /// use twat_cache_common::maintenance::VerifyReport;
    /// let r = VerifyReport::new("/tmp/c".into());
    /// assert_eq!(r.path, Path::new("/tmp/c"));
    /// assert_eq!((r.checked, r.ok, r.removed, r.damaged.len()), (0, 0, 0, 0));
    /// ```
    pub fn new(path: PathBuf) -> Self {
        VerifyReport {
            path,
            ..Default::default()
        }
    }

    /// Records one damaged entry.
    ///
    /// ```
    /// use twat_cache_common::maintenance::VerifyReport;
    /// let mut r = VerifyReport::new("/tmp/c".into());
    /// r.record("a".into(), "truncated".into(), true);
    /// r.record("b".into(), "replaced meanwhile".into(), false);
    /// assert_eq!((r.removed, r.damaged.len()), (1, 2));
    /// ```
    pub fn record(&mut self, location: String, reason: String, removed: bool) {
        self.removed += u64::from(removed);
        if self.damaged.len() < MAX_DAMAGE_RECORDS {
            self.damaged.push(Damage {
                location,
                reason,
                removed,
            });
        }
    }

    /// Whether anything was damaged (the CLI exits 1 then).
    ///
    /// ```
    /// use twat_cache_common::maintenance::VerifyReport;
    /// let mut r = VerifyReport::new("/tmp/c".into());
    /// assert!(!r.found_damage());
    /// r.record("/tmp/c/x".into(), "checksum mismatch".into(), true);
    /// assert!(r.found_damage());
    /// assert_eq!(r.removed, 1);
    /// ```
    pub fn found_damage(&self) -> bool {
        self.removed > 0 || !self.damaged.is_empty()
    }
}

/// Why a maintenance operation could not run.
///
/// ```
/// use twat_cache_common::maintenance::MaintenanceError;
/// let e = MaintenanceError::NotFound { path: "/nowhere".into() };
/// assert!(e.is_not_a_cache());
/// assert_eq!(e.to_string(), "/nowhere: no such folder");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MaintenanceError {
    /// The folder does not exist.
    #[error("{}: no such folder", path.display())]
    NotFound {
        /// The folder.
        path: PathBuf,
    },
    /// The folder exists but is not a cache of this kind (no manifest, another kind, not a
    /// directory). Nothing in it was touched.
    #[error("{}: not a {kind} cache: {reason}", path.display())]
    NotACache {
        /// The folder.
        path: PathBuf,
        /// The kind that was expected.
        kind: CacheKind,
        /// Why it is not one.
        reason: String,
    },
    /// A cache of this kind that this build cannot read (a newer format).
    #[error("{}: {reason}", path.display())]
    Unsupported {
        /// The folder.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The crate was built without the feature this kind of cache needs.
    #[error("{}: this build has no `{feature}` feature, so it cannot open {kind} caches", path.display())]
    FeatureDisabled {
        /// The folder.
        path: PathBuf,
        /// The kind of cache.
        kind: CacheKind,
        /// The Cargo feature that is off.
        feature: &'static str,
    },
    /// A file-system operation failed.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The store failed (an LMDB error).
    #[error("{}: {message}", path.display())]
    Store {
        /// The folder.
        path: PathBuf,
        /// What failed.
        message: String,
    },
}

impl MaintenanceError {
    /// The folder (or file) concerned.
    ///
    /// ```
    /// use std::path::Path;
    /// use twat_cache_common::maintenance::MaintenanceError;
    /// let e = MaintenanceError::Store { path: "/tmp/c".into(), message: "MDB_PANIC".into() };
    /// assert_eq!(e.path(), Path::new("/tmp/c"));
    /// ```
    pub fn path(&self) -> &Path {
        match self {
            MaintenanceError::NotFound { path }
            | MaintenanceError::NotACache { path, .. }
            | MaintenanceError::Unsupported { path, .. }
            | MaintenanceError::FeatureDisabled { path, .. }
            | MaintenanceError::Io { path, .. }
            | MaintenanceError::Store { path, .. } => path,
        }
    }

    /// True when the folder is missing or is not a cache (the CLI's exit code 3); false for
    /// failures while working on a real cache (exit code 4).
    ///
    /// ```
    /// use twat_cache_common::maintenance::{CacheKind, MaintenanceError};
    /// let not_cache = MaintenanceError::NotACache { path: "/tmp".into(), kind: CacheKind::Lmdb, reason: "no manifest".into() };
    /// assert!(not_cache.is_not_a_cache());
    /// let failed = MaintenanceError::Store { path: "/tmp/c".into(), message: "full".into() };
    /// assert!(!failed.is_not_a_cache());
    /// ```
    pub fn is_not_a_cache(&self) -> bool {
        matches!(
            self,
            MaintenanceError::NotFound { .. } | MaintenanceError::NotACache { .. }
        )
    }

    /// Wraps an I/O error with the action and path it concerns.
    ///
    /// ```
    /// use std::{io, path::Path};
    /// use twat_cache_common::maintenance::MaintenanceError;
    /// let e = MaintenanceError::io("cannot read", "/tmp/c", io::Error::from(io::ErrorKind::PermissionDenied));
    /// assert_eq!(e.path(), Path::new("/tmp/c"));
    /// assert!(e.to_string().starts_with("cannot read /tmp/c: "));
    /// assert!(!e.is_not_a_cache());
    /// ```
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        MaintenanceError::Io {
            action,
            path: path.into(),
            source,
        }
    }
}

/// Checks that `folder` exists and is a directory: [`MaintenanceError::NotFound`] or
/// [`MaintenanceError::NotACache`] otherwise.
///
/// ```
/// use twat_cache_common::maintenance::{CacheKind, check_dir};
/// let dir = tempfile::tempdir().unwrap();
/// assert!(check_dir(dir.path(), CacheKind::Files).is_ok());
/// assert!(check_dir(&dir.path().join("missing"), CacheKind::Files).unwrap_err().is_not_a_cache());
/// ```
pub fn check_dir(folder: &Path, kind: CacheKind) -> Result<(), MaintenanceError> {
    match std::fs::metadata(folder) {
        Ok(md) if md.is_dir() => Ok(()),
        Ok(_) => Err(MaintenanceError::NotACache {
            path: folder.to_path_buf(),
            kind,
            reason: "it is not a directory".into(),
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Err(MaintenanceError::NotFound {
            path: folder.to_path_buf(),
        }),
        Err(e) => Err(MaintenanceError::io("cannot read", folder, e)),
    }
}

/// Whether a temporary file last modified at `modified` is old enough (at least
/// [`TEMP_MIN_AGE`] before `now`) to be the leftover of an interrupted write. A time in the
/// future, or unknown, is never old.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use twat_cache_common::maintenance::is_stale_temp;
/// let now = SystemTime::now();
/// assert!(!is_stale_temp(Some(now - Duration::from_secs(60)), now));
/// assert!(is_stale_temp(Some(now - Duration::from_secs(3600)), now));
/// assert!(!is_stale_temp(None, now));
/// ```
pub fn is_stale_temp(modified: Option<SystemTime>, now: SystemTime) -> bool {
    modified
        .and_then(|m| now.duration_since(m).ok())
        .is_some_and(|age| age >= TEMP_MIN_AGE)
}

/// The namespace a stored key belongs to, read back from the key (id, NUL, arguments),
/// for entries whose namespace record is missing. Ids in the `#[bcache]`/`#[fcache]` form
/// (`crate|module::function|vN|codehash`) give the function name; any other id is taken
/// as a builder name. `None` when the key has no NUL or the id is not UTF-8.
///
/// ```
/// use twat_cache_common::{Namespace, maintenance::namespace_of_key};
/// let ns = Namespace::function("app", "app::geo", "geocode", 2, 0xfeed);
/// let key = ns.stored_key(b"args");
/// assert_eq!(namespace_of_key(&key), Some(ns));
/// assert_eq!(namespace_of_key(b"pages\0x").unwrap().function_name(), "pages");
/// assert_eq!(namespace_of_key(b"no separator"), None);
/// ```
pub fn namespace_of_key(stored_key: &[u8]) -> Option<Namespace> {
    let end = stored_key.iter().position(|&b| b == 0)?;
    let id = std::str::from_utf8(&stored_key[..end]).ok()?;
    Some(namespace_from_id(id))
}

/// The [`Namespace`] with id `id`: parsed as `crate|module::function|vN|codehash` when it
/// has that form (so the function name is known), else [`Namespace::named`].
///
/// ```
/// use twat_cache_common::maintenance::namespace_from_id;
/// let ns = namespace_from_id("app|app::geo::geocode|v1|000000000000feed");
/// assert_eq!(ns.function_name(), "geocode");
/// assert_eq!(ns.id(), "app|app::geo::geocode|v1|000000000000feed");
/// assert_eq!(namespace_from_id("pages").function_name(), "pages");
/// // A variant (entries with freshness stamps) keeps its function's name.
/// let stamped = namespace_from_id("app|app::geo::geocode|v1|000000000000feed|stamped1");
/// assert_eq!(stamped.function_name(), "geocode");
/// assert_eq!(stamped.id(), "app|app::geo::geocode|v1|000000000000feed|stamped1");
/// ```
pub fn namespace_from_id(id: &str) -> Namespace {
    let parsed = (|| {
        let mut parts = id.split('|');
        let (krate, path, version, hash) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        let variant = parts.next();
        if parts.next().is_some() {
            return None;
        }
        let (module, function) = path.rsplit_once("::")?;
        let version: u32 = version.strip_prefix('v')?.parse().ok()?;
        let hash = u64::from_str_radix(hash, 16).ok()?;
        let mut ns = Namespace::function(krate, module, function, version, hash);
        if let Some(tag) = variant {
            ns = ns.variant(tag);
        }
        (ns.id() == id).then_some(ns)
    })();
    parsed.unwrap_or_else(|| Namespace::named(id))
}

/// Bytes taken by the regular files under `path` (recursively; symbolic links are not
/// followed). Unreadable parts count as 0.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// std::fs::write(dir.path().join("a"), b"12345").unwrap();
/// std::fs::create_dir(dir.path().join("sub")).unwrap();
/// std::fs::write(dir.path().join("sub/b"), b"123").unwrap();
/// assert_eq!(twat_cache_common::maintenance::disk_usage(dir.path()), 8);
/// ```
pub fn disk_usage(path: &Path) -> u64 {
    let Ok(items) = std::fs::read_dir(path) else {
        return 0;
    };
    items
        .flatten()
        .map(|item| match item.file_type() {
            Ok(t) if t.is_file() => item.metadata().map_or(0, |m| m.len()),
            Ok(t) if t.is_dir() => disk_usage(&item.path()),
            _ => 0,
        })
        .sum()
}

/// The maintenance functions (`summary`, `clear`, `prune`, `verify`) of a store whose
/// Cargo feature is off: each refuses with [`MaintenanceError::FeatureDisabled`] naming
/// the folder, the kind and the feature. Written once for every store crate; expand it
/// inside the crate's `#[cfg(not(feature = ".."))] mod imp`.
#[doc(hidden)]
#[macro_export]
macro_rules! maintenance_disabled {
    ($kind:expr, $feature:literal) => {
        fn disabled(folder: &::std::path::Path) -> $crate::maintenance::MaintenanceError {
            $crate::maintenance::MaintenanceError::FeatureDisabled {
                path: folder.to_path_buf(),
                kind: $kind,
                feature: $feature,
            }
        }

        pub(super) fn summary(
            folder: &::std::path::Path,
            _: u32,
        ) -> Result<$crate::maintenance::FolderSummary, $crate::maintenance::MaintenanceError> {
            Err(disabled(folder))
        }

        pub(super) fn clear(
            folder: &::std::path::Path,
            _: Option<&str>,
        ) -> Result<$crate::maintenance::ClearReport, $crate::maintenance::MaintenanceError> {
            Err(disabled(folder))
        }

        pub(super) fn prune(
            folder: &::std::path::Path,
        ) -> Result<$crate::maintenance::PruneReport, $crate::maintenance::MaintenanceError> {
            Err(disabled(folder))
        }

        pub(super) fn verify(
            folder: &::std::path::Path,
        ) -> Result<$crate::maintenance::VerifyReport, $crate::maintenance::MaintenanceError> {
            Err(disabled(folder))
        }
    };
}
