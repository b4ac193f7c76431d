//! The commands: find the folders, call the crates' `maintenance` modules, print.
//!
//! A folder may hold an LMDB cache and a file cache at once (`#[bcache]` and `#[fcache]`
//! given the same `folder_name`): each kind is its own cache here, with its own row,
//! report and JSON object.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use twat_cache_common::cache_root;
use twat_cache_common::clock::unix_millis;
use twat_cache_common::maintenance::{
    CacheKind, ClearReport, FolderSummary, MaintenanceError, PruneReport, VerifyReport, check_dir,
    disk_usage,
};
use twat_cache_common::paths::validate_folder_name;

use crate::cli::{Args, Command};
use crate::format::{Align, Table, opt_age, opt_time, size};

/// Exit codes (documented in `--help` and the binary's docs).
pub mod code {
    pub const OK: u8 = 0;
    pub const DAMAGE: u8 = 1;
    pub const NOT_A_CACHE: u8 = 3;
    pub const FAILED: u8 = 4;
}

/// A command that could not run: exit code, path concerned, message.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub path: Option<PathBuf>,
    pub message: String,
}

impl From<MaintenanceError> for Failure {
    fn from(e: MaintenanceError) -> Self {
        Failure {
            code: if e.is_not_a_cache() {
                code::NOT_A_CACHE
            } else {
                code::FAILED
            },
            path: Some(e.path().to_path_buf()),
            message: e.to_string(),
        }
    }
}

impl Failure {
    fn io(action: &str, path: &Path, e: io::Error) -> Self {
        Failure {
            code: code::FAILED,
            path: Some(path.to_path_buf()),
            message: format!("{action} {}: {e}", path.display()),
        }
    }

    fn json(&self) -> Value {
        json!({ "path": self.path, "message": self.message, "exit_code": self.code })
    }
}

/// Runs the command; returns the exit code. Output goes to stdout, errors to stderr.
pub fn run(args: &Args) -> u8 {
    let json = args.json;
    let result = match &args.command {
        Command::Path => path(json),
        Command::List => list(json),
        Command::Stats { folder } => stats(folder.as_deref(), json),
        Command::Clear { folder, function } => clear(folder, function.as_deref(), json),
        Command::Prune { folder } => prune(folder.as_deref(), json),
        Command::Verify { folder } => verify(folder.as_deref(), json),
    };
    match result {
        Ok(code) => code,
        Err(f) => {
            eprintln!("twat-cache: {}", f.message);
            if json {
                print_json(&json!({ "error": f.json() }));
            }
            f.code
        }
    }
}

fn print_json(v: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(v).expect("JSON values always serialize")
    );
}

/// A report as JSON (a macro: naming `serde::Serialize` would need serde as a dependency).
macro_rules! to_json {
    ($v:expr) => {
        serde_json::to_value($v).expect("reports always serialize")
    };
}

fn root() -> Result<PathBuf, Failure> {
    cache_root().map_err(|e| Failure {
        code: code::FAILED,
        path: None,
        message: e.to_string(),
    })
}

/// A FOLDER argument: a plain name is under the root; anything else is a path.
fn resolve(arg: &str) -> Result<PathBuf, Failure> {
    if validate_folder_name(arg).is_ok() {
        Ok(root()?.join(arg))
    } else {
        Ok(PathBuf::from(arg))
    }
}

/// The kinds of cache whose manifest file the folder holds, current or from an older
/// version (the crates check the manifest's content before doing anything).
fn kinds_of(folder: &Path) -> Vec<CacheKind> {
    twat_cache_common::manifest::kinds_in(folder)
}

/// The error for a folder that is missing or has no manifest at all.
fn no_manifest(folder: &Path) -> Failure {
    if let Err(e) = check_dir(folder, CacheKind::Unknown) {
        return e.into();
    }
    Failure {
        code: code::NOT_A_CACHE,
        path: Some(folder.to_path_buf()),
        message: format!(
            "{}: not a cache: it has no manifest ({} or {}); left alone",
            folder.display(),
            twat_bcache::layout::MANIFEST,
            twat_fcache::maintenance::MANIFEST
        ),
    }
}

fn summary_of(folder: &Path, kind: CacheKind) -> Result<FolderSummary, Failure> {
    Ok(match kind {
        CacheKind::Lmdb => twat_bcache::maintenance::summary(folder)?,
        CacheKind::Files => twat_fcache::maintenance::summary(folder)?,
        CacheKind::Unknown => return Err(no_manifest(folder)),
    })
}

fn clear_of(
    folder: &Path,
    kind: CacheKind,
    function: Option<&str>,
) -> Result<ClearReport, Failure> {
    Ok(match kind {
        CacheKind::Lmdb => twat_bcache::maintenance::clear(folder, function)?,
        CacheKind::Files => twat_fcache::maintenance::clear(folder, function)?,
        CacheKind::Unknown => return Err(no_manifest(folder)),
    })
}

fn prune_of(folder: &Path, kind: CacheKind) -> Result<PruneReport, Failure> {
    Ok(match kind {
        CacheKind::Lmdb => twat_bcache::maintenance::prune(folder)?,
        CacheKind::Files => twat_fcache::maintenance::prune(folder)?,
        CacheKind::Unknown => return Err(no_manifest(folder)),
    })
}

fn verify_of(folder: &Path, kind: CacheKind) -> Result<VerifyReport, Failure> {
    Ok(match kind {
        CacheKind::Lmdb => twat_bcache::maintenance::verify(folder)?,
        CacheKind::Files => twat_fcache::maintenance::verify(folder)?,
        CacheKind::Unknown => return Err(no_manifest(folder)),
    })
}

/// The folders under the root, sorted by name (symbolic links are not followed). A root
/// that does not exist has none.
fn folders(root: &Path) -> Result<Vec<PathBuf>, Failure> {
    let items = match fs::read_dir(root) {
        Ok(items) => items,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Failure::io("cannot list", root, e)),
    };
    let mut out = Vec::new();
    for item in items {
        let item = item.map_err(|e| Failure::io("cannot list", root, e))?;
        if item.file_type().is_ok_and(|t| t.is_dir()) {
            out.push(item.path());
        }
    }
    out.sort();
    Ok(out)
}

/// The name to show for a folder: relative to the root when under it.
fn shown(folder: &Path, root: Option<&Path>) -> String {
    root.and_then(|r| folder.strip_prefix(r).ok())
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(folder)
        .display()
        .to_string()
}

/// A cache to work on: its folder and kind.
type Target = (PathBuf, CacheKind);

/// The outcome of an operation over one or every cache folder.
struct Batch<R> {
    /// The root, when working on every folder under it.
    root: Option<PathBuf>,
    /// (folder, kind, report) of the caches done.
    done: Vec<(PathBuf, CacheKind, R)>,
    /// The caches that failed (already reported on stderr).
    errors: Vec<Failure>,
}

impl<R> Batch<R> {
    fn reports(&self) -> Vec<&R> {
        self.done.iter().map(|(_, _, r)| r).collect()
    }

    fn errors_json(&self) -> Value {
        Value::Array(self.errors.iter().map(Failure::json).collect())
    }

    fn code(&self) -> u8 {
        if self.errors.is_empty() {
            code::OK
        } else {
            code::FAILED
        }
    }
}

/// The caches to work on: those in FOLDER (refused unless it has a manifest), or those
/// of every folder under the root (folders without a manifest are skipped, untouched).
fn targets(folder: Option<&str>) -> Result<(Option<PathBuf>, Vec<Target>), Failure> {
    match folder {
        Some(f) => {
            let path = resolve(f)?;
            let kinds = kinds_of(&path);
            if kinds.is_empty() {
                return Err(no_manifest(&path));
            }
            Ok((None, kinds.into_iter().map(|k| (path.clone(), k)).collect()))
        }
        None => {
            let root = root()?;
            let mut found = Vec::new();
            for p in folders(&root)? {
                found.extend(kinds_of(&p).into_iter().map(|k| (p.clone(), k)));
            }
            Ok((Some(root), found))
        }
    }
}

/// Runs `op` on every target. A manifest that turns out not to be a cache's (another
/// kind, unreadable) is an error when FOLDER was named, and skipped otherwise.
fn each<R>(
    folder: Option<&str>,
    op: impl Fn(&Path, CacheKind) -> Result<R, Failure>,
) -> Result<Batch<R>, Failure> {
    let (root, targets) = targets(folder)?;
    let mut batch = Batch {
        root,
        done: Vec::new(),
        errors: Vec::new(),
    };
    for (path, kind) in targets {
        match op(&path, kind) {
            Ok(r) => batch.done.push((path, kind, r)),
            Err(f) if folder.is_some() => return Err(f),
            Err(f) if f.code == code::NOT_A_CACHE => {}
            Err(f) => {
                eprintln!("twat-cache: {}", f.message);
                batch.errors.push(f);
            }
        }
    }
    Ok(batch)
}

fn path(json: bool) -> Result<u8, Failure> {
    let root = root()?;
    if json {
        print_json(&json!({ "root": root }));
    } else {
        println!("{}", root.display());
    }
    Ok(code::OK)
}

fn list(json: bool) -> Result<u8, Failure> {
    let root = root()?;
    let mut rows: Vec<FolderSummary> = Vec::new();
    let mut errors: Vec<Failure> = Vec::new();
    for folder in folders(&root)? {
        let mut known = 0;
        for kind in kinds_of(&folder) {
            match summary_of(&folder, kind) {
                Ok(s) => {
                    rows.push(s);
                    known += 1;
                }
                // A manifest of another kind, or one that does not parse: not a cache.
                Err(f) if f.code == code::NOT_A_CACHE => {}
                Err(f) => {
                    eprintln!("twat-cache: {}", f.message);
                    errors.push(f);
                    known += 1;
                }
            }
        }
        if known == 0 {
            rows.push(FolderSummary::unknown(folder.clone(), disk_usage(&folder)));
        }
    }
    if json {
        print_json(&json!({
            "root": root,
            "folders": to_json!(&rows),
            "errors": Value::Array(errors.iter().map(Failure::json).collect()),
        }));
    } else if rows.is_empty() && errors.is_empty() {
        println!("no cache folders under {}", root.display());
    } else {
        let now = unix_millis();
        let mut t = Table::new(&[
            ("FOLDER", Align::Left),
            ("KIND", Align::Left),
            ("FUNCTIONS", Align::Right),
            ("ENTRIES", Align::Right),
            ("SIZE", Align::Right),
            ("ON DISK", Align::Right),
            ("OLDEST", Align::Right),
            ("NEWEST", Align::Right),
        ]);
        for s in &rows {
            let known = s.kind != CacheKind::Unknown;
            let n = |v: String| if known { v } else { "-".into() };
            t.row(vec![
                shown(&s.path, Some(&root)),
                s.kind.to_string(),
                n(s.functions.len().to_string()),
                n(s.entries.to_string()),
                n(size(s.bytes)),
                size(s.disk_bytes),
                opt_age(s.oldest_ms, now),
                opt_age(s.newest_ms, now),
            ]);
        }
        for f in &errors {
            let p = f.path.as_deref().unwrap_or(Path::new("?"));
            let dash = || "-".to_string();
            t.row(vec![
                shown(p, Some(&root)),
                "error".into(),
                dash(),
                dash(),
                dash(),
                dash(),
                dash(),
                dash(),
            ]);
        }
        print!("{}", t.render());
        let folders = rows
            .iter()
            .map(|s| &s.path)
            .chain(errors.iter().filter_map(|f| f.path.as_ref()))
            .collect::<std::collections::BTreeSet<_>>()
            .len();
        let caches = rows.iter().filter(|s| s.kind != CacheKind::Unknown).count();
        let entries: u64 = rows.iter().map(|s| s.entries).sum();
        let bytes: u64 = rows.iter().map(|s| s.disk_bytes).sum();
        println!(
            "{folders} folder(s) under {}: {caches} cache(s), {entries} entries, {} on disk",
            root.display(),
            size(bytes)
        );
    }
    Ok(if errors.is_empty() {
        code::OK
    } else {
        code::FAILED
    })
}

fn stats(folder: Option<&str>, json: bool) -> Result<u8, Failure> {
    let batch = each(folder, summary_of)?;
    let code = if batch.errors.is_empty() {
        code::OK
    } else {
        code::FAILED
    };
    if json {
        let mut out = json!({ "folders": to_json!(&batch.reports()) });
        if let Some(root) = &batch.root {
            out["root"] = to_json!(root);
        }
        print_json(&out);
        return Ok(code);
    }
    if batch.done.is_empty() {
        if let Some(root) = &batch.root {
            println!("no caches under {}", root.display());
        }
        return Ok(code);
    }
    let now = unix_millis();
    for (i, s) in batch.reports().into_iter().enumerate() {
        if i > 0 {
            println!();
        }
        let format = s
            .format_version
            .map_or_else(String::new, |v| format!(" (format {v})"));
        println!("folder    {}", s.path.display());
        println!("kind      {}{format}", s.kind);
        println!("entries   {} ({} expired)", s.entries, s.expired);
        println!(
            "size      {} in entries, {} on disk",
            size(s.bytes),
            size(s.disk_bytes)
        );
        println!("oldest    {}", opt_time(s.oldest_ms, now));
        println!("newest    {}", opt_time(s.newest_ms, now));
        println!();
        if s.functions.is_empty() {
            println!("no functions");
            continue;
        }
        let mut t = Table::new(&[
            ("FUNCTION", Align::Left),
            ("ENTRIES", Align::Right),
            ("EXPIRED", Align::Right),
            ("SIZE", Align::Right),
            ("OLDEST", Align::Right),
            ("NEWEST", Align::Right),
            ("NAMESPACE", Align::Left),
        ]);
        for f in &s.functions {
            t.row(vec![
                f.function.clone(),
                f.entries.to_string(),
                f.expired.to_string(),
                size(f.bytes),
                opt_age(f.oldest_ms, now),
                opt_age(f.newest_ms, now),
                f.namespace.clone(),
            ]);
        }
        print!("{}", t.render());
    }
    Ok(code)
}

fn clear(folder: &str, function: Option<&str>, json: bool) -> Result<u8, Failure> {
    let batch = each(Some(folder), |path, kind| clear_of(path, kind, function))?;
    let matched: u64 = batch.reports().iter().map(|r| r.namespaces).sum();
    if let (Some(name), 0) = (function, matched) {
        eprintln!(
            "twat-cache: no function named `{name}` in {}; nothing removed",
            resolve(folder)?.display()
        );
    }
    if json {
        print_json(&json!({ "folders": to_json!(&batch.reports()) }));
        return Ok(code::OK);
    }
    for (path, kind, r) in &batch.done {
        let what = match function {
            Some(name) => format!("of function `{name}` ({} namespace(s))", r.namespaces),
            None => format!("of {} namespace(s)", r.namespaces),
        };
        println!(
            "removed {} entries ({}) {what} from {} ({kind})",
            r.removed,
            size(r.bytes),
            path.display()
        );
    }
    Ok(code::OK)
}

fn prune(folder: Option<&str>, json: bool) -> Result<u8, Failure> {
    let batch = each(folder, prune_of)?;
    if json {
        print_json(&json!({
            "root": batch.root,
            "folders": to_json!(&batch.reports()),
            "errors": batch.errors_json(),
        }));
    } else if batch.done.is_empty() && batch.errors.is_empty() {
        println!("no caches to prune");
    } else {
        let mut t = Table::new(&[
            ("FOLDER", Align::Left),
            ("KIND", Align::Left),
            ("EXPIRED", Align::Right),
            ("ORPHANED", Align::Right),
            ("TEMP FILES", Align::Right),
            ("REPAIRED", Align::Right),
            ("FREED", Align::Right),
        ]);
        for (path, kind, r) in &batch.done {
            t.row(vec![
                shown(path, batch.root.as_deref()),
                kind.to_string(),
                r.expired.to_string(),
                r.orphaned.to_string(),
                r.temp_files.to_string(),
                r.repaired.to_string(),
                size(r.bytes_freed),
            ]);
        }
        print!("{}", t.render());
        let removed: u64 = batch.reports().iter().map(|r| r.removed()).sum();
        let freed: u64 = batch.reports().iter().map(|r| r.bytes_freed).sum();
        println!(
            "pruned {} cache(s): {removed} removed, {} freed",
            batch.done.len(),
            size(freed)
        );
    }
    Ok(batch.code())
}

fn verify(folder: Option<&str>, json: bool) -> Result<u8, Failure> {
    let batch = each(folder, verify_of)?;
    let damaged = batch.reports().iter().any(|r| r.found_damage());
    if json {
        print_json(&json!({
            "root": batch.root,
            "damage_found": damaged,
            "folders": to_json!(&batch.reports()),
            "errors": batch.errors_json(),
        }));
    } else if batch.done.is_empty() && batch.errors.is_empty() {
        println!("no caches to verify");
    } else {
        let mut t = Table::new(&[
            ("FOLDER", Align::Left),
            ("KIND", Align::Left),
            ("CHECKED", Align::Right),
            ("OK", Align::Right),
            ("DAMAGED", Align::Right),
            ("REMOVED", Align::Right),
        ]);
        for (path, kind, r) in &batch.done {
            t.row(vec![
                shown(path, batch.root.as_deref()),
                kind.to_string(),
                r.checked.to_string(),
                r.ok.to_string(),
                (r.checked - r.ok).to_string(),
                r.removed.to_string(),
            ]);
        }
        print!("{}", t.render());
        for r in batch.reports() {
            for d in &r.damaged {
                let what = if d.removed { "removed" } else { "kept" };
                println!("{what}: {}: {}", d.location, d.reason);
            }
            let unlisted = (r.checked - r.ok).saturating_sub(r.damaged.len() as u64);
            if unlisted > 0 {
                println!("... and {unlisted} more in {}", r.path.display());
            }
        }
        let checked: u64 = batch.reports().iter().map(|r| r.checked).sum();
        let bad: u64 = batch.reports().iter().map(|r| r.checked - r.ok).sum();
        println!(
            "verified {} cache(s): {checked} entries checked, {bad} damaged",
            batch.done.len()
        );
    }
    Ok(if !batch.errors.is_empty() {
        code::FAILED
    } else if damaged {
        code::DAMAGE
    } else {
        code::OK
    })
}
