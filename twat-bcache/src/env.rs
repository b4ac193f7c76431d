//! The process-wide registry of LMDB environments: one [`SharedEnv`] per canonical folder.
//!
//! heed (like LMDB) refuses to open one environment twice in a process, so every cache on a
//! folder shares one `Env`, opened here the first time a cache asks for the folder and kept
//! open for the life of the process. This module also owns (the folder's manifest and the
//! decision whether a folder is ours are `folder`'s):
//!
//! - opening, and wiping then reopening an environment that is ours but corrupt;
//! - the resize gate: every transaction holds a read guard on an `RwLock`, and growing the
//!   map (or adopting another process's growth) takes the write guard, so LMDB never remaps
//!   under a live transaction of this process;
//! - the background flusher that `fsync`s environments opened with `NO_SYNC`.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use heed::types::Bytes;
use heed::{CommitOrAbort, Database, Env, EnvFlags, EnvOpenOptions, MdbError, RoTxn, RwTxn};
use parking_lot::{Mutex, RwLock};
use twat_cache_common::paths::{check_folder_is_safe, create_private_dir, make_private_file};

use crate::folder::{DATA_FILE, LOCK_FILE, check_manifest, wipe};

/// The map size of a new environment unless `map_size` says otherwise. On Linux and macOS
/// a map only reserves address space; Windows allocates the file to the map size, so it
/// starts smaller there and grows on demand.
#[cfg(not(windows))]
pub const DEFAULT_MAP_SIZE: usize = 1 << 30;
/// The map size of a new environment unless `map_size` says otherwise.
#[cfg(windows)]
pub const DEFAULT_MAP_SIZE: usize = 64 << 20;
/// The map never grows past this (on 64-bit targets).
const MAX_MAP_SIZE: usize = if usize::BITS >= 64 { 1 << 40 } else { 1 << 30 };
/// Smallest map accepted; smaller requests are rounded up.
pub const MIN_MAP_SIZE: usize = 256 << 10;
/// Map sizes are rounded up to a multiple of this (a multiple of every common page size).
const MAP_ALIGN: usize = 64 << 10;
/// Reader slots: every thread that ever read keeps one until it exits (LMDB with TLS).
const MAX_READERS: u32 = 2048;

/// Rounds `size` up to the map alignment, at least [`MIN_MAP_SIZE`].
pub fn round_map_size(size: usize) -> usize {
    let size = size.clamp(MIN_MAP_SIZE, MAX_MAP_SIZE);
    size.div_ceil(MAP_ALIGN) * MAP_ALIGN
}

/// One open LMDB environment and its databases, shared by every cache on the folder.
pub struct SharedEnv {
    env: Env,
    /// namespace hash (8, BE) ‖ digest of the stored key (16) → encoded `Entry`.
    pub(crate) entries: Database<'static, Bytes, Bytes>,
    /// namespace hash (8) ‖ created ms (8, BE) ‖ digest (16) → empty: oldest-first order.
    pub(crate) order: Database<'static, Bytes, Bytes>,
    /// namespace hash (8) → postcard `Namespace` (id and function name), for tools.
    pub(crate) namespaces: Database<'static, Bytes, Bytes>,
    /// namespace hash (8) → entry count (8, LE) ‖ bytes (8, LE).
    pub(crate) counts: Database<'static, Bytes, Bytes>,
    /// namespace hash ‖ digest → last read (ms, BE), for LRU: an entry's place in `order`
    /// when it has one here, else its created time.
    pub(crate) recency: Database<'static, Bytes, Bytes>,
    gate: RwLock<()>,
    path: PathBuf,
    dirty: AtomicBool,
    /// The map never grows past this ([`MAX_MAP_SIZE`] unless `max_map_size` said less).
    max_map: usize,
    /// Device and inode of `data.mdb` when opened, to notice the folder being deleted or
    /// replaced under the open environment.
    identity: Option<(u64, u64)>,
    /// Set (once) when `data.mdb` is no longer the file this environment has open.
    orphaned: OnceLock<String>,
    /// Commits made by this process's caches (counted just before each commit, taken
    /// back if it fails): LMDB's last transaction id minus this moves only when another
    /// process, or a maintenance command, writes. See [`SharedEnv::foreign_changes`].
    own_commits: AtomicU64,
}

impl std::fmt::Debug for SharedEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedEnv")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

fn is_mdb(e: &heed::Error, which: MdbError) -> bool {
    matches!(e, heed::Error::Mdb(m) if std::mem::discriminant(m) == std::mem::discriminant(&which))
}

/// Errors that mean the files are damaged (rather than unreachable).
fn is_corruption(e: &heed::Error) -> bool {
    matches!(
        e,
        heed::Error::Mdb(
            MdbError::Corrupted
                | MdbError::Invalid
                | MdbError::VersionMismatch
                | MdbError::Incompatible
                | MdbError::PageNotFound
                | MdbError::BadDbi
        )
    )
}

impl SharedEnv {
    /// The underlying heed environment.
    pub fn env(&self) -> &Env {
        &self.env
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` in a fresh read transaction, retrying when another process grew the map
    /// (`MapResized`) or the reader table is full of dead readers.
    pub(crate) fn read<R>(
        &self,
        mut f: impl FnMut(&RoTxn<'_>) -> heed::Result<R>,
    ) -> heed::Result<R> {
        let mut attempts = 0;
        loop {
            attempts += 1;
            let guard = self.gate.read();
            match self.env.read_txn() {
                Ok(txn) => {
                    let r = f(&txn);
                    drop(txn);
                    drop(guard);
                    return r;
                }
                Err(e) if attempts < 4 && is_mdb(&e, MdbError::MapResized) => {
                    drop(guard);
                    self.adopt_resize();
                }
                Err(e) if attempts < 4 && is_mdb(&e, MdbError::ReadersFull) => {
                    drop(guard);
                    let _ = self.env.clear_stale_readers();
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// A number that moves whenever a transaction is committed by another process, or by
    /// [`maintenance_write`](Self::maintenance_write) in this one, and not when this
    /// process's caches write: what tells a memory tier (`l1`) that the folder changed
    /// under it. Read from the shared meta page, no transaction needed.
    ///
    /// Each cache commit counts itself just *before* committing, so a reader between the
    /// two sees a spurious change (the tier is emptied: harmless), never a foreign commit
    /// hidden by one of ours.
    pub(crate) fn foreign_changes(&self) -> u64 {
        let own = self.own_commits.load(Ordering::SeqCst);
        (self.env.info().last_txn_id as u64).wrapping_sub(own)
    }

    /// Runs `f` in a write transaction and commits: a cache's write (see
    /// [`foreign_changes`](Self::foreign_changes)). `MapFull` grows the map and retries;
    /// `MapResized` adopts the other process's size and retries. Returns `MapFull` only
    /// when the map cannot grow any further.
    pub(crate) fn write<R>(
        &self,
        durable: bool,
        f: impl FnMut(&mut RwTxn<'_>) -> heed::Result<R>,
    ) -> heed::Result<R> {
        self.write_txn(durable, true, f)
    }

    /// [`write`](Self::write) for maintenance (clear, prune, verify): every cache's memory
    /// tier in this process takes it for a change made elsewhere.
    pub(crate) fn maintenance_write<R>(
        &self,
        durable: bool,
        f: impl FnMut(&mut RwTxn<'_>) -> heed::Result<R>,
    ) -> heed::Result<R> {
        self.write_txn(durable, false, f)
    }

    fn write_txn<R>(
        &self,
        durable: bool,
        own: bool,
        mut f: impl FnMut(&mut RwTxn<'_>) -> heed::Result<R>,
    ) -> heed::Result<R> {
        let mut attempts = 0;
        loop {
            attempts += 1;
            let guard = self.gate.read();
            let seen = self.env.info().map_size;
            let mut txn = match self.env.write_txn() {
                Ok(t) => t,
                Err(e) if attempts < 6 && is_mdb(&e, MdbError::MapResized) => {
                    drop(guard);
                    self.adopt_resize();
                    continue;
                }
                Err(e) => return Err(e),
            };
            let outcome = f(&mut txn).and_then(|r| {
                if own {
                    self.own_commits.fetch_add(1, Ordering::SeqCst);
                }
                txn.commit().map(|()| r).inspect_err(|_| {
                    if own {
                        self.own_commits.fetch_sub(1, Ordering::SeqCst);
                    }
                })
            });
            drop(guard);
            match outcome {
                Ok(r) => {
                    if durable {
                        let _ = self.env.force_sync();
                    } else {
                        self.dirty.store(true, Ordering::Relaxed);
                    }
                    return Ok(r);
                }
                Err(e) if attempts < 6 && is_mdb(&e, MdbError::MapFull) => {
                    if !self.grow(seen) {
                        return Err(e);
                    }
                }
                Err(e) if attempts < 6 && is_mdb(&e, MdbError::MapResized) => self.adopt_resize(),
                Err(e) => return Err(e),
            }
        }
    }

    /// Doubles the map (if nobody grew it since `seen`). False when it cannot grow.
    fn grow(&self, seen: usize) -> bool {
        let _w = self.gate.write();
        let now = self.env.info().map_size;
        if now > seen {
            return true; // another thread grew it meanwhile
        }
        if now >= self.max_map {
            log::debug!(
                "twat-bcache: the LMDB map of {} is full at its maximum of {} bytes",
                self.path.display(),
                self.max_map
            );
            return false;
        }
        let new = round_map_size(now.saturating_mul(2)).min(self.max_map);
        // SAFETY: the write guard of the gate excludes every transaction of this process
        // (each holds a read guard for its whole life), which is what LMDB requires.
        match unsafe { self.env.resize(new) } {
            Ok(()) => {
                log::debug!(
                    "twat-bcache: grew the LMDB map of {} from {now} to {new} bytes",
                    self.path.display()
                );
                true
            }
            Err(e) => {
                log::warn!(
                    "twat-bcache: cannot grow the LMDB map of {}: {e}",
                    self.path.display()
                );
                false
            }
        }
    }

    /// Adopts the map size another process set (`MapResized`).
    fn adopt_resize(&self) {
        let _w = self.gate.write();
        // SAFETY: as in `grow`: no transaction of this process is live under the write guard.
        if let Err(e) = unsafe { self.env.resize(0) } {
            log::debug!("twat-bcache: adopting a resized map failed: {e}");
        }
    }

    /// Flushes to disk if anything was committed since the last flush.
    fn flush_if_dirty(&self) {
        if self.dirty.swap(false, Ordering::Relaxed) {
            let _g = self.gate.read();
            if let Err(e) = self.env.force_sync() {
                log::debug!("twat-bcache: sync of {} failed: {e}", self.path.display());
            }
        }
    }

    /// The most the map may grow to.
    pub(crate) fn max_map_size(&self) -> usize {
        self.max_map
    }

    /// Why this environment no longer serves the folder it was opened on (the folder, or
    /// its `data.mdb`, was deleted or replaced while open), if that happened. Checked by
    /// the background flusher about once a second.
    pub(crate) fn orphaned(&self) -> Option<&str> {
        self.orphaned.get().map(String::as_str)
    }

    /// Compares `data.mdb` with the file opened; records (and warns, once) a mismatch.
    fn check_identity(&self) {
        let Some(opened) = self.identity else { return };
        if self.orphaned.get().is_some() {
            return;
        }
        let now = file_identity(&self.path.join(DATA_FILE));
        if now != Some(opened) {
            let why = format!(
                "{} was deleted or replaced while open: this process keeps using the \
                 deleted database, whose entries other processes do not see and which is \
                 lost when the process exits",
                self.path.join(DATA_FILE).display()
            );
            log::warn!("twat-bcache: {why}");
            let _ = self.orphaned.set(why);
        }
    }

    /// Clears reader slots left by dead processes; returns how many.
    pub(crate) fn clear_stale_readers(&self) -> usize {
        self.env.clear_stale_readers().unwrap_or(0)
    }
}

type Registry = Mutex<HashMap<PathBuf, Arc<SharedEnv>>>;

fn registry() -> &'static Registry {
    static ENVS: OnceLock<Registry> = OnceLock::new();
    ENVS.get_or_init(Default::default)
}

/// The environment for `folder`, opening it (and creating the folder) on first use.
/// `Err` carries a human-readable reason for the fallback warning.
#[allow(dead_code)] // the caches call `open_with`; kept as the plain entry point for tools
pub fn open(folder: &Path, map_size: Option<usize>) -> Result<Arc<SharedEnv>, String> {
    open_with(folder, map_size, None)
}

/// [`open`], with a cap on the map's growth (`max_map_size`; only the first opener of the
/// folder in this process sets either size).
pub fn open_with(
    folder: &Path,
    map_size: Option<usize>,
    max_map_size: Option<usize>,
) -> Result<Arc<SharedEnv>, String> {
    // A symlink or another user's folder is refused before anything follows or changes it.
    check_folder_is_safe(folder).map_err(|e| e.to_string())?;
    if !folder.exists() {
        create_private_dir(folder).map_err(|e| format!("cannot create the folder: {e}"))?;
    }
    let meta = fs::metadata(folder).map_err(|e| format!("cannot read the folder: {e}"))?;
    if !meta.is_dir() {
        return Err("it exists and is not a directory".into());
    }
    let canonical =
        fs::canonicalize(folder).map_err(|e| format!("cannot resolve the folder: {e}"))?;
    let mut envs = registry().lock();
    if let Some(env) = envs.get(&canonical) {
        return Ok(env.clone());
    }
    let shared = Arc::new(open_new(&canonical, map_size, max_map_size)?);
    envs.insert(canonical, shared.clone());
    drop(envs);
    flusher().lock().push(Arc::downgrade(&shared));
    start_flusher();
    Ok(shared)
}

type Dbs = (
    Database<'static, Bytes, Bytes>,
    Database<'static, Bytes, Bytes>,
    Database<'static, Bytes, Bytes>,
    Database<'static, Bytes, Bytes>,
    Database<'static, Bytes, Bytes>,
);

fn open_env(folder: &Path, map_size: usize) -> heed::Result<(Env, Dbs)> {
    let mut opts = EnvOpenOptions::new();
    opts.map_size(map_size).max_dbs(8).max_readers(MAX_READERS);
    // SAFETY: NO_SYNC and NO_READ_AHEAD change durability and I/O hints only. NO_SYNC
    // without WRITE_MAP keeps the database consistent on a process crash; a system crash
    // may lose the newest commits (the flusher syncs every second), which a cache accepts.
    unsafe { opts.flags(EnvFlags::NO_SYNC | EnvFlags::NO_READ_AHEAD) };
    // SAFETY: the registry above guarantees one open per canonical path in this process,
    // the folder is ours (manifest checked), and files are never modified outside LMDB.
    let env = unsafe { opts.open(folder) }?;
    let _ = env.clear_stale_readers();
    let mut attempts = 0;
    let dbs = loop {
        attempts += 1;
        let wtxn = match env.write_txn() {
            Err(e) if attempts < 4 && is_mdb(&e, MdbError::MapResized) => {
                // SAFETY: nothing else uses this env yet.
                unsafe { env.resize(0) }?;
                continue;
            }
            r => r?,
        };
        let dbs = env
            .create_databases_and_commit(wtxn, |dbo, wtxn| -> heed::Result<_> {
                let entries = dbo.create_database::<Bytes, Bytes>(wtxn, Some("entries"))?;
                let order = dbo.create_database::<Bytes, Bytes>(wtxn, Some("order"))?;
                let namespaces = dbo.create_database::<Bytes, Bytes>(wtxn, Some("namespaces"))?;
                let counts = dbo.create_database::<Bytes, Bytes>(wtxn, Some("counts"))?;
                // Added in place: folders written before it simply have it empty.
                let recency = dbo.create_database::<Bytes, Bytes>(wtxn, Some("recency"))?;
                Ok(CommitOrAbort::<_, ()>::Commit((
                    entries, order, namespaces, counts, recency,
                )))
            })?
            .commit();
        match dbs {
            Some(dbs) => break dbs,
            None => return Err(heed::Error::Mdb(MdbError::Problem)),
        }
    };
    // A cheap probe that touches the databases' roots.
    {
        let rtxn = env.read_txn()?;
        dbs.3.first(&rtxn)?;
        dbs.0.first(&rtxn)?;
    }
    Ok((env, dbs))
}

fn open_new(
    folder: &Path,
    map_size: Option<usize>,
    max_map_size: Option<usize>,
) -> Result<SharedEnv, String> {
    check_manifest(folder)?;
    let existing = fs::metadata(folder.join(DATA_FILE))
        .map(|m| m.len() as usize)
        .unwrap_or(0);
    let max_map = max_map_size.map_or(MAX_MAP_SIZE, round_map_size);
    let size = round_map_size(map_size.unwrap_or(DEFAULT_MAP_SIZE).max(existing))
        .min(max_map.max(round_map_size(existing)));
    let mut wiped = false;
    let mut attempt = 0;
    let (env, dbs) = loop {
        attempt += 1;
        match open_env(folder, size) {
            Ok(ok) => break ok,
            Err(heed::Error::EnvAlreadyOpened) => {
                return Err(
                    "the LMDB environment is already open in this process outside twat-bcache"
                        .into(),
                );
            }
            Err(e) if is_corruption(&e) && attempt >= 3 && !wiped => {
                // Ours (manifest checked) and damaged: it is a cache, so start over.
                log::warn!(
                    "twat-bcache: {} is damaged ({e}); wiping and recreating it",
                    folder.display()
                );
                wipe(folder)
                    .map_err(|w| format!("it is damaged ({e}) and cannot be wiped: {w}"))?;
                wiped = true;
            }
            // Another process may be creating or closing the env at this instant: retry.
            Err(_) if attempt < 3 => std::thread::sleep(Duration::from_millis(20 * attempt)),
            Err(e) => return Err(format!("LMDB cannot open it: {e}")),
        }
    };
    for f in [DATA_FILE, LOCK_FILE] {
        let _ = make_private_file(&folder.join(f));
    }
    Ok(SharedEnv {
        env,
        entries: dbs.0,
        order: dbs.1,
        namespaces: dbs.2,
        counts: dbs.3,
        recency: dbs.4,
        gate: RwLock::new(()),
        path: folder.to_path_buf(),
        dirty: AtomicBool::new(false),
        max_map,
        identity: file_identity(&folder.join(DATA_FILE)),
        orphaned: OnceLock::new(),
        own_commits: AtomicU64::new(0),
    })
}

/// Device and inode of `path` (Unix); `None` when it is missing, or elsewhere.
fn file_identity(path: &Path) -> Option<(u64, u64)> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

fn flusher() -> &'static Mutex<Vec<Weak<SharedEnv>>> {
    static LIST: OnceLock<Mutex<Vec<Weak<SharedEnv>>>> = OnceLock::new();
    LIST.get_or_init(Default::default)
}

/// How often environments with unsynced commits are flushed.
const FLUSH_EVERY: Duration = Duration::from_secs(1);

fn start_flusher() {
    static STARTED: OnceLock<()> = OnceLock::new();
    STARTED.get_or_init(|| {
        let spawned = std::thread::Builder::new()
            .name("twat-bcache-flush".into())
            .spawn(|| {
                loop {
                    std::thread::sleep(FLUSH_EVERY);
                    let envs: Vec<_> = flusher().lock().iter().filter_map(Weak::upgrade).collect();
                    for env in envs {
                        env.flush_if_dirty();
                        env.check_identity();
                    }
                }
            });
        if let Err(e) = spawned {
            log::warn!("twat-bcache: no background flusher ({e}); commits reach disk when the OS writes them back");
        }
    });
}
