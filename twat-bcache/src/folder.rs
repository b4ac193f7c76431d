//! The cache folder of an LMDB cache: whether it is ours (its manifest, or only files an
//! LMDB or file cache would write), and wiping its LMDB files when they are ours and damaged.

use std::fs;
use std::io;
use std::path::Path;

use twat_cache_common::lockfile::LOCK_DIR;
use twat_cache_common::maintenance::CacheKind;
use twat_cache_common::manifest::{self, Manifest, ManifestError};
use twat_cache_common::paths::SALT_FILE;

use crate::layout::FORMAT_VERSION;

/// LMDB's data file.
pub(crate) const DATA_FILE: &str = "data.mdb";
/// LMDB's lock file.
pub(crate) const LOCK_FILE: &str = "lock.mdb";

/// Whether every file in `folder` is ours or a file cache's: by default `#[bcache]` and
/// `#[fcache]` in one crate share a folder (named after the crate), so a folder that a file
/// cache opened first must not be taken for someone else's.
pub(crate) fn only_our_files(folder: &Path) -> io::Result<bool> {
    for item in fs::read_dir(folder)? {
        let item = item?;
        let name = item.file_name();
        let name = name.to_string_lossy();
        let ours = name == DATA_FILE
            || name == LOCK_FILE
            || name == LOCK_DIR
            || manifest::is_manifest_file(&name)
            // The passphrase salt (feature `encrypt`) and its temporary files.
            || name == SALT_FILE
            || name.starts_with(".twat-cache.salt.");
        // twat-fcache's temporary files, and its namespace folders: 16 lowercase hex digits.
        let file_cache = name.starts_with(".tmp-")
            || (name.len() == 16
                && name.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
                && item.file_type().is_ok_and(|t| t.is_dir()));
        if !ours && !file_cache {
            return Ok(false);
        }
    }
    Ok(true)
}

pub(crate) fn write_manifest(folder: &Path) -> io::Result<()> {
    let who = concat!("twat-bcache ", env!("CARGO_PKG_VERSION"));
    manifest::write(folder, &Manifest::new(CacheKind::Lmdb, FORMAT_VERSION, who))
}

/// Removes the LMDB files (the folder is ours and its data is unusable).
pub(crate) fn wipe(folder: &Path) -> io::Result<()> {
    for f in [DATA_FILE, LOCK_FILE] {
        match fs::remove_file(folder.join(f)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    Ok(())
}

/// Checks (or writes) the manifest: refuses folders that belong to something else or to a
/// newer format. Format 1 (before the `recency` database and the shared manifest schema)
/// has the same entries and order: it is adopted in place, its manifest rewritten.
pub(crate) fn check_manifest(folder: &Path) -> Result<(), String> {
    let rewrite = || write_manifest(folder).map_err(|e| format!("cannot write the manifest: {e}"));
    match manifest::read(folder, CacheKind::Lmdb) {
        Ok(Some(m)) if m.format_version > FORMAT_VERSION => Err(format!(
            "the folder uses lmdb format {}, newer than this build's {FORMAT_VERSION}",
            m.format_version
        )),
        Ok(Some(m)) if m.format_version < FORMAT_VERSION => {
            log::info!(
                "twat-bcache: {} uses format {}; adopting it as format {FORMAT_VERSION}",
                folder.display(),
                m.format_version
            );
            rewrite()
        }
        Ok(Some(_)) => Ok(()),
        Ok(None) => match only_our_files(folder) {
            Ok(true) => rewrite(),
            Ok(false) => Err(
                "the folder holds files that are not an lmdb cache's and has no manifest".into(),
            ),
            Err(e) => Err(format!("cannot list the folder: {e}")),
        },
        // Damaged, in a folder holding only what a cache writes: ours, so rewrite it.
        Err(ManifestError::Damaged(_)) if only_our_files(folder).unwrap_or(false) => rewrite(),
        Err(why) => Err(why.to_string()),
    }
}
