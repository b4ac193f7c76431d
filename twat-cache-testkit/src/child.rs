//! Child processes: the test binary runs itself again, running one test in "child mode",
//! and reports what it saw on its standard output.
//!
//! A scenario that needs a fresh process (LMDB environments stay open for the life of a
//! process; `TWAT_CACHE_KEY` is process-global; some scenarios drop privileges or set a
//! resource limit) is two tests: a parent, which starts [`child`] and [`run`]s it, and a
//! child test that does nothing unless [`as_child`] says this process was started for it.
//! Parent-side tests return at once when [`in_child`] is true, so a child runs only its
//! own test.
//!
//! Lines starting with `OBSERVED` ([`observed!`](crate::observed)) are the fault report
//! and `SKIPPED` ([`skip`]) says loudly what could not run on this machine and why;
//! [`echo`] copies both from a child's output to the parent's.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The variable that tells a child which test it was started for.
pub const CHILD_VAR: &str = "TWAT_FAULTS_CHILD";
/// The variable that tells a child which directory to work in.
pub const DIR_VAR: &str = "TWAT_FAULTS_DIR";

/// In a child started by [`child`] for `test`: the directory it works in. `None` in any
/// other process, where the child test should return at once.
pub fn as_child(test: &str) -> Option<PathBuf> {
    (std::env::var(CHILD_VAR).ok()? == test).then(|| PathBuf::from(std::env::var(DIR_VAR).unwrap()))
}

/// Whether this process is a child (then the parent-side tests do nothing).
pub fn in_child() -> bool {
    std::env::var_os(CHILD_VAR).is_some()
}

/// This test binary again, running only `test` in child mode, working in `dir`.
///
/// `test` is the test's full name in the binary, so the child tests of a scenario must
/// sit at the crate root of the test file (not in a module).
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

/// Copies a child's `OBSERVED`, `SKIPPED` and panic lines to this process's stderr, and
/// all of its output when it failed.
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

/// Prints one line of the fault report, `OBSERVED` and then the `format!` of the
/// arguments (collected by the parent from the child's stdout with [`echo`]).
#[macro_export]
macro_rules! observed {
    ($($t:tt)*) => {{
        let line = format!($($t)*);
        println!("OBSERVED {line}");
    }};
}

/// Says loudly, on stdout and stderr, that a scenario could not run here, and why.
pub fn skip(test: &str, why: &str) {
    println!("SKIPPED {test}: {why}");
    eprintln!("SKIPPED {test}: {why}");
}
