//! Cross-process single-flight (`lock = true`): one lock file per key being computed.
//!
//! A process that misses a key takes an exclusive `flock` (std [`File::lock`]) on
//! `<cache folder>/locks/<32 hex digits>.lock`, named after the 128-bit digest of the
//! stored key. Every other process missing the same key blocks on the same file, and
//! re-reads the store once it gets the lock: the first one's value is there by then. The
//! kernel drops the lock when its holder dies, even by `SIGKILL`, so a killed computation
//! never wedges the others: the next waiter takes over and computes.
//!
//! # Why one file per key, removed after use (and not a fixed set of stripes)
//!
//! Removing a lock file after use is racy if done naively: a waiter blocked on the old
//! file's lock wins it after the unlink and computes alongside a newcomer that created a
//! fresh file under the same name. The classic fix is applied here: after `lock()`
//! returns, the holder checks that the name still points at the very file it locked
//! (same device and inode, link not followed); if not, it drops that handle and starts
//! over. Only a holder that passed this check unlinks, and it does so *before* unlocking,
//! so at every instant at most one process holds a lock on the file the name points at.
//!
//! A fixed set of stripes (say 256 files chosen by a digest byte) needs no removal but
//! makes unrelated keys share a lock. That is worse than slow: a memoized function that
//! calls another memoized function (each call taking its key's lock) can then deadlock
//! two processes, each holding the stripe the other's inner call needs, although the
//! keys themselves never depend on each other. Per-key locks only deadlock where the
//! computation itself is circular.
//!
//! So the `locks` folder holds only the files of keys being computed right now, plus
//! those of holders that were killed; such a leftover is reused (and then removed) by the
//! next miss of its key, and [`KeyLocks::sweep`] removes the ones nobody holds.
//!
//! On Windows (`LockFileEx`) a file cannot be removed while open, so lock files are kept
//! there (one empty file per key ever computed under `lock = true`).
//!
//! ```
//! # #[cfg(unix)] {
//! use twat_cache_common::lockfile::{Acquired, KeyLocks};
//! let dir = tempfile::tempdir().unwrap();
//! let locks = KeyLocks::new(dir.path());
//! let digest = [7u8; 16];
//! let Acquired::Locked(guard) = locks.lock(&digest).unwrap() else { unreachable!() };
//! assert!(guard.path().is_file());
//! // The same thread asking again (a recursive call) is told it already holds it.
//! assert!(matches!(locks.lock(&digest).unwrap(), Acquired::AlreadyHeld));
//! drop(guard);
//! assert!(!dir.path().join("locks/07070707070707070707070707070707.lock").exists());
//! # }
//! ```

use std::cell::RefCell;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use crate::paths::create_private_dir;

/// The folder, inside a cache folder, that holds the lock files.
pub const LOCK_DIR: &str = "locks";

thread_local! {
    /// Lock files this thread holds: asking again for one of them must not block on our
    /// own lock (a memoized function that recurses into the same key).
    static HELD: RefCell<Vec<PathBuf>> = const { RefCell::new(Vec::new()) };
}

/// The per-key lock files of one cache folder. Cheap to create: nothing is touched on disk
/// until the first [`lock`](Self::lock).
///
/// ```
/// use twat_cache_common::lockfile::KeyLocks;
/// let dir = tempfile::tempdir().unwrap();
/// let locks = KeyLocks::new(dir.path());
/// assert!(!locks.dir().exists()); // nothing created yet
/// let guard = locks.lock(&[1; 16]).unwrap();
/// assert!(locks.dir().is_dir());
/// # drop(guard);
/// ```
#[derive(Debug, Clone)]
pub struct KeyLocks {
    dir: PathBuf,
}

/// What [`KeyLocks::lock`] got.
///
/// ```
/// use twat_cache_common::lockfile::{Acquired, KeyLocks};
/// let dir = tempfile::tempdir().unwrap();
/// let locks = KeyLocks::new(dir.path());
/// let first = locks.lock(&[2; 16]).unwrap();
/// assert!(matches!(first, Acquired::Locked(_)));
/// assert!(matches!(locks.lock(&[2; 16]).unwrap(), Acquired::AlreadyHeld));
/// assert!(matches!(locks.lock(&[3; 16]).unwrap(), Acquired::Locked(_))); // another key
/// # drop(first);
/// ```
#[derive(Debug)]
#[must_use = "dropping the guard releases the lock"]
pub enum Acquired {
    /// This process holds the key's lock until the guard is dropped.
    Locked(KeyLock),
    /// This thread already holds the key's lock, further up its stack.
    AlreadyHeld,
}

/// A held key lock. Dropping it removes the lock file (Unix) and releases the lock.
///
/// ```
/// use twat_cache_common::lockfile::{Acquired, KeyLocks};
/// let dir = tempfile::tempdir().unwrap();
/// let locks = KeyLocks::new(dir.path());
/// let Acquired::Locked(guard) = locks.lock(&[4; 16]).unwrap() else { unreachable!() };
/// drop(guard);
/// // Released: the same thread now takes it afresh instead of being told it holds it.
/// assert!(matches!(locks.lock(&[4; 16]).unwrap(), Acquired::Locked(_)));
/// ```
#[derive(Debug)]
pub struct KeyLock {
    file: Option<File>,
    path: PathBuf,
    /// Not `Send`: the thread that took it is the one recorded as holding it.
    _not_send: std::marker::PhantomData<*const ()>,
}

impl KeyLock {
    /// The lock file.
    ///
    /// ```
    /// use twat_cache_common::lockfile::{Acquired, KeyLocks};
    /// let dir = tempfile::tempdir().unwrap();
    /// let locks = KeyLocks::new(dir.path());
    /// let Acquired::Locked(guard) = locks.lock(&[5; 16]).unwrap() else { unreachable!() };
    /// assert_eq!(guard.path(), locks.path_of(&[5; 16]));
    /// assert!(guard.path().is_file());
    /// ```
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for KeyLock {
    fn drop(&mut self) {
        // Unlink while still holding the lock (see the module docs), then unlock by closing.
        #[cfg(unix)]
        let _ = fs::remove_file(&self.path);
        drop(self.file.take());
        HELD.with(|h| {
            let mut h = h.borrow_mut();
            if let Some(i) = h.iter().rposition(|p| *p == self.path) {
                h.swap_remove(i);
            }
        });
    }
}

fn hex(digest: &[u8; 16]) -> String {
    format!("{:032x}", u128::from_be_bytes(*digest))
}

fn open_lock_file(path: &Path) -> io::Result<File> {
    let mut opts = OpenOptions::new();
    opts.read(true).write(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // Never follow a link planted under the lock's name.
        opts.mode(0o600).custom_flags(libc::O_NOFOLLOW);
    }
    opts.open(path)
}

/// Whether `path` still names the file `file` has open (device and inode; a link at
/// `path` does not count).
#[cfg(unix)]
fn still_named(file: &File, path: &Path) -> io::Result<bool> {
    use std::os::unix::fs::MetadataExt;
    let held = file.metadata()?;
    Ok(match fs::symlink_metadata(path) {
        Ok(now) => now.dev() == held.dev() && now.ino() == held.ino(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => false,
        Err(e) => return Err(e),
    })
}

impl KeyLocks {
    /// The lock files of the cache in `cache_folder` (they go in `cache_folder/locks`).
    ///
    /// ```
    /// use std::path::Path;
    /// use twat_cache_common::lockfile::KeyLocks;
    /// assert_eq!(KeyLocks::new(Path::new("/cache/app")).dir(), Path::new("/cache/app/locks"));
    /// ```
    pub fn new(cache_folder: &Path) -> Self {
        KeyLocks {
            dir: cache_folder.join(LOCK_DIR),
        }
    }

    /// The folder holding the lock files.
    ///
    /// ```
    /// use std::path::Path;
    /// use twat_cache_common::lockfile::{KeyLocks, LOCK_DIR};
    /// let locks = KeyLocks::new(Path::new("c"));
    /// assert_eq!(locks.dir(), Path::new("c").join(LOCK_DIR));
    /// ```
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The lock file of `digest` (which may not exist).
    ///
    /// ```
    /// use std::path::Path;
    /// use twat_cache_common::lockfile::KeyLocks;
    /// let locks = KeyLocks::new(Path::new("c"));
    /// let mut digest = [0u8; 16];
    /// digest[15] = 0xab;
    /// assert_eq!(locks.path_of(&digest), Path::new("c/locks/000000000000000000000000000000ab.lock"));
    /// ```
    pub fn path_of(&self, digest: &[u8; 16]) -> PathBuf {
        self.dir.join(format!("{}.lock", hex(digest)))
    }

    /// Blocks until this process holds the lock of the key whose digest is `digest`, or
    /// says that this thread already holds it. `Err` when the lock cannot be taken at all
    /// (read-only or foreign folder, a file system without `flock`, ...): callers then
    /// compute without the cross-process lock, since a cache must never fail a call.
    ///
    /// ```
    /// use twat_cache_common::lockfile::{Acquired, KeyLocks};
    /// let dir = tempfile::tempdir().unwrap();
    /// let locks = KeyLocks::new(dir.path());
    /// assert!(matches!(locks.lock(&[6; 16]).unwrap(), Acquired::Locked(_)));
    /// // A folder that cannot hold lock files is an error, not a panic or a hang.
    /// let file = dir.path().join("a-file");
    /// std::fs::write(&file, b"").unwrap();
    /// assert!(KeyLocks::new(&file).lock(&[6; 16]).is_err());
    /// ```
    pub fn lock(&self, digest: &[u8; 16]) -> io::Result<Acquired> {
        let path = self.path_of(digest);
        if HELD.with(|h| h.borrow().contains(&path)) {
            return Ok(Acquired::AlreadyHeld);
        }
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            let file = match open_lock_file(&path) {
                Err(e) if e.kind() == io::ErrorKind::NotFound && attempts < 8 => {
                    create_private_dir(&self.dir)?;
                    continue;
                }
                other => other?,
            };
            file.lock()?;
            #[cfg(unix)]
            if !still_named(&file, &path)? {
                // The holder we waited for removed it: our lock is on a dead file.
                if attempts >= 1000 {
                    return Err(io::Error::other(format!(
                        "{} keeps being replaced",
                        path.display()
                    )));
                }
                continue;
            }
            HELD.with(|h| h.borrow_mut().push(path.clone()));
            return Ok(Acquired::Locked(KeyLock {
                file: Some(file),
                path,
                _not_send: std::marker::PhantomData,
            }));
        }
    }

    /// [`lock`](Self::lock) as a cache uses it for `lock = true`: the held lock, or `None`
    /// when this thread already holds it or it cannot be taken. A failure is recorded in
    /// `errors` (warned once per cache, shown in `stats().last_error`) and the caller
    /// computes without the lock: a cache never fails a call.
    ///
    /// ```
    /// use twat_cache_common::lockfile::KeyLocks;
    /// use twat_cache_common::stats::StoreErrors;
    /// let dir = tempfile::tempdir().unwrap();
    /// let errors = StoreErrors::default();
    /// let held = KeyLocks::new(dir.path()).claim(&[1; 16], &errors, "doc");
    /// assert!(held.is_some());
    /// let file = dir.path().join("a-file");
    /// std::fs::write(&file, b"").unwrap();
    /// assert!(KeyLocks::new(&file).claim(&[1; 16], &errors, "doc").is_none());
    /// let mut stats = twat_cache_common::CacheStats::new("doc", twat_cache_common::Backend::Files);
    /// errors.fill(&mut stats);
    /// assert!(stats.last_error.unwrap().contains("computing without it"));
    /// ```
    pub fn claim(
        &self,
        digest: &[u8; 16],
        errors: &crate::stats::StoreErrors,
        context: &str,
    ) -> Option<KeyLock> {
        match self.lock(digest) {
            Ok(Acquired::Locked(held)) => Some(held),
            Ok(Acquired::AlreadyHeld) => None,
            Err(e) => {
                errors.record(
                    crate::stats::Problem::Other,
                    context,
                    format_args!(
                        "cannot take the cross-process lock in {} ({e}); computing without it",
                        self.dir.display()
                    ),
                );
                None
            }
        }
    }

    /// Removes the lock files nobody holds (left by killed holders); returns how many.
    /// Files that are held are left alone, and nothing blocks.
    ///
    /// ```
    /// use twat_cache_common::lockfile::KeyLocks;
    /// let dir = tempfile::tempdir().unwrap();
    /// let locks = KeyLocks::new(dir.path());
    /// std::fs::create_dir(locks.dir()).unwrap();
    /// std::fs::write(locks.path_of(&[1; 16]), b"").unwrap(); // a killed holder's
    /// assert_eq!(locks.sweep(), if cfg!(unix) { 1 } else { 0 });
    /// ```
    pub fn sweep(&self) -> usize {
        let Ok(items) = fs::read_dir(&self.dir) else {
            return 0;
        };
        let mut removed = 0;
        for item in items.flatten() {
            let path = item.path();
            if path.extension().is_none_or(|e| e != "lock") {
                continue;
            }
            if HELD.with(|h| h.borrow().contains(&path)) {
                continue;
            }
            let Ok(file) = open_lock_file(&path) else {
                continue;
            };
            if file.try_lock().is_err() {
                continue; // held: somebody is computing
            }
            #[cfg(unix)]
            if still_named(&file, &path).unwrap_or(false) && fs::remove_file(&path).is_ok() {
                removed += 1;
            }
            drop(file);
        }
        removed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Barrier};
    use std::time::Duration;

    #[test]
    fn threads_with_their_own_handles_exclude_each_other() {
        let dir = tempfile::tempdir().unwrap();
        let locks = Arc::new(KeyLocks::new(dir.path()));
        let inside = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let go = Arc::new(Barrier::new(8));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (locks, inside, most, go) =
                    (locks.clone(), inside.clone(), most.clone(), go.clone());
                std::thread::spawn(move || {
                    go.wait();
                    for _ in 0..20 {
                        let g = locks.lock(&[3; 16]).unwrap();
                        assert!(matches!(g, Acquired::Locked(_)));
                        let n = inside.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(n, Ordering::SeqCst);
                        std::thread::sleep(Duration::from_micros(200));
                        inside.fetch_sub(1, Ordering::SeqCst);
                        drop(g);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(most.load(Ordering::SeqCst), 1, "never two holders at once");
        #[cfg(unix)]
        assert_eq!(
            fs::read_dir(locks.dir()).unwrap().count(),
            0,
            "no lock file left behind"
        );
    }

    #[test]
    fn an_unusable_folder_is_an_error_not_a_panic() {
        let file = tempfile::NamedTempFile::new().unwrap();
        let locks = KeyLocks::new(file.path()); // "folder" is a regular file
        assert!(locks.lock(&[0; 16]).is_err());
        assert_eq!(locks.sweep(), 0);
    }

    #[cfg(unix)]
    #[test]
    fn a_planted_symlink_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let locks = KeyLocks::new(dir.path());
        fs::create_dir(locks.dir()).unwrap();
        let victim = dir.path().join("victim");
        fs::write(&victim, b"keep").unwrap();
        std::os::unix::fs::symlink(&victim, locks.path_of(&[9; 16])).unwrap();
        assert!(locks.lock(&[9; 16]).is_err());
        assert_eq!(fs::read(&victim).unwrap(), b"keep");
    }
}
