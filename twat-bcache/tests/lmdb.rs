//! LmdbCache against a real LMDB environment in temp folders, including other processes:
//! the test binary re-runs itself as a child (`child_entry`) with `TWAT_BCACHE_CHILD` set.
#![cfg(feature = "lmdb")]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use twat_bcache::heed::types::Bytes;
use twat_bcache::heed::{CommitOrAbort, Database};
use twat_bcache::{Backend, Inner, LmdbCache};

const ROLE: &str = "TWAT_BCACHE_CHILD";
const DIR: &str = "TWAT_BCACHE_DIR";

/// The value every process must see for key `k`: size varies with `k` (1..~300 bytes).
fn value_of(k: u64) -> Vec<u8> {
    let len = 1 + (k.wrapping_mul(2_654_435_761) % 300) as usize;
    (0..len).map(|i| (k as usize + i) as u8).collect()
}

fn cache_at(dir: &Path, name: &str) -> LmdbCache<u64, Vec<u8>> {
    LmdbCache::builder()
        .cache_dir(dir)
        .folder_name("shared")
        .name(name)
        .build()
        .unwrap()
}

fn spawn_child(role: &str, dir: &Path) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_entry", "--nocapture", "--test-threads=1"])
        .env(ROLE, role)
        .env(DIR, dir)
        .stdout(Stdio::null())
        .spawn()
        .unwrap()
}

fn run_child(role: &str, dir: &Path) {
    let status = spawn_child(role, dir).wait().unwrap();
    assert!(status.success(), "child {role} failed: {status}");
}

/// Not a test of its own: the body of child processes (does nothing when run normally).
#[test]
fn child_entry() {
    let Ok(role) = std::env::var(ROLE) else {
        return;
    };
    let dir = PathBuf::from(std::env::var(DIR).unwrap());
    match role.as_str() {
        "persist-write" => {
            let c = cache_at(&dir, "persist");
            assert_eq!(c.backend(), Backend::Lmdb);
            for k in 0..200 {
                c.insert(k, value_of(k));
            }
        }
        "persist-read" => {
            let c = cache_at(&dir, "persist");
            for k in 0..400 {
                assert_eq!(c.get(&k), Some(value_of(k)), "key {k}");
            }
        }
        "mixed" => {
            // A small initial map, so that processes grow it under each other.
            let c = Arc::new(
                LmdbCache::<u64, Vec<u8>>::builder()
                    .cache_dir(&dir)
                    .folder_name("mixed")
                    .name("mixed")
                    .map_size(256 << 10)
                    .build()
                    .unwrap(),
            );
            assert_eq!(c.backend(), Backend::Lmdb);
            let seed = std::process::id() as u64;
            let threads: Vec<_> = (0..2u64)
                .map(|t| {
                    let c = c.clone();
                    std::thread::spawn(move || {
                        let mut x = seed ^ (t << 32) | 1;
                        for _ in 0..1500 {
                            x ^= x << 13;
                            x ^= x >> 7;
                            x ^= x << 17;
                            let k = x % 2000;
                            let v = match x % 3 {
                                0 => c.get_or_insert_with(k, || value_of(k)),
                                1 => {
                                    c.insert(k, value_of(k));
                                    value_of(k)
                                }
                                _ => c.get(&k).unwrap_or_else(|| value_of(k)),
                            };
                            assert_eq!(v, value_of(k), "key {k}");
                        }
                    })
                })
                .collect();
            for t in threads {
                t.join().unwrap();
            }
        }
        "write-forever" => {
            let c = cache_at(&dir, "killed");
            let mut k = 0u64;
            loop {
                c.insert(k % 5000, value_of(k % 5000));
                // Also keep read transactions open and closing, so a reader slot is live
                // at the instant of the kill.
                let _ = c.get(&(k / 2));
                k += 1;
            }
        }
        other => panic!("unknown role {other}"),
    }
}

#[test]
fn persists_across_processes() {
    let dir = tempfile::tempdir().unwrap();
    run_child("persist-write", dir.path());
    let c = cache_at(dir.path(), "persist");
    assert_eq!(c.backend(), Backend::Lmdb);
    assert_eq!(c.len(), 200);
    for k in 0..200 {
        assert_eq!(c.get(&k), Some(value_of(k)), "key {k} written by the child");
    }
    for k in 200..400 {
        c.insert(k, value_of(k));
    }
    // A second child reads what this process wrote (while this process keeps it open).
    run_child("persist-read", dir.path());
    let s = c.stats();
    assert_eq!(s.hits, 200);
    assert_eq!(s.entries, 400);
    assert_eq!(s.kind, "lmdb");
    assert!(s.bytes > 400 * 36);
    assert_eq!(
        s.folder.as_deref(),
        Some(dir.path().join("shared").as_path())
    );
}

#[test]
fn four_processes_two_threads_every_value_right() {
    let dir = tempfile::tempdir().unwrap();
    let children: Vec<_> = (0..4).map(|_| spawn_child("mixed", dir.path())).collect();
    for mut ch in children {
        let st = ch.wait().unwrap();
        assert!(st.success(), "a child saw a wrong value or failed: {st}");
    }
    let c = LmdbCache::<u64, Vec<u8>>::builder()
        .cache_dir(dir.path())
        .folder_name("mixed")
        .name("mixed")
        .build()
        .unwrap();
    let mut present = 0;
    for k in 0..2000 {
        if let Some(v) = c.get(&k) {
            assert_eq!(v, value_of(k));
            present += 1;
        }
    }
    assert!(present > 500, "only {present} keys stored");
    assert_eq!(c.len(), present, "counts agree with the entries");
    if let Inner::Store(store) = c.inner() {
        assert!(
            store.env().info().map_size > 256 << 10,
            "the map grew past its initial size"
        );
    }
}

#[test]
#[cfg(unix)]
fn sigkill_inside_write_loop_leaves_only_right_values() {
    let dir = tempfile::tempdir().unwrap();
    let c = cache_at(dir.path(), "killed");
    for round in 0..3 {
        let mut child = spawn_child("write-forever", dir.path());
        let start = Instant::now();
        while c.len() < 300 * (round + 1) && start.elapsed() < Duration::from_secs(20) {
            std::thread::sleep(Duration::from_millis(5));
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
    }
    let mut present = 0;
    for k in 0..5000 {
        if let Some(v) = c.get(&k) {
            assert_eq!(v, value_of(k), "key {k}");
            present += 1;
        }
    }
    assert!(present >= 300, "only {present} entries survived");
    assert_eq!(c.len(), present);
    // Still writable, and the dead readers do not block anything.
    c.insert(9999, value_of(9999));
    assert_eq!(c.get(&9999), Some(value_of(9999)));
}

fn entries_db(
    c: &LmdbCache<u64, Vec<u8>>,
) -> (twat_bcache::heed::Env, Database<'static, Bytes, Bytes>) {
    let Inner::Store(store) = c.inner() else {
        panic!("not on lmdb")
    };
    let env = store.env().clone();
    let rtxn = env.read_txn().unwrap();
    let db = env
        .open_databases_and_commit(rtxn, |dbo, rtxn| {
            dbo.open_database::<Bytes, Bytes>(rtxn, Some("entries"))
                .map(CommitOrAbort::<_, ()>::Commit)
        })
        .unwrap()
        .unwrap_commit()
        .unwrap();
    (env, db)
}

#[test]
fn corrupted_values_are_recomputed_never_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let c = cache_at(dir.path(), "corrupt");
    for k in 0..40 {
        c.insert(k, value_of(k));
    }
    let (env, db) = entries_db(&c);
    {
        let mut wtxn = env.write_txn().unwrap();
        let items: Vec<(Vec<u8>, Vec<u8>)> = db
            .iter(&wtxn)
            .unwrap()
            .map(|r| r.unwrap())
            .map(|(k, v)| (k.to_vec(), v.to_vec()))
            .collect();
        let mut first: Option<Vec<u8>> = None;
        for (i, (k, mut v)) in items.into_iter().enumerate() {
            match i % 4 {
                0 => {
                    let last = v.len() - 9;
                    v[last] ^= 0x55; // a flipped bit in the payload
                }
                1 => v.truncate(v.len() / 2),
                2 => v = b"garbage".to_vec(),
                // Another key's intact entry under this key: the stored key must not match.
                _ => match &first {
                    Some(f) => v = f.clone(),
                    None => first = Some(v.clone()),
                },
            }
            db.put(&mut wtxn, &k, &v).unwrap();
        }
        wtxn.commit().unwrap();
    }
    let mut computed = 0;
    for k in 0..40 {
        let v = c.get_or_insert_with(k, || {
            computed += 1;
            value_of(k)
        });
        assert_eq!(v, value_of(k), "key {k}");
    }
    assert!(
        computed >= 30,
        "damaged entries were recomputed ({computed})"
    );
    for k in 0..40 {
        assert_eq!(c.get(&k), Some(value_of(k)));
    }
}

#[test]
fn a_folder_from_the_previous_version_is_adopted_with_its_entries() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("old");
    {
        let c = LmdbCache::<u64, Vec<u8>>::builder()
            .cache_dir(dir.path())
            .folder_name("old")
            .name("adopted")
            .register(false)
            .build()
            .unwrap();
        c.insert(1, value_of(1));
    }
    // What versions before the shared manifest schema (format 1) wrote.
    std::fs::remove_file(folder.join("twat-cache.lmdb.json")).unwrap();
    std::fs::write(
        folder.join("twat-cache.json"),
        r#"{"kind":"bcache","format":1}"#,
    )
    .unwrap();
    // A new process would open it; in this one the environment is still registered, so
    // the manifest check runs on a fresh folder name pointing at the same files.
    let moved = dir.path().join("old2");
    std::fs::rename(&folder, &moved).unwrap();
    let c = LmdbCache::<u64, Vec<u8>>::builder()
        .cache_dir(dir.path())
        .folder_name("old2")
        .name("adopted")
        .register(false)
        .build()
        .unwrap();
    assert_eq!(
        c.backend(),
        Backend::Lmdb,
        "{:?}",
        c.stats().fallback_reason
    );
    assert_eq!(
        c.get(&1),
        Some(value_of(1)),
        "entries of the old folder still hit"
    );
    let m = std::fs::read_to_string(moved.join("twat-cache.lmdb.json")).unwrap();
    assert!(m.contains("\"format_version\": 2"), "{m}");
    assert!(
        !moved.join("twat-cache.json").exists(),
        "legacy manifest replaced"
    );
}

#[test]
fn a_damaged_folder_that_is_ours_is_wiped_and_recreated() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("shared");
    std::fs::create_dir(&folder).unwrap();
    std::fs::write(
        folder.join("twat-cache.json"),
        r#"{"kind":"bcache","format":1}"#,
    )
    .unwrap();
    let junk: Vec<u8> = (0..64 * 1024).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(folder.join("data.mdb"), junk).unwrap();
    let c = cache_at(dir.path(), "wiped");
    assert_eq!(
        c.backend(),
        Backend::Lmdb,
        "{:?}",
        c.stats().fallback_reason
    );
    assert_eq!(c.get_or_insert_with(1, || value_of(1)), value_of(1));
    assert_eq!(c.get(&1), Some(value_of(1)));
}

#[test]
fn ttl_expiry() {
    let dir = tempfile::tempdir().unwrap();
    let c = LmdbCache::<u64, Vec<u8>>::builder()
        .cache_dir(dir.path())
        .name("ttl")
        .ttl(Duration::from_millis(300))
        .build()
        .unwrap();
    c.insert(1, value_of(1));
    assert_eq!(c.get(&1), Some(value_of(1)));
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(c.get(&1), None, "expired");
    assert!(c.stats().expired >= 1);
    assert_eq!(c.len(), 0, "the expired entry was deleted on read");
    for k in 0..50 {
        c.insert(k, value_of(k));
    }
    std::thread::sleep(Duration::from_millis(400));
    let swept = c.sweep_expired();
    assert!(swept <= 50);
    assert_eq!(
        c.len(),
        0,
        "the sweep (or the background sweeper) dropped them"
    );
    let calls = AtomicUsize::new(0);
    let v = c.get_or_insert_with(7, || {
        calls.fetch_add(1, Ordering::Relaxed);
        value_of(7)
    });
    assert_eq!((v, calls.load(Ordering::Relaxed)), (value_of(7), 1));
}

#[test]
fn maxsize_evicts_oldest_first() {
    let dir = tempfile::tempdir().unwrap();
    let c = LmdbCache::<u64, Vec<u8>>::builder()
        .cache_dir(dir.path())
        .name("bounded")
        .maxsize(10)
        .build()
        .unwrap();
    for k in 0..25 {
        c.insert(k, value_of(k));
        std::thread::sleep(Duration::from_millis(2));
    }
    assert_eq!(c.len(), 10);
    for k in 0..15 {
        assert_eq!(c.get(&k), None, "key {k} should be evicted");
    }
    for k in 15..25 {
        assert_eq!(c.get(&k), Some(value_of(k)));
    }
    assert_eq!(c.stats().evictions, 15);
}

#[test]
fn max_bytes_is_a_hard_bound() {
    let dir = tempfile::tempdir().unwrap();
    let c = LmdbCache::<u64, Vec<u8>>::builder()
        .cache_dir(dir.path())
        .name("bytes")
        .max_bytes(4096)
        .build()
        .unwrap();
    for k in 0..200 {
        c.insert(k, vec![k as u8; 200]);
        assert!(c.stats().bytes <= 4096);
    }
    assert!(c.len() >= 10 && c.len() < 20, "{}", c.len());
    assert_eq!(c.get(&199), Some(vec![199u8; 200]));
    // Larger than the whole budget: returned, not stored.
    let big = c.get_or_insert_with(1000, || vec![1; 10_000]);
    assert_eq!(big.len(), 10_000);
    assert_eq!(c.get(&1000), None);
}

#[test]
fn grows_past_a_small_initial_map() {
    let dir = tempfile::tempdir().unwrap();
    let c = LmdbCache::<u64, Vec<u8>>::builder()
        .cache_dir(dir.path())
        .folder_name("small-map")
        .name("grow")
        .map_size(256 << 10)
        .build()
        .unwrap();
    for k in 0..3000 {
        c.insert(k, vec![k as u8; 1000]);
    }
    assert_eq!(c.len(), 3000);
    for k in (0..3000).step_by(7) {
        assert_eq!(c.get(&k), Some(vec![k as u8; 1000]));
    }
    let Inner::Store(store) = c.inner() else {
        panic!()
    };
    assert!(store.env().info().map_size >= 3_000_000);
    let data = std::fs::metadata(dir.path().join("small-map/data.mdb")).unwrap();
    assert!(data.len() > 256 << 10);
}

#[test]
fn two_caches_share_a_folder_and_clear_only_their_own() {
    let dir = tempfile::tempdir().unwrap();
    let a = cache_at(dir.path(), "a");
    let b = cache_at(dir.path(), "b");
    assert_eq!((a.backend(), b.backend()), (Backend::Lmdb, Backend::Lmdb));
    for k in 0..20 {
        a.insert(k, value_of(k));
        b.insert(k, value_of(k + 1));
    }
    assert_eq!(a.get(&3), Some(value_of(3)));
    assert_eq!(b.get(&3), Some(value_of(4)));
    a.clear();
    assert!(a.is_empty());
    assert_eq!(b.len(), 20);
    assert!(b.remove(&3));
    assert!(!b.remove(&3));
    assert_eq!(b.len(), 19);
}

#[cfg(unix)]
fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
#[cfg(unix)]
fn folders_are_private() {
    let dir = tempfile::tempdir().unwrap();
    let c = LmdbCache::<u64, u64>::builder()
        .cache_dir(dir.path().join("root"))
        .folder_name("private")
        .build()
        .unwrap();
    c.insert(1, 2);
    let folder = dir.path().join("root/private");
    assert_eq!(mode(&dir.path().join("root")), 0o700);
    assert_eq!(mode(&folder), 0o700);
    for f in ["data.mdb", "lock.mdb", "twat-cache.lmdb.json"] {
        assert_eq!(mode(&folder.join(f)), 0o600, "{f}");
    }
    let manifest = std::fs::read_to_string(folder.join("twat-cache.lmdb.json")).unwrap();
    assert!(manifest.contains("\"kind\": \"lmdb\""), "{manifest}");
    assert!(manifest.contains("\"format_version\": 2"), "{manifest}");
}

fn assert_falls_back(c: &LmdbCache<u64, Vec<u8>>, why: &str) {
    assert!(c.backend().is_memory(), "{why}: {:?}", c.backend());
    let reason = c.stats().fallback_reason;
    assert!(reason.is_some(), "{why}");
    let calls = AtomicUsize::new(0);
    for _ in 0..2 {
        for k in 0..10 {
            let v = c.get_or_insert_with(k, || {
                calls.fetch_add(1, Ordering::Relaxed);
                value_of(k)
            });
            assert_eq!(v, value_of(k));
        }
    }
    assert_eq!(
        calls.load(Ordering::Relaxed),
        10,
        "{why}: memory still caches"
    );
}

#[test]
fn unusable_folders_fall_back_to_memory_with_right_values() {
    let dir = tempfile::tempdir().unwrap();

    // The parent of the folder is a regular file: nothing can be created there.
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let c = LmdbCache::<u64, Vec<u8>>::builder()
        .cache_dir(&file)
        .build()
        .unwrap();
    assert_falls_back(&c, "parent is a file");

    // A folder holding another kind of cache is left alone.
    let other = dir.path().join("other");
    std::fs::create_dir_all(other.join("f")).unwrap();
    std::fs::write(
        other.join("f/twat-cache.json"),
        r#"{"kind":"fcache","format":1}"#,
    )
    .unwrap();
    let c = LmdbCache::<u64, Vec<u8>>::builder()
        .cache_dir(&other)
        .folder_name("f")
        .build()
        .unwrap();
    assert_falls_back(&c, "an fcache folder");
    assert!(c.stats().fallback_reason.unwrap().contains("fcache"));

    // A folder of someone else's files without a manifest is not ours to use.
    std::fs::create_dir_all(other.join("mine")).unwrap();
    std::fs::write(other.join("mine/notes.txt"), b"precious").unwrap();
    let c = LmdbCache::<u64, Vec<u8>>::builder()
        .cache_dir(&other)
        .folder_name("mine")
        .build()
        .unwrap();
    assert_falls_back(&c, "a foreign folder");
    assert_eq!(
        std::fs::read(other.join("mine/notes.txt")).unwrap(),
        b"precious"
    );
}

#[test]
#[cfg(unix)]
fn read_only_folder_falls_back() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let ro = dir.path().join("ro");
    std::fs::create_dir(&ro).unwrap();
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o500)).unwrap();
    // Root (as in CI containers) ignores permissions: then a read-only folder cannot be
    // made, and the other fallback tests (a path under a regular file) stand in for it.
    if std::fs::write(ro.join("probe"), b"x").is_ok() {
        eprintln!(
            "read_only_folder_falls_back: running with privileges that ignore chmod; skipped"
        );
        return;
    }
    let c = LmdbCache::<u64, Vec<u8>>::builder()
        .cache_dir(dir.path())
        .folder_name("ro")
        .build()
        .unwrap();
    assert_falls_back(&c, "read-only folder");
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o700)).unwrap();
}

#[test]
fn bad_settings_are_config_errors() {
    let b = || LmdbCache::<u64, u64>::builder();
    assert_eq!(b().maxsize(0).build().unwrap_err().field(), "maxsize");
    assert_eq!(b().ttl(Duration::ZERO).build().unwrap_err().field(), "ttl");
    assert_eq!(b().max_bytes(0).build().unwrap_err().field(), "max_bytes");
    assert_eq!(b().map_size(0).build().unwrap_err().field(), "map_size");
    assert_eq!(
        b().folder_name("a/b").build().unwrap_err().field(),
        "folder_name"
    );
}

#[test]
fn single_flight_computes_once() {
    let dir = tempfile::tempdir().unwrap();
    let c = Arc::new(cache_at(dir.path(), "flight"));
    let calls = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (c, calls) = (c.clone(), calls.clone());
            std::thread::spawn(move || {
                c.get_or_insert_with(5, || {
                    calls.fetch_add(1, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(100));
                    value_of(5)
                })
            })
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap(), value_of(5));
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}
