//! `twat-cache`: list, inspect, clear, prune and verify the caches of `#[bcache]` (LMDB)
//! and `#[fcache]` (files) on disk. Built with the `cli` feature of `twat-ucache`:
//!
//! ```text
//! cargo install twat-ucache --features cli
//! twat-cache path                       # the cache root
//! twat-cache list                       # every folder under it
//! twat-cache stats geo                  # one folder, per function
//! twat-cache clear geo --function geocode
//! twat-cache prune                      # expired entries, orphans, old temp files
//! twat-cache verify                     # exit 1 when it found (and removed) damage
//! twat-cache --json list                # one JSON document on stdout, for scripts
//! ```
//!
//! The root is `$TWAT_CACHE_DIR`, else the platform cache directory + `twat_cache`.
//! `FOLDER` is a folder name under the root or a path to a cache folder. Only folders
//! with a manifest (`twat-cache.lmdb.json`, `twat-cache.files.json`, or an older version's
//! `twat-cache.json` / `fcache.manifest.json`) are ever modified; others
//! are listed as `unknown`, and refused when named. The work is done by
//! `twat_bcache::maintenance` and `twat_fcache::maintenance`, which are safe while other
//! processes use the caches.
//!
//! A folder may hold an LMDB and a file cache at once (`#[bcache]` and `#[fcache]` with
//! the same `folder_name`): they are two caches, with a row (or JSON object) each.
//!
//! `--json` prints one document: `path` → `{"root"}`; `list` → `{"root", "folders":
//! [FolderSummary], "errors"}`; `stats` → `{"folders": [FolderSummary]}`; `clear` →
//! `{"folders": [ClearReport]}`; `prune` → `{"root", "folders": [PruneReport], "errors"}`;
//! `verify` → `{"root", "damage_found", "folders": [VerifyReport], "errors"}`; a failure
//! of a command on one folder → `{"error": {"path", "message", "exit_code"}}`. The report
//! types are those of `twat_cache_common::maintenance`; times are Unix milliseconds.
//!
//! Exit codes: 0 success; 1 `verify` found damaged entries (and removed them); 2 usage
//! error; 3 the folder does not exist or is not a cache; 4 an I/O or other error (for
//! commands over every folder: any folder failed; this wins over 1). Errors go to stderr
//! and name the path; with `--json` stdout still gets one JSON document.

mod cli;
mod format;
mod run;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Args::parse();
    ExitCode::from(run::run(&args))
}
