//! Where caches live on disk: the root folder, validated folder names, private directories.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::ConfigError;
use crate::env::DIR_VAR;

/// The longest folder name accepted, in bytes (a common file-name limit).
pub const MAX_FOLDER_NAME: usize = 255;

/// The file in a cache folder that holds the random salt a passphrase is stretched with
/// (feature `encrypt`; see `cipher`). Created 0600 the first time a cache with a
/// passphrase opens the folder; deleting it makes every entry encrypted under the old salt
/// a miss. Temporary files while it is written start with `.twat-cache.salt.`.
///
/// ```
/// assert_eq!(twat_cache_common::paths::SALT_FILE, "twat-cache.salt");
/// ```
pub const SALT_FILE: &str = "twat-cache.salt";

/// The cache root: `$TWAT_CACHE_DIR` if set (and not empty), else the platform cache
/// directory + `twat_cache` (`~/.cache/twat_cache` on Linux). Nothing is created.
///
/// ```
/// let root = twat_cache_common::cache_root().unwrap();
/// assert!(root.is_absolute() || std::env::var_os("TWAT_CACHE_DIR").is_some());
/// ```
pub fn cache_root() -> Result<PathBuf, ConfigError> {
    match std::env::var_os(DIR_VAR) {
        Some(dir) if !dir.is_empty() => Ok(PathBuf::from(dir)),
        _ => dirs::cache_dir()
            .map(|d| d.join("twat_cache"))
            .ok_or(ConfigError::NoCacheRoot),
    }
}

/// Checks that `name` is one plain path component: not empty, at most 255 bytes, no path
/// separator, not `.` or `..`, no NUL.
///
/// ```
/// use twat_cache_common::paths::validate_folder_name;
/// assert!(validate_folder_name("geo").is_ok());
/// for bad in ["", "..", "a/b", "a\\b", "nul\0"] {
///     assert!(validate_folder_name(bad).is_err(), "{bad:?}");
/// }
/// ```
pub fn validate_folder_name(name: &str) -> Result<(), ConfigError> {
    let refuse = |reason| {
        Err(ConfigError::FolderName {
            name: name.to_owned(),
            reason,
        })
    };
    if name.is_empty() {
        return refuse("it is empty");
    }
    if name.len() > MAX_FOLDER_NAME {
        return refuse("it is longer than 255 bytes");
    }
    if name == "." || name == ".." {
        return refuse("`.` and `..` are not folders of their own");
    }
    if name.contains(['/', '\\']) {
        return refuse("it contains a path separator; give one folder name, or use `cache_dir`");
    }
    if name.contains('\0') {
        return refuse("it contains a NUL byte");
    }
    Ok(())
}

/// `root/folder_name`, after validating the name and creating the folder (and the root, if
/// missing) with mode 0700 on Unix.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// unsafe { std::env::set_var("TWAT_CACHE_DIR", dir.path()) };
/// let p = twat_cache_common::get_cache_path("geo").unwrap();
/// assert_eq!(p, dir.path().join("geo"));
/// assert!(p.is_dir());
/// assert!(twat_cache_common::get_cache_path("../escape").is_err());
/// ```
pub fn get_cache_path(folder_name: &str) -> Result<PathBuf, ConfigError> {
    validate_folder_name(folder_name)?;
    let path = cache_root()?.join(folder_name);
    create_private_dir(&path).map_err(|source| folder_error(&path, source))?;
    Ok(path)
}

/// The [`ConfigError`] for a folder that [`create_private_dir`] refused: the
/// [`ConfigError::UnsafeFolder`] it carries, else [`ConfigError::Folder`].
///
/// ```
/// use twat_cache_common::{ConfigError, paths::{create_private_dir, folder_error}};
/// let dir = tempfile::tempdir().unwrap();
/// let file = dir.path().join("a-file");
/// std::fs::write(&file, b"").unwrap();
/// let err = folder_error(&file, create_private_dir(&file).unwrap_err());
/// assert!(matches!(err, ConfigError::Folder { .. }));
/// assert_eq!(err.field(), "folder_name");
/// ```
pub fn folder_error(path: &Path, source: io::Error) -> ConfigError {
    if let Some(ConfigError::UnsafeFolder { path, reason }) = source
        .get_ref()
        .and_then(|e| e.downcast_ref::<ConfigError>())
    {
        return ConfigError::UnsafeFolder {
            path: path.clone(),
            reason: reason.clone(),
        };
    }
    ConfigError::Folder {
        path: path.to_path_buf(),
        source,
    }
}

/// Refuses a cache folder that is not safe to use, without following links:
///
/// - a **symbolic link** (even one to a directory): a link planted where a cache folder
///   will be would redirect the cache's writes (and its wipes of damaged data) elsewhere;
/// - on Unix, a folder **owned by another user** (`st_uid` ≠ the effective uid): its
///   owner could read or swap the entries, and making it 0700 would change someone
///   else's folder.
///
/// A path that does not exist (yet) passes. Only `path` itself is checked, not its
/// parents: the cache root (`$TWAT_CACHE_DIR`, `~/.cache/twat_cache`) may be a symlink,
/// e.g. `~/.cache` moved to another disk, and that is the user's choice to make.
///
/// ```
/// use twat_cache_common::paths::check_folder_is_safe;
/// let dir = tempfile::tempdir().unwrap();
/// assert!(check_folder_is_safe(dir.path()).is_ok());
/// assert!(check_folder_is_safe(&dir.path().join("not yet")).is_ok());
/// #[cfg(unix)]
/// {
///     let link = dir.path().join("link");
///     std::os::unix::fs::symlink(dir.path(), &link).unwrap();
///     let err = check_folder_is_safe(&link).unwrap_err();
///     assert!(err.to_string().contains("symbolic link"), "{err}");
///     assert!(err.to_string().contains("link"));
/// }
/// ```
pub fn check_folder_is_safe(path: &Path) -> Result<(), ConfigError> {
    let meta = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(_) => return Ok(()), // missing (or unreadable): creating or using it will say
    };
    let refuse = |reason: String| {
        Err(ConfigError::UnsafeFolder {
            path: path.to_path_buf(),
            reason,
        })
    };
    if meta.file_type().is_symlink() {
        let target = fs::read_link(path)
            .map(|t| format!(" (to {})", t.display()))
            .unwrap_or_default();
        return refuse(format!(
            "it is a symbolic link{target}; a cache folder must be a real directory \
             (only the cache root may be a link)"
        ));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let me = effective_uid();
        if meta.uid() != me {
            return refuse(format!(
                "it is owned by uid {}, not by this process's user (uid {me})",
                meta.uid()
            ));
        }
    }
    Ok(())
}

/// The effective user id of this process (Unix).
///
/// ```
/// use std::os::unix::fs::MetadataExt;
/// let dir = tempfile::tempdir().unwrap(); // created by this process, so owned by its user
/// assert_eq!(std::fs::metadata(dir.path()).unwrap().uid(), twat_cache_common::paths::effective_uid());
/// ```
#[cfg(unix)]
pub fn effective_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

fn refused(path: &Path) -> io::Result<()> {
    check_folder_is_safe(path).map_err(|e| io::Error::new(io::ErrorKind::PermissionDenied, e))
}

/// Creates `path` and any missing parents; every directory created, and `path` itself, ends
/// up with mode 0700 on Unix whatever the umask. Existing parents are left as they are.
///
/// `path` itself must pass [`check_folder_is_safe`] (not a symlink, not another user's):
/// otherwise the error is `PermissionDenied` carrying a [`ConfigError::UnsafeFolder`]
/// (see [`folder_error`]), and nothing is changed.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let p = dir.path().join("a/b");
/// twat_cache_common::paths::create_private_dir(&p).unwrap();
/// #[cfg(unix)]
/// {
///     use std::os::unix::fs::PermissionsExt;
///     assert_eq!(std::fs::metadata(&p).unwrap().permissions().mode() & 0o777, 0o700);
/// }
/// ```
pub fn create_private_dir(path: &Path) -> io::Result<()> {
    refused(path)?;
    let mut missing = Vec::new();
    let mut cur = Some(path);
    while let Some(p) = cur {
        if p.as_os_str().is_empty() || p.exists() {
            break;
        }
        missing.push(p.to_path_buf());
        cur = p.parent();
    }
    fs::create_dir_all(path)?;
    refused(path)?;
    if !fs::metadata(path)?.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{} exists and is not a directory", path.display()),
        ));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for p in missing.iter().chain(std::iter::once(&path.to_path_buf())) {
            let mode = fs::metadata(p)?.permissions().mode() & 0o777;
            if mode != 0o700 {
                fs::set_permissions(p, fs::Permissions::from_mode(0o700))?;
            }
        }
    }
    Ok(())
}

/// Sets a file's mode to 0600 on Unix (a no-op elsewhere).
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let file = dir.path().join("entry");
/// std::fs::write(&file, b"x").unwrap();
/// twat_cache_common::paths::make_private_file(&file).unwrap();
/// #[cfg(unix)]
/// {
///     use std::os::unix::fs::PermissionsExt;
///     assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
/// }
/// ```
pub fn make_private_file(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(0o600))?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn a_symlinked_folder_is_refused_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let elsewhere = dir.path().join("elsewhere");
        fs::create_dir(&elsewhere).unwrap();
        let link = dir.path().join("cache");
        std::os::unix::fs::symlink(&elsewhere, &link).unwrap();
        let err = create_private_dir(&link).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::PermissionDenied);
        let err = folder_error(&link, err);
        assert!(matches!(err, ConfigError::UnsafeFolder { .. }), "{err:?}");
        assert_eq!(err.field(), "folder_name");
        let text = err.to_string();
        assert!(text.contains("symbolic link"), "{text}");
        assert!(text.contains(&link.display().to_string()), "{text}");
        // A dangling link too, rather than a confusing "file exists".
        let dangling = dir.path().join("dangling");
        std::os::unix::fs::symlink(dir.path().join("nowhere"), &dangling).unwrap();
        let err = folder_error(&dangling, create_private_dir(&dangling).unwrap_err());
        assert!(err.to_string().contains("symbolic link"), "{err}");
        assert!(!dir.path().join("nowhere").exists());
    }

    #[test]
    fn the_root_may_be_a_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let real_root = dir.path().join("disk2");
        fs::create_dir(&real_root).unwrap();
        let root = dir.path().join("root");
        std::os::unix::fs::symlink(&real_root, &root).unwrap();
        create_private_dir(&root.join("geo")).unwrap();
        assert!(real_root.join("geo").is_dir());
    }

    #[test]
    fn a_folder_owned_by_someone_else_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        if effective_uid() != 0 {
            eprintln!("a_folder_owned_by_someone_else_is_refused: not root, cannot chown; skipped");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let theirs = dir.path().join("theirs");
        fs::create_dir(&theirs).unwrap();
        fs::set_permissions(&theirs, fs::Permissions::from_mode(0o755)).unwrap();
        std::os::unix::fs::chown(&theirs, Some(12345), None).unwrap();
        let err = folder_error(&theirs, create_private_dir(&theirs).unwrap_err());
        let text = err.to_string();
        assert!(text.contains("owned by uid 12345"), "{text}");
        assert!(text.contains(&theirs.display().to_string()), "{text}");
        let mode = fs::metadata(&theirs).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o755, "someone else's folder is not chmod-ed");
    }
}
