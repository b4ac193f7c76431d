//! The manifest of a cache folder: one JSON schema for every kind of store, read and
//! written here and nowhere else.
//!
//! A folder may hold several kinds of cache at once (by default `#[bcache]` and
//! `#[fcache]` in one crate share the folder named after the crate), so each kind has its
//! own manifest file, named after the kind: `twat-cache.<kind>.json`, holding
//! `{"kind": "<kind>", "format_version": N, ...}`. The kind words are the one vocabulary
//! used by stats, the CLI and the docs: `lmdb`, `files`.
//!
//! Folders written before this schema have `twat-cache.json` (`{"kind": "bcache",
//! "format": 1}`) or `fcache.manifest.json` (`{"kind": "fcache", "format_version": 1}`):
//! [`read`] recognises them (as format 1 of their kind), and [`write`] replaces them.
//!
//! ```
//! use twat_cache_common::manifest::{self, Manifest};
//! use twat_cache_common::maintenance::CacheKind;
//! let dir = tempfile::tempdir().unwrap();
//! assert_eq!(manifest::read(dir.path(), CacheKind::Lmdb).unwrap(), None);
//! manifest::write(dir.path(), &Manifest::new(CacheKind::Lmdb, 2, "doc")).unwrap();
//! let m = manifest::read(dir.path(), CacheKind::Lmdb).unwrap().unwrap();
//! assert_eq!((m.kind, m.format_version), (CacheKind::Lmdb, 2));
//! assert!(dir.path().join("twat-cache.lmdb.json").is_file());
//! assert_eq!(manifest::kinds_in(dir.path()), vec![CacheKind::Lmdb]);
//! ```

use std::fs;
use std::io;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::maintenance::CacheKind;
use crate::paths::make_private_file;

/// What a manifest says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// The kind of cache (`lmdb`, `files`).
    pub kind: CacheKind,
    /// The folder layout version of that kind.
    pub format_version: u32,
    /// The entry record format ([`crate::entry::FORMAT_VERSION`]).
    #[serde(default)]
    pub entry_format_version: u32,
    /// Which crate and version wrote it (for people reading the file).
    #[serde(default)]
    pub written_by: String,
}

impl Manifest {
    /// A manifest of `kind` at `format_version`, written by `who`.
    ///
    /// ```
    /// use twat_cache_common::{manifest::Manifest, maintenance::CacheKind};
    /// let m = Manifest::new(CacheKind::Files, 1, "twat-fcache 0.1.0");
    /// assert_eq!(m.entry_format_version, twat_cache_common::entry::FORMAT_VERSION as u32);
    /// ```
    pub fn new(kind: CacheKind, format_version: u32, who: &str) -> Self {
        Manifest {
            kind,
            format_version,
            entry_format_version: u32::from(crate::entry::FORMAT_VERSION),
            written_by: who.to_owned(),
        }
    }
}

/// The manifest file of `kind`: `twat-cache.<kind>.json`.
///
/// ```
/// use twat_cache_common::{manifest, maintenance::CacheKind};
/// assert_eq!(manifest::file_name(CacheKind::Files), "twat-cache.files.json");
/// ```
pub fn file_name(kind: CacheKind) -> &'static str {
    match kind {
        CacheKind::Lmdb => "twat-cache.lmdb.json",
        CacheKind::Files => "twat-cache.files.json",
        CacheKind::Unknown => "twat-cache.unknown.json",
    }
}

/// The manifest file of `kind` before the shared schema, with the kind word it used.
///
/// ```
/// use twat_cache_common::{manifest, maintenance::CacheKind};
/// assert_eq!(manifest::legacy_file_name(CacheKind::Lmdb), Some(("twat-cache.json", "bcache")));
/// ```
pub fn legacy_file_name(kind: CacheKind) -> Option<(&'static str, &'static str)> {
    match kind {
        CacheKind::Lmdb => Some(("twat-cache.json", "bcache")),
        CacheKind::Files => Some(("fcache.manifest.json", "fcache")),
        CacheKind::Unknown => None,
    }
}

/// Whether `name` is a manifest file (current or legacy, of any kind), or the temporary
/// file of one being written.
///
/// ```
/// use twat_cache_common::manifest::is_manifest_file;
/// assert!(is_manifest_file("twat-cache.lmdb.json") && is_manifest_file("fcache.manifest.json"));
/// assert!(!is_manifest_file("data.mdb"));
/// ```
pub fn is_manifest_file(name: &str) -> bool {
    [CacheKind::Lmdb, CacheKind::Files].into_iter().any(|k| {
        let current = file_name(k);
        let legacy = legacy_file_name(k).map_or("", |l| l.0);
        name == current
            || name == legacy
            || name.starts_with(&format!(".{current}."))
            || (!legacy.is_empty() && name.starts_with(&format!(".{legacy}.")))
    })
}

/// Why a manifest file that exists cannot be used; the message names the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    /// It names another kind of cache: the folder is someone else's.
    #[error("{0}")]
    OtherKind(String),
    /// It cannot be read, or is not a manifest (damaged or foreign).
    #[error("{0}")]
    Damaged(String),
}

/// The manifest of `kind` in `folder`: `Ok(None)` when there is none; `Err` when the file
/// exists but is not a manifest of that kind. A legacy manifest reads as its kind at the
/// format it names.
pub fn read(folder: &Path, kind: CacheKind) -> Result<Option<Manifest>, ManifestError> {
    use ManifestError::{Damaged, OtherKind};
    let path = folder.join(file_name(kind));
    match fs::read(&path) {
        Ok(bytes) => {
            let m: Manifest = serde_json::from_slice(&bytes).map_err(|e| {
                Damaged(format!(
                    "its manifest {} does not parse: {e}",
                    path.display()
                ))
            })?;
            if m.kind != kind {
                return Err(OtherKind(format!(
                    "its manifest {} names a `{}` cache, not `{kind}`",
                    path.display(),
                    m.kind
                )));
            }
            return Ok(Some(m));
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(Damaged(format!("cannot read {}: {e}", path.display()))),
    }
    let Some((legacy, word)) = legacy_file_name(kind) else {
        return Ok(None);
    };
    let path = folder.join(legacy);
    let bytes = match fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Damaged(format!("cannot read {}: {e}", path.display()))),
    };
    let v: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| {
        Damaged(format!(
            "its manifest {} does not parse: {e}",
            path.display()
        ))
    })?;
    match v.get("kind").and_then(|k| k.as_str()) {
        Some(k) if k == word => {}
        Some(other) => {
            return Err(OtherKind(format!(
                "its manifest {} names a `{other}` cache, not `{kind}`",
                path.display()
            )));
        }
        None => {
            return Err(Damaged(format!(
                "its manifest {} names no kind",
                path.display()
            )));
        }
    }
    let version = v
        .get("format_version")
        .or_else(|| v.get("format"))
        .and_then(|v| v.as_u64())
        .ok_or_else(|| Damaged(format!("its manifest {} names no format", path.display())))?;
    Ok(Some(Manifest {
        kind,
        format_version: u32::try_from(version).unwrap_or(u32::MAX),
        entry_format_version: 1,
        written_by: String::new(),
    }))
}

/// Writes `m` as the manifest of its kind in `folder` (a temporary file renamed into
/// place, 0600), then removes that kind's legacy manifest if there is one.
pub fn write(folder: &Path, m: &Manifest) -> io::Result<()> {
    let name = file_name(m.kind);
    let text = serde_json::to_string_pretty(m).map_err(io::Error::other)?;
    // Unique per writer: threads of one process may write the same manifest at once.
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = folder.join(format!(".{name}.{}.{seq}", std::process::id()));
    fs::write(&tmp, text + "\n")?;
    make_private_file(&tmp)?;
    fs::rename(&tmp, folder.join(name))?;
    if let Some((legacy, _)) = legacy_file_name(m.kind) {
        match fs::remove_file(folder.join(legacy)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    Ok(())
}

/// The kinds of cache whose manifest (current or legacy) `folder` holds; the content is
/// not checked here (see [`read`]).
pub fn kinds_in(folder: &Path) -> Vec<CacheKind> {
    [CacheKind::Lmdb, CacheKind::Files]
        .into_iter()
        .filter(|&k| {
            folder.join(file_name(k)).is_file()
                || legacy_file_name(k).is_some_and(|(l, _)| folder.join(l).is_file())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_manifests_read_as_format_one_and_are_replaced() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(
            dir.path().join("twat-cache.json"),
            r#"{"kind":"bcache","format":1}"#,
        )
        .unwrap();
        fs::write(
            dir.path().join("fcache.manifest.json"),
            r#"{"kind":"fcache","format_version":1}"#,
        )
        .unwrap();
        assert_eq!(
            kinds_in(dir.path()),
            vec![CacheKind::Lmdb, CacheKind::Files]
        );
        let m = read(dir.path(), CacheKind::Lmdb).unwrap().unwrap();
        assert_eq!((m.kind, m.format_version), (CacheKind::Lmdb, 1));
        let m = read(dir.path(), CacheKind::Files).unwrap().unwrap();
        assert_eq!((m.kind, m.format_version), (CacheKind::Files, 1));
        write(dir.path(), &Manifest::new(CacheKind::Lmdb, 2, "t")).unwrap();
        assert!(!dir.path().join("twat-cache.json").exists());
        assert_eq!(
            read(dir.path(), CacheKind::Lmdb)
                .unwrap()
                .unwrap()
                .format_version,
            2
        );
    }

    #[test]
    fn another_kind_or_garbage_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("twat-cache.json"), r#"{"kind":"acache"}"#).unwrap();
        let e = read(dir.path(), CacheKind::Lmdb).unwrap_err();
        assert!(matches!(e, ManifestError::OtherKind(_)), "{e}");
        let e = e.to_string();
        assert!(e.contains("acache") && e.contains("twat-cache.json"), "{e}");
        fs::write(dir.path().join("twat-cache.files.json"), "garbage").unwrap();
        let e = read(dir.path(), CacheKind::Files).unwrap_err();
        assert!(matches!(e, ManifestError::Damaged(_)), "{e}");
        assert!(e.to_string().contains("does not parse"), "{e}");
        fs::write(
            dir.path().join("twat-cache.files.json"),
            r#"{"kind":"lmdb","format_version":1}"#,
        )
        .unwrap();
        assert!(read(dir.path(), CacheKind::Files).is_err());
    }
}
