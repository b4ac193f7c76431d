//! The `twat-cache` binary against real caches in a temporary `TWAT_CACHE_DIR`: every
//! subcommand, text and `--json`, exit codes, and caches in use while it runs.
#![cfg(all(feature = "lmdb", feature = "files"))]
#![allow(missing_docs)]

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use serde_json::Value;
use twat_bcache::heed::types::Bytes;
use twat_bcache::heed::{CommitOrAbort, Database};
use twat_bcache::{Inner as LmdbInner, LmdbCache};
use twat_fcache::{FileCache, Inner as FileInner};

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(root: &Path, args: &[&str]) -> Out {
    let out = Command::new(env!("CARGO_BIN_EXE_twat-cache"))
        .args(args)
        .env("TWAT_CACHE_DIR", root)
        .output()
        .expect("the binary runs");
    Out {
        code: out.status.code().expect("exited, not killed"),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

/// Runs with `--json` and parses stdout (which must be one JSON document).
fn run_json(root: &Path, args: &[&str]) -> (i32, Value) {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let out = run(root, &all);
    let v = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {}", out.stdout));
    (out.code, v)
}

fn lmdb(root: &Path, folder: &str, name: &str, ttl: Option<Duration>) -> LmdbCache<u64, String> {
    let mut b = LmdbCache::builder()
        .cache_dir(root)
        .folder_name(folder)
        .name(name)
        .register(false);
    if let Some(t) = ttl {
        b = b.ttl(t);
    }
    let c = b.build().unwrap();
    assert_eq!(c.backend(), twat_bcache::Backend::Lmdb);
    c
}

fn files(root: &Path, folder: &str, name: &str, ttl: Option<Duration>) -> FileCache<u64, String> {
    let mut b = FileCache::builder()
        .cache_dir(root)
        .folder_name(folder)
        .name(name)
        .register(false);
    if let Some(t) = ttl {
        b = b.ttl(t);
    }
    let c = b.build().unwrap();
    assert_eq!(c.backend(), twat_fcache::Backend::Files);
    c
}

fn file_path(c: &FileCache<u64, String>, k: u64) -> PathBuf {
    let FileInner::Store(store) = c.inner() else {
        panic!("not on files")
    };
    store.entry_path(&c.stored_key(&k).unwrap())
}

fn age_file(path: &Path, by: Duration) {
    File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(SystemTime::now() - by)
        .unwrap();
}

/// geo (lmdb: alpha × 3, beta × 1), tiles (files: gamma × 2), notes (not a cache).
fn populate(
    root: &Path,
) -> (
    LmdbCache<u64, String>,
    LmdbCache<u64, String>,
    FileCache<u64, String>,
) {
    let alpha = lmdb(root, "geo", "alpha", None);
    let beta = lmdb(root, "geo", "beta", None);
    let gamma = files(root, "tiles", "gamma", None);
    for k in 0..3 {
        alpha.insert(k, format!("alpha {k}"));
    }
    beta.insert(1, "beta".into());
    gamma.insert(1, "one".into());
    gamma.insert(2, "two".into());
    fs::create_dir(root.join("notes")).unwrap();
    fs::write(root.join("notes/todo.txt"), "not a cache").unwrap();
    (alpha, beta, gamma)
}

fn folder<'a>(list: &'a Value, name: &str) -> &'a Value {
    list["folders"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"].as_str().unwrap().ends_with(name))
        .unwrap_or_else(|| panic!("{name} not listed: {list:#}"))
}

#[test]
fn path_prints_the_root_alone() {
    let root = tempfile::tempdir().unwrap();
    let out = run(root.path(), &["path"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, format!("{}\n", root.path().display()));
    let (code, v) = run_json(root.path(), &["path"]);
    assert_eq!(code, 0);
    assert_eq!(v["root"].as_str().unwrap(), root.path().to_str().unwrap());
}

#[test]
fn list_in_text_and_json() {
    let root = tempfile::tempdir().unwrap();
    let _caches = populate(root.path());
    let out = run(root.path(), &["list"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(
        lines[0].starts_with("FOLDER") && lines[0].contains("ENTRIES"),
        "{}",
        out.stdout
    );
    let row = |name: &str| {
        lines
            .iter()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no {name} row in\n{}", out.stdout))
            .split_whitespace()
            .collect::<Vec<_>>()
    };
    assert_eq!(row("geo")[1..4], ["lmdb", "2", "4"]);
    assert_eq!(row("tiles")[1..4], ["files", "1", "2"]);
    assert_eq!(row("notes")[1..4], ["unknown", "-", "-"]);
    assert!(out.stdout.contains("3 folder(s)"), "{}", out.stdout);

    let (code, v) = run_json(root.path(), &["list"]);
    assert_eq!(code, 0);
    assert_eq!(v["folders"].as_array().unwrap().len(), 3);
    let geo = folder(&v, "geo");
    assert_eq!(geo["kind"], "lmdb");
    assert_eq!(geo["format_version"], 2);
    assert_eq!(geo["entries"], 4);
    assert_eq!(geo["functions"].as_array().unwrap().len(), 2);
    assert!(geo["bytes"].as_u64().unwrap() > 0);
    assert!(geo["oldest_ms"].as_u64().unwrap() <= geo["newest_ms"].as_u64().unwrap());
    let tiles = folder(&v, "tiles");
    assert_eq!(
        (tiles["kind"].as_str(), tiles["entries"].as_u64()),
        (Some("files"), Some(2))
    );
    assert_eq!(folder(&v, "notes")["kind"], "unknown");
    assert_eq!(v["errors"].as_array().unwrap().len(), 0);

    // An empty or missing root lists nothing, successfully.
    let empty = root.path().join("nothing-here");
    let out = run(&empty, &["list"]);
    assert_eq!(out.code, 0);
    assert!(out.stdout.contains("no cache folders"), "{}", out.stdout);
    assert!(!empty.exists(), "list creates nothing");
}

#[test]
fn stats_without_a_folder_reports_every_cache_under_the_root() {
    let root = tempfile::tempdir().unwrap();
    let _caches = populate(root.path());
    let out = run(root.path(), &["stats"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("kind      lmdb"), "{}", out.stdout);
    assert!(out.stdout.contains("kind      files"), "{}", out.stdout);
    assert!(
        !out.stdout.contains("notes"),
        "folders without a manifest are skipped: {}",
        out.stdout
    );

    let (code, v) = run_json(root.path(), &["stats"]);
    assert_eq!(code, 0);
    let kinds: Vec<&str> = v["folders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.len(), 2, "{v}");
    assert!(kinds.contains(&"lmdb") && kinds.contains(&"files"), "{v}");
    assert_eq!(v["root"].as_str(), root.path().to_str());

    // An empty root has nothing to report, successfully.
    let out = run(&root.path().join("nothing-here"), &["stats"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("no caches under"), "{}", out.stdout);
}

#[test]
fn stats_of_one_folder_per_function() {
    let root = tempfile::tempdir().unwrap();
    let _caches = populate(root.path());
    let out = run(root.path(), &["stats", "geo"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("kind      lmdb (format 2)"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("entries   4 (0 expired)"),
        "{}",
        out.stdout
    );
    let alpha = out.stdout.lines().find(|l| l.starts_with("alpha")).unwrap();
    assert_eq!(alpha.split_whitespace().nth(1), Some("3"));
    assert!(out.stdout.contains("Z ("), "ISO times: {}", out.stdout);

    let (code, v) = run_json(root.path(), &["stats", "tiles"]);
    assert_eq!(code, 0);
    let tiles = &v["folders"][0];
    assert_eq!(tiles["kind"], "files");
    assert_eq!(tiles["functions"][0]["function"], "gamma");
    assert_eq!(tiles["functions"][0]["entries"], 2);
    // A path works as well as a name.
    let by_path = root.path().join("geo");
    let (code, v) = run_json(root.path(), &["stats", by_path.to_str().unwrap()]);
    assert_eq!((code, v["folders"][0]["entries"].as_u64()), (0, Some(4)));
}

#[test]
fn clear_one_function_then_everything() {
    let root = tempfile::tempdir().unwrap();
    let (alpha, beta, gamma) = populate(root.path());
    let (code, v) = run_json(root.path(), &["clear", "geo", "--function", "alpha"]);
    assert_eq!(code, 0, "{v:#}");
    let r = &v["folders"][0];
    assert_eq!(
        (r["removed"].as_u64(), r["namespaces"].as_u64()),
        (Some(3), Some(1))
    );
    assert_eq!(alpha.len(), 0);
    assert_eq!(
        beta.get(&1).as_deref(),
        Some("beta"),
        "other functions keep theirs"
    );

    let out = run(root.path(), &["clear", "geo", "--function", "nobody"]);
    assert_eq!(out.code, 0);
    assert!(
        out.stderr.contains("no function named `nobody`"),
        "{}",
        out.stderr
    );

    let out = run(root.path(), &["clear", "tiles"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.starts_with("removed 2 entries"),
        "{}",
        out.stdout
    );
    assert_eq!(gamma.get(&1), None);
    let out = run(root.path(), &["clear", "geo"]);
    assert!(
        out.stdout.starts_with("removed 1 entries"),
        "{}",
        out.stdout
    );
    assert_eq!(beta.len(), 0);
    let (_, v) = run_json(root.path(), &["list"]);
    assert_eq!(folder(&v, "geo")["entries"], 0);
    assert_eq!(folder(&v, "tiles")["entries"], 0);
}

#[test]
fn prune_removes_expired_entries_and_old_temp_files_only() {
    let root = tempfile::tempdir().unwrap();
    let short_l = lmdb(root.path(), "geo", "short", Some(Duration::from_millis(50)));
    let long_l = lmdb(root.path(), "geo", "long", None);
    let short_f = files(
        root.path(),
        "tiles",
        "short",
        Some(Duration::from_millis(50)),
    );
    short_l.insert(1, "x".into());
    long_l.insert(1, "kept".into());
    short_f.insert(1, "x".into());
    short_f.insert(2, "x".into());
    std::thread::sleep(Duration::from_millis(150));
    let fan = file_path(&short_f, 1).parent().unwrap().to_path_buf();
    let old_tmp = fan.join(".tmp-leftover.part");
    let new_tmp = fan.join(".tmp-inflight.part");
    fs::write(&old_tmp, b"half an entry").unwrap();
    fs::write(&new_tmp, b"being written").unwrap();
    age_file(&old_tmp, Duration::from_secs(3600));
    fs::create_dir(root.path().join("notes")).unwrap();
    let foreign = root.path().join("notes/.tmp-mine");
    fs::write(&foreign, b"not ours").unwrap();
    age_file(&foreign, Duration::from_secs(3600));

    let (code, v) = run_json(root.path(), &["prune"]);
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(
        v["folders"].as_array().unwrap().len(),
        2,
        "unknown folders are skipped"
    );
    let geo = folder(&v, "geo");
    assert_eq!(geo["expired"], 1, "{v:#}");
    let tiles = folder(&v, "tiles");
    assert_eq!(
        (tiles["expired"].as_u64(), tiles["temp_files"].as_u64()),
        (Some(2), Some(1))
    );
    assert!(!old_tmp.exists() && new_tmp.exists() && foreign.exists());
    assert_eq!(long_l.get(&1).as_deref(), Some("kept"));
    assert_eq!(short_l.len(), 0);

    // Text, one folder; nothing left to do.
    let out = run(root.path(), &["prune", "tiles"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("EXPIRED") && out.stdout.contains("0 removed"),
        "{}",
        out.stdout
    );
    // Named explicitly, a folder without a manifest is refused.
    let out = run(root.path(), &["prune", "notes"]);
    assert_eq!(out.code, 3, "{}", out.stdout);
    assert!(foreign.exists());
}

#[test]
fn verify_removes_damage_and_exits_1_then_0() {
    let root = tempfile::tempdir().unwrap();
    let (alpha, beta, gamma) = populate(root.path());
    // A flipped bit in one file entry.
    let p = file_path(&gamma, 1);
    let mut bytes = fs::read(&p).unwrap();
    let at = bytes.len() - 9;
    bytes[at] ^= 0x20;
    fs::write(&p, bytes).unwrap();
    // A damaged LMDB value, written through heed.
    let LmdbInner::Store(store) = alpha.inner() else {
        panic!()
    };
    let env = store.env().clone();
    let rtxn = env.read_txn().unwrap();
    let db: Database<'static, Bytes, Bytes> = env
        .open_databases_and_commit(rtxn, |dbo, rtxn| {
            dbo.open_database::<Bytes, Bytes>(rtxn, Some("entries"))
                .map(CommitOrAbort::<_, ()>::Commit)
        })
        .unwrap()
        .unwrap_commit()
        .unwrap();
    {
        let mut w = env.write_txn().unwrap();
        let (k, mut v) = {
            let (k, v) = db.first(&w).unwrap().unwrap();
            (k.to_vec(), v.to_vec())
        };
        let at = v.len() / 2;
        v[at] ^= 0xff;
        db.put(&mut w, &k, &v).unwrap();
        w.commit().unwrap();
    }

    let out = run(root.path(), &["verify"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("removed: "), "{}", out.stdout);
    assert!(out.stdout.contains("2 damaged"), "{}", out.stdout);
    assert!(!p.exists());
    assert_eq!(
        alpha.len() + beta.len(),
        3,
        "LMDB counts follow the removal"
    );
    assert_eq!(gamma.get(&1), None);
    assert_eq!(gamma.get(&2).as_deref(), Some("two"));

    let (code, v) = run_json(root.path(), &["verify"]);
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["damage_found"], false);
    assert_eq!(folder(&v, "geo")["checked"], 3);
    assert_eq!(folder(&v, "tiles")["ok"], 1);

    // One folder, JSON, with damage again.
    let p = file_path(&gamma, 2);
    fs::write(&p, b"TW garbage").unwrap();
    let (code, v) = run_json(root.path(), &["verify", "tiles"]);
    assert_eq!(code, 1, "{v:#}");
    assert_eq!(v["damage_found"], true);
    assert_eq!(v["folders"][0]["removed"], 1);
    assert_eq!(
        v["folders"][0]["damaged"][0]["location"],
        p.to_str().unwrap()
    );
}

#[test]
fn missing_and_foreign_folders_exit_3_untouched() {
    let root = tempfile::tempdir().unwrap();
    let _caches = populate(root.path());
    for args in [
        &["stats", "nosuch"][..],
        &["clear", "nosuch"],
        &["prune", "nosuch"],
        &["verify", "nosuch"],
    ] {
        let out = run(root.path(), args);
        assert_eq!(out.code, 3, "{args:?}: {}", out.stderr);
        assert!(
            out.stderr
                .contains(&root.path().join("nosuch").display().to_string()),
            "{args:?}: the error names the path: {}",
            out.stderr
        );
    }
    assert!(!root.path().join("nosuch").exists());
    let out = run(root.path(), &["clear", "notes"]);
    assert_eq!(out.code, 3);
    assert!(out.stderr.contains("no manifest"), "{}", out.stderr);
    assert!(root.path().join("notes/todo.txt").exists());

    let (code, v) = run_json(root.path(), &["stats", "nosuch"]);
    assert_eq!(code, 3);
    assert_eq!(v["error"]["exit_code"], 3);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no such folder")
    );

    // Usage errors are clap's: exit 2.
    assert_eq!(run(root.path(), &["clear"]).code, 2);
    assert_eq!(run(root.path(), &["frobnicate"]).code, 2);
    let help = run(root.path(), &["--help"]);
    assert_eq!(help.code, 0);
    assert!(help.stdout.contains("Exit codes:"), "{}", help.stdout);
}

#[test]
fn clear_while_other_threads_keep_using_the_caches() {
    let root = tempfile::tempdir().unwrap();
    let l = lmdb(root.path(), "busy", "writer", None);
    let f = files(root.path(), "busyfiles", "writer", None);
    let stop = Arc::new(AtomicBool::new(false));
    let written = Arc::new(AtomicU64::new(0));
    let worker = {
        let (l, f, stop, written) = (l.clone(), f.clone(), stop.clone(), written.clone());
        std::thread::spawn(move || {
            let mut k = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let v = format!("value {k}");
                l.insert(k, v.clone());
                f.insert(k, v.clone());
                // A value read back is always the right one, cleared or not.
                if let Some(got) = l.get(&k) {
                    assert_eq!(got, v);
                }
                if let Some(got) = f.get(&k) {
                    assert_eq!(got, v);
                }
                k += 1;
                written.store(k, Ordering::Relaxed);
            }
        })
    };
    while written.load(Ordering::Relaxed) < 50 {
        std::thread::sleep(Duration::from_millis(5));
    }
    for _ in 0..3 {
        for (folder, function) in [("busy", "writer"), ("busyfiles", "writer")] {
            let out = run(root.path(), &["clear", folder, "--function", function]);
            assert_eq!(out.code, 0, "{}", out.stderr);
        }
        let out = run(root.path(), &["clear", "busy"]);
        assert_eq!(out.code, 0, "{}", out.stderr);
    }
    stop.store(true, Ordering::Relaxed);
    worker
        .join()
        .expect("the writer saw no wrong value and did not panic");
    // Both caches still work, and the folders still verify clean.
    l.insert(u64::MAX, "last".into());
    f.insert(u64::MAX, "last".into());
    assert_eq!(l.get(&u64::MAX).as_deref(), Some("last"));
    assert_eq!(f.get(&u64::MAX).as_deref(), Some("last"));
    let out = run(root.path(), &["verify"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let (_, v) = run_json(root.path(), &["stats", "busy"]);
    assert_eq!(v["folders"][0]["entries"].as_u64(), Some(l.len() as u64));
}

#[test]
fn a_folder_with_both_kinds_is_two_caches() {
    // What `#[bcache(folder_name = "x")]` and `#[fcache(folder_name = "x")]` make.
    let root = tempfile::tempdir().unwrap();
    let l = lmdb(root.path(), "both", "in_lmdb", None);
    let f = files(root.path(), "both", "in_files", None);
    l.insert(1, "l".into());
    f.insert(1, "f".into());
    f.insert(2, "f".into());
    let (code, v) = run_json(root.path(), &["list"]);
    assert_eq!(code, 0);
    let rows: Vec<(&str, u64)> = v["folders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["kind"].as_str().unwrap(), r["entries"].as_u64().unwrap()))
        .collect();
    assert_eq!(rows, [("lmdb", 1), ("files", 2)]);
    let out = run(root.path(), &["stats", "both"]);
    assert!(
        out.stdout.contains("in_lmdb") && out.stdout.contains("in_files"),
        "{}",
        out.stdout
    );
    let (code, v) = run_json(root.path(), &["clear", "both", "--function", "in_files"]);
    assert_eq!(code, 0);
    let removed: Vec<u64> = v["folders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["removed"].as_u64().unwrap())
        .collect();
    assert_eq!(removed, [0, 2]);
    assert_eq!(l.get(&1).as_deref(), Some("l"));
    assert_eq!(f.get(&1), None);
    let out = run(root.path(), &["verify", "both"]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert!(out.stdout.contains("verified 2 cache(s)"), "{}", out.stdout);
}

/// `clear` from the CLI empties the memory tier (`l1`) of caches open in this process
/// within about a second (polled for up to 10 s on a loaded machine).
#[test]
fn clear_reaches_the_memory_tier_of_open_caches() {
    let root = tempfile::tempdir().unwrap();
    let l = LmdbCache::<u64, String>::builder()
        .cache_dir(root.path())
        .folder_name("tier-lmdb")
        .name("t")
        .l1(10)
        .register(false)
        .build()
        .unwrap();
    let f = FileCache::<u64, String>::builder()
        .cache_dir(root.path())
        .folder_name("tier-files")
        .name("t")
        .l1(10)
        .register(false)
        .build()
        .unwrap();
    l.insert(1, "one".into());
    f.insert(1, "one".into());
    assert_eq!(l.get(&1).as_deref(), Some("one"));
    assert_eq!(f.get(&1).as_deref(), Some("one"));
    assert_eq!((l.stats().l1_hits, f.stats().l1_hits), (1, 1));
    for folder in ["tier-lmdb", "tier-files"] {
        let out = run(root.path(), &["clear", folder]);
        assert_eq!(out.code, 0, "{}", out.stderr);
    }
    let since = std::time::Instant::now();
    while (l.get(&1).is_some() || f.get(&1).is_some()) && since.elapsed() < Duration::from_secs(10)
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!((l.get(&1), f.get(&1)), (None, None));
}
