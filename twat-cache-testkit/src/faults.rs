//! Fault injection on a real cache folder, the scenarios every persistent cache shares:
//! full disk, read-only folder, permissions changed under a running cache, and folders
//! that must be refused (symlink, another user's). In every case the calls return the
//! right values and the cache says what happened.
//!
//! Each function is one test (a parent, or a child started by one with [`child`]), run
//! by a `#[test]` of the same name on the test file's cache type (`Tested<Vec<u8>>` from
//! the test file's `type Tested<V> = twat_bcache::LmdbCache<u64, V>`) and, where the stores differ, with a hook of
//! the store's: [`fault_tests!`](crate::fault_tests) expands them all.

use std::fs;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::cache::{CacheStats, PersistentBuilder, PersistentCache};
use crate::child::{as_child, child, echo, in_child, run, skip};
use crate::inject::{Tmpfs, chmod, fill, is_root, limit_file_size, shared_tempdir, unprivileged};
use crate::observed;

/// The value of key `k`: 16 KiB that depend on `k`.
pub fn value_of(k: u64) -> Vec<u8> {
    (0..16 << 10).map(|i| (i as u64 ^ k) as u8).collect()
}

/// A cache on `dir/folder`, namespace `folder`, outside the process registry.
pub fn open<C: PersistentCache<Vec<u8>>>(dir: &Path, folder: &str) -> C {
    C::builder()
        .cache_dir(dir)
        .folder_name(folder)
        .name(folder)
        .register(false)
        .build()
        .unwrap()
}

/// Calls `keys` through the cache; every value must be right. Returns how many were
/// computed (the rest were hits).
pub fn exercise<C: PersistentCache<Vec<u8>>>(c: &C, keys: impl IntoIterator<Item = u64>) -> usize {
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

/// The statistics on one line, for the fault report.
pub fn describe(s: &CacheStats) -> String {
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

/// What differs between the stores when the disk is full.
#[derive(Debug, Clone, Copy)]
pub struct FullDisk {
    /// Where no tmpfs can be mounted: the `RLIMIT_FSIZE` that makes the next writes of
    /// the cache on `dir/full` fail, and how to say it in the report.
    pub file_size_limit: fn(dir: &Path) -> (u64, String),
    /// Checks after ten new keys could not be stored in `dir/full`, given the statistics.
    pub failed_writes: fn(dir: &Path, s: &CacheStats),
}

/// Child test `full_disk_child`: a cache with four entries; the disk fills up (a full
/// tmpfs, or `RLIMIT_FSIZE`); ten new keys are computed right, the failures counted and
/// the old entries still hit; once there is room again, writes succeed and read back.
pub fn full_disk_child<C: PersistentCache<Vec<u8>>>(how: FullDisk) {
    let Some(dir) = as_child("full_disk_child") else {
        return;
    };
    let mode = std::env::var("FAULT_MODE").unwrap();
    let c = open::<C>(&dir, "full");
    assert_eq!(exercise(&c, 0..4), 4);
    match mode.as_str() {
        "tmpfs" => {
            let n = fill(&dir);
            observed!("full disk (tmpfs 1 MiB): filled with {n} more bytes");
        }
        _ => {
            let (limit, said) = (how.file_size_limit)(&dir);
            limit_file_size(limit);
            observed!("full disk (RLIMIT_FSIZE = {said})");
        }
    }
    assert_eq!(exercise(&c, 100..110), 10);
    let s = c.stats();
    observed!("full disk: 10 new keys, values right; {}", describe(&s));
    (how.failed_writes)(&dir, &s);
    assert!(s.last_error.is_some(), "the condition is visible in stats");
    // A full store is one case of the contract: it evicts (oldest first) to make room and
    // keeps caching; where nothing can make room (a per-file size limit), it keeps what
    // it had. Either way every value read back is right.
    let new_hits = (100..110).filter(|k| c.get(k).is_some()).count();
    let old_hits = (0..4).filter(|k| c.get(k).is_some()).count();
    observed!("full disk: {new_hits} of the 10 new keys cached, {old_hits} of the 4 old kept");
    if s.evictions > 0 {
        assert!(new_hits > 0, "room was made: new results are cached");
        assert!(
            s.last_error.as_deref().is_some_and(|e| e.contains("full")),
            "{s:?}"
        );
    } else {
        assert_eq!(
            old_hits, 4,
            "entries stored before the disk filled still hit"
        );
    }
    for k in (0..4).chain(100..110) {
        if let Some(v) = c.get(&k) {
            assert_eq!(v, value_of(k), "key {k}");
        }
    }
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

/// Runs `full_disk_child` on a 1 MiB tmpfs, or (where mounting is not allowed, said
/// with `SKIPPED`) under `RLIMIT_FSIZE`.
pub fn full_disk() {
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

/// Child test `populate_child`: four entries in folder `ro`.
pub fn populate_child<C: PersistentCache<Vec<u8>>>() {
    let Some(dir) = as_child("populate_child") else {
        return;
    };
    assert_eq!(exercise(&open::<C>(&dir, "ro"), 0..4), 4);
}

/// Child test `read_only_open_child`: opens the read-only folder `ro`; whatever serves
/// (the folder, or memory with a reason), values are right and cached.
pub fn read_only_open_child<C: PersistentCache<Vec<u8>>>() {
    let Some(dir) = as_child("read_only_open_child") else {
        return;
    };
    let how = std::env::var("FAULT_MODE").unwrap();
    let c = open::<C>(&dir, "ro");
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

/// A folder that is read-only when a cache opens it: (1) on a read-only mount (root),
/// then `while_mounted` with the tmpfs still mounted read-only; (2) chmod 0500 on every
/// folder and 0400 on every file, seen by an ordinary user (root ignores permission
/// bits, so as root the child runs as nobody).
pub fn read_only_folder(while_mounted: impl FnOnce(&Tmpfs)) {
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
            while_mounted(&fs_);
        }
        Err(why) => skip("read_only_folder (read-only mount)", &why),
    }
    // 2. chmod, as an ordinary user.
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
            let mut dirs = vec![folder];
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
                chmod(d, 0o700).unwrap();
            }
        }
    }
}

// ------------------------------------------------ permissions changed while open

/// Runs the child test `permissions_child` as an ordinary user in a shared temp dir,
/// then `then` with that dir (where the child's folder `perm` is).
pub fn permissions_changed_while_open(then: impl FnOnce(&Path)) {
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
            then(dir.path());
        }
    }
}

// ------------------------------------------------ refused folders

/// A cache that refused its folder: it serves from memory, says why (with `words`), and
/// still caches.
pub fn assert_refused<C: PersistentCache<Vec<u8>>>(c: &C, what: &str, words: &str) {
    let s = c.stats();
    observed!("{what}: {}", describe(&s));
    assert!(c.backend().is_memory(), "{what}");
    let why = s.fallback_reason.unwrap();
    assert!(why.contains(words), "{what}: {why}");
    assert_eq!(exercise(c, 0..3), 3);
    assert_eq!(exercise(c, 0..3), 0, "memory still caches");
}

/// A cache folder that is a symlink is refused (nothing written through it); a cache
/// root that is a symlink is fine.
pub fn symlinked_folder_falls_back_to_memory<C: PersistentCache<Vec<u8>>>() {
    if in_child() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let elsewhere = dir.path().join("elsewhere");
    fs::create_dir(&elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, dir.path().join("linked")).unwrap();
    let c = open::<C>(dir.path(), "linked");
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
    let c = open::<C>(&root, "fine");
    assert_eq!(c.backend(), C::BACKEND, "{:?}", c.stats().fallback_reason);
}

/// A cache folder owned by another user is refused, nothing written there (root only:
/// `SKIPPED` otherwise).
pub fn folder_owned_by_another_user_falls_back_to_memory<C: PersistentCache<Vec<u8>>>() {
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
    let c = open::<C>(dir.path(), "theirs");
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

/// Expands to the shared fault tests of a test file, under their usual names
/// (`full_disk_child`, `full_disk`, `populate_child`, `read_only_open_child`,
/// `read_only_folder`, `permissions_changed_while_open`,
/// `symlinked_folder_falls_back_to_memory`,
/// `folder_owned_by_another_user_falls_back_to_memory`), run on the given cache type
/// (`Tested<Vec<u8>>` from the test file's `type Tested<V> = twat_bcache::LmdbCache<u64, V>`) with the store's
/// hooks: the [`FullDisk`] of [`full_disk_child`], the `while_mounted` of
/// [`read_only_folder`] and the `then` of [`permissions_changed_while_open`]. The file
/// adds the child test `permissions_child`, which differs between the stores. The
/// scenarios' assertions are in this module, so a failure points here.
#[macro_export]
macro_rules! fault_tests {
    (
        cache: $cache:ty,
        full_disk: $full_disk:expr,
        read_only_while_mounted: $while_mounted:expr,
        after_permissions_child: $then:expr $(,)?
    ) => {
        #[test]
        fn full_disk_child() {
            $crate::faults::full_disk_child::<$cache>($full_disk);
        }

        #[test]
        fn full_disk() {
            $crate::faults::full_disk();
        }

        #[test]
        fn populate_child() {
            $crate::faults::populate_child::<$cache>();
        }

        #[test]
        fn read_only_open_child() {
            $crate::faults::read_only_open_child::<$cache>();
        }

        #[test]
        fn read_only_folder() {
            $crate::faults::read_only_folder($while_mounted);
        }

        #[test]
        fn permissions_changed_while_open() {
            $crate::faults::permissions_changed_while_open($then);
        }

        #[test]
        fn symlinked_folder_falls_back_to_memory() {
            $crate::faults::symlinked_folder_falls_back_to_memory::<$cache>();
        }

        #[test]
        fn folder_owned_by_another_user_falls_back_to_memory() {
            $crate::faults::folder_owned_by_another_user_falls_back_to_memory::<$cache>();
        }
    };
}
