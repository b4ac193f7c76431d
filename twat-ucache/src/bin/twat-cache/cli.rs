//! The command line: clap definitions.

use clap::{Parser, Subcommand};

/// Shown at the end of `--help`: what scripts can rely on.
pub const AFTER_HELP: &str = "\
FOLDER is a folder name under the cache root (see `twat-cache path`), or a path to a cache
folder (anything that is not a plain name, e.g. ./geo or /srv/cache/geo).

Folders without a manifest (twat-cache.lmdb.json or twat-cache.files.json, or the
twat-cache.json / fcache.manifest.json of older versions) are listed as
`unknown` and never modified.

Exit codes:
  0  success
  1  verify found damaged entries (and removed them)
  2  usage error (bad arguments)
  3  the folder does not exist, or is not a cache
  4  an I/O or other error; for prune, verify and list over every folder: any folder failed
     (this wins over 1)
Errors go to stderr and name the path; with --json, stdout still gets one JSON document
({\"error\": {...}} for commands on one folder).";

/// List, inspect, clear, prune and verify the twat-cache caches on disk.
#[derive(Debug, Parser)]
#[command(name = "twat-cache", version, after_help = AFTER_HELP)]
pub struct Args {
    /// Print one JSON document on stdout instead of tables.
    #[arg(long, global = true)]
    pub json: bool,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the cache root: $TWAT_CACHE_DIR, else the platform cache directory + twat_cache.
    Path,
    /// List every folder under the root: kind, functions, entries, size, oldest and newest entry.
    List,
    /// Show cache folders per function: FOLDER, or every cache under the root.
    Stats {
        /// The cache folder (default: every cache under the root).
        folder: Option<String>,
    },
    /// Remove every entry of a cache folder, or only one function's.
    Clear {
        /// The cache folder.
        folder: String,
        /// Only this function's entries (the function name, or a builder cache's name).
        #[arg(long, value_name = "NAME")]
        function: Option<String>,
    },
    /// Remove expired entries, orphans and old temporary files (every cache, or FOLDER).
    ///
    /// Expired entries; orphaned entries and index records (LMDB index records without an
    /// entry and entries without one; file entries whose namespace.json is gone); temporary
    /// files of interrupted writes once they are ten minutes old. Also repairs LMDB entry
    /// counts.
    Prune {
        /// Only this cache folder.
        folder: Option<String>,
    },
    /// Check every entry and remove damaged ones; exit 1 if any (every cache, or FOLDER).
    ///
    /// Every entry is decoded: header, length fields, checksum, and its stored key against
    /// where it is filed (digest and namespace); compressed file entries must decompress.
    Verify {
        /// Only this cache folder.
        folder: Option<String>,
    },
}
