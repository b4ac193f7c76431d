//! The per-folder passphrase salt: [`SALT_FILE`] in a cache folder, created once and
//! shared by every process and cache on the folder; [`SHARED_SALT`] where there is no
//! folder.

use std::fs;
use std::io::{self, Write};
use std::path::Path;

use super::SALT_FILE;

/// Bytes of random salt in a folder's [`SALT_FILE`].
pub const SALT_LEN: usize = 16;
/// The salt of passphrases where there is no folder to keep a random one (Redis). Public
/// and fixed, so equal passphrases give equal keys on every machine: prefer a random
/// 32-byte key for Redis.
pub const SHARED_SALT: &[u8] = b"twat-cache shared passphrase salt v1";

/// The folder's passphrase salt: read from [`SALT_FILE`] (32 hex digits and a newline),
/// or created there with 16 random bytes, mode 0600, when missing. Concurrent creators
/// agree: each writes a temporary file and links it into place only if no salt exists
/// yet, then everyone reads the one that won. A damaged salt file is an error (deleting
/// it starts afresh; entries sealed under the old salt become misses).
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let a = twat_cache_common::cipher::folder_salt(dir.path()).unwrap();
/// let b = twat_cache_common::cipher::folder_salt(dir.path()).unwrap();
/// assert_eq!(a, b, "created once, then read");
/// ```
pub fn folder_salt(folder: &Path) -> io::Result<[u8; SALT_LEN]> {
    let path = folder.join(SALT_FILE);
    match read_salt(&path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        other => return other,
    }
    let mut salt = [0u8; SALT_LEN];
    getrandom::fill(&mut salt).map_err(io::Error::other)?;
    let mut text = String::with_capacity(2 * SALT_LEN + 1);
    for b in salt {
        text.push_str(&format!("{b:02x}"));
    }
    text.push('\n');
    let mut nonce = [0u8; 8];
    getrandom::fill(&mut nonce).map_err(io::Error::other)?;
    let tmp = folder.join(format!(
        ".{SALT_FILE}.{}.{:016x}",
        std::process::id(),
        u64::from_le_bytes(nonce)
    ));
    write_new_private(&tmp, text.as_bytes())?;
    let linked = fs::hard_link(&tmp, &path);
    let _ = fs::remove_file(&tmp);
    match linked {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        // A file system without hard links: create the file in place (a reader racing
        // this may see it empty, and then falls back to memory once).
        Err(_) => match write_new_private(&path, text.as_bytes()) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        },
    }
    read_salt(&path)
}

fn write_new_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    crate::paths::make_private_file(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

fn read_salt(path: &Path) -> io::Result<[u8; SALT_LEN]> {
    let text = fs::read_to_string(path)?;
    let t = text.trim_end();
    let damaged = || {
        io::Error::new(
            io::ErrorKind::InvalidData,
            "damaged salt file (expected 32 hex digits); delete it to start afresh",
        )
    };
    if t.len() != 2 * SALT_LEN {
        return Err(damaged());
    }
    let mut salt = [0u8; SALT_LEN];
    for (i, pair) in t.as_bytes().chunks_exact(2).enumerate() {
        let hi = (pair[0] as char).to_digit(16).ok_or_else(damaged)?;
        let lo = (pair[1] as char).to_digit(16).ok_or_else(damaged)?;
        salt[i] = (hi << 4 | lo) as u8;
    }
    Ok(salt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn salt_file_is_private_and_damage_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let s = folder_salt(dir.path()).unwrap();
        assert_eq!(folder_salt(dir.path()).unwrap(), s);
        let path = dir.path().join(SALT_FILE);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().flatten().collect();
        assert_eq!(names.len(), 1, "no temporary file left");
        fs::write(&path, "nonsense\n").unwrap();
        assert_eq!(
            folder_salt(dir.path()).unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
    }

    #[test]
    fn concurrent_salt_creation_agrees() {
        let dir = tempfile::tempdir().unwrap();
        let salts: Vec<_> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..8)
                .map(|_| s.spawn(|| folder_salt(dir.path()).unwrap()))
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(salts.windows(2).all(|w| w[0] == w[1]));
    }
}
