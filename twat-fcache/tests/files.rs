//! FileCache against real files in temporary directories.
#![cfg(feature = "files")]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use twat_cache_common::Entry;
use twat_cache_common::entry::flags;
use twat_fcache::{Backend, FileCache, FileStore, Inner};

const CHILD_VAR: &str = "TWAT_FCACHE_TEST_CHILD";
const DIR_VAR: &str = "TWAT_FCACHE_TEST_DIR";

/// In a child process started by [`spawn_child`] for `test`: the directory to use.
fn as_child(test: &str) -> Option<PathBuf> {
    (std::env::var(CHILD_VAR).ok()? == test).then(|| PathBuf::from(std::env::var(DIR_VAR).unwrap()))
}

/// Runs this test binary again, running only `test`, as a child working in `dir`.
fn spawn_child(test: &str, dir: &Path) -> Command {
    let mut c = Command::new(std::env::current_exe().unwrap());
    c.args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(CHILD_VAR, test)
        .env(DIR_VAR, dir)
        .stdin(Stdio::null());
    c
}

fn open<K, V>(dir: &Path, name: &str) -> FileCache<K, V>
where
    K: std::hash::Hash + Eq + Clone + serde::Serialize + Send + Sync + 'static,
    V: Clone + serde::Serialize + serde::de::DeserializeOwned + Send + Sync + 'static,
{
    let c = FileCache::builder()
        .cache_dir(dir)
        .name(name)
        .build()
        .unwrap();
    assert_eq!(c.backend(), Backend::Files, "{:?}", c.fallback_reason());
    c
}

fn store<K, V>(c: &FileCache<K, V>) -> &FileStore
where
    K: std::hash::Hash + Eq + Clone + serde::Serialize + Send + Sync + 'static,
    V: Clone + serde::Serialize + serde::de::DeserializeOwned + Send + Sync + 'static,
{
    match c.inner() {
        Inner::Store(s) => s,
        _ => panic!("files backend expected"),
    }
}

fn path_of<K, V>(c: &FileCache<K, V>, key: &K) -> PathBuf
where
    K: std::hash::Hash + Eq + Clone + serde::Serialize + Send + Sync + 'static,
    V: Clone + serde::Serialize + serde::de::DeserializeOwned + Send + Sync + 'static,
{
    store(c).entry_path(&c.stored_key(key).unwrap())
}

/// Every regular file below `dir` (recursively), by name.
fn files_below(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

fn entries_in(store: &FileStore) -> usize {
    files_below(store.dir())
        .iter()
        .filter(|p| p.file_name().unwrap().len() == 32)
        .count()
}

#[test]
fn round_trip_across_processes() {
    if let Some(dir) = as_child("round_trip_across_processes") {
        let c: FileCache<String, Vec<u64>> = open(&dir, "xproc");
        for i in 0..20u64 {
            assert_eq!(
                c.get(&format!("k{i}")),
                Some(vec![i; i as usize]),
                "child reads k{i}"
            );
        }
        c.insert("from child".into(), vec![7, 7, 7]);
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let c: FileCache<String, Vec<u64>> = open(dir.path(), "xproc");
    for i in 0..20u64 {
        c.insert(format!("k{i}"), vec![i; i as usize]);
    }
    let status = spawn_child("round_trip_across_processes", dir.path())
        .status()
        .unwrap();
    assert!(status.success(), "child failed: {status}");
    assert_eq!(c.get("from child"), Some(vec![7, 7, 7]));
}

/// A value whose every byte can be checked against its key and generation.
type Checked = (u32, u64, Vec<u8>);

fn checked(key: u32, generation: u64) -> Checked {
    let len = (generation as usize * 7919) % 300_000;
    (key, generation, vec![(key as u64 ^ generation) as u8; len])
}

#[test]
fn sigkill_mid_write_leaves_only_right_values() {
    if let Some(dir) = as_child("sigkill_mid_write_leaves_only_right_values") {
        let c: FileCache<u32, Checked> = open(&dir, "kill");
        let mut generation = 0u64;
        loop {
            generation += 1;
            let key = (generation % 40) as u32;
            c.insert(key, checked(key, generation));
            if generation == 60 {
                fs::write(dir.join("ready"), b"").unwrap();
            }
        }
    }
    let dir = tempfile::tempdir().unwrap();
    for round in 0..3 {
        let _ = fs::remove_file(dir.path().join("ready"));
        let mut child = spawn_child("sigkill_mid_write_leaves_only_right_values", dir.path())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        while !dir.path().join("ready").exists() {
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(37 * (round + 1)));
        child.kill().unwrap(); // SIGKILL on Unix
        child.wait().unwrap();

        let c: FileCache<u32, Checked> = open(dir.path(), "kill");
        let mut found = 0;
        for key in 0..40u32 {
            if let Some(v) = c.get(&key) {
                found += 1;
                assert_eq!(v, checked(key, v.1), "key {key} read back wrong");
            }
        }
        assert!(found >= 30, "round {round}: only {found} entries survived");
    }
}

#[test]
fn stale_temp_files_are_swept_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let c: FileCache<u8, u8> = open(dir.path(), "tmp");
    c.insert(1, 1);
    let fan = path_of(&c, &1).parent().unwrap().to_path_buf();
    let old = fan.join(".tmp-killed.part");
    let young = fan.join(".tmp-writing.part");
    fs::write(&old, b"half an entr").unwrap();
    fs::write(&young, b"in progress").unwrap();
    let f = fs::File::options().write(true).open(&old).unwrap();
    f.set_modified(SystemTime::now() - Duration::from_secs(3600))
        .unwrap();
    drop(f);
    let again: FileCache<u8, u8> = open(dir.path(), "tmp");
    assert!(!old.exists(), "an hour-old temp file is swept");
    assert!(young.exists(), "a fresh one may be a live writer's");
    assert_eq!(again.get(&1), Some(1));
}

#[test]
fn damaged_and_foreign_files_are_misses_and_removed() {
    let dir = tempfile::tempdir().unwrap();
    let c: FileCache<u32, String> = open(dir.path(), "bad");
    for k in 0..8 {
        c.insert(k, format!("value {k}"));
    }
    let p = |k| path_of(&c, &k);
    let good = fs::read(p(0)).unwrap();
    fs::write(p(0), &good[..good.len() / 2]).unwrap(); // truncated
    fs::write(p(1), b"").unwrap(); // zero-length
    fs::write(p(2), vec![0xa5; 300]).unwrap(); // garbage
    fs::write(p(3), b"{\"foreign\": \"json file\"}\n").unwrap(); // someone else's file
    let mut flipped = fs::read(p(4)).unwrap();
    flipped[40] ^= 1;
    fs::write(p(4), &flipped).unwrap(); // one bit flipped
    // A valid entry with the right key whose payload is not a String.
    let key5 = c.stored_key(&5u32).unwrap();
    let wrong_type = Entry {
        flags: 0,
        created_ms: 1,
        expires_ms: 0,
        key: &key5,
        payload: &[0xff, 0xff, 0xff, 0xff, 0x0f],
    };
    fs::write(p(5), wrong_type.encode()).unwrap();
    // A compressed entry whose size prefix claims 4 GiB (a decompression bomb).
    let key6 = c.stored_key(&6u32).unwrap();
    let mut bomb = u32::MAX.to_le_bytes().to_vec();
    bomb.extend_from_slice(&[0x1f, b'x', 1, 0, 0xff, 0xff]);
    let bomb = Entry {
        flags: flags::COMPRESSED,
        created_ms: 1,
        expires_ms: 0,
        key: &key6,
        payload: &bomb,
    };
    fs::write(p(6), bomb.encode()).unwrap();

    for k in 0..7 {
        assert_eq!(c.get(&k), None, "key {k}");
        assert!(!p(k).exists(), "key {k}'s bad file is removed");
    }
    assert_eq!(c.get(&7).as_deref(), Some("value 7"));
    assert_eq!(c.stats().misses, 7);
    // A miss that was a bad file computes again and stores a good one.
    assert_eq!(c.get_or_insert_with(0, || "again".into()), "again");
    assert_eq!(c.get(&0).as_deref(), Some("again"));
}

#[test]
fn an_entry_for_another_key_is_never_returned() {
    let dir = tempfile::tempdir().unwrap();
    let c: FileCache<u32, String> = open(dir.path(), "collide");
    c.insert(1, "one".into());
    c.insert(2, "two".into());
    // Put key 2's entry where key 1's belongs (as a digest collision would).
    fs::copy(path_of(&c, &2), path_of(&c, &1)).unwrap();
    assert_eq!(c.get(&1), None);
    assert_eq!(c.get(&2).as_deref(), Some("two"));
}

fn noise(n: usize) -> Vec<u8> {
    let mut x = 0x2545_f491_4f6c_dd1du64;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn flags_of(path: &Path) -> u8 {
    let bytes = fs::read(path).unwrap();
    Entry::decode(&bytes).unwrap().flags
}

#[test]
fn compressed_and_raw_entries_both_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let json: String = (0..2000)
        .map(|i| format!("{{\"id\":{i},\"name\":\"user{i}\",\"active\":true}},"))
        .collect();
    let zipped: FileCache<String, Vec<u8>> = FileCache::builder()
        .cache_dir(dir.path())
        .name("mixed")
        .compress(true)
        .build()
        .unwrap();
    zipped.insert("json".into(), json.clone().into_bytes());
    zipped.insert("noise".into(), noise(50_000));
    let json_path = path_of(&zipped, &"json".to_string());
    assert_eq!(flags_of(&json_path), flags::COMPRESSED);
    assert!(fs::metadata(&json_path).unwrap().len() < json.len() as u64 / 3);
    assert_eq!(
        flags_of(&path_of(&zipped, &"noise".to_string())),
        0,
        "incompressible data is stored raw"
    );

    let plain: FileCache<String, Vec<u8>> = open(dir.path(), "mixed");
    plain.insert("plain".into(), json.clone().into_bytes());
    assert_eq!(flags_of(&path_of(&plain, &"plain".to_string())), 0);
    for c in [&zipped, &plain] {
        assert_eq!(c.get("json"), Some(json.clone().into_bytes()));
        assert_eq!(c.get("noise"), Some(noise(50_000)));
        assert_eq!(c.get("plain"), Some(json.clone().into_bytes()));
    }
}

#[test]
fn large_values_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let c: FileCache<u8, Vec<u8>> = open(dir.path(), "large");
    for (k, n) in [(1u8, 1 << 20), (2, 8 << 20)] {
        let v = noise(n);
        c.insert(k, v.clone());
        assert_eq!(c.get(&k), Some(v));
    }
}

#[test]
fn ttl_expires_entries_in_every_reader() {
    let dir = tempfile::tempdir().unwrap();
    let c: FileCache<u32, u32> = FileCache::builder()
        .cache_dir(dir.path())
        .name("ttl")
        .ttl(Duration::from_millis(300))
        .register(false) // no background sweeper: this test counts by hand
        .build()
        .unwrap();
    let no_ttl: FileCache<u32, u32> = open(dir.path(), "ttl");
    for k in 0..4 {
        c.insert(k, k);
    }
    assert_eq!(c.get(&0), Some(0));
    assert_eq!(no_ttl.get(&0), Some(0));
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(no_ttl.get(&1), None, "the expiry is in the entry");
    assert_eq!(c.get(&0), None);
    assert_eq!(c.stats().expired, 1);
    assert!(!path_of(&c, &0).exists());
    // The other two go by a sweep, found through the index, not by reading them.
    assert_eq!(c.sweep_expired(), 2);
    assert_eq!(entries_in(store(&c)), 0);
    assert!(c.is_empty());
}

#[test]
fn the_background_sweeper_removes_expired_files() {
    let dir = tempfile::tempdir().unwrap();
    let c: FileCache<u32, u32> = FileCache::builder()
        .cache_dir(dir.path())
        .name("sweeper")
        .ttl(Duration::from_millis(100))
        .build()
        .unwrap();
    for k in 0..5 {
        c.insert(k, k);
    }
    let start = std::time::Instant::now();
    while entries_in(store(&c)) > 0 {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "sweeper never ran"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(c.is_empty());
    assert_eq!(c.stats().expired, 5);
}

#[test]
fn maxsize_removes_the_oldest_first() {
    let dir = tempfile::tempdir().unwrap();
    let c: FileCache<u32, u32> = FileCache::builder()
        .cache_dir(dir.path())
        .name("max")
        .maxsize(3)
        .build()
        .unwrap();
    for k in 0..6 {
        c.insert(k, k);
        std::thread::sleep(Duration::from_millis(3));
    }
    assert_eq!(c.len(), 3);
    assert_eq!(entries_in(store(&c)), 3);
    for k in 0..3 {
        assert_eq!(c.get(&k), None, "{k} was among the oldest");
    }
    for k in 3..6 {
        assert_eq!(c.get(&k), Some(k));
    }
    assert_eq!(c.stats().evictions, 3);
    // Rewriting a key does not count twice.
    c.insert(5, 50);
    assert_eq!(c.len(), 3);
}

#[test]
fn max_bytes_bounds_the_files() {
    let dir = tempfile::tempdir().unwrap();
    let c: FileCache<u32, Vec<u8>> = FileCache::builder()
        .cache_dir(dir.path())
        .name("bytes")
        .max_bytes(3_500)
        .build()
        .unwrap();
    for k in 0..5 {
        c.insert(k, vec![k as u8; 1000]);
        std::thread::sleep(Duration::from_millis(3));
    }
    let s = c.stats();
    assert!(s.bytes <= 3_500, "{} bytes", s.bytes);
    assert_eq!(s.entries, 3);
    let on_disk: u64 = files_below(store(&c).dir())
        .iter()
        .filter(|p| p.file_name().unwrap().len() == 32)
        .map(|p| fs::metadata(p).unwrap().len())
        .sum();
    assert_eq!(on_disk, s.bytes);
    assert_eq!(c.get(&0), None);
    assert_eq!(c.get(&4), Some(vec![4; 1000]));
    // A value larger than the whole bound is returned but not stored.
    assert_eq!(c.get_or_insert_with(9, || vec![9; 10_000]).len(), 10_000);
    assert_eq!(c.get(&9), None);
    assert_eq!(c.stats().entries, 3);
}

#[test]
fn an_open_cache_learns_of_existing_entries_once() {
    let dir = tempfile::tempdir().unwrap();
    let a: FileCache<u32, u32> = open(dir.path(), "scan");
    for k in 0..10 {
        a.insert(k, k);
    }
    let b: FileCache<u32, u32> = FileCache::builder()
        .cache_dir(dir.path())
        .name("scan")
        .maxsize(5)
        .build()
        .unwrap();
    assert_eq!(b.len(), 10, "the scan at open counts what is there");
    b.insert(100, 100);
    assert_eq!(b.len(), 5);
    assert_eq!(entries_in(store(&b)), 5);
}

#[test]
fn clear_drops_only_its_own_namespace() {
    let dir = tempfile::tempdir().unwrap();
    let a: FileCache<u32, u32> = open(dir.path(), "a");
    let b: FileCache<u32, u32> = open(dir.path(), "b");
    a.insert(1, 1);
    b.insert(1, 2);
    assert_eq!(a.get(&1), Some(1));
    assert_eq!(b.get(&1), Some(2), "namespaces do not share entries");
    a.clear();
    assert_eq!(a.get(&1), None);
    assert!(a.is_empty());
    assert_eq!(b.get(&1), Some(2));
}

#[cfg(unix)]
#[test]
fn directories_are_0700_and_files_0600() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("fresh-root");
    let c: FileCache<u32, u32> = FileCache::builder()
        .cache_dir(&root)
        .folder_name("perm")
        .build()
        .unwrap();
    c.insert(1, 1);
    let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let entry = path_of(&c, &1);
    let s = store(&c);
    for d in [root.as_path(), s.folder(), s.dir(), entry.parent().unwrap()] {
        assert_eq!(mode(d), 0o700, "{}", d.display());
    }
    let files = files_below(&root);
    assert!(files.len() >= 3, "{files:?}"); // manifest, namespace.json, the entry
    for f in files {
        assert_eq!(mode(&f), 0o600, "{}", f.display());
    }
}

#[test]
fn manifest_and_namespace_files_describe_the_folder() {
    let dir = tempfile::tempdir().unwrap();
    let c: FileCache<u32, u32> = open(dir.path(), "described");
    let manifest = fs::read_to_string(dir.path().join("default/twat-cache.files.json")).unwrap();
    assert!(manifest.contains("\"kind\": \"files\""), "{manifest}");
    assert!(manifest.contains("\"format_version\": 1"), "{manifest}");
    let ns = fs::read_to_string(store(&c).dir().join("namespace.json")).unwrap();
    assert!(ns.contains("\"function\": \"described\""), "{ns}");
}

#[test]
fn bad_folder_names_are_config_errors() {
    let long = "x".repeat(256);
    for bad in ["", "..", ".", "a/b", "a\\b", "nul\0", long.as_str()] {
        let err = FileCache::<u8, u8>::builder()
            .cache_dir("/nonexistent")
            .folder_name(bad)
            .build()
            .unwrap_err();
        assert_eq!(err.field(), "folder_name", "{bad:?}");
    }
    for (field, err) in [
        ("maxsize", FileCache::<u8, u8>::builder().maxsize(0).build()),
        (
            "max_bytes",
            FileCache::<u8, u8>::builder().max_bytes(0).build(),
        ),
        (
            "ttl",
            FileCache::<u8, u8>::builder().ttl(Duration::ZERO).build(),
        ),
        (
            "compression_level",
            FileCache::<u8, u8>::builder().compression_level(99).build(),
        ),
    ] {
        assert_eq!(err.unwrap_err().field(), field);
    }
}

#[test]
fn an_unusable_folder_falls_back_to_memory() {
    let dir = tempfile::tempdir().unwrap();
    let not_a_dir = dir.path().join("file");
    fs::write(&not_a_dir, b"I am a file").unwrap();
    let c: FileCache<u32, String> = FileCache::builder()
        .cache_dir(&not_a_dir)
        .name("fallback")
        .maxsize(10)
        .build()
        .unwrap();
    assert!(c.backend().is_memory());
    assert!(matches!(c.inner(), Inner::Memory(_)));
    let reason = c.fallback_reason().unwrap();
    assert!(reason.contains("file"), "{reason}");
    let calls = AtomicUsize::new(0);
    for _ in 0..3 {
        let v = c.get_or_insert_with(1, || {
            calls.fetch_add(1, Ordering::SeqCst);
            "one".into()
        });
        assert_eq!(v, "one");
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1, "memory still caches");
    let s = c.stats();
    assert_eq!(s.kind, "files");
    assert!(s.backend.is_memory());
    assert_eq!(s.fallback_reason.as_deref(), Some(reason.as_str()));
    assert_eq!((s.hits, s.misses), (2, 1));

    // A folder whose manifest comes from a newer layout is not touched either.
    let newer = dir.path().join("newer");
    fs::create_dir_all(newer.join("default")).unwrap();
    fs::write(
        newer.join("default/fcache.manifest.json"),
        b"{\"kind\":\"fcache\",\"format_version\":99}",
    )
    .unwrap();
    let c: FileCache<u8, u8> = FileCache::builder().cache_dir(&newer).build().unwrap();
    assert!(c.backend().is_memory());
    assert!(c.fallback_reason().unwrap().contains("99"));
}

#[test]
fn a_folder_from_the_previous_version_is_adopted_with_its_entries() {
    let dir = tempfile::tempdir().unwrap();
    let c: FileCache<u32, u32> = open(dir.path(), "adopted");
    c.insert(1, 10);
    drop(c);
    // What versions before the shared manifest schema wrote.
    let folder = dir.path().join("default");
    fs::remove_file(folder.join("twat-cache.files.json")).unwrap();
    fs::write(
        folder.join("fcache.manifest.json"),
        r#"{"kind":"fcache","format_version":1}"#,
    )
    .unwrap();
    let again: FileCache<u32, u32> = open(dir.path(), "adopted");
    assert_eq!(again.backend(), twat_fcache::Backend::Files);
    assert_eq!(
        again.get(&1),
        Some(10),
        "entries of the old folder still hit"
    );
    assert!(folder.join("twat-cache.files.json").is_file());
    assert!(
        !folder.join("fcache.manifest.json").exists(),
        "legacy manifest replaced"
    );
}

#[test]
fn concurrent_misses_compute_once() {
    let dir = tempfile::tempdir().unwrap();
    let c: Arc<FileCache<u32, u32>> = Arc::new(open(dir.path(), "flight"));
    let calls = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let (c, calls) = (c.clone(), calls.clone());
            std::thread::spawn(move || {
                c.get_or_insert_with(1, || {
                    calls.fetch_add(1, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(100));
                    11
                })
            })
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), 11);
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[test]
fn concurrent_writers_of_one_key_never_show_a_torn_value() {
    let dir = tempfile::tempdir().unwrap();
    let c: Arc<FileCache<u8, Vec<u8>>> = Arc::new(open(dir.path(), "race"));
    let writers: Vec<_> = (1..=4u8)
        .map(|w| {
            let c = c.clone();
            std::thread::spawn(move || {
                for i in 0..40usize {
                    c.insert(0, vec![w; 10_000 + i * 997]);
                }
            })
        })
        .collect();
    let reader = {
        let c = c.clone();
        std::thread::spawn(move || {
            let mut seen = 0;
            for _ in 0..400 {
                if let Some(v) = c.get(&0) {
                    assert!(v.iter().all(|b| *b == v[0]), "torn value");
                    seen += 1;
                }
            }
            seen
        })
    };
    for w in writers {
        w.join().unwrap();
    }
    let _ = reader.join().unwrap();
    let last = c.get(&0).unwrap();
    assert!((1..=4).contains(&last[0]));
    assert_eq!(c.len(), 1);
}

#[test]
fn byte_values_take_the_fast_path_and_stay_postcard() {
    let dir = tempfile::tempdir().unwrap();
    let c: FileCache<u8, Vec<u8>> = open(dir.path(), "bytes");
    for (k, n) in [(1u8, 0usize), (2, 100), (3, 40_000), (4, 300_000)] {
        let v = noise(n);
        c.insert(k, v.clone());
        let bytes = fs::read(path_of(&c, &k)).unwrap();
        let e = Entry::decode(&bytes).unwrap();
        assert_eq!(
            e.payload,
            postcard::to_allocvec(&v).unwrap(),
            "same bytes as serde"
        );
        assert_eq!(c.get(&k), Some(v));
    }
    // A large byte entry damaged in its payload is still caught by the checksum.
    let p = path_of(&c, &4);
    let mut bytes = fs::read(&p).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 1;
    fs::write(&p, &bytes).unwrap();
    assert_eq!(c.get(&4), None);
    assert!(!p.exists());
    // Truncated in the middle of the payload, too.
    c.insert(4, noise(300_000));
    let bytes = fs::read(&p).unwrap();
    fs::write(&p, &bytes[..bytes.len() - 100]).unwrap();
    assert_eq!(c.get(&4), None);
    assert!(!p.exists());
    // Another type reading a byte entry in the same namespace is a miss, not garbage.
    let strings: FileCache<u8, Vec<String>> = open(dir.path(), "bytes");
    assert_eq!(strings.get(&3), None);
}
