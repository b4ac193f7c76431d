//! The Python package `twat-cache-py`: outside the workspace (PyO3 needs an interpreter's
//! configuration, and its Redis feature must not be unified into the workspace's builds), so
//! it gets its own lint step and its own test step: a fresh venv, `pip install` of the
//! package as a user runs it, and its pytest suite.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crate::{cargo, root};

const MANIFEST: &str = "twat-cache-py/Cargo.toml";

/// `cargo fmt --check` and clippy (warnings denied) on the PyO3 crate.
pub fn lint() -> Result<(), String> {
    cargo(&["fmt", "--manifest-path", MANIFEST, "--", "--check"])?;
    cargo(&[
        "clippy",
        "--manifest-path",
        MANIFEST,
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ])
}

/// Runs `program` in `dir` with `bin` (the venv's) first on `PATH`, as an activated venv
/// has it (maturin's build hook calls `maturin` by name).
fn run(program: &Path, args: &[&str], dir: &Path, bin: Option<&Path>) -> Result<(), String> {
    let started = Instant::now();
    eprintln!("\n==> {} {}", program.display(), args.join(" "));
    let mut command = Command::new(program);
    command.args(args).current_dir(dir);
    if let Some(bin) = bin {
        let path = std::env::var_os("PATH").unwrap_or_default();
        let paths = std::iter::once(bin.to_path_buf()).chain(std::env::split_paths(&path));
        let joined = std::env::join_paths(paths).map_err(|e| format!("PATH: {e}"))?;
        command
            .env("PATH", joined)
            .env("VIRTUAL_ENV", bin.parent().unwrap_or(bin));
    }
    let status = command
        .status()
        .map_err(|e| format!("cannot run {}: {e}", program.display()))?;
    eprintln!("<== {:.1}s", started.elapsed().as_secs_f64());
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "`{} {}` failed ({status})",
            program.display(),
            args.join(" ")
        ))
    }
}

/// A fresh venv (under the target dir, so it is never in the work tree), maturin and pytest
/// from PyPI, `pip install ./twat-cache-py` (built by maturin, release), then the suite.
/// `$TWAT_PYTHON` picks the interpreter (default `python3`).
pub fn test() -> Result<(), String> {
    let root = root();
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let venv = target.join("python-venv");
    let _ = std::fs::remove_dir_all(&venv);
    let python = std::env::var_os("TWAT_PYTHON").unwrap_or_else(|| "python3".into());
    let venv_arg = venv.to_string_lossy().into_owned();
    run(Path::new(&python), &["-m", "venv", &venv_arg], &root, None)?;
    let bin = venv.join("bin");
    let pip = bin.join("pip");
    let quiet = ["--quiet", "--disable-pip-version-check"];
    run(
        &pip,
        &[&quiet[..], &["install", "maturin>=1.9,<2", "pytest"]].concat(),
        &root,
        Some(&bin),
    )?;
    // No build isolation: the maturin just installed builds it (one download, not two).
    run(
        &pip,
        &[
            &quiet[..],
            &["install", "--no-build-isolation", "./twat-cache-py"],
        ]
        .concat(),
        &root,
        Some(&bin),
    )?;
    let py = bin.join("python");
    run(
        &py,
        &["-m", "pytest", "-q", "twat-cache-py/tests"],
        &root,
        Some(&bin),
    )
}
