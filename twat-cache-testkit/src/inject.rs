//! Faults from the environment (Unix): a small tmpfs (root with `CAP_SYS_ADMIN`),
//! unmounted by a guard even on panic; a file-size rlimit in a child (`RLIMIT_FSIZE`,
//! `SIGXFSZ` ignored) where mounting is not allowed; an unprivileged child (`setuid` to
//! nobody) where root would ignore permission bits.
//!
//! `TWAT_FAULTS_NO_MOUNT=1` pretends mounting is not allowed, to exercise the fallbacks.

use std::ffi::CString;
use std::fs;
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The uid and gid of `nobody`, which an unprivileged child runs as when we are root.
pub const NOBODY: u32 = 65534;

/// Whether this process runs as root (effective uid 0).
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// A tmpfs mounted on a directory; unmounted (lazily, so open files cannot make it fail)
/// when dropped, including while a test panics.
#[derive(Debug)]
pub struct Tmpfs {
    path: PathBuf,
}

fn cpath(p: &Path) -> CString {
    CString::new(p.as_os_str().as_bytes()).unwrap()
}

impl Tmpfs {
    /// Mounts a tmpfs of `size` bytes on `path` (created if missing), mode 0777 so an
    /// unprivileged child can use it. `Err` says why not (not root, no CAP_SYS_ADMIN in
    /// a container, `TWAT_FAULTS_NO_MOUNT` set).
    pub fn mount(path: &Path, size: usize) -> Result<Tmpfs, String> {
        if std::env::var_os("TWAT_FAULTS_NO_MOUNT").is_some() {
            return Err("TWAT_FAULTS_NO_MOUNT is set".into());
        }
        if !is_root() {
            return Err("not running as root".into());
        }
        fs::create_dir_all(path).map_err(|e| e.to_string())?;
        let opts = CString::new(format!("size={size},mode=0777")).unwrap();
        // SAFETY: valid NUL-terminated strings that outlive the call.
        let r = unsafe {
            libc::mount(
                c"tmpfs".as_ptr(),
                cpath(path).as_ptr(),
                c"tmpfs".as_ptr(),
                0,
                opts.as_ptr().cast(),
            )
        };
        if r != 0 {
            return Err(format!(
                "mount -t tmpfs failed: {}",
                io::Error::last_os_error()
            ));
        }
        Ok(Tmpfs {
            path: path.to_path_buf(),
        })
    }

    /// Where it is mounted.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Remounts read-only (`true`) or read-write. Fails with EBUSY while a file on it is
    /// open for writing.
    pub fn remount(&self, read_only: bool) -> io::Result<()> {
        let flags = libc::MS_REMOUNT | if read_only { libc::MS_RDONLY } else { 0 };
        // SAFETY: as in `mount`.
        let r = unsafe {
            libc::mount(
                c"tmpfs".as_ptr(),
                cpath(&self.path).as_ptr(),
                c"tmpfs".as_ptr(),
                flags,
                std::ptr::null(),
            )
        };
        if r == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        // SAFETY: as in `mount`.
        unsafe { libc::umount2(cpath(&self.path).as_ptr(), libc::MNT_DETACH) };
    }
}

/// Writes zeros into `dir/filler` until the file system is full; returns the bytes written.
pub fn fill(dir: &Path) -> u64 {
    let mut f = fs::File::create(dir.join("filler")).unwrap();
    let block = vec![0u8; 4096];
    let mut n = 0;
    loop {
        match f.write(&block) {
            Ok(0) => break,
            Ok(k) => n += k as u64,
            Err(e) => {
                assert!(
                    e.raw_os_error() == Some(libc::ENOSPC) || e.raw_os_error() == Some(libc::EFBIG),
                    "filling: {e}"
                );
                break;
            }
        }
    }
    let _ = f.sync_all();
    n
}

/// In a child: limits the size of any file it writes to `bytes` (`RLIMIT_FSIZE`) and
/// ignores `SIGXFSZ`, so writes past it fail with EFBIG instead of killing the process.
pub fn limit_file_size(bytes: u64) {
    // SAFETY: plain syscalls with valid arguments.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
        let lim = libc::rlimit {
            rlim_cur: bytes as libc::rlim_t,
            rlim_max: libc::RLIM_INFINITY,
        };
        assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &lim), 0, "setrlimit");
    }
}

/// A temporary directory that an unprivileged child may work in (mode 0777).
pub fn shared_tempdir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o777)).unwrap();
    dir
}

/// Makes `cmd` run as nobody when we are root (root ignores permission bits, so a
/// permission fault needs an ordinary user). Returns who it will run as.
pub fn unprivileged(cmd: &mut Command) -> &'static str {
    use std::os::unix::process::CommandExt;
    if is_root() {
        cmd.uid(NOBODY).gid(NOBODY);
        "nobody (uid 65534)"
    } else {
        "the current (unprivileged) user"
    }
}

/// `chmod` that does not panic (the folder may be gone).
pub fn chmod(path: &Path, mode: u32) -> io::Result<()> {
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
}

/// Whether permission bits stop this process (false for root).
pub fn permissions_bite(dir: &Path) -> bool {
    let probe = dir.join("perm-probe");
    fs::create_dir(&probe).unwrap();
    chmod(&probe, 0o500).unwrap();
    let bites = fs::write(probe.join("x"), b"x").is_err();
    chmod(&probe, 0o700).unwrap();
    let _ = fs::remove_dir_all(&probe);
    bites
}
