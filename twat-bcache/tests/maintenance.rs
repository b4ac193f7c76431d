//! `twat_bcache::maintenance` against real LMDB folders, with the caches still open in
//! this process (the maintenance functions share the environment through the registry).
#![cfg(feature = "lmdb")]
#![allow(missing_docs)]

use std::fs::{self, File};
use std::path::Path;
use std::time::{Duration, SystemTime};

use twat_bcache::heed::types::Bytes;
use twat_bcache::heed::{CommitOrAbort, Database, Env};
use twat_bcache::maintenance::{self, MaintenanceError};
use twat_bcache::{Inner, LmdbCache};

fn cache(root: &Path, name: &str) -> LmdbCache<u64, String> {
    LmdbCache::builder()
        .cache_dir(root)
        .folder_name("m")
        .name(name)
        .register(false)
        .build()
        .unwrap()
}

fn ttl_cache(root: &Path, name: &str, ttl: Duration) -> LmdbCache<u64, String> {
    LmdbCache::builder()
        .cache_dir(root)
        .folder_name("m")
        .name(name)
        .ttl(ttl)
        .register(false)
        .build()
        .unwrap()
}

fn db(c: &LmdbCache<u64, String>, name: &str) -> (Env, Database<'static, Bytes, Bytes>) {
    let Inner::Store(store) = c.inner() else {
        panic!("not on lmdb")
    };
    let env = store.env().clone();
    let rtxn = env.read_txn().unwrap();
    let db = env
        .open_databases_and_commit(rtxn, |dbo, rtxn| {
            dbo.open_database::<Bytes, Bytes>(rtxn, Some(name))
                .map(CommitOrAbort::<_, ()>::Commit)
        })
        .unwrap()
        .unwrap_commit()
        .unwrap();
    (env, db)
}

fn items(env: &Env, db: Database<'static, Bytes, Bytes>) -> Vec<(Vec<u8>, Vec<u8>)> {
    let rtxn = env.read_txn().unwrap();
    db.iter(&rtxn)
        .unwrap()
        .map(|r| r.unwrap())
        .map(|(k, v)| (k.to_vec(), v.to_vec()))
        .collect()
}

#[test]
fn summary_counts_every_namespace() {
    let root = tempfile::tempdir().unwrap();
    let a = cache(root.path(), "alpha");
    let b = cache(root.path(), "beta");
    for k in 0..5 {
        a.insert(k, "a".repeat(k as usize));
    }
    b.insert(1, "b".into());
    let s = maintenance::summary(&root.path().join("m")).unwrap();
    assert_eq!(s.kind, twat_cache_common::maintenance::CacheKind::Lmdb);
    assert_eq!(s.format_version, Some(2));
    assert_eq!(s.entries, 6);
    let names: Vec<_> = s
        .functions
        .iter()
        .map(|f| (f.function.as_str(), f.entries))
        .collect();
    assert_eq!(names, [("alpha", 5), ("beta", 1)]);
    let alpha = &s.functions[0];
    assert_eq!(alpha.bytes, a.stats().bytes);
    assert!(alpha.oldest_ms.unwrap() <= alpha.newest_ms.unwrap());
    assert_eq!(s.bytes, a.stats().bytes + b.stats().bytes);
    assert!(s.disk_bytes >= s.bytes);
}

#[test]
fn clear_one_function_or_everything_while_the_caches_stay_usable() {
    let root = tempfile::tempdir().unwrap();
    let folder = root.path().join("m");
    let a = cache(root.path(), "alpha");
    let b = cache(root.path(), "beta");
    for k in 0..10 {
        a.insert(k, "x".into());
        b.insert(k, "y".into());
    }
    let r = maintenance::clear(&folder, Some("alpha")).unwrap();
    assert_eq!((r.namespaces, r.removed), (1, 10));
    assert!(r.bytes > 0);
    assert_eq!((a.len(), b.len()), (0, 10));
    assert_eq!(a.get(&1), None);
    assert_eq!(b.get(&1).as_deref(), Some("y"));

    let none = maintenance::clear(&folder, Some("nobody")).unwrap();
    assert_eq!((none.namespaces, none.removed), (0, 0));

    a.insert(1, "again".into());
    let all = maintenance::clear(&folder, None).unwrap();
    assert_eq!((all.namespaces, all.removed), (2, 11));
    assert_eq!((a.len(), b.len()), (0, 0));
    // Still usable, and still listed.
    b.insert(2, "z".into());
    assert_eq!(b.get(&2).as_deref(), Some("z"));
    assert_eq!(b.len(), 1);
    let s = maintenance::summary(&folder).unwrap();
    assert_eq!(s.functions.len(), 2);
    assert_eq!(s.entries, 1);
}

#[test]
fn prune_removes_expired_orphans_and_old_temp_files_and_repairs_counts() {
    let root = tempfile::tempdir().unwrap();
    let folder = root.path().join("m");
    let short = ttl_cache(root.path(), "short", Duration::from_millis(50));
    let keep = cache(root.path(), "keep");
    short.insert(1, "soon gone".into());
    for k in 0..4 {
        keep.insert(k, "kept".into());
    }
    std::thread::sleep(Duration::from_millis(120));

    // An entry without its index record, and an index record without an entry.
    let (env, order) = db(&keep, "order");
    let mut rows = items(&env, order);
    rows.retain(|(k, _)| k[..8] == keep.namespace().hash().to_be_bytes());
    {
        let mut w = env.write_txn().unwrap();
        order.delete(&mut w, &rows[0].0).unwrap();
        let mut dangling = rows[1].0.clone();
        dangling[31] ^= 0xff;
        order.put(&mut w, &dangling, &[]).unwrap();
        w.commit().unwrap();
    }
    // Counts that drifted.
    let (env, counts) = db(&keep, "counts");
    {
        let mut w = env.write_txn().unwrap();
        let mut bad = [0u8; 16];
        bad[0] = 77;
        counts
            .put(&mut w, &keep.namespace().hash().to_be_bytes(), &bad)
            .unwrap();
        w.commit().unwrap();
    }
    assert_eq!(keep.len(), 77);
    // A manifest write left by a killed process, and one in flight.
    let old = folder.join(".twat-cache.lmdb.json.4242");
    fs::write(&old, "{").unwrap();
    File::options()
        .write(true)
        .open(&old)
        .unwrap()
        .set_modified(SystemTime::now() - Duration::from_secs(3600))
        .unwrap();
    let young = folder.join(".twat-cache.lmdb.json.4343");
    fs::write(&young, "{").unwrap();

    let r = maintenance::prune(&folder).unwrap();
    assert_eq!(r.expired, 1, "{r:?}");
    assert_eq!(r.orphaned, 2, "{r:?}");
    assert_eq!(r.temp_files, 1, "{r:?}");
    assert!(r.repaired >= 1, "{r:?}");
    assert!(r.bytes_freed > 0);
    assert!(!old.exists() && young.exists());
    assert_eq!(short.len(), 0);
    assert_eq!(
        keep.len(),
        3,
        "counts repaired: 4 entries less the unindexed one"
    );

    let again = maintenance::prune(&folder).unwrap();
    assert_eq!((again.removed(), again.repaired), (0, 0), "{again:?}");
}

#[test]
fn verify_removes_damaged_entries_and_keeps_counts_right() {
    let root = tempfile::tempdir().unwrap();
    let folder = root.path().join("m");
    let c = cache(root.path(), "v");
    for k in 0..20 {
        c.insert(k, format!("value {k}"));
        // Distinct creation times: the entry copied over another below must carry a time
        // that is not in its index record's key.
        std::thread::sleep(Duration::from_millis(2));
    }
    let (env, entries) = db(&c, "entries");
    let rows = items(&env, entries);
    {
        let mut w = env.write_txn().unwrap();
        let (k, mut v) = rows[3].clone();
        let at = v.len() - 10;
        v[at] ^= 0x40; // a flipped bit
        entries.put(&mut w, &k, &v).unwrap();
        // Another key's intact entry filed under this key.
        entries.put(&mut w, &rows[5].0, &rows[6].1).unwrap();
        w.commit().unwrap();
    }
    let r = maintenance::verify(&folder).unwrap();
    assert_eq!((r.checked, r.ok, r.removed), (20, 18, 2), "{r:?}");
    assert!(r.found_damage());
    assert!(
        r.damaged
            .iter()
            .all(|d| d.removed && d.location.contains("(v)"))
    );
    assert!(
        r.damaged.iter().any(|d| d.reason.contains("checksum")),
        "{r:?}"
    );
    assert_eq!(c.len(), 18);
    let clean = maintenance::verify(&folder).unwrap();
    assert_eq!((clean.checked, clean.ok, clean.removed), (18, 18, 0));
    assert!(!clean.found_damage());
    // Nothing dangling was left behind in the index.
    assert_eq!(maintenance::prune(&folder).unwrap().removed(), 0);
}

#[test]
fn folders_that_are_not_bcaches_are_refused_untouched() {
    let root = tempfile::tempdir().unwrap();
    let missing = root.path().join("missing");
    assert!(matches!(
        maintenance::summary(&missing),
        Err(MaintenanceError::NotFound { .. })
    ));
    assert!(!missing.exists());
    let plain = root.path().join("plain");
    fs::create_dir(&plain).unwrap();
    fs::write(plain.join("notes.txt"), "mine").unwrap();
    for r in [
        maintenance::clear(&plain, None).map(|_| ()),
        maintenance::prune(&plain).map(|_| ()),
        maintenance::verify(&plain).map(|_| ()),
    ] {
        let e = r.unwrap_err();
        assert!(e.is_not_a_cache(), "{e}");
        assert!(e.to_string().contains("no manifest"), "{e}");
    }
    assert_eq!(fs::read_dir(&plain).unwrap().count(), 1);
    let other = root.path().join("other");
    fs::create_dir(&other).unwrap();
    fs::write(
        other.join("twat-cache.json"),
        r#"{"kind":"acache","format":1}"#,
    )
    .unwrap();
    let e = maintenance::prune(&other).unwrap_err();
    assert!(
        e.is_not_a_cache() && e.to_string().contains("acache"),
        "{e}"
    );
    // A manifest and no data: an empty cache, and nothing is created.
    let empty = root.path().join("empty");
    fs::create_dir(&empty).unwrap();
    fs::write(
        empty.join("twat-cache.json"),
        r#"{"kind":"bcache","format":1}"#,
    )
    .unwrap();
    assert_eq!(maintenance::summary(&empty).unwrap().entries, 0);
    assert_eq!(maintenance::verify(&empty).unwrap().checked, 0);
    assert_eq!(maintenance::prune(&empty).unwrap().removed(), 0);
    assert_eq!(maintenance::clear(&empty, None).unwrap().removed, 0);
    assert!(!empty.join("data.mdb").exists());
    let newer = root.path().join("newer");
    fs::create_dir(&newer).unwrap();
    fs::write(
        newer.join("twat-cache.json"),
        r#"{"kind":"bcache","format":99}"#,
    )
    .unwrap();
    let e = maintenance::verify(&newer).unwrap_err();
    assert!(matches!(e, MaintenanceError::Unsupported { .. }), "{e}");
    assert!(!newer.join("data.mdb").exists());
}
