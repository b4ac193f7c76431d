//! The cache folder: its manifest (one schema for every kind, `twat_cache_common::manifest`)
//! and the `namespace.json` that describes each namespace directory for the CLI.

use std::path::Path;

use twat_cache_common::Namespace;
use twat_cache_common::maintenance::CacheKind;
use twat_cache_common::manifest::{self, Manifest};

use crate::entry_file::write_atomic;

/// The manifest's file name, in the cache folder (see `twat_cache_common::manifest`).
pub const MANIFEST: &str = "twat-cache.files.json";
/// The namespace description's file name, in each namespace directory.
pub const NAMESPACE_FILE: &str = "namespace.json";
/// The on-disk layout version written to the manifest.
pub const LAYOUT_VERSION: u32 = 1;

pub(crate) fn write_namespace_file(dir: &Path, namespace: &Namespace) -> Result<(), String> {
    let ns_file = dir.join(NAMESPACE_FILE);
    let body = serde_json::json!({
        "kind": "files",
        "id": namespace.id(),
        "function": namespace.function_name(),
    });
    write_atomic(dir, &ns_file, format!("{body:#}\n").as_bytes())
        .map(|_| ())
        .map_err(|e| format!("cannot write {}: {e}", ns_file.display()))
}

/// Checks (or writes) the manifest: refuses a newer layout or another kind's manifest
/// under our name; adopts the `fcache.manifest.json` of older versions (same layout).
pub(crate) fn check_manifest(folder: &Path) -> Result<(), String> {
    match manifest::read(folder, CacheKind::Files) {
        Ok(Some(m)) if m.format_version > LAYOUT_VERSION => Err(format!(
            "{} says files format {}; this build reads {LAYOUT_VERSION}",
            folder.join(MANIFEST).display(),
            m.format_version
        )),
        Ok(Some(_)) if folder.join(MANIFEST).is_file() => Ok(()),
        // Missing, legacy, or damaged: (re)write it. The folder's entries say nothing
        // about their kind that a manifest could contradict.
        Ok(_) | Err(_) => write_manifest(folder),
    }
}

pub(crate) fn write_manifest(folder: &Path) -> Result<(), String> {
    let who = concat!("twat-fcache ", env!("CARGO_PKG_VERSION"));
    manifest::write(
        folder,
        &Manifest::new(CacheKind::Files, LAYOUT_VERSION, who),
    )
    .map_err(|e| format!("cannot write {}: {e}", folder.join(MANIFEST).display()))
}
