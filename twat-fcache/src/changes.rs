//! Each namespace directory's change log: a small file to which every write, removal and
//! clear (by any process, and by the CLI's maintenance) appends one byte. Its length is a
//! counter every process can read with one `stat` and move with one `O_APPEND` write,
//! which the kernel makes atomic: how a cache with a memory tier (`l1`) learns that its
//! copies may be stale (`Store::generation`). A store counts its own appends, so only
//! other processes' changes (and maintenance) empty its tier. The file is emptied when it
//! passes [`LIMIT`]: every tier then sees one change, which costs hits, never correctness.

use std::fs;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};

/// The log's file name, in each namespace directory.
pub const CHANGES: &str = "changes";
/// Past this many bytes the log starts over.
const LIMIT: u64 = 1 << 16;

/// Appends one change to the log in `dir`. Failing is not an error (a read-only folder has
/// no writes to announce); it is logged at debug level.
pub(crate) fn note(dir: &Path) -> bool {
    let path = dir.join(CHANGES);
    let mut opts = fs::OpenOptions::new();
    opts.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let appended = opts.open(&path).and_then(|mut f| {
        f.write_all(b".")?;
        if f.metadata()?.len() > LIMIT {
            f.set_len(0)?;
        }
        Ok(())
    });
    if let Err(e) = &appended {
        log::debug!(
            "twat-fcache: cannot note a change in {}: {e}",
            path.display()
        );
    }
    appended.is_ok()
}

/// Appends one change to the log of every namespace directory of `folder` (maintenance:
/// every process's tier must notice).
pub(crate) fn note_all(folder: &Path) {
    let Ok(items) = fs::read_dir(folder) else {
        return;
    };
    for item in items.flatten() {
        if item.file_type().is_ok_and(|t| t.is_dir()) {
            note(&item.path());
        }
    }
}

/// One store's view of its directory's log: the changes it did not make itself.
#[derive(Debug, Default)]
#[cfg_attr(not(feature = "files"), allow(dead_code))]
pub(crate) struct ChangeLog {
    /// Appends made by this store, counted just before each one (taken back if it
    /// fails), so a reader in between sees a spurious change, never a hidden one.
    own: AtomicU64,
}

#[cfg_attr(not(feature = "files"), allow(dead_code))]
impl ChangeLog {
    /// Records a change this store made in `dir`.
    pub(crate) fn note_own(&self, dir: &Path) {
        self.own.fetch_add(1, SeqCst);
        if !note(dir) {
            self.own.fetch_sub(1, SeqCst);
        }
    }

    /// Moves whenever another process or maintenance changed `dir`.
    pub(crate) fn foreign_changes(&self, dir: &Path) -> u64 {
        let own = self.own.load(SeqCst);
        let len = fs::metadata(dir.join(CHANGES)).map_or(0, |m| m.len());
        len.wrapping_sub(own)
    }
}
