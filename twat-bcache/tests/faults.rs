//! Fault injection on a real LMDB folder: full disk, read-only folder, folder deleted or
//! permissions changed under a running cache, a full map that may not grow, and folders
//! that must be refused (symlink, another user's). In every case the calls return the
//! right values and the cache says what happened.
//!
//! Each scenario runs in a child process (this binary again, in child mode): LMDB
//! environments stay open for the life of a process, and some scenarios drop privileges.
//! Lines starting with `OBSERVED` are the fault report; `SKIPPED` says loudly what could
//! not run on this machine and why.
#![cfg(all(unix, feature = "lmdb"))]
#![allow(missing_docs)]

#[macro_use]
mod support;

use std::fs;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use support::*;
use twat_bcache::{CacheStats, LmdbCache};

fn value_of(k: u64) -> Vec<u8> {
    (0..16 << 10).map(|i| (i as u64 ^ k) as u8).collect()
}

fn open(dir: &Path, folder: &str) -> LmdbCache<u64, Vec<u8>> {
    LmdbCache::builder()
        .cache_dir(dir)
        .folder_name(folder)
        .name(folder)
        .build()
        .unwrap()
}

/// Calls `keys` through the cache; every value must be right. Returns how many were
/// computed (the rest were hits).
fn exercise(c: &LmdbCache<u64, Vec<u8>>, keys: impl IntoIterator<Item = u64>) -> usize {
    let computed = AtomicUsize::new(0);
    for k in keys {
        let v = c.get_or_insert_with(k, || {
            computed.fetch_add(1, Ordering::Relaxed);
            value_of(k)
        });
        assert_eq!(v, value_of(k), "key {k}");
    }
    computed.load(Ordering::Relaxed)
}

fn describe(s: &CacheStats) -> String {
    format!(
        "backend={} entries={} hits={} misses={} inserts={} evictions={} write_errors={} \
         read_errors={} last_error={:?} fallback_reason={:?}",
        s.backend,
        s.entries,
        s.hits,
        s.misses,
        s.inserts,
        s.evictions,
        s.write_errors,
        s.read_errors,
        s.last_error,
        s.fallback_reason
    )
}

// ---------------------------------------------------------------- full disk

#[test]
fn full_disk_child() {
    let Some(dir) = as_child("full_disk_child") else {
        return;
    };
    let mode = std::env::var("FAULT_MODE").unwrap();
    let c = open(&dir, "full");
    assert_eq!(exercise(&c, 0..4), 4);
    let data = dir.join("full/data.mdb");
    match mode.as_str() {
        "tmpfs" => {
            let n = fill(&dir);
            observed!("full disk (tmpfs 1 MiB): filled with {n} more bytes");
        }
        _ => {
            let size = fs::metadata(&data).unwrap().len();
            limit_file_size(size);
            observed!("full disk (RLIMIT_FSIZE = {size} bytes, the size of data.mdb)");
        }
    }
    let computed = exercise(&c, 100..110);
    assert_eq!(computed, 10);
    let s = c.stats();
    observed!("full disk: 10 new keys, values right; {}", describe(&s));
    assert!(s.write_errors > 0, "the failed writes are counted");
    assert!(s.last_error.is_some());
    assert_eq!(
        exercise(&c, 0..4),
        0,
        "entries stored before the disk filled still hit"
    );
    // Room again: the cache recovers.
    match mode.as_str() {
        "tmpfs" => fs::remove_file(dir.join("filler")).unwrap(),
        _ => limit_file_size(u64::MAX),
    }
    let before = c.stats().write_errors;
    exercise(&c, 200..203);
    let s = c.stats();
    observed!("full disk, space freed: {}", describe(&s));
    assert_eq!(
        s.write_errors, before,
        "writes succeed again once there is room"
    );
    assert_eq!(exercise(&c, 200..203), 0, "and are read back");
}

#[test]
fn full_disk() {
    if in_child() {
        return;
    }
    let dir = shared_tempdir();
    let mnt = dir.path().join("fs");
    match Tmpfs::mount(&mnt, 1 << 20) {
        Ok(fs_) => {
            let mut c = child("full_disk_child", fs_.path());
            c.env("FAULT_MODE", "tmpfs");
            run(c, "full disk on tmpfs");
        }
        Err(why) => {
            skip(
                "full_disk (tmpfs)",
                &format!("{why}; using RLIMIT_FSIZE in a child instead"),
            );
            fs::create_dir_all(&mnt).unwrap();
            let mut c = child("full_disk_child", &mnt);
            c.env("FAULT_MODE", "rlimit");
            run(c, "full disk by RLIMIT_FSIZE");
        }
    }
}

// ---------------------------------------------------------------- read-only folder

#[test]
fn populate_child() {
    let Some(dir) = as_child("populate_child") else {
        return;
    };
    let c = open(&dir, "ro");
    assert_eq!(exercise(&c, 0..4), 4);
}

#[test]
fn read_only_open_child() {
    let Some(dir) = as_child("read_only_open_child") else {
        return;
    };
    let how = std::env::var("FAULT_MODE").unwrap();
    let c = open(&dir, "ro");
    let computed = exercise(&c, 0..8);
    let again = exercise(&c, 0..8);
    let s = c.stats();
    observed!(
        "read-only folder at open ({how}): values right; computed {computed} of 8, then {again} of 8 again; {}",
        describe(&s)
    );
    assert_eq!(again, 0, "whatever serves, it caches");
    if s.backend.is_memory() {
        assert!(s.fallback_reason.is_some());
    }
}

#[test]
fn read_only_folder() {
    if in_child() {
        return;
    }
    // 1. A read-only mount (root): the most faithful read-only folder.
    let dir = shared_tempdir();
    let mnt = dir.path().join("fs");
    match Tmpfs::mount(&mnt, 8 << 20) {
        Ok(fs_) => {
            run(child("populate_child", fs_.path()), "populate");
            fs_.remount(true).expect("remount read-only");
            let mut c = child("read_only_open_child", fs_.path());
            c.env("FAULT_MODE", "read-only tmpfs");
            run(c, "open on a read-only mount");
        }
        Err(why) => skip("read_only_folder (read-only mount)", &why),
    }
    // 2. chmod 0500 on the folder and 0400 on its files, seen by an ordinary user (root
    //    ignores permission bits, so as root the child runs as nobody).
    let dir = shared_tempdir();
    let mut pop = child("populate_child", dir.path());
    let who = unprivileged(&mut pop);
    match pop.output() {
        Err(e) => skip(
            "read_only_folder (chmod)",
            &format!("cannot start a child as {who}: {e}"),
        ),
        Ok(out) => {
            echo("populate", &out);
            assert!(out.status.success(), "populate as {who}");
            let folder = dir.path().join("ro");
            for f in fs::read_dir(&folder).unwrap().flatten() {
                chmod(&f.path(), 0o400).unwrap();
            }
            chmod(&folder, 0o500).unwrap();
            let mut c = child("read_only_open_child", dir.path());
            unprivileged(&mut c);
            c.env("FAULT_MODE", format!("chmod 0500/0400, as {who}"));
            run(c, "open a chmod-ed folder");
            chmod(&folder, 0o700).unwrap();
        }
    }
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

#[test]
fn permissions_changed_while_open() {
    if in_child() {
        return;
    }
    let dir = shared_tempdir();
    let mut c = child("permissions_child", dir.path());
    let who = unprivileged(&mut c);
    match c.output() {
        Err(e) => skip(
            "permissions_changed_while_open",
            &format!("cannot start a child as {who}: {e}"),
        ),
        Ok(out) => {
            echo("permissions", &out);
            assert!(out.status.success(), "as {who}");
            let folder = dir.path().join("perm");
            chmod(&folder, 0o000).unwrap();
            let mut c = child("permissions_child_new_process", dir.path());
            unprivileged(&mut c);
            run(c, "another process, folder chmod 000");
            chmod(&folder, 0o700).unwrap();
        }
    }
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

// ------------------------------------------------ refused folders

fn assert_refused(c: &LmdbCache<u64, Vec<u8>>, what: &str, words: &str) {
    let s = c.stats();
    observed!("{what}: {}", describe(&s));
    assert!(c.backend().is_memory(), "{what}");
    let why = s.fallback_reason.unwrap();
    assert!(why.contains(words), "{what}: {why}");
    assert_eq!(exercise(c, 0..3), 3);
    assert_eq!(exercise(c, 0..3), 0, "memory still caches");
}

#[test]
fn symlinked_folder_falls_back_to_memory() {
    if in_child() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let elsewhere = dir.path().join("elsewhere");
    fs::create_dir(&elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, dir.path().join("linked")).unwrap();
    let c = open(dir.path(), "linked");
    assert_refused(&c, "a cache folder that is a symlink", "symbolic link");
    assert!(
        c.stats().fallback_reason.unwrap().contains("linked"),
        "names the folder"
    );
    assert_eq!(
        fs::read_dir(&elsewhere).unwrap().count(),
        0,
        "nothing written through the link"
    );

    // The root may be a symlink (e.g. ~/.cache on another disk).
    let root = dir.path().join("root-link");
    std::os::unix::fs::symlink(&elsewhere, &root).unwrap();
    let c = open(&root, "fine");
    assert_eq!(
        c.backend(),
        twat_bcache::Backend::Lmdb,
        "{:?}",
        c.stats().fallback_reason
    );
}

#[test]
fn folder_owned_by_another_user_falls_back_to_memory() {
    if in_child() {
        return;
    }
    if !is_root() {
        skip(
            "folder_owned_by_another_user_falls_back_to_memory",
            "not root: cannot chown a folder to another user",
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let theirs = dir.path().join("theirs");
    fs::create_dir(&theirs).unwrap();
    std::os::unix::fs::chown(&theirs, Some(12345), None).unwrap();
    let c = open(dir.path(), "theirs");
    assert_refused(
        &c,
        "a cache folder owned by uid 12345",
        "owned by uid 12345",
    );
    assert_eq!(
        fs::read_dir(&theirs).unwrap().count(),
        0,
        "nothing written there"
    );
}
