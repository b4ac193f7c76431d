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
    create_private_dir(&path).map_err(|source| ConfigError::Folder {
        path: path.clone(),
        source,
    })?;
    Ok(path)
}

/// Creates `path` and any missing parents; every directory created, and `path` itself, ends
/// up with mode 0700 on Unix whatever the umask. Existing parents are left as they are.
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
