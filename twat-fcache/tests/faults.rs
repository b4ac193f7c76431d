//! Fault injection on a real file-cache folder: full disk, read-only folder, folder
//! deleted or permissions changed under a running cache, and folders that must be refused
//! (symlink, another user's). In every case the calls return the right values and the
//! cache says what happened.
//!
//! Scenarios that need an ordinary user (root ignores permission bits) or a file-size
//! rlimit run in a child process (this binary again, in child mode). Lines starting with
//! `OBSERVED` are the fault report; `SKIPPED` says loudly what could not run here and why.
//! The scenarios twat-bcache shares are written once in `twat_cache_testkit::faults`
//! and expanded by `fault_tests!` with the file store's hooks; the tests written out
//! here are its own.
#![cfg(all(unix, feature = "files"))]
#![allow(missing_docs)]

use std::fs;
use std::path::{Path, PathBuf};

use twat_cache_testkit::cache::CacheStats;
use twat_cache_testkit::child::{as_child, in_child};
use twat_cache_testkit::faults::{self, FullDisk, describe, exercise};
use twat_cache_testkit::inject::{Tmpfs, chmod, permissions_bite};
use twat_cache_testkit::observed;

/// The cache the shared scenarios run on.
type Tested<V> = twat_fcache::FileCache<u64, V>;

/// The cache the scenarios run on.
type Cache = Tested<Vec<u8>>;

fn open(dir: &Path, folder: &str) -> Cache {
    faults::open(dir, folder)
}

/// Temporary `.part` files left anywhere below `dir`.
fn parts_below(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(items) = fs::read_dir(&d) else {
            continue;
        };
        for item in items.flatten() {
            let p = item.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.to_string_lossy().ends_with(".part") {
                out.push(p);
            }
        }
    }
    out
}

twat_cache_testkit::fault_tests! {
    cache: Cache,
    full_disk: FullDisk {
        file_size_limit: |_| (8 << 10, "8 KiB; entries are 16 KiB".into()),
        failed_writes: every_failed_write_counted,
    },
    read_only_while_mounted: read_only_while_running,
    after_permissions_child: |_| {},
}

/// After ten writes failed on a full disk.
fn every_failed_write_counted(dir: &Path, s: &CacheStats) {
    if std::env::var("FAULT_MODE").as_deref() == Ok("tmpfs") {
        // A full disk: removing the oldest files makes room, and the cache keeps caching.
        assert!(s.evictions > 0, "evicted to make room: {s:?}");
    } else {
        // A per-file size limit: nothing can make room; every failed write is counted.
        assert_eq!(s.write_errors, 10, "every failed write is counted");
    }
    assert_eq!(
        parts_below(&dir.join("full")),
        Vec::<PathBuf>::new(),
        "no temporary file left"
    );
}

/// Made read-only while the cache runs (nothing is held open, so the remount works; done
/// in this process).
fn read_only_while_running(fs_: &Tmpfs) {
    fs_.remount(false).unwrap();
    let c = open(fs_.path(), "running");
    assert_eq!(exercise(&c, 0..4), 4);
    fs_.remount(true).expect("remount read-only");
    let old = exercise(&c, 0..4);
    let new = exercise(&c, 10..14);
    let s = c.stats();
    observed!(
        "read-only while running (tmpfs remounted ro): values right; recomputed {old} of 4 old keys, \
         computed {new} new; {}",
        describe(&s)
    );
    assert_eq!(old, 0, "reads still work");
    assert_eq!(s.write_errors, 4);
    assert!(s.last_error.unwrap().contains("Read-only"));
    fs_.remount(false).unwrap();
    assert_eq!(exercise(&c, 10..14), 4, "computed again, and now stored");
    assert_eq!(exercise(&c, 10..14), 0);
    assert_eq!(c.stats().write_errors, 4);
}

// ------------------------------------------------ permissions changed while open

#[test]
fn permissions_child() {
    let Some(dir) = as_child("permissions_child") else {
        return;
    };
    assert!(
        permissions_bite(&dir),
        "this child must be an ordinary user"
    );
    let c = open(&dir, "perm");
    assert_eq!(exercise(&c, 0..4), 4);

    // One entry file made unreadable.
    let victim = match c.inner() {
        twat_fcache::Inner::Store(store) => store.entry_path(&c.stored_key(&0).unwrap()),
        _ => unreachable!(),
    };
    chmod(&victim, 0o000).unwrap();
    let recomputed = exercise(&c, 0..1);
    let s = c.stats();
    observed!(
        "permissions: one entry file chmod 000: value right, recomputed {recomputed}; {}",
        describe(&s)
    );
    assert_eq!(s.read_errors, 1);
    assert!(
        victim.exists(),
        "an unreadable file is not deleted as if damaged"
    );
    assert_eq!(
        exercise(&c, 0..1),
        0,
        "rewritten (renamed over) and read back"
    );

    // The whole folder made inaccessible.
    let folder = dir.join("perm");
    chmod(&folder, 0o000).unwrap();
    let old = exercise(&c, 0..4);
    let new = exercise(&c, 10..14);
    let s = c.stats();
    observed!(
        "permissions changed under a running cache (chmod 000 folder): values right; recomputed \
         {old} of 4 old keys, computed {new} of 4 new; {}",
        describe(&s)
    );
    assert!(s.read_errors > 1 && s.write_errors > 0);
    chmod(&folder, 0o700).unwrap();
    let before = c.stats().write_errors;
    assert_eq!(exercise(&c, 10..14), 4, "stored again once allowed");
    assert_eq!(exercise(&c, 10..14), 0);
    assert_eq!(c.stats().write_errors, before);
}

// ------------------------------------------------ folder deleted while open

#[test]
fn folder_deleted_while_open() {
    if in_child() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let c = open(dir.path(), "gone");
    assert_eq!(exercise(&c, 0..4), 4);
    fs::remove_dir_all(dir.path().join("gone")).unwrap();
    let old = exercise(&c, 0..4);
    let new = exercise(&c, 10..14);
    let again = exercise(&c, 0..4) + exercise(&c, 10..14);
    let s = c.stats();
    observed!(
        "folder deleted under a running cache (rm -rf): values right; recomputed {old} of 4 old keys, \
         computed {new} new, then {again} of 8 again; {}",
        describe(&s)
    );
    assert_eq!(old, 4);
    assert_eq!(again, 0, "the next writes recreate the folder");
    assert_eq!(s.write_errors, 0);
    assert!(
        s.last_error.is_some_and(|e| e.contains("deleted")),
        "the deletion is reported"
    );
    assert!(
        dir.path().join("gone/twat-cache.files.json").is_file(),
        "manifest rewritten"
    );
    let c2 = open(dir.path(), "gone");
    assert_eq!(c2.backend(), twat_fcache::Backend::Files);
    assert_eq!(
        exercise(&c2, 0..4),
        0,
        "a new cache sees the rewritten entries"
    );
}
