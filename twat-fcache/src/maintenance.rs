//! Maintenance of file cache folders, for tools such as the `twat-cache` command: a
//! [`summary`], [`clear`] (everything, or one function's entries), [`prune`] and
//! [`verify`].
//!
//! Every function takes the cache folder (`<root>/<folder_name>`), checks its manifest
//! (`twat-cache.files.json` naming kind `files`, or the `fcache.manifest.json` of older
//! versions) before touching anything, and refuses
//! folders without one ([`MaintenanceError::NotACache`]; a missing folder is
//! [`MaintenanceError::NotFound`]). Only the cache's own files are ever removed: entry
//! files (32 hex digits, in a 2-hex-digit fan-out directory of a 16-hex-digit namespace
//! directory) and temporary files (`.tmp-*`); directories, `namespace.json` files and
//! anything else stay.
//!
//! They are safe while other processes use the cache: entries are removed with one
//! `remove_file`, as the cache itself removes them, and every process tolerates an entry
//! vanishing (it is a miss). A writer renames a complete file into place, so nothing half
//! written is ever judged; a temporary file is removed only once it is ten minutes old
//! ([`TEMP_MIN_AGE`](twat_cache_common::maintenance::TEMP_MIN_AGE)), when no write can
//! still be in flight. An entry rewritten by another process in the instant between being
//! judged and being removed may be removed: that costs one recomputation, never a wrong
//! value. Processes that have the cache open learn about removals on their next read.
//!
//! Without the `files` feature the functions check that the folder exists and has a
//! manifest, then fail with [`MaintenanceError::FeatureDisabled`].
//!
//! What [`prune`] removes:
//! - **expired**: entries whose expiry time has passed (whatever ttl the cache has now);
//! - **orphaned**: entries of a namespace directory whose `namespace.json` is gone (no
//!   process creates entries without it, and no tool can tell whose they are), and entry
//!   files in the wrong fan-out directory (no lookup can find them);
//! - **temp files**: `.tmp-*` files of interrupted writes, ten minutes old or more.
//!
//! Damaged entries are [`verify`]'s business.
//!
//! ```
//! # #[cfg(feature = "files")] {
//! use twat_fcache::{FileCache, maintenance};
//! let root = tempfile::tempdir().unwrap();
//! let cache = FileCache::<u32, String>::builder()
//!     .cache_dir(root.path()).folder_name("doc").name("pages").build().unwrap();
//! cache.insert(1, "one".into());
//! cache.insert(2, "two".into());
//! let folder = root.path().join("doc");
//! let summary = maintenance::summary(&folder).unwrap();
//! assert_eq!(summary.entries, 2);
//! assert_eq!(summary.functions[0].function, "pages");
//! assert_eq!(maintenance::verify(&folder).unwrap().ok, 2);
//! assert_eq!(maintenance::prune(&folder).unwrap().removed(), 0);
//! assert_eq!(maintenance::clear(&folder, Some("pages")).unwrap().removed, 2);
//! assert_eq!(cache.get(&1), None);
//! # }
//! let root = tempfile::tempdir().unwrap();
//! assert!(twat_fcache::maintenance::summary(root.path()).unwrap_err().is_not_a_cache());
//! ```

use std::path::Path;

use twat_cache_common::maintenance::{CacheKind, check_dir};
pub use twat_cache_common::maintenance::{
    ClearReport, FolderSummary, FunctionSummary, MaintenanceError, PruneReport, VerifyReport,
};

/// The manifest's file name inside a file cache folder (see
/// `twat_cache_common::manifest`).
pub const MANIFEST: &str = "twat-cache.files.json";
/// The `kind` the manifest names.
pub const KIND: &str = "files";

fn not_ours(folder: &Path, reason: String) -> MaintenanceError {
    MaintenanceError::NotACache {
        path: folder.to_path_buf(),
        kind: CacheKind::Files,
        reason,
    }
}

/// Checks that `folder` holds a file cache manifest this build reads; returns its layout
/// version.
fn check_manifest(folder: &Path) -> Result<u32, MaintenanceError> {
    check_dir(folder, CacheKind::Files)?;
    let m = match twat_cache_common::manifest::read(folder, CacheKind::Files) {
        Ok(Some(m)) => m,
        Ok(None) => return Err(not_ours(folder, format!("it has no manifest `{MANIFEST}`"))),
        Err(why) => return Err(not_ours(folder, why.to_string())),
    };
    imp::check_version(folder, m.format_version)
}

/// Whether `folder` holds a file cache this build reads (its manifest names kind
/// `fcache` and a layout no newer than this build's). Reads the manifest only. Without
/// the `files` feature it only checks that the manifest exists.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// assert!(!twat_fcache::maintenance::is_cache(dir.path()));
/// ```
pub fn is_cache(folder: &Path) -> bool {
    match check_manifest(folder) {
        Ok(_) => true,
        Err(e) => matches!(e, MaintenanceError::FeatureDisabled { .. }),
    }
}

/// What the folder holds: one [`FunctionSummary`] per namespace directory, with entry
/// counts, bytes (file sizes) and the oldest and newest entry's creation time (read from
/// each entry's header).
///
/// ```
/// # #[cfg(feature = "files")] {
/// use twat_fcache::{FileCache, maintenance};
/// let root = tempfile::tempdir().unwrap();
/// let build = |name: &str| FileCache::<u32, u32>::builder().cache_dir(root.path()).folder_name("doc").name(name).build().unwrap();
/// let (b, a) = (build("b"), build("a"));
/// a.insert(1, 10);
/// a.insert(2, 20);
/// b.insert(1, 10);
/// let s = maintenance::summary(&root.path().join("doc")).unwrap();
/// assert_eq!((s.kind.as_str(), s.entries, s.functions.len()), ("files", 3, 2));
/// assert_eq!((s.functions[0].function.as_str(), s.functions[0].entries), ("a", 2));
/// assert!(s.oldest_ms.is_some() && s.oldest_ms <= s.newest_ms);
/// # }
/// ```
pub fn summary(folder: &Path) -> Result<FolderSummary, MaintenanceError> {
    let format = check_manifest(folder)?;
    imp::summary(folder, format)
}

/// Removes every entry file of the folder (`function: None`), or those of every namespace
/// whose function name (a builder cache's `name`) is `function`. Namespace directories
/// and their `namespace.json` stay (processes may be serving them). A function name that
/// matches nothing removes nothing (`namespaces == 0`).
///
/// ```
/// # #[cfg(feature = "files")] {
/// use twat_fcache::{FileCache, maintenance};
/// let root = tempfile::tempdir().unwrap();
/// let build = |name: &str| FileCache::<u32, u32>::builder().cache_dir(root.path()).folder_name("doc").name(name).build().unwrap();
/// let (a, b) = (build("a"), build("b"));
/// a.insert(1, 10);
/// b.insert(1, 10);
/// let folder = root.path().join("doc");
/// assert_eq!(maintenance::clear(&folder, Some("nobody")).unwrap().namespaces, 0);
/// let r = maintenance::clear(&folder, Some("a")).unwrap();
/// assert_eq!((r.namespaces, r.removed), (1, 1));
/// assert_eq!((a.get(&1), b.get(&1)), (None, Some(10)));
/// assert_eq!(maintenance::clear(&folder, None).unwrap().removed, 1); // everything left
/// assert_eq!(b.get(&1), None);
/// # }
/// ```
pub fn clear(folder: &Path, function: Option<&str>) -> Result<ClearReport, MaintenanceError> {
    check_manifest(folder)?;
    let r = imp::clear(folder, function)?;
    crate::changes::note_all(folder);
    Ok(r)
}

/// Removes expired entries, orphaned entries and stale temporary files: see the
/// [module docs](self).
///
/// ```
/// # #[cfg(feature = "files")] {
/// use std::time::{Duration, SystemTime};
/// use twat_fcache::{FileCache, maintenance};
/// let root = tempfile::tempdir().unwrap();
/// let cache = FileCache::<u32, u32>::builder().cache_dir(root.path()).folder_name("doc").build().unwrap();
/// cache.insert(1, 10);
/// let folder = root.path().join("doc");
/// // A write interrupted an hour ago, and one in flight now.
/// let old = folder.join(".tmp-interrupted");
/// std::fs::write(&old, b"partial").unwrap();
/// std::fs::File::options().write(true).open(&old).unwrap()
///     .set_modified(SystemTime::now() - Duration::from_secs(3600)).unwrap();
/// std::fs::write(folder.join(".tmp-inflight"), b"partial").unwrap();
/// let r = maintenance::prune(&folder).unwrap();
/// assert_eq!((r.temp_files, r.expired, r.orphaned, r.bytes_freed), (1, 0, 0, 7));
/// assert!(!old.exists() && folder.join(".tmp-inflight").exists());
/// assert_eq!(cache.get(&1), Some(10)); // live entries are kept
/// # }
/// ```
pub fn prune(folder: &Path) -> Result<PruneReport, MaintenanceError> {
    check_manifest(folder)?;
    let r = imp::prune(folder)?;
    crate::changes::note_all(folder);
    Ok(r)
}

/// Reads every entry file and checks it: header and length fields, checksum, that its
/// stored key hashes to the file's name and belongs to the namespace of its directory,
/// and that a compressed payload decompresses. Removes the damaged ones. Payloads are not
/// deserialized: their type is known only to the program that stored them.
///
/// ```
/// # #[cfg(feature = "files")] {
/// use twat_fcache::{FileCache, Inner, maintenance};
/// let root = tempfile::tempdir().unwrap();
/// let cache = FileCache::<u32, String>::builder().cache_dir(root.path()).folder_name("doc").build().unwrap();
/// cache.insert(1, "one".into());
/// cache.insert(2, "two".into());
/// // Damage the entry of key 1: flip a bit of its checksum.
/// let Inner::Store(store) = cache.inner() else { unreachable!() };
/// let path = store.entry_path(&cache.stored_key(&1).unwrap());
/// let mut bytes = std::fs::read(&path).unwrap();
/// *bytes.last_mut().unwrap() ^= 1;
/// std::fs::write(&path, bytes).unwrap();
/// let r = maintenance::verify(&root.path().join("doc")).unwrap();
/// assert_eq!((r.checked, r.ok, r.removed), (2, 1, 1));
/// assert_eq!(r.damaged[0].reason, "checksum mismatch");
/// assert!(!path.exists());
/// # }
/// ```
pub fn verify(folder: &Path) -> Result<VerifyReport, MaintenanceError> {
    check_manifest(folder)?;
    let r = imp::verify(folder)?;
    if r.removed > 0 {
        crate::changes::note_all(folder);
    }
    Ok(r)
}

#[cfg(not(feature = "files"))]
mod imp {
    use super::*;

    twat_cache_common::maintenance_disabled!(CacheKind::Files, "files");

    pub(super) fn check_version(folder: &Path, _: u32) -> Result<u32, MaintenanceError> {
        Err(disabled(folder))
    }
}

#[cfg(feature = "files")]
mod imp {
    use std::fs::{self, File};
    use std::io::{self, Read};
    use std::path::PathBuf;
    use std::time::SystemTime;

    use twat_cache_common::Namespace;
    use twat_cache_common::clock::unix_millis;
    use twat_cache_common::entry::{self, Entry, flags};
    use twat_cache_common::key::digest;
    use twat_cache_common::maintenance::{
        disk_usage, is_stale_temp, namespace_from_id, namespace_of_key,
    };

    use super::*;
    use crate::compress::{self, MAX_PAYLOAD};
    use crate::store::{LAYOUT_VERSION, NAMESPACE_FILE, TMP_PREFIX};

    /// Files larger than this cannot be entries this crate wrote.
    const MAX_FILE: u64 = (MAX_PAYLOAD + (1 << 20)) as u64;

    pub(super) fn check_version(folder: &Path, version: u32) -> Result<u32, MaintenanceError> {
        if version > LAYOUT_VERSION {
            return Err(MaintenanceError::Unsupported {
                path: folder.to_path_buf(),
                reason: format!(
                    "file cache layout {version} is newer than this build's {LAYOUT_VERSION}"
                ),
            });
        }
        Ok(version)
    }

    /// One namespace directory.
    struct NsDir {
        dir: PathBuf,
        /// Its name: 16 hex digits.
        hex: String,
        /// From its `namespace.json`, when that exists, parses and matches the name.
        namespace: Option<Namespace>,
        /// Whether its `namespace.json` exists at all (a damaged one does not make the
        /// entries orphans: a process may be serving them).
        described: bool,
    }

    /// One entry file (named by a digest) of a namespace directory.
    struct EntryFile {
        path: PathBuf,
        name: String,
        /// Whether it sits in the fan-out directory its name says.
        right_fan: bool,
        size: u64,
    }

    fn is_hex(s: &str, len: usize) -> bool {
        s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit())
    }

    fn read_namespace_file(dir: &Path, hex: &str) -> Option<Namespace> {
        #[derive(serde::Deserialize)]
        struct File {
            id: String,
        }
        let bytes = fs::read(dir.join(NAMESPACE_FILE)).ok()?;
        let f: File = serde_json::from_slice(&bytes).ok()?;
        let ns: Namespace =
            serde_json::from_slice(&bytes).unwrap_or_else(|_| namespace_from_id(&f.id));
        (ns.hex() == hex).then_some(ns)
    }

    /// The namespace directories of `folder`, sorted by name.
    fn namespace_dirs(folder: &Path) -> Result<Vec<NsDir>, MaintenanceError> {
        let items =
            fs::read_dir(folder).map_err(|e| MaintenanceError::io("cannot list", folder, e))?;
        let mut out = Vec::new();
        for item in items.flatten() {
            let Ok(name) = item.file_name().into_string() else {
                continue;
            };
            if !is_hex(&name, 16) || !item.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            let dir = item.path();
            out.push(NsDir {
                namespace: read_namespace_file(&dir, &name),
                described: dir.join(NAMESPACE_FILE).exists(),
                dir,
                hex: name,
            });
        }
        out.sort_by(|a, b| a.hex.cmp(&b.hex));
        Ok(out)
    }

    /// The entry files of a namespace directory.
    fn entry_files(ns: &NsDir) -> Vec<EntryFile> {
        let mut out = Vec::new();
        let Ok(fans) = fs::read_dir(&ns.dir) else {
            return out;
        };
        for fan in fans.flatten() {
            let Ok(fan_name) = fan.file_name().into_string() else {
                continue;
            };
            if !is_hex(&fan_name, 2) || !fan.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            let Ok(files) = fs::read_dir(fan.path()) else {
                continue;
            };
            for f in files.flatten() {
                let Ok(name) = f.file_name().into_string() else {
                    continue;
                };
                if !is_hex(&name, 32) {
                    continue;
                }
                let Ok(md) = f.metadata() else { continue };
                if !md.is_file() {
                    continue;
                }
                out.push(EntryFile {
                    path: f.path(),
                    right_fan: name[..2] == fan_name,
                    name,
                    size: md.len(),
                });
            }
        }
        out
    }

    /// Every `.tmp-*` file: at the folder's top, in namespace directories, in fan-out
    /// directories.
    fn temp_files(folder: &Path, namespaces: &[NsDir]) -> Vec<(PathBuf, fs::Metadata)> {
        let mut dirs = vec![folder.to_path_buf()];
        for ns in namespaces {
            dirs.push(ns.dir.clone());
            if let Ok(fans) = fs::read_dir(&ns.dir) {
                dirs.extend(
                    fans.flatten()
                        .filter(|f| f.file_type().is_ok_and(|t| t.is_dir()))
                        .map(|f| f.path()),
                );
            }
        }
        let mut out = Vec::new();
        for dir in dirs {
            let Ok(items) = fs::read_dir(&dir) else {
                continue;
            };
            for item in items.flatten() {
                let is_temp = item
                    .file_name()
                    .to_str()
                    .is_some_and(|n| n.starts_with(TMP_PREFIX));
                if let (true, Ok(md)) = (is_temp, item.metadata())
                    && md.is_file()
                {
                    out.push((item.path(), md));
                }
            }
        }
        out
    }

    /// Created and expires (Unix ms) from an entry file's header.
    fn read_times(path: &Path) -> io::Result<(u64, u64)> {
        let mut head = [0u8; 20];
        File::open(path)?.read_exact(&mut head)?;
        if head[..2] != *b"TW" || head[2] != entry::FORMAT_VERSION {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "not an entry"));
        }
        let at = |o: usize| u64::from_le_bytes(head[o..o + 8].try_into().expect("8 bytes"));
        Ok((at(4), at(12)))
    }

    /// The namespace of a directory without `namespace.json`, read back from one of its
    /// entries' keys, or a placeholder naming the directory.
    fn guess_namespace(ns: &NsDir, files: &[EntryFile]) -> Namespace {
        files
            .iter()
            .filter(|f| f.size <= 1 << 20)
            .take(8)
            .find_map(|f| {
                let bytes = fs::read(&f.path).ok()?;
                let e = Entry::decode(&bytes).ok()?;
                namespace_of_key(e.key).filter(|n| n.hex() == ns.hex)
            })
            .unwrap_or_else(|| Namespace::named(&format!("(unknown namespace {})", ns.hex)))
    }

    fn remove(path: &Path) -> Result<bool, MaintenanceError> {
        match fs::remove_file(path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(MaintenanceError::io("cannot remove", path, e)),
        }
    }

    pub(super) fn summary(folder: &Path, format: u32) -> Result<FolderSummary, MaintenanceError> {
        let now = unix_millis();
        let mut functions = Vec::new();
        let namespaces = namespace_dirs(folder)?;
        // This cache's own files only (a folder may also hold an LMDB cache's).
        let disk_bytes = fs::metadata(folder.join(MANIFEST)).map_or(0, |m| m.len())
            + namespaces.iter().map(|ns| disk_usage(&ns.dir)).sum::<u64>()
            + temp_files(folder, &[])
                .iter()
                .map(|(_, m)| m.len())
                .sum::<u64>();
        for ns in namespaces {
            let files = entry_files(&ns);
            let namespace = match &ns.namespace {
                Some(n) => n.clone(),
                None => guess_namespace(&ns, &files),
            };
            let mut f = FunctionSummary::empty(&namespace);
            for file in &files {
                match read_times(&file.path) {
                    Ok((created, expires)) => {
                        f.add_entry(file.size, created, expires != 0 && expires <= now)
                    }
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(_) => f.add_undated(file.size),
                }
            }
            functions.push(f);
        }
        Ok(FolderSummary::new(
            folder.to_path_buf(),
            CacheKind::Files,
            Some(format),
            functions,
            disk_bytes,
        ))
    }

    pub(super) fn clear(
        folder: &Path,
        function: Option<&str>,
    ) -> Result<ClearReport, MaintenanceError> {
        let mut report = ClearReport::new(folder, function);
        for ns in namespace_dirs(folder)? {
            let files = entry_files(&ns);
            if let Some(name) = function {
                let namespace = match &ns.namespace {
                    Some(n) => n.clone(),
                    None => guess_namespace(&ns, &files),
                };
                if namespace.function_name() != name {
                    continue;
                }
            }
            report.namespaces += 1;
            for f in files {
                if remove(&f.path)? {
                    report.removed += 1;
                    report.bytes += f.size;
                }
            }
        }
        Ok(report)
    }

    pub(super) fn prune(folder: &Path) -> Result<PruneReport, MaintenanceError> {
        let mut report = PruneReport {
            path: folder.to_path_buf(),
            ..Default::default()
        };
        let namespaces = namespace_dirs(folder)?;
        for ns in &namespaces {
            for f in entry_files(ns) {
                let orphan = !ns.described || !f.right_fan;
                let expired = !orphan
                    && read_times(&f.path).is_ok_and(|(_, exp)| exp != 0 && exp <= unix_millis());
                if (orphan || expired) && remove(&f.path)? {
                    report.bytes_freed += f.size;
                    if orphan {
                        report.orphaned += 1;
                    } else {
                        report.expired += 1;
                    }
                }
            }
        }
        let now = SystemTime::now();
        for (path, md) in temp_files(folder, &namespaces) {
            if is_stale_temp(md.modified().ok(), now) && remove(&path)? {
                report.temp_files += 1;
                report.bytes_freed += md.len();
            }
        }
        Ok(report)
    }

    /// Why the entry file is damaged, or `None` if it is sound.
    fn damage(ns: &NsDir, f: &EntryFile, bytes: &[u8]) -> Option<String> {
        let e = match Entry::decode(bytes) {
            Ok(e) => e,
            Err(e) => return Some(e.to_string()),
        };
        let d = digest(e.key);
        if format!("{:032x}", u128::from_be_bytes(d)) != f.name.to_ascii_lowercase() {
            return Some("its stored key does not hash to the file's name".into());
        }
        let ours = match &ns.namespace {
            Some(n) => {
                let id = n.id().as_bytes();
                e.key.len() > id.len() && e.key.starts_with(id) && e.key[id.len()] == 0
            }
            None => namespace_of_key(e.key).is_some_and(|n| n.hex() == ns.hex),
        };
        if !ours {
            return Some("its stored key belongs to another namespace".into());
        }
        if e.flags & flags::COMPRESSED != 0
            && e.flags & flags::ENCRYPTED == 0
            && let Err(why) = compress::decompress(e.payload)
        {
            return Some(format!("compressed payload: {why}"));
        }
        None
    }

    pub(super) fn verify(folder: &Path) -> Result<VerifyReport, MaintenanceError> {
        let mut report = VerifyReport::new(folder.to_path_buf());
        for ns in namespace_dirs(folder)? {
            for f in entry_files(&ns) {
                // (why, digest of the bytes judged; None for a file too large to read)
                let judged = if f.size > MAX_FILE {
                    Some((format!("{} bytes is larger than any entry", f.size), None))
                } else {
                    match fs::read(&f.path) {
                        Ok(bytes) => damage(&ns, &f, &bytes).map(|why| (why, Some(digest(&bytes)))),
                        Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                        Err(e) => return Err(MaintenanceError::io("cannot read", &f.path, e)),
                    }
                };
                report.checked += 1;
                let Some((why, sum)) = judged else {
                    report.ok += 1;
                    continue;
                };
                let location = f.path.display().to_string();
                // Remove only what was judged: a file renamed into place since is a fresh
                // entry, and is kept.
                let now = match sum {
                    None => fs::metadata(&f.path).map(|m| m.len() > MAX_FILE),
                    Some(sum) => fs::read(&f.path).map(|b| digest(&b) == sum),
                };
                match now {
                    Ok(true) => {
                        remove(&f.path)?;
                        report.record(location, why, true);
                    }
                    Ok(false) => report.record(
                        location,
                        format!("{why} (since replaced by a new entry, which was kept)"),
                        false,
                    ),
                    // Gone meanwhile (a reader removes damaged entries too).
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {
                        report.record(location, why, true)
                    }
                    Err(e) => return Err(MaintenanceError::io("cannot read", &f.path, e)),
                }
            }
        }
        Ok(report)
    }
}

#[cfg(all(test, feature = "files"))]
mod tests {
    #[test]
    fn names_match_the_store() {
        assert_eq!(super::MANIFEST, crate::store::MANIFEST);
    }
}
