//! Fault injection on a real file-cache folder: full disk, read-only folder, folder
//! deleted or permissions changed under a running cache, and folders that must be refused
//! (symlink, another user's). In every case the calls return the right values and the
//! cache says what happened.
//!
//! Scenarios that need an ordinary user (root ignores permission bits) or a file-size
//! rlimit run in a child process (this binary again, in child mode). Lines starting with
//! `OBSERVED` are the fault report; `SKIPPED` says loudly what could not run here and why.
#![cfg(all(unix, feature = "files"))]
#![allow(missing_docs)]

#[macro_use]
mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use support::*;
use twat_fcache::{CacheStats, FileCache};

fn value_of(k: u64) -> Vec<u8> {
    (0..16 << 10).map(|i| (i as u64 ^ k) as u8).collect()
}

fn open(dir: &Path, folder: &str) -> FileCache<u64, Vec<u8>> {
    FileCache::builder()
        .cache_dir(dir)
        .folder_name(folder)
        .name(folder)
        .register(false)
        .build()
        .unwrap()
}

/// Calls `keys` through the cache; every value must be right. Returns how many were
/// computed (the rest were hits).
fn exercise(c: &FileCache<u64, Vec<u8>>, keys: impl IntoIterator<Item = u64>) -> usize {
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
        "backend={} entries={} hits={} misses={} inserts={} write_errors={} read_errors={} \
         last_error={:?} fallback_reason={:?}",
        s.backend,
        s.entries,
        s.hits,
        s.misses,
        s.inserts,
        s.write_errors,
        s.read_errors,
        s.last_error,
        s.fallback_reason
    )
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

// ---------------------------------------------------------------- full disk

#[test]
fn full_disk_child() {
    let Some(dir) = as_child("full_disk_child") else {
        return;
    };
    let mode = std::env::var("FAULT_MODE").unwrap();
    let c = open(&dir, "full");
    assert_eq!(exercise(&c, 0..4), 4);
    match mode.as_str() {
        "tmpfs" => {
            let n = fill(&dir);
            observed!("full disk (tmpfs 1 MiB): filled with {n} more bytes");
        }
        _ => {
            limit_file_size(8 << 10);
            observed!("full disk (RLIMIT_FSIZE = 8 KiB; entries are 16 KiB)");
        }
    }
    assert_eq!(exercise(&c, 100..110), 10);
    let s = c.stats();
    observed!("full disk: 10 new keys, values right; {}", describe(&s));
    assert_eq!(s.write_errors, 10, "every failed write is counted");
    assert!(s.last_error.is_some());
    assert_eq!(
        exercise(&c, 0..4),
        0,
        "entries written before the disk filled still hit"
    );
    assert_eq!(
        parts_below(&dir.join("full")),
        Vec::<PathBuf>::new(),
        "no temporary file left"
    );
    match mode.as_str() {
        "tmpfs" => fs::remove_file(dir.join("filler")).unwrap(),
        _ => limit_file_size(u64::MAX),
    }
    exercise(&c, 200..203);
    let s = c.stats();
    observed!("full disk, space freed: {}", describe(&s));
    assert_eq!(
        s.write_errors, 10,
        "writes succeed again once there is room"
    );
    assert_eq!(exercise(&c, 200..203), 0);
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
    assert_eq!(exercise(&open(&dir, "ro"), 0..4), 4);
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
    let dir = shared_tempdir();
    let mnt = dir.path().join("fs");
    match Tmpfs::mount(&mnt, 8 << 20) {
        Ok(fs_) => {
            // 1. Opened on a read-only mount.
            run(child("populate_child", fs_.path()), "populate");
            fs_.remount(true).expect("remount read-only");
            let mut c = child("read_only_open_child", fs_.path());
            c.env("FAULT_MODE", "read-only tmpfs");
            run(c, "open on a read-only mount");
            fs_.remount(false).unwrap();

            // 2. Made read-only while the cache runs (nothing is held open, so the
            //    remount works; done in this process).
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
        Err(why) => skip("read_only_folder (read-only mount)", &why),
    }

    // 3. chmod 0500 on every folder and 0400 on every file, as an ordinary user.
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
            let mut dirs = vec![folder.clone()];
            let mut i = 0;
            while i < dirs.len() {
                for item in fs::read_dir(&dirs[i]).unwrap().flatten() {
                    if item.path().is_dir() {
                        dirs.push(item.path());
                    } else {
                        chmod(&item.path(), 0o400).unwrap();
                    }
                }
                i += 1;
            }
            for d in dirs.iter().rev() {
                chmod(d, 0o500).unwrap();
            }
            let mut c = child("read_only_open_child", dir.path());
            unprivileged(&mut c);
            c.env("FAULT_MODE", format!("chmod 0500/0400, as {who}"));
            run(c, "open a chmod-ed folder");
            for d in &dirs {
                let _ = chmod(d, 0o700);
            }
        }
    }
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
        twat_fcache::Inner::Files(store) => store.entry_path(&c.stored_key(&0).unwrap()),
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
        }
    }
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
        dir.path().join("gone/fcache.manifest.json").is_file(),
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

// ------------------------------------------------ refused folders

fn assert_refused(c: &FileCache<u64, Vec<u8>>, what: &str, words: &str) {
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
        c.fallback_reason().unwrap().contains("linked"),
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
        twat_fcache::Backend::Files,
        "{:?}",
        c.fallback_reason()
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
