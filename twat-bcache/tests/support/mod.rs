//! Fault-injection helpers shared by the `faults` and `lock` tests (the same file lives in
//! twat-bcache/tests/support and twat-fcache/tests/support).
//!
//! - child processes: the test binary runs itself again, running one test in "child mode";
//! - a small tmpfs (root with CAP_SYS_ADMIN), unmounted by a guard even on panic;
//! - a file-size rlimit in a child (`RLIMIT_FSIZE`, `SIGXFSZ` ignored) where mounting is
//!   not allowed;
//! - an unprivileged child (`setuid` to nobody) where root would ignore permission bits.
//!
//! `TWAT_FAULTS_NO_MOUNT=1` pretends mounting is not allowed, to exercise the fallbacks.
#![allow(dead_code, missing_docs)]

use std::ffi::CString;
use std::fs;
use std::io::{self, Write};

use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub const CHILD_VAR: &str = "TWAT_FAULTS_CHILD";
pub const DIR_VAR: &str = "TWAT_FAULTS_DIR";
pub const NOBODY: u32 = 65534;

/// In a child started by [`child`] for `test`: the directory it works in.
pub fn as_child(test: &str) -> Option<PathBuf> {
    (std::env::var(CHILD_VAR).ok()? == test).then(|| PathBuf::from(std::env::var(DIR_VAR).unwrap()))
}

/// Whether this process is a child (then the parent-side tests do nothing).
pub fn in_child() -> bool {
    std::env::var_os(CHILD_VAR).is_some()
}

/// This test binary again, running only `test` in child mode, working in `dir`.
pub fn child(test: &str, dir: &Path) -> Command {
    let mut c = Command::new(std::env::current_exe().unwrap());
    c.args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(CHILD_VAR, test)
        .env(DIR_VAR, dir)
        .stdin(Stdio::null());
    c
}

/// Runs `cmd` to completion, echoes its output, and fails unless it succeeded.
pub fn run(mut cmd: Command, what: &str) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot spawn: {e}"));
    echo(what, &out);
    assert!(out.status.success(), "{what} failed: {:?}", out.status);
    out
}

pub fn echo(what: &str, out: &Output) {
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        // The harness prints "test name ... " before the test's own output, on one line.
        if let Some(at) = ["OBSERVED", "SKIPPED", "panicked"]
            .iter()
            .filter_map(|w| line.find(w))
            .min()
        {
            eprintln!("  [{what}] {}", &line[at..]);
        }
    }
    if !out.status.success() {
        eprintln!(
            "--- {what} stdout ---\n{}",
            String::from_utf8_lossy(&out.stdout)
        );
        eprintln!(
            "--- {what} stderr ---\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Prints one line of the fault report (collected by the parent from the child's stdout).
#[allow(unused_macros)]
macro_rules! observed {
    ($($t:tt)*) => {{
        let line = format!($($t)*);
        println!("OBSERVED {line}");
    }};
}

/// Says loudly that a scenario could not run here, and why.
pub fn skip(test: &str, why: &str) {
    println!("SKIPPED {test}: {why}");
    eprintln!("SKIPPED {test}: {why}");
}

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// A tmpfs mounted on a directory; unmounted (lazily, so open files cannot make it fail)
/// when dropped, including while a test panics.
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
