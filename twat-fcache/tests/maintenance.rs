//! `twat_fcache::maintenance` against real cache folders, with the caches still open.
#![cfg(feature = "files")]
#![allow(missing_docs)]

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use twat_cache_common::Entry;
use twat_cache_common::entry::flags;
use twat_fcache::maintenance::{self, MaintenanceError};
use twat_fcache::{FileCache, Inner};

fn cache(root: &Path, name: &str, ttl: Option<Duration>) -> FileCache<u64, String> {
    let mut b = FileCache::builder()
        .cache_dir(root)
        .folder_name("f")
        .name(name)
        .register(false);
    if let Some(t) = ttl {
        b = b.ttl(t);
    }
    b.build().unwrap()
}

fn path_of(c: &FileCache<u64, String>, k: u64) -> PathBuf {
    let Inner::Store(store) = c.inner() else {
        panic!("not on files")
    };
    store.entry_path(&c.stored_key(&k).unwrap())
}

fn age(path: &Path, by: Duration) {
    File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(SystemTime::now() - by)
        .unwrap();
}

#[test]
fn summary_clear_and_the_caches_stay_usable() {
    let root = tempfile::tempdir().unwrap();
    let folder = root.path().join("f");
    let a = cache(root.path(), "alpha", None);
    let b = cache(root.path(), "beta", None);
    for k in 0..6 {
        a.insert(k, "a".repeat(k as usize + 1));
    }
    b.insert(1, "b".into());
    let s = maintenance::summary(&folder).unwrap();
    assert_eq!(s.format_version, Some(1));
    let rows: Vec<_> = s
        .functions
        .iter()
        .map(|f| (f.function.as_str(), f.entries))
        .collect();
    assert_eq!(rows, [("alpha", 6), ("beta", 1)]);
    assert_eq!(s.functions[0].bytes, a.stats().bytes);
    assert!(s.oldest_ms.unwrap() <= s.newest_ms.unwrap());

    let r = maintenance::clear(&folder, Some("alpha")).unwrap();
    assert_eq!((r.namespaces, r.removed), (1, 6));
    assert_eq!(a.get(&1), None);
    assert_eq!(b.get(&1).as_deref(), Some("b"));
    a.insert(9, "nine".into());
    assert_eq!(a.get(&9).as_deref(), Some("nine"));
    let all = maintenance::clear(&folder, None).unwrap();
    assert_eq!((all.namespaces, all.removed), (2, 2));
    assert_eq!(b.get(&1), None);
    b.insert(2, "two".into());
    assert_eq!(b.get(&2).as_deref(), Some("two"));
}

#[test]
fn prune_removes_expired_orphans_and_only_old_temp_files() {
    let root = tempfile::tempdir().unwrap();
    let folder = root.path().join("f");
    let short = cache(root.path(), "short", Some(Duration::from_millis(50)));
    let keep = cache(root.path(), "keep", None);
    let gone = cache(root.path(), "gone", None);
    short.insert(1, "soon".into());
    for k in 0..3 {
        keep.insert(k, "kept".into());
    }
    gone.insert(1, "orphan".into());
    let garbled = cache(root.path(), "garbled", None);
    garbled.insert(1, "kept".into());
    let Inner::Store(gstore) = garbled.inner() else {
        panic!()
    };
    fs::write(gstore.dir().join("namespace.json"), b"{").unwrap();
    std::thread::sleep(Duration::from_millis(120));
    // The namespace description of `gone` disappears: its entries are orphans.
    let Inner::Store(store) = gone.inner() else {
        panic!()
    };
    fs::remove_file(store.dir().join("namespace.json")).unwrap();
    // An entry in the wrong fan-out directory.
    let p = path_of(&keep, 2);
    let name = p.file_name().unwrap().to_owned();
    let other_fan = if name.to_str().unwrap().starts_with("00") {
        "01"
    } else {
        "00"
    };
    let wrong = p.parent().unwrap().parent().unwrap().join(other_fan);
    fs::create_dir_all(&wrong).unwrap();
    fs::rename(&p, wrong.join(&name)).unwrap();
    // Temp files left by killed writers at every level, and young ones in flight.
    let fan = path_of(&keep, 0).parent().unwrap().to_path_buf();
    let Inner::Store(kstore) = keep.inner() else {
        panic!()
    };
    let olds = [
        folder.join(".tmp-aaaa.part"),
        kstore.dir().join(".tmp-bbbb"),
        fan.join(".tmp-cccc.part"),
    ];
    for o in &olds {
        fs::write(o, b"partial").unwrap();
        age(o, Duration::from_secs(11 * 60));
    }
    let young = fan.join(".tmp-dddd.part");
    fs::write(&young, b"in flight").unwrap();
    age(&young, Duration::from_secs(60));
    let foreign = folder.join("README.txt");
    fs::write(&foreign, b"not ours").unwrap();

    let r = maintenance::prune(&folder).unwrap();
    assert_eq!((r.expired, r.orphaned, r.temp_files), (1, 2, 3), "{r:?}");
    assert!(r.bytes_freed > 0);
    assert!(olds.iter().all(|o| !o.exists()));
    assert!(young.exists() && foreign.exists());
    assert_eq!(keep.get(&0).as_deref(), Some("kept"));
    assert_eq!(keep.get(&1).as_deref(), Some("kept"));
    // A damaged namespace.json does not orphan the entries; the summary still names them.
    assert_eq!(garbled.get(&1).as_deref(), Some("kept"));
    let s = maintenance::summary(&folder).unwrap();
    assert!(
        s.functions
            .iter()
            .any(|f| f.function == "garbled" && f.entries == 1),
        "{s:#?}"
    );
    assert_eq!(maintenance::prune(&folder).unwrap().removed(), 0);
}

#[test]
fn verify_finds_every_kind_of_damage_and_removes_it() {
    let root = tempfile::tempdir().unwrap();
    let folder = root.path().join("f");
    let c = cache(root.path(), "v", None);
    for k in 0..10 {
        c.insert(k, format!("value {k}"));
    }
    // A flipped bit.
    let p = path_of(&c, 0);
    let mut bytes = fs::read(&p).unwrap();
    let at = bytes.len() - 12;
    bytes[at] ^= 1;
    fs::write(&p, &bytes).unwrap();
    // Truncated.
    let p = path_of(&c, 1);
    let bytes = fs::read(&p).unwrap();
    fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
    // Another key's intact entry under this key's name.
    fs::copy(path_of(&c, 3), path_of(&c, 2)).unwrap();
    // A well-formed, checksummed entry whose "compressed" payload is not lz4.
    let p = path_of(&c, 4);
    let key = c.stored_key(&4).unwrap();
    let fake = Entry {
        flags: flags::COMPRESSED,
        created_ms: 1,
        expires_ms: 0,
        key: &key,
        payload: &[0xff, 0xff, 0xff, 0x7f, 1, 2, 3],
    };
    fs::write(&p, fake.encode()).unwrap();

    let r = maintenance::verify(&folder).unwrap();
    assert_eq!((r.checked, r.ok, r.removed), (10, 6, 4), "{r:#?}");
    assert!(r.found_damage());
    for k in 0..3 {
        assert!(!path_of(&c, k).exists(), "{k}");
    }
    assert!(
        r.damaged.iter().any(|d| d.reason.contains("compressed")),
        "{r:#?}"
    );
    assert!(
        r.damaged.iter().any(|d| d.reason.contains("hash")),
        "{r:#?}"
    );
    assert_eq!(c.get(&5).as_deref(), Some("value 5"));
    let clean = maintenance::verify(&folder).unwrap();
    assert_eq!((clean.checked, clean.ok, clean.removed), (6, 6, 0));
}

#[test]
fn folders_that_are_not_fcaches_are_refused_untouched() {
    let root = tempfile::tempdir().unwrap();
    assert!(matches!(
        maintenance::prune(&root.path().join("missing")),
        Err(MaintenanceError::NotFound { .. })
    ));
    let plain = root.path().join("plain");
    fs::create_dir_all(plain.join("0123456789abcdef/01")).unwrap();
    let file = plain.join("0123456789abcdef/01/0123456789abcdef0123456789abcdef");
    fs::write(&file, b"looks like an entry").unwrap();
    for r in [
        maintenance::clear(&plain, None).map(|_| ()),
        maintenance::prune(&plain).map(|_| ()),
        maintenance::verify(&plain).map(|_| ()),
    ] {
        assert!(r.unwrap_err().is_not_a_cache());
    }
    assert!(file.exists());
    let lmdb = root.path().join("lmdb");
    fs::create_dir(&lmdb).unwrap();
    fs::write(lmdb.join(maintenance::MANIFEST), r#"{"kind":"bcache"}"#).unwrap();
    let e = maintenance::verify(&lmdb).unwrap_err();
    assert!(
        e.is_not_a_cache() && e.to_string().contains("bcache"),
        "{e}"
    );
}
