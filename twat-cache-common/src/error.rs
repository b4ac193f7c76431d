//! Errors: [`ConfigError`] for settings, [`CacheError`] for stores that fail at run time.

use std::io;
use std::path::PathBuf;

/// A setting that cannot be used. Every message names the field at fault and what is allowed.
///
/// ```
/// use twat_cache_common::{ConfigError, Policy};
/// let err = "mru".parse::<Policy>().unwrap_err();
/// assert_eq!(err.field(), "policy");
/// assert!(err.to_string().contains("\"lru\""));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A field got a value outside what it allows.
    #[error("invalid `{field}` = {value}: expected {allowed}")]
    Invalid {
        /// The builder method or macro attribute at fault.
        field: &'static str,
        /// The value that was given, as text.
        value: String,
        /// What the field accepts.
        allowed: &'static str,
    },
    /// A `folder_name` that could escape the cache root or is not a single path component.
    #[error("invalid `folder_name` {name:?}: {reason}")]
    FolderName {
        /// The name as given.
        name: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// Neither `TWAT_CACHE_DIR` nor a platform cache directory is available.
    #[error("no cache root: set TWAT_CACHE_DIR or use `.cache_dir(path)`")]
    NoCacheRoot,
    /// The cache folder could not be created or made private.
    #[error("cannot prepare cache folder {path}: {source}")]
    Folder {
        /// The folder.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The cache folder exists but is not safe to use: a symbolic link, or (on Unix) owned
    /// by another user. Caches fall back to memory rather than follow the link or write
    /// into someone else's folder.
    #[error("refusing cache folder {path}: {reason}")]
    UnsafeFolder {
        /// The folder.
        path: PathBuf,
        /// Why it was refused ("it is a symbolic link ...", "it is owned by uid ...").
        reason: String,
    },
}

impl ConfigError {
    /// A field got a value it does not allow. Internal: how the sibling crates build this
    /// error.
    ///
    /// ```
    /// use twat_cache_common::ConfigError;
    /// let e = ConfigError::invalid("shards", 3, "a power of two");
    /// assert_eq!(e.field(), "shards");
    /// assert_eq!(e.to_string(), "invalid `shards` = 3: expected a power of two");
    /// ```
    #[doc(hidden)]
    pub fn invalid(field: &'static str, value: impl ToString, allowed: &'static str) -> Self {
        ConfigError::Invalid {
            field,
            value: value.to_string(),
            allowed,
        }
    }

    /// Checks the bounds every cache builder shares: `maxsize` and `max_bytes` at least 1,
    /// `ttl` positive (each `None` = unbounded / never expires). One place, so every
    /// builder refuses the same values with the same words. Internal, for the builders.
    ///
    /// ```
    /// use std::time::Duration;
    /// use twat_cache_common::ConfigError;
    /// assert!(ConfigError::check_bounds(Some(10), None, Some(Duration::from_secs(1))).is_ok());
    /// assert_eq!(ConfigError::check_bounds(Some(0), None, None).unwrap_err().field(), "maxsize");
    /// assert_eq!(ConfigError::check_bounds(None, Some(0), None).unwrap_err().field(), "max_bytes");
    /// assert_eq!(ConfigError::check_bounds(None, None, Some(Duration::ZERO)).unwrap_err().field(), "ttl");
    /// ```
    #[doc(hidden)]
    pub fn check_bounds(
        maxsize: Option<usize>,
        max_bytes: Option<u64>,
        ttl: Option<std::time::Duration>,
    ) -> Result<(), ConfigError> {
        if maxsize == Some(0) {
            return Err(ConfigError::invalid(
                "maxsize",
                0,
                "at least 1 (or no maxsize for unbounded)",
            ));
        }
        if max_bytes == Some(0) {
            return Err(ConfigError::invalid(
                "max_bytes",
                0,
                "at least 1 byte (or no max_bytes for unbounded)",
            ));
        }
        if ttl.is_some_and(|t| t.is_zero()) {
            return Err(ConfigError::invalid(
                "ttl",
                "0s",
                "a positive duration (or no ttl for never)",
            ));
        }
        Ok(())
    }

    /// The name of the setting at fault (`"maxsize"`, `"ttl"`, `"folder_name"`, ...).
    ///
    /// ```
    /// use twat_cache_common::{ConfigError, get_cache_path, parse_ttl};
    /// assert_eq!(ConfigError::NoCacheRoot.field(), "cache_dir");
    /// assert_eq!(parse_ttl("-1").unwrap_err().field(), "ttl");
    /// assert_eq!(get_cache_path("../escape").unwrap_err().field(), "folder_name");
    /// ```
    pub fn field(&self) -> &'static str {
        match self {
            ConfigError::Invalid { field, .. } => field,
            ConfigError::FolderName { .. }
            | ConfigError::Folder { .. }
            | ConfigError::UnsafeFolder { .. } => "folder_name",
            ConfigError::NoCacheRoot => "cache_dir",
        }
    }
}

/// A store that failed at run time. Caches turn these into misses (and a fallback when the
/// store cannot start); they surface only through the direct store APIs and logs.
///
/// ```
/// use twat_cache_common::CacheError;
/// let e = CacheError::Corrupt { location: "/tmp/x/ab/cdef".into(), reason: "bad checksum".into() };
/// assert_eq!(e.to_string(), "corrupt entry at /tmp/x/ab/cdef: bad checksum");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CacheError {
    /// A file-system operation failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done ("read", "write", "create", ...).
        action: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// A key or value could not be serialized.
    #[error("cannot encode {what}: {message}")]
    Encode {
        /// "key" or "value".
        what: &'static str,
        /// The serializer's message.
        message: String,
    },
    /// A stored entry did not decode; it is treated as a miss and deleted.
    #[error("corrupt entry at {location}: {reason}")]
    Corrupt {
        /// Where the entry lives (a path, or a database and key).
        location: String,
        /// What was wrong with it.
        reason: String,
    },
    /// The backend reported an error of its own.
    #[error("{backend} backend: {message}")]
    Backend {
        /// The backend at fault.
        backend: crate::Backend,
        /// Its message.
        message: String,
    },
    /// A settings problem found while opening a store.
    #[error(transparent)]
    Config(#[from] ConfigError),
}

impl CacheError {
    /// Wraps an I/O error with the action and path it concerns. Internal: how the stores
    /// build this error.
    ///
    /// ```
    /// use std::io;
    /// use twat_cache_common::CacheError;
    /// let e = CacheError::io("read", "/tmp/c/x", io::Error::from(io::ErrorKind::NotFound));
    /// assert!(matches!(e, CacheError::Io { action: "read", .. }));
    /// assert!(e.to_string().starts_with("read /tmp/c/x: "));
    /// ```
    #[doc(hidden)]
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        CacheError::Io {
            action,
            path: path.into(),
            source,
        }
    }
}
