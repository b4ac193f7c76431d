//! The folder's change stamp: a small file whose modification time every write, removal
//! and clear (by any process, and by the CLI) sets to now. A cache with a memory tier
//! (`l1`) reads it at most ten times a second to learn that its copies may be stale
//! (`Store::generation`). One `open` and one `futimens` per change: next to a write of an
//! entry file (create, write, rename) it costs little, and reading it is one `stat`.

use std::fs;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

/// The stamp's file name, in the cache folder.
pub const CHANGES: &str = "twat-cache.changes";

/// Records that entries in `folder` changed. Failing is not an error (a read-only folder
/// has no writes to announce); it is logged at debug level.
pub(crate) fn note(folder: &Path) {
    let path = folder.join(CHANGES);
    let mut opts = fs::OpenOptions::new();
    opts.create(true).write(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    if let Err(e) = opts
        .open(&path)
        .and_then(|f| f.set_modified(SystemTime::now()))
    {
        log::debug!("twat-fcache: cannot stamp {}: {e}", path.display());
    }
}

/// The stamp of `folder`: nanoseconds of its last change, 0 when there is none (a fresh or
/// wiped folder).
#[cfg_attr(not(feature = "files"), allow(dead_code))]
pub(crate) fn read(folder: &Path) -> u64 {
    fs::metadata(folder.join(CHANGES))
        .and_then(|m| m.modified())
        .map_or(0, |t| {
            t.duration_since(UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        })
}
