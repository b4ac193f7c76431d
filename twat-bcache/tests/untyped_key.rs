//! `#[bcache(key = <expr>)]` without the key's type: inferred, stored like any other key;
//! and `key: Type = expr` keeps its nameable accessor and its namespace.

use std::sync::Once;
use std::sync::atomic::{AtomicUsize, Ordering};

use twat_bcache::{Backend, bcache};

/// Every cache in this binary lives under one temp root.
fn setup() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let dir = tempfile::tempdir().unwrap().keep();
        // SAFETY: runs once, before any cache in this binary reads the variable.
        unsafe { std::env::set_var("TWAT_CACHE_DIR", dir) };
    });
}

static BUCKETS: AtomicUsize = AtomicUsize::new(0);

#[bcache(folder_name = "untyped", key = id % 10)]
fn bucket(id: u64) -> u64 {
    BUCKETS.fetch_add(1, Ordering::SeqCst);
    id * 100
}

#[test]
fn ids_with_the_same_key_share_one_stored_entry() {
    setup();
    assert_eq!(bucket(3), 300);
    assert_eq!(bucket(13), 300, "13 % 10 == 3: 3's entry");
    assert_eq!(bucket(5), 500);
    assert_eq!(BUCKETS.load(Ordering::SeqCst), 2);

    let cache = bucket_cache();
    assert_eq!(cache.len(), 2);
    let s = cache.stats();
    assert_eq!((s.hits, s.misses), (1, 2));
    assert_eq!(s.kind, "lmdb");
    assert!(s.name.ends_with("::bucket"), "{}", s.name);
    assert_eq!(cache.namespace().function_name(), "bucket");
    if cfg!(feature = "lmdb") {
        assert_eq!(cache.backend(), Backend::Lmdb);
        assert!(s.folder.unwrap().ends_with("untyped"));
    } else {
        assert!(cache.backend().is_memory());
    }
    assert_eq!(
        twat_bcache::stats_all()
            .iter()
            .filter(|x| x.name == s.name)
            .count(),
        1,
        "registered once"
    );

    cache.clear();
    assert!(cache.is_empty());
    assert_eq!(bucket(23), 2300, "cleared: the body runs again");
    assert_eq!(BUCKETS.load(Ordering::SeqCst), 3);
}

struct Sensor {
    id: u64,
}

static READINGS: AtomicUsize = AtomicUsize::new(0);

impl Sensor {
    #[bcache(folder_name = "untyped", key = (self.id, scale))]
    fn reading(&self, scale: u32) -> u64 {
        READINGS.fetch_add(1, Ordering::SeqCst);
        self.id * u64::from(scale)
    }

    #[bcache(folder_name = "untyped", key: (u64, u32) = (self.id, scale))]
    fn typed_reading(&self, scale: u32) -> u64 {
        self.id * u64::from(scale)
    }
}

#[test]
fn methods_key_on_self_fields() {
    setup();
    let (a, twin, b) = (Sensor { id: 7 }, Sensor { id: 7 }, Sensor { id: 8 });
    assert_eq!(a.reading(2), 14);
    assert_eq!(twin.reading(2), 14);
    assert_eq!(b.reading(2), 16);
    assert_eq!(a.reading(3), 21);
    assert_eq!(READINGS.load(Ordering::SeqCst), 3, "the twin hit a's entry");
    assert_eq!(Sensor::reading_cache().len(), 3);
    assert_eq!(Sensor::reading_cache().stats().hits, 1);
}

#[bcache(folder_name = "untyped", key: u64 = id % 10)]
fn typed_bucket(id: u64) -> u64 {
    id * 100
}

/// A function that already wrote its key's type keeps a nameable accessor and the same
/// namespace (the code hash below is what the expansion computed before `key = <expr>`
/// learned to infer the type), so what it stored stays readable.
#[test]
fn typed_keys_keep_their_accessor_and_namespace() {
    setup();
    assert_eq!(typed_bucket(14), 1400);
    let cache: &'static twat_bcache::LmdbCache<u64, u64> = typed_bucket_cache();
    assert_eq!(cache.get(&4), Some(1400));
    assert_eq!(
        cache.namespace().id(),
        "twat-bcache|untyped_key::typed_bucket|v0|25e089087b67a607"
    );
    let sensor = Sensor { id: 2 };
    assert_eq!(sensor.typed_reading(5), 10);
    let typed: &'static twat_bcache::LmdbCache<(u64, u32), u64> = Sensor::typed_reading_cache();
    assert_eq!(typed.get(&(2, 5)), Some(10));
    assert_eq!(
        typed.namespace().id(),
        "twat-bcache|untyped_key::typed_reading|v0|4a1a8e9b5360ad3d"
    );
}
