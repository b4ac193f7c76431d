//! Fault injection on a real LMDB folder: full disk, read-only folder, folder deleted or
//! permissions changed under a running cache, a full map that may not grow, and folders
//! that must be refused (symlink, another user's). In every case the calls return the
//! right values and the cache says what happened.
//!
//! Each scenario runs in a child process (this binary again, in child mode): LMDB
//! environments stay open for the life of a process, and some scenarios drop privileges.
//! Lines starting with `OBSERVED` are the fault report; `SKIPPED` says loudly what could
//! not run on this machine and why. The scenarios twat-fcache shares are written once in
//! `twat_cache_testkit::faults` and expanded by `fault_tests!` with LMDB's hooks; the
//! tests written out here are LMDB's own.
#![cfg(all(unix, feature = "lmdb"))]
#![allow(missing_docs)]

use std::fs;
use std::path::Path;
use std::time::Duration;

use twat_bcache::LmdbCache;
use twat_cache_testkit::child::{as_child, child, in_child, run};
use twat_cache_testkit::faults::{self, FullDisk, describe, exercise};
use twat_cache_testkit::inject::{chmod, permissions_bite, unprivileged};
use twat_cache_testkit::observed;

/// The cache the shared scenarios run on.
type Tested<V> = twat_bcache::LmdbCache<u64, V>;

/// The cache the scenarios run on.
type Cache = Tested<Vec<u8>>;

fn open(dir: &Path, folder: &str) -> Cache {
    faults::open(dir, folder)
}

twat_cache_testkit::fault_tests! {
    cache: Cache,
    full_disk: FullDisk {
        file_size_limit: data_file_size,
        // LMDB reuses the pages of the entries it evicts: the full map or disk makes room.
        failed_writes: |_, s| assert!(s.evictions > 0, "evicted to make room: {s:?}"),
    },
    read_only_while_mounted: |_| {},
    after_permissions_child: another_process_opens_it,
}

/// A full disk by `RLIMIT_FSIZE`: no file may grow past what `data.mdb` is now.
fn data_file_size(dir: &Path) -> (u64, String) {
    let size = fs::metadata(dir.join("full/data.mdb")).unwrap().len();
    (size, format!("{size} bytes, the size of data.mdb"))
}

// ------------------------------------------------ permissions changed while open

#[test]
fn permissions_child() {
    let Some(dir) = as_child("permissions_child") else {
        return;
    };
    let c = open(&dir, "perm");
    assert_eq!(exercise(&c, 0..4), 4);
    let folder = dir.join("perm");
    assert!(
        permissions_bite(&dir),
        "this child must be an ordinary user"
    );
    chmod(&folder.join("data.mdb"), 0o000).unwrap();
    chmod(&folder, 0o000).unwrap();
    let old = exercise(&c, 0..4);
    let new = exercise(&c, 10..14);
    let again = exercise(&c, 10..14);
    let s = c.stats();
    observed!(
        "permissions changed under a running cache (chmod 000 folder and data.mdb): values right; \
         recomputed {old} of 4 old keys, computed {new} of 4 new, then {again} of 4 again; {}",
        describe(&s)
    );
    // A second cache object on the folder in this process shares the open environment.
    let c2 = open(&dir, "perm");
    let s2 = c2.stats();
    observed!(
        "permissions changed: a new cache on the same folder in the same process: {}",
        describe(&s2)
    );
    assert_eq!(exercise(&c2, 0..4), 0);
    chmod(&folder, 0o700).unwrap();
    chmod(&folder.join("data.mdb"), 0o600).unwrap();
}

#[test]
fn permissions_child_new_process() {
    let Some(dir) = as_child("permissions_child_new_process") else {
        return;
    };
    let c = open(&dir, "perm");
    let computed = exercise(&c, 0..4);
    let s = c.stats();
    observed!(
        "permissions changed: another process opening the chmod-000 folder: values right, computed {computed} of 4; {}",
        describe(&s)
    );
    assert!(s.backend.is_memory(), "it cannot open the folder");
    assert!(s.fallback_reason.is_some());
}

/// After `permissions_child`: another process opens the folder made inaccessible.
fn another_process_opens_it(dir: &Path) {
    let folder = dir.join("perm");
    chmod(&folder, 0o000).unwrap();
    let mut c = child("permissions_child_new_process", dir);
    unprivileged(&mut c);
    run(c, "another process, folder chmod 000");
    chmod(&folder, 0o700).unwrap();
}

// ------------------------------------------------ folder deleted while open

#[test]
fn deleted_child() {
    let Some(dir) = as_child("deleted_child") else {
        return;
    };
    let c = open(&dir, "gone");
    assert_eq!(exercise(&c, 0..4), 4);
    fs::remove_dir_all(dir.join("gone")).unwrap();
    let old = exercise(&c, 0..4);
    let new = exercise(&c, 10..14);
    let again = exercise(&c, 10..14);
    std::thread::sleep(Duration::from_millis(2500)); // the flusher checks every second
    let s = c.stats();
    observed!(
        "folder deleted under a running cache (rm -rf): values right; recomputed {old} of 4 old keys, \
         computed {new} new, then {again} again; {}",
        describe(&s)
    );
    assert_eq!(
        (old, again),
        (0, 0),
        "the open (deleted) database still serves"
    );
    assert!(
        s.last_error
            .as_deref()
            .is_some_and(|e| e.contains("deleted")),
        "the deletion is reported"
    );
    let c2 = open(&dir, "gone");
    observed!(
        "folder deleted: a new cache on the recreated folder in the same process: {}",
        describe(&c2.stats())
    );
    assert_eq!(exercise(&c2, 10..14), 0);
}

#[test]
fn deleted_child_next_process() {
    let Some(dir) = as_child("deleted_child_next_process") else {
        return;
    };
    let c = open(&dir, "gone");
    let computed = exercise(&c, 0..4);
    let s = c.stats();
    observed!(
        "folder deleted: the next process recreates it: computed {computed} of 4; {}",
        describe(&s)
    );
    assert_eq!(s.backend, twat_bcache::Backend::Lmdb);
    assert_eq!(exercise(&c, 0..4), 0);
}

#[test]
fn folder_deleted_while_open() {
    if in_child() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    run(child("deleted_child", dir.path()), "folder deleted");
    run(
        child("deleted_child_next_process", dir.path()),
        "next process",
    );
}

// ------------------------------------------------ LMDB map full, growth impossible

#[test]
fn map_full_child() {
    let Some(dir) = as_child("map_full_child") else {
        return;
    };
    let small = |name: &str| {
        LmdbCache::<u64, Vec<u8>>::builder()
            .cache_dir(&dir)
            .folder_name("full-map")
            .name(name)
            .map_size(256 << 10)
            .max_map_size(256 << 10)
            .build()
            .unwrap()
    };
    let a = small("a");
    // 48 values of 16 KiB (768 KiB) through a 256 KiB map that may not grow.
    assert_eq!(exercise(&a, 0..48), 48);
    let s = a.stats();
    observed!(
        "LMDB map full (256 KiB, max_map_size 256 KiB), 48 x 16 KiB values: values right; {}",
        describe(&s)
    );
    assert!(s.evictions > 0, "the oldest entries make room");
    assert!(s.entries > 0 && s.entries < 48);
    assert_eq!(exercise(&a, 47..48), 0, "the newest is stored");

    // One value larger than the whole map: not stored, and nothing evicted for it.
    let entries_before = a.len();
    let big = vec![7u8; 1 << 20];
    let got = a.get_or_insert_with(1000, || big.clone());
    assert_eq!(got, big);
    let s = a.stats();
    observed!(
        "LMDB map full: one 1 MiB value (larger than the map): returned right; {}",
        describe(&s)
    );
    assert!(s.write_errors >= 1);
    assert_eq!(
        a.len(),
        entries_before,
        "an impossible value evicts nothing"
    );

    // Another namespace when the map is full of `a`'s entries: it cannot evict them.
    let b = small("b");
    let computed = exercise(&b, 0..4);
    let s = b.stats();
    observed!(
        "LMDB map full of another cache's entries: second cache computed {computed} of 4, values right; {}",
        describe(&s)
    );
    // Not wedged: `a` still stores.
    let before = a.stats().write_errors;
    assert_eq!(exercise(&a, 500..502), 2);
    assert_eq!(exercise(&a, 500..502), 0);
    assert_eq!(a.stats().write_errors, before);
}

#[test]
fn map_full_cannot_grow() {
    if in_child() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    run(child("map_full_child", dir.path()), "map full");
}
